/**
 * Empirical Bernstein interval (Maurer & Pontil 2009, "Empirical Bernstein Bounds
 * and Sample Variance Penalization", Theorem 4). For i.i.d. Z_i in [0, 1] and
 * delta in (0, 1), with probability >= 1 - delta
 *
 *     E Z - mean(Z) <= sqrt(2 V ln(2/delta) / n) + 7 ln(2/delta) / (3 (n - 1)),
 *
 * V the sample variance (divisor n - 1). That is ONE-sided: its ln(2/delta)
 * already pays for the union of a Bennett bound and a bound on the sample
 * standard deviation. Two-sided at level 1 - alpha: apply it to Z and to 1 - Z,
 * each at delta = alpha / 2, hence ln(2/delta) = ln(4/alpha). Rescaling
 * X = a + (b - a) Z to values in [a, b] (V_X = (b - a)^2 V_Z):
 *
 *     mean(X) +- [ sqrt(2 V_X ln(4/alpha) / n) + 7 (b - a) ln(4/alpha) / (3 (n - 1)) ]
 *
 * intersected with [a, b].
 */
import type { Interval } from '../../core/evaluation-result.js';
import type { MergeableSums } from '../sums.js';
import { checkAlpha, checkRange, checkRows, meanAndVariance, requirePlainMean } from './common.js';

export function bernsteinHalfWidth(n: number, variance: number, range: readonly [number, number], alpha: number): number {
  const [a, b] = checkRange(range);
  const l = Math.log(4 / alpha);
  return Math.sqrt((2 * variance * l) / n) + (7 * (b - a) * l) / (3 * (n - 1));
}

export function bernsteinInterval(s: MergeableSums, range: readonly [number, number], alpha: number, label = 'this estimator'): Interval {
  checkAlpha(alpha);
  checkRows(s.n, 2, 'empirical Bernstein');
  requirePlainMean(s, 'Empirical Bernstein', label);
  const [a, b] = checkRange(range);
  const { mean, variance } = meanAndVariance(s);
  const half = bernsteinHalfWidth(s.n, variance, range, alpha);
  return { lower: Math.max(a, mean - half), upper: Math.min(b, mean + half), method: 'bernstein', alpha };
}
