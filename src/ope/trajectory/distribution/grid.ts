/**
 * The grid of discounted returns a CDF is estimated on, and fractional binning.
 *
 * Grid (from the data's returns G_i = sum_t gamma^t r_t): the sorted distinct
 * returns when there are at most `bins` of them, else `bins` points at the
 * quantiles k / (bins - 1), k = 0..bins-1, of the returns (linear
 * interpolation between order statistics), duplicates dropped. Either way the
 * smallest and largest returns are grid points, so every logged return lies
 * inside the grid.
 *
 * Fractional bins: mass at x with g_j < x <= g_{j+1} is split linearly between
 * the two neighbours, (g_{j+1} - x) / (g_{j+1} - g_j) to g_j and the rest to
 * g_{j+1}; x <= g_0 goes to g_0 and x > g_last falls off the grid. The split
 * keeps the first moment: sum_j g_j mass_j = sum of mass * x over atoms inside
 * the grid. A return on a grid point stays there, so on the distinct-returns grid
 * F(g_j) is exactly (1/n) sum_i w_i 1{G_i <= g_j}; on a quantile grid it is
 * (1/n) sum_i w_i h_j(G_i), h_j the indicator smoothed linearly over (g_j, g_{j+1}].
 */
import { OffpolicyError } from '../../../core/errors.js';

export const DEFAULT_CDF_BINS = 100;

export function checkCdfBins(bins: number): number {
  if (!(Number.isInteger(bins) && bins >= 2)) {
    throw new OffpolicyError('E_CDF_BINS', `The number of CDF grid points must be an integer >= 2, got ${bins}.`, {
      hint: `Use e.g. --cdf-bins ${DEFAULT_CDF_BINS} (the default).`,
    });
  }
  return bins;
}

/** Checks an explicit grid: finite and strictly increasing, at least one point. */
export function checkGrid(grid: readonly number[]): Float64Array {
  const bad: number[] = [];
  for (let j = 0; j < grid.length; j++) if (!Number.isFinite(grid[j]!) || (j > 0 && !(grid[j]! > grid[j - 1]!))) bad.push(j);
  if (grid.length === 0 || bad.length > 0) {
    throw new OffpolicyError('E_CDF_GRID', `A CDF grid must be a non-empty list of finite, strictly increasing returns${bad.length > 0 ? ` (positions ${bad.slice(0, 5).join(', ')} break it)` : ' (it is empty)'}.`, {
      hint: 'Omit the grid to take it from the data\'s returns, or sort and deduplicate it.',
    });
  }
  return Float64Array.from(grid);
}

/** The grid from the returns (see the module comment) and the rule used. */
export function returnGrid(returns: Float64Array, bins: number = DEFAULT_CDF_BINS): { grid: Float64Array; rule: string } {
  checkCdfBins(bins);
  if (returns.length === 0) throw new OffpolicyError('E_TOO_FEW_ROWS', 'No episodes: there are no returns to build a CDF grid from.', { hint: 'Evaluate on at least one episode.' });
  const s = Float64Array.from(returns).sort();
  const distinct: number[] = [];
  for (const x of s) if (distinct.length === 0 || x !== distinct[distinct.length - 1]) distinct.push(x);
  if (distinct.length <= bins) return { grid: Float64Array.from(distinct), rule: `the ${distinct.length} distinct returns` };
  const out: number[] = [];
  for (let k = 0; k < bins; k++) {
    const h = ((s.length - 1) * k) / (bins - 1);
    const lo = Math.floor(h);
    const x = lo + 1 < s.length ? s[lo]! + (h - lo) * (s[lo + 1]! - s[lo]!) : s[lo]!;
    if (out.length === 0 || x > out[out.length - 1]!) out.push(x);
  }
  return { grid: Float64Array.from(out), rule: `${out.length} quantiles of the ${s.length} returns` };
}

/** Index j of the last grid point < x (x in (g_0, g_last]). */
function lowerIndex(grid: Float64Array, x: number): number {
  let lo = 0;
  let hi = grid.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (grid[mid]! < x) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Adds `mass` at x to `acc` (one slot per grid point) with fractional bins. */
export function addAtom(acc: Float64Array, grid: Float64Array, x: number, mass: number): void {
  if (mass === 0) return;
  const last = grid.length - 1;
  if (x <= grid[0]!) {
    acc[0] += mass;
    return;
  }
  if (x > grid[last]!) return;
  const j = lowerIndex(grid, x);
  const lam = (x - grid[j]!) / (grid[j + 1]! - grid[j]!);
  acc[j] += (1 - lam) * mass;
  acc[j + 1] += lam * mass;
}

/** Running sums of the binned masses: the (raw) CDF on the grid. */
export function cumulative(acc: Float64Array): Float64Array {
  const out = new Float64Array(acc.length);
  let s = 0;
  for (let j = 0; j < acc.length; j++) out[j] = s += acc[j]!;
  return out;
}
