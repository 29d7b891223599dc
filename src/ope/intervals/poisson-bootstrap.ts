/**
 * Poisson bootstrap of hashed row buckets: percentile intervals whose resamples
 * are sums, so they run where the data lives (SQL: ../bandit/poisson-bootstrap-sql.ts)
 * and merge across partitions and shards. This module holds the definition (the
 * hash, the buckets, the weights), the in-memory counterpart, and the step both
 * share from per-resample totals to intervals.
 *
 * Definition. With G buckets and B resamples, row i (row id r_i) falls in bucket
 *
 *     g(i) = fmix32(fmix32(kB ^ lo(r_i)) ^ hi(r_i)) mod G      (lo, hi: the 32-bit halves of r_i)
 *
 * and its weight in resample b is W(g(i), b), where
 *
 *     u = fmix32(fmix32(kW ^ g) ^ b),   W(g, b) = #{k : u >= T_k}
 *
 * is Poisson(1) by inverse CDF on the uint32 u (T_k = floor(F(k) 2^32), F the
 * Poisson(1) CDF; P(W = k) is exact to 2^-32). kB and kW come from the seed.
 * fmix32 is MurmurHash3's finaliser; every step is exact integer arithmetic, so
 * TypeScript, DuckDB and ClickHouse compute the same buckets and weights.
 *
 * Rows in one bucket share their weight: this is the Poisson bootstrap of G
 * random blocks of rows. Resample b's estimate is every estimator's formula on
 * the weighted sums: with n_g, and S_g the bucket sums of an estimator's row terms,
 *
 *     estimate_b = sum_g W(g,b) S_g(base) / N_b + sum_g W(g,b) S_g(num) / (den ? sum_g W(g,b) S_g(den) : N_b),
 *     N_b = sum_g W(g,b) n_g,
 *
 * so self-normalised estimators are re-estimated from resampled numerator and
 * denominator together, and the interval is the (alpha/2, 1 - alpha/2) percentile
 * pair of the B estimates.
 *
 * Why it is valid. The bucket of a row is a function of its row id and the seed
 * only, not of its data, so for i.i.d. rows the bucket sums (n_g, S_g) are
 * independent across buckets. Every estimate is a smooth function of the totals
 * sum_g (n_g, S_g); Poisson(1) weights on independent units give a bootstrap
 * whose weighted totals have the right first two moments (the Poisson bootstrap,
 * asymptotically equivalent to the multinomial one: Hanley & MacGibbon 2006,
 * Chamandy et al. 2012), so the percentile interval is consistent as the number
 * of non-empty buckets grows. Assumptions: independent rows (as for every interval
 * here), unique row ids in [0, 2^53), enough non-empty buckets (the default
 * 10,000 gives the bootstrap variance to about sqrt(2 / 10,000) = 1.4%). With
 * fewer rows than buckets nearly every row is its own bucket: the per-row Poisson
 * bootstrap with a few pairs sharing a weight.
 */
import { OffpolicyError } from '../../core/errors.js';
import type { Interval } from '../../core/evaluation-result.js';
import { fmix32 } from '../../util/rng.js';
import type { RowTerms } from '../estimators/types.js';
import { sortedQuantile } from './bootstrap.js';
import { checkAlpha, checkRows } from './common.js';

export const DEFAULT_POISSON_BUCKETS = 10_000;
/** Most buckets: the in-memory counterpart keeps an index of size G. */
export const MAX_POISSON_BUCKETS = 1_000_000;
const TWO32 = 4294967296;
/** Row ids are hashed as two 32-bit halves; above 2^53 they are not exact in JS. */
export const MAX_ROW_ID = 2 ** 53;

/**
 * floor(F(k) 2^32) for the Poisson(1) CDF F, k = 0, 1, ... up to the first k whose
 * threshold no longer moves: W = #{k : u >= T_k} takes values 0 .. length.
 */
export const POISSON_THRESHOLDS: readonly number[] = (() => {
  const out: number[] = [];
  let p = Math.exp(-1);
  let f = p;
  for (let k = 0; k < 40; k++) {
    const t = Math.floor(f * TWO32);
    if (t >= TWO32 || (out.length > 0 && t === out[out.length - 1])) break;
    out.push(t);
    p /= k + 1;
    f += p;
  }
  return out;
})();

/** The two uint32 keys of a seed: kB for the buckets, kW for the weights. */
export interface PoissonKeys {
  bucket: number;
  weight: number;
}

export function poissonKeys(seed: number): PoissonKeys {
  if (!Number.isSafeInteger(seed)) {
    throw new OffpolicyError('E_SEED', `The Poisson bootstrap's seed must be an integer, got ${seed}.`, { hint: 'Pass --seed N (any integer).' });
  }
  const lo = ((seed % TWO32) + TWO32) % TWO32;
  const hi = ((Math.floor(seed / TWO32) % TWO32) + TWO32) % TWO32;
  const base = fmix32((fmix32((lo ^ 0x3c6ef372) >>> 0) ^ hi) >>> 0);
  return { bucket: fmix32((base ^ 0x1b873593) >>> 0), weight: fmix32((base ^ 0xcc9e2d51) >>> 0) };
}

/** The bucket of a row id (an integer in [0, 2^53)). */
export function poissonBucket(rowId: number, keys: PoissonKeys, buckets: number): number {
  const lo = rowId % TWO32;
  const hi = Math.floor(rowId / TWO32);
  return fmix32((fmix32((keys.bucket ^ lo) >>> 0) ^ hi) >>> 0) % buckets;
}

/** Poisson(1) by inverse CDF on a uint32. */
export function poissonFromUint32(u: number): number {
  let w = 0;
  while (w < POISSON_THRESHOLDS.length && u >= POISSON_THRESHOLDS[w]!) w++;
  return w;
}

/** The weight of bucket g in resample b. */
export function poissonWeight(keys: PoissonKeys, g: number, b: number): number {
  return poissonFromUint32(fmix32((fmix32((keys.weight ^ g) >>> 0) ^ b) >>> 0));
}

export interface PoissonBootstrapOptions {
  /** Miscoverage: a 1 - alpha interval. */
  alpha: number;
  seed: number;
  /** Number of resamples; default 1000. */
  resamples?: number;
  /** Number of hash buckets G; default 10,000. */
  buckets?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Which summed field holds each part of an estimator's terms (null: den = row count, base = 0). */
export interface TermFields {
  num: number;
  den: number | null;
  base: number | null;
}

/** Per-resample totals: N_b and each summed field's weighted total (field-major: fields[f][b]). */
export interface ResampleTotals {
  rows: Float64Array;
  fields: Float64Array[];
}

export interface PoissonBootstrapResult {
  intervals: (Interval | undefined)[];
  /** The resampled estimates, per estimator (length = resamples). */
  replicates: Float64Array[];
  /** Non-empty buckets: the number of resampled units. */
  units: number;
}

export function checkPoissonOptions(opts: PoissonBootstrapOptions): { alpha: number; resamples: number; buckets: number; keys: PoissonKeys } {
  const alpha = checkAlpha(opts.alpha);
  const resamples = opts.resamples ?? 1000;
  const buckets = opts.buckets ?? DEFAULT_POISSON_BUCKETS;
  if (!Number.isInteger(resamples) || resamples < 2 || resamples > 2 ** 31) {
    throw new OffpolicyError('E_BOOTSTRAP_RESAMPLES', `The number of bootstrap resamples must be an integer >= 2, got ${resamples}.`, { hint: 'Use e.g. --resamples 1000.' });
  }
  if (!Number.isInteger(buckets) || buckets < 2 || buckets > MAX_POISSON_BUCKETS) {
    throw new OffpolicyError('E_BOOTSTRAP_UNITS', `The number of Poisson-bootstrap buckets must be an integer in [2, ${MAX_POISSON_BUCKETS}], got ${buckets}.`, {
      hint: `Use the default ${DEFAULT_POISSON_BUCKETS}.`,
    });
  }
  return { alpha, resamples, buckets, keys: poissonKeys(opts.seed) };
}

/** Refuses row ids the hash does not define (negative, fractional, or from 2^53 on); `range` is [min, max]. */
export function checkRowIdRange(min: number, max: number): void {
  if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 0 && max < MAX_ROW_ID)) {
    throw new OffpolicyError('E_ROW_ID', `The Poisson bootstrap hashes row ids, which must be integers in [0, 2^53); this log's row ids span [${min}, ${max}].`, {
      hint: 'Renumber the rows (ingest assigns 0 .. n-1), or use --interval bootstrap.',
    });
  }
}

/** Estimates of every resample from the totals, and their percentile intervals (non-finite estimates are left out). */
export function intervalsFromTotals(totals: ResampleTotals, layout: readonly TermFields[], alpha: number): { intervals: (Interval | undefined)[]; replicates: Float64Array[] } {
  const B = totals.rows.length;
  const replicates = layout.map((t) => {
    const rep = new Float64Array(B);
    const num = totals.fields[t.num]!;
    const den = t.den === null ? totals.rows : totals.fields[t.den]!;
    const base = t.base === null ? null : totals.fields[t.base]!;
    for (let b = 0; b < B; b++) rep[b] = (base ? base[b]! / totals.rows[b]! : 0) + num[b]! / den[b]!;
    return rep;
  });
  const intervals = replicates.map((rep): Interval | undefined => {
    const sorted = Float64Array.from(rep.filter(Number.isFinite)).sort();
    if (sorted.length < 2) return undefined;
    return { lower: sortedQuantile(sorted, alpha / 2), upper: sortedQuantile(sorted, 1 - alpha / 2), method: 'poisson-bootstrap', alpha };
  });
  return { intervals, replicates };
}

/**
 * The in-memory counterpart of the SQL bootstrap: the same buckets, weights and
 * totals from row terms (all over the same n rows) and their row ids (default
 * 0 .. n-1). Gives the SQL path's intervals up to the rounding of the sums.
 */
export function poissonBootstrapIntervals(terms: readonly RowTerms[], rowIds: ArrayLike<number> | null, opts: PoissonBootstrapOptions): PoissonBootstrapResult {
  const { alpha, resamples: B, buckets: G, keys } = checkPoissonOptions(opts);
  if (terms.length === 0) return { intervals: [], replicates: [], units: 0 };
  const n = terms[0]!.num.length;
  for (const t of terms) {
    if (t.num.length !== n || (t.den && t.den.length !== n) || (t.base && t.base.length !== n)) {
      throw new OffpolicyError('E_BOOTSTRAP_SHAPE', `All row terms must cover the same ${n} rows; got arrays of different lengths.`);
    }
  }
  if (rowIds && rowIds.length !== n) throw new OffpolicyError('E_BOOTSTRAP_SHAPE', `There are ${rowIds.length} row ids for ${n} rows of terms.`);
  checkRows(n, 2, 'Poisson bootstrap');
  // The summed fields: each distinct term array once.
  const arrays: Float64Array[] = [];
  const field = (a: Float64Array): number => {
    const i = arrays.indexOf(a);
    return i >= 0 ? i : arrays.push(a) - 1;
  };
  const layout: TermFields[] = terms.map((t) => ({ num: field(t.num), den: t.den ? field(t.den) : null, base: t.base ? field(t.base) : null }));
  const F = arrays.length;

  // Bucket sums, over the non-empty buckets in increasing bucket order.
  const bucketOf = new Int32Array(n);
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const id = rowIds ? rowIds[i]! : i;
    if (id < lo) lo = id;
    if (id > hi) hi = id;
  }
  checkRowIdRange(lo, hi);
  const index = new Int32Array(G).fill(-1);
  for (let i = 0; i < n; i++) {
    const g = poissonBucket(rowIds ? rowIds[i]! : i, keys, G);
    bucketOf[i] = g;
    index[g] = 0;
  }
  const ids: number[] = [];
  for (let g = 0; g < G; g++) if (index[g] === 0) index[g] = ids.push(g) - 1;
  const m = ids.length;
  const count = new Float64Array(m);
  const sums = new Float64Array(m * F);
  for (let i = 0; i < n; i++) {
    const u = index[bucketOf[i]!]!;
    count[u]! += 1;
    for (let f = 0; f < F; f++) sums[u * F + f]! += arrays[f]![i]!;
  }

  const totals: ResampleTotals = { rows: new Float64Array(B), fields: Array.from({ length: F }, () => new Float64Array(B)) };
  const acc = new Float64Array(F);
  const every = Math.max(1, Math.floor(B / 100));
  // fmix32(kW ^ g), the part of a cell's hash that does not depend on b.
  const inner = Uint32Array.from(ids, (g) => fmix32((keys.weight ^ g) >>> 0));
  for (let b = 0; b < B; b++) {
    let rows = 0;
    acc.fill(0);
    for (let u = 0; u < m; u++) {
      const w = poissonFromUint32(fmix32((inner[u]! ^ b) >>> 0));
      if (w === 0) continue;
      rows += w * count[u]!;
      for (let f = 0; f < F; f++) acc[f]! += w * sums[u * F + f]!;
    }
    totals.rows[b] = rows;
    for (let f = 0; f < F; f++) totals.fields[f]![b] = acc[f]!;
    if (opts.onProgress && ((b + 1) % every === 0 || b + 1 === B)) opts.onProgress(b + 1, B);
  }
  return { ...intervalsFromTotals(totals, layout, alpha), units: m };
}
