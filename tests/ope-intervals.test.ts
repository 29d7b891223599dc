import { describe, expect, it } from 'vitest';
import type { RowTerms } from '../src/ope/estimators/types.js';
import { bernsteinInterval } from '../src/ope/intervals/bernstein.js';
import { bootstrapIntervals, sortedQuantile } from '../src/ope/intervals/bootstrap.js';
import { hoeffdingHalfWidth, hoeffdingInterval } from '../src/ope/intervals/hoeffding.js';
import { tInterval } from '../src/ope/intervals/t.js';
import { intervalsForTerms } from '../src/ope/intervals/index.js';
import { mergeSums, sumsFromTerms, sumsStdError, sumsValue } from '../src/ope/sums.js';
import { Rng } from '../src/util/rng.js';
import { expectError } from './support/expect-error.js';

const plain = (xs: number[]): RowTerms => ({ num: Float64Array.from(xs), den: null, base: null });

describe('mergeable sums', () => {
  it('value and standard error of a plain mean: [1, 2, 3, 4] -> 2.5, s^2 = 5/3, se = sqrt(5/12)', () => {
    const s = sumsFromTerms(plain([1, 2, 3, 4]));
    expect(sumsValue(s)).toBe(2.5);
    expect(sumsStdError(s)).toBeCloseTo(Math.sqrt(5 / 3 / 4), 14);
  });
  it('merging the sums of two parts gives the sums of the whole', () => {
    const t: RowTerms = { num: Float64Array.from([1, 4, -2, 3, 5]), den: Float64Array.from([1, 2, 0.5, 1, 3]), base: Float64Array.from([0.1, 0.2, 0.3, 0.4, 0.5]) };
    const whole = sumsFromTerms(t);
    const merged = mergeSums(sumsFromTerms(t, 0, 2), sumsFromTerms(t, 2, 5));
    for (const [k, v] of Object.entries(whole)) expect(merged[k as keyof typeof merged]).toBeCloseTo(v, 12);
    expect(sumsValue(whole)).toBeCloseTo(1.5 / 5 + 11 / 7.5, 14);
  });
  it('delta-method standard error of a ratio, hand-computed', () => {
    // u = [2, 0, 3], d = [1, 2, 3]: mu = 5/3, md = 2, ratio = 5/6.
    // cov (divisor n-1 = 2): vuu = ((2-5/3)^2 + (5/3)^2 + (4/3)^2)/2 = (1/9 + 25/9 + 16/9)/2 = 7/3
    // vdd = (1 + 0 + 1)/2 = 1; vud = ((1/3)(-1) + (-5/3)(0) + (4/3)(1))/2 = 1/2
    // g = (1/md, -mu/md^2) = (1/2, -5/12); var = g' S g / n
    const s = sumsFromTerms({ num: Float64Array.from([2, 0, 3]), den: Float64Array.from([1, 2, 3]), base: null });
    const v = (0.25 * (7 / 3) + (25 / 144) * 1 + 2 * 0.5 * (-5 / 12) * 0.5) / 3;
    expect(sumsValue(s)).toBeCloseTo(5 / 6, 14);
    expect(sumsStdError(s)).toBeCloseTo(Math.sqrt(v), 14);
  });
});

describe('Student-t interval', () => {
  it('[1, 2, 3, 4] at 95%: 2.5 +- t_{0.975,3} sqrt(5/12), t_{0.975,3} = 3.182446305284263', () => {
    const iv = tInterval(sumsFromTerms(plain([1, 2, 3, 4])), 0.05);
    const half = 3.182446305284263 * Math.sqrt(5 / 12);
    expect(iv.lower).toBeCloseTo(2.5 - half, 10);
    expect(iv.upper).toBeCloseTo(2.5 + half, 10);
    expect(iv.method).toBe('t');
    expect(iv.alpha).toBe(0.05);
  });
  it('rejects bad alpha and too few rows', () => {
    expectError(() => tInterval(sumsFromTerms(plain([1, 2])), 1.2), 'E_ALPHA', /alpha must lie strictly between 0 and 1, got 1.2/);
    expectError(() => tInterval(sumsFromTerms(plain([1])), 0.05), 'E_TOO_FEW_ROWS', /Student-t interval needs at least 2 rows, got 1/);
  });
});

describe('Hoeffding interval', () => {
  it('half-width (b - a) sqrt(ln(2/alpha) / (2n)), shrinking as 1/sqrt(n)', () => {
    expect(hoeffdingHalfWidth(100, [0, 1], 0.05)).toBeCloseTo(Math.sqrt(Math.log(40) / 200), 14);
    expect(hoeffdingHalfWidth(400, [0, 1], 0.05)).toBeCloseTo(hoeffdingHalfWidth(100, [0, 1], 0.05) / 2, 14);
    expect(hoeffdingHalfWidth(100, [-2, 4], 0.05)).toBeCloseTo(6 * Math.sqrt(Math.log(40) / 200), 14);
  });
  it('centred at the mean and clamped to [a, b]', () => {
    const xs = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 0.4 : 0.6));
    const iv = hoeffdingInterval(sumsFromTerms(plain(xs)), [0, 1], 0.05);
    const h = Math.sqrt(Math.log(40) / 200);
    expect(iv.lower).toBeCloseTo(0.5 - h, 12);
    expect(iv.upper).toBeCloseTo(0.5 + h, 12);
    const small = hoeffdingInterval(sumsFromTerms(plain([0.9, 1])), [0, 1], 0.05);
    expect(small.upper).toBe(1);
  });
  it('refuses ratio estimators and bad ranges', () => {
    const ratio = sumsFromTerms({ num: Float64Array.from([1, 2]), den: Float64Array.from([1, 3]), base: null });
    expectError(() => hoeffdingInterval(ratio, [0, 1], 0.05, 'SNIPS'), 'E_INTERVAL_UNSUPPORTED', /Hoeffding intervals bound a mean of bounded row terms, but SNIPS is a self-normalized ratio/);
    expectError(() => hoeffdingInterval(sumsFromTerms(plain([1, 2])), [2, 1], 0.05), 'E_RANGE', /range \[2, 1\] must be finite with lower <= upper/);
  });
});

describe('empirical Bernstein interval', () => {
  it('mean +- [sqrt(2 V ln(4/alpha) / n) + 7 (b - a) ln(4/alpha) / (3 (n - 1))]', () => {
    const xs = Array.from({ length: 1000 }, (_, i) => (i % 4 === 0 ? 1 : 0)); // mean 0.25, V = 0.25*0.75*1000/999
    const iv = bernsteinInterval(sumsFromTerms(plain(xs)), [0, 2], 0.05);
    const V = (0.1875 * 1000) / 999;
    const l = Math.log(80);
    const half = Math.sqrt((2 * V * l) / 1000) + (7 * 2 * l) / (3 * 999);
    expect(iv.lower).toBeCloseTo(0.25 - half, 12);
    expect(iv.upper).toBeCloseTo(0.25 + half, 12);
    expect(iv.method).toBe('bernstein');
  });
  it('is tighter than Hoeffding when the variance is small and n large', () => {
    const xs = Array.from({ length: 20000 }, (_, i) => (i % 100 === 0 ? 1 : 0));
    const s = sumsFromTerms(plain(xs));
    const b = bernsteinInterval(s, [0, 1], 0.05);
    const h = hoeffdingInterval(s, [0, 1], 0.05);
    expect(b.upper - b.lower).toBeLessThan((h.upper - h.lower) / 2);
  });
  it('refuses SNDR-type terms (mean + ratio) and one-row inputs', () => {
    const sndr = sumsFromTerms({ num: Float64Array.from([1, 2]), den: Float64Array.from([1, 1]), base: Float64Array.from([0.5, 0.5]) });
    expectError(() => bernsteinInterval(sndr, [0, 1], 0.05, 'SNDR'), 'E_INTERVAL_UNSUPPORTED', /SNDR is a self-normalized ratio of sums/);
    expectError(() => bernsteinInterval(sumsFromTerms(plain([1])), [0, 1], 0.05), 'E_TOO_FEW_ROWS', /at least 2 rows, got 1/);
  });
});

describe('percentile bootstrap', () => {
  const rng = new Rng(3);
  const n = 400;
  const num = Float64Array.from({ length: n }, () => rng.normal() + 1);
  const den = Float64Array.from({ length: n }, () => rng.range(0.5, 1.5));

  it('is deterministic in the seed', () => {
    const a = bootstrapIntervals([plain(Array.from(num))], { alpha: 0.1, seed: 5, resamples: 200 });
    const b = bootstrapIntervals([plain(Array.from(num))], { alpha: 0.1, seed: 5, resamples: 200 });
    const c = bootstrapIntervals([plain(Array.from(num))], { alpha: 0.1, seed: 6, resamples: 200 });
    expect(a.intervals).toEqual(b.intervals);
    expect(c.intervals[0]!.lower).not.toBe(a.intervals[0]!.lower);
    expect(a.mode).toBe('rows');
    expect(a.units).toBe(n);
    expect(a.replicates[0]!.length).toBe(200);
  });
  it('percentile quantiles with linear interpolation', () => {
    expect(sortedQuantile([1, 2, 3, 4, 5], 0.25)).toBe(2);
    expect(sortedQuantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(sortedQuantile([1, 2, 3, 4], 0.1)).toBeCloseTo(1.3, 14);
  });
  it('resamples num and den together: if num = 2 den on every row, every replicate is exactly 2', () => {
    const t: RowTerms = { num: den.map((d) => 2 * d), den, base: null };
    const r = bootstrapIntervals([t], { alpha: 0.05, seed: 1, resamples: 300 });
    for (const v of r.replicates[0]!) expect(v).toBeCloseTo(2, 12);
  });
  it('matches the t interval width for a mean (rows) and with blocks when n is large', () => {
    const b = bootstrapIntervals([plain(Array.from(num))], { alpha: 0.05, seed: 9, resamples: 2000 });
    const t = tInterval(sumsFromTerms(plain(Array.from(num))), 0.05);
    expect((b.intervals[0]!.upper - b.intervals[0]!.lower) / (t.upper - t.lower)).toBeGreaterThan(0.85);
    expect((b.intervals[0]!.upper - b.intervals[0]!.lower) / (t.upper - t.lower)).toBeLessThan(1.15);

    const r2 = new Rng(4);
    const big = Float64Array.from({ length: 50_000 }, () => (r2.uniform() < 0.1 ? 10 * r2.uniform() : 0));
    // sorted input: blocks must still be random (a sorted log is not an i.i.d. order)
    big.sort();
    const tb = bootstrapIntervals([{ num: big, den: null, base: null }], { alpha: 0.05, seed: 2, resamples: 1000, maxUnits: 1000 });
    expect(tb.mode).toBe('blocks');
    expect(tb.units).toBe(1000);
    const tt = tInterval(sumsFromTerms({ num: big, den: null, base: null }), 0.05);
    const ratio = (tb.intervals[0]!.upper - tb.intervals[0]!.lower) / (tt.upper - tt.lower);
    expect(ratio).toBeGreaterThan(0.85);
    expect(ratio).toBeLessThan(1.15);
  });
  it('reports progress', () => {
    const calls: number[] = [];
    bootstrapIntervals([plain([1, 2, 3])], { alpha: 0.05, seed: 1, resamples: 10, onProgress: (d) => calls.push(d) });
    expect(calls.at(-1)).toBe(10);
  });
  it('rejects bad options and mismatched terms', () => {
    expectError(() => bootstrapIntervals([plain([1, 2])], { alpha: 0.05, seed: 1, resamples: 1 }), 'E_BOOTSTRAP_RESAMPLES', /integer >= 2, got 1/);
    expectError(() => bootstrapIntervals([plain([1, 2]), plain([1, 2, 3])], { alpha: 0.05, seed: 1 }), 'E_BOOTSTRAP_SHAPE', /same 2 rows/);
    expectError(() => bootstrapIntervals([plain([1, 2])], { alpha: 0, seed: 1 }), 'E_ALPHA', /got 0/);
  });
});

describe('intervalsForTerms', () => {
  const mean = plain([0.2, 0.4, 0.6, 0.8]);
  const ratio: RowTerms = { num: Float64Array.from([1, 0, 2, 1]), den: Float64Array.from([1, 1, 2, 1]), base: null };
  it('dispatches to each method; Hoeffding and Bernstein give null for ratio estimators', () => {
    expect(intervalsForTerms([mean, ratio], { method: 't', alpha: 0.05 })).toEqual([tInterval(sumsFromTerms(mean), 0.05), tInterval(sumsFromTerms(ratio), 0.05)]);
    const h = intervalsForTerms([mean, ratio], { method: 'hoeffding', alpha: 0.05, ranges: [[0, 1], null] });
    expect(h[0]).toEqual(hoeffdingInterval(sumsFromTerms(mean), [0, 1], 0.05));
    expect(h[1]).toBeNull();
    const b = intervalsForTerms([mean, ratio], { method: 'bernstein', alpha: 0.05, ranges: [[0, 1], null] });
    expect(b[0]).toEqual(bernsteinInterval(sumsFromTerms(mean), [0, 1], 0.05));
    expect(b[1]).toBeNull();
    expect(intervalsForTerms([mean], { method: 'bootstrap', alpha: 0.05, seed: 3, resamples: 50 })).toEqual(bootstrapIntervals([mean], { alpha: 0.05, seed: 3, resamples: 50 }).intervals);
  });
  it('bootstrap needs a seed', () => {
    expectError(() => intervalsForTerms([mean], { method: 'bootstrap', alpha: 0.05 }), 'E_SEED_REQUIRED', /need a seed, but none was given/);
  });
});
