/**
 * The one place that opens DuckDB. Every query over datasets goes through an
 * in-process, in-memory DuckDB instance reading the Parquet part files; the
 * catalog file is opened separately by the workspace.
 */
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

export type { DuckDBConnection } from '@duckdb/node-api';

export async function openMemoryConnection(): Promise<DuckDBConnection> {
  const instance = await DuckDBInstance.create(':memory:', {
    threads: '2',
    autoload_known_extensions: 'false',
    autoinstall_known_extensions: 'false',
  });
  return instance.connect();
}

/**
 * A connection for user SQL (query, --where): it reads and writes only the
 * given directories and files; external access, extension loading and
 * installing are off and the configuration is locked, so no statement can
 * turn them back on. `setup` runs before the lock (e.g. to create views).
 */
export async function openLockedConnection(opts: {
  directories: string[];
  files?: string[];
  tempDirectory?: string;
  setup?: (conn: DuckDBConnection) => Promise<unknown>;
}): Promise<DuckDBConnection> {
  const instance = await DuckDBInstance.create(':memory:', {
    threads: '2',
    autoload_known_extensions: 'false',
    autoinstall_known_extensions: 'false',
  });
  const conn = await instance.connect();
  try {
    // DuckDB checks the path as written, before globbing: allow both the real and the escaped spelling.
    const dirs = [...new Set(opts.directories.flatMap((d) => [d.replace(/\/+$/, '') + '/', globEscape(d.replace(/\/+$/, '')) + '/']))];
    if (opts.tempDirectory) await conn.run(`SET temp_directory = ${lit(opts.tempDirectory)}`);
    await conn.run(`SET allowed_directories = [${dirs.map(lit).join(', ')}]`);
    await conn.run(`SET allowed_paths = [${(opts.files ?? []).map(lit).join(', ')}]`);
    await conn.run('SET enable_external_access = false');
    if (opts.setup) await opts.setup(conn);
    await conn.run('SET lock_configuration = true');
  } catch (e) {
    conn.closeSync();
    throw e;
  }
  return conn;
}

/** Escapes glob characters (*, ?, [, ]) so DuckDB matches a path literally. */
export function globEscape(p: string): string {
  return p.replace(/[[\]*?]/g, (c) => `[${c}]`);
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
