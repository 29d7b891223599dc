/**
 * Exact order statistics from a histogram (the exact-quantile scans of
 * `describe` and of the OPE fast path's weight quantiles): each needed rank
 * falls in a known bin at a known position; the bin's min / max answers it when
 * it is the bin's first or last value or the bin holds one distinct value, and
 * only the remaining ranks need one more scan of their bins.
 */

/** A histogram bin over the sorted values: its count, smallest and largest value, and the values in all earlier bins. */
export interface CountedBin {
  count: number;
  lo: number;
  hi: number;
  start: number;
}

/** The ranks (0-based order statistics among n values) quantile q interpolates between: floor(h), and floor(h) + 1 when h = (n - 1) q is not whole. */
export function quantileRanks(n: number, q: number): number[] {
  const h = (n - 1) * q;
  const r = Math.floor(h);
  return h > r && r + 1 < n ? [r, r + 1] : [r];
}

/**
 * Resolves the ranks from the bins (sorted by value, `start` cumulative):
 * `known` maps the ranks the bins answer to their value; `pending` lists, per
 * bin, the positions within it (sorted) that need a scan of that bin.
 */
export function resolveFromBins<B extends CountedBin>(bins: readonly B[], ranks: Iterable<number>): { known: Map<number, number>; pending: { bin: B; ks: number[] }[] } {
  const locate = (rank: number): B => {
    let lo = 0;
    let hi = bins.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (bins[mid]!.start <= rank) lo = mid;
      else hi = mid - 1;
    }
    return bins[lo]!;
  };
  const known = new Map<number, number>();
  const within = new Map<B, Set<number>>();
  for (const rank of ranks) {
    const b = locate(rank);
    const k = rank - b.start;
    if (b.lo === b.hi || k === 0) known.set(rank, b.lo);
    else if (k === b.count - 1) known.set(rank, b.hi);
    else {
      if (!within.has(b)) within.set(b, new Set());
      within.get(b)!.add(k);
    }
  }
  return { known, pending: [...within.entries()].map(([bin, ks]) => ({ bin, ks: [...ks].sort((x, y) => x - y) })) };
}
