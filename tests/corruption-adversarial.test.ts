import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/util/rng.js';
import { Workspace, type DatasetVersion } from '../src/datasets/workspace.js';
import { loadCritic, MlpCritic, saveCritic, trainFqeCritic } from '../src/corruption/critic.js';
import { actionInput } from '../src/models/q-network.js';
import { concatRows, forwardJs } from '../src/nn/mlp.js';
import { corruptTrajectories } from '../src/corruption/trajectories.js';
import { OffpolicyError } from '../src/core/errors.js';
import { arraysOf, cartpoleDataset, pendulumDataset, stdPerDim } from './corruption-helpers.js';

let dir: string;
let ws: Workspace;
let pend: DatasetVersion;
let critic: MlpCritic;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-adv-'));
  ws = await Workspace.open(dir);
  pend = await pendulumDataset(ws, 'pend', 1000, 4);
  critic = (await trainFqeCritic(await arraysOf(pend), { seed: 3, steps: 600 })).critic;
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function meanQ(c: MlpCritic, obs: Float32Array, act: Float32Array, rows: number[], od: number, ad: number): number {
  const o = new Float32Array(rows.length * od);
  const a = new Float32Array(rows.length * ad);
  rows.forEach((i, r) => {
    o.set(obs.subarray(i * od, (i + 1) * od), r * od);
    a.set(act.subarray(i * ad, (i + 1) * ad), r * ad);
  });
  return c.q(o, a, rows.length).reduce((s, v) => s + v, 0) / rows.length;
}

describe('FQE critic', () => {
  it('fits behaviour values: Q correlates with the reward and is negative on pendulum (rewards <= 0)', async () => {
    const d = await arraysOf(pend);
    const q = critic.q(d.observations, actionInput(d.actions, d.n), d.n);
    // pendulum rewards are minus the cost of the current state, so a fitted Q must track them
    let mq = 0, mr = 0;
    for (let i = 0; i < d.n; i++) { mq += q[i]! / d.n; mr += d.rewards[i]! / d.n; }
    let cov = 0, vq = 0, vr = 0;
    for (let i = 0; i < d.n; i++) { cov += (q[i]! - mq) * (d.rewards[i]! - mr); vq += (q[i]! - mq) ** 2; vr += (d.rewards[i]! - mr) ** 2; }
    expect(cov / Math.sqrt(vq * vr)).toBeGreaterThan(0.3);
    expect(mq).toBeLessThan(0); // pendulum rewards are <= 0
  });

  it('round-trips through JSON with identical Q values and gradients', async () => {
    const file = path.join(dir, 'critic.json');
    await saveCritic(critic, file);
    const back = await loadCritic(file);
    const obs = Float32Array.from([0.5, -0.2, 1.0, -1, 0.3, 0.1]);
    const act = Float32Array.from([0.4, -1.2]);
    expect(Array.from(back.q(obs, act, 2))).toEqual(Array.from(critic.q(obs, act, 2)));
    expect(Array.from(back.grad(obs, act, 2).obs)).toEqual(Array.from(critic.grad(obs, act, 2).obs));
    // a version-1 file (tfjs critics: weights per layer) loads to the same network
    const [l1, l2, l3] = critic.layers();
    const v1 = { ...critic.toJSON(), formatVersion: 1, hidden: 64, params: undefined, weights: { w1: Array.from(l1!.w), b1: Array.from(l1!.b), w2: Array.from(l2!.w), b2: Array.from(l2!.b), w3: Array.from(l3!.w), b3: Array.from(l3!.b) } };
    const file1 = path.join(dir, 'critic-v1.json');
    await writeFile(file1, JSON.stringify(v1));
    expect(Array.from((await loadCritic(file1)).q(obs, act, 2))).toEqual(Array.from(critic.q(obs, act, 2)));
  });

  it('gives input gradients equal to the backpropagation written out in JS, and close to finite differences', async () => {
    const rng = new Rng(5);
    const n = 50;
    const obs = Float32Array.from({ length: n * 3 }, () => rng.normal());
    const act = Float32Array.from({ length: n }, () => rng.range(-2, 2));
    const g = critic.grad(obs, act, n);
    // Q = w3 . relu(W2 relu(W1 x + b1) + b2) + b3 with x = [(s - mean) / std, a]: dQ/dx = W1 (m1 * (W2 (m2 * w3)))
    const [l1, l2, l3] = critic.layers();
    const h = critic.hidden[0]!;
    const x = critic.inputs(obs, act, n);
    for (let r = 0; r < n; r++) {
      const z1 = Array.from({ length: h }, (_, j) => l1!.b[j]! + [0, 1, 2, 3].reduce((s, i) => s + x[r * 4 + i]! * l1!.w[i * h + j]!, 0));
      const z2 = Array.from({ length: h }, (_, j) => l2!.b[j]! + z1.reduce((s, v, i) => s + Math.max(v, 0) * l2!.w[i * h + j]!, 0));
      const g2 = z2.map((v, j) => (v > 0 ? l3!.w[j]! : 0));
      const g1 = z1.map((v, i) => (v > 0 ? g2.reduce((s, gj, j) => s + gj * l2!.w[i * h + j]!, 0) : 0));
      const gx = [0, 1, 2, 3].map((i) => g1.reduce((s, gj, j) => s + gj * l1!.w[i * h + j]!, 0));
      for (let i = 0; i < 3; i++) expect(Math.abs(g.obs[r * 3 + i]! - gx[i]! / critic.obsStd[i]!)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(gx[i]!)));
      expect(Math.abs(g.act[r]! - gx[3]!)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(gx[3]!)));
    }
    // q is the network's forward pass on the standardized inputs
    const ref = forwardJs(critic.spec, critic.params, concatRows(critic.inputs(obs, act, n).filter((_, k) => k % 4 < 3), 3, act, 1, n), n);
    const q = critic.q(obs, act, n);
    for (let r = 0; r < n; r++) expect(Math.abs(q[r]! - ref[r]!)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(ref[r]!)));
    // and, away from ReLU kinks, a central difference agrees on average
    const hFd = 1e-3;
    let err = 0;
    let scale = 0;
    for (let k = 0; k < n * 3; k++) {
      const up = Float32Array.from(obs);
      const down = Float32Array.from(obs);
      up[k] = up[k]! + hFd;
      down[k] = down[k]! - hFd;
      const r = Math.floor(k / 3);
      const fd = (critic.q(up.subarray(r * 3, r * 3 + 3), act.subarray(r, r + 1), 1)[0]! - critic.q(down.subarray(r * 3, r * 3 + 3), act.subarray(r, r + 1), 1)[0]!) / (2 * hFd);
      err += Math.abs(fd - g.obs[k]!);
      scale += Math.abs(g.obs[k]!);
    }
    expect(err / scale).toBeLessThan(0.05);
  });

  it('is seeded: the same seed gives the same weights', async () => {
    const d = await arraysOf(pend);
    const a = (await trainFqeCritic(d, { seed: 9, steps: 30 })).critic;
    const b = (await trainFqeCritic(d, { seed: 9, steps: 30 })).critic;
    expect(a.toJSON().params).toEqual(b.toJSON().params);
  });

  it('rejects a malformed critic file', async () => {
    const file = path.join(dir, 'bad.json');
    await writeFile(file, JSON.stringify({ format: 'offpolicy-critic', formatVersion: 1, obsDim: 3, actDim: 1, hidden: 4, obsMean: [0, 0, 0], obsStd: [1, 1, 1], weights: { w1: [1, 2] } }));
    const e = await loadCritic(file).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OffpolicyError);
    expect((e as OffpolicyError).code).toBe('E_CRITIC_FORMAT');
    expect((e as OffpolicyError).message).toMatch(/bad\.json is not a valid critic: weights\.w1 must hold 16 finite numbers/);
  });
});

describe('adversarial corruption', () => {
  it('lowers the critic\'s mean Q more than random perturbations of the same rows and size, within +-eps * std', async () => {
    const eps = 0.5;
    const adv = await corruptTrajectories(ws, { data: 'pend', fields: ['obs', 'action'], mode: 'adversarial', rate: 0.3, scale: eps, seed: 21, critic, name: 'adv' });
    const rnd = await corruptTrajectories(ws, { data: 'pend', fields: ['obs', 'action'], mode: 'random', rate: 0.3, scale: eps, seed: 21, name: 'rnd' });
    const p = await arraysOf(pend);
    const a = await arraysOf(adv.version);
    const r = await arraysOf(rnd.version);
    expect(Array.from(a.corrupted!)).toEqual(Array.from(r.corrupted!)); // same rows in both modes
    const obsRows: number[] = [];
    const actRows: number[] = [];
    for (let i = 0; i < p.n; i++) {
      if (a.corrupted![i]! === 1) obsRows.push(i);
      if (a.corrupted![i]! === 2) actRows.push(i);
    }
    expect(obsRows.length).toBeGreaterThan(100);
    const pa = p.actions as Float32Array;
    // obs attacked with the logged action; action attacked with the logged observation
    const qClean = meanQ(critic, p.observations, pa, obsRows, 3, 1);
    const qRandom = meanQ(critic, r.observations, pa, obsRows, 3, 1);
    const qAdv = meanQ(critic, a.observations, pa, obsRows, 3, 1);
    expect(qAdv).toBeLessThan(qRandom - 0.05 * Math.abs(qClean));
    expect(qAdv).toBeLessThan(qClean);
    const qActRandom = meanQ(critic, p.observations, r.actions as Float32Array, actRows, 3, 1);
    const qActAdv = meanQ(critic, p.observations, a.actions as Float32Array, actRows, 3, 1);
    expect(qActAdv).toBeLessThan(qActRandom);
    const std = stdPerDim(p.observations, p.n, 3);
    const stdA = stdPerDim(pa, p.n, 1);
    for (let k = 0; k < p.n * 3; k++) {
      expect(Math.abs(a.observations[k]! - p.observations[k]!)).toBeLessThanOrEqual(eps * std[k % 3]! + Math.abs(p.observations[k]!) * 2 ** -23 + 1e-7);
    }
    for (let i = 0; i < p.n; i++) expect(Math.abs((a.actions as Float32Array)[i]! - pa[i]!)).toBeLessThanOrEqual(eps * stdA[0]! + 1e-6);
    expect(adv.version.metadata.lineage.params).toMatchObject({ mode: 'adversarial', attackSteps: 100, attackLearningRate: 0.005, critic: 'supplied' });
  }, 30_000);

  it('attacks next observations, and is deterministic for a given critic and seed', async () => {
    const one = await corruptTrajectories(ws, { data: 'pend', fields: ['next_obs'], mode: 'adversarial', rate: 0.2, seed: 4, critic, attackSteps: 30, name: 'advn' });
    const two = await corruptTrajectories(ws, { data: 'pend', fields: ['next_obs'], mode: 'adversarial', rate: 0.2, seed: 4, critic, attackSteps: 30, name: 'advn' });
    expect(two.version.metadata.contentHash).toBe(one.version.metadata.contentHash);
    expect(one.changed.next_obs).toBe(Math.round(0.2 * pend.metadata.rowCount));
  }, 30_000);

  it('trains its own critic with trainCritic and records it in the lineage', async () => {
    const res = await corruptTrajectories(ws, { data: 'pend', fields: ['obs'], mode: 'adversarial', rate: 0.1, seed: 5, trainCritic: { steps: 50 }, attackSteps: 10, name: 'selfcritic' });
    expect(res.trainedCritic).toBeInstanceOf(MlpCritic);
    expect(res.version.metadata.lineage.params).toMatchObject({ critic: { trained: { steps: 50, seed: 5, method: 'fitted-Q evaluation of the behaviour data' } } });
  }, 30_000);

  it('discrete actions: the adversarial action is argmin_a Q(s, a)', async () => {
    const cart = await cartpoleDataset(ws, 'cart', 400);
    const d = await arraysOf(cart);
    const qc = (await trainFqeCritic(d, { seed: 1, steps: 100 })).critic;
    const res = await corruptTrajectories(ws, { data: 'cart', fields: ['action'], mode: 'adversarial', rate: 0.5, seed: 2, critic: qc });
    const c = await arraysOf(res.version);
    let checked = 0;
    for (let i = 0; i < d.n; i++) {
      if (!(c.corrupted![i]! & 2)) continue;
      const o = d.observations.subarray(i * 4, i * 4 + 4);
      const q = qc.q(Float32Array.from([...o, ...o]), Float32Array.from([1, 0, 0, 1]), 2);
      expect(c.actions[i]).toBe(q[0]! <= q[1]! ? 0 : 1);
      checked++;
    }
    expect(checked).toBe(Math.round(0.5 * d.n));
  }, 30_000);

  it('rejects a critic of the wrong shape', async () => {
    const wrong = MlpCritic.init(5, 1, new Float32Array(5), new Float32Array(5).fill(1), 0, 8);
    const e = await corruptTrajectories(ws, { data: 'pend', fields: ['obs'], mode: 'adversarial', seed: 1, critic: wrong }).catch((x: unknown) => x);
    expect((e as OffpolicyError).code).toBe('E_CRITIC_SHAPE');
    expect((e as OffpolicyError).message).toMatch(/critic takes 5-dim observations and 1-dim actions, but pend@1 has 3 and 1/);
  });
});
