/**
 * Checks and row order shared by the interval methods that read per-row values
 * (betting, empirical likelihood) rather than sums.
 */
import { dataError, OffpolicyError } from '../../core/errors.js';
import { Rng } from '../../util/rng.js';

/** How rows are fed to a sequential method: a seeded uniform permutation, or the order given. */
export type RowOrder = 'shuffle' | 'log';

/** Relative slack for values computed in floating point at the edge of their range. */
const EDGE = 1e-9;

/** Throws E_TERM_RANGE when a value is not finite or lies outside [a, b] (beyond rounding). */
export function checkValuesInRange(values: ArrayLike<number>, range: readonly [number, number], what: string, method: string): void {
  const [a, b] = range;
  const slack = EDGE * Math.max(1, b - a, Math.abs(a), Math.abs(b));
  const rows: number[] = [];
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (!(x >= a - slack && x <= b + slack)) {
      count++;
      if (rows.length < 5) rows.push(i);
    }
  }
  if (count > 0) {
    throw dataError('E_TERM_RANGE', `${what} in [${a}, ${b}]`, count, rows, `${method} intervals need values inside a known range: widen --reward-range, or check the weights behind the range.`);
  }
}

/** Throws E_WEIGHT when an importance weight is negative, NaN or infinite. */
export function checkWeights(weights: ArrayLike<number>, method: string): void {
  const rows: number[] = [];
  let count = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!;
    if (!(w >= 0 && w < Infinity)) {
      count++;
      if (rows.length < 5) rows.push(i);
    }
  }
  if (count > 0) throw dataError('E_WEIGHT', 'importance weight finite and >= 0', count, rows, `${method} intervals need pi(a|x) / pi0(a|x) >= 0 on every row; check the propensities.`);
}

export function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>, method: string): void {
  if (a.length !== b.length) {
    throw new OffpolicyError('E_INTERVAL_SHAPE', `${method} intervals need one weight per reward, got ${a.length} weights and ${b.length} rewards.`);
  }
}

/** Processing order of n rows: identity for 'log', else a permutation seeded by `seed`. */
export function rowOrder(n: number, order: RowOrder, seed: number): Int32Array {
  if (order === 'log') return Int32Array.from({ length: n }, (_, i) => i);
  if (order !== 'shuffle') {
    throw new OffpolicyError('E_ROW_ORDER', `Unknown row order "${String(order)}".`, { hint: 'Use "shuffle" (a seeded permutation) or "log" (the log\'s own order).' });
  }
  if (!Number.isSafeInteger(seed)) throw new OffpolicyError('E_SEED', `The seed must be an integer, got ${seed}.`, { hint: 'Pass --seed N.' });
  return new Rng(seed).fork('row-order').permutation(n);
}
