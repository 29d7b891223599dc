import { describe, expect, it } from 'vitest';
import { accuracyMetrics, averageRanks, regretAtK, relativeError, sharpeRatioAtK, spearman, squaredError, topK } from '../src/ope/accuracy.js';
import { expectError } from './support/expect-error.js';

const truth = [0.4, 0.5, 0.8, 0.2];

describe('accuracy metrics on hand examples', () => {
  const est = [0.5, 0.3, 0.9, 0.1];
  it('relative error = mean |est - truth| / |truth| = (0.25 + 0.4 + 0.125 + 0.5) / 4', () => {
    expect(relativeError(est, truth)).toBeCloseTo(1.275 / 4, 14);
  });
  it('squared error = (0.01 + 0.04 + 0.01 + 0.01) / 4', () => {
    expect(squaredError(est, truth)).toBeCloseTo(0.0175, 14);
  });
  it('Spearman: ranks [3,2,4,1] vs [2,3,4,1], 1 - 6*2/(4*15) = 0.8', () => {
    expect(spearman(est, truth)).toBeCloseTo(0.8, 14);
    expect(spearman(truth, truth)).toBeCloseTo(1, 14);
    expect(spearman(truth.map((v) => -v), truth)).toBeCloseTo(-1, 14);
  });
  it('Spearman with ties uses average ranks: [1,1,2,3] vs [1,2,3,4] = 4.5 / sqrt(4.5 * 5)', () => {
    expect(averageRanks([1, 1, 2, 3])).toEqual([1.5, 1.5, 3, 4]);
    expect(averageRanks([5, 2, 5, 5])).toEqual([3, 1, 3, 3]);
    expect(spearman([1, 1, 2, 3], [1, 2, 3, 4])).toBeCloseTo(4.5 / Math.sqrt(22.5), 14);
  });
  it('regret@k = best true value - best true value among the top-k estimates', () => {
    const e2 = [0.9, 0.3, 0.5, 0.1]; // top-1 is candidate 0 (true 0.4); best true is 0.8
    expect(topK(e2, 2)).toEqual([0, 2]);
    expect(regretAtK(e2, truth, 1)).toBeCloseTo(0.4, 14);
    expect(regretAtK(e2, truth, 2)).toBe(0);
    expect(regretAtK(est, truth, 1)).toBe(0);
  });
  it('SharpeRatio@k = (best true in top-k - behaviour) / population std of true values in top-k', () => {
    const e2 = [0.9, 0.3, 0.5, 0.1];
    // top-2 true values [0.4, 0.8]: mean 0.6, std 0.2 -> (0.8 - 0.3) / 0.2
    expect(sharpeRatioAtK(e2, truth, 0.3, 2)).toBeCloseTo(2.5, 12);
    // top-3 true values [0.4, 0.8, 0.5]
    const m = (0.4 + 0.8 + 0.5) / 3;
    const sd = Math.sqrt(((0.4 - m) ** 2 + (0.8 - m) ** 2 + (0.5 - m) ** 2) / 3);
    expect(sharpeRatioAtK(e2, truth, 0.3, 3)).toBeCloseTo(0.5 / sd, 12);
    // k = 1: zero spread
    expect(sharpeRatioAtK(e2, truth, 0.3, 1)).toBe(Infinity);
    expect(sharpeRatioAtK(e2, truth, 0.4, 1)).toBeNaN();
  });
  it('accuracyMetrics bundles them', () => {
    const m = accuracyMetrics('dr', est, truth, 0.3, 2);
    expect(m).toEqual({ estimator: 'dr', relativeError: relativeError(est, truth), squaredError: squaredError(est, truth), spearman: spearman(est, truth), regretAtK: 0, sharpeAtK: sharpeRatioAtK(est, truth, 0.3, 2), k: 2 });
    expect(m.sharpeAtK).toBeCloseTo(2.5, 12); // top-2 of est: candidates 2 and 0, true [0.8, 0.4]
  });
});

describe('accuracy errors', () => {
  it('mismatched lengths, bad k, zero true value', () => {
    expectError(() => relativeError([1, 2], [1]), 'E_ACCURACY_INPUT', /one estimate per true value; got 2 estimates and 1 true values/);
    expectError(() => regretAtK([1, 2], [1, 2], 3), 'E_ACCURACY_INPUT', /k must be an integer between 1 and the number of candidates \(2\), got 3/);
    expectError(() => relativeError([1, 2], [0, 2]), 'E_ACCURACY_INPUT', /undefined for candidate 0: its true value is 0/);
  });
});
