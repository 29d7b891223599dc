import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMemoryConnection, queryOne, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { Workspace, type DatasetVersion } from '../src/datasets/workspace.js';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { loadBanditTable, writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { corruptBanditLog } from '../src/corruption/bandit.js';
import { OffpolicyError } from '../src/core/errors.js';
import { dirHashes, pendulumDataset, scan } from './corruption-helpers.js';

let dir: string;
let ws: Workspace;
let conn: DuckDBConnection;
let logs: DatasetVersion;
let hashes: Record<string, string>;
const N = 2000;
const K = 5;
const k = Math.round(0.3 * N);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-corrupt-log-'));
  ws = await Workspace.open(dir);
  logs = await writeBanditDataset(ws, 'logs', generateBanditLog({ n: N, numActions: K, contextDim: 3, reward: 'logistic', beta: 3, seed: 1 }));
  hashes = await dirHashes(logs.dir);
  conn = await openMemoryConnection();
});
afterAll(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

/** Rows where a column other than `except` differs between child and parent (joined on row_id). */
function othersDiffer(child: DatasetVersion, except: string[]): string {
  const cols = logs.metadata.columns.map((c) => c.name).filter((c) => c !== 'row_id' && !except.includes(c));
  return cols.map((c) => `(c."${c}" IS DISTINCT FROM p."${c}")`).join(' OR ');
}

async function expectError(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(OffpolicyError);
  expect((e as OffpolicyError).code).toBe(code);
  expect((e as OffpolicyError).message).toMatch(message);
}

describe('propensity corruption', () => {
  it('propensity-noise: exact count, log-normal factor of size eps, clipped into (0, 1], the rest untouched', async () => {
    const res = await corruptBanditLog(ws, { data: 'logs', kind: 'propensity-noise', scale: 0.5, seed: 3, name: 'pn' });
    expect(res.changed).toBe(k);
    const r = await queryOne(
      conn,
      `SELECT sum((c.corrupted = 1)::INT) AS k, sum((c.corrupted = 0 AND c.propensity IS DISTINCT FROM p.propensity)::INT) AS leak,
        sum((${othersDiffer(res.version, ['propensity', 'corrupted'])})::INT) AS other, min(c.propensity) AS lo, max(c.propensity) AS hi,
        avg(ln(c.propensity / p.propensity)) FILTER (WHERE c.corrupted = 1 AND c.propensity < 1) AS m,
        stddev_pop(ln(c.propensity / p.propensity)) FILTER (WHERE c.corrupted = 1 AND c.propensity < 1) AS s,
        sum((c.corrupted = 1 AND c.propensity = 1)::INT) AS clipped
       FROM ${scan(res.version)} c JOIN ${scan(logs)} p USING (row_id)`,
    );
    expect(Number(r.k)).toBe(k);
    expect([Number(r.leak), Number(r.other)]).toEqual([0, 0]);
    expect(Number(r.lo)).toBeGreaterThan(0);
    expect(Number(r.hi)).toBeLessThanOrEqual(1);
    expect(Math.abs(Number(r.m))).toBeLessThan(0.1); // ~ 4 sd of the mean of ~600 N(0, 0.25) draws (slightly truncated)
    expect(Number(r.s)).toBeGreaterThan(0.4);
    expect(Number(r.s)).toBeLessThan(0.55);
    expect(res.version.metadata.lineage).toMatchObject({ parent: 'logs@1', transform: 'corrupt-log', seed: 3, params: { kind: 'propensity-noise', rate: 0.3, scale: 0.5 } });
  });

  it('propensity-round: k decimals, floored at one step 10^-k, never 0', async () => {
    const res = await corruptBanditLog(ws, { data: 'logs', kind: 'propensity-round', rate: 1, decimals: 1, seed: 1, name: 'pr' });
    const r = await queryOne(
      conn,
      `SELECT sum((c.propensity <> greatest(round(p.propensity, 1), 0.1))::INT) AS bad, sum((p.propensity < 0.05)::INT) AS tiny, min(c.propensity) AS lo
       FROM ${scan(res.version)} c JOIN ${scan(logs)} p USING (row_id)`,
    );
    expect(Number(r.bad)).toBe(0);
    expect(Number(r.tiny)).toBeGreaterThan(0); // the floor was really exercised
    expect(Number(r.lo)).toBeCloseTo(0.1, 12);
  });

  it('misspecified-logger with action_probs: tempered logger pi0^(1/(1+eps)), renormalised, propensity of the logged action', async () => {
    const res = await corruptBanditLog(ws, { data: 'logs', kind: 'misspecified-logger', scale: 1, rate: 0.5, seed: 2, name: 'ml' });
    const r = await queryOne(
      conn,
      `WITH j AS (SELECT c.*, p.action_probs AS old, p.propensity AS oldp FROM ${scan(res.version)} c JOIN ${scan(logs)} p USING (row_id))
       SELECT sum((corrupted = 1)::INT) AS k,
         max(abs(list_sum(action_probs) - 1)) AS sumerr,
         max(abs(action_probs[action + 1] - propensity)) AS perr,
         max(abs(action_probs[1] - sqrt(old[1]) / list_sum(list_transform(old, x -> sqrt(x))))) FILTER (WHERE corrupted = 1) AS terr,
         sum((corrupted = 0 AND (action_probs IS DISTINCT FROM old OR propensity IS DISTINCT FROM oldp))::INT) AS leak,
         sum((corrupted = 1 AND propensity = oldp)::INT) AS same
       FROM j`,
    );
    expect(Number(r.k)).toBe(N / 2);
    expect(Number(r.sumerr)).toBeLessThan(1e-12);
    expect(Number(r.perr)).toBe(0);
    expect(Number(r.terr)).toBeLessThan(1e-12);
    expect([Number(r.leak), Number(r.same)]).toEqual([0, 0]);
  });

  it('misspecified-logger without action_probs: empirical action frequency', async () => {
    const c2 = await openMemoryConnection();
    const log = generateBanditLog({ n: 500, numActions: 3, contextDim: 2, reward: 'logistic', beta: 1, seed: 5 });
    const select = await loadBanditTable(c2, 'b', log);
    await ws.createVersion({ name: 'noprobs', conn: c2, select: `SELECT * EXCLUDE (action_probs) FROM (${select})`, metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: 3 }, lineage: { transform: 'test', params: {} } } });
    c2.closeSync();
    const res = await corruptBanditLog(ws, { data: 'noprobs', kind: 'misspecified-logger', rate: 1, seed: 1 });
    const r = await queryOne(
      conn,
      `WITH f AS (SELECT action, count(*) / 500 AS freq FROM ${scan(res.version)} GROUP BY action)
       SELECT max(abs(c.propensity - f.freq)) AS err, count(DISTINCT c.propensity) AS distinct_p FROM ${scan(res.version)} c JOIN f USING (action)`,
    );
    expect(Number(r.err)).toBeLessThan(1e-15);
    expect(Number(r.distinct_p)).toBe(3);
  });
});

describe('reward corruption', () => {
  it('reward-flip: 1 - r on exactly the chosen rows', async () => {
    const res = await corruptBanditLog(ws, { data: 'logs', kind: 'reward-flip', seed: 4, name: 'rf' });
    const r = await queryOne(
      conn,
      `SELECT sum((c.corrupted = 2)::INT) AS k, sum((c.corrupted = 2 AND c.reward <> 1 - p.reward)::INT) AS bad,
        sum((c.corrupted = 0 AND c.reward <> p.reward)::INT) AS leak FROM ${scan(res.version)} c JOIN ${scan(logs)} p USING (row_id)`,
    );
    expect([Number(r.k), Number(r.bad), Number(r.leak)]).toEqual([k, 0, 0]);
  });

  it('reward-noise: Gaussian with sd eps', async () => {
    const res = await corruptBanditLog(ws, { data: 'logs', kind: 'reward-noise', scale: 2, rate: 1, seed: 4, name: 'rn' });
    const r = await queryOne(conn, `SELECT avg(c.reward - p.reward) AS m, stddev_pop(c.reward - p.reward) AS s FROM ${scan(res.version)} c JOIN ${scan(logs)} p USING (row_id)`);
    expect(Math.abs(Number(r.m))).toBeLessThan((4 * 2) / Math.sqrt(N));
    expect(Math.abs(Number(r.s) - 2)).toBeLessThan(0.15);
  });

  it('drop-rewards: NULL rewards, declared nullable; a second drop only chooses among the remaining rewards', async () => {
    const res = await corruptBanditLog(ws, { data: 'logs', kind: 'drop-rewards', seed: 5, name: 'dr' });
    expect(res.version.metadata.rewardNullable).toBe(true);
    const r = await queryOne(conn, `SELECT sum((reward IS NULL)::INT) AS nulls, sum((reward IS NULL AND corrupted <> 2)::INT) AS bad FROM ${scan(res.version)}`);
    expect([Number(r.nulls), Number(r.bad)]).toEqual([k, 0]);
    const again = await corruptBanditLog(ws, { data: 'dr', kind: 'drop-rewards', rate: 0.5, seed: 6 });
    const r2 = await queryOne(conn, `SELECT sum((reward IS NULL)::INT) AS nulls FROM ${scan(again.version)}`);
    expect(Number(r2.nulls)).toBe(k + Math.round(0.5 * (N - k)));
  });

  it('refuses reward flips on non-binary rewards', async () => {
    await writeBanditDataset(ws, 'linear', generateBanditLog({ n: 100, numActions: 3, contextDim: 2, reward: 'linear', beta: 1, seed: 2 }));
    await expectError(corruptBanditLog(ws, { data: 'linear', kind: 'reward-flip', seed: 1 }), 'E_REWARD_NOT_BINARY', /need binary rewards, but 100 rows of linear@1 hold other values \(first row_ids: 0, 1, 2, 3, 4\)\..*reward-noise/);
  });
});

describe('duplicated rows', () => {
  it('appends copies with new row_ids after the max and bit 4', async () => {
    const res = await corruptBanditLog(ws, { data: 'logs', kind: 'duplicate-rows', rate: 0.1, seed: 8, name: 'dup' });
    const m = Math.round(0.1 * N);
    expect(res.version.metadata.rowCount).toBe(N + m);
    const r = await queryOne(
      conn,
      `SELECT count(*) AS n, min(row_id) AS lo, max(row_id) AS hi, count(DISTINCT row_id) AS ids FROM ${scan(res.version)} WHERE corrupted = 4`,
    );
    expect([Number(r.n), Number(r.lo), Number(r.hi), Number(r.ids)]).toEqual([m, N, N + m - 1, m]);
    const same = await queryOne(
      conn,
      `WITH d AS (SELECT * EXCLUDE (row_id, corrupted) FROM ${scan(res.version)} WHERE corrupted = 4),
            o AS (SELECT * EXCLUDE (row_id) FROM ${scan(logs)})
       SELECT (SELECT count(*) FROM (SELECT * FROM d EXCEPT ALL SELECT * FROM o)) AS unmatched`,
    );
    expect(Number(same.unmatched)).toBe(0);
    const orig = await queryOne(conn, `SELECT count(*) AS n FROM ${scan(res.version)} c JOIN ${scan(logs)} p USING (row_id) WHERE c.corrupted = 0 AND NOT (${othersDiffer(res.version, ['corrupted'])})`);
    expect(Number(orig.n)).toBe(N);
  });
});

describe('determinism, parent, bad parameters', () => {
  it('same seed -> same content hash; the parent is untouched', async () => {
    const a = await corruptBanditLog(ws, { data: 'logs@1', kind: 'propensity-noise', seed: 10, name: 'det' });
    const b = await corruptBanditLog(ws, { data: 'logs@1', kind: 'propensity-noise', seed: 10, name: 'det' });
    const c = await corruptBanditLog(ws, { data: 'logs@1', kind: 'propensity-noise', seed: 11, name: 'det' });
    expect(b.version.metadata.contentHash).toBe(a.version.metadata.contentHash);
    expect(c.version.metadata.contentHash).not.toBe(a.version.metadata.contentHash);
    // Without a name: a new dataset logs-corrupted, then new versions of it; logs@latest stays the clean log.
    const own = await corruptBanditLog(ws, { data: 'logs', kind: 'reward-noise', seed: 1 });
    expect(own.version.ref).toBe('logs-corrupted@1');
    const next = await corruptBanditLog(ws, { data: 'logs', kind: 'drop-rewards', seed: 1 });
    expect(next.version.ref).toBe('logs-corrupted@2');
    expect((await ws.resolve('logs')).ref).toBe('logs@1');
    expect(await dirHashes(logs.dir)).toEqual(hashes);
  });

  it('rejects bad parameters with clear errors', async () => {
    await expectError(corruptBanditLog(ws, { data: 'logs', kind: 'shuffle', seed: 1 }), 'E_CORRUPTION_KIND', /Unknown bandit-log corruption "shuffle"\. Valid kinds: propensity-noise, propensity-round, misspecified-logger, reward-flip, reward-noise, drop-rewards, duplicate-rows\./);
    await expectError(corruptBanditLog(ws, { data: 'logs', kind: 'reward-noise', rate: 2, seed: 1 }), 'E_CORRUPTION_RATE', /must lie in \[0, 1\], got 2/);
    await expectError(corruptBanditLog(ws, { data: 'logs', kind: 'reward-noise', scale: 0, seed: 1 }), 'E_CORRUPTION_SCALE', /positive number, got 0/);
    await expectError(corruptBanditLog(ws, { data: 'logs', kind: 'propensity-round', decimals: 0, seed: 1 }), 'E_CORRUPTION_PARAM', /1 to 15 decimals, got 0/);
    await pendulumDataset(ws, 'traj', 200);
    await expectError(corruptBanditLog(ws, { data: 'traj', kind: 'reward-noise', seed: 1 }), 'E_DATASET_KIND', /traj@1 is trajectory data, not a bandit log\..*offpolicy corrupt --field/);
  });

  it('rejects propensity corruption of a log without propensities', async () => {
    const c2 = await openMemoryConnection();
    const select = await loadBanditTable(c2, 'b', generateBanditLog({ n: 50, numActions: 3, contextDim: 2, reward: 'logistic', beta: 1, seed: 5 }));
    await ws.createVersion({ name: 'nop', conn: c2, select: `SELECT * EXCLUDE (propensity) FROM (${select})`, metadata: { kind: 'bandit', lineage: { transform: 'test', params: {} } } });
    c2.closeSync();
    await expectError(corruptBanditLog(ws, { data: 'nop', kind: 'propensity-noise', seed: 1 }), 'E_FIELD_MISSING', /nop@1 has no propensity column, so "propensity-noise" has nothing to corrupt\./);
  });
});
