/**
 * Discrete return-conditioned behaviour cloning (the RvS MLP form of ../rcbc.ts
 * with a categorical actor): pi(a | s, g) over K actions, g the scaled
 * undiscounted return-to-go, fit by cross-entropy on dataset actions. At
 * evaluation the policy conditions on a target return (default: the best
 * episode return in the data) and subtracts rewards as they arrive.
 */
import type { TrajectoryArrays } from '../../datasets/load-trajectories.js';
import { OffpolicyError } from '../../core/errors.js';
import { Rng } from '../../util/rng.js';
import { checkFiniteLoss, checkPositive, checkSteps } from '../config.js';
import { computeNormStats, identityStats, type NormStats } from '../../nn/normalization.js';
import { actorLearnerState, restoreActorLearner, type LearnerState } from '../learner.js';
import { returnConditionedInput, returnsToGo, type RcbcOptions } from '../rcbc.js';
import { runUpdates } from '../train-loop.js';
import { sampleBatch } from '../transitions.js';
import { CategoricalActor } from './categorical-actor.js';
import type { CategoricalMlpPolicy } from './categorical-policy.js';
import { checkDiscreteOptions, discreteConfig, type DiscreteCommonOptions } from './config.js';
import { batchActionIndices, buildDiscreteTransitions, type DiscreteTransitionSet } from './transitions.js';

export type DiscreteRcbcOptions = DiscreteCommonOptions & Pick<RcbcOptions, 'targetReturn' | 'returnScale'>;

export class DiscreteRcbcLearner {
  readonly algo = 'rcbc-discrete';
  readonly stats: NormStats;
  readonly transitions: DiscreteTransitionSet;
  readonly actor: CategoricalActor;
  readonly rtg: Float64Array;
  readonly targetReturn: number;
  readonly returnScale: number;
  readonly batchSize: number;
  private readonly rng: Rng;
  step = 0;

  constructor(data: TrajectoryArrays, readonly opts: DiscreteRcbcOptions) {
    checkSteps(opts.steps);
    checkDiscreteOptions(opts, 'rcbc');
    this.batchSize = opts.batchSize ?? 256;
    checkPositive('batchSize', this.batchSize);
    const lr = opts.lr ?? 3e-4;
    checkPositive('lr', lr);
    const d = data.obsDim;
    this.stats = (opts.normalize ?? true) ? computeNormStats([data.observations], d) : identityStats(d);
    this.transitions = buildDiscreteTransitions(data, this.stats, { needNext: false, algo: 'rcbc' });
    this.rtg = returnsToGo(data.rewards, data.episodeId);
    let best = -Infinity;
    let maxAbs = 0;
    for (let i = 0; i < data.n; i++) {
      if (i === 0 || data.episodeId[i] !== data.episodeId[i - 1]) {
        best = Math.max(best, this.rtg[i]!);
        maxAbs = Math.max(maxAbs, Math.abs(this.rtg[i]!));
      }
    }
    this.targetReturn = opts.targetReturn ?? best;
    this.returnScale = opts.returnScale ?? (maxAbs > 0 ? 1 / maxAbs : 1);
    if (!Number.isFinite(this.targetReturn) || !(this.returnScale > 0) || !Number.isFinite(this.returnScale)) {
      throw new OffpolicyError('E_TRAIN_PARAM', `targetReturn must be finite and returnScale positive (got ${this.targetReturn}, ${this.returnScale}).`, {
        hint: 'Leave them at their defaults (best episode return, 1 / largest |return|) or pass valid numbers.',
      });
    }
    const rng = new Rng(`${this.algo}:${opts.seed}`);
    this.actor = new CategoricalActor(d + 1, this.transitions.numActions, opts.hidden ?? [256, 256], lr, rng.fork('actor'));
    this.rng = rng.fork('batches');
  }

  private config(): object {
    return { ...discreteConfig(this.opts), batchSize: this.batchSize, targetReturn: this.targetReturn, returnScale: this.returnScale };
  }

  update(): { actor: number } {
    const B = this.batchSize;
    const d = this.transitions.obsDim;
    const b = sampleBatch(this.transitions, B, this.rng);
    const x = returnConditionedInput(b, d, this.rtg, this.returnScale);
    const loss = this.actor.step(x, batchActionIndices(b), undefined, this.actor.adam.lr);
    this.step++;
    checkFiniteLoss({ actor: loss }, this.step);
    return { actor: loss };
  }

  /** The policy, conditioned on `targetReturn` (default: the learner's). */
  policy(targetReturn = this.targetReturn): CategoricalMlpPolicy {
    return this.actor.toPolicy(
      this.algo,
      this.stats,
      { algo: this.algo, steps: this.step, seed: this.opts.seed, batchSize: this.batchSize },
      { targetReturn, scale: this.returnScale },
    );
  }

  /** Checkpoint (learner.ts): the actor (weights, optimizer) and the batch rng. */
  getState(): LearnerState {
    return actorLearnerState(this.algo, this.step, this.config(), this.actor, this.rng);
  }

  setState(s: LearnerState): void {
    this.step = restoreActorLearner(s, this.algo, this.config(), this.actor, this.rng);
  }
}

export async function trainDiscreteRcbc(data: TrajectoryArrays, opts: DiscreteRcbcOptions): Promise<{ policy: CategoricalMlpPolicy; losses: { actor: number }; learner: DiscreteRcbcLearner }> {
  return runUpdates(new DiscreteRcbcLearner(data, opts), { actor: NaN }, opts);
}
