import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMemoryConnection, queryOne, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { Workspace, type DatasetVersion } from '../src/datasets/workspace.js';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { corruptTrajectories, parseFields, RANDOM_REWARD_RANGE } from '../src/corruption/trajectories.js';
import { generateTrajectories, loadTrajectoryTable } from '../src/envs/trajectories.js';
import { OffpolicyError } from '../src/core/errors.js';
import { arraysOf, cartpoleDataset, dirHashes, noNextDataset, nullNextDataset, pendulumDataset, scan, stdPerDim } from './corruption-helpers.js';

let dir: string;
let ws: Workspace;
let conn: DuckDBConnection;
let pend: DatasetVersion;
let parentHashes: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-corrupt-'));
  ws = await Workspace.open(dir);
  pend = await pendulumDataset(ws);
  parentHashes = await dirHashes(pend.dir);
  conn = await openMemoryConnection();
});
afterAll(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

async function expectError(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OffpolicyError);
  expect((e as OffpolicyError).code).toBe(code);
  expect((e as OffpolicyError).message).toMatch(message);
}

describe('random corruption of every field', () => {
  let child: DatasetVersion;
  const rate = 0.3;
  const eps = 0.5;
  beforeAll(async () => {
    child = (await corruptTrajectories(ws, { data: 'pend@1', fields: 'all', mode: 'random', rate, scale: eps, seed: 7, name: 'pend-all' })).version;
  });

  it('writes a new version with lineage and the corrupted column', () => {
    expect(child.ref).toBe('pend-all@1');
    expect(child.metadata.lineage.parent).toBe('pend@1');
    expect(child.metadata.lineage.transform).toBe('corrupt');
    expect(child.metadata.lineage.seed).toBe(7);
    expect(child.metadata.lineage.params).toMatchObject({ fields: ['obs', 'action', 'reward', 'next_obs'], mode: 'random', rate, scale: eps, trajectoryConsistent: false });
    expect(child.metadata.columns.map((c) => c.name)).toEqual([...pend.metadata.columns.map((c) => c.name), 'corrupted']);
    expect(child.metadata.columns.at(-1)!.type).toBe('SMALLINT');
    expect(child.metadata.rowCount).toBe(pend.metadata.rowCount);
  });

  it('corrupts exactly round(rate * n) rows per field', async () => {
    const n = pend.metadata.rowCount;
    const r = await queryOne(
      conn,
      `SELECT sum((corrupted & 1 <> 0)::INT) AS o, sum((corrupted & 2 <> 0)::INT) AS a, sum((corrupted & 4 <> 0)::INT) AS r, sum((corrupted & 8 <> 0)::INT) AS s,
        sum((corrupted & 1 <> 0 AND corrupted & 4 <> 0)::INT) AS o_and_r FROM ${scan(child)}`,
    );
    const k = Math.round(rate * n);
    expect([Number(r.o), Number(r.a), Number(r.r), Number(r.s)]).toEqual([k, k, k, k]);
    // Independent subsets: overlap is hypergeometric with mean k^2 / n.
    const mean = (k * k) / n;
    const sd = Math.sqrt(mean * (1 - k / n) * (1 - k / n));
    expect(Math.abs(Number(r.o_and_r) - mean)).toBeLessThan(4 * sd);
  });

  it('keeps perturbations within +-eps * std and rewards within +-eps * 30', async () => {
    const p = await arraysOf(pend);
    const c = await arraysOf(child);
    const stdObs = stdPerDim(p.observations, p.n, p.obsDim);
    const stdNext = stdPerDim(p.nextObservations!, p.n, p.obsDim);
    const stdAct = stdPerDim(p.actions as Float32Array, p.n, p.actDim);
    let maxRatio = 0;
    let moved = 0;
    const check = (a: Float32Array, b: Float32Array, i: number, d: number, std: number[]): void => {
      for (let j = 0; j < d; j++) {
        const diff = Math.abs(a[i * d + j]! - b[i * d + j]!);
        if (diff > 0) moved++;
        // float32 storage: allow one ulp of the value on top of the bound
        expect(diff).toBeLessThanOrEqual(eps * std[j]! + Math.abs(b[i * d + j]!) * 2 ** -23 + 1e-7);
        maxRatio = Math.max(maxRatio, diff / (eps * std[j]!));
      }
    };
    for (let i = 0; i < p.n; i++) {
      const bits = c.corrupted![i]!;
      if (bits & 1) check(c.observations, p.observations, i, p.obsDim, stdObs);
      if (bits & 8) check(c.nextObservations!, p.nextObservations!, i, p.obsDim, stdNext);
      if (bits & 2) check(c.actions as Float32Array, p.actions as Float32Array, i, p.actDim, stdAct);
      if (bits & 4) {
        expect(Math.abs(c.rewards[i]!)).toBeLessThanOrEqual(eps * RANDOM_REWARD_RANGE);
        expect(c.rewards[i]).not.toBe(p.rewards[i]);
      }
    }
    expect(moved).toBeGreaterThan(0.9 * 4 * 0.3 * p.n); // nearly every selected value really moved
    expect(maxRatio).toBeGreaterThan(0.9); // perturbations span the range (uniform on +-eps * std)
  });

  it('leaves unchanged rows and unchanged fields byte-identical to the parent', async () => {
    const r = await queryOne(
      conn,
      `SELECT count(*) AS n,
        sum((c.corrupted & 1 = 0 AND c.observation IS DISTINCT FROM p.observation)::INT) AS obs,
        sum((c.corrupted & 2 = 0 AND c.action IS DISTINCT FROM p.action)::INT) AS act,
        sum((c.corrupted & 4 = 0 AND c.reward IS DISTINCT FROM p.reward)::INT) AS rew,
        sum((c.corrupted & 8 = 0 AND c.next_observation IS DISTINCT FROM p.next_observation)::INT) AS nxt,
        sum((c.terminated IS DISTINCT FROM p.terminated OR c.truncated IS DISTINCT FROM p.truncated OR c.behavior_logprob IS DISTINCT FROM p.behavior_logprob)::INT) AS other,
        sum((c.corrupted = 0)::INT) AS clean,
        sum((c.corrupted & 1 <> 0 AND c.observation = p.observation)::INT) AS obs_same
       FROM ${scan(child)} c JOIN ${scan(pend)} p USING (episode_id, step)`,
    );
    expect(Number(r.n)).toBe(pend.metadata.rowCount);
    expect([Number(r.obs), Number(r.act), Number(r.rew), Number(r.nxt), Number(r.other)]).toEqual([0, 0, 0, 0, 0]);
    expect(Number(r.clean)).toBeGreaterThan(0);
    expect(Number(r.obs_same)).toBe(0);
  });

  it('never touches the parent version', async () => {
    expect(await dirHashes(pend.dir)).toEqual(parentHashes);
    expect((await ws.resolve('pend@1')).metadata.contentHash).toBe(pend.metadata.contentHash);
  });

  it('gives the same content hash for the same seed, another for another seed', async () => {
    const again = await corruptTrajectories(ws, { data: 'pend@1', fields: ['obs', 'action', 'reward', 'next_obs'], mode: 'random', rate, scale: eps, seed: 7, name: 'pend-all' });
    expect(again.version.ref).toBe('pend-all@2');
    expect(again.version.metadata.contentHash).toBe(child.metadata.contentHash);
    const other = await corruptTrajectories(ws, { data: 'pend@1', fields: 'all', mode: 'random', rate, scale: eps, seed: 8, name: 'pend-all' });
    expect(other.version.metadata.contentHash).not.toBe(child.metadata.contentHash);
  });
});

describe('field subsets and bit accumulation', () => {
  it("a field's subset does not depend on the other fields corrupted with it", async () => {
    const alone = (await corruptTrajectories(ws, { data: 'pend@1', fields: ['reward'], mode: 'random', seed: 11, name: 'sub-a' })).version;
    const mixed = (await corruptTrajectories(ws, { data: 'pend@1', fields: ['obs,reward'], mode: 'random', seed: 11, name: 'sub-b' })).version;
    const r = await queryOne(
      conn,
      `SELECT sum((a.corrupted & 4 <> (b.corrupted & 4))::INT) AS diff, sum((a.reward IS DISTINCT FROM b.reward)::INT) AS rdiff, sum((b.corrupted & 1 <> 0)::INT) AS obs
       FROM ${scan(alone)} a JOIN ${scan(mixed)} b USING (episode_id, step)`,
    );
    expect(Number(r.diff)).toBe(0);
    expect(Number(r.rdiff)).toBe(0);
    expect(Number(r.obs)).toBe(Math.round(0.3 * pend.metadata.rowCount));
  });

  it('keeps the parent\'s bits when corrupting an already corrupted version (default name: NAME-corrupted)', async () => {
    const first = (await corruptTrajectories(ws, { data: 'pend@1', fields: ['obs'], mode: 'random', seed: 1, name: 'twice' })).version;
    const second = (await corruptTrajectories(ws, { data: 'twice', fields: ['reward'], mode: 'adversarial', scale: 2, seed: 2 })).version;
    expect(second.ref).toBe('twice-corrupted@1');
    expect(second.metadata.lineage.parent).toBe('twice@1');
    expect((await ws.resolve('twice')).ref).toBe('twice@1');
    const r = await queryOne(
      conn,
      `SELECT sum((b.corrupted <> (a.corrupted | (b.corrupted & 4)))::INT) AS lost, sum((a.corrupted & 1 <> 0)::INT) AS o1, sum((b.corrupted & 1 <> 0)::INT) AS o2,
        sum((b.corrupted = 5)::INT) AS both, sum((b.corrupted & 4 <> 0 AND b.reward <> -2 * a.reward)::INT) AS badr,
        sum((b.corrupted & 4 = 0 AND b.reward IS DISTINCT FROM a.reward)::INT) AS changed
       FROM ${scan(first)} a JOIN ${scan(second)} b USING (episode_id, step)`,
    );
    expect(Number(r.lost)).toBe(0);
    expect(Number(r.o2)).toBe(Number(r.o1));
    expect(Number(r.both)).toBeGreaterThan(0);
    expect(Number(r.badr)).toBe(0); // adversarial reward: r <- -eps * r exactly
    expect(Number(r.changed)).toBe(0);
  });

  it('rate 0 changes nothing and rate 1 selects every row', async () => {
    const none = (await corruptTrajectories(ws, { data: 'pend@1', fields: ['obs'], mode: 'random', rate: 0, seed: 1, name: 'r0' })).version;
    const r0 = await queryOne(conn, `SELECT sum(corrupted) AS s FROM ${scan(none)}`);
    expect(Number(r0.s)).toBe(0);
    const all = (await corruptTrajectories(ws, { data: 'pend@1', fields: ['reward'], mode: 'random', rate: 1, seed: 1, name: 'r1' })).version;
    const r1 = await queryOne(conn, `SELECT min(corrupted) AS lo, max(corrupted) AS hi FROM ${scan(all)}`);
    expect([Number(r1.lo), Number(r1.hi)]).toEqual([4, 4]);
  });
});

describe('trajectory-consistent mode', () => {
  const invariantSql = (v: DatasetVersion): string =>
    `SELECT count(*) AS pairs, sum((a.next_observation <> b.observation)::INT) AS broken
     FROM ${scan(v)} a JOIN ${scan(v)} b ON a.episode_id = b.episode_id AND b.step = a.step + 1`;

  it("keeps s'_t == s_{t+1} and marks both rows, within +-eps * std", async () => {
    const before = await queryOne(conn, invariantSql(pend));
    expect(Number(before.broken)).toBe(0);
    const plain = (await corruptTrajectories(ws, { data: 'pend@1', fields: ['obs', 'next_obs'], mode: 'random', seed: 5, name: 'incons' })).version;
    expect(Number((await queryOne(conn, invariantSql(plain))).broken)).toBeGreaterThan(0);
    const res = await corruptTrajectories(ws, { data: 'pend@1', fields: ['obs', 'next_obs'], mode: 'random', seed: 5, trajectoryConsistent: true, name: 'cons' });
    const r = await queryOne(conn, invariantSql(res.version));
    expect(Number(r.pairs)).toBe(Number(before.pairs));
    expect(Number(r.broken)).toBe(0);
    // Propagation sets the partner row's bit: every changed pair is flagged on both rows.
    const flags = await queryOne(
      conn,
      `SELECT sum((a.corrupted & 8 <> 0 AND b.corrupted & 1 = 0)::INT) AS a_only, sum((b.corrupted & 1 <> 0 AND a.corrupted & 8 = 0)::INT) AS b_only
       FROM ${scan(res.version)} a JOIN ${scan(res.version)} b ON a.episode_id = b.episode_id AND b.step = a.step + 1`,
    );
    expect([Number(flags.a_only), Number(flags.b_only)]).toEqual([0, 0]);
    expect(res.changed.obs).toBeGreaterThan(res.selected.obs!);
    expect(res.version.metadata.lineage.params).toMatchObject({ trajectoryConsistent: true });
    // Magnitudes stay within the bound (observations of corrupted rows vs the parent's).
    const p = await arraysOf(pend);
    const c = await arraysOf(res.version);
    const std = stdPerDim(p.observations, p.n, p.obsDim);
    const stdNext = stdPerDim(p.nextObservations!, p.n, p.obsDim);
    for (let k = 0; k < p.n * p.obsDim; k++) {
      const j = k % p.obsDim;
      const bound = Math.max(std[j]!, stdNext[j]!) + Math.abs(p.observations[k]!) * 2 ** -23 + 1e-7;
      expect(Math.abs(c.observations[k]! - p.observations[k]!)).toBeLessThanOrEqual(bound);
    }
  });
});

describe('NULL next observations (D4RL-style last steps)', () => {
  it('chooses next_obs rows among the non-NULL ones and keeps the NULLs, also in consistent mode', async () => {
    const v = await nullNextDataset(ws);
    const base = await queryOne(conn, `SELECT count(*) AS n, sum((next_observation IS NULL)::INT) AS nulls FROM ${scan(v)}`);
    expect(Number(base.nulls)).toBe(3);
    const res = await corruptTrajectories(ws, { data: 'nullnext', fields: ['obs', 'next_obs'], mode: 'random', rate: 1, seed: 2, trajectoryConsistent: true });
    const r = await queryOne(
      conn,
      `SELECT sum((next_observation IS NULL)::INT) AS nulls, sum((corrupted & 8 <> 0)::INT) AS k, sum((corrupted & 8 <> 0 AND next_observation IS NULL)::INT) AS bad FROM ${scan(res.version)}`,
    );
    expect([Number(r.nulls), Number(r.k), Number(r.bad)]).toEqual([3, Number(base.n) - 3, 0]);
    expect(res.selected.next_obs).toBe(Number(base.n) - 3);
    const inv = await queryOne(conn, `SELECT sum((a.next_observation <> b.observation)::INT) AS broken FROM ${scan(res.version)} a JOIN ${scan(res.version)} b ON a.episode_id = b.episode_id AND b.step = a.step + 1`);
    expect(Number(inv.broken)).toBe(0);
  });
});

describe('discrete actions', () => {
  it('random action corruption draws a different valid action', async () => {
    const cart = await cartpoleDataset(ws);
    const child = (await corruptTrajectories(ws, { data: 'cart', fields: ['action'], mode: 'random', rate: 0.5, seed: 3 })).version;
    const r = await queryOne(
      conn,
      `SELECT sum((c.corrupted & 2 <> 0)::INT) AS k, sum((c.corrupted & 2 <> 0 AND c.action = p.action)::INT) AS same,
        sum((c.corrupted & 2 = 0 AND c.action <> p.action)::INT) AS moved, min(c.action) AS lo, max(c.action) AS hi
       FROM ${scan(child)} c JOIN ${scan(cart)} p USING (episode_id, step)`,
    );
    expect(Number(r.k)).toBe(Math.round(0.5 * cart.metadata.rowCount));
    expect([Number(r.same), Number(r.moved), Number(r.lo), Number(r.hi)]).toEqual([0, 0, 0, 1]);
  });
});

describe('bad parameters', () => {
  it('refuses to corrupt actions of a one-action space', async () => {
    const data = generateTrajectories({ env: 'cartpole', policy: 'random', steps: 50, seed: 1 });
    const c2 = await openMemoryConnection();
    const select = await loadTrajectoryTable(c2, 't', data);
    await ws.createVersion({ name: 'oneaction', conn: c2, select: `SELECT * REPLACE (0 AS action) FROM (${select})`, metadata: { kind: 'trajectory', actionSpace: { type: 'discrete', n: 1 }, observationSpace: data.observationSpace, lineage: { transform: 'test', params: {} } } });
    c2.closeSync();
    await expectError(corruptTrajectories(ws, { data: 'oneaction', fields: ['action'], mode: 'random', seed: 1 }), 'E_CORRUPTION_FIELD', /action space has 1 action, so actions cannot be corrupted\. Corrupt obs, reward or next_obs instead\./);
  });

  it('rejects a rate outside [0, 1]', async () => {
    for (const rate of [-0.1, 1.5, Number.NaN]) {
      await expectError(corruptTrajectories(ws, { data: 'pend', fields: ['obs'], mode: 'random', rate, seed: 1 }), 'E_CORRUPTION_RATE', /Corruption rate must lie in \[0, 1\], got .*--rate 0\.3/);
    }
  });

  it('rejects a scale <= 0', async () => {
    await expectError(corruptTrajectories(ws, { data: 'pend', fields: ['obs'], mode: 'random', scale: 0, seed: 1 }), 'E_CORRUPTION_SCALE', /scale must be a positive number, got 0/);
    await expectError(corruptTrajectories(ws, { data: 'pend', fields: ['obs'], mode: 'random', scale: -1, seed: 1 }), 'E_CORRUPTION_SCALE', /got -1/);
  });

  it('rejects an unknown field and lists the valid ones', async () => {
    await expectError(corruptTrajectories(ws, { data: 'pend', fields: ['obs,speed'], mode: 'random', seed: 1 }), 'E_CORRUPTION_FIELD', /Unknown field "speed"\. Valid fields: obs, action, reward, next_obs, all\./);
    expect(() => parseFields([])).toThrow(/No field to corrupt/);
  });

  it('rejects a field the dataset lacks', async () => {
    await noNextDataset(ws);
    await expectError(corruptTrajectories(ws, { data: 'nonext', fields: ['next_obs'], mode: 'random', seed: 1 }), 'E_FIELD_MISSING', /nonext@1 has no next_observation column.*obs, action, reward/);
    // 'all' means every field the dataset has
    const res = await corruptTrajectories(ws, { data: 'nonext', fields: 'all', mode: 'random', seed: 1 });
    expect(res.version.metadata.lineage.params).toMatchObject({ fields: ['obs', 'action', 'reward'] });
  });

  it('rejects adversarial corruption of observations without a critic', async () => {
    await expectError(corruptTrajectories(ws, { data: 'pend', fields: ['obs'], mode: 'adversarial', seed: 1 }), 'E_CRITIC_REQUIRED', /needs a critic.*--train-critic/);
  });

  it('rejects an unknown mode and a non-integer seed', async () => {
    await expectError(corruptTrajectories(ws, { data: 'pend', fields: ['obs'], mode: 'nasty' as 'random', seed: 1 }), 'E_CORRUPTION_MODE', /Unknown corruption mode "nasty"/);
    await expectError(corruptTrajectories(ws, { data: 'pend', fields: ['obs'], mode: 'random', seed: 1.5 }), 'E_CORRUPTION_SEED', /must be an integer, got 1\.5/);
  });

  it('rejects a bandit log', async () => {
    await writeBanditDataset(ws, 'logs', generateBanditLog({ n: 200, numActions: 3, contextDim: 2, reward: 'logistic', beta: -1, seed: 1 }));
    await expectError(corruptTrajectories(ws, { data: 'logs', fields: ['obs'], mode: 'random', seed: 1 }), 'E_DATASET_KIND', /logs@1 is a bandit log, not trajectory data\..*corrupt-log/);
  });
});
