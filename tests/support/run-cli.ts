/**
 * Runs the CLI's main() in this process, capturing stdout, stderr and the exit code (reset to 0 afterwards).
 * process.argv is set to the argv main() gets for the duration of the run, as when offpolicy runs from a shell:
 * evaluate, report and demo record `process.argv` as the reproduction command.
 */
import { vi } from 'vitest';
import { main } from '../../src/cli.js';

export async function runCli(args: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  const argv = process.argv;
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  process.exitCode = 0;
  process.argv = ['node', 'offpolicy', ...args];
  try {
    await main(process.argv);
  } finally {
    process.argv = argv;
    o.mockRestore();
    e.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { out, err, code };
}
