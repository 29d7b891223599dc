/**
 * Marginalised IS / DR (estimators/mis.ts, mdr.ts) and minimax weight learning
 * (marginal/mwl.ts): the estimator formulas on a hand-computed table with fixed
 * weights, MWL's closed form on a one-step case, recovery of the true discounted
 * visitation ratio and of the on-policy value on a small tabular MDP, double
 * robustness, and the coded errors.
 */
import { describe, expect, it } from 'vitest';
import type { Policy } from '../src/core/contracts.js';
import type { TrajectoryArrays } from '../src/datasets/load-trajectories.js';
import { policyCandidate, type ResolvedCandidate } from '../src/ope/trajectory/candidates.js';
import { trajectoryOpeData, type TrajectoryOpeData } from '../src/ope/trajectory/data.js';
import { TRAJECTORY_ESTIMATORS, getTrajectoryEstimator, type TrajectoryTermsInput } from '../src/ope/trajectory/estimators/index.js';
import { evaluateTrajectoryArrays } from '../src/ope/trajectory/evaluate.js';
import { learnMarginalWeights, type MarginalWeights } from '../src/ope/trajectory/marginal/mwl.js';
import { Rng } from '../src/util/rng.js';
import type { TrajectoryEvaluationResult } from '../src/core/trajectory-evaluation-result.js';
import { renderTrajectoryHtml, renderTrajectoryMarkdown } from '../src/reports/trajectory.js';
import { expectError, expectRejects } from './support/expect-error.js';

const mean = (x: ArrayLike<number>): number => Array.from(x).reduce((s, v) => s + v, 0) / x.length;

// ---------------------------------------------------------------------------
// 1. The estimator formulas with FIXED weights: 3 episodes x 3 steps, gamma 0.9.
// Episodes 0 and 1 terminate, episode 2 is truncated (its last step bootstraps
// from V(next_observation) = 0.7).
const G = 0.9;
const rew = [[1, 0, 2], [0, 1, 1], [2, 1, 0]];
const Q = [[0.9, 0.2, 1.5], [0.1, 0.8, 0.7], [1.8, 0.7, 0.3]]; // Q(s_t, a_t)
const V = [[1.0, 0.4, 1.2], [0.5, 0.6, 0.9], [1.5, 0.9, 0.2]]; // V(s_t)
const W = [[1.2, 0.8, 1.5], [0.5, 1.1, 0.9], [1.0, 2.0, 0.4]]; // w(s_t, a_t), given
const V_NEXT_TRUNCATED = 0.7;

function handInput(w: number[][] = W, vNextFinal: number[] = [NaN, NaN, V_NEXT_TRUNCATED]): TrajectoryTermsInput {
  const d = trajectoryOpeData(
    {
      episodeId: Float64Array.from([0, 0, 0, 1, 1, 1, 2, 2, 2]),
      step: Int32Array.from([0, 1, 2, 0, 1, 2, 0, 1, 2]),
      rewards: Float64Array.from(rew.flat()),
      behaviorLogprob: null,
      terminated: Uint8Array.from([0, 0, 1, 0, 0, 1, 0, 0, 0]),
      truncated: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 1]),
    },
    G,
    { requireBehaviorLogprob: false },
  );
  const vNext = new Float64Array(9).fill(NaN);
  vNextFinal.forEach((v, i) => (vNext[3 * i + 2] = v));
  const marginal: MarginalWeights = {
    w: Float64Array.from(w.flat()),
    bootstrap: Uint8Array.from([1, 1, 0, 1, 1, 0, 1, 1, 1]),
    info: { method: 'mwl', reference: '', features: 'given', k: 0, ridge: 0, normalised: false, scale: 1, residual: 0, negativeShare: 0, min: 0, max: 0, mean: 0, maxShare: 0, ess: 0, policyExpectation: 'given' },
  };
  return { data: d, weights: null, qLogged: Float64Array.from(Q.flat()), vState: Float64Array.from(V.flat()), vNext, marginal };
}

// MIS by hand: sum_t 0.9^t w r
const MIS_EP = [
  1.2 * 1 + 0.9 * 0.8 * 0 + 0.81 * 1.5 * 2, // 3.63
  0.5 * 0 + 0.9 * 1.1 * 1 + 0.81 * 0.9 * 1, // 1.719
  1.0 * 2 + 0.9 * 2.0 * 1 + 0.81 * 0.4 * 0, // 3.8
];
// MDR by hand: V(s_0) + sum_t 0.9^t w_t (r_t + 0.9 V(s_{t+1}) - Q_t), V(s_3) = 0 at a terminal, 0.7 when truncated
const MDR_EP = [
  1.0 + 1.2 * (1 + 0.9 * 0.4 - 0.9) + 0.9 * 0.8 * (0 + 0.9 * 1.2 - 0.2) + 0.81 * 1.5 * (2 + 0 - 1.5),
  0.5 + 0.5 * (0 + 0.9 * 0.6 - 0.1) + 0.9 * 1.1 * (1 + 0.9 * 0.9 - 0.8) + 0.81 * 0.9 * (1 + 0 - 0.7),
  1.5 + 1.0 * (2 + 0.9 * 0.9 - 1.8) + 0.9 * 2.0 * (1 + 0.9 * 0.2 - 0.7) + 0.81 * 0.4 * (0 + 0.9 * 0.7 - 0.3),
];
// SCOPE-RL's shifted version: baseline Q(s_1, a_1), step t paired with Q(s_{t+1}, a_{t+1}) as "V(s_{t+1})", last step dropped
const SHIFTED_EP = [0, 1, 2].map((i) => Q[i]![1]! + [0, 1].reduce((s, t) => s + G ** t * W[i]![t]! * (rew[i]![t]! + G * Q[i]![t + 1]! - Q[i]![t]!), 0));

describe('MIS and MDR formulas on the hand-computed table (fixed weights, gamma 0.9)', () => {
  const x = handInput();
  it('MIS per-episode terms and value to 1e-12', () => {
    const g = TRAJECTORY_ESTIMATORS.mis.episodeTerms(x);
    for (let i = 0; i < 3; i++) expect(Math.abs(g[i]! - MIS_EP[i]!)).toBeLessThan(1e-12);
    expect(Math.abs(mean(g) - (3.63 + 1.719 + 3.8) / 3)).toBeLessThan(1e-12);
  });
  it('MDR per-episode terms to 1e-12: V(s_{t+1}) of the same step, not shifted (SCOPE-RL\'s version differs)', () => {
    const g = TRAJECTORY_ESTIMATORS.mdr.episodeTerms(x);
    for (let i = 0; i < 3; i++) expect(Math.abs(g[i]! - MDR_EP[i]!)).toBeLessThan(1e-12);
    expect(Math.abs(mean(g) - mean(MDR_EP))).toBeLessThan(1e-12);
    expect(Math.abs(mean(g) - mean(SHIFTED_EP))).toBeGreaterThan(0.1);
  });
  it('a terminal last step uses V = 0 (a stray V(next_observation) there is ignored); a truncated one bootstraps', () => {
    const stray = TRAJECTORY_ESTIMATORS.mdr.episodeTerms(handInput(W, [999, 999, V_NEXT_TRUNCATED]));
    expect(Math.abs(stray[0]! - MDR_EP[0]!)).toBeLessThan(1e-12);
    expect(Math.abs(stray[1]! - MDR_EP[1]!)).toBeLessThan(1e-12);
    const moved = TRAJECTORY_ESTIMATORS.mdr.episodeTerms(handInput(W, [NaN, NaN, V_NEXT_TRUNCATED + 1]));
    expect(Math.abs(moved[2]! - MDR_EP[2]! - 0.81 * 0.4 * 0.9 * 1)).toBeLessThan(1e-12);
  });
  it('MDR with zero weights is DM (V(s_0)) exactly', () => {
    const zero = handInput([[0, 0, 0], [0, 0, 0], [0, 0, 0]]);
    const g = TRAJECTORY_ESTIMATORS.mdr.episodeTerms(zero);
    const dm = TRAJECTORY_ESTIMATORS.dm.episodeTerms(zero);
    expect(Array.from(g)).toEqual(Array.from(dm));
    expect(Array.from(g)).toEqual([1.0, 0.5, 1.5]);
  });
  it('coded errors: no marginal weights; MDR without V(next_observation) on a truncated last step', () => {
    const { marginal: _m, ...none } = handInput();
    expectError(() => TRAJECTORY_ESTIMATORS.mis.episodeTerms(none), 'E_NO_WEIGHTS', /MIS needs learned marginal weights w\(s, a\)/);
    expectError(() => TRAJECTORY_ESTIMATORS.mdr.episodeTerms(handInput(W, [NaN, NaN, NaN])), 'E_NO_Q', /MDR needs V\(next_observation\) on the last step of the 1 episode\(s\) that end without terminating \(episodes 2\)/);
    expect(getTrajectoryEstimator('MIS').id).toBe('mis');
  });
});

// ---------------------------------------------------------------------------
// 2. A small tabular MDP: S states observed one-hot, 2 actions, termination with
// probability term[s][a] after each step (every episode terminates).
const S = 3;
const P = [
  [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]],
  [[0.5, 0.4, 0.1], [0.2, 0.2, 0.6]],
  [[0.3, 0.3, 0.4], [0.6, 0.1, 0.3]],
]; // P[s][a][s']
const TERM = [[0.1, 0.2], [0.15, 0.1], [0.3, 0.25]];
const R = [[0, 1], [0.5, 0], [2, 1]];
const D0 = [0.6, 0.3, 0.1];
const BEHAVIOUR = [[0.5, 0.5], [0.6, 0.4], [0.3, 0.7]]; // pi_b(a|s)
const TARGET = [[0.2, 0.8], [0.7, 0.3], [0.8, 0.2]];
const GREEDY = [[0, 1], [1, 0], [1, 0]];
const GAMMA = 0.95;

const stateOf = (obs: ArrayLike<number>, i: number): number => (obs[i * S] === 1 ? 0 : obs[i * S + 1] === 1 ? 1 : 2);
function tablePolicy(pi: number[][]): Policy {
  return {
    numActions: 2,
    actionProbs(obs: Float32Array, n: number): Float64Array {
      const out = new Float64Array(2 * n);
      for (let i = 0; i < n; i++) out.set(pi[stateOf(obs, i)]!, 2 * i);
      return out;
    },
  };
}

/** d_pi(s, a) = E_pi[sum_t gamma^t 1{s_t = s, a_t = a}], J = sum d r, and Q^pi, by iteration to convergence. */
function exact(pi: number[][]) {
  const d = Array.from({ length: S }, () => [0, 0]);
  let rho = D0.slice();
  for (let t = 0; t < 3000; t++) {
    const next = [0, 0, 0];
    for (let s = 0; s < S; s++) {
      for (let a = 0; a < 2; a++) {
        const m = rho[s]! * pi[s]![a]!;
        d[s]![a] += m;
        for (let s2 = 0; s2 < S; s2++) next[s2] += GAMMA * m * (1 - TERM[s]![a]!) * P[s]![a]![s2]!;
      }
    }
    rho = next;
  }
  let J = 0;
  for (let s = 0; s < S; s++) for (let a = 0; a < 2; a++) J += d[s]![a]! * R[s]![a]!;
  let v = [0, 0, 0];
  let q = Array.from({ length: S }, () => [0, 0]);
  for (let it = 0; it < 3000; it++) {
    q = Array.from({ length: S }, (_, s) => [0, 1].map((a) => R[s]![a]! + GAMMA * (1 - TERM[s]![a]!) * P[s]![a]!.reduce((acc, p, s2) => acc + p * v[s2]!, 0)));
    v = q.map((qs, s) => qs[0]! * pi[s]![0]! + qs[1]! * pi[s]![1]!);
  }
  return { d, J, q, v };
}

/** n episodes of the behaviour policy (terminated ends; a 500-step limit never reached in practice). */
function simulate(n: number, seed: number | string): TrajectoryArrays {
  const rng = new Rng(seed);
  const obs: number[] = [], next: number[] = [], act: number[] = [], rw: number[] = [], lp: number[] = [], ep: number[] = [], st: number[] = [], term: number[] = [], trunc: number[] = [];
  const onehot = (s: number): number[] => [0, 1, 2].map((j) => (j === s ? 1 : 0));
  for (let e = 0; e < n; e++) {
    let s = rng.categorical(D0);
    for (let t = 0; ; t++) {
      const a = rng.categorical(BEHAVIOUR[s]!);
      const s2 = rng.categorical(P[s]![a]!);
      const done = rng.uniform() < TERM[s]![a]!;
      const cut = !done && t === 499;
      obs.push(...onehot(s));
      next.push(...onehot(s2));
      act.push(a);
      rw.push(R[s]![a]!);
      lp.push(Math.log(BEHAVIOUR[s]![a]!));
      ep.push(e);
      st.push(t);
      term.push(done ? 1 : 0);
      trunc.push(cut ? 1 : 0);
      if (done || cut) break;
      s = s2;
    }
  }
  const m = ep.length;
  return {
    n: m, obsDim: S, actDim: 1, discreteActions: 2,
    observations: Float32Array.from(obs), actions: Int32Array.from(act), rewards: Float64Array.from(rw),
    nextObservations: Float32Array.from(next), nextObservationMissing: new Uint8Array(m),
    terminated: Uint8Array.from(term), truncated: Uint8Array.from(trunc),
    episodeId: Float64Array.from(ep), step: Int32Array.from(st), behaviorLogprob: Float64Array.from(lp), corrupted: null,
  };
}

function setup(a: TrajectoryArrays, pi: number[][]): { d: TrajectoryOpeData; cand: ResolvedCandidate } {
  const d = trajectoryOpeData(a, GAMMA);
  return { d, cand: policyCandidate(tablePolicy(pi), 'pi', 'test', { steps: a }) };
}

/** Q and V of the logged steps from a Q table. */
function qFrom(a: TrajectoryArrays, q: number[][], pi: number[][]) {
  const qLogged = new Float64Array(a.n);
  const vState = new Float64Array(a.n);
  for (let r = 0; r < a.n; r++) {
    const s = stateOf(a.observations, r);
    qLogged[r] = q[s]![a.actions[r]!]!;
    vState[r] = q[s]![0]! * pi[s]![0]! + q[s]![1]! * pi[s]![1]!;
  }
  return { qLogged, vState };
}

describe('minimax weight learning on a one-step case: the closed form by hand', () => {
  it('every episode one terminated step: w(s, a) = pi(a|s) n_s / n_sa exactly (ridge 0, tabular features)', () => {
    const a = simulate(400, 'one-step');
    // keep only step 0 of each episode, marked terminated
    const rows = Array.from({ length: a.n }, (_, r) => r).filter((r) => a.step[r] === 0);
    const pick = <T extends Float32Array | Float64Array | Int32Array | Uint8Array>(x: T, w = 1): T => {
      const out = new (x.constructor as new (n: number) => T)(rows.length * w);
      rows.forEach((r, k) => out.set(x.subarray(r * w, (r + 1) * w) as never, k * w));
      return out;
    };
    const b: TrajectoryArrays = {
      ...a, n: rows.length, observations: pick(a.observations, S), nextObservations: pick(a.nextObservations!, S), nextObservationMissing: new Uint8Array(rows.length),
      actions: pick(a.actions as Int32Array), rewards: pick(a.rewards), terminated: new Uint8Array(rows.length).fill(1), truncated: new Uint8Array(rows.length),
      episodeId: pick(a.episodeId), step: pick(a.step), behaviorLogprob: pick(a.behaviorLogprob!),
    };
    // states 0 and 1 only (2-valued observation: [z, 1] spans their indicators without redundancy)
    const keep = Array.from({ length: b.n }, (_, r) => r).filter((r) => stateOf(b.observations, r) < 2);
    const c: TrajectoryArrays = {
      ...b, n: keep.length,
      observations: Float32Array.from(keep.flatMap((r) => [b.observations[r * S]!])), obsDim: 1,
      nextObservations: new Float32Array(keep.length), nextObservationMissing: new Uint8Array(keep.length),
      actions: Int32Array.from(keep.map((r) => b.actions[r]!)), rewards: Float64Array.from(keep.map((r) => b.rewards[r]!)),
      terminated: new Uint8Array(keep.length).fill(1), truncated: new Uint8Array(keep.length),
      episodeId: Float64Array.from(keep.map((_, k) => k)), step: new Int32Array(keep.length), behaviorLogprob: Float64Array.from(keep.map((r) => b.behaviorLogprob![r]!)),
    };
    const pi1: Policy = { numActions: 2, actionProbs: (o, n) => Float64Array.from(Array.from({ length: n }, (_, i) => TARGET[o[i] === 1 ? 0 : 1]!).flat()) };
    const d = trajectoryOpeData(c, 0.9);
    const m = learnMarginalWeights(c, d, policyCandidate(pi1, 'pi', 'test', { steps: c }), { ridge: 0 });
    const count = (s: number, act?: number): number => Array.from({ length: c.n }, (_, r) => r).filter((r) => (c.observations[r] === 1 ? 0 : 1) === s && (act === undefined || c.actions[r] === act)).length;
    for (let r = 0; r < c.n; r++) {
      const s = c.observations[r] === 1 ? 0 : 1;
      const act = c.actions[r]!;
      expect(Math.abs(m.w[r]! - (TARGET[s]![act]! * count(s)) / count(s, act))).toBeLessThan(1e-9);
    }
    expect(m.info.residual).toBeLessThan(1e-9);
    expect(Math.abs(m.info.scale - 1)).toBeLessThan(1e-9);
  });
});

describe('minimax weight learning on a tabular MDP (one-hot states, gamma 0.95)', () => {
  const truth = exact(TARGET);
  const behaviour = exact(BEHAVIOUR);

  it('recovers the true discounted visitation ratio d_pi(s, a) / d_b(s, a) within 10% (4000 episodes)', () => {
    const a = simulate(4000, 'ratio');
    const { d, cand } = setup(a, TARGET);
    const m = learnMarginalWeights(a, d, cand);
    const seen = new Map<string, number>();
    for (let r = 0; r < a.n; r++) seen.set(`${stateOf(a.observations, r)},${a.actions[r]}`, m.w[r]!);
    expect(seen.size).toBe(6);
    for (const [key, w] of seen) {
      const [s, act] = key.split(',').map(Number) as [number, number];
      const ratio = truth.d[s]![act]! / behaviour.d[s]![act]!;
      expect(Math.abs(w - ratio) / ratio).toBeLessThan(0.1);
    }
    expect(m.info.method).toBe('mwl');
    expect(m.info.k).toBe(2 * (S + 1));
    expect(m.info.negativeShare).toBe(0);
    expect(Math.abs(m.info.scale - 1)).toBeLessThan(1e-4);
  });

  it('MIS and MDR (exact Q) are unbiased within noise of the on-policy value over 40 replications of 300 episodes; MDR with a wrong Q (0) and the true w too', () => {
    const reps = 40;
    const est = { mis: [] as number[], mdr: [] as number[], mdrWrongQ: [] as number[] };
    for (let k = 0; k < reps; k++) {
      const a = simulate(300, `rep:${k}`);
      const { d, cand } = setup(a, TARGET);
      const marginal = learnMarginalWeights(a, d, cand);
      const x: TrajectoryTermsInput = { data: d, weights: null, marginal, ...qFrom(a, truth.q, TARGET) };
      est.mis.push(mean(TRAJECTORY_ESTIMATORS.mis.episodeTerms(x)));
      est.mdr.push(mean(TRAJECTORY_ESTIMATORS.mdr.episodeTerms(x)));
      // true ratio, Q = 0 everywhere: MDR reduces to MIS with the true weights
      const wTrue = Float64Array.from({ length: a.n }, (_, r) => truth.d[stateOf(a.observations, r)]![a.actions[r]!]! / behaviour.d[stateOf(a.observations, r)]![a.actions[r]!]!);
      const wrong: TrajectoryTermsInput = { data: d, weights: null, marginal: { ...marginal, w: wTrue }, qLogged: new Float64Array(a.n), vState: new Float64Array(a.n) };
      est.mdrWrongQ.push(mean(TRAJECTORY_ESTIMATORS.mdr.episodeTerms(wrong)));
    }
    for (const [name, xs] of Object.entries(est)) {
      const m = mean(xs);
      const sd = Math.sqrt(xs.reduce((s, v) => s + (v - m) ** 2, 0) / (reps - 1));
      // within 3.5 standard errors of the replication mean (plus 0.5% for MWL's O(1/n) ratio bias)
      expect(Math.abs(m - truth.J), `${name}: ${m} vs ${truth.J}`).toBeLessThan((3.5 * sd) / Math.sqrt(reps) + 0.005 * truth.J);
    }
  });

  it('through evaluateTrajectoryArrays: no behaviour log-probabilities needed, a deterministic candidate is scored, the result names the method', async () => {
    const a = { ...simulate(3000, 'pipeline'), behaviorLogprob: null };
    const greedy = exact(GREEDY);
    const ev = await evaluateTrajectoryArrays(a, {
      gamma: GAMMA,
      estimators: ['mis', 'mdr'],
      candidates: [{ name: 'greedy', spec: tablePolicy(GREEDY) }],
      qProvider: async (_c, steps) => ({ ...qFrom(steps, greedy.q.map((qs) => qs.map((v) => v + 0.5)), GREEDY), source: 'test (Q off by 0.5)' }),
    });
    const c = ev.candidates[0]!;
    const mis = c.estimates.find((e) => e.estimator === 'mis')!;
    const mdr = c.estimates.find((e) => e.estimator === 'mdr')!;
    // 3000 episodes: within 4 t-standard-errors (the t interval's half-width / 1.96 * 4)
    for (const e of [mis, mdr]) {
      const se = (e.interval!.upper - e.interval!.lower) / (2 * 1.96);
      expect(Math.abs(e.value - greedy.J)).toBeLessThan(4 * se + 0.01 * greedy.J);
      expect(e.diagnostics!.marginalFeatures).toBe(8);
    }
    expect(c.marginal?.method).toBe('mwl');
    expect(c.marginal?.features).toMatch(/^onehot\(action\) x linear: \[standardised observation \(3\), 1\]/);
    expect(c.marginal?.ridge).toBe(1e-9);
    expect(c.warnings.map((w) => w.code)).toContain('MARGINAL_WEIGHTS');
    expect(c.warnings.find((w) => w.code === 'MARGINAL_WEIGHTS')!.message).toMatch(/leave out the weight-learning error/);
    expect(c.weights).toBeNull();
  });

  it('RBF features are seeded: the same seed gives the same weights, another seed other weights', () => {
    const a = simulate(200, 'rbf');
    const { d, cand } = setup(a, TARGET);
    const w1 = learnMarginalWeights(a, d, cand, { features: 'rbf', rbfDim: 16, seed: 3 }).w;
    const w2 = learnMarginalWeights(a, d, cand, { features: 'rbf', rbfDim: 16, seed: 3 }).w;
    const w3 = learnMarginalWeights(a, d, cand, { features: 'rbf', rbfDim: 16, seed: 4 }).w;
    expect(Buffer.from(w1.buffer).equals(Buffer.from(w2.buffer))).toBe(true);
    expect(Buffer.from(w1.buffer).equals(Buffer.from(w3.buffer))).toBe(false);
  });
});

describe('minimax weight learning: continuous actions', () => {
  // s' = s + a + noise on a line, reward -s^2, behaviour a ~ N(-0.5 s, 0.5^2), episodes of 5 steps terminated
  function lineData(n: number): TrajectoryArrays {
    const rng = new Rng('line');
    const obs: number[] = [], next: number[] = [], act: number[] = [], rw: number[] = [], ep: number[] = [], st: number[] = [], term: number[] = [];
    for (let e = 0; e < n; e++) {
      let s = rng.normal();
      for (let t = 0; t < 5; t++) {
        const a = -0.5 * s + 0.5 * rng.normal();
        const s2 = s + a + 0.1 * rng.normal();
        obs.push(s); next.push(s2); act.push(a); rw.push(-s * s); ep.push(e); st.push(t); term.push(t === 4 ? 1 : 0);
        s = s2;
      }
    }
    const m = ep.length;
    return {
      n: m, obsDim: 1, actDim: 1, observations: Float32Array.from(obs), actions: Float32Array.from(act), rewards: Float64Array.from(rw),
      nextObservations: Float32Array.from(next), nextObservationMissing: new Uint8Array(m), terminated: Uint8Array.from(term), truncated: new Uint8Array(m),
      episodeId: Float64Array.from(ep), step: Int32Array.from(st), behaviorLogprob: new Float64Array(m), corrupted: null,
    };
  }

  it('a deterministic candidate: E_{a ~ pi} phi exact, features [z(s), 1] x [u(a), 1], the moments hold', () => {
    const a = lineData(300);
    const d = trajectoryOpeData(a, 0.9);
    const det = { kind: 'deterministic', actionDim: 1, act: (o: Float32Array, n: number) => Float32Array.from(o.subarray(0, n), (s) => -0.6 * s), logProb: () => new Float64Array(0) };
    const cand: ResolvedCandidate = { name: 'det', source: 'test', kind: 'deterministic', targetLogprob: null, refusal: null, probs: null, policy: det, kernel: null };
    const m = learnMarginalWeights(a, d, cand);
    expect(m.info.k).toBe(4);
    expect(m.info.policyExpectation).toMatch(/^exact/);
    expect(m.info.features).toBe('linear: [standardised observation (1), 1] x [standardised action (1), 1]');
    expect(m.info.residual).toBeLessThan(1e-4);
    expect(Array.from(m.w).every(Number.isFinite)).toBe(true);
  });

  it('a stochastic candidate: E_{a ~ pi}[a] from seeded draws (its own sampler), the same seed giving the same weights', async () => {
    const { asContinuousPolicy } = await import('../src/ope/trajectory/ground-truth.js');
    const a = lineData(100);
    const d = trajectoryOpeData(a, 0.9);
    const gauss = asContinuousPolicy(
      {
        sample: (o, rng) => ({ action: Float64Array.of(-0.6 * o[0]! + 0.3 * rng.normal()), logProb: 0 }),
        logProb: (o, act) => -0.5 * ((act[0]! + 0.6 * o[0]!) / 0.3) ** 2 - Math.log(0.3 * Math.sqrt(2 * Math.PI)),
      },
      1,
      1,
    );
    const cand: ResolvedCandidate = { name: 'g', source: 'test', kind: 'gaussian', targetLogprob: null, refusal: null, probs: null, policy: gauss, kernel: null };
    const m1 = learnMarginalWeights(a, d, cand, { seed: 1, samples: 8 });
    const m2 = learnMarginalWeights(a, d, cand, { seed: 1, samples: 8 });
    const m3 = learnMarginalWeights(a, d, cand, { seed: 2, samples: 8 });
    expect(m1.info.policyExpectation).toBe('sampled (8 seeded draws per state)');
    expect(Buffer.from(m1.w.buffer).equals(Buffer.from(m2.w.buffer))).toBe(true);
    expect(Buffer.from(m1.w.buffer).equals(Buffer.from(m3.w.buffer))).toBe(false);
  });

  it('a table candidate on continuous actions is refused (E_MWL_CANDIDATE)', () => {
    const a = lineData(20);
    const d = trajectoryOpeData(a, 0.9);
    const cand: ResolvedCandidate = { name: 'tab', source: 'x.parquet', kind: 'table', targetLogprob: new Float64Array(a.n), refusal: null, probs: null, policy: null, kernel: null };
    expectError(() => learnMarginalWeights(a, d, cand), 'E_MWL_CANDIDATE', /^Minimax weight learning cannot use candidate "tab" \(table\): a table of log-densities gives pi only at the logged actions/);
  });
});

describe('minimax weight learning: bad input', () => {
  const base = simulate(60, 'bad');
  it('ridge 0 with collinear features (one-hot states and a constant): E_MWL_SINGULAR', () => {
    const { d, cand } = setup(base, TARGET);
    expectError(() => learnMarginalWeights(base, d, cand, { ridge: 0 }), 'E_MWL_SINGULAR', /^The MWL moment system \(8 features, ridge 0\) is singular/);
    expect(learnMarginalWeights(base, d, cand).info.residual).toBeLessThan(1e-3);
  });
  it('a negative or non-finite ridge: E_MWL_RIDGE', () => {
    const { d, cand } = setup(base, TARGET);
    expectError(() => learnMarginalWeights(base, d, cand, { ridge: -1 }), 'E_MWL_RIDGE', 'The MWL ridge must be a finite number >= 0, got -1. Use e.g. 1e-9 (the default).');
  });
  const truncatedLast = (): TrajectoryArrays => {
    const a = { ...base, terminated: Uint8Array.from(base.terminated), truncated: Uint8Array.from(base.truncated), nextObservationMissing: new Uint8Array(base.n) };
    const last = a.n - 1;
    a.terminated[last] = 0;
    a.truncated[last] = 1;
    return a;
  };
  it('gamma = 1 with an episode that does not terminate: E_MWL_GAMMA', () => {
    const a = truncatedLast();
    const d = trajectoryOpeData(a, 1);
    expectError(() => learnMarginalWeights(a, d, setup(a, TARGET).cand), 'E_MWL_GAMMA', /^With gamma = 1, 1 episode\(s\) that did not terminate .* \(episodes 59 do not end terminated\)/);
  });
  it('a truncated last step without next_observation: E_MWL_DATA names the episode', () => {
    const a = truncatedLast();
    a.nextObservationMissing![a.n - 1] = 1;
    const { d, cand } = setup(a, TARGET);
    expectError(() => learnMarginalWeights(a, d, cand), 'E_MWL_DATA', /^1 episode\(s\) end without terminating and have no next_observation on their last step \(episodes 59\)/);
  });
  it('a discrete table candidate on data with truncated episodes: E_MWL_CANDIDATE (pi is needed at next_observation)', () => {
    const a = truncatedLast();
    const { d, cand } = setup(a, TARGET);
    const table: ResolvedCandidate = { ...cand, kind: 'table', policy: null };
    expectError(() => learnMarginalWeights(a, d, table), 'E_MWL_CANDIDATE', /a table gives pi only at the logged steps, and 1 episode\(s\) end truncated/);
  });
  it('an unknown estimator id names mis and mdr among the choices', async () => {
    await expectRejects(evaluateTrajectoryArrays(base, { estimators: ['mwl' as never], candidates: [] }), 'E_UNKNOWN_ESTIMATOR', /Trajectory estimators: .*mis, mdr/);
  });
});

describe('fitted Q evaluation gives MDR V(next_observation) where it bootstraps', () => {
  it('vNext is V of the stored next observation on truncated last steps, NaN elsewhere; MDR then runs on truncated data', async () => {
    const { getEnv } = await import('../src/envs/registry.js');
    const { levelPolicy, noiseLevel } = await import('../src/envs/behavior-policies.js');
    const { simulateTrajectories, withTimeLimit, asDiscretePolicy } = await import('../src/ope/trajectory/ground-truth.js');
    const { fqeProvider } = await import('../src/ope/trajectory/fqe-q.js');
    const env = withTimeLimit(getEnv('cartpole'), 8);
    const beh = levelPolicy(env, noiseLevel(env, 'medium', 1));
    const a = simulateTrajectories(env, beh, 12, 'vnext');
    const cand = policyCandidate(asDiscretePolicy(beh, 4, 2), 'b', 'sim', { steps: a });
    const q = (await fqeProvider({ seed: 0, steps: 50, hidden: [8] })(cand, a, 0.9))!;
    let truncatedLast = 0;
    for (let r = 0; r < a.n; r++) {
      const last = r === a.n - 1 || a.episodeId[r + 1] !== a.episodeId[r];
      if (last && a.truncated[r]) {
        truncatedLast++;
        expect(Number.isFinite(q.vNext![r]!)).toBe(true);
      } else expect(Number.isNaN(q.vNext![r]!)).toBe(true);
    }
    expect(truncatedLast).toBeGreaterThan(0);
    const ev = await evaluateTrajectoryArrays(a, { gamma: 0.9, estimators: ['mdr'], candidates: [{ name: 'b', spec: asDiscretePolicy(beh, 4, 2) }], qProvider: async () => q });
    expect(Number.isFinite(ev.candidates[0]!.estimates[0]!.value)).toBe(true);
  });
});

describe('offpolicy evaluate --estimators mis,mdr (CLI, compiled dist/)', () => {
  it('scores a deterministic JSON candidate with MIS and MDR (FQE), and the result names the weight method and its settings', async () => {
    const { mkdtemp, readFile, rm, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const { Workspace } = await import('../src/datasets/workspace.js');
    const { generateTrajectories, writeTrajectoryDataset } = await import('../src/envs/trajectories.js');
    const { runCli } = await import('./support/run-cli.js');
    const dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-mis-cli-'));
    try {
      const ws = await Workspace.open(path.join(dir, 'ws'));
      await writeTrajectoryDataset(ws, 'cart', generateTrajectories({ env: 'cartpole', policy: 'medium', episodes: 20, seed: 3 }));
      await writeFile(path.join(dir, 'greedy.json'), '{"type":"argmax","weights":[[0,0,-1,-1],[0,0,1,1]]}');
      const out = path.join(dir, 'res.json');
      const r = await runCli(['--workspace', path.join(dir, 'ws'), 'evaluate', '--data', 'cart', '--policy', `greedy=${path.join(dir, 'greedy.json')}`,
        '--estimators', 'mis,mdr', '--interval', 't', '--gamma', '0.9', '--fqe-steps', '300', '--fqe-hidden', '16', '--mwl-features', 'rbf', '--mwl-ridge', '1e-4', '--out', out]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const res = JSON.parse(await readFile(out, 'utf8')) as import('../src/core/trajectory-evaluation-result.js').TrajectoryEvaluationResult;
      const c = res.candidates[0]!;
      expect(c.estimates.map((e) => e.estimator)).toEqual(['mis', 'mdr']);
      expect(c.estimates.every((e) => Number.isFinite(e.value) && e.interval !== undefined)).toBe(true);
      expect(c.marginal).toMatchObject({ method: 'mwl', ridge: 1e-4, k: 2 * 65, normalised: true });
      expect(c.marginal!.features).toMatch(/^onehot\(action\) x rbf: \[64 random Fourier features/);
      expect(c.warnings.map((w) => w.code)).toContain('MARGINAL_WEIGHTS');
      const bad = await runCli(['--workspace', path.join(dir, 'ws'), 'evaluate', '--data', 'cart', '--policy', `greedy=${path.join(dir, 'greedy.json')}`,
        '--estimators', 'mis', '--mwl-features', 'poly', '--out', path.join(dir, 'x.json')]);
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(/E_MWL_FEATURES.*Unknown MWL feature map "poly"/s);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the report shows the learned weights and their diagnostics', () => {
  // five one-step terminated episodes, two states (observation 0 or 1), two actions: with ridge 0 and
  // tabular features w(s, a) = pi(a|s) n_s / n_sa exactly (the closed form above)
  const states = [0, 0, 0, 1, 1];
  const actions = [0, 0, 1, 0, 1];
  const PI = [[0.5, 0.5], [0.2, 0.8]];
  // w = 0.5 * 3/2, 0.5 * 3/2, 0.5 * 3/1, 0.2 * 2/1, 0.8 * 2/1
  const W_HAND = [0.75, 0.75, 1.5, 0.4, 1.6];
  const a: TrajectoryArrays = {
    n: 5, obsDim: 1, actDim: 1, discreteActions: 2,
    observations: Float32Array.from(states), actions: Int32Array.from(actions), rewards: Float64Array.from([1, 0, 2, 1, 0]),
    nextObservations: new Float32Array(5), nextObservationMissing: new Uint8Array(5),
    terminated: new Uint8Array(5).fill(1), truncated: new Uint8Array(5),
    episodeId: Float64Array.from([0, 1, 2, 3, 4]), step: new Int32Array(5), behaviorLogprob: null, corrupted: null,
  };
  const pi: Policy = { numActions: 2, actionProbs: (o, n) => Float64Array.from(Array.from({ length: n }, (_, i) => PI[o[i]!]!).flat()) };

  it('ESS, largest weight share, mean weight, range, normaliser, features and ridge: in the result and in the HTML and Markdown reports', async () => {
    const ev = await evaluateTrajectoryArrays(a, { gamma: 0.9, estimators: ['mis'], interval: 't', candidates: [{ name: 'pi', spec: pi }], marginal: { ridge: 0 } });
    const c = ev.candidates[0]!;
    const m = c.marginal!;
    const sum = W_HAND.reduce((x, y) => x + y, 0); // 5
    const ess = sum ** 2 / W_HAND.reduce((x, y) => x + y * y, 0); // 25 / 6.095
    expect(Math.abs(m.ess - ess)).toBeLessThan(1e-12);
    expect(Math.abs(m.maxShare - 1.6 / sum)).toBeLessThan(1e-12);
    expect(Math.abs(m.mean - 1)).toBeLessThan(1e-12);
    expect(Math.abs(m.min - 0.4)).toBeLessThan(1e-12);
    expect(Math.abs(m.max - 1.6)).toBeLessThan(1e-12);
    expect(Math.abs(m.scale - 1)).toBeLessThan(1e-12);
    expect(m).toMatchObject({ k: 4, ridge: 0, normalised: true, negativeShare: 0, features: 'onehot(action) x linear: [standardised observation (1), 1]' });

    const result = {
      setting: 'trajectory', schema: 'offpolicy.evaluation/1', toolkitVersion: 'test', createdAt: '2026-01-01T00:00:00Z', seed: 0,
      dataset: ev.dataset, behaviour: { value: ev.behaviour.value }, settings: { estimators: ['mis'], interval: 't', alpha: 0.05, gamma: 0.9 },
      candidates: [{ name: 'pi', source: 'test', kind: c.kind, estimates: c.estimates.map(({ terms: _t, ...e }) => e), weights: null, marginal: m, warnings: c.warnings, verdict: { outcome: 'inconclusive', recommended: false, lowerBound: null, caveats: [], baseline: 0, strict: false, sentence: 'x' }, valueRange: [0, 2] }],
      selection: null, warnings: [],
    } as unknown as TrajectoryEvaluationResult;
    const md = renderTrajectoryMarkdown(result);
    expect(md).toContain('## Marginal weights (MIS / MDR): pi');
    expect(md).toContain(
      'State-action weights w(s, a) = d_pi(s, a) / d_D(s, a) learned as in Uehara, Huang \\& Jiang 2020 (minimax weight learning): 4 features, onehot(action) x linear: \\[standardised observation (1), 1\\]; relative ridge 0; ' +
        'E\\_{a ~ pi} phi(s, a) exact (sum over pi(.\\|s)). Normalised so that E_D\\[w (1 - gamma c)\\] = 1 (it was 1',
    );
    expect(md).toContain('ESS 4.1017 of 5 logged steps. The MIS / MDR intervals treat these weights as known.');
    expect(md).toContain('| ESS | ESS share | largest weight share | mean weight | smallest weight | largest weight | negative share | moment residual |');
    expect(md).toMatch(/\| 4\.1017 \| 82\.0% \| 32\.0% \| 1(\.0000)? \| 0\.4000 \| 1\.6000 \| 0\.0% \| [^|]+ \|/);
    const html = renderTrajectoryHtml(result);
    expect(html).toContain('<h2>Marginal weights (MIS / MDR): pi</h2>');
    expect(html).toMatch(/<td>4\.1017<\/td><td>82\.0%<\/td><td>32\.0%<\/td><td>1(\.0000)?<\/td><td>0\.4000<\/td><td>1\.6000<\/td><td>0\.0%<\/td>/);
    expect(html).toContain('learned as in Uehara, Huang &amp; Jiang 2020 (minimax weight learning): 4 features, onehot(action) x linear: [standardised observation (1), 1]; relative ridge 0; E_{a ~ pi} phi(s, a) exact (sum over pi(.|s)).');
    // a candidate scored without MIS / MDR has no such section
    expect(renderTrajectoryMarkdown({ ...result, candidates: [{ ...result.candidates[0]!, marginal: undefined }] } as TrajectoryEvaluationResult)).not.toContain('Marginal weights');
  });
});
