/**
 * Exact nearest-neighbour search (k = 1, Euclidean) over a fixed point set:
 * a KD-tree with median splits on the widest dimension of each node and
 * leaves of up to `leafSize` points, searched depth-first with the nearer child
 * first and pruning by the squared distance to the splitting plane. PRDC uses
 * it to find the dataset action nearest to [beta s, pi(s)].
 */
export class KdTree {
  readonly dim: number;
  readonly size: number;
  private readonly points: Float32Array;
  /** Point indices, permuted so every node owns a contiguous range. */
  private readonly order: Uint32Array;
  // Node arrays: internal nodes have splitDim >= 0; leaves hold [start, end).
  private readonly splitDim: Int32Array;
  private readonly splitVal: Float32Array;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly start: Uint32Array;
  private readonly end: Uint32Array;
  private nodes = 0;

  /** `points` is n x dim, row-major; it is kept by reference, not copied. */
  constructor(points: Float32Array, dim: number, readonly leafSize = 16) {
    this.dim = dim;
    this.size = Math.floor(points.length / dim);
    this.points = points;
    this.order = new Uint32Array(this.size);
    for (let i = 0; i < this.size; i++) this.order[i] = i;
    const maxNodes = 2 * Math.ceil(this.size / Math.max(1, Math.floor(leafSize / 2))) + 1;
    this.splitDim = new Int32Array(maxNodes);
    this.splitVal = new Float32Array(maxNodes);
    this.left = new Int32Array(maxNodes);
    this.right = new Int32Array(maxNodes);
    this.start = new Uint32Array(maxNodes);
    this.end = new Uint32Array(maxNodes);
    if (this.size > 0) this.build(0, this.size);
  }

  private build(lo: number, hi: number): number {
    const node = this.nodes++;
    this.start[node] = lo;
    this.end[node] = hi;
    if (hi - lo <= this.leafSize) {
      this.splitDim[node] = -1;
      return node;
    }
    // widest dimension of the node's points
    const D = this.dim;
    let best = 0;
    let bestSpread = -1;
    for (let j = 0; j < D; j++) {
      let mn = Infinity;
      let mx = -Infinity;
      for (let i = lo; i < hi; i++) {
        const v = this.points[this.order[i]! * D + j]!;
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      if (mx - mn > bestSpread) [best, bestSpread] = [j, mx - mn];
    }
    if (bestSpread <= 0) {
      this.splitDim[node] = -1; // all points equal: a leaf, whatever its size
      return node;
    }
    const mid = (lo + hi) >> 1;
    this.select(lo, hi - 1, mid, best);
    this.splitDim[node] = best;
    this.splitVal[node] = this.points[this.order[mid]! * D + best]!;
    this.left[node] = this.build(lo, mid);
    this.right[node] = this.build(mid, hi);
    return node;
  }

  /** Quickselect on order[lo..hi] by coordinate j so that order[k] holds the k-th smallest. */
  private select(lo: number, hi: number, k: number, j: number): void {
    const D = this.dim;
    const o = this.order;
    const p = this.points;
    while (hi > lo) {
      const pivot = p[o[(lo + hi) >> 1]! * D + j]!;
      let i = lo;
      let r = hi;
      while (i <= r) {
        while (p[o[i]! * D + j]! < pivot) i++;
        while (p[o[r]! * D + j]! > pivot) r--;
        if (i <= r) {
          const t = o[i]!;
          o[i] = o[r]!;
          o[r] = t;
          i++;
          r--;
        }
      }
      if (k <= r) hi = r;
      else if (k >= i) lo = i;
      else return;
    }
  }

  /** Index of the point nearest to q[offset .. offset + dim) (ties: whichever is found first). */
  nearest(q: ArrayLike<number>, offset = 0): { index: number; dist2: number } {
    if (this.size === 0) return { index: -1, dist2: Infinity };
    const state = { index: -1, dist2: Infinity };
    this.search(0, q, offset, state);
    return state;
  }

  private search(node: number, q: ArrayLike<number>, off: number, best: { index: number; dist2: number }): void {
    const D = this.dim;
    const sd = this.splitDim[node]!;
    if (sd < 0) {
      for (let i = this.start[node]!; i < this.end[node]!; i++) {
        const idx = this.order[i]!;
        let s = 0;
        for (let j = 0; j < D && s < best.dist2; j++) {
          const diff = this.points[idx * D + j]! - (q[off + j] as number);
          s += diff * diff;
        }
        if (s < best.dist2) {
          best.dist2 = s;
          best.index = idx;
        }
      }
      return;
    }
    const diff = (q[off + sd] as number) - this.splitVal[node]!;
    const [near, far] = diff < 0 ? [this.left[node]!, this.right[node]!] : [this.right[node]!, this.left[node]!];
    this.search(near, q, off, best);
    if (diff * diff < best.dist2) this.search(far, q, off, best);
  }
}
