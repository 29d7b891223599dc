/**
 * Estimator accuracy over many candidates with known true values (SCOPE-RL's
 * off-policy selection metrics; Kiyohara et al. 2023):
 *
 *   relative error   mean_j |V_hat_j - V_j| / |V_j|
 *   squared error    mean_j (V_hat_j - V_j)^2
 *   Spearman         Pearson correlation of the ranks of V_hat and V (ties get their average rank)
 *   regret@k         max_j V_j - max_{j in top-k by V_hat} V_j
 *   SharpeRatio@k    (max_{j in top-k} V_j - V_behaviour) / std_{j in top-k}(V_j),
 *                    std with divisor k (population), as SCOPE-RL; +-Infinity when the std is 0
 *                    and the numerator is not (NaN when both are 0).
 * Top-k: the k largest estimates; ties keep the input order.
 */
import { OffpolicyError } from '../core/errors.js';
import type { AccuracyMetrics } from '../core/evaluation-result.js';

function checkPaired(est: readonly number[], truth: readonly number[]): void {
  if (est.length !== truth.length || est.length === 0) {
    throw new OffpolicyError('E_ACCURACY_INPUT', `Accuracy metrics need one estimate per true value; got ${est.length} estimates and ${truth.length} true values.`, {
      hint: 'Pass the estimates and true values of the same candidates, in the same order.',
    });
  }
}

export function relativeError(est: readonly number[], truth: readonly number[]): number {
  checkPaired(est, truth);
  let s = 0;
  for (let j = 0; j < est.length; j++) {
    if (truth[j] === 0) {
      throw new OffpolicyError('E_ACCURACY_INPUT', `Relative error is undefined for candidate ${j}: its true value is 0.`, { hint: 'Use the squared error instead.' });
    }
    s += Math.abs(est[j]! - truth[j]!) / Math.abs(truth[j]!);
  }
  return s / est.length;
}

export function squaredError(est: readonly number[], truth: readonly number[]): number {
  checkPaired(est, truth);
  let s = 0;
  for (let j = 0; j < est.length; j++) s += (est[j]! - truth[j]!) ** 2;
  return s / est.length;
}

/** Ranks 1..m with ties sharing their average rank. */
export function averageRanks(x: readonly number[]): number[] {
  const idx = x.map((_, i) => i).sort((a, b) => x[a]! - x[b]!);
  const ranks = new Array<number>(x.length);
  let i = 0;
  while (i < idx.length) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]!] === x[idx[i]!]) j++;
    const r = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) ranks[idx[t]!] = r;
    i = j + 1;
  }
  return ranks;
}

function pearson(a: readonly number[], b: readonly number[]): number {
  const m = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / m;
  const mb = b.reduce((s, v) => s + v, 0) / m;
  let sab = 0, saa = 0, sbb = 0;
  for (let j = 0; j < m; j++) {
    sab += (a[j]! - ma) * (b[j]! - mb);
    saa += (a[j]! - ma) ** 2;
    sbb += (b[j]! - mb) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : NaN;
}

/** Spearman rank correlation (average ranks for ties); NaN when either side is constant. */
export function spearman(est: readonly number[], truth: readonly number[]): number {
  checkPaired(est, truth);
  return pearson(averageRanks(est), averageRanks(truth));
}

function checkK(k: number, m: number): void {
  if (!Number.isInteger(k) || k < 1 || k > m) {
    throw new OffpolicyError('E_ACCURACY_INPUT', `k must be an integer between 1 and the number of candidates (${m}), got ${k}.`);
  }
}

/** Indices of the k largest estimates (ties keep input order). */
export function topK(est: readonly number[], k: number): number[] {
  return est
    .map((v, i) => ({ v, i }))
    .sort((a, b) => b.v - a.v || a.i - b.i)
    .slice(0, k)
    .map((x) => x.i);
}

export function regretAtK(est: readonly number[], truth: readonly number[], k: number): number {
  checkPaired(est, truth);
  checkK(k, est.length);
  const best = Math.max(...truth);
  return best - Math.max(...topK(est, k).map((i) => truth[i]!));
}

export function sharpeRatioAtK(est: readonly number[], truth: readonly number[], behaviourValue: number, k: number): number {
  checkPaired(est, truth);
  checkK(k, est.length);
  const vals = topK(est, k).map((i) => truth[i]!);
  const mean = vals.reduce((s, v) => s + v, 0) / k;
  const std = Math.sqrt(vals.reduce((s, v) => s + (v - mean) ** 2, 0) / k);
  const num = Math.max(...vals) - behaviourValue;
  if (std === 0) return num === 0 ? NaN : num > 0 ? Infinity : -Infinity;
  return num / std;
}

/** All metrics for one estimator across candidates. */
export function accuracyMetrics(estimator: string, est: readonly number[], truth: readonly number[], behaviourValue: number, k: number): AccuracyMetrics {
  return {
    estimator,
    relativeError: relativeError(est, truth),
    squaredError: squaredError(est, truth),
    spearman: spearman(est, truth),
    regretAtK: regretAtK(est, truth, k),
    sharpeAtK: sharpeRatioAtK(est, truth, behaviourValue, k),
    k,
  };
}
