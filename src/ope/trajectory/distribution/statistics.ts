/**
 * From a raw CDF estimate on a grid to a distribution and its statistics.
 *
 * Projection: CD-IS is non-decreasing but its last value is the mean weight
 * (above or below 1); CD-DR can be neither monotone nor in [0, 1]. The raw values
 * are projected onto non-decreasing sequences (isotonic regression, pool
 * adjacent violators: the L2 projection), clipped to [0, 1] (clipping an
 * isotonic fit is the L2 projection onto non-decreasing sequences in [0, 1]),
 * and the distribution is completed at the top: F(g_last) = 1, so mass missing
 * below the largest return (or cut by the clip) sits on it (our choice: the
 * statistics need a distribution, and the largest logged return is the end of the
 * support the data show). Huang et al. 2021 also make the estimate monotone and
 * clip it to [0, 1]; SCOPE-RL does so by a running maximum instead of isotonic
 * regression.
 *
 * Statistics of the discrete distribution p_j = F(g_j) - F(g_{j-1}) (F(g_{-1}) = 0):
 *  - mean sum_j p_j g_j, variance sum_j p_j (g_j - mean)^2;
 *  - quantile at tau: the smallest g_j with F(g_j) >= tau;
 *  - lower-tail CVaR at alpha: (1/alpha) integral_0^alpha F^{-1}(u) du
 *    = (1/alpha) [sum_{j<k} p_j g_j + (alpha - F(g_{k-1})) g_k], k the alpha-quantile's index
 *    (the quantile's atom counts only for the part of it inside the alpha tail).
 */
import { OffpolicyError } from '../../../core/errors.js';
import type { ReturnDistributionEstimate } from '../../../core/trajectory-evaluation-result.js';

export const DEFAULT_CVAR_ALPHA = 0.1;
export const DEFAULT_QUANTILE_LEVELS: readonly number[] = [0.1, 0.25, 0.5, 0.75, 0.9];
/** Cumulative sums are compared with levels up to this rounding slack. */
const LEVEL_SLACK = 1e-12;

export function checkCvarAlpha(alpha: number): number {
  if (!(typeof alpha === 'number' && alpha > 0 && alpha < 1)) {
    throw new OffpolicyError('E_CVAR_ALPHA', `The CVaR level alpha must lie strictly between 0 and 1, got ${alpha}.`, {
      hint: 'Use e.g. --cvar-alpha 0.1 (the mean of the worst 10% of returns, the default).',
    });
  }
  return alpha;
}

/** Quantile levels strictly inside (0, 1), returned sorted and without repeats. */
export function checkQuantileLevels(levels: readonly number[]): number[] {
  const bad = levels.filter((q) => !(typeof q === 'number' && q > 0 && q < 1));
  if (levels.length === 0 || bad.length > 0) {
    throw new OffpolicyError('E_QUANTILE_LEVEL', `Quantile levels must lie strictly between 0 and 1${bad.length > 0 ? `, got ${bad.map(String).join(', ')}` : ' (none were given)'}.`, {
      hint: 'Use e.g. --cdf-quantiles 0.1,0.25,0.5,0.75,0.9 (the default; library: distribution.quantileLevels).',
    });
  }
  return [...new Set(levels)].sort((a, b) => a - b);
}

/** Isotonic (non-decreasing) L2 fit by pool adjacent violators. */
export function isotonic(y: Float64Array): Float64Array {
  const val: number[] = [];
  const cnt: number[] = [];
  for (const x of y) {
    let v = x;
    let c = 1;
    while (val.length > 0 && val[val.length - 1]! > v) {
      const pv = val.pop()!;
      const pc = cnt.pop()!;
      v = (pv * pc + v * c) / (pc + c);
      c += pc;
    }
    val.push(v);
    cnt.push(c);
  }
  const out = new Float64Array(y.length);
  let j = 0;
  for (let b = 0; b < val.length; b++) for (let k = 0; k < cnt[b]!; k++) out[j++] = val[b]!;
  return out;
}

/** The raw CDF projected onto a CDF on the grid (isotonic, clipped to [0, 1], 1 at the last point). */
export function projectCdf(raw: Float64Array): Float64Array {
  // An already monotone sequence (CD-IS, CD-SNIS) is left as it is (no pooling round-off).
  let monotone = true;
  for (let j = 1; j < raw.length; j++) if (raw[j]! < raw[j - 1]!) monotone = false;
  const f = monotone ? Float64Array.from(raw) : isotonic(raw);
  for (let j = 0; j < f.length; j++) f[j] = Math.min(1, Math.max(0, f[j]!));
  if (f.length > 0) f[f.length - 1] = 1;
  return f;
}

export interface DistributionStatistics {
  mean: number;
  variance: number;
  cvar: number;
  quantiles: { level: number; value: number }[];
}

/** The index of the tau-quantile: the first j with F(g_j) >= tau. */
function quantileIndex(F: Float64Array, tau: number): number {
  for (let j = 0; j < F.length; j++) if (F[j]! >= tau - LEVEL_SLACK) return j;
  return F.length - 1;
}

/** Mean, variance, lower-tail CVaR and quantiles of the distribution with CDF `F` (projected) on `grid`. */
export function distributionStatistics(grid: Float64Array, F: Float64Array, cvarAlpha: number, levels: readonly number[]): DistributionStatistics {
  let mean = 0;
  let prev = 0;
  for (let j = 0; j < grid.length; j++) {
    mean += (F[j]! - prev) * grid[j]!;
    prev = F[j]!;
  }
  let variance = 0;
  prev = 0;
  for (let j = 0; j < grid.length; j++) {
    variance += (F[j]! - prev) * (grid[j]! - mean) ** 2;
    prev = F[j]!;
  }
  const k = quantileIndex(F, cvarAlpha);
  let tail = 0;
  prev = 0;
  for (let j = 0; j < k; j++) {
    tail += (F[j]! - prev) * grid[j]!;
    prev = F[j]!;
  }
  tail += (cvarAlpha - prev) * grid[k]!;
  return { mean, variance, cvar: tail / cvarAlpha, quantiles: levels.map((level) => ({ level, value: grid[quantileIndex(F, level)]! })) };
}

/** The result entry of one estimator: projected and raw CDF, total mass, statistics (null when the raw CDF has no mass). */
export function distributionEstimate(estimator: string, grid: Float64Array, raw: Float64Array, cvarAlpha: number, levels: readonly number[]): ReturnDistributionEstimate {
  const totalMass = raw.length > 0 ? raw[raw.length - 1]! : 0;
  const F = projectCdf(raw);
  let any = false;
  for (const x of raw) if (x !== 0) any = true;
  const s = any ? distributionStatistics(grid, F, cvarAlpha, levels) : null;
  return {
    estimator,
    cdf: Array.from(F),
    rawCdf: Array.from(raw),
    totalMass,
    mean: s ? s.mean : null,
    variance: s ? s.variance : null,
    cvar: s ? s.cvar : null,
    quantiles: s ? s.quantiles : levels.map((level) => ({ level, value: null })),
  };
}
