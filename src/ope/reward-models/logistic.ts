/**
 * Logistic-regression reward model for rewards in [0, 1] (clicks, conversions):
 * P(r = 1 | x, a) = sigmoid(w . [1, x, one-hot(a)]), fitted by L-BFGS on the
 * cross-entropy plus (lambda / 2) ||w||^2 (intercept unpenalized; lambda = 1
 * matches scikit-learn's default C = 1, the model Open Bandit Pipeline uses).
 */
import { OffpolicyError } from '../../core/errors.js';
import type { Warning } from '../../core/evaluation-result.js';
import { lbfgs } from './linalg.js';
import type { RewardData, RewardModel } from '../../core/contracts.js';
import { designWidth, linearScore, type ActionFeatureMatrix } from './types.js';

export interface LogisticOptions {
  lambda?: number;
  maxIter?: number;
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** log(1 + exp(z)), stable. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

export class LogisticRewardModel implements RewardModel {
  readonly kind = 'logistic';
  constructor(
    readonly numActions: number,
    private readonly d: number,
    readonly weights: Float64Array,
    readonly warnings: Warning[],
    /** The L2 penalty it was fitted with (DM intervals need it: ./uncertainty.ts). */
    readonly lambda = 1,
    /** Item features of the design (none: context and action only). */
    readonly z?: ActionFeatureMatrix,
  ) {}

  predict(contexts: Float32Array, n: number): Float64Array {
    const k = this.numActions;
    const out = new Float64Array(n * k);
    for (let i = 0; i < n; i++) for (let a = 0; a < k; a++) out[i * k + a] = sigmoid(linearScore(this.weights, contexts, i, this.d, a, k, this.z));
    return out;
  }
}

export function fitLogistic(data: RewardData, opts: LogisticOptions = {}): LogisticRewardModel {
  const lambda = opts.lambda ?? 1;
  const { n, d, numActions: k } = data;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const r = data.rewards[i]!;
    if (!(r >= 0 && r <= 1)) {
      throw new OffpolicyError(
        'E_REWARD_MODEL_FIT',
        `The logistic reward model needs rewards in [0, 1], but row ${i} has reward ${r}.`,
        { hint: 'Use --reward-model ridge (or mlp) for rewards outside [0, 1].' },
      );
    }
    lo = Math.min(lo, r);
    hi = Math.max(hi, r);
  }
  if (n === 0 || lo === hi) {
    throw new OffpolicyError(
      'E_REWARD_MODEL_FIT',
      `The logistic reward model cannot be fitted: every logged reward equals ${n === 0 ? 'nothing (no rows)' : lo}, so there is no second class to separate.`,
      { hint: 'Use --reward-model ridge, or evaluate with estimators that need no reward model (ips, snips, ...).' },
    );
  }
  const z = data.actionFeatures;
  const p = designWidth(d, k, z);
  const scale = 1 / n;
  const fg = (w: Float64Array, g: Float64Array): number => {
    g.fill(0);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const a = data.actions[i]!;
      const s = linearScore(w, data.contexts, i, d, a, k, z);
      const y = data.rewards[i]!;
      loss += softplus(s) - y * s;
      const r = sigmoid(s) - y;
      g[0] = g[0]! + r;
      for (let j = 0; j < d; j++) g[1 + j] = g[1 + j]! + r * data.contexts[i * d + j]!;
      if (a > 0) g[d + a] = g[d + a]! + r;
      if (z) for (let j = 0, o = a * z.width; j < z.width; j++) g[d + k + j] = g[d + k + j]! + r * z.values[o + j]!;
    }
    for (let j = 1; j < p; j++) {
      loss += 0.5 * lambda * w[j]! * w[j]!;
      g[j] = g[j]! + lambda * w[j]!;
    }
    for (let j = 0; j < p; j++) g[j] = g[j]! * scale;
    return loss * scale;
  };
  const res = lbfgs(fg, new Float64Array(p), { maxIter: opts.maxIter ?? 1000, tol: 1e-9 });
  if (!Number.isFinite(res.value) || res.x.some((v) => !Number.isFinite(v))) {
    throw new OffpolicyError('E_REWARD_MODEL_FIT', 'The logistic reward model failed to fit: the loss became NaN or infinite.', {
      hint: 'Check the contexts for huge or non-finite values, or use a larger penalty.',
    });
  }
  const warnings: Warning[] = [];
  if (!res.converged) {
    warnings.push({
      code: 'REWARD_MODEL_NOT_CONVERGED',
      message: `The logistic reward model did not converge in ${res.iterations} iterations; its predictions may be rough.`,
    });
  }
  return new LogisticRewardModel(k, d, res.x, warnings, lambda, z);
}
