/**
 * Loads a stored trajectory version into typed arrays for training, in episode
 * / step order. Vector columns come straight from DuckDB's list buffers
 * (readColumns); when the stored rows are already in episode / step order (every
 * ingest and generator writes them so) nothing is sorted, else the arrays are
 * permuted once in JS.
 *
 * next_observation may be NULL on an episode's last step (D4RL files do not
 * store the final observation): those rows hold NaN in `nextObservations` and 1
 * in `nextObservationMissing`. Learners must mask them (a terminated step does
 * not bootstrap) or drop them (a truncated step without its next observation
 * cannot be bootstrapped), as d4rl.qlearning_dataset does.
 */
import type { FeatureSpec } from '../core/contracts.js';
import { OffpolicyError } from '../core/errors.js';
import { readColumns, type ColumnSpec } from './columns.js';
import { lit, queryOne, type DuckDBConnection } from './duckdb.js';
import { spaceWidth } from './metadata.js';
import type { DatasetVersion } from './workspace.js';

export interface TrajectoryArrays {
  /** Steps (rows). */
  n: number;
  obsDim: number;
  /** Values per action: m for box actions, 1 for discrete. */
  actDim: number;
  /** Discrete actions: the number of actions K (actions are then an Int32Array of 0..K-1). */
  discreteActions?: number;
  /** n * obsDim, row-major. */
  observations: Float32Array;
  /** n * actDim (Float32Array), or n (Int32Array) for discrete actions. */
  actions: Float32Array | Int32Array;
  rewards: Float64Array;
  /** n * obsDim, NaN where next_observation is missing; null when the dataset has no next_observation column. */
  nextObservations: Float32Array | null;
  /** 1 where next_observation is NULL (an episode's last step); null when the column is absent. */
  nextObservationMissing: Uint8Array | null;
  terminated: Uint8Array;
  truncated: Uint8Array;
  episodeId: Float64Array;
  step: Int32Array;
  behaviorLogprob: Float64Array | null;
  /** Corruption bitmask (CORRUPTED_BITS); null when the dataset was never corrupted. */
  corrupted: Uint8Array | null;
  /** A bandit log read as one-step episodes: how its contexts were built from its columns (./features.ts). */
  features?: FeatureSpec;
  /** Columns asked for by LoadTrajectoryOptions.extra, in the same row order. */
  extra?: Record<string, Float64Array | Float32Array | Int32Array | Uint8Array>;
}

export interface LoadTrajectoryOptions {
  /** Optional SQL condition over the stored columns, e.g. "episode_id < 100". */
  where?: string;
  /** Called once per stage: (done, total). */
  onProgress?: (done: number, total: number) => void;
  /** false: skip observation / next_observation (empty arrays; obsDim still set), for readers of other columns only. */
  observations?: boolean;
  /** More columns read in the same scan: name -> SQL expression and typed-array spec (returned in `extra`). */
  extra?: Record<string, { sql: string; spec: ColumnSpec }>;
}

/** The stored steps of `version` as a FROM clause, restricted by `where` (an SQL condition over the stored columns) when given. */
export function trajectoryRowsSql(version: DatasetVersion, where?: string): string {
  return `read_parquet(${lit(version.glob)})${where ? ` WHERE ${where}` : ''}`;
}

/** How many stored steps `where` selects (all of them without it): the rows loadTrajectoryArrays would read. */
export async function countTrajectoryRows(conn: DuckDBConnection, version: DatasetVersion, where?: string): Promise<number> {
  if (!where) return version.metadata.rowCount;
  return Number((await queryOne(conn, `SELECT count(*)::DOUBLE AS n FROM ${trajectoryRowsSql(version, where)}`)).n);
}

/** Loads `version` (a trajectory dataset) into typed arrays in episode / step order. */
export async function loadTrajectoryArrays(
  conn: DuckDBConnection,
  version: DatasetVersion,
  opts: LoadTrajectoryOptions = {},
): Promise<TrajectoryArrays> {
  const meta = version.metadata;
  if (meta.kind !== 'trajectory') {
    throw new OffpolicyError('E_DATASET_KIND', `Dataset ${version.ref} is a ${meta.kind} log, not trajectory data.`, {
      hint: 'Training from typed arrays needs a trajectory dataset (episode_id, step, observation, action, ...).',
    });
  }
  const types = new Map(meta.columns.map((c) => [c.name, c.type]));
  const scan = `read_parquet(${lit(version.glob)})`;
  const discrete = !(types.get('action') ?? '').endsWith('[]');

  let obsDim = meta.observationSpace?.type === 'box' ? spaceWidth(meta.observationSpace) : 0;
  let actDim = discrete ? 1 : meta.actionSpace?.type === 'box' ? spaceWidth(meta.actionSpace) : 0;
  if (obsDim === 0 || actDim === 0) {
    const w = await queryOne(
      conn,
      `SELECT max(len(observation)) AS o${discrete ? '' : ', max(len(action)) AS a'} FROM ${scan}`,
    );
    if (obsDim === 0) obsDim = Number(w.o ?? 0);
    if (actDim === 0) actDim = Number(w.a ?? 0);
  }

  const withObs = opts.observations !== false;
  const hasNext = withObs && types.has('next_observation');
  const hasLogp = types.has('behavior_logprob');
  const hasCorrupted = types.has('corrupted');
  const spec: Record<string, ColumnSpec> = {
    episode_id: { type: 'f64' },
    step: { type: 'i32' },
    ...(withObs ? { observation: { type: 'f32', width: obsDim } } : {}),
    action: discrete ? { type: 'i32' } : { type: 'f32', width: actDim },
    reward: { type: 'f64' },
    terminated: { type: 'u8' },
    truncated: { type: 'u8' },
  };
  // episode_id read as DOUBLE (exact below 2^53, as the Float64Array holds it): a copy of DuckDB's buffer, not a BigInt per row
  const select = ['episode_id::DOUBLE AS episode_id', 'step', ...(withObs ? ['observation'] : []), 'action', 'reward', 'terminated', 'truncated'];
  if (hasNext) {
    spec.next_observation = { type: 'f32', width: obsDim };
    spec._next_missing = { type: 'u8' };
    select.push('next_observation', '(next_observation IS NULL) AS _next_missing');
  }
  if (hasLogp) {
    spec.behavior_logprob = { type: 'f64' };
    select.push('behavior_logprob');
  }
  if (hasCorrupted) {
    spec.corrupted = { type: 'u8' };
    select.push('coalesce(corrupted, 0) AS corrupted');
  }
  const extraNames = Object.keys(opts.extra ?? {});
  extraNames.forEach((name, j) => {
    spec[`_x${j}`] = opts.extra![name]!.spec;
    select.push(`${opts.extra![name]!.sql} AS _x${j}`);
  });
  opts.onProgress?.(0, 2);
  const { n, columns: c } = await readColumns(conn, `SELECT ${select.join(', ')} FROM ${trajectoryRowsSql(version, opts.where)}`, spec);
  opts.onProgress?.(1, 2);

  let out: TrajectoryArrays = {
    n,
    obsDim,
    actDim,
    ...(discrete ? { discreteActions: meta.actionSpace?.type === 'discrete' ? meta.actionSpace.n : maxPlusOne(c.action as Int32Array) } : {}),
    observations: withObs ? (c.observation as Float32Array) : new Float32Array(0),
    actions: c.action as Float32Array | Int32Array,
    rewards: c.reward as Float64Array,
    nextObservations: hasNext ? (c.next_observation as Float32Array) : null,
    nextObservationMissing: hasNext ? (c._next_missing as Uint8Array) : null,
    terminated: c.terminated as Uint8Array,
    truncated: c.truncated as Uint8Array,
    episodeId: c.episode_id as Float64Array,
    step: c.step as Int32Array,
    behaviorLogprob: hasLogp ? (c.behavior_logprob as Float64Array) : null,
    corrupted: hasCorrupted ? (c.corrupted as Uint8Array) : null,
    ...(extraNames.length > 0 ? { extra: Object.fromEntries(extraNames.map((name, j) => [name, c[`_x${j}`]!])) } : {}),
  };
  if (!isSorted(out.episodeId, out.step)) out = permute(out, sortOrder(out.episodeId, out.step));
  opts.onProgress?.(2, 2);
  return out;
}

function maxPlusOne(a: Int32Array): number {
  let m = -1;
  for (let i = 0; i < a.length; i++) if (a[i]! > m) m = a[i]!;
  return m + 1;
}

function isSorted(ep: Float64Array, step: Int32Array): boolean {
  for (let i = 1; i < ep.length; i++) {
    if (ep[i]! < ep[i - 1]! || (ep[i] === ep[i - 1] && step[i]! < step[i - 1]!)) return false;
  }
  return true;
}

function sortOrder(ep: Float64Array, step: Int32Array): Uint32Array {
  const idx = new Uint32Array(ep.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  idx.sort((a, b) => ep[a]! - ep[b]! || step[a]! - step[b]! || a - b);
  return idx;
}

function gather<T extends Float32Array | Float64Array | Int32Array | Uint8Array>(src: T, order: Uint32Array, width: number): T {
  const out = new (src.constructor as new (n: number) => T)(src.length);
  for (let i = 0; i < order.length; i++) {
    const from = order[i]! * width;
    if (width === 1) out[i] = src[from]!;
    else out.set(src.subarray(from, from + width), i * width);
  }
  return out;
}

function permute(a: TrajectoryArrays, order: Uint32Array): TrajectoryArrays {
  return {
    ...a,
    observations: a.observations.length > 0 ? gather(a.observations, order, a.obsDim) : a.observations,
    actions: gather(a.actions, order, a.discreteActions !== undefined ? 1 : a.actDim),
    rewards: gather(a.rewards, order, 1),
    nextObservations: a.nextObservations && gather(a.nextObservations, order, a.obsDim),
    nextObservationMissing: a.nextObservationMissing && gather(a.nextObservationMissing, order, 1),
    terminated: gather(a.terminated, order, 1),
    truncated: gather(a.truncated, order, 1),
    episodeId: gather(a.episodeId, order, 1),
    step: gather(a.step, order, 1),
    behaviorLogprob: a.behaviorLogprob && gather(a.behaviorLogprob, order, 1),
    corrupted: a.corrupted && gather(a.corrupted, order, 1),
    ...(a.extra ? { extra: Object.fromEntries(Object.entries(a.extra).map(([k, v]) => [k, gather(v, order, v.length / a.n)])) } : {}),
  };
}
