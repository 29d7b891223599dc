/**
 * Faults and bad input of the ClickHouse source, each a coded error: an
 * unreachable server, a missing table or column, wrong types, bad rows, bad
 * credentials, a timeout and a cancellation (the query is killed on the server),
 * a shard down before and during a Distributed query (never a partial result),
 * and loads that fail or do not verify (never a half table under the target).
 * This file starts its own two-shard cluster: it stops one of its servers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OffpolicyError } from '../src/core/errors.js';
import { ClickhouseConnection, parseClickhouseUrl } from '../src/datasets/clickhouse.js';
import { exportToClickhouse } from '../src/datasets/clickhouse-export.js';
import { openMemoryConnection } from '../src/datasets/duckdb.js';
import { Workspace } from '../src/datasets/workspace.js';
import { evaluateClickhouse } from '../src/ope/evaluate-clickhouse.js';
import { chSql, CLICKHOUSE_TESTS, createDistributed, startCluster, type TestCluster } from './support/clickhouse-cluster.js';
import { expectError, expectRejects } from './support/expect-error.js';

let cluster: TestCluster;
let dir: string;
let ws: Workspace;
const db = 'faults';
const url = (t: string): string => `clickhouse://${cluster.http1}/${db}.${t}`;
const COLS = 'row_id Int64, action Int32, reward Float64, propensity Float64, cand Array(Float64)';

async function table(name: string, cols: string, rows: string): Promise<void> {
  await chSql(cluster.http1, `CREATE TABLE ${db}.${name} (${cols}) ENGINE = MergeTree ORDER BY row_id`);
  if (rows) await chSql(cluster.http1, `INSERT INTO ${db}.${name} VALUES ${rows}`);
}

/** n rows of a valid log (K = 2, propensity 0.5, candidate [0.3, 0.7]), with `patch` applied to row i. */
function rows(n: number, patch: (i: number) => string | null = () => null): string {
  return Array.from({ length: n }, (_, i) => patch(i) ?? `(${i}, ${i % 2}, ${i % 3 === 0 ? 1 : 0}, 0.5, [0.3, 0.7])`).join(', ');
}

async function running(queryId: string): Promise<number> {
  return Number((await chSql(cluster.http1, `SELECT count() FROM system.processes WHERE query_id = '${queryId}'`)).trim());
}

async function until(f: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The query_id of the running query whose text contains `marker`, once it runs. */
async function queryIdOf(marker: string): Promise<string> {
  let id = '';
  await until(async () => {
    id = (await chSql(cluster.http1, `SELECT query_id FROM system.processes WHERE query LIKE '%${marker}%' AND query NOT LIKE '%system.processes%'`)).trim();
    return id !== '';
  });
  return id;
}

beforeAll(async () => {
  if (!CLICKHOUSE_TESTS) return;
  cluster = startCluster();
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-chf-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  await chSql(cluster.http1, `CREATE DATABASE ${db}`);
  await chSql(cluster.http2, `CREATE DATABASE ${db}`);
}, 30_000);

afterAll(async () => {
  if (!CLICKHOUSE_TESTS) return;
  cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.runIf(CLICKHOUSE_TESTS)('ClickHouse source: bad input', () => {
  const ev = (t: string, extra: Record<string, unknown> = {}): Promise<unknown> => evaluateClickhouse({ source: url(t), policies: [{ spec: 'column:cand' }], ...extra });

  it('refuses malformed URLs and credentials in the URL (without echoing them)', () => {
    expectError(() => parseClickhouseUrl('clickhouse://127.0.0.1/db.t'), 'E_CLICKHOUSE_URL', /expected HOST:PORT/);
    expectError(() => parseClickhouseUrl('clickhouse://127.0.0.1:8123/t'), 'E_CLICKHOUSE_URL', /DB\.TABLE/);
    try {
      parseClickhouseUrl('clickhouse://me:hunter2@127.0.0.1:8123/db.t');
      throw new Error('accepted');
    } catch (e) {
      expect((e as OffpolicyError).code).toBe('E_CLICKHOUSE_URL');
      expect((e as Error).message).toMatch(/credentials are not taken from the URL/);
      expect((e as Error).message).not.toContain('hunter2');
    }
  });

  it('an unreachable server', async () => {
    // A port nothing listens on: the cluster's HTTP port with the server stopped is not needed, 1 is never open.
    await expectRejects(evaluateClickhouse({ source: 'clickhouse://127.0.0.1:1/db.t', policies: [{ spec: 'column:cand' }] }), 'E_CLICKHOUSE_UNREACHABLE', /Cannot reach the ClickHouse server of clickhouse:\/\/127\.0\.0\.1:1\/db\.t/);
  });

  it('a missing table or database', async () => {
    await expectRejects(ev('nope'), 'E_CLICKHOUSE_TABLE', /table faults\.nope does not exist/);
    await expectRejects(evaluateClickhouse({ source: `clickhouse://${cluster.http1}/nodb.t`, policies: [{ spec: 'column:cand' }] }), 'E_CLICKHOUSE_TABLE', /nodb\.t does not exist/);
  });

  it('missing columns and wrong types', async () => {
    await table('nop', 'row_id Int64, action Int32, reward Float64, cand Array(Float64)', '');
    await expectRejects(ev('nop'), 'E_MISSING_COLUMN', /has no column\(s\) propensity\. .*/);
    await table('strp', 'row_id Int64, action Int32, reward Float64, propensity String, cand Array(Float64)', '');
    await expectRejects(ev('strp'), 'E_COLUMN_TYPE', /Column propensity of .* has type String; a number type \(Float64\) is needed\./);
    await table('floataction', 'row_id Int64, action Float64, reward Float64, propensity Float64, cand Array(Float64)', '');
    await expectRejects(ev('floataction'), 'E_COLUMN_TYPE', /Column action .* has type Float64; an integer type is needed/);
    await table('ok1', COLS, rows(10));
    await expectRejects(ev('ok1', { policies: [{ spec: 'column:other' }] }), 'E_MISSING_COLUMN', /has no column other/);
    await expectRejects(ev('ok1', { estimators: ['dr'] }), 'E_REWARD_MODEL_REQUIRED', /dr need reward predictions/);
    await expectRejects(ev('ok1', { interval: 'bootstrap' }), 'E_INTERVAL_METHOD', /The bootstrap interval needs the rows in memory/);
    await expectRejects(ev('ok1', { interval: 'nonsense' }), 'E_INTERVAL_METHOD', /Unknown interval method "nonsense"/);
  });

  it('bad rows: the rule, the count and the first row_ids', async () => {
    await table('badp', COLS, rows(20, (i) => (i === 3 || i === 7 ? `(${i}, 0, 1, 0, [0.3, 0.7])` : null)));
    await expectRejects(ev('badp'), 'E_PROPENSITY_RANGE', /propensity in \(0, 1\].*2 rows.*3, 7/s);
    await table('bada', COLS, rows(20, (i) => (i === 5 ? `(${i}, 2, 1, 0.5, [0.3, 0.7])` : null)));
    await expectRejects(ev('bada', { numActions: 2 }), 'E_ACTION_RANGE', /action is an integer in 0\.\.1.*1 row.*5/s);
    await table('badc', COLS, rows(20, (i) => (i === 11 ? `(${i}, 0, 1, 0.5, [0.3, 0.6])` : null)));
    await expectRejects(ev('badc'), 'E_POLICY_PROBS', /sum to 1.*1 row.*11/s);
    await table('widec', COLS, rows(20, (i) => (i === 2 ? `(${i}, 0, 1, 0.5, [0.3, 0.3, 0.4])` : null)));
    await expectRejects(ev('widec'), 'E_ACTION_SPACE', /K = 2 probabilities per row.*1 row.*2/s);
    await table('nanr', COLS, rows(20, (i) => (i === 9 ? `(${i}, 0, nan, 0.5, [0.3, 0.7])` : null)));
    await expectRejects(ev('nanr'), 'E_NON_FINITE', /reward is finite.*9/s);
  });

  it('credentials from the environment: a wrong password fails without showing it', async () => {
    await table('auth', COLS, rows(10));
    process.env.OFFPOLICY_CLICKHOUSE_USER = cluster.user;
    process.env.OFFPOLICY_CLICKHOUSE_PASSWORD = 'not-the-password-xyz';
    try {
      const e = await ev('auth').then(() => null, (x: unknown) => x);
      expect((e as OffpolicyError).code).toBe('E_CLICKHOUSE_AUTH');
      expect((e as Error).message).not.toContain('not-the-password-xyz');
      process.env.OFFPOLICY_CLICKHOUSE_PASSWORD = cluster.password;
      const r = (await ev('auth')) as { dataset: { rowCount: number } };
      expect(r.dataset.rowCount).toBe(10);
    } finally {
      delete process.env.OFFPOLICY_CLICKHOUSE_USER;
      delete process.env.OFFPOLICY_CLICKHOUSE_PASSWORD;
    }
  });
});

describe.runIf(CLICKHOUSE_TESTS)('ClickHouse source: timeouts, cancellation, shards down', () => {
  const slow = (marker: string): string => `SELECT count() AS c FROM numbers(100000000000) WHERE NOT ignore(sipHash64(number, '${marker}'))`;

  it('a timeout kills the query on the server', async () => {
    const conn = ClickhouseConnection.open(parseClickhouseUrl(url('x')));
    try {
      const t0 = Date.now();
      await expectRejects(conn.query(slow('timeout-marker'), { timeoutMs: 400 }), 'E_CLICKHOUSE_TIMEOUT', /no answer within 400 ms; the query \(offpolicy-[0-9a-f-]+\) was killed/);
      expect(Date.now() - t0).toBeLessThan(10_000);
      const left = (await chSql(cluster.http1, `SELECT count() FROM system.processes WHERE query LIKE '%timeout-marker%' AND query NOT LIKE '%system.processes%'`)).trim();
      expect(left).toBe('0');
    } finally {
      await conn.close();
    }
  });

  it('an aborted signal cancels and kills the query', async () => {
    const conn = ClickhouseConnection.open(parseClickhouseUrl(url('x')));
    try {
      const ac = new AbortController();
      const p = conn.query(slow('cancel-marker'), { signal: ac.signal });
      const id = await queryIdOf('cancel-marker');
      ac.abort();
      await expectRejects(p, 'E_CANCELLED', /cancelled; the query \(offpolicy-[0-9a-f-]+\) was killed/);
      expect(await running(id)).toBe(0);
      await expectRejects(conn.query('SELECT 1', { signal: ac.signal }), 'E_CANCELLED', /cancelled before it started/);
    } finally {
      await conn.close();
    }
  });

  it('a shard down during and before a Distributed query: an error, never a partial result', async () => {
    await table('part', COLS, rows(400));
    createDistributed(cluster, `${db}.part`, `${db}.dist`);
    await chSql(cluster.http2, `INSERT INTO ${db}.part VALUES ${rows(400).replace(/\((\d+),/g, (_m, i: string) => `(${Number(i) + 1000},`)}`);
    const whole = (await evaluateClickhouse({ source: url('dist'), policies: [{ spec: 'column:cand' }], interval: 't' })) as { dataset: { rowCount: number } };
    expect(whole.dataset.rowCount).toBe(800);
    const conn = ClickhouseConnection.open(parseClickhouseUrl(url('dist')));
    try {
      // Each shard sleeps ~2 ms a row; shard 2 is stopped while the query runs.
      const p = conn.query(`SELECT sum(sleepEachRow(0.002)) AS s, count() AS n FROM ${db}.dist`);
      await queryIdOf(`${db}.dist`);
      process.kill(cluster.pid2, 'SIGKILL');
      const e = await p.then((r) => r, (x: unknown) => x);
      expect(e).toBeInstanceOf(OffpolicyError);
      expect((e as OffpolicyError).code).toBe('E_CLICKHOUSE_SHARD');
    } finally {
      await conn.close();
    }
    await expectRejects(evaluateClickhouse({ source: url('dist'), policies: [{ spec: 'column:cand' }], interval: 't' }), 'E_CLICKHOUSE_SHARD', /a shard did not answer, so no result is reported/);
  }, 30_000);
});

describe.runIf(CLICKHOUSE_TESTS)('datasets export --to clickhouse://: never a half table', () => {
  beforeAll(async () => {
    const conn = await openMemoryConnection();
    try {
      await ws.createVersion({
        name: 'small',
        conn,
        select: `SELECT i::BIGINT AS row_id, (i % 3)::INTEGER AS action, (i % 2)::DOUBLE AS reward, 0.25::DOUBLE AS propensity, [0.5, 0.25, 0.25]::DOUBLE[] AS action_probs FROM range(60000) t(i)`,
        metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: 3 }, lineage: { transform: 'test', params: {} } },
      });
    } finally {
      conn.closeSync();
    }
  });
  const loadTables = async (): Promise<string> => (await chSql(cluster.http1, `SELECT name FROM system.tables WHERE database = '${db}' AND name LIKE '%offpolicy_load%'`)).trim();

  it('a load that fails midway leaves neither the target nor its temporary table', async () => {
    const boom = async (batch: number): Promise<void> => {
      if (batch === 1) throw new OffpolicyError('E_TEST_BOOM', 'the connection dropped');
    };
    await expectRejects(exportToClickhouse(ws, 'small', url('halfload'), { afterBatch: boom }), 'E_TEST_BOOM', 'the connection dropped');
    expect((await chSql(cluster.http1, `EXISTS TABLE ${db}.halfload`)).trim()).toBe('0');
    expect(await loadTables()).toBe('');
  });

  it('a load that does not verify is dropped and retried into a fresh table', async () => {
    // The first attempt gets a stray duplicate row (as a half-failed INSERT ... SELECT leaves on 18.16).
    let first = true;
    const stray = async (batch: number, tmp: string): Promise<void> => {
      if (first && batch === 0) {
        first = false;
        await chSql(cluster.http1, `INSERT INTO ${tmp} SELECT * FROM ${tmp} LIMIT 1`);
      }
    };
    const r = await exportToClickhouse(ws, 'small', url('retried'), { afterBatch: stray });
    expect(r.attempts).toBe(2);
    expect(r.rows).toBe(60000);
    expect((await chSql(cluster.http1, `SELECT count(), sum(row_id) FROM ${db}.retried`)).trim()).toBe(`60000\t${(59999 * 60000) / 2}`);
    expect(await loadTables()).toBe('');
  });

  it('refuses an existing target', async () => {
    await table('taken', COLS, '');
    await expectRejects(exportToClickhouse(ws, 'small', url('taken')), 'E_CLICKHOUSE_TABLE_EXISTS', /already exists; export loads into a new table/);
  });
});
