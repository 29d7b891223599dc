/**
 * Return-conditioned behaviour cloning (RvS / Decision-Transformer family, an
 * MLP form as in Emmons et al. 2022 "RvS"): pi(a | s, g) with g the scaled
 * undiscounted return-to-go of the step, fit by regression on dataset actions.
 * At evaluation the policy conditions on a target return (default: the best
 * episode return in the data) and subtracts rewards as they arrive.
 * Known failure: stochastic environments (Dichotomy of Control, 2022).
 */
import type { TrajectoryArrays } from '../datasets/load-trajectories.js';
import { OffpolicyError } from '../core/errors.js';
import { Rng } from '../util/rng.js';
import { Actor, actionScale } from './actor.js';
import { checkFiniteLoss, checkPositive, checkSteps, type CommonTrainOptions } from './config.js';
import { computeNormStats, identityStats, type NormStats } from '../nn/normalization.js';
import { MlpPolicy } from './policy.js';
import { buildTransitions, sampleBatch, type Batch, type TransitionSet } from './transitions.js';
import { runUpdates } from './train-loop.js';
import { actorLearnerState, restoreActorLearner, type LearnerState } from './learner.js';

export interface RcbcOptions extends CommonTrainOptions {
  /** Return to condition on at evaluation (default: the best episode return in the data). */
  targetReturn?: number;
  /** Multiplier of the return-to-go input (default: 1 / the largest |episode return|). */
  returnScale?: number;
}

/** Undiscounted return-to-go of every row (rows in episode / step order): sum of rewards from the row to its episode's end. */
export function returnsToGo(rewards: ArrayLike<number>, episodeId: ArrayLike<number>): Float64Array {
  const n = rewards.length;
  const out = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    const sameEpisodeNext = i + 1 < n && episodeId[i + 1] === episodeId[i];
    out[i] = rewards[i]! + (sameEpisodeNext ? out[i + 1]! : 0);
  }
  return out;
}

/** The actor's training input for a batch: each row's normalized observation with its scaled return-to-go appended (B x (d + 1)). */
export function returnConditionedInput(b: Batch, d: number, rtg: Float64Array, returnScale: number): Float32Array {
  const B = b.size;
  const x = new Float32Array(B * (d + 1));
  for (let i = 0; i < B; i++) {
    x.set(b.obs.subarray(i * d, (i + 1) * d), i * (d + 1));
    x[i * (d + 1) + d] = rtg[b.rows[i]!]! * returnScale;
  }
  return x;
}

export class RcbcLearner {
  readonly stats: NormStats;
  readonly transitions: TransitionSet;
  readonly actor: Actor;
  readonly rtg: Float64Array;
  readonly targetReturn: number;
  readonly returnScale: number;
  readonly batchSize: number;
  private readonly rng: Rng;
  step = 0;
  readonly algo = 'rcbc';

  constructor(data: TrajectoryArrays, readonly opts: RcbcOptions) {
    checkSteps(opts.steps);
    this.batchSize = opts.batchSize ?? 256;
    checkPositive('batchSize', this.batchSize);
    const lr = opts.lr ?? 3e-4;
    checkPositive('lr', lr);
    const d = data.obsDim;
    this.stats = (opts.normalize ?? true) ? computeNormStats([data.observations], d) : identityStats(d);
    this.transitions = buildTransitions(data, this.stats, { needNext: false, algo: 'rcbc', expectedActDim: opts.expectedActDim });
    this.rtg = returnsToGo(data.rewards, data.episodeId);
    let best = -Infinity;
    let maxAbs = 0;
    for (let i = 0; i < data.n; i++) {
      if (data.step[i] === 0 || i === 0 || data.episodeId[i] !== data.episodeId[i - 1]) {
        best = Math.max(best, this.rtg[i]!);
        maxAbs = Math.max(maxAbs, Math.abs(this.rtg[i]!));
      }
    }
    this.targetReturn = opts.targetReturn ?? best;
    this.returnScale = opts.returnScale ?? (maxAbs > 0 ? 1 / maxAbs : 1);
    if (!Number.isFinite(this.targetReturn) || !(this.returnScale > 0)) {
      throw new OffpolicyError('E_TRAIN_PARAM', `targetReturn must be finite and returnScale positive (got ${this.targetReturn}, ${this.returnScale}).`, {
        hint: 'Leave them at their defaults (best episode return, 1 / largest |return|) or pass valid numbers.',
      });
    }
    const rng = new Rng(`rcbc:${opts.seed}`);
    const m = data.actDim;
    this.actor = new Actor(d + 1, m, opts.hidden ?? [256, 256], opts.actor ?? 'deterministic', actionScale(this.transitions.actions, m, opts.maxAction), lr, rng.fork('actor'));
    this.rng = rng.fork('batches');
  }

  /** Checkpoint (learner.ts): the actor (weights, log-std, optimizers) and the batch rng. */
  getState(): LearnerState {
    return actorLearnerState(this.algo, this.step, { ...this.opts, batchSize: this.batchSize, targetReturn: this.targetReturn, returnScale: this.returnScale }, this.actor, this.rng);
  }

  setState(s: LearnerState): void {
    this.step = restoreActorLearner(s, this.algo, { ...this.opts, batchSize: this.batchSize, targetReturn: this.targetReturn, returnScale: this.returnScale }, this.actor, this.rng);
  }

  update(): { actor: number } {
    const B = this.batchSize;
    const d = this.transitions.obsDim;
    const b = sampleBatch(this.transitions, B, this.rng);
    const x = returnConditionedInput(b, d, this.rtg, this.returnScale);
    const loss = this.actor.step(x, b.actions, undefined, this.actor.adam.lr);
    this.step++;
    checkFiniteLoss({ actor: loss }, this.step);
    return { actor: loss };
  }

  policy(targetReturn = this.targetReturn): MlpPolicy {
    return new MlpPolicy({
      algo: 'rcbc',
      kind: this.actor.kind,
      spec: this.actor.spec,
      params: this.actor.params,
      maxAction: this.actor.maxAction,
      logStd: this.actor.logStd,
      obsMean: this.stats.mean,
      obsStd: this.stats.std,
      returnConditioning: { targetReturn, scale: this.returnScale },
      training: { algo: 'rcbc', steps: this.step, seed: this.opts.seed, batchSize: this.batchSize },
    });
  }
}

export async function trainRcbc(data: TrajectoryArrays, opts: RcbcOptions): Promise<{ policy: MlpPolicy; losses: { actor: number }; learner: RcbcLearner }> {
  return runUpdates(new RcbcLearner(data, opts), { actor: NaN }, opts);
}
