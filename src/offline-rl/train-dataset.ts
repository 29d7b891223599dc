/**
 * Trains a learner on a stored trajectory dataset (what `offpolicy train` will
 * call): resolves the version, loads its typed arrays, takes the action bound
 * and width from the dataset's action space, trains, and, when the dataset
 * names a built-in environment, scores the policy by rollouts there.
 */
import { openMemoryConnection } from '../datasets/duckdb.js';
import { loadTrajectoryArrays } from '../datasets/load-trajectories.js';
import type { Workspace } from '../datasets/workspace.js';
import { envIds, getEnv } from '../envs/registry.js';
import { evaluateInEnv, type EnvEvaluation } from './evaluate-env.js';
import { checkAlgorithm, trainOffline, type TrainOptions, type TrainResult } from './train.js';

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

export async function trainOnDataset(ws: Workspace, ref: string, algo: string, opts: DatasetTrainOptions): Promise<DatasetTrainResult> {
  checkAlgorithm(algo);
  const version = await ws.resolve(ref);
  const conn = await openMemoryConnection();
  let data;
  try {
    data = await loadTrajectoryArrays(conn, version, opts.where ? { where: opts.where } : {});
  } finally {
    conn.closeSync();
  }
  const meta = version.metadata;
  const space = meta.actionSpace;
  const opt: TrainOptions = { ...opts };
  if (space?.type === 'box') {
    opt.expectedActDim ??= space.shape.reduce((a, b) => a * b, 1);
    const high = space.high;
    const low = space.low;
    if (opt.maxAction === undefined && high && low && high.every((h, j) => Number.isFinite(h) && Math.abs(h) < 1e30 && Number.isFinite(low[j]!))) {
      opt.maxAction = high.map((h, j) => Math.max(Math.abs(h), Math.abs(low[j]!)));
    }
  }
  const result = await trainOffline(algo, data, opt);
  if (result.policy.training) Object.assign(result.policy.training, { dataset: version.ref, datasetHash: meta.contentHash });
  const episodes = opts.evalEpisodes ?? 10;
  let evaluation: EnvEvaluation | null = null;
  if (episodes > 0 && meta.envId && envIds().includes(meta.envId)) {
    evaluation = evaluateInEnv(result.policy, getEnv(meta.envId), episodes, opts.evalSeed ?? 0);
  }
  return { ...result, dataset: version.ref, evaluation };
}
