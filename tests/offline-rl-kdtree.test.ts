import { describe, expect, it } from 'vitest';
import { KdTree } from '../src/offline-rl/kdtree.js';
import { Rng } from '../src/util/rng.js';

function brute(points: Float32Array, dim: number, q: Float32Array): { index: number; dist2: number } {
  let best = { index: -1, dist2: Infinity };
  for (let i = 0; i < points.length / dim; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += (points[i * dim + j]! - q[j]!) ** 2;
    if (s < best.dist2) best = { index: i, dist2: s };
  }
  return best;
}

describe('KD-tree nearest neighbour', () => {
  it('hand-made 2-D case', () => {
    const pts = Float32Array.of(0, 0, 10, 0, 0, 10, 10, 10, 5, 5);
    const t = new KdTree(pts, 2, 1);
    expect(t.nearest([9, 1])).toEqual({ index: 1, dist2: 2 });
    expect(t.nearest([6, 4])).toEqual({ index: 4, dist2: 2 });
    expect(t.nearest([-3, 11])).toEqual({ index: 2, dist2: 10 });
  });
  for (const [dim, leaf] of [[3, 1], [7, 16], [23, 8]] as const) {
    it(`matches brute force on 2000 random points, dim ${dim}, leaf ${leaf}`, () => {
      const rng = new Rng(dim);
      const n = 2000;
      const pts = new Float32Array(n * dim).map(() => rng.normal());
      const t = new KdTree(pts, dim, leaf);
      for (let k = 0; k < 200; k++) {
        const q = new Float32Array(dim).map(() => rng.normal() * 1.2);
        const a = t.nearest(q);
        const b = brute(pts, dim, q);
        expect(a.dist2).toBeCloseTo(b.dist2, 4);
        expect(a.index).toBe(b.index);
      }
      // a dataset point is its own nearest neighbour
      expect(t.nearest(pts.subarray(17 * dim, 18 * dim))).toEqual({ index: 17, dist2: 0 });
    });
  }
  it('duplicates, an empty set, and queries at an offset', () => {
    const t = new KdTree(new Float32Array(40).fill(1), 2, 4);
    expect(t.nearest([1, 1]).dist2).toBe(0);
    expect(new KdTree(new Float32Array(0), 3).nearest([0, 0, 0])).toEqual({ index: -1, dist2: Infinity });
    const u = new KdTree(Float32Array.of(0, 0, 3, 4), 2);
    expect(u.nearest([9, 9, 3, 4], 2)).toEqual({ index: 1, dist2: 0 });
  });
});
