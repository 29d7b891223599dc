/**
 * The interval methods that read rows rather than sums (betting, empirical
 * likelihood), for several estimators over the same rows, with the reason when a
 * method does not apply to an estimator:
 *
 *   betting               IPS: the off-policy form (weights and rewards; no weight bound);
 *                         other plain means with a term range: the bounded-mean form;
 *                         self-normalized estimators (SNIPS, SNDR): none (a ratio of sums).
 *   empirical-likelihood  IPS and SNIPS (one interval for V = E[w r] under E[w] = 1); none
 *                         for the others (their terms involve clipping, smoothing or a
 *                         reward model, which the E[w] = 1 likelihood does not describe).
 */
import { OffpolicyError } from '../../core/errors.js';
import type { Interval, IntervalMethod } from '../../core/evaluation-result.js';
import type { RowTerms } from '../estimators/types.js';
import { bettingIpsInterval, bettingMeanInterval, type BettingHorizon } from './betting.js';
import { empiricalLikelihoodInterval, type ElCalibration } from './empirical-likelihood.js';
import type { RowOrder } from './row-inputs.js';

/** Interval methods that need the rows in memory (no sums-only / SQL path). */
export type RowIntervalMethod = 'bootstrap' | 'betting' | 'empirical-likelihood';

export function needsRows(method: IntervalMethod): method is RowIntervalMethod {
  return method === 'bootstrap' || method === 'betting' || method === 'empirical-likelihood';
}

export interface RowMethodRequest {
  method: 'betting' | 'empirical-likelihood';
  alpha: number;
  /** Estimator id of each entry (ips, snips, dr, ...). */
  estimators?: readonly string[];
  /** Range of each entry's row terms (termRange), null for self-normalized estimators. */
  ranges?: readonly ([number, number] | null)[];
  /** The logged importance weights and rewards behind the terms (IPS betting, EL). */
  weights?: ArrayLike<number>;
  rewards?: ArrayLike<number>;
  rewardRange?: readonly [number, number];
  /** EL: the largest possible weight (e.g. 1 / smallest propensity). */
  maxWeight?: number;
  calibration?: ElCalibration;
  /** Betting: row order (default a permutation seeded by `seed`, default 0) and horizon. */
  order?: RowOrder;
  seed?: number;
  horizon?: BettingHorizon;
  /**
   * Told why entry j gets no interval (the reason does not name the estimator). When given, an OffpolicyError raised for one
   * entry (e.g. terms outside their range) is reported here and that entry is null;
   * without it the error is thrown.
   */
  onUnsupported?: (index: number, reason: string) => void;
}

const EL_ESTIMATORS = ['ips', 'snips'];

export function rowMethodIntervals(terms: readonly RowTerms[], req: RowMethodRequest): (Interval | null)[] {
  const skip = (j: number, reason: string): null => {
    req.onUnsupported?.(j, reason);
    return null;
  };
  const offPolicy = req.weights !== undefined && req.rewards !== undefined && req.rewardRange !== undefined;
  let el: Interval | null = null;
  const one = (t: RowTerms, j: number): Interval | null => {
    const id = req.estimators?.[j];
    if (req.method === 'betting') {
      const opts = { alpha: req.alpha, ...(req.order ? { order: req.order } : {}), seed: req.seed ?? 0, ...(req.horizon ? { horizon: req.horizon } : {}) };
      if (t.den || t.base) return skip(j, 'betting intervals bound a mean of row terms, and a self-normalized estimator is a ratio of sums (use t or bootstrap for it).');
      if (id === 'ips' && offPolicy) return bettingIpsInterval(req.weights!, req.rewards!, req.rewardRange!, opts);
      const range = req.ranges?.[j] ?? null;
      if (range === null) return skip(j, 'betting intervals need a known range of the row terms, and none was given.');
      return bettingMeanInterval(t.num, range, opts);
    }
    if (id === undefined || !EL_ESTIMATORS.includes(id)) return skip(j, 'empirical-likelihood intervals (with E[w] = 1) apply to ips and snips only.');
    if (!offPolicy || req.maxWeight === undefined) return skip(j, 'empirical-likelihood intervals need the logged weights, rewards, reward range and largest weight, and they were not given.');
    el ??= empiricalLikelihoodInterval(req.weights!, req.rewards!, {
      alpha: req.alpha,
      rewardRange: req.rewardRange!,
      maxWeight: req.maxWeight,
      ...(req.calibration ? { calibration: req.calibration } : {}),
    }).interval;
    return el;
  };
  return terms.map((t, j) => {
    if (!req.onUnsupported) return one(t, j);
    try {
      return one(t, j);
    } catch (e) {
      if (!(e instanceof OffpolicyError)) throw e;
      return skip(j, e.message);
    }
  });
}
