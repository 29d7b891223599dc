/**
 * The one place that opens DuckDB. Every query over datasets goes through an
 * in-process, in-memory DuckDB instance reading the Parquet part files; the
 * catalog file is opened separately by the workspace.
 */
import type { DuckDBConnection } from '@duckdb/node-api';

export type { DuckDBConnection } from '@duckdb/node-api';

type DuckDBApi = typeof import('@duckdb/node-api');
let duckdbApi: Promise<DuckDBApi> | null = null;

/** The DuckDB bindings, loaded on first use (the native module costs start-up that commands without data need not pay). */
export function loadDuckDB(): Promise<DuckDBApi> {
  return (duckdbApi ??= import('@duckdb/node-api'));
}

export async function openMemoryConnection(): Promise<DuckDBConnection> {
  const { DuckDBInstance } = await loadDuckDB();
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  return instance.connect();
}

/** Quotes an SQL identifier: my col -> "my col". */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes an SQL string literal: it's -> 'it''s'. */
export function lit(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Runs a query and returns its rows as plain JSON-safe objects (BIGINT -> string). */
export async function queryRows(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  const reader = await conn.runAndReadAll(sql);
  return reader.getRowObjectsJson() as Record<string, unknown>[];
}

/** Runs a query that returns a single row and gives it back as an object with JS values. */
export async function queryOne(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>> {
  const reader = await conn.runAndReadAll(sql);
  const rows = reader.getRowObjectsJS();
  if (rows.length === 0) throw new Error(`query returned no rows: ${sql}`);
  return rows[0] as Record<string, unknown>;
}

/** A Parquet scan over one version's part files. */
export function parquetScan(glob: string): string {
  return `read_parquet(${lit(glob)})`;
}
