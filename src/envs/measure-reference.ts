/**
 * How the reference returns in reference-scores.ts are measured: the mean
 * undiscounted return of the random and expert behaviour policies over 200
 * episodes, seeds 1000 (random) and 2000 (expert).
 */
import { generateTrajectories } from './trajectories.js';
import type { BehaviorPolicyName } from './behavior-policies.js';
import type { ReferenceScores } from './reference-scores.js';
import type { Env } from './types.js';

export const REFERENCE_EPISODES = 200;
export const REFERENCE_SEEDS: Readonly<Record<BehaviorPolicyName, number>> = { random: 1000, expert: 2000, medium: 3000, 'medium-replay': 4000 };

/** Mean undiscounted return of `policy` over `episodes` seeded episodes. */
export function meanReturn(env: Env | string, policy: BehaviorPolicyName, episodes = REFERENCE_EPISODES, seed = REFERENCE_SEEDS[policy]): number {
  const d = generateTrajectories({ env, policy, episodes, seed });
  return d.episodeReturns.reduce((a, b) => a + b, 0) / d.episodes;
}

export function measureReferenceScores(env: Env | string, episodes = REFERENCE_EPISODES): ReferenceScores {
  return { min: meanReturn(env, 'random', episodes), max: meanReturn(env, 'expert', episodes) };
}
