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
  return { n: m, d: data.d, numActions: data.numActions, contexts, actions, rewards, ...(data.actionFeatures ? { actionFeatures: data.actionFeatures } : {}) };
}

/** Item features by action (RewardData.actionFeatures): z_a is values[a * width .. (a + 1) * width). */
export type ActionFeatureMatrix = NonNullable<RewardData['actionFeatures']>;

/**
 * The linear design used by the joint ridge and logistic models:
 * [1, x_1..x_d, 1[a=1], .., 1[a=K-1], z_a] (action 0 is the reference level;
 * z_a the m item features of action a, when given). The action indicators keep
 * a per-action intercept; the penalty shares what the item features explain
 * across actions that have them in common. Width p = 1 + d + K - 1 + m.
 */
export function designWidth(d: number, k: number, z?: ActionFeatureMatrix): number {
  return d + k + (z?.width ?? 0);
}

/** Writes the design row for (x_i, a) into out[0..p). */
export function designRow(contexts: Float32Array, i: number, d: number, a: number, k: number, out: Float64Array, z?: ActionFeatureMatrix): void {
  out[0] = 1;
  for (let j = 0; j < d; j++) out[1 + j] = contexts[i * d + j]!;
  for (let j = 1; j < k; j++) out[d + j] = a === j ? 1 : 0;
  if (z) for (let j = 0; j < z.width; j++) out[d + k + j] = z.values[a * z.width + j]!;
}

/** Linear score w . design(x_i, a) without building the row (k and z only when the design has item features). */
export function linearScore(w: Float64Array, contexts: Float32Array, i: number, d: number, a: number, k = 0, z?: ActionFeatureMatrix): number {
  let s = w[0]!;
  for (let j = 0; j < d; j++) s += w[1 + j]! * contexts[i * d + j]!;
  if (a > 0) s += w[d + a]!;
  if (z) for (let j = 0, o = a * z.width; j < z.width; j++) s += w[d + k + j]! * z.values[o + j]!;
  return s;
}
