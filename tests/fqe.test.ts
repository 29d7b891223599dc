import { describe, expect, it } from 'vitest';
import { crossFitFqe, fitFqe, type FqeOptions, type FqeTransitions } from '../src/models/fqe.js';
import { expectError } from './support/expect-error.js';

// A 3-state, 2-action MDP, states one-hot. Each (s, a) has one deterministic outcome
// (reward, next state, or the end of the episode).
const S = 3;
const A = 2;
type Outcome = { r: number; next: number; terminated: boolean };
const MDP: Outcome[][] = [
  [{ r: 1, next: 1, terminated: false }, { r: 0, next: 2, terminated: false }],
  [{ r: 0, next: 0, terminated: false }, { r: 2, next: 2, terminated: false }],
  [{ r: 0.5, next: 2, terminated: false }, { r: 1, next: 0, terminated: true }],
];
const PI = [
  [0.5, 0.5],
  [0.2, 0.8],
  [0.7, 0.3],
];
const gamma = 0.9;

/** Exact Q^pi: solve Q = R + gamma P_pi Q by value iteration to machine precision. */
function exactQ(mdp: Outcome[][], pi: number[][]): number[][] {
  let q = mdp.map((row) => row.map(() => 0));
  for (let it = 0; it < 2000; it++) {
    const v = q.map((row, s) => row.reduce((acc, x, a) => acc + pi[s]![a]! * x, 0));
    q = mdp.map((row) => row.map((o) => o.r + (o.terminated ? 0 : gamma * v[o.next]!)));
  }
  return q;
}

function oneHot(s: number): number[] {
  return Array.from({ length: S }, (_, j) => (j === s ? 1 : 0));
}

/** Every (s, a) once, as transitions with discrete (Int32) or box (Float32, the action as a number) actions. */
function transitions(mdp: Outcome[][], box = false): FqeTransitions {
  const obs: number[] = [];
  const next: number[] = [];
  const acts: number[] = [];
  const rewards: number[] = [];
  const term: number[] = [];
  for (let s = 0; s < S; s++) {
    for (let a = 0; a < A; a++) {
      const o = mdp[s]![a]!;
      obs.push(...oneHot(s));
      next.push(...(o.terminated ? [NaN, NaN, NaN] : oneHot(o.next)));
      acts.push(a);
      rewards.push(o.r);
      term.push(o.terminated ? 1 : 0);
    }
  }
  return {
    n: S * A,
    obsDim: S,
    obs: Float32Array.from(obs),
    actions: box ? Float32Array.from(acts) : Int32Array.from(acts),
    rewards: Float64Array.from(rewards),
    nextObs: Float32Array.from(next),
    terminated: Uint8Array.from(term),
  };
}

const stateOf = (obs: Float32Array, i: number): number => [0, 1, 2].find((j) => obs[i * S + j] === 1)!;
const categorical = { numActions: A, actionProbs: (obs: Float32Array, n: number) => Float64Array.from({ length: n * A }, (_, k) => PI[stateOf(obs, Math.floor(k / A))]![k % A]!) };
const allStates = Float32Array.from([0, 1, 2].flatMap(oneHot));
const opts: FqeOptions = { seed: 5, steps: 6000, batchSize: 32, lr: 1e-3, hidden: [64, 64], gamma, evalEvery: 1000 };

function expectQ(qAll: Float64Array, want: number[][], tol: number): void {
  for (let s = 0; s < S; s++) for (let a = 0; a < A; a++) expect(Math.abs(qAll[s * A + a]! - want[s]![a]!)).toBeLessThan(tol);
}

describe('fitted Q evaluation on a tabular MDP', () => {
  const truth = exactQ(MDP, PI);

  it('discrete actions: the exact expectation over pi converges to Q^pi within 0.05', () => {
    // the true values range over about 2.4 .. 7.7
    const { model, curve, config } = fitFqe(transitions(MDP), { kind: 'discrete', numActions: A }, { kind: 'categorical', policy: categorical }, { ...opts, initialObs: allStates.subarray(0, 3) });
    expectQ(model.qAll(allStates, S), truth, 0.05);
    const v0 = PI[0]!.reduce((acc, p, a) => acc + p * truth[0]![a]!, 0);
    expect(Math.abs(curve.at(-1)!.initialValue! - v0)).toBeLessThan(0.05);
    expect(curve.map((p) => p.step)).toEqual([1000, 2000, 3000, 4000, 5000, 6000]);
    expect(config).toMatchObject({ loss: 'huber', gamma, targetEvery: 100, rows: 6 });
    // V(s) = sum_a pi(a|s) Q(s, a), and q at one-hot actions equals qAll
    const q = model.qAll(allStates, S);
    const v = model.v(allStates, S);
    for (let s = 0; s < S; s++) expect(v[s]).toBeCloseTo(PI[s]![0]! * q[s * A]! + PI[s]![1]! * q[s * A + 1]!, 10);
    expect(Array.from(model.qAt(allStates, Int32Array.of(1, 0, 1), 3))).toEqual([q[1], q[2], q[5]]);
  });

  it('box actions: the deterministic action and sampled actions give Q^pi of their policies', () => {
    const data = transitions(MDP, true);
    const space = { kind: 'box', actDim: 1 } as const;
    // deterministic pi: action 1 in s0, 0 in s1, 1 in s2
    const det = [1, 0, 1];
    const detPolicy = { actionDim: 1, act: (obs: Float32Array, n: number) => Float32Array.from({ length: n }, (_, i) => det[stateOf(obs, i)]!) };
    const a = fitFqe(data, space, { kind: 'deterministic', policy: detPolicy }, opts);
    const detTruth = exactQ(MDP, det.map((x) => (x === 1 ? [0, 1] : [1, 0])));
    for (let s = 0; s < S; s++) {
      for (let act = 0; act < A; act++) expect(Math.abs(a.model.qAt(Float32Array.from(oneHot(s)), Float32Array.of(act), 1)[0]! - detTruth[s]![act]!)).toBeLessThan(0.05);
    }
    expect(a.config.loss).toBe('mse');
    // sampled: the categorical PI drawn as a number 0 / 1, 10 draws per next state
    const sample = (obs: Float32Array, n: number, rng: { uniform(): number }) => Float32Array.from({ length: n }, (_, i) => (rng.uniform() < PI[stateOf(obs, i)]![1]! ? 1 : 0));
    const b = fitFqe(data, space, { kind: 'sampled', sample, samples: 10 }, opts);
    for (let s = 0; s < S; s++) {
      for (let act = 0; act < A; act++) expect(Math.abs(b.model.qAt(Float32Array.from(oneHot(s)), Float32Array.of(act), 1)[0]! - truth[s]![act]!)).toBeLessThan(0.15);
    }
    expect(b.config.samples).toBe(10);
  });

  it('terminated steps do not bootstrap, truncated steps bootstrap from s\'', () => {
    // the same (s2, a1) -> s0 step, once terminal and once truncated
    const truncated = MDP.map((row) => row.map((o) => ({ ...o, terminated: false })));
    const tTruth = exactQ(truncated, PI);
    expect(truth[2]![1]).toBe(1);
    expect(tTruth[2]![1]).toBeGreaterThan(5);
    const term = fitFqe(transitions(MDP), { kind: 'discrete', numActions: A }, { kind: 'categorical', policy: categorical }, opts).model.qAll(allStates, S);
    const trunc = fitFqe(transitions(truncated), { kind: 'discrete', numActions: A }, { kind: 'categorical', policy: categorical }, opts).model.qAll(allStates, S);
    expectQ(term, truth, 0.05);
    expectQ(trunc, tTruth, 0.1);
  });

  it('behaviour policy from logged next actions (the corruption critic), with a held-out TD error that falls', () => {
    // episodes s0 -a0-> s1 -a1-> s2 -a1-> end, repeated: a' is the next logged action
    const ep = transitions(MDP);
    const rowOf = (s: number, a: number): number => s * A + a;
    const order = [rowOf(0, 0), rowOf(1, 1), rowOf(2, 1)];
    const pick = (src: ArrayLike<number>, w: number) => order.flatMap((i) => Array.from({ length: w }, (_, j) => src[i * w + j]!));
    const data: FqeTransitions = {
      n: 3,
      obsDim: S,
      obs: Float32Array.from(pick(ep.obs, S)),
      actions: Int32Array.from(pick(ep.actions, 1)),
      rewards: Float64Array.from(pick(ep.rewards, 1)),
      nextObs: Float32Array.from(pick(ep.nextObs, S)),
      terminated: Uint8Array.from(pick(ep.terminated, 1)),
      nextActions: Int32Array.of(1, 1, 0),
    };
    const r = fitFqe(data, { kind: 'discrete', numActions: A }, { kind: 'logged' }, { ...opts, loss: 'mse', validation: data, evalEvery: 50 });
    // Q(s2, a1) = 1; Q(s1, a1) = 2 + 0.9; Q(s0, a0) = 1 + 0.9 * 2.9
    const q = r.model.qAt(data.obs, data.actions as Int32Array, 3);
    expect(Math.abs(q[2]! - 1)).toBeLessThan(0.02);
    expect(Math.abs(q[1]! - 2.9)).toBeLessThan(0.02);
    expect(Math.abs(q[0]! - (1 + 0.9 * 2.9))).toBeLessThan(0.02);
    expect(r.curve.at(-1)!.heldOutTdError!).toBeLessThan(1e-3);
    expect(r.curve[0]!.heldOutTdError!).toBeGreaterThan(r.curve.at(-1)!.heldOutTdError!);
    expect(() => r.model.v(data.obs, 3)).toThrow(/fitted for the behaviour policy/);
  });

  it('the same seed gives the same bytes; another seed other bytes', () => {
    const fit = (seed: number) => fitFqe(transitions(MDP), { kind: 'discrete', numActions: A }, { kind: 'categorical', policy: categorical }, { ...opts, steps: 300, seed });
    const a = fit(1);
    const b = fit(1);
    const c = fit(2);
    expect(Buffer.from(a.model.net.params.buffer).equals(Buffer.from(b.model.net.params.buffer))).toBe(true);
    expect(a.curve).toEqual(b.curve);
    expect(Buffer.from(a.model.net.params.buffer).equals(Buffer.from(c.model.net.params.buffer))).toBe(false);
  });

  it('reusing target values while the target network is unchanged changes no bit (categorical and deterministic targets)', () => {
    const box = transitions(MDP, true);
    const greedy = { actionDim: 1, act: (obs: Float32Array, n: number) => Float32Array.from({ length: n }, (_, i) => (stateOf(obs, i) === 1 ? 1 : 0)) };
    const runs = [
      (targetCache: boolean) => fitFqe(transitions(MDP), { kind: 'discrete', numActions: A }, { kind: 'categorical', policy: categorical }, { ...opts, steps: 400, targetEvery: 7, targetCache }),
      (targetCache: boolean) => fitFqe(box, { kind: 'box', actDim: 1 }, { kind: 'deterministic', policy: greedy }, { ...opts, steps: 400, targetEvery: 7, targetCache }),
    ];
    for (const run of runs) {
      const cached = run(true);
      const full = run(false);
      expect(Buffer.from(cached.model.net.params.buffer).equals(Buffer.from(full.model.net.params.buffer))).toBe(true);
      expect(cached.curve).toEqual(full.curve);
    }
  });

  it('cross-fitting keeps each group in one fold and fits each fold on the others', () => {
    const data = transitions(MDP);
    const groups = [10, 10, 11, 11, 12, 12];
    const { folds, foldOf } = crossFitFqe(data, { kind: 'discrete', numActions: A }, { kind: 'categorical', policy: categorical }, { ...opts, steps: 50, folds: 3, groups });
    expect(folds).toHaveLength(3);
    for (let i = 0; i < 6; i += 2) expect(foldOf[i]).toBe(foldOf[i + 1]);
    expect(new Set(foldOf)).toEqual(new Set([0, 1, 2]));
    for (let f = 0; f < 3; f++) expect(folds[f]!.config.rows).toBe(4);
  });
});

describe('bad input', () => {
  const space = { kind: 'discrete', numActions: A } as const;
  const target = { kind: 'categorical', policy: categorical } as const;
  it('names the rows with a non-finite reward or a missing next observation on a non-terminal step', () => {
    const d = transitions(MDP);
    (d.rewards as Float64Array)[3] = NaN;
    d.nextObs[0] = NaN;
    expectError(() => fitFqe(d, space, target, opts), 'E_FQE_DATA', /failed for 2 rows \(first: 0, 3\)\. Repair or drop those rows/);
  });
  it('refuses arrays of the wrong length, actions out of range, and a policy of another width', () => {
    const d = transitions(MDP);
    expectError(() => fitFqe({ ...d, rewards: new Float64Array(5) }, space, target, opts), 'E_FQE_DATA', /do not fit n = 6 rows/);
    expectError(() => fitFqe({ ...d, actions: Int32Array.of(0, 1, 0, 2, 0, 1) }, space, target, opts), 'E_FQE_DATA', /actions in 0\.\.1.*failed for 1 row \(first: 3\)/);
    expectError(() => fitFqe(d, { kind: 'discrete', numActions: 3 }, target, opts), 'E_TRAIN_PARAM', /target policy has 2 actions, the data 3/);
    expectError(() => fitFqe(d, space, { kind: 'logged' }, opts), 'E_FQE_DATA', /needs the next logged action/);
    expectError(() => fitFqe(d, space, target, { ...opts, gamma: 1.5 }), 'E_TRAIN_PARAM', /gamma must be in \[0, 1\], got 1\.5/);
    expectError(() => crossFitFqe(d, space, target, { ...opts, folds: 7 }), 'E_TRAIN_PARAM', /needs at least 7 groups; the data has 6/);
  });
});
