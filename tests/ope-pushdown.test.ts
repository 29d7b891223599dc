import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMemoryConnection, queryOne, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { Workspace, type DatasetVersion } from '../src/datasets/workspace.js';
import { ESTIMATOR_IDS, resolveParams } from '../src/ope/estimators/index.js';
import { sortedQuantile } from '../src/ope/intervals/bootstrap.js';
import { logSummaryFromGroups, logSummarySelect } from '../src/ope/log-summary.js';
import { duckdbCandidateSums, footerStats, type DuckdbScanResult } from '../src/ope/bandit/backend-duckdb.js';
import type { BanditPlan } from '../src/ope/bandit/plan.js';
import { buildScan, type ScanInput } from '../src/ope/bandit/scan-sql.js';
import { DUCKDB } from '../src/ope/bandit/sql-dialect.js';
import { DEFAULT_WEIGHT_QUANTILES as WEIGHT_QUANTILES, weightHistogram } from '../src/ope/diagnostics.js';
import { candidateLeafPaths, candidateRowChecks, type Candidate } from '../src/policies/candidates.js';
import { storeFastLog } from './ope-fastpath-helpers.js';

let dir: string;
let ws: Workspace;
let conn: DuckDBConnection;
let cont: DatasetVersion;
let atoms: DatasetVersion;

const listCand = (col: string): Candidate & { type: 'sql' } => ({ type: 'sql', name: col, source: `column:${col}`, probs: { kind: 'list', expr: `l."${col}"` } });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-pushdown-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  conn = await openMemoryConnection();
  await storeFastLog(ws, conn, 'cont', { n: 2000, k: 4, seed: 9 });
  cont = await ws.resolve('cont');
  // 3,000 rows, K = 2, p = 0.5: weights take three values only (0.4, 1, 1.6).
  await ws.createVersion({
    name: 'atoms',
    conn,
    select: `SELECT i::BIGINT AS row_id, 0::INTEGER AS action, (i % 2)::DOUBLE AS reward, 0.5::DOUBLE AS propensity,
                    CASE i % 3 WHEN 0 THEN [0.2, 0.8] WHEN 1 THEN [0.5, 0.5] ELSE [0.8, 0.2] END::DOUBLE[] AS cand
             FROM range(3000) t(i)`,
    metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: 2 }, lineage: { transform: 'test', params: {} } },
  });
  atoms = await ws.resolve('atoms');
});
afterAll(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

function input(log: DatasetVersion, cand: string, extra: Partial<ScanInput> = {}, plan: Partial<BanditPlan> = {}): ScanInput {
  const k = log.metadata.actionSpace!.type === 'discrete' ? (log.metadata.actionSpace as { n: number }).n : 0;
  const params = resolveParams({ clip: 10 }, log.metadata.rowCount);
  return { log, candidate: listCand(cand), numActions: k, plan: { estimators: ['ips', 'snips'], params, tau: 0.1, quantiles: WEIGHT_QUANTILES, rewardsMayBeNull: false, rewardShift: 0, ...plan }, ...extra };
}
const scanSql = (x: ScanInput): string => buildScan(DUCKDB, x).sql;
const histogram = (res: DuckdbScanResult): { start: number; end: number; count: number }[] => weightHistogram(res.record.weights.histogram, res.record.weights.maxWeight);

/** The weights as DuckDB stores them, sorted, and their quantiles by sortedQuantile (the in-memory path's definition). */
async function expectedQuantiles(log: DatasetVersion, cand: string): Promise<number[]> {
  const row = await queryOne(conn, `SELECT list_sort(list(l."${cand}"[l.action + 1] / l.propensity)) AS w FROM read_parquet('${log.glob}') AS l`);
  const sorted = Float64Array.from((row.w as number[]).map(Number));
  return WEIGHT_QUANTILES.map((q) => sortedQuantile(sorted, q));
}

describe('exact weight quantiles', () => {
  it('take a second, narrow query when order statistics fall inside a bin of distinct weights', async () => {
    // `near` puts every weight within 1e-4 of 1: two 0.27%-wide bins hold all 2,000 distinct values.
    const res = await duckdbCandidateSums(conn, input(cont, 'near'));
    expect(res.quantileScan).toBe(true);
    expect(res.record.weights.quantiles.map((q) => q.value)).toEqual(await expectedQuantiles(cont, 'near'));
    expect(histogram(res).reduce((s, b) => s + b.count, 0)).toBe(2000);
  });

  it('come straight from the bins when each holds one distinct weight', async () => {
    const res = await duckdbCandidateSums(conn, input(atoms, 'cand'));
    expect(res.quantileScan).toBe(false);
    const want = await expectedQuantiles(atoms, 'cand');
    expect(res.record.weights.quantiles.map((q) => q.value)).toEqual(want);
    // 1,000 rows each of 0.4, 1 and 1.6: q = 0.5 is the 1,500th smallest of 3,000, interpolated halfway between two 1s
    expect(res.record.weights.quantiles.find((q) => q.q === 0.5)!.value).toBe(1);
    expect(res.record.weights.quantiles.find((q) => q.q === 0.25)!.value).toBe(0.4);
    // octave bins [0.25, 0.5), [1, 2): 1,000 and 2,000 rows; the last bin ends at the largest weight
    expect(histogram(res)).toEqual([
      { start: 0.25, end: 0.5, count: 1000 },
      { start: 1, end: 1.6, count: 2000 },
    ]);
    expect(res.record.weights.maxWeight).toBe(1.6);
  });

  it('agree with the sorted weights on a spread-out candidate', async () => {
    const res = await duckdbCandidateSums(conn, input(cont, 'far'));
    expect(res.record.weights.quantiles.map((q) => q.value)).toEqual(await expectedQuantiles(cont, 'far'));
  });
});

describe('the scan', () => {
  const all = (log: DatasetVersion, extra: Partial<ScanInput> = {}): ScanInput => input(log, 'far', { rewardHat: { kind: 'list', expr: 'l."q"' }, ...extra }, { estimators: ESTIMATOR_IDS });

  it('lets clipped IPS and Switch-DR share IPS and DR sums when a proven weight bound is <= L', async () => {
    const open = scanSql(all(cont));
    expect(open).toMatch(/least\(\(w\), CAST\(10 AS DOUBLE\)\)/);
    expect(open).toMatch(/CASE WHEN \(w\) <= CAST\(10 AS DOUBLE\)/);
    expect(open).toMatch(/greatest\(p, CAST\(0\.1 AS DOUBLE\)\)/);
    const proven = scanSql(all(cont, { bounds: { maxWeight: 10, minPropensity: 0.1 } }));
    expect(proven).not.toMatch(/least\(/);
    expect(proven).not.toMatch(/CASE WHEN \(w\) <=/);
    expect(proven).not.toMatch(/greatest\(p/);
    expect(proven.match(/sum\(/g)!.length).toBeLessThan(open.match(/sum\(/g)!.length - 5);
    // A bound above L changes nothing.
    expect(scanSql(all(cont, { bounds: { maxWeight: 10.5, minPropensity: 0.05 } }))).toBe(open);
  });

  it('computes the same sums either way (the bound only removes duplicate work)', async () => {
    // atoms: every weight <= 1.6 and p = 0.5 >= tau, so the shortcut is exact there.
    const ids = ['ips', 'clipped-ips', 'dr', 'switch-dr'] as const;
    const plan = { estimators: [...ids], tau: 0.1, rewardShift: 0.25 };
    const rewardHat = { kind: 'list' as const, expr: 'l."cand"' };
    const a = (await duckdbCandidateSums(conn, input(atoms, 'cand', { rewardHat }, plan))).record;
    const b = (await duckdbCandidateSums(conn, input(atoms, 'cand', { rewardHat, bounds: { maxWeight: 1.6, minPropensity: 0.5 } }, plan))).record;
    for (const id of ids) {
      const x = a.estimators.get(id)!, y = b.estimators.get(id)!;
      for (const key of Object.keys(x) as (keyof typeof x)[]) expect(Math.abs(x[key] - y[key]), `${id}.${key}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(x[key])));
    }
    expect(b.clippedRisk!.sumV).toBeCloseTo(a.clippedRisk!.sumV, 9);
    expect(b.clippedRisk!.sumShiftedRewardV).toBeCloseTo(a.clippedRisk!.sumShiftedRewardV, 9);
    expect(b.estimators.get('clipped-ips')).toEqual(b.estimators.get('ips'));
  });

  it('reads free bounds from the Parquet footers', async () => {
    const leaves = candidateLeafPaths(listCand('far'))!;
    expect(leaves).toEqual(['far, list, element']);
    const stats = await footerStats(conn, cont, ['reward', 'propensity', ...leaves, 'nope']);
    const row = await queryOne(conn, `SELECT min(reward) AS r0, max(reward) AS r1, min(propensity) AS p0, min(list_min(far)) AS f0, max(list_max(far)) AS f1 FROM read_parquet('${cont.glob}')`);
    expect(stats.get('reward')).toEqual({ min: Number(row.r0), max: Number(row.r1) });
    expect(stats.get('propensity')!.min).toBe(Number(row.p0));
    expect(stats.get('far, list, element')).toEqual({ min: Number(row.f0), max: Number(row.f1) });
    expect(stats.has('nope')).toBe(false);
    expect(candidateLeafPaths({ ...listCand('far'), relation: "read_parquet('x.parquet')" })).toBeNull();
  });

  it('folds the candidate checks into cheap per-row tests', () => {
    const cand = listCand('far');
    expect(Object.keys(candidateRowChecks(cand, 4))).toEqual(['chk_sum', 'chk_negative']);
    expect(Object.keys(candidateRowChecks(cand, 4, { nonNegative: true }))).toEqual(['chk_sum']);
    // the sum is a dot product with ones, not DuckDB's slower list_sum
    expect(candidateRowChecks(cand, 4).chk_sum).toMatch(/list_dot_product\(\(l\."far"\)::DOUBLE\[\], \(\[1\.0, 1\.0, 1\.0, 1\.0\]\)::DOUBLE\[\]\)/);
  });
});

describe('the log summary merges across groups', () => {
  it('gives the same numbers grouped and ungrouped (K = 70: two action bit masks; NULL rewards)', async () => {
    await conn.run(`CREATE OR REPLACE TABLE s AS SELECT i::BIGINT AS row_id, ((i * 7) % 69)::INTEGER AS action,
                      CASE WHEN i % 13 = 0 THEN NULL ELSE 1000 + (i % 17) / 16.0 END::DOUBLE AS reward,
                      (0.01 + (i % 97) / 100.0)::DOUBLE AS propensity FROM range(5000) t(i)`);
    const cols = { reward: 'reward', action: 'action', propensity: 'propensity', rowId: 'row_id' };
    const select = logSummarySelect(cols, 5000, 70, 1000).join(', ');
    const one = logSummaryFromGroups([await queryOne(conn, `SELECT ${select} FROM s`)], 70, 1000);
    const groups = (await conn.runAndReadAll(`SELECT ${select} FROM s GROUP BY row_id % 7`)).getRowObjectsJS() as Record<string, unknown>[];
    const many = logSummaryFromGroups(groups, 70, 1000);
    const ref = await queryOne(conn, `SELECT avg(reward) AS m, stddev_samp(reward) AS sd, min(reward) AS lo, max(reward) AS hi, count(DISTINCT action) AS a,
                                             min(propensity) AS p0, quantile_cont(propensity, [0.01, 0.5]) AS pq, count(reward) AS nr, sum(reward) AS s FROM s`);
    for (const got of [one, many]) {
      expect(got.summary.rewardMean).toBeCloseTo(Number(ref.m), 10);
      expect(got.summary.rewardStd).toBeCloseTo(Number(ref.sd), 12);
      expect(got.summary.rewardMin).toBe(Number(ref.lo));
      expect(got.summary.rewardMax).toBe(Number(ref.hi));
      expect(got.summary.actionsSeen).toBe(Number(ref.a));
      expect(got.summary.actionsSeen).toBe(69);
      expect(got.summary.propensityMin).toBe(Number(ref.p0));
      expect(got.summary.propensityQ01).toBeCloseTo(Number((ref.pq as number[])[0]), 14);
      expect(got.summary.propensityMedian).toBeCloseTo(Number((ref.pq as number[])[1]), 14);
      // the logging value's sums: over the observed rewards only (a NULL is never a 0)
      expect(got.sums.n).toBe(Number(ref.nr));
      expect(got.sums.n).toBe(5000 - Math.ceil(5000 / 13));
      expect(got.sums.sumNum).toBeCloseTo(Number(ref.s), 6);
    }
    expect(many.summary.rewardStd).toBeCloseTo(one.summary.rewardStd!, 12);
  });

  it('orders NaN above every reward, as DuckDB does (min skips it, max is NaN)', () => {
    const row = (rmin: number, rmax: number) => ({ ls_n: 1, ls_nr: 1, ls_s1: 0, ls_s2: 0, ls_rmin: rmin, ls_rmax: rmax, ls_aw0: 1n });
    const s = logSummaryFromGroups([row(0.5, 0.9), row(NaN, NaN), row(0.2, 0.3)], 2);
    expect(s.minReward).toBe(0.2);
    expect(s.maxReward).toBeNaN();
  });
});
