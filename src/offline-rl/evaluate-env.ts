/**
 * Scores a continuous policy by rollouts in a built-in environment: mean and
 * std of the undiscounted return and the D4RL-style normalized score
 * (100 * (R - ref_min) / (ref_max - ref_min)) when the env has reference scores.
 */
import { normalizedScore } from '../datasets/metadata.js';
import { referenceScores } from '../envs/reference-scores.js';
import { getEnv } from '../envs/registry.js';
import type { Env } from '../envs/types.js';
import { OffpolicyError } from '../errors.js';
import type { ContinuousPolicy } from '../ope/types.js';
import { Rng } from '../util/rng.js';

export interface EnvEvaluation {
  envId: string;
  returns: Float64Array;
  meanReturn: number;
  stdReturn: number;
  /** null when the env has no reference scores. */
  normalizedScore: number | null;
}

/** Optional hooks of policies with per-episode state (return-conditioned actors). */
export interface EpisodicHooks {
  reset?(): void;
  observeReward?(reward: number): void;
}

export function evaluateInEnv(policy: ContinuousPolicy & EpisodicHooks, env: Env | string, episodes: number, seed: number): EnvEvaluation {
  const e = typeof env === 'string' ? getEnv(env) : env;
  if (e.actionSpace.type !== 'box') {
    throw new OffpolicyError('E_ACTION_SHAPE', `${e.id} has discrete actions; this policy outputs ${policy.actionDim}-dimensional continuous actions.`, {
      hint: 'Evaluate it in a continuous-action environment (Pendulum-v1, MountainCarContinuous-v0, PointMaze-U-v0).',
    });
  }
  const space = e.actionSpace;
  const m = space.shape.reduce((a, b) => a * b, 1);
  if (m !== policy.actionDim) {
    throw new OffpolicyError('E_ACTION_SHAPE', `${e.id} takes ${m}-dimensional actions but the policy outputs ${policy.actionDim}.`, {
      hint: 'Evaluate the policy in the environment its training data came from.',
    });
  }
  const rng = new Rng(`evaluate:${seed}`);
  const returns = new Float64Array(episodes);
  for (let ep = 0; ep < episodes; ep++) {
    let { state, observation } = e.reset(rng);
    policy.reset?.();
    let total = 0;
    for (;;) {
      const a = policy.act(Float32Array.from(observation), 1);
      const act = new Float64Array(m);
      for (let j = 0; j < m; j++) act[j] = Math.min(space.high?.[j] ?? Infinity, Math.max(space.low?.[j] ?? -Infinity, a[j]!));
      const r = e.step(state, act);
      total += r.reward;
      policy.observeReward?.(r.reward);
      state = r.state;
      observation = r.observation;
      if (r.terminated || r.truncated) break;
    }
    returns[ep] = total;
  }
  let mean = 0;
  for (const r of returns) mean += r / episodes;
  let v = 0;
  for (const r of returns) v += (r - mean) ** 2 / episodes;
  const ref = referenceScores(e.id);
  return { envId: e.id, returns, meanReturn: mean, stdReturn: Math.sqrt(v), normalizedScore: ref ? normalizedScore(mean, ref.min, ref.max) : null };
}
