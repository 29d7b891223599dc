import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tableToIPC, Table, vectorFromArray, FixedSizeList, Field, Float32, Float64, Int32, Int64, Int8, Utf8, List, Bool, Dictionary, TimestampMillisecond, Uint32 } from 'apache-arrow';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lit, openMemoryConnection, queryRows } from '../src/datasets/duckdb.js';
import { ingest, parseMapFlags } from '../src/datasets/ingest/index.js';
import { Workspace } from '../src/datasets/workspace.js';
import { FIXTURES, removeDir, storedRows, tempDir } from './ingest-helpers.js';

const EXPECTED_BANDIT = [
  { row_id: '10', context: [0.5, -1.25], action: 0, reward: 1, propensity: 0.5, segment: 'a', age: '31' },
  { row_id: '11', context: [0.25, 2], action: 2, reward: 0, propensity: 0.25, segment: 'b', age: '45' },
  { row_id: '12', context: [1.5, 0.75], action: 1, reward: 1, propensity: 0.125, segment: 'a', age: '27' },
];
const BANDIT_COLUMNS = [
  { name: 'row_id', type: 'BIGINT' },
  { name: 'context', type: 'FLOAT[]' },
  { name: 'action', type: 'INTEGER' },
  { name: 'reward', type: 'DOUBLE' },
  { name: 'propensity', type: 'DOUBLE' },
  { name: 'segment', type: 'VARCHAR' },
  { name: 'age', type: 'BIGINT' },
];

let dir: string;
let ws: Workspace;
beforeEach(async () => {
  dir = await tempDir();
  ws = await Workspace.open(path.join(dir, 'ws'));
});
afterEach(async () => {
  await removeDir(dir);
});

/** Writes the EXPECTED_BANDIT rows with DuckDB in `format` (parquet) at `file`. */
async function writeWithDuckdb(file: string, format: 'parquet' | 'csv' | 'json'): Promise<void> {
  const conn = await openMemoryConnection();
  await conn.run(
    `COPY (SELECT * FROM (VALUES (10::BIGINT, [0.5, -1.25]::FLOAT[2], 0, 1.0::DOUBLE, 0.5::DOUBLE, 'a', 31::BIGINT),
                                 (11, [0.25, 2.0]::FLOAT[2], 2, 0.0, 0.25, 'b', 45),
                                 (12, [1.5, 0.75]::FLOAT[2], 1, 1.0, 0.125, 'a', 27)) t(row_id, context, action, reward, propensity, segment, age))
     TO ${lit(file)} (FORMAT ${format})`,
  );
  conn.closeSync();
}

function arrowTable(): Table {
  const ctxType = new FixedSizeList(2, new Field('item', new Float32(), false));
  return new Table({
    row_id: vectorFromArray([10n, 11n, 12n], new Int64()),
    context: vectorFromArray([[0.5, -1.25], [0.25, 2], [1.5, 0.75]], ctxType),
    action: vectorFromArray([0, 2, 1], new Int32()),
    reward: vectorFromArray([1, 0, 1], new Float64()),
    propensity: vectorFromArray([0.5, 0.25, 0.125], new Float64()),
    segment: vectorFromArray(['a', 'b', 'a'], new Utf8()),
    age: vectorFromArray([31n, 45n, 27n], new Int64()),
  });
}

describe('ingest: every tabular format lands in the canonical bandit schema', () => {
  it('CSV with a list-string context column and named features', async () => {
    const r = await ingest(ws, path.join(FIXTURES, 'bandit.csv'), { name: 'logs' });
    expect(r.version.ref).toBe('logs@1');
    expect(r.rejectedCount).toBe(0);
    expect(r.warnings).toEqual([]);
    const m = r.version.metadata;
    expect(m.kind).toBe('bandit');
    expect(m.rowCount).toBe(3);
    expect(m.columns).toEqual(BANDIT_COLUMNS);
    expect(m.actionSpace).toEqual({ type: 'discrete', n: 3 });
    expect(m.observationSpace).toEqual({ type: 'box', shape: [2] });
    expect(m.lineage.transform).toBe('ingest:csv');
    expect(m.lineage.source).toBe(path.join(FIXTURES, 'bandit.csv'));
    expect(m.extra).toMatchObject({ propensitySource: 'column', numActionsSource: 'max_action', featureColumns: ['age'] });
    expect(await storedRows(ws, 'SELECT * FROM logs')).toEqual(EXPECTED_BANDIT);
  });

  it('JSON Lines', async () => {
    const r = await ingest(ws, path.join(FIXTURES, 'bandit.jsonl'), { name: 'logs' });
    expect(r.version.metadata.lineage.transform).toBe('ingest:jsonl');
    expect(r.version.metadata.columns).toEqual(BANDIT_COLUMNS);
    expect(await storedRows(ws, 'SELECT * FROM logs')).toEqual(EXPECTED_BANDIT);
  });

  it('a .json file holding one JSON array of records', async () => {
    const lines = (await readFile(path.join(FIXTURES, 'bandit.jsonl'), 'utf8')).trim().split('\n');
    const file = path.join(dir, 'bandit.json');
    await writeFile(file, `[\n${lines.join(',\n')}\n]\n`);
    const r = await ingest(ws, file, { name: 'logs' });
    expect(r.version.metadata.columns).toEqual(BANDIT_COLUMNS);
    expect(await storedRows(ws, 'SELECT * FROM logs')).toEqual(EXPECTED_BANDIT);
  });

  it('Parquet (with a fixed-size FLOAT[2] array column)', async () => {
    const file = path.join(dir, 'bandit.parquet');
    await writeWithDuckdb(file, 'parquet');
    const r = await ingest(ws, file, { name: 'logs' });
    expect(r.version.metadata.lineage.transform).toBe('ingest:parquet');
    expect(r.version.metadata.columns).toEqual(BANDIT_COLUMNS);
    expect(await storedRows(ws, 'SELECT * FROM logs')).toEqual(EXPECTED_BANDIT);
  });

  it('Arrow IPC file and stream give the same rows and the same content hash as CSV', async () => {
    const fileFmt = path.join(dir, 'bandit.arrow');
    const streamFmt = path.join(dir, 'bandit.arrows');
    await writeFile(fileFmt, tableToIPC(arrowTable(), 'file'));
    await writeFile(streamFmt, tableToIPC(arrowTable(), 'stream'));
    const a = await ingest(ws, fileFmt, { name: 'a' });
    const b = await ingest(ws, streamFmt, { name: 'b' });
    const c = await ingest(ws, path.join(FIXTURES, 'bandit.csv'), { name: 'c' });
    expect(a.version.metadata.lineage.transform).toBe('ingest:arrow');
    expect(await storedRows(ws, 'SELECT * FROM a')).toEqual(EXPECTED_BANDIT);
    expect(await storedRows(ws, 'SELECT * FROM b')).toEqual(EXPECTED_BANDIT);
    expect(a.version.metadata.contentHash).toBe(c.version.metadata.contentHash);
    expect(b.version.metadata.contentHash).toBe(c.version.metadata.contentHash);
  });

  it('Arrow: several record batches, ragged lists and NULLs keep input order and values', async () => {
    const listType = new List(new Field('item', new Float64(), true));
    const batch = (offset: number, ctx: (number[] | null)[]) =>
      new Table({
        context: vectorFromArray(ctx, listType),
        action: vectorFromArray(ctx.map((_, i) => (offset + i) % 2), new Int32()),
        reward: vectorFromArray(ctx.map((_, i) => (i === 1 && offset === 2 ? null : offset + i)), new Float64()),
        propensity: vectorFromArray(ctx.map(() => 0.5), new Float64()),
      });
    const t = batch(0, [[1, 2], [3, 4]]).concat(batch(2, [[5], [6, 7]]));
    expect(t.batches.length).toBe(2);
    const file = path.join(dir, 'multi.arrow');
    await writeFile(file, tableToIPC(t, 'file'));
    const r = await ingest(ws, file, { name: 'multi', rewardNullable: true, dropInvalid: true });
    // Row 2 ([5]) has a context of another length: rejected; row 3's NULL reward is allowed.
    expect(r.rejectedCount).toBe(1);
    expect(await storedRows(ws, 'SELECT row_id, context, action, reward FROM multi')).toEqual([
      { row_id: '0', context: [1, 2], action: 0, reward: 0 },
      { row_id: '1', context: [3, 4], action: 1, reward: 1 },
      { row_id: '3', context: [6, 7], action: 1, reward: null },
    ]);
  });

  it('Arrow: small ints, float32, booleans, timestamps, dictionary strings and NULLs', async () => {
    const t = new Table({
      action: vectorFromArray([1, 0, 2], new Int8()),
      reward: vectorFromArray([0.5, null, 1.25], new Float32()),
      propensity: vectorFromArray([0.5, 0.25, 1], new Float64()),
      timestamp: vectorFromArray([Date.UTC(2024, 0, 2, 3, 4, 5, 678), Date.UTC(2024, 0, 2), null], new TimestampMillisecond()),
      group: vectorFromArray(['north', 'south', 'north'], new Dictionary(new Utf8(), new Int32())),
      flag: vectorFromArray([true, false, null], new Bool()),
      count: vectorFromArray([4000000000, 1, 2], new Uint32()),
    });
    const file = path.join(dir, 'types.arrow');
    await writeFile(file, tableToIPC(t, 'stream'));
    const r = await ingest(ws, file, { name: 'types', rewardNullable: true });
    expect(r.version.metadata.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      'row_id:BIGINT',
      'action:INTEGER',
      'reward:DOUBLE',
      'propensity:DOUBLE',
      'timestamp:TIMESTAMP',
      'group:VARCHAR',
      'flag:BOOLEAN',
      'count:BIGINT',
    ]);
    expect(await storedRows(ws, 'SELECT action, reward, timestamp::VARCHAR AS ts, "group", flag, count FROM types')).toEqual([
      { action: 1, reward: 0.5, ts: '2024-01-02 03:04:05.678', group: 'north', flag: true, count: '4000000000' },
      { action: 0, reward: null, ts: '2024-01-02 00:00:00', group: 'south', flag: false, count: '1' },
      { action: 2, reward: 1.25, ts: null, group: 'north', flag: null, count: '2' },
    ]);
  });

  it('ingesting the same file twice gives the same content hash', async () => {
    const a = await ingest(ws, path.join(FIXTURES, 'bandit.csv'), { name: 'logs' });
    const b = await ingest(ws, path.join(FIXTURES, 'bandit.csv'), { name: 'logs' });
    expect(b.version.ref).toBe('logs@2');
    expect(b.version.metadata.contentHash).toBe(a.version.metadata.contentHash);
    const j = await ingest(ws, path.join(FIXTURES, 'bandit.jsonl'), { name: 'j' });
    expect(j.version.metadata.contentHash).toBe(a.version.metadata.contentHash);
  });

  it('a stored version exported as CSV by DuckDB ingests back to the same content hash', async () => {
    const a = await ingest(ws, path.join(FIXTURES, 'numbered.csv'), { name: 'n' });
    const out = path.join(dir, 'export.csv');
    // The query connection writes only the files it is given.
    const conn = await ws.queryConnection({ writable: [out] });
    await conn.run(`COPY (SELECT * FROM n) TO ${lit(out)} (FORMAT csv, HEADER)`);
    conn.closeSync();
    const b = await ingest(ws, out, { name: 'n2' });
    expect(b.version.metadata.columns).toEqual(a.version.metadata.columns);
    expect(b.version.metadata.contentHash).toBe(a.version.metadata.contentHash);
  });
});

describe('ingest: mapping and vector assembly', () => {
  it('--map renames columns and assembles a context from listed columns', async () => {
    const map = parseMapFlags(['row_id=id', 'context=x1,x2,x3', 'action=item', 'reward=click', 'propensity=pscore']);
    const r = await ingest(ws, path.join(FIXTURES, 'mapped.csv'), { name: 'm', map });
    expect(r.version.metadata.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      'row_id:BIGINT',
      'context:FLOAT[]',
      'action:INTEGER',
      'reward:DOUBLE',
      'propensity:DOUBLE',
    ]);
    expect(r.version.metadata.observationSpace).toEqual({ type: 'box', shape: [3] });
    expect(r.version.metadata.lineage.params).toMatchObject({ map });
    expect(await storedRows(ws, 'SELECT * FROM m')).toEqual([
      { row_id: '7', context: [0.5, 1.5, -2], action: 1, reward: 0, propensity: 0.5 },
      { row_id: '8', context: [0.25, -0.5, 4], action: 0, reward: 1, propensity: 0.5 },
    ]);
  });

  it('numbered columns context_0.. and action_probs_0.. become vectors (in number order); K from action_probs', async () => {
    const r = await ingest(ws, path.join(FIXTURES, 'numbered.csv'), { name: 'n' });
    expect(r.version.metadata.actionSpace).toEqual({ type: 'discrete', n: 2 });
    expect(r.version.metadata.extra).toMatchObject({ numActionsSource: 'action_probs' });
    expect(await storedRows(ws, 'SELECT * FROM n')).toEqual([
      { row_id: '0', context: [1.5, 2.5], action: 1, reward: 0, propensity: 0.75, action_probs: [0.25, 0.75] },
      { row_id: '1', context: [3, -1], action: 0, reward: 1, propensity: 0.25, action_probs: [0.25, 0.75] },
    ]);
  });

  it('propensity is taken from action_probs at the logged action when the column is absent', async () => {
    const file = path.join(dir, 'probs.jsonl');
    await writeFile(file, '{"action": 2, "reward": 1, "action_probs": [0.5, 0.25, 0.25]}\n{"action": 0, "reward": 0, "action_probs": [0.5, 0.25, 0.25]}\n');
    const r = await ingest(ws, file, { name: 'p' });
    expect(r.warnings).toEqual(['No propensity column: propensity taken from action_probs at the logged action.']);
    expect(r.version.metadata.extra).toMatchObject({ propensitySource: 'action_probs' });
    expect(await storedRows(ws, 'SELECT row_id, action, propensity FROM p')).toEqual([
      { row_id: '0', action: 2, propensity: 0.25 },
      { row_id: '1', action: 0, propensity: 0.5 },
    ]);
  });

  it('a log without propensities is stored, with the fact recorded in metadata and a warning', async () => {
    const file = path.join(dir, 'nop.csv');
    await writeFile(file, 'action,reward,pscore\n0,1,0.5\n1,0,0.5\n');
    const r = await ingest(ws, file, { name: 'nop' });
    expect(r.version.metadata.extra).toMatchObject({ propensitySource: 'missing' });
    expect(r.warnings).toEqual([
      'No propensity or action_probs column: the logging propensities will have to be estimated at evaluation (recorded in metadata); if a column holds them, pass --map propensity=pscore.',
    ]);
    expect(r.version.metadata.columns.map((c) => c.name)).toEqual(['row_id', 'action', 'reward', 'pscore']);
  });

  it('reports progress, ending at done = total', async () => {
    const calls: [number, number][] = [];
    await ingest(ws, path.join(FIXTURES, 'bandit.csv'), { name: 'p', onProgress: (d, t) => calls.push([d, t]) });
    expect(calls.length).toBeGreaterThanOrEqual(3);
    expect(calls[calls.length - 1]).toEqual([4, 4]);
    for (let i = 1; i < calls.length; i++) expect(calls[i]![0]).toBeGreaterThanOrEqual(calls[i - 1]![0]);
  });

  it('--num-actions sets K', async () => {
    const r = await ingest(ws, path.join(FIXTURES, 'bandit.csv'), { name: 'k', numActions: 5 });
    expect(r.version.metadata.actionSpace).toEqual({ type: 'discrete', n: 5 });
    expect(r.version.metadata.extra).toMatchObject({ numActionsSource: 'flag' });
  });
});

describe('ingest: Open Bandit Dataset layout', () => {
  it('maps item_id/click/propensity_score, stores 0-based positions, keeps user features, and keeps item_context in metadata', async () => {
    const r = await ingest(ws, path.join(FIXTURES, 'obd', 'all.csv'), { name: 'obd' });
    const m = r.version.metadata;
    expect(m.lineage.transform).toBe('ingest:obd');
    expect(m.actionSpace).toEqual({ type: 'discrete', n: 4 });
    expect(m.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      'row_id:BIGINT',
      'action:INTEGER',
      'reward:DOUBLE',
      'propensity:DOUBLE',
      'position:INTEGER',
      'timestamp:TIMESTAMP',
      'user_feature_0:VARCHAR',
      'user-item_affinity_0:DOUBLE',
      'user-item_affinity_1:DOUBLE',
    ]);
    expect(await storedRows(ws, 'SELECT row_id, action, reward, propensity, position, timestamp::VARCHAR AS ts, "user-item_affinity_1" AS aff1 FROM obd')).toEqual([
      { row_id: '0', action: 2, reward: 0, propensity: 0.0125, position: 0, ts: '2019-11-24 00:00:17.058', aff1: 1.5 },
      { row_id: '1', action: 0, reward: 1, propensity: 0.025, position: 2, ts: '2019-11-24 00:00:19.715', aff1: 0 },
      { row_id: '2', action: 3, reward: 0, propensity: 0.05, position: 1, ts: '2019-11-24 00:00:21', aff1: 0 },
    ]);
    expect(m.extra?.itemContext).toEqual({
      file: 'item_context.csv',
      columns: ['item_id', 'item_feature_0', 'item_feature_1'],
      rows: [
        { item_id: 0, item_feature_0: -0.5, item_feature_1: 'a7e4c4f3' },
        { item_id: 1, item_feature_0: 0.25, item_feature_1: 'b29c1f0e' },
        { item_id: 2, item_feature_0: 1.75, item_feature_1: 'a7e4c4f3' },
        { item_id: 3, item_feature_0: -1, item_feature_1: '0d1d6c55' },
      ],
    });
  });

  it('without item_context.csv K comes from the data; --format obd forces the layout', async () => {
    const file = path.join(dir, 'random.txt');
    await copyFile(path.join(FIXTURES, 'obd', 'all.csv'), file);
    const r = await ingest(ws, file, { name: 'obd', format: 'obd' });
    expect(r.version.metadata.actionSpace).toEqual({ type: 'discrete', n: 4 });
    expect(r.version.metadata.extra?.itemContext).toBeUndefined();
  });
});

describe('ingest: trajectory tables', () => {
  it('a CSV with episode_id/step and numbered obs_ columns lands in the canonical trajectory schema', async () => {
    const r = await ingest(ws, path.join(FIXTURES, 'trajectory.csv'), { name: 'traj' });
    const m = r.version.metadata;
    expect(m.kind).toBe('trajectory');
    expect(m.episodeCount).toBe(2);
    expect(m.observationSpace).toEqual({ type: 'box', shape: [2] });
    expect(m.actionSpace).toEqual({ type: 'discrete', n: 3 });
    expect(m.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      'episode_id:BIGINT',
      'step:INTEGER',
      'observation:FLOAT[]',
      'action:INTEGER',
      'reward:DOUBLE',
      'terminated:BOOLEAN',
      'truncated:BOOLEAN',
    ]);
    expect(await storedRows(ws, 'SELECT * FROM traj')).toEqual([
      { episode_id: '0', step: 0, observation: [0.5, 1], action: 1, reward: 0, terminated: false, truncated: false },
      { episode_id: '0', step: 1, observation: [0.75, 1.25], action: 0, reward: 1, terminated: true, truncated: false },
      { episode_id: '1', step: 0, observation: [-0.5, 0], action: 2, reward: 0.5, terminated: false, truncated: true },
    ]);
  });

  it('JSON Lines with list observations and continuous actions', async () => {
    const file = path.join(dir, 't.jsonl');
    await writeFile(
      file,
      [
        { episode_id: 3, step: 0, observation: [1, 2], action: [0.5], reward: 1, terminated: false, truncated: false },
        { episode_id: 3, step: 1, observation: [2, 3], action: [-0.5], reward: 2, terminated: true, truncated: false },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
    );
    const r = await ingest(ws, file, { name: 't' });
    expect(r.version.metadata.actionSpace).toEqual({ type: 'box', shape: [1] });
    expect(await storedRows(ws, 'SELECT observation, action FROM t')).toEqual([
      { observation: [1, 2], action: [0.5] },
      { observation: [2, 3], action: [-0.5] },
    ]);
  });

  it('trajectory rules run through ingest: a step gap is refused', async () => {
    const file = path.join(dir, 'gap.csv');
    await writeFile(file, 'episode_id,step,obs_0,action,reward,terminated,truncated\n0,0,1,0,0,false,false\n0,2,1,0,0,true,false\n1,0,1,0,0,true,false\n');
    const err = await ingest(ws, file, { name: 'gap' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_STEP_GAP' });
    expect((err as Error).message).toContain('failed for 2 rows (first: 0, 1)');
  });

  it('--drop-invalid drops whole trajectory episodes', async () => {
    const file = path.join(dir, 'nan.csv');
    await writeFile(file, 'episode_id,step,obs_0,action,reward,terminated,truncated\n0,0,1,0,0,false,false\n0,1,nan,0,0,true,false\n1,0,1,0,0,true,false\n');
    const r = await ingest(ws, file, { name: 'nan', dropInvalid: true });
    expect(r.rejectedCount).toBe(2);
    expect(await storedRows(ws, 'SELECT episode_id, step FROM nan')).toEqual([{ episode_id: '1', step: 0 }]);
    const conn = await openMemoryConnection();
    const rejected = await queryRows(conn, `SELECT _row, reason FROM read_parquet(${lit(r.rejectedFile!)})`);
    conn.closeSync();
    expect(rejected.map((x) => x._row)).toEqual(['0', '1']);
    expect(rejected[0]!.reason).toBe('episode dropped: another step of this episode broke a rule');
    expect(String(rejected[1]!.reason)).toMatch(/^E_NON_FINITE: /);
  });
});
