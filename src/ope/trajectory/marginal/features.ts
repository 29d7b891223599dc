/**
 * Feature maps phi(s, a) for minimax weight learning (mwl.ts). The weight w and
 * the discriminators f share the one map (W = F), so the minimax problem has a
 * closed form.
 *
 *   state features x(s)   'linear': [z(s), 1], z the observation standardised by the
 *                          logged rows' mean and standard deviation (a constant
 *                          coordinate keeps scale 1);
 *                          'rbf': [sqrt(2/D) cos(Omega z(s) + beta), 1], D random Fourier
 *                          features of a Gaussian kernel of bandwidth `bandwidth`
 *                          (standardised units), Omega ~ N(0, 1/bandwidth^2), beta ~
 *                          U[0, 2 pi), both seeded
 *   discrete actions       phi(s, a) = onehot(a) (x) x(s),      k = K p
 *   continuous actions     phi(s, a) = x(s) (x) [u(a), 1],    k = p (m + 1), u the action
 *                          standardised by the logged actions
 *
 * Both maps are linear in the action's encoding, so E_{a ~ pi} phi(s, a) needs only
 * pi(.|s) (discrete) or E_{a ~ pi}[a] (continuous). The linear class is
 * invariant to affine maps of s and a: standardising only conditions the solve.
 */
import { Rng } from '../../../util/rng.js';

export type StateFeatureKind = 'linear' | 'rbf';

export interface StateFeatureSettings {
  kind: StateFeatureKind;
  /** RBF: number of random features D (default 64). */
  dim?: number;
  /** RBF: kernel bandwidth in standardised units (default sqrt(obsDim)). */
  bandwidth?: number;
  seed: number;
}

/** x(s) for rows of observations: `apply(obs, count)` gives count x p. */
export interface StateFeatureMap {
  p: number;
  description: string;
  apply(obs: ArrayLike<number>, count: number): Float64Array;
}

/** Per-column mean and standard deviation (1 where a column is constant) of an n x d row-major array. */
export function columnScale(x: ArrayLike<number>, n: number, d: number): { mean: Float64Array; sd: Float64Array } {
  const mean = new Float64Array(d);
  const sd = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j]! / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) sd[j] += (x[i * d + j]! - mean[j]!) ** 2 / n;
  for (let j = 0; j < d; j++) sd[j] = sd[j]! > 1e-24 ? Math.sqrt(sd[j]!) : 1;
  return { mean, sd };
}

export const DEFAULT_RBF_DIM = 64;

/** The state feature map, standardised on the logged observations `obs` (n x d). */
export function stateFeatureMap(obs: ArrayLike<number>, n: number, d: number, s: StateFeatureSettings): StateFeatureMap {
  const { mean, sd } = columnScale(obs, n, d);
  if (s.kind === 'linear') {
    return {
      p: d + 1,
      description: `linear: [standardised observation (${d}), 1]`,
      apply(o, count) {
        const out = new Float64Array(count * (d + 1));
        for (let i = 0; i < count; i++) {
          for (let j = 0; j < d; j++) out[i * (d + 1) + j] = (o[i * d + j]! - mean[j]!) / sd[j]!;
          out[i * (d + 1) + d] = 1;
        }
        return out;
      },
    };
  }
  const D = s.dim ?? DEFAULT_RBF_DIM;
  const bw = s.bandwidth ?? Math.sqrt(d);
  const rng = new Rng(`mwl-rbf:${s.seed}`);
  const omega = new Float64Array(D * d);
  const beta = new Float64Array(D);
  for (let q = 0; q < D; q++) {
    for (let j = 0; j < d; j++) omega[q * d + j] = rng.normal() / bw;
    beta[q] = 2 * Math.PI * rng.uniform();
  }
  const c = Math.sqrt(2 / D);
  return {
    p: D + 1,
    description: `rbf: [${D} random Fourier features of the standardised observation, bandwidth ${bw.toPrecision(3)}, seed ${s.seed}; 1]`,
    apply(o, count) {
      const out = new Float64Array(count * (D + 1));
      const z = new Float64Array(d);
      for (let i = 0; i < count; i++) {
        for (let j = 0; j < d; j++) z[j] = (o[i * d + j]! - mean[j]!) / sd[j]!;
        for (let q = 0; q < D; q++) {
          let a = beta[q]!;
          for (let j = 0; j < d; j++) a += omega[q * d + j]! * z[j]!;
          out[i * (D + 1) + q] = c * Math.cos(a);
        }
        out[i * (D + 1) + D] = 1;
      }
      return out;
    },
  };
}
