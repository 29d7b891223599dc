/** Helpers shared by the reward models (the RewardModel contract is in src/core/contracts.ts). */
import type { RewardData } from '../../core/contracts.js';

/** Restricts RewardData to the given rows (used by cross-fitting). */
export function subsetRewardData(data: RewardData, rows: ArrayLike<number>): RewardData {
  const m = rows.length;
  const contexts = new Float32Array(m * data.d);
  const actions = new Int32Array(m);
  const rewards = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const r = rows[i]!;
    contexts.set(data.contexts.subarray(r * data.d, (r + 1) * data.d), i * data.d);
    actions[i] = data.actions[r]!;
    rewards[i] = data.rewards[r]!;
  }
  return { n: m, d: data.d, numActions: data.numActions, contexts, actions, rewards };
}

/**
 * The linear design used by the joint ridge and logistic models:
 * [1, x_1..x_d, 1[a=1], .., 1[a=K-1]] (action 0 is the reference level, so the
 * design has full rank whenever every action appears and x is not collinear).
 * Width p = 1 + d + K - 1.
 */
export function designWidth(d: number, k: number): number {
  return d + k;
}

/** Writes the design row for (x_i, a) into out[0..p). */
export function designRow(contexts: Float32Array, i: number, d: number, a: number, k: number, out: Float64Array): void {
  out[0] = 1;
  for (let j = 0; j < d; j++) out[1 + j] = contexts[i * d + j]!;
  for (let j = 1; j < k; j++) out[d + j] = a === j ? 1 : 0;
}

/** Linear score w . design(x_i, a) without building the row. */
export function linearScore(w: Float64Array, contexts: Float32Array, i: number, d: number, a: number): number {
  let s = w[0]!;
  for (let j = 0; j < d; j++) s += w[1 + j]! * contexts[i * d + j]!;
  if (a > 0) s += w[d + a]!;
  return s;
}
