/**
 * The Poisson bootstrap where the log lives in ClickHouse, against the two-shard
 * cluster of scripts/clickhouse-cluster.sh (CI's, or one started here): the same
 * bootstrap SQL on a Distributed table gives the DuckDB path's intervals to 1e-10
 * for every estimator and the logging value; each shard returns at most G bucket
 * rows, not its rows (system.query_log).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvaluationResult } from '../src/core/evaluation-result.js';
import { exportToClickhouse } from '../src/datasets/clickhouse-export.js';
import { openMemoryConnection, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { Workspace } from '../src/datasets/workspace.js';
import { ESTIMATOR_IDS } from '../src/ope/estimators/index.js';
import { evaluate } from '../src/ope/evaluate.js';
import { evaluateClickhouse } from '../src/ope/evaluate-clickhouse.js';
import { expectNear, storeFastLog } from './ope-fastpath-helpers.js';
import { chSql, CLICKHOUSE_TESTS, createDistributed, sharedCluster, type TestCluster } from './support/clickhouse-cluster.js';

let dir: string;
let ws: Workspace;
let conn: DuckDBConnection;
let cluster: TestCluster;
const db = `offpolicy_pb${process.pid}_${Date.now() % 100000}`;
const url = (table: string): string => `clickhouse://${cluster.http1}/${db}.${table}`;

beforeAll(async () => {
  if (!CLICKHOUSE_TESTS) return;
  cluster = sharedCluster();
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-pb-ch-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  conn = await openMemoryConnection();
  for (const host of [cluster.http1, cluster.http2]) await chSql(host, `CREATE DATABASE ${db}`);
  await storeFastLog(ws, conn, 'fast', { n: 3000, k: 4, seed: 11 });
  await exportToClickhouse(ws, 'fast', url('fast'));
  // Even row_ids on shard 1, odd on shard 2, and a Distributed table over both.
  await chSql(cluster.http1, `CREATE TABLE ${db}.fast_part AS ${db}.fast`);
  await chSql(cluster.http1, `INSERT INTO ${db}.fast_part SELECT * FROM ${db}.fast WHERE row_id % 2 = 0`);
  createDistributed(cluster, `${db}.fast_part`, `${db}.fast_dist`);
  await chSql(cluster.http2, `INSERT INTO ${db}.fast_part SELECT * FROM remote('${cluster.tcp1}', ${db}.fast) WHERE row_id % 2 = 1`);
}, 60_000);

afterAll(async () => {
  if (!CLICKHOUSE_TESTS) return;
  for (const host of [cluster.http1, cluster.http2]) await chSql(host, `DROP DATABASE IF EXISTS ${db}`).catch(() => {});
  conn?.closeSync();
  cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const intervals = (r: EvaluationResult): Map<string, { lower: number; upper: number; method: string }> =>
  new Map(r.candidates[0]!.estimates.map((e) => [e.estimator, e.interval! as { lower: number; upper: number; method: string }]));

describe.runIf(CLICKHOUSE_TESTS)('Poisson bootstrap on ClickHouse', () => {
  it('a Distributed table over two shards gives the DuckDB intervals to 1e-10 (all nine estimators, the logging value)', async () => {
    const common = { policies: [{ name: 'far', spec: 'column:far' }], rewardModel: 'columns:q', interval: 'poisson-bootstrap' as const, seed: 4, resamples: 300, bootstrapBuckets: 700 };
    const duck = await evaluate(ws, { ...common, data: 'fast' });
    for (const table of ['fast', 'fast_dist']) {
      const ch = await evaluateClickhouse({ ...common, source: url(table), settings: { prefer_localhost_replica: 0 } });
      const a = intervals(duck), b = intervals(ch);
      expect([...b.keys()].sort()).toEqual([...ESTIMATOR_IDS].sort());
      for (const [id, iv] of a) {
        expect(b.get(id)!.method).toBe('poisson-bootstrap');
        expectNear(b.get(id)!.lower, iv.lower, `${table} ${id} lower`);
        expectNear(b.get(id)!.upper, iv.upper, `${table} ${id} upper`);
      }
      expectNear(ch.logging.interval!.lower, duck.logging.interval!.lower, `${table} logging lower`);
      expectNear(ch.logging.interval!.upper, duck.logging.interval!.upper, `${table} logging upper`);
      expect(ch.settings).toMatchObject({ interval: 'poisson-bootstrap', bootstrapResamples: 300, bootstrapBuckets: 700 });
      expect(ch.seed).toBe(4);
    }
  });

  it('each shard returns at most G bucket rows, not its 1,500 rows (system.query_log)', async () => {
    await evaluateClickhouse({ source: url('fast_dist'), policies: [{ spec: 'column:far' }], estimators: ['ips', 'snips'], interval: 'poisson-bootstrap', seed: 1, resamples: 50, bootstrapBuckets: 64, settings: { prefer_localhost_replica: 0 } });
    for (const host of [cluster.http1, cluster.http2]) {
      // The query log is written asynchronously: flush, and on a busy machine ask again for a few seconds.
      let log: Record<string, string>[] = [];
      for (let attempt = 0; attempt < 20 && log.length === 0; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 500));
        await chSql(host, 'SYSTEM FLUSH LOGS');
        log = (
          await chSql(
            host,
            `SELECT read_rows, result_rows FROM system.query_log
             WHERE type = 2 AND is_initial_query = 0 AND query LIKE '%${db}.fast_part%' AND query LIKE '%GROUP BY g%' AND query LIKE '%toUInt64(64)%' AND query NOT LIKE '%system.query_log%'
             FORMAT JSONEachRow`,
          )
        )
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l) as Record<string, string>);
      }
      expect(log).toHaveLength(1);
      expect(Number(log[0]!.read_rows)).toBe(1500);
      expect(Number(log[0]!.result_rows)).toBeLessThanOrEqual(64);
    }
  });

  it('refuses the multinomial bootstrap on a ClickHouse source and names the Poisson one', async () => {
    await expect(evaluateClickhouse({ source: url('fast'), policies: [{ spec: 'column:far' }], interval: 'bootstrap' as 't' })).rejects.toMatchObject({ code: 'E_INTERVAL_METHOD', message: expect.stringContaining('Poisson bootstrap') });
  });
});
