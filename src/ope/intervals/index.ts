/**
 * Interval methods, and one entry point that gives every estimator's interval
 * for a chosen method over the same rows.
 */
import { OffpolicyError } from '../../core/errors.js';
import type { RowTerms } from '../estimators/types.js';
import { sumsFromTerms } from '../sums.js';
import type { Interval, IntervalMethod } from '../../core/evaluation-result.js';
import { bernsteinInterval } from './bernstein.js';
import { bootstrapIntervals } from './bootstrap.js';
import { checkAlpha } from './common.js';
import { hoeffdingInterval } from './hoeffding.js';
import { poissonBootstrapIntervals } from './poisson-bootstrap.js';
import { rowMethodIntervals, type RowMethodRequest } from './row-methods.js';
import { tInterval } from './t.js';

export { bernsteinHalfWidth, bernsteinInterval } from './bernstein.js';
export { bootstrapIntervals, DEFAULT_MAX_UNITS, DEFAULT_RESAMPLES, sortedQuantile, type BootstrapOptions, type BootstrapResult } from './bootstrap.js';
export { hoeffdingHalfWidth, hoeffdingInterval } from './hoeffding.js';
export { tInterval } from './t.js';
export { bettingIpsInterval, bettingMeanInterval, DEFAULT_MAX_BET, type BettingHorizon, type BettingOptions } from './betting.js';
export { elCritical, empiricalLikelihoodInterval, empiricalLikelihoodMeanInterval, type ElCalibration, type EmpiricalLikelihoodOptions, type EmpiricalLikelihoodResult } from './empirical-likelihood.js';
export { rowMethodIntervals, type RowMethodRequest } from './row-methods.js';
export type { RowOrder } from './row-inputs.js';

export interface IntervalRequest extends Omit<RowMethodRequest, 'method' | 'alpha' | 'ranges'> {
  method: IntervalMethod;
  alpha: number;
  /** Bootstrap: seed (required), resamples, maxUnits, progress. */
  seed?: number;
  resamples?: number;
  maxUnits?: number;
  /** Poisson bootstrap: hash buckets (default 10,000) and the rows' ids (default 0 .. n-1). */
  buckets?: number;
  rowIds?: ArrayLike<number>;
  onProgress?: (done: number, total: number) => void;
  /**
   * Hoeffding / Bernstein: the range of each estimator's row terms (termRange in
   * estimators/range.ts, or the caller's override); null for self-normalized
   * estimators, which then get no interval (null) rather than a bound that does not hold.
   */
  ranges?: readonly ([number, number] | null)[];
  /** Estimator labels for error messages. */
  labels?: readonly string[];
}

/**
 * Intervals for several estimators' row terms (same rows), one per entry; null
 * where the method does not apply (Hoeffding / Bernstein on a ratio estimator).
 */
export function intervalsForTerms(terms: readonly RowTerms[], req: IntervalRequest): (Interval | null)[] {
  checkAlpha(req.alpha);
  switch (req.method) {
    case 't':
      return terms.map((t) => tInterval(sumsFromTerms(t), req.alpha));
    case 'bootstrap':
      if (req.seed === undefined) {
        throw new OffpolicyError('E_SEED_REQUIRED', 'Bootstrap intervals are random and need a seed, but none was given.', { hint: 'Pass --seed N (any integer).' });
      }
      return bootstrapIntervals(terms, {
        alpha: req.alpha,
        seed: req.seed,
        resamples: req.resamples,
        maxUnits: req.maxUnits,
        onProgress: req.onProgress,
      }).intervals;
    case 'poisson-bootstrap':
      if (req.seed === undefined) {
        throw new OffpolicyError('E_SEED_REQUIRED', 'Bootstrap intervals are random and need a seed, but none was given.', { hint: 'Pass --seed N (any integer).' });
      }
      return poissonBootstrapIntervals(terms, req.rowIds ?? null, {
        alpha: req.alpha,
        seed: req.seed,
        ...(req.resamples !== undefined ? { resamples: req.resamples } : {}),
        ...(req.buckets !== undefined ? { buckets: req.buckets } : {}),
        ...(req.onProgress ? { onProgress: req.onProgress } : {}),
      }).intervals.map((iv) => iv ?? null);
    case 'hoeffding':
    case 'bernstein':
      return terms.map((t, j) => {
        const range = req.ranges?.[j] ?? null;
        if (range === null) return null;
        const s = sumsFromTerms(t);
        const label = req.labels?.[j] ?? `estimator ${j}`;
        return req.method === 'hoeffding' ? hoeffdingInterval(s, range, req.alpha, label) : bernsteinInterval(s, range, req.alpha, label);
      });
    case 'betting':
    case 'empirical-likelihood':
      return rowMethodIntervals(terms, { ...req, method: req.method });
  }
}
