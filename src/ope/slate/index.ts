/**
 * Slate estimators (Open Bandit Pipeline's estimators_slate.py): per-slate terms,
 * value = their mean (OBP divides the sum over rows by the number of slates), and a
 * Student-t interval over the slates (slates are the i.i.d. units).
 */
import { OffpolicyError } from '../../core/errors.js';
import type { Estimate } from '../../core/evaluation-result.js';
import { tInterval } from '../intervals/t.js';
import { sumsFromTerms, sumsStdError } from '../sums.js';
import { cascadeDr } from './cascade-dr.js';
import { checkSlateData } from './data.js';
import { iips } from './iips.js';
import { rips } from './rips.js';
import { sips } from './sips.js';
import type { SlateData, SlateEstimatorId, SlateEstimatorSpec } from './types.js';

export const SLATE_ESTIMATORS: Readonly<Record<SlateEstimatorId, SlateEstimatorSpec>> = { sips, iips, rips, 'cascade-dr': cascadeDr };
export const SLATE_ESTIMATOR_IDS: readonly SlateEstimatorId[] = ['sips', 'iips', 'rips', 'cascade-dr'];

export function getSlateEstimator(id: string): SlateEstimatorSpec {
  const spec = (SLATE_ESTIMATORS as Record<string, SlateEstimatorSpec>)[id];
  if (!spec) {
    throw new OffpolicyError('E_UNKNOWN_ESTIMATOR', `Unknown slate estimator "${id}".`, { hint: `Use one of ${SLATE_ESTIMATOR_IDS.join(', ')}.` });
  }
  return spec;
}

export interface SlateEstimateOptions {
  /** Default: every estimator whose inputs are present. */
  estimators?: readonly string[];
  /** Miscoverage of the t interval (default 0.05). */
  alpha?: number;
}

/** The estimators whose inputs the data holds. */
export function availableSlateEstimators(d: SlateData): SlateEstimatorId[] {
  return SLATE_ESTIMATOR_IDS.filter((id) => {
    if (id === 'sips') return d.behaviour.pscore && d.evaluation.pscore;
    if (id === 'iips') return d.behaviour.itemPosition && d.evaluation.itemPosition;
    if (id === 'rips') return d.behaviour.cascade && d.evaluation.cascade;
    return d.behaviour.cascade && d.evaluation.cascade && d.qHat && d.evaluationActionDist && d.actions;
  });
}

/** Value, t interval and diagnostics (slates, stdError) of each requested estimator. */
export function estimateSlates(d: SlateData, opts: SlateEstimateOptions = {}): Estimate[] {
  const ids = opts.estimators && opts.estimators.length > 0 ? [...new Set(opts.estimators.map((e) => getSlateEstimator(e.trim()).id))] : availableSlateEstimators(d);
  if (ids.length === 0) {
    throw new OffpolicyError('E_MISSING_COLUMN', 'No slate estimator has its inputs: the log and candidate give none of pscore, pscore_item_position, pscore_cascade for both policies.', {
      hint: 'Give the logging and candidate probabilities in at least one of the three forms.',
    });
  }
  checkSlateData(d, ids);
  const alpha = opts.alpha ?? 0.05;
  return ids.map((id) => {
    const terms = SLATE_ESTIMATORS[id].terms(d);
    const sums = sumsFromTerms({ num: terms, den: null, base: null });
    const value = sums.sumNum / sums.n;
    return {
      estimator: id,
      value,
      ...(d.nSlates >= 2 ? { interval: tInterval(sums, alpha) } : {}),
      diagnostics: { slates: d.nSlates, slateLength: d.slateLength, ...(d.nSlates >= 2 ? { stdError: sumsStdError(sums) } : {}) },
    };
  });
}

export { slateDataFromRows, checkSlateData, type SlateRows } from './data.js';
export type { SlateData, SlateEstimatorId, SlateEstimatorSpec, SlatePscores } from './types.js';
