import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Bool, Field, FixedSizeList, Float32, Table, makeData, makeVector, tableToIPC, vectorFromArray, type Vector } from 'apache-arrow';
import h5wasm from 'h5wasm/node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openMemoryConnection, queryRows, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { ingest } from '../src/datasets/ingest/index.js';
import { parsePythonJson, stageMinari } from '../src/datasets/ingest/minari.js';
import { Workspace } from '../src/datasets/workspace.js';
import { OffpolicyError } from '../src/core/errors.js';

let dir: string;
let conn: DuckDBConnection;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-minari-'));
  conn = await openMemoryConnection();
});
afterEach(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

/** One episode as Minari's EpisodeBuffer holds it: N + 1 observations, N of the rest. */
interface Episode {
  obs: number[][];
  act: number[][] | number[];
  rew: number[];
  term: boolean[];
  trunc: boolean[];
}

const EPISODES: Episode[] = [
  {
    obs: [[0, 0], [1, 1], [2, 2], [3, 3]],
    act: [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]],
    rew: [1, 2, 3],
    term: [false, false, true],
    trunc: [false, false, false],
  },
  {
    obs: [[10, 10], [11, 11], [12, 12]],
    act: [[0.7, 0.8], [0.9, 1.0]],
    rew: [4, 5],
    term: [false, false],
    trunc: [false, true],
  },
];

const BOX2 = '{"type": "Box", "dtype": "float32", "shape": [2], "low": [-Infinity, -Infinity], "high": [Infinity, Infinity]}';
const ACT_BOX = '{"type": "Box", "dtype": "float32", "shape": [2], "low": [-1.0, -1.0], "high": [1.0, 1.0]}';

/** The dataset-level metadata.json, as Python's json.dump writes it (bare Infinity inside the space strings). */
async function writeMetadata(data: string, format: string, over: Record<string, unknown> = {}, episodes = EPISODES): Promise<void> {
  const meta = {
    total_episodes: episodes.length,
    total_steps: episodes.reduce((s, e) => s + e.rew.length, 0),
    data_format: format,
    observation_space: BOX2,
    action_space: ACT_BOX,
    env_spec: '{"id": "PointMaze_UMaze-v3", "entry_point": "x:y", "max_episode_steps": 300}',
    dataset_id: 'test/pointmaze/umaze-v0',
    ref_min_score: 1.5,
    ref_max_score: 10,
    ...over,
  };
  await mkdir(data, { recursive: true });
  await writeFile(path.join(data, 'metadata.json'), JSON.stringify(meta));
}

const f32 = (x: number) => Math.fround(x);

function fixedList(rows: number[][], width: number): Vector {
  const flat = new Float32Array(rows.length * width);
  rows.forEach((r, i) => flat.set(r, i * width));
  const child = makeData({ type: new Float32(), length: flat.length, data: flat });
  return makeVector(makeData({ type: new FixedSizeList(width, new Field('item', new Float32())), length: rows.length, nullCount: 0, child }));
}

/** Arrow backend: <data>/<id>/part-0.arrow with N + 1 rows (actions, rewards, flags padded with zeros). */
async function writeArrowEpisodes(data: string, episodes = EPISODES, discrete = false): Promise<void> {
  for (const [id, ep] of episodes.entries()) {
    const n = ep.rew.length;
    const epDir = path.join(data, String(id));
    await mkdir(epDir, { recursive: true });
    const actions = discrete
      ? makeVector(Int32Array.from([...(ep.act as number[]), 0]))
      : fixedList([...(ep.act as number[][]), [0, 0]], 2);
    const table = new Table({
      observations: fixedList(ep.obs, 2),
      actions,
      rewards: makeVector(Float64Array.from([...ep.rew, 0])),
      terminations: vectorFromArray([...ep.term, false], new Bool()),
      truncations: vectorFromArray([...ep.trunc, false], new Bool()),
    });
    await writeFile(path.join(epDir, 'part-0.arrow'), tableToIPC(table, 'file'));
    await writeFile(path.join(epDir, 'metadata.json'), JSON.stringify({ id, total_steps: n }));
  }
}

/** Parquet backend: the same columns through DuckDB COPY. */
async function writeParquetEpisodes(data: string, episodes = EPISODES): Promise<void> {
  for (const [id, ep] of episodes.entries()) {
    const epDir = path.join(data, String(id));
    await mkdir(epDir, { recursive: true });
    const rows = ep.obs.map((o, t) => {
      const last = t === ep.rew.length;
      const a = last ? [0, 0] : (ep.act as number[][])[t]!;
      return `([${o.join(', ')}]::FLOAT[], [${a.join(', ')}]::FLOAT[], ${last ? 0 : ep.rew[t]}::DOUBLE, ${last ? false : ep.term[t]}, ${last ? false : ep.trunc[t]})`;
    });
    await conn.run(
      `COPY (SELECT * FROM (VALUES ${rows.join(', ')}) v(observations, actions, rewards, terminations, truncations)) TO '${path.join(epDir, 'part-0.parquet')}' (FORMAT parquet)`,
    );
    await writeFile(path.join(epDir, 'metadata.json'), JSON.stringify({ id, total_steps: ep.rew.length }));
  }
}

/** HDF5 backend: main_data.hdf5, one group episode_<id> per episode, no padding. */
async function writeHdf5Episodes(data: string, episodes = EPISODES): Promise<void> {
  await h5wasm.ready;
  const f = new h5wasm.File(path.join(data, 'main_data.hdf5'), 'w');
  for (const [id, ep] of episodes.entries()) {
    const g = `episode_${id}`;
    f.create_group(g);
    const n = ep.rew.length;
    f.create_dataset({ name: `${g}/observations`, data: Float32Array.from(ep.obs.flat()), shape: [n + 1, 2], dtype: '<f' });
    f.create_dataset({ name: `${g}/actions`, data: Float32Array.from((ep.act as number[][]).flat()), shape: [n, 2], dtype: '<f' });
    f.create_dataset({ name: `${g}/rewards`, data: Float64Array.from(ep.rew), shape: [n], dtype: '<d' });
    f.create_dataset({ name: `${g}/terminations`, data: Uint8Array.from(ep.term.map(Number)), shape: [n], dtype: '<B' });
    f.create_dataset({ name: `${g}/truncations`, data: Uint8Array.from(ep.trunc.map(Number)), shape: [n], dtype: '<B' });
  }
  f.close();
}

const EXPECTED_ROWS = [
  { episode_id: '0', step: 0, observation: [0, 0], next_observation: [1, 1], action: [f32(0.1), f32(0.2)], reward: 1, terminated: false, truncated: false, _row: '0' },
  { episode_id: '0', step: 1, observation: [1, 1], next_observation: [2, 2], action: [f32(0.3), f32(0.4)], reward: 2, terminated: false, truncated: false, _row: '1' },
  { episode_id: '0', step: 2, observation: [2, 2], next_observation: [3, 3], action: [f32(0.5), f32(0.6)], reward: 3, terminated: true, truncated: false, _row: '2' },
  { episode_id: '1', step: 0, observation: [10, 10], next_observation: [11, 11], action: [f32(0.7), f32(0.8)], reward: 4, terminated: false, truncated: false, _row: '3' },
  { episode_id: '1', step: 1, observation: [11, 11], next_observation: [12, 12], action: [f32(0.9), 1], reward: 5, terminated: false, truncated: true, _row: '4' },
];

const EXPECTED_METADATA = {
  kind: 'trajectory',
  observationSpace: { type: 'box', shape: [2] },
  actionSpace: { type: 'box', shape: [2], low: [-1, -1], high: [1, 1] },
  envId: 'PointMaze_UMaze-v3',
  refMinScore: 1.5,
  refMaxScore: 10,
};

describe('stageMinari', () => {
  for (const [format, write] of [
    ['arrow', writeArrowEpisodes],
    ['parquet', writeParquetEpisodes],
    ['hdf5', writeHdf5Episodes],
  ] as const) {
    it(`reads the ${format} backend: N + 1 observations become N steps with next_observation`, async () => {
      const root = path.join(dir, 'umaze-v0');
      const data = path.join(root, 'data');
      await writeMetadata(data, format);
      await write(data);
      const { metadata } = await stageMinari(conn, root, 'staged');
      expect(await queryRows(conn, 'SELECT * FROM staged ORDER BY _row')).toEqual(EXPECTED_ROWS);
      expect(metadata).toEqual({ ...EXPECTED_METADATA, extra: { minariDataFormat: format, minariDatasetId: 'test/pointmaze/umaze-v0' } });
    });
  }

  it('reads discrete actions, shifting Discrete(n, start) to 0..n-1', async () => {
    const data = path.join(dir, 'data');
    const eps: Episode[] = EPISODES.map((e, i) => ({ ...e, act: i === 0 ? [3, 4, 5] : [5, 3] }));
    await writeMetadata(data, 'arrow', { action_space: '{"type": "Discrete", "dtype": "int64", "start": 3, "n": 3}' }, eps);
    await writeArrowEpisodes(data, eps, true);
    const { metadata } = await stageMinari(conn, data, 'staged');
    expect(metadata.actionSpace).toEqual({ type: 'discrete', n: 3 });
    expect(metadata.extra).toMatchObject({ minariActionStart: 3 });
    expect(await queryRows(conn, 'SELECT typeof(action) AS t, list(action ORDER BY _row) AS a FROM staged GROUP BY ALL')).toEqual([
      { t: 'INTEGER', a: [0, 1, 2, 2, 0] },
    ]);
  });

  it('ingests through ingest() and validates like any trajectory dataset', async () => {
    const data = path.join(dir, 'data');
    await writeMetadata(data, 'parquet');
    await writeParquetEpisodes(data);
    const ws = await Workspace.open(path.join(dir, 'ws'));
    const r = await ingest(ws, data, { name: 'maze' });
    expect(r.version.metadata.rowCount).toBe(5);
    expect(r.version.metadata.episodeCount).toBe(2);
    expect(r.version.metadata.envId).toBe('PointMaze_UMaze-v3');
    expect(r.version.metadata.lineage.transform).toBe('ingest:minari');
  });

  it('refuses metadata whose total_steps disagrees with the episode files', async () => {
    const data = path.join(dir, 'data');
    await writeMetadata(data, 'arrow', { total_steps: 6 });
    await writeArrowEpisodes(data);
    const err = (await stageMinari(conn, data, 'staged').catch((e: unknown) => e)) as OffpolicyError;
    expect(err).toBeInstanceOf(OffpolicyError);
    expect(err.code).toBe('E_MINARI_METADATA');
    expect(err.message).toBe(
      `${path.join(data, 'metadata.json')} says total_steps is 6, but the episode data hold 5. Some episode files are missing or extra; copy the whole Minari data directory again.`,
    );
  });

  it('refuses Dict observation spaces', async () => {
    const data = path.join(dir, 'data');
    await writeMetadata(data, 'arrow', { observation_space: '{"type": "Dict", "subspaces": {}}' });
    const err = (await stageMinari(conn, data, 'staged').catch((e: unknown) => e)) as OffpolicyError;
    expect(err.code).toBe('E_UNSUPPORTED_SPACE');
    expect(err.message).toBe(
      'The Minari observation_space is a Dict space; only Box spaces can be ingested. Flatten the space (e.g. gymnasium.wrappers.FlattenObservation) and re-create the dataset, or export the steps you need to Parquet.',
    );
  });

  it('refuses a directory without metadata.json', async () => {
    await mkdir(path.join(dir, 'empty'));
    const err = (await stageMinari(conn, path.join(dir, 'empty'), 'staged').catch((e: unknown) => e)) as OffpolicyError;
    expect(err.code).toBe('E_MINARI_LAYOUT');
    expect(err.message).toBe(
      `${path.join(dir, 'empty')} is not a Minari dataset directory: it has no metadata.json (nor data/metadata.json). Pass the dataset directory (e.g. ~/.minari/datasets/mujoco/hopper/medium-v0) or its data/ directory.`,
    );
  });

  it('refuses an episode file without a required column', async () => {
    const data = path.join(dir, 'data');
    await writeMetadata(data, 'parquet', { total_episodes: 1, total_steps: 1 });
    await mkdir(path.join(data, '0'), { recursive: true });
    const file = path.join(data, '0', 'part-0.parquet');
    await conn.run(`COPY (SELECT [0, 0]::FLOAT[] AS observations, [0, 0]::FLOAT[] AS actions, 0.0::DOUBLE AS rewards) TO '${file}' (FORMAT parquet)`);
    const err = (await stageMinari(conn, data, 'staged').catch((e: unknown) => e)) as OffpolicyError;
    expect(err.code).toBe('E_MISSING_COLUMN');
    expect(err.message).toBe(
      `${file} has no "terminations", "truncations" columns. A Minari episode file holds observations, actions, rewards, terminations and truncations; found: observations, actions, rewards.`,
    );
  });

  it('parses Python JSON with bare Infinity and NaN, leaving strings alone', () => {
    expect(parsePythonJson('{"a": [-Infinity, Infinity, NaN], "s": "Infinity NaN \\" x"}')).toEqual({
      a: [-Infinity, Infinity, NaN],
      s: 'Infinity NaN " x',
    });
  });
});
