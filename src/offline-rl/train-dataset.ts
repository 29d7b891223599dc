/**
 * Training on a stored trajectory dataset: resolves the version, loads its
 * typed arrays, takes the action bound and width from the dataset's action
 * space, finds the environment to score in (the dataset's env_id or an
 * explicit one) and checks the data fits it. `trainOnDataset` trains in one go;
 * the `offpolicy train` command runs a TrainingSession (session.ts) instead.
 */
import { openMemoryConnection } from '../datasets/duckdb.js';
import { checkWhereExpression } from '../datasets/query.js';
import { loadTrajectoryArrays, type TrajectoryArrays } from '../datasets/load-trajectories.js';
import { spaceWidth } from '../datasets/metadata.js';
import type { DatasetVersion, Workspace } from '../datasets/workspace.js';
import { envIds, getEnv } from '../envs/registry.js';
import type { Env } from '../envs/types.js';
import { dataError, OffpolicyError } from '../core/errors.js';
import { evaluateInEnv } from './evaluate-env.js';
import type { EnvEvaluation } from './rollout.js';
import { checkAlgorithm, trainOffline, type TrainOptions, type TrainResult } from './train.js';
import { loadBanditTrainingArrays } from './discrete/bandit.js';
import type { ContextOptions } from '../datasets/features.js';

export interface DatasetTrainOptions extends TrainOptions {
  /** SQL condition over the stored columns (e.g. "episode_id < 100"). */
  where?: string;
  /** Rollouts in the dataset's environment after training (0 to skip; default 10). */
  evalEpisodes?: number;
  evalSeed?: number;
}

export interface DatasetTrainResult extends TrainResult {
  /** "name@version" of the dataset trained on. */
  dataset: string;
  /** Rollout score in the dataset's env, or null when it names no built-in env (or evalEpisodes is 0). */
  evaluation: EnvEvaluation | null;
}

export interface TrainingData {
  version: DatasetVersion;
  data: TrajectoryArrays;
  /** The options with expectedActDim / maxAction filled in from the dataset's action space (and the env's). */
  opts: TrainOptions;
  /** The environment to score in: the explicit one, else the dataset's env_id when built in, else null. */
  env: Env | null;
}

/**
 * Loads `ref` for training. `env`: an explicit evaluation environment (id or
 * alias, E_UNKNOWN_ENV otherwise); without it the dataset's env_id is used when
 * it names a built-in environment. The data must fit that env: same action kind
 * and width (E_ACTION_SHAPE) and observation width (E_OBS_SHAPE).
 */
export async function loadTrainingData(ws: Workspace, ref: string, opts: TrainOptions & { where?: string; env?: string; context?: ContextOptions }): Promise<TrainingData> {
  const explicitEnv = opts.env !== undefined ? getEnv(opts.env) : null;
  const version = await ws.resolve(ref);
  // A user condition runs on a connection that can read this version only, after a parse check.
  const conn = opts.where !== undefined ? await ws.queryConnection({ versions: [version] }) : await openMemoryConnection();
  let data: TrajectoryArrays;
  try {
    const where = opts.where !== undefined ? { where: await checkWhereExpression(conn, opts.where) } : {};
    // A bandit log trains the discrete learners as one-step episodes (context -> observation).
    data =
      version.metadata.kind === 'bandit'
        ? await loadBanditTrainingArrays(conn, version, { ...where, ...(opts.context ?? {}) })
        : await loadTrajectoryArrays(conn, version, where);
  } finally {
    conn.closeSync();
  }
  const meta = version.metadata;
  const env = explicitEnv ?? (meta.envId && envIds().includes(meta.envId) ? getEnv(meta.envId) : null);
  if (env) checkDataFitsEnv(data, version.ref, env);
  const { where: _where, env: _env, context: _context, ...rest } = opts as TrainOptions & { where?: string; env?: string; context?: ContextOptions };
  const opt: TrainOptions = { ...rest };
  const space = meta.actionSpace?.type === 'box' ? meta.actionSpace : env?.actionSpace.type === 'box' ? env.actionSpace : undefined;
  if (space?.type === 'box') {
    opt.expectedActDim ??= spaceWidth(space);
    const high = space.high;
    const low = space.low;
    if (opt.maxAction === undefined && high && low && high.every((h, j) => Number.isFinite(h) && Math.abs(h) < 1e30 && Number.isFinite(low[j]!))) {
      opt.maxAction = high.map((h, j) => Math.max(Math.abs(h), Math.abs(low[j]!)));
    }
  }
  return { version, data, opts: opt, env };
}

/** The dataset's actions and observations have the env's kind and widths. */
export function checkDataFitsEnv(data: TrajectoryArrays, ref: string, env: Env): void {
  const discreteData = data.discreteActions !== undefined;
  const space = env.actionSpace;
  if (space.type === 'discrete' && !discreteData) {
    throw new OffpolicyError('E_ACTION_SHAPE', `Dataset ${ref} has ${data.actDim}-dimensional continuous actions but ${env.id} has ${space.n} discrete actions.`, {
      hint: 'Pass the --env the data was logged in (or drop --env to use the dataset\'s env_id).',
    });
  }
  if (space.type === 'box') {
    const m = spaceWidth(space);
    if (discreteData) {
      throw new OffpolicyError('E_ACTION_SHAPE', `Dataset ${ref} has discrete actions (${data.discreteActions} choices) but ${env.id} takes ${m}-dimensional continuous actions.`, {
        hint: 'Pass the --env the data was logged in (or drop --env to use the dataset\'s env_id).',
      });
    }
    if (m !== data.actDim) {
      throw new OffpolicyError('E_ACTION_SHAPE', `Dataset ${ref} has ${data.actDim}-dimensional actions but ${env.id} takes ${m}-dimensional actions.`, {
        hint: 'Pass the --env the data was logged in (or drop --env to use the dataset\'s env_id).',
      });
    }
  }
  const d = spaceWidth(env.observationSpace);
  if (d !== data.obsDim) {
    throw new OffpolicyError('E_OBS_SHAPE', `Dataset ${ref} has ${data.obsDim}-dimensional observations but ${env.id} gives ${d}-dimensional ones.`, {
      hint: 'Pass the --env the data was logged in (or drop --env to use the dataset\'s env_id).',
    });
  }
}

/**
 * Every value a learner reads is finite: observations, actions, rewards, and
 * next observations where present (a missing next observation on an episode's
 * last step is allowed). Fails with E_NON_FINITE (the ingest rule's code),
 * naming the rows, before any update runs.
 */
export function checkFiniteTrainingData(data: TrajectoryArrays, ref: string): void {
  const { n, obsDim: d, actDim: m } = data;
  const bad: number[] = [];
  let count = 0;
  for (let i = 0; i < n; i++) {
    let ok = Number.isFinite(data.rewards[i]!);
    for (let j = 0; ok && j < d; j++) ok = Number.isFinite(data.observations[i * d + j]!);
    if (data.actions instanceof Float32Array) for (let j = 0; ok && j < m; j++) ok = Number.isFinite(data.actions[i * m + j]!);
    const next = data.nextObservations;
    if (ok && next && !(data.nextObservationMissing && data.nextObservationMissing[i] === 1)) {
      for (let j = 0; ok && j < d; j++) ok = Number.isFinite(next[i * d + j]!);
    }
    if (!ok) {
      count++;
      if (bad.length < 5) bad.push(i);
    }
  }
  if (count > 0) {
    throw dataError(
      'E_NON_FINITE',
      `finite observation, action, reward and next observation in training data (${ref}; rows in episode / step order)`,
      count,
      bad,
      'Repair or drop those rows (re-ingest with --drop-invalid, or filter them out with a where condition): a NaN in a batch would corrupt every network.',
    );
  }
}

export async function trainOnDataset(ws: Workspace, ref: string, algo: string, opts: DatasetTrainOptions): Promise<DatasetTrainResult> {
  checkAlgorithm(algo);
  const { version, data, opts: opt } = await loadTrainingData(ws, ref, opts);
  const meta = version.metadata;
  const { evalEpisodes: _e, evalSeed: _s, ...learnerOpts } = opt as DatasetTrainOptions;
  const result = await trainOffline(algo, data, learnerOpts);
  if (result.policy.training) Object.assign(result.policy.training, { dataset: version.ref, datasetHash: meta.contentHash });
  const episodes = opts.evalEpisodes ?? 10;
  let evaluation: EnvEvaluation | null = null;
  if (episodes > 0 && meta.envId && envIds().includes(meta.envId)) {
    evaluation = evaluateInEnv(result.policy, getEnv(meta.envId), episodes, opts.evalSeed ?? 0);
  }
  return { ...result, dataset: version.ref, evaluation };
}
