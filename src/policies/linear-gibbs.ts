/**
 * Linear policies over contexts x with a bias term (x~ = [x, 1], scores s = W x + b),
 * and the Gibbs policies of a Gaussian posterior theta ~ N(mu, sigma^2 I) over
 * (W, b): the scores are then independent s_a ~ N(mu_a . x~, sigma^2 |x~|^2), so
 *
 *   softmax       pi(a|x) = softmax(s)_a                                (no noise)
 *   mixed-logit   pi(a|x) = E_eps softmax(s + sigma |x~| eps)_a, eps ~ N(0, I_K)
 *                 (independent noise per action; a shared draw cancels)
 *   probit        pi(a|x) = P(argmax_b (theta x~)_b = a)
 *                         = E_z prod_{b != a} Phi(z + (s_a - s_b) / (sigma |x~|)), z ~ N(0, 1)
 *
 * Expectations: mixed-logit by Monte Carlo over given normal draws (fresh per batch
 * in training; a fixed S x K matrix from a recorded seed, the same for every row,
 * in a stored policy, so it is a deterministic function of x); probit by
 * Gauss-Hermite quadrature with m nodes, each row renormalised to sum 1 (the
 * quadrature error, small when the score gaps are not much larger than sigma |x~|).
 *
 * forward() gives the B x K probabilities of a batch of rows; backward() the
 * vector-Jacobian product: from dL/dpi to dL/dW, dL/db and dL/d(ln sigma).
 * The two products with W (scores W x + b, and the weight gradient gs^T X) go
 * through a LinearMap: by default the f64 loops here; learning/ passes an f32
 * map on the wasm SIMD kernels for training.
 * Used by the JSON policy types (json-policy.ts) and by learning/.
 */
import { gaussHermiteNormal, normalCdf, normalPdf } from '../util/normal.js';
import { Rng } from '../util/rng.js';

export type LinearPolicyClass = 'softmax' | 'mixed-logit' | 'probit';

export interface LinearParams {
  /** K x d, row-major. */
  weights: Float64Array;
  /** K */
  bias: Float64Array;
  /** Posterior scale sigma > 0 (ignored by softmax). */
  sigma: number;
}

/** Normal draws for mixed-logit: S x K shared by every row (perRow false) or B x S x K. */
export interface MixedLogitNoise {
  samples: number;
  draws: Float64Array;
  perRow: boolean;
}

/** The fixed S x K standard normal draws a stored mixed-logit policy uses. */
export function fixedMixedLogitNoise(samples: number, k: number, seed: number): MixedLogitNoise {
  const rng = new Rng(seed).fork('mixed-logit-draws');
  const draws = new Float64Array(samples * k);
  for (let i = 0; i < draws.length; i++) draws[i] = rng.normal();
  return { samples, draws, perRow: false };
}

/** The two products of a batch with the linear weights (see the module comment). */
export interface LinearMap {
  /** s[r K + a] = W_a . x_r + b_a for rows idx[0..B) of the n x d contexts (idx null: rows 0..B). */
  scores(p: LinearParams, x: Float32Array, idx: Int32Array | null, B: number, s: Float64Array): void;
  /** gradW[a d + j] += sum_r gs[r K + a] x_r[j], gradB[a] += sum_r gs[r K + a]. */
  accumulate(x: Float32Array, idx: Int32Array | null, B: number, gs: Float64Array, gradW: Float64Array, gradB: Float64Array): void;
}

/** The f64 loops (certificates, stored policies, tests). */
export class LinearMapF64 implements LinearMap {
  constructor(
    readonly k: number,
    readonly d: number,
  ) {}

  scores(p: LinearParams, x: Float32Array, idx: Int32Array | null, B: number, s: Float64Array): void {
    const { k, d } = this;
    const W = p.weights;
    for (let r = 0; r < B; r++) {
      const o = (idx ? idx[r]! : r) * d;
      for (let a = 0; a < k; a++) {
        const w = a * d;
        let acc = p.bias[a]!;
        for (let j = 0; j < d; j++) acc += W[w + j]! * x[o + j]!;
        s[r * k + a] = acc;
      }
    }
  }

  accumulate(x: Float32Array, idx: Int32Array | null, B: number, gs: Float64Array, gradW: Float64Array, gradB: Float64Array): void {
    const { k, d } = this;
    for (let r = 0; r < B; r++) {
      const o = (idx ? idx[r]! : r) * d;
      for (let a = 0; a < k; a++) {
        const g = gs[r * k + a]!;
        if (g === 0) continue;
        gradB[a] += g;
        const w = a * d;
        for (let j = 0; j < d; j++) gradW[w + j] += g * x[o + j]!;
      }
    }
  }
}

export class LinearGibbsKernel {
  private s = new Float64Array(0);
  private norm = new Float64Array(0);
  private probs = new Float64Array(0);
  /** mixed-logit: the per-sample softmaxes (B x S x K); probit: unnormalised mass (B x K). */
  private cache = new Float64Array(0);
  private readonly gh: { nodes: Float64Array; weights: Float64Array } | null;
  private noise: MixedLogitNoise | null = null;
  private gsAll = new Float64Array(0);
  private readonly linear: LinearMap;

  constructor(
    readonly cls: LinearPolicyClass,
    readonly k: number,
    readonly d: number,
    opts: { quadratureNodes?: number; linear?: LinearMap } = {},
  ) {
    this.gh = cls === 'probit' ? gaussHermiteNormal(opts.quadratureNodes ?? 20) : null;
    this.linear = opts.linear ?? new LinearMapF64(k, d);
  }

  private ensure(b: number, s: number): void {
    const k = this.k;
    if (this.s.length < b * k) {
      this.s = new Float64Array(b * k);
      this.norm = new Float64Array(b);
      this.probs = new Float64Array(b * k);
      this.gsAll = new Float64Array(b * k);
    }
    const need = this.cls === 'mixed-logit' ? b * s * k : this.cls === 'probit' ? b * k : 0;
    if (this.cache.length < need) this.cache = new Float64Array(need);
  }

  /** Scores and (Gibbs classes) |x~| of rows idx[0..B) of the n x d contexts (idx null: rows 0..B). */
  private scores(p: LinearParams, x: Float32Array, idx: Int32Array | null, B: number): void {
    const d = this.d;
    this.linear.scores(p, x, idx, B, this.s);
    if (this.cls === 'softmax') return;
    for (let r = 0; r < B; r++) {
      const o = (idx ? idx[r]! : r) * d;
      let nn = 1;
      for (let j = 0; j < d; j++) nn += x[o + j]! * x[o + j]!;
      this.norm[r] = Math.sqrt(nn);
    }
  }

  /** B x K probabilities (a view into an internal buffer, valid until the next call). */
  forward(p: LinearParams, x: Float32Array, idx: Int32Array | null, B: number, noise?: MixedLogitNoise): Float64Array {
    const k = this.k;
    const S = this.cls === 'mixed-logit' ? noise!.samples : 1;
    this.ensure(B, S);
    this.noise = noise ?? null;
    this.scores(p, x, idx, B);
    const s = this.s;
    const out = this.probs;
    if (this.cls === 'softmax') {
      for (let r = 0; r < B; r++) softmaxInto(s, r * k, k, out, r * k, null, 0, 0);
    } else if (this.cls === 'mixed-logit') {
      const nz = noise!;
      const q = this.cache;
      for (let r = 0; r < B; r++) {
        const scale = p.sigma * this.norm[r]!;
        for (let a = 0; a < k; a++) out[r * k + a] = 0;
        for (let t = 0; t < S; t++) {
          const qo = (r * S + t) * k;
          const eo = nz.perRow ? qo : t * k;
          softmaxInto(s, r * k, k, q, qo, nz.draws, eo, scale);
          for (let a = 0; a < k; a++) out[r * k + a] += q[qo + a]! / S;
        }
      }
    } else {
      const { nodes, weights } = this.gh!;
      const mass = this.cache;
      for (let r = 0; r < B; r++) {
        const inv = 1 / (p.sigma * this.norm[r]!);
        let tot = 0;
        for (let a = 0; a < k; a++) {
          let m = 0;
          for (let g = 0; g < nodes.length; g++) {
            let prod = weights[g]!;
            for (let b = 0; b < k && prod > 0; b++) if (b !== a) prod *= normalCdf(nodes[g]! + (s[r * k + a]! - s[r * k + b]!) * inv);
            m += prod;
          }
          mass[r * k + a] = m;
          tot += m;
        }
        for (let a = 0; a < k; a++) out[r * k + a] = mass[r * k + a]! / tot;
      }
    }
    return out;
  }

  /**
   * Adds dL/dW (K x d) and dL/db (K) for the batch of the last forward() to gradW,
   * gradB, given gp = dL/dpi (B x K); returns dL/d(ln sigma) (0 for softmax).
   */
  backward(p: LinearParams, x: Float32Array, idx: Int32Array | null, B: number, gp: Float64Array, gradW: Float64Array, gradB: Float64Array): number {
    const k = this.k;
    const gs = new Float64Array(k);
    const s = this.s;
    let gLogSigma = 0;
    const q = this.cache;
    const loo = new Float64Array(k);
    const F = new Float64Array(k);
    const gsAll = this.gsAll;
    for (let r = 0; r < B; r++) {
      gs.fill(0);
      if (this.cls === 'softmax') {
        const o = r * k;
        let dot = 0;
        for (let a = 0; a < k; a++) dot += gp[o + a]! * this.probs[o + a]!;
        for (let a = 0; a < k; a++) gs[a] = this.probs[o + a]! * (gp[o + a]! - dot);
      } else if (this.cls === 'mixed-logit') {
        const nz = this.noise!;
        const S = nz.samples;
        const scale = p.sigma * this.norm[r]!;
        for (let t = 0; t < S; t++) {
          const qo = (r * S + t) * k;
          const eo = nz.perRow ? qo : t * k;
          let dot = 0;
          for (let a = 0; a < k; a++) dot += gp[r * k + a]! * q[qo + a]!;
          for (let a = 0; a < k; a++) {
            const v = (q[qo + a]! * (gp[r * k + a]! - dot)) / S;
            gs[a] += v;
            gLogSigma += v * scale * nz.draws[eo + a]!;
          }
        }
      } else {
        const { nodes, weights } = this.gh!;
        const inv = 1 / (p.sigma * this.norm[r]!);
        // pi = mass / sum(mass): dL/dmass_a = (gp_a - sum_b gp_b pi_b) / sum(mass).
        let tot = 0;
        let dot = 0;
        for (let a = 0; a < k; a++) {
          tot += q[r * k + a]!;
          dot += gp[r * k + a]! * this.probs[r * k + a]!;
        }
        for (let a = 0; a < k; a++) {
          const h = (gp[r * k + a]! - dot) / tot;
          if (h === 0) continue;
          for (let g = 0; g < nodes.length; g++) {
            const z = nodes[g]!;
            for (let b = 0; b < k; b++) F[b] = b === a ? 1 : normalCdf(z + (s[r * k + a]! - s[r * k + b]!) * inv);
            // leave-one-out products prod_{c != a, b} F_c
            let pre = 1;
            for (let b = 0; b < k; b++) {
              loo[b] = pre;
              pre *= F[b]!;
            }
            let suf = 1;
            for (let b = k - 1; b >= 0; b--) {
              loo[b]! *= suf;
              suf *= F[b]!;
            }
            for (let b = 0; b < k; b++) {
              if (b === a) continue;
              const u = (s[r * k + a]! - s[r * k + b]!) * inv;
              const t = h * weights[g]! * normalPdf(z + u) * loo[b]!;
              gs[a] += t * inv;
              gs[b] -= t * inv;
              gLogSigma -= t * u;
            }
          }
        }
      }
      for (let a = 0; a < k; a++) gsAll[r * k + a] = gs[a]!;
    }
    this.linear.accumulate(x, idx, B, gsAll, gradW, gradB);
    return this.cls === 'softmax' ? 0 : gLogSigma;
  }
}

/** out[oo..oo+k) = softmax(s[so..so+k) + scale * e[eo..eo+k)). */
function softmaxInto(s: Float64Array, so: number, k: number, out: Float64Array, oo: number, e: Float64Array | null, eo: number, scale: number): void {
  let max = -Infinity;
  for (let a = 0; a < k; a++) {
    const v = s[so + a]! + (e ? scale * e[eo + a]! : 0);
    out[oo + a] = v;
    if (v > max) max = v;
  }
  let sum = 0;
  for (let a = 0; a < k; a++) {
    const v = Math.exp(out[oo + a]! - max);
    out[oo + a] = v;
    sum += v;
  }
  for (let a = 0; a < k; a++) out[oo + a]! /= sum;
}

/** n x K probabilities of a linear policy class on n contexts (in chunks). */
export function linearClassProbs(
  cls: LinearPolicyClass,
  p: LinearParams,
  k: number,
  d: number,
  contexts: Float32Array,
  n: number,
  opts: { noise?: MixedLogitNoise; quadratureNodes?: number } = {},
): Float64Array {
  const kern = new LinearGibbsKernel(cls, k, d, opts.quadratureNodes !== undefined ? { quadratureNodes: opts.quadratureNodes } : {});
  const out = new Float64Array(n * k);
  const CH = 1024;
  const idx = new Int32Array(CH);
  for (let start = 0; start < n; start += CH) {
    const B = Math.min(CH, n - start);
    for (let r = 0; r < B; r++) idx[r] = start + r;
    out.set(kern.forward(p, contexts, idx, B, opts.noise).subarray(0, B * k), start * k);
  }
  return out;
}
