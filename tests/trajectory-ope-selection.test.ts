/** Off-policy selection: rankings by estimate and by lower bound, and the metrics against ground truth, hand-computed. */
import { describe, expect, it } from 'vitest';
import { normalizedMse, offPolicySelection, safetyErrorRates } from '../src/ope/trajectory/selection.js';
import { expectError } from './support/expect-error.js';

const cands = [
  { name: 'a', trueValue: 10, estimates: [{ estimator: 'pdis', value: 12, interval: { lower: 7 } }, { estimator: 'dr', value: 9, interval: { lower: 8 } }] },
  { name: 'b', trueValue: 6, estimates: [{ estimator: 'pdis', value: 13, interval: { lower: 2 } }, { estimator: 'dr', value: 7, interval: { lower: 5 } }] },
  { name: 'c', trueValue: 4, estimates: [{ estimator: 'pdis', value: 5, interval: { lower: 4.5 } }, { estimator: 'dr', value: 4, interval: { lower: 3 } }] },
];

describe('off-policy selection', () => {
  it('ranks by estimate and by lower bound, with nMSE, Spearman, regret@k, Type I / II and SharpeRatio@k', () => {
    const res = offPolicySelection(cands, { behaviourValue: 5, k: 1 });
    expect(res.trueRanking).toEqual(['a', 'b', 'c']);
    expect(res.threshold).toBe(5);
    const pdis = res.rows.find((r) => r.estimator === 'pdis' && r.by === 'estimate')!;
    expect(pdis.ranking).toEqual(['b', 'a', 'c']);
    // var(V) over candidates: mean 20/3; ((10-20/3)^2 + (6-20/3)^2 + (4-20/3)^2)/3 = (100/9 + 4/9 + 64/9)/3 = 56/9
    // mse = (4 + 49 + 1)/3 = 18 -> nMSE = 18 / (56/9) = 81/28
    expect(pdis.metrics!.nmse).toBeCloseTo(81 / 28, 12);
    // ranks est (12,13,5) -> (2,3,1), truth -> (3,2,1): Pearson of ranks = 0.5
    expect(pdis.metrics!.spearman).toBeCloseTo(0.5, 12);
    // top-1 by estimate is b (true 6): regret 10 - 6 = 4; Sharpe@1: std 0 and 6 - 5 > 0 -> +Infinity
    expect(pdis.metrics!.regretAtK).toBe(4);
    expect(pdis.metrics!.sharpeAtK).toBe(Infinity);
    // threshold 5: truly unsafe {c}; c's estimate 5 >= 5 passes -> Type I = 1; truly safe {a, b}: none rejected -> Type II = 0
    expect(pdis.metrics!.typeI).toBe(1);
    expect(pdis.metrics!.typeII).toBe(0);
    const pdisLb = res.rows.find((r) => r.estimator === 'pdis' && r.by === 'lower-bound')!;
    // lower bounds (7, 2, 4.5): ranking a, c, b; regret 0; Type I 0 (c: 4.5 < 5); Type II: b (2 < 5) rejected -> 1/2
    expect(pdisLb.ranking).toEqual(['a', 'c', 'b']);
    expect(pdisLb.metrics!.regretAtK).toBe(0);
    expect(pdisLb.metrics!.typeI).toBe(0);
    expect(pdisLb.metrics!.typeII).toBe(0.5);
    const dr = res.rows.find((r) => r.estimator === 'dr' && r.by === 'estimate')!;
    expect(dr.ranking).toEqual(['a', 'b', 'c']);
    expect(dr.metrics!.spearman).toBeCloseTo(1, 12);
    const k2 = offPolicySelection(cands, { behaviourValue: 5, k: 2 }).rows.find((r) => r.estimator === 'dr' && r.by === 'estimate')!;
    // top-2 true values (10, 6): mean 8, std 2 (divisor k); (10 - 5) / 2
    expect(k2.metrics!.sharpeAtK).toBeCloseTo(2.5, 12);
  });
  it('without ground truth: rankings only; bad k is a coded error', () => {
    const res = offPolicySelection(cands.map(({ trueValue: _t, ...c }) => c), { behaviourValue: 5 });
    expect(res.trueRanking).toBeUndefined();
    expect(res.rows.every((r) => r.metrics === undefined)).toBe(true);
    expectError(() => offPolicySelection(cands, { behaviourValue: 5, k: 4 }), 'E_SELECTION_INPUT', /k must be an integer between 1 and the number of candidates \(3\), got 4/);
    expect(normalizedMse([1, 1], [2, 2])).toBeNaN();
    expect(safetyErrorRates([1], [2], 0)).toEqual({ typeI: NaN, typeII: 0 });
  });
});
