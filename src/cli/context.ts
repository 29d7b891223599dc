/** What every CLI command shares: the workspace flag and output helpers. No logic lives here. */
import { OffpolicyError } from '../core/errors.js';
import type { Command } from 'commander';
import type { Workspace } from '../datasets/workspace.js';

export interface GlobalOptions {
  workspace?: string;
  verbose?: boolean;
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export async function openWorkspace(cmd: Command): Promise<Workspace> {
  const { Workspace } = await import('../datasets/workspace.js');
  return Workspace.open(globals(cmd).workspace);
}

/** Collects a repeatable option: --map a=b --map c=d. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Parses --reward-range MIN,MAX (evaluate, robustness, learn). */
export function rewardRangeFlag(value: string, code = 'E_CLI_ARG'): [number, number] {
  const parts = value.split(',');
  if (parts.length !== 2) throw new OffpolicyError(code, `--reward-range takes MIN,MAX, got "${value}".`, { hint: 'For example --reward-range 0,1.' });
  return [numberFlag('--reward-range', parts[0]!, { code, example: '0,1' }), numberFlag('--reward-range', parts[1]!, { code, example: '0,1' })];
}

/**
 * Parses a numeric flag value; a clear error instead of NaN:
 * "--rate takes a number, got "abc". For example --rate 1."
 */
export function numberFlag(flag: string, value: string, opts: { code: string; example: string; allowInfinity?: boolean }): number {
  const v = Number(value);
  if (value.trim() === '' || Number.isNaN(v) || (!opts.allowInfinity && !Number.isFinite(v))) {
    throw new OffpolicyError(opts.code, `${flag} takes a number, got "${value}".`, { hint: `For example ${flag} ${opts.example}.` });
  }
  return v;
}
