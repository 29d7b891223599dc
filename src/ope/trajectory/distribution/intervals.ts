/**
 * Percentile-bootstrap intervals for cumulative-distribution OPE, over EPISODES
 * (the unit of every trajectory interval, ../intervals.ts, whose draws these
 * reuse: same seed, same draws as the value estimators' bootstrap).
 *
 * On each resample the whole CDF is re-estimated by the same estimator from the
 * drawn episodes (estimators.ts: episode masses times their multiplicities;
 * CD-SNIS re-normalised by the drawn weights; CD-DR / CD-DM reuse the model
 * built from the already-fitted Q / V predictions, no refit), projected exactly
 * as the estimate is (statistics.ts: isotonic, clipped, 1 at the last grid
 * point), and its mean, variance, CVaR and quantiles derived. Each statistic's
 * interval is the (alpha/2, 1 - alpha/2) percentile of its resampled values;
 * the CDF band is the same percentile at each grid point (pointwise, not a
 * simultaneous band). The grid stays the one from the full data.
 *
 * Assumes the episodes are i.i.d. Percentile intervals for quantiles and CVaR
 * (non-smooth statistics, read off a discrete grid) are approximate, loosest at
 * small n and in the tails. A resample whose raw CDF has no mass (every drawn
 * weight 0) has no statistics: it is left out and counted (emptyResamples).
 */
import { OffpolicyError } from '../../../core/errors.js';
import type { ReturnDistributionIntervals, StatisticBounds } from '../../../core/trajectory-evaluation-result.js';
import { sortedQuantile } from '../../intervals/bootstrap.js';
import { checkAlpha } from '../../intervals/common.js';
import { checkResamples, resampleEpisodes } from '../intervals.js';
import { rawCdf, type EpisodeMasses } from './estimators.js';
import { distributionStatistics, projectCdf } from './statistics.js';

export interface DistributionIntervalOptions {
  /** Miscoverage: the (alpha/2, 1 - alpha/2) percentiles. */
  alpha: number;
  seed: number;
  /** Default DEFAULT_RESAMPLES (1000). */
  resamples?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Bootstrap intervals of several estimates on the same episodes (one draw per resample shared by all); null where no resample had mass. */
export function distributionIntervals(
  grid: Float64Array,
  masses: readonly EpisodeMasses[],
  cvarAlpha: number,
  levels: readonly number[],
  opts: DistributionIntervalOptions,
): (ReturnDistributionIntervals | null)[] {
  const alpha = checkAlpha(opts.alpha);
  const R = checkResamples(opts.resamples);
  if (masses.length === 0) return [];
  const n = masses[0]!.start.length - 1;
  if (n < 2) {
    throw new OffpolicyError('E_TOO_FEW_ROWS', `Bootstrap intervals of the return distribution resample episodes and need at least 2, got ${n}.`, {
      hint: 'Evaluate on more episodes, or leave the intervals out (distribution.intervals: false, --no-cdf-intervals).',
    });
  }
  const J = grid.length;
  const L = levels.length;
  const reps = masses.map(() => ({
    valid: 0,
    mean: new Float64Array(R),
    variance: new Float64Array(R),
    cvar: new Float64Array(R),
    quantiles: Array.from({ length: L }, () => new Float64Array(R)),
    cdf: Array.from({ length: J }, () => new Float64Array(R)),
  }));
  resampleEpisodes(
    n,
    R,
    opts.seed,
    (counts) => {
      masses.forEach((m, e) => {
        const raw = rawCdf(m, counts);
        if (!raw.some((x) => x !== 0)) return;
        const F = projectCdf(raw);
        const s = distributionStatistics(grid, F, cvarAlpha, levels);
        const r = reps[e]!;
        const v = r.valid++;
        r.mean[v] = s.mean;
        r.variance[v] = s.variance;
        r.cvar[v] = s.cvar;
        for (let l = 0; l < L; l++) r.quantiles[l]![v] = s.quantiles[l]!.value;
        for (let j = 0; j < J; j++) r.cdf[j]![v] = F[j]!;
      });
    },
    opts.onProgress,
  );
  return reps.map((r) => {
    if (r.valid === 0) return null;
    const bounds = (x: Float64Array): StatisticBounds => {
      const sorted = x.subarray(0, r.valid).sort();
      return { lower: sortedQuantile(sorted, alpha / 2), upper: sortedQuantile(sorted, 1 - alpha / 2) };
    };
    const band = r.cdf.map(bounds);
    return {
      mean: bounds(r.mean),
      variance: bounds(r.variance),
      cvar: bounds(r.cvar),
      quantiles: levels.map((level, l) => ({ level, ...bounds(r.quantiles[l]!) })),
      cdf: { lower: band.map((b) => b.lower), upper: band.map((b) => b.upper) },
      emptyResamples: R - r.valid,
    };
  });
}
