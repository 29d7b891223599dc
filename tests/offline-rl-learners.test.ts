import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrajectoryArrays } from '../src/datasets/load-trajectories.js';
import { generateTrajectories } from '../src/envs/trajectories.js';
import { OffpolicyError } from '../src/core/errors.js';
import { BcLearner, trainBc } from '../src/offline-rl/bc.js';
import { ensureTfBackend } from '../src/util/tf-backend.js';
import { evaluateInEnv } from '../src/offline-rl/evaluate-env.js';
import { trajectoryDataToArrays } from '../src/offline-rl/from-generated.js';
import { IqlLearner, trainIql } from '../src/offline-rl/iql.js';
import { loadPolicy, MlpPolicy, savePolicy, ENGINE_MIN_ROWS } from '../src/offline-rl/policy.js';
import { Td3BcLearner } from '../src/offline-rl/td3bc.js';
import { checkAlgorithm, trainOffline } from '../src/offline-rl/train.js';
import { Rng } from '../src/util/rng.js';

const tiny = { hidden: [16, 16], batchSize: 32 } as const;
let pendulum: TrajectoryArrays;
let dir: string;

beforeAll(async () => {
  await ensureTfBackend();
  pendulum = trajectoryDataToArrays(generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 10, seed: 3 }));
  dir = await mkdtemp(join(tmpdir(), 'offline-rl-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function expectError(fn: () => unknown, code: string, ...fragments: string[]): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OffpolicyError);
    expect((e as OffpolicyError).code).toBe(code);
    for (const f of fragments) expect((e as Error).message).toContain(f);
    return;
  }
  expect.unreachable(`expected ${code}`);
}

describe('errors', () => {
  it('E_NO_NEXT_OBS: IQL on a dataset without next observations', () => {
    const data = { ...pendulum, nextObservations: null, nextObservationMissing: null };
    expectError(() => new IqlLearner(data, { steps: 10, seed: 1, ...tiny }), 'E_NO_NEXT_OBS', 'IQL bootstraps from next observations', 'no next_observation column', 'train bc');
    // BC does not need them
    expect(() => new BcLearner(data, { steps: 10, seed: 1, ...tiny })).not.toThrow();
  });
  it('E_ACTION_SHAPE: discrete actions, ragged action array, expected dimension', () => {
    const discrete = trajectoryDataToArrays(generateTrajectories({ env: 'cartpole', policy: 'random', episodes: 2, seed: 1 }));
    expectError(() => new IqlLearner(discrete, { steps: 10, seed: 1, ...tiny }), 'E_ACTION_SHAPE', 'needs continuous (box) actions', 'discrete actions (2 choices)');
    const ragged = { ...pendulum, actions: pendulum.actions.subarray(0, pendulum.n - 1) as Float32Array };
    expectError(() => new BcLearner(ragged, { steps: 10, seed: 1, ...tiny }), 'E_ACTION_SHAPE', `holds ${pendulum.n - 1} values, not ${pendulum.n} rows x 1 action dimensions`);
    expectError(() => new IqlLearner(pendulum, { steps: 10, seed: 1, expectedActDim: 6, ...tiny }), 'E_ACTION_SHAPE', "actions have 1 dimensions but 6 were expected");
  });
  it('E_NAN_BATCH: names the rule, the count and the first rows', () => {
    const obs = Float32Array.from(pendulum.observations);
    const rewards = Float64Array.from(pendulum.rewards);
    // every reward NaN: any batch fails, and lists its distinct rows in order
    rewards.fill(NaN);
    obs[0] = NaN;
    const learner = new IqlLearner({ ...pendulum, observations: obs, rewards }, { steps: 10, seed: 1, ...tiny, normalize: false });
    try {
      learner.update();
      expect.unreachable();
    } catch (e) {
      expect((e as OffpolicyError).code).toBe('E_NAN_BATCH');
      const msg = (e as Error).message;
      expect(msg).toMatch(/^Rule "finite observation, action, reward and next observation in a training batch" failed for \d+ rows \(first: \d+(, \d+){4}\)\. Remove or repair those rows/);
      expect((e as OffpolicyError).details!.count).toBeGreaterThan(20);
      const rows = (e as OffpolicyError).details!.rows;
      expect([...rows].sort((a, b) => a - b)).toEqual(rows);
    }
  });
  it('E_NAN_BATCH for a single bad row lists exactly that row', () => {
    const one = { ...pendulum, n: 1, observations: pendulum.observations.subarray(0, 3), nextObservations: pendulum.nextObservations!.subarray(0, 3), actions: Float32Array.of(NaN), rewards: pendulum.rewards.subarray(0, 1), terminated: pendulum.terminated.subarray(0, 1), nextObservationMissing: new Uint8Array(1) };
    const learner = new BcLearner(one, { steps: 10, seed: 1, ...tiny });
    expectError(() => learner.update(), 'E_NAN_BATCH', 'failed for 1 row (first: 0).');
  });
  it('E_UNKNOWN_ALGO', async () => {
    expectError(() => checkAlgorithm('sac'), 'E_UNKNOWN_ALGO', 'Unknown algorithm "sac". Known algorithms: iql, riql, td3bc, prdc, rcbc, bc.');
    await expect(trainOffline('cql', pendulum, { steps: 1, seed: 1 })).rejects.toMatchObject({ code: 'E_UNKNOWN_ALGO' });
    expect(checkAlgorithm(' IQL ')).toBe('iql');
  });
  it('E_TRAIN_PARAM for a bad step count or learning rate', () => {
    expectError(() => new BcLearner(pendulum, { steps: 0, seed: 1 }), 'E_TRAIN_PARAM', 'steps must be a positive integer, got 0.');
    expectError(() => new IqlLearner(pendulum, { steps: 5, seed: 1, lr: -1 }), 'E_TRAIN_PARAM', 'lr must be a positive number, got -1.');
    expectError(() => new IqlLearner(pendulum, { steps: 5, seed: 1, rewardShift: NaN }), 'E_TRAIN_PARAM', 'rewardShift must be a finite number, got NaN.');
    expectError(() => new Td3BcLearner(pendulum, { steps: 5, seed: 1, rewardShift: Infinity }, 'td3bc'), 'E_TRAIN_PARAM', 'rewardShift must be a finite number, got Infinity.');
    expectError(() => new IqlLearner(pendulum, { steps: 5, seed: 1, expectile: 0 }), 'E_TRAIN_PARAM', 'expectile must be strictly between 0 and 1, got 0.');
    expectError(() => new IqlLearner(pendulum, { steps: 5, seed: 1, gamma: 1.5 }), 'E_TRAIN_PARAM', 'gamma must be in [0, 1], got 1.5.');
    expectError(() => new Td3BcLearner(pendulum, { steps: 5, seed: 1, gamma: -0.1 }, 'prdc'), 'E_TRAIN_PARAM', 'gamma must be in [0, 1], got -0.1.');
  });
});

describe('determinism by seed', () => {
  it('IQL: same seed -> identical weights bytes; another seed -> different', async () => {
    const run = async (seed: number): Promise<Buffer> => Buffer.from((await trainIql(pendulum, { steps: 20, seed, ...tiny })).policy.params.buffer);
    const a = await run(4);
    const b = await run(4);
    const c = await run(5);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
  });
  it('rewardScale / rewardShift act exactly as rescaling the stored rewards (IQL, RIQL, TD3+BC)', async () => {
    // integer rewards: 0.5 r - 1 is exact in float32, so both routes must give the same bytes
    const rewards = Float64Array.from(pendulum.rewards, (r) => Math.round(r));
    const base = { ...pendulum, rewards };
    const shifted = { ...pendulum, rewards: Float64Array.from(rewards, (r) => 0.5 * r - 1) };
    for (const algo of ['iql', 'riql', 'td3bc'] as const) {
      const viaOption = (await trainOffline(algo, base, { steps: 20, seed: 2, ...tiny, rewardScale: 0.5, rewardShift: -1 })).policy.params;
      const viaData = (await trainOffline(algo, shifted, { steps: 20, seed: 2, ...tiny })).policy.params;
      const unshifted = (await trainOffline(algo, base, { steps: 20, seed: 2, ...tiny, rewardScale: 0.5 })).policy.params;
      expect(Buffer.from(viaOption.buffer).equals(Buffer.from(viaData.buffer)), algo).toBe(true);
      expect(Buffer.from(viaOption.buffer).equals(Buffer.from(unshifted.buffer)), algo).toBe(false);
    }
  });
  it('BC: same seed -> identical weights bytes', async () => {
    const a = (await trainBc(pendulum, { steps: 20, seed: 9, ...tiny })).policy;
    const b = (await trainBc(pendulum, { steps: 20, seed: 9, ...tiny })).policy;
    expect(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer))).toBe(true);
  });
});

describe('trained policy', () => {
  it('implements ContinuousPolicy, saves and loads exactly', async () => {
    const { policy } = await trainIql(pendulum, { steps: 10, seed: 2, ...tiny, actor: 'gaussian' });
    expect(policy.actionDim).toBe(1);
    const obs = pendulum.observations.subarray(0, 30);
    const acts = policy.act(obs, 10);
    expect(acts.length).toBe(10);
    for (const a of acts) expect(Math.abs(a)).toBeLessThanOrEqual(policy.maxAction[0]! + 1e-6);
    const lp = policy.logProb(obs, acts, 10);
    // at the mean, log-density = -sum(logStd) - 0.5 log(2 pi)
    for (const v of lp) expect(v).toBeCloseTo(-policy.logStd![0]! - 0.5 * Math.log(2 * Math.PI), 5);
    const out = join(dir, 'iql-policy');
    await savePolicy(policy, out);
    const back = await loadPolicy(out);
    expect(Buffer.from(back.params.buffer).equals(Buffer.from(policy.params.buffer))).toBe(true);
    expect([...back.act(obs, 10)]).toEqual([...acts]);
    expect([...back.logProb(obs, acts, 10)]).toEqual([...lp]);
  });
  it('large batches go through the wasm engine in chunks and agree with the JS pass', async () => {
    const { policy } = await trainBc(pendulum, { steps: 5, seed: 2, ...tiny });
    const n = 9000;
    expect(n).toBeGreaterThan(ENGINE_MIN_ROWS);
    const obs = new Float32Array(n * 3);
    for (let i = 0; i < obs.length; i++) obs[i] = pendulum.observations[i % pendulum.observations.length]!;
    const big = policy.act(obs, n);
    expect(big.length).toBe(n);
    for (const i of [0, 1, 4095, 8191, 8192, 8999]) expect(big[i]).toBeCloseTo(policy.act(obs.subarray(i * 3, i * 3 + 3), 1)[0]!, 5);
  });
  it('deterministic actor: logProb fails with E_NO_LOGPROB', async () => {
    const { policy } = await trainBc(pendulum, { steps: 5, seed: 2, ...tiny });
    expectError(() => policy.logProb(pendulum.observations.subarray(0, 3), Float32Array.of(0), 1), 'E_NO_LOGPROB', 'deterministic actor');
    expectError(() => policy.act(Float32Array.of(1, 2), 1), 'E_OBS_SHAPE', 'Expected 1 observations of 3 values (3), got 2 values.');
  });
  it('load errors: missing directory, wrong format, truncated weights', async () => {
    await expect(loadPolicy(join(dir, 'nope'))).rejects.toMatchObject({ code: 'E_POLICY_NOT_FOUND' });
    const bad = join(dir, 'bad');
    const { policy } = await trainBc(pendulum, { steps: 2, seed: 2, ...tiny });
    await savePolicy(policy, bad);
    await writeFile(join(bad, 'actor.bin'), Buffer.alloc(6));
    await expect(loadPolicy(bad)).rejects.toMatchObject({ code: 'E_POLICY_FORMAT', message: expect.stringContaining('6 bytes, not a whole number of float32 values') });
    await writeFile(join(bad, 'actor.bin'), Buffer.alloc(8));
    await expect(loadPolicy(bad)).rejects.toMatchObject({ code: 'E_POLICY_FORMAT', message: expect.stringContaining('The actor has 2 weights') });
    await writeFile(join(bad, 'policy.json'), JSON.stringify({ format: 'something-else' }));
    await expect(loadPolicy(bad)).rejects.toMatchObject({ code: 'E_POLICY_FORMAT', message: expect.stringContaining('is not an offpolicy policy') });
    expect(policy).toBeInstanceOf(MlpPolicy);
  });
});

describe('learning on a tiny task (Pendulum medium, 2 x 64 networks)', () => {
  it('BC and IQL clearly beat the random policy (normalized score 0) within a few thousand steps', async () => {
    const data = trajectoryDataToArrays(generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 50, seed: 7 }));
    const small = { hidden: [64, 64], batchSize: 256, seed: 1 };
    const bc = await trainBc(data, { ...small, steps: 2000 });
    const iql = await trainIql(data, { ...small, steps: 2000, rewardScale: 0.1 });
    const rng = new Rng(77);
    const random = evaluateInEnv(
      { actionDim: 1, act: (_o, n) => new Float32Array(n).map(() => rng.range(-2, 2)), logProb: (_o, _a, n) => new Float64Array(n) },
      'pendulum', 10, 5,
    );
    const bcScore = evaluateInEnv(bc.policy, 'pendulum', 10, 5).normalizedScore!;
    const iqlScore = evaluateInEnv(iql.policy, 'pendulum', 10, 5).normalizedScore!;
    console.log(`normalized scores: random ${random.normalizedScore!.toFixed(1)}, bc ${bcScore.toFixed(1)}, iql ${iqlScore.toFixed(1)}`);
    expect(random.normalizedScore!).toBeLessThan(15);
    expect(bcScore).toBeGreaterThan(40);
    expect(iqlScore).toBeGreaterThan(40);
  }, 60_000);
});
