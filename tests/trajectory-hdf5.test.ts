import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import h5wasm from 'h5wasm/node';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openMemoryConnection, queryRows, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { exportDataset } from '../src/datasets/export.js';
import { exportD4rlHdf5 } from '../src/datasets/export-hdf5.js';
import { ingest } from '../src/datasets/ingest/index.js';
import { stageD4rlHdf5 } from '../src/datasets/ingest/hdf5.js';
import type { MetadataInput } from '../src/datasets/metadata.js';
import { TRAJECTORY_COLUMNS } from '../src/datasets/schema.js';
import { prepareTrajectoryChecks } from '../src/datasets/validate-trajectory.js';
import { findViolations } from '../src/datasets/validation.js';
import { Workspace } from '../src/datasets/workspace.js';
import { OffpolicyError } from '../src/core/errors.js';

let dir: string;
let conn: DuckDBConnection;
beforeAll(async () => {
  await h5wasm.ready;
});
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-h5-'));
  conn = await openMemoryConnection();
});
afterEach(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

type Arr = Float32Array | Float64Array | Uint8Array | Int32Array;
interface H5Spec {
  [name: string]: { data: Arr; shape: number[]; dtype: string } | undefined;
}

function writeH5(file: string, spec: H5Spec, attrs: Record<string, string | number> = {}): void {
  const f = new h5wasm.File(file, 'w');
  if (Object.keys(spec).some((k) => k.startsWith('infos/'))) f.create_group('infos');
  for (const [name, s] of Object.entries(spec)) {
    if (s) f.create_dataset({ name, data: s.data, shape: s.shape, dtype: s.dtype });
  }
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'number') f.create_attribute(k, v, null, '<d');
    else f.create_attribute(k, v);
  }
  f.close();
}

/** Five steps, 2-d observations, 2-d actions: a terminal after row 1, a timeout after row 3, row 4 unfinished. */
function tinySpec(overrides: H5Spec = {}): H5Spec {
  return {
    observations: { data: new Float32Array([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5]), shape: [5, 2], dtype: '<f' },
    actions: { data: new Float32Array([0.1, -0.1, 0.2, -0.2, 0.3, -0.3, 0.4, -0.4, 0.5, -0.5]), shape: [5, 2], dtype: '<f' },
    rewards: { data: new Float32Array([1, 2, 3, 4, 5]), shape: [5], dtype: '<f' },
    terminals: { data: new Uint8Array([0, 1, 0, 0, 0]), shape: [5], dtype: '<B' },
    timeouts: { data: new Uint8Array([0, 0, 0, 1, 0]), shape: [5], dtype: '<B' },
    ...overrides,
  };
}

const f32 = (x: number) => Math.fround(x);
const vec = (...xs: number[]) => xs.map(f32);

describe('stageD4rlHdf5', () => {
  it('splits episodes at terminals | timeouts and derives next_observation within an episode', async () => {
    const file = path.join(dir, 'tiny.hdf5');
    writeH5(file, tinySpec(), { env_id: 'hopper-medium-v2', ref_min_score: -20.27, ref_max_score: 3234.3 });
    const { metadata } = await stageD4rlHdf5(conn, file, 'staged');
    const cols = await queryRows(conn, 'DESCRIBE staged');
    expect(cols.map((c) => [c.column_name, c.column_type])).toEqual([
      ['episode_id', 'BIGINT'],
      ['step', 'INTEGER'],
      ['observation', 'FLOAT[2]'],
      ['next_observation', 'FLOAT[2]'],
      ['action', 'FLOAT[2]'],
      ['reward', 'DOUBLE'],
      ['terminated', 'BOOLEAN'],
      ['truncated', 'BOOLEAN'],
      ['_row', 'BIGINT'],
    ]);
    const rows = await queryRows(conn, 'SELECT * FROM staged ORDER BY _row');
    expect(rows).toEqual([
      { episode_id: '0', step: 0, observation: [0, 0.5], next_observation: [1, 1.5], action: vec(0.1, -0.1), reward: 1, terminated: false, truncated: false, _row: '0' },
      { episode_id: '0', step: 1, observation: [1, 1.5], next_observation: null, action: vec(0.2, -0.2), reward: 2, terminated: true, truncated: false, _row: '1' },
      { episode_id: '1', step: 0, observation: [2, 2.5], next_observation: [3, 3.5], action: vec(0.3, -0.3), reward: 3, terminated: false, truncated: false, _row: '2' },
      { episode_id: '1', step: 1, observation: [3, 3.5], next_observation: null, action: vec(0.4, -0.4), reward: 4, terminated: false, truncated: true, _row: '3' },
      { episode_id: '2', step: 0, observation: [4, 4.5], next_observation: null, action: vec(0.5, -0.5), reward: 5, terminated: false, truncated: false, _row: '4' },
    ]);
    expect(metadata).toEqual({
      kind: 'trajectory',
      observationSpace: { type: 'box', shape: [2] },
      actionSpace: { type: 'box', shape: [2] },
      envId: 'hopper-medium-v2',
      refMinScore: -20.27,
      refMaxScore: 3234.3,
    });
    // A clean file passes every trajectory rule (NULL next_observation on last steps is allowed).
    const checks = await prepareTrajectoryChecks(conn, 'staged', { actionSpace: metadata.actionSpace });
    expect(await findViolations(conn, checks.checkTable, checks.rules)).toEqual([]);
  });

  it('keeps next_observations, action log-probs and treats terminal+timeout as a termination', async () => {
    const file = path.join(dir, 'full.h5');
    writeH5(
      file,
      tinySpec({
        terminals: { data: new Uint8Array([0, 1, 0, 0, 0]), shape: [5], dtype: '<B' },
        timeouts: { data: new Uint8Array([0, 1, 0, 0, 1]), shape: [5], dtype: '<B' },
        next_observations: { data: new Float32Array([9, 9, 8, 8, 7, 7, 6, 6, 5, 5]), shape: [5, 2], dtype: '<f' },
        'infos/action_log_probs': { data: new Float64Array([-1, -2, -3, -4, -5]), shape: [5], dtype: '<d' },
        'infos/qpos': { data: new Float64Array([0, 0, 0, 0, 0]), shape: [5], dtype: '<d' },
      }),
    );
    await stageD4rlHdf5(conn, file, 'staged');
    const rows = await queryRows(
      conn,
      'SELECT episode_id, step, next_observation, terminated, truncated, behavior_logprob FROM staged ORDER BY _row',
    );
    expect(rows).toEqual([
      { episode_id: '0', step: 0, next_observation: [9, 9], terminated: false, truncated: false, behavior_logprob: -1 },
      { episode_id: '0', step: 1, next_observation: [8, 8], terminated: true, truncated: false, behavior_logprob: -2 },
      { episode_id: '1', step: 0, next_observation: [7, 7], terminated: false, truncated: false, behavior_logprob: -3 },
      { episode_id: '1', step: 1, next_observation: [6, 6], terminated: false, truncated: false, behavior_logprob: -4 },
      { episode_id: '1', step: 2, next_observation: [5, 5], terminated: false, truncated: true, behavior_logprob: -5 },
    ]);
    expect((await queryRows(conn, 'DESCRIBE staged')).map((c) => c.column_name)).not.toContain('qpos');
  });

  it('reads integer actions as a discrete action column', async () => {
    const file = path.join(dir, 'discrete.h5');
    writeH5(file, tinySpec({ actions: { data: new Int32Array([0, 2, 1, 2, 0]), shape: [5], dtype: '<i' } }));
    const { metadata } = await stageD4rlHdf5(conn, file, 'staged');
    expect(metadata.actionSpace).toEqual({ type: 'discrete', n: 3 });
    const rows = await queryRows(conn, 'SELECT typeof(action) AS t, list(action ORDER BY _row) AS a FROM staged GROUP BY ALL');
    expect(rows).toEqual([{ t: 'INTEGER', a: [0, 2, 1, 2, 0] }]);
  });

  it('keeps 1-d observations and actions as vectors of length 1', async () => {
    const file = path.join(dir, 'narrow.h5');
    writeH5(
      file,
      tinySpec({
        observations: { data: new Float32Array([0, 1, 2, 3, 4]), shape: [5], dtype: '<f' },
        actions: { data: new Float64Array([0.5, 1.5, 2.5, 3.5, 4.5]), shape: [5, 1], dtype: '<d' },
      }),
    );
    const { metadata } = await stageD4rlHdf5(conn, file, 'staged');
    expect(metadata.observationSpace).toEqual({ type: 'box', shape: [1] });
    expect(metadata.actionSpace).toEqual({ type: 'box', shape: [1] });
    expect(await queryRows(conn, 'SELECT typeof(observation) AS t, list(observation ORDER BY _row) AS o, list(next_observation ORDER BY _row) AS n, list(action ORDER BY _row) AS a FROM staged GROUP BY ALL')).toEqual([
      { t: 'FLOAT[]', o: [[0], [1], [2], [3], [4]], n: [[1], null, [3], null, null], a: [[0.5], [1.5], [2.5], [3.5], [4.5]] },
    ]);
  });

  it('refuses a file without timeouts, naming what it found', async () => {
    const file = path.join(dir, 'old.h5');
    writeH5(file, tinySpec({ timeouts: undefined }));
    const err = await stageD4rlHdf5(conn, file, 'staged').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OffpolicyError);
    expect((err as OffpolicyError).code).toBe('E_MISSING_COLUMN');
    expect((err as OffpolicyError).message).toBe(
      `${file} has no "timeouts" dataset. A D4RL file holds observations, actions, rewards, terminals and timeouts at its root; found: actions, observations, rewards, terminals.`,
    );
  });

  it('refuses arrays of different lengths', async () => {
    const file = path.join(dir, 'short.h5');
    writeH5(file, tinySpec({ rewards: { data: new Float32Array([1, 2, 3, 4]), shape: [4], dtype: '<f' } }));
    const err = (await stageD4rlHdf5(conn, file, 'staged').catch((e: unknown) => e)) as OffpolicyError;
    expect(err.code).toBe('E_LENGTH_MISMATCH');
    expect(err.message).toBe(
      'Dataset "rewards" has 4 rows but "observations" has 5. Every array of a D4RL file has one row per step; the file is damaged or was written inconsistently.',
    );
  });

  it('refuses next_observations whose width differs from observations', async () => {
    const file = path.join(dir, 'wide.h5');
    writeH5(file, tinySpec({ next_observations: { data: new Float32Array(15), shape: [5, 3], dtype: '<f' } }));
    const err = (await stageD4rlHdf5(conn, file, 'staged').catch((e: unknown) => e)) as OffpolicyError;
    expect(err.code).toBe('E_SHAPE_MISMATCH');
    expect(err.message).toBe('"next_observations" has 3 values per row but "observations" has 2. Both arrays must have the same shape [N, d].');
  });

  it('refuses a file that is not HDF5', async () => {
    const file = path.join(dir, 'fake.hdf5');
    await writeFile(file, 'observations,actions\n1,2\n');
    const err = (await stageD4rlHdf5(conn, file, 'staged').catch((e: unknown) => e)) as OffpolicyError;
    expect(err.code).toBe('E_FILE_FORMAT');
    expect(err.message).toBe(
      `${file} is not an HDF5 file (its first bytes are not the HDF5 signature). Pass a D4RL-style .hdf5/.h5 file, or choose the format that matches the file with --format.`,
    );
  });

  it('refuses a truncated HDF5 file', async () => {
    const file = path.join(dir, 'whole.h5');
    writeH5(file, tinySpec());
    const bytes = await readFile(file);
    const cut = path.join(dir, 'cut.h5');
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const err = (await stageD4rlHdf5(conn, cut, 'staged').catch((e: unknown) => e)) as OffpolicyError;
    expect(err.code).toBe('E_FILE_FORMAT');
    expect(err.message).toBe(`${cut} has the HDF5 signature but cannot be opened (truncated or damaged). Re-download or re-export the file.`);
  });

  it('refuses a damaged HDF5 file with a coded error and no HDF5 diagnostics on stderr', async () => {
    const file = path.join(dir, 'whole2.h5');
    writeH5(file, tinySpec());
    const bytes = await readFile(file);
    // overwrite 64 bytes of the root group's structures (the superblock stays intact)
    bytes.fill(0xab, 200, 264);
    const bad = path.join(dir, 'damaged.h5');
    await writeFile(bad, bytes);
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const error = console.error;
    process.stderr.write = ((chunk: string | Uint8Array) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
    console.error = (...args: unknown[]) => void written.push(args.map(String).join(' '));
    let err: OffpolicyError;
    try {
      err = (await stageD4rlHdf5(conn, bad, 'staged').catch((e: unknown) => e)) as OffpolicyError;
    } finally {
      process.stderr.write = write;
      console.error = error;
    }
    expect(err.code).toBe('E_FILE_FORMAT');
    expect(err.message).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has the HDF5 signature but its dataset "\\w+" cannot be read: the file is damaged \\(HDF5: .+\\)\\. Re-download or re-export the file\\.$`));
    expect(written.join('')).not.toContain('HDF5-DIAG');
  });

  it('finds NaN observations through the trajectory rules', async () => {
    const file = path.join(dir, 'nan.h5');
    writeH5(file, tinySpec({ observations: { data: new Float32Array([0, 0.5, 1, NaN, 2, 2.5, 3, 3.5, 4, 4.5]), shape: [5, 2], dtype: '<f' } }));
    await stageD4rlHdf5(conn, file, 'staged');
    const checks = await prepareTrajectoryChecks(conn, 'staged');
    const v = await findViolations(conn, checks.checkTable, checks.rules);
    // Row 1's observation is NaN; row 0's derived next_observation (row 1's observation) is too.
    expect(v.map((x) => [x.code, x.count, x.rows])).toEqual([['E_NON_FINITE', 2, [0, 1]]]);
  });
});

describe('D4RL HDF5 round trip', () => {
  async function ingestFile(ws: Workspace, file: string, name: string) {
    const c = await openMemoryConnection();
    try {
      const { metadata } = await stageD4rlHdf5(c, file, 'staged');
      const checks = await prepareTrajectoryChecks(c, 'staged', { actionSpace: metadata.actionSpace });
      expect(await findViolations(c, checks.checkTable, checks.rules)).toEqual([]);
      const present = new Set((await queryRows(c, 'DESCRIBE staged')).map((r) => String(r.column_name)));
      const select = `SELECT ${TRAJECTORY_COLUMNS.filter((col) => present.has(col.name)).map((col) => col.name).join(', ')} FROM staged ORDER BY _row`;
      const input: MetadataInput = { kind: 'trajectory', lineage: { transform: 'ingest:d4rl', params: {}, source: file }, ...metadata } as MetadataInput;
      return await ws.createVersion({ name, conn: c, select, metadata: input });
    } finally {
      c.closeSync();
    }
  }

  for (const variant of ['derived next_observation', 'stored next_observations, log-probs, discrete'] as const) {
    it(`ingest -> export -> ingest keeps the content hash (${variant})`, async () => {
      const ws = await Workspace.open(path.join(dir, 'ws'));
      const file = path.join(dir, 'src.hdf5');
      const extra: H5Spec =
        variant === 'derived next_observation'
          ? {}
          : {
              actions: { data: new Int32Array([3, 0, 1, 2, 1]), shape: [5], dtype: '<i' },
              next_observations: { data: new Float32Array([1, 1.5, 9, 9, 3, 3.5, 8, 8, 7, 7]), shape: [5, 2], dtype: '<f' },
              'infos/action_log_probs': { data: new Float64Array([-0.1, -0.2, -0.3, -0.4, -0.5]), shape: [5], dtype: '<d' },
            };
      writeH5(file, tinySpec(extra), { env_id: 'toy-v0', ref_min_score: 0, ref_max_score: 10 });
      const v1 = await ingestFile(ws, file, 'a');
      const out = path.join(dir, 'out', 'exported.hdf5');
      await exportD4rlHdf5(conn, v1, out);
      expect((await readdir(path.dirname(out))).filter((f) => f.includes('.tmp-'))).toEqual([]);
      const v2 = await ingestFile(ws, out, 'b');
      expect(v2.metadata.contentHash).toBe(v1.metadata.contentHash);
      // Staged as fixed-size arrays, stored as the canonical lists.
      expect(v1.metadata.columns.find((c) => c.name === 'observation')?.type).toBe('FLOAT[]');
      expect(v2.metadata.rowCount).toBe(5);
      expect(v2.metadata.episodeCount).toBe(3);
      expect(v2.metadata.envId).toBe('toy-v0');
      expect(v2.metadata.refMaxScore).toBe(10);
      expect(v2.metadata.actionSpace).toEqual(v1.metadata.actionSpace);
      const g = new h5wasm.File(out, 'r');
      try {
        expect(g.keys().sort()).toEqual(
          variant === 'derived next_observation'
            ? ['actions', 'observations', 'rewards', 'terminals', 'timeouts']
            : ['actions', 'infos', 'next_observations', 'observations', 'rewards', 'terminals', 'timeouts'],
        );
        expect((g.get('observations') as InstanceType<typeof h5wasm.Dataset>).dtype).toBe('<f');
        expect(Array.from((g.get('timeouts') as InstanceType<typeof h5wasm.Dataset>).value as Uint8Array)).toEqual([0, 0, 0, 1, 0]);
      } finally {
        g.close();
      }
    });
  }

  it('keeps a dataset without next_observation without one through export and ingest', async () => {
    const ws = await Workspace.open(path.join(dir, 'ws'));
    const select = `SELECT (i // 3)::BIGINT AS episode_id, (i % 3)::INTEGER AS step, [i * 0.5, 1 - i]::FLOAT[] AS observation,
      (i % 4)::INTEGER AS action, (i * 1.25)::DOUBLE AS reward, (i = 2) AS terminated, (i = 5) AS truncated FROM range(6) t(i)`;
    const v1 = await ws.createVersion({
      name: 'nonext',
      conn,
      select,
      metadata: { kind: 'trajectory', actionSpace: { type: 'discrete', n: 4 }, lineage: { transform: 'test', params: {} } },
    });
    const out = path.join(dir, 'nonext.h5');
    await exportD4rlHdf5(conn, v1, out);
    const g = new h5wasm.File(out, 'r');
    try {
      expect(g.keys().sort()).toEqual(['actions', 'observations', 'rewards', 'terminals', 'timeouts']);
      expect(g.attrs['next_observation_column']?.json_value).toBe(0);
      expect(g.attrs['action_space_n']?.json_value).toBe(4);
    } finally {
      g.close();
    }
    const v2 = await ingestFile(ws, out, 'nonext2');
    expect(v2.metadata.columns.map((c) => c.name)).toEqual(['episode_id', 'step', 'observation', 'action', 'reward', 'terminated', 'truncated']);
    expect(v2.metadata.contentHash).toBe(v1.metadata.contentHash);
    expect(v2.metadata.actionSpace).toEqual({ type: 'discrete', n: 4 });
  });

  it('marks an unflagged episode end with a timeout so the episodes stay apart', async () => {
    const ws = await Workspace.open(path.join(dir, 'ws'));
    const select = `SELECT (i // 2)::BIGINT AS episode_id, (i % 2)::INTEGER AS step, [i, -i]::FLOAT[] AS observation,
      [i + 1, -i - 1]::FLOAT[] AS next_observation, [0.5]::FLOAT[] AS action, i::DOUBLE AS reward,
      FALSE AS terminated, FALSE AS truncated FROM range(4) t(i)`;
    const v = await ws.createVersion({ name: 'g', conn, select, metadata: { kind: 'trajectory', lineage: { transform: 'test', params: {} } } });
    const out = path.join(dir, 'g.h5');
    await exportD4rlHdf5(conn, v, out);
    const g = new h5wasm.File(out, 'r');
    try {
      expect(Array.from((g.get('timeouts') as InstanceType<typeof h5wasm.Dataset>).value as Uint8Array)).toEqual([0, 1, 0, 0]);
    } finally {
      g.close();
    }
    const c = await openMemoryConnection();
    await stageD4rlHdf5(c, out, 's');
    expect(await queryRows(c, 'SELECT list(episode_id::INT ORDER BY _row) AS e, list(truncated ORDER BY _row) AS t FROM s')).toEqual([
      { e: [0, 0, 1, 1], t: [false, true, false, false] },
    ]);
    c.closeSync();
  });

  it('refuses to export a bandit log', async () => {
    const ws = await Workspace.open(path.join(dir, 'ws'));
    const v = await ws.createVersion({
      name: 'log',
      conn,
      select: 'SELECT 1::BIGINT AS row_id, 0 AS action, 1.0::DOUBLE AS reward, 0.5::DOUBLE AS propensity',
      metadata: { kind: 'bandit', lineage: { transform: 'test', params: {} } },
    });
    const out = path.join(dir, 'x.h5');
    const err = (await exportD4rlHdf5(conn, v, out).catch((e: unknown) => e)) as OffpolicyError;
    expect(err.code).toBe('E_EXPORT_KIND');
    expect(err.message).toBe('Dataset log@1 is a bandit log; D4RL-style HDF5 holds trajectories only. Export bandit logs as parquet, csv or jsonl.');
    expect(existsSync(out)).toBe(false);
  });

  it('round-trips through ingest() and exportDataset(), and --drop-invalid drops whole episodes', async () => {
    const ws = await Workspace.open(path.join(dir, 'ws'));
    const file = path.join(dir, 'src.hdf5');
    writeH5(file, tinySpec({ 'infos/action_log_probs': { data: new Float64Array([-1, -2, -3, -4, -5]), shape: [5], dtype: '<d' } }), {
      env_id: 'toy-v0',
    });
    const a = await ingest(ws, file, { name: 'a' });
    expect(a.version.metadata.lineage.transform).toBe('ingest:d4rl');
    const out = path.join(dir, 'a.hdf5');
    await exportDataset(ws, 'a', { format: 'hdf5', out });
    const b = await ingest(ws, out, { name: 'b' });
    expect(b.version.metadata.contentHash).toBe(a.version.metadata.contentHash);

    const bad = path.join(dir, 'bad.hdf5');
    writeH5(bad, tinySpec({ rewards: { data: new Float32Array([1, 2, NaN, 4, 5]), shape: [5], dtype: '<f' } }));
    const err = (await ingest(ws, bad, { name: 'c' }).catch((e: unknown) => e)) as OffpolicyError;
    expect(err.code).toBe('E_NON_FINITE');
    expect(err.message).toContain('failed for 1 row (first: 2).');
    const dropped = await ingest(ws, bad, { name: 'c', dropInvalid: true });
    expect(dropped.rejectedCount).toBe(2); // row 2 and the other step of its episode
    expect(dropped.version.metadata.rowCount).toBe(3);
    expect(dropped.version.metadata.episodeCount).toBe(2);
  });
});
