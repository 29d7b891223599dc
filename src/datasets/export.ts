/**
 * `export`: writes one dataset version to a file, atomically (a temporary file
 * beside the target, then a rename), as Parquet (zstd), CSV, JSON Lines or
 * D4RL-style HDF5 (trajectories only).
 *
 * CSV writes vector columns (FLOAT[] observations, DOUBLE[] action_probs) as
 * DuckDB list literals in one quoted field, e.g. "[0.1, 0.33333334]": each
 * FLOAT is printed in its shortest form that reads back to the same float32,
 * so `'[...]'::FLOAT[]` recovers the stored values bit for bit. JSON Lines
 * writes them as JSON arrays (FLOAT values widened exactly to double).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { OffpolicyError } from '../core/errors.js';
import { lit, openMemoryConnection, queryOne, type DuckDBConnection } from './duckdb.js';
import { assertOutsideWorkspace, cleanStaleFiles, fsError, lstatOrNull } from './fs-guard.js';
import type { DatasetVersion, Workspace } from './workspace.js';

export type ExportFormat = 'parquet' | 'csv' | 'jsonl' | 'hdf5';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['parquet', 'csv', 'jsonl', 'hdf5'];

/** DuckDB COPY options for each tabular file format. */
export const COPY_OPTIONS = {
  parquet: 'FORMAT parquet, COMPRESSION zstd',
  csv: 'FORMAT csv, HEADER true',
  jsonl: 'FORMAT json',
  jsonArray: 'FORMAT json, ARRAY true',
} as const;

/**
 * Runs `write(tmp)` to produce a temporary file beside `out`, then renames it to
 * `out`; on failure the temporary file is removed and `out` is left as it was.
 */
export async function writeAtomically(out: string, write: (tmp: string) => Promise<void>): Promise<void> {
  await atomicTarget(out, write);
}

/**
 * Like writeAtomically, returning what `write` returns. Temporary files that
 * dead processes left beside `out` (".NAME.tmp-PID-...") are removed first.
 */
export async function atomicTarget<T>(out: string, write: (tmp: string) => Promise<T>): Promise<T> {
  const target = path.resolve(out);
  const prefix = `.${path.basename(target)}.tmp-`;
  try {
    await mkdir(path.dirname(target), { recursive: true });
  } catch (e) {
    throw fsError(e, `create the directory of ${target}`);
  }
  const st = await lstatOrNull(target);
  if (st?.isDirectory()) {
    throw new OffpolicyError('E_IS_A_DIRECTORY', `The output ${target} is a directory.`, { hint: 'Pass a file name with --out.' });
  }
  await cleanStaleFiles(path.dirname(target), [prefix]);
  const tmp = path.join(path.dirname(target), `${prefix}${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const result = await write(tmp);
    await rename(tmp, target);
    return result;
  } catch (e) {
    await rm(tmp, { force: true, recursive: true });
    throw (e as NodeJS.ErrnoException)?.code ? fsError(e, `write ${target}`) : e;
  }
}

/** COPY (select) TO out with the given options, atomically; returns the row count written. */
export async function copyAtomically(conn: DuckDBConnection, select: string, out: string, options: string): Promise<number> {
  let rows = 0;
  await writeAtomically(out, async (tmp) => {
    const r = await queryOne(conn, `COPY (\n${select}\n) TO ${lit(tmp)} (${options})`);
    rows = Number(Object.values(r)[0] ?? 0);
  });
  return rows;
}

export interface ExportOptions {
  format: ExportFormat;
  out: string;
}

export interface ExportResult {
  ref: string;
  format: ExportFormat;
  out: string;
  rows: number;
}

function checkFormat(format: string): asserts format is ExportFormat {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new OffpolicyError('E_EXPORT_FORMAT', `Unknown export format "${format}".`, {
      hint: `Use one of: ${EXPORT_FORMATS.join(', ')}.`,
    });
  }
}

/** Writes `ref` ("name" or "name@v") to `opts.out` in `opts.format`. */
export async function exportDataset(ws: Workspace, ref: string, opts: ExportOptions): Promise<ExportResult> {
  checkFormat(opts.format);
  if (!opts.out) {
    throw new OffpolicyError('E_EXPORT_OUT', 'No output file given.', { hint: 'Pass --out FILE.' });
  }
  await assertOutsideWorkspace(ws.root, opts.out);
  const version = await ws.resolve(ref);
  const conn = await openMemoryConnection();
  try {
    const rows = await exportVersion(conn, version, opts);
    return { ref: version.ref, format: opts.format, out: path.resolve(opts.out), rows };
  } finally {
    conn.closeSync();
  }
}

/** Exports an already-resolved version on the given connection; returns the row count. */
export async function exportVersion(conn: DuckDBConnection, version: DatasetVersion, opts: ExportOptions): Promise<number> {
  checkFormat(opts.format);
  if (opts.format === 'hdf5') {
    if (version.metadata.kind !== 'trajectory') {
      throw new OffpolicyError(
        'E_EXPORT_KIND',
        `Dataset ${version.ref} is a ${version.metadata.kind} log; D4RL-style HDF5 holds trajectories only.`,
        { hint: 'Export bandit logs as parquet, csv or jsonl.' },
      );
    }
    // Loaded on demand: the HDF5 writer pulls in a WebAssembly module the other formats never need.
    const { exportD4rlHdf5 } = await import('./export-hdf5.js');
    await writeAtomically(opts.out, (tmp) => exportD4rlHdf5(conn, version, tmp));
    return version.metadata.rowCount;
  }
  // Keep the stored row order; the content hash does not depend on it, but readers may.
  const select = `SELECT * FROM read_parquet(${lit(version.glob)})`;
  return copyAtomically(conn, select, opts.out, COPY_OPTIONS[opts.format]);
}
