/**
 * The bandit-log kind in memory: ONE array type (BanditArrays) and ONE loader
 * (loadBanditArrays) for everything that reads a log as typed arrays: the
 * in-memory OPE backend, reward models and policies, the discrete learners (which
 * turn it into one-step episodes) and the synthetic generators (whose BanditLog
 * is a BanditArrays with the generator's extras).
 */
import { OffpolicyError } from '../core/errors.js';
import { readColumns } from './columns.js';
import { ident, lit, openMemoryConnection, queryOne, type DuckDBConnection } from './duckdb.js';
import { featureSql, resolveFeatures, type ContextOptions, type FeatureSpec } from './features.js';
import type { DatasetVersion, Workspace } from './workspace.js';

/** A bandit log as typed arrays, row i being the i-th row by row_id (all row-major). */
export interface BanditArrays {
  n: number;
  numActions: number;
  /** Context width d (0 when the log has no context). */
  contextDim: number;
  /** Stable row ids; absent means 0..n-1. */
  rowIds?: Float64Array;
  /** n x d. */
  contexts: Float32Array;
  /** a_i in 0..K-1. */
  actions: Int32Array;
  rewards: Float64Array;
  /** pi0(a_i|x_i), or null when the log has no propensity column. */
  propensities: Float64Array | null;
  /** n x K logging distribution pi0(.|x_i), when the log carries action_probs. */
  actionProbs: Float64Array | null;
  /** n x K expected rewards q*(x_i, a) (synthetic data with ground truth). */
  expectedRewards: Float64Array | null;
  /** How the contexts were built from the log's columns (./features.ts), when loaded from a stored log. */
  features?: FeatureSpec;
}

/** contextColumns / categorical / maxLevels / features say what the context is (./features.ts). */
export interface LoadBanditOptions extends ContextOptions {
  /** SQL condition over the stored columns (e.g. "row_id % 2 = 0"). */
  where?: string;
}

/** The SQL relation over a version's Parquet files. */
export function versionScan(v: DatasetVersion): string {
  return `read_parquet(${lit(v.glob)})`;
}

/** Action-space size: metadata when declared, else max(action) + 1 over the version. */
export async function numActionsOf(conn: DuckDBConnection, v: DatasetVersion): Promise<number> {
  const space = v.metadata.actionSpace;
  if (space && space.type === 'discrete') return space.n;
  const row = await queryOne(conn, `SELECT max(action) AS m FROM ${versionScan(v)}`);
  return Number(row.m) + 1;
}

export function requireBandit(v: DatasetVersion): void {
  if (v.metadata.kind !== 'bandit') {
    throw new OffpolicyError('E_DATASET_KIND', `Dataset ${v.ref} is a ${v.metadata.kind} dataset, not a bandit log.`, {
      hint: "Pick a bandit log (offpolicy datasets list shows each dataset's kind); trajectory data loads with loadTrajectoryArrays.",
    });
  }
}

/** Width of a list column (checked to be the same on every row), or 0 when absent. */
async function listWidth(conn: DuckDBConnection, v: DatasetVersion, column: string, where: string): Promise<number> {
  if (!v.metadata.columns.some((c) => c.name === column)) return 0;
  const row = await queryOne(conn, `SELECT min(len(${ident(column)})) AS lo, max(len(${ident(column)})) AS hi FROM ${versionScan(v)}${where}`);
  if (row.lo === null || row.lo === undefined) return 0;
  if (Number(row.lo) !== Number(row.hi)) {
    throw new OffpolicyError('E_RAGGED_VECTOR', `Column "${column}" of ${v.ref} has between ${row.lo} and ${row.hi} values per row.`, {
      hint: 'Every row of a vector column must have the same length.',
    });
  }
  return Number(row.lo);
}

/**
 * Reads `width` SQL expressions per row as one row-major n x width array,
 * through readColumns' fast scalar path (one typed column per entry) rather than
 * per-row list objects. `exprs` are evaluated over `from`; rows ordered by `orderBy`.
 */
export async function readMatrix(
  conn: DuckDBConnection,
  from: string,
  exprs: string[],
  orderBy: string,
  type: 'f64' | 'f32' = 'f64',
): Promise<Float64Array | Float32Array> {
  const width = exprs.length;
  const spec: Record<string, { type: 'f64' | 'f32' }> = {};
  exprs.forEach((_, j) => (spec[`m${j}`] = { type }));
  const sql = `SELECT ${exprs.map((e, j) => `(${e})::${type === 'f64' ? 'DOUBLE' : 'FLOAT'} AS m${j}`).join(', ')} FROM ${from} ORDER BY ${orderBy}`;
  const { n, columns } = await readColumns(conn, sql, spec);
  const out = type === 'f64' ? new Float64Array(n * width) : new Float32Array(n * width);
  for (let j = 0; j < width; j++) {
    const col = (columns as Record<string, Float64Array | Float32Array>)[`m${j}`]!;
    for (let i = 0, o = j; i < n; i++, o += width) out[o] = col[i]!;
  }
  return out;
}

/**
 * Loads a stored bandit log (kind "bandit") into typed arrays ordered by row_id:
 * the `context` FLOAT[] column (or `contextColumns`), action, reward, and
 * propensity, action_probs and expected_reward when present. K comes from the
 * action-space metadata, else max(action) + 1 over the version.
 */
export async function loadBanditArrays(conn: DuckDBConnection, version: DatasetVersion, opts: LoadBanditOptions = {}): Promise<BanditArrays & { rowIds: Float64Array }> {
  requireBandit(version);
  const has = (c: string): boolean => version.metadata.columns.some((x) => x.name === c);
  const where = opts.where ? ` WHERE ${opts.where}` : '';
  const numActions = await numActionsOf(conn, version);
  const features = await resolveFeatures(conn, version, opts, opts.where ? `(SELECT * FROM ${versionScan(version)}${where})` : undefined);
  const contextDim = features.width;
  const probsWidth = has('action_probs') ? await listWidth(conn, version, 'action_probs', where) : 0;
  if (probsWidth !== 0 && probsWidth !== numActions) {
    throw new OffpolicyError('E_ACTION_SPACE', `action_probs of ${version.ref} has ${probsWidth} entries per row, but the action space has ${numActions} actions.`, {
      hint: 'The logging distribution needs one probability per action.',
    });
  }
  const erWidth = has('expected_reward') ? await listWidth(conn, version, 'expected_reward', where) : 0;
  const select = [
    'row_id::DOUBLE AS row_id',
    'action',
    'reward::DOUBLE AS reward',
    has('propensity') ? 'propensity::DOUBLE AS propensity' : 'NULL::DOUBLE AS propensity',
    probsWidth > 0 ? 'action_probs' : 'NULL AS action_probs',
    erWidth === numActions ? 'expected_reward' : 'NULL AS expected_reward',
  ];
  const sql = `SELECT ${select.join(', ')} FROM ${versionScan(version)}${where} ORDER BY row_id`;
  const base = await readColumns(conn, sql, {
    row_id: { type: 'f64' },
    action: { type: 'i32' },
    reward: { type: 'f64' },
    propensity: { type: 'f64' },
  });
  const n = base.n;
  const from = `(${sql}) AS t`;
  const entries = (col: string, w: number): string[] => Array.from({ length: w }, (_, j) => `t.${col}[${j + 1}]`);
  const ex: Record<string, Float64Array | Float32Array | undefined> = {};
  if (contextDim > 0) ex.context = await readMatrix(conn, `${versionScan(version)}${where}`, featureSql(features), 'row_id', 'f32');
  if (probsWidth > 0) ex.action_probs = await readMatrix(conn, from, entries('action_probs', numActions), 't.row_id');
  if (erWidth === numActions) ex.expected_reward = await readMatrix(conn, from, entries('expected_reward', numActions), 't.row_id');
  return {
    n,
    numActions,
    contextDim,
    rowIds: base.columns.row_id,
    contexts: (ex.context as Float32Array | undefined) ?? new Float32Array(0),
    actions: base.columns.action,
    rewards: base.columns.reward,
    propensities: has('propensity') ? base.columns.propensity : null,
    actionProbs: (ex.action_probs as Float64Array | undefined) ?? null,
    expectedRewards: (ex.expected_reward as Float64Array | undefined) ?? null,
    features,
  };
}

/** The contexts of every row (ordered by row_id) built with a given feature spec (e.g. a learned policy's), checked against the log. */
export async function readContexts(conn: DuckDBConnection, version: DatasetVersion, spec: FeatureSpec): Promise<Float32Array> {
  await resolveFeatures(conn, version, { features: spec });
  if (spec.width === 0) return new Float32Array(0);
  return (await readMatrix(conn, versionScan(version), featureSql(spec), 'row_id', 'f32')) as Float32Array;
}

/** loadBanditArrays for a reference ("name" or "name@version") in a workspace, on a connection of its own; the version comes back too. */
export async function loadBanditRef(ws: Workspace, ref: string, opts: LoadBanditOptions = {}): Promise<BanditArrays & { rowIds: Float64Array; version: DatasetVersion }> {
  const version = await ws.resolve(ref);
  const conn = await openMemoryConnection();
  try {
    return { ...(await loadBanditArrays(conn, version, opts)), version };
  } finally {
    conn.closeSync();
  }
}
