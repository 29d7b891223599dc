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
import { OffpolicyError } from '../errors.js';

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

/** Copies a scalar vector into out[offset..]; uses the raw items buffer when exposed. */
function copyScalar(vec: VectorLike, out: Float64Array | Float32Array | Int32Array | Uint8Array, offset: number, rows: number): void {
  const items = (vec as unknown as { items?: ArrayLike<number | bigint> }).items;
  const validity = (vec as unknown as { validity?: { itemValid(i: number): boolean } }).validity;
  if (items && typeof items[0] !== 'bigint' && !(items instanceof Array)) {
    out.set((items as Float64Array).subarray(0, rows) as unknown as ArrayLike<number>, offset);
    if (validity) {
      for (let i = 0; i < rows; i++) if (!validity.itemValid(i)) out[offset + i] = NaN;
    }
    return;
  }
  for (let i = 0; i < rows; i++) {
    const v = vec.getItem(i);
    out[offset + i] = v === null || v === undefined ? NaN : typeof v === 'boolean' ? (v ? 1 : 0) : Number(v as number);
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
      const vec = chunk.getColumnVector(colIndex.get(name)!) as unknown as VectorLike & { childVector?: VectorLike };
      const target = out[name]!;
      if (width === 1 && !vec.childVector) {
        copyScalar(vec, target, row, rows);
        continue;
      }
      // List or array column: its child vector holds all values back to back.
      for (let i = 0; i < rows; i++) {
        const item = vec.getItem(i) as { items: readonly unknown[] } | null;
        if (item === null) {
          target.fill(NaN, (row + i) * width, (row + i + 1) * width);
          continue;
        }
        if (item.items.length !== width) {
          throw new OffpolicyError(
            'E_RAGGED_VECTOR',
            `Column "${name}" has ${item.items.length} values on row ${row + i}, expected ${width}.`,
            { hint: 'Every row of a vector column must have the same length.' },
          );
        }
        const base = (row + i) * width;
        for (let j = 0; j < width; j++) {
          const v = item.items[j];
          target[base + j] = v === null ? NaN : Number(v as number);
        }
      }
    }
    row += rows;
  }
  return { n: row, columns: out as TypedColumns<S> };
}
