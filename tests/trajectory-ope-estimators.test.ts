/**
 * Trajectory estimators on a hand-computed table (3 episodes x 3 steps, gamma 0.9,
 * two actions), the absorbing-state convention for variable lengths, the
 * bootstrap's re-estimation of self-normalised estimators, and the intervals.
 */
import { describe, expect, it } from 'vitest';
import { trajectoryOpeData, type TrajectoryOpeData } from '../src/ope/trajectory/data.js';
import { TRAJECTORY_ESTIMATORS, TRAJECTORY_ESTIMATOR_IDS, type TrajectoryTermsInput } from '../src/ope/trajectory/estimators/index.js';
import { feasibleValueRange, trajectoryIntervals } from '../src/ope/trajectory/intervals.js';
import { policyCandidate } from '../src/ope/trajectory/candidates.js';
import { scoreCandidate } from '../src/ope/trajectory/score.js';
import { trajectoryWeights, weightSummary, weightWarnings } from '../src/ope/trajectory/weights.js';
import { tInterval } from '../src/ope/intervals/t.js';
import { sumsFromTerms } from '../src/ope/sums.js';
import { Rng } from '../src/util/rng.js';
import { expectError } from './support/expect-error.js';

const PER_DECISION_IDS = TRAJECTORY_ESTIMATOR_IDS.filter((id) => !TRAJECTORY_ESTIMATORS[id].needsMarginal);

// The table. pb / pi: behaviour / candidate probability of the LOGGED action.
const G = 0.9;
const actions = [[0, 1, 0], [1, 1, 0], [0, 0, 1]];
const pb = [[0.5, 0.5, 0.5], [0.4, 0.6, 0.5], [0.5, 0.25, 0.8]];
const pi = [[0.8, 0.3, 0.6], [0.2, 0.7, 0.9], [0.5, 0.5, 0.4]];
const rew = [[1, 0, 2], [0, 1, 1], [2, 1, 0]];
const Q = [[0.9, 0.2, 1.5], [0.1, 0.8, 0.7], [1.8, 0.7, 0.3]]; // Q(s_t, a_t)
const V = [[1.0, 0.4, 1.2], [0.5, 0.6, 0.9], [1.5, 0.9, 0.2]]; // V(s_t)

// Hand computation. rho = pi / pb: [1.6, 0.6, 1.2], [0.5, 7/6, 1.8], [1, 2, 0.5].
const w = [
  [1.6, 1.6 * 0.6, 1.6 * 0.6 * 1.2], // 1.6, 0.96, 1.152
  [0.5, 0.5 * (7 / 6), 0.5 * (7 / 6) * 1.8], // 0.5, 0.58333, 1.05
  [1, 2, 1],
];
const disc = [1, G, G * G];
const ret = [1 + 0 + 0.81 * 2, 0 + 0.9 * 1 + 0.81 * 1, 2 + 0.9 * 1 + 0]; // 2.62, 1.71, 2.9
const TIS = (w[0]![2]! * ret[0]! + w[1]![2]! * ret[1]! + w[2]![2]! * ret[2]!) / 3;
const pdisEp = [0, 1, 2].map((i) => [0, 1, 2].reduce((s, t) => s + disc[t]! * w[i]![t]! * rew[i]![t]!, 0));
const PDIS = (pdisEp[0]! + pdisEp[1]! + pdisEp[2]!) / 3;
const SNTIS = (w[0]![2]! * ret[0]! + w[1]![2]! * ret[1]! + w[2]![2]! * ret[2]!) / (w[0]![2]! + w[1]![2]! + w[2]![2]!);
const colSum = (f: (i: number) => number): number => f(0) + f(1) + f(2);
const SNPDIS = [0, 1, 2].reduce((s, t) => s + disc[t]! * colSum((i) => w[i]![t]! * rew[i]![t]!) / colSum((i) => w[i]![t]!), 0);
const wPrev = (i: number, t: number): number => (t === 0 ? 1 : w[i]![t - 1]!);
const drEp = [0, 1, 2].map((i) => [0, 1, 2].reduce((s, t) => s + disc[t]! * (w[i]![t]! * (rew[i]![t]! - Q[i]![t]!) + wPrev(i, t) * V[i]![t]!), 0));
const DR = (drEp[0]! + drEp[1]! + drEp[2]!) / 3;
const SNDR = [0, 1, 2].reduce(
  (s, t) =>
    s +
    disc[t]! *
      (colSum((i) => w[i]![t]! * (rew[i]![t]! - Q[i]![t]!)) / colSum((i) => w[i]![t]!) + colSum((i) => wPrev(i, t) * V[i]![t]!) / colSum((i) => wPrev(i, t))),
  0,
);
const DM = (1.0 + 0.5 + 1.5) / 3;
const EXPECTED: Record<string, number> = { tis: TIS, pdis: PDIS, sntis: SNTIS, snpdis: SNPDIS, dr: DR, sndr: SNDR, dm: DM };

function table(gamma = G): { d: TrajectoryOpeData; x: TrajectoryTermsInput } {
  const flat = (m: number[][]): number[] => m.flat();
  const d = trajectoryOpeData(
    {
      episodeId: Float64Array.from([0, 0, 0, 1, 1, 1, 2, 2, 2]),
      step: Int32Array.from([0, 1, 2, 0, 1, 2, 0, 1, 2]),
      rewards: Float64Array.from(flat(rew)),
      behaviorLogprob: Float64Array.from(flat(pb).map(Math.log)),
      terminated: Uint8Array.from([0, 0, 1, 0, 0, 1, 0, 0, 0]),
      truncated: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 1]),
    },
    gamma,
  );
  const weights = trajectoryWeights(d, Float64Array.from(flat(pi).map(Math.log)));
  return { d, x: { data: d, weights, qLogged: Float64Array.from(flat(Q)), vState: Float64Array.from(flat(V)) } };
}

describe('trajectory estimators on the hand-computed 3 x 3 table (gamma 0.9)', () => {
  const { x } = table();
  it('weights are the cumulative products of pi / pb, from log space', () => {
    w.flat().forEach((v, j) => expect(Math.abs(x.weights!.w[j]! - v)).toBeLessThan(1e-14));
    expect(Array.from(x.weights!.final)).toEqual([expect.closeTo(1.152, 13), expect.closeTo(1.05, 13), expect.closeTo(1, 13)]);
    expect(x.weights!.wPrev[0]).toBe(1);
    expect(Math.abs(x.weights!.wPrev[2]! - 0.96)).toBeLessThan(1e-14);
  });
  // MIS / MDR read learned marginal weights: their hand-computed table is in trajectory-mis.test.ts.
  for (const id of PER_DECISION_IDS) {
    it(`${id} = ${EXPECTED[id]!.toFixed(6)} to 1e-12, and the mean of its episode terms is the estimate`, () => {
      const e = TRAJECTORY_ESTIMATORS[id];
      const terms = e.episodeTerms(x);
      expect(terms.length).toBe(3);
      const mean = (terms[0]! + terms[1]! + terms[2]!) / 3;
      expect(Math.abs(mean - EXPECTED[id]!)).toBeLessThan(1e-12);
      if (e.resampled) expect(Math.abs(e.resampled(x, Float64Array.of(1, 1, 1)) - EXPECTED[id]!)).toBeLessThan(1e-12);
    });
  }
  it('plain estimators give the hand-computed per-episode terms', () => {
    const p = TRAJECTORY_ESTIMATORS.pdis.episodeTerms(x);
    const d = TRAJECTORY_ESTIMATORS.dr.episodeTerms(x);
    for (let i = 0; i < 3; i++) {
      expect(Math.abs(p[i]! - pdisEp[i]!)).toBeLessThan(1e-12);
      expect(Math.abs(d[i]! - drEp[i]!)).toBeLessThan(1e-12);
    }
    expect(Math.abs(pdisEp[0]! - 3.46624)).toBeLessThan(1e-12);
  });
  it('SNPDIS influence terms: t interval over them is the delta-method interval of the ratio at t = 0 with gamma = 0', () => {
    // gamma = 0: SNPDIS = sum_i w_i0 r_i0 / sum_i w_i0, a ratio of means whose delta-method se sums.ts computes.
    const { x: x0 } = table(0);
    const terms = TRAJECTORY_ESTIMATORS.snpdis.episodeTerms(x0);
    const ratio = sumsFromTerms({ num: Float64Array.from([1.6 * 1, 0.5 * 0, 1 * 2]), den: Float64Array.from([1.6, 0.5, 1]), base: null });
    const a = tInterval(sumsFromTerms({ num: terms, den: null, base: null }), 0.05);
    const b = tInterval(ratio, 0.05);
    // sums.ts uses divisor n - 1 for the covariance, as the sample variance of the terms does.
    expect(a.lower).toBeCloseTo(b.lower, 12);
    expect(a.upper).toBeCloseTo(b.upper, 12);
  });
});

/** Pads every episode to `H` steps with absorbing steps: reward 0, ratio 1, Q = V = 0. */
function padded(lengths: number[], seed: number) {
  const rng = new Rng(seed);
  const H = Math.max(...lengths);
  const rows = { ep: [] as number[], st: [] as number[], r: [] as number[], lb: [] as number[], lp: [] as number[], q: [] as number[], v: [] as number[] };
  const pad = { ep: [] as number[], st: [] as number[], r: [] as number[], lb: [] as number[], lp: [] as number[], q: [] as number[], v: [] as number[] };
  lengths.forEach((T, i) => {
    for (let t = 0; t < H; t++) {
      const live = t < T;
      const vals = live
        ? { r: rng.range(-1, 2), lb: Math.log(rng.range(0.2, 0.9)), lp: Math.log(rng.range(0.1, 0.9)), q: rng.range(0, 1), v: rng.range(0, 1) }
        : { r: 0, lb: Math.log(0.5), lp: Math.log(0.5), q: 0, v: 0 };
      for (const [target, keep] of [[rows, live], [pad, true]] as const) {
        if (!keep) continue;
        target.ep.push(i); target.st.push(t); target.r.push(vals.r); target.lb.push(vals.lb); target.lp.push(vals.lp); target.q.push(vals.q); target.v.push(vals.v);
      }
    }
  });
  const build = (o: typeof rows): TrajectoryTermsInput => {
    const d = trajectoryOpeData({ episodeId: Float64Array.from(o.ep), step: Int32Array.from(o.st), rewards: Float64Array.from(o.r), behaviorLogprob: Float64Array.from(o.lb) }, 0.95);
    return { data: d, weights: trajectoryWeights(d, Float64Array.from(o.lp)), qLogged: Float64Array.from(o.q), vState: Float64Array.from(o.v) };
  };
  return { short: build(rows), long: build(pad) };
}

describe('variable episode lengths', () => {
  it('every estimator (value and per-episode terms) equals its value on episodes padded with absorbing steps', () => {
    const { short, long } = padded([3, 1, 5, 2, 5, 4], 7);
    for (const id of PER_DECISION_IDS) {
      const e = TRAJECTORY_ESTIMATORS[id];
      const a = e.episodeTerms(short);
      const b = e.episodeTerms(long);
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-12);
    }
  });
});

describe('bootstrap resamples of self-normalised estimators', () => {
  it('re-estimate on the resampled episodes: counts (2, 0, 1, ...) equal the estimator on data with those copies', () => {
    const { short } = padded([3, 1, 5, 2], 3);
    const counts = Float64Array.of(2, 0, 1, 3);
    // Build the data set with episode 0 twice, episode 2 once, episode 3 three times.
    const d = short.data;
    const order = [0, 0, 2, 3, 3, 3];
    const o = { ep: [] as number[], st: [] as number[], r: [] as number[], lb: [] as number[], lp: [] as number[], q: [] as number[], v: [] as number[] };
    const lp = Array.from(short.weights!.logW);
    order.forEach((i, k) => {
      for (let r = d.episodes.start[i]!; r < d.episodes.start[i + 1]!; r++) {
        const t = r - d.episodes.start[i]!;
        o.ep.push(k); o.st.push(t); o.r.push(d.rewards[r]!); o.lb.push(0);
        o.lp.push(lp[r]! - (t === 0 ? 0 : lp[r - 1]!)); o.q.push(short.qLogged![r]!); o.v.push(short.vState![r]!);
      }
    });
    const d2 = trajectoryOpeData({ episodeId: Float64Array.from(o.ep), step: Int32Array.from(o.st), rewards: Float64Array.from(o.r), behaviorLogprob: Float64Array.from(o.lb) }, d.gamma);
    const x2: TrajectoryTermsInput = { data: d2, weights: trajectoryWeights(d2, Float64Array.from(o.lp)), qLogged: Float64Array.from(o.q), vState: Float64Array.from(o.v) };
    for (const id of ['sntis', 'snpdis', 'sndr'] as const) {
      const e = TRAJECTORY_ESTIMATORS[id];
      const direct = e.resampled!(x2, new Float64Array(6).fill(1));
      expect(Math.abs(e.resampled!(short, counts) - direct)).toBeLessThan(1e-12);
    }
  });
});

describe('intervals over episodes', () => {
  it('t is two-sided (t_{0.975}), bootstrap is seeded, and all are clipped to the feasible value range', () => {
    const { x } = table();
    const items = (['pdis', 'snpdis'] as const).map((id) => ({ estimator: TRAJECTORY_ESTIMATORS[id], input: x, terms: TRAJECTORY_ESTIMATORS[id].episodeTerms(x) }));
    const range = feasibleValueRange([0, 2], G, 3);
    expect(range).toEqual([0, expect.closeTo(2 * (1 + 0.9 + 0.81), 12)]);
    const [t] = trajectoryIntervals(items, { method: 't', alpha: 0.05 });
    const s = Math.sqrt(pdisEp.reduce((a, v) => a + (v - PDIS) ** 2, 0) / 2);
    // t_{0.975, 2} = 4.302652729749464
    expect(t!.lower).toBeCloseTo(PDIS - (4.302652729749464 * s) / Math.sqrt(3), 9);
    const [tc] = trajectoryIntervals(items, { method: 't', alpha: 0.05, valueRange: range });
    expect(tc!.lower).toBe(Math.max(0, t!.lower));
    expect(tc!.upper).toBeLessThanOrEqual(range[1]);
    const b1 = trajectoryIntervals(items, { method: 'bootstrap', alpha: 0.1, seed: 4, resamples: 300, valueRange: range });
    const b2 = trajectoryIntervals(items, { method: 'bootstrap', alpha: 0.1, seed: 4, resamples: 300, valueRange: range });
    expect(b1).toEqual(b2);
    for (const iv of b1) expect(iv!.lower).toBeLessThanOrEqual(iv!.upper);
  });
  it('Hoeffding and Bernstein need an explicit range, skip SN estimators, and shrink with n', () => {
    const { x } = table();
    const items = (['pdis', 'snpdis'] as const).map((id) => ({ estimator: TRAJECTORY_ESTIMATORS[id], input: x, terms: TRAJECTORY_ESTIMATORS[id].episodeTerms(x) }));
    expectError(() => trajectoryIntervals(items, { method: 'hoeffding', alpha: 0.05 }), 'E_RANGE_REQUIRED', /Hoeffding intervals need the range \[a, b\] of PDIS/);
    const h = trajectoryIntervals(items, { method: 'hoeffding', alpha: 0.05, termRange: [0, 10] });
    expect(h[1]).toBeNull();
    // half-width 10 sqrt(ln(40) / 6) = 7.84 around 2.88: intersected with [0, 10].
    expect([h[0]!.lower, h[0]!.upper]).toEqual([0, 10]);
    const width = (n: number, method: 'hoeffding' | 'bernstein'): number => {
      const rng = new Rng(n);
      const terms = Float64Array.from({ length: n }, () => rng.range(0, 10));
      const it = { estimator: TRAJECTORY_ESTIMATORS.pdis, input: x, terms };
      const iv = trajectoryIntervals([it], { method, alpha: 0.05, termRange: [0, 10] })[0]!;
      return iv.upper - iv.lower;
    };
    expect(width(4000, 'hoeffding')).toBeCloseTo(2 * 10 * Math.sqrt(Math.log(2 / 0.05) / 8000), 12);
    for (const m of ['hoeffding', 'bernstein'] as const) {
      expect(width(4000, m)).toBeLessThan(width(1000, m));
      expect(width(1000, m)).toBeLessThan(width(250, m));
    }
  });
});

describe('weights: diagnostics, clipping, degeneracy', () => {
  it('per-step ESS, largest share, and clipping of the cumulative weight', () => {
    const { d, x } = table();
    const s = weightSummary(d, x.weights!);
    const ess0 = (1.6 + 0.5 + 1) ** 2 / (1.6 ** 2 + 0.25 + 1);
    expect(s.perStep.ess[0]).toBeCloseTo(ess0, 12);
    expect(s.perStep.maxShare[0]).toBeCloseTo(1.6 / 3.1, 12);
    const clipped = trajectoryWeights(d, Float64Array.from(pi.flat().map(Math.log)), 1.1);
    expect(Array.from(clipped.w).map((v) => +v.toFixed(12))).toEqual([1.1, 0.96, 1.1, 0.5, 0.583333333333, 1.05, 1, 1.1, 1]);
    expectError(() => trajectoryWeights(d, Float64Array.from(pi.flat().map(Math.log)), -1), 'E_CLIP', /positive number/);
  });
  it('warns when weights degenerate with the horizon (ESS collapses after some step)', () => {
    // 40 episodes x 30 steps; candidate ratio 1.9 or 0.1 at random: ESS decays with t.
    const rng = new Rng(1);
    const n = 40, T = 30;
    const ep: number[] = [], st: number[] = [], lb: number[] = [], lp: number[] = [];
    for (let i = 0; i < n; i++) for (let t = 0; t < T; t++) {
      ep.push(i); st.push(t); lb.push(Math.log(0.5)); lp.push(Math.log(rng.uniform() < 0.5 ? 0.95 : 0.05));
    }
    const d = trajectoryOpeData({ episodeId: Float64Array.from(ep), step: Int32Array.from(st), rewards: new Float64Array(n * T).fill(1), behaviorLogprob: Float64Array.from(lb) }, 1);
    const s = weightSummary(d, trajectoryWeights(d, Float64Array.from(lp)));
    expect(s.perStep.ess[0]).toBeGreaterThan(s.perStep.ess[T - 1]!);
    expect(s.firstLowEssStep).toBeGreaterThan(0);
    const warnings = weightWarnings(s, n);
    expect(warnings.map((w) => w.code)).toContain('WEIGHT_DEGENERACY');
    expect(warnings.find((w) => w.code === 'WEIGHT_DEGENERACY')!.message).toMatch(new RegExp(`from step ${s.firstLowEssStep} `));
  });
});

describe('scoreCandidate', () => {
  it('scores a discrete policy: values match the hand computation, estimates carry intervals and diagnostics', () => {
    const { d } = table();
    // A policy whose probability of each logged action is pi: obs encodes (episode, step).
    const obs = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const probs = pi.flat();
    const acts = actions.flat();
    const policy = {
      numActions: 2,
      actionProbs(o: Float32Array, n: number): Float64Array {
        const out = new Float64Array(n * 2);
        for (let r = 0; r < n; r++) {
          const k = o[r]!;
          out[r * 2 + acts[k]!] = probs[k]!;
          out[r * 2 + 1 - acts[k]!] = 1 - probs[k]!;
        }
        return out;
      },
    };
    const cand = policyCandidate(policy, 'p', 'test', {
      steps: { n: 9, obsDim: 1, actDim: 1, discreteActions: 2, observations: obs, actions: Int32Array.from(acts), episodeId: Float64Array.from([0, 0, 0, 1, 1, 1, 2, 2, 2]), step: Int32Array.from([0, 1, 2, 0, 1, 2, 0, 1, 2]) },
    });
    const res = scoreCandidate(d, cand, { estimators: ['tis', 'pdis', 'sntis', 'snpdis', 'dr', 'sndr', 'dm'], interval: 'bootstrap', seed: 1, resamples: 200 }, { qLogged: Float64Array.from(Q.flat()), vState: Float64Array.from(V.flat()), source: 'test' });
    for (const e of res.estimates) {
      expect(Math.abs(e.value - EXPECTED[e.estimator]!)).toBeLessThan(1e-12);
      expect(e.interval!.method).toBe('bootstrap');
      expect(e.diagnostics.n).toBe(3);
    }
    expect(res.weights!.perStep.ess.length).toBe(3);
  });
});
