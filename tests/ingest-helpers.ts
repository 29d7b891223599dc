/** Shared helpers of the ingest tests: temp workspaces, stored rows, byte snapshots. */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { queryRows } from '../src/datasets/duckdb.js';
import { Workspace } from '../src/datasets/workspace.js';

export const FIXTURES = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'ingest');

export async function tempDir(prefix = 'offpolicy-ingest-test-'): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Rows of a stored version (or any SQL over the workspace views), JSON-safe. */
export async function storedRows(ws: Workspace, sql: string): Promise<Record<string, unknown>[]> {
  const conn = await ws.queryConnection();
  try {
    return await queryRows(conn, sql);
  } finally {
    conn.closeSync();
  }
}

/** Every file under `root` with a hash of its bytes. */
export async function byteSnapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        out.push(`${path.relative(root, p)}/`);
        await walk(p);
      } else out.push(`${path.relative(root, p)}:${createHash('sha256').update(await readFile(p)).digest('hex')}`);
    }
  };
  await walk(root);
  return out.sort();
}

/** An OBD-like CSV: pandas index first (empty header), then 10 more columns, so DuckDB names the index column00. */
export function obdLikeCsv(rows: { item: number; pos: number; click: number; p: number; u: string; aff: number[] }[]): string {
  const header = ',timestamp,item_id,position,click,propensity_score,user_feature_0,user-item_affinity_0,user-item_affinity_1,user-item_affinity_2,user-item_affinity_3';
  const lines = rows.map((r, i) => `${i},2019-11-24 00:00:${String(10 + i).padStart(2, '0')}.000000+00:00,${r.item},${r.pos},${r.click},${r.p},${r.u},${r.aff.join(',')}`);
  return [header, ...lines].join('\n') + '\n';
}
