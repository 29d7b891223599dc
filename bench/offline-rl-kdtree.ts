/**
 * KD-tree (PRDC's nearest-neighbour constraint): build time and the time of one
 * batch of 256 queries, at the reference key width 23 (obs 17 + act 6), against
 * brute force. Keys: random normal points (the worst case for a KD-tree) and
 * points on a 4-dimensional manifold embedded in 23 dimensions (closer to real
 * trajectories). Run: npx tsx bench/offline-rl-kdtree.ts
 */
import { KdTree } from '../src/offline-rl/kdtree.js';
import { Rng } from '../src/util/rng.js';

function keys(n: number, dim: number, latent: number | null, rng: Rng): Float32Array {
  const out = new Float32Array(n * dim);
  if (latent === null) return out.map(() => rng.normal());
  const mix = new Float32Array(latent * dim).map(() => rng.normal());
  const z = new Float32Array(latent);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < latent; k++) z[k] = rng.normal();
    for (let j = 0; j < dim; j++) {
      let v = 0.01 * rng.normal();
      for (let k = 0; k < latent; k++) v += z[k]! * mix[k * dim + j]!;
      out[i * dim + j] = Math.sin(v);
    }
  }
  return out;
}

const dim = 23;
const rng = new Rng(1);
for (const [label, latent] of [['random 23-d', null], ['4-d manifold', 4]] as const) {
  for (const n of [100_000, 1_000_000]) {
    const pts = keys(n, dim, latent, rng);
    const t0 = performance.now();
    const tree = new KdTree(pts, dim);
    const build = performance.now() - t0;
    const queries = Array.from({ length: 256 }, (_, i) => pts.subarray(((i * 7919) % n) * dim, ((i * 7919) % n) * dim + dim).map((v) => v + 0.05 * rng.normal()));
    const t1 = performance.now();
    for (const q of queries) tree.nearest(q);
    const query = performance.now() - t1;
    let brute = NaN;
    if (n <= 100_000) {
      const t2 = performance.now();
      for (const q of queries.slice(0, 32)) {
        let best = Infinity;
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let j = 0; j < dim; j++) s += (pts[i * dim + j]! - q[j]!) ** 2;
          if (s < best) best = s;
        }
      }
      brute = ((performance.now() - t2) * 256) / 32;
    }
    console.log(`${label.padEnd(14)} n=${String(n).padStart(9)}: build ${(build / 1000).toFixed(2)} s, 256 queries ${query.toFixed(1)} ms${Number.isNaN(brute) ? '' : `, brute force ${brute.toFixed(0)} ms`}`);
  }
}
