/**
 * Ridge regression reward models, fitted in closed form:
 *  - joint: one model on [1, x, one-hot(a)] (action 0 the reference level);
 *  - per-action: one model on [1, x] for each action.
 * The intercept is never penalized. lambda = 0 is ordinary least squares and
 * fails with E_REWARD_MODEL_FIT when the design is singular.
 */
import { OffpolicyError } from '../../core/errors.js';
import type { Warning } from '../../core/evaluation-result.js';
import { choleskySolve } from './linalg.js';
import type { RewardData, RewardModel } from '../../core/contracts.js';
import { designRow, designWidth, linearScore, type ActionFeatureMatrix } from './types.js';

export interface RidgeOptions {
  /** L2 penalty (default 1). */
  lambda?: number;
  /** One model per action instead of one joint model. */
  perAction?: boolean;
}

function checkRewards(data: RewardData, kind: string): void {
  for (let i = 0; i < data.n; i++) {
    if (!Number.isFinite(data.rewards[i]!)) {
      throw new OffpolicyError('E_REWARD_MODEL_FIT', `The ${kind} reward model cannot be fitted: reward on row ${i} is not a finite number.`, {
        hint: 'Drop or fix rows with missing rewards before evaluating.',
      });
    }
  }
}

/** Solves (X'X + lambda * P) w = X'y, P = identity without the intercept. */
function solveRidge(xtx: Float64Array, xty: Float64Array, p: number, lambda: number, what: string): Float64Array {
  const a = Float64Array.from(xtx);
  for (let j = 1; j < p; j++) a[j * p + j] = a[j * p + j]! + lambda;
  const w = choleskySolve(a, xty, p);
  if (!w || w.some((v) => !Number.isFinite(v))) {
    throw new OffpolicyError(
      'E_REWARD_MODEL_FIT',
      `The ridge reward model cannot be fitted: the normal equations for ${what} are singular (lambda = ${lambda}).`,
      { hint: 'Use a positive regularization (lambda > 0), or check for constant or duplicated context features and actions that never occur.' },
    );
  }
  return w;
}

export class RidgeRewardModel implements RewardModel {
  readonly kind: string;
  readonly warnings: Warning[];
  constructor(
    readonly numActions: number,
    private readonly d: number,
    /** Joint: one weight vector of width d + K. Per-action: K vectors of width d + 1. */
    readonly weights: Float64Array[],
    readonly perAction: boolean,
    warnings: Warning[],
    /** The L2 penalty it was fitted with (DM intervals need it: ./uncertainty.ts). */
    readonly lambda = 1,
    /** Item features of the joint model's design. */
    readonly z?: ActionFeatureMatrix,
  ) {
    this.kind = perAction ? 'ridge-per-action' : 'ridge';
    this.warnings = warnings;
  }

  predict(contexts: Float32Array, n: number): Float64Array {
    const k = this.numActions;
    const d = this.d;
    const out = new Float64Array(n * k);
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < k; a++) {
        out[i * k + a] = this.perAction ? linearScore(this.weights[a]!, contexts, i, d, 0) : linearScore(this.weights[0]!, contexts, i, d, a, k, this.z);
      }
    }
    return out;
  }
}

export function fitRidge(data: RewardData, opts: RidgeOptions = {}): RidgeRewardModel {
  const lambda = opts.lambda ?? 1;
  if (!(lambda >= 0)) {
    throw new OffpolicyError('E_REWARD_MODEL_FIT', `Ridge lambda must be >= 0, got ${lambda}.`, { hint: 'Pass a non-negative penalty.' });
  }
  checkRewards(data, 'ridge');
  const { n, d, numActions: k } = data;
  if (!opts.perAction) {
    const z = data.actionFeatures;
    const p = designWidth(d, k, z);
    const xtx = new Float64Array(p * p);
    const xty = new Float64Array(p);
    const row = new Float64Array(p);
    for (let i = 0; i < n; i++) {
      designRow(data.contexts, i, d, data.actions[i]!, k, row, z);
      const y = data.rewards[i]!;
      for (let u = 0; u < p; u++) {
        const ru = row[u]!;
        if (ru === 0) continue;
        xty[u] = xty[u]! + ru * y;
        for (let v = 0; v <= u; v++) xtx[u * p + v] = xtx[u * p + v]! + ru * row[v]!;
      }
    }
    for (let u = 0; u < p; u++) for (let v = 0; v < u; v++) xtx[v * p + u] = xtx[u * p + v]!;
    return new RidgeRewardModel(k, d, [solveRidge(xtx, xty, p, lambda, 'the joint model')], false, [], lambda, z);
  }
  // Per-action models on [1, x].
  const p = d + 1;
  const warnings: Warning[] = [];
  const weights: Float64Array[] = [];
  const xtx = Array.from({ length: k }, () => new Float64Array(p * p));
  const xty = Array.from({ length: k }, () => new Float64Array(p));
  const counts = new Float64Array(k);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const a = data.actions[i]!;
    const y = data.rewards[i]!;
    counts[a] = counts[a]! + 1;
    total += y;
    const A = xtx[a]!;
    const b = xty[a]!;
    for (let u = 0; u < p; u++) {
      const ru = u === 0 ? 1 : data.contexts[i * d + u - 1]!;
      b[u] = b[u]! + ru * y;
      for (let v = 0; v <= u; v++) A[u * p + v] = A[u * p + v]! + ru * (v === 0 ? 1 : data.contexts[i * d + v - 1]!);
    }
  }
  const missing: number[] = [];
  for (let a = 0; a < k; a++) {
    if (counts[a] === 0) {
      missing.push(a);
      const w = new Float64Array(p);
      w[0] = n > 0 ? total / n : 0;
      weights.push(w);
      continue;
    }
    const A = xtx[a]!;
    for (let u = 0; u < p; u++) for (let v = 0; v < u; v++) A[v * p + u] = A[u * p + v]!;
    weights.push(solveRidge(A, xty[a]!, p, lambda, `action ${a}`));
  }
  if (missing.length > 0) {
    warnings.push({
      code: 'REWARD_MODEL_NO_DATA',
      message: `The per-action ridge model has no logged rows for ${missing.length} action(s) (first: ${missing.slice(0, 5).join(', ')}); it predicts the overall mean reward for them.`,
    });
  }
  return new RidgeRewardModel(k, d, weights, true, warnings);
}
