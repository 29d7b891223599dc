/** `offpolicy datasets ingest`: flags -> ingest() -> a short summary. No logic here. */
import type { Command } from 'commander';
import { progressBar } from './progress.js';
import { OffpolicyError } from '../core/errors.js';
import { ingest, INGEST_FORMATS, parseMapFlags, type IngestFormat } from '../datasets/ingest/index.js';
import { collect, openWorkspace } from './context.js';
import { checkNumActions } from '../datasets/limits.js';

interface IngestFlags {
  name: string;
  format?: string;
  kind?: string;
  map?: string[];
  numActions?: string;
  dropInvalid?: boolean;
  rewardNullable?: boolean;
  progress?: boolean;
}

function parseNumActions(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) {
    throw new OffpolicyError('E_NUM_ACTIONS', `--num-actions must be a positive integer, got "${v}".`, {
      hint: 'Pass the number of actions K (actions are 0..K-1).',
    });
  }
  checkNumActions(Number(v));
  return Number(v);
}

export function registerIngest(datasets: Command): void {
  datasets
    .command('ingest <source>')
    .description('store a file (CSV, JSON Lines, Parquet, Arrow IPC, Open Bandit CSV, D4RL HDF5) or Minari directory as a new dataset version')
    .requiredOption('-n, --name <name>', 'dataset name (the new version is NAME@N)')
    .option('-f, --format <format>', `input format: ${INGEST_FORMATS.join(' | ')} (default: from the extension; always checked against the file's bytes)`)
    .option('-k, --kind <kind>', 'bandit | trajectory (default: detected from the columns)')
    .option('-m, --map <canonical=source>', 'map a canonical column to a source column (repeatable; vectors: --map context=x1,x2,x3)', collect, [])
    .option('--num-actions <K>', 'number of actions of a bandit log (default: action_probs length, else max(action) + 1)')
    .option('--drop-invalid', 'store the valid rows; write the rejected ones with reasons to rejected.parquet in the version')
    .option('--reward-nullable', 'allow NULL rewards (delayed feedback)')
    .option('--no-progress', 'no progress bar')
    .action(async (source: string, flags: IngestFlags, cmd: Command) => {
      if (flags.kind !== undefined && flags.kind !== 'bandit' && flags.kind !== 'trajectory') {
        throw new OffpolicyError('E_KIND', `--kind must be bandit or trajectory, got "${flags.kind}".`);
      }
      const ws = await openWorkspace(cmd);
      const bar = progressBar('ingest', flags.progress !== false);
      try {
        const numActions = parseNumActions(flags.numActions);
        const result = await ingest(ws, source, {
          name: flags.name,
          ...(flags.format ? { format: flags.format as IngestFormat } : {}),
          ...(flags.kind ? { kind: flags.kind as 'bandit' | 'trajectory' } : {}),
          map: parseMapFlags(flags.map ?? []),
          ...(numActions !== undefined ? { numActions } : {}),
          ...(flags.dropInvalid ? { dropInvalid: true } : {}),
          ...(flags.rewardNullable ? { rewardNullable: true } : {}),
          onProgress: bar.onProgress,
        });
        bar.stop();
        for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
        const m = result.version.metadata;
        const lines = [
          `ingested ${result.version.ref}`,
          `  kind:         ${m.kind}`,
          `  rows:         ${m.rowCount}${m.episodeCount !== undefined ? ` (${m.episodeCount} episodes)` : ''}`,
          `  content hash: ${m.contentHash}`,
          `  rejected:     ${result.rejectedCount}${result.rejectedFile ? ` (${result.rejectedFile})` : ''}`,
        ];
        process.stdout.write(lines.join('\n') + '\n');
      } finally {
        bar.stop();
      }
    });
}
