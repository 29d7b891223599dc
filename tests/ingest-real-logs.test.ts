/**
 * Real logs as they come (issue 16, item 3): the pandas index column, contexts
 * as JSON objects, nested JSON Lines mapped by dotted paths, every missing
 * column in one error, and non-numeric context columns as a coded error.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OffpolicyError } from '../src/core/errors.js';
import { openMemoryConnection } from '../src/datasets/duckdb.js';
import { ingest, type IngestOptions } from '../src/datasets/ingest/index.js';
import { loadBanditArrays } from '../src/datasets/load-bandit.js';
import { Workspace } from '../src/datasets/workspace.js';
import { byteSnapshot, obdLikeCsv, removeDir, storedRows, tempDir } from './ingest-helpers.js';
import { expectRejects } from './support/expect-error.js';

let dir: string;
let wsDir: string;
let ws: Workspace;
beforeEach(async () => {
  dir = await tempDir();
  wsDir = path.join(dir, 'ws');
  ws = await Workspace.open(wsDir);
});
afterEach(async () => {
  await removeDir(dir);
});

async function file(name: string, text: string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, text);
  return p;
}

/** An ingest that must fail with this code and message, leaving the workspace byte-identical. */
async function expectFailure(source: string, opts: Partial<IngestOptions>, code: string, message: string | RegExp): Promise<void> {
  const before = await byteSnapshot(wsDir);
  await expectRejects(ingest(ws, source, { name: 'new', ...opts }), code, message);
  expect(await byteSnapshot(wsDir)).toEqual(before);
}

describe('the pandas index column', () => {
  it('an OBD file with 10+ columns (index named column00 by DuckDB) drops it: not stored, not a feature', async () => {
    const src = await file('obd.csv', obdLikeCsv([
      { item: 1, pos: 1, click: 0, p: 0.25, u: 'aa11', aff: [0, 1, 0, 0] },
      { item: 0, pos: 2, click: 1, p: 0.25, u: 'bb22', aff: [1, 0, 0, 0] },
      { item: 3, pos: 3, click: 0, p: 0.25, u: 'aa11', aff: [0, 0, 0, 2] },
    ]));
    const r = await ingest(ws, src, { name: 'obd' });
    const m = r.version.metadata;
    expect(m.lineage.transform).toBe('ingest:obd');
    expect(m.columns.map((c) => c.name)).toEqual([
      'row_id', 'action', 'reward', 'propensity', 'position', 'timestamp',
      'user_feature_0', 'user-item_affinity_0', 'user-item_affinity_1', 'user-item_affinity_2', 'user-item_affinity_3',
    ]);
    expect(r.warnings).toContain('Column "column00" (an unnamed first column: the pandas index) was dropped; row_id is the input order.');
    expect(m.extra?.featureColumns).toEqual(['user-item_affinity_0', 'user-item_affinity_1', 'user-item_affinity_2', 'user-item_affinity_3']);
    expect(m.extra?.categoricalColumns).toEqual(['user_feature_0']);
  });

  it('a plain CSV written by pandas (header "Unnamed: 0" after a round trip) drops it too; a mapped index is kept', async () => {
    const src = await file('p.csv', 'Unnamed: 0,action,reward,propensity\n0,1,1,0.5\n1,0,0,0.5\n');
    const r = await ingest(ws, src, { name: 'p' });
    expect(r.version.metadata.columns.map((c) => c.name)).toEqual(['row_id', 'action', 'reward', 'propensity']);
    expect(r.warnings).toContain('Column "Unnamed: 0" (an unnamed first column: the pandas index) was dropped; row_id is the input order.');
    const kept = await ingest(ws, src, { name: 'q', map: { row_id: 'Unnamed: 0' } });
    expect(kept.version.metadata.columns.map((c) => c.name)).toEqual(['row_id', 'action', 'reward', 'propensity']);
    expect(kept.warnings.some((w) => w.includes('pandas index'))).toBe(false);
  });
});

describe('contexts as JSON objects', () => {
  const good = 'action,reward,propensity,ctx\n0,1,0.5,"{""age"": 31, ""tenure"": 2}"\n1,0,0.5,"{""tenure"": 5, ""age"": 20}"\n';

  it('--map context=json:ctx reads the first row\'s keys, sorted; explicit keys fix the order', async () => {
    const src = await file('ctx.csv', good);
    const r = await ingest(ws, src, { name: 'j', map: { context: 'json:ctx' } });
    expect(r.version.metadata.observationSpace).toEqual({ type: 'box', shape: [2] });
    expect(r.version.metadata.lineage.params.columns).toMatchObject({ context: ['json:ctx:age,tenure'] });
    expect(await storedRows(ws, 'SELECT row_id, context FROM j ORDER BY row_id')).toEqual([
      { row_id: '0', context: [31, 2] },
      { row_id: '1', context: [20, 5] },
    ]);
    await ingest(ws, src, { name: 'k', map: { context: 'json:ctx:tenure,age' } });
    expect(await storedRows(ws, 'SELECT context FROM k ORDER BY row_id')).toEqual([{ context: [2, 31] }, { context: [5, 20] }]);
  });

  it('a column named context holding JSON objects is read by its keys without a flag, with a warning saying so', async () => {
    const src = await file('auto.csv', good.replace(',ctx\n', ',context\n'));
    const r = await ingest(ws, src, { name: 'a' });
    expect(r.warnings).toContain('Column "context" holds JSON objects: context = [age, tenure] (the keys of its first row, sorted); fix the order with --map context=json:context:age,tenure.');
    expect(await storedRows(ws, 'SELECT context FROM a ORDER BY row_id')).toEqual([{ context: [31, 2] }, { context: [20, 5] }]);
  });

  it('E_JSON_KEYS names the rows whose keys differ; E_BAD_VALUE the rows whose values are not numbers', async () => {
    const src = await file('bad.csv', `${good}1,1,0.5,"{""age"": 40}"\n0,0,0.5,"{""age"": 1, ""tenure"": 2, ""x"": 3}"\n0,0,0.5,"{""age"": ""old"", ""tenure"": 1}"\n`);
    await expectFailure(
      src,
      { map: { context: 'json:ctx' } },
      'E_JSON_KEYS',
      '2 validation rules failed:\n' +
        '  - Rule "column "ctx" holds a JSON object with exactly the keys age, tenure" failed for 2 rows (first: 2, 3). Every row needs the keys of the first row (age, tenure); name the keys to read with --map context=json:ctx:age,tenure (other keys are then ignored), or drop the rows with --drop-invalid.\n' +
        '  - Rule "the values of keys age, tenure in column "ctx" read as numbers" failed for 1 row (first: 4). Fix the values of "ctx" that are not numbers, or map other keys. Fix the input, or pass --drop-invalid to store only the valid rows and write the rejected ones beside the new version.',
    );
    // Named keys: extra keys are ignored, missing ones still break the rule.
    await expectFailure(
      src,
      { map: { context: 'json:ctx:age,tenure' } },
      'E_JSON_KEYS',
      /Rule "column "ctx" holds a JSON object with the keys age, tenure" failed for 1 row \(first: 2\)/,
    );
    const r = await ingest(ws, src, { name: 'd', map: { context: 'json:ctx:age,tenure' }, dropInvalid: true });
    expect(r.rejectedCount).toBe(2);
    expect(await storedRows(ws, 'SELECT context FROM d ORDER BY row_id')).toEqual([{ context: [31, 2] }, { context: [20, 5] }, { context: [1, 2] }]);
  });

  it('a first value that is not a JSON object is E_JSON_CONTEXT', async () => {
    const src = await file('arr.csv', 'action,reward,propensity,ctx\n0,1,0.5,"[1, 2]x"\n');
    await expectFailure(src, { map: { context: 'json:ctx' } }, 'E_JSON_CONTEXT', 'Column "ctx" should hold JSON objects, but its first value (row 0) is not valid JSON. Write each value as an object like {"age": 31, "tenure": 2}, or name the keys: --map context=json:ctx:KEY1,KEY2.');
  });
});

describe('nested JSON Lines', () => {
  const lines = [
    '{"user": {"features": [1.5, 2], "id": "u1"}, "outcome": {"click": 1}, "a": 0, "p": 0.5}',
    '{"user": {"features": [3, 4], "id": "u2"}, "outcome": {"click": 0}, "a": 1, "p": 0.5}',
  ].join('\n');

  it('--map context=user.features and reward=outcome.click read struct fields', async () => {
    const src = await file('n.jsonl', lines + '\n');
    const r = await ingest(ws, src, { name: 'n', map: { context: 'user.features', reward: 'outcome.click', action: 'a', propensity: 'p' } });
    expect(r.version.metadata.columns.map((c) => `${c.name}:${c.type}`)).toEqual(['row_id:BIGINT', 'context:FLOAT[]', 'action:INTEGER', 'reward:DOUBLE', 'propensity:DOUBLE']);
    expect(await storedRows(ws, 'SELECT context, reward FROM n ORDER BY row_id')).toEqual([
      { context: [1.5, 2], reward: 1 },
      { context: [3, 4], reward: 0 },
    ]);
  });

  it('a path that is not there is reported with the other missing columns, in one error', async () => {
    const src = await file('m.jsonl', lines + '\n');
    await expectFailure(
      src,
      { map: { context: 'user.feature', reward: 'outcome.click' } },
      'E_MISSING_COLUMN',
      'Required column "action" of a bandit dataset is missing; found: user, outcome, a, p; pass --map action=a. --map context=user.feature names path "user.feature", which the input does not have. Check the spelling (column names are case-sensitive; a dotted path like user.features reads a field of a struct column).',
    );
    await expectFailure(
      src,
      {},
      'E_MISSING_COLUMN',
      '2 required columns of a bandit dataset are missing: "action" (pass --map action=a), "reward" (pass --map reward=COLUMN naming the column that holds it); found: user, outcome, a, p.',
    );
  });
});

describe('non-numeric context columns', () => {
  it('a text column listed in the context vector at ingest is E_CONTEXT_TYPE naming the column and its type', async () => {
    const src = await file('t.csv', 'x1,city,action,reward,propensity\n1.5,Paris,0,1,0.5\n2,Lyon,1,0,0.5\n');
    await expectFailure(
      src,
      { map: { context: 'x1,city' } },
      'E_CONTEXT_TYPE',
      'Column "city" is VARCHAR, not a number, so it cannot be part of the context vector (x1, city). Leave it out of the vector (--map context=x1): it is then kept as a named column, detected as categorical, and one-hot encoded when named at evaluation (--context-columns city).',
    );
    const r = await ingest(ws, src, { name: 'ok', map: { context: 'x1' } });
    expect(r.version.metadata.extra?.categoricalColumns).toEqual(['city']);
  });

  it('a text column named as context at evaluation that is not categorical is E_CONTEXT_TYPE, not a DuckDB conversion error', async () => {
    const conn = await openMemoryConnection();
    try {
      await ws.createVersion({
        name: 'ids',
        conn,
        select: `SELECT i::BIGINT AS row_id, (i % 2)::INTEGER AS action, (i % 3 = 0)::INTEGER::DOUBLE AS reward, 0.5::DOUBLE AS propensity, 'session-' || i AS session, i::DOUBLE AS age FROM range(6) t(i)`,
        metadata: { kind: 'bandit', lineage: { transform: 'test', params: {} } },
      });
      const v = await ws.resolve('ids');
      const err = await loadBanditArrays(conn, v, { contextColumns: ['age', 'session'] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OffpolicyError);
      expect((err as OffpolicyError).code).toBe('E_CONTEXT_TYPE');
      expect((err as OffpolicyError).message).toBe(
        'Context column "session" (VARCHAR, about 6 distinct values) is not numeric and not declared categorical, so it cannot be read as numbers. One-hot encode it with --categorical session (the 32 most frequent values, the rest "other"; --max-levels changes the cap), or leave it out (--context-columns age).',
      );
      // Declared categorical, it is one-hot encoded.
      const d = await loadBanditArrays(conn, v, { contextColumns: ['age', 'session'], categorical: ['session'], maxLevels: 2 });
      expect(d.contextDim).toBe(4);
    } finally {
      conn.closeSync();
    }
  });
});

describe('the CLI', () => {
  it('datasets ingest --map context=json:ctx and --map reward=outcome.click; missing columns print one coded error', async () => {
    const { runCli } = await import('./support/run-cli.js');
    const w = ['--workspace', wsDir];
    const csv = await file('c.csv', 'action,reward,propensity,ctx\n0,1,0.5,"{""b"": 1, ""a"": 2}"\n');
    const ok = await runCli([...w, 'datasets', 'ingest', csv, '--name', 'c', '--map', 'context=json:ctx:b,a', '--no-progress']);
    expect(ok.code).toBe(0);
    expect(await storedRows(ws, 'SELECT context FROM c')).toEqual([{ context: [1, 2] }]);
    const jl = await file('n.jsonl', '{"outcome": {"click": 1}, "item": 2, "pscore": 0.25}\n');
    const bad = await runCli([...w, 'datasets', 'ingest', jl, '--name', 'n', '--no-progress']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(
      'error [E_MISSING_COLUMN]: 2 required columns of a bandit dataset are missing: "action" (pass --map action=item), "reward" (pass --map reward=COLUMN naming the column that holds it); found: outcome, item, pscore.',
    );
    const fixed = await runCli([...w, 'datasets', 'ingest', jl, '--name', 'n', '--map', 'action=item', '--map', 'reward=outcome.click', '--map', 'propensity=pscore', '--num-actions', '3', '--no-progress']);
    expect(fixed.code).toBe(0);
    expect(await storedRows(ws, 'SELECT action, reward, propensity FROM n')).toEqual([{ action: 2, reward: 1, propensity: 0.25 }]);
  });
});
