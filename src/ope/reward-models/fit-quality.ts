/**
 * How well a reward model predicts rewards it did not see: R^2 and, for rewards
 * in [0, 1], the log-loss (cross-entropy, predictions clipped to [1e-6, 1 - 1e-6]),
 * each beside the constant predictor's (the training mean), so a reader can tell
 * a model that explains little. Held out means out-of-fold predictions when the
 * model is cross-fitted, else a seeded 20% of the rows the model is refitted without.
 */
import type { RewardData, RewardModel } from '../../core/contracts.js';
import type { RewardModelFit } from '../../core/evaluation-result.js';
import { foldAssignment } from './cross-fit.js';
import { subsetRewardData } from './types.js';

const EPS = 1e-6;

/** Metrics of predictions q(x_i, a_i) (pred[i * K + a_i]) on the given rows against the constant `baseline`. */
export function fitMetrics(data: RewardData, pred: Float64Array, rows: ArrayLike<number>, predRow: (j: number) => number, baseline: number): Omit<RewardModelFit, 'model' | 'heldOut'> {
  const k = data.numActions;
  const m = rows.length;
  let mean = 0;
  for (let j = 0; j < m; j++) mean += data.rewards[rows[j]!]!;
  mean /= m;
  let sse = 0, sst = 0, ll = 0, ll0 = 0;
  let binary = true;
  const b = Math.min(1 - EPS, Math.max(EPS, baseline));
  for (let j = 0; j < m; j++) {
    const i = rows[j]!;
    const y = data.rewards[i]!;
    const q = pred[predRow(j) * k + data.actions[i]!]!;
    sse += (y - q) ** 2;
    sst += (y - mean) ** 2;
    if (!(y >= 0 && y <= 1)) binary = false;
    const c = Math.min(1 - EPS, Math.max(EPS, q));
    ll -= y * Math.log(c) + (1 - y) * Math.log(1 - c);
    ll0 -= y * Math.log(b) + (1 - y) * Math.log(1 - b);
  }
  return { rows: m, r2: sst > 0 ? 1 - sse / sst : NaN, ...(binary ? { logLoss: ll / m, baselineLogLoss: ll0 / m } : {}) };
}

/** Held-out fit quality: out-of-fold when folds > 1 (rewardHat is cross-fitted), else a 20% holdout refit with `fit`. */
export async function rewardModelFit(
  data: RewardData,
  model: string,
  folds: number,
  rewardHat: Float64Array,
  fit: (train: RewardData) => Promise<RewardModel>,
  seed: number,
): Promise<RewardModelFit> {
  const n = data.n;
  const mean = (rows: ArrayLike<number>): number => {
    let s = 0;
    for (let j = 0; j < rows.length; j++) s += data.rewards[rows[j]!]!;
    return s / rows.length;
  };
  if (folds > 1) {
    const all = Int32Array.from({ length: n }, (_, i) => i);
    return { model, heldOut: `out-of-fold (${folds}-fold cross-fitting)`, ...fitMetrics(data, rewardHat, all, (j) => j, mean(all)) };
  }
  const fold = foldAssignment(n, 5, seed + 104729);
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < n; i++) (fold[i] === 0 ? test : train).push(i);
  const m = await fit(subsetRewardData(data, train));
  const held = subsetRewardData(data, test);
  const pred = m.predict(held.contexts, held.n);
  return { model, heldOut: '20% of the rows, held out of a refit', ...fitMetrics(data, pred, test, (j) => j, mean(train)) };
}
