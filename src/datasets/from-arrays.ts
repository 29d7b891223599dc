/**
 * Moves typed arrays from JS into a DuckDB table fast: every column is copied
 * chunk by chunk straight into DuckDB's vector buffers (no per-value JS
 * objects, no per-value setter). Vector columns (observation FLOAT[d]) are
 * appended as fixed-size ARRAY vectors, whose child buffer takes the row-major
 * slice in one copy; by default they are then cast to the canonical list type
 * TYPE[] in one SQL pass. With `fixedSize` they stay TYPE[d] ARRAY columns and
 * the rows are appended straight into `table` with no second copy: DuckDB's
 * list functions accept arrays, and Parquet stores both as lists, so a version
 * written from either reads back (and hashes) the same. Generators, HDF5 and
 * Minari ingest, and any JS-side transform use this to hand data to the
 * workspace.
 */
import type { DuckDBType } from '@duckdb/node-api';
import type { DuckDBConnection } from './duckdb.js';
import { ident, loadDuckDB } from './duckdb.js';

export type ScalarSqlType = 'DOUBLE' | 'FLOAT' | 'INTEGER' | 'BIGINT' | 'SMALLINT' | 'BOOLEAN';

export interface ArrayColumn {
  name: string;
  type: ScalarSqlType;
  /** n * width values, row-major. BIGINT columns take Float64Array of integers (exact below 2^53). */
  data: Float64Array | Float32Array | Int32Array | Int16Array | Uint8Array | BigInt64Array;
  /** Values per row; > 1 makes a list column TYPE[]. Default 1. */
  width?: number;
  /** Rows where the value is NULL (1 = null). Scalars only. */
  nulls?: Uint8Array;
}

/** Rows per appended chunk: DuckDB's standard vector size. */
const CHUNK = 2048;

export interface ArraysToTableOptions {
  /**
   * Create `table` as a TEMP table (in memory, spilling to DuckDB's temp_directory
   * under memory pressure) rather than in the connection's current database,
   * which may be an attached file. Default false.
   */
  temp?: boolean;
  /** Keep vector columns as fixed-size TYPE[width] ARRAY columns (see the module comment). Default false: TYPE[]. */
  fixedSize?: boolean;
}

/** The runtime shape of @duckdb/node-api's vectors (fields private in its .d.ts). */
interface RawVector {
  items?: { set(src: ArrayLike<number> | ArrayLike<bigint>, offset?: number): void; [i: number]: number | bigint };
  dataView?: DataView;
  childData?: RawVector;
  validity?: { setItemValid(i: number, valid: boolean): void };
  setItem(i: number, v: unknown): void;
  flush(): void;
}

function duckType(duck: typeof import('@duckdb/node-api'), col: ArrayColumn): DuckDBType {
  const scalar: DuckDBType = duck[col.type];
  const width = col.width ?? 1;
  return width > 1 ? duck.ARRAY(scalar, width) : scalar;
}

/** Copies rows row0..row0+rows of `col` into the chunk's vector buffer. */
function fillVector(col: ArrayColumn, vec: RawVector, row0: number, rows: number): void {
  const width = col.width ?? 1;
  const target = width > 1 ? vec.childData! : vec;
  const src = col.data.subarray(row0 * width, (row0 + rows) * width);
  if (col.type === 'BOOLEAN') {
    const dv = target.dataView!;
    if (dv.byteLength === src.length) {
      const bytes = new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
      for (let i = 0; i < src.length; i++) bytes[i] = src[i] ? 1 : 0;
    } else {
      for (let i = 0; i < src.length; i++) target.setItem(i, Boolean(src[i]));
    }
  } else if (col.type === 'BIGINT' && !(src instanceof BigInt64Array)) {
    const items = target.items!;
    for (let i = 0; i < src.length; i++) {
      const v = src[i] as number;
      // A non-finite value can only sit under a NULL (set below); BigInt() would throw on it.
      items[i] = Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
    }
  } else if (src instanceof BigInt64Array) {
    if (col.type === 'BIGINT') (target.items as { set(s: ArrayLike<bigint>): void }).set(src);
    else for (let i = 0; i < src.length; i++) target.items![i] = Number(src[i]!);
  } else {
    (target.items as { set(s: ArrayLike<number>): void }).set(src);
  }
  if (col.nulls) {
    for (let i = 0; i < rows; i++) if (col.nulls[row0 + i]) vec.validity!.setItemValid(i, false);
  }
  vec.flush();
}

/** Creates (or replaces) `table` holding the given columns, n rows. */
export async function arraysToTable(
  conn: DuckDBConnection,
  table: string,
  n: number,
  columns: readonly ArrayColumn[],
  opts: ArraysToTableOptions = {},
): Promise<void> {
  for (const col of columns) {
    const width = col.width ?? 1;
    if (col.data.length !== n * width) throw new Error(`column ${col.name}: expected ${n * width} values, got ${col.data.length}`);
    if (width > 1 && col.nulls) throw new Error(`column ${col.name}: nulls are supported for scalar columns only`);
  }
  const needsCast = !opts.fixedSize && columns.some((c) => (c.width ?? 1) > 1);
  const target = needsCast ? `${table}__load` : table;
  const temp = needsCast || opts.temp ? 'TEMP ' : '';
  const duck = await loadDuckDB();
  const types = columns.map((c) => duckType(duck, c));
  await conn.run(
    `CREATE OR REPLACE ${temp}TABLE ${ident(target)} (${columns.map((c, i) => `${ident(c.name)} ${types[i]!.toString()}`).join(', ')})`,
  );
  const appender = await conn.createAppender(target);
  try {
    for (let row0 = 0; row0 < n; row0 += CHUNK) {
      const rows = Math.min(CHUNK, n - row0);
      const chunk = duck.DuckDBDataChunk.create(types, rows);
      for (let c = 0; c < columns.length; c++) {
        fillVector(columns[c]!, chunk.getColumnVector(c) as unknown as RawVector, row0, rows);
      }
      appender.appendDataChunk(chunk);
    }
  } finally {
    appender.closeSync();
  }
  if (!needsCast) return;
  const select = columns
    .map((c) => ((c.width ?? 1) > 1 ? `${ident(c.name)}::${c.type}[] AS ${ident(c.name)}` : ident(c.name)))
    .join(', ');
  await conn.run(`CREATE OR REPLACE ${opts.temp ? 'TEMP ' : ''}TABLE ${ident(table)} AS SELECT ${select} FROM ${ident(target)}`);
  await conn.run(`DROP TABLE ${ident(target)}`);
}
