import { describe, expect, it } from 'vitest';
import { openMemoryConnection, queryOne } from '../src/datasets/duckdb.js';
import { arraysToTable } from '../src/datasets/from-arrays.js';
import {
  ESTIMATOR_IDS,
  ESTIMATORS,
  estimateFromTerms,
  getEstimator,
  resolveParams,
  rowTermsFor,
  termRange,
  type BanditBatch,
  type EstimatorId,
  type EstimatorParams,
} from '../src/ope/estimators/index.js';
import { candidateWarnings, estimatorDisagreement, supportDeficiency, weightDiagnostics } from '../src/ope/diagnostics.js';
import { sumsFromRow, sumsFromTerms, sumsSelectList, sumsStdError, sumsValue } from '../src/ope/sums.js';
import { Rng } from '../src/util/rng.js';
import { expectError } from './support/expect-error.js';

/**
 * The hand-computed table (n = 4, K = 2):
 *   row  a  r    p     pi(.|x)     q(x,.)      w = pi(a|x)/p   dm = sum_a pi q   q(x,a)  r - q
 *   0    0  1    0.5   [0.8,0.2]   [0.6,0.3]   1.6             0.54              0.6     0.4
 *   1    1  0    0.25  [0.5,0.5]   [0.4,0.2]   2               0.30              0.2    -0.2
 *   2    1  1    0.1   [0.0,1.0]   [0.5,0.7]   10              0.70              0.7     0.3
 *   3    0  0.5  0.8   [0.4,0.6]   [0.2,0.9]   0.5             0.62              0.2     0.3
 */
const table: BanditBatch = {
  n: 4,
  numActions: 2,
  actions: Int32Array.from([0, 1, 1, 0]),
  rewards: Float64Array.from([1, 0, 1, 0.5]),
  propensities: Float64Array.from([0.5, 0.25, 0.1, 0.8]),
  targetProbs: Float64Array.from([0.8, 0.2, 0.5, 0.5, 0.0, 1.0, 0.4, 0.6]),
  rewardHat: Float64Array.from([0.6, 0.3, 0.4, 0.2, 0.5, 0.7, 0.2, 0.9]),
};

const est = (id: EstimatorId, p: EstimatorParams = {}, b: BanditBatch = table): number => estimateFromTerms(ESTIMATORS[id].rowTerms(b, p));

describe('estimators on a hand-computed table', () => {
  // sum w r = 1.6*1 + 2*0 + 10*1 + 0.5*0.5 = 11.85; sum w = 14.1
  it('IPS = sum w r / n', () => {
    expect(est('ips')).toBeCloseTo(11.85 / 4, 12);
  });
  it('clipped IPS clips the weight at L (L = 5: weights 1.6, 2, 5, 0.5)', () => {
    expect(est('clipped-ips', { clip: 5 })).toBeCloseTo((1.6 + 0 + 5 + 0.25) / 4, 12);
    expect(est('clipped-ips', { clip: Infinity })).toBeCloseTo(11.85 / 4, 12);
  });
  it('SNIPS = sum w r / sum w', () => {
    expect(est('snips')).toBeCloseTo(11.85 / 14.1, 12);
  });
  it('ES-IPS = mean pi r / p^alpha (alpha = 0.5), and IPS at alpha = 1', () => {
    const expected = (0.8 / Math.sqrt(0.5) + 0 + 1 / Math.sqrt(0.1) + (0.4 * 0.5) / Math.sqrt(0.8)) / 4;
    expect(est('es-ips', { smoothingAlpha: 0.5 })).toBeCloseTo(expected, 12);
    expect(est('es-ips', { smoothingAlpha: 1 })).toBeCloseTo(11.85 / 4, 12);
    // alpha = 0: mean of pi(a_i|x_i) r_i = (0.8 + 0 + 1 + 0.2) / 4
    expect(est('es-ips', { smoothingAlpha: 0 })).toBeCloseTo(2 / 4, 12);
  });
  it('ES-IPS defaults alpha to 1 - n^(-1/4)', () => {
    const a = 1 - Math.pow(4, -0.25);
    const expected = (0.8 / Math.pow(0.5, a) + 1 / Math.pow(0.1, a) + 0.2 / Math.pow(0.8, a)) / 4;
    expect(est('es-ips')).toBeCloseTo(expected, 12);
  });
  it('DM = mean of sum_a pi q = (0.54 + 0.3 + 0.7 + 0.62) / 4', () => {
    expect(est('dm')).toBeCloseTo(0.54, 12);
  });
  // w (r - q) = 0.64, -0.4, 3.0, 0.15; sum 3.39
  it('DR = DM + mean w (r - q)', () => {
    expect(est('dr')).toBeCloseTo(0.54 + 3.39 / 4, 12);
  });
  it('SNDR = DM + sum w (r - q) / sum w', () => {
    expect(est('sndr')).toBeCloseTo(0.54 + 3.39 / 14.1, 12);
  });
  it('Switch-DR drops the correction where w > L (L = 5 drops row 2)', () => {
    expect(est('switch-dr', { clip: 5 })).toBeCloseTo(0.54 + (0.64 - 0.4 + 0.15) / 4, 12);
  });
  it('DR-OS replaces w by L w / (w^2 + L) (L = 5)', () => {
    const s = (w: number): number => (5 * w) / (w * w + 5);
    const corr = s(1.6) * 0.4 + s(2) * -0.2 + s(10) * 0.3 + s(0.5) * 0.3;
    expect(est('dr-os', { clip: 5 })).toBeCloseTo(0.54 + corr / 4, 12);
    expect(est('dr-os', { clip: Infinity })).toBeCloseTo(est('dr'), 12);
  });
});

describe('rowTermsFor', () => {
  it('gives the same terms as each spec, and nothing is cached between calls', () => {
    const p = { clip: 5, smoothingAlpha: 0.5 };
    const all = rowTermsFor(table, ESTIMATOR_IDS, p);
    ESTIMATOR_IDS.forEach((id, j) => expect(all[j], id).toEqual(ESTIMATORS[id].rowTerms(table, p)));
    const b: BanditBatch = { ...table, propensities: Float64Array.from(table.propensities) };
    const before = estimateFromTerms(rowTermsFor(b, ['ips'], p)[0]!);
    b.propensities[2] = 0.5; // refill in place: w_2 becomes 2
    expect(estimateFromTerms(rowTermsFor(b, ['ips'], p)[0]!)).toBeCloseTo(before - 10 / 4 + 2 / 4, 12);
  });
});

describe('OBP conventions', () => {
  it('clipped IPS clips the weight, not the product w r (reward 3, w = 10, L = 5 gives 15, not 5)', () => {
    const b: BanditBatch = { ...table, n: 1, actions: Int32Array.from([1]), rewards: Float64Array.from([3]), propensities: Float64Array.from([0.1]), targetProbs: Float64Array.from([0, 1]), rewardHat: Float64Array.from([0, 0]) };
    expect(est('clipped-ips', { clip: 5 }, b)).toBeCloseTo(15, 12);
  });
  it('Switch-DR keeps rows with w exactly L (1[w <= L]); L = 1.6 keeps rows 0 and 3', () => {
    expect(est('switch-dr', { clip: 1.6 })).toBeCloseTo(0.54 + (0.64 + 0.15) / 4, 12);
    // L = Infinity is plain DR, L below every weight is DM
    expect(est('switch-dr', { clip: Infinity })).toBeCloseTo(est('dr'), 12);
    expect(est('switch-dr', { clip: 0.4 })).toBeCloseTo(est('dm'), 12);
  });
  it('DR-OS shrinkage: lambda = L, w -> L w / (w^2 + L); w = 10, L = 5 gives 50/105', () => {
    const one: BanditBatch = { ...table, n: 1, actions: Int32Array.from([1]), rewards: Float64Array.from([1]), propensities: Float64Array.from([0.1]), targetProbs: Float64Array.from([0, 1]), rewardHat: Float64Array.from([0, 0]) };
    expect(est('dr-os', { clip: 5 }, one)).toBeCloseTo(50 / 105, 12);
  });
});

describe('JS row terms and SQL terms agree', () => {
  it('on a random table through DuckDB, to 1e-12, for every estimator (values and sums)', async () => {
    const rng = new Rng(11);
    const n = 300, K = 3;
    const b: BanditBatch = {
      n,
      numActions: K,
      actions: new Int32Array(n),
      rewards: new Float64Array(n),
      propensities: new Float64Array(n),
      targetProbs: new Float64Array(n * K),
      rewardHat: new Float64Array(n * K),
    };
    for (let i = 0; i < n; i++) {
      const logging = [rng.range(0.05, 1), rng.range(0.05, 1), rng.range(0.05, 1)];
      const zl = logging.reduce((s, v) => s + v, 0);
      const a = rng.categorical(logging);
      b.actions[i] = a;
      b.propensities[i] = logging[a]! / zl;
      const t = [rng.uniform(), rng.uniform(), rng.uniform()];
      const zt = t.reduce((s, v) => s + v, 0);
      for (let k = 0; k < K; k++) {
        b.targetProbs[i * K + k] = t[k]! / zt;
        b.rewardHat![i * K + k] = rng.range(-1, 2);
      }
      b.rewards[i] = rng.normal() + 0.5;
    }
    const piLogged = new Float64Array(n), qLogged = new Float64Array(n), dm = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      piLogged[i] = b.targetProbs[i * K + b.actions[i]!]!;
      qLogged[i] = b.rewardHat![i * K + b.actions[i]!]!;
      for (let k = 0; k < K; k++) dm[i] += b.targetProbs[i * K + k]! * b.rewardHat![i * K + k]!;
    }
    const conn = await openMemoryConnection();
    try {
      await arraysToTable(conn, 'log', n, [
        { name: 'reward', type: 'DOUBLE', data: b.rewards },
        { name: 'propensity', type: 'DOUBLE', data: b.propensities },
        { name: 'pi_logged', type: 'DOUBLE', data: piLogged },
        { name: 'q_logged', type: 'DOUBLE', data: qLogged },
        { name: 'dm', type: 'DOUBLE', data: dm },
      ]);
      const params = resolveParams({ clip: 1.5 }, n);
      const cols = { reward: 'reward', propensity: 'propensity', piLogged: 'pi_logged', qLogged: 'q_logged', dm: 'dm' };
      const select = ESTIMATOR_IDS.map((id) => sumsSelectList(ESTIMATORS[id].sqlTerms(cols, params), `${id}_`)).join(',\n');
      const row = await queryOne(conn, `SELECT ${select} FROM log`);
      // the same terms with the weight precomputed once in a subquery
      const selectW = ESTIMATOR_IDS.map((id) => sumsSelectList(ESTIMATORS[id].sqlTerms({ ...cols, weight: 'w' }, params), `${id}_`)).join(',\n');
      const rowW = await queryOne(conn, `SELECT ${selectW} FROM (SELECT *, pi_logged / propensity AS w FROM log)`);
      for (const id of ESTIMATOR_IDS) {
        const terms = ESTIMATORS[id].rowTerms(b, params);
        const js = sumsFromTerms(terms);
        const sql = sumsFromRow(row, `${id}_`);
        const v = estimateFromTerms(terms);
        expect(Math.abs(sumsValue(sql) - v), id).toBeLessThan(1e-12 * Math.max(1, Math.abs(v)));
        expect(Math.abs(sumsValue(js) - v), id).toBeLessThan(1e-12 * Math.max(1, Math.abs(v)));
        expect(Math.abs(sumsStdError(sql) - sumsStdError(js)), id).toBeLessThan(1e-10);
        expect(sql.n).toBe(n);
        expect(Math.abs(sumsValue(sumsFromRow(rowW, `${id}_`)) - v), id).toBeLessThan(1e-12 * Math.max(1, Math.abs(v)));
      }
      // the clip actually binds on this table, so clipped estimators differ from their unclipped versions
      expect(est('clipped-ips', params, b)).not.toBeCloseTo(est('ips', params, b), 6);
      expect(est('switch-dr', params, b)).not.toBeCloseTo(est('dr', params, b), 6);
    } finally {
      conn.closeSync();
    }
  });
});

describe('estimator errors', () => {
  it('unknown estimator names the valid ids', () => {
    expectError(() => getEstimator('ipw'), 'E_UNKNOWN_ESTIMATOR', /Unknown estimator "ipw"\. Choose from: ips, clipped-ips, snips/);
    expect(getEstimator('dr').label).toBe('DR');
  });
  it('DM and the DR family need a reward model, in JS and in SQL', () => {
    const noModel: BanditBatch = { ...table, rewardHat: undefined };
    for (const id of ['dm', 'dr', 'sndr', 'switch-dr', 'dr-os'] as const) {
      expectError(() => ESTIMATORS[id].rowTerms(noModel, {}), 'E_REWARD_MODEL_REQUIRED', new RegExp(`Estimator "${id}" needs reward-model predictions`));
      expectError(() => ESTIMATORS[id].sqlTerms({ reward: 'r', propensity: 'p', piLogged: 'pi' }, {}), 'E_REWARD_MODEL_REQUIRED', new RegExp(`Estimator "${id}" needs reward-model columns`));
    }
    expect(est('ips', {}, noModel)).toBeCloseTo(11.85 / 4, 12);
  });
  it('reward-model predictions of the wrong shape', () => {
    const bad: BanditBatch = { ...table, rewardHat: new Float64Array(7) };
    expectError(() => ESTIMATORS.dr.rowTerms(bad, {}), 'E_REWARD_MODEL_SHAPE', /hold 7 values, expected n \* K = 4 \* 2 = 8/);
  });
  it('a batch whose arrays do not match n and K, or whose actions are out of range', () => {
    expectError(() => ESTIMATORS.ips.rowTerms({ ...table, targetProbs: new Float64Array(6) }, {}), 'E_BATCH_SHAPE', /targetProbs holds 6 values, expected 8 \(n = 4, K = 2\)/);
    expectError(() => ESTIMATORS.snips.rowTerms({ ...table, rewards: new Float64Array(3) }, {}), 'E_BATCH_SHAPE', /rewards holds 3 values, expected 4/);
    expectError(() => ESTIMATORS.dr.rowTerms({ ...table, actions: Int32Array.from([0, 2, 1, -1]) }, {}), 'E_ACTION_RANGE', /Rule "action in 0\.\.1" failed for 2 rows \(first: 1, 3\)\. Actions must index/);
  });
  it('bad parameters', () => {
    expectError(() => ESTIMATORS['clipped-ips'].rowTerms(table, { clip: 0 }), 'E_ESTIMATOR_PARAM', /L must be a positive number, got 0/);
    expectError(() => ESTIMATORS['switch-dr'].sqlTerms({ reward: 'r', propensity: 'p', piLogged: 'pi', qLogged: 'q', dm: 'd' }, { clip: -1 }), 'E_ESTIMATOR_PARAM', /got -1/);
    expectError(() => ESTIMATORS['es-ips'].rowTerms(table, { smoothingAlpha: 1.5 }), 'E_ESTIMATOR_PARAM', /alpha of ES-IPS must lie in \[0, 1\], got 1.5/);
    expectError(() => ESTIMATORS['es-ips'].sqlTerms({ reward: 'r', propensity: 'p', piLogged: 'pi' }, {}), 'E_ESTIMATOR_PARAM', /needs an explicit smoothing exponent/);
  });
});

describe('termRange', () => {
  const input = { rewardRange: [0, 1] as const, maxWeight: 20, params: { clip: 4, smoothingAlpha: 0.5 } };
  it('derives each estimator term range from the reward range and the largest weight', () => {
    expect(termRange('ips', input)).toEqual([0, 20]);
    expect(termRange('clipped-ips', input)).toEqual([0, 4]);
    expect(termRange('es-ips', input)![1]).toBeCloseTo(Math.sqrt(20), 12);
    expect(termRange('dm', input)).toEqual([0, 1]);
    expect(termRange('dr', input)).toEqual([-20, 21]);
    expect(termRange('switch-dr', input)).toEqual([-4, 5]);
    // max over w <= 20 of 4 w / (w^2 + 4) is at w = 2: value 1 = sqrt(4)/2
    expect(termRange('dr-os', input)).toEqual([-1, 2]);
    expect(termRange('snips', input)).toBeNull();
    expect(termRange('sndr', input)).toBeNull();
    expect(termRange('ips', { rewardRange: [-1, 2], maxWeight: 3 })).toEqual([-3, 6]);
  });
  it('every row term of the hand table lies in its derived range', () => {
    const params = { clip: 5, smoothingAlpha: 0.5 };
    for (const id of ESTIMATOR_IDS) {
      const r = termRange(id, { rewardRange: [0, 1], maxWeight: 10, params });
      if (!r) continue;
      for (const v of ESTIMATORS[id].rowTerms(table, params).num) {
        expect(v, id).toBeGreaterThanOrEqual(r[0]);
        expect(v, id).toBeLessThanOrEqual(r[1]);
      }
    }
  });
  it('rejects bad inputs', () => {
    expectError(() => termRange('ips', { rewardRange: [1, 0], maxWeight: 2 }), 'E_RANGE', /reward range \[1, 0\] is not a finite interval/);
    expectError(() => termRange('ips', { rewardRange: [0, 1], maxWeight: 0 }), 'E_RANGE', /largest importance weight must be a positive finite number, got 0/);
  });
});

describe('weight diagnostics and warnings', () => {
  // weights 1.6, 2, 10, 0.5: sum 14.1, sum of squares 106.81
  it('ESS, max, mean, quantiles and histogram of the hand table', () => {
    const d = weightDiagnostics(table, { quantiles: [0, 0.5, 1] });
    expect(d.n).toBe(4);
    expect(d.ess).toBeCloseTo((14.1 * 14.1) / 106.81, 12);
    expect(d.essRatio).toBeCloseTo((14.1 * 14.1) / 106.81 / 4, 12);
    expect(d.maxWeight).toBe(10);
    expect(d.meanWeight).toBeCloseTo(3.525, 14);
    expect(d.weightQuantiles).toEqual([{ q: 0, value: 0.5 }, { q: 0.5, value: 1.8 }, { q: 1, value: 10 }]);
    // One bin per octave that holds a weight; the last ends at the largest weight.
    expect(d.weightHistogram).toEqual([
      { start: 0.5, end: 1, count: 1 },
      { start: 1, end: 2, count: 1 },
      { start: 2, end: 4, count: 1 },
      { start: 8, end: 10, count: 1 },
    ]);
    expect(d.supportDeficiency).toBeNaN(); // no logger distribution given
  });
  it('support deficiency = mean candidate mass where the logger has probability 0', () => {
    const b: BanditBatch = { ...table, loggingProbs: Float64Array.from([0.5, 0.5, 0.75, 0.25, 0.9, 0.1, 1, 0]) };
    expect(supportDeficiency(b)).toBeCloseTo(0.6 / 4, 14); // row 3 puts 0.6 on action 1
    expect(weightDiagnostics(b).supportDeficiency).toBeCloseTo(0.15, 14);
  });
  it('warnings with stable codes and plain messages', () => {
    const b: BanditBatch = { ...table, loggingProbs: Float64Array.from([0.5, 0.5, 0.75, 0.25, 0.9, 0.1, 1, 0]) };
    const d = weightDiagnostics(b);
    const w = candidateWarnings(d, [
      { estimator: 'ips', value: 2.9625, diagnostics: {} },
      { estimator: 'dm', value: 0.54, diagnostics: {} },
    ]);
    expect(w.map((x) => x.code)).toEqual(['LOW_ESS', 'HEAVY_WEIGHTS', 'SUPPORT_DEFICIENT', 'ESTIMATOR_DISAGREEMENT']);
    expect(w[0]!.message).toMatch(/^Effective sample size is 1\.9 of 4 rows \(46\.5%\)/);
    expect(w[1]!.message).toMatch(/largest importance weight is 10\.000 \(one row carries 70\.9% of the total weight\)/);
    expect(w[2]!.message).toMatch(/puts 15\.0% of its probability mass on actions the logging policy never takes/);
    expect(w[3]!.message).toMatch(/dm gives 0\.540 and ips gives 2\.96/);
  });
  it('no warnings for a well-behaved candidate; disagreement uses intervals when present', () => {
    const n = 1000;
    const b: BanditBatch = {
      n,
      numActions: 2,
      actions: Int32Array.from({ length: n }, (_, i) => i % 2),
      rewards: new Float64Array(n),
      propensities: new Float64Array(n).fill(0.5),
      targetProbs: Float64Array.from({ length: 2 * n }, (_, j) => (j % 2 === 0 ? 0.6 : 0.4)),
      loggingProbs: new Float64Array(2 * n).fill(0.5),
    };
    const d = weightDiagnostics(b);
    const iv = (lower: number, upper: number) => ({ lower, upper, method: 't' as const, alpha: 0.05 });
    expect(candidateWarnings(d, [
      { estimator: 'ips', value: 0.5, interval: iv(0.4, 0.6), diagnostics: {} },
      { estimator: 'dm', value: 0.3, interval: iv(0.25, 0.45), diagnostics: {} },
    ])).toEqual([]);
    const w = candidateWarnings(d, [
      { estimator: 'ips', value: 0.5, interval: iv(0.46, 0.54), diagnostics: {} },
      { estimator: 'dm', value: 0.3, interval: iv(0.25, 0.35), diagnostics: {} },
    ]);
    expect(w.map((x) => x.code)).toEqual(['ESTIMATOR_DISAGREEMENT']);
    expect(w[0]!.message).toMatch(/their 95% intervals do not overlap/);
    expect(estimatorDisagreement([{ estimator: 'a', value: 1, diagnostics: {} }, { estimator: 'b', value: 3, diagnostics: {} }]).spread).toBe(2);
  });
  it('leaves estimators that are biased by design out of the disagreement check', () => {
    const n = 1000;
    const b: BanditBatch = {
      n,
      numActions: 2,
      actions: Int32Array.from({ length: n }, (_, i) => i % 2),
      rewards: new Float64Array(n),
      propensities: new Float64Array(n).fill(0.5),
      targetProbs: Float64Array.from({ length: 2 * n }, (_, j) => (j % 2 === 0 ? 0.6 : 0.4)),
      loggingProbs: new Float64Array(2 * n).fill(0.5),
    };
    const d = weightDiagnostics(b);
    const iv = (lower: number, upper: number) => ({ lower, upper, method: 't' as const, alpha: 0.05 });
    const agreeing = [
      { estimator: 'ips', value: 0.5, interval: iv(0.46, 0.54), diagnostics: {} },
      { estimator: 'dr', value: 0.51, interval: iv(0.47, 0.55), diagnostics: {} },
    ];
    for (const biased of ['clipped-ips', 'es-ips', 'switch-dr', 'dr-os']) {
      expect(candidateWarnings(d, [...agreeing, { estimator: biased, value: 0.2, interval: iv(0.15, 0.25), diagnostics: {} }])).toEqual([]);
    }
    const w = candidateWarnings(d, [...agreeing, { estimator: 'snips', value: 0.2, interval: iv(0.15, 0.25), diagnostics: {} }]);
    expect(w.map((x) => x.code)).toEqual(['ESTIMATOR_DISAGREEMENT']);
    expect(w[0]!.message).toMatch(/snips gives 0\.200 and dr gives 0\.510/);
  });
});
