/**
 * Trajectory data sets from the environments and behaviour policies, and the
 * writer that stores them as a workspace version in the canonical trajectory
 * schema. (This lives in envs/, not datasets/synthetic/, because datasets/ may
 * not import the layers above it; envs/ imports datasets/.)
 */
import { OffpolicyError } from '../core/errors.js';
import { arraysToTable, type ArrayColumn } from '../datasets/from-arrays.js';
import { ident, openMemoryConnection, type DuckDBConnection } from '../datasets/duckdb.js';
import { spaceWidth, type Space } from '../datasets/metadata.js';
import type { DatasetVersion, Workspace } from '../datasets/workspace.js';
import { Rng } from '../util/rng.js';
import { checkPolicyName, levelPolicy, noiseLevel, type BehaviorPolicyName } from './behavior-policies.js';
import { referenceScores } from './reference-scores.js';
import { getEnv } from './registry.js';
import type { Env } from './types.js';

export interface GenerateTrajectoriesOptions {
  /** Env id or alias ("pendulum"), or an Env object. */
  env: string | Env;
  policy: BehaviorPolicyName | string;
  /** Number of complete episodes. Give exactly one of `episodes` and `steps`. */
  episodes?: number;
  /**
   * Number of steps: episodes run back to back until this many steps are
   * logged; the last episode is cut there and its last step marked truncated.
   */
  steps?: number;
  seed: number;
  onProgress?: (done: number, total: number) => void;
}

export interface TrajectoryData {
  envId: string;
  policy: BehaviorPolicyName;
  seed: number;
  /** Generation parameters, as recorded in the lineage. */
  params: Record<string, unknown>;
  observationSpace: Space;
  actionSpace: Space;
  /** Total steps (rows). */
  n: number;
  episodes: number;
  obsDim: number;
  /** Box: action dimension; discrete: 1. */
  actionDim: number;
  discrete: boolean;
  episodeId: Float64Array;
  step: Int32Array;
  /** n x obsDim, row-major. */
  observation: Float32Array;
  nextObservation: Float32Array;
  /** Box: n x actionDim Float32Array; discrete: Int32Array of indices. */
  action: Float32Array | Int32Array;
  reward: Float64Array;
  terminated: Uint8Array;
  truncated: Uint8Array;
  behaviorLogprob: Float64Array;
  /** Undiscounted return and length of each episode. */
  episodeReturns: Float64Array;
  episodeLengths: Int32Array;
}

function checkCount(name: string, v: number | undefined, flag: string): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
    throw new OffpolicyError('E_GENERATOR_PARAM', `${name} must be a positive integer, got ${v}.`, {
      hint: `Pass ${flag} 1 or more.`,
    });
  }
}

/** Rolls out `policy` in `env`; the same options give the same arrays. */
export function generateTrajectories(opts: GenerateTrajectoriesOptions): TrajectoryData {
  const env = typeof opts.env === 'string' ? getEnv(opts.env) : opts.env;
  const policy = checkPolicyName(opts.policy);
  if ((opts.episodes === undefined) === (opts.steps === undefined)) {
    throw new OffpolicyError('E_GENERATOR_PARAM', 'Give exactly one of episodes and steps.', {
      hint: 'For example --episodes 50, or --steps 100000.',
    });
  }
  checkCount('episodes', opts.episodes, '--episodes');
  checkCount('steps', opts.steps, '--steps');
  if (!Number.isFinite(opts.seed)) {
    throw new OffpolicyError('E_GENERATOR_PARAM', `seed must be a number, got ${opts.seed}.`, { hint: 'Pass --seed 0 (any integer).' });
  }
  const obsDim = spaceWidth(env.observationSpace);
  const discrete = env.actionSpace.type === 'discrete';
  const actionDim = spaceWidth(env.actionSpace);

  const obs: number[] = [];
  const nextObs: number[] = [];
  const actions: number[] = [];
  const episodeId: number[] = [];
  const stepIdx: number[] = [];
  const rewards: number[] = [];
  const terminated: number[] = [];
  const truncated: number[] = [];
  const logps: number[] = [];
  const returns: number[] = [];
  const lengths: number[] = [];

  const root = new Rng(opts.seed);
  const maxSteps = opts.steps ?? Infinity;
  const maxEpisodes = opts.episodes ?? Infinity;
  const total = opts.steps ?? opts.episodes!;
  let n = 0;
  for (let e = 0; e < maxEpisodes && n < maxSteps; e++) {
    const rng = root.fork(e);
    const progress = opts.steps !== undefined ? n / opts.steps : opts.episodes! <= 1 ? 1 : e / (opts.episodes! - 1);
    const pol = levelPolicy(env, noiseLevel(env, policy, progress));
    let { state, observation } = env.reset(rng);
    let ret = 0;
    let len = 0;
    for (;;) {
      // The policy sees the observation as stored (float32), so behavior_logprob
      // can be recomputed exactly from the data set.
      const { action, logProb } = pol.sample(Float64Array.from(Float32Array.from(observation)), rng);
      const res = env.step(state, discrete ? action[0]! : action);
      for (let j = 0; j < obsDim; j++) obs.push(observation[j]!);
      for (let j = 0; j < obsDim; j++) nextObs.push(res.observation[j]!);
      for (let j = 0; j < actionDim; j++) actions.push(action[j]!);
      episodeId.push(e);
      stepIdx.push(len);
      rewards.push(res.reward);
      logps.push(logProb);
      ret += res.reward;
      len++;
      n++;
      const cut = !res.terminated && !res.truncated && n >= maxSteps;
      terminated.push(res.terminated ? 1 : 0);
      truncated.push(res.truncated || cut ? 1 : 0);
      if (res.terminated || res.truncated || cut) break;
      state = res.state;
      observation = res.observation;
    }
    returns.push(ret);
    lengths.push(len);
    opts.onProgress?.(opts.steps !== undefined ? Math.min(n, total) : e + 1, total);
  }

  return {
    envId: env.id,
    policy,
    seed: opts.seed,
    params: {
      env: env.id,
      policy,
      ...(opts.episodes !== undefined ? { episodes: opts.episodes } : { steps: opts.steps }),
    },
    observationSpace: env.observationSpace,
    actionSpace: env.actionSpace,
    n,
    episodes: returns.length,
    obsDim,
    actionDim,
    discrete,
    episodeId: Float64Array.from(episodeId),
    step: Int32Array.from(stepIdx),
    observation: Float32Array.from(obs),
    nextObservation: Float32Array.from(nextObs),
    action: discrete ? Int32Array.from(actions) : Float32Array.from(actions),
    reward: Float64Array.from(rewards),
    terminated: Uint8Array.from(terminated),
    truncated: Uint8Array.from(truncated),
    behaviorLogprob: Float64Array.from(logps),
    episodeReturns: Float64Array.from(returns),
    episodeLengths: Int32Array.from(lengths),
  };
}

/**
 * Loads `data` into `table` on `conn` and returns a SELECT giving the canonical
 * trajectory columns in schema order (episode_id, step, observation,
 * next_observation, action, reward, terminated, truncated, behavior_logprob).
 */
/** The stored columns of trajectory steps: TrajectoryData's, with behaviorLogprob null when what acted has no density (a deterministic rollout). */
export type TrajectoryColumns = Pick<
  TrajectoryData,
  'n' | 'obsDim' | 'actionDim' | 'discrete' | 'episodeId' | 'step' | 'observation' | 'nextObservation' | 'action' | 'reward' | 'terminated' | 'truncated'
> & {
  /** log pi(a | s) of the stored action under what acted; null: no behavior_logprob column. */
  behaviorLogprob: Float64Array | null;
};

export async function loadTrajectoryTable(conn: DuckDBConnection, table: string, data: TrajectoryColumns): Promise<string> {
  const columns: ArrayColumn[] = [
    { name: 'episode_id', type: 'BIGINT', data: data.episodeId },
    { name: 'step', type: 'INTEGER', data: data.step },
    { name: 'observation', type: 'FLOAT', data: data.observation, width: data.obsDim },
    { name: 'next_observation', type: 'FLOAT', data: data.nextObservation, width: data.obsDim },
    data.discrete
      ? { name: 'action', type: 'INTEGER', data: data.action as Int32Array }
      : { name: 'action', type: 'FLOAT', data: data.action as Float32Array, width: data.actionDim },
    { name: 'reward', type: 'DOUBLE', data: data.reward },
    { name: 'terminated', type: 'BOOLEAN', data: data.terminated },
    { name: 'truncated', type: 'BOOLEAN', data: data.truncated },
    ...(data.behaviorLogprob ? [{ name: 'behavior_logprob', type: 'DOUBLE' as const, data: data.behaviorLogprob }] : []),
  ];
  await arraysToTable(conn, table, data.n, columns);
  // Width-1 vectors load as scalars: wrap them back into one-element lists.
  const vec = (name: string, width: number): string => (width === 1 ? `[${ident(name)}]::FLOAT[] AS ${ident(name)}` : ident(name));
  const action = data.discrete ? 'action' : vec('action', data.actionDim);
  return `SELECT episode_id, step, ${vec('observation', data.obsDim)}, ${vec('next_observation', data.obsDim)}, ${action},
    reward, terminated, truncated${data.behaviorLogprob ? ', behavior_logprob' : ''} FROM ${ident(table)} ORDER BY episode_id, step`;
}

/** Stores `data` as a new version of `name` with env id, spaces, reference scores and lineage. */
export async function writeTrajectoryDataset(ws: Workspace, name: string, data: TrajectoryData): Promise<DatasetVersion> {
  const conn = await openMemoryConnection();
  try {
    const select = await loadTrajectoryTable(conn, 'trajectories', data);
    const ref = referenceScores(data.envId);
    return await ws.createVersion({
      name,
      conn,
      select,
      metadata: {
        kind: 'trajectory',
        envId: data.envId,
        observationSpace: data.observationSpace,
        actionSpace: data.actionSpace,
        ...(ref ? { refMinScore: ref.min, refMaxScore: ref.max } : {}),
        extra: {
          behaviorPolicy: data.policy,
          behaviorLogprob: 'log density of the stored action under the behaviour policy that acted (see src/envs/behavior-policies.ts)',
          meanReturn: data.episodeReturns.reduce((a, b) => a + b, 0) / data.episodes,
        },
        lineage: { transform: 'generate:trajectories', params: data.params, seed: data.seed },
      },
    });
  } finally {
    conn.closeSync();
  }
}
