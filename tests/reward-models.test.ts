import { describe, expect, it } from 'vitest';
import {
  crossFitPredict,
  estimateRewardHat,
  fitLogistic,
  fitMlp,
  fitRewardModel,
  fitRidge,
  foldAssignment,
  parseRewardModelSpec,
} from '../src/ope/reward-models/index.js';
import type { RewardData } from '../src/core/contracts.js';
import { estimatePropensities } from '../src/ope/propensity.js';
import { Rng } from '../src/util/rng.js';
import { OffpolicyError } from '../src/core/errors.js';

function data(contexts: number[], d: number, actions: number[], rewards: number[], k: number): RewardData {
  return { n: actions.length, d, numActions: k, contexts: Float32Array.from(contexts), actions: Int32Array.from(actions), rewards: Float64Array.from(rewards) };
}

function expectError(fn: () => unknown, code: string, message: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OffpolicyError);
    expect((e as OffpolicyError).code).toBe(code);
    expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error('expected an error');
}

async function expectRejects(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OffpolicyError);
  expect((e as OffpolicyError).code).toBe(code);
  expect((e as Error).message).toMatch(message);
}

/** Simulated log: x ~ N(0, 1)^d, uniform actions. */
function simulate(n: number, d: number, k: number, seed: number, reward: (x: Float32Array, i: number, a: number, rng: Rng) => number): RewardData {
  const rng = new Rng(seed);
  const contexts = new Float32Array(n * d);
  for (let i = 0; i < n * d; i++) contexts[i] = rng.normal();
  const actions = new Int32Array(n);
  const rewards = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    actions[i] = rng.int(k);
    rewards[i] = reward(contexts, i, actions[i]!, rng);
  }
  return { n, d, numActions: k, contexts, actions, rewards };
}

describe('ridge', () => {
  it('matches the hand-computed penalized fit (intercept unpenalized)', () => {
    // x = [0, 1, 2], y = [1, 3, 2], lambda = 1: w = Sxy / (Sxx + 1) = 1/3, b = 2 - 1/3.
    const m = fitRidge(data([0, 1, 2], 1, [0, 0, 0], [1, 3, 2], 1), { lambda: 1 });
    const q = m.predict(Float32Array.from([0, 3]), 2);
    expect(q[0]).toBeCloseTo(5 / 3, 12);
    expect(q[1]).toBeCloseTo(5 / 3 + 1, 12);
  });

  it('recovers an exact linear reward with lambda = 0 (joint model on [x, one-hot(a)])', () => {
    const d = simulate(200, 2, 3, 1, (x, i, a) => 1 + 2 * x[i * 2]! - 0.5 * x[i * 2 + 1]! + (a === 1 ? 0.3 : a === 2 ? -0.7 : 0));
    const m = fitRidge(d, { lambda: 0 });
    const q = m.predict(Float32Array.from([1, 1]), 1);
    expect(q[0]).toBeCloseTo(2.5, 5);
    expect(q[1]).toBeCloseTo(2.8, 5);
    expect(q[2]).toBeCloseTo(1.8, 5);
  });

  it('fits one model per action and warns about actions without data', () => {
    const d = simulate(300, 1, 3, 2, (x, i, a) => (a === 0 ? 2 * x[i]! : a === 1 ? -x[i]! + 1 : 0));
    const only01 = { ...d, actions: d.actions.map((a) => (a === 2 ? 0 : a)) as Int32Array };
    only01.rewards = Float64Array.from(only01.actions, (a, i) => (a === 0 ? 2 * d.contexts[i]! : -d.contexts[i]! + 1));
    const m = fitRidge(only01, { lambda: 0, perAction: true });
    const q = m.predict(Float32Array.from([2]), 1);
    expect(q[0]).toBeCloseTo(4, 6);
    expect(q[1]).toBeCloseTo(-1, 6);
    let mean = 0;
    for (const r of only01.rewards) mean += r / only01.n;
    expect(q[2]).toBeCloseTo(mean, 10);
    expect(m.warnings.map((w) => w.code)).toEqual(['REWARD_MODEL_NO_DATA']);
    expect(m.warnings[0]!.message).toMatch(/no logged rows for 1 action\(s\) \(first: 2\)/);
  });

  it('refuses a singular design without regularization', () => {
    // Action 2 never occurs: its one-hot column is all zeros.
    expectError(() => fitRidge(data([0, 1, 2, 3], 1, [0, 1, 0, 1], [1, 2, 3, 4], 3), { lambda: 0 }), 'E_REWARD_MODEL_FIT', /normal equations for the joint model are singular \(lambda = 0\)/);
    expectError(() => fitRidge(data([0, 1], 1, [0, 0], [NaN, 1], 1)), 'E_REWARD_MODEL_FIT', /reward on row 0 is not a finite number/);
  });
});

describe('logistic', () => {
  it('reaches the optimum: the penalized gradient vanishes', () => {
    const sig = (z: number): number => 1 / (1 + Math.exp(-z));
    const d = simulate(3000, 2, 3, 3, (x, i, a, rng) => (rng.uniform() < sig(x[i * 2]! - x[i * 2 + 1]! + 0.5 * a - 0.5) ? 1 : 0));
    const m = fitLogistic(d, { lambda: 1 });
    const w = m.weights;
    const q = m.predict(d.contexts, d.n);
    const g = new Float64Array(w.length);
    for (let i = 0; i < d.n; i++) {
      const a = d.actions[i]!;
      const r = q[i * 3 + a]! - d.rewards[i]!;
      g[0]! += r;
      g[1]! += r * d.contexts[i * 2]!;
      g[2]! += r * d.contexts[i * 2 + 1]!;
      if (a > 0) g[2 + a]! += r;
    }
    for (let j = 1; j < w.length; j++) g[j]! += w[j]!;
    for (let j = 0; j < w.length; j++) expect(Math.abs(g[j]!) / d.n).toBeLessThan(1e-6);
    // And it is close to the truth (slopes 1, -1; action effects 0.5, 1.0).
    expect(w[1]).toBeCloseTo(1, 0);
    expect(w[2]).toBeCloseTo(-1, 0);
    expect(w[4]! - w[3]!).toBeCloseTo(0.5, 0);
  });

  it('refuses rewards with a single value or outside [0, 1]', () => {
    expectError(() => fitLogistic(data([0, 1, 2], 1, [0, 1, 0], [1, 1, 1], 2)), 'E_REWARD_MODEL_FIT', /every logged reward equals 1, so there is no second class/);
    expectError(() => fitLogistic(data([0, 1, 2], 1, [0, 1, 0], [0, 2, 1], 2)), 'E_REWARD_MODEL_FIT', /needs rewards in \[0, 1\], but row 1 has reward 2/);
  });
});

describe('mlp', () => {
  it('is deterministic in its seed and learns a nonlinear reward', async () => {
    const d = simulate(2000, 1, 2, 4, (x, i, a) => (a === 0 ? Math.abs(x[i]!) : -Math.abs(x[i]!)));
    const m1 = await fitMlp(d, { seed: 7, epochs: 30 });
    const m2 = await fitMlp(d, { seed: 7, epochs: 30 });
    const grid = Float32Array.from([-2, 0, 2]);
    const q1 = m1.predict(grid, 3);
    const q2 = m2.predict(grid, 3);
    expect(Array.from(q1)).toEqual(Array.from(q2));
    expect(q1[0]).toBeGreaterThan(1.2); // |x| at x = -2, action 0
    expect(q1[5]).toBeLessThan(-1.2); // -|x| at x = 2, action 1
    expect(Math.abs(q1[2]!)).toBeLessThan(0.6);
  });

  it('fails clearly when the loss is not finite', async () => {
    const d = data([0, 1, 2, 3], 1, [0, 1, 0, 1], [1e200, -1e200, 1e200, 1], 2);
    await expectRejects(fitMlp(d, { epochs: 2, batchSize: 2 }), 'E_REWARD_MODEL_FIT', /training loss became (NaN|Infinity)/);
  });
});

describe('cross-fitting', () => {
  it('predicts each row with a model that did not see it', async () => {
    // d = 0, K = 1 ridge with lambda irrelevant: the model predicts the mean of its training rewards.
    const rewards = Array.from({ length: 30 }, (_, i) => i * i);
    const d = data([], 0, new Array(30).fill(0), rewards, 1);
    const folds = foldAssignment(30, 3, 5);
    const { rewardHat } = await crossFitPredict(d, async (train) => fitRidge(train), { folds: 3, seed: 5 });
    for (let i = 0; i < 30; i++) {
      let s = 0;
      let c = 0;
      for (let j = 0; j < 30; j++) if (folds[j] !== folds[i]) (s += rewards[j]!), c++;
      expect(rewardHat[i]).toBeCloseTo(s / c, 9);
    }
    // Folds are balanced and seeded.
    expect(Array.from(foldAssignment(30, 3, 5))).toEqual(Array.from(folds));
    expect([0, 1, 2].map((f) => folds.filter((x) => x === f).length)).toEqual([10, 10, 10]);
    await expectRejects(crossFitPredict(d, async (t) => fitRidge(t), { folds: 0, seed: 1 }), 'E_CROSS_FIT_FOLDS', /between 1 and the row count \(30\), got 0/);
  });

  it('estimateRewardHat gives n x K through the named model', async () => {
    const d = simulate(100, 1, 3, 6, (x, i, a) => x[i]! + a);
    const { rewardHat } = await estimateRewardHat(d, { kind: 'ridge', lambda: 0, folds: 2, seed: 1 });
    expect(rewardHat.length).toBe(300);
    expect(rewardHat[0 * 3 + 2]! - rewardHat[0]!).toBeCloseTo(2, 6);
    const m = await fitRewardModel(d, { kind: 'ridge-per-action', lambda: 0 });
    expect(m.kind).toBe('ridge-per-action');
  });
});

describe('reward model specs', () => {
  it('parses model names and user columns', () => {
    expect(parseRewardModelSpec('logistic')).toEqual({ type: 'fit', kind: 'logistic' });
    expect(parseRewardModelSpec('columns:q_0,q_1')).toEqual({ type: 'columns', columns: ['q_0', 'q_1'] });
    expectError(() => parseRewardModelSpec('forest'), 'E_REWARD_MODEL_SPEC', /Unknown reward model "forest"/);
    expectError(() => parseRewardModelSpec('columns:'), 'E_REWARD_MODEL_SPEC', /names no columns/);
  });
});

describe('propensity estimation', () => {
  it('without contexts gives the empirical action frequencies', () => {
    const actions = Int32Array.from([0, 0, 0, 1, 2, 2, 0, 1, 0, 0]);
    const res = estimatePropensities(new Float32Array(0), actions, 10, 0, 3);
    expect(res.actionProbs[0]).toBeCloseTo(0.6, 6);
    expect(res.actionProbs[1]).toBeCloseTo(0.2, 6);
    expect(res.propensities[4]).toBeCloseTo(0.2, 6);
    expect(res.warnings[0]!.code).toBe('ESTIMATED_PROPENSITIES');
  });

  it('recovers a softmax logging policy from contexts', () => {
    const rng = new Rng(9);
    const n = 4000;
    const contexts = new Float32Array(n);
    const actions = new Int32Array(n);
    const truth = (x: number): number[] => {
      const s = [0, x, -x];
      const z = s.reduce((t, v) => t + Math.exp(v), 0);
      return s.map((v) => Math.exp(v) / z);
    };
    for (let i = 0; i < n; i++) {
      contexts[i] = rng.normal();
      actions[i] = rng.categorical(truth(contexts[i]!));
    }
    const res = estimatePropensities(contexts, actions, n, 1, 3, { lambda: 0.01 });
    let err = 0;
    for (let i = 0; i < n; i++) {
      const t = truth(contexts[i]!);
      for (let a = 0; a < 3; a++) err = Math.max(err, Math.abs(res.actionProbs[i * 3 + a]! - t[a]!));
    }
    expect(err).toBeLessThan(0.08);
  });
});
