/**
 * Reads numeric query results straight into typed arrays, chunk by chunk, using
 * DuckDB's vector buffers where it can (no per-value JS objects). This is how
 * training and the in-memory estimators load data.
 *
 * Lists (observation FLOAT[d], action_probs DOUBLE[K]) are flattened row-major:
 * pass `{ observation: { type: 'f32', width: d } }` and the query's
 * `observation` column fills an n x d array. NULL numbers become NaN.
 */
import type { DuckDBConnection } from './duckdb.js';
import { OffpolicyError } from '../core/errors.js';

export type NumericKind = 'f64' | 'f32' | 'i32' | 'i64' | 'u8';
export interface ColumnSpec {
  type: NumericKind;
  /** Values per row: 1 for scalars, d for fixed-length list columns. */
  width?: number;
}
type ArrayFor<K extends NumericKind> = K extends 'f64'
  ? Float64Array
  : K extends 'f32'
    ? Float32Array
    : K extends 'i32'
      ? Int32Array
      : K extends 'i64'
        ? Float64Array
        : Uint8Array;
export type TypedColumns<S extends Record<string, ColumnSpec>> = { [C in keyof S]: ArrayFor<S[C]['type']> };

function allocate(kind: NumericKind, n: number): Float64Array | Float32Array | Int32Array | Uint8Array {
  switch (kind) {
    case 'f64':
    case 'i64':
      return new Float64Array(n);
    case 'f32':
      return new Float32Array(n);
    case 'i32':
      return new Int32Array(n);
    case 'u8':
      return new Uint8Array(n);
  }
}

interface VectorLike {
  itemCount: number;
  getItem(i: number): unknown;
}

/** Fields @duckdb/node-api's vectors carry at run time (private in its .d.ts). */
interface RawValidity {
  data: BigUint64Array | null;
  itemValid(i: number): boolean;
}
interface RawVector extends VectorLike {
  items?: ArrayLike<number> | ArrayLike<bigint>;
  dataView?: DataView;
  validity?: RawValidity;
  /** List and array vectors: the flat child vector holding every row's values back to back. */
  childData?: RawVector;
  /** List vectors: (offset, length) pairs, one per row. */
  entryData?: BigUint64Array;
  /** Array vectors: the fixed length. */
  arrayType?: { length: number };
}

type Target = Float64Array | Float32Array | Int32Array | Uint8Array;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function hasNulls(v: RawVector): boolean {
  return !!v.validity && v.validity.data !== null;
}

/**
 * Copies `count` values of a flat vector, starting at `from`, into out[offset..].
 * Uses the raw items buffer (one memcpy or converting set); BIGINT and BOOLEAN
 * buffers are converted in a tight loop; NULL becomes NaN.
 */
function copyFlat(vec: RawVector, from: number, count: number, out: Target, offset: number): void {
  const items = vec.items;
  if (items && !(items instanceof Array)) {
    if (items instanceof BigInt64Array || items instanceof BigUint64Array) {
      for (let i = 0; i < count; i++) out[offset + i] = Number(items[from + i]!);
    } else {
      out.set((items as Float64Array).subarray(from, from + count), offset);
    }
  } else if (vec.dataView) {
    const bytes = new Uint8Array(vec.dataView.buffer, vec.dataView.byteOffset, vec.dataView.byteLength);
    for (let i = 0; i < count; i++) out[offset + i] = bytes[from + i] ? 1 : 0;
  } else {
    for (let i = 0; i < count; i++) {
      const v = vec.getItem(from + i);
      out[offset + i] = v === null || v === undefined ? NaN : typeof v === 'boolean' ? (v ? 1 : 0) : Number(v as number);
    }
    return;
  }
  if (hasNulls(vec)) {
    for (let i = 0; i < count; i++) if (!vec.validity!.itemValid(from + i)) out[offset + i] = NaN;
  }
}

function raggedError(name: string, got: number, row: number, width: number): OffpolicyError {
  return new OffpolicyError('E_RAGGED_VECTOR', `Column "${name}" has ${got} values on row ${row}, expected ${width}.`, {
    hint: 'Every row of a vector column must have the same length.',
  });
}

/**
 * Copies a LIST or ARRAY vector of `rows` rows into out[row * width..], straight
 * from its child buffer: one copy when the rows lie back to back (the usual
 * case), else one copy per row. A NULL list becomes a row of NaN.
 */
function copyNested(name: string, vec: RawVector, rows: number, width: number, out: Target, row0: number): void {
  const child = vec.childData!;
  const listNulls = hasNulls(vec);
  if (!vec.entryData) {
    const len = vec.arrayType!.length;
    if (len !== width) throw raggedError(name, len, row0, width);
    copyFlat(child, 0, rows * width, out, row0 * width);
    if (listNulls) {
      for (let i = 0; i < rows; i++) if (!vec.validity!.itemValid(i)) out.fill(NaN, (row0 + i) * width, (row0 + i + 1) * width);
    }
    return;
  }
  const entries = vec.entryData;
  // (offset, length) pairs as uint64; read them as uint32 halves (little-endian)
  // to check the usual layout, rows back to back, without a BigInt per row.
  const halves = new Uint32Array(entries.buffer, entries.byteOffset, entries.length * 2);
  const first = rows > 0 ? Number(entries[0]) : 0;
  let contiguous = !listNulls && LITTLE_ENDIAN;
  for (let i = 0, k = 0; contiguous && i < rows; i++, k += 4) {
    if (halves[k + 1] !== 0 || halves[k + 3] !== 0 || halves[k + 2] !== width || halves[k] !== first + i * width) contiguous = false;
  }
  if (!contiguous) {
    for (let i = 0; i < rows; i++) {
      if (listNulls && !vec.validity!.itemValid(i)) continue;
      const len = Number(entries[2 * i + 1]);
      if (len !== width) throw raggedError(name, len, row0 + i, width);
    }
  }
  if (contiguous) {
    copyFlat(child, first, rows * width, out, row0 * width);
    return;
  }
  for (let i = 0; i < rows; i++) {
    const base = (row0 + i) * width;
    if (listNulls && !vec.validity!.itemValid(i)) {
      out.fill(NaN, base, base + width);
      continue;
    }
    copyFlat(child, Number(entries[2 * i]), width, out, base);
  }
}

/**
 * Runs `sql` and returns the named columns as typed arrays of length rows * width.
 * The query must return every column named in `spec`.
 */
export async function readColumns<S extends Record<string, ColumnSpec>>(
  conn: DuckDBConnection,
  sql: string,
  spec: S,
): Promise<{ n: number; columns: TypedColumns<S> }> {
  const count = Number((await (await conn.runAndReadAll(`SELECT count(*) AS n FROM (${sql})`)).getRows())[0]![0]);
  const names = Object.keys(spec);
  const result = await conn.stream(sql);
  const colIndex = new Map<string, number>();
  result.columnNames().forEach((c, i) => colIndex.set(c, i));
  for (const name of names) {
    if (!colIndex.has(name)) {
      throw new OffpolicyError('E_MISSING_COLUMN', `Column "${name}" is missing from the query result.`, {
        hint: `Columns found: ${result.columnNames().join(', ')}.`,
      });
    }
  }
  const out: Record<string, Float64Array | Float32Array | Int32Array | Uint8Array> = {};
  for (const name of names) out[name] = allocate(spec[name]!.type, count * (spec[name]!.width ?? 1));
  let row = 0;
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const rows = chunk.rowCount;
    for (const name of names) {
      const width = spec[name]!.width ?? 1;
      const vec = chunk.getColumnVector(colIndex.get(name)!) as unknown as RawVector;
      const target = out[name]!;
      if (vec.childData) copyNested(name, vec, rows, width, target, row);
      else if (width === 1) copyFlat(vec, 0, rows, target, row);
      else throw new OffpolicyError('E_COLUMN_TYPE', `Column "${name}" holds scalars, but ${width} values per row were asked for.`, {
        hint: 'Ask for width 1, or select a list column.',
      });
    }
    row += rows;
  }
  return { n: row, columns: out as TypedColumns<S> };
}
