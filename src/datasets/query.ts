/**
 * `query`: read-only SQL over the workspace's datasets. Each dataset is a view
 * on an in-memory DuckDB connection ("name" = latest version, "name@v" each
 * version), so `SELECT * FROM logs` and `SELECT * FROM "logs@2"` both work.
 *
 * One read-only statement is accepted (SELECT / WITH / FROM / VALUES, DESCRIBE,
 * SUMMARIZE, SHOW, EXPLAIN). The check uses both the leading keyword and
 * DuckDB's own parse of the statement, so `WITH x AS (...) DELETE ...`, COPY,
 * ATTACH, CREATE, SET and friends are refused before anything runs.
 */
import { StatementType } from '@duckdb/node-api';
import { OffpolicyError } from '../core/errors.js';
import { ident, lit, queryOne, queryRows, type DuckDBConnection } from './duckdb.js';
import { atomicTarget, COPY_OPTIONS } from './export.js';
import type { ColumnInfo } from './metadata.js';
import { skippedViews, type Workspace } from './workspace.js';
import { assertOutsideWorkspace } from './fs-guard.js';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export type QueryFormat = 'table' | 'csv' | 'json' | 'parquet';
export const QUERY_FORMATS: readonly QueryFormat[] = ['table', 'csv', 'json', 'parquet'];

const READ_ONLY_KEYWORDS = ['SELECT', 'WITH', 'FROM', 'VALUES', 'DESCRIBE', 'SUMMARIZE', 'SHOW', 'EXPLAIN'];

export interface QueryResult {
  columns: ColumnInfo[];
  /** JSON-safe rows (BIGINT and larger integers as strings). */
  rows: Record<string, unknown>[];
  /** True when the result had more rows than the limit asked for. */
  truncated: boolean;
}

interface CheckedStatement {
  /** The statement text without trailing semicolons and comments. */
  text: string;
  keyword: string;
}

/** Removes leading whitespace, comments and opening parentheses. */
function stripLeading(sql: string): string {
  let s = sql;
  for (;;) {
    const t = s.replace(/^[\s(]+/, '');
    if (t.startsWith('--')) {
      const nl = t.indexOf('\n');
      s = nl < 0 ? '' : t.slice(nl + 1);
    } else if (t.startsWith('/*')) {
      const end = t.indexOf('*/');
      s = end < 0 ? '' : t.slice(end + 2);
    } else return t;
  }
}

/**
 * Removes trailing whitespace, semicolons and comments. Scans the text once,
 * tracking string literals ('...'), quoted identifiers ("...") and comments, so a
 * "--" inside a string is kept and a quote inside a trailing comment is ignored.
 */
function stripTrailing(sql: string): string {
  let end = 0; // one past the last character that belongs to the statement
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      i = close < 0 ? sql.length : close + 2;
    } else if (c === "'" || c === '"') {
      // a doubled quote inside a literal escapes itself; an unclosed literal runs to the end
      let j = i + 1;
      for (;;) {
        const q = sql.indexOf(c, j);
        if (q < 0) {
          j = sql.length;
          break;
        }
        if (sql[q + 1] === c) j = q + 2;
        else {
          j = q + 1;
          break;
        }
      }
      i = j;
      end = j;
    } else {
      if (c !== ';' && !/\s/.test(c)) end = i + 1;
      i++;
    }
  }
  return sql.slice(0, end);
}

async function datasetNamesHint(ws: Workspace): Promise<string> {
  const versions = await ws.versions();
  if (versions.length === 0) return 'The workspace has no datasets yet: ingest or generate one first.';
  const names = [...new Set(versions.map((v) => v.name))];
  return `Datasets you can query: ${names.join(', ')} (latest) and ${versions.map((v) => ident(v.ref)).join(', ')}.`;
}

async function queryError(ws: Workspace, e: unknown, conn?: DuckDBConnection): Promise<OffpolicyError> {
  const raw = (e as Error).message ?? String(e);
  const missing = /Table with name ([^\s]+) does not exist/.exec(raw)?.[1];
  const skipped = conn ? (skippedViews.get(conn) ?? []) : [];
  const hit = missing ? skipped.find((r) => r === missing || r.slice(0, r.lastIndexOf('@')) === missing) : undefined;
  if (hit) {
    return new OffpolicyError('E_DATASET_DAMAGED', `Stored version ${hit} is damaged (its files do not match its metadata), so it cannot be queried.`, {
      hint: `Remove it (offpolicy datasets rm ${hit} --yes) and write it again; other datasets are not affected.`,
      cause: e,
    });
  }
  if (/file system operations are disabled|Permission Error/i.test(raw)) {
    return new OffpolicyError('E_QUERY_ACCESS', `The query may read only the workspace's datasets: ${raw.split('\n')[0]}`, {
      hint: await datasetNamesHint(ws),
      cause: e,
    });
  }
  // DuckDB messages span lines (error, candidates, "LINE 1: ..." and a caret line): keep them on one.
  const msg = ((e as Error).message ?? String(e))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^\^+$/.test(l))
    .join(' ')
    .replace(/[.!]?$/, '.');
  return new OffpolicyError('E_QUERY', `The query failed: ${msg}`, { hint: await datasetNamesHint(ws), cause: e });
}

/**
 * Checks that `sql` is one read-only statement and that it binds (tables and
 * columns exist). Throws E_QUERY_NOT_READ_ONLY or E_QUERY.
 */
export async function checkReadOnly(ws: Workspace, conn: DuckDBConnection, sql: string): Promise<CheckedStatement> {
  const text = stripTrailing(sql);
  const keyword = (/^[A-Za-z]+/.exec(stripLeading(text))?.[0] ?? '').toUpperCase();
  const refuse = (what: string) =>
    new OffpolicyError('E_QUERY_NOT_READ_ONLY', `Only read-only queries may run here, and this one is ${what}.`, {
      hint: `Start the statement with ${READ_ONLY_KEYWORDS.join(', ')}; stored versions are changed only by ingest, split, corrupt and rm.`,
    });
  if (!keyword) {
    throw new OffpolicyError('E_QUERY', 'The query is empty.', { hint: 'Pass one SQL statement, e.g. "SELECT count(*) FROM logs".' });
  }
  if (!READ_ONLY_KEYWORDS.includes(keyword)) throw refuse(`a ${keyword} statement`);
  // Parse without binding: json_serialize_sql accepts SELECT statements only
  // (DESCRIBE, SUMMARIZE and SHOW parse as SELECTs), so any write is caught here,
  // even one behind a WITH clause or after a semicolon.
  const inner = keyword === 'EXPLAIN' ? stripLeading(text).replace(/^EXPLAIN\s+(ANALY[SZ]E\s+)?/i, '') : text;
  let parsed: { error: boolean; error_type?: string; error_message?: string; statements?: unknown[] };
  try {
    const row = await queryRows(conn, `SELECT json_serialize_sql(${lit(inner)})::VARCHAR AS j`);
    parsed = JSON.parse(String(row[0]!.j)) as typeof parsed;
  } catch (e) {
    throw await queryError(ws, e, conn);
  }
  if (parsed.error) {
    if (/only select statements/i.test(parsed.error_message ?? '')) throw refuse('not a SELECT');
    throw await queryError(ws, new Error(parsed.error_message ?? 'the statement does not parse'), conn);
  }
  const count = parsed.statements?.length ?? 0;
  if (count !== 1) {
    throw new OffpolicyError('E_QUERY', `The query holds ${count} statements; one is expected.`, {
      hint: 'Run one statement at a time (combine them with WITH or subqueries).',
    });
  }
  let extracted;
  try {
    extracted = await conn.extractStatements(text);
  } catch (e) {
    throw await queryError(ws, e, conn);
  }
  let type: StatementType;
  try {
    const prepared = await extracted.prepare(0);
    type = prepared.statementType;
    prepared.destroySync();
  } catch (e) {
    throw await queryError(ws, e, conn);
  }
  if (type !== StatementType.SELECT && type !== StatementType.EXPLAIN) {
    throw refuse(`a ${StatementType[type] ?? 'non-SELECT'} statement`);
  }
  return { text, keyword };
}

/** The statement as a subquery COPY can take (DESCRIBE/SUMMARIZE/SHOW need a SELECT around them). */
function asSelect(stmt: CheckedStatement): string | null {
  if (stmt.keyword === 'EXPLAIN') return null;
  if (['DESCRIBE', 'SUMMARIZE', 'SHOW'].includes(stmt.keyword)) return `SELECT * FROM (\n${stmt.text}\n)`;
  return stmt.text;
}

async function withQueryConnection<T>(ws: Workspace, fn: (conn: DuckDBConnection) => Promise<T>, writable: string[] = []): Promise<T> {
  const conn = await ws.queryConnection({ writable });
  try {
    return await fn(conn);
  } finally {
    conn.closeSync();
  }
}

/**
 * Runs a read-only query and returns up to `limit` rows (default: all) as
 * JSON-safe objects with the result's column names and types.
 */
export async function queryDatasets(ws: Workspace, sql: string, opts: { limit?: number } = {}): Promise<QueryResult> {
  return withQueryConnection(ws, async (conn) => {
    const stmt = await checkReadOnly(ws, conn, sql);
    try {
      const limit = opts.limit;
      const reader =
        limit === undefined ? await conn.runAndReadAll(stmt.text) : await conn.runAndReadUntil(stmt.text, limit + 1);
      const columns = reader.columnNames().map((name, i) => ({ name, type: reader.columnTypes()[i]!.toString() }));
      let rows = reader.getRowObjectsJson() as Record<string, unknown>[];
      const truncated = limit !== undefined && rows.length > limit;
      if (truncated) rows = rows.slice(0, limit);
      return { columns, rows, truncated };
    } catch (e) {
      throw await queryError(ws, e, conn);
    }
  });
}

function checkFormat(format: string): asserts format is QueryFormat {
  if (!(QUERY_FORMATS as readonly string[]).includes(format)) {
    throw new OffpolicyError('E_QUERY_FORMAT', `Unknown query output format "${format}".`, {
      hint: `Use one of: ${QUERY_FORMATS.join(', ')}.`,
    });
  }
}

const COPY_FOR: Record<'csv' | 'json' | 'parquet', string> = {
  csv: COPY_OPTIONS.csv,
  json: COPY_OPTIONS.jsonArray,
  parquet: COPY_OPTIONS.parquet,
};

/**
 * Writes a read-only query's full result to `out` (atomically) as CSV (with a
 * header), JSON (one array of objects) or Parquet (zstd). Returns the row count.
 */
export async function queryToFile(
  ws: Workspace,
  sql: string,
  opts: { format: 'csv' | 'json' | 'parquet'; out: string },
): Promise<{ rows: number; out: string }> {
  checkFormat(opts.format);
  if (opts.format === ('table' as string)) {
    throw new OffpolicyError('E_QUERY_FORMAT', 'The table format prints to the terminal and cannot be written to a file.', {
      hint: 'Use --format csv, json or parquet with --out.',
    });
  }
  await assertOutsideWorkspace(ws.root, opts.out);
  return atomicTarget(opts.out, async (tmp) =>
    withQueryConnection(
      ws,
      async (conn) => {
        const stmt = await checkReadOnly(ws, conn, sql);
        let select = asSelect(stmt);
        try {
          if (select === null) {
            // EXPLAIN cannot be a subquery: run it, then write its (small) result from a temp table.
            const rows = await queryRows(conn, stmt.text);
            await rowsToTable(conn, 'explain_result', rows);
            select = 'SELECT * FROM explain_result';
          }
          const r = await queryOne(conn, `COPY (\n${select}\n) TO ${lit(tmp)} (${COPY_FOR[opts.format]})`);
          return { rows: Number(Object.values(r)[0] ?? 0), out: path.resolve(opts.out) };
        } catch (e) {
          if (e instanceof OffpolicyError) throw e;
          throw await queryError(ws, e, conn);
        }
      },
      [tmp],
    ),
  );
}

/** The query's full result as CSV or JSON text (what `query --format csv|json` prints). */
export async function queryToText(ws: Workspace, sql: string, format: 'csv' | 'json'): Promise<string> {
  checkFormat(format);
  const tmp = path.join(tmpdir(), `offpolicy-query-${process.pid}-${randomBytes(4).toString('hex')}.${format}`);
  try {
    await queryToFile(ws, sql, { format, out: tmp });
    return await readFile(tmp, 'utf8');
  } finally {
    await rm(tmp, { force: true });
  }
}

async function rowsToTable(conn: DuckDBConnection, table: string, rows: Record<string, unknown>[]): Promise<void> {
  const cols = Object.keys(rows[0] ?? { result: '' });
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${ident(table)} (${cols.map((c) => `${ident(c)} VARCHAR`).join(', ')})`);
  for (const r of rows) {
    await conn.run(`INSERT INTO ${ident(table)} VALUES (${cols.map((c) => (r[c] === null || r[c] === undefined ? 'NULL' : lit(String(r[c])))).join(', ')})`);
  }
}

/**
 * Checks that `where` is one boolean SQL expression (what `train --where`
 * takes) using DuckDB's own parser: `SELECT 1 WHERE (<where>)` must parse as
 * exactly one plain SELECT with nothing but that WHERE clause, so a second
 * statement, a UNION, ORDER BY or a comment swallowing the closing parenthesis
 * is refused (E_WHERE). Returns the expression in parentheses. Run the query
 * that uses it on a locked connection (Workspace.queryConnection): a subquery
 * inside the expression may still read, but only the workspace's datasets.
 */
export async function checkWhereExpression(conn: DuckDBConnection, where: string): Promise<string> {
  const refuse = (why: string) =>
    new OffpolicyError('E_WHERE', `--where "${where}" is not a single SQL condition: ${why}.`, {
      hint: 'Pass one boolean expression over the dataset\'s columns, e.g. --where "episode_id < 100".',
    });
  if (where.trim() === '') throw refuse('it is empty');
  let parsed: { error: boolean; error_message?: string; statements?: { node: Record<string, unknown> }[] };
  try {
    const row = await queryRows(conn, `SELECT json_serialize_sql(${lit(`SELECT 1 WHERE (${where})`)})::VARCHAR AS j`);
    parsed = JSON.parse(String(row[0]!.j)) as typeof parsed;
  } catch (e) {
    throw refuse((e as Error).message.split('\n')[0]!);
  }
  if (parsed.error) throw refuse(parsed.error_message?.split('\n')[0] ?? 'it does not parse');
  if ((parsed.statements?.length ?? 0) !== 1) throw refuse(`it holds ${parsed.statements?.length ?? 0} statements`);
  const n = parsed.statements![0]!.node;
  const empty = (x: unknown) => x === null || x === undefined || (Array.isArray(x) && x.length === 0);
  const ok =
    n.type === 'SELECT_NODE' &&
    (n.from_table as { type?: string } | undefined)?.type === 'EMPTY' &&
    (n.select_list as unknown[]).length === 1 &&
    empty(n.modifiers) &&
    empty((n.cte_map as { map?: unknown[] } | undefined)?.map) &&
    empty(n.group_expressions) &&
    empty(n.having) &&
    empty(n.qualify) &&
    empty(n.sample) &&
    !empty(n.where_clause);
  if (!ok) throw refuse('it reaches outside the condition (a UNION, ORDER BY, LIMIT or similar)');
  return `(${where})`;
}
