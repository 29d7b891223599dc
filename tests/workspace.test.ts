import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { openMemoryConnection, queryRows, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { parseRef, Workspace } from '../src/datasets/workspace.js';
import { OffpolicyError } from '../src/core/errors.js';
import type { MetadataInput } from '../src/datasets/metadata.js';

const banditMeta: MetadataInput = {
  kind: 'bandit',
  actionSpace: { type: 'discrete', n: 3 },
  lineage: { transform: 'test', params: {} },
};
const select = (n: number) =>
  `SELECT i::BIGINT AS row_id, (i % 3)::INTEGER AS action, (i * 0.5)::DOUBLE AS reward, (1.0 / 3)::DOUBLE AS propensity FROM range(${n}) t(i)`;

let dir: string;
let conn: DuckDBConnection;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-ws-'));
  conn = await openMemoryConnection();
});
afterEach(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

async function treeSnapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name !== 'catalog.duckdb' && !e.name.endsWith('.wal')) out.push(`${path.relative(root, p)}:${(await readFile(p)).toString('base64').length}`);
    }
  };
  await walk(root);
  return out.sort();
}

describe('workspace', () => {
  it('writes immutable numbered versions with metadata, counts and a content hash', async () => {
    const ws = await Workspace.open(dir);
    const v1 = await ws.createVersion({ name: 'logs', conn, select: select(10), metadata: banditMeta });
    const v2 = await ws.createVersion({ name: 'logs', conn, select: select(20), metadata: banditMeta });
    expect(v1.ref).toBe('logs@1');
    expect(v2.ref).toBe('logs@2');
    expect(v1.metadata.rowCount).toBe(10);
    expect(v2.metadata.rowCount).toBe(20);
    expect(v1.metadata.columns.map((c) => c.name)).toEqual(['row_id', 'action', 'reward', 'propensity']);
    expect(v1.metadata.contentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(v1.metadata.contentHash).not.toBe(v2.metadata.contentHash);
    expect((await ws.resolve('logs')).version).toBe(2);
    expect((await ws.resolve('logs@1')).metadata.rowCount).toBe(10);
    expect(await readdir(path.join(dir, 'datasets', 'logs', '1'))).toEqual(['metadata.json', 'part-0.parquet']);
  });

  it('gives the same content hash to the same content, whatever the write', async () => {
    const ws = await Workspace.open(dir);
    const a = await ws.createVersion({ name: 'a', conn, select: select(100), metadata: banditMeta });
    const b = await ws.createVersion({ name: 'b', conn, select: `SELECT * FROM (${select(100)}) ORDER BY row_id DESC`, metadata: banditMeta });
    const c = await ws.createVersion({ name: 'c', conn, select: select(100).replace('i * 0.5', 'i * 0.25'), metadata: banditMeta });
    expect(a.metadata.contentHash).toBe(b.metadata.contentHash);
    expect(a.metadata.contentHash).not.toBe(c.metadata.contentHash);
  });

  it('leaves every existing version and the catalog untouched when a write fails', async () => {
    const ws = await Workspace.open(dir);
    await ws.createVersion({ name: 'logs', conn, select: select(5), metadata: banditMeta });
    const before = await treeSnapshot(dir);
    await expect(ws.createVersion({ name: 'logs', conn, select: 'SELECT no_such_column FROM range(3)', metadata: banditMeta })).rejects.toThrow();
    await expect(
      ws.createVersion({ name: 'logs', conn, select: select(5), metadata: banditMeta, extraFiles: async () => { throw new Error('disk full'); } }),
    ).rejects.toThrow('disk full');
    expect(await treeSnapshot(dir)).toEqual(before);
    expect((await ws.versionsOf('logs')).map((v) => v.version)).toEqual([1]);
  });

  it('refuses an empty result with E_EMPTY_INPUT and writes nothing', async () => {
    const ws = await Workspace.open(dir);
    const err = await ws.createVersion({ name: 'empty', conn, select: select(0), metadata: banditMeta }).catch((e) => e);
    expect(err).toBeInstanceOf(OffpolicyError);
    expect(err.code).toBe('E_EMPTY_INPUT');
    expect(err.message).toMatch(/no rows/);
    expect(await ws.versions()).toEqual([]);
  });

  it('keeps the catalog in step with the version directories', async () => {
    const ws = await Workspace.open(dir);
    await ws.createVersion({ name: 'logs', conn, select: select(5), metadata: banditMeta });
    await ws.createVersion({ name: 'logs', conn, select: select(6), metadata: banditMeta });
    await ws.createVersion({ name: 'other', conn, select: select(7), metadata: banditMeta });
    await ws.remove('logs@1');
    const inst = await DuckDBInstance.create(path.join(dir, 'catalog.duckdb'));
    const c = await inst.connect();
    const rows = await queryRows(c, 'SELECT name, version, rows FROM datasets ORDER BY name, version');
    c.closeSync();
    inst.closeSync();
    expect(rows).toEqual([
      { name: 'logs', version: 2, rows: '6' },
      { name: 'other', version: 1, rows: '7' },
    ]);
  });

  it('exposes every dataset as a SQL view: name is the latest, name@v each version', async () => {
    const ws = await Workspace.open(dir);
    await ws.createVersion({ name: 'logs', conn, select: select(5), metadata: banditMeta });
    await ws.createVersion({ name: 'logs', conn, select: select(8), metadata: banditMeta });
    const q = await ws.queryConnection();
    expect(await queryRows(q, 'SELECT count(*) AS n FROM logs')).toEqual([{ n: '8' }]);
    expect(await queryRows(q, 'SELECT count(*) AS n FROM "logs@1"')).toEqual([{ n: '5' }]);
    q.closeSync();
  });

  it('names what exists when a dataset or version is missing', async () => {
    const ws = await Workspace.open(dir);
    await ws.createVersion({ name: 'logs', conn, select: select(5), metadata: banditMeta });
    const e1 = await ws.resolve('nope').catch((e) => e);
    expect(e1.code).toBe('E_DATASET_NOT_FOUND');
    expect(e1.message).toContain('No dataset named "nope"');
    expect(e1.message).toContain('Datasets here: logs.');
    const e2 = await ws.resolve('logs@9').catch((e) => e);
    expect(e2.code).toBe('E_DATASET_NOT_FOUND');
    expect(e2.message).toBe('Dataset "logs" has no version 9. Versions: 1.');
  });

  it('rejects bad names and references', async () => {
    const ws = await Workspace.open(dir);
    const e = await ws.createVersion({ name: '../escape', conn, select: select(2), metadata: banditMeta }).catch((x) => x);
    expect(e.code).toBe('E_DATASET_NAME');
    expect(e.message).toContain('"../escape" is not allowed');
    expect(() => parseRef('logs@x')).toThrow(/not a dataset reference/);
    expect(parseRef('logs@12')).toEqual({ name: 'logs', version: 12 });
  });
});
