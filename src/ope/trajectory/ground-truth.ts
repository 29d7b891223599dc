/**
 * Ground truth on the built-in environments: logged episodes under a behaviour
 * policy with exact log-probabilities, and a candidate's on-policy value from
 * rollouts, with the SAME discount convention as the estimators (gamma^t from
 * t = 0, every reward counted, the last one included).
 *
 * A policy here is sampled one state at a time (the envs' StepPolicy shape:
 * sample / logProb); asContinuousPolicy / asDiscretePolicy wrap one as the
 * batched candidate contracts.
 */
import type { ContinuousPolicy, Policy } from '../../core/contracts.js';
import type { TrajectoryArrays } from '../../datasets/load-trajectories.js';
import { spaceWidth } from '../../datasets/metadata.js';
import type { Env } from '../../envs/types.js';
import { OffpolicyError } from '../../core/errors.js';
import { Rng } from '../../util/rng.js';
import { tInterval } from '../intervals/t.js';
import { sumsFromTerms } from '../sums.js';
import type { Interval } from '../../core/evaluation-result.js';

export interface SamplingPolicy {
  sample(obs: Float64Array, rng: Rng): { action: Float64Array; logProb: number };
  logProb(obs: Float64Array, action: ArrayLike<number>): number;
}

/**
 * `env` with its time limit replaced by `horizon` steps (short-horizon settings for
 * simulation). With `terminal`, the last step is marked terminated instead of
 * truncated: the horizon is part of the task, so fitted Q evaluation does not
 * bootstrap past it.
 */
export function withTimeLimit(env: Env, horizon: number, terminal = false): Env {
  if (!Number.isInteger(horizon) || horizon < 1) {
    throw new OffpolicyError('E_GENERATOR_PARAM', `The horizon must be a positive integer, got ${horizon}.`, { hint: 'Pass e.g. 10.' });
  }
  return {
    ...env,
    maxEpisodeSteps: horizon,
    reset: (rng) => env.reset(rng),
    step(state, action) {
      const r = env.step(state, action);
      const atLimit = !r.terminated && r.state.t >= horizon;
      return { ...r, terminated: r.terminated || (terminal && atLimit), truncated: !terminal && atLimit };
    },
  };
}

/** Logs `episodes` episodes of `policy` in `env` (observations stored as float32, as the generators do). */
export function simulateTrajectories(env: Env, policy: SamplingPolicy, episodes: number, seed: number | string): TrajectoryArrays {
  const obsDim = spaceWidth(env.observationSpace);
  const discrete = env.actionSpace.type === 'discrete';
  const actDim = spaceWidth(env.actionSpace);
  const rng = new Rng(seed);
  const obs: number[] = [], next: number[] = [], act: number[] = [], rew: number[] = [], lp: number[] = [];
  const ep: number[] = [], st: number[] = [], term: number[] = [], trunc: number[] = [];
  for (let e = 0; e < episodes; e++) {
    let { state, observation } = env.reset(rng);
    for (let t = 0; ; t++) {
      const o = Float64Array.from(Float32Array.from(observation));
      const { action, logProb } = policy.sample(o, rng);
      const r = env.step(state, discrete ? action[0]! : action);
      for (let j = 0; j < obsDim; j++) obs.push(o[j]!);
      for (let j = 0; j < obsDim; j++) next.push(r.observation[j]!);
      for (let j = 0; j < actDim; j++) act.push(action[j]!);
      rew.push(r.reward);
      lp.push(logProb);
      ep.push(e);
      st.push(t);
      term.push(r.terminated ? 1 : 0);
      trunc.push(r.truncated ? 1 : 0);
      if (r.terminated || r.truncated) break;
      state = r.state;
      observation = r.observation;
    }
  }
  const n = ep.length;
  return {
    n,
    obsDim,
    actDim: discrete ? 1 : actDim,
    ...(discrete ? { discreteActions: (env.actionSpace as { n: number }).n } : {}),
    observations: Float32Array.from(obs),
    actions: discrete ? Int32Array.from(act) : Float32Array.from(act),
    rewards: Float64Array.from(rew),
    nextObservations: Float32Array.from(next),
    nextObservationMissing: new Uint8Array(n),
    terminated: Uint8Array.from(term),
    truncated: Uint8Array.from(trunc),
    episodeId: Float64Array.from(ep),
    step: Int32Array.from(st),
    behaviorLogprob: Float64Array.from(lp),
    corrupted: null,
  };
}

export interface OnPolicyValue {
  value: number;
  stdError: number;
  interval: Interval;
  returns: Float64Array;
}

/**
 * The mean discounted return of `policy` over `episodes` rollouts, with its 95% t interval.
 * With `startSeed`, initial states come from their own stream (the same for every policy
 * given the same startSeed: common random numbers, so differences between policies'
 * values carry no start-state noise); otherwise one stream serves both.
 */
export function onPolicyValue(env: Env, policy: SamplingPolicy, episodes: number, gamma: number, seed: number | string, opts: { startSeed?: number | string } = {}): OnPolicyValue {
  const discrete = env.actionSpace.type === 'discrete';
  const rng = new Rng(seed);
  const startRng = opts.startSeed !== undefined ? new Rng(opts.startSeed) : rng;
  const returns = new Float64Array(episodes);
  for (let e = 0; e < episodes; e++) {
    let { state, observation } = env.reset(startRng);
    let g = 0;
    let disc = 1;
    for (;;) {
      const o = Float64Array.from(Float32Array.from(observation));
      const { action } = policy.sample(o, rng);
      const r = env.step(state, discrete ? action[0]! : action);
      g += disc * r.reward;
      disc *= gamma;
      if (r.terminated || r.truncated) break;
      state = r.state;
      observation = r.observation;
    }
    returns[e] = g;
  }
  const s = sumsFromTerms({ num: returns, den: null, base: null });
  const interval = tInterval(s, 0.05);
  return { value: s.sumNum / s.n, stdError: Math.sqrt(Math.max(0, s.sumNum2 / s.n - (s.sumNum / s.n) ** 2) / (s.n - 1)), interval, returns };
}

/**
 * A sampling policy on box actions as the batched ContinuousPolicy contract
 * (stochastic: logProb is its density), with `sampleActions` for fitted Q
 * evaluation's sampled targets.
 */
export function asContinuousPolicy(p: SamplingPolicy, obsDim: number, actionDim: number): ContinuousPolicy & { sampleActions(obs: Float32Array, n: number, rng: Rng): Float32Array } {
  return {
    actionDim,
    sampleActions(obs: Float32Array, n: number, rng: Rng): Float32Array {
      const out = new Float32Array(n * actionDim);
      for (let i = 0; i < n; i++) out.set(p.sample(Float64Array.from(obs.subarray(i * obsDim, (i + 1) * obsDim)), rng).action, i * actionDim);
      return out;
    },
    act(): Float32Array {
      throw new OffpolicyError('E_NOT_SUPPORTED', 'This simulation policy is scored by its density only.', { hint: 'Use logProb.' });
    },
    logProb(obs: Float32Array, actions: Float32Array, n: number): Float64Array {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = p.logProb(Float64Array.from(obs.subarray(i * obsDim, (i + 1) * obsDim)), actions.subarray(i * actionDim, (i + 1) * actionDim));
      return out;
    },
  };
}

/** A sampling policy on K discrete actions as the batched Policy contract. */
export function asDiscretePolicy(p: SamplingPolicy, obsDim: number, numActions: number): Policy {
  return {
    numActions,
    actionProbs(obs: Float32Array, n: number): Float64Array {
      const out = new Float64Array(n * numActions);
      for (let i = 0; i < n; i++) {
        const o = Float64Array.from(obs.subarray(i * obsDim, (i + 1) * obsDim));
        for (let a = 0; a < numActions; a++) out[i * numActions + a] = Math.exp(p.logProb(o, [a]));
      }
      return out;
    },
  };
}
