import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  banditModel,
  gaussianMoment,
  generateBanditLog,
  obpRewardModel,
  polynomialFeatureCount,
  polynomialFeatures,
  polynomialMonomials,
  softmaxPolicy,
  type GenerateBanditOptions,
} from '../src/datasets/synthetic/bandit.js';
import { sampleIndex, sliceBanditLog, trueValue, writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { Workspace } from '../src/datasets/workspace.js';
import { readColumns } from '../src/datasets/columns.js';
import { OffpolicyError } from '../src/core/errors.js';
import { Rng } from '../src/util/rng.js';
import { runCli } from './support/run-cli.js';

const BASE: GenerateBanditOptions = { n: 20_000, numActions: 10, contextDim: 5, reward: 'logistic', beta: -3, seed: 0 };

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

describe('generateBanditLog', () => {
  const log = generateBanditLog(BASE);
  const { n, numActions: K } = log;

  it('logs the logging probability of the chosen action as its propensity', () => {
    for (let i = 0; i < n; i++) expect(log.propensities[i]).toBe(log.actionProbs[i * K + log.actions[i]!]);
    for (let i = 0; i < 100; i++) {
      let s = 0;
      for (let a = 0; a < K; a++) s += log.actionProbs[i * K + a]!;
      expect(s).toBeCloseTo(1, 14);
    }
  });

  it('uses pi_b = softmax(beta * scores), scores = x.V_a + e_a', () => {
    const m = banditModel(BASE.seed, 5, K);
    const i = 17;
    const x = log.contexts.subarray(i * 5, i * 5 + 5);
    const s = Array.from({ length: K }, (_, a) => m.e[a]! + x.reduce((acc, v, j) => acc + v * m.v[a * 5 + j]!, 0));
    for (let a = 0; a < K; a++) expect(log.scores[i * K + a]).toBeCloseTo(s[a]!, 5);
    const z = s.reduce((acc, v) => acc + Math.exp(-3 * v), 0);
    for (let a = 0; a < K; a++) expect(log.actionProbs[i * K + a]).toBeCloseTo(Math.exp(-3 * s[a]!) / z, 6);
    // logistic q = sigmoid((x.w_a + b_a - mean) / std)
    for (let a = 0; a < K; a++) {
      const raw = m.b[a]! + x.reduce((acc, v, j) => acc + v * m.w[a * 5 + j]!, 0);
      expect(log.expectedRewards[i * K + a]).toBeCloseTo(1 / (1 + Math.exp(-(raw - m.mean) / m.std)), 6);
    }
  });

  it('draws actions with frequencies matching actionProbs (chi-square)', () => {
    const expected = new Float64Array(K);
    const counts = new Float64Array(K);
    for (let i = 0; i < n; i++) {
      counts[log.actions[i]!]!++;
      for (let a = 0; a < K; a++) expected[a]! += log.actionProbs[i * K + a]!;
    }
    let chi2 = 0;
    for (let a = 0; a < K; a++) chi2 += (counts[a]! - expected[a]!) ** 2 / expected[a]!;
    expect(chi2).toBeLessThan(27.9); // 99.9% quantile of chi-square with 9 df
  });

  it('has mean reward equal to the logging value within noise, and the logging value is trueValue(q, pi_b)', () => {
    const mean = log.rewards.reduce((a, b) => a + b, 0) / n;
    expect(Math.abs(mean - log.loggingValue)).toBeLessThan(4 * 0.5 / Math.sqrt(n));
    expect(log.loggingValue).toBe(trueValue(log.expectedRewards, log.actionProbs, n, K));
    for (const r of log.rewards) expect(r === 0 || r === 1).toBe(true);
  });

  it('linear rewards: q is z-scored (mean 0, std 1 over x ~ N(0, I)) and rewards are q + N(0, 1)', () => {
    const lin = generateBanditLog({ ...BASE, reward: 'linear', n: 20_000 });
    let s = 0;
    let s2 = 0;
    for (const q of lin.expectedRewards) {
      s += q;
      s2 += q * q;
    }
    const m = s / lin.expectedRewards.length;
    expect(Math.abs(m)).toBeLessThan(0.05);
    expect(Math.sqrt(s2 / lin.expectedRewards.length - m * m)).toBeCloseTo(1, 1);
    let resid = 0;
    let resid2 = 0;
    for (let i = 0; i < lin.n; i++) {
      const e = lin.rewards[i]! - lin.expectedRewards[i * K + lin.actions[i]!]!;
      resid += e;
      resid2 += e * e;
    }
    expect(Math.abs(resid / lin.n)).toBeLessThan(4 / Math.sqrt(lin.n));
    expect(resid2 / lin.n).toBeCloseTo(1, 1);
  });

  it('deficient support gives exactly D zero-probability actions per row, never logged', () => {
    const d = generateBanditLog({ ...BASE, n: 3000, deficientSupport: 3 });
    const zeroSets = new Set<string>();
    for (let i = 0; i < d.n; i++) {
      const zeros: number[] = [];
      for (let a = 0; a < K; a++) if (d.actionProbs[i * K + a] === 0) zeros.push(a);
      expect(zeros.length).toBe(3);
      expect(zeros).not.toContain(d.actions[i]);
      expect(d.propensities[i]).toBeGreaterThan(0);
      zeroSets.add(zeros.join(','));
    }
    expect(zeroSets.size).toBeGreaterThan(50); // a different random set per row
    // K - 1 deficient actions: the logger is deterministic on the one left.
    const one = generateBanditLog({ ...BASE, n: 200, deficientSupport: K - 1 });
    for (const p of one.propensities) expect(p).toBe(1);
  });

  it('beta = 0 gives the uniform logger', () => {
    const u = generateBanditLog({ ...BASE, n: 50, beta: 0 });
    for (const p of u.actionProbs) expect(p).toBeCloseTo(1 / K, 15);
  });

  it('is deterministic by seed, and the reward model does not depend on n', () => {
    const a = generateBanditLog({ ...BASE, n: 500 });
    const b = generateBanditLog({ ...BASE, n: 500 });
    expect(Buffer.from(a.contexts.buffer).equals(Buffer.from(b.contexts.buffer))).toBe(true);
    expect(Array.from(a.actions)).toEqual(Array.from(b.actions));
    expect(Array.from(a.rewards)).toEqual(Array.from(b.rewards));
    const c = generateBanditLog({ ...BASE, n: 500, seed: 1 });
    expect(Array.from(c.actions)).not.toEqual(Array.from(a.actions));
    // the first 500 rows of the n = 20000 log share contexts and q with the n = 500 log
    expect(Array.from(log.contexts.subarray(0, 2500))).toEqual(Array.from(a.contexts));
    expect(Array.from(log.expectedRewards.subarray(0, 5000))).toEqual(Array.from(a.expectedRewards));
  });

  it('softmaxPolicy builds candidates with a computable true value', () => {
    const pi = softmaxPolicy(log, 3);
    let s = 0;
    for (let a = 0; a < K; a++) s += pi[a]!;
    expect(s).toBeCloseTo(1, 14);
    const v = trueValue(log.expectedRewards, pi, n, K);
    expect(v).toBeGreaterThan(0);
    expect(v).toBeLessThan(1);
  });

  it('rejects bad parameters', () => {
    expectError(() => generateBanditLog({ ...BASE, numActions: 1 }), 'E_GENERATOR_PARAM', 'actions must be an integer between 2 and 100000, got 1. Pass --actions with a value between 2 and 100000.');
    expectError(() => generateBanditLog({ ...BASE, n: 0 }), 'E_GENERATOR_PARAM', 'rows must be an integer between 1 and 2147483647, got 0. Pass --rows with a value between 1 and 2147483647.');
    expectError(() => generateBanditLog({ ...BASE, deficientSupport: 10 }), 'E_GENERATOR_PARAM', 'deficient support must be an integer between 0 and 9, got 10. Pass --deficient-support with a value between 0 and 9.');
    expectError(() => generateBanditLog({ ...BASE, beta: Number.NaN }), 'E_GENERATOR_PARAM', 'beta must be a finite number, got NaN. Pass --beta with a number, e.g. --beta -3 (OBP default experiments).');
    expectError(
      () => generateBanditLog({ ...BASE, reward: 'cubic' as 'linear' }),
      'E_GENERATOR_PARAM',
      'Unknown reward function "cubic". Use --reward logistic (binary rewards) or --reward linear (continuous rewards).',
    );
    expectError(() => generateBanditLog({ ...BASE, contextDim: 0 }), 'E_GENERATOR_PARAM', 'context dimension must be an integer between 1 and 10000, got 0. Pass --context-dim with a value between 1 and 10000.');
  });
});

describe('trueValue and sampleIndex', () => {
  it('computes mean_i sum_a pi(a|x_i) q(x_i, a) on a hand case', () => {
    const q = Float64Array.of(1, 0, 0.5, 0.25);
    const pi = [0.25, 0.75, 0.5, 0.5];
    // row 0: 0.25; row 1: 0.25 + 0.125 = 0.375; mean 0.3125
    expect(trueValue(q, pi, 2, 2)).toBe(0.3125);
  });
  it('rejects mismatched shapes', () => {
    expectError(
      () => trueValue(Float64Array.of(1, 0, 0), [0.5, 0.5], 2, 2),
      'E_SHAPE',
      'trueValue needs n x K = 4 values in both arrays, got 3 expected rewards and 2 probabilities. Pass row-major n x K arrays for the same n rows and K actions.',
    );
  });
  it('never returns a zero-probability index', () => {
    const rng = new Rng(2);
    const probs = Float64Array.of(0, 0.3, 0, 0.7, 0);
    for (let i = 0; i < 2000; i++) expect([1, 3]).toContain(sampleIndex(rng, probs, 0, 5));
  });
});

describe('writeBanditDataset', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-bandit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores canonical columns plus expected_reward, with generator facts in metadata', async () => {
    const ws = await Workspace.open(path.join(dir, 'ws'));
    const log = generateBanditLog({ ...BASE, n: 1000, numActions: 4, contextDim: 3, deficientSupport: 1 });
    const v = await writeBanditDataset(ws, 'syn', log);
    const m = v.metadata;
    expect(m.kind).toBe('bandit');
    expect(m.rowCount).toBe(1000);
    expect(m.columns).toEqual([
      { name: 'row_id', type: 'BIGINT' },
      { name: 'context', type: 'FLOAT[]' },
      { name: 'action', type: 'INTEGER' },
      { name: 'reward', type: 'DOUBLE' },
      { name: 'propensity', type: 'DOUBLE' },
      { name: 'action_probs', type: 'DOUBLE[]' },
      { name: 'expected_reward', type: 'DOUBLE[]' },
    ]);
    expect(m.actionSpace).toEqual({ type: 'discrete', n: 4 });
    expect(m.observationSpace).toEqual({ type: 'box', shape: [3] });
    expect(m.extra!.loggingTrueValue).toBe(log.loggingValue);
    expect(m.extra!.params).toEqual({ rows: 1000, actions: 4, contextDim: 3, reward: 'logistic', beta: -3, deficientSupport: 1 });
    expect(m.lineage).toEqual({ transform: 'generate:bandit', params: m.extra!.params, seed: 0 });
    const conn = await ws.queryConnection();
    const { columns: cols } = await readColumns(conn, 'SELECT context, action, propensity, action_probs, expected_reward FROM syn ORDER BY row_id', {
      context: { type: 'f32', width: 3 },
      action: { type: 'i32' },
      propensity: { type: 'f64' },
      action_probs: { type: 'f64', width: 4 },
      expected_reward: { type: 'f64', width: 4 },
    });
    conn.closeSync();
    expect(Array.from(cols.context)).toEqual(Array.from(log.contexts));
    expect(Array.from(cols.action)).toEqual(Array.from(log.actions));
    expect(Array.from(cols.propensity)).toEqual(Array.from(log.propensities));
    expect(Array.from(cols.action_probs)).toEqual(Array.from(log.actionProbs));
    expect(Array.from(cols.expected_reward)).toEqual(Array.from(log.expectedRewards));
  });

  it('same seed gives the same content hash; another seed a different one; 1-D contexts stay lists', async () => {
    const ws1 = await Workspace.open(path.join(dir, 'a'));
    const ws2 = await Workspace.open(path.join(dir, 'b'));
    const opts = { ...BASE, n: 800, contextDim: 1 };
    const v1 = await writeBanditDataset(ws1, 'x', generateBanditLog(opts));
    const v2 = await writeBanditDataset(ws2, 'x', generateBanditLog(opts));
    const v3 = await writeBanditDataset(ws2, 'x', generateBanditLog({ ...opts, seed: 5 }));
    expect(v1.metadata.contentHash).toBe(v2.metadata.contentHash);
    expect(v3.metadata.contentHash).not.toBe(v1.metadata.contentHash);
    expect(v1.metadata.columns[1]).toEqual({ name: 'context', type: 'FLOAT[]' });
  });
});

describe("OBP's reward function and behaviour (rewardFunction 'obp', behaviour 'expected-reward')", () => {
  const OBP: GenerateBanditOptions = { ...BASE, n: 4000, numActions: 6, contextDim: 3, rewardFunction: 'obp', behaviour: 'expected-reward' };
  const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

  it("lists monomials in scikit-learn's PolynomialFeatures order, bias first", () => {
    expect(polynomialMonomials(2, 2)).toEqual([[], [0], [1], [0, 0], [0, 1], [1, 1]]);
    expect(polynomialMonomials(3, 1)).toEqual([[], [0], [1], [2]]);
    expect(polynomialMonomials(2, 3).slice(6)).toEqual([[0, 0, 0], [0, 0, 1], [0, 1, 1], [1, 1, 1]]);
    for (const [d, deg, count] of [[5, 1, 6], [5, 3, 56], [10, 3, 286], [30, 3, 5456], [2, 4, 15]] as const) {
      expect(polynomialFeatureCount(d, deg)).toBe(count);
      if (count < 1000) expect(polynomialMonomials(d, deg).length).toBe(count);
    }
    const out = new Float64Array(6);
    polynomialFeatures(polynomialMonomials(2, 2), [9, 2, -3], 1, out); // x = (2, -3)
    expect(Array.from(out)).toEqual([1, 2, -3, 4, -6, 9]);
  });

  it('uses the Gaussian moments E[x^k] = (k - 1)!! (0 for odd k)', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map(gaussianMoment)).toEqual([1, 0, 1, 0, 3, 0, 15]);
  });

  it('has the exact mean and std of raw(x, a) (hand-computed for d = 1, degree 2, K = 1)', () => {
    // raw = u0 + u1 x + u2 x^2: E = u0 + u2, E[raw^2] = u0^2 + u1^2 + 3 u2^2 + 2 u0 u2, var = u1^2 + 2 u2^2.
    const m = obpRewardModel(4, 1, 1, 2);
    const [u0, u1, u2] = Array.from(m.u);
    expect(m.mean).toBeCloseTo(u0! + u2!, 14);
    expect(m.std).toBeCloseTo(Math.sqrt(u1! ** 2 + 2 * u2! ** 2), 14);
    // K = 2, d = 2, degree 1: raw = u_a0 + u_a1 x0 + u_a2 x1; mean = mean_a u_a0; var = mean_a (u_a1^2 + u_a2^2) + var_a u_a0.
    const k2 = obpRewardModel(9, 2, 2, 1);
    const u = Array.from(k2.u);
    const mean = (u[0]! + u[3]!) / 2;
    expect(k2.mean).toBeCloseTo(mean, 14);
    const variance = (u[1]! ** 2 + u[2]! ** 2 + u[4]! ** 2 + u[5]! ** 2) / 2 + ((u[0]! - mean) ** 2 + (u[3]! - mean) ** 2) / 2;
    expect(k2.std).toBeCloseTo(Math.sqrt(variance), 14);
  });

  it('gives q = sigmoid(degree * (sum_f phi_f(x) u[a, f] - mean) / std), checked by hand on a row (degree 1 and 3)', () => {
    for (const degree of [1, 3]) {
      const log = generateBanditLog({ ...OBP, n: 50, degree });
      const m = obpRewardModel(OBP.seed, 3, 6, degree);
      const i = 7;
      const [x0, x1, x2] = Array.from(log.contexts.subarray(i * 3, i * 3 + 3));
      // phi(x) written out by hand in scikit-learn's order.
      const phi =
        degree === 1
          ? [1, x0!, x1!, x2!]
          : [
              1, x0!, x1!, x2!,
              x0! * x0!, x0! * x1!, x0! * x2!, x1! * x1!, x1! * x2!, x2! * x2!,
              x0! ** 3, x0! ** 2 * x1!, x0! ** 2 * x2!, x0! * x1! ** 2, x0! * x1! * x2!, x0! * x2! ** 2, x1! ** 3, x1! ** 2 * x2!, x1! * x2! ** 2, x2! ** 3,
            ];
      expect(m.monomials.length).toBe(phi.length);
      for (let a = 0; a < 6; a++) {
        const raw = phi.reduce((acc, v, f) => acc + v * m.u[a * phi.length + f]!, 0);
        expect(log.expectedRewards[i * 6 + a]).toBeCloseTo(sigmoid((degree * (raw - m.mean)) / m.std), 12);
      }
    }
  });

  it('z-scores exactly: linear q has mean 0 and std = degree over x ~ N(0, I) and uniform actions', () => {
    for (const degree of [1, 2]) {
      const lin = generateBanditLog({ ...OBP, n: 40_000, reward: 'linear', degree });
      let s = 0;
      let s2 = 0;
      for (const q of lin.expectedRewards) {
        s += q;
        s2 += q * q;
      }
      const cells = lin.expectedRewards.length;
      const mean = s / cells;
      expect(Math.abs(mean)).toBeLessThan(0.05 * degree);
      expect(Math.sqrt(s2 / cells - mean * mean) / degree).toBeCloseTo(1, 1);
    }
  });

  it("draws OBP's coefficient structure: per feature, c + M[., 0] shared by all actions and `degree` uniforms per action", () => {
    // Over many seeds: the spread across actions of u[a, f] (f > 0) estimates the per-action
    // variance degree / 3; the spread of the action means estimates the shared variance 2 / 3.
    for (const degree of [1, 3]) {
      let within = 0;
      let between = 0;
      let cells = 0;
      for (let seed = 0; seed < 60; seed++) {
        const K = 40;
        const m = obpRewardModel(seed, 4, K, degree);
        const F = m.monomials.length;
        for (let f = 1; f < F; f++) {
          let mu = 0;
          for (let a = 0; a < K; a++) mu += m.u[a * F + f]! / K;
          let v = 0;
          for (let a = 0; a < K; a++) v += (m.u[a * F + f]! - mu) ** 2 / (K - 1);
          within += v;
          between += mu * mu;
          cells++;
        }
      }
      expect(within / cells).toBeCloseTo(degree / 3, 1);
      expect(between / cells - degree / 3 / 40).toBeCloseTo(2 / 3, 1);
    }
  });

  it("behaviour 'expected-reward' logs with softmax(beta * q), and the scores are q", () => {
    const log = generateBanditLog({ ...OBP, n: 200 });
    expect(Array.from(log.scores)).toEqual(Array.from(log.expectedRewards));
    const i = 11;
    const z = Array.from({ length: 6 }, (_, a) => Math.exp(-3 * log.expectedRewards[i * 6 + a]!)).reduce((x, y) => x + y, 0);
    for (let a = 0; a < 6; a++) expect(log.actionProbs[i * 6 + a]).toBeCloseTo(Math.exp(-3 * log.expectedRewards[i * 6 + a]!) / z, 14);
    // With q in (0, 1) and beta = -3, no action is more than e^3 times likelier than another.
    for (let r = 0; r < log.n; r++) {
      const row = log.actionProbs.subarray(r * 6, r * 6 + 6);
      expect(Math.max(...row) / Math.min(...row)).toBeLessThan(Math.exp(3));
    }
    // 'expected-reward' also works with the default reward function and 'linear' with the obp one.
    const mixed = generateBanditLog({ ...BASE, n: 100, behaviour: 'expected-reward' });
    expect(Array.from(mixed.scores)).toEqual(Array.from(mixed.expectedRewards));
    const lin = generateBanditLog({ ...OBP, n: 100, behaviour: 'linear' });
    const m = banditModel(OBP.seed, 3, 6);
    const x = lin.contexts.subarray(0, 3);
    for (let a = 0; a < 6; a++) expect(lin.scores[a]).toBeCloseTo(m.e[a]! + x.reduce((acc, v, j) => acc + v * m.v[a * 3 + j]!, 0), 5);
  });

  it('keeps the default bytes, shares the contexts of the default log, records its options, and does not depend on n', () => {
    const def = generateBanditLog({ ...BASE, n: 300, numActions: 6, contextDim: 3 });
    const obp = generateBanditLog({ ...OBP, n: 300 });
    expect(Array.from(obp.contexts)).toEqual(Array.from(def.contexts));
    expect(def.params).toEqual({ rows: 300, actions: 6, contextDim: 3, reward: 'logistic', beta: -3, deficientSupport: 0 });
    expect(obp.params).toEqual({ rows: 300, actions: 6, contextDim: 3, reward: 'logistic', beta: -3, deficientSupport: 0, rewardFunction: 'obp', degree: 1, behaviour: 'expected-reward' });
    expect(Array.from(generateBanditLog({ ...BASE, n: 300, numActions: 6, contextDim: 3, rewardFunction: 'default', behaviour: 'linear' }).rewards)).toEqual(Array.from(def.rewards));
    const big = generateBanditLog({ ...OBP, n: 900, degree: 3 });
    const small = generateBanditLog({ ...OBP, n: 300, degree: 3 });
    expect(Array.from(big.expectedRewards.subarray(0, 300 * 6))).toEqual(Array.from(small.expectedRewards));
    expect(Array.from(generateBanditLog({ ...OBP, n: 300, degree: 3 }).actions)).toEqual(Array.from(small.actions));
  });

  it('rejects bad options with the rule and the fix', () => {
    expectError(() => generateBanditLog({ ...BASE, degree: 3 }), 'E_GENERATOR_PARAM', 'degree applies only to the obp reward function, but the reward function is "default". Add --reward-function obp, or drop --degree.');
    expectError(() => generateBanditLog({ ...OBP, degree: 5 }), 'E_GENERATOR_PARAM', 'degree must be an integer between 1 and 4, got 5. Pass --degree with a value between 1 and 4.');
    expectError(() => generateBanditLog({ ...OBP, degree: 1.5 }), 'E_GENERATOR_PARAM', 'degree must be an integer between 1 and 4, got 1.5. Pass --degree with a value between 1 and 4.');
    expectError(
      () => generateBanditLog({ ...OBP, contextDim: 30, degree: 3 }),
      'E_GENERATOR_PARAM',
      'degree 3 with context dimension 30 gives 5456 polynomial features, more than the 2000 the obp reward function allows. Lower --degree or --context-dim.',
    );
    expectError(
      () => generateBanditLog({ ...OBP, n: 10, contextDim: 2500 }),
      'E_GENERATOR_PARAM',
      'context dimension 2500 gives 2501 polynomial features, more than the 2000 the obp reward function allows. Lower --context-dim.',
    );
    expectError(
      () => generateBanditLog({ ...OBP, rewardFunction: 'cubic' as 'obp' }),
      'E_GENERATOR_PARAM',
      'Unknown reward function family "cubic". Use --reward-function default, or --reward-function obp (Open Bandit Pipeline\'s polynomial reward function).',
    );
    expectError(
      () => generateBanditLog({ ...OBP, behaviour: 'greedy' as 'linear' }),
      'E_GENERATOR_PARAM',
      'Unknown behaviour "greedy". Use --behaviour linear (softmax of x.V_a + e_a) or --behaviour expected-reward (softmax of q(x, a), OBP\'s default).',
    );
  });

  it('sliceBanditLog keeps rows [from, to) and recomputes the logging value; rejects bad ranges', () => {
    const log = generateBanditLog({ ...OBP, n: 100 });
    const part = sliceBanditLog(log, 40, 70);
    expect(part.n).toBe(30);
    expect(Array.from(part.contexts)).toEqual(Array.from(log.contexts.subarray(120, 210)));
    expect(Array.from(part.actions)).toEqual(Array.from(log.actions.subarray(40, 70)));
    expect(Array.from(part.expectedRewards)).toEqual(Array.from(log.expectedRewards.subarray(240, 420)));
    expect(Array.from(part.scores)).toEqual(Array.from(log.scores.subarray(240, 420)));
    expect(part.loggingValue).toBe(trueValue(part.expectedRewards, part.actionProbs, 30, 6));
    expectError(() => sliceBanditLog(log, 50, 50), 'E_SHAPE', 'Cannot take rows [50, 50) of a log with 100 rows. Pass integers with 0 <= from < to <= 100.');
    expectError(() => sliceBanditLog(log, 0, 101), 'E_SHAPE', 'Cannot take rows [0, 101) of a log with 100 rows. Pass integers with 0 <= from < to <= 100.');
  });

  it('generate bandit --reward-function obp --degree 3 --behaviour expected-reward stores that log', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-obp-cli-'));
    try {
      const r = await runCli(['-w', dir, 'generate', 'bandit', '--name', 'obp', '--rows', '300', '--actions', '6', '--context-dim', '3', '--reward-function', 'obp', '--degree', '3', '--behaviour', 'expected-reward', '--seed', '2', '--json']);
      expect(r.code, r.err).toBe(0);
      const v = await (await Workspace.open(dir)).resolve('obp');
      const expected = generateBanditLog({ n: 300, numActions: 6, contextDim: 3, reward: 'logistic', beta: -3, rewardFunction: 'obp', degree: 3, behaviour: 'expected-reward', seed: 2 });
      expect(v.metadata.extra!.params).toEqual(expected.params);
      expect(v.metadata.extra!.loggingTrueValue).toBe(expected.loggingValue);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
