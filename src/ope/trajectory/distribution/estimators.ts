/**
 * Cumulative-distribution OPE: raw estimates of F(m) = P_pi(G <= m) on a grid,
 * G = sum_t gamma^t r_t (gamma^t from t = 0, every reward counted, the last one
 * too; SCOPE-RL's CD-OPE discounts by gamma^(t+1)). Each estimator is a set of
 * signed atoms (a value and a mass) binned onto the grid with fractional bins
 * (grid.ts); the raw CDF is their running sum.
 *
 *  - CD-IS (Chandak et al. 2021, "Universal off-policy evaluation"):
 *      F(m) = (1/n) sum_i w_{0:T_i-1} 1{G_i <= m}; 0 below the smallest return
 *      (SCOPE-RL reports w_(1)/n there).
 *  - CD-SNIS: the same divided by sum_i w_{0:T_i-1} (a distribution by construction).
 *  - CD-DR, per decision (Huang, Leqi, Lipton & Azizzadenesheli 2022, "Off-policy
 *    risk assessment for Markov decision processes"), with a model H_t(. | history)
 *    of the return's distribution given the history up to s_t:
 *      F(m) = (1/n) sum_i [ w_{0:T_i-1} 1{G_i <= m} + sum_{t<T_i} (w_{0:t-1} - w_{0:t}) H_t(m) ].
 *    The model here depends on the state, not the action, so E_{a~pi} H = H and
 *    the usual w_{0:t-1} E_pi G(s_t, .) - w_{0:t} G(s_t, a_t) reduces to the
 *    factor above; E[w_{0:t} | s_t, past] = w_{0:t-1} makes every model term mean
 *    zero, so CD-DR is unbiased for any model when the weights are exact, and
 *    equals CD-IS with the zero model.
 *  - CD-DM: (1/n) sum_i H_0(m; s_0^i), the model alone.
 *
 * The model (locationShiftModel): the return-to-go from s_t is V(s_t) plus noise
 * whose distribution depends only on t: the logged return-to-go residuals
 * G_{i,t} - V(s_{i,t}) at step t, centred to mean 0 (so the model's mean is V),
 * summarised by at most 32 quantile atoms. So G given the history up to s_t is
 * P_t + gamma^t (V(s_t) + e), P_t = sum_{u<t} gamma^u r_u. It assumes the spread
 * of the return-to-go does not depend on the state or on the policy (the
 * residuals are the behaviour policy's); a wrong spread costs CD-DR variance, not
 * bias, and CD-DM bias.
 */
import { discounts, discountedReturns, type TrajectoryOpeData } from '../data.js';
import type { TrajectoryWeights } from '../weights.js';
import { addAtom, cumulative } from './grid.js';

/** A model of the return-to-go's distribution: mean V(s_t) per step plus noise atoms per step t. */
export interface ReturnToGoModel {
  /** V(s_t) per step (row). */
  center: Float64Array;
  /** Noise atoms at step t: offsets from the centre and their probabilities (summing to 1); none = the zero model. */
  noise(t: number): { offsets: Float64Array; probs: Float64Array };
  /** What the model is, for the result. */
  source: string;
}

export const MAX_NOISE_ATOMS = 32;

/** The zero model (H = 0): CD-DR with it is CD-IS. */
export function zeroReturnModel(steps: number): ReturnToGoModel {
  const none = { offsets: new Float64Array(0), probs: new Float64Array(0) };
  return { center: new Float64Array(steps), noise: () => none, source: 'zero' };
}

/** Return-to-go G_{i,t} = sum_{u>=t} gamma^(u-t) r_u per step. */
export function returnsToGo(d: TrajectoryOpeData): Float64Array {
  const ep = d.episodes;
  const out = new Float64Array(d.n);
  for (let i = 0; i < ep.count; i++) {
    let g = 0;
    for (let r = ep.start[i + 1]! - 1; r >= ep.start[i]!; r--) out[r] = g = d.rewards[r]! + d.gamma * g;
  }
  return out;
}

/** The location-shift model (module comment) from V(s_t) per step and the logged returns-to-go. */
export function locationShiftModel(d: TrajectoryOpeData, vState: Float64Array, source = 'V(s_t) + centred step-t residuals', maxAtoms = MAX_NOISE_ATOMS): ReturnToGoModel {
  const ep = d.episodes;
  const rtg = returnsToGo(d);
  const byStep: number[][] = Array.from({ length: ep.horizon }, () => []);
  for (let i = 0; i < ep.count; i++) for (let r = ep.start[i]!; r < ep.start[i + 1]!; r++) byStep[r - ep.start[i]!]!.push(rtg[r]! - vState[r]!);
  const atoms = byStep.map((e) => {
    const m = e.length;
    let mean = 0;
    for (const x of e) mean += x / m;
    const s = Float64Array.from(e, (x) => x - mean).sort();
    const K = Math.min(m, maxAtoms);
    const offsets = K === m ? s : Float64Array.from({ length: K }, (_, k) => s[Math.floor(((k + 0.5) * m) / K)]!);
    return { offsets, probs: new Float64Array(K).fill(1 / K) };
  });
  return { center: vState, noise: (t) => atoms[t]!, source };
}

/**
 * An estimator's raw CDF as a sum over episodes, binned: episode i puts mass[k]
 * on grid slot slot[k], k in [start[i], start[i+1]). For episode multiplicities
 * c_i (all 1 for the estimate, a bootstrap draw for a resample) the binned raw
 * masses are sum_i c_i mass_i / D, D = sum_i c_i den_i when `den` is given
 * (self-normalised: CD-SNIS's sum of trajectory weights), else sum_i c_i (= n).
 */
export interface EpisodeMasses {
  slots: number;
  start: Int32Array;
  slot: Int32Array;
  mass: Float64Array;
  den: Float64Array | null;
}

/** Episode masses from `fill(i, acc)`, which adds episode i's atoms to a zeroed scratch row `acc` (addAtom). */
function episodeMasses(grid: Float64Array, count: number, fill: (i: number, acc: Float64Array) => void, den: Float64Array | null = null): EpisodeMasses {
  const acc = new Float64Array(grid.length);
  const start = new Int32Array(count + 1);
  const slot: number[] = [];
  const mass: number[] = [];
  for (let i = 0; i < count; i++) {
    fill(i, acc);
    for (let j = 0; j < acc.length; j++) {
      if (acc[j] !== 0) {
        slot.push(j);
        mass.push(acc[j]!);
        acc[j] = 0;
      }
    }
    start[i + 1] = slot.length;
  }
  return { slots: grid.length, start, slot: Int32Array.from(slot), mass: Float64Array.from(mass), den };
}

/** The raw CDF of episode masses under multiplicities `counts` (null: every episode once). */
export function rawCdf(m: EpisodeMasses, counts: Float64Array | null = null): Float64Array {
  const acc = new Float64Array(m.slots);
  const n = m.start.length - 1;
  let D = 0;
  for (let i = 0; i < n; i++) {
    const c = counts ? counts[i]! : 1;
    if (c === 0) continue;
    D += m.den ? c * m.den[i]! : c;
    for (let k = m.start[i]!; k < m.start[i + 1]!; k++) acc[m.slot[k]!] += c * m.mass[k]!;
  }
  if (D > 0) for (let j = 0; j < acc.length; j++) acc[j] /= D;
  else acc.fill(0);
  return cumulative(acc);
}

/** CD-IS: episode i puts w_{0:T_i-1} at G_i; raw F = (1/n) sum_i w_{0:T_i-1} h_j(G_i). */
export function cdIsMasses(d: TrajectoryOpeData, w: TrajectoryWeights, grid: Float64Array): EpisodeMasses {
  const G = discountedReturns(d);
  return episodeMasses(grid, G.length, (i, acc) => addAtom(acc, grid, G[i]!, w.final[i]!));
}

/** CD-SNIS: as CD-IS, divided by sum_i w_{0:T_i-1} instead of n (all zeros when every weight is 0). */
export function cdSnisMasses(d: TrajectoryOpeData, w: TrajectoryWeights, grid: Float64Array): EpisodeMasses {
  return { ...cdIsMasses(d, w, grid), den: w.final };
}

/** The logged episodes' empirical CDF: (1/n) sum_i h_j(G_i) (the behaviour policy's, on-policy). */
export function empiricalMasses(d: TrajectoryOpeData, grid: Float64Array): EpisodeMasses {
  const G = discountedReturns(d);
  return episodeMasses(grid, G.length, (i, acc) => addAtom(acc, grid, G[i]!, 1));
}

/** CD-IS raw CDF: (1/n) sum_i w_{0:T_i-1} h_j(G_i). */
export const cdIsRaw = (d: TrajectoryOpeData, w: TrajectoryWeights, grid: Float64Array): Float64Array => rawCdf(cdIsMasses(d, w, grid));

/** CD-SNIS raw CDF: sum_i w_{0:T_i-1} h_j(G_i) / sum_i w_{0:T_i-1} (all zeros when every weight is 0). */
export const cdSnisRaw = (d: TrajectoryOpeData, w: TrajectoryWeights, grid: Float64Array): Float64Array => rawCdf(cdSnisMasses(d, w, grid));

/** The logged episodes' empirical CDF on the grid. */
export const empiricalRaw = (d: TrajectoryOpeData, grid: Float64Array): Float64Array => rawCdf(empiricalMasses(d, grid));

/** Adds c * H_t(. ; row r) with prefix P: atoms P + gamma^t (V(s_t) + e_k), masses c p_k. */
function addModel(acc: Float64Array, grid: Float64Array, model: ReturnToGoModel, r: number, t: number, P: number, disc: number, c: number): void {
  if (c === 0) return;
  const { offsets, probs } = model.noise(t);
  const v = model.center[r]!;
  for (let k = 0; k < offsets.length; k++) addAtom(acc, grid, P + disc * (v + offsets[k]!), c * probs[k]!);
}

/** CD-DR (per decision, module comment): episode i's atoms w_{0:T_i-1} at G_i and (w_{0:t-1} - w_{0:t}) H_t at every step. */
export function cdDrMasses(d: TrajectoryOpeData, w: TrajectoryWeights, model: ReturnToGoModel, grid: Float64Array): EpisodeMasses {
  const ep = d.episodes;
  const disc = discounts(d.gamma, ep.horizon);
  return episodeMasses(grid, ep.count, (i, acc) => {
    let P = 0;
    for (let r = ep.start[i]!; r < ep.start[i + 1]!; r++) {
      const t = r - ep.start[i]!;
      addModel(acc, grid, model, r, t, P, disc[t]!, w.wPrev[r]! - w.w[r]!);
      P += disc[t]! * d.rewards[r]!;
    }
    addAtom(acc, grid, P, w.final[i]!);
  });
}

/** CD-DM: episode i's model H_0(. ; s_0^i). */
export function cdDmMasses(d: TrajectoryOpeData, model: ReturnToGoModel, grid: Float64Array): EpisodeMasses {
  const ep = d.episodes;
  return episodeMasses(grid, ep.count, (i, acc) => addModel(acc, grid, model, ep.start[i]!, 0, 0, 1, 1));
}

/** CD-DR raw CDF (per decision, module comment). */
export const cdDrRaw = (d: TrajectoryOpeData, w: TrajectoryWeights, model: ReturnToGoModel, grid: Float64Array): Float64Array => rawCdf(cdDrMasses(d, w, model, grid));

/** CD-DM raw CDF: (1/n) sum_i H_0(. ; s_0^i). */
export const cdDmRaw = (d: TrajectoryOpeData, model: ReturnToGoModel, grid: Float64Array): Float64Array => rawCdf(cdDmMasses(d, model, grid));
