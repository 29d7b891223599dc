/**
 * Per-row quantities shared by the estimators: w_i, pi(a_i|x_i), q(x_i, a_i), and
 * dm_i = sum_a pi(a|x_i) q(x_i, a). Recomputed on every call (O(n) and O(nK)),
 * except inside withSharedInputs (used by rowTermsFor), which computes them once
 * for the duration of one synchronous call: nothing outlives it, so a caller may
 * reuse or refill a batch's arrays between calls.
 */
import { dataError, OffpolicyError } from '../../core/errors.js';
import type { BanditBatch, EstimatorId, SqlColumns } from './types.js';

export interface LoggedInputs {
  /** pi(a_i|x_i) */
  piLogged: Float64Array;
  /** w_i = pi(a_i|x_i) / p_i */
  weights: Float64Array;
}

export interface ModelInputs {
  /** q(x_i, a_i) */
  qLogged: Float64Array;
  /** sum_a pi(a|x_i) q(x_i, a) */
  dm: Float64Array;
}

let scope: { logged: Map<BanditBatch, LoggedInputs>; model: Map<BanditBatch, ModelInputs> } | null = null;

/** Runs fn with the per-row inputs of each batch computed at most once. */
export function withSharedInputs<T>(fn: () => T): T {
  const previous = scope;
  scope = { logged: new Map(), model: new Map() };
  try {
    return fn();
  } finally {
    scope = previous;
  }
}

/** Checks that every array of the batch has its stated length and the actions lie in 0..K-1. */
export function checkBatch(b: BanditBatch): void {
  const { n, numActions: k } = b;
  const shape = (name: string, len: number, want: number): void => {
    if (len !== want) {
      throw new OffpolicyError('E_BATCH_SHAPE', `The bandit batch's ${name} holds ${len} values, expected ${want} (n = ${n}, K = ${k}).`, {
        hint: 'Per-row arrays have n values; per-row-and-action arrays have n * K, row-major.',
      });
    }
  };
  shape('actions', b.actions.length, n);
  shape('rewards', b.rewards.length, n);
  shape('propensities', b.propensities.length, n);
  shape('targetProbs', b.targetProbs.length, n * k);
  if (b.loggingProbs) shape('loggingProbs', b.loggingProbs.length, n * k);
  const bad: number[] = [];
  let count = 0;
  for (let i = 0; i < n; i++) {
    const a = b.actions[i]!;
    if (!(a >= 0 && a < k)) {
      count++;
      if (bad.length < 5) bad.push(i);
    }
  }
  if (count > 0) throw dataError('E_ACTION_RANGE', `action in 0..${k - 1}`, count, bad, 'Actions must index the K candidate probabilities.');
}

export function loggedInputs(b: BanditBatch): LoggedInputs {
  const hit = scope?.logged.get(b);
  if (hit) return hit;
  checkBatch(b);
  const { n, numActions: k, actions, propensities, targetProbs } = b;
  const piLogged = new Float64Array(n);
  const weights = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const pi = targetProbs[i * k + actions[i]!]!;
    piLogged[i] = pi;
    weights[i] = pi / propensities[i]!;
  }
  const out = { piLogged, weights };
  scope?.logged.set(b, out);
  return out;
}

export function modelInputs(b: BanditBatch, estimator: EstimatorId): ModelInputs {
  const hit = scope?.model.get(b);
  if (hit) return hit;
  checkBatch(b);
  const q = b.rewardHat;
  const { n, numActions: k, actions, targetProbs } = b;
  if (!q) {
    throw new OffpolicyError('E_REWARD_MODEL_REQUIRED', `Estimator "${estimator}" needs reward-model predictions q(x, a), but none were given.`, {
      hint: 'Fit a reward model (--reward-model ridge|logistic|mlp) or supply per-action prediction columns.',
    });
  }
  if (q.length !== n * k) {
    throw new OffpolicyError('E_REWARD_MODEL_SHAPE', `Reward-model predictions hold ${q.length} values, expected n * K = ${n} * ${k} = ${n * k}.`, {
      hint: 'Give one prediction per row and action, row-major.',
    });
  }
  const qLogged = new Float64Array(n);
  const dm = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * k;
    let s = 0;
    for (let a = 0; a < k; a++) s += targetProbs[o + a]! * q[o + a]!;
    dm[i] = s;
    qLogged[i] = q[o + actions[i]!]!;
  }
  const out = { qLogged, dm };
  scope?.model.set(b, out);
  return out;
}

export function requireSqlModel(id: EstimatorId, qLogged: string | undefined, dm: string | undefined): { q: string; dm: string } {
  if (qLogged === undefined || dm === undefined) {
    throw new OffpolicyError('E_REWARD_MODEL_REQUIRED', `Estimator "${id}" needs reward-model columns (q at the logged action and the candidate's expected q), but none were given.`, {
      hint: 'Fit a reward model or supply per-action prediction columns.',
    });
  }
  return { q: `(${qLogged})`, dm: `(${dm})` };
}

/** SQL for w_i: the given weight expression, or (piLogged) / (propensity). */
export function sqlWeight(c: SqlColumns): string {
  return c.weight !== undefined ? `(${c.weight})` : `((${c.piLogged}) / (${c.propensity}))`;
}
