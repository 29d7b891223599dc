/**
 * Intervals over episodes for the trajectory estimators, reusing the bandit
 * interval methods (src/ope/intervals) on the per-episode terms:
 *
 *   t          estimate +- t_{1-alpha/2, n-1} s / sqrt(n) over the g_i (delta method for SN, see estimators/types.ts)
 *   bootstrap  percentile (alpha/2, 1 - alpha/2) over resampled EPISODES; self-normalised
 *              estimators are re-estimated on every resample (their normalisers too)
 *   hoeffding, bernstein, betting   for plain means only (not SN), with an explicit range [a, b] of g_i:
 *              no range can be derived for importance-weighted terms without a bound on the weights
 *
 * Every interval is two-sided and intersected with the feasible value range
 * (valueRange), where the true value lies.
 */
import { OffpolicyError } from '../../core/errors.js';
import { Rng } from '../../util/rng.js';
import { bernsteinInterval } from '../intervals/bernstein.js';
import { bettingMeanInterval } from '../intervals/betting.js';
import { DEFAULT_RESAMPLES, sortedQuantile } from '../intervals/bootstrap.js';
import { checkAlpha, checkRange, checkRows, clipToRange } from '../intervals/common.js';
import { hoeffdingInterval } from '../intervals/hoeffding.js';
import { tInterval } from '../intervals/t.js';
import { sumsFromTerms, type MergeableSums } from '../sums.js';
import type { Interval, IntervalMethod } from '../../core/evaluation-result.js';
import { resampledValue, type TrajectoryEstimator, type TrajectoryTermsInput } from './estimators/index.js';
import type { TrajectoryOpeData } from './data.js';

export interface TrajectoryIntervalOptions {
  method: IntervalMethod;
  alpha: number;
  /** Bootstrap. */
  seed?: number;
  resamples?: number;
  /** Hoeffding / Bernstein: the range of the per-episode terms g_i, per estimator id (or one for all). */
  termRange?: readonly [number, number] | Readonly<Record<string, readonly [number, number]>>;
  /** Intervals are intersected with this range of possible values. */
  valueRange?: readonly [number, number];
  onProgress?: (done: number, total: number) => void;
}

/** One estimator's input for the interval: its terms and (for the bootstrap) how to re-estimate. */
export interface IntervalItem {
  estimator: TrajectoryEstimator;
  input: TrajectoryTermsInput;
  terms: Float64Array;
}

/**
 * The feasible range of a policy value from bounds on the reward: every return
 * lies in [min(0, rmin) S, max(0, rmax) S], S = sum_{t < H} gamma^t (episodes may
 * end early with reward 0 after).
 */
export function feasibleValueRange(rewardRange: readonly [number, number], gamma: number, horizon: number): [number, number] {
  const [lo, hi] = checkRange(rewardRange);
  const S = gamma === 1 ? horizon : (1 - gamma ** horizon) / (1 - gamma);
  return [Math.min(0, lo) * S, Math.max(0, hi) * S];
}

/** The observed reward range of the data. */
export function observedRewardRange(d: TrajectoryOpeData): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of d.rewards) {
    if (r < lo) lo = r;
    if (r > hi) hi = r;
  }
  return [lo, hi];
}

function rangeFor(opts: TrajectoryIntervalOptions, id: string): readonly [number, number] | undefined {
  const r = opts.termRange;
  if (!r) return undefined;
  if (Array.isArray(r)) return r as readonly [number, number];
  return (r as Readonly<Record<string, readonly [number, number]>>)[id];
}

/** Intervals for several estimators over the same episodes; null where a method does not apply (Hoeffding / Bernstein on SN). */
export function trajectoryIntervals(items: readonly IntervalItem[], opts: TrajectoryIntervalOptions): (Interval | null)[] {
  const alpha = checkAlpha(opts.alpha);
  if (items.length === 0) return [];
  const n = items[0]!.terms.length;
  switch (opts.method) {
    case 't':
    case 'hoeffding':
    case 'bernstein':
      return items.map((it) => {
        // self-normalised terms (estimate + influence) can have a variance ~1e-12 of their square: centre them first
        const shift = opts.method === 't' && it.estimator.selfNormalized ? it.terms.reduce((a, b) => a + b, 0) / it.terms.length : 0;
        const num = shift === 0 ? it.terms : it.terms.map((g) => g - shift);
        return intervalFromSums(it.estimator, sumsFromTerms({ num, den: null, base: null }), opts, shift);
      });
    case 'betting':
      return items.map((it) => {
        if (it.estimator.selfNormalized) return null;
        const range = requireRange(opts, it.estimator);
        return clipToRange(bettingMeanInterval(it.terms, range, { alpha, seed: opts.seed ?? 0 }), opts.valueRange);
      });
    case 'empirical-likelihood':
      throw new OffpolicyError('E_INTERVAL_UNSUPPORTED', 'Empirical-likelihood intervals are for bandit IPS / SNIPS (they use the constraint E[w] = 1 on single-step weights), not for trajectory estimators.', {
        hint: 'Use --interval t, bootstrap or betting (with a term range).',
      });
    case 'bootstrap': {
      if (opts.seed === undefined) {
        throw new OffpolicyError('E_SEED_REQUIRED', 'Bootstrap intervals are random and need a seed, but none was given.', { hint: 'Pass --seed N (any integer).' });
      }
      checkRows(n, 2, 'bootstrap');
      const reps = bootstrapEpisodes(items, checkResamples(opts.resamples), opts.seed, opts.onProgress);
      return reps.map((rep) => {
        const sorted = Float64Array.from(rep).sort();
        return clipToRange({ lower: sortedQuantile(sorted, alpha / 2), upper: sortedQuantile(sorted, 1 - alpha / 2), method: 'bootstrap', alpha }, opts.valueRange);
      });
    }
    case 'poisson-bootstrap':
      throw new OffpolicyError('E_INTERVAL_METHOD', 'The Poisson bootstrap resamples bandit rows by row id; trajectory intervals use t, hoeffding, bernstein or bootstrap.', {
        hint: 'Use --interval bootstrap (episodes resampled).',
      });
  }
}

/** The range [a, b] of an estimator's per-episode terms that a concentration interval needs (E_RANGE_REQUIRED without one). */
function requireRange(opts: TrajectoryIntervalOptions, estimator: TrajectoryEstimator): readonly [number, number] {
  const range = rangeFor(opts, estimator.id);
  if (!range) {
    const name = ({ hoeffding: 'Hoeffding', bernstein: 'Empirical Bernstein', betting: 'Betting' } as Record<string, string>)[opts.method] ?? opts.method;
    throw new OffpolicyError('E_RANGE_REQUIRED', `${name} intervals need the range [a, b] of ${estimator.label}'s per-episode terms, and none was given.`, {
      hint: 'Importance-weighted terms have no range without a bound on the weights: pass termRange (e.g. from a weight clip and the reward range), or use --interval t or bootstrap.',
    });
  }
  return range;
}

/**
 * A t, Hoeffding or Bernstein interval from the sums of an estimator's
 * per-episode terms (n, sum g, sum g^2).
 * For t, the sums may be of g_i - shift, the interval then moved by shift.
 * Null for Hoeffding / Bernstein on self-normalised estimators.
 */
export function intervalFromSums(estimator: TrajectoryEstimator, s: MergeableSums, opts: TrajectoryIntervalOptions, shift = 0): Interval | null {
  const alpha = checkAlpha(opts.alpha);
  if (opts.method === 't') {
    // shift: the sums are of g_i - shift (centred terms keep the variance's precision)
    const iv = tInterval(s, alpha);
    return clipToRange({ ...iv, lower: iv.lower + shift, upper: iv.upper + shift }, opts.valueRange);
  }
  if (opts.method !== 'hoeffding' && opts.method !== 'bernstein') {
    throw new OffpolicyError('E_INTERVAL_METHOD', `The ${opts.method} interval needs the per-episode terms, not their sums.`, { hint: 'Use t, hoeffding or bernstein here.' });
  }
  if (estimator.selfNormalized) return null;
  const range = requireRange(opts, estimator);
  const iv = opts.method === 'hoeffding' ? hoeffdingInterval(s, range, alpha, estimator.label) : bernsteinInterval(s, range, alpha, estimator.label);
  return clipToRange(iv, opts.valueRange);
}

/** The number of bootstrap resamples (default DEFAULT_RESAMPLES): an integer >= 2. */
export function checkResamples(resamples: number | undefined): number {
  const R = resamples ?? DEFAULT_RESAMPLES;
  if (!Number.isInteger(R) || R < 2) {
    throw new OffpolicyError('E_BOOTSTRAP_RESAMPLES', `The number of bootstrap resamples must be an integer >= 2, got ${R}.`, { hint: 'Use e.g. --resamples 1000.' });
  }
  return R;
}

/**
 * The episode bootstrap's draws: R times, n episodes drawn with replacement,
 * passed to `visit` as multiplicities (counts[i] = times episode i was drawn).
 * Seeded by `seed`: every caller with the same (n, R, seed) sees the same draws.
 */
export function resampleEpisodes(n: number, R: number, seed: number, visit: (counts: Float64Array, b: number) => void, onProgress?: (done: number, total: number) => void): void {
  const rng = new Rng(`trajectory-bootstrap:${seed}`);
  const counts = new Float64Array(n);
  const every = Math.max(1, Math.floor(R / 100));
  for (let b = 0; b < R; b++) {
    counts.fill(0);
    for (let j = 0; j < n; j++) counts[rng.int(n)]! += 1;
    visit(counts, b);
    if (onProgress && ((b + 1) % every === 0 || b + 1 === R)) onProgress(b + 1, R);
  }
}

/** R resampled estimates per estimator; every resample draws n episodes with replacement (one draw shared by all estimators). */
export function bootstrapEpisodes(items: readonly IntervalItem[], R: number, seed: number, onProgress?: (done: number, total: number) => void): Float64Array[] {
  const reps = items.map(() => new Float64Array(R));
  resampleEpisodes(
    items[0]!.terms.length,
    R,
    seed,
    (counts, b) =>
      items.forEach((it, e) => {
        reps[e]![b] = resampledValue(it.estimator, it.input, it.terms, counts);
      }),
    onProgress,
  );
  return reps;
}
