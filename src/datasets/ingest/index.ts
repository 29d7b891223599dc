/**
 * `ingest(ws, source, opts)`: brings a file or directory into the workspace as
 * a new dataset version in the canonical schema of its kind.
 *
 * 1. detect the format (flag, else extension / directory layout; magic bytes always checked);
 * 2. stage the input in DuckDB: CSV / JSON Lines / Parquet through DuckDB's readers,
 *    Arrow IPC batch by batch, Open Bandit Dataset CSV with its layout, D4RL HDF5 and
 *    Minari through their stage functions;
 * 3. map and assemble the canonical columns (a view over the staged input);
 * 4. finishIngest: validate, then store (or refuse, or drop invalid rows).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { OffpolicyError } from '../../core/errors.js';
import { ident, lit, openMemoryConnection, queryRows, type DuckDBConnection } from '../duckdb.js';
import type { MetadataInput, Space } from '../metadata.js';
import { banditShape } from '../validate-bandit.js';
import { CATEGORICAL_MAX_DISTINCT } from '../features.js';
import { checkColumnNames } from './input-guard.js';
import { checkDatasetName, type Workspace } from '../workspace.js';
import { castRules, createStagedView, planCanonical, type PlanOptions } from './canonical.js';
import { detectFormat } from './detect.js';
import { finishIngest } from './finish.js';
import { isIndexColumn, looksLikeObd, obdLayout } from './obd.js';
import { scanSql, stageTabular } from './read-tabular.js';
import type { IngestFormat, IngestOptions, IngestResult } from './types.js';

export type { IngestFormat, IngestOptions, IngestResult } from './types.js';
export { INGEST_FORMATS } from './types.js';
export { finishIngest, REJECTED_FILE, type FinishIngestOptions } from './finish.js';
export { detectFormat, sniffFile } from './detect.js';

/** DuckDB memory cap for ingest. */
export const INGEST_MEMORY_LIMIT = '1GB';

/**
 * The DuckDB connection an ingest stages in: the input is loaded into a
 * scratch database FILE in a temp directory (compressed, evictable pages)
 * rather than an in-memory table, which keeps resident memory flat on large
 * inputs (10M rows: ~0.5 GB instead of ~1.5 GB) and makes the Parquet write
 * faster; the directory is removed when the ingest ends.
 */
async function ingestConnection(spillDir: string): Promise<DuckDBConnection> {
  const conn = await openMemoryConnection();
  await conn.run(`SET memory_limit = ${lit(INGEST_MEMORY_LIMIT)}`);
  await conn.run(`SET temp_directory = ${lit(spillDir)}`);
  await conn.run(`SET TimeZone = 'UTC'`);
  await conn.run(`ATTACH ${lit(path.join(spillDir, 'stage.duckdb'))} AS ingest_stage`);
  await conn.run('USE ingest_stage');
  return conn;
}

/**
 * Drops everything staged, then detaches and closes: detaching checkpoints the
 * scratch database, which on a dropped table costs nothing (on a 10M-row
 * table it would compress and write it all, ~2.5 CPU-seconds, for nothing).
 */
async function closeIngestConnection(conn: DuckDBConnection): Promise<void> {
  try {
    const objects = await queryRows(
      conn,
      `SELECT 'VIEW' AS kind, view_name AS name FROM duckdb_views() WHERE database_name = 'ingest_stage' AND NOT internal
       UNION ALL SELECT 'TABLE', table_name FROM duckdb_tables() WHERE database_name = 'ingest_stage'`,
    );
    for (const o of objects.sort((a, b) => (a.kind === 'VIEW' ? -1 : 1) - (b.kind === 'VIEW' ? -1 : 1))) {
      await conn.run(`DROP ${o.kind} IF EXISTS ingest_stage.main.${ident(String(o.name))} CASCADE`);
    }
    await conn.run('USE memory');
    await conn.run('DETACH ingest_stage');
  } catch {
    // The scratch directory is removed anyway.
  } finally {
    conn.closeSync();
  }
}

/** Parses --map flags ("reward=click") into { reward: 'click' }. */
export function parseMapFlags(flags: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of flags) {
    const eq = f.indexOf('=');
    if (eq <= 0 || eq === f.length - 1) {
      throw new OffpolicyError('E_MAP_FLAG', `--map ${f} is not CANONICAL=SOURCE.`, {
        hint: 'Write e.g. --map reward=click, or --map context=x1,x2,x3 for a vector assembled from columns.',
      });
    }
    out[f.slice(0, eq).trim()] = f.slice(eq + 1).trim();
  }
  return out;
}

/** Ingests `source` as a new version of `opts.name` (see the module comment). */
export async function ingest(ws: Workspace, source: string, opts: IngestOptions): Promise<IngestResult> {
  const progress = opts.onProgress ?? (() => {});
  const TOTAL = 4;
  checkDatasetName(opts.name);
  const detected = await detectFormat(source, opts.format);
  let format: IngestFormat = detected.format;
  const spillDir = await mkdtemp(path.join(tmpdir(), `offpolicy-ingest-${process.pid}-`));
  const conn = await ingestConnection(spillDir);
  try {
    const raw = '_ingest_raw';
    const staged = '_ingest_staged';
    const lineage = {
      transform: `ingest:${format}`,
      params: {
        ...(opts.map && Object.keys(opts.map).length ? { map: opts.map } : {}),
        ...(opts.kind ? { kind: opts.kind } : {}),
        ...(opts.numActions !== undefined ? { numActions: opts.numActions } : {}),
        ...(opts.dropInvalid ? { dropInvalid: true } : {}),
        ...(opts.rewardNullable ? { rewardNullable: true } : {}),
      } as Record<string, unknown>,
      source: path.resolve(source),
    };

    if (format === 'd4rl' || format === 'minari') {
      if (opts.kind === 'bandit') {
        throw new OffpolicyError('E_KIND', `${format} inputs hold trajectories, not bandit logs.`, { hint: 'Drop --kind bandit.' });
      }
      // Loaded on demand: the HDF5 reader pulls in a WebAssembly module that tabular ingests never need.
      const { metadata } =
        format === 'd4rl'
          ? await (await import('./hdf5.js')).stageD4rlHdf5(conn, source, staged)
          : await (await import('./minari.js')).stageMinari(conn, source, staged);
      progress(2, TOTAL);
      const warnings: string[] = [];
      if (opts.map && Object.keys(opts.map).length) warnings.push(`--map is ignored for ${format} inputs: their layout fixes the columns.`);
      if (opts.numActions !== undefined) warnings.push(`--num-actions is ignored for ${format} inputs: the action space comes from the file.`);
      const result = await finishIngest(ws, conn, {
        table: staged,
        name: opts.name,
        kind: 'trajectory',
        metadata: {
          ...metadata,
          kind: 'trajectory',
          lineage: { ...lineage, params: { ...(metadata.lineage?.params ?? {}), ...lineage.params } },
        },
        warnings,
        ...(opts.dropInvalid ? { dropInvalid: true } : {}),
        onProgress: (d, t) => progress(2 + (d / t) * 2, TOTAL),
      });
      return result;
    }

    // Tabular inputs: stage the raw rows, then plan the canonical view.
    if (format === 'arrow') {
      await (await import('./read-arrow.js')).stageArrow(conn, source, raw);
      checkColumnNames(source, (await queryRows(conn, `DESCRIBE ${ident(raw)}`)).map((r) => String(r.column_name)));
    }
    else await stageTabular(conn, format === 'obd' ? 'csv' : format, source, raw);
    progress(1, TOTAL);
    if (Number((await queryRows(conn, `SELECT count(*) AS n FROM ${ident(raw)}`))[0]!.n) === 0) {
      throw new OffpolicyError('E_EMPTY_INPUT', `"${source}" has no data rows, so there is nothing to ingest.`, {
        hint: 'Check the file (a header alone is not enough) and try again.',
      });
    }

    let planOpts: PlanOptions = { ...(opts.kind ? { kind: opts.kind } : {}), ...(opts.map ? { map: opts.map } : {}) };
    const extra: Record<string, unknown> = {};
    const indexWarnings: string[] = [];
    let numActions = opts.numActions;
    if (format === 'csv' || format === 'obd') {
      const cols = (await queryRows(conn, `DESCRIBE SELECT * FROM ${ident(raw)}`)).map((r) => String(r.column_name));
      if (format === 'csv' && opts.format === undefined && looksLikeObd(cols) && opts.kind !== 'trajectory') format = 'obd';
      // The pandas index (an unnamed first column) is not data: row_id is the input order, which is what it holds.
      const index = cols.filter(isIndexColumn);
      if (index.length && !Object.values(opts.map ?? {}).some((v) => v.split(',').map((x) => x.trim()).includes(index[0]!))) {
        planOpts.drop = index;
        indexWarnings.push(`Column "${index[0]}" (an unnamed first column: the pandas index) was dropped; row_id is the input order.`);
      }
    }
    if (format === 'obd') {
      lineage.transform = 'ingest:obd';
      const layout = await obdLayout(conn, source, raw, opts.map ?? {});
      planOpts = { ...layout.plan, drop: [...(layout.plan.drop ?? []), ...(planOpts.drop ?? [])] };
      if (layout.itemContext) extra.itemContext = layout.itemContext;
      numActions ??= layout.numActions;
    }
    const plan = await planCanonical(conn, raw, planOpts);
    await createStagedView(conn, raw, staged, plan);
    // The input's own columns with `_row`, for rejected.parquet.
    await conn.run(`CREATE OR REPLACE VIEW _ingest_source AS SELECT rowid AS _row, * FROM ${ident(raw)}`);
    progress(2, TOTAL);

    const warnings = [...indexWarnings, ...plan.warnings];
    const metadata: MetadataInput = { kind: plan.kind, lineage };
    if (Object.keys(plan.resolved).length) lineage.params.columns = plan.resolved;
    if (plan.kind === 'bandit') {
      const shape = await banditShape(conn, staged, numActions);
      metadata.actionSpace = { type: 'discrete', n: shape.numActions };
      if (shape.contextDim !== undefined) metadata.observationSpace = { type: 'box', shape: [shape.contextDim] };
      if (opts.rewardNullable) metadata.rewardNullable = true;
      extra.numActionsSource = shape.numActionsSource;
      extra.propensitySource = plan.propensitySource;
      const featureTypes = await queryRows(conn, `DESCRIBE SELECT ${plan.kept.map(ident).join(', ') || '1 AS none'} FROM ${ident(staged)}`);
      const numeric = featureTypes
        .filter((r) => plan.kept.includes(String(r.column_name)) && /^(FLOAT|DOUBLE|REAL|DECIMAL|U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?)/.test(String(r.column_type)) && !String(r.column_type).endsWith(']'))
        .map((r) => String(r.column_name));
      if (numeric.length) extra.featureColumns = numeric;
      const categorical = await categoricalColumns(conn, staged, featureTypes.filter((r) => plan.kept.includes(String(r.column_name))).map((r) => ({ name: String(r.column_name), type: String(r.column_type) })));
      if (categorical.length) extra.categoricalColumns = categorical;
    } else {
      const spaces = await trajectorySpaces(conn, staged);
      Object.assign(metadata, spaces);
    }
    if (Object.keys(extra).length) metadata.extra = extra;

    const result = await finishIngest(ws, conn, {
      table: staged,
      name: opts.name,
      kind: plan.kind,
      metadata,
      sourceTable: '_ingest_source',
      extraRules: castRules(plan),
      checkRowIds: !plan.rowIdAssigned,
      warnings,
      ...(opts.dropInvalid ? { dropInvalid: true } : {}),
      onProgress: (d, t) => progress(2 + (d / t) * 2, TOTAL),
    });
    return result;
  } finally {
    await closeIngestConnection(conn);
    await rm(spillDir, { recursive: true, force: true });
  }
}

/**
 * Kept text and boolean columns with at most CATEGORICAL_MAX_DISTINCT distinct
 * values: recorded in metadata so evaluation one-hot encodes them when they are
 * named as context (higher-cardinality text, e.g. ids, must be declared).
 */
async function categoricalColumns(conn: DuckDBConnection, table: string, cols: { name: string; type: string }[]): Promise<string[]> {
  const text = cols.filter((c) => c.type === 'VARCHAR' || c.type === 'BOOLEAN');
  if (text.length === 0) return [];
  const row = (await queryRows(conn, `SELECT ${text.map((c, i) => `count(DISTINCT ${ident(c.name)})::DOUBLE AS d${i}`).join(', ')} FROM ${ident(table)}`))[0]!;
  return text.filter((_, i) => Number(row[`d${i}`]) <= CATEGORICAL_MAX_DISTINCT).map((c) => c.name);
}

/** Observation and action spaces of a staged trajectory table (most common vector lengths; K = max + 1 for discrete actions). */
async function trajectorySpaces(conn: DuckDBConnection, table: string): Promise<{ observationSpace?: Space; actionSpace?: Space }> {
  const types = new Map((await queryRows(conn, `DESCRIBE SELECT * FROM ${ident(table)}`)).map((r) => [String(r.column_name), String(r.column_type)]));
  const discrete = types.get('action') === 'INTEGER';
  const row = (
    await queryRows(
      conn,
      `SELECT mode(len(observation)) AS d, ${discrete ? 'max(action) + 1' : 'mode(len(action))'} AS m FROM ${ident(table)}`,
    )
  )[0]!;
  const out: { observationSpace?: Space; actionSpace?: Space } = {};
  if (row.d !== null && row.d !== undefined) out.observationSpace = { type: 'box', shape: [Number(row.d)] };
  if (row.m !== null && row.m !== undefined) {
    out.actionSpace = discrete ? { type: 'discrete', n: Number(row.m) } : { type: 'box', shape: [Number(row.m)] };
  }
  return out;
}

/** The scan SQL a tabular format uses (for tools that want to preview an input). */
export { scanSql };
