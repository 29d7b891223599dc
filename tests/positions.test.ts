/**
 * Position-aware candidates on a log with a `position` column: fixed and
 * per-position fixed distributions (JSON), probability tables with a position
 * column, the POSITION_IGNORED warning, and the coded errors of bad inputs.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMemoryConnection, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { Workspace } from '../src/datasets/workspace.js';
import { evaluate } from '../src/ope/evaluate.js';

// 6 rows, K = 3, positions 0, 1, 0, 1, 0, 1 (two slots).
const LOG = [
  { a: 0, r: 1, p: 0.5, pos: 0 },
  { a: 1, r: 1, p: 0.25, pos: 1 },
  { a: 2, r: 0, p: 0.2, pos: 0 },
  { a: 0, r: 1, p: 0.4, pos: 1 },
  { a: 1, r: 0, p: 0.5, pos: 0 },
  { a: 2, r: 1, p: 0.5, pos: 1 },
];
const BY_POSITION = [
  [0.6, 0.3, 0.1],
  [0.2, 0.2, 0.6],
];

let dir: string;
let ws: Workspace;
let conn: DuckDBConnection;

async function store(name: string, withPosition: boolean): Promise<void> {
  const rows = LOG.map((r, i) => `(${i}::BIGINT, ${r.a}::INTEGER, ${r.r}::DOUBLE, ${r.p}::DOUBLE${withPosition ? `, ${r.pos}::INTEGER` : ''})`);
  await ws.createVersion({
    name,
    conn,
    select: `SELECT * FROM (VALUES ${rows.join(', ')}) t(row_id, action, reward, propensity${withPosition ? ', position' : ''}) ORDER BY row_id`,
    metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: 3 }, lineage: { transform: 'test', params: {} } },
  });
}

async function json(name: string, spec: unknown): Promise<string> {
  const f = path.join(dir, `${name}.json`);
  await writeFile(f, JSON.stringify(spec));
  return f;
}

async function csv(name: string, rows: (number | string)[][], header: string): Promise<string> {
  const f = path.join(dir, `${name}.csv`);
  await writeFile(f, [header, ...rows.map((r) => r.join(','))].join('\n') + '\n');
  return f;
}

const ips = async (data: string, spec: string): Promise<{ value: number; warnings: string[] }> => {
  const res = await evaluate(ws, { data, policies: [{ name: 'c', spec }], estimators: ['ips'], interval: 't' });
  return { value: res.candidates[0]!.estimates[0]!.value, warnings: res.candidates[0]!.warnings.map((w) => w.code) };
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-positions-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  conn = await openMemoryConnection();
  await store('pos', true);
  await store('nopos', false);
});
afterAll(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

describe('fixed-distribution candidates', () => {
  it('{"type":"fixed","probs"}: IPS with the same distribution on every row', async () => {
    // pi = (0.2, 0.3, 0.5): w r = 0.2/0.5, 0.3/0.25, 0, 0.2/0.4, 0, 0.5/0.5 = 0.4 + 1.2 + 0.5 + 1 = 3.1; / 6
    const r = await ips('nopos', await json('fixed', { type: 'fixed', probs: [0.2, 0.3, 0.5] }));
    expect(Math.abs(r.value - 3.1 / 6)).toBeLessThan(1e-12);
    expect(r.warnings).not.toContain('POSITION_IGNORED');
  });
  it('{"type":"fixed","byPosition"}: row i gets the distribution of its position', async () => {
    // pos 0 rows (a 0, 2, 1): 0.6/0.5 * 1, 0.1/0.2 * 0, 0.3/0.5 * 0 -> 1.2
    // pos 1 rows (a 1, 0, 2): 0.2/0.25 * 1, 0.2/0.4 * 1, 0.6/0.5 * 1 -> 0.8 + 0.5 + 1.2 = 2.5; total 3.7 / 6
    const r = await ips('pos', await json('bypos', { type: 'fixed', byPosition: BY_POSITION }));
    expect(Math.abs(r.value - 3.7 / 6)).toBeLessThan(1e-12);
    expect(r.warnings).not.toContain('POSITION_IGNORED');
  });
  it('a table whose rows carry the distribution at the row position, with a position column, gives the same value and no warning', async () => {
    const rows = LOG.map((r, i) => [i, r.pos, ...BY_POSITION[r.pos]!]);
    const r = await ips('pos', await csv('table-pos', rows, 'row_id,position,p_0,p_1,p_2'));
    expect(Math.abs(r.value - 3.7 / 6)).toBeLessThan(1e-12);
    expect(r.warnings).not.toContain('POSITION_IGNORED');
  });
  it('a candidate without positions on a log with positions warns POSITION_IGNORED, naming the effect', async () => {
    const res = await evaluate(ws, { data: 'pos', policies: [{ name: 'flat', spec: await json('fixed2', { type: 'fixed', probs: [0.2, 0.3, 0.5] }) }], estimators: ['ips'], interval: 't' });
    const w = res.candidates[0]!.warnings.find((x) => x.code === 'POSITION_IGNORED');
    expect(w?.message).toContain('The log records 2 positions, but candidate "flat" gives no position: its one distribution per row is used for every position');
    // The table without a position column warns too (the value is the same: the rows carry what they carry).
    const rows = LOG.map((r, i) => [i, ...BY_POSITION[r.pos]!]);
    const t = await ips('pos', await csv('table-nopos', rows, 'row_id,p_0,p_1,p_2'));
    expect(t.warnings).toContain('POSITION_IGNORED');
    expect(Math.abs(t.value - 3.7 / 6)).toBeLessThan(1e-12);
  });
  it('the pushdown path (t interval, table candidate) agrees and warns the same way', async () => {
    const rows = LOG.map((r, i) => [i, r.pos, ...BY_POSITION[r.pos]!]);
    const spec = await csv('table-pos2', rows, 'row_id,position,p_0,p_1,p_2');
    const a = await evaluate(ws, { data: 'pos', policies: [{ name: 'c', spec }], estimators: ['ips'], interval: 't', pushdown: 'never' });
    const b = await evaluate(ws, { data: 'pos', policies: [{ name: 'c', spec }], estimators: ['ips'], interval: 't' });
    expect(Math.abs(a.candidates[0]!.estimates[0]!.value - b.candidates[0]!.estimates[0]!.value)).toBeLessThan(1e-12);
    for (const r of [a, b]) expect(r.candidates[0]!.warnings.map((w) => w.code)).not.toContain('POSITION_IGNORED');
  });
});

describe('fixed candidates in the DuckDB scan', () => {
  it('fixed and byPosition run as SQL constants: the same estimates with and without pushdown, the same warning', async () => {
    for (const [data, spec] of [
      ['nopos', { type: 'fixed', probs: [0.2, 0.3, 0.5] }],
      ['pos', { type: 'fixed', byPosition: BY_POSITION }],
      ['pos', { type: 'fixed', probs: [0.2, 0.3, 0.5] }],
    ] as const) {
      const f = await json(`push-${data}-${'probs' in spec ? 'p' : 'b'}`, spec);
      const run = (pushdown: 'auto' | 'never') => evaluate(ws, { data, policies: [{ name: 'c', spec: f }], estimators: ['ips', 'snips'], interval: 't', pushdown });
      const [a, b] = [await run('auto'), await run('never')];
      const ca = a.candidates[0]!;
      const cb = b.candidates[0]!;
      ca.estimates.forEach((e, i) => {
        expect(Math.abs(e.value - cb.estimates[i]!.value)).toBeLessThan(1e-12);
        expect(Math.abs(e.interval!.lower - cb.estimates[i]!.interval!.lower)).toBeLessThan(1e-12);
      });
      expect(ca.warnings.map((w) => w.code)).toEqual(cb.warnings.map((w) => w.code));
      expect(ca.source).toBe(`json:fixed:${f}`);
    }
    // The byPosition value through the scan is the hand-computed 3.7 / 6.
    const r = await ips('pos', await json('push-check', { type: 'fixed', byPosition: BY_POSITION }));
    expect(Math.abs(r.value - 3.7 / 6)).toBeLessThan(1e-12);
  });
});

describe('bad fixed and position-aware candidates', () => {
  const fails = async (data: string, spec: unknown, code: string, text: string): Promise<void> => {
    const f = typeof spec === 'string' ? spec : await json(`bad-${Math.random().toString(36).slice(2)}`, spec);
    await expect(evaluate(ws, { data, policies: [{ name: 'c', spec: f }], estimators: ['ips'], interval: 't' })).rejects.toMatchObject({ code, message: expect.stringContaining(text) });
  };
  it('probs not summing to 1', () => fails('nopos', { type: 'fixed', probs: [0.2, 0.3, 0.4] }, 'E_POLICY_PROBS', '"probs" sums to 0.9'));
  it('probs of the wrong length K', () => fails('nopos', { type: 'fixed', probs: [0.5, 0.5] }, 'E_ACTION_SPACE', '"probs" has 2 probabilities, but the log\'s action space has K = 3 actions'));
  it('a negative probability', () => fails('nopos', { type: 'fixed', probs: [1.2, -0.2, 0] }, 'E_POLICY_PROBS', '"probs"[1] = -0.2 is not a probability'));
  it('byPosition with more distributions than the log has positions', () =>
    fails('pos', { type: 'fixed', byPosition: [...BY_POSITION, [1, 0, 0]] }, 'E_POLICY_POSITION', '"byPosition" has 3 distributions, but the log has 2 positions (0..1)'));
  it('byPosition on a log without positions', () => fails('nopos', { type: 'fixed', byPosition: BY_POSITION }, 'E_POLICY_POSITION', 'the log has no position column'));
  it('a byPosition entry that is not a distribution', () => fails('pos', { type: 'fixed', byPosition: [[0.6, 0.3, 0.1], [0.5, 0.6, -0.1]] }, 'E_POLICY_PROBS', '"byPosition[1]"[2] = -0.1'));
  it('both probs and byPosition', () => fails('pos', { type: 'fixed', probs: [1, 0, 0], byPosition: BY_POSITION }, 'E_POLICY_SPEC', 'exactly one of "probs"'));
  it('a table whose positions differ from the log', async () => {
    const rows = LOG.map((r, i) => [i, i === 4 ? 1 : r.pos, ...BY_POSITION[r.pos]!]);
    await fails('pos', await csv('table-badpos', rows, 'row_id,position,p_0,p_1,p_2'), 'E_POLICY_POSITION', `Rule "the table's position equals the log's position on the same row_id" failed for 1 row (first: 4)`);
  });
  it('a table with positions on a log without them', async () => {
    const rows = LOG.map((r, i) => [i, r.pos, ...BY_POSITION[r.pos]!]);
    await fails('nopos', await csv('table-pos3', rows, 'row_id,position,p_0,p_1,p_2'), 'E_POLICY_POSITION', 'has a position column, but the log nopos@1 has none');
  });
});
