/**
 * Cumulative-distribution OPE of trajectory candidates: which estimators exist,
 * the options and their checks, and the entry points the evaluation calls
 * (estimators.ts has the formulas, grid.ts the grid and fractional bins,
 * statistics.ts the projection and the statistics).
 */
import { OffpolicyError } from '../../../core/errors.js';
import { DEFAULT_RESAMPLES } from '../../intervals/bootstrap.js';
import type { ReturnDistributionEstimate, ReturnDistributionResult, ReturnDistributionSettings } from '../../../core/trajectory-evaluation-result.js';
import type { ResolvedCandidate } from '../candidates.js';
import type { QPredictions } from '../score.js';
import { trajectoryWeights } from '../weights.js';
import type { Warning } from '../../../core/evaluation-result.js';
import { discountedReturns, type TrajectoryOpeData } from '../data.js';
import type { TrajectoryWeights } from '../weights.js';
import { cdDmMasses, cdDrMasses, cdIsMasses, cdSnisMasses, empiricalMasses, locationShiftModel, rawCdf, type EpisodeMasses, type ReturnToGoModel } from './estimators.js';
import { distributionIntervals, type DistributionIntervalOptions } from './intervals.js';
import { checkCdfBins, checkGrid, DEFAULT_CDF_BINS, returnGrid } from './grid.js';
import { checkCvarAlpha, checkQuantileLevels, DEFAULT_CVAR_ALPHA, DEFAULT_QUANTILE_LEVELS, distributionEstimate } from './statistics.js';

export { DEFAULT_CDF_BINS, returnGrid, addAtom } from './grid.js';
export { DEFAULT_CVAR_ALPHA, DEFAULT_QUANTILE_LEVELS, distributionStatistics, projectCdf, isotonic } from './statistics.js';
export { cdIsRaw, cdSnisRaw, cdDrRaw, cdDmRaw, empiricalRaw, locationShiftModel, zeroReturnModel, returnsToGo, rawCdf, type EpisodeMasses, type ReturnToGoModel } from './estimators.js';
export { distributionIntervals, type DistributionIntervalOptions } from './intervals.js';

export type DistributionEstimatorId = 'cd-is' | 'cd-snis' | 'cd-dr' | 'cd-dm';

export const DISTRIBUTION_ESTIMATORS: Readonly<Record<DistributionEstimatorId, { label: string; needsWeights: boolean; needsModel: boolean; reference: string }>> = {
  'cd-is': { label: 'CD-IS', needsWeights: true, needsModel: false, reference: 'Chandak et al. 2021' },
  'cd-snis': { label: 'CD-SNIS', needsWeights: true, needsModel: false, reference: 'Chandak et al. 2021' },
  'cd-dr': { label: 'CD-DR', needsWeights: true, needsModel: true, reference: 'Huang, Leqi, Lipton & Azizzadenesheli 2022' },
  'cd-dm': { label: 'CD-DM', needsWeights: false, needsModel: true, reference: 'Huang et al. 2021 (its model part)' },
};

export const DISTRIBUTION_ESTIMATOR_IDS = Object.keys(DISTRIBUTION_ESTIMATORS) as DistributionEstimatorId[];

/** The cumulative-distribution options of an evaluation. */
export interface DistributionOptions {
  /** Estimator ids (cd-is, cd-snis, cd-dr, cd-dm), or ['all']. */
  estimators: readonly string[];
  /** Grid points when the returns have more distinct values (default 100). */
  bins?: number;
  /** An explicit grid of returns (strictly increasing) instead of one from the data. */
  grid?: readonly number[];
  /** Lower-tail CVaR level in (0, 1) (default 0.1). */
  cvarAlpha?: number;
  /** Quantile levels in (0, 1), sorted and deduplicated (default 0.1, 0.25, 0.5, 0.75, 0.9). */
  quantileLevels?: readonly number[];
  /**
   * Bootstrap intervals of the statistics and a CDF band (./intervals.ts): true computes them whatever the
   * evaluation's interval method, false never; unset, they are computed when the interval method is 'bootstrap'.
   */
  intervals?: boolean;
}

export interface CheckedDistributionOptions {
  estimators: DistributionEstimatorId[];
  bins: number;
  grid: Float64Array | null;
  cvarAlpha: number;
  quantileLevels: number[];
  intervals?: boolean;
}

export function checkDistributionOptions(o: DistributionOptions): CheckedDistributionOptions {
  const asked = o.estimators.length === 1 && o.estimators[0]!.trim().toLowerCase() === 'all' ? DISTRIBUTION_ESTIMATOR_IDS : o.estimators;
  const ids = asked.map((id) => {
    const k = id.trim().toLowerCase();
    if (!(k in DISTRIBUTION_ESTIMATORS)) {
      throw new OffpolicyError('E_UNKNOWN_ESTIMATOR', `Unknown cumulative-distribution estimator "${id}".`, { hint: `Distribution estimators: ${DISTRIBUTION_ESTIMATOR_IDS.join(', ')}.` });
    }
    return k as DistributionEstimatorId;
  });
  if (ids.length === 0) throw new OffpolicyError('E_NO_ESTIMATORS', 'No cumulative-distribution estimators were requested.', { hint: `Pass some of ${DISTRIBUTION_ESTIMATOR_IDS.join(', ')}.` });
  return {
    estimators: [...new Set(ids)],
    bins: checkCdfBins(o.bins ?? DEFAULT_CDF_BINS),
    grid: o.grid ? checkGrid(o.grid) : null,
    cvarAlpha: checkCvarAlpha(o.cvarAlpha ?? DEFAULT_CVAR_ALPHA),
    quantileLevels: checkQuantileLevels(o.quantileLevels ?? DEFAULT_QUANTILE_LEVELS),
    ...(o.intervals !== undefined ? { intervals: checkIntervalsFlag(o.intervals) } : {}),
  };
}

function checkIntervalsFlag(x: unknown): boolean {
  if (typeof x !== 'boolean') {
    throw new OffpolicyError('E_CDF_INTERVALS', `distribution.intervals must be true or false, got ${JSON.stringify(x)}.`, {
      hint: 'Leave it unset to compute the intervals when the interval method is bootstrap (--cdf-intervals / --no-cdf-intervals on the CLI).',
    });
  }
  return x;
}

/**
 * Whether the statistics get bootstrap intervals: as asked (distribution.intervals), else when the
 * evaluation's interval method is 'bootstrap' and there are at least 2 episodes to resample.
 */
export function wantsDistributionIntervals(o: CheckedDistributionOptions, method: string, episodes: number): boolean {
  return o.intervals ?? (method === 'bootstrap' && episodes >= 2);
}

const specOf = (id: string) => (id.trim().toLowerCase() === 'all' ? { needsWeights: true, needsModel: true } : DISTRIBUTION_ESTIMATORS[id.trim().toLowerCase() as DistributionEstimatorId]);
export const distributionNeedsWeights = (ids: readonly string[]): boolean => ids.some((id) => specOf(id)?.needsWeights);
export const distributionNeedsModel = (ids: readonly string[]): boolean => ids.some((id) => specOf(id)?.needsModel);

/** The grid of an evaluation: the explicit one, or one from the logged returns (grid.ts). */
export function distributionGrid(d: TrajectoryOpeData, o: CheckedDistributionOptions): { grid: Float64Array; rule: string } {
  return o.grid ? { grid: o.grid, rule: 'given' } : returnGrid(discountedReturns(d), o.bins);
}

/** The behaviour policy's empirical return CDF on the grid (the logged episodes, on-policy). */
export function behaviourDistribution(d: TrajectoryOpeData, grid: Float64Array, o: CheckedDistributionOptions, intervals?: DistributionIntervalOptions): ReturnDistributionEstimate {
  return withIntervals(grid, o, [{ id: 'behaviour', masses: empiricalMasses(d, grid) }], intervals)[0]!;
}

/** Estimates from episode masses, with their bootstrap intervals when `intervals` is given. */
function withIntervals(grid: Float64Array, o: CheckedDistributionOptions, items: readonly { id: string; masses: EpisodeMasses }[], intervals?: DistributionIntervalOptions): ReturnDistributionEstimate[] {
  const estimates = items.map((it) => distributionEstimate(it.id, grid, rawCdf(it.masses), o.cvarAlpha, o.quantileLevels));
  if (!intervals) return estimates;
  const ivs = distributionIntervals(grid, items.map((it) => it.masses), o.cvarAlpha, o.quantileLevels, intervals);
  return estimates.map((e, k) => (ivs[k] && e.mean !== null ? { ...e, intervals: ivs[k]! } : e));
}

/** CD-IS's (and CD-DR's) raw CDF ends at its total mass; far from 1, the projection decides much of the distribution. */
export const CDF_MASS_TOLERANCE = 0.2;

export function distributionWarnings(estimates: readonly ReturnDistributionEstimate[], candidate: string): Warning[] {
  const out: Warning[] = [];
  for (const e of estimates) {
    const empty = e.intervals?.emptyResamples ?? 0;
    if (empty > 0) {
      out.push({
        code: 'CDF_EMPTY_RESAMPLES',
        message: `${e.estimator.toUpperCase()} of "${candidate}": ${empty} bootstrap resamples drew only episodes of weight 0 (no distribution); they were left out, so its intervals describe only resamples that drew a weighted episode: few episodes carry the weight.`,
      });
    }
    if ((e.estimator === 'cd-is' || e.estimator === 'cd-dr') && Math.abs(e.totalMass - 1) > CDF_MASS_TOLERANCE) {
      out.push({
        code: 'CDF_MASS',
        message:
          `${e.estimator.toUpperCase()} of "${candidate}": the raw CDF ends at ${e.totalMass.toPrecision(3)} instead of 1${e.estimator === 'cd-is' ? ' (the mean trajectory weight)' : ''}, ` +
          `so the projection ${e.totalMass < 1 ? `puts ${(1 - e.totalMass).toPrecision(3)} of the probability on the largest return` : 'cuts the excess'}: its mean, variance and upper quantiles lean on that. CD-SNIS is a distribution by construction.`,
      });
    }
  }
  return out;
}

/** One candidate's CDF estimates on the grid; `weights` for CD-IS / SNIS / DR, `model` for CD-DR / DM. */
export function candidateDistributions(
  d: TrajectoryOpeData,
  grid: Float64Array,
  o: CheckedDistributionOptions,
  x: { weights: TrajectoryWeights | null; model: ReturnToGoModel | null; candidate: string },
  intervals?: DistributionIntervalOptions,
): ReturnDistributionEstimate[] {
  const items = o.estimators.map((id) => {
    const spec = DISTRIBUTION_ESTIMATORS[id];
    if (spec.needsWeights && !x.weights) {
      throw new OffpolicyError('E_NO_WEIGHTS', `${spec.label} needs importance weights for candidate "${x.candidate}", but it gives no action probabilities.`, { hint: 'Use --distribution cd-dm, or give the candidate\'s probabilities.' });
    }
    if (spec.needsModel && !x.model) {
      throw new OffpolicyError('E_NO_Q', `${spec.label} needs Q predictions for candidate "${x.candidate}" (its model of the return's distribution is V(s_t) plus residual noise), and none were given.`, {
        hint: 'Fit Q by fitted Q evaluation, give Q columns (--reward-model columns:q_0,...), or use cd-is / cd-snis.',
      });
    }
    const masses =
      id === 'cd-is' ? cdIsMasses(d, x.weights!, grid)
      : id === 'cd-snis' ? cdSnisMasses(d, x.weights!, grid)
      : id === 'cd-dr' ? cdDrMasses(d, x.weights!, x.model!, grid)
      : cdDmMasses(d, x.model!, grid);
    return { id, masses };
  });
  return withIntervals(grid, o, items, intervals);
}

/**
 * One candidate's return distributions in an evaluation: its weights (as the
 * value estimators compute them, clip included), the location-shift model from its
 * Q predictions when CD-DR / CD-DM are asked for, the estimates and their warnings.
 */
export function scoreCandidateDistribution(
  d: TrajectoryOpeData,
  grid: Float64Array,
  o: CheckedDistributionOptions,
  cand: Pick<ResolvedCandidate, 'name' | 'targetLogprob' | 'refusal'>,
  q: QPredictions | null,
  clip?: number,
  intervals?: DistributionIntervalOptions,
): { result: ReturnDistributionResult; warnings: Warning[]; model?: string } {
  const needW = distributionNeedsWeights(o.estimators);
  if (needW && !cand.targetLogprob && cand.refusal) throw cand.refusal;
  const weights = needW && cand.targetLogprob ? trajectoryWeights(d, cand.targetLogprob, clip) : null;
  const model = q && distributionNeedsModel(o.estimators) ? locationShiftModel(d, q.vState, `${q.source} V(s_t) + centred step-t residuals of the logged returns-to-go`) : null;
  const estimates = candidateDistributions(d, grid, o, { weights, model, candidate: cand.name }, intervals);
  return { result: { grid: Array.from(grid), estimates }, warnings: distributionWarnings(estimates, cand.name), ...(model ? { model: model.source } : {}) };
}

/** The evaluation-wide part: grid, settings and the behaviour policy's empirical CDF. */
export function returnDistributionSettings(d: TrajectoryOpeData, grid: { grid: Float64Array; rule: string }, o: CheckedDistributionOptions, model?: string, intervals?: DistributionIntervalOptions): ReturnDistributionSettings {
  return {
    estimators: o.estimators,
    grid: Array.from(grid.grid),
    bins: o.bins,
    gridRule: grid.rule,
    cvarAlpha: o.cvarAlpha,
    quantileLevels: o.quantileLevels,
    ...(model ? { model } : {}),
    behaviour: behaviourDistribution(d, grid.grid, o, intervals),
    ...(intervals ? { intervals: { method: 'bootstrap' as const, alpha: intervals.alpha, resamples: intervals.resamples ?? DEFAULT_RESAMPLES, seed: intervals.seed } } : {}),
  };
}
