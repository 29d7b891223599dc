import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readColumns } from '../src/datasets/columns.js';
import { openMemoryConnection, queryRows, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { arraysToTable } from '../src/datasets/from-arrays.js';
import { loadTrajectoryArrays } from '../src/datasets/load-trajectories.js';
import { Workspace } from '../src/datasets/workspace.js';
import { OffpolicyError } from '../src/core/errors.js';

let dir: string;
let conn: DuckDBConnection;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-load-'));
  conn = await openMemoryConnection();
});
afterEach(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

describe('arraysToTable', () => {
  it('loads every column type across chunk boundaries, with NULLs, and reads back bit for bit', async () => {
    const n = 5000; // more than two 2048-row chunks
    const obs = Float32Array.from({ length: n * 3 }, (_, i) => Math.fround(i * 0.37 - 1000));
    const ep = Float64Array.from({ length: n }, (_, i) => Math.floor(i / 7) + 2 ** 40);
    const big = BigInt64Array.from({ length: n }, (_, i) => BigInt(i) * 3n - 5n);
    const flag = Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const reward = Float64Array.from({ length: n }, (_, i) => i / 3);
    const nulls = new Uint8Array(n);
    nulls[1] = 1;
    nulls[4097] = 1;
    const small = Int16Array.from({ length: n }, (_, i) => (i % 16) - 8);
    const step = Int32Array.from({ length: n }, (_, i) => i % 7);
    await arraysToTable(conn, 't', n, [
      { name: 'episode_id', type: 'BIGINT', data: ep },
      { name: 'step', type: 'INTEGER', data: step },
      { name: 'observation', type: 'FLOAT', data: obs, width: 3 },
      { name: 'big', type: 'BIGINT', data: big },
      { name: 'flag', type: 'BOOLEAN', data: flag },
      { name: 'reward', type: 'DOUBLE', data: reward, nulls },
      { name: 'small', type: 'SMALLINT', data: small },
    ]);
    expect((await queryRows(conn, 'DESCRIBE t')).map((r) => [r.column_name, r.column_type])).toEqual([
      ['episode_id', 'BIGINT'],
      ['step', 'INTEGER'],
      ['observation', 'FLOAT[]'],
      ['big', 'BIGINT'],
      ['flag', 'BOOLEAN'],
      ['reward', 'DOUBLE'],
      ['small', 'SMALLINT'],
    ]);
    expect(await queryRows(conn, 'SELECT big, flag, reward, small, observation FROM t LIMIT 2')).toEqual([
      { big: '-5', flag: true, reward: 0, small: -8, observation: [-1000, Math.fround(-999.63), Math.fround(-999.26)] },
      { big: '-2', flag: false, reward: null, small: -7, observation: [Math.fround(-998.89), Math.fround(-998.52), Math.fround(-998.15)] },
    ]);
    const r = await readColumns(conn, 'SELECT * FROM t', {
      episode_id: { type: 'i64' },
      step: { type: 'i32' },
      observation: { type: 'f32', width: 3 },
      big: { type: 'i64' },
      flag: { type: 'u8' },
      reward: { type: 'f64' },
      small: { type: 'i32' },
    });
    expect(r.n).toBe(n);
    expect(r.columns.observation).toEqual(obs);
    expect(r.columns.episode_id).toEqual(ep);
    expect(r.columns.step).toEqual(step);
    expect(Array.from(r.columns.big)).toEqual(Array.from(big, Number));
    expect(r.columns.flag).toEqual(flag);
    expect(Array.from(r.columns.small)).toEqual(Array.from(small));
    const expectedReward = Float64Array.from(reward);
    expectedReward[1] = NaN;
    expectedReward[4097] = NaN;
    expect(r.columns.reward).toEqual(expectedReward);
  });

  it('takes NULL BIGINTs whose data slot holds NaN', async () => {
    await arraysToTable(conn, 't', 3, [{ name: 'id', type: 'BIGINT', data: new Float64Array([1, NaN, 3]), nulls: new Uint8Array([0, 1, 0]) }]);
    expect(await queryRows(conn, 'SELECT id FROM t')).toEqual([{ id: '1' }, { id: null }, { id: '3' }]);
  });

  it('keeps fixed-size ARRAY columns with fixedSize, which Parquet stores as lists', async () => {
    await arraysToTable(conn, 'f', 2, [{ name: 'o', type: 'FLOAT', data: new Float32Array([1, 2, 3, 4]), width: 2 }], { fixedSize: true, temp: true });
    expect(await queryRows(conn, 'SELECT typeof(o) AS t, o FROM f')).toEqual([
      { t: 'FLOAT[2]', o: [1, 2] },
      { t: 'FLOAT[2]', o: [3, 4] },
    ]);
    const file = path.join(dir, 'f.parquet');
    await conn.run(`COPY f TO '${file}' (FORMAT parquet)`);
    expect(await queryRows(conn, `SELECT typeof(o) AS t FROM read_parquet('${file}') LIMIT 1`)).toEqual([{ t: 'FLOAT[]' }]);
  });

  it('refuses data of the wrong length', async () => {
    await expect(arraysToTable(conn, 't', 3, [{ name: 'o', type: 'FLOAT', data: new Float32Array(5), width: 2 }])).rejects.toThrow(
      'column o: expected 6 values, got 5',
    );
  });
});

describe('readColumns on list and array columns', () => {
  it('turns NULL lists and NULL elements into NaN and reads fixed-size ARRAY columns', async () => {
    const r = await readColumns(
      conn,
      `SELECT * FROM (VALUES (0, [1.5, NULL, 2]::DOUBLE[], [1, 2, 3]::FLOAT[3]), (1, NULL, [4, 5, 6]::FLOAT[3]), (2, [4, 5, 6]::DOUBLE[], NULL)) v(i, a, b) ORDER BY i`,
      { a: { type: 'f64', width: 3 }, b: { type: 'f32', width: 3 } },
    );
    expect(Array.from(r.columns.a)).toEqual([1.5, NaN, 2, NaN, NaN, NaN, 4, 5, 6]);
    expect(Array.from(r.columns.b)).toEqual([1, 2, 3, 4, 5, 6, NaN, NaN, NaN]);
  });

  it('reads lists from filtered, reordered, constant and mixed expressions', async () => {
    await conn.run('CREATE TABLE l AS SELECT i, [i, i * 10]::FLOAT[] AS v FROM range(6000) t(i)');
    const r = await readColumns(conn, 'SELECT v FROM l WHERE i % 3 = 1 ORDER BY i DESC', { v: { type: 'f32', width: 2 } });
    const expected: number[] = [];
    for (let i = 5998; i >= 1; i -= 3) expected.push(i, i * 10);
    expect(Array.from(r.columns.v)).toEqual(expected);
    const constant = await readColumns(conn, 'SELECT [1, 2]::FLOAT[] AS v FROM range(3000)', { v: { type: 'f32', width: 2 } });
    expect(constant.n).toBe(3000);
    expect(constant.columns.v.every((x, k) => x === (k % 2 === 0 ? 1 : 2))).toBe(true);
    const mixed = await readColumns(conn, 'SELECT CASE WHEN i % 2 = 0 THEN v ELSE [7, 8]::FLOAT[] END AS v FROM l ORDER BY i LIMIT 4', {
      v: { type: 'f32', width: 2 },
    });
    expect(Array.from(mixed.columns.v)).toEqual([0, 0, 7, 8, 2, 20, 7, 8]);
  });

  it('E_RAGGED_VECTOR: a list of the wrong length names the row', async () => {
    const err = (await readColumns(conn, 'SELECT * FROM (VALUES ([1, 2]::FLOAT[]), ([3]::FLOAT[])) v(a)', { a: { type: 'f32', width: 2 } }).catch(
      (e: unknown) => e,
    )) as OffpolicyError;
    expect(err).toBeInstanceOf(OffpolicyError);
    expect(err.code).toBe('E_RAGGED_VECTOR');
    expect(err.message).toBe('Column "a" has 1 values on row 1, expected 2. Every row of a vector column must have the same length.');
  });

  it('E_COLUMN_TYPE: asking for a vector from a scalar column', async () => {
    const err = (await readColumns(conn, 'SELECT 1.0 AS a', { a: { type: 'f64', width: 2 } }).catch((e: unknown) => e)) as OffpolicyError;
    expect(err.code).toBe('E_COLUMN_TYPE');
    expect(err.message).toBe('Column "a" holds scalars, but 2 values per row were asked for. Ask for width 1, or select a list column.');
  });
});

describe('loadTrajectoryArrays', () => {
  it('returns typed arrays in episode / step order with the missing-next mask', async () => {
    const ws = await Workspace.open(path.join(dir, 'ws'));
    // Stored out of order on purpose: episode 1 first, steps reversed.
    const select = `SELECT * FROM (VALUES
        (1, 1, [30, 31], NULL, [0.5], 4.0, FALSE, TRUE, -0.4, 2),
        (1, 0, [20, 21], [30, 31], [0.25], 3.0, FALSE, FALSE, -0.3, 0),
        (0, 1, [10, 11], NULL, [-0.5], 2.0, TRUE, FALSE, -0.2, 1),
        (0, 0, [0, 1], [10, 11], [-0.25], 1.0, FALSE, FALSE, -0.1, NULL))
      v(episode_id, step, observation, next_observation, action, reward, terminated, truncated, behavior_logprob, corrupted)`;
    const typed = `SELECT episode_id::BIGINT AS episode_id, step::INTEGER AS step, observation::FLOAT[] AS observation,
      next_observation::FLOAT[] AS next_observation, action::FLOAT[] AS action, reward::DOUBLE AS reward, terminated, truncated,
      behavior_logprob::DOUBLE AS behavior_logprob, corrupted::SMALLINT AS corrupted FROM (${select})`;
    const v = await ws.createVersion({
      name: 'traj',
      conn,
      select: typed,
      metadata: { kind: 'trajectory', observationSpace: { type: 'box', shape: [2] }, actionSpace: { type: 'box', shape: [1] }, lineage: { transform: 'test', params: {} } },
    });
    const progress: [number, number][] = [];
    const a = await loadTrajectoryArrays(conn, v, { onProgress: (d, t) => progress.push([d, t]) });
    expect(progress).toEqual([
      [0, 2],
      [1, 2],
      [2, 2],
    ]);
    expect(a.n).toBe(4);
    expect(a.obsDim).toBe(2);
    expect(a.actDim).toBe(1);
    expect(a.discreteActions).toBeUndefined();
    expect(Array.from(a.episodeId)).toEqual([0, 0, 1, 1]);
    expect(Array.from(a.step)).toEqual([0, 1, 0, 1]);
    expect(Array.from(a.observations)).toEqual([0, 1, 10, 11, 20, 21, 30, 31]);
    expect(Array.from(a.nextObservations!)).toEqual([10, 11, NaN, NaN, 30, 31, NaN, NaN]);
    expect(Array.from(a.nextObservationMissing!)).toEqual([0, 1, 0, 1]);
    expect(a.actions).toBeInstanceOf(Float32Array);
    expect(Array.from(a.actions)).toEqual([-0.25, -0.5, 0.25, 0.5]);
    expect(Array.from(a.rewards)).toEqual([1, 2, 3, 4]);
    expect(Array.from(a.terminated)).toEqual([0, 1, 0, 0]);
    expect(Array.from(a.truncated)).toEqual([0, 0, 0, 1]);
    expect(Array.from(a.behaviorLogprob!)).toEqual([-0.1, -0.2, -0.3, -0.4]);
    expect(Array.from(a.corrupted!)).toEqual([0, 1, 0, 2]);

    const filtered = await loadTrajectoryArrays(conn, v, { where: 'episode_id = 1' });
    expect(Array.from(filtered.step)).toEqual([0, 1]);
    expect(Array.from(filtered.observations)).toEqual([20, 21, 30, 31]);
  });

  it('loads discrete actions as Int32Array with K from the action space', async () => {
    const ws = await Workspace.open(path.join(dir, 'ws'));
    const v = await ws.createVersion({
      name: 'disc',
      conn,
      select: `SELECT 0::BIGINT AS episode_id, i::INTEGER AS step, [i]::FLOAT[] AS observation, (i % 2)::INTEGER AS action,
        1.0::DOUBLE AS reward, i = 2 AS terminated, FALSE AS truncated FROM range(3) t(i)`,
      metadata: { kind: 'trajectory', actionSpace: { type: 'discrete', n: 4 }, lineage: { transform: 'test', params: {} } },
    });
    const a = await loadTrajectoryArrays(conn, v);
    expect(a.discreteActions).toBe(4);
    expect(a.actions).toBeInstanceOf(Int32Array);
    expect(Array.from(a.actions)).toEqual([0, 1, 0]);
    expect(a.obsDim).toBe(1);
    expect(a.nextObservations).toBeNull();
    expect(a.nextObservationMissing).toBeNull();
    expect(a.behaviorLogprob).toBeNull();
    expect(a.corrupted).toBeNull();
  });

  it('refuses a bandit log', async () => {
    const ws = await Workspace.open(path.join(dir, 'ws'));
    const v = await ws.createVersion({
      name: 'log',
      conn,
      select: 'SELECT 1::BIGINT AS row_id, 0 AS action, 1.0::DOUBLE AS reward',
      metadata: { kind: 'bandit', lineage: { transform: 'test', params: {} } },
    });
    const err = (await loadTrajectoryArrays(conn, v).catch((e: unknown) => e)) as OffpolicyError;
    expect(err.code).toBe('E_DATASET_KIND');
    expect(err.message).toBe(
      'Dataset log@1 is a bandit log, not trajectory data. Training from typed arrays needs a trajectory dataset (episode_id, step, observation, action, ...).',
    );
  });
});
