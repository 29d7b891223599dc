/**
 * Entry point by algorithm name (what `offpolicy train <algo>` will call).
 */
import { OffpolicyError } from '../errors.js';
import type { TrajectoryArrays } from '../datasets/load-trajectories.js';
import { trainBc, type BcOptions } from './bc.js';
import { trainIql, trainRiql, type IqlOptions, type RobustIqlOptions } from './iql.js';
import type { MlpPolicy } from './policy.js';
import { trainRcbc, type RcbcOptions } from './rcbc.js';
import { trainPrdc, trainTd3Bc, type PrdcOptions } from './td3bc.js';

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

/** Trains `algo` on trajectory arrays. */
export async function trainOffline(algo: string, data: TrajectoryArrays, opts: TrainOptions): Promise<TrainResult> {
  const name = checkAlgorithm(algo);
  const r =
    name === 'iql'
      ? await trainIql(data, opts)
      : name === 'riql'
        ? await trainRiql(data, opts)
        : name === 'td3bc'
          ? await trainTd3Bc(data, opts)
          : name === 'prdc'
            ? await trainPrdc(data, opts)
            : name === 'rcbc'
              ? await trainRcbc(data, opts)
              : await trainBc(data, opts);
  return { algo: name, policy: r.policy, losses: r.losses };
}
