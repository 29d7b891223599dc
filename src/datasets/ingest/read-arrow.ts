/**
 * Arrow IPC (file and stream format) into a DuckDB table, one record batch at
 * a time. Numeric, boolean and equal-length numeric list columns go through
 * typed arrays (arraysToTable copies them into DuckDB's vector buffers, no
 * per-value JS objects); strings, dictionaries, ragged lists and other types
 * go through a per-value appender into a VARCHAR side table, joined back by
 * position and cast in SQL. Timestamps keep millisecond precision.
 */
import { open } from 'node:fs/promises';
import { DataType, RecordBatchReader, type Data, type RecordBatch } from 'apache-arrow';
import { OffpolicyError } from '../../core/errors.js';
import { ident, type DuckDBConnection } from '../duckdb.js';
import { arraysToTable, type ArrayColumn, type ScalarSqlType } from '../from-arrays.js';
import { readError } from './read-tabular.js';

type Typed = ArrayColumn['data'];

function validityOf(data: Data): Uint8Array | undefined {
  if (data.nullCount === 0 || !data.nullBitmap) return undefined;
  const nulls = new Uint8Array(data.length);
  const bm = data.nullBitmap;
  for (let i = 0; i < data.length; i++) {
    const bit = data.offset + i;
    if (((bm[bit >> 3]! >> (bit & 7)) & 1) === 0) nulls[i] = 1;
  }
  return nulls;
}

/** Scalar numeric data as (typed array, SQL type), or undefined for other types. */
function numericValues(data: Data): { values: Typed; type: ScalarSqlType } | undefined {
  const t = data.type;
  // Value buffers of sliced Data start at the slice; only bit-packed buffers go by `offset`.
  const from = 0;
  const to = data.length;
  if (DataType.isFloat(t)) {
    const v = data.values as Float32Array | Float64Array | Uint16Array;
    if (v instanceof Float64Array) return { values: v.subarray(from, to), type: 'DOUBLE' };
    if (v instanceof Float32Array) return { values: v.subarray(from, to), type: 'FLOAT' };
    return undefined; // half floats: generic path
  }
  if (DataType.isInt(t)) {
    const v = data.values as ArrayLike<number | bigint> & { subarray(a: number, b: number): ArrayLike<number | bigint> };
    if (t.bitWidth === 64) {
      const src = v.subarray(from, to) as BigInt64Array | BigUint64Array;
      const out = new Float64Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]!);
      return { values: out, type: 'BIGINT' };
    }
    if (t.bitWidth === 32 && !t.isSigned) return { values: Float64Array.from(v.subarray(from, to) as Uint32Array), type: 'BIGINT' };
    return { values: Int32Array.from(v.subarray(from, to) as ArrayLike<number>), type: 'INTEGER' };
  }
  if (DataType.isBool(t)) {
    const bm = data.values as Uint8Array;
    const out = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const bit = data.offset + i;
      out[i] = (bm[bit >> 3]! >> (bit & 7)) & 1;
    }
    return { values: out, type: 'BOOLEAN' };
  }
  return undefined;
}

function elementSqlType(child: DataType): string {
  if (DataType.isFloat(child)) return child.precision === 1 ? 'FLOAT' : 'DOUBLE';
  if (DataType.isInt(child)) return 'BIGINT';
  if (DataType.isBool(child)) return 'BOOLEAN';
  return 'VARCHAR';
}

/** Equal-length numeric lists (no NULL rows) as one flat typed array of width w. */
function flatList(data: Data): { values: Typed; type: ScalarSqlType; width: number } | undefined {
  if (data.nullCount > 0) return undefined;
  const child = data.children[0];
  if (!child || child.nullCount > 0) return undefined;
  let start: number;
  let width: number;
  if (DataType.isFixedSizeList(data.type)) {
    width = data.type.listSize;
    start = 0; // slicing a fixed-size list slices its child too
  } else if (DataType.isList(data.type)) {
    const offs = data.valueOffsets as Int32Array; // sliced with the list; values index the unsliced child
    width = offs[1]! - offs[0]!;
    for (let i = 1; i <= data.length; i++) if (offs[i]! - offs[i - 1]! !== width) return undefined;
    start = offs[0]!;
  } else return undefined;
  if (width < 1) return undefined;
  const whole = numericValues(child.slice(start, data.length * width) as Data);
  if (!whole || whole.type === 'BOOLEAN' || whole.type === 'BIGINT') return undefined;
  return { values: whole.values, type: whole.type, width };
}

function generic(vecGet: (i: number) => unknown, n: number, list: boolean): (string | null)[] {
  const out: (string | null)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const v = vecGet(i);
    if (v === null || v === undefined) out[i] = null;
    else if (list) out[i] = JSON.stringify(Array.from(v as Iterable<unknown>, (x) => (typeof x === 'bigint' ? Number(x) : x)));
    else if (typeof v === 'string') out[i] = v;
    else if (v instanceof Date) out[i] = v.toISOString();
    else if (typeof v === 'bigint') out[i] = v.toString();
    else out[i] = typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  return out;
}

async function loadBatch(conn: DuckDBConnection, batch: RecordBatch, table: string, first: boolean): Promise<void> {
  const n = batch.numRows;
  const typed: ArrayColumn[] = [];
  const text: { name: string; values: (string | null)[] }[] = [];
  const exprs: string[] = [];
  batch.schema.fields.forEach((field, i) => {
    const vec = batch.getChildAt(i)!;
    const data = vec.data[0]! as Data;
    const out = ident(field.name);
    const t = field.type as DataType;
    if (DataType.isTimestamp(t)) {
      const ms = new Float64Array(n);
      for (let r = 0; r < n; r++) ms[r] = Number(vec.get(r) ?? 0);
      typed.push({ name: `c${i}`, type: 'DOUBLE', data: ms, ...(validityOf(data) ? { nulls: validityOf(data)! } : {}) });
      exprs.push(`make_timestamp((c${i} * 1000)::BIGINT) AS ${out}`);
      return;
    }
    const num = numericValues(data);
    if (num) {
      const nulls = validityOf(data);
      typed.push({ name: `c${i}`, type: num.type, data: num.values, ...(nulls ? { nulls } : {}) });
      exprs.push(`c${i} AS ${out}`);
      return;
    }
    const isList = DataType.isList(t) || DataType.isFixedSizeList(t);
    if (isList) {
      const elem = elementSqlType((t as DataType & { children: { type: DataType }[] }).children[0]!.type);
      const flat = flatList(data);
      if (flat) {
        typed.push({ name: `c${i}`, type: flat.type, data: flat.values, width: flat.width });
        exprs.push(flat.width === 1 ? `[c${i}]::${elem}[] AS ${out}` : `c${i}::${elem}[] AS ${out}`);
        return;
      }
      text.push({ name: `g${i}`, values: generic((r) => vec.get(r), n, true) });
      exprs.push(`try_cast(g${i} AS ${elem}[]) AS ${out}`);
      return;
    }
    text.push({ name: `g${i}`, values: generic((r) => vec.get(r), n, false) });
    exprs.push(`g${i} AS ${out}`);
  });
  const numTable = `${table}__batch_num`;
  const textTable = `${table}__batch_text`;
  const sources: string[] = [];
  if (typed.length > 0) {
    await arraysToTable(conn, numTable, n, typed);
    sources.push(ident(numTable));
  }
  if (text.length > 0) {
    await conn.run(`CREATE OR REPLACE TEMP TABLE ${ident(textTable)} (${text.map((t) => `${t.name} VARCHAR`).join(', ')})`);
    const app = await conn.createAppender(textTable);
    for (let r = 0; r < n; r++) {
      for (const t of text) {
        const v = t.values[r];
        if (v === null || v === undefined) app.appendNull();
        else app.appendVarchar(v);
      }
      app.endRow();
    }
    app.closeSync();
    sources.push(ident(textTable));
  }
  const from = sources.join(' POSITIONAL JOIN ');
  const select = `SELECT ${exprs.join(', ')} FROM ${from}`;
  if (first) await conn.run(`CREATE OR REPLACE TABLE ${ident(table)} AS ${select}`);
  else await conn.run(`INSERT INTO ${ident(table)} ${select}`);
  for (const s of sources) await conn.run(`DROP TABLE ${s}`);
}

/** Reads an Arrow IPC file or stream into `table`, batch by batch, in input order. */
export async function stageArrow(conn: DuckDBConnection, file: string, table: string): Promise<void> {
  const fh = await open(file, 'r');
  let batches = 0;
  try {
    const reader = await RecordBatchReader.from(fh);
    for await (const batch of reader) {
      if (batch.numRows === 0) continue;
      await loadBatch(conn, batch, table, batches === 0);
      batches++;
    }
    if (batches === 0) {
      // No rows: still create the table with the schema's columns so the empty-input error can say so.
      const fields = reader.schema?.fields ?? [];
      const cols = fields.length ? fields.map((f) => `NULL::VARCHAR AS ${ident(f.name)}`).join(', ') : 'NULL AS empty';
      await conn.run(`CREATE OR REPLACE TABLE ${ident(table)} AS SELECT ${cols} LIMIT 0`);
    }
  } catch (e) {
    if ((e as { code?: string }).code?.startsWith('E_')) throw e;
    // apache-arrow's reader says "Expected to read N bytes ... but only read M" when a stream ends inside a message.
    if (/^Expected to read \d+ .*but only read \d+/.test(String((e as Error)?.message ?? e))) {
      throw new OffpolicyError('E_TRUNCATED_FILE', `"${file}" is an Arrow IPC stream that ends inside a message: it is truncated.`, {
        hint: 'Copy or export the file again in full.',
      });
    }
    throw readError('arrow', file, e);
  } finally {
    await fh.close().catch(() => {});
  }
}
