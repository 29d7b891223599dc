/**
 * Propensity estimation for logs that lack them: multinomial logistic
 * regression of the logged action on [1, x] (L2 penalty on the slopes, fitted by
 * L-BFGS). Every result that uses these estimates carries ESTIMATED_PROPENSITIES.
 */
import { OffpolicyError } from '../core/errors.js';
import { lbfgs } from './reward-models/linalg.js';
import type { Warning } from '../core/evaluation-result.js';

export interface PropensityModel {
  numActions: number;
  d: number;
  /** K x (d + 1): intercept then slopes, per action. */
  weights: Float64Array;
  converged: boolean;
}

export interface EstimatedPropensities {
  /** Estimated logging distribution pi0(.|x_i): n x K. */
  actionProbs: Float64Array;
  /** pi0(a_i|x_i). */
  propensities: Float64Array;
  model: PropensityModel;
  warnings: Warning[];
}

export const ESTIMATED_PROPENSITIES_WARNING: Warning = {
  code: 'ESTIMATED_PROPENSITIES',
  message:
    'The log has no propensity column, so the logging probabilities were estimated by multinomial logistic regression of action on context; importance-weighted estimates inherit that model\'s error.',
};

/** Softmax probabilities of the fitted model for every row: n x K. */
export function propensityProbs(model: PropensityModel, contexts: Float32Array, n: number): Float64Array {
  const { numActions: k, d, weights } = model;
  const out = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let a = 0; a < k; a++) {
      let s = weights[a * (d + 1)]!;
      for (let j = 0; j < d; j++) s += weights[a * (d + 1) + 1 + j]! * contexts[i * d + j]!;
      out[i * k + a] = s;
      if (s > max) max = s;
    }
    let z = 0;
    for (let a = 0; a < k; a++) {
      const e = Math.exp(out[i * k + a]! - max);
      out[i * k + a] = e;
      z += e;
    }
    for (let a = 0; a < k; a++) out[i * k + a] = out[i * k + a]! / z;
  }
  return out;
}

/**
 * Multinomial logistic regression of labels (0..K-1) on [1, x], L2 penalty
 * lambda on the slopes, optional per-row sample weights (e.g. r_i / p_i for an
 * IPW policy learner). Fitted by L-BFGS on the weighted mean cross-entropy.
 */
export function fitMultinomialLogistic(
  contexts: Float32Array,
  labels: Int32Array,
  n: number,
  d: number,
  numActions: number,
  opts: { lambda?: number; maxIter?: number; weights?: Float64Array } = {},
): PropensityModel & { iterations: number; loss: number } {
  if (n === 0) throw new OffpolicyError('E_PROPENSITY_FIT', 'Cannot fit a multinomial logistic model on zero rows.', { hint: 'Use a non-empty log.' });
  const k = numActions;
  const lambda = opts.lambda ?? 1;
  const sw = opts.weights;
  const p = k * (d + 1);
  const logits = new Float64Array(k);
  const fg = (w: Float64Array, g: Float64Array): number => {
    g.fill(0);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const wi = sw ? sw[i]! : 1;
      if (wi === 0) continue;
      let max = -Infinity;
      for (let a = 0; a < k; a++) {
        let s = w[a * (d + 1)]!;
        for (let j = 0; j < d; j++) s += w[a * (d + 1) + 1 + j]! * contexts[i * d + j]!;
        logits[a] = s;
        if (s > max) max = s;
      }
      let z = 0;
      for (let a = 0; a < k; a++) z += Math.exp(logits[a]! - max);
      const lse = max + Math.log(z);
      const ai = labels[i]!;
      loss += wi * (lse - logits[ai]!);
      for (let a = 0; a < k; a++) {
        const r = wi * (Math.exp(logits[a]! - lse) - (a === ai ? 1 : 0));
        const base = a * (d + 1);
        g[base] = g[base]! + r;
        for (let j = 0; j < d; j++) g[base + 1 + j] = g[base + 1 + j]! + r * contexts[i * d + j]!;
      }
    }
    for (let a = 0; a < k; a++) {
      for (let j = 0; j < d; j++) {
        const idx = a * (d + 1) + 1 + j;
        loss += 0.5 * lambda * w[idx]! * w[idx]!;
        g[idx] = g[idx]! + lambda * w[idx]!;
      }
    }
    for (let j = 0; j < p; j++) g[j] = g[j]! / n;
    return loss / n;
  };
  const res = lbfgs(fg, new Float64Array(p), { maxIter: opts.maxIter ?? 500, tol: 1e-8 });
  if (!Number.isFinite(res.value) || res.x.some((v) => !Number.isFinite(v))) {
    throw new OffpolicyError('E_PROPENSITY_FIT', 'The multinomial logistic fit failed: the loss became NaN or infinite.', {
      hint: 'Check the contexts for non-finite or huge values, or supply a propensity column.',
    });
  }
  return { numActions: k, d, weights: res.x, converged: res.converged, iterations: res.iterations, loss: res.value };
}

/** Fits pi0(a|x) and returns it for every logged row. `lambda` is the L2 penalty on slopes (default 1). */
export function estimatePropensities(
  contexts: Float32Array,
  actions: Int32Array,
  n: number,
  d: number,
  numActions: number,
  opts: { lambda?: number; maxIter?: number; floor?: number } = {},
): EstimatedPropensities {
  if (n === 0) throw new OffpolicyError('E_PROPENSITY_FIT', 'Cannot estimate propensities from an empty log.', { hint: 'Evaluate on a non-empty dataset.' });
  const k = numActions;
  const fit = fitMultinomialLogistic(contexts, actions, n, d, k, opts);
  const res = { converged: fit.converged, iterations: fit.iterations };
  const model: PropensityModel = { numActions: k, d, weights: fit.weights, converged: fit.converged };
  const actionProbs = propensityProbs(model, contexts, n);
  const floor = opts.floor ?? 1e-6;
  const propensities = new Float64Array(n);
  let floored = 0;
  for (let i = 0; i < n; i++) {
    let v = actionProbs[i * k + actions[i]!]!;
    if (v < floor) {
      v = floor;
      floored++;
    }
    propensities[i] = v;
  }
  const warnings: Warning[] = [ESTIMATED_PROPENSITIES_WARNING];
  if (!res.converged) warnings.push({ code: 'PROPENSITY_NOT_CONVERGED', message: `Propensity estimation did not converge in ${res.iterations} iterations.` });
  if (floored > 0) warnings.push({ code: 'PROPENSITY_FLOORED', message: `${floored} estimated propensities were below ${floor} and were raised to it.` });
  return { actionProbs, propensities, model, warnings };
}
