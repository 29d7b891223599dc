/**
 * Rollouts of a trained policy in a built-in environment: returns, the
 * D4RL-style normalized score, and (optionally) the steps as a trajectory
 * dataset, so a trained policy can collect new data (`offpolicy rollout --save`).
 *
 * Continuous policies act with their mean (clipped to the action box), or with
 * `stochastic` draw from their Gaussian restricted to the box
 * (truncated-normal.ts), logging behavior_logprob = logProb(s, a) - log Z(s),
 * the exact log-density of what acted. Discrete policies (the Policy interface,
 * actionProbs) act greedily, or with `stochastic` sample their probabilities
 * and log log p(a | s). A greedy / mean-action rollout is deterministic, so it
 * has no density: its dataset has no behavior_logprob column.
 *
 * The environment's resets come from Rng(`evaluate:${seed}`) (the same starts
 * as evaluateInEnv), the action draws from a separate Rng(`rollout:${seed}`).
 */
import { openMemoryConnection } from '../datasets/duckdb.js';
import { normalizedScore, spaceWidth, type Space } from '../datasets/metadata.js';
import type { DatasetVersion, Workspace } from '../datasets/workspace.js';
import { referenceScores } from '../envs/reference-scores.js';
import { getEnv } from '../envs/registry.js';
import { loadTrajectoryTable, type TrajectoryColumns } from '../envs/trajectories.js';
import type { Env } from '../envs/types.js';
import { OffpolicyError } from '../core/errors.js';
import type { ContinuousPolicy, Policy } from '../core/contracts.js';
import { Rng } from '../util/rng.js';
import { loadPolicyDir } from './discrete/policy-dir.js';
import { sampleTruncatedGaussian } from '../util/truncated-normal.js';

/** Optional hooks of policies with per-episode state (return-conditioned actors). */
export interface EpisodicHooks {
  reset?(): void;
  observeReward?(reward: number): void;
}

/** What a rollout accepts: a continuous policy (Gaussian ones expose actionStd for --stochastic) or a discrete one. */
export type RolloutPolicy = (ContinuousPolicy | Policy) &
  EpisodicHooks & {
    readonly obsDim?: number;
    readonly algo?: string;
    actionStd?(): Float64Array;
  };

export interface RolloutOptions {
  episodes: number;
  seed: number;
  /** Sample actions from the policy's distribution instead of its mean / argmax. */
  stochastic?: boolean;
  /** Keep every step (for writeRolloutDataset). Default false. */
  collect?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** The steps of a rollout in the stored trajectory layout (behaviorLogprob null for deterministic rollouts). */
export type RolloutSteps = TrajectoryColumns;

export interface EnvEvaluation {
  envId: string;
  returns: Float64Array;
  meanReturn: number;
  /** Population standard deviation of the episode returns. */
  stdReturn: number;
  /** null when the env has no reference scores. */
  normalizedScore: number | null;
}

export interface Rollout extends EnvEvaluation {
  episodes: number;
  stochastic: boolean;
  lengths: Int32Array;
  observationSpace: Space;
  actionSpace: Space;
  /** The steps, when `collect` was set. */
  steps: RolloutSteps | null;
}

function isDiscretePolicy(p: RolloutPolicy): p is Policy & EpisodicHooks {
  return typeof (p as Policy).actionProbs === 'function';
}

/** Checks the policy fits the env (action kind and width, observation width). */
export function checkPolicyFitsEnv(policy: RolloutPolicy, e: Env): void {
  const discretePolicy = isDiscretePolicy(policy);
  const obsDim = spaceWidth(e.observationSpace);
  if (policy.obsDim !== undefined && policy.obsDim !== obsDim) {
    throw new OffpolicyError('E_OBS_SHAPE', `${e.id} gives ${obsDim}-dimensional observations but the policy takes ${policy.obsDim}.`, {
      hint: 'Roll the policy out in the environment its training data came from.',
    });
  }
  if (discretePolicy) {
    if (e.actionSpace.type !== 'discrete') {
      throw new OffpolicyError('E_ACTION_SHAPE', `${e.id} has continuous actions; this policy chooses among ${(policy as Policy).numActions} discrete actions.`, {
        hint: 'Evaluate it in a discrete-action environment (CartPole-v1).',
      });
    }
    if (e.actionSpace.n !== (policy as Policy).numActions) {
      throw new OffpolicyError('E_ACTION_SHAPE', `${e.id} has ${e.actionSpace.n} actions but the policy chooses among ${(policy as Policy).numActions}.`, {
        hint: 'Evaluate the policy in the environment its training data came from.',
      });
    }
    return;
  }
  const cp = policy as ContinuousPolicy;
  if (e.actionSpace.type !== 'box') {
    throw new OffpolicyError('E_ACTION_SHAPE', `${e.id} has discrete actions; this policy outputs ${cp.actionDim}-dimensional continuous actions.`, {
      hint: 'Evaluate it in a continuous-action environment (Pendulum-v1, MountainCarContinuous-v0, PointMaze-U-v0).',
    });
  }
  const m = spaceWidth(e.actionSpace);
  if (m !== cp.actionDim) {
    throw new OffpolicyError('E_ACTION_SHAPE', `${e.id} takes ${m}-dimensional actions but the policy outputs ${cp.actionDim}.`, {
      hint: 'Evaluate the policy in the environment its training data came from.',
    });
  }
}

/** Rolls `policy` out for `episodes` episodes in `env` (id, alias or Env). */
export function rolloutPolicy(policy: RolloutPolicy, env: Env | string, opts: RolloutOptions): Rollout {
  const e = typeof env === 'string' ? getEnv(env) : env;
  if (!Number.isInteger(opts.episodes) || opts.episodes < 1) {
    throw new OffpolicyError('E_ROLLOUT_PARAM', `episodes must be a positive integer, got ${opts.episodes}.`, { hint: 'Pass --episodes 10 (or more).' });
  }
  checkPolicyFitsEnv(policy, e);
  const discrete = isDiscretePolicy(policy);
  const stochastic = opts.stochastic ?? false;
  const std = !discrete && stochastic ? policyStd(policy) : null;
  const space = e.actionSpace;
  const m = spaceWidth(space);
  const d = spaceWidth(e.observationSpace);
  const low = space.type === 'box' ? space.low : undefined;
  const high = space.type === 'box' ? space.high : undefined;
  const envRng = new Rng(`evaluate:${opts.seed}`);
  const actRng = new Rng(`rollout:${opts.seed}`);
  const collect = opts.collect ?? false;
  const rows = {
    obs: [] as number[],
    next: [] as number[],
    act: [] as number[],
    ep: [] as number[],
    step: [] as number[],
    rew: [] as number[],
    term: [] as number[],
    trunc: [] as number[],
    logp: [] as number[],
  };
  const returns = new Float64Array(opts.episodes);
  const lengths = new Int32Array(opts.episodes);
  for (let ep = 0; ep < opts.episodes; ep++) {
    let { state, observation } = e.reset(envRng);
    policy.reset?.();
    let total = 0;
    let t = 0;
    for (;;) {
      const obs32 = Float32Array.from(observation);
      let envAction: number | Float64Array;
      let stored: ArrayLike<number>;
      let logp = NaN;
      if (discrete) {
        const probs = (policy as Policy).actionProbs(obs32, 1);
        let a = 0;
        if (stochastic) a = actRng.categorical(probs);
        else for (let k = 1; k < probs.length; k++) if (probs[k]! > probs[a]!) a = k;
        if (stochastic) logp = Math.log(probs[a]!);
        envAction = a;
        stored = [a];
      } else {
        const cp = policy as ContinuousPolicy;
        const mean = cp.act(obs32, 1);
        let a: Float32Array;
        if (std) {
          const draw = sampleTruncatedGaussian(mean, std, low, high, actRng);
          a = draw.action;
          logp = cp.logProb(obs32, a, 1)[0]! - draw.logMass;
        } else {
          a = new Float32Array(m);
          for (let j = 0; j < m; j++) a[j] = Math.min(high?.[j] ?? Infinity, Math.max(low?.[j] ?? -Infinity, mean[j]!));
        }
        envAction = Float64Array.from(a);
        stored = a;
      }
      const r = e.step(state, envAction);
      total += r.reward;
      policy.observeReward?.(r.reward);
      if (collect) {
        for (let j = 0; j < d; j++) rows.obs.push(obs32[j]!);
        for (let j = 0; j < d; j++) rows.next.push(r.observation[j]!);
        for (let j = 0; j < stored.length; j++) rows.act.push(stored[j]!);
        rows.ep.push(ep);
        rows.step.push(t);
        rows.rew.push(r.reward);
        rows.term.push(r.terminated ? 1 : 0);
        rows.trunc.push(r.truncated ? 1 : 0);
        rows.logp.push(logp);
      }
      t++;
      state = r.state;
      observation = r.observation;
      if (r.terminated || r.truncated) break;
    }
    returns[ep] = total;
    lengths[ep] = t;
    opts.onProgress?.(ep + 1, opts.episodes);
  }
  const { mean, std: sd } = meanStd(returns);
  const ref = referenceScores(e.id);
  return {
    envId: e.id,
    episodes: opts.episodes,
    stochastic,
    returns,
    lengths,
    meanReturn: mean,
    stdReturn: sd,
    normalizedScore: ref ? normalizedScore(mean, ref.min, ref.max) : null,
    observationSpace: e.observationSpace,
    actionSpace: e.actionSpace,
    steps: collect
      ? {
          n: rows.ep.length,
          obsDim: d,
          actionDim: m,
          discrete,
          episodeId: Float64Array.from(rows.ep),
          step: Int32Array.from(rows.step),
          observation: Float32Array.from(rows.obs),
          nextObservation: Float32Array.from(rows.next),
          action: discrete ? Int32Array.from(rows.act) : Float32Array.from(rows.act),
          reward: Float64Array.from(rows.rew),
          terminated: Uint8Array.from(rows.term),
          truncated: Uint8Array.from(rows.trunc),
          behaviorLogprob: stochastic ? Float64Array.from(rows.logp) : null,
        }
      : null,
  };
}

function policyStd(policy: RolloutPolicy): Float64Array {
  if (!policy.actionStd) {
    throw new OffpolicyError('E_NO_LOGPROB', `This ${policy.algo ?? ''} policy exposes no action distribution, so it cannot sample actions.`.replace('  ', ' '), {
      hint: 'Roll it out without --stochastic.',
    });
  }
  return policy.actionStd();
}

/** Mean and population standard deviation. */
export function meanStd(xs: ArrayLike<number>): { mean: number; std: number } {
  const n = xs.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += xs[i]! / n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (xs[i]! - mean) ** 2 / n;
  return { mean, std: Math.sqrt(v) };
}

export interface RolloutDatasetInfo {
  /** Where the policy came from (a directory), recorded in the lineage. */
  policy?: string;
  algo?: string;
  seed: number;
}

/** Stores the collected steps of `rollout` as a new trajectory dataset version `name`. */
export async function writeRolloutDataset(ws: Workspace, name: string, rollout: Rollout, info: RolloutDatasetInfo): Promise<DatasetVersion> {
  const s = rollout.steps;
  if (!s) {
    throw new OffpolicyError('E_ROLLOUT_PARAM', 'The rollout kept no steps to store.', { hint: 'Roll out with collect: true.' });
  }
  const conn = await openMemoryConnection();
  try {
    const select = await loadTrajectoryTable(conn, 'rollout', s);
    const ref = referenceScores(rollout.envId);
    return await ws.createVersion({
      name,
      conn,
      select,
      metadata: {
        kind: 'trajectory',
        envId: rollout.envId,
        observationSpace: rollout.observationSpace,
        actionSpace: rollout.actionSpace,
        ...(ref ? { refMinScore: ref.min, refMaxScore: ref.max } : {}),
        extra: {
          behaviorPolicy: `${info.algo ?? 'trained'} policy${info.policy ? ` (${info.policy})` : ''}`,
          ...(s.behaviorLogprob
            ? { behaviorLogprob: "log density of the stored action under the policy's Gaussian truncated to the action box (or its action probability, discrete)" }
            : { behaviorLogprob: 'absent: the policy acted deterministically (its mean / argmax action), which has no density' }),
          meanReturn: rollout.meanReturn,
          normalizedScore: rollout.normalizedScore,
        },
        lineage: {
          transform: 'rollout',
          params: { env: rollout.envId, episodes: rollout.episodes, stochastic: rollout.stochastic, ...(info.policy ? { policy: info.policy } : {}), ...(info.algo ? { algo: info.algo } : {}) },
          seed: info.seed,
        },
      },
    });
  } finally {
    conn.closeSync();
  }
}

export interface RolloutCommandOptions {
  /** Policy directory (policy.json + weights). */
  policy: string;
  /** Environment id or alias; default: the env recorded in the policy's training info. */
  env?: string;
  episodes: number;
  seed?: number;
  stochastic?: boolean;
  /** Store the rollouts as a new version of this trajectory dataset (needs a workspace). */
  save?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface RolloutCommandResult {
  policy: string;
  algo: string;
  rollout: Rollout;
  /** "name@version" of the stored rollouts, or null without `save`. */
  saved: string | null;
}

/**
 * What `offpolicy rollout` runs: loads the policy directory (with `load`;
 * by default loadPolicyDir, which reads continuous and categorical policies), rolls it out, and stores the steps when `save` names
 * a dataset.
 */
export async function runRollout(
  opts: RolloutCommandOptions,
  deps: { load?: (dir: string) => Promise<RolloutPolicy>; workspace?: () => Promise<Workspace> } = {},
): Promise<RolloutCommandResult> {
  const policy = await (deps.load ?? loadPolicyDir)(opts.policy);
  const training = (policy as { training?: Record<string, unknown> }).training;
  const envName = opts.env ?? (typeof training?.env === 'string' ? training.env : undefined);
  if (envName === undefined) {
    throw new OffpolicyError('E_UNKNOWN_ENV', `The policy in ${opts.policy} records no environment, so --env is needed.`, {
      hint: 'Pass --env pendulum (or another built-in environment: Pendulum-v1, MountainCarContinuous-v0, CartPole-v1, PointMaze-U-v0).',
    });
  }
  const env = getEnv(envName);
  const seed = opts.seed ?? 0;
  const rollout = rolloutPolicy(policy, env, { episodes: opts.episodes, seed, stochastic: opts.stochastic ?? false, collect: opts.save !== undefined, onProgress: opts.onProgress });
  let saved: string | null = null;
  if (opts.save !== undefined) {
    if (!deps.workspace) throw new OffpolicyError('E_ROLLOUT_PARAM', 'Saving rollouts needs a workspace.', { hint: 'Pass a workspace to runRollout.' });
    const ws = await deps.workspace();
    const v = await writeRolloutDataset(ws, opts.save, rollout, { policy: opts.policy, ...(policy.algo ? { algo: policy.algo } : {}), seed });
    saved = v.ref;
  }
  return { policy: opts.policy, algo: policy.algo ?? 'unknown', rollout, saved };
}
