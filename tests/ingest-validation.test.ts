import { readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lit, openMemoryConnection, queryRows } from '../src/datasets/duckdb.js';
import { ingest, parseMapFlags, type IngestOptions } from '../src/datasets/ingest/index.js';
import { OffpolicyError } from '../src/core/errors.js';
import { Workspace } from '../src/datasets/workspace.js';
import { byteSnapshot, FIXTURES, removeDir, storedRows, tempDir } from './ingest-helpers.js';

let dir: string;
let wsDir: string;
let ws: Workspace;
beforeEach(async () => {
  dir = await tempDir();
  wsDir = path.join(dir, 'ws');
  ws = await Workspace.open(wsDir);
  // An existing version that every failure below must leave untouched.
  await ingest(ws, path.join(FIXTURES, 'bandit.csv'), { name: 'logs' });
});
afterEach(async () => {
  await removeDir(dir);
});

async function file(name: string, text: string | Buffer): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, text);
  return p;
}

/** Runs an ingest that must fail; checks the code, the message, and that the workspace is byte-identical afterwards. */
async function expectFailure(source: string, opts: Partial<IngestOptions>, code: string, message: string | RegExp): Promise<OffpolicyError> {
  const before = await byteSnapshot(wsDir);
  const err = await ingest(ws, source, { name: 'new', ...opts }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OffpolicyError);
  const e = err as OffpolicyError;
  expect(e.code).toBe(code);
  if (typeof message === 'string') expect(e.message).toBe(message);
  else expect(e.message).toMatch(message);
  expect(await byteSnapshot(wsDir)).toEqual(before);
  return e;
}

const HDR = 'row_id,context,action,reward,propensity';

describe('bandit validation: each rule names itself, the count and the first rows; nothing is written', () => {
  it('E_PROPENSITY_RANGE: propensity outside (0, 1]', async () => {
    const src = await file('p.csv', `${HDR}\n0,"[1, 2]",0,1,0.5\n1,"[1, 2]",0,1,0\n2,"[1, 2]",1,1,1\n3,"[1, 2]",1,0,1.5\n4,"[1, 2]",1,0,-0.1\n`);
    const e = await expectFailure(
      src,
      {},
      'E_PROPENSITY_RANGE',
      'Rule "propensity in (0, 1]" failed for 3 rows (first: 1, 3, 4). A propensity is the probability the logging policy gave the logged action: it must be above 0 and at most 1 (map the right column with --map propensity=COLUMN).',
    );
    expect(e.details).toEqual({ rule: 'propensity in (0, 1]', count: 3, rows: [1, 3, 4] });
  });

  it('E_NON_FINITE: NaN or infinite numbers in scalar and vector columns', async () => {
    const src = await file('nf.csv', `${HDR},x\n0,"[1, 2]",0,1,0.5,1\n1,"[1, 2]",0,1,0.5,inf\n2,"[1, nan]",0,1,0.5,2\n3,"[1, 2]",0,1,0.5,-inf\n`);
    await expectFailure(
      src,
      {},
      'E_NON_FINITE',
      '2 validation rules failed:\n' +
        '  - Rule "context values are finite numbers (no NaN, Infinity or NULL)" failed for 1 row (first: 2). Replace or drop the rows whose context holds NaN, Infinity or NULL.\n' +
        '  - Rule "x is finite (not NaN or Infinity)" failed for 2 rows (first: 1, 3). Replace or drop the rows whose x is NaN or Infinity. ' +
        'Fix the input, or pass --drop-invalid to store only the valid rows and write the rejected ones beside the new version.',
    );
    const src2 = await file('nf2.csv', `action,reward,propensity\n0,nan,0.5\n1,1,0.5\n`);
    await expectFailure(src2, {}, 'E_NON_FINITE', 'Rule "reward is finite (not NaN or Infinity)" failed for 1 row (first: 0). Replace or drop the rows whose reward is NaN or Infinity.');
  });

  it('E_ACTION_RANGE: actions outside 0..K-1 for the declared K', async () => {
    const src = await file('a.csv', `action,reward,propensity\n0,1,0.5\n3,1,0.5\n2,1,0.5\n-1,0,0.5\n7,0,0.5\n`);
    await expectFailure(
      src,
      { numActions: 3 },
      'E_ACTION_RANGE',
      'Rule "action is an integer in 0..2" failed for 3 rows (first: 1, 3, 4). Actions must be integers 0..K-1 with K = 3; pass --num-actions K if the log uses more actions, or fix the rows.',
    );
  });

  it('E_ACTION_RANGE: a fractional action is not rounded into range', async () => {
    const src = await file('af.csv', `action,reward,propensity\n0,1,0.5\n1.5,1,0.5\n`);
    const e = await expectFailure(src, { numActions: 3 }, 'E_ACTION_RANGE', /^2 validation rules failed:/);
    expect(e.message).toContain('Rule "action is an integer in 0..2" failed for 1 row (first: 1).');
    expect(e.message).toContain('Rule "action (from column "action") reads as INTEGER" failed for 1 row (first: 1).');
  });

  it('E_RAGGED_VECTOR: context length varies', async () => {
    const src = await file('r.csv', `${HDR}\n0,"[1, 2]",0,1,0.5\n1,"[1, 2, 3]",0,1,0.5\n2,"[1, 2]",0,1,0.5\n3,"[1]",0,1,0.5\n`);
    await expectFailure(
      src,
      {},
      'E_RAGGED_VECTOR',
      'Rule "context has 2 values" failed for 2 rows (first: 1, 3). Every row of a vector column must have the same length; fix or drop the rows with a different length.',
    );
  });

  it('E_ACTION_PROBS: rows that do not sum to 1 within 1e-6, or have the wrong length', async () => {
    const src = await file(
      'ap.jsonl',
      [
        { action: 0, reward: 1, propensity: 0.5, action_probs: [0.5, 0.5] },
        { action: 0, reward: 1, propensity: 0.5, action_probs: [0.5, 0.4] },
        { action: 0, reward: 1, propensity: 0.5, action_probs: [0.5, 0.5000001] },
        { action: 0, reward: 1, propensity: 0.5, action_probs: [0.5, 0.5000000001] },
        { action: 0, reward: 1, propensity: 0.5, action_probs: [0.5, 0.25, 0.25] },
        { action: 0, reward: 1, propensity: 0.5, action_probs: [1.5, -0.5] },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    await expectFailure(
      src,
      {},
      'E_ACTION_PROBS',
      'Rule "action_probs has 2 entries in [0, 1] summing to 1 (within 0.000001)" failed for 3 rows (first: 1, 4, 5). action_probs is the logging distribution over all K actions on that row.',
    );
  });

  it('E_NULL_REWARD unless --reward-nullable', async () => {
    const src = await file('nr.csv', `action,reward,propensity\n0,1,0.5\n1,,0.5\n1,,0.5\n`);
    await expectFailure(
      src,
      {},
      'E_NULL_REWARD',
      'Rule "reward is not NULL" failed for 2 rows (first: 1, 2). Fill in the missing rewards, or pass --reward-nullable if rewards arrive later (delayed feedback).',
    );
    const r = await ingest(ws, src, { name: 'delayed', rewardNullable: true });
    expect(r.version.metadata.rewardNullable).toBe(true);
    expect(await storedRows(ws, 'SELECT reward FROM delayed')).toEqual([{ reward: 1 }, { reward: null }, { reward: null }]);
  });

  it('E_DUPLICATE_ROW_ID marks every copy of a duplicate', async () => {
    const src = await file('d.csv', `row_id,action,reward,propensity\n5,0,1,0.5\n6,0,1,0.5\n5,0,1,0.5\n7,0,1,0.5\n6,0,1,0.5\n8,0,1,0.5\n`);
    await expectFailure(
      src,
      {},
      'E_DUPLICATE_ROW_ID',
      'Rule "row_id is unique and not NULL" failed for 4 rows (first: 0, 1, 2, 4). Every row needs its own row_id; drop the column to have ids assigned 0..n-1, or fix the duplicates.',
    );
  });

  it('row ids that are unique but not increasing are accepted', async () => {
    const src = await file('u.csv', `row_id,action,reward,propensity\n9,0,1,0.5\n3,0,1,0.5\n5,0,1,0.5\n`);
    const r = await ingest(ws, src, { name: 'u' });
    expect(await storedRows(ws, 'SELECT row_id FROM u')).toEqual([{ row_id: '9' }, { row_id: '3' }, { row_id: '5' }]);
    expect(r.rejectedCount).toBe(0);
  });

  it('E_BAD_VALUE: a value that cannot be read as its canonical type', async () => {
    const src = await file('bv.csv', `action,reward,propensity\n0,1,0.5\n1,yes,0.5\n`);
    const e = await expectFailure(src, {}, 'E_NULL_REWARD', /^2 validation rules failed:/);
    expect(e.message).toContain('Rule "reward (from column "reward") reads as DOUBLE" failed for 1 row (first: 1). Fix the values of "reward" that are not DOUBLE, or map another column.');
  });

  it('E_EMPTY_INPUT: a header without rows, a zero-byte file', async () => {
    const header = await file('h.csv', `${HDR}\n`);
    await expectFailure(header, {}, 'E_EMPTY_INPUT', `"${header}" has no data rows, so there is nothing to ingest. Check the file (a header alone is not enough) and try again.`);
    const noCols = await file('h2.csv', 'a,b\n');
    await expectFailure(noCols, {}, 'E_EMPTY_INPUT', `"${noCols}" has no data rows, so there is nothing to ingest. Check the file (a header alone is not enough) and try again.`);
    const empty = await file('z.csv', '');
    await expectFailure(empty, {}, 'E_EMPTY_INPUT', `"${empty}" is empty (0 bytes), so there is nothing to ingest. Check that the export that wrote it finished.`);
  });

  it('E_MISSING_COLUMN names the columns found and the --map flag that fixes it', async () => {
    const src = await file('m.csv', 'click,pscore,item_id\n1,0.5,0\n');
    // Every missing column at once, each with its --map fix.
    await expectFailure(
      src,
      {},
      'E_MISSING_COLUMN',
      '2 required columns of a bandit dataset are missing: "action" (pass --map action=item_id), "reward" (pass --map reward=click); found: click, pscore, item_id.',
    );
    await expectFailure(
      src,
      { map: { action: 'item_id' } },
      'E_MISSING_COLUMN',
      'Required column "reward" of a bandit dataset is missing; found: click, pscore, item_id; pass --map reward=click.',
    );
    await expectFailure(
      src,
      { map: { action: 'item_id', reward: 'clicks' } },
      'E_MISSING_COLUMN',
      '--map reward=clicks names column "clicks", which the input does not have; found: click, pscore, item_id. Check the spelling (column names are case-sensitive; a dotted path like user.features reads a field of a struct column).',
    );
    // A bad --map and a missing column in the same error.
    await expectFailure(
      src,
      { map: { reward: 'clicks' } },
      'E_MISSING_COLUMN',
      'Required column "action" of a bandit dataset is missing; found: click, pscore, item_id; pass --map action=item_id. --map reward=clicks names column "clicks", which the input does not have. Check the spelling (column names are case-sensitive; a dotted path like user.features reads a field of a struct column).',
    );
    const t = await file('t.csv', 'episode_id,step,obs_0,act_0,reward\n0,0,1,1,0\n');
    await expectFailure(
      t,
      {},
      'E_MISSING_COLUMN',
      '2 required columns of a trajectory dataset are missing: "terminated" (pass --map terminated=COLUMN naming the column that holds it), "truncated" (pass --map truncated=COLUMN naming the column that holds it); found: episode_id, step, obs_0, act_0, reward.',
    );
  });

  it('numbered columns with a gap: an error for the vector that needs them, plain features otherwise', async () => {
    const gap = await file('gap.csv', 'context_0,context_2,action,reward,propensity\n1,2,0,1,0.5\n');
    await expectFailure(gap, {}, 'E_MISSING_COLUMN', 'Numbered columns context_0..context_2 are not contiguous (found: context_0, context_2). List the columns explicitly, e.g. --map context=context_0,context_2.');
    const obs = await file('obs.csv', 'obs_0,obs_2,action,reward,propensity\n1,2,0,1,0.5\n');
    const r = await ingest(ws, obs, { name: 'obs' });
    expect(r.version.metadata.kind).toBe('bandit');
    expect(r.version.metadata.columns.map((c) => c.name)).toEqual(['row_id', 'action', 'reward', 'propensity', 'obs_0', 'obs_2']);
  });

  it('E_MAP_FLAG: malformed or unknown --map flags', async () => {
    expect(() => parseMapFlags(['reward'])).toThrow(OffpolicyError);
    try {
      parseMapFlags(['reward=']);
    } catch (e) {
      expect((e as OffpolicyError).code).toBe('E_MAP_FLAG');
      expect((e as Error).message).toBe('--map reward= is not CANONICAL=SOURCE. Write e.g. --map reward=click, or --map context=x1,x2,x3 for a vector assembled from columns.');
    }
    const src = await file('m.csv', 'click,pscore,item_id\n1,0.5,0\n');
    await expectFailure(src, { map: { rewards: 'click' } }, 'E_MAP_FLAG', /^--map rewards=click: "rewards" is not a canonical column\. Map one of: row_id, context, /);
    await expectFailure(
      src,
      { map: { reward: 'click,pscore', action: 'item_id' } },
      'E_MAP_FLAG',
      '--map reward=click,pscore lists several columns, but reward is a single value. Only vector columns (context, observation, next_observation, action_probs, trajectory action) take a list of columns.',
    );
  });
});

describe('format checks', () => {
  it('E_FORMAT_MISMATCH: a file that is not what its extension says', async () => {
    const csvAsParquet = await file('data.parquet', `${HDR}\n0,"[1]",0,1,0.5\n`);
    await expectFailure(csvAsParquet, {}, 'E_FORMAT_MISMATCH', `"${csvAsParquet}" is not parquet as its extension (.parquet) says: it looks like a CSV text file. Pass --format csv or rename the file.`);
    const parquet = path.join(dir, 'real.parquet');
    const conn = await openMemoryConnection();
    await conn.run(`COPY (SELECT 1 AS action, 1.0 AS reward) TO ${lit(parquet)} (FORMAT parquet)`);
    conn.closeSync();
    const parquetAsCsv = await file('data.csv', await readFile(parquet));
    await expectFailure(parquetAsCsv, {}, 'E_FORMAT_MISMATCH', `"${parquetAsCsv}" is not csv as its extension (.csv) says: it looks like a Parquet file. Pass --format parquet or rename the file.`);
    await expectFailure(parquet, { format: 'jsonl' }, 'E_FORMAT_MISMATCH', `"${parquet}" is not jsonl as --format jsonl says: it looks like a Parquet file. Pass --format parquet or rename the file.`);
    const h5 = await file('x.arrow', Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]));
    await expectFailure(h5, {}, 'E_FORMAT_MISMATCH', `"${h5}" is not arrow as its extension (.arrow) says: it looks like an HDF5 file. Pass --format d4rl or rename the file.`);
    const bin = await file('x.jsonl', Buffer.from([1, 2, 0, 3]));
    await expectFailure(bin, {}, 'E_FORMAT_MISMATCH', `"${bin}" is not jsonl as its extension (.jsonl) says: it looks like a binary file of unknown format. Check that the file is the one you meant.`);
  });

  it('a binary format with an unknown extension is identified by its magic bytes', async () => {
    const parquet = path.join(dir, 'noext');
    const conn = await openMemoryConnection();
    await conn.run(`COPY (SELECT 0 AS action, 1.0 AS reward, 0.5 AS propensity) TO ${lit(parquet)} (FORMAT parquet)`);
    conn.closeSync();
    const r = await ingest(ws, parquet, { name: 'noext' });
    expect(r.version.metadata.lineage.transform).toBe('ingest:parquet');
    const text = await file('data.txt', 'action,reward\n0,1\n');
    await expectFailure(text, {}, 'E_FORMAT', `Cannot tell the format of "${text}" from its name; it looks like a CSV text file. Pass --format (one of: csv, jsonl, parquet, arrow, obd, d4rl, minari).`);
  });

  it('E_TRUNCATED_FILE: a Parquet file without its footer', async () => {
    const parquet = path.join(dir, 'cut.parquet');
    const conn = await openMemoryConnection();
    await conn.run(`COPY (SELECT i AS action, 1.0 AS reward FROM range(1000) t(i)) TO ${lit(parquet)} (FORMAT parquet)`);
    conn.closeSync();
    const size = (await readFile(parquet)).length;
    await truncate(parquet, Math.floor(size / 2));
    await expectFailure(parquet, {}, 'E_TRUNCATED_FILE', `"${parquet}" starts like a Parquet file but has no footer: it is truncated. Copy or export the file again in full.`);
  });

  it('E_DATASET_NAME is checked before any work', async () => {
    await expectFailure(path.join(FIXTURES, 'bandit.csv'), { name: '1bad name' }, 'E_DATASET_NAME', 'Dataset name "1bad name" is not allowed. Use a letter first, then letters, digits, "_", "-" or "." (at most 128 characters).');
  });

  it('E_SOURCE_NOT_FOUND and unknown --format', async () => {
    const missing = path.join(dir, 'nope.csv');
    await expectFailure(missing, {}, 'E_SOURCE_NOT_FOUND', `Input "${missing}" does not exist. Check the path.`);
    const src = path.join(FIXTURES, 'bandit.csv');
    await expectFailure(src, { format: 'xlsx' as never }, 'E_FORMAT', 'Unknown format "xlsx". Use one of: csv, jsonl, parquet, arrow, obd, d4rl, minari.');
  });

  it('E_READ_FAILED: a malformed CSV row', async () => {
    const src = await file('bad.csv', 'action,reward,propensity\n0,1,0.5\n1,2\n');
    await expectFailure(src, {}, 'E_READ_FAILED', new RegExp(`^Could not read "${src.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" as csv: `));
  });
});

describe('--drop-invalid', () => {
  it('stores the valid rows and writes the rejected ones with every reason and the original columns', async () => {
    const src = await file(
      'mixed.csv',
      `row_id,context,action,reward,propensity,tag\n0,"[1, 2]",0,1,0.5,a\n1,"[1, 2]",0,1,0,b\n2,"[1, 2]",1,,0.5,c\n3,"[1, 2]",1,0,0.25,d\n4,"[1]",1,0,2,e\n`,
    );
    const r = await ingest(ws, src, { name: 'mixed', dropInvalid: true });
    expect(r.rejectedCount).toBe(3);
    expect(r.rejectedFile).toBe(path.join(r.version.dir, 'rejected.parquet'));
    expect(r.version.metadata.rowCount).toBe(2);
    expect(r.version.metadata.files).toEqual(['metadata.json', 'part-0.parquet', 'rejected.parquet']);
    expect(r.version.metadata.rejected).toEqual({
      file: 'rejected.parquet',
      count: 3,
      reasons: {
        'E_PROPENSITY_RANGE: propensity in (0, 1]': 2,
        'E_RAGGED_VECTOR: context has 2 values': 1,
        'E_NULL_REWARD: reward is not NULL': 1,
      },
    });
    expect(await storedRows(ws, 'SELECT row_id, tag FROM mixed')).toEqual([
      { row_id: '0', tag: 'a' },
      { row_id: '3', tag: 'd' },
    ]);
    const conn = await openMemoryConnection();
    const rejected = await queryRows(conn, `SELECT * FROM read_parquet(${lit(r.rejectedFile!)})`);
    conn.closeSync();
    expect(rejected).toEqual([
      { _row: '1', reason: 'E_PROPENSITY_RANGE: propensity in (0, 1]', row_id: '1', context: '[1, 2]', action: '0', reward: '1', propensity: 0, tag: 'b' },
      { _row: '2', reason: 'E_NULL_REWARD: reward is not NULL', row_id: '2', context: '[1, 2]', action: '1', reward: null, propensity: 0.5, tag: 'c' },
      {
        _row: '4',
        reason: 'E_PROPENSITY_RANGE: propensity in (0, 1]; E_RAGGED_VECTOR: context has 2 values',
        row_id: '4',
        context: '[1]',
        action: '1',
        reward: '0',
        propensity: 2,
        tag: 'e',
      },
    ]);
    expect(r.warnings).toContain('3 of 5 rows broke validation rules and were left out; they are in rejected.parquet with the reasons.');
  });

  it('refuses when every row is invalid, writing nothing', async () => {
    const src = await file('allbad.csv', 'action,reward,propensity\n0,1,0\n1,1,0\n');
    await expectFailure(
      src,
      { dropInvalid: true },
      'E_ALL_ROWS_INVALID',
      'Every one of the 2 rows broke a validation rule, so nothing is left to store. Rule "propensity in (0, 1]" failed for 2 rows (first: 0, 1). A propensity is the probability the logging policy gave the logged action: it must be above 0 and at most 1 (map the right column with --map propensity=COLUMN).',
    );
  });
});
