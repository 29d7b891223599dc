/**
 * Hoeffding interval for the mean of n i.i.d. terms in [a, b]: two-sided, level
 * 1 - alpha, each side at alpha / 2:
 *
 *     mean +- (b - a) * sqrt(ln(2 / alpha) / (2 n))
 *
 * The half-width SHRINKS as 1 / sqrt(n). The result is intersected with [a, b]
 * (the true mean lies there too, so coverage is unchanged).
 */
import type { Interval } from '../../core/evaluation-result.js';
import type { MergeableSums } from '../sums.js';
import { checkAlpha, checkRange, checkRows, meanAndVariance, requirePlainMean } from './common.js';

export function hoeffdingHalfWidth(n: number, range: readonly [number, number], alpha: number): number {
  const [a, b] = checkRange(range);
  return (b - a) * Math.sqrt(Math.log(2 / alpha) / (2 * n));
}

export function hoeffdingInterval(s: MergeableSums, range: readonly [number, number], alpha: number, label = 'this estimator'): Interval {
  checkAlpha(alpha);
  checkRows(s.n, 1, 'Hoeffding');
  requirePlainMean(s, 'Hoeffding', label);
  const [a, b] = checkRange(range);
  const { mean } = meanAndVariance(s);
  const half = hoeffdingHalfWidth(s.n, range, alpha);
  return { lower: Math.max(a, mean - half), upper: Math.min(b, mean + half), method: 'hoeffding', alpha };
}
