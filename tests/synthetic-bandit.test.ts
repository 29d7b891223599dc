import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { banditModel, generateBanditLog, softmaxPolicy, type GenerateBanditOptions } from '../src/datasets/synthetic/bandit.js';
import { sampleIndex, trueValue, writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { Workspace } from '../src/datasets/workspace.js';
import { readColumns } from '../src/datasets/columns.js';
import { OffpolicyError } from '../src/errors.js';
import { Rng } from '../src/util/rng.js';

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
