/**
 * CSV, JSON Lines and Parquet go straight from the file into a DuckDB table
 * (read_csv / read_json / read_parquet): no per-value JS objects, and DuckDB
 * streams the file. The table keeps the input order, so its `rowid` is the
 * 0-based input row number (the `_row` of error messages).
 */
import { OffpolicyError } from '../../core/errors.js';
import { ident, lit, queryRows, type DuckDBConnection } from '../duckdb.js';
import { assertNoNulByte, checkColumnNames, checkCsvHeader, firstRaggedCsvLine } from './input-guard.js';

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
  const delim = file.toLowerCase().endsWith('.tsv') ? '\t' : ',';
  if (format !== 'parquet') await assertNoNulByte(file);
  if (format === 'csv') await checkCsvHeader(file, delim);
  try {
    // The column count is checked on the schema before any row is loaded.
    const cols = await queryRows(conn, `DESCRIBE SELECT * FROM ${scanSql(format, file)}`);
    if (format === 'parquet') {
      // Parquet may repeat a name, which DuckDB renames: compare with the file's own schema.
      const schema = await queryRows(conn, `SELECT name, coalesce(num_children, 0)::INTEGER AS k FROM parquet_schema(${lit(file)})`);
      checkColumnNames(file, topLevelNames(schema.map((r) => ({ name: String(r.name), children: Number(r.k) }))));
    } else checkColumnNames(file, cols.map((r) => String(r.column_name)));
    await conn.run(`CREATE OR REPLACE TABLE ${ident(table)} AS SELECT * FROM ${scanSql(format, file)}`);
  } catch (e) {
    if (e instanceof OffpolicyError) throw e;
    if (format === 'csv') {
      const bad = await firstRaggedCsvLine(file, delim).catch(() => undefined);
      if (bad) {
        throw new OffpolicyError('E_READ_FAILED', `Could not read "${file}" as csv: line ${bad.line} has ${bad.fields} field${bad.fields === 1 ? '' : 's'}; the header has ${bad.expected}.`, {
          hint: 'Every CSV row needs one value per header column (leave a field empty for a missing value, e.g. "1,,3").',
          cause: e,
        });
      }
    }
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

/** The top-level column names of a flattened Parquet schema (depth-first; element 0 is the root). */
function topLevelNames(schema: { name: string; children: number }[]): string[] {
  const skip = (i: number): number => {
    let j = i + 1;
    for (let k = 0; k < (schema[i]?.children ?? 0); k++) j = skip(j);
    return j;
  };
  const out: string[] = [];
  for (let k = 0, i = 1; k < (schema[0]?.children ?? 0) && i < schema.length; k++) {
    out.push(schema[i]!.name);
    i = skip(i);
  }
  return out;
}
