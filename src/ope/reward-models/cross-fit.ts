/**
 * K-fold cross-fitting: rows are split into `folds` seeded folds, and each
 * row's q(x_i, .) comes from a model fitted on the other folds only, so the
 * DR family never scores a row with a model that saw its reward.
 */
import { OffpolicyError } from '../../core/errors.js';
import { Rng } from '../../util/rng.js';
import type { Warning } from '../../core/evaluation-result.js';
import type { RewardData, RewardModel } from '../../core/contracts.js';
import { subsetRewardData } from './types.js';

/** Seeded fold of every row: a random permutation dealt round-robin. */
export function foldAssignment(n: number, folds: number, seed: number): Int32Array {
  const perm = new Rng(seed).fork('cross-fit-folds').permutation(n);
  const fold = new Int32Array(n);
  for (let r = 0; r < n; r++) fold[perm[r]!] = r % folds;
  return fold;
}

/**
 * Returns rewardHat (n x K). folds = 1 fits one model on every row and
 * predicts in-sample (no cross-fitting).
 */
export async function crossFitPredict(
  data: RewardData,
  fit: (train: RewardData, fold: number) => Promise<RewardModel>,
  opts: { folds: number; seed: number; onFold?: (done: number, total: number) => void },
): Promise<{ rewardHat: Float64Array; warnings: Warning[] }> {
  const { folds, seed } = opts;
  if (!Number.isInteger(folds) || folds < 1 || folds > Math.max(1, data.n)) {
    throw new OffpolicyError('E_CROSS_FIT_FOLDS', `Cross-fitting needs an integer number of folds between 1 and the row count (${data.n}), got ${folds}.`, {
      hint: 'Use 1 (no cross-fitting) or a small number such as 3 or 5.',
    });
  }
  const k = data.numActions;
  const rewardHat = new Float64Array(data.n * k);
  const warnings: Warning[] = [];
  if (folds === 1) {
    const model = await fit(data, 0);
    rewardHat.set(model.predict(data.contexts, data.n));
    warnings.push(...model.warnings);
    opts.onFold?.(1, 1);
    return { rewardHat, warnings };
  }
  const fold = foldAssignment(data.n, folds, seed);
  for (let f = 0; f < folds; f++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < data.n; i++) (fold[i] === f ? test : train).push(i);
    const model = await fit(subsetRewardData(data, train), f);
    const held = subsetRewardData(data, test);
    const pred = model.predict(held.contexts, held.n);
    for (let t = 0; t < test.length; t++) rewardHat.set(pred.subarray(t * k, (t + 1) * k), test[t]! * k);
    for (const w of model.warnings) if (!warnings.some((x) => x.code === w.code)) warnings.push({ code: w.code, message: `Fold ${f + 1}: ${w.message}` });
    opts.onFold?.(f + 1, folds);
  }
  return { rewardHat, warnings };
}
