import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli.js';
import { describeDataset, exactQuantiles, formatDescription, listDatasets, showDataset, type BanditDescription, type TrajectoryDescription } from '../src/datasets/describe.js';
import { openMemoryConnection, queryRows, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { exportDataset } from '../src/datasets/export.js';
import type { MetadataInput } from '../src/datasets/metadata.js';
import { queryDatasets, queryToFile, queryToText } from '../src/datasets/query.js';
import { parseRatios, splitDataset } from '../src/datasets/split.js';
import { Workspace } from '../src/datasets/workspace.js';
import { OffpolicyError } from '../src/core/errors.js';
import { runCli } from './support/run-cli.js';

let dir: string;
let conn: DuckDBConnection;
let ws: Workspace;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-manage-'));
  conn = await openMemoryConnection();
  ws = await Workspace.open(path.join(dir, 'ws'));
});
afterEach(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

const banditMeta: MetadataInput = {
  kind: 'bandit',
  actionSpace: { type: 'discrete', n: 3 },
  observationSpace: { type: 'box', shape: [2] },
  rewardNullable: true,
  lineage: { transform: 'test', params: {} },
};

/** Six hand-made bandit rows (one NULL reward). */
const BANDIT_SQL = `SELECT row_id::BIGINT AS row_id, context::FLOAT[] AS context, action::INTEGER AS action,
    reward::DOUBLE AS reward, propensity::DOUBLE AS propensity FROM (VALUES
  (0, [0.5, 1.5], 0, 1.0, 0.5),
  (1, [0.25, 2.0], 1, 0.0, 0.2),
  (2, [1.0, 1.0], 0, 0.0, 0.4),
  (3, [2.0, 0.0], 2, 1.0, 0.1),
  (4, [0.0, 0.0], 0, 2.0, 0.8),
  (5, [1.0, 2.0], 1, NULL, 0.3)) t(row_id, context, action, reward, propensity)`;

/** Three hand-made episodes: returns 6 (terminated), -1 (truncated), 4 (cut off). */
const TRAJ_SQL = `SELECT episode_id::BIGINT AS episode_id, step::INTEGER AS step, [step, episode_id]::FLOAT[] AS observation,
    [step + 1, episode_id]::FLOAT[] AS next_observation, action::FLOAT[] AS action, reward::DOUBLE AS reward,
    terminated, truncated, corrupted::SMALLINT AS corrupted FROM (VALUES
  (0, 0, [0.5, -1.0], 1.0, false, false, 0),
  (0, 1, [1.5, -1.0], 2.0, false, false, 1),
  (0, 2, [2.5, -1.0], 3.0, true, false, 3),
  (1, 0, [0.0, 0.0], 0.0, false, false, 4),
  (1, 1, [1.0, 0.0], -1.0, false, true, 0),
  (2, 0, [-0.5, 2.0], 4.0, false, false, 15)) t(episode_id, step, action, reward, terminated, truncated, corrupted)`;

const trajMeta: MetadataInput = {
  kind: 'trajectory',
  observationSpace: { type: 'box', shape: [2] },
  actionSpace: { type: 'box', shape: [2] },
  refMinScore: -2,
  refMaxScore: 8,
  lineage: { transform: 'test', params: {} },
};

async function addBandit(name = 'logs') {
  return ws.createVersion({ name, conn, select: BANDIT_SQL, metadata: banditMeta });
}
async function addTraj(name = 'traj') {
  return ws.createVersion({ name, conn, select: TRAJ_SQL, metadata: trajMeta });
}

/** A bandit log of n rows with pseudo-random columns (deterministic). */
async function addBigBandit(name: string, n: number) {
  return ws.createVersion({
    name,
    conn,
    select: `SELECT i::BIGINT AS row_id, [i % 7, i % 11]::FLOAT[] AS context, (i % 3)::INTEGER AS action,
                    (i % 5)::DOUBLE AS reward, (0.1 + (i % 9) / 10)::DOUBLE AS propensity FROM range(${n}) t(i)`,
    metadata: banditMeta,
  });
}

/** A trajectory dataset of `episodes` episodes of 1..4 steps. */
async function addBigTraj(name: string, episodes: number) {
  return ws.createVersion({
    name,
    conn,
    select: `SELECT e::BIGINT AS episode_id, s::INTEGER AS step, [s, e]::FLOAT[] AS observation, [s + 1, e]::FLOAT[] AS next_observation,
                    [s * 0.5]::FLOAT[] AS action, 1.0::DOUBLE AS reward, s = e % 4 AS terminated, false AS truncated
             FROM range(${episodes}) a(e), range(4) b(s) WHERE s <= e % 4`,
    metadata: { ...trajMeta, actionSpace: { type: 'box', shape: [1] } },
  });
}

async function expectError(p: Promise<unknown>, code: string, message: string | RegExp): Promise<OffpolicyError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(OffpolicyError);
    const err = e as OffpolicyError;
    expect(err.code).toBe(code);
    if (typeof message === 'string') expect(err.message).toContain(message);
    else expect(err.message).toMatch(message);
    return err;
  }
  throw new Error(`expected ${code}`);
}

/** Runs `offpolicy --workspace <ws> ARGS` in process with stdin reported as not a terminal (so `datasets rm` without --yes refuses instead of prompting). */
async function cli(args: string[]): ReturnType<typeof runCli> {
  const tty = process.stdin.isTTY;
  (process.stdin as { isTTY?: boolean }).isTTY = false;
  try {
    return await runCli(['--workspace', ws.root, ...args]);
  } finally {
    (process.stdin as { isTTY?: boolean }).isTTY = tty;
  }
}

describe('describe', () => {
  it('gives exact statistics for a hand-made bandit log', async () => {
    await addBandit();
    const d = (await describeDataset(ws, 'logs')) as BanditDescription;
    expect(d.kind).toBe('bandit');
    expect(d.ref).toBe('logs@1');
    expect(d.rows).toBe(6);
    expect(d.contextDim).toBe(2);
    expect(d.reward.nulls).toBe(1);
    expect(d.reward.mean).toBeCloseTo(0.8, 12);
    expect(d.reward.std).toBeCloseTo(Math.sqrt(0.7), 12);
    expect(d.reward.min).toBe(0);
    expect(d.reward.max).toBe(2);
    expect(d.actions.map((a) => [a.action, a.count])).toEqual([[0, 3], [1, 2], [2, 1]]);
    expect(d.actions.map((a) => a.share)).toEqual([0.5, 2 / 6, 1 / 6]);
    expect(d.actions[0]).toMatchObject({ rewardMean: 1, rewardMin: 0, rewardMax: 2, propensityMin: 0.4 });
    expect(d.actions[0]!.rewardStd).toBeCloseTo(1, 12);
    expect(d.actions[1]).toMatchObject({ rewardMean: 0, rewardStd: null, propensityMin: 0.2 });
    expect(d.actions[2]).toMatchObject({ rewardMean: 1, rewardStd: null, propensityMin: 0.1 });
    // Sorted propensities 0.1 0.2 0.3 0.4 0.5 0.8; quantile_cont interpolates at h = 5q.
    const p = d.propensity!;
    expect(p.min).toBe(0.1);
    expect(p.max).toBe(0.8);
    expect(p.q01).toBeCloseTo(0.105, 12);
    expect(p.q05).toBeCloseTo(0.125, 12);
    expect(p.q25).toBeCloseTo(0.225, 12);
    expect(p.q50).toBeCloseTo(0.35, 12);
    const text = formatDescription(d);
    expect(text).toContain('logs@1 (bandit, 6 rows)');
    expect(text).toMatch(/null rewards\s+1/);
    expect(text).toMatch(/propensity q05\s+0\.1250/);
  });

  it('gives exact statistics for hand-made trajectories', async () => {
    await addTraj();
    const d = (await describeDataset(ws, 'traj@1')) as TrajectoryDescription;
    expect(d.kind).toBe('trajectory');
    expect(d.rows).toBe(6);
    expect(d.episodes).toBe(3);
    // Returns 6, -1, 4.
    expect(d.returns.mean).toBeCloseTo(3, 12);
    expect(d.returns.std).toBeCloseTo(Math.sqrt(13), 12);
    expect([d.returns.min, d.returns.q25, d.returns.median, d.returns.q75, d.returns.max]).toEqual([-1, 1.5, 4, 5, 6]);
    // Normalized with refMin -2, refMax 8: 10 * (R + 2).
    const nr = d.normalizedReturns!;
    expect(nr.mean).toBeCloseTo(50, 10);
    expect(nr.std).toBeCloseTo(10 * Math.sqrt(13), 10);
    expect([nr.min, nr.q25, nr.median, nr.q75, nr.max].map((x) => Number(x!.toFixed(10)))).toEqual([10, 35, 60, 70, 80]);
    // Lengths 3, 2, 1.
    expect(d.lengths).toEqual({ mean: 2, std: 1, min: 1, q25: 1.5, median: 2, q75: 2.5, max: 3 });
    expect([d.terminatedEpisodes, d.truncatedEpisodes, d.unfinishedEpisodes]).toEqual([1, 1, 1]);
    expect(d.reward.mean).toBeCloseTo(1.5, 12);
    expect(d.reward.std).toBeCloseTo(Math.sqrt(3.5), 12);
    expect([d.reward.min, d.reward.max]).toEqual([-1, 4]);
    expect(d.actionCounts).toBeNull();
    expect(d.actionDims!.length).toBe(2);
    expect(d.actionDims![0]!.mean).toBeCloseTo(5 / 6, 12);
    expect(d.actionDims![0]!.std).toBeCloseTo(Math.sqrt(7 / 6), 12);
    expect(d.actionDims![1]!.mean).toBeCloseTo(-1 / 6, 12);
    expect(d.actionDims![1]!.std).toBeCloseTo(Math.sqrt(246 / 180), 12);
    expect([d.actionDims![0]!.min, d.actionDims![0]!.max, d.actionDims![1]!.min, d.actionDims![1]!.max]).toEqual([-0.5, 2.5, -1, 2]);
    // corrupted = 0, 1, 3, 4, 0, 15.
    expect(d.corrupted!.observation).toBeCloseTo(3 / 6, 12);
    expect(d.corrupted!.action).toBeCloseTo(2 / 6, 12);
    expect(d.corrupted!.reward).toBeCloseTo(2 / 6, 12);
    expect(d.corrupted!.next_observation).toBeCloseTo(1 / 6, 12);
    const text = formatDescription(d);
    expect(text).toContain('traj@1 (trajectory, 6 steps, 3 episodes)');
    expect(text).toContain('normalized return');
  });

  it('counts discrete trajectory actions and omits what the data lacks', async () => {
    await ws.createVersion({
      name: 'disc',
      conn,
      select: `SELECT 0::BIGINT AS episode_id, s::INTEGER AS step, [s]::FLOAT[] AS observation, (s % 2)::INTEGER AS action,
                      1.0::DOUBLE AS reward, s = 3 AS terminated, false AS truncated FROM range(4) t(s)`,
      metadata: { kind: 'trajectory', actionSpace: { type: 'discrete', n: 2 }, lineage: { transform: 'test', params: {} } },
    });
    const d = (await describeDataset(ws, 'disc')) as TrajectoryDescription;
    expect(d.actionCounts).toEqual([
      { action: 0, count: 2, share: 0.5 },
      { action: 1, count: 2, share: 0.5 },
    ]);
    expect(d.actionDims).toBeNull();
    expect(d.corrupted).toBeNull();
    expect(d.normalizedReturns).toBeNull();
    expect(d.returns.mean).toBe(4);
  });

  it('reports named feature columns and a missing propensity column', async () => {
    await ws.createVersion({
      name: 'named',
      conn,
      select: `SELECT i::BIGINT AS row_id, (i % 2)::INTEGER AS action, i::DOUBLE AS reward, i * 2.0 AS age, i * 3.0 AS income FROM range(4) t(i)`,
      metadata: { kind: 'bandit', lineage: { transform: 'test', params: {} } },
    });
    const d = (await describeDataset(ws, 'named')) as BanditDescription;
    expect(d.featureColumns).toEqual(['age', 'income']);
    // Named columns are not the context until named (evaluate agrees: --context-columns age,income).
    expect(d.contextDim).toBe(0);
    expect(d.context).toBe('none');
    expect(d.propensity).toBeNull();
    expect(d.actions.every((a) => a.propensityMin === null)).toBe(true);
    expect(formatDescription(d)).toMatch(/propensity\s+absent/);
  });

  it('names the known datasets for an unknown one and the versions for a bad version', async () => {
    await addBandit();
    await addTraj();
    await expectError(describeDataset(ws, 'nope'), 'E_DATASET_NOT_FOUND', 'No dataset named "nope"');
    await expectError(describeDataset(ws, 'nope'), 'E_DATASET_NOT_FOUND', 'Datasets here: logs, traj.');
    await expectError(describeDataset(ws, 'logs@7'), 'E_DATASET_NOT_FOUND', 'Dataset "logs" has no version 7. Versions: 1.');
    await expectError(describeDataset(ws, 'logs@x'), 'E_DATASET_REF', '"logs@x" is not a dataset reference.');
  });
});

describe('exactQuantiles', () => {
  const QS = [0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.99, 1];
  const cases: [string, string][] = [
    ['uniform, continuous', `SELECT (hash(i, 1) % 1000003)::DOUBLE / 1000003 AS p FROM range(20000) t(i)`],
    ['a few discrete values', `SELECT ([0.1, 0.25, 0.5, 0.9]::DOUBLE[])[(1 + hash(i, 2) % 4)::INTEGER] AS p FROM range(5000) t(i)`],
    ['all equal', `SELECT 1 / 3 AS p FROM range(777) t(i)`],
    ['many distinct values inside one bin', `SELECT 0.5 + (hash(i, 3) % 1000)::DOUBLE * 1e-12 AS p FROM range(3001) t(i)`],
    ['one value', `SELECT 0.7::DOUBLE AS p`],
    ['two values and NULLs', `SELECT p::DOUBLE AS p FROM (VALUES (0.2), (NULL), (0.9), (NULL)) t(p)`],
    ['negative and large values', `SELECT (hash(i, 4) % 2001)::DOUBLE - 1000 + (hash(i, 5) % 7) * 1e-9 AS p FROM range(4000) t(i)`],
  ];
  for (const [label, sql] of cases) {
    it(`equals DuckDB quantile_cont: ${label}`, async () => {
      await conn.run(`CREATE OR REPLACE TABLE qt AS ${sql}`);
      const got = await exactQuantiles(conn, 'qt', 'p', QS);
      const want = (await queryRows(conn, `SELECT count(p)::DOUBLE AS n, min(p) AS lo, max(p) AS hi, quantile_cont(p, [${QS.join(', ')}]) AS q FROM qt`))[0]!;
      expect(got.n).toBe(Number(want.n));
      expect(got.min).toBe(Number(want.lo));
      expect(got.max).toBe(Number(want.hi));
      expect(got.values).toEqual((want.q as number[]).map(Number));
    });
  }

  it('returns n = 0 for a column with no values', async () => {
    await conn.run(`CREATE OR REPLACE TABLE qt AS SELECT NULL::DOUBLE AS p FROM range(3)`);
    expect((await exactQuantiles(conn, 'qt', 'p', [0.5])).n).toBe(0);
  });
});

describe('list and show', () => {
  it('lists the latest versions, or every version with all', async () => {
    await addBandit();
    await addBigBandit('logs', 10);
    await addTraj();
    const latest = await listDatasets(ws);
    expect(latest.map((r) => [r.ref, r.kind, r.rows, r.episodes, r.versions])).toEqual([
      ['logs@2', 'bandit', 10, null, 2],
      ['traj@1', 'trajectory', 6, 3, 1],
    ]);
    const all = await listDatasets(ws, { all: true });
    expect(all.map((r) => r.ref)).toEqual(['logs@1', 'logs@2', 'traj@1']);
    const { out, code } = await cli(['datasets', 'list', '--all']);
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^dataset\s+version\s+kind\s+rows\s+episodes\s+created\s+hash$/);
    expect(lines).toHaveLength(5);
    expect(lines[4]).toContain(all[2]!.contentHash.slice(0, 12));
    const json = JSON.parse((await cli(['datasets', 'list', '--json'])).out);
    expect(json.map((r: { ref: string }) => r.ref)).toEqual(['logs@2', 'traj@1']);
    expect((await listDatasets(await Workspace.open(path.join(dir, 'empty')))).length).toBe(0);
  });

  it('shows metadata, files and the lineage chain through parents, marking removed parents', async () => {
    await addBigTraj('big', 40);
    await splitDataset(ws, 'big', { ratios: [0.5, 0.5], seed: 3 });
    await splitDataset(ws, 'big-train', { ratios: [0.5, 0.5], seed: 4, names: ['a', 'b'] });
    const shown = await showDataset(ws, 'a');
    expect(shown.lineage.map((l) => [l.ref, l.transform, l.seed, l.present])).toEqual([
      ['a@1', 'split', 4, true],
      ['big-train@1', 'split', 3, true],
      ['big@1', 'test', undefined, true],
    ]);
    expect(shown.files.map((f) => f.name)).toEqual(['metadata.json', 'part-0.parquet']);
    expect(shown.files.every((f) => f.bytes > 0)).toBe(true);
    await ws.remove('big-train');
    const after = await showDataset(ws, 'a@1');
    expect(after.lineage.map((l) => [l.ref, l.present])).toEqual([
      ['a@1', true],
      ['big-train@1', false],
    ]);
    const { out } = await cli(['datasets', 'show', 'a']);
    expect(out).toContain('Lineage (newest first)');
    expect(out).toContain('(removed)');
    expect(out).toMatch(/observation space\s+box\(2\)/);
    const json = JSON.parse((await cli(['datasets', 'show', 'a', '--json'])).out);
    expect(json.metadata.lineage.parent).toBe('big-train@1');
  });

  it('shows rejected rows recorded in the metadata', async () => {
    await ws.createVersion({
      name: 'rej',
      conn,
      select: BANDIT_SQL,
      metadata: { ...banditMeta, rejected: { file: 'rejected.parquet', count: 2, reasons: { 'propensity in (0, 1]': 2 } } },
    });
    const { out } = await cli(['datasets', 'show', 'rej']);
    expect(out).toContain('Rejected rows: 2 in rejected.parquet');
    expect(out).toMatch(/propensity in \(0, 1\]\s+2/);
  });
});

describe('query', () => {
  it('runs SQL over the latest and versioned views', async () => {
    await addBandit();
    await addBigBandit('logs', 10);
    const latest = await queryDatasets(ws, 'SELECT count(*)::INTEGER AS n FROM logs');
    expect(latest.rows).toEqual([{ n: 10 }]);
    const v1 = await queryDatasets(ws, 'SELECT action, count(*)::INTEGER AS n FROM "logs@1" GROUP BY action ORDER BY action;');
    expect(v1.rows).toEqual([
      { action: 0, n: 3 },
      { action: 1, n: 2 },
      { action: 2, n: 1 },
    ]);
    expect(v1.columns).toEqual([
      { name: 'action', type: 'INTEGER' },
      { name: 'n', type: 'INTEGER' },
    ]);
    const lim = await queryDatasets(ws, 'SELECT row_id FROM logs ORDER BY row_id', { limit: 4 });
    expect(lim.rows.length).toBe(4);
    expect(lim.truncated).toBe(true);
  });

  it('writes CSV, JSON and Parquet', async () => {
    await addBandit();
    const sql = '-- a comment\nSELECT row_id, context, reward FROM logs WHERE row_id < 3 ORDER BY row_id -- trailing\n;';
    expect(await queryToText(ws, sql, 'csv')).toBe('row_id,context,reward\n0,"[0.5, 1.5]",1.0\n1,"[0.25, 2.0]",0.0\n2,"[1.0, 1.0]",0.0\n');
    expect(JSON.parse(await queryToText(ws, sql, 'json'))).toEqual([
      { row_id: 0, context: [0.5, 1.5], reward: 1 },
      { row_id: 1, context: [0.25, 2], reward: 0 },
      { row_id: 2, context: [1, 1], reward: 0 },
    ]);
    const out = path.join(dir, 'out', 'q.parquet');
    expect(await queryToFile(ws, sql, { format: 'parquet', out })).toEqual({ rows: 3, out });
    expect(await queryRows(conn, `SELECT row_id::INTEGER AS r, context[2] AS c FROM read_parquet('${out}') ORDER BY r`)).toEqual([
      { r: 0, c: 1.5 },
      { r: 1, c: 2 },
      { r: 2, c: 1 },
    ]);
    expect((await readdir(path.dirname(out))).filter((f) => f.includes('.tmp-'))).toEqual([]);
    // A quote inside a trailing comment, "--" and ";" inside string literals and a
    // closing block comment: the statement ends where its last token ends.
    const tricky = "SELECT '--;' AS a, \"row_id\" FROM logs WHERE row_id = 0; -- don't break\n/* it's done */ ;";
    expect(await queryToText(ws, tricky, 'csv')).toBe('a,row_id\n--;,0\n');
    const out2 = path.join(dir, 'out', 'q2.parquet');
    expect(await queryToFile(ws, tricky, { format: 'parquet', out: out2 })).toEqual({ rows: 1, out: out2 });
    // DESCRIBE, SUMMARIZE and EXPLAIN run too, and can be written to files.
    expect(await queryToText(ws, 'DESCRIBE logs', 'csv')).toContain('propensity,DOUBLE');
    expect((await queryDatasets(ws, 'SUMMARIZE logs')).rows.map((r) => r.column_name)).toEqual(['row_id', 'context', 'action', 'reward', 'propensity']);
    expect(await queryToText(ws, 'EXPLAIN SELECT * FROM logs', 'csv')).toMatch(/^explain_key,explain_value\n/);
  });

  it('prints tables and files from the CLI', async () => {
    await addBandit();
    const t = await cli(['datasets', 'query', 'SELECT action, count(*) AS n FROM logs GROUP BY action ORDER BY action']);
    expect(t.code).toBe(0);
    expect(t.out.split('\n').slice(0, 5)).toEqual(['action  n', '------  -', '     0  3', '     1  2', '     2  1']);
    expect(t.out).toContain('(3 rows)');
    const c = await cli(['datasets', 'query', 'SELECT row_id FROM logs ORDER BY row_id LIMIT 2', '--format', 'csv']);
    expect(c.out).toBe('row_id\n0\n1\n');
    const pq = await cli(['datasets', 'query', 'SELECT 1 AS x', '--format', 'parquet']);
    expect(pq.code).toBe(2);
    expect(pq.err).toContain('error [E_QUERY_OUT]: Parquet output needs a file. Add --out FILE.parquet.');
    const file = path.join(dir, 'x.json');
    const j = await cli(['datasets', 'query', 'SELECT 1 AS x', '--format', 'json', '--out', file]);
    expect(j.code).toBe(0);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual([{ x: 1 }]);
    const bad = await cli(['datasets', 'query', 'SELECT 1', '--format', 'xml']);
    expect(bad.err).toContain('error [E_QUERY_FORMAT]: Unknown query output format "xml". Use one of: table, csv, json, parquet.');
  });

  it('refuses statements that could write, and leaves the workspace untouched', async () => {
    await addBandit();
    const before = (await listDatasets(ws, { all: true })).map((r) => r.contentHash);
    const target = path.join(ws.datasetsDir, 'logs', '1', 'part-0.parquet');
    for (const sql of [
      'DELETE FROM logs',
      `COPY (SELECT 1) TO '${target}'`,
      'CREATE TABLE x AS SELECT 1',
      `ATTACH '${path.join(ws.root, 'catalog.duckdb')}' AS cat`,
      'INSERT INTO logs VALUES (1)',
      'SET threads = 1',
      'PRAGMA threads = 1',
    ]) {
      await expectError(queryDatasets(ws, sql), 'E_QUERY_NOT_READ_ONLY', /^Only read-only queries may run here, and this one is a [A-Z]+ statement\./);
    }
    // Writes hidden behind a read-only keyword are caught by the parser check.
    await expectError(
      queryDatasets(ws, 'WITH x AS (SELECT 1) DELETE FROM logs'),
      'E_QUERY_NOT_READ_ONLY',
      'Only read-only queries may run here, and this one is not a SELECT.',
    );
    await expectError(queryDatasets(ws, 'SELECT 1; DROP VIEW logs'), 'E_QUERY_NOT_READ_ONLY', 'not a SELECT');
    await expectError(queryToFile(ws, `EXPLAIN COPY logs TO '${target}'`, { format: 'csv', out: path.join(dir, 'e.csv') }), 'E_QUERY_NOT_READ_ONLY', 'not a SELECT');
    await expectError(queryDatasets(ws, 'SELECT 1; SELECT 2'), 'E_QUERY', 'The query holds 2 statements; one is expected.');
    await expectError(queryDatasets(ws, '  '), 'E_QUERY', 'The query is empty.');
    expect((await listDatasets(ws, { all: true })).map((r) => r.contentHash)).toEqual(before);
    const r = await cli(['datasets', 'query', 'DROP VIEW logs']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('error [E_QUERY_NOT_READ_ONLY]: Only read-only queries may run here, and this one is a DROP statement.');
  });

  it('turns SQL errors into E_QUERY naming the queryable datasets', async () => {
    await addBandit();
    await addTraj();
    const e = await expectError(queryDatasets(ws, 'SELECT nope FROM logs'), 'E_QUERY', /^The query failed: Binder Error: Referenced column "nope" not found/);
    expect(e.message).toContain('Datasets you can query: logs, traj (latest) and "logs@1", "traj@1".');
    expect(e.message).not.toContain('\n');
    await expectError(queryDatasets(ws, 'SELECT * FROM missing'), 'E_QUERY', 'Table with name missing does not exist');
    await expectError(queryDatasets(ws, 'SELECT * FROM'), 'E_QUERY', /^The query failed: .*syntax error/);
    const empty = await Workspace.open(path.join(dir, 'empty'));
    await expectError(queryDatasets(empty, 'SELECT * FROM x'), 'E_QUERY', 'The workspace has no datasets yet');
  });
});

/** Node-side reimplementation of the documented assignment: md5("<id>:<seed>") -> part. */
function nodeAssignment(id: number, seed: number, ratios: number[]): number {
  const u = parseInt(createHash('md5').update(`${id}:${seed}`).digest('hex').slice(0, 13), 16) / 2 ** 52;
  let cum = 0;
  for (let i = 0; i < ratios.length - 1; i++) {
    cum += ratios[i]!;
    if (u < cum) return i;
  }
  return ratios.length - 1;
}

describe('split', () => {
  it('makes disjoint, covering bandit splits with binomial proportions, lineage and a documented hash', async () => {
    const n = 4000;
    await addBigBandit('big', n);
    const parts = await splitDataset(ws, 'big', { ratios: [0.8, 0.1, 0.1], seed: 11 });
    expect(parts.map((p) => p.version.ref)).toEqual(['big-train@1', 'big-validation@1', 'big-test@1']);
    const ids = await Promise.all(
      parts.map(async (p) => (await queryRows(conn, `SELECT row_id::INTEGER AS id FROM read_parquet('${p.version.glob}') ORDER BY id`)).map((r) => Number(r.id))),
    );
    const all = ids.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: n }, (_, i) => i)); // disjoint and covering
    [0.8, 0.1, 0.1].forEach((r, i) => {
      const sd = Math.sqrt((n * r * (1 - r)));
      expect(Math.abs(ids[i]!.length - n * r)).toBeLessThan(4 * sd);
    });
    for (const [i, list] of ids.entries()) for (const id of list.slice(0, 50)) expect(nodeAssignment(id, 11, [0.8, 0.1, 0.1])).toBe(i);
    const m = parts[1]!.version.metadata;
    expect(m.lineage).toEqual({
      parent: 'big@1',
      transform: 'split',
      params: { ratios: [0.8, 0.1, 0.1], by: 'row', part: 1, names: ['big-train', 'big-validation', 'big-test'], hash: 'md5(id:seed)' },
      seed: 11,
    });
    expect(m.actionSpace).toEqual(banditMeta.actionSpace);
    expect(m.rewardNullable).toBe(true);
    expect(m.columns).toEqual((await ws.resolve('big')).metadata.columns);
  });

  it('is deterministic in the seed', async () => {
    await addBigBandit('big', 500);
    const a = await splitDataset(ws, 'big', { ratios: [0.5, 0.5], seed: 1 });
    const b = await splitDataset(ws, 'big', { ratios: [0.5, 0.5], seed: 1 });
    const c = await splitDataset(ws, 'big', { ratios: [0.5, 0.5], seed: 2 });
    expect(b.map((p) => p.version.ref)).toEqual(['big-train@2', 'big-test@2']);
    expect(b.map((p) => p.version.metadata.contentHash)).toEqual(a.map((p) => p.version.metadata.contentHash));
    expect(c[0]!.version.metadata.contentHash).not.toBe(a[0]!.version.metadata.contentHash);
    expect(c[1]!.version.metadata.contentHash).not.toBe(a[1]!.version.metadata.contentHash);
  });

  it('keeps whole episodes together in trajectory splits', async () => {
    await addBigTraj('big', 400);
    const parts = await splitDataset(ws, 'big', { ratios: [0.6, 0.2, 0.2], seed: 5, names: ['tr', 'va', 'te'] });
    const source = await ws.resolve('big');
    expect(parts.reduce((s, p) => s + p.version.metadata.rowCount, 0)).toBe(source.metadata.rowCount);
    expect(parts.reduce((s, p) => s + p.version.metadata.episodeCount!, 0)).toBe(400);
    const eps = await Promise.all(
      parts.map(async (p) =>
        (await queryRows(conn, `SELECT episode_id::INTEGER AS e, count(*)::INTEGER AS n FROM read_parquet('${p.version.glob}') GROUP BY e`)).map((r) => [
          Number(r.e),
          Number(r.n),
        ]),
      ),
    );
    const seen = new Set<number>();
    for (const list of eps) {
      for (const [e, len] of list) {
        expect(seen.has(e!)).toBe(false);
        seen.add(e!);
        expect(len).toBe((e! % 4) + 1); // every step of the episode is in the same part
      }
    }
    expect(seen.size).toBe(400);
    [0.6, 0.2, 0.2].forEach((r, i) => expect(Math.abs(eps[i]!.length - 400 * r)).toBeLessThan(4 * Math.sqrt(400 * r * (1 - r))));
    expect(parts[0]!.version.metadata.lineage.params.by).toBe('episode');
    expect(parts[0]!.version.metadata.refMaxScore).toBe(8);
  });

  it('rejects bad ratios, names, seeds and units, writing nothing', async () => {
    await addBandit();
    await addTraj();
    const msg = 'give at least two positive shares that sum to 1';
    await expectError(splitDataset(ws, 'logs', { ratios: [0.8, 0.3], seed: 1 }), 'E_SPLIT_RATIOS', `Split ratios 0.8, 0.3 are not valid: ${msg} (they sum to 1.1).`);
    await expectError(splitDataset(ws, 'logs', { ratios: [1.2, -0.2], seed: 1 }), 'E_SPLIT_RATIOS', msg);
    await expectError(splitDataset(ws, 'logs', { ratios: [1], seed: 1 }), 'E_SPLIT_RATIOS', msg);
    expect(() => parseRatios('0.8,,0.2')).toThrow('Split ratios "0.8,,0.2" are not a comma-separated list of numbers.');
    expect(parseRatios('0.8, 0.1,0.1')).toEqual([0.8, 0.1, 0.1]);
    await expectError(splitDataset(ws, 'logs', { ratios: [0.5, 0.5], seed: 1.5 }), 'E_SPLIT_SEED', 'Seed 1.5 is not an integer.');
    await expectError(splitDataset(ws, 'logs', { ratios: [0.25, 0.25, 0.25, 0.25], seed: 1 }), 'E_SPLIT_NAMES', 'There are 4 split ratios but no names for the parts.');
    await expectError(splitDataset(ws, 'logs', { ratios: [0.5, 0.5], seed: 1, names: ['a'] }), 'E_SPLIT_NAMES', '1 names were given for 2 split ratios.');
    await expectError(splitDataset(ws, 'logs', { ratios: [0.5, 0.5], seed: 1, names: ['a', 'a'] }), 'E_SPLIT_NAMES', 'must be distinct');
    await expectError(splitDataset(ws, 'logs', { ratios: [0.5, 0.5], seed: 1, names: ['a', '9bad'] }), 'E_DATASET_NAME', 'Dataset name "9bad" is not allowed.');
    await expectError(splitDataset(ws, 'logs', { ratios: [0.5, 0.5], seed: 1, by: 'user' as never }), 'E_SPLIT_BY', 'Cannot split by "user". Use --by episode or --by row.');
    await expectError(splitDataset(ws, 'traj', { ratios: [0.5, 0.5], seed: 1, by: 'row' }), 'E_SPLIT_BY', 'Dataset traj@1 holds trajectories, which split by whole episodes only.');
    await expectError(splitDataset(ws, 'logs', { ratios: [0.5, 0.5], seed: 1, by: 'episode' }), 'E_SPLIT_BY', 'Dataset logs@1 has no "episode_id" column to split by episode.');
    // Six rows cannot fill a 0.98 / 0.01 / 0.01 split: nothing is written.
    await expectError(
      splitDataset(ws, 'logs', { ratios: [0.98, 0.01, 0.01], seed: 1 }),
      'E_SPLIT_EMPTY',
      /^Split parts? .*logs-(validation|test).* would be empty: logs@1 has too few rows for ratios 0.98, 0.01, 0.01\./,
    );
    expect((await listDatasets(ws)).map((r) => r.name)).toEqual(['logs', 'traj']);
    const r = await cli(['datasets', 'split', 'logs', '--ratios', '0.5,0.6', '--seed', '1']);
    expect(r.err).toContain('error [E_SPLIT_RATIOS]: Split ratios 0.5, 0.6 are not valid');
    const s = await cli(['datasets', 'split', 'logs', '--ratios', '0.5,0.5', '--seed', 'x']);
    expect(s.err).toContain('error [E_SPLIT_SEED]: Seed "x" is not an integer.');
  });

  it('splits from the CLI', async () => {
    await addBigBandit('big', 200);
    const r = await cli(['datasets', 'split', 'big', '--ratios', '0.7,0.3', '--seed', '9', '--names', 'fit,holdout']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/fit\s+fit@1\s+0\.7000/);
    expect(r.out).toMatch(/holdout\s+holdout@1\s+0\.3000/);
    expect((await ws.resolve('holdout')).metadata.lineage.seed).toBe(9);
  });
});

describe('export', () => {
  it('writes Parquet, CSV and JSON Lines that read back to the same content', async () => {
    await addTraj();
    const v = await ws.resolve('traj');
    const outs: Record<string, string> = {};
    for (const format of ['parquet', 'csv', 'jsonl'] as const) {
      outs[format] = path.join(dir, 'out', `traj.${format}`);
      const r = await exportDataset(ws, 'traj', { format, out: outs[format]! });
      expect(r).toEqual({ ref: 'traj@1', format, out: outs[format], rows: 6 });
    }
    expect((await readdir(path.join(dir, 'out'))).sort()).toEqual(['traj.csv', 'traj.jsonl', 'traj.parquet']);
    const canon = `episode_id::BIGINT AS episode_id, step::INTEGER AS step, observation::FLOAT[] AS observation,
      next_observation::FLOAT[] AS next_observation, action::FLOAT[] AS action, reward::DOUBLE AS reward,
      terminated::BOOLEAN AS terminated, truncated::BOOLEAN AS truncated, corrupted::SMALLINT AS corrupted`;
    const stored = `SELECT ${canon} FROM read_parquet('${v.glob}')`;
    for (const [reader, file] of [
      ['read_parquet', outs.parquet],
      ['read_csv', outs.csv],
      ['read_json', outs.jsonl],
    ] as const) {
      const back = `SELECT ${canon} FROM ${reader}('${file}')`;
      const diff = await queryRows(conn, `SELECT count(*)::INTEGER AS n FROM ((${stored}) EXCEPT ALL (${back})) UNION ALL SELECT count(*)::INTEGER FROM ((${back}) EXCEPT ALL (${stored}))`);
      expect(diff.map((r) => r.n)).toEqual([0, 0]);
    }
    const csv = await readFile(outs.csv!, 'utf8');
    expect(csv.split('\n')[0]).toBe('episode_id,step,observation,next_observation,action,reward,terminated,truncated,corrupted');
    expect(csv.split('\n')[1]).toBe('0,0,"[0.0, 0.0]","[1.0, 0.0]","[0.5, -1.0]",1.0,false,false,0');
  });

  it('writes float32 vectors to CSV so that they read back bit for bit', async () => {
    await ws.createVersion({
      name: 'f32',
      conn,
      select: `SELECT i::BIGINT AS row_id, [0.1 * i, 1 / 3 + i, 16777217 + i, 1e-7 * i, -1e30]::FLOAT[] AS context, 0::INTEGER AS action,
                      (1 / 7)::DOUBLE * i AS reward, 0.3::DOUBLE AS propensity FROM range(50) t(i)`,
      metadata: { kind: 'bandit', lineage: { transform: 'test', params: {} } },
    });
    const out = path.join(dir, 'f32.csv');
    await exportDataset(ws, 'f32', { format: 'csv', out });
    const v = await ws.resolve('f32');
    const rows = await queryRows(
      conn,
      `SELECT count(*)::INTEGER AS n, count_if(a.context = b.context::FLOAT[] AND a.reward = b.reward)::INTEGER AS same
       FROM read_parquet('${v.glob}') a JOIN read_csv('${out}') b USING (row_id)`,
    );
    expect(rows).toEqual([{ n: 50, same: 50 }]);
  });

  it('rejects HDF5 for bandit logs, unknown formats, and leaves the target alone on failure', async () => {
    await addBandit();
    await expectError(
      exportDataset(ws, 'logs', { format: 'hdf5', out: path.join(dir, 'x.h5') }),
      'E_EXPORT_KIND',
      'Dataset logs@1 is a bandit log; D4RL-style HDF5 holds trajectories only. Export bandit logs as parquet, csv or jsonl.',
    );
    expect(existsSync(path.join(dir, 'x.h5'))).toBe(false);
    await expectError(exportDataset(ws, 'logs', { format: 'xlsx' as never, out: path.join(dir, 'x') }), 'E_EXPORT_FORMAT', 'Unknown export format "xlsx". Use one of: parquet, csv, jsonl, hdf5.');
    await expectError(exportDataset(ws, 'logs', { format: 'csv', out: '' }), 'E_EXPORT_OUT', 'No output file given. Pass --out FILE.');
    await expectError(queryToFile(ws, 'SELECT 1', { format: 'table' as never, out: path.join(dir, 't.txt') }), 'E_QUERY_FORMAT', 'The table format prints to the terminal');
    await expectError(exportDataset(ws, 'nope', { format: 'csv', out: path.join(dir, 'x.csv') }), 'E_DATASET_NOT_FOUND', 'Datasets here: logs.');
    const r = await cli(['datasets', 'export', 'logs', '--format', 'csv', '--out', path.join(dir, 'cli.csv')]);
    expect(r.out).toBe(`exported logs@1 (6 rows) to ${path.join(dir, 'cli.csv')}\n`);
    expect((await readFile(path.join(dir, 'cli.csv'), 'utf8')).split('\n')).toHaveLength(8);
  });
});

describe('rm', () => {
  it('removes a version or a dataset with --yes, and refuses without it off a terminal', async () => {
    await addBandit();
    await addBigBandit('logs', 10);
    await addTraj();
    const refused = await cli(['datasets', 'rm', 'logs']);
    expect(refused.code).toBe(2);
    expect(refused.err).toBe(
      'error [E_CONFIRM_REQUIRED]: Refusing to remove logs@1, logs@2 without confirmation. Pass --yes to remove without a prompt (needed when not running in a terminal).\n',
    );
    expect((await listDatasets(ws, { all: true })).length).toBe(3);
    const one = await cli(['datasets', 'rm', 'logs@1', '--yes']);
    expect(one.out).toBe('removed logs@1\n');
    expect((await listDatasets(ws, { all: true })).map((r) => r.ref)).toEqual(['logs@2', 'traj@1']);
    const all = await cli(['datasets', 'rm', 'logs', '-y']);
    expect(all.out).toBe('removed logs@2\n');
    expect((await listDatasets(ws, { all: true })).map((r) => r.ref)).toEqual(['traj@1']);
    expect(existsSync(path.join(ws.datasetsDir, 'logs'))).toBe(false);
    const missing = await cli(['datasets', 'rm', 'logs', '--yes']);
    expect(missing.err).toContain('error [E_DATASET_NOT_FOUND]: No dataset named "logs"');
    expect(missing.err).toContain('Datasets here: traj.');
    const missingNoYes = await cli(['datasets', 'rm', 'traj@4']);
    expect(missingNoYes.err).toContain('error [E_DATASET_NOT_FOUND]: Dataset "traj" has no version 4. Versions: 1.');
  });
});

describe('CLI registration', () => {
  it('registers every management command under datasets', () => {
    const datasets = buildProgram().commands.find((c) => c.name() === 'datasets')!;
    const names = datasets.commands.map((c) => c.name());
    for (const n of ['list', 'show', 'describe', 'query', 'split', 'export', 'rm']) expect(names).toContain(n);
  });

  it('prints describe as a table or JSON', async () => {
    await addBandit();
    const t = await cli(['datasets', 'describe', 'logs']);
    expect(t.out).toContain('By action');
    const j = JSON.parse((await cli(['datasets', 'describe', 'logs', '--json'])).out);
    expect(j.rows).toBe(6);
    expect(j.propensity.q25).toBeCloseTo(0.225, 12);
  });
});
