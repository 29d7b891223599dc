import { describe, expect, it } from 'vitest';
import { quantileRanks, resolveFromBins } from '../src/util/binned-order-statistics.js';

describe('order statistics from histogram bins', () => {
  it('quantileRanks: floor(h) and floor(h) + 1 for h = (n - 1) q', () => {
    expect(quantileRanks(5, 0.5)).toEqual([2]);
    expect(quantileRanks(4, 0.5)).toEqual([1, 2]);
    expect(quantileRanks(4, 1)).toEqual([3]);
    expect(quantileRanks(1, 0.3)).toEqual([0]);
  });
  it('answers first / last / single-value positions from the bins and lists the rest per bin, sorted', () => {
    // sorted values: [1, 2, 2, 3 | 5 | 7, 8, 9, 9, 10]
    const bins = [
      { count: 4, lo: 1, hi: 3, start: 0 },
      { count: 1, lo: 5, hi: 5, start: 4 },
      { count: 5, lo: 7, hi: 10, start: 5 },
    ];
    const { known, pending } = resolveFromBins(bins, [0, 3, 4, 5, 9, 8, 2, 6, 1, 8]);
    expect([...known.entries()].sort((a, b) => a[0] - b[0])).toEqual([[0, 1], [3, 3], [4, 5], [5, 7], [9, 10]]);
    expect(pending).toEqual([
      { bin: bins[2], ks: [1, 3] },
      { bin: bins[0], ks: [1, 2] },
    ]);
  });
  it('a bin with one distinct value answers every position in it', () => {
    const bins = [{ count: 6, lo: 4, hi: 4, start: 0 }];
    const { known, pending } = resolveFromBins(bins, [2, 3]);
    expect(known.get(2)).toBe(4);
    expect(known.get(3)).toBe(4);
    expect(pending).toEqual([]);
  });
});
