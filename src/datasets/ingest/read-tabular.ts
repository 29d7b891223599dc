/**
 * CSV, JSON Lines and Parquet go straight from the file into a DuckDB table
 * (read_csv / read_json / read_parquet): no per-value JS objects, and DuckDB
 * streams the file. The table keeps the input order, so its `rowid` is the
 * 0-based input row number (the `_row` of error messages).
 */
import { OffpolicyError } from '../../core/errors.js';
import { ident, lit, type DuckDBConnection } from '../duckdb.js';

export type TabularFormat = 'csv' | 'jsonl' | 'parquet';

/** The DuckDB table function that scans `file`. */
export function scanSql(format: TabularFormat, file: string): string {
  switch (format) {
    case 'csv': {
      // Strict: a row with too few or too many fields is an error, never silently padded or dropped.
      const delim = file.toLowerCase().endsWith('.tsv') ? '\t' : ',';
      return `read_csv(${lit(file)}, header = true, delim = ${lit(delim)}, strict_mode = true, null_padding = false, sample_size = 20480)`;
    }
    case 'jsonl':
      // 'auto': newline-delimited records, or one JSON array of records.
      return `read_json(${lit(file)}, format = 'auto', sample_size = 20480)`;
    case 'parquet':
      return `read_parquet(${lit(file)})`;
  }
}

/** Loads the whole file into `table` (input order preserved). */
export async function stageTabular(conn: DuckDBConnection, format: TabularFormat, file: string, table: string): Promise<void> {
  try {
    await conn.run(`CREATE OR REPLACE TABLE ${ident(table)} AS SELECT * FROM ${scanSql(format, file)}`);
  } catch (e) {
    throw readError(format, file, e);
  }
}

/** Wraps a reader failure (malformed CSV row, bad JSON, corrupt Parquet page) as a user-facing error. */
export function readError(format: string, file: string, e: unknown): OffpolicyError {
  const detail = ((e as Error).message ?? String(e)).split('\n').slice(0, 4).join(' ').trim();
  return new OffpolicyError('E_READ_FAILED', `Could not read "${file}" as ${format}: ${detail}`, {
    hint: 'Fix the file (or pass the right --format) and try again.',
    cause: e,
  });
}
