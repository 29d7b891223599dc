/**
 * Bandit evaluation where the log lives in ClickHouse, against real servers: the
 * two-shard cluster of scripts/clickhouse-cluster.sh (CI's, or one started
 * here). The same stored versions are exported to ClickHouse (a local table and
 * a Distributed table over the two shards), and evaluateClickhouse must give
 * the DuckDB / in-memory result to 1e-10: every estimator, t / Hoeffding /
 * Bernstein intervals, certificates, diagnostics, exact weight quantiles and
 * histogram, truth and accuracy. Shards must return partial sums, not rows
 * (system.query_log).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lit, openMemoryConnection, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { exportToClickhouse } from '../src/datasets/clickhouse-export.js';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { Workspace } from '../src/datasets/workspace.js';
import { corruptBanditLog } from '../src/corruption/bandit.js';
import { evaluate, type EvaluateOptions } from '../src/ope/evaluate.js';
import { evaluateClickhouse, type ClickhouseEvaluateOptions } from '../src/ope/evaluate-clickhouse.js';
import type { EvaluationResult } from '../src/core/evaluation-result.js';
import { Rng } from '../src/util/rng.js';
import { exactColumnQuantiles } from '../src/ope/bandit/backend-sql.js';
import { CLICKHOUSE } from '../src/ope/bandit/sql-dialect.js';
import { sortedQuantile } from '../src/ope/intervals/bootstrap.js';
import { runCli } from './support/run-cli.js';
import { chSql, CLICKHOUSE_TESTS, createDistributed, sharedCluster, type TestCluster } from './support/clickhouse-cluster.js';
import { differences } from './support/differences.js';

let dir: string;
let ws: Workspace;
let conn: DuckDBConnection;
let cluster: TestCluster;
const db = `offpolicy_t${process.pid}_${Date.now() % 100000}`;
const url = (table: string, host = (): string => cluster.http1): string => `clickhouse://${host()}/${db}.${table}`;

/** The result with what names the source (and the creation time) blanked, and Catoni's lambda checked loosely then blanked. */
function comparable(r: EvaluationResult): EvaluationResult {
  const x = JSON.parse(JSON.stringify(r)) as EvaluationResult;
  x.createdAt = '';
  x.dataset = { ...x.dataset, ref: '', name: '', version: 0, contentHash: '' };
  // How a stored version was made; a table has no such record.
  delete x.dataset.lineage;
  for (const c of x.candidates) {
    c.source = c.source.replace(/^json:(\w[\w-]*):.*$/, 'json:$1');
    for (const cert of c.certificates) if (cert.kind === 'catoni-clipped-ips') cert.params.lambda = 0;
    // Warnings name the dataset reference.
    for (const w of c.warnings) w.message = w.message.replaceAll(r.dataset.ref, 'REF');
  }
  return x;
}

const lambdas = (r: EvaluationResult): number[] => r.candidates.flatMap((c) => c.certificates.filter((x) => x.kind === 'catoni-clipped-ips').map((x) => x.params.lambda!));

/** evaluate() on the stored version and evaluateClickhouse() on each table: the same result to 1e-10. */
async function agree(opts: Omit<EvaluateOptions, 'data'> & { data: string }, tables: string[], extra: Partial<ClickhouseEvaluateOptions> = {}): Promise<EvaluationResult[]> {
  const want = await evaluate(ws, opts);
  const out: EvaluationResult[] = [];
  for (const t of tables) {
    const { data: _d, pushdown: _p, folds: _f, loadPolicyDir: _l, ...rest } = opts;
    const got = await evaluateClickhouse({ ...(rest as ClickhouseEvaluateOptions), interval: opts.interval as 't', source: url(t), ...extra });
    // Catoni's lambda is the argmin of a function flat at its minimum: a 1e-16 change in the risk moves it by ~1e-8 (the bound itself does not move).
    expect(differences(lambdas(got), lambdas(want), 1e-6)).toEqual([]);
    expect(differences(comparable(got), comparable(want), 1e-10)).toEqual([]);
    // The propensity quantiles are order statistics (interpolated as DuckDB does): equal to the last bit.
    expect(got.dataset.summary.propensityQ01).toBeTypeOf('number');
    expect([got.dataset.summary.propensityQ01, got.dataset.summary.propensityMedian]).toEqual([want.dataset.summary.propensityQ01, want.dataset.summary.propensityMedian]);
    out.push(got);
  }
  return out;
}

async function both(sql: string): Promise<void> {
  await chSql(cluster.http1, sql);
  await chSql(cluster.http2, sql);
}

/** DB.NAME_part on both shards (even row_ids on shard 1, odd on shard 2) and DB.NAME_dist over them. */
async function distribute(name: string): Promise<void> {
  await chSql(cluster.http1, `CREATE TABLE ${db}.${name}_part AS ${db}.${name}`);
  await chSql(cluster.http1, `INSERT INTO ${db}.${name}_part SELECT * FROM ${db}.${name} WHERE row_id % 2 = 0`);
  createDistributed(cluster, `${db}.${name}_part`, `${db}.${name}_dist`);
  await chSql(cluster.http2, `INSERT INTO ${db}.${name}_part SELECT * FROM remote('${cluster.tcp1}', ${db}.${name}) WHERE row_id % 2 = 1`);
}

beforeAll(async () => {
  if (!CLICKHOUSE_TESTS) return;
  cluster = sharedCluster();
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-ch-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  conn = await openMemoryConnection();
  await both(`CREATE DATABASE ${db}`);
  // Deficient support: 1,200 rows, K = 4; on every third row the logger never takes action 3.
  const rng = new Rng(17);
  // Written as JSON lines and read by DuckDB with fixed types (a 1,200-row VALUES literal takes DuckDB seconds to parse).
  const rows: string[] = [];
  const softmax = (s: number[]): number[] => {
    const e = s.map((v) => Math.exp(v));
    const z = e.reduce((x, y) => x + y, 0);
    return e.map((v) => v / z);
  };
  for (let i = 0; i < 1200; i++) {
    let pi0 = softmax([0, 1, 2, 3].map(() => rng.normal()));
    if (i % 3 === 0) pi0 = [pi0[0]! / (1 - pi0[3]!), pi0[1]! / (1 - pi0[3]!), pi0[2]! / (1 - pi0[3]!), 0];
    const a = rng.categorical(pi0);
    const er = [0, 1, 2, 3].map(() => rng.uniform());
    const r = rng.uniform() < er[a]! ? 1 : 0;
    const cand = softmax([0, 1, 2, 3].map(() => 1.5 * rng.normal()));
    const q = [0, 1, 2, 3].map(() => Math.round(1000 * rng.uniform()) / 1000);
    rows.push(JSON.stringify({ row_id: i, action: a, reward: r, propensity: pi0[a], action_probs: pi0, expected_reward: er, cand, q, q_0: q[0], q_1: q[1], q_2: q[2], q_3: q[3] }));
  }
  const jsonl = path.join(dir, 'deficient.jsonl');
  await writeFile(jsonl, rows.join('\n') + '\n');
  const types = { row_id: 'BIGINT', action: 'INTEGER', reward: 'DOUBLE', propensity: 'DOUBLE', action_probs: 'DOUBLE[]', expected_reward: 'DOUBLE[]', cand: 'DOUBLE[]', q: 'DOUBLE[]', q_0: 'DOUBLE', q_1: 'DOUBLE', q_2: 'DOUBLE', q_3: 'DOUBLE' };
  await ws.createVersion({
    name: 'deficient',
    conn,
    select: `SELECT * FROM read_json(${lit(jsonl)}, format = 'newline_delimited', columns = {${Object.entries(types).map(([k, t]) => `${k}: '${t}'`).join(', ')}}) ORDER BY row_id`,
    metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: 4 }, lineage: { transform: 'test', params: {} } },
  });
  // A synthetic log with contexts and ground truth (JSON policies over linear scores).
  await writeBanditDataset(ws, 'syn', generateBanditLog({ n: 1500, numActions: 5, contextDim: 3, reward: 'logistic', beta: -1, seed: 23 }));
  for (const name of ['deficient', 'syn']) {
    await exportToClickhouse(ws, name, url(name));
    await distribute(name);
  }
}, 60_000);

afterAll(async () => {
  if (!CLICKHOUSE_TESTS) return;
  await both(`DROP DATABASE IF EXISTS ${db}`).catch(() => {});
  conn?.closeSync();
  cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.runIf(CLICKHOUSE_TESTS)('ClickHouse and DuckDB give the same evaluation', () => {
  it('all nine estimators, t intervals, the three certificates, deficiency, truth and quantiles: local and Distributed tables', async () => {
    const [local] = await agree({ data: 'deficient', policies: [{ spec: 'column:cand' }], interval: 't', rewardModel: 'columns:q', clip: 4, allowDeficient: true }, ['deficient', 'deficient_dist']);
    const c = local!.candidates[0]!;
    expect(c.estimates).toHaveLength(9);
    expect(c.certificates.map((x) => x.kind)).toEqual(['catoni-clipped-ips', 'london-sandler', 'exponential-smoothing']);
    expect(c.diagnostics.supportDeficiency).toBeGreaterThan(0.01);
    expect(c.trueValue).toBeTypeOf('number');
  });

  it('the Poisson bootstrap as SQL sums: the same resamples on the shards as in DuckDB', async () => {
    const [r] = await agree(
      { data: 'deficient', policies: [{ spec: 'column:cand' }], interval: 'poisson-bootstrap', resamples: 200, bootstrapBuckets: 500, seed: 5, rewardModel: 'columns:q', estimators: ['ips', 'snips', 'dr'], allowDeficient: true },
      ['deficient_dist'],
    );
    expect(r!.candidates[0]!.estimates.every((e) => e.interval !== undefined)).toBe(true);
    expect(r!.logging.interval).toBeDefined();
  });

  it('per-action prediction columns, Hoeffding, refused estimators without allowDeficient', async () => {
    const [r] = await agree({ data: 'deficient', policies: [{ spec: 'column:cand' }], interval: 'hoeffding', rewardModel: 'columns:q_0,q_1,q_2,q_3', estimators: ['ips', 'dm', 'dr'] }, ['deficient_dist']);
    expect(r!.candidates[0]!.estimates.map((e) => e.estimator)).toEqual(['dm']);
  });

  it('JSON policies as SQL (uniform, softmax, argmax, epsilon-greedy), Bernstein, accuracy, a declared reward range', async () => {
    const w = [
      [0.5, -0.2, 0.1],
      [-0.3, 0.8, 0.0],
      [0.2, 0.2, -0.6],
      [0.0, -0.1, 0.4],
      [0.7, 0.3, 0.3],
    ];
    const files: Record<string, unknown> = {
      uniform: { type: 'uniform' },
      soft: { type: 'softmax', weights: w, bias: [0.1, 0, -0.1, 0.2, 0], temperature: 0.7 },
      greedy: { type: 'argmax', weights: w },
      eps: { type: 'epsilon-greedy', epsilon: 0.2, base: { type: 'softmax', weights: w } },
    };
    const policies = [];
    for (const [name, spec] of Object.entries(files)) {
      const f = path.join(dir, `${name}.json`);
      await writeFile(f, JSON.stringify(spec));
      policies.push({ spec: f });
    }
    const [r] = await agree({ data: 'syn', policies, interval: 'bernstein', estimators: ['ips', 'snips', 'clipped-ips', 'es-ips'], rewardRange: [0, 1] }, ['syn_dist']);
    expect(r!.candidates).toHaveLength(4);
    expect(r!.accuracy).toBeDefined();
    expect(r!.candidates.map((c) => c.source)).toEqual(policies.map((p) => expect.stringContaining(String(p.spec))));
  });

  it('each shard returns per-bin partial sums, not its rows (system.query_log)', async () => {
    // 50,000 rows per shard, 500 distinct candidate probabilities: at most ~1,000 weight bins whatever the row count.
    const cols = 'row_id Int64, action Int32, reward Float64, propensity Float64, cand Array(Float64)';
    await both(`CREATE TABLE ${db}.big_part (${cols}) ENGINE = MergeTree ORDER BY row_id`);
    const fill = (shard: number): string =>
      `INSERT INTO ${db}.big_part SELECT number * 2 + ${shard} AS row_id, toInt32(number % 4) AS action, toFloat64((number * 7919) % 100 < 40) AS reward, 0.25 AS propensity,
         [(number % 500) / 1000, 0.5 - (number % 500) / 1000, 0.25, 0.25] AS cand FROM numbers(50000)`;
    await chSql(cluster.http1, fill(0));
    await chSql(cluster.http2, fill(1));
    createDistributed(cluster, `${db}.big_part`, `${db}.big_dist`);
    // prefer_localhost_replica = 0: shard 1 also answers as a remote shard, so both log what they returned.
    const r = await evaluateClickhouse({ source: url('big_dist'), policies: [{ spec: 'column:cand' }], settings: { prefer_localhost_replica: 0 } });
    expect(r.dataset.rowCount).toBe(100000);
    for (const host of [cluster.http1, cluster.http2]) {
      await chSql(host, 'SYSTEM FLUSH LOGS');
      const log = (
        await chSql(
          host,
          `SELECT read_rows, result_rows, result_bytes FROM system.query_log
           WHERE type = 2 AND is_initial_query = 0 AND query LIKE '%${db}.big_part%' AND query LIKE '%GROUP BY wbin%' AND query NOT LIKE '%system.query_log%'
           FORMAT JSONEachRow`,
        )
      )
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, string>);
      expect(log).toHaveLength(1);
      const q = log[0]!;
      expect(Number(q.read_rows)).toBe(50000);
      // One row of sums per weight bin: a small fraction of the rows (and of their bytes) the shard read.
      expect(Number(q.result_rows)).toBeGreaterThan(0);
      expect(Number(q.result_rows)).toBeLessThanOrEqual(1100);
      expect(Number(q.result_bytes)).toBeLessThan(50000 * 8 * 5);
      // The propensity quantiles' scan returns per-bin counts too (one bin here: every propensity is 0.25).
      const pq = (
        await chSql(host, `SELECT result_rows FROM system.query_log WHERE type = 2 AND is_initial_query = 0 AND query LIKE '%${db}.big_part%' AND query LIKE '%GROUP BY vbin%' AND query NOT LIKE '%system.query_log%' FORMAT JSONEachRow`)
      )
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, string>);
      expect(pq.map((x) => Number(x.result_rows))).toEqual([1]);
    }
    expect([r.dataset.summary.propensityQ01, r.dataset.summary.propensityMedian]).toEqual([0.25, 0.25]);
  });

  it('exact column quantiles: ranks strictly inside a bin come from a second query over that bin, equal to sortedQuantile', async () => {
    // 1,001 propensities in one fine bin (0.5 + j 1e-9) and 200 spread over (0.1, 0.3): the median and q01 fall inside bins.
    const values = [...Array.from({ length: 1001 }, (_, j) => 0.5 + j * 1e-9), ...Array.from({ length: 200 }, (_, j) => 0.1 + (0.2 * j) / 200)];
    await chSql(cluster.http1, `CREATE TABLE ${db}.pq (row_id Int64, propensity Float64) ENGINE = MergeTree ORDER BY row_id`);
    await chSql(cluster.http1, `INSERT INTO ${db}.pq VALUES ${values.map((v, i) => `(${i}, ${v})`).join(', ')}`);
    const sqls: string[] = [];
    const run = async (sql: string): Promise<Record<string, unknown>[]> => {
      sqls.push(sql);
      const text = (await chSql(cluster.http1, `${sql}\nFORMAT JSONEachRow`)).trim();
      return text === '' ? [] : text.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    };
    const qs = [0.01, 0.5, 0.9];
    const got = await exactColumnQuantiles(run, CLICKHOUSE, `${db}.pq AS l`, CLICKHOUSE.double('l.propensity'), 'v IS NOT NULL', qs);
    // The values as ClickHouse stored them (parsed from the same decimal text), sorted.
    const stored = Float64Array.from((await run(`SELECT propensity FROM ${db}.pq`)).map((r) => Number(r.propensity))).sort();
    expect(got).toEqual(qs.map((q) => ({ q, value: sortedQuantile(stored, q) })));
    expect(sqls.some((x) => x.includes('vbin IN'))).toBe(true);
    expect(await exactColumnQuantiles(run, CLICKHOUSE, `${db}.pq AS l`, CLICKHOUSE.double('l.propensity'), 'v > 2', [0.5])).toEqual([{ q: 0.5, value: NaN }]);
  });

  it('reads the same through the credentials in the environment, which never appear in the result', async () => {
    process.env.OFFPOLICY_CLICKHOUSE_USER = cluster.user;
    process.env.OFFPOLICY_CLICKHOUSE_PASSWORD = cluster.password;
    try {
      const r = await evaluateClickhouse({ source: url('deficient'), policies: [{ spec: 'column:cand' }], rewardModel: 'columns:q', allowDeficient: true });
      expect(JSON.stringify(r)).not.toContain(cluster.password);
      expect(r.dataset.ref).toBe(url('deficient'));
    } finally {
      delete process.env.OFFPOLICY_CLICKHOUSE_USER;
      delete process.env.OFFPOLICY_CLICKHOUSE_PASSWORD;
    }
  });

  it('runs as `offpolicy datasets export --to` and `offpolicy evaluate --source`, equal to the library call', async () => {
    const wsDir = path.join(dir, 'ws');
    const exp = await runCli(['-w', wsDir, 'datasets', 'export', 'deficient', '--to', url('cli_copy')]);
    expect(exp.code, exp.err).toBe(0);
    expect(exp.out).toContain(`to ${url('cli_copy')}`);
    const file = path.join(dir, 'cli.json');
    const args = ['evaluate', '--source', url('cli_copy'), '--policy', 'cand=column:cand', '--reward-model', 'columns:q', '--allow-deficient', '--out', file];
    const { code, err, out } = await runCli(args);
    expect(code, err).toBe(0);
    expect(out).toContain('Results written to');
    const cli = JSON.parse(await readFile(file, 'utf8')) as EvaluationResult;
    expect(cli.settings.interval).toBe('t');
    const lib = await evaluateClickhouse({ source: url('cli_copy'), policies: [{ name: 'cand', spec: 'column:cand' }], rewardModel: 'columns:q', allowDeficient: true });
    expect(cli.candidates[0]!.estimates).toEqual(lib.candidates[0]!.estimates);
    const both = await runCli(['evaluate', '--source', url('cli_copy'), '--data', 'deficient', '--policy', 'column:cand']);
    expect(both.code).not.toBe(0);
    expect(both.err).toContain('E_CLI_ARG');
  });

  it('refuses NULL rewards (E_NULL_REWARDS) instead of scoring them as 0', async () => {
    await corruptBanditLog(ws, { data: 'syn', kind: 'drop-rewards', rate: 0.2, seed: 1, name: 'syn_drop' });
    await exportToClickhouse(ws, 'syn_drop', url('syn_drop'));
    const e = await evaluateClickhouse({ source: url('syn_drop'), policies: [{ spec: 'column:action_probs' }], interval: 't', estimators: ['ips'] } as ClickhouseEvaluateOptions).then(
      () => null,
      (err: unknown) => err as { code?: string; message?: string },
    );
    expect(e?.code).toBe('E_NULL_REWARDS');
    expect(e?.message).toMatch(/reward is not NULL.*300 rows/);
  });

  it('export loads the stored types', async () => {
    const types = (await chSql(cluster.http1, `SELECT name, type FROM system.columns WHERE database = '${db}' AND table = 'syn' FORMAT TSV`)).trim();
    expect(types).toContain('row_id\tInt64');
    expect(types).toContain('action\tInt32');
    expect(types).toContain('context\tArray(Float32)');
    expect(types).toContain('action_probs\tArray(Float64)');
    const sum = (await chSql(cluster.http1, `SELECT sum(reward), sum(arraySum(context)) FROM ${db}.syn FORMAT TSV`)).trim().split('\t').map(Number);
    const v = await ws.resolve('syn');
    const want = (await conn.runAndReadAll(`SELECT sum(reward) AS r, sum(list_sum(context::DOUBLE[])) AS c FROM read_parquet(${lit(v.glob)})`)).getRowObjectsJS()[0]!;
    expect(sum[0]).toBeCloseTo(Number(want.r), 9);
    expect(sum[1]).toBeCloseTo(Number(want.c), 6);
  });
});
