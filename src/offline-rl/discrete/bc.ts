/**
 * Discrete behaviour cloning: a categorical actor fit by softmax cross-entropy
 * on dataset actions (the discrete form of CORL's any_percent_bc: MLP 2 x 256,
 * Adam 3e-4, batch 256, observation normalization).
 */
import type { TrajectoryArrays } from '../../datasets/load-trajectories.js';
import { Rng } from '../../util/rng.js';
import { checkFiniteLoss, checkPositive, checkSteps } from '../config.js';
import { computeNormStats, identityStats, type NormStats } from '../../nn/normalization.js';
import { actorLearnerState, restoreActorLearner, type LearnerState } from '../learner.js';
import { runUpdates } from '../train-loop.js';
import { sampleBatch } from '../transitions.js';
import { CategoricalActor } from './categorical-actor.js';
import type { CategoricalMlpPolicy } from './categorical-policy.js';
import { checkDiscreteOptions, discreteConfig, type DiscreteCommonOptions } from './config.js';
import { batchActionIndices, buildDiscreteTransitions, type DiscreteTransitionSet } from './transitions.js';

export type DiscreteBcOptions = DiscreteCommonOptions;

export const DISCRETE_BC_DEFAULTS = {
  batchSize: 256,
  hidden: [256, 256] as readonly number[],
  lr: 3e-4,
  normalize: true,
};

export class DiscreteBcLearner {
  readonly algo = 'bc-discrete';
  readonly stats: NormStats;
  readonly transitions: DiscreteTransitionSet;
  readonly actor: CategoricalActor;
  readonly batchSize: number;
  private readonly rng: Rng;
  step = 0;

  constructor(data: TrajectoryArrays, readonly opts: DiscreteBcOptions) {
    checkSteps(opts.steps);
    checkDiscreteOptions(opts, 'bc');
    this.batchSize = opts.batchSize ?? DISCRETE_BC_DEFAULTS.batchSize;
    checkPositive('batchSize', this.batchSize);
    const lr = opts.lr ?? DISCRETE_BC_DEFAULTS.lr;
    checkPositive('lr', lr);
    const d = data.obsDim;
    this.stats = (opts.normalize ?? DISCRETE_BC_DEFAULTS.normalize) ? computeNormStats([data.observations], d) : identityStats(d);
    this.transitions = buildDiscreteTransitions(data, this.stats, { needNext: false, algo: 'bc' });
    const rng = new Rng(`${this.algo}:${opts.seed}`);
    this.actor = new CategoricalActor(d, this.transitions.numActions, opts.hidden ?? DISCRETE_BC_DEFAULTS.hidden, lr, rng.fork('actor'));
    this.rng = rng.fork('batches');
  }

  private config(): object {
    return { ...discreteConfig(this.opts), batchSize: this.batchSize };
  }

  update(): { actor: number } {
    const B = this.batchSize;
    const b = sampleBatch(this.transitions, B, this.rng);
    const loss = this.actor.step(b.obs, batchActionIndices(b), undefined, this.actor.adam.lr);
    this.step++;
    checkFiniteLoss({ actor: loss }, this.step);
    return { actor: loss };
  }

  policy(): CategoricalMlpPolicy {
    return this.actor.toPolicy(this.algo, this.stats, { algo: this.algo, steps: this.step, seed: this.opts.seed, batchSize: this.batchSize });
  }

  /** Checkpoint (learner.ts): the actor (weights, optimizer) and the batch rng. */
  getState(): LearnerState {
    return actorLearnerState(this.algo, this.step, this.config(), this.actor, this.rng);
  }

  setState(s: LearnerState): void {
    this.step = restoreActorLearner(s, this.algo, this.config(), this.actor, this.rng);
  }
}

export async function trainDiscreteBc(data: TrajectoryArrays, opts: DiscreteBcOptions): Promise<{ policy: CategoricalMlpPolicy; losses: { actor: number }; learner: DiscreteBcLearner }> {
  return runUpdates(new DiscreteBcLearner(data, opts), { actor: NaN }, opts);
}
