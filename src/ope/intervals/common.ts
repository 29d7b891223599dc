/** Shared checks for the interval methods. */
import { OffpolicyError } from '../../core/errors.js';
import type { Interval } from '../../core/evaluation-result.js';
import type { MergeableSums } from '../sums.js';

export function checkAlpha(alpha: number): number {
  if (!(alpha > 0 && alpha < 1)) {
    throw new OffpolicyError('E_ALPHA', `The miscoverage level alpha must lie strictly between 0 and 1, got ${alpha}.`, {
      hint: 'Use e.g. --alpha 0.05 for a 95% interval.',
    });
  }
  return alpha;
}

export function checkRange(range: readonly [number, number]): [number, number] {
  const [a, b] = range;
  if (!Number.isFinite(a) || !Number.isFinite(b) || !(a <= b)) {
    throw new OffpolicyError('E_RANGE', `The value range [${a}, ${b}] must be finite with lower <= upper.`, {
      hint: 'Derive it with termRange(estimator, { rewardRange, maxWeight }) or pass it explicitly.',
    });
  }
  return [a, b];
}

export function checkRows(n: number, min: number, method: string): void {
  if (!(n >= min)) {
    throw new OffpolicyError('E_TOO_FEW_ROWS', `A ${method} interval needs at least ${min} rows, got ${n}.`, {
      hint: 'Evaluate on a larger log.',
    });
  }
}

/**
 * Hoeffding and Bernstein bound a MEAN of bounded i.i.d. terms. Self-normalized
 * estimators (SNIPS, SNDR: a ratio of sums, or a mean plus a ratio) are not such a
 * mean; refuse them rather than give a bound that does not hold.
 */
export function requirePlainMean(s: MergeableSums, method: string, label: string): void {
  if (s.sumDen !== s.n || s.sumDen2 !== s.n || s.sumBase2 !== 0) {
    throw new OffpolicyError('E_INTERVAL_UNSUPPORTED', `${method} intervals bound a mean of bounded row terms, but ${label} is a self-normalized ratio of sums.`, {
      hint: 'Use --interval t or --interval bootstrap for SNIPS and SNDR.',
    });
  }
}

/** Mean and unbiased sample variance (divisor n - 1) of the num terms of a plain mean. */
export function meanAndVariance(s: MergeableSums): { mean: number; variance: number } {
  const mean = s.sumNum / s.n;
  const variance = s.n > 1 ? Math.max(0, (s.sumNum2 - s.n * mean * mean) / (s.n - 1)) : 0;
  return { mean, variance };
}

/**
 * Intersects an interval with the feasible range of the quantity it bounds (a
 * policy value lies in the reward range; a discounted return in
 * feasibleValueRange): the true value lies there, so coverage is unchanged.
 * When an end moves, the interval records the range in `clippedTo`.
 */
export function clipToRange(iv: Interval, range: readonly [number, number] | undefined): Interval {
  if (!range) return iv;
  const [lo, hi] = range;
  const lower = Math.min(Math.max(iv.lower, lo), hi);
  const upper = Math.max(Math.min(iv.upper, hi), lo);
  if (lower === iv.lower && upper === iv.upper) return iv;
  return { ...iv, lower, upper, clippedTo: [lo, hi] };
}
