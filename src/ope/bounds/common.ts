/**
 * Shared plumbing of the PAC-Bayes certificates.
 *
 * Scale. The three theorems are stated for a cost c in [-1, 0] and a risk
 * R(pi) = E[c]. Rewards in [rmin, rmax] are rescaled to r' = (r - rmin) / (rmax - rmin)
 * in [0, 1] and c = -r'. Since every candidate's probabilities sum to 1, the value
 * is V(pi) = rmin + (rmax - rmin) * (-R(pi)); an upper bound U on R gives the value
 * lower bound rmin + (rmax - rmin) * (-U), and a lower bound on R an upper bound on V.
 * Bounds are finally intersected with [rmin, rmax], which holds the value anyway.
 *
 * KL. For a fixed, deterministic-in-the-data candidate the posterior is a point
 * mass equal to the prior, so KL(Q || P) = 0; `kl` may be given for a learned
 * stochastic policy whose posterior is known.
 *
 * Sums. Each certificate is computed in two steps: per-row terms summed over the
 * log (in JS from a BanditBatch, or as DuckDB aggregates on the pushdown path),
 * then the bound from those sums (the *FromSums functions), so both paths share
 * the math. Reward terms are summed as (r - shift) for a constant shift chosen
 * before the sums (the lower end of the reward range when known, else any value
 * near it): the rescaling r' = (r - rmin) / (rmax - rmin) is applied afterwards,
 * exactly when shift = rmin and without cancellation when it is close.
 */
import { dataError, OffpolicyError } from '../../core/errors.js';
import type { BanditBatch } from '../estimators/types.js';

export interface BoundOptions {
  /** The bound holds with probability >= 1 - delta. */
  delta: number;
  /** Range of the reward, for the rescaling to costs in [-1, 0]. */
  rewardRange: readonly [number, number];
  /** KL(Q || P); 0 for a fixed candidate (the default). */
  kl?: number;
}

export function checkDelta(delta: number): number {
  if (!(delta > 0 && delta < 1)) {
    throw new OffpolicyError('E_DELTA', `The confidence parameter delta must lie strictly between 0 and 1, got ${delta}.`, {
      hint: 'Use e.g. 0.05 for a bound that holds with probability 95%.',
    });
  }
  return delta;
}

export function checkKl(kl: number | undefined): number {
  const v = kl ?? 0;
  if (!(v >= 0) || !Number.isFinite(v)) {
    throw new OffpolicyError('E_KL', `KL(Q || P) must be a finite number >= 0, got ${v}.`, { hint: 'Use 0 for a fixed candidate policy.' });
  }
  return v;
}

/** The reward range must be finite with min < max. */
export function checkRewardRange(range: readonly [number, number]): void {
  const [lo, hi] = range;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi)) {
    throw new OffpolicyError('E_RANGE', `The reward range [${lo}, ${hi}] must be finite with min < max.`, {
      hint: 'Pass --reward-range MIN,MAX (for click data: 0,1).',
    });
  }
}

/** The data error for `count` rewards outside the range (rows: the first few 0-based row positions). */
export function rewardRangeError(range: readonly [number, number], count: number, rows: readonly number[]): OffpolicyError {
  return dataError('E_REWARD_RANGE', `reward in [${range[0]}, ${range[1]}]`, count, rows, 'Certificates need bounded rewards: widen --reward-range or fix the rewards.');
}

/** Throws E_REWARD_RANGE when a reward lies outside the range (NaN counts as outside). */
export function checkRewardsInRange(b: BanditBatch, range: readonly [number, number]): void {
  checkRewardRange(range);
  const [lo, hi] = range;
  const bad: number[] = [];
  let count = 0;
  for (let i = 0; i < b.n; i++) {
    const r = b.rewards[i]!;
    if (!(r >= lo && r <= hi)) {
      count++;
      if (bad.length < 5) bad.push(i);
    }
  }
  if (count > 0) throw rewardRangeError(range, count, bad);
}

/** Rescaled rewards r' = (r - rmin) / (rmax - rmin) in [0, 1]; a data error lists rows outside the range. */
export function rescaledRewards(b: BanditBatch, range: readonly [number, number]): Float64Array {
  checkRewardsInRange(b, range);
  const [lo, hi] = range;
  const out = new Float64Array(b.n);
  for (let i = 0; i < b.n; i++) out[i] = (b.rewards[i]! - lo) / (hi - lo);
  return out;
}

/**
 * (1/n) sum_i r'_i x_i from S1 = sum (r_i - shift) x_i and S0 = sum x_i, where
 * r' = (r - rmin) / D: (S1 - (rmin - shift) S0) / (D n).
 */
export function rescaledMean(range: readonly [number, number], shift: number, n: number, sumShiftedX: number, sumX: number): number {
  const [lo, hi] = range;
  return (sumShiftedX - (lo - shift) * sumX) / ((hi - lo) * n);
}

export function requireRows(n: number): void {
  if (!(n >= 1)) {
    throw new OffpolicyError('E_TOO_FEW_ROWS', 'A certificate needs at least one logged row, got 0.', { hint: 'Evaluate on a non-empty log.' });
  }
}

/** Maps a risk interval (on c = -r' in [-1, 0]) to the value scale, intersected with [rmin, rmax]. */
export function riskToValue(range: readonly [number, number], riskUpper: number, riskLower?: number): { lower: number; upper?: number } {
  const [lo, hi] = range;
  const D = hi - lo;
  const lower = Math.max(lo, lo + D * -riskUpper);
  if (riskLower === undefined) return { lower };
  return { lower, upper: Math.min(hi, lo + D * -riskLower) };
}
