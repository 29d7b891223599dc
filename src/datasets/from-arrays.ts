/**
 * Moves typed arrays from JS into a DuckDB table fast: scalar columns are
 * copied chunk by chunk straight into DuckDB's vector buffers (no per-value JS
 * objects), and vector columns (observation FLOAT[d]) are assembled in SQL from
 * their per-dimension scalars. Generators, HDF5 and Minari ingest, and any
 * JS-side transform use this to hand data to the workspace.
 */
import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  DuckDBDataChunk,
  FLOAT,
  INTEGER,
  SMALLINT,
  type DuckDBType,
} from '@duckdb/node-api';
import type { DuckDBConnection } from './duckdb.js';
import { ident } from './duckdb.js';

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

const DUCK_TYPES: Record<ScalarSqlType, DuckDBType> = {
  DOUBLE,
  FLOAT,
  INTEGER,
  BIGINT,
  SMALLINT,
  BOOLEAN,
};

const CHUNK = 2048;

interface WritableVector {
  items: { set(src: ArrayLike<number | bigint>, offset?: number): void; length: number; [i: number]: number | bigint | boolean };
  setItem(i: number, v: unknown): void;
  flush(): void;
}

/** Creates (or replaces) `table` holding the given columns, n rows. */
export async function arraysToTable(conn: DuckDBConnection, table: string, n: number, columns: readonly ArrayColumn[]): Promise<void> {
  // Flatten vector columns into per-dimension scalar columns for the load.
  const flat: { name: string; type: ScalarSqlType; get: (row0: number, rows: number, out: WritableVector) => void }[] = [];
  for (const col of columns) {
    const width = col.width ?? 1;
    if (col.data.length !== n * width) {
      throw new Error(`column ${col.name}: expected ${n * width} values, got ${col.data.length}`);
    }
    for (let j = 0; j < width; j++) {
      const name = width === 1 ? col.name : `${col.name}__${j}`;
      flat.push({
        name,
        type: col.type,
        get: (row0, rows, out) => {
          if (!col.nulls && col.type !== 'BIGINT' && col.type !== 'BOOLEAN') {
            if (width === 1) {
              out.items.set(col.data.subarray(row0, row0 + rows) as ArrayLike<number>);
            } else {
              const items = out.items as unknown as Float64Array;
              const data = col.data as Float64Array;
              for (let i = 0, k = row0 * width + j; i < rows; i++, k += width) items[i] = data[k]!;
            }
            return;
          }
          for (let i = 0; i < rows; i++) {
            const r = row0 + i;
            if (col.nulls && col.nulls[r]) {
              out.setItem(i, null);
              continue;
            }
            const v = col.data[r * width + j]!;
            if (col.type === 'BIGINT') out.setItem(i, typeof v === 'bigint' ? v : BigInt(v));
            else if (col.type === 'BOOLEAN') out.setItem(i, Boolean(v));
            else out.setItem(i, v);
          }
        },
      });
    }
  }
  const staging = `${table}__load`;
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${ident(staging)} (${flat.map((f) => `${ident(f.name)} ${f.type}`).join(', ')})`);
  const appender = await conn.createAppender(staging);
  const types = flat.map((f) => DUCK_TYPES[f.type]);
  for (let row0 = 0; row0 < n; row0 += CHUNK) {
    const rows = Math.min(CHUNK, n - row0);
    const chunk = DuckDBDataChunk.create(types, rows);
    for (let c = 0; c < flat.length; c++) {
      const vec = chunk.getColumnVector(c) as unknown as WritableVector;
      flat[c]!.get(row0, rows, vec);
      vec.flush();
    }
    chunk.rowCount = rows;
    appender.appendDataChunk(chunk);
  }
  appender.closeSync();
  const select = columns
    .map((col) => {
      const width = col.width ?? 1;
      if (width === 1) return ident(col.name);
      const parts = Array.from({ length: width }, (_, j) => ident(`${col.name}__${j}`));
      return `[${parts.join(', ')}]::${col.type}[] AS ${ident(col.name)}`;
    })
    .join(', ');
  await conn.run(`CREATE OR REPLACE TABLE ${ident(table)} AS SELECT ${select} FROM ${ident(staging)}`);
  await conn.run(`DROP TABLE ${ident(staging)}`);
}
