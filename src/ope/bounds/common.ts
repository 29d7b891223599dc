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
 */
import { dataError, OffpolicyError } from '../../errors.js';
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

/** Rescaled rewards r' = (r - rmin) / (rmax - rmin) in [0, 1]; a data error lists rows outside the range. */
export function rescaledRewards(b: BanditBatch, range: readonly [number, number]): Float64Array {
  const [lo, hi] = range;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi)) {
    throw new OffpolicyError('E_RANGE', `The reward range [${lo}, ${hi}] must be finite with min < max.`, {
      hint: 'Pass --reward-range MIN,MAX (for click data: 0,1).',
    });
  }
  const out = new Float64Array(b.n);
  const bad: number[] = [];
  let count = 0;
  for (let i = 0; i < b.n; i++) {
    const r = b.rewards[i]!;
    if (!(r >= lo && r <= hi)) {
      count++;
      if (bad.length < 5) bad.push(i);
    }
    out[i] = (r - lo) / (hi - lo);
  }
  if (count > 0) {
    throw dataError('E_REWARD_RANGE', `reward in [${lo}, ${hi}]`, count, bad, 'Certificates need bounded rewards: widen --reward-range or fix the rewards.');
  }
  return out;
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
