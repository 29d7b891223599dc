/**
 * Every ingest format round-trips: ingest a file, export the version in every
 * export format that fits its kind, ingest each export, and get the identical
 * content hash (and the same rows) back.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Field, Float32, Float64, Int32, Int64, List, tableToIPC, Table, vectorFromArray, Bool } from 'apache-arrow';
import h5wasm from 'h5wasm/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lit, openMemoryConnection, queryRows, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { exportDataset, type ExportFormat } from '../src/datasets/export.js';
import { ingest } from '../src/datasets/ingest/index.js';
import type { IngestOptions } from '../src/datasets/ingest/types.js';
import { Workspace, type DatasetVersion } from '../src/datasets/workspace.js';

let dir: string;
let ws: Workspace;
let conn: DuckDBConnection;

beforeAll(async () => {
  await h5wasm.ready;
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-roundtrip-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  await mkdir(path.join(dir, 'in'), { recursive: true });
  conn = await openMemoryConnection();
});
afterAll(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

const N = 60;
/** A pseudo-random value in [0, 1) from the row number and a salt (deterministic). */
const u = (salt: number) => `((hash(i, ${salt}) % 100003)::DOUBLE / 100003)`;

/** Canonical bandit rows: float32 contexts, K = 3, action_probs, a NULL-free reward. */
const BANDIT_SQL = `SELECT i::BIGINT AS row_id,
    [${u(1)} * 10 - 5, ${u(2)} / 3, 1e-7 * i]::FLOAT[] AS context,
    (hash(i, 3) % 3)::INTEGER AS action,
    round(${u(4)} * 7, 3)::DOUBLE AS reward,
    (0.2 + ${u(5)} * 0.6)::DOUBLE AS propensity
  FROM range(${N}) t(i)`;

/** The same with every optional canonical column and a named feature column. */
const BANDIT_FULL_SQL = `SELECT row_id, context, action, reward, propensity,
    [propensity, (1 - propensity) / 2, (1 - propensity) / 2]::DOUBLE[] AS action_probs,
    (row_id % 3)::INTEGER AS position,
    TIMESTAMP '2024-03-01 12:00:00' + INTERVAL (row_id * 90) SECOND AS timestamp,
    ['north', 'south'][1 + row_id % 2]::VARCHAR AS "group",
    'v1'::VARCHAR AS logging_policy,
    round(reward * 3 + 1, 2)::DOUBLE AS age
  FROM (${BANDIT_SQL})`;

/**
 * Canonical trajectory rows: 5 episodes of 1..5 steps, ending terminated or
 * truncated; only the last is open (D4RL HDF5 can mark an episode end only by
 * a flag, so an open episode elsewhere comes back truncated).
 */
const TRAJ_SQL = `SELECT e::BIGINT AS episode_id, s::INTEGER AS step,
    [e + s / 7, ${u(6)} - 0.5]::FLOAT[] AS observation,
    [e + (s + 1) / 7, ${u(6)} + 0.25]::FLOAT[] AS next_observation,
    [${u(7)} * 2 - 1]::FLOAT[] AS action,
    round(${u(8)}, 4)::DOUBLE AS reward,
    (s = e AND e IN (0, 2)) AS terminated,
    (s = e AND e IN (1, 3)) AS truncated
  FROM (SELECT e, s, e * 10 + s AS i FROM range(5) a(e), range(5) b(s) WHERE s <= e)`;

async function sourceFile(select: string, file: string, options: string): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await conn.run(`COPY (${select}) TO ${lit(file)} (${options})`);
  return file;
}

/** Rows of a version in a canonical order, for an exact comparison beside the hash. */
async function rowsOf(v: DatasetVersion): Promise<unknown[]> {
  const order = v.metadata.kind === 'bandit' ? 'row_id' : 'episode_id, step';
  return queryRows(conn, `SELECT * FROM read_parquet(${lit(v.glob)}) ORDER BY ${order}`);
}

let counter = 0;
/** Ingests `file`, exports it in each format, re-ingests each export; all hashes must match. */
async function roundTrip(file: string, opts: Omit<IngestOptions, 'name'>, formats: ExportFormat[]): Promise<DatasetVersion> {
  const first = (await ingest(ws, file, { ...opts, name: `src${++counter}` })).version;
  const rows = await rowsOf(first);
  expect(rows.length).toBeGreaterThan(0);
  for (const format of formats) {
    const out = path.join(dir, 'exports', `${first.name}.${format === 'hdf5' ? 'h5' : format}`);
    await exportDataset(ws, first.ref, { format, out });
    const { version } = await ingest(ws, out, { name: `${first.name}-${format}`, kind: first.metadata.kind });
    expect({ format, columns: version.metadata.columns }).toEqual({ format, columns: first.metadata.columns });
    expect(await rowsOf(version)).toEqual(rows);
    expect({ format, hash: version.metadata.contentHash }).toEqual({ format, hash: first.metadata.contentHash });
  }
  return first;
}

const BANDIT_EXPORTS: ExportFormat[] = ['parquet', 'csv', 'jsonl'];
const TRAJ_EXPORTS: ExportFormat[] = ['parquet', 'csv', 'jsonl', 'hdf5'];

describe('round trip: ingest -> export -> ingest gives the identical content hash', () => {
  // Each input format goes out in every export format once per kind (from Parquet),
  // and otherwise through its own format, to keep the file fast.
  it('bandit logs with every optional column: Parquet to all formats, CSV and JSON Lines through themselves', async () => {
    await roundTrip(await sourceFile(BANDIT_FULL_SQL, path.join(dir, 'in', 'bf.parquet'), 'FORMAT parquet'), {}, BANDIT_EXPORTS);
    await roundTrip(await sourceFile(BANDIT_FULL_SQL, path.join(dir, 'in', 'bf.csv'), 'FORMAT csv, HEADER true'), {}, ['csv']);
    await roundTrip(await sourceFile(BANDIT_FULL_SQL, path.join(dir, 'in', 'bf.jsonl'), 'FORMAT json'), {}, ['jsonl']);
  });

  it('bandit Arrow IPC, file and stream', async () => {
    const rows = await queryRows(conn, BANDIT_SQL);
    const table = new Table({
      row_id: vectorFromArray(rows.map((r) => BigInt(String(r.row_id))), new Int64()),
      context: vectorFromArray(
        rows.map((r) => Float32Array.from(r.context as number[])),
        new List(new Field('item', new Float32(), true)),
      ),
      action: vectorFromArray(rows.map((r) => Number(r.action)), new Int32()),
      reward: vectorFromArray(rows.map((r) => Number(r.reward)), new Float64()),
      propensity: vectorFromArray(rows.map((r) => Number(r.propensity)), new Float64()),
    });
    for (const [kind, out] of [
      ['file', 'parquet'],
      ['stream', 'csv'],
    ] as const) {
      const file = path.join(dir, 'in', `b-${kind}.arrow`);
      await writeFile(file, tableToIPC(table, kind));
      await roundTrip(file, {}, [out]);
    }
  });

  it('Open Bandit Dataset CSV with item_context.csv', async () => {
    const obdDir = path.join(dir, 'in', 'obd', 'random', 'all');
    // The layout as shipped: an unnamed pandas index column first, 1-based positions.
    const lines = [',timestamp,item_id,position,click,propensity_score,user_feature_0,user-item_affinity_0,user-item_affinity_1'];
    for (let i = 0; i < N; i++) {
      lines.push(
        [i, `2019-11-24 00:00:${String(i % 60).padStart(2, '0')}`, (i * 7) % 4, 1 + (i % 3), (i * 5) % 3 === 0 ? 1 : 0, 0.25,
          ['a1b2', 'c3d4', 'e5f6'][i % 3], ((i * 37) % 100) / 10, ((i * 53) % 100) / 10].join(','),
      );
    }
    await mkdir(obdDir, { recursive: true });
    await writeFile(path.join(obdDir, 'all.csv'), lines.join('\n') + '\n');
    await writeFile(path.join(obdDir, 'item_context.csv'), ',item_id,item_feature_0\n0,0,-0.5\n1,1,0.1\n2,2,0.7\n3,3,1.2\n');
    const first = await roundTrip(path.join(obdDir, 'all.csv'), {}, ['csv', 'parquet']);
    expect([first.metadata.lineage.transform, first.metadata.rowCount]).toEqual(['ingest:obd', N]);
  });

  it('trajectories: Parquet to all formats, CSV and JSON Lines through themselves', async () => {
    await roundTrip(await sourceFile(TRAJ_SQL, path.join(dir, 'in', 't.parquet'), 'FORMAT parquet'), {}, TRAJ_EXPORTS);
    await roundTrip(await sourceFile(TRAJ_SQL, path.join(dir, 'in', 't.csv'), 'FORMAT csv, HEADER true'), {}, ['csv']);
    await roundTrip(await sourceFile(TRAJ_SQL, path.join(dir, 'in', 't.jsonl'), 'FORMAT json'), {}, ['jsonl']);
  });

  it('trajectory Arrow IPC with a discrete action', async () => {
    const rows = await queryRows(conn, TRAJ_SQL);
    const table = new Table({
      episode_id: vectorFromArray(rows.map((r) => BigInt(String(r.episode_id))), new Int64()),
      step: vectorFromArray(rows.map((r) => Number(r.step)), new Int32()),
      observation: vectorFromArray(rows.map((r) => Float32Array.from(r.observation as number[])), new List(new Field('item', new Float32(), true))),
      action: vectorFromArray(rows.map((r, i) => i % 3), new Int32()),
      reward: vectorFromArray(rows.map((r) => Number(r.reward)), new Float64()),
      terminated: vectorFromArray(rows.map((r) => Boolean(r.terminated)), new Bool()),
      truncated: vectorFromArray(rows.map((r) => Boolean(r.truncated)), new Bool()),
    });
    const file = path.join(dir, 'in', 't.arrow');
    await writeFile(file, tableToIPC(table, 'file'));
    await roundTrip(file, {}, ['parquet', 'hdf5']);
  });

  it('D4RL-style HDF5', async () => {
    // 7 steps: an episode terminated at row 2, one timed out at row 4, an open one to the end.
    const file = path.join(dir, 'in', 'd4rl.hdf5');
    const f = new h5wasm.File(file, 'w');
    f.create_dataset({ name: 'observations', data: new Float32Array([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5]), shape: [7, 2], dtype: '<f' });
    f.create_dataset({ name: 'actions', data: new Float32Array([0.1, -0.1, 0.2, -0.2, 0.3, -0.3, 0.4, -0.4, 0.5, -0.5, 0.6, -0.6, 0.7, -0.7]), shape: [7, 2], dtype: '<f' });
    f.create_dataset({ name: 'rewards', data: new Float32Array([1, 2, 3, 4, 5, 6, 7]), shape: [7], dtype: '<f' });
    f.create_dataset({ name: 'terminals', data: new Uint8Array([0, 0, 1, 0, 0, 0, 0]), shape: [7], dtype: '<B' });
    f.create_dataset({ name: 'timeouts', data: new Uint8Array([0, 0, 0, 0, 1, 0, 0]), shape: [7], dtype: '<B' });
    f.close();
    const first = await roundTrip(file, {}, ['hdf5', 'parquet']);
    expect([first.metadata.lineage.transform, first.metadata.rowCount, first.metadata.episodeCount]).toEqual(['ingest:d4rl', 7, 3]);
  });

  it('Minari dataset directory (Parquet backend)', async () => {
    // Three episodes of 2, 3 and 1 steps; each file has N + 1 rows (the final observation, zero-padded step fields).
    const root = path.join(dir, 'in', 'minari', 'pointmaze-v0');
    const lengths = [2, 3, 1];
    for (const [id, n] of lengths.entries()) {
      const epDir = path.join(root, 'data', String(id));
      await sourceFile(
        `SELECT [t * 0.5 + ${id}, -t / 3]::FLOAT[] AS observations,
                (CASE WHEN t < ${n} THEN [((${id} * 7 + t) % 5) / 4 - 0.5] ELSE [0] END)::FLOAT[] AS actions,
                (CASE WHEN t < ${n} THEN round(t * 0.7 - ${id}, 2) ELSE 0 END)::DOUBLE AS rewards,
                (t = ${n} - 1 AND ${id} <> 1) AS terminations, (t = ${n} - 1 AND ${id} = 1) AS truncations
         FROM range(${n + 1}) r(t) ORDER BY t`,
        path.join(epDir, 'part-0.parquet'),
        'FORMAT parquet',
      );
      await writeFile(path.join(epDir, 'metadata.json'), JSON.stringify({ id, total_steps: n }));
    }
    const box = (shape: number[]) =>
      `{"type": "Box", "dtype": "float32", "shape": [${shape}], "low": [${shape.map(() => '-Infinity')}], "high": [${shape.map(() => 'Infinity')}]}`;
    await writeFile(
      path.join(root, 'data', 'metadata.json'),
      JSON.stringify({
        data_format: 'parquet',
        dataset_id: 'pointmaze/test-v0',
        total_episodes: lengths.length,
        total_steps: lengths.reduce((a, b) => a + b, 0),
        observation_space: box([2]),
        action_space: box([1]),
      }),
    );
    const first = await roundTrip(root, {}, ['parquet', 'hdf5', 'csv']);
    expect([first.metadata.lineage.transform, first.metadata.rowCount, first.metadata.episodeCount]).toEqual(['ingest:minari', 6, 3]);
  });
});
