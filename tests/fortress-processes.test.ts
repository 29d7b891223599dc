/**
 * Issue 17, process tests: the CLI run as separate processes, in parallel and
 * killed with SIGKILL mid-write. Each spawns `node bin/offpolicy.js` (the
 * compiled CLI in dist/), so its wall time is dominated by process start-up.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { openMemoryConnection, queryRows } from '../src/datasets/duckdb.js';
import { Workspace } from '../src/datasets/workspace.js';
import { generateTrajectories, writeTrajectoryDataset } from '../src/envs/trajectories.js';
import { MlpPolicy, savePolicy } from '../src/offline-rl/policy.js';
import { Rng } from '../src/util/rng.js';

const BIN = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'bin', 'offpolicy.js');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
  pid: number;
}

/** Does process `pid` have a staging directory in `ws`, or an ingest spill directory? */
async function writing(ws: string, pid: number): Promise<boolean> {
  const datasets = path.join(ws, 'datasets');
  for (const e of await readdir(datasets).catch(() => [] as string[])) {
    const entries = await readdir(path.join(datasets, e)).catch(() => [] as string[]);
    if (entries.some((f) => f.startsWith(`.staging-${pid}-`))) return true;
  }
  return (await readdir(tmpdir())).some((f) => f.startsWith(`offpolicy-ingest-${pid}-`));
}

/**
 * Spawns the CLI. `kill.afterMs` sends SIGKILL after that delay; with
 * `kill.whenWriting` the delay counts from the moment the process has started
 * writing (a staging or spill directory exists), so the kill lands mid-write.
 */
function cli(ws: string, args: string[], kill?: { afterMs: number; whenWriting?: boolean }): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, '-w', ws, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OFFPOLICY_LOCK_TIMEOUT_MS: '60000' } });
    let out = '';
    let err = '';
    let done = false;
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    let timer: NodeJS.Timeout | undefined;
    if (kill && !kill.whenWriting) timer = setTimeout(() => child.kill('SIGKILL'), kill.afterMs);
    if (kill?.whenWriting) {
      const poll = async () => {
        if (done) return;
        if (await writing(ws, child.pid!)) timer = setTimeout(() => child.kill('SIGKILL'), kill.afterMs);
        else timer = setTimeout(() => void poll(), 10);
      };
      void poll();
    }
    child.on('close', (code, signal) => {
      done = true;
      if (timer) clearTimeout(timer);
      resolve({ code, signal, out, err, pid: child.pid! });
    });
  });
}

/** Leftovers a dead writer could leave: staging, deleting, journals, the lock, spill directories. */
async function staleFiles(ws: string, pids: number[]): Promise<string[]> {
  const out: string[] = [];
  const datasets = path.join(ws, 'datasets');
  for (const e of await readdir(datasets)) {
    if (e.startsWith('.')) out.push(e);
    else for (const f of await readdir(path.join(datasets, e))) if (f.startsWith('.')) out.push(`${e}/${f}`);
  }
  if (existsSync(path.join(ws, '.lock'))) out.push('.lock');
  for (const f of await readdir(tmpdir())) if (pids.some((p) => f.startsWith(`offpolicy-ingest-${p}-`) || f.startsWith(`offpolicy-query-${p}-`))) out.push(f);
  return out;
}

/** The catalog's rows as "name@version rows", opened read-only. */
async function catalogRows(ws: string): Promise<string[]> {
  const inst = await DuckDBInstance.create(path.join(ws, 'catalog.duckdb'), { access_mode: 'READ_ONLY' });
  const c = await inst.connect();
  try {
    return (await queryRows(c, 'SELECT name, version, rows FROM datasets ORDER BY name, version')).map((r) => `${r.name}@${r.version} ${r.rows}`);
  } finally {
    c.closeSync();
    inst.closeSync();
  }
}

async function diskRows(ws: string): Promise<string[]> {
  return (await (await Workspace.open(ws)).versions()).map((v) => `${v.ref} ${v.metadata.rowCount}`);
}

let base: string;
beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'offpolicy-fortress-proc-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('parallel processes', () => {
  it('8 readers and 4 writers: every write lands exactly once or fails with a code; every read succeeds', async () => {
    const ws = path.join(base, 'parallel');
    const w = await Workspace.open(ws);
    const conn = await openMemoryConnection();
    await w.createVersion({
      name: 'base',
      conn,
      select: 'SELECT i::BIGINT AS row_id, (i % 3)::INTEGER AS action, 1.0::DOUBLE AS reward, 0.5::DOUBLE AS propensity FROM range(40) t(i)',
      metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: 3 }, lineage: { transform: 'test', params: {} } },
    });
    conn.closeSync();
    // Four different inputs, all written to the same dataset name: versions 2..5 in some order.
    const inputs: string[] = [];
    for (let k = 0; k < 4; k++) {
      const f = path.join(base, `in-${k}.csv`);
      await writeFile(f, `action,reward,propensity\n${Array.from({ length: 10 + k }, (_, i) => `${i % 3},${k},0.5`).join('\n')}\n`);
      inputs.push(f);
    }
    const writers = inputs.map((f) => cli(ws, ['datasets', 'ingest', f, '--name', 'shared', '--no-progress']));
    const readers = Array.from({ length: 8 }, (_, i) =>
      cli(ws, i % 2 === 0 ? ['datasets', 'list', '--json'] : ['datasets', 'query', 'SELECT count(*) AS n FROM base', '--format', 'csv']),
    );
    const [wr, rd] = await Promise.all([Promise.all(writers), Promise.all(readers)]);
    for (const r of rd) {
      expect(r.err, r.err).toBe('');
      expect(r.code).toBe(0);
    }
    for (const r of rd.filter((_, i) => i % 2 === 1)) expect(r.out).toBe('n\n40\n');
    const landed = wr.filter((r) => r.code === 0);
    for (const r of wr.filter((x) => x.code !== 0)) {
      expect(r.err).toMatch(/^error \[E_[A-Z_]+\]: /);
      expect(r.code).toBe(2);
    }
    const versions = (await (await Workspace.open(ws)).versionsOf('shared')).map((v) => v.metadata.rowCount).sort((a, b) => a - b);
    // each successful writer's input (10 + k rows) is stored exactly once
    const expected = wr.map((r, k) => (r.code === 0 ? 10 + k : -1)).filter((n) => n > 0).sort((a, b) => a - b);
    expect(versions).toEqual(expected);
    expect(landed.length).toBe(4);
    expect(await staleFiles(ws, wr.map((r) => r.pid))).toEqual([]);
    expect(await catalogRows(ws)).toEqual(await diskRows(ws));
  }, 900_000);
});

describe('the writer lock across processes', () => {
  it('breaks a dead owner\'s lock (and a dead breaker\'s) once: six processes taking it five times each never overlap', async () => {
    const ws = await mkdtemp(path.join(tmpdir(), 'offpolicy-lock-'));
    try {
      await writeFile(path.join(ws, '.lock'), '999999999\n'); // a dead owner (PID far above pid_max)
      await writeFile(path.join(ws, '.lock.break'), '999999998\n'); // a breaker that died while breaking
      const trace = path.join(ws, 'trace.txt');
      const lockModule = path.join(path.dirname(BIN), '..', 'dist', 'datasets', 'fs-guard.js');
      const script = `
        import { appendFileSync } from 'node:fs';
        const { WriteLock } = await import(${JSON.stringify(lockModule)});
        for (let i = 0; i < 5; i++) {
          const lock = await WriteLock.acquire(${JSON.stringify(ws)}, 60000);
          appendFileSync(${JSON.stringify(trace)}, 'S ' + process.pid + '\\n');
          await new Promise((r) => setTimeout(r, 5));
          appendFileSync(${JSON.stringify(trace)}, 'E ' + process.pid + '\\n');
          await lock.release();
        }`;
      const runs = await Promise.all(
        Array.from({ length: 6 }, () =>
          new Promise<{ code: number | null; err: string }>((resolve) => {
            const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
            let err = '';
            child.stderr.on('data', (d: Buffer) => (err += d.toString()));
            child.on('close', (code) => resolve({ code, err }));
          }),
        ),
      );
      expect(runs.map((r) => [r.code, r.err])).toEqual(runs.map(() => [0, '']));
      const lines = (await readFile(trace, 'utf8')).trim().split('\n');
      expect(lines).toHaveLength(60);
      for (let i = 0; i < lines.length; i += 2) {
        const [start, end] = [lines[i]!.split(' '), lines[i + 1]!.split(' ')];
        expect([start[0], end[0], end[1]]).toEqual(['S', 'E', start[1]]);
      }
      expect((await readdir(ws)).sort()).toEqual(['trace.txt']);
    } finally {
      await rm(ws, { recursive: true, force: true });
    }
  }, 300_000);
});

describe('kill -9 mid-write', () => {
  it('after SIGKILL during ingest, split, corrupt and rollout --save, the next command leaves no stale files and a consistent catalog', async () => {
    const ws = path.join(base, 'killed');
    const w = await Workspace.open(ws);
    await writeTrajectoryDataset(w, 'pend', generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 6, seed: 1 }));
    const conn = await openMemoryConnection();
    await w.createVersion({
      name: 'logs',
      conn,
      select: 'SELECT i::BIGINT AS row_id, (i % 3)::INTEGER AS action, 1.0::DOUBLE AS reward, 0.5::DOUBLE AS propensity FROM range(5000) t(i)',
      metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: 3 }, lineage: { transform: 'test', params: {} } },
    });
    conn.closeSync();
    const csv = path.join(base, 'big.csv');
    await writeFile(csv, `action,reward,propensity\n${Array.from({ length: 50_000 }, (_, i) => `${i % 3},${i % 7},0.5`).join('\n')}\n`);
    const policyDir = path.join(base, 'policy');
    const rng = new Rng(3);
    const sizes = [3, 8, 1];
    const params = Float32Array.from({ length: 3 * 8 + 8 + 8 + 1 }, () => rng.range(-0.5, 0.5));
    await savePolicy(new MlpPolicy({ algo: 'bc', kind: 'deterministic', spec: { sizes, output: 'tanh' }, params, maxAction: Float32Array.of(2), logStd: null, obsMean: new Float32Array(3), obsStd: Float32Array.of(1, 1, 1) }), policyDir);

    const ops: string[][] = [
      ['datasets', 'ingest', csv, '--name', 'ingested', '--no-progress'],
      ['datasets', 'split', 'logs', '--seed', '1'],
      ['corrupt', '--data', 'pend', '--field', 'obs', '--rate', '0.5', '--name', 'corrupted'],
      ['rollout', '--policy', policyDir, '--env', 'pendulum', '--episodes', '3', '--save', 'rolled'],
    ];
    // Kill moments drawn from a seeded generator, spread from start-up to the write.
    const when = new Rng(17);
    const pids: number[] = [];
    let midWrite = 0;
    for (const op of ops) {
      // once at a random moment from start-up on, once at a random moment after writing began
      for (const whenWriting of [false, true]) {
        const r = await cli(ws, op, { afterMs: Math.round(whenWriting ? when.range(0, 300) : when.range(300, 8000)), whenWriting });
        pids.push(r.pid);
        if (r.signal === 'SIGKILL' && whenWriting) midWrite++;
        if (r.signal !== 'SIGKILL') expect(r.code, r.err).toBe(0);
      }
    }
    // most kills after writing began land before the process finishes
    expect(midWrite).toBeGreaterThanOrEqual(2);
    // The next command: a write (which cleans up and rebuilds the catalog), then a read.
    await writeFile(path.join(base, 'tiny.csv'), 'action,reward,propensity\n0,1,0.5\n');
    const again = await cli(ws, ['datasets', 'ingest', path.join(base, 'tiny.csv'), '--name', 'after', '--no-progress']);
    expect(again.code, again.err).toBe(0);
    const list = await cli(ws, ['datasets', 'list', '--all', '--json']);
    expect(list.code, list.err).toBe(0);
    expect(await staleFiles(ws, pids)).toEqual([]);
    expect(await catalogRows(ws)).toEqual(await diskRows(ws));
    // split parts: all or none per split run
    const names = (await diskRows(ws)).map((r) => r.split('@')[0]!);
    const parts = ['logs-train', 'logs-validation', 'logs-test'].map((n) => names.filter((x) => x === n).length);
    expect(new Set(parts).size).toBe(1);
    // every stored version still reads back with its recorded row count and digest
    const w2 = await Workspace.open(ws);
    for (const v of await w2.versions()) expect((await w2.resolve(v.ref)).metadata.rowCount).toBe(v.metadata.rowCount);
    expect(JSON.parse(list.out).map((r: { name: string }) => r.name)).toContain('after');
  }, 900_000);
});
