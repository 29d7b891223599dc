import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMemoryConnection } from '../src/datasets/duckdb.js';
import { loadTrajectoryArrays } from '../src/datasets/load-trajectories.js';
import { Workspace } from '../src/datasets/workspace.js';
import { generateTrajectories } from '../src/envs/trajectories.js';
import { OffpolicyError } from '../src/core/errors.js';
import { evaluateInEnv } from '../src/offline-rl/evaluate-env.js';
import { trajectoryDataToArrays } from '../src/offline-rl/from-generated.js';
import { gaussianLogProb } from '../src/offline-rl/losses.js';
import type { MlpPolicy } from '../src/offline-rl/policy.js';
import { rolloutPolicy, writeRolloutDataset } from '../src/offline-rl/rollout.js';
import { policyCandidate } from '../src/ope/trajectory/candidates.js';
import { trainOffline } from '../src/offline-rl/train.js';
import { logStdNormalMass, sampleTruncatedGaussian } from '../src/util/truncated-normal.js';
import { erfc } from '../src/util/normal.js';
import { Rng } from '../src/util/rng.js';
import { ensureTfBackend } from '../src/util/tf-backend.js';

let dir: string;
let ws: Workspace;
let gaussian: MlpPolicy;
let deterministic: MlpPolicy;

beforeAll(async () => {
  await ensureTfBackend();
  dir = await mkdtemp(join(tmpdir(), 'offline-rl-rollout-'));
  ws = await Workspace.open(dir);
  const data = trajectoryDataToArrays(generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 3, seed: 2 }));
  // a wide log-std so that sampled torques often reach the +-2 bounds
  gaussian = (await trainOffline('bc', data, { steps: 30, seed: 1, hidden: [16, 16], batchSize: 32, actor: 'gaussian', maxAction: 2 })).policy;
  gaussian.logStd!.fill(Math.log(1.5));
  deterministic = (await trainOffline('bc', data, { steps: 10, seed: 1, hidden: [16, 16], batchSize: 32, maxAction: 2 })).policy;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('truncated normal', () => {
  it('erfc matches reference values to 1e-13 relative', () => {
    // reference values (mpmath, 20 digits)
    const ref: [number, number][] = [
      [0, 1],
      [0.5, 0.4795001221869534623],
      [1, 0.1572992070502851307],
      [2, 0.004677734981047265838],
      [2.5, 0.0004069520174449589803],
      [3, 2.209049699858544137e-5],
      [5, 1.537459794428034850e-12],
      [10, 2.088487583762544757e-45],
      [-1, 1.842700792949714869],
    ];
    for (const [x, v] of ref) expect(Math.abs(erfc(x) - v) / v).toBeLessThan(1e-13);
  });
  it('log box mass: central, one-sided and far-tail intervals', () => {
    expect(Math.exp(logStdNormalMass(-1, 1))).toBeCloseTo(0.6826894921370859, 14);
    expect(Math.exp(logStdNormalMass(0.5, Infinity))).toBeCloseTo(0.3085375387259869, 14);
    expect(Math.exp(logStdNormalMass(-Infinity, Infinity))).toBe(1);
    // P(8 < X < 9) = (erfc(8/sqrt2) - erfc(9/sqrt2)) / 2 = 6.220960574271785e-16 - 1.1285884059538425e-19
    expect(logStdNormalMass(8, 9)).toBeCloseTo(Math.log(6.220960574271785e-16 - 1.1285884059538425e-19), 10);
    expect(logStdNormalMass(1, 1)).toBe(-Infinity);
  });
  it('samples stay in the box and have the truncated mean and variance', () => {
    const rng = new Rng(11);
    const n = 40_000;
    let s1 = 0;
    let s2 = 0;
    let t1 = 0;
    for (let i = 0; i < n; i++) {
      const { action, logMass } = sampleTruncatedGaussian([0, 0], [1, 1], [-1, 0.5], [1, Infinity], rng);
      expect(action[0]! >= -1 && action[0]! <= 1 && action[1]! >= 0.5).toBe(true);
      if (i === 0) expect(logMass).toBeCloseTo(Math.log(0.6826894921370859) + Math.log(0.3085375387259869), 12);
      s1 += action[0]!;
      s2 += action[0]! ** 2;
      t1 += action[1]!;
    }
    // N(0,1) on [-1, 1]: mean 0, variance 1 - 2 phi(1) / 0.682689 = 0.291125; on [0.5, inf): mean phi(0.5) / 0.308538 = 1.141078
    const se = Math.sqrt(0.2911 / n);
    expect(Math.abs(s1 / n)).toBeLessThan(4 * se);
    expect(Math.abs(s2 / n - 0.291125)).toBeLessThan(0.006);
    expect(Math.abs(t1 / n - 1.141078)).toBeLessThan(0.012);
  });
  it('refuses a box holding almost none of the mass', () => {
    try {
      sampleTruncatedGaussian([0], [0.01], [1], [2], new Rng(1));
      expect.unreachable();
    } catch (e) {
      expect((e as OffpolicyError).code).toBe('E_ACTION_RANGE');
      expect((e as Error).message).toBe(
        "The policy's Gaussian puts 0.00e+0 of its probability inside the action bounds [1, 2] of dimension 0 (mean 0, std 0.01). Roll the policy out in the environment it was trained for, or without --stochastic.",
      );
    }
  });
});

describe('rollouts', () => {
  it('deterministic rollouts give evaluateInEnv\'s returns and keep the steps in order', () => {
    const r = rolloutPolicy(deterministic, 'pendulum', { episodes: 2, seed: 4, collect: true });
    const ev = evaluateInEnv(deterministic, 'pendulum', 2, 4);
    expect([...r.returns]).toEqual([...ev.returns]);
    expect(r.meanReturn).toBe(ev.meanReturn);
    expect(r.normalizedScore).toBe(ev.normalizedScore);
    const s = r.steps!;
    expect(s.n).toBe(400);
    expect(s.behaviorLogprob).toBeNull();
    expect([...r.lengths]).toEqual([200, 200]);
    // per-episode reward sums are the returns; the stored actions are the policy's mean actions
    for (let ep = 0; ep < 2; ep++) {
      let sum = 0;
      for (let i = 0; i < s.n; i++) if (s.episodeId[i] === ep) sum += s.reward[i]!;
      expect(sum).toBeCloseTo(r.returns[ep]!, 9);
    }
    const acts = deterministic.act(s.observation, s.n);
    expect(Array.from(s.action)).toEqual(Array.from(acts, (a) => Math.min(2, Math.max(-2, a))));
    // next observation of a step is the observation of the following step
    expect(Array.from(s.nextObservation.subarray(0, 3))).toEqual(Array.from(s.observation.subarray(3, 6)));
    expect(s.truncated[199]).toBe(1);
  });

  it('stochastic rollouts log the truncated Gaussian density of the stored action, seeded', () => {
    const a = rolloutPolicy(gaussian, 'pendulum', { episodes: 2, seed: 7, stochastic: true, collect: true });
    const b = rolloutPolicy(gaussian, 'pendulum', { episodes: 2, seed: 7, stochastic: true, collect: true });
    const c = rolloutPolicy(gaussian, 'pendulum', { episodes: 2, seed: 8, stochastic: true, collect: true });
    expect([...b.returns]).toEqual([...a.returns]);
    expect([...c.returns]).not.toEqual([...a.returns]);
    const s = a.steps!;
    const mean = gaussian.act(s.observation, s.n);
    const logN = gaussianLogProb(mean, gaussian.logStd!, s.action, 1);
    const sd = gaussian.actionStd()[0]!;
    expect(sd).toBeCloseTo(1.5, 6);
    let clipped = 0;
    for (let i = 0; i < s.n; i++) {
      const act = s.action[i]!;
      expect(act >= -2 && act <= 2).toBe(true);
      const logZ = logStdNormalMass((-2 - mean[i]!) / sd, (2 - mean[i]!) / sd);
      expect(s.behaviorLogprob![i]).toBeCloseTo(logN[i]! - logZ, 12);
      if (logZ < -0.01) clipped++;
    }
    // the truncation matters on a good share of the steps (std 1.5 against bounds at +-2)
    expect(clipped).toBeGreaterThan(50);
  });

  it('off-policy evaluation scores a Gaussian policy by the truncated density its stochastic rollouts log', async () => {
    const r = rolloutPolicy(gaussian, 'pendulum', { episodes: 2, seed: 11, stochastic: true, collect: true });
    const v = await writeRolloutDataset(ws, 'roll-trunc', r, { seed: 11 });
    const conn = await openMemoryConnection();
    try {
      const steps = await loadTrajectoryArrays(conn, v);
      const c = policyCandidate(gaussian, 'g', 'g', { steps, actionSpace: v.metadata.actionSpace });
      // the candidate is the behaviour policy: every importance ratio is 1
      let maxDiff = 0;
      for (let i = 0; i < steps.n; i++) maxDiff = Math.max(maxDiff, Math.abs(c.targetLogprob![i]! - steps.behaviorLogprob![i]!));
      expect(maxDiff).toBeLessThan(1e-9);
      // the untruncated Gaussian density differs where the box cuts off mass (std 1.5 against bounds at +-2)
      const untruncated = gaussian.logProb(steps.observations, steps.actions as Float32Array, steps.n);
      expect(Math.max(...Array.from(steps.behaviorLogprob!, (b, i) => b - untruncated[i]!))).toBeGreaterThan(0.01);
    } finally {
      conn.closeSync();
    }
  });

  it('writes the steps as a trajectory dataset with lineage; it loads back with the same values', async () => {
    const r = rolloutPolicy(gaussian, 'pendulum', { episodes: 2, seed: 7, stochastic: true, collect: true });
    const v = await writeRolloutDataset(ws, 'roll', r, { policy: 'somewhere/policy', algo: 'bc', seed: 7 });
    expect(v.ref).toBe('roll@1');
    expect(v.metadata).toMatchObject({
      kind: 'trajectory',
      envId: 'Pendulum-v1',
      rowCount: 400,
      episodeCount: 2,
      lineage: { transform: 'rollout', params: { env: 'Pendulum-v1', episodes: 2, stochastic: true, policy: 'somewhere/policy', algo: 'bc' }, seed: 7 },
      extra: { behaviorPolicy: 'bc policy (somewhere/policy)', meanReturn: r.meanReturn },
    });
    const conn = await openMemoryConnection();
    try {
      const back = await loadTrajectoryArrays(conn, v);
      expect(Array.from(back.actions)).toEqual(Array.from(r.steps!.action));
      expect(Array.from(back.behaviorLogprob!)).toEqual(Array.from(r.steps!.behaviorLogprob!));
      expect(Array.from(back.rewards)).toEqual(Array.from(r.steps!.reward));
      expect(Array.from(back.observations)).toEqual(Array.from(r.steps!.observation));
    } finally {
      conn.closeSync();
    }
    const det = rolloutPolicy(deterministic, 'pendulum', { episodes: 1, seed: 1, collect: true });
    const w = await writeRolloutDataset(ws, 'roll-det', det, { seed: 1 });
    expect(w.metadata.columns.map((c) => c.name)).not.toContain('behavior_logprob');
  });

  it('errors: env of another action shape, --stochastic on a deterministic policy, bad episode count', () => {
    const cases: [() => unknown, string, string][] = [
      [() => rolloutPolicy(gaussian, 'maze', { episodes: 1, seed: 0 }), 'E_OBS_SHAPE', 'PointMaze-U-v0 gives 2-dimensional observations but the policy takes 3. Roll the policy out in the environment its training data came from.'],
      [() => rolloutPolicy(gaussian, 'cartpole', { episodes: 1, seed: 0 }), 'E_OBS_SHAPE', 'CartPole-v1 gives 4-dimensional observations but the policy takes 3. Roll the policy out in the environment its training data came from.'],
      [
        () => rolloutPolicy(deterministic, 'pendulum', { episodes: 1, seed: 0, stochastic: true }),
        'E_NO_LOGPROB',
        'This bc policy has a deterministic actor, so it cannot sample actions. Roll it out without --stochastic, or train it with the Gaussian actor (actor: "gaussian"; IQL uses it by default).',
      ],
      [() => rolloutPolicy(deterministic, 'pendulum', { episodes: 0, seed: 0 }), 'E_ROLLOUT_PARAM', 'episodes must be a positive integer, got 0. Pass --episodes 10 (or more).'],
    ];
    for (const [fn, code, message] of cases) {
      try {
        fn();
        expect.unreachable(code);
      } catch (e) {
        expect((e as OffpolicyError).code).toBe(code);
        expect((e as Error).message).toBe(message);
      }
    }
  });
});
