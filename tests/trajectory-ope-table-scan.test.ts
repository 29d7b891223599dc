/**
 * The lean load of evaluateTrajectoryDataset (every candidate a table: only the
 * columns the estimators read, candidate rows matched by position when their
 * keys line up) against the full load (`pushdown: 'never'`: every column, rows
 * matched by key) on the same data: every estimator, weights clipped and not,
 * t, Hoeffding and bootstrap intervals, per-step ESS, to 1e-10; stored rows and
 * table rows out of order; the cases that load every column; the coded errors.
 */
import { writeFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SUMMED, expectDispatchOnKind, sameTrajectoryResults, sql, tableCandidateCases, writeTrajectoryTables } from './support/trajectory-tables.js';
import { openMemoryConnection, queryRows } from '../src/datasets/duckdb.js';
import { ingest } from '../src/datasets/ingest/index.js';
import { Workspace } from '../src/datasets/workspace.js';
import { evaluateTrajectoryDataset, type TrajectoryEvaluateOptions, type TrajectoryEvaluation } from '../src/ope/trajectory/evaluate.js';
import { expectRejects } from './support/expect-error.js';
import { evaluate } from '../src/ope/evaluate.js';

let dir: string;
let ws: Workspace;
const ALL = ALL_SUMMED;

async function sqlRows(q: string): Promise<Record<string, unknown>[]> {
  const conn = await openMemoryConnection();
  try {
    return await queryRows(conn, q);
  } finally {
    conn.closeSync();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-traj-push-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  await writeTrajectoryTables(ws, dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sameResults(p: TrajectoryEvaluation, m: TrajectoryEvaluation, referenceBackend: TrajectoryEvaluation['backend'] = 'memory'): void {
  sameTrajectoryResults(p, m, { backend: 'scan', referenceBackend, warnings: 'codes' });
}

async function both(data: string, opts: TrajectoryEvaluateOptions): Promise<void> {
  const p = await evaluateTrajectoryDataset(ws, data, opts);
  const m = await evaluateTrajectoryDataset(ws, data, { ...opts, pushdown: 'never' });
  sameResults(p, m);
}

describe('the lean load of table candidates equals the full load', () => {
  tableCandidateCases(() => dir, both);
});

describe('order, other candidates, bad tables', () => {
  it('the bootstrap runs on the lean load too (same seed, same interval)', async () => {
    await both('cart', { candidates: [{ spec: path.join(dir, 'soft.parquet') }], estimators: ['pdis', 'snpdis', 'dr'], rewardModel: 'columns:q_0,q_1', interval: 'bootstrap', resamples: 50, seed: 1 });
  });
  it('a table whose rows are shuffled, and a dataset stored out of (episode_id, step) order, give the same result', async () => {
    const opts: TrajectoryEvaluateOptions = { candidates: [{ name: 'soft', spec: path.join(dir, 'soft.parquet') }], estimators: [...ALL], rewardModel: 'columns:q_0,q_1', gamma: 0.97 };
    const sorted = await evaluateTrajectoryDataset(ws, 'cart', opts);
    const shuffled = path.join(dir, 'soft-shuffled.parquet');
    await sql(`COPY (SELECT * FROM read_parquet('${path.join(dir, 'soft.parquet')}') ORDER BY hash(episode_id * 1000 + step)) TO '${shuffled}' (FORMAT parquet)`);
    sameResults(await evaluateTrajectoryDataset(ws, 'cart', { ...opts, candidates: [{ name: 'soft', spec: shuffled }] }), sorted, 'scan');
    const v = await ws.resolve('cart');
    const unsorted = path.join(dir, 'cart-unsorted.parquet');
    await sql(`COPY (SELECT * FROM read_parquet('${v.glob}') ORDER BY hash(episode_id * 1000 + step)) TO '${unsorted}' (FORMAT parquet)`);
    await ingest(ws, unsorted, { name: 'cart_unsorted', kind: 'trajectory' });
    const first = await sqlRows(`SELECT episode_id, step FROM read_parquet('${(await ws.resolve('cart_unsorted')).glob}') LIMIT 3`);
    expect(first.some((r, i) => Number(r.step) !== i)).toBe(true); // stored out of order
    const r = await evaluateTrajectoryDataset(ws, 'cart_unsorted', opts);
    sameResults(r, { ...sorted, dataset: { ...sorted.dataset, ref: r.dataset.ref } }, 'scan');
  });
  it('a policy candidate (JSON) loads every column; so does an injected Q provider', async () => {
    const json = path.join(dir, 'uniform.json');
    await writeFile(json, JSON.stringify({ type: 'uniform' }));
    const r = await evaluateTrajectoryDataset(ws, 'cart', { candidates: [{ spec: json }, { spec: path.join(dir, 'soft.parquet') }] });
    expect(r.backend).toBe('memory');
    const q = await evaluateTrajectoryDataset(ws, 'cart', {
      candidates: [{ spec: path.join(dir, 'soft.parquet') }],
      estimators: ['dr'],
      qProvider: async (_c, steps) => ({ qLogged: new Float64Array(steps.n), vState: new Float64Array(steps.n), source: 'zero' }),
    });
    expect(q.backend).toBe('memory');
    expect(q.candidates[0]!.q).toEqual({ source: 'zero' });
  });
  it('table rows that do not match the logged steps and NaN log-densities get the in-memory path\'s coded errors', async () => {
    const v = await ws.resolve('cart');
    const short = path.join(dir, 'short.parquet');
    await sql(`COPY (SELECT * FROM read_parquet('${path.join(dir, 'soft.parquet')}') WHERE NOT (episode_id = 3 AND step = 2)) TO '${short}' (FORMAT parquet)`);
    await expectRejects(evaluateTrajectoryDataset(ws, 'cart', { candidates: [{ spec: short }] }), 'E_POLICY_ROWS', /1 logged steps are missing from it \(first: episode 3 step 2\)/);
    const extra = path.join(dir, 'extra.parquet');
    await sql(`COPY (SELECT * FROM read_parquet('${path.join(dir, 'soft.parquet')}') UNION ALL SELECT 999, 0, 0.5, 0.5) TO '${extra}' (FORMAT parquet)`);
    await expectRejects(evaluateTrajectoryDataset(ws, 'cart', { candidates: [{ spec: extra }] }), 'E_POLICY_ROWS', /1 of its rows are not logged steps \(first: episode 999 step 0\)/);
    const vp = await ws.resolve('pend');
    const nan = path.join(dir, 'nan.parquet');
    await sql(`COPY (SELECT episode_id, step, CASE WHEN episode_id = 2 AND step = 5 THEN 'nan'::DOUBLE ELSE behavior_logprob END AS logprob FROM read_parquet('${vp.glob}')) TO '${nan}' (FORMAT parquet)`);
    await expectRejects(evaluateTrajectoryDataset(ws, 'pend', { candidates: [{ spec: nan }] }), 'E_LOGPROB', /1 step\(s\) have a NaN or \+inf logprob \(first: episode 2 step 5/);
    expect(v.metadata.kind).toBe('trajectory');
  });
});

describe('library evaluate() dispatches on the dataset kind', () => {
  it("setting 'auto': trajectory data gives the trajectory result (lean load), a bandit log the bandit result", async () => {
    await expectDispatchOnKind(ws, dir, 'scan');
  });
  it('refuses what does not fit: trajectory data under the default bandit setting, options of the other setting', async () => {
    const soft = path.join(dir, 'soft.parquet');
    await expectRejects(evaluate(ws, { data: 'cart', policies: [{ spec: soft }] }), 'E_DATASET_KIND', /holds trajectories, and evaluate\(\) was asked for a bandit result/);
    await expectRejects(evaluate(ws, { setting: 'trajectory', data: 'logs', policies: [{ spec: soft }] }), 'E_DATASET_KIND', /is a bandit log, not trajectory data/);
    await expectRejects(evaluate(ws, { setting: 'auto', data: 'logs', policies: [{ spec: 'column:action_probs' }], trajectory: { gamma: 0.9 } }), 'E_OPTION_SETTING', /trajectory options \(gamma\) do not apply/);
    await expectRejects(evaluate(ws, { setting: 'auto', data: 'cart', policies: [{ spec: soft }], strict: true, smoothingAlpha: 0.5 }), 'E_OPTION_SETTING', /bandit option\(s\) smoothingAlpha, strict do not apply/);
  });
});
