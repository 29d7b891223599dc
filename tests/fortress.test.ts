/**
 * Issue 17: the workspace is a fortress. Each test reproduces one attack or
 * fault from the audit and checks the coded error and that nothing outside the
 * workspace, and nothing stored, changed (byte snapshots before and after).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openMemoryConnection, queryRows, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { exportDataset } from '../src/datasets/export.js';
import { codedError, WriteLock } from '../src/datasets/fs-guard.js';
import { ingest } from '../src/datasets/ingest/index.js';
import { checkDenseCells, MAX_INPUT_COLUMNS, PROPENSITY_FLOOR } from '../src/datasets/limits.js';
import type { MetadataInput } from '../src/datasets/metadata.js';
import { checkWhereExpression, queryDatasets, queryToFile } from '../src/datasets/query.js';
import { splitDataset } from '../src/datasets/split.js';
import { resolveWorkspaceDir, Workspace } from '../src/datasets/workspace.js';
import { OffpolicyError } from '../src/core/errors.js';
import { readCheckpoint, writeCheckpoint } from '../src/offline-rl/checkpoint.js';
import { loadPolicy } from '../src/offline-rl/policy.js';
import { expectRejects } from './support/expect-error.js';
import { runCli } from './support/run-cli.js';

const banditMeta: MetadataInput = { kind: 'bandit', actionSpace: { type: 'discrete', n: 3 }, lineage: { transform: 'test', params: {} } };
const select = (n: number, p = '(1.0 / 3)::DOUBLE') =>
  `SELECT i::BIGINT AS row_id, (i % 3)::INTEGER AS action, (i * 0.5)::DOUBLE AS reward, ${p} AS propensity FROM range(${n}) t(i)`;

let base: string;
let wsDir: string;
let ws: Workspace;
let conn: DuckDBConnection;
const cli = (args: string[]) => runCli(['-w', wsDir, ...args]);

/** Every file and directory under `root` with a hash of its bytes (symlinks as their target). */
async function snapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isSymbolicLink()) out.push(`${path.relative(root, p)} -> link`);
      else if (e.isDirectory()) {
        out.push(`${path.relative(root, p)}/`);
        await walk(p);
      } else out.push(`${path.relative(root, p)}:${createHash('sha256').update(await readFile(p)).digest('hex')}`);
    }
  };
  await walk(root);
  return out.sort();
}

/** The stored state: every version's files (the catalog is an index and may be rebuilt). */
const stored = () => snapshot(path.join(wsDir, 'datasets'));

async function expectCli(args: string[], code: string, message?: RegExp): Promise<string> {
  const r = await cli(args);
  expect(r.err).toContain(`error [${code}]: `);
  if (message) expect(r.err).toMatch(message);
  expect(r.code).toBe(2);
  return r.err;
}

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'offpolicy-fortress-'));
  wsDir = path.join(base, 'ws');
  ws = await Workspace.open(wsDir);
  conn = await openMemoryConnection();
  await ws.createVersion({ name: 'base', conn, select: select(50), metadata: banditMeta });
});
afterEach(async () => {
  conn.closeSync();
  await rm(base, { recursive: true, force: true });
});

describe('containment: refs never name paths', () => {
  it('rm ../../other-ws/datasets/precious is refused and the other workspace is untouched', async () => {
    const other = await Workspace.open(path.join(base, 'other-ws'));
    await other.createVersion({ name: 'precious', conn, select: select(5), metadata: banditMeta });
    const before = await snapshot(path.join(base, 'other-ws', 'datasets'));
    await expectCli(['datasets', 'rm', '../../other-ws/datasets/precious', '--yes'], 'E_DATASET_REF', /is not a dataset reference/);
    expect(await snapshot(path.join(base, 'other-ws', 'datasets'))).toEqual(before);
  });

  it('rm ../../some-dir (holding 1/metadata.json) is refused and the directory survives', async () => {
    const victim = path.join(base, 'some-dir');
    await mkdir(path.join(victim, '1'), { recursive: true });
    await writeFile(path.join(victim, '1', 'metadata.json'), '{}');
    await writeFile(path.join(victim, 'keep.txt'), 'important');
    const before = await snapshot(victim);
    for (const ref of ['../../some-dir', '../some-dir', `${victim}`, 'a/../../some-dir', '..', '.', '', 'base@1/../x', 'base@-1', 'base@1e3']) {
      await expectCli(['datasets', 'rm', ref, '--yes'], 'E_DATASET_REF');
    }
    expect(await snapshot(victim)).toEqual(before);
  });

  it('show, describe, export and query --out read and write nothing through an escaping ref', async () => {
    const before = await stored();
    for (const cmd of [['datasets', 'show', '../../x'], ['datasets', 'describe', '../ws/datasets/base'], ['datasets', 'export', '../../x', '--format', 'csv', '--out', path.join(base, 'x.csv')]]) {
      await expectCli(cmd, 'E_DATASET_REF');
    }
    await expectRejects(ws.resolve('../base'), 'E_DATASET_REF', /is not a dataset reference/);
    await expectRejects(ws.versionsOf('../base'), 'E_DATASET_NAME', /is not allowed/);
    expect(existsSync(path.join(base, 'x.csv'))).toBe(false);
    expect(await stored()).toEqual(before);
  });

  it('rm of a dataset directory that is a symlink never empties its target', async () => {
    const target = path.join(base, 'outside');
    await mkdir(path.join(target, '1'), { recursive: true });
    await writeFile(path.join(target, '1', 'metadata.json'), JSON.stringify({ name: 'linked', version: 1, files: ['part-0.parquet', 'metadata.json'] }));
    await writeFile(path.join(target, '1', 'part-0.parquet'), 'not really parquet');
    await symlink(target, path.join(wsDir, 'datasets', 'linked'));
    const before = await snapshot(target);
    await expectCli(['datasets', 'rm', 'linked', '--yes'], 'E_DATASET_NOT_FOUND');
    await expectCli(['datasets', 'show', 'linked'], 'E_DATASET_NOT_FOUND');
    expect(await snapshot(target)).toEqual(before);
    // and a listing skips it
    const list = await cli(['datasets', 'list', '--json']);
    expect(JSON.parse(list.out).map((r: { name: string }) => r.name)).toEqual(['base']);
  });

  it('a version directory or a part file that is a symlink is refused, its target untouched', async () => {
    const target = path.join(base, 'outside-version');
    await mkdir(target, { recursive: true });
    await writeFile(path.join(target, 'secret.txt'), 'secret');
    // a symlinked version directory
    await mkdir(path.join(wsDir, 'datasets', 'lv'));
    await symlink(target, path.join(wsDir, 'datasets', 'lv', '1'));
    await writeFile(path.join(target, 'metadata.json'), JSON.stringify({ name: 'lv', version: 1, files: ['metadata.json', 'part-0.parquet'] }));
    const before = await snapshot(target);
    await expectCli(['datasets', 'show', 'lv@1'], 'E_WORKSPACE_ESCAPE', /symlink/);
    await expectCli(['datasets', 'rm', 'lv', '--yes'], 'E_WORKSPACE_ESCAPE', /symlink/);
    expect(await snapshot(target)).toEqual(before);
    // a part file replaced by a symlink to a file outside
    const v = await ws.resolve('base');
    await rm(path.join(v.dir, 'part-0.parquet'));
    await symlink(path.join(target, 'secret.txt'), path.join(v.dir, 'part-0.parquet'));
    await expectCli(['datasets', 'export', 'base', '--format', 'csv', '--out', path.join(base, 'leak.csv')], 'E_DATASET_DAMAGED', /part-0\.parquet is not a regular file/);
    expect(existsSync(path.join(base, 'leak.csv'))).toBe(false);
  });

  it('--out inside the workspace is refused by export, query and evaluate; the stored file is unchanged', async () => {
    const part = path.join(wsDir, 'datasets', 'base', '1', 'part-0.parquet');
    const before = await stored();
    await expectCli(['datasets', 'export', 'base', '--format', 'csv', '--out', part], 'E_OUT_IN_WORKSPACE', /is inside the workspace/);
    await expectCli(['datasets', 'query', 'SELECT 1 AS x', '--format', 'csv', '--out', part], 'E_OUT_IN_WORKSPACE');
    await expectCli(['datasets', 'query', 'SELECT 1 AS x', '--format', 'csv', '--out', path.join(wsDir, 'new.csv')], 'E_OUT_IN_WORKSPACE');
    // through a symlink that points into the workspace
    await symlink(path.join(wsDir, 'datasets'), path.join(base, 'sneaky'));
    await expectCli(['datasets', 'export', 'base', '--format', 'parquet', '--out', path.join(base, 'sneaky', 'base', '1', 'part-0.parquet')], 'E_OUT_IN_WORKSPACE');
    await expectCli(['evaluate', '--data', 'base', '--policy', 'uniform', '--out', path.join(wsDir, 'results.json')], 'E_OUT_IN_WORKSPACE');
    expect(await stored()).toEqual(before);
    expect((await queryDatasets(ws, 'SELECT count(*) AS n FROM base')).rows).toEqual([{ n: '50' }]);
  });

  it('an empty OFFPOLICY_HOME or --workspace is an error, not the current directory', async () => {
    const saved = process.env.OFFPOLICY_HOME;
    try {
      process.env.OFFPOLICY_HOME = '';
      expect(() => resolveWorkspaceDir()).toThrow(/OFFPOLICY_HOME is set but empty/);
      const r = await runCli(['datasets', 'list']);
      expect(r.err).toContain('error [E_WORKSPACE_PATH]: OFFPOLICY_HOME is set but empty.');
      expect(r.code).toBe(2);
      expect(() => resolveWorkspaceDir('')).toThrow(OffpolicyError);
    } finally {
      if (saved === undefined) delete process.env.OFFPOLICY_HOME;
      else process.env.OFFPOLICY_HOME = saved;
    }
  });

  it('workspace paths with *, [1] and ? work and never mix datasets of look-alike directories', async () => {
    const odd = path.join(base, 'w[1]*?');
    const lookAlike = path.join(base, 'w1XY'); // what "w[1]*?" matches as a glob
    const a = await Workspace.open(odd);
    const b = await Workspace.open(lookAlike);
    await a.createVersion({ name: 'logs', conn, select: select(7), metadata: banditMeta });
    await b.createVersion({ name: 'logs', conn, select: select(11), metadata: banditMeta });
    expect((await queryDatasets(a, 'SELECT count(*) AS n FROM logs')).rows).toEqual([{ n: '7' }]);
    const r = await runCli(['-w', odd, 'datasets', 'describe', 'logs', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).rows).toBe(7);
    const out = path.join(base, 'odd.csv');
    await exportDataset(a, 'logs', { format: 'csv', out });
    expect((await readFile(out, 'utf8')).trim().split('\n')).toHaveLength(8);
    const parts = await splitDataset(a, 'logs', { ratios: [0.5, 0.5], seed: 1 });
    expect(parts.reduce((s, p) => s + p.version.metadata.rowCount, 0)).toBe(7);
  });
});

describe('query and --where run on a locked-down connection', () => {
  it('file, glob, network and extension functions are refused; settings cannot be changed', async () => {
    const secret = path.join(base, 'secret.txt');
    await writeFile(secret, 'secret');
    const other = await Workspace.open(path.join(base, 'other-ws'));
    const o = await other.createVersion({ name: 'theirs', conn, select: select(3), metadata: banditMeta });
    const before = await stored();
    for (const sql of [
      `SELECT * FROM read_text('${secret}')`,
      `SELECT * FROM read_csv('/etc/passwd')`,
      `SELECT * FROM read_blob('/etc/hostname')`,
      `SELECT * FROM glob('/root/*')`,
      `SELECT * FROM glob('${base}/*')`,
      `SELECT count(*) FROM read_parquet('${path.join(o.dir, 'part-0.parquet')}')`,
      `SELECT * FROM read_text('${path.join(wsDir, 'datasets', 'base', '1', '..', '..', '..', '..', 'secret.txt')}')`,
    ]) {
      const e = await queryDatasets(ws, sql).catch((x: unknown) => x);
      expect(e, sql).toBeInstanceOf(OffpolicyError);
      expect((e as OffpolicyError).code, sql).toBe('E_QUERY_ACCESS');
    }
    // No extension is fetched or loaded: the URL read fails without trying to install httpfs.
    const net = await queryDatasets(ws, `SELECT * FROM read_csv('https://example.com/a.csv')`).catch((x: unknown) => x);
    expect(net).toBeInstanceOf(OffpolicyError);
    expect((net as Error).message).not.toMatch(/Installing|installed/i);
    for (const sql of ['SET enable_external_access = true', "SET allowed_directories = ['/']", 'LOAD httpfs', 'INSTALL httpfs']) {
      await expectRejects(queryDatasets(ws, sql), 'E_QUERY_NOT_READ_ONLY', /Only read-only queries/);
    }
    // A query in a workspace still reads its own data.
    expect((await queryDatasets(ws, 'SELECT count(*) AS n FROM "base@1"')).rows).toEqual([{ n: '50' }]);
    expect(await stored()).toEqual(before);
  });

  it('exactly one statement', async () => {
    await expectRejects(queryDatasets(ws, 'SELECT 1; SELECT 2'), 'E_QUERY', /2 statements/);
    await expectRejects(queryDatasets(ws, `SELECT 1; COPY (SELECT 42 AS x) TO '${path.join(base, 'f.csv')}'`), 'E_QUERY_NOT_READ_ONLY', /not a SELECT/);
    expect(existsSync(path.join(base, 'f.csv'))).toBe(false);
  });

  it('train --where is one boolean expression: injected statements and clauses are refused and write nothing', async () => {
    const file = path.join(base, 'file.csv');
    for (const where of [
      `1=1; COPY (SELECT 42 AS x) TO '${file}'`,
      '1=1) UNION SELECT (1',
      '1=1) ORDER BY (1',
      '1=1 --',
      '1=1) LIMIT (1',
      '',
    ]) {
      await expectRejects(checkWhereExpression(conn, where), 'E_WHERE', /is not a single SQL condition/);
    }
    expect(await checkWhereExpression(conn, 'episode_id < 100 AND reward > 0')).toBe('(episode_id < 100 AND reward > 0)');
    const r = await cli(['train', 'bc', '--data', 'base', '--where', `1=1; COPY (SELECT 42 AS x) TO '${file}'`, '--steps', '1', '--out', path.join(base, 'pol')]);
    expect(r.err).toContain('error [E_WHERE]: ');
    expect(r.code).toBe(2);
    expect(existsSync(file)).toBe(false);
    // a subquery inside the condition can read only this dataset (the connection train loads through)
    const v = await ws.resolve('base');
    const locked = await ws.queryConnection({ versions: [v] });
    try {
      const where = await checkWhereExpression(locked, `row_id IN (SELECT length(content) FROM read_text('/etc/hostname'))`);
      await expect(queryRows(locked, `SELECT count(*) FROM read_parquet('${v.glob}') WHERE ${where}`)).rejects.toThrow(/disabled by configuration/);
      expect(await queryRows(locked, `SELECT count(*)::INTEGER AS n FROM read_parquet('${v.glob}') WHERE ${await checkWhereExpression(locked, 'row_id < 10')}`)).toEqual([{ n: 10 }]);
    } finally {
      locked.closeSync();
    }
  });
});

describe('locking and crash safety', () => {
  it('read-only commands neither open nor rewrite the catalog', async () => {
    const cat = path.join(wsDir, 'catalog.duckdb');
    const before = { bytes: createHash('sha256').update(await readFile(cat)).digest('hex'), mtime: (await stat(cat)).mtimeMs };
    for (const args of [['datasets', 'list'], ['datasets', 'show', 'base'], ['datasets', 'describe', 'base'], ['datasets', 'query', 'SELECT count(*) FROM base']]) {
      expect((await cli(args)).code).toBe(0);
    }
    expect(createHash('sha256').update(await readFile(cat)).digest('hex')).toBe(before.bytes);
    expect((await stat(cat)).mtimeMs).toBe(before.mtime);
  });

  it('a writer waits for the lock and then fails with E_WORKSPACE_BUSY; a dead owner\'s lock is broken', async () => {
    // a live owner: this process's parent (alive for the whole test)
    await writeFile(path.join(wsDir, '.lock'), `${process.ppid}\n`);
    const saved = process.env.OFFPOLICY_LOCK_TIMEOUT_MS;
    process.env.OFFPOLICY_LOCK_TIMEOUT_MS = '300';
    try {
      const before = await stored();
      const r = await cli(['datasets', 'rm', 'base', '--yes']);
      expect(r.err).toMatch(/^error \[E_WORKSPACE_BUSY\]: The workspace .* is busy/);
      expect(r.code).toBe(2);
      expect(await stored()).toEqual(before);
      // a dead owner (a PID far above pid_max) does not block
      await writeFile(path.join(wsDir, '.lock'), '999999999\n');
      const lock = await WriteLock.acquire(wsDir, 1000);
      await lock.release();
      expect(existsSync(path.join(wsDir, '.lock'))).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.OFFPOLICY_LOCK_TIMEOUT_MS;
      else process.env.OFFPOLICY_LOCK_TIMEOUT_MS = saved;
      await rm(path.join(wsDir, '.lock'), { force: true });
    }
  });

  it('rm leaves a live process\'s staging directory alone; a dead one\'s is cleaned on open', async () => {
    const live = path.join(wsDir, 'datasets', 'base', `.staging-${process.ppid}-aaaaaa`);
    const dead = path.join(wsDir, 'datasets', 'base', '.staging-999999999-bbbbbb');
    await mkdir(live);
    await writeFile(path.join(live, 'part-0.parquet'), 'in progress');
    await mkdir(dead);
    const ingestTmp = path.join(tmpdir(), 'offpolicy-ingest-999999999-cccccc');
    await mkdir(ingestTmp, { recursive: true });
    await Workspace.open(wsDir);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(ingestTmp)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect((await cli(['datasets', 'rm', 'base', '--yes'])).code).toBe(0);
    expect(await readFile(path.join(live, 'part-0.parquet'), 'utf8')).toBe('in progress');
  });

  it('export temp files of dead processes are removed by the next export to that file', async () => {
    const out = path.join(base, 'out.csv');
    const stale = path.join(base, '.out.csv.tmp-999999999-deadbeef');
    const live = path.join(base, `.out.csv.tmp-${process.ppid}-cafecafe`);
    await writeFile(stale, 'half');
    await writeFile(live, 'writing');
    await exportDataset(ws, 'base', { format: 'csv', out });
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });

  it('split commits all parts or none: a failure in a later part leaves nothing', async () => {
    // make the third part's dataset directory unusable (a file where the directory goes)
    await writeFile(path.join(wsDir, 'datasets', 'base-test'), 'in the way');
    const before = await stored();
    const e = await splitDataset(ws, 'base', { ratios: [0.5, 0.3, 0.2], seed: 3 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OffpolicyError);
    expect((e as OffpolicyError).code).toBe('E_WORKSPACE_ESCAPE');
    expect(await stored()).toEqual(before);
    expect((await ws.versions()).map((v) => v.ref)).toEqual(['base@1']);
  });

  it('a multi-version commit interrupted after its journal is completed by the next open', async () => {
    // Simulate a split killed between its renames: two staged parts, a journal, one rename done.
    const parts = await splitDataset(ws, 'base', { ratios: [0.5, 0.5], seed: 3 });
    const [p1, p2] = parts.map((p) => p.version);
    const staged = path.join(path.dirname(p2!.dir), '.staging-999999999-111111');
    await rm(staged, { recursive: true, force: true });
    const { rename } = await import('node:fs/promises');
    await rename(p2!.dir, staged);
    await writeFile(
      path.join(wsDir, 'datasets', '.commit-999999999-abcd.json'),
      JSON.stringify([{ staging: path.join(path.dirname(p1!.dir), '.staging-999999999-000000'), final: p1!.dir }, { staging: staged, final: p2!.dir }]),
    );
    const again = await Workspace.open(wsDir);
    expect((await again.versions()).map((v) => v.ref)).toEqual(['base@1', 'base-test@1', 'base-train@1']);
    expect((await readdir(path.join(wsDir, 'datasets'))).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});

describe('stored data is validated and checked on read', () => {
  it('every write runs the row rules: NaN, a propensity of 1e-320 and out-of-range actions are refused', async () => {
    const before = await stored();
    await expectRejects(ws.createVersion({ name: 'nan', conn, select: select(5).replace('(i * 0.5)::DOUBLE', "CASE WHEN i = 2 THEN 'nan'::DOUBLE ELSE 1.0 END"), metadata: banditMeta }), 'E_NON_FINITE', /nothing was written.*first: 2/);
    await expectRejects(ws.createVersion({ name: 'tiny', conn, select: select(5, "CASE WHEN i = 1 THEN 1e-320 ELSE 0.5 END::DOUBLE"), metadata: banditMeta }), 'E_PROPENSITY_FLOOR', new RegExp(`propensity at least ${PROPENSITY_FLOOR}`));
    await expectRejects(ws.createVersion({ name: 'act', conn, select: select(5).replace('(i % 3)::INTEGER', '(i + 1)::INTEGER'), metadata: banditMeta }), 'E_ACTION_RANGE', /action is an integer in 0\.\.2/);
    expect(await stored()).toEqual(before);
  });

  it('ingest refuses a propensity below the floor (1e-300 would overflow the weights)', async () => {
    const src = path.join(base, 'tiny.csv');
    await writeFile(src, 'action,reward,propensity\n0,1,0.5\n1,0,1e-300\n');
    await expectRejects(ingest(ws, src, { name: 'tiny' }), 'E_PROPENSITY_FLOOR', /failed for 1 row \(first: 1\)/);
  });

  it('a version whose part file was overwritten gives E_DATASET_DAMAGED and other datasets still query', async () => {
    await ws.createVersion({ name: 'other', conn, select: select(9), metadata: banditMeta });
    const v = await ws.resolve('base');
    // replace the part file with a valid Parquet file of one row
    await conn.run(`COPY (${select(1)}) TO '${path.join(v.dir, 'part-0.parquet')}' (FORMAT parquet)`);
    await expectCli(['datasets', 'describe', 'base'], 'E_DATASET_DAMAGED', /Stored version base@1 is damaged: part-0\.parquet has \d+ bytes/);
    await expectCli(['datasets', 'export', 'base', '--format', 'csv', '--out', path.join(base, 'b.csv')], 'E_DATASET_DAMAGED');
    await expectCli(['datasets', 'query', 'SELECT count(*) FROM base'], 'E_DATASET_DAMAGED', /base@1 is damaged/);
    expect((await queryDatasets(ws, 'SELECT count(*) AS n FROM other')).rows).toEqual([{ n: '9' }]);
    // list shows the healthy datasets and names the damaged version on stderr, exit 0
    const listed = await cli(['datasets', 'list', '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.out).map((d: { ref: string }) => d.ref)).toEqual(['other@1']);
    expect(listed.err).toMatch(/^warning \[E_DATASET_DAMAGED\]: base@1 is left out: Stored version base@1 is damaged: part-0\.parquet has \d+ bytes.*Remove it with `offpolicy datasets rm base@1 --yes` or restore its files\.\n$/);
    // an appended byte (same row count) is caught by size and digest
    const o = await ws.resolve('other');
    await appendFile(path.join(o.dir, 'part-0.parquet'), 'x');
    await expectRejects(ws.resolve('other'), 'E_DATASET_DAMAGED', /part-0\.parquet has \d+ bytes and another SHA-256/);
    // and it can be removed
    expect((await cli(['datasets', 'rm', 'base', '--yes'])).code).toBe(0);
  });

  it('an extra part file planted in a version is refused', async () => {
    const v = await ws.resolve('base');
    await conn.run(`COPY (${select(3)}) TO '${path.join(v.dir, 'part-1.parquet')}' (FORMAT parquet)`);
    await expectRejects(ws.resolve('base'), 'E_DATASET_DAMAGED', /are not the ones its metadata lists/);
  });
});

describe('policy and checkpoint loaders', () => {
  async function policyDir(edit: (j: Record<string, unknown>) => void, weights?: Float32Array): Promise<string> {
    const dir = await mkdtemp(path.join(base, 'pol-'));
    const sizes = [2, 3, 1];
    const n = 2 * 3 + 3 + 3 * 1 + 1;
    const j: Record<string, unknown> = {
      format: 'offpolicy-policy', formatVersion: 1, algo: 'bc', kind: 'deterministic', obsDim: 2, actDim: 1,
      actor: { sizes, output: 'tanh' }, maxAction: [2], logStd: null, obsMean: [0, 0], obsStd: [1, 1], weightsFile: 'actor.bin',
    };
    edit(j);
    const w = weights ?? new Float32Array(n).fill(0.1);
    await writeFile(path.join(dir, 'actor.bin'), Buffer.from(w.buffer));
    await writeFile(path.join(dir, 'policy.json'), JSON.stringify(j));
    return dir;
  }

  it('loads a valid policy', async () => {
    const p = await loadPolicy(await policyDir(() => {}));
    expect(p.act(Float32Array.of(1, 2), 1)).toHaveLength(1);
  });

  it.each([
    ['weightsFile outside the directory', (j: Record<string, unknown>) => (j.weightsFile = '../../../etc/hostname'), /must be a file name inside/],
    ['absolute weightsFile', (j: Record<string, unknown>) => (j.weightsFile = '/etc/hostname'), /must be a file name inside/],
    ['empty maxAction', (j: Record<string, unknown>) => (j.maxAction = []), /maxAction must be 1 finite number/],
    ['non-numeric maxAction', (j: Record<string, unknown>) => (j.maxAction = ['a']), /maxAction must be 1 finite number/],
    ['zero obsStd', (j: Record<string, unknown>) => (j.obsStd = [1, 0]), /obsStd must be 2 finite numbers \(each above 0\)/],
    ['short obsMean', (j: Record<string, unknown>) => (j.obsMean = [0]), /obsMean must be 2 finite numbers/],
    ['bad sizes', (j: Record<string, unknown>) => (j.actor = { sizes: [2, -1], output: 'tanh' }), /actor\.sizes must list/],
  ])('refuses %s with E_POLICY_FORMAT', async (_what, edit, message) => {
    await expectRejects(loadPolicy(await policyDir(edit)), 'E_POLICY_FORMAT', message);
  });

  it('refuses NaN weights and a symlinked weights file', async () => {
    const w = new Float32Array(13).fill(0.1);
    w[4] = NaN;
    await expectRejects(loadPolicy(await policyDir(() => {}, w)), 'E_POLICY_FORMAT', /holds 1 non-finite weight/);
    const dir = await policyDir(() => {});
    await rm(path.join(dir, 'actor.bin'));
    await symlink('/etc/hostname', path.join(dir, 'actor.bin'));
    await expectRejects(loadPolicy(dir), 'E_POLICY_FORMAT', /is a symlink/);
  });

  it('rollout --save refuses a NaN policy before writing anything', async () => {
    const w = new Float32Array(13).fill(NaN);
    const dir = await policyDir((j) => ((j.obsDim = 3), (j.actor = { sizes: [3, 3, 1], output: 'tanh' }), (j.obsMean = [0, 0, 0]), (j.obsStd = [1, 1, 1])), new Float32Array(16).fill(NaN));
    void w;
    const before = await stored();
    const r = await cli(['rollout', '--policy', dir, '--env', 'pendulum', '--episodes', '2', '--save', 'roll']);
    expect(r.err).toMatch(/error \[E_POLICY_FORMAT\]: .*non-finite weights/);
    expect(r.code).toBe(2);
    expect(await stored()).toEqual(before);
  });

  it('the checkpoint hash covers state.json; binFile stays inside the checkpoint', async () => {
    const root = path.join(base, 'ckpt');
    const at = await writeCheckpoint(root, { algo: 't', step: 900, buffers: { a: Float32Array.of(1, 2) }, scalars: { x: 1 } });
    expect((await readCheckpoint(at)).state.step).toBe(900);
    const file = path.join(at, 'state.json');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('"step":900', '"step":100'));
    await expectRejects(readCheckpoint(at), 'E_CHECKPOINT', /state\.json does not match its recorded hash/);
    // binFile pointing outside, with the header hash recomputed as an attacker would not be able to without the code: still refused by name
    const j = JSON.parse(text) as Record<string, unknown>;
    delete j.headerSha256;
    j.binFile = '../../../etc/hostname';
    const { createHash: h } = await import('node:crypto');
    j.headerSha256 = h('sha256').update(JSON.stringify(j)).digest('hex');
    await writeFile(file, JSON.stringify(j));
    await expectRejects(readCheckpoint(at), 'E_CHECKPOINT', /must be a file name inside/);
  });
});

describe('limits', () => {
  it('a CSV with more columns than the limit is refused before loading', async () => {
    const cols = MAX_INPUT_COLUMNS + 1;
    const header = ['action', 'reward', 'propensity', ...Array.from({ length: cols - 3 }, (_, i) => `f${i}`)];
    const src = path.join(base, 'wide.csv');
    await writeFile(src, `${header.join(',')}\n${header.map(() => '0.5').join(',').replace(/^0\.5/, '0')}\n`);
    await expectRejects(ingest(ws, src, { name: 'wide' }), 'E_TOO_MANY_COLUMNS', new RegExp(`has ${cols} columns; at most ${MAX_INPUT_COLUMNS}`));
  });

  it('--num-actions, --resamples and n x K are bounded with coded errors', async () => {
    const src = path.join(base, 'ok.csv');
    await writeFile(src, 'action,reward,propensity\n0,1,0.5\n');
    await expectCli(['datasets', 'ingest', src, '--name', 'k', '--num-actions', '1000000000000'], 'E_LIMIT_ACTIONS', /--num-actions 1000000000000 is out of range/);
    await expectCli(['evaluate', '--data', 'base', '--policy', 'uniform', '--resamples', '1000000000', '--out', path.join(base, 'r.json')], 'E_LIMIT_RESAMPLES');
    expect(() => checkDenseCells(100_000, 10_000, 'Evaluation')).toThrow(/100000 rows x 10000 actions/);
    // actions far beyond K: K inferred from max(action) + 1 is bounded too
    await writeFile(src, 'action,reward,propensity\n0,1,0.5\n5000000,1,0.5\n');
    await expectRejects(ingest(ws, src, { name: 'k2' }), 'E_LIMIT_ACTIONS', /K \(from max action\) 5000001 is out of range/);
  });
});

describe('coded errors', () => {
  it('CSV: a missing field names the line; duplicated names and a late NUL byte are refused', async () => {
    const ragged = path.join(base, 'ragged.csv');
    await writeFile(ragged, 'action,reward,propensity\n0,1,0.5\n1,2\n0,1,0.5\n');
    await expectRejects(ingest(ws, ragged, { name: 'r' }), 'E_READ_FAILED', /line 3 has 2 fields; the header has 3/);
    const dup = path.join(base, 'dup.csv');
    await writeFile(dup, 'action,reward,reward\n0,1,2\n');
    await expectRejects(ingest(ws, dup, { name: 'd' }), 'E_DUPLICATE_COLUMN', /two columns named "reward" \(columns 2 and 3\)/);
    const nul = path.join(base, 'nul.csv');
    const rows = Array.from({ length: 20_000 }, (_, i) => `${i % 2},1,0.5`).join('\n');
    await writeFile(nul, Buffer.concat([Buffer.from(`action,reward,propensity\n${rows}\n0,1,0.5`), Buffer.from([0]), Buffer.from('\n')]));
    await expectRejects(ingest(ws, nul, { name: 'n' }), 'E_BINARY_CONTENT', /NUL byte at byte \d+ \(line 20002\)/);
  });

  it('truncated Arrow and HDF5 files give E_TRUNCATED_FILE without HDF5 diagnostics', async () => {
    const arrow = path.join(base, 't.arrow');
    await writeFile(arrow, Buffer.concat([Buffer.from('ARROW1\0\0'), Buffer.alloc(200, 1)]));
    await expectRejects(ingest(ws, arrow, { name: 'a' }), 'E_TRUNCATED_FILE', /does not end like one: it is truncated/);
    // An Arrow IPC stream (no trailing magic to check) cut inside its record batch.
    const { tableFromArrays, tableToIPC } = await import('apache-arrow');
    const stream = tableToIPC(tableFromArrays({ action: Int32Array.from({ length: 500 }, (_, i) => i % 2), reward: new Float64Array(500), propensity: new Float64Array(500).fill(0.5) }), 'stream');
    const cut = path.join(base, 'cut.arrows');
    await writeFile(cut, stream.subarray(0, stream.length - 100));
    await expectRejects(ingest(ws, cut, { name: 'c', format: 'arrow' }), 'E_TRUNCATED_FILE', /is an Arrow IPC stream that ends inside a message: it is truncated/);
    // An HDF5 v0 superblock recording an end-of-file address beyond the file's size.
    const h = Buffer.alloc(96);
    Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]).copy(h);
    h[8] = 0; // superblock version
    h[13] = 8; // size of offsets
    h[14] = 8; // size of lengths
    h.writeBigUInt64LE(4096n, 24 + 2 * 8); // end-of-file address
    const hdf = path.join(base, 't.hdf5');
    await writeFile(hdf, h);
    const r = await cli(['datasets', 'ingest', hdf, '--name', 'h']);
    expect(r.err).toBe(`error [E_TRUNCATED_FILE]: "${hdf}" is an HDF5 file shorter than its superblock says: it is truncated. Copy or download the file again in full.\n`);
    expect(r.code).toBe(2);
  });

  it('filesystem and lock failures map to codes (EACCES, ENOTDIR, EISDIR, DuckDB lock)', async () => {
    const errno = (code: string) => Object.assign(new Error(`${code}: x`), { code, syscall: 'open', path: '/x' });
    expect(codedError(errno('EACCES'))?.code).toBe('E_PERMISSION');
    expect(codedError(errno('ENOTDIR'))?.code).toBe('E_NOT_A_DIRECTORY');
    expect(codedError(errno('EISDIR'))?.code).toBe('E_IS_A_DIRECTORY');
    expect(codedError(new Error('IO Error: Could not set lock on file "/x/catalog.duckdb": Conflicting lock is held'))?.code).toBe('E_WORKSPACE_BUSY');
    // through the CLI: a workspace path below a file, and --out naming a directory
    const file = path.join(base, 'plain-file');
    await writeFile(file, 'x');
    const r = await runCli(['-w', path.join(file, 'ws'), 'datasets', 'list']);
    expect(r.err).toMatch(/^error \[E_NOT_A_DIRECTORY\]: Cannot open the workspace/);
    expect(r.code).toBe(2);
    await mkdir(path.join(base, 'adir'));
    await expectCli(['datasets', 'export', 'base', '--format', 'csv', '--out', path.join(base, 'adir')], 'E_IS_A_DIRECTORY');
  });

  it('evaluate without --out refuses to overwrite an existing results.json', async () => {
    const cwd = process.cwd();
    const here = await mkdtemp(path.join(base, 'cwd-'));
    await writeFile(path.join(here, 'results.json'), 'precious');
    process.chdir(here);
    try {
      await expectCli(['evaluate', '--data', 'base', '--policy', 'uniform'], 'E_OUT_EXISTS', /results\.json already exists and no --out was given/);
      expect(await readFile(path.join(here, 'results.json'), 'utf8')).toBe('precious');
    } finally {
      process.chdir(cwd);
    }
  });

  it('query --out writes the file and nothing else in the workspace', async () => {
    const out = path.join(base, 'q.csv');
    const before = await stored();
    const r = await queryToFile(ws, 'SELECT count(*) AS n FROM base', { format: 'csv', out });
    expect(r.rows).toBe(1);
    expect(await readFile(out, 'utf8')).toBe('n\n50\n');
    expect(await stored()).toEqual(before);
    const rows = await queryRows(conn, 'SELECT 1 AS one');
    expect(rows).toEqual([{ one: 1 }]);
  });
});
