/**
 * `datasets export REF --to clickhouse://HOST:PORT/DB.TABLE`: loads a stored
 * dataset version into a NEW ClickHouse table with matching types (BIGINT ->
 * Int64, DOUBLE -> Float64, FLOAT[] -> Array(Float32), ...; Nullable where the
 * version holds NULLs), so the table reads back the stored values bit for bit.
 *
 * A load is never half-visible under the target name: rows go into a fresh
 * temporary table (MergeTree ordered by row_id), which is verified (row count,
 * sum of row_id and action, sum of reward) against the version, and only then
 * renamed to the target. A failed or mismatching load drops the temporary table
 * and is retried once into another fresh one (18.16 can leave part of a failed
 * insert behind); the target is refused if it exists.
 */
import { randomBytes } from 'node:crypto';
import { OffpolicyError } from '../core/errors.js';
import { ClickhouseConnection, parseClickhouseUrl, type ClickhouseOptions } from './clickhouse.js';
import { lit, openMemoryConnection, queryOne, queryRows, type DuckDBConnection } from './duckdb.js';
import type { DatasetVersion, Workspace } from './workspace.js';

const SCALAR: Record<string, string> = {
  BIGINT: 'Int64',
  INTEGER: 'Int32',
  SMALLINT: 'Int16',
  TINYINT: 'Int8',
  UBIGINT: 'UInt64',
  UINTEGER: 'UInt32',
  USMALLINT: 'UInt16',
  UTINYINT: 'UInt8',
  DOUBLE: 'Float64',
  FLOAT: 'Float32',
  BOOLEAN: 'UInt8',
  VARCHAR: 'String',
};

/** The ClickHouse type of a DuckDB column type (lists of any depth), or null when there is none here. */
export function clickhouseType(duck: string): string | null {
  const list = /^(.*)\[\d*\]$/.exec(duck);
  if (list) {
    const inner = clickhouseType(list[1]!);
    return inner ? `Array(${inner})` : null;
  }
  return SCALAR[duck] ?? null;
}

export interface ClickhouseExportResult {
  ref: string;
  target: string;
  rows: number;
  /** Load attempts (2 when the first did not verify). */
  attempts: number;
}

/** Rows per INSERT. */
const BATCH = 50_000;

function jsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (Array.isArray(v)) return v.map(jsonValue);
  return v;
}

interface Checksum {
  n: bigint;
  rowIdSum: bigint;
  actionSum: bigint;
  rewardSum: number;
}

const MOD = 1n << 64n;
const wrap = (x: bigint): bigint => ((x % MOD) + MOD) % MOD;

async function versionChecksum(conn: DuckDBConnection, v: DatasetVersion, has: Set<string>): Promise<Checksum> {
  const r = await queryOne(
    conn,
    `SELECT count(*) AS n, ${has.has('row_id') ? 'sum(row_id)' : '0'} AS s, ${has.has('action') ? 'sum(action)' : '0'} AS a, ${has.has('reward') ? 'sum(reward::DOUBLE)' : '0'} AS r FROM read_parquet(${lit(v.glob)})`,
  );
  return { n: BigInt(String(r.n)), rowIdSum: wrap(BigInt(String(r.s ?? 0))), actionSum: wrap(BigInt(String(r.a ?? 0))), rewardSum: Number(r.r ?? 0) };
}

async function tableChecksum(ch: ClickhouseConnection, table: string, has: Set<string>): Promise<Checksum> {
  const r = (await ch.query(`SELECT count() AS n, ${has.has('row_id') ? 'sum(row_id)' : '0'} AS s, ${has.has('action') ? 'sum(action)' : '0'} AS a, ${has.has('reward') ? 'sum(toFloat64(reward))' : '0'} AS r FROM ${table}`))[0]!;
  return { n: BigInt(String(r.n)), rowIdSum: wrap(BigInt(String(r.s ?? 0))), actionSum: wrap(BigInt(String(r.a ?? 0))), rewardSum: Number(r.r ?? 0) };
}

function sameChecksum(a: Checksum, b: Checksum): boolean {
  const rel = Math.abs(a.rewardSum - b.rewardSum) <= 1e-9 * Math.max(1, Math.abs(a.rewardSum));
  return a.n === b.n && a.rowIdSum === b.rowIdSum && a.actionSum === b.actionSum && (rel || (Number.isNaN(a.rewardSum) && Number.isNaN(b.rewardSum)));
}

export interface ClickhouseExportOptions extends ClickhouseOptions {
  /** Test hook: called after each batch is inserted (e.g. to fail a load midway). */
  afterBatch?: (batch: number, table: string) => Promise<void>;
}

/** Loads `ref` into the table the clickhouse:// URL names (which must not exist yet). */
export async function exportToClickhouse(ws: Workspace, ref: string, to: string, opts: ClickhouseExportOptions = {}): Promise<ClickhouseExportResult> {
  const source = parseClickhouseUrl(to);
  const version = await ws.resolve(ref);
  const duck = await openMemoryConnection();
  const ch = ClickhouseConnection.open(source, opts);
  try {
    const target = ch.tableSql;
    const described = (await queryRows(duck, `DESCRIBE SELECT * FROM read_parquet(${lit(version.glob)})`)).map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
    const has = new Set(described.map((c) => c.name));
    if (!has.has('row_id')) throw new OffpolicyError('E_MISSING_COLUMN', `${version.ref} has no row_id column to order the table by.`, { hint: 'Export a stored bandit or trajectory version.' });
    const nulls = await queryOne(duck, `SELECT ${described.map((c, i) => `count(*) - count("${c.name.replaceAll('"', '""')}") AS n${i}`).join(', ')} FROM read_parquet(${lit(version.glob)})`);
    const defs = described.map((c, i) => {
      const t = clickhouseType(c.type);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(c.name)) throw new OffpolicyError('E_EXPORT_TYPE', `Column "${c.name}" of ${version.ref} has a name ClickHouse tables here do not take.`, { hint: 'Rename it (letters, digits and _).' });
      if (!t) throw new OffpolicyError('E_EXPORT_TYPE', `Column ${c.name} of ${version.ref} has type ${c.type}, which has no ClickHouse type here.`, { hint: 'Export numeric, text and list columns; drop or cast the others first.' });
      const hasNull = Number(nulls[`n${i}`]) > 0;
      if (hasNull && (t.startsWith('Array(') || c.name === 'row_id')) {
        throw new OffpolicyError('E_EXPORT_TYPE', `Column ${c.name} of ${version.ref} holds NULLs, which a ClickHouse ${t.startsWith('Array(') ? 'Array' : 'sorting key'} column cannot.`, { hint: 'Fill or drop those rows first.' });
      }
      return `${c.name} ${hasNull ? `Nullable(${t})` : t}`;
    });
    const exists = await ch.query(`SELECT count() AS c FROM system.tables WHERE database = '${source.database}' AND name = '${source.table}'`);
    if (Number(exists[0]!.c) > 0) {
      throw new OffpolicyError('E_CLICKHOUSE_TABLE_EXISTS', `${ch.ref} already exists; export loads into a new table.`, { hint: 'Pick another table name, or DROP TABLE it first.' });
    }
    const expected = await versionChecksum(duck, version, has);
    let lastError: unknown;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const tmp = `${source.database}.${source.table}__offpolicy_load_${randomBytes(4).toString('hex')}`;
      try {
        await ch.command(`CREATE TABLE ${tmp} (${defs.join(', ')}) ENGINE = MergeTree ORDER BY row_id`);
        let batch: Record<string, unknown>[] = [];
        let batches = 0;
        const flush = async (): Promise<void> => {
          if (batch.length === 0) return;
          await ch.insert(tmp, batch);
          batch = [];
          await opts.afterBatch?.(batches++, tmp);
        };
        const result = await duck.stream(`SELECT * FROM read_parquet(${lit(version.glob)})`);
        for await (const rows of result.yieldRowObjectJs()) {
          for (const row of rows) {
            const o: Record<string, unknown> = {};
            for (const [k, v] of Object.entries(row)) o[k] = jsonValue(v);
            batch.push(o);
          }
          if (batch.length >= BATCH) await flush();
        }
        await flush();
        const got = await tableChecksum(ch, tmp, has);
        if (!sameChecksum(expected, got)) {
          throw new OffpolicyError('E_CLICKHOUSE_LOAD', `The loaded table holds ${got.n} rows (checksum ${got.rowIdSum}/${got.actionSum}/${got.rewardSum}), the version ${expected.n} (${expected.rowIdSum}/${expected.actionSum}/${expected.rewardSum}).`, {
            hint: 'The load was dropped; run the export again.',
          });
        }
        await ch.command(`RENAME TABLE ${tmp} TO ${target}`);
        return { ref: version.ref, target: ch.ref, rows: Number(got.n), attempts: attempt };
      } catch (e) {
        lastError = e;
        await ch.command(`DROP TABLE IF EXISTS ${tmp}`).catch(() => {});
        // Only a load that ran and did not verify (or failed inside the server) is worth a second try.
        if (!(e instanceof OffpolicyError) || !['E_CLICKHOUSE_LOAD', 'E_CLICKHOUSE_QUERY'].includes(e.code)) throw e;
      }
    }
    throw lastError;
  } finally {
    duck.closeSync();
    await ch.close();
  }
}
