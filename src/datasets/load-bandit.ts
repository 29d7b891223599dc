/**
 * The bandit-log kind in memory: ONE array type (BanditArrays) and ONE loader
 * (loadBanditArrays) for everything that reads a log as typed arrays: the
 * in-memory OPE backend, reward models and policies, the discrete learners (which
 * turn it into one-step episodes) and the synthetic generators (whose BanditLog
 * is a BanditArrays with the generator's extras).
 */
import { MAX_ROWS_IN_MESSAGE, OffpolicyError } from '../core/errors.js';
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
  /**
   * Keep only the rows whose reward is observed. Without it a log with NULL
   * rewards is refused (E_NULL_REWARDS): a missing reward is never read as 0 or NaN.
   */
  observedRewardsOnly?: boolean;
  /** How the caller's user restricts to rows with rewards, for the E_NULL_REWARDS hint (default: the evaluate / learn flag). */
  nullRewardsFix?: string;
}

/** The SQL relation over a version's Parquet files (for a view, only the rows its rowFilter keeps). */
export function versionScan(v: DatasetVersion): string {
  const scan = `read_parquet(${lit(v.glob)})`;
  return v.rowFilter ? `(SELECT * FROM ${scan} WHERE ${v.rowFilter})` : scan;
}

/** SQL of the row_ids a view leaves out (null for a stored version): candidate tables may score them, the log no longer holds them. */
export function rowIdsLeftOut(v: DatasetVersion): string | null {
  return v.rowFilter ? `SELECT row_id FROM read_parquet(${lit(v.glob)}) WHERE NOT (${v.rowFilter})` : null;
}

/** The rows with a reward. */
export const OBSERVED_REWARD = 'reward IS NOT NULL';

/** The default fix named by E_NULL_REWARDS: the flag of evaluate, robustness and learn, and the library option. */
export const OBSERVED_REWARDS_FIX = 'Pass --observed-rewards-only (library: observedRewardsOnly: true) to use only the rows with rewards, which assumes rewards are missing at random';

/** Why restricting to observed rewards is allowed, for every result that did it. */
export const MISSING_AT_RANDOM =
  'rewards are missing at random (whether a reward is missing does not depend on the context, the action or the reward), so the rows with rewards represent the log';

export interface MissingRewards {
  /** Rows whose reward is NULL. */
  count: number;
  /** Their first few row_ids. */
  rowIds: number[];
}

/**
 * Rows of a version (within `where`) whose reward is NULL. Only a log declared
 * reward-nullable can hold any (stored-data validation refuses NULL rewards
 * otherwise), so other logs cost no scan.
 */
export async function missingRewards(conn: DuckDBConnection, v: DatasetVersion, where?: string): Promise<MissingRewards> {
  if (v.metadata.rewardNullable !== true) return { count: 0, rowIds: [] };
  const cond = `reward IS NULL${where ? ` AND (${where})` : ''}`;
  const count = Number((await queryOne(conn, `SELECT count(*) AS n FROM ${versionScan(v)} WHERE ${cond}`)).n);
  if (count === 0) return { count, rowIds: [] };
  const rows = (await conn.runAndReadAll(`SELECT row_id::DOUBLE AS id FROM ${versionScan(v)} WHERE ${cond} ORDER BY row_id LIMIT ${MAX_ROWS_IN_MESSAGE}`)).getRowObjectsJS();
  return { count, rowIds: rows.map((r) => Number(r.id)) };
}

/** E_NULL_REWARDS: the log has rows without a reward, which no estimator or learner may read as 0. */
export function nullRewardsError(v: DatasetVersion, m: MissingRewards, fix: string = OBSERVED_REWARDS_FIX): OffpolicyError {
  return new OffpolicyError(
    'E_NULL_REWARDS',
    `${m.count} of the ${v.metadata.rowCount} rows of ${v.ref} ${m.count === 1 ? 'has' : 'have'} no reward (NULL; first row_ids: ${m.rowIds.join(', ')}). A missing reward is not a 0, so these rows cannot be used as they are.`,
    { hint: `${fix}, or fill the rewards in and store the log again.`, details: { rule: 'reward is not NULL', count: m.count, rows: m.rowIds } },
  );
}

export interface ObservedRewards {
  /** The version itself, or a view of its rows with rewards (rowCount theirs). */
  version: DatasetVersion;
  /** Rows left out for a missing reward (0: nothing left out, `version` is the stored one). */
  rowsWithoutReward: number;
}

/**
 * A log ready to score: the version itself when every reward is observed; with
 * NULL rewards, E_NULL_REWARDS unless `observedRewardsOnly`, and then a view of
 * the rows with rewards (versionScan reads only those; every backend sees the same rows).
 */
export async function observedRewardsView(conn: DuckDBConnection, v: DatasetVersion, opts: { observedRewardsOnly?: boolean; fix?: string } = {}): Promise<ObservedRewards> {
  const m = await missingRewards(conn, v);
  if (m.count === 0) return { version: v, rowsWithoutReward: 0 };
  if (!opts.observedRewardsOnly) throw nullRewardsError(v, m, opts.fix);
  const filter = v.rowFilter ? `(${v.rowFilter}) AND ${OBSERVED_REWARD}` : OBSERVED_REWARD;
  const metadata = { ...v.metadata, rowCount: v.metadata.rowCount - m.count, rewardNullable: false };
  return { version: { ...v, metadata, rowFilter: filter }, rowsWithoutReward: m.count };
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
export async function loadBanditArrays(conn: DuckDBConnection, version: DatasetVersion, opts: LoadBanditOptions = {}): Promise<BanditArrays & { rowIds: Float64Array; rowsWithoutReward: number }> {
  requireBandit(version);
  const has = (c: string): boolean => version.metadata.columns.some((x) => x.name === c);
  const missing = await missingRewards(conn, version, opts.where);
  if (missing.count > 0 && !opts.observedRewardsOnly) throw nullRewardsError(version, missing, opts.nullRewardsFix);
  const cond = [opts.where, missing.count > 0 ? OBSERVED_REWARD : undefined].filter((c): c is string => c !== undefined).map((c) => `(${c})`);
  const where = cond.length > 0 ? ` WHERE ${cond.join(' AND ')}` : '';
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
    rowsWithoutReward: missing.count,
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
export async function loadBanditRef(ws: Workspace, ref: string, opts: LoadBanditOptions = {}): Promise<BanditArrays & { rowIds: Float64Array; rowsWithoutReward: number; version: DatasetVersion }> {
  const version = await ws.resolve(ref);
  const conn = await openMemoryConnection();
  try {
    return { ...(await loadBanditArrays(conn, version, opts)), version };
  } finally {
    conn.closeSync();
  }
}
