/**
 * Entry points by algorithm name (what `offpolicy train <algo>` calls):
 * `createLearner` builds a learner implementing the contract of learner.ts,
 * `trainOffline` runs it for `opts.steps` updates.
 */
import { OffpolicyError } from '../core/errors.js';
import type { TrajectoryArrays } from '../datasets/load-trajectories.js';
import { BcLearner, type BcOptions } from './bc.js';
import { createDiscreteLearner, hasDiscreteActions } from './discrete/learners.js';
import { IqlLearner, RIQL_DEFAULTS, type IqlOptions, type RobustIqlOptions } from './iql.js';
import type { Learner } from './learner.js';
import type { MlpPolicy } from './policy.js';
import { RcbcLearner, type RcbcOptions } from './rcbc.js';
import { Td3BcLearner, type PrdcOptions } from './td3bc.js';
import { runUpdates } from './train-loop.js';

/** Learners implemented so far. */
export const ALGORITHMS = ['iql', 'riql', 'td3bc', 'prdc', 'rcbc', 'bc'] as const;
export type AlgorithmName = (typeof ALGORITHMS)[number];

export function checkAlgorithm(name: string): AlgorithmName {
  const key = name.trim().toLowerCase();
  if ((ALGORITHMS as readonly string[]).includes(key)) return key as AlgorithmName;
  throw new OffpolicyError('E_UNKNOWN_ALGO', `Unknown algorithm "${name}". Known algorithms: ${ALGORITHMS.join(', ')}.`, {
    hint: 'Pick one of those names (e.g. offpolicy train iql ...).',
  });
}

export type TrainOptions = IqlOptions & RobustIqlOptions & BcOptions & PrdcOptions & RcbcOptions;

export interface TrainResult {
  algo: AlgorithmName;
  policy: MlpPolicy;
  losses: Record<string, number>;
}

/** Which learners read each algorithm-specific option (options shared by all learners are not listed). */
export const OPTION_ALGOS: Readonly<Record<string, readonly AlgorithmName[]>> = {
  gamma: ['iql', 'riql', 'td3bc', 'prdc'],
  tau: ['iql', 'riql', 'td3bc', 'prdc'],
  rewardScale: ['iql', 'riql', 'td3bc', 'prdc'],
  rewardShift: ['iql', 'riql', 'td3bc', 'prdc'],
  expectile: ['iql', 'riql'],
  beta: ['iql', 'riql'],
  actorLr: ['iql', 'riql'],
  ensembleSize: ['iql', 'riql'],
  quantile: ['iql', 'riql'],
  huberDelta: ['iql', 'riql'],
  tdClip: ['iql', 'riql'],
  normalizeWithNext: ['iql', 'riql'],
  alpha: ['td3bc', 'prdc'],
  policyNoise: ['td3bc', 'prdc'],
  noiseClip: ['td3bc', 'prdc'],
  policyFreq: ['td3bc', 'prdc'],
  prdcBeta: ['prdc'],
  actor: ['iql', 'riql', 'bc', 'rcbc'],
  targetReturn: ['rcbc'],
  returnScale: ['rcbc'],
};

const kebab = (k: string): string => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Refuses an option the chosen learner would ignore (E_TRAIN_PARAM naming the learners that read it). */
export function checkOptionsForAlgo(algo: AlgorithmName, opts: object): void {
  for (const [k, v] of Object.entries(opts)) {
    const algos = OPTION_ALGOS[k];
    if (v === undefined || !algos || algos.includes(algo)) continue;
    throw new OffpolicyError('E_TRAIN_PARAM', `--${kebab(k)} does not apply to ${algo}: it is an option of ${algos.join(', ')}.`, {
      hint: `Drop --${kebab(k)}, or train one of ${algos.join(', ')}.`,
    });
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A continuous-action learner: its policy is an MlpPolicy. */
export type ContinuousLearner = Learner & { policy(): MlpPolicy };

/**
 * Builds the learner for `algo` (E_UNKNOWN_ALGO for other names): the
 * continuous learner, or its discrete variant when the data has discrete
 * actions (td3bc / prdc have none: E_ACTION_SHAPE).
 */
export function createLearner(algo: string, data: TrajectoryArrays, opts: TrainOptions): Learner {
  // Discrete actions (CartPole, bandit logs read as one-step episodes): the discrete variants (discrete/learners.ts).
  if (hasDiscreteActions(data)) return createDiscreteLearner(algo, data, opts);
  return createContinuousLearner(algo, data, opts);
}

/** The continuous-action learners (IQL, RIQL, TD3+BC, PRDC, RCBC, BC). */
export function createContinuousLearner(algo: string, data: TrajectoryArrays, opts: TrainOptions): ContinuousLearner {
  const name = checkAlgorithm(algo);
  switch (name) {
    case 'iql':
      return new IqlLearner(data, opts, 'iql');
    case 'riql':
      return new IqlLearner(data, { ...RIQL_DEFAULTS, ...definedOnly(opts), steps: opts.steps, seed: opts.seed }, 'riql');
    case 'td3bc':
    case 'prdc':
      return new Td3BcLearner(data, opts, name);
    case 'rcbc':
      return new RcbcLearner(data, opts);
    case 'bc':
      return new BcLearner(data, opts);
  }
}

/** Trains `algo` on trajectory arrays for `opts.steps` updates. */
export async function trainOffline(algo: string, data: TrajectoryArrays, opts: TrainOptions): Promise<TrainResult> {
  const name = checkAlgorithm(algo);
  const r = runUpdates(createContinuousLearner(name, data, opts), {} as Record<string, number>, opts);
  return { algo: name, policy: r.policy, losses: r.losses };
}
