/**
 * Optional: when the `chdb` package (embedded current ClickHouse) is installed,
 * the ClickHouse dialect's scan runs there too and gives DuckDB's sums. chdb is
 * not a dependency: without it this file skips.
 */
import { describe, expect, it } from 'vitest';
import { duckdbRunner } from '../src/ope/bandit/backend-duckdb.js';
import { sqlCandidateSums, type SqlRunner } from '../src/ope/bandit/backend-sql.js';
import { CLICKHOUSE, DUCKDB } from '../src/ope/bandit/sql-dialect.js';
import { resolveParams } from '../src/ope/estimators/index.js';
import { ESTIMATOR_IDS } from '../src/ope/estimators/index.js';
import { openMemoryConnection } from '../src/datasets/duckdb.js';
import type { ScanInput } from '../src/ope/bandit/scan-sql.js';

type Chdb = { query: (sql: string, format?: string) => string };
const MODULE = 'chdb';
const chdb: Chdb | null = await import(/* @vite-ignore */ MODULE).then(
  (m: unknown) => ((m as { default?: Chdb }).default ?? (m as Chdb)),
  () => null,
);

/** 40 rows, K = 3, as one VALUES list both engines read. */
const rows = Array.from({ length: 40 }, (_, i) => {
  const a = i % 3;
  const pi0 = [0.5, 0.3, 0.2];
  const cand = [0.2 + 0.01 * (i % 5), 0.5, 0.3 - 0.01 * (i % 5)];
  return { row_id: i, action: a, reward: (i * 7) % 5 === 0 ? 1 : 0, propensity: pi0[a]!, action_probs: pi0, cand, q: [0.3, 0.5, 0.4] };
});
const tuple = (r: (typeof rows)[number], list: (v: number[]) => string): string =>
  `(${r.row_id}, ${r.action}, ${r.reward}, ${r.propensity}, ${list(r.action_probs)}, ${list(r.cand)}, ${list(r.q)})`;

function input(from: string): ScanInput {
  return {
    table: { from, rowCount: rows.length },
    candidate: { type: 'sql', name: 'cand', source: 'column:cand', probs: { kind: 'list', expr: 'l.cand' } },
    numActions: 3,
    plan: { estimators: ESTIMATOR_IDS, params: resolveParams({ clip: 4 }, rows.length), tau: 0.25, quantiles: [0.1, 0.5, 0.9], rewardsMayBeNull: false, rewardShift: 0 },
    rewardHat: { kind: 'list', expr: 'l.q' },
    loggingProbs: { kind: 'list', expr: 'l.action_probs' },
  };
}

describe.skipIf(chdb === null)('the ClickHouse dialect on chdb (current ClickHouse)', () => {
  it('gives the DuckDB sums', async () => {
    const conn = await openMemoryConnection();
    try {
      const duckFrom = `(SELECT * FROM (VALUES ${rows.map((r) => tuple(r, (v) => `[${v.join(', ')}]::DOUBLE[]`)).join(', ')}) t(row_id, action, reward, propensity, action_probs, cand, q)) AS l`;
      const want = await sqlCandidateSums(duckdbRunner(conn), DUCKDB, input(duckFrom));
      const chFrom = `values('row_id Int64, action Int32, reward Float64, propensity Float64, action_probs Array(Float64), cand Array(Float64), q Array(Float64)', ${rows.map((r) => tuple(r, (v) => `[${v.join(', ')}]`)).join(', ')}) AS l`;
      const run: SqlRunner = async (sql) =>
        chdb!
          .query(sql, 'JSONEachRow')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      const got = await sqlCandidateSums(run, CLICKHOUSE, input(chFrom));
      expect(got.record.n).toBe(want.record.n);
      for (const id of ESTIMATOR_IDS) {
        const a = got.record.estimators.get(id)!, b = want.record.estimators.get(id)!;
        for (const k of Object.keys(b) as (keyof typeof b)[]) expect(a[k]).toBeCloseTo(b[k], 10);
      }
      expect(got.record.weights.quantiles).toEqual(want.record.weights.quantiles);
    } finally {
      conn.closeSync();
    }
  });
});
