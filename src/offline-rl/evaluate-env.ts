/**
 * Scores a trained policy by rollouts in a built-in environment: mean and std
 * of the undiscounted return and the D4RL-style normalized score
 * (100 * (R - ref_min) / (ref_max - ref_min)) when the env has reference
 * scores. The policy acts deterministically (mean action, or argmax for a
 * discrete policy); see rollout.ts for stochastic rollouts and data collection.
 */
import type { Env } from '../envs/types.js';
import { rolloutPolicy, type EnvEvaluation, type RolloutPolicy } from './rollout.js';

export function evaluateInEnv(policy: RolloutPolicy, env: Env | string, episodes: number, seed: number): EnvEvaluation {
  const r = rolloutPolicy(policy, env, { episodes, seed });
  return { envId: r.envId, returns: r.returns, meanReturn: r.meanReturn, stdReturn: r.stdReturn, normalizedScore: r.normalizedScore };
}
