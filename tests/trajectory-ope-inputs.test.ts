/**
 * Trajectory OPE inputs: stored datasets, candidates (policy objects, JSON,
 * tables keyed by (episode_id, step)), the action kernel, and every bad input
 * the issue names, each with its code and the episodes it names.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMemoryConnection } from '../src/datasets/duckdb.js';
import { Workspace } from '../src/datasets/workspace.js';
import { ingest } from '../src/datasets/ingest/index.js';
import { scriptedContinuousPolicy, scriptedDiscretePolicy } from '../src/envs/behavior-policies.js';
import { getEnv } from '../src/envs/registry.js';
import { generateTrajectories, writeTrajectoryDataset } from '../src/envs/trajectories.js';
import { checkGamma, indexEpisodes, trajectoryOpeData } from '../src/ope/trajectory/data.js';
import { evaluateTrajectoryDataset } from '../src/ope/trajectory/evaluate.js';
import { actionBox, defaultBandwidth, kernelLogDensity } from '../src/ope/trajectory/kernel.js';
import { policyCandidate } from '../src/ope/trajectory/candidates.js';
import { scoreCandidate } from '../src/ope/trajectory/score.js';
import { Rng } from '../src/util/rng.js';
import { MlpPolicy } from '../src/offline-rl/policy.js';
import { loadPolicyDir } from '../src/offline-rl/discrete/policy-dir.js';
import { parameterCount } from '../src/nn/mlp.js';
import { expectError, expectRejects } from './support/expect-error.js';

let dir: string;
let ws: Workspace;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-traj-ope-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  await writeTrajectoryDataset(ws, 'cart', generateTrajectories({ env: 'cartpole', policy: 'medium', episodes: 30, seed: 1 }));
  await writeTrajectoryDataset(ws, 'pend', generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 6, seed: 2 }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the action kernel is normalised in all d dimensions', () => {
  // Box [-2, 2] x [0, 1] x ... (half-widths differ per dimension), centre mu.
  const boxFor = (d: number) => ({ low: Array.from({ length: d }, (_, j) => (j % 2 === 0 ? -2 : 0)), high: Array.from({ length: d }, (_, j) => (j % 2 === 0 ? 2 : 1)) });
  for (const d of [1, 2]) {
    it(`integrates to 1 at d = ${d} (midpoint rule over the box-scaled +-8 bandwidths)`, () => {
      const box = boxFor(d);
      const bw = 0.15;
      const mu = Array.from({ length: d }, (_, j) => (box.low[j]! + box.high[j]!) / 2 + 0.01 * j);
      const m = d === 1 ? 4000 : 400;
      const lo = mu.map((c, j) => c - 8 * bw * ((box.high[j]! - box.low[j]!) / 2));
      const step = lo.map((l, j) => (2 * (mu[j]! - l)) / m);
      const pts = m ** d;
      const centres = new Float64Array(pts * d);
      const acts = new Float64Array(pts * d);
      for (let k = 0; k < pts; k++) {
        let rest = k;
        for (let j = 0; j < d; j++) {
          const idx = rest % m;
          rest = Math.floor(rest / m);
          acts[k * d + j] = lo[j]! + (idx + 0.5) * step[j]!;
          centres[k * d + j] = mu[j]!;
        }
      }
      const logK = kernelLogDensity(centres, acts, pts, d, box, bw);
      const cell = step.reduce((a, b) => a * b, 1);
      let integral = 0;
      for (const l of logK) integral += Math.exp(l) * cell;
      expect(integral).toBeCloseTo(1, 6);
    });
  }
  it('integrates to 1 at d = 6 (importance sampling from a wider Gaussian, 400k draws: within 4 standard errors)', () => {
    const d = 6;
    const box = boxFor(d);
    const bw = 0.2;
    const rng = new Rng(6);
    const N = 400_000;
    const half = box.low.map((l, j) => (box.high[j]! - l) / 2);
    const mu = half.map((_, j) => (box.low[j]! + box.high[j]!) / 2);
    const s = 1.5 * bw; // proposal std in box-scaled units
    const centres = new Float64Array(N * d);
    const acts = new Float64Array(N * d);
    const logQ = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      let lq = 0;
      for (let j = 0; j < d; j++) {
        const z = rng.normal();
        acts[i * d + j] = mu[j]! + z * s * half[j]!;
        centres[i * d + j] = mu[j]!;
        lq += -0.5 * z * z - Math.log(s * half[j]!) - 0.5 * Math.log(2 * Math.PI);
      }
      logQ[i] = lq;
    }
    const logK = kernelLogDensity(centres, acts, N, d, box, bw);
    let m = 0;
    let m2 = 0;
    for (let i = 0; i < N; i++) {
      const r = Math.exp(logK[i]! - logQ[i]!);
      m += r / N;
      m2 += (r * r) / N;
    }
    const se = Math.sqrt((m2 - m * m) / N);
    expect(Math.abs(m - 1)).toBeLessThan(4 * se);
    expect(se).toBeLessThan(0.01);
  });
  it("Scott's-rule bandwidth on box-scaled actions, and E_ACTION_BOX without finite bounds", () => {
    const box = { low: [-2], high: [2] };
    // actions -2, 2 scaled: -1, 1 -> std 1; n = 2, d = 1: 2^(-1/5)
    expect(defaultBandwidth([-2, 2], 2, 1, box)).toBeCloseTo(2 ** (-1 / 5), 12);
    expectError(() => actionBox({ type: 'box', shape: [1] }, 1), 'E_ACTION_BOX', /action box/);
    expectError(() => actionBox({ type: 'box', shape: [1], low: [-3.4e38], high: [3.4e38] }, 1), 'E_ACTION_BOX', /finite box/);
  });
});

describe('stored trajectory datasets', () => {
  it('scores a stochastic CartPole candidate from a workspace; the behaviour policy itself gets weights 1 and PDIS = its return', async () => {
    const env = getEnv('cartpole');
    const res = await evaluateTrajectoryDataset(ws, 'cart', {
      gamma: 0.99,
      candidates: [{ name: 'same', spec: scriptedDiscretePolicy(env, 'medium') }, { name: 'expert', spec: scriptedDiscretePolicy(env, 'expert') }],
      interval: 't',
    });
    expect(res.setting).toBe('trajectory');
    expect(res.dataset.episodes).toBe(30);
    const same = res.candidates[0]!;
    for (const e of same.estimates) expect(e.value).toBeCloseTo(res.behaviour.value, 6);
    expect(same.weights!.trajectoryEss).toBeCloseTo(30, 6);
    expect(res.candidates[1]!.verdict.sentence).toMatch(/candidate expert/i);
  });
  it('table candidates keyed by (episode_id, step): p_0..p_{K-1} on discrete data equal the policy they were written from', async () => {
    const env = getEnv('cartpole');
    const pol = scriptedDiscretePolicy(env, 'expert');
    const conn = await openMemoryConnection();
    try {
      const v = await ws.resolve('cart');
      const rows = await (await conn.runAndReadAll(`SELECT episode_id, step, observation FROM read_parquet('${v.glob}') ORDER BY episode_id, step`)).getRowObjects();
      const lines = ['episode_id,step,p_0,p_1'];
      for (const r of rows) {
        const obs = Float32Array.from((r.observation as { items: number[] }).items.map(Number));
        const p = pol.actionProbs(obs, 1);
        lines.push(`${r.episode_id},${r.step},${p[0]!.toPrecision(17)},${p[1]!.toPrecision(17)}`);
      }
      const file = path.join(dir, 'expert.csv');
      await writeFile(file, lines.join('\n') + '\n');
      const res = await evaluateTrajectoryDataset(ws, 'cart', { candidates: [{ name: 'obj', spec: pol }, { name: 'tab', spec: file }], interval: 't' });
      for (let j = 0; j < res.candidates[0]!.estimates.length; j++) {
        expect(res.candidates[1]!.estimates[j]!.value).toBeCloseTo(res.candidates[0]!.estimates[j]!.value, 9);
      }
      // missing steps are named
      await writeFile(path.join(dir, 'short.csv'), lines.slice(0, 5).join('\n') + '\n');
      await expectRejects(evaluateTrajectoryDataset(ws, 'cart', { candidates: [{ spec: path.join(dir, 'short.csv') }] }), 'E_POLICY_ROWS', /logged steps are missing from it \(first: episode 0 step 4/);
      await writeFile(path.join(dir, 'k3.csv'), 'episode_id,step,p_0,p_1,p_2\n0,0,0.2,0.3,0.5\n');
      await expectRejects(evaluateTrajectoryDataset(ws, 'cart', { candidates: [{ spec: path.join(dir, 'k3.csv') }] }), 'E_ACTION_SPACE', /K = 2 actions/);
    } finally {
      conn.closeSync();
    }
  });
  it('continuous candidates: a Gaussian by its density, a deterministic one by the kernel (bandwidth stated, overridable)', async () => {
    const env = getEnv('pendulum');
    const beh = scriptedContinuousPolicy(env, 'medium');
    const det = { ...scriptedContinuousPolicy(env, 'expert'), kind: 'deterministic' as const };
    const res = await evaluateTrajectoryDataset(ws, 'pend', { candidates: [{ name: 'same', spec: beh }, { name: 'det', spec: det }], interval: 't' });
    expect(res.candidates[0]!.estimates[0]!.value).toBeCloseTo(res.behaviour.value, 6);
    expect(res.candidates[1]!.kind).toBe('deterministic');
    expect(res.candidates[1]!.kernel!.rule).toMatch(/Scott/);
    expect(res.candidates[1]!.warnings.map((w) => w.code)).toContain('KERNEL_WEIGHTS');
    const res2 = await evaluateTrajectoryDataset(ws, 'pend', { candidates: [{ name: 'det', spec: det }], bandwidth: 0.3 });
    expect(res2.candidates[0]!.kernel).toEqual({ bandwidth: 0.3, rule: 'given' });
    // a continuous logprob table
    const conn = await openMemoryConnection();
    try {
      const v = await ws.resolve('pend');
      const rows = await (await conn.runAndReadAll(`SELECT episode_id, step, behavior_logprob FROM read_parquet('${v.glob}')`)).getRowObjects();
      const file = path.join(dir, 'beh.csv');
      await writeFile(file, ['episode_id,step,logprob', ...rows.map((r) => `${r.episode_id},${r.step},${Number(r.behavior_logprob).toPrecision(17)}`)].join('\n') + '\n');
      const res3 = await evaluateTrajectoryDataset(ws, 'pend', { candidates: [{ spec: file }] });
      expect(res3.candidates[0]!.estimates[1]!.value).toBeCloseTo(res3.behaviour.value, 9);
      await writeFile(path.join(dir, 'nan.csv'), ['episode_id,step,logprob', ...rows.map((r, k) => `${r.episode_id},${r.step},${k === 7 ? 'nan' : Number(r.behavior_logprob)}`)].join('\n') + '\n');
      await expectRejects(evaluateTrajectoryDataset(ws, 'pend', { candidates: [{ spec: path.join(dir, 'nan.csv') }] }), 'E_LOGPROB', /1 step\(s\) have a NaN or \+inf logprob/);
    } finally {
      conn.closeSync();
    }
  });
});

describe('Q predictions as columns of the dataset', () => {
  it('columns:q_0,q_1 give DR / SNDR / DM the same values as passing the same Q arrays directly', async () => {
    const env = getEnv('cartpole');
    const v = await ws.resolve('cart');
    const conn = await openMemoryConnection();
    const file = path.join(dir, 'cart-q.parquet');
    try {
      // Q(s, a) = 10 + x + a * theta: any fixed function of the stored row
      await conn.run(`COPY (SELECT *, 10 + observation[1] AS q_0, 10 + observation[1] + observation[3] AS q_1 FROM read_parquet('${v.glob}')) TO '${file}' (FORMAT parquet)`);
    } finally {
      conn.closeSync();
    }
    await ingest(ws, file, { name: 'cartq', kind: 'trajectory' });
    const pol = scriptedDiscretePolicy(env, 'expert');
    const res = await evaluateTrajectoryDataset(ws, 'cartq', { candidates: [{ name: 'e', spec: pol }], estimators: ['dr', 'sndr', 'dm'], rewardModel: 'columns:q_0,q_1' });
    // the same by hand from the arrays
    const { loadTrajectoryArrays } = await import('../src/datasets/load-trajectories.js');
    const c2 = await openMemoryConnection();
    try {
      const a = await loadTrajectoryArrays(c2, await ws.resolve('cartq'));
      const probs = pol.actionProbs(a.observations, a.n);
      const qLogged = new Float64Array(a.n);
      const vState = new Float64Array(a.n);
      for (let r = 0; r < a.n; r++) {
        const q0 = 10 + a.observations[r * 4]!;
        const q1 = q0 + a.observations[r * 4 + 2]!;
        qLogged[r] = (a.actions as Int32Array)[r] === 1 ? q1 : q0;
        vState[r] = probs[2 * r]! * q0 + probs[2 * r + 1]! * q1;
      }
      const d = trajectoryOpeData(a, 0.99);
      const cand = policyCandidate(pol, 'e', 't', { steps: a });
      const direct = scoreCandidate(d, cand, { estimators: ['dr', 'sndr', 'dm'] }, { qLogged, vState, source: 'x' });
      for (let j = 0; j < 3; j++) expect(res.candidates[0]!.estimates[j]!.value).toBeCloseTo(direct.estimates[j]!.value, 4);
      expect(res.candidates[0]!.q).toEqual({ source: 'columns:q_0,q_1' });
    } finally {
      c2.closeSync();
    }
    await expectRejects(evaluateTrajectoryDataset(ws, 'cartq', { candidates: [{ spec: pol }], estimators: ['dr'], rewardModel: 'columns:q_0,q_9' }), 'E_MISSING_COLUMN', /no column\(s\) q_9/);
    await expectRejects(evaluateTrajectoryDataset(ws, 'cart', { candidates: [{ spec: pol }], estimators: ['dr'] }), 'E_NO_Q', /DR need Q predictions/);
  });
});

describe('trained policy directories', () => {
  it('Gaussian and deterministic actors saved by training load through the injected loader and score by density / kernel', async () => {
    const rng = new Rng(11);
    const spec = { sizes: [3, 8, 1], output: 'tanh' as const };
    const params = Float32Array.from({ length: parameterCount(spec) }, () => rng.range(-0.3, 0.3));
    const common = { algo: 'test', spec, params, maxAction: Float32Array.of(2), obsMean: new Float32Array(3), obsStd: Float32Array.of(1, 1, 8) };
    await new MlpPolicy({ ...common, kind: 'gaussian', logStd: Float32Array.of(-0.5) }).save(path.join(dir, 'gauss'));
    await new MlpPolicy({ ...common, kind: 'deterministic', logStd: null }).save(path.join(dir, 'det'));
    const res = await evaluateTrajectoryDataset(ws, 'pend', {
      candidates: [{ spec: path.join(dir, 'gauss') }, { spec: path.join(dir, 'det') }],
      loadPolicyDir,
    });
    expect(res.candidates.map((c) => [c.name, c.kind])).toEqual([['gauss', 'gaussian'], ['det', 'deterministic']]);
    for (const c of res.candidates) for (const e of c.estimates) expect(Number.isFinite(e.value)).toBe(true);
    await expectRejects(evaluateTrajectoryDataset(ws, 'cart', { candidates: [{ spec: path.join(dir, 'gauss') }], loadPolicyDir }), 'E_OBS_SHAPE', /takes 3-dimensional observations, but the data's observations have 4 values/);
  });
});

describe('bad input', () => {
  const base = () => ({
    episodeId: Float64Array.from([3, 3, 3, 8, 8]),
    step: Int32Array.from([0, 1, 2, 0, 1]),
    rewards: Float64Array.from([1, 1, 1, 1, 1]),
    behaviorLogprob: Float64Array.from([-0.7, -0.7, -0.7, -0.7, -0.7]) as Float64Array | null,
  });
  it('gamma outside [0, 1]: E_GAMMA; 0 and 1 are allowed', () => {
    expectError(() => checkGamma(1.01), 'E_GAMMA', /must lie in \[0, 1\], got 1.01/);
    expectError(() => trajectoryOpeData(base(), -0.1), 'E_GAMMA', /got -0.1/);
    expectError(() => checkGamma(NaN), 'E_GAMMA', /got NaN/);
    expect(trajectoryOpeData(base(), 1).gamma).toBe(1);
    expect(trajectoryOpeData(base(), 0).gamma).toBe(0);
  });
  it('step gaps and repeats: E_STEP_GAP names the episodes', () => {
    const b = base();
    b.step = Int32Array.from([0, 2, 3, 0, 0]);
    expectError(() => trajectoryOpeData(b), 'E_STEP_GAP', /2 episode\(s\) do not number their steps .* \(episodes 3, 8\)/);
    expectError(() => indexEpisodes(Float64Array.from([1, 1]), Int32Array.from([1, 2])), 'E_STEP_GAP', /episodes 1\)/);
    expectError(
      () => indexEpisodes(Float64Array.from([1, 1, 2]), Int32Array.from([0, 1, 0]), Uint8Array.from([1, 0, 0]), Uint8Array.from([0, 0, 0])),
      'E_EPISODE_END',
      /before their last step \(episodes 1\)/,
    );
  });
  it('no behaviour log-probabilities and no way to fit them: E_NO_BEHAVIOR_LOGPROB', () => {
    const b = base();
    b.behaviorLogprob = null;
    expectError(() => trajectoryOpeData(b), 'E_NO_BEHAVIOR_LOGPROB', /no behavior_logprob column, and no behaviour model .* \(2 episodes affected/);
    // DM alone needs no behaviour log-probabilities; an IS estimator on the same data is refused
    const d = trajectoryOpeData(b, 0.9, { requireBehaviorLogprob: false });
    const steps = { n: 5, obsDim: 1, actDim: 1, discreteActions: 2, observations: new Float32Array(5), actions: new Int32Array(5), episodeId: b.episodeId, step: b.step };
    const unif = { numActions: 2, actionProbs: (_o: Float32Array, n: number) => new Float64Array(2 * n).fill(0.5) };
    const q = { qLogged: new Float64Array(5).fill(1), vState: new Float64Array(5).fill(1.5), source: 't' };
    expect(scoreCandidate(d, policyCandidate(unif, 'u', 't', { steps }), { estimators: ['dm'] }, q).estimates[0]!.value).toBe(1.5);
    expectError(() => scoreCandidate(d, policyCandidate(unif, 'u', 't', { steps }), { estimators: ['pdis'] }), 'E_NO_BEHAVIOR_LOGPROB', /no behavior_logprob column/);
  });
  it('+inf, NaN and -inf behaviour log-probabilities: E_LOGPROB names episode and step', () => {
    for (const bad of [Infinity, NaN, -Infinity]) {
      const b = base();
      b.behaviorLogprob![4] = bad;
      expectError(() => trajectoryOpeData(b), 'E_LOGPROB', new RegExp(`1 step\\(s\\) have an invalid log-probability .*episode 8 step 1 \\(${String(bad).replace('+', '\\+')}\\)`));
    }
    // candidate: +inf and NaN are refused, -inf is a zero weight
    const d = trajectoryOpeData(base());
    const steps = { n: 5, obsDim: 1, actDim: 1, observations: new Float32Array(5), actions: new Float32Array(5), episodeId: base().episodeId, step: base().step };
    const mk = (v: number) => ({ actionDim: 1, act: (_o: Float32Array, n: number) => new Float32Array(n), logProb: (_o: Float32Array, _a: Float32Array, n: number) => new Float64Array(n).fill(v) });
    expect(scoreCandidate(d, policyCandidate(mk(-Infinity), 'z', 't', { steps }), { estimators: ['pdis'] }).estimates[0]!.value).toBe(0);
  });
  it('shape mismatches: observation width, action width, discrete vs continuous, K', () => {
    const steps = { n: 5, obsDim: 3, actDim: 1, discreteActions: 2, observations: new Float32Array(15), actions: new Int32Array(5), episodeId: base().episodeId, step: base().step };
    const disc = (k: number, obsDim?: number) => ({ numActions: k, ...(obsDim ? { obsDim } : {}), actionProbs: (_o: Float32Array, n: number) => new Float64Array(n * k).fill(1 / k) });
    expectError(() => policyCandidate(disc(2, 4), 'a', 't', { steps }), 'E_OBS_SHAPE', /takes 4-dimensional observations, but the data's observations have 3 values/);
    expectError(() => policyCandidate(disc(3), 'a', 't', { steps }), 'E_ACTION_SHAPE', /chooses among 3 actions, but the data's action space has 2/);
    const cont = { actionDim: 2, act: (_o: Float32Array, n: number) => new Float32Array(2 * n), logProb: (_o: Float32Array, _a: Float32Array, n: number) => new Float64Array(n) };
    expectError(() => policyCandidate(cont, 'c', 't', { steps }), 'E_ACTION_SHAPE', /2-dimensional continuous actions, but the data's actions are discrete/);
    const csteps = { ...steps, discreteActions: undefined, actions: new Float32Array(5) };
    expectError(() => policyCandidate(cont, 'c', 't', { steps: csteps }), 'E_ACTION_SHAPE', /outputs 2-dimensional actions, but the data's actions have 1 values/);
    expectError(() => policyCandidate(disc(2), 'a', 't', { steps: csteps }), 'E_ACTION_SHAPE', /discrete actions, but the data's actions are 1-dimensional continuous/);
  });
  it('a deterministic candidate on discrete actions: IS refused with E_DETERMINISTIC_CANDIDATE, DM offered', () => {
    const d = trajectoryOpeData(base());
    const steps = { n: 5, obsDim: 1, actDim: 1, discreteActions: 2, observations: new Float32Array(5), actions: new Int32Array(5), episodeId: base().episodeId, step: base().step };
    const argmax = { numActions: 2, actionProbs: (_o: Float32Array, n: number) => Float64Array.from({ length: 2 * n }, (_, k) => (k % 2 === 0 ? 1 : 0)) };
    const cand = policyCandidate(argmax, 'greedy', 'test', { steps });
    expectError(() => scoreCandidate(d, cand, { estimators: ['pdis'] }), 'E_DETERMINISTIC_CANDIDATE', /Candidate "greedy" is deterministic on discrete actions.*--estimators dm/);
    const dm = scoreCandidate(d, cand, { estimators: ['dm'] }, { qLogged: new Float64Array(5).fill(2), vState: new Float64Array(5).fill(2), source: 'test' });
    expect(dm.estimates[0]!.value).toBe(2);
  });
});
