/**
 * Behaviour policies that log the log-probability of every action they take.
 *
 * Box actions (Pendulum, MountainCarContinuous, point maze) use an
 * epsilon-mixture of two exactly-known densities:
 *   with probability epsilon: uniform over the action box;
 *   otherwise: a tanh-squashed Gaussian centred on the scripted controller,
 *     a_j = c_j + h_j tanh(u_j), u_j ~ N(mu_j, sigma^2), where c is the box centre,
 *     h the half-width and mu_j = atanh((m_j - c_j) / h_j) for the controller's
 *     mean action m_j pulled inside the box (|m_j - c_j| <= 0.995 h_j).
 * The squashing keeps every action inside the box with an exact density (no
 * clipping, so no point mass at the bounds):
 *   log p(a) = sum_j [log N(atanh(t_j); mu_j, sigma) - log(h_j (1 - t_j^2))], t_j = (a_j - c_j) / h_j.
 * Each action is rounded to float32 (what the dataset stores) before its
 * log-density is computed, so `behavior_logprob` is the density of the stored
 * value. A squashed draw that float32 rounding would put exactly on the bound
 * (|u| > ~8.7, probability below 1e-7 for the settings here) is redrawn.
 *
 * Discrete actions (CartPole): p(right) = epsilon / 2 + (1 - epsilon) sigmoid(score / temperature),
 * the score coming from the PD controller; log p of the chosen action is logged.
 *
 * The policy acts on the observation as the data set stores it (float32), so
 * behavior_logprob can be recomputed exactly from the stored rows.
 *
 * Policies:
 * - random: uniform over the box (or over the actions);
 * - medium: a large uniform share (epsilon 0.2 to 0.9 per environment, tuned so
 *   medium scores roughly 30-65 normalized) and wide noise around the controller;
 * - expert: no uniform share, small noise (near the controllers' best returns);
 * - medium-replay: a learning agent's replay buffer. The episode starting at
 *   fraction f of the data set uses epsilon = 1 - (1 - medium epsilon) f, going
 *   linearly from 1 (random) to the medium policy's, so quality rises through
 *   the data set. Each step's log-probability is under the policy that acted in
 *   that episode.
 */
import { spaceWidth } from '../datasets/metadata.js';
import { OffpolicyError } from '../core/errors.js';
import type { Rng } from '../util/rng.js';
import { cartPoleScore, mountainCarController, pendulumController, pointMazeController } from './controllers.js';
import type { Env } from './types.js';

export type BehaviorPolicyName = 'random' | 'medium' | 'expert' | 'medium-replay';
export const BEHAVIOR_POLICIES: readonly BehaviorPolicyName[] = ['random', 'medium', 'expert', 'medium-replay'];

export interface PolicyStep {
  /** Box: the action vector (float32 values); discrete: [index]. */
  action: Float64Array;
  logProb: number;
}

/** One fixed stochastic policy (the medium-replay mixture switches between these per episode). */
export interface StepPolicy {
  sample(obs: Float64Array, rng: Rng): PolicyStep;
  /** Log-density (box) or log-probability (discrete) of `action` at `obs`; sample() logs exactly this value. */
  logProb(obs: Float64Array, action: ArrayLike<number>): number;
}

/** Noise settings of one policy quality level. */
export interface NoiseLevel {
  /** Probability of a uniformly random action. */
  epsilon: number;
  /** Box: std of the Gaussian before squashing; discrete: softmax temperature. */
  sigma: number;
}

type Controller = (obs: ArrayLike<number>, out: Float64Array) => void;

interface EnvPolicyConfig {
  controller?: Controller;
  score?: (obs: ArrayLike<number>) => number;
  medium: NoiseLevel;
  expert: NoiseLevel;
}

const CONFIGS: Record<string, EnvPolicyConfig> = {
  'Pendulum-v1': { controller: pendulumController, medium: { epsilon: 0.5, sigma: 1.0 }, expert: { epsilon: 0, sigma: 0.1 } },
  'MountainCarContinuous-v0': {
    controller: mountainCarController,
    medium: { epsilon: 0.9, sigma: 1.0 },
    expert: { epsilon: 0, sigma: 0.1 },
  },
  'CartPole-v1': { score: cartPoleScore, medium: { epsilon: 0.2, sigma: 1.0 }, expert: { epsilon: 0, sigma: 0.02 } },
  'PointMaze-U-v0': { controller: pointMazeController, medium: { epsilon: 0.7, sigma: 1.0 }, expert: { epsilon: 0, sigma: 0.1 } },
};

const LOG_2PI = Math.log(2 * Math.PI);
const MAX_T = 0.995;

function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

function configFor(env: Env): EnvPolicyConfig {
  const cfg = CONFIGS[env.id];
  if (!cfg) {
    throw new OffpolicyError('E_UNKNOWN_ENV', `No behaviour policies are defined for environment "${env.id}".`, {
      hint: `Environments with behaviour policies: ${Object.keys(CONFIGS).join(', ')}.`,
    });
  }
  return cfg;
}

/** Box policy: epsilon-mixture of uniform and a squashed Gaussian around `controller`. */
export function boxPolicy(env: Env, controller: Controller | null, level: NoiseLevel): StepPolicy {
  const space = env.actionSpace;
  if (space.type !== 'box' || !space.low || !space.high) throw new Error(`${env.id}: box policy needs a bounded box action space`);
  const m = spaceWidth(space);
  const center = new Float64Array(m);
  const half = new Float64Array(m);
  let logVolume = 0;
  for (let j = 0; j < m; j++) {
    center[j] = (space.low[j]! + space.high[j]!) / 2;
    half[j] = (space.high[j]! - space.low[j]!) / 2;
    logVolume += Math.log(2 * half[j]!);
  }
  const { epsilon, sigma } = level;
  const logEps = controller ? Math.log(epsilon) : 0;
  const log1mEps = controller ? Math.log1p(-epsilon) : -Infinity;
  const mean = new Float64Array(m);
  const mu = new Float64Array(m);
  const setMu = (obs: Float64Array): void => {
    if (!controller) return;
    controller(obs, mean);
    for (let j = 0; j < m; j++) {
      const t = Math.max(-MAX_T, Math.min(MAX_T, (mean[j]! - center[j]!) / half[j]!));
      mu[j] = Math.atanh(t);
    }
  };
  /** Density of `action` under the full mixture; `recompute` false reuses mu set by sample(). */
  const logProb = (obs: Float64Array, action: ArrayLike<number>, recompute: boolean): number => {
    if (recompute) setMu(obs);
    for (let j = 0; j < m; j++) if (!(Math.abs(action[j]! - center[j]!) <= half[j]!)) return -Infinity;
    let logSquashed = -Infinity;
    if (controller) {
      logSquashed = 0;
      for (let j = 0; j < m; j++) {
        const t = (action[j]! - center[j]!) / half[j]!;
        if (Math.abs(t) >= 1) {
          logSquashed = -Infinity;
          break;
        }
        const z = (Math.atanh(t) - mu[j]!) / sigma;
        logSquashed += -0.5 * z * z - Math.log(sigma) - 0.5 * LOG_2PI - Math.log(half[j]! * (1 - t * t));
      }
    }
    return logAddExp(logEps - logVolume, log1mEps + logSquashed);
  };
  return {
    sample(obs: Float64Array, rng: Rng): PolicyStep {
      const action = new Float64Array(m);
      setMu(obs);
      const uniform = !controller || rng.uniform() < epsilon;
      for (let j = 0; j < m; j++) {
        if (uniform) {
          action[j] = Math.fround(center[j]! - half[j]! + 2 * half[j]! * rng.uniform());
        } else {
          for (;;) {
            const a = Math.fround(center[j]! + half[j]! * Math.tanh(mu[j]! + sigma * rng.normal()));
            if (Math.abs(a - center[j]!) < half[j]!) {
              action[j] = a;
              break;
            }
          }
        }
      }
      return { action, logProb: logProb(obs, action, false) };
    },
    logProb: (obs, action) => logProb(obs, action, true),
  };
}

/** Discrete two-action policy: epsilon-uniform mixed with sigmoid(score / temperature). */
export function binaryPolicy(score: ((obs: ArrayLike<number>) => number) | null, level: NoiseLevel): StepPolicy {
  const probRight = (obs: Float64Array): number =>
    score ? level.epsilon / 2 + (1 - level.epsilon) / (1 + Math.exp(-score(obs) / level.sigma)) : 0.5;
  return {
    logProb(obs: Float64Array, action: ArrayLike<number>): number {
      const pRight = probRight(obs);
      const a = action[0];
      return a === 1 ? Math.log(pRight) : a === 0 ? Math.log(1 - pRight) : -Infinity;
    },
    sample(obs: Float64Array, rng: Rng): PolicyStep {
      const pRight = probRight(obs);
      const a = rng.uniform() < pRight ? 1 : 0;
      const p = a === 1 ? pRight : 1 - pRight;
      return { action: Float64Array.of(a), logProb: Math.log(p) };
    },
  };
}

/** The fixed policy for one quality level: null level = uniformly random. */
export function levelPolicy(env: Env, level: NoiseLevel | null): StepPolicy {
  const cfg = configFor(env);
  if (env.actionSpace.type === 'discrete') return binaryPolicy(level ? cfg.score ?? null : null, level ?? { epsilon: 1, sigma: 1 });
  return boxPolicy(env, level ? cfg.controller ?? null : null, level ?? { epsilon: 1, sigma: 1 });
}

export function checkPolicyName(name: string): BehaviorPolicyName {
  if (!(BEHAVIOR_POLICIES as readonly string[]).includes(name)) {
    throw new OffpolicyError('E_UNKNOWN_POLICY', `Unknown behaviour policy "${name}".`, {
      hint: `Use one of: ${BEHAVIOR_POLICIES.join(', ')}.`,
    });
  }
  return name as BehaviorPolicyName;
}

/**
 * Noise level of `policy` at `progress` in [0, 1] through the data set (null =
 * uniformly random). Only medium-replay depends on progress.
 */
export function noiseLevel(env: Env, policy: BehaviorPolicyName, progress: number): NoiseLevel | null {
  const cfg = configFor(env);
  switch (policy) {
    case 'random':
      return null;
    case 'medium':
      return cfg.medium;
    case 'expert':
      return cfg.expert;
    case 'medium-replay': {
      const epsilon = 1 - (1 - cfg.medium.epsilon) * progress;
      return epsilon >= 1 ? null : { epsilon, sigma: cfg.medium.sigma };
    }
  }
}

/**
 * A fixed behaviour policy (random, medium or expert) as a batched continuous
 * policy, structurally the ContinuousPolicy of src/core/contracts.ts: `act` gives the
 * controller's action pulled inside the box (the squashed Gaussian's centre;
 * the box centre for random), `logProb` the exact log-density logged in
 * `behavior_logprob`. Box-action environments only.
 */
export function scriptedContinuousPolicy(env: Env, policy: Exclude<BehaviorPolicyName, 'medium-replay'>) {
  const space = env.actionSpace;
  if (space.type !== 'box') {
    throw new OffpolicyError('E_POLICY_KIND', `${env.id} has discrete actions; a continuous policy needs a box action space.`, {
      hint: 'Use scriptedDiscretePolicy for discrete-action environments.',
    });
  }
  const level = noiseLevel(env, checkPolicyName(policy), 1);
  const pol = levelPolicy(env, level);
  const cfg = configFor(env);
  const obsDim = spaceWidth(env.observationSpace);
  const m = spaceWidth(space);
  const low = space.low!;
  const high = space.high!;
  return {
    actionDim: m,
    act(obs: Float32Array, n: number): Float32Array {
      const out = new Float32Array(n * m);
      const mean = new Float64Array(m);
      for (let i = 0; i < n; i++) {
        if (level && cfg.controller) cfg.controller(obs.subarray(i * obsDim, (i + 1) * obsDim), mean);
        for (let j = 0; j < m; j++) {
          const c = (low[j]! + high[j]!) / 2;
          const h = (high[j]! - low[j]!) / 2;
          const t = level && cfg.controller ? Math.max(-MAX_T, Math.min(MAX_T, (mean[j]! - c) / h)) : 0;
          out[i * m + j] = c + h * t;
        }
      }
      return out;
    },
    logProb(obs: Float32Array, actions: Float32Array, n: number): Float64Array {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        out[i] = pol.logProb(Float64Array.from(obs.subarray(i * obsDim, (i + 1) * obsDim)), actions.subarray(i * m, (i + 1) * m));
      }
      return out;
    },
  };
}

/** A fixed behaviour policy for a discrete-action environment, structurally the Policy of src/core/contracts.ts. */
export function scriptedDiscretePolicy(env: Env, policy: Exclude<BehaviorPolicyName, 'medium-replay'>) {
  const space = env.actionSpace;
  if (space.type !== 'discrete') {
    throw new OffpolicyError('E_POLICY_KIND', `${env.id} has box actions; a discrete policy needs a discrete action space.`, {
      hint: 'Use scriptedContinuousPolicy for box-action environments.',
    });
  }
  const pol = levelPolicy(env, noiseLevel(env, checkPolicyName(policy), 1));
  const obsDim = spaceWidth(env.observationSpace);
  const K = space.n;
  return {
    numActions: K,
    actionProbs(contexts: Float32Array, n: number): Float64Array {
      const out = new Float64Array(n * K);
      for (let i = 0; i < n; i++) {
        const o = Float64Array.from(contexts.subarray(i * obsDim, (i + 1) * obsDim));
        for (let a = 0; a < K; a++) out[i * K + a] = Math.exp(pol.logProb(o, [a]));
      }
      return out;
    },
  };
}
