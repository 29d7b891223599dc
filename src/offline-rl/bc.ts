/**
 * Behaviour cloning: the actor regressed on dataset actions (squared error for
 * a deterministic actor, Gaussian negative log-likelihood otherwise), as CORL's
 * any_percent_bc (MLP 2 x 256, tanh output scaled to the action bound, Adam 3e-4).
 */
import type { TrajectoryArrays } from '../datasets/load-trajectories.js';
import { Rng } from '../util/rng.js';
import { Actor, actionScale } from './actor.js';
import { checkFiniteLoss, checkPositive, checkSteps, type CommonTrainOptions } from './config.js';
import { computeNormStats, identityStats, type NormStats } from '../nn/normalization.js';
import type { MlpPolicy } from './policy.js';
import { buildTransitions, sampleBatch, type TransitionSet } from './transitions.js';
import { runUpdates } from './train-loop.js';
import { actorLearnerState, restoreActorLearner, type LearnerState } from './learner.js';

export type BcOptions = CommonTrainOptions;

export const BC_DEFAULTS = {
  batchSize: 256,
  hidden: [256, 256] as readonly number[],
  lr: 3e-4,
  normalize: true,
  actor: 'deterministic' as const,
};

export class BcLearner {
  readonly stats: NormStats;
  readonly transitions: TransitionSet;
  readonly actor: Actor;
  readonly batchSize: number;
  private readonly rng: Rng;
  step = 0;
  readonly algo = 'bc';

  constructor(data: TrajectoryArrays, readonly opts: BcOptions) {
    checkSteps(opts.steps);
    this.batchSize = opts.batchSize ?? BC_DEFAULTS.batchSize;
    checkPositive('batchSize', this.batchSize);
    const lr = opts.lr ?? BC_DEFAULTS.lr;
    checkPositive('lr', lr);
    const d = data.obsDim;
    this.stats = (opts.normalize ?? BC_DEFAULTS.normalize) ? computeNormStats([data.observations], d) : identityStats(d);
    this.transitions = buildTransitions(data, this.stats, { needNext: false, algo: 'bc', expectedActDim: opts.expectedActDim });
    const rng = new Rng(`bc:${opts.seed}`);
    const m = data.actDim;
    this.actor = new Actor(d, m, opts.hidden ?? BC_DEFAULTS.hidden, opts.actor ?? BC_DEFAULTS.actor, actionScale(this.transitions.actions, m, opts.maxAction), lr, rng.fork('actor'));
    this.rng = rng.fork('batches');
  }

  /** Checkpoint (learner.ts): the actor (weights, log-std, optimizers) and the batch rng. */
  getState(): LearnerState {
    return actorLearnerState(this.algo, this.step, { ...this.opts, batchSize: this.batchSize }, this.actor, this.rng);
  }

  setState(s: LearnerState): void {
    this.step = restoreActorLearner(s, this.algo, { ...this.opts, batchSize: this.batchSize }, this.actor, this.rng);
  }

  update(): { actor: number } {
    const B = this.batchSize;
    const b = sampleBatch(this.transitions, B, this.rng);
    const loss = this.actor.step(b.obs, b.actions, undefined, this.actor.adam.lr);
    this.step++;
    checkFiniteLoss({ actor: loss }, this.step);
    return { actor: loss };
  }

  policy(): MlpPolicy {
    return this.actor.toPolicy('bc', this.stats, { algo: 'bc', steps: this.step, seed: this.opts.seed, batchSize: this.batchSize });
  }
}

export async function trainBc(data: TrajectoryArrays, opts: BcOptions): Promise<{ policy: MlpPolicy; losses: { actor: number }; learner: BcLearner }> {
  return runUpdates(new BcLearner(data, opts), { actor: NaN }, opts);
}
