/**
 * The discrete-action learners by name, for `offpolicy train <algo>` on a
 * dataset with INTEGER actions (CartPole data, or a bandit log read as one-step
 * episodes, see bandit.ts): bc, iql, riql and rcbc train their discrete
 * variants (learner algo "bc-discrete", ...); td3bc and prdc do not apply,
 * since their actor follows dQ/da, which a discrete action does not have.
 */
import type { TrajectoryArrays } from '../../datasets/load-trajectories.js';
import { OffpolicyError } from '../../core/errors.js';
import type { Learner } from '../learner.js';
import { runUpdates } from '../train-loop.js';
import { DiscreteBcLearner } from './bc.js';
import type { CategoricalMlpPolicy } from './categorical-policy.js';
import { DiscreteIqlLearner, type DiscreteIqlOptions } from './iql.js';
import { DiscreteRcbcLearner, type DiscreteRcbcOptions } from './rcbc.js';

/** `offpolicy train` names that have a discrete variant. */
export const DISCRETE_ALGORITHMS = ['bc', 'iql', 'riql', 'rcbc'] as const;
export type DiscreteAlgorithmName = (typeof DISCRETE_ALGORITHMS)[number];
/** Learners that need continuous actions. */
const CONTINUOUS_ONLY: Readonly<Record<string, string>> = { td3bc: 'TD3+BC', prdc: 'PRDC' };

export type DiscreteTrainOptions = DiscreteIqlOptions & DiscreteRcbcOptions;

/** A discrete-action learner: its policy is a CategoricalMlpPolicy. */
export type DiscreteLearner = Omit<Learner, 'policy'> & { policy(): CategoricalMlpPolicy };

/** True when the dataset's actions are discrete (the discrete learners apply). */
export function hasDiscreteActions(data: TrajectoryArrays): boolean {
  return data.discreteActions !== undefined;
}

/**
 * The discrete algorithm for `name` ("iql" or "iql-discrete" -> "iql");
 * E_ACTION_SHAPE for td3bc / prdc, E_UNKNOWN_ALGO otherwise.
 */
export function checkDiscreteAlgorithm(name: string, numActions?: number): DiscreteAlgorithmName {
  const key = name.trim().toLowerCase().replace(/-discrete$/, '');
  if ((DISCRETE_ALGORITHMS as readonly string[]).includes(key)) return key as DiscreteAlgorithmName;
  const list = DISCRETE_ALGORITHMS.join(', ');
  const label = CONTINUOUS_ONLY[key];
  if (label) {
    const data = numActions === undefined ? 'discrete actions' : `discrete actions (K = ${numActions})`;
    throw new OffpolicyError(
      'E_ACTION_SHAPE',
      `${label} does not apply to ${data}: its actor follows the gradient of Q with respect to a continuous action, and its constraint measures distances between actions. The discrete-action learners are ${list}.`,
      { hint: `Train one of ${list} on this dataset (e.g. offpolicy train iql), or ${key} on a dataset with FLOAT[] actions.` },
    );
  }
  throw new OffpolicyError('E_UNKNOWN_ALGO', `Unknown algorithm "${name}". The discrete-action learners are ${list}.`, {
    hint: 'Pick one of those names (e.g. offpolicy train iql ...).',
  });
}

/**
 * Builds the discrete learner for `algo` on `data` (which must have discrete
 * actions: E_ACTION_SHAPE otherwise). The learners train and their policies
 * predict on the wasm kernels (src/nn/wasm-mlp.ts).
 */
export function createDiscreteLearner(algo: string, data: TrajectoryArrays, opts: DiscreteTrainOptions): DiscreteLearner {
  const name = checkDiscreteAlgorithm(algo, data.discreteActions);
  switch (name) {
    case 'bc':
      return new DiscreteBcLearner(data, opts);
    case 'iql':
    case 'riql':
      return new DiscreteIqlLearner(data, opts, name);
    case 'rcbc':
      return new DiscreteRcbcLearner(data, opts);
  }
}

/** Trains the discrete `algo` on `data` for `opts.steps` updates. */
export async function trainDiscrete(
  algo: string,
  data: TrajectoryArrays,
  opts: DiscreteTrainOptions,
): Promise<{ algo: DiscreteAlgorithmName; policy: CategoricalMlpPolicy; losses: Record<string, number>; learner: DiscreteLearner }> {
  const name = checkDiscreteAlgorithm(algo, data.discreteActions);
  const r = runUpdates(createDiscreteLearner(name, data, opts), {} as Record<string, number>, opts);
  return { algo: name, policy: r.policy, losses: r.losses, learner: r.learner };
}
