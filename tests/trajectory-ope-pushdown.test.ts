/**
 * The DuckDB pushdown of the trajectory estimators (src/ope/trajectory/pushdown.ts,
 * `pushdown: 'duckdb'`) against the in-memory path on the same data: every
 * estimator, weights clipped and not, t and Hoeffding intervals, per-step ESS and
 * warnings, to 1e-10; what it declines (refused with E_PUSHDOWN when asked for,
 * loaded with a PUSHDOWN_DECLINED warning beyond the memory budget; data its
 * checks reject goes to the in-memory path's coded errors); when 'auto' picks it
 * (the memory budget, counted over the steps `where` selects).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { TrajectoryEvaluationResult } from '../src/core/trajectory-evaluation-result.js';
import { runCli } from './support/run-cli.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMemoryConnection, queryOne } from '../src/datasets/duckdb.js';
import { expectDispatchOnKind, sameTrajectoryResults, sql, tableCandidateCases, writeTrajectoryTables } from './support/trajectory-tables.js';
import { ingest } from '../src/datasets/ingest/index.js';
import { Workspace } from '../src/datasets/workspace.js';
import { LEAN_BYTES_PER_STEP, evaluateTrajectoryDataset, wantsDuckdbPushdown, type TrajectoryEvaluateOptions, type TrajectoryEvaluation } from '../src/ope/trajectory/evaluate.js';
import { expectRejects } from './support/expect-error.js';
import { evaluate } from '../src/ope/evaluate.js';
import { evaluateTrajectories } from '../src/ope/trajectory/result.js';

let dir: string;
let ws: Workspace;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-traj-push-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  await writeTrajectoryTables(ws, dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sameResults(p: TrajectoryEvaluation, m: TrajectoryEvaluation): void {
  sameTrajectoryResults(p, m, { backend: 'duckdb', referenceBackend: 'memory', warnings: 'equal' });
}

async function both(data: string, opts: TrajectoryEvaluateOptions): Promise<void> {
  const p = await evaluateTrajectoryDataset(ws, data, { ...opts, pushdown: 'duckdb' });
  const m = await evaluateTrajectoryDataset(ws, data, { ...opts, pushdown: 'never' });
  sameResults(p, m);
}

describe('trajectory sums pushed down to DuckDB equal the in-memory path', () => {
  tableCandidateCases(() => dir, both);
});

describe('what the pushdown declines: refused when asked for, loaded with a warning beyond the budget', () => {
  it("pushdown 'duckdb' refuses what it cannot sum (E_PUSHDOWN naming the reason and the fix)", async () => {
    const soft = path.join(dir, 'soft.parquet');
    const duck = (data: string, o: Omit<TrajectoryEvaluateOptions, 'candidates'>, candidates = [{ spec: soft }]) => evaluateTrajectoryDataset(ws, data, { candidates, pushdown: 'duckdb', ...o });
    await expectRejects(duck('cart', { interval: 'bootstrap', resamples: 50, seed: 1 }), 'E_PUSHDOWN', /cannot run: bootstrap intervals need every episode's term in memory\. To sum in DuckDB, use t, Hoeffding or Bernstein intervals \(--interval t\); or use pushdown 'auto'/);
    await expectRejects(duck('cart', { estimators: ['tis', 'mis', 'mdr'] }), 'E_PUSHDOWN', /cannot run: MIS, MDR cannot be summed in SQL \(marginal weights are learned from the observations\)\. To sum in DuckDB, drop mis, mdr from --estimators/);
    await expectRejects(duck('cart', { estimators: ['tis'], distribution: { estimators: ['cd-is'] } }), 'E_PUSHDOWN', /return distributions \(cumulative-distribution OPE\) are computed from the loaded steps/);
    await expectRejects(duck('cart', { estimators: ['tis'], behaviorModel: { mode: 'fit' } }), 'E_PUSHDOWN', /a fitted behaviour model/);
    await expectRejects(duck('cart', { estimators: ['dr'] }), 'E_PUSHDOWN', /DR need Q, and no Q columns were given\. To sum in DuckDB, give Q as columns/);
    const json = path.join(dir, 'uniform.json');
    await writeFile(json, JSON.stringify({ type: 'uniform' }));
    await expectRejects(duck('cart', {}, [{ spec: json }]), 'E_PUSHDOWN', /candidate "uniform" is a policy, whose actions need the observations/);
    const v = await ws.resolve('cart');
    const nolp = path.join(dir, 'cart-nolp.parquet');
    await sql(`COPY (SELECT * EXCLUDE (behavior_logprob) FROM read_parquet('${v.glob}')) TO '${nolp}' (FORMAT parquet)`);
    await ingest(ws, nolp, { name: 'cart_nolp', kind: 'trajectory' });
    await expectRejects(duck('cart_nolp', { estimators: ['dm'], rewardModel: 'columns:q_0,q_1' }), 'E_PUSHDOWN', /the dataset has no behavior_logprob column/);
    // without the pushdown the same options run
    expect((await evaluateTrajectoryDataset(ws, 'cart_nolp', { candidates: [{ spec: soft }], estimators: ['dm'], rewardModel: 'columns:q_0,q_1' })).backend).toBe('scan');
  });
  it("'auto' beyond the memory budget loads what the pushdown declines and warns PUSHDOWN_DECLINED with the reason, the bytes against the budget and the fix", async () => {
    const soft = path.join(dir, 'soft.parquet');
    const rows = (await ws.resolve('cart')).metadata.rowCount;
    const bytes = (rows * LEAN_BYTES_PER_STEP).toLocaleString('en-US');
    const opts: TrajectoryEvaluateOptions = { candidates: [{ spec: soft }], estimators: ['tis', 'pdis'], interval: 'bootstrap', resamples: 50, seed: 1 };
    const within = await evaluateTrajectoryDataset(ws, 'cart', opts);
    expect(within.warnings).toEqual([]);
    const over = await evaluateTrajectoryDataset(ws, 'cart', { ...opts, memoryBudgetBytes: 1000 });
    expect(over.backend).toBe('scan');
    expect(over.warnings.map((w) => w.code)).toEqual(['PUSHDOWN_DECLINED']);
    expect(over.warnings[0]!.message).toBe(
      `The steps were loaded into memory although they take about ${bytes} bytes (${rows.toLocaleString('en-US')} steps x 125 bytes for the lean load; loading every column takes more), over the memory budget of 1,000 bytes: ` +
        "the DuckDB pushdown declined because bootstrap intervals need every episode's term in memory. To stay within the budget, use t, Hoeffding or Bernstein intervals (--interval t); or raise the budget (--memory-budget, memoryBudgetBytes) if the machine has the memory.",
    );
    // same numbers as within the budget
    expect(over.candidates.map((c) => c.estimates.map((e) => [e.value, e.interval]))).toEqual(within.candidates.map((c) => c.estimates.map((e) => [e.value, e.interval])));
    const json = path.join(dir, 'uniform.json');
    await writeFile(json, JSON.stringify({ type: 'uniform' }));
    const mis = await evaluateTrajectoryDataset(ws, 'cart', { candidates: [{ spec: json }], estimators: ['tis', 'mis'], memoryBudgetBytes: 1000 });
    expect(mis.backend).toBe('memory');
    expect(mis.warnings[0]!.message).toMatch(/declined because MIS cannot be summed in SQL \(marginal weights are learned from the observations\)\. To stay within the budget, drop mis from --estimators/);
    const policy = await evaluateTrajectoryDataset(ws, 'cart', { candidates: [{ spec: json }], estimators: ['tis'], memoryBudgetBytes: 1000 });
    expect(policy.warnings[0]!.message).toMatch(/declined because candidate "uniform" is a policy, whose actions need the observations\. To stay within the budget, give every candidate as a table/);
    // evaluateTrajectories (the CLI's call) carries it into the result document
    const doc = await evaluateTrajectories(ws, { data: 'cart', ...opts, memoryBudgetBytes: 1000 });
    expect(doc.warnings.map((w) => w.code)).toEqual(['PUSHDOWN_DECLINED']);
  });
  it('the budget counts the steps `where` selects: a few episodes keep the lean load under a budget the whole dataset exceeds', async () => {
    const v = await ws.resolve('cart');
    const soft = path.join(dir, 'soft-first2.parquet');
    await sql(`COPY (SELECT * FROM read_parquet('${path.join(dir, 'soft.parquet')}') WHERE episode_id < 2) TO '${soft}' (FORMAT parquet)`);
    const conn = await openMemoryConnection();
    const few = Number((await queryOne(conn, `SELECT count(*)::DOUBLE AS n FROM read_parquet('${v.glob}') WHERE episode_id < 2`)).n);
    conn.closeSync();
    expect(few).toBeLessThan(v.metadata.rowCount);
    const budget = few * LEAN_BYTES_PER_STEP;
    const opts: TrajectoryEvaluateOptions = { candidates: [{ spec: soft }], estimators: ['tis', 'pdis'], memoryBudgetBytes: budget };
    const whole = { ...opts, candidates: [{ spec: path.join(dir, 'soft.parquet') }] };
    expect((await evaluateTrajectoryDataset(ws, 'cart', whole)).backend).toBe('duckdb');
    const sel = await evaluateTrajectoryDataset(ws, 'cart', { ...opts, where: 'episode_id < 2' });
    expect(sel.backend).toBe('scan');
    expect(sel.dataset.steps).toBe(few);
    // with bootstrap intervals, which the pushdown cannot sum: within the budget, so no warning
    const bootSel = await evaluateTrajectoryDataset(ws, 'cart', { ...opts, interval: 'bootstrap', resamples: 20, where: 'episode_id < 2' });
    expect(bootSel.warnings).toEqual([]);
    // one step fewer in the budget: over it, and the warning counts the selected steps
    const tight = await evaluateTrajectoryDataset(ws, 'cart', { ...opts, interval: 'bootstrap', resamples: 20, where: 'episode_id < 2', memoryBudgetBytes: budget - 1 });
    expect(tight.warnings[0]!.message).toContain(`about ${budget.toLocaleString('en-US')} bytes (${few.toLocaleString('en-US')} steps selected by where x 125 bytes`);
  });
  it("data the pushdown's checks reject goes to the in-memory path: its result (one episode) says why the pushdown declined", async () => {
    const soft = path.join(dir, 'soft-first.parquet');
    await sql(`COPY (SELECT * FROM read_parquet('${path.join(dir, 'soft.parquet')}') WHERE episode_id = 0) TO '${soft}' (FORMAT parquet)`);
    const one = await evaluateTrajectoryDataset(ws, 'cart', { candidates: [{ spec: soft }], estimators: ['tis'], where: 'episode_id = 0', pushdown: 'duckdb' });
    expect(one.backend).toBe('scan');
    expect(one.warnings.map((w) => w.code)).toEqual(['PUSHDOWN_DECLINED']);
    expect(one.warnings[0]!.message).toMatch(/^The DuckDB pushdown was asked for but declined: there is 1 episode, and its intervals need at least 2\. The steps were loaded into memory instead, about [\d,]+ bytes \(\d+ steps selected by where x 125 bytes.*To sum in DuckDB, evaluate at least 2 episodes\.$/);
  });
  it("'auto' sums in DuckDB when rows x LEAN_BYTES_PER_STEP exceed the memory budget, else loads lean; bad modes and budgets are refused", async () => {
    const soft = path.join(dir, 'soft.parquet');
    const rows = (await ws.resolve('cart')).metadata.rowCount;
    const opts: TrajectoryEvaluateOptions = { candidates: [{ spec: soft }], estimators: ['tis', 'pdis'] };
    expect((await evaluateTrajectoryDataset(ws, 'cart', opts)).backend).toBe('scan');
    expect((await evaluateTrajectoryDataset(ws, 'cart', { ...opts, memoryBudgetBytes: rows * LEAN_BYTES_PER_STEP })).backend).toBe('scan');
    expect((await evaluateTrajectoryDataset(ws, 'cart', { ...opts, memoryBudgetBytes: rows * LEAN_BYTES_PER_STEP - 1 })).backend).toBe('duckdb');
    expect((await evaluateTrajectoryDataset(ws, 'cart', { ...opts, pushdown: 'never', memoryBudgetBytes: 1 })).backend).toBe('memory');
    expect(wantsDuckdbPushdown({}, 50e6)).toBe(false);
    expect(wantsDuckdbPushdown({}, 50e6 + 1)).toBe(true);
    await expectRejects(evaluateTrajectoryDataset(ws, 'cart', { ...opts, pushdown: 'sql' as 'duckdb' }), 'E_PUSHDOWN', /Unknown pushdown mode "sql"/);
    await expectRejects(evaluateTrajectoryDataset(ws, 'cart', { ...opts, memoryBudgetBytes: 0 }), 'E_MEMORY_BUDGET', /must be a positive number of bytes, got 0/);
  });
  it('failing validation (table rows that do not match the logged steps, NaN log-densities) falls back and raises the in-memory path\'s coded errors', async () => {
    const v = await ws.resolve('cart');
    const short = path.join(dir, 'short.parquet');
    await sql(`COPY (SELECT * FROM read_parquet('${path.join(dir, 'soft.parquet')}') WHERE NOT (episode_id = 3 AND step = 2)) TO '${short}' (FORMAT parquet)`);
    await expectRejects(evaluateTrajectoryDataset(ws, 'cart', { candidates: [{ spec: short }], pushdown: 'duckdb' }), 'E_POLICY_ROWS', /1 logged steps are missing from it \(first: episode 3 step 2\)/);
    const extra = path.join(dir, 'extra.parquet');
    await sql(`COPY (SELECT * FROM read_parquet('${path.join(dir, 'soft.parquet')}') UNION ALL SELECT 999, 0, 0.5, 0.5) TO '${extra}' (FORMAT parquet)`);
    await expectRejects(evaluateTrajectoryDataset(ws, 'cart', { candidates: [{ spec: extra }], pushdown: 'duckdb' }), 'E_POLICY_ROWS', /1 of its rows are not logged steps \(first: episode 999 step 0\)/);
    const vp = await ws.resolve('pend');
    const nan = path.join(dir, 'nan.parquet');
    await sql(`COPY (SELECT episode_id, step, CASE WHEN episode_id = 2 AND step = 5 THEN 'nan'::DOUBLE ELSE behavior_logprob END AS logprob FROM read_parquet('${vp.glob}')) TO '${nan}' (FORMAT parquet)`);
    await expectRejects(evaluateTrajectoryDataset(ws, 'pend', { candidates: [{ spec: nan }], pushdown: 'duckdb' }), 'E_LOGPROB', /1 step\(s\) have a NaN or \+inf logprob \(first: episode 2 step 5/);
    expect(v.metadata.kind).toBe('trajectory');
  });
});

describe('library evaluate() dispatches on the dataset kind', () => {
  it("setting 'auto' with trajectory.pushdown 'duckdb': the trajectory result summed in DuckDB, a bandit log the bandit result", async () => {
    await expectDispatchOnKind(ws, dir, 'duckdb', 'duckdb');
  });
  it('the CLI passes --pushdown duckdb and --memory-budget through (a declined pushdown: the warning, or E_PUSHDOWN when asked for; a bad mode: E_PUSHDOWN)', async () => {
    const soft = path.join(dir, 'soft.parquet');
    const out = path.join(dir, 'cli.json');
    const base = ['--workspace', path.join(dir, 'ws'), 'evaluate', '--data', 'cart', '--policy', `soft=${soft}`, '--estimators', 'tis,pdis,dr', '--reward-model', 'columns:q_0,q_1', '--interval', 't', '--out', out];
    const r = await runCli([...base, '--pushdown', 'duckdb']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect((JSON.parse(await readFile(out, 'utf8')) as TrajectoryEvaluationResult).settings.backend).toBe('duckdb');
    const b = await runCli([...base, '--memory-budget', '1']);
    expect(b.code).toBe(0);
    expect((JSON.parse(await readFile(out, 'utf8')) as TrajectoryEvaluationResult).settings.backend).toBe('duckdb');
    const boot = await runCli([...base, '--memory-budget', '1', '--interval', 'bootstrap', '--resamples', '20']);
    expect(boot.code).toBe(0);
    expect(boot.out).toMatch(/warning \[PUSHDOWN_DECLINED\] The steps were loaded into memory although .* over the memory budget of 1 bytes: the DuckDB pushdown declined because bootstrap intervals/);
    // without --interval, --pushdown duckdb takes t intervals (the CLI's default bootstrap cannot be summed in SQL)
    const noInterval = await runCli([...base.filter((x, i) => x !== '--interval' && base[i - 1] !== '--interval'), '--pushdown', 'duckdb']);
    expect(noInterval.code).toBe(0);
    const ni = JSON.parse(await readFile(out, 'utf8')) as TrajectoryEvaluationResult;
    expect([ni.settings.backend, ni.candidates[0]!.estimates[0]!.interval!.method]).toEqual(['duckdb', 't']);
    const refused = await runCli([...base, '--pushdown', 'duckdb', '--interval', 'bootstrap']);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/E_PUSHDOWN.*cannot run: bootstrap intervals need every episode's term in memory/s);
    const bad = await runCli([...base, '--pushdown', 'sql']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/E_PUSHDOWN.*Unknown pushdown mode "sql"/s);
  });
});
