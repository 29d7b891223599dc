/**
 * Self-normalised estimators (Kallus & Uehara 2019; SCOPE-RL's convention): each
 * step's weights are divided by their mean over episodes,
 *
 *   SNPDIS = sum_t gamma^t  mean_i(w_{0:t} r_t) / mean_i(w_{0:t})
 *   SNDR   = sum_t gamma^t [ mean_i(w_{0:t} (r_t - Q_t)) / mean_i(w_{0:t}) + mean_i(w_{0:t-1} V_t) / mean_i(w_{0:t-1}) ]
 *   SNTIS  = sum_i w_{0:T_i-1} G_i / sum_i w_{0:T_i-1},   G_i = sum_t gamma^t r_t.
 *
 * Means run over ALL episodes: one that ended before step t keeps its final
 * weight w_{0:T_i-1} in the denominator (absorbing state, ratio 1, reward 0;
 * see data.ts), so E[mean_i w_{0:t}] = 1 at every t. A step whose weights are
 * all zero contributes 0. Unlike SCOPE-RL no 1e-10 is added to the denominators.
 */
import { discounts, discountedReturns } from '../data.js';
import type { TrajectoryWeights } from '../weights.js';
import { requireQ, requireWeights } from './require.js';
import type { TrajectoryEstimator, TrajectoryTermsInput } from './types.js';

const ones = (n: number): Float64Array => new Float64Array(n).fill(1);

/** B_t = sum_i c_i w_{0:min(t, T_i - 1)}, t = 0..H-1 (weights carried past an episode's end). */
function carriedSums(x: TrajectoryTermsInput, w: TrajectoryWeights, c: Float64Array): Float64Array {
  const ep = x.data.episodes;
  const H = ep.horizon;
  const B = new Float64Array(H);
  const tail = new Float64Array(H + 1);
  for (let i = 0; i < ep.count; i++) {
    const ci = c[i]!;
    if (ci === 0) continue;
    const s = ep.start[i]!;
    const e = ep.start[i + 1]!;
    for (let r = s; r < e; r++) B[r - s] += ci * w.w[r]!;
    tail[e - s] += ci * w.final[i]!;
  }
  let acc = 0;
  for (let t = 0; t < H; t++) {
    acc += tail[t]!;
    B[t] += acc;
  }
  return B;
}

const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);

/** Per-step numerators sum_i c_i f(i, r) over the episodes running at t. */
function stepSums(x: TrajectoryTermsInput, c: Float64Array, f: (r: number) => number): Float64Array {
  const ep = x.data.episodes;
  const A = new Float64Array(ep.horizon);
  for (let i = 0; i < ep.count; i++) {
    const ci = c[i]!;
    if (ci === 0) continue;
    for (let r = ep.start[i]!; r < ep.start[i + 1]!; r++) A[r - ep.start[i]!] += ci * f(r);
  }
  return A;
}

const sum = (c: Float64Array): number => c.reduce((s, v) => s + v, 0);

/** Denominators of the w_{0:t-1} terms: sum of c at t = 0, B_{t-1} after. */
function shifted(B: Float64Array, c: Float64Array): Float64Array {
  const P = new Float64Array(B.length);
  if (B.length > 0) P[0] = sum(c);
  for (let t = 1; t < B.length; t++) P[t] = B[t - 1]!;
  return P;
}

const prod = (w: number, y: number): number => (w === 0 ? 0 : w * y);

function snpdisValue(x: TrajectoryTermsInput, c: Float64Array): number {
  const w = requireWeights(x, 'SNPDIS');
  const B = carriedSums(x, w, c);
  const A = stepSums(x, c, (r) => prod(w.w[r]!, x.data.rewards[r]!));
  return stepRatioSum(x.data.gamma, A, B);
}

function sndrParts(x: TrajectoryTermsInput, c: Float64Array) {
  const w = requireWeights(x, 'SNDR');
  const { q, v } = requireQ(x, 'SNDR', true);
  const B = carriedSums(x, w, c);
  const P = shifted(B, c);
  const N1 = stepSums(x, c, (r) => prod(w.w[r]!, x.data.rewards[r]! - q[r]!));
  const N2 = stepSums(x, c, (r) => prod(w.wPrev[r]!, v[r]!));
  return { w, q, v, B, P, N1, N2 };
}

function sndrValue(x: TrajectoryTermsInput, c: Float64Array): number {
  const { B, P, N1, N2 } = sndrParts(x, c);
  return stepRatioSum(x.data.gamma, N1, B, N2, P);
}

/** sum_t gamma^t (N_t / D_t [+ N2_t / D2_t]), a ratio with a zero denominator counting 0: the SN estimates from per-step sums. */
export function stepRatioSum(gamma: number, N: Float64Array, D: Float64Array, N2?: Float64Array, D2?: Float64Array): number {
  const disc = discounts(gamma, D.length);
  let v = 0;
  for (let t = 0; t < D.length; t++) v += disc[t]! * (N2 && D2 ? ratio(N[t]!, D[t]!) + ratio(N2[t]!, D2[t]!) : ratio(N[t]!, D[t]!));
  return v;
}

/**
 * Coefficients of the linearised terms of sum_t gamma^t N_t / D_t over n
 * episodes: kk_t = gamma^t n / D_t, k_t = kk_t N_t / D_t (0 where D_t = 0), and
 * suffix_t = sum_{u >= t} k_u for t = 0..H (suffix_H = 0). Episode i's influence
 * is sum_{t < T_i} (kk_t num_it - k_t den_it) - carried_i suffix_{T_i}.
 */
export function influenceCoefficients(gamma: number, n: number, N: Float64Array, D: Float64Array): { kk: Float64Array; k: Float64Array; suffix: Float64Array } {
  const H = D.length;
  const disc = discounts(gamma, H);
  const k = new Float64Array(H);
  const kk = new Float64Array(H);
  for (let t = 0; t < H; t++) {
    if (D[t] === 0) continue;
    kk[t] = (disc[t]! * n) / D[t]!;
    k[t] = kk[t]! * (N[t]! / D[t]!);
  }
  const suffix = new Float64Array(H + 1);
  for (let t = H - 1; t >= 0; t--) suffix[t] = suffix[t + 1]! + k[t]!;
  return { kk, k, suffix };
}

function sntisValue(x: TrajectoryTermsInput, c: Float64Array): number {
  const w = requireWeights(x, 'SNTIS');
  const G = discountedReturns(x.data);
  let num = 0;
  let den = 0;
  for (let i = 0; i < G.length; i++) {
    num += c[i]! * prod(w.final[i]!, G[i]!);
    den += c[i]! * w.final[i]!;
  }
  return ratio(num, den);
}

/**
 * Linearised per-episode terms of sum_t gamma^t N_t / D_t (N over running
 * episodes, D with carried weights): g_i gets sum_t gamma^t (n_it - R_t d_it) / mean(D_t),
 * R_t = N_t / D_t, where d_it for t >= T_i is the carried weight `carried[i]`.
 */
function addInfluence(
  x: TrajectoryTermsInput,
  g: Float64Array,
  N: Float64Array,
  D: Float64Array,
  num: (r: number) => number,
  den: (r: number) => number,
  carried: Float64Array,
): void {
  const ep = x.data.episodes;
  const n = ep.count;
  const { kk, k, suffix } = influenceCoefficients(x.data.gamma, n, N, D);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const st = ep.start[i]!;
    for (let r = st; r < ep.start[i + 1]!; r++) {
      const t = r - st;
      s += kk[t]! * num(r) - k[t]! * den(r);
    }
    s -= prod(carried[i]!, suffix[ep.start[i + 1]! - st]!);
    g[i] += s;
  }
}

export const sntis: TrajectoryEstimator = {
  id: 'sntis',
  label: 'SNTIS',
  reference: 'Precup et al. 2000; Kallus & Uehara 2019',
  selfNormalized: true,
  needsWeights: true,
  needsQ: false,
  episodeTerms(x) {
    const n = x.data.episodes.count;
    const w = requireWeights(x, 'SNTIS');
    const value = sntisValue(x, ones(n));
    const G = discountedReturns(x.data);
    let meanW = 0;
    for (const f of w.final) meanW += f / n;
    const g = new Float64Array(n);
    for (let i = 0; i < n; i++) g[i] = value + (meanW === 0 ? 0 : (prod(w.final[i]!, G[i]!) - value * w.final[i]!) / meanW);
    return g;
  },
  resampled: sntisValue,
};

export const snpdis: TrajectoryEstimator = {
  id: 'snpdis',
  label: 'SNPDIS',
  reference: 'Precup et al. 2000; Kallus & Uehara 2019',
  selfNormalized: true,
  needsWeights: true,
  needsQ: false,
  episodeTerms(x) {
    const n = x.data.episodes.count;
    const w = requireWeights(x, 'SNPDIS');
    const c = ones(n);
    const value = snpdisValue(x, c);
    const B = carriedSums(x, w, c);
    const A = stepSums(x, c, (r) => prod(w.w[r]!, x.data.rewards[r]!));
    const g = new Float64Array(n).fill(value);
    addInfluence(x, g, A, B, (r) => prod(w.w[r]!, x.data.rewards[r]!), (r) => w.w[r]!, w.final);
    return g;
  },
  resampled: snpdisValue,
};

export const sndr: TrajectoryEstimator = {
  id: 'sndr',
  label: 'SNDR',
  reference: 'Jiang & Li 2016; Kallus & Uehara 2019',
  selfNormalized: true,
  needsWeights: true,
  needsQ: true,
  episodeTerms(x) {
    const n = x.data.episodes.count;
    const c = ones(n);
    const value = sndrValue(x, c);
    const { w, q, v, B, P, N1, N2 } = sndrParts(x, c);
    const g = new Float64Array(n).fill(value);
    addInfluence(x, g, N1, B, (r) => prod(w.w[r]!, x.data.rewards[r]! - q[r]!), (r) => w.w[r]!, w.final);
    addInfluence(x, g, N2, P, (r) => prod(w.wPrev[r]!, v[r]!), (r) => w.wPrev[r]!, w.final);
    return g;
  },
  resampled: sndrValue,
};
