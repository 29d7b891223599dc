/**
 * Scoring a trained policy without a simulator, e.g. by fitted Q evaluation on
 * the training data: the estimated value of the initial states and the held-out
 * TD error. Training (offline-rl) calls it at its checkpoints to draw a learning
 * curve when no environment can roll the policy out; the implementation lives in
 * ope (src/ope/trajectory/checkpoint-scorer.ts) and is injected by the entry
 * point (CLI or library caller), so offline-rl never imports ope.
 */
import type { ContinuousPolicy, Policy } from './contracts.js';

export interface OfflineScore {
  /** Estimated mean value of the initial states under the policy. */
  initialValue: number;
  /** Held-out TD error of the fit (mean squared), null when nothing was held out. */
  tdError: number | null;
}

export interface OfflinePolicyScorer {
  /** What the score is, e.g. "fqe". */
  readonly name: string;
  score(policy: Policy | ContinuousPolicy): Promise<OfflineScore>;
}
