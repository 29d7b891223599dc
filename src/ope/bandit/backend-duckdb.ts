/**
 * The DuckDB backend: the SQL backend (./backend-sql.ts) over the Parquet files
 * of a stored version, joined with a candidate table when the candidate is one;
 * and the free bounds the Parquet footers give.
 */
import { lit, type DuckDBConnection } from '../../datasets/duckdb.js';
import type { DatasetVersion } from '../../datasets/workspace.js';
import { sqlCandidateSums, type SqlRunner, type SqlScanResult } from './backend-sql.js';
import type { ScanInput } from './scan-sql.js';
import { DUCKDB } from './sql-dialect.js';

export type DuckdbScanResult = SqlScanResult;

/** A SqlRunner over a DuckDB connection (JS values: BIGINT bit masks arrive as bigint, lists as arrays). */
export function duckdbRunner(conn: DuckDBConnection): SqlRunner {
  return async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

/** One candidate's record of sums from one DuckDB scan (./backend-sql.ts). */
export function duckdbCandidateSums(conn: DuckDBConnection, input: ScanInput): Promise<DuckdbScanResult> {
  return sqlCandidateSums(duckdbRunner(conn), DUCKDB, input);
}

/**
 * Min and max of Parquet leaf columns of the log (path_in_schema, e.g. "reward" or
 * "cand, list, element") from the footer statistics: free bounds, exact for files
 * DuckDB writes. A column with a row group lacking a statistic is left out.
 */
export async function footerStats(conn: DuckDBConnection, log: DatasetVersion, paths: readonly string[]): Promise<Map<string, { min: number; max: number }>> {
  const out = new Map<string, { min: number; max: number }>();
  if (paths.length === 0) return out;
  const rows = (
    await conn.runAndReadAll(
      `SELECT path_in_schema AS path, count(*) AS groups,
              count(TRY_CAST(stats_min_value AS DOUBLE)) AS nmin, count(TRY_CAST(stats_max_value AS DOUBLE)) AS nmax,
              min(TRY_CAST(stats_min_value AS DOUBLE)) AS lo, max(TRY_CAST(stats_max_value AS DOUBLE)) AS hi
       FROM parquet_metadata(${lit(log.glob)}) WHERE path_in_schema IN (${paths.map(lit).join(', ')}) GROUP BY path_in_schema`,
    )
  ).getRowObjectsJS() as Record<string, unknown>[];
  for (const r of rows) {
    const groups = Number(r.groups);
    const lo = Number(r.lo), hi = Number(r.hi);
    if (groups > 0 && Number(r.nmin) === groups && Number(r.nmax) === groups && !Number.isNaN(lo) && !Number.isNaN(hi)) out.set(String(r.path), { min: lo, max: hi });
  }
  return out;
}

