/**
 * `offpolicy datasets list | show | describe | query | split | export | rm`.
 * Each command parses flags, calls one library function and prints.
 */
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { OffpolicyError } from '../core/errors.js';
import { EXPORT_FORMATS, type ExportFormat } from '../datasets/export.js';
import { QUERY_FORMATS, type QueryFormat } from '../datasets/query.js';
import type { SplitBy } from '../datasets/split.js';
import { formatTable, type Cell } from '../util/text-table.js';
import { openWorkspace, printJson } from './context.js';

const TABLE_ROW_LIMIT = 1000;

/** A query value as a table cell: big integers that fit exactly become numbers (right-aligned). */
function toCell(v: unknown, type: string): Cell {
  if (typeof v === 'string' && /INT/.test(type) && /^-?\d+$/.test(v) && Number.isSafeInteger(Number(v))) return Number(v);
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  return JSON.stringify(v);
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export function registerDatasetCommands(datasets: Command): void {
  datasets
    .command('list')
    .description('list datasets: latest version, kind, rows, episodes, created, content hash')
    .option('--all', 'show every version, not only the latest')
    .option('--json', 'print JSON')
    .action(async (opts: { all?: boolean; json?: boolean }, cmd: Command) => {
      const { formatDamaged, formatListing, listDatasetsAndDamage } = await import('../datasets/describe.js');
      const { datasets: rows, damaged } = await listDatasetsAndDamage(await openWorkspace(cmd), { all: opts.all });
      if (opts.json) printJson(rows);
      else process.stdout.write(formatListing(rows) + '\n');
      if (damaged.length) process.stderr.write(formatDamaged(damaged) + '\n');
    });

  datasets
    .command('show')
    .description('show a version\'s metadata: spaces, lineage, files, rejected rows')
    .argument('<ref>', 'NAME or NAME@VERSION')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { json?: boolean }, cmd: Command) => {
      const { formatShow, showDataset } = await import('../datasets/describe.js');
      const shown = await showDataset(await openWorkspace(cmd), ref);
      if (opts.json) printJson(shown);
      else process.stdout.write(formatShow(shown) + '\n');
    });

  datasets
    .command('describe')
    .description('summary statistics: actions, rewards, propensities, returns, lengths')
    .argument('<ref>', 'NAME or NAME@VERSION')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { json?: boolean }, cmd: Command) => {
      const { describeDataset, formatDescription } = await import('../datasets/describe.js');
      const d = await describeDataset(await openWorkspace(cmd), ref);
      if (opts.json) printJson(d);
      else process.stdout.write(formatDescription(d) + '\n');
    });

  datasets
    .command('query')
    .description('run read-only SQL over the datasets (views "name" and "name@v")')
    .argument('<sql>', 'one SELECT / WITH / DESCRIBE / SUMMARIZE / EXPLAIN statement')
    .option('--format <format>', `output format: ${QUERY_FORMATS.join(', ')}`, 'table')
    .option('--out <file>', 'write the result to FILE (required for parquet)')
    .action(async (sql: string, opts: { format: string; out?: string }, cmd: Command) => {
      const { queryDatasets, queryToFile, queryToText } = await import('../datasets/query.js');
      const ws = await openWorkspace(cmd);
      const format = opts.format as QueryFormat;
      if (!QUERY_FORMATS.includes(format)) {
        throw new OffpolicyError('E_QUERY_FORMAT', `Unknown query output format "${opts.format}".`, {
          hint: `Use one of: ${QUERY_FORMATS.join(', ')}.`,
        });
      }
      if (format === 'table') {
        if (opts.out) {
          throw new OffpolicyError('E_QUERY_FORMAT', 'The table format prints to the terminal and cannot be written to a file.', {
            hint: 'Use --format csv, json or parquet with --out.',
          });
        }
        const r = await queryDatasets(ws, sql, { limit: TABLE_ROW_LIMIT });
        const types = new Map(r.columns.map((c) => [c.name, c.type]));
        const rows = r.rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, toCell(v, types.get(k) ?? '')])));
        process.stdout.write(
          (rows.length ? formatTable(rows, r.columns.map((c) => c.name)) : formatTable([], r.columns.map((c) => c.name))) + '\n',
        );
        process.stdout.write(
          r.truncated ? `(first ${TABLE_ROW_LIMIT} rows shown; use --format csv or parquet for all)\n` : `(${rows.length} rows)\n`,
        );
        return;
      }
      if (opts.out) {
        const res = await queryToFile(ws, sql, { format, out: opts.out });
        process.stderr.write(`wrote ${res.rows} rows to ${res.out}\n`);
        return;
      }
      if (format === 'parquet') {
        throw new OffpolicyError('E_QUERY_OUT', 'Parquet output needs a file.', { hint: 'Add --out FILE.parquet.' });
      }
      process.stdout.write(await queryToText(ws, sql, format));
    });

  datasets
    .command('split')
    .description('deterministic train/validation/test split by hash of episode or row id and a seed')
    .argument('<ref>', 'NAME or NAME@VERSION')
    .option('--ratios <list>', 'comma-separated shares summing to 1', '0.8,0.1,0.1')
    .requiredOption('--seed <n>', 'integer seed')
    .option('--by <unit>', 'episode (trajectories) or row (bandit logs)')
    .option('--names <list>', 'comma-separated dataset names of the parts (default NAME-train, NAME-validation, NAME-test)')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { ratios: string; seed: string; by?: string; names?: string; json?: boolean }, cmd: Command) => {
      const seed = Number(opts.seed);
      if (!/^-?\d+$/.test(opts.seed.trim())) {
        throw new OffpolicyError('E_SPLIT_SEED', `Seed "${opts.seed}" is not an integer.`, { hint: 'Pass --seed with a whole number, e.g. --seed 7.' });
      }
      const { parseRatios, splitDataset } = await import('../datasets/split.js');
      const parts = await splitDataset(await openWorkspace(cmd), ref, {
        ratios: parseRatios(opts.ratios),
        seed,
        ...(opts.by ? { by: opts.by as SplitBy } : {}),
        ...(opts.names ? { names: opts.names.split(',').map((s) => s.trim()) } : {}),
      });
      const rows = parts.map((p) => ({
        part: p.name,
        version: p.version.ref,
        ratio: p.ratio,
        rows: p.version.metadata.rowCount,
        episodes: p.version.metadata.episodeCount ?? '',
        hash: p.version.metadata.contentHash.slice(0, 12),
      }));
      if (opts.json) printJson(parts.map((p) => ({ name: p.name, ratio: p.ratio, ref: p.version.ref, metadata: p.version.metadata })));
      else process.stdout.write(formatTable(rows) + '\n');
    });

  datasets
    .command('export')
    .description('write a version to Parquet, CSV, JSON Lines or D4RL-style HDF5')
    .argument('<ref>', 'NAME or NAME@VERSION')
    .option('--format <format>', EXPORT_FORMATS.join(' | '))
    .option('--out <file>', 'output file (written atomically)')
    .option('--to <url>', 'instead of a file: a new ClickHouse table clickhouse://HOST:PORT/DB.TABLE (loaded, verified, then renamed into place; credentials from OFFPOLICY_CLICKHOUSE_USER / _PASSWORD)')
    .action(async (ref: string, opts: { format?: string; out?: string; to?: string }, cmd: Command) => {
      if (opts.to !== undefined) {
        if (opts.format !== undefined || opts.out !== undefined) throw new OffpolicyError('E_CLI_ARG', '--to loads a table; it takes no --format or --out.', { hint: 'Give either --to clickhouse://... or --format F --out FILE.' });
        const { exportToClickhouse } = await import('../datasets/clickhouse-export.js');
        const r = await exportToClickhouse(await openWorkspace(cmd), ref, opts.to);
        process.stdout.write(`exported ${r.ref} (${r.rows} rows) to ${r.target}\n`);
        return;
      }
      if (opts.format === undefined || opts.out === undefined) throw new OffpolicyError('E_CLI_ARG', 'export needs --format and --out (or --to clickhouse://...).', { hint: 'For example --format parquet --out log.parquet.' });
      const { exportDataset } = await import('../datasets/export.js');
      const r = await exportDataset(await openWorkspace(cmd), ref, { format: opts.format as ExportFormat, out: opts.out });
      process.stdout.write(`exported ${r.ref} (${r.rows} rows) to ${r.out}\n`);
    });

  datasets
    .command('rm')
    .description('remove a dataset (every version) or one version NAME@VERSION')
    .argument('<ref>', 'NAME or NAME@VERSION')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (ref: string, opts: { yes?: boolean }, cmd: Command) => {
      const ws = await openWorkspace(cmd);
      if (!opts.yes) {
        const targets = ref.includes('@') ? [await ws.resolve(ref)] : await ws.versionsOf(ref);
        if (targets.length === 0) await ws.resolve(ref); // throws the not-found error naming what exists
        const what = targets.map((t) => t.ref).join(', ');
        if (!process.stdin.isTTY) {
          throw new OffpolicyError('E_CONFIRM_REQUIRED', `Refusing to remove ${what} without confirmation.`, {
            hint: 'Pass --yes to remove without a prompt (needed when not running in a terminal).',
          });
        }
        if (!(await confirm(`Remove ${what}? This cannot be undone. [y/N] `))) {
          process.stderr.write('nothing removed\n');
          return;
        }
      }
      const removed = await ws.remove(ref);
      process.stdout.write(`removed ${removed.map((v) => v.ref).join(', ')}\n`);
    });
}
