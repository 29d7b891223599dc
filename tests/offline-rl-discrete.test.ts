import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrajectoryArrays } from '../src/datasets/load-trajectories.js';
import { generateTrajectories } from '../src/envs/trajectories.js';
import { readCheckpoint, writeCheckpoint } from '../src/offline-rl/checkpoint.js';
import { banditLogToTrajectoryArrays } from '../src/offline-rl/discrete/bandit.js';
import { DiscreteBcLearner, trainDiscreteBc } from '../src/offline-rl/discrete/bc.js';
import { CategoricalActor } from '../src/offline-rl/discrete/categorical-actor.js';
import { CategoricalMlpPolicy } from '../src/offline-rl/discrete/categorical-policy.js';
import { DiscreteIqlLearner } from '../src/offline-rl/discrete/iql.js';
import { checkDiscreteAlgorithm, createDiscreteLearner, trainDiscrete, type DiscreteLearner } from '../src/offline-rl/discrete/learners.js';
import { loadDiscretePolicyDir, loadPolicyDir } from '../src/offline-rl/discrete/policy-dir.js';
import { evaluateInEnv } from '../src/offline-rl/evaluate-env.js';
import { rolloutPolicy } from '../src/offline-rl/rollout.js';
import { trajectoryDataToArrays } from '../src/offline-rl/from-generated.js';
import { awrWeights, softmaxCrossEntropyLoss } from '../src/offline-rl/losses.js';
import { MlpPolicy, ENGINE_MIN_ROWS } from '../src/offline-rl/policy.js';
import { backwardTf, forwardJs, forwardTf, uploadMlp } from '../src/nn/mlp.js';
import { adamStepF32Js } from '../src/nn/adam.js';
import { trainBc } from '../src/offline-rl/bc.js';
import { Rng } from '../src/util/rng.js';
import { ensureTfBackend } from '../src/util/tf-backend.js';
import * as tf from '@tensorflow/tfjs';
import { expectError } from './support/expect-error.js';

const tiny = { hidden: [16, 16], batchSize: 32 } as const;
let cartMedium: TrajectoryArrays;
let cartRandom: TrajectoryArrays;
let pendulum: TrajectoryArrays;
let dir: string;

beforeAll(async () => {
  await ensureTfBackend();
  cartMedium = trajectoryDataToArrays(generateTrajectories({ env: 'cartpole', policy: 'medium', episodes: 30, seed: 1 }));
  cartRandom = trajectoryDataToArrays(generateTrajectories({ env: 'cartpole', policy: 'random', episodes: 300, seed: 1 }));
  pendulum = trajectoryDataToArrays(generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 2, seed: 3 }));
  dir = await mkdtemp(join(tmpdir(), 'offline-rl-discrete-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function close(a: ArrayLike<number>, b: readonly number[], digits = 6): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) expect(a[i]).toBeCloseTo(b[i]!, digits);
}

/** A bandit log with a constant 1-d context, actions cycling 0..K-1 and deterministic reward r(a). */
function constantContextLog(rewards: readonly number[], n: number): TrajectoryArrays {
  const K = rewards.length;
  const actions = Int32Array.from({ length: n }, (_, i) => i % K);
  return banditLogToTrajectoryArrays({
    n,
    numActions: K,
    contextDim: 1,
    contexts: new Float32Array(n),
    actions,
    rewards: Float64Array.from(actions, (a) => rewards[a]!),
    propensities: new Float64Array(n).fill(1 / K),
  });
}

describe('softmax cross-entropy loss (hand-computed)', () => {
  it('weighted mean of -log softmax(z)[a] and its gradient w (p - onehot) / n', () => {
    // row 0: z = [0, ln 2, ln 5] -> p = [1/8, 2/8, 5/8], a = 2, w = 2 -> 2 ln(8/5)
    // row 1: z = [1000, 1000, 1000] (stability) -> p = 1/3 each, a = 0, w = 0.5 -> 0.5 ln 3
    const r = softmaxCrossEntropyLoss([0, Math.log(2), Math.log(5), 1000, 1000, 1000], [2, 0], 3, [2, 0.5]);
    expect(r.loss).toBeCloseTo((2 * Math.log(8 / 5) + 0.5 * Math.log(3)) / 2, 12);
    expect(r.loss).toBeCloseTo(0.7446567, 6);
    close(r.grad, [0.125, 0.25, -0.375, -1 / 6, 1 / 12, 1 / 12]);
  });
  it('unweighted: two actions, z = [0, ln 3], a = 0 -> ln 4, gradient [-3/4, 3/4]', () => {
    const r = softmaxCrossEntropyLoss([0, Math.log(3)], [0], 2);
    expect(r.loss).toBeCloseTo(Math.log(4), 12);
    close(r.grad, [-0.75, 0.75]);
  });
  it('matches central finite differences', () => {
    const rng = new Rng(5);
    const z = Array.from({ length: 12 }, () => rng.normal() * 2);
    const a = [1, 3, 0];
    const w = [0.3, 1.7, 1];
    const r = softmaxCrossEntropyLoss(z, a, 4, w);
    for (let j = 0; j < z.length; j++) {
      const h = 1e-5;
      const up = [...z];
      const dn = [...z];
      up[j]! += h;
      dn[j]! -= h;
      const fd = (softmaxCrossEntropyLoss(up, a, 4, w).loss - softmaxCrossEntropyLoss(dn, a, 4, w).loss) / (2 * h);
      expect(r.grad[j]).toBeCloseTo(fd, 5);
    }
  });
});

describe('categorical advantage-weighted regression (hand-computed)', () => {
  it('the weighted cross-entropy is stationary at pi(a) proportional to count(a) exp(beta A(a))', () => {
    // one state, logged actions [0, 0, 1, 2] with advantages [0.1, 0.1, -0.2, 0.3], beta = 3:
    // W = [2 e^0.3, e^-0.6, e^0.9]; the gradient at logits ln W sums to 0 over the rows
    const w = awrWeights([0.6, 0.6, 0.3, 0.8], [0.5, 0.5, 0.5, 0.5], 3);
    close(w, [Math.exp(0.3), Math.exp(0.3), Math.exp(-0.6), Math.exp(0.9)], 10);
    const logits = [Math.log(2 * Math.exp(0.3)), Math.log(Math.exp(-0.6)), Math.log(Math.exp(0.9))];
    const z = [...logits, ...logits, ...logits, ...logits];
    const r = softmaxCrossEntropyLoss(z, [0, 0, 1, 2], 3, w);
    for (let j = 0; j < 3; j++) expect(r.grad[j]! + r.grad[3 + j]! + r.grad[6 + j]! + r.grad[9 + j]!).toBeCloseTo(0, 7);
    // anywhere else (uniform logits) it is not
    const u = softmaxCrossEntropyLoss(new Array(12).fill(0), [0, 0, 1, 2], 3, w);
    expect(Math.abs(u.grad[2]! + u.grad[5]! + u.grad[8]! + u.grad[11]!)).toBeGreaterThan(0.1);
  });
  it('weights are clipped at 100', () => {
    close(awrWeights([3], [0.5], 3), [100]);
  });
  it('CategoricalActor trained with fixed AWR weights converges to pi proportional to count x weight', () => {
    const actor = new CategoricalActor(1, 3, [8], 0.01, new Rng(1));
    const actions = Int32Array.from([0, 0, 1, 2]);
    const w = [Math.exp(0.3), Math.exp(0.3), Math.exp(-0.6), Math.exp(0.9)];
    for (let s = 0; s < 600; s++) actor.step(new Float32Array(4), actions, w, 0.01);
    const p = actor.toPolicy('test', { mean: Float32Array.of(0), std: Float32Array.of(1) }, {}).actionProbs(Float32Array.of(0), 1);
    const W = [2 * Math.exp(0.3), Math.exp(-0.6), Math.exp(0.9)];
    const total = W[0]! + W[1]! + W[2]!;
    close(p, W.map((x) => x / total), 3);
  });
  it('discrete IQL on a one-step bandit: Q(s, a) -> r(a), V -> the 0.7-expectile, actor -> pi_b exp(beta (Q - V))', async () => {
    // r = [0, 1, 0.5] under a uniform logger. Expectile 0.7 of {0, 1, 0.5}: 0.7 (1 - v) = 0.3 (v + v - 0.5)
    // -> v = 0.85 / 1.3 = 0.653846; pi(a) proportional to exp(3 (r(a) - v)) = [0.1407, 2.8249, 0.6303]
    const data = constantContextLog([0, 1, 0.5], 3000);
    const learner = new DiscreteIqlLearner(data, { steps: 3000, seed: 3, hidden: [16, 16], batchSize: 128, lr: 1e-3, tau: 0.05 });
    for (let s = 0; s < 3000; s++) learner.update();
    close(learner.qValues(Float32Array.of(0), 1), [0, 1, 0.5], 2);
    const v = 0.85 / 1.3;
    const W = [0, 1, 0.5].map((r) => Math.exp(3 * (r - v)));
    const total = W.reduce((a, b) => a + b, 0);
    const p = learner.policy().actionProbs(Float32Array.of(0), 1);
    // target [0.0391, 0.7856, 0.1753]; seeds 3, 4, 5 land within 0.003 of it
    for (let a = 0; a < 3; a++) expect(Math.abs(p[a]! - W[a]! / total)).toBeLessThan(0.01);
    // BC on the same log clones the uniform logger
    const bc = await trainDiscreteBc(data, { steps: 500, seed: 3, hidden: [16, 16], batchSize: 128, lr: 1e-3 });
    for (const q of bc.policy.actionProbs(Float32Array.of(0), 1)) expect(Math.abs(q - 1 / 3)).toBeLessThan(0.04);
  }, 30_000);
});

describe('CategoricalMlpPolicy', () => {
  it('actionProbs rows sum to 1; logProb is log of them; act is the argmax', async () => {
    const { policy } = await trainDiscreteBc(cartMedium, { steps: 20, seed: 2, ...tiny });
    expect(policy).toBeInstanceOf(CategoricalMlpPolicy);
    expect(policy.numActions).toBe(2);
    expect(policy.obsDim).toBe(4);
    const n = 25;
    const obs = cartMedium.observations.subarray(0, n * 4);
    const p = policy.actionProbs(obs, n);
    const actions = Int32Array.from({ length: n }, (_, i) => i % 2);
    const lp = policy.logProb(obs, actions, n);
    const greedy = policy.act(obs, n);
    for (let i = 0; i < n; i++) {
      expect(p[2 * i]! + p[2 * i + 1]!).toBeCloseTo(1, 12);
      expect(lp[i]).toBeCloseTo(Math.log(p[2 * i + actions[i]!]!), 10);
      expect(greedy[i]).toBe(p[2 * i + 1]! > p[2 * i]! ? 1 : 0);
    }
  });
  it('large batches go through the wasm engine and agree with the JS pass', async () => {
    const { policy } = await trainDiscreteBc(cartMedium, { steps: 5, seed: 2, ...tiny });
    const n = 9000;
    expect(n).toBeGreaterThan(ENGINE_MIN_ROWS);
    const obs = new Float32Array(n * 4);
    for (let i = 0; i < obs.length; i++) obs[i] = cartMedium.observations[i % cartMedium.observations.length]!;
    const big = policy.actionProbs(obs, n);
    for (const i of [0, 4095, 8192, 8999]) close(big.subarray(2 * i, 2 * i + 2), [...policy.actionProbs(obs.subarray(4 * i, 4 * i + 4), 1)], 5);
  });
  it('errors: observation width, action index range, action count', async () => {
    const { policy } = await trainDiscreteBc(cartMedium, { steps: 2, seed: 2, ...tiny });
    expectError(() => policy.actionProbs(Float32Array.of(1, 2, 3), 1), 'E_OBS_SHAPE', 'Expected 1 observations of 4 values (4), got 3 values. This policy was trained on 4-dimensional observations (or contexts).');
    expectError(
      () => policy.logProb(new Float32Array(12), Int32Array.of(0, 2, -1), 3),
      'E_ACTION_RANGE',
      'Rule "action index in 0..1" failed for 2 rows (first: 1, 2). This policy chooses among 2 actions.',
    );
    expectError(() => policy.logProb(new Float32Array(8), Int32Array.of(0), 2), 'E_ACTION_SHAPE', 'Expected 2 action indices, got 1. Pass one action index (0..K-1) per observation.');
  });
  it('saves as a policy directory (kind categorical) and loadPolicyDir reads it back exactly; continuous directories load as MlpPolicy', async () => {
    const { policy } = await trainDiscrete('rcbc', cartMedium, { steps: 10, seed: 2, ...tiny });
    const out = join(dir, 'rcbc-policy');
    await policy.save(out);
    const json = JSON.parse(await readFile(join(out, 'policy.json'), 'utf8'));
    expect(json).toMatchObject({ format: 'offpolicy-policy', formatVersion: 1, kind: 'categorical', algo: 'rcbc-discrete', obsDim: 4, numActions: 2, weightsFile: 'actor.bin' });
    expect(json.actor).toEqual({ sizes: [5, 16, 16, 2], output: 'linear' });
    expect(json.returnConditioning.targetReturn).toBe(policy.returnConditioning!.targetReturn);
    const back = await loadPolicyDir(out);
    expect(back).toBeInstanceOf(CategoricalMlpPolicy);
    const cat = back as CategoricalMlpPolicy;
    expect(Buffer.from(cat.params.buffer).equals(Buffer.from(policy.params.buffer))).toBe(true);
    const obs = cartMedium.observations.subarray(0, 40);
    expect([...cat.actionProbs(obs, 10)]).toEqual([...policy.actionProbs(obs, 10)]);
    // return conditioning: the return-to-go drops with each reward and resets
    cat.observeReward(7);
    expect(cat.returnToGo).toBe(policy.returnConditioning!.targetReturn - 7);
    expect([...cat.actionProbs(obs, 10)]).not.toEqual([...policy.actionProbs(obs, 10)]);
    cat.reset();
    expect([...cat.actionProbs(obs, 10)]).toEqual([...policy.actionProbs(obs, 10)]);

    const cont = (await trainBc(pendulum, { steps: 2, seed: 2, ...tiny })).policy;
    await cont.save(join(dir, 'bc-continuous'));
    expect(await loadPolicyDir(join(dir, 'bc-continuous'))).toBeInstanceOf(MlpPolicy);
    await expect(loadDiscretePolicyDir(join(dir, 'bc-continuous'))).rejects.toMatchObject({
      code: 'E_POLICY_KIND',
      message: expect.stringContaining('(bc) outputs 1-dimensional continuous actions, not probabilities over discrete actions.'),
    });
  });
  it('load errors: missing, unknown kind, truncated weights, mismatched sizes', async () => {
    await expect(loadPolicyDir(join(dir, 'nope'))).rejects.toMatchObject({ code: 'E_POLICY_NOT_FOUND', message: expect.stringContaining(`No policy.json in ${join(dir, 'nope')}.`) });
    const bad = join(dir, 'bad-categorical');
    const { policy } = await trainDiscreteBc(cartMedium, { steps: 2, seed: 2, ...tiny });
    await policy.save(bad);
    const json = JSON.parse(await readFile(join(bad, 'policy.json'), 'utf8'));
    await writeFile(join(bad, 'actor.bin'), Buffer.alloc(6));
    await expect(loadPolicyDir(bad)).rejects.toMatchObject({ code: 'E_POLICY_FORMAT', message: expect.stringContaining('actor.bin has 6 bytes, not a whole number of float32 values.') });
    await writeFile(join(bad, 'actor.bin'), Buffer.alloc(8));
    await expect(loadPolicyDir(bad)).rejects.toMatchObject({ code: 'E_POLICY_FORMAT', message: expect.stringContaining('The actor has 2 weights but its layer sizes [4, 16, 16, 2] need 386.') });
    await writeFile(join(bad, 'policy.json'), JSON.stringify({ ...json, numActions: 3 }));
    await expect(loadPolicyDir(bad)).rejects.toMatchObject({ code: 'E_POLICY_FORMAT', message: expect.stringContaining('numActions is 3 but the network outputs 2 logits.') });
    await writeFile(join(bad, 'policy.json'), JSON.stringify({ ...json, kind: 'beta' }));
    await expect(loadPolicyDir(bad)).rejects.toMatchObject({ code: 'E_POLICY_FORMAT', message: expect.stringContaining('has an unknown policy kind "beta".') });
  });
});

describe('errors', () => {
  it('TD3+BC and PRDC on discrete data name the discrete learners', () => {
    const msg =
      'TD3+BC does not apply to discrete actions (K = 2): its actor follows the gradient of Q with respect to a continuous action, and its constraint measures distances between actions. The discrete-action learners are bc, iql, riql, rcbc. Train one of bc, iql, riql, rcbc on this dataset (e.g. offpolicy train iql), or td3bc on a dataset with FLOAT[] actions.';
    expectError(() => createDiscreteLearner('td3bc', cartMedium, { steps: 5, seed: 1 }), 'E_ACTION_SHAPE', msg);
    expectError(() => createDiscreteLearner('PRDC', cartMedium, { steps: 5, seed: 1 }), 'E_ACTION_SHAPE', /^PRDC does not apply to discrete actions \(K = 2\)/);
    expectError(() => checkDiscreteAlgorithm('cql'), 'E_UNKNOWN_ALGO', 'Unknown algorithm "cql". The discrete-action learners are bc, iql, riql, rcbc. Pick one of those names (e.g. offpolicy train iql ...).');
    expect(checkDiscreteAlgorithm(' IQL-discrete ')).toBe('iql');
  });
  it('a discrete learner on continuous data, and box-only options', () => {
    expectError(
      () => createDiscreteLearner('iql', pendulum, { steps: 5, seed: 1 }),
      'E_ACTION_SHAPE',
      'The discrete iql learner needs discrete actions (integers 0..K-1), but the dataset has 1-dimensional continuous actions. Train the continuous iql on box-action data (offpolicy train iql picks it for FLOAT[] actions), or use a dataset with INTEGER actions (e.g. CartPole-v1).',
    );
    expectError(
      () => createDiscreteLearner('bc', cartMedium, { steps: 5, seed: 1, actor: 'gaussian' } as never),
      'E_TRAIN_PARAM',
      "--actor does not apply to the discrete bc learner: it trains a categorical policy over the dataset's actions. Drop --actor; it is an option of the continuous-action learners.",
    );
    expectError(() => createDiscreteLearner('rcbc', cartMedium, { steps: 5, seed: 1, maxAction: 2 } as never), 'E_TRAIN_PARAM', /^--max-action does not apply to the discrete rcbc learner/);
    expectError(() => new DiscreteIqlLearner(cartMedium, { steps: 5, seed: 1, expectile: 1 }), 'E_TRAIN_PARAM', 'expectile must be strictly between 0 and 1, got 1. IQL uses 0.7.');
    expectError(() => new DiscreteBcLearner(cartMedium, { steps: 0, seed: 1 }), 'E_TRAIN_PARAM', 'steps must be a positive integer, got 0. Pass --steps 1000 or more.');
  });
  it('actions outside 0..K-1 and a one-action space', () => {
    const actions = Int32Array.from(cartMedium.actions);
    actions[3] = 2;
    actions[10] = -1;
    actions[11] = 5;
    expectError(
      () => createDiscreteLearner('bc', { ...cartMedium, actions }, { steps: 5, seed: 1 }),
      'E_ACTION_RANGE',
      'Rule "action in 0..1 (the action space has K = 2 actions)" failed for 3 rows (first: 3, 10, 11). Fix or drop those rows, or declare the right number of actions when ingesting (--num-actions).',
    );
    expectError(() => createDiscreteLearner('bc', { ...cartMedium, discreteActions: 1 }, { steps: 5, seed: 1 }), 'E_ACTION_SPACE', /^The dataset's action space has 1 action\(s\); a discrete policy needs at least 2/);
  });
  it('IQL needs next observations; a bandit log without contexts cannot be trained on', () => {
    expectError(() => createDiscreteLearner('iql', { ...cartMedium, nextObservations: null, nextObservationMissing: null }, { steps: 5, seed: 1 }), 'E_NO_NEXT_OBS', /^IQL bootstraps from next observations/);
    expectError(
      () => banditLogToTrajectoryArrays({ n: 2, numActions: 2, contextDim: 0, contexts: new Float32Array(0), actions: Int32Array.of(0, 1), rewards: Float64Array.of(1, 0) }),
      'E_NO_CONTEXT',
      /^The bandit log has no context features/,
    );
  });
  it('NaN in a batch names the rows', () => {
    const rewards = Float64Array.from(cartMedium.rewards);
    rewards.fill(NaN, 0, 5);
    const one = { ...cartMedium, n: 5, rewards: rewards.subarray(0, 5), actions: cartMedium.actions.subarray(0, 5), observations: cartMedium.observations.subarray(0, 20) };
    const rule = /^Rule "finite observation, action, reward and next observation in a training batch" failed for 5 rows \(first: 0, 1, 2, 3, 4\)\./;
    expectError(() => new DiscreteBcLearner(one, { steps: 5, seed: 1, ...tiny }).update(), 'E_NAN_BATCH', rule);
    const iql = new DiscreteIqlLearner({ ...one, nextObservations: cartMedium.nextObservations!.subarray(0, 20), nextObservationMissing: new Uint8Array(5), terminated: new Uint8Array(5), truncated: new Uint8Array(5) }, { steps: 5, seed: 1, ...tiny });
    expectError(() => iql.update(), 'E_NAN_BATCH', rule);
  });
});

function paramsOf(l: DiscreteLearner): Buffer {
  return Buffer.from(l.policy().params.buffer);
}

describe('the discrete learners on the wasm engine (WasmMlp)', () => {
  it('CategoricalActor.step: the cross-entropy gradient equals the tfjs reference pass, and the update is the f32 Adam step', () => {
    const rng = new Rng(21);
    // K = 3 actions (padded to 4 inside the engine), 5 inputs, odd hidden widths
    const actor = new CategoricalActor(5, 3, [7, 6], 0.01, rng.fork('init'));
    const n = 9;
    const x = new Float32Array(n * 5).map(() => rng.normal());
    const actions = Int32Array.from({ length: n }, (_, i) => i % 3);
    const w = Array.from({ length: n }, (_, i) => 0.5 + i / 4);
    const before = Float32Array.from(actor.params);
    const loss = actor.step(x, actions, w, 0.01);
    // reference: forward and backward on tfjs with the pre-step weights
    const refGrad = new Float32Array(before.length);
    const refLoss = tf.tidy(() => {
      const net = uploadMlp(actor.spec, before);
      const cache = forwardTf(net, tf.tensor2d(x, [n, 5]));
      const r = softmaxCrossEntropyLoss(cache.out.dataSync() as Float32Array, actions, 3, w);
      backwardTf(net, cache, tf.tensor2d(r.grad, [n, 3]), refGrad);
      return r.loss;
    });
    expect(loss).toBeCloseTo(refLoss, 5);
    let scale = 0;
    for (const g of refGrad) scale = Math.max(scale, Math.abs(g));
    expect(scale).toBeGreaterThan(1e-3);
    for (let i = 0; i < refGrad.length; i++) expect(Math.abs(actor.grad[i]! - refGrad[i]!)).toBeLessThan(1e-5 * scale + 1e-7);
    // the parameters moved by exactly one f32 Adam step on the engine's gradient
    const expected = Float32Array.from(before);
    adamStepF32Js(expected, actor.grad, { step: 0, m: new Float32Array(before.length), v: new Float32Array(before.length) }, 0.01);
    expect(Buffer.from(actor.params.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
  });
  it('DiscreteIqlLearner.qValues (wasm inference, K outputs) agrees with the plain JS forward pass', () => {
    const l = new DiscreteIqlLearner(cartMedium, { steps: 10, seed: 3, ...tiny });
    for (let i = 0; i < 3; i++) l.update();
    const n = 7;
    const obs = cartMedium.observations.subarray(0, n * 4);
    const q = l.qValues(obs, n);
    const z = new Float32Array(n * 4);
    for (let i = 0; i < z.length; i++) z[i] = (obs[i]! - l.stats.mean[i % 4]!) / l.stats.std[i % 4]!;
    const ref = forwardJs(l.qSpec, l.q[0]!.params, z, n);
    expect(q.length).toBe(n * 2);
    for (let i = 0; i < q.length; i++) expect(q[i]).toBeCloseTo(ref[i]!, 5);
  });
});

describe('determinism and the learner contract', () => {
  it.each([['bc'], ['iql'], ['riql'], ['rcbc']])('%s: same seed -> same bytes; another seed differs', async (algo) => {
    const run = async (seed: number): Promise<Buffer> => Buffer.from((await trainDiscrete(algo, cartMedium, { steps: 15, seed, ...tiny })).policy.params.buffer);
    const a = await run(4);
    expect(a.equals(await run(4))).toBe(true);
    expect(a.equals(await run(5))).toBe(false);
  });
  it.each([['bc'], ['iql'], ['riql'], ['rcbc']])('%s: a learner given another one\'s state (through a checkpoint on disk) continues with identical updates', async (algo) => {
    const opts = { steps: 20, seed: 6, ...tiny };
    const a = createDiscreteLearner(algo, cartMedium, opts);
    for (let i = 0; i < 6; i++) a.update();
    const state = a.getState();
    expect(state.algo).toBe(`${algo}-discrete`);
    expect(state.step).toBe(6);
    const ckpt = await writeCheckpoint(join(dir, `ckpt-${algo}`), state);
    const b = createDiscreteLearner(algo, cartMedium, opts);
    const control = createDiscreteLearner(algo, cartMedium, opts);
    b.setState((await readCheckpoint(ckpt)).state);
    expect(b.step).toBe(6);
    const la: Record<string, number>[] = [];
    const lb: Record<string, number>[] = [];
    for (let i = 0; i < 5; i++) {
      la.push(a.update());
      lb.push(b.update());
      control.update();
    }
    expect(lb).toEqual(la);
    expect(paramsOf(b).equals(paramsOf(a))).toBe(true);
    expect(paramsOf(control).equals(paramsOf(a))).toBe(false);
  });
  it('setState refuses another algorithm or other options', () => {
    const hint = ' Resume with the same algorithm, dataset and options as the run that wrote the checkpoint, or start over with --force.';
    const iql = new DiscreteIqlLearner(cartMedium, { steps: 10, seed: 1, ...tiny });
    const bc = new DiscreteBcLearner(cartMedium, { steps: 10, seed: 1, ...tiny });
    expectError(() => bc.setState(iql.getState()), 'E_CHECKPOINT', 'The checkpoint was written by a iql-discrete learner, not bc-discrete.' + hint);
    const wide = new DiscreteIqlLearner(cartMedium, { steps: 10, seed: 1, ...tiny, hidden: [32, 32] });
    expectError(() => wide.setState(iql.getState()), 'E_CHECKPOINT', 'The iql-discrete checkpoint was written with other options (hidden: [16,16] in the checkpoint, [32,32] now).' + hint);
    const riql = new DiscreteIqlLearner(cartMedium, { steps: 10, seed: 1, ...tiny }, 'riql');
    expect(riql.q.length).toBe(5);
    expect(riql.cfg).toMatchObject({ ensembleSize: 5, quantile: 0.25, huberDelta: 1, tdClip: [-100, 1000], normalizeWithNext: true });
    expect(Object.keys(riql.getState().buffers).filter((k) => k.endsWith('.target'))).toEqual(['q0.target', 'q1.target', 'q2.target', 'q3.target', 'q4.target']);
  });
});

describe('learning CartPole (2 x 64 networks, a few thousand updates)', () => {
  it('every discrete learner trained on medium data clearly beats the random policy (normalized score 0)', async () => {
    const scores: Record<string, number> = {};
    for (const algo of ['bc', 'iql', 'riql', 'rcbc']) {
      const { policy } = await trainDiscrete(algo, cartMedium, { steps: 1000, seed: 0, hidden: [64, 64], batchSize: 64, lr: 1e-3 });
      scores[algo] = evaluateInEnv(policy, 'cartpole', 10, 0).normalizedScore!;
    }
    // the uniformly random policy, sampled: its normalized score is about 0 by definition of the reference scores
    const random = rolloutPolicy({ numActions: 2, actionProbs: (_o, n) => new Float64Array(2 * n).fill(0.5) }, 'cartpole', { episodes: 20, seed: 0, stochastic: true });
    expect(Math.abs(random.normalizedScore!)).toBeLessThan(5);
    console.log(`CartPole medium, normalized: random ${random.normalizedScore!.toFixed(1)}, ${Object.entries(scores).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
    for (const s of Object.values(scores)) expect(s).toBeGreaterThan(60);
  }, 60_000);
  it('on uniformly random data IQL improves on the data (it learns values), BC only clones it', async () => {
    const small = { seed: 0, hidden: [64, 64], batchSize: 64, lr: 1e-3, steps: 2000 };
    const iql = (await trainDiscrete('iql', cartRandom, small)).policy;
    const bc = (await trainDiscrete('bc', cartRandom, { ...small, steps: 500 })).policy;
    const iqlScore = evaluateInEnv(iql, 'cartpole', 10, 0).normalizedScore!;
    const bcScore = evaluateInEnv(bc, 'cartpole', 10, 0).normalizedScore!;
    console.log(`CartPole random data, normalized: iql ${iqlScore.toFixed(1)}, bc ${bcScore.toFixed(1)}`);
    expect(iqlScore).toBeGreaterThan(25);
    expect(bcScore).toBeLessThan(10);
  }, 60_000);
});
