/**
 * The offline scorer of training checkpoints (src/core/offline-scorer.ts): fitted
 * Q evaluation of the checkpoint's policy on the training data, reporting the
 * initial-state value and the held-out TD error (10% of the episodes). The data
 * is loaded on the first call, so a scorer that is never called costs nothing.
 * Defaults are smaller than evaluation's FQE (2,000 updates, 2 x 64): a learning
 * curve needs the trend, not the last digit.
 */
import type { OfflinePolicyScorer } from '../../core/offline-scorer.js';
import { openMemoryConnection } from '../../datasets/duckdb.js';
import { loadTrajectoryArrays, type TrajectoryArrays } from '../../datasets/load-trajectories.js';
import type { DatasetVersion, Workspace } from '../../datasets/workspace.js';
import { policyCandidate } from './candidates.js';
import { checkGamma, DEFAULT_GAMMA } from './data.js';
import { fitCandidateFqe, type FqeSettings } from './fqe-q.js';

export const CHECKPOINT_FQE_DEFAULTS = { steps: 2000, hidden: [64, 64] } as const;

export interface CheckpointScorerOptions {
  where?: string;
  gamma?: number;
  seed?: number;
  fqe?: Partial<Omit<FqeSettings, 'seed'>>;
}

export function fqeCheckpointScorer(ws: Workspace, data: string, opts: CheckpointScorerOptions = {}): OfflinePolicyScorer {
  const gamma = checkGamma(opts.gamma ?? DEFAULT_GAMMA);
  let loaded: Promise<{ a: TrajectoryArrays; version: DatasetVersion }> | null = null;
  const load = async (): Promise<{ a: TrajectoryArrays; version: DatasetVersion }> => {
    const version = await ws.resolve(data);
    const conn = await openMemoryConnection();
    try {
      return { a: await loadTrajectoryArrays(conn, version, opts.where ? { where: opts.where } : {}), version };
    } finally {
      conn.closeSync();
    }
  };
  return {
    name: 'fqe',
    async score(policy) {
      loaded ??= load();
      const { a, version } = await loaded;
      const cand = policyCandidate(policy, 'checkpoint', 'training checkpoint', { steps: a, ...(version.metadata.actionSpace ? { actionSpace: version.metadata.actionSpace } : {}) });
      const { summary } = fitCandidateFqe(cand, a, gamma, { seed: opts.seed ?? 0, ...CHECKPOINT_FQE_DEFAULTS, ...opts.fqe });
      const last = summary.curve[summary.curve.length - 1];
      return { initialValue: last?.initialValue ?? NaN, tdError: summary.heldOutTdError };
    },
  };
}
