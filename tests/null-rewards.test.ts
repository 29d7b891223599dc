/**
 * Issue 15 item 4: a NULL reward is never read as 0. Evaluation, the loaders and
 * the learners refuse a log with NULL rewards (E_NULL_REWARDS, naming the count
 * and the first row_ids) unless told to use only the rows with rewards; then the
 * result says it assumes rewards are missing at random, the estimates equal the
 * hand-computed values on the observed rows, and the in-memory and DuckDB
 * backends agree to 1e-12.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lit, openMemoryConnection, queryOne, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { loadBanditArrays, loadBanditRef } from '../src/datasets/load-bandit.js';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { Workspace } from '../src/datasets/workspace.js';
import { corruptBanditLog } from '../src/corruption/bandit.js';
import { evaluate, type EvaluateOptions } from '../src/ope/evaluate.js';
import { loadTrainingData } from '../src/offline-rl/train-dataset.js';
import { renderReport } from '../src/reports/render.js';
import type { EvaluationResult } from '../src/core/evaluation-result.js';
import { expectRejects } from './support/expect-error.js';
import { runCli } from './support/run-cli.js';
import { differences } from './support/differences.js';

let dir: string;
let ws: Workspace;
let conn: DuckDBConnection;
let fullTable: string;
let observedTable: string;
let synTable: string;

// Six rows, K = 2; rows 1 and 4 have no reward. On the observed rows 0, 2, 3, 5:
//   w = pi(a)/p = 1.6, 2/3, 2, 0.4 and r = 1, 0, 1, 0, so
//   IPS = (1.6 + 2) / 4 = 0.9, SNIPS = 3.6 / (1.6 + 2/3 + 2 + 0.4) = 27/35, logging value = 2/4 = 0.5.
//   With q = [0.5, 0.5] everywhere, DM = 0.5 and DR = 0.5 + mean(w (r - 0.5)) = 0.5 + (0.8 - 1/3 + 1 - 0.2) / 4.
// Reading NULL as 0 would give IPS 0.6 and a logging value of 1/3.
const ROWS = [
  { a: 0, r: '1', pi0: [0.5, 0.5], cand: [0.8, 0.2] },
  { a: 1, r: 'NULL', pi0: [0.5, 0.5], cand: [0.8, 0.2] },
  { a: 1, r: '0', pi0: [0.25, 0.75], cand: [0.5, 0.5] },
  { a: 0, r: '1', pi0: [0.25, 0.75], cand: [0.5, 0.5] },
  { a: 1, r: 'NULL', pi0: [0.5, 0.5], cand: [0.2, 0.8] },
  { a: 0, r: '0', pi0: [0.5, 0.5], cand: [0.2, 0.8] },
];
const IPS = 0.9;
const SNIPS = 27 / 35;
const DR = 0.5 + (0.8 - 1 / 3 + 1 - 0.2) / 4;

/** DuckDB pushdown (interval t) and in-memory on the same options: the result JSON agrees to 1e-12. */
async function bothBackends(opts: EvaluateOptions): Promise<EvaluationResult> {
  const viaDuckdb = JSON.parse(JSON.stringify(await evaluate(ws, opts))) as EvaluationResult;
  const inMemory = JSON.parse(JSON.stringify(await evaluate(ws, { ...opts, pushdown: 'never' }))) as EvaluationResult;
  for (const r of [viaDuckdb, inMemory]) {
    r.createdAt = '';
    // Catoni's lambda is the argmin of a function flat at its minimum (see ope-backends.test.ts); the bound itself is compared.
    for (const c of r.candidates) for (const x of c.certificates) if (x.kind === 'catoni-clipped-ips') x.params.lambda = 0;
  }
  expect(differences(viaDuckdb, inMemory, 1e-12)).toEqual([]);
  return viaDuckdb;
}

const value = (r: EvaluationResult, c: number, id: string): number => r.candidates[c]!.estimates.find((e) => e.estimator === id)!.value;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-nulls-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  conn = await openMemoryConnection();
  const arr = (v: number[]): string => `[${v.map((x) => `${x}::DOUBLE`).join(', ')}]`;
  const values = ROWS.map((x, i) => `(${i}::BIGINT, ${x.a}::INTEGER, ${x.r}::DOUBLE, ${x.pi0[x.a]}::DOUBLE, ${arr(x.pi0)}, ${arr(x.cand)}, [0.5::DOUBLE, 0.5::DOUBLE], [${i}::FLOAT, 1::FLOAT])`);
  await ws.createVersion({
    name: 'tiny',
    conn,
    select: `SELECT * FROM (VALUES ${values.join(', ')}) t(row_id, action, reward, propensity, action_probs, cand, q, context) ORDER BY row_id`,
    metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: 2 }, rewardNullable: true, lineage: { transform: 'test', params: {} } },
  });
  // The candidate as tables keyed by row_id: over every row (the rows without reward included), and over the observed rows only.
  fullTable = path.join(dir, 'cand-all.parquet');
  observedTable = path.join(dir, 'cand-observed.parquet');
  const tiny = await ws.resolve('tiny');
  await conn.run(`COPY (SELECT row_id, cand AS p FROM read_parquet(${lit(tiny.glob)}) ORDER BY row_id) TO ${lit(fullTable)} (FORMAT parquet)`);
  await conn.run(`COPY (SELECT row_id, cand AS p FROM read_parquet(${lit(tiny.glob)}) WHERE reward IS NOT NULL ORDER BY row_id) TO ${lit(observedTable)} (FORMAT parquet)`);
  // A synthetic log with 30% of its rewards dropped, and a candidate table over all its rows.
  await writeBanditDataset(ws, 'syn', generateBanditLog({ n: 1500, numActions: 4, contextDim: 3, reward: 'logistic', beta: -1, seed: 5 }));
  await corruptBanditLog(ws, { data: 'syn', kind: 'drop-rewards', rate: 0.3, seed: 2, name: 'syn-drop' });
  const syn = await ws.resolve('syn');
  synTable = path.join(dir, 'syn-cand.parquet');
  await conn.run(
    `COPY (SELECT row_id, list_transform(action_probs, x -> (x * x) / list_dot_product(action_probs, action_probs)) AS p FROM read_parquet(${lit(syn.glob)}) ORDER BY row_id)
     TO ${lit(synTable)} (FORMAT parquet)`,
  );
});
afterAll(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

describe('a log with NULL rewards is refused', () => {
  const message = '2 of the 6 rows of tiny@1 have no reward (NULL; first row_ids: 1, 4). A missing reward is not a 0, so these rows cannot be used as they are. Pass --observed-rewards-only (library: observedRewardsOnly: true) to use only the rows with rewards, which assumes rewards are missing at random, or fill the rewards in and store the log again.';

  it('by evaluate, on both backends', async () => {
    await expectRejects(evaluate(ws, { data: 'tiny', policies: [{ spec: 'column:cand' }], interval: 't', estimators: ['ips'] }), 'E_NULL_REWARDS', message);
    await expectRejects(evaluate(ws, { data: 'tiny', policies: [{ spec: 'column:cand' }], interval: 'bootstrap', estimators: ['ips'], resamples: 50 }), 'E_NULL_REWARDS', message);
  });

  it('by the bandit loader (in-memory OPE, learn), unless observedRewardsOnly or a where clause leaves the NULL rows out', async () => {
    await expectRejects(loadBanditRef(ws, 'tiny'), 'E_NULL_REWARDS', message);
    const observed = await loadBanditRef(ws, 'tiny', { observedRewardsOnly: true });
    expect([...observed.rowIds]).toEqual([0, 2, 3, 5]);
    expect([...observed.rewards]).toEqual([1, 0, 1, 0]);
    expect(observed.rowsWithoutReward).toBe(2);
    const where = await loadBanditArrays(conn, await ws.resolve('tiny'), { where: 'reward IS NOT NULL' });
    expect([...where.rowIds]).toEqual([0, 2, 3, 5]);
    expect(where.rowsWithoutReward).toBe(0);
  });

  it('by training on the log, naming the flag train has (--where)', async () => {
    await expectRejects(loadTrainingData(ws, 'tiny', { steps: 1, seed: 0 }), 'E_NULL_REWARDS', /first row_ids: 1, 4\).*Train on the rows with rewards with --where "reward IS NOT NULL"/);
    const ok = await loadTrainingData(ws, 'tiny', { steps: 1, seed: 0, where: 'reward IS NOT NULL' });
    expect(ok.data.n).toBe(4);
  });
});

describe('observedRewardsOnly: the rows with rewards, missing at random', () => {
  it('equals the hand-computed values on the observed rows, the same on both backends, for column and table candidates', async () => {
    const r = await bothBackends({
      data: 'tiny',
      policies: [{ name: 'col', spec: 'column:cand' }, { name: 'all', spec: fullTable }, { name: 'observed', spec: observedTable }],
      interval: 't',
      estimators: ['ips', 'snips', 'dm', 'dr'],
      rewardModel: 'columns:q',
      observedRewardsOnly: true,
    });
    expect(r.logging.value).toBeCloseTo(0.5, 15);
    for (let c = 0; c < 3; c++) {
      expect(value(r, c, 'ips')).toBeCloseTo(IPS, 14);
      expect(value(r, c, 'snips')).toBeCloseTo(SNIPS, 14);
      expect(value(r, c, 'dm')).toBeCloseTo(0.5, 14);
      expect(value(r, c, 'dr')).toBeCloseTo(DR, 14);
      expect(r.candidates[c]!.diagnostics.n).toBe(4);
    }
    expect(r.dataset.rowCount).toBe(6);
    expect(r.dataset.observedRewardsOnly).toEqual({ rowsUsed: 4, rowsWithoutReward: 2, assumption: expect.stringMatching(/^rewards are missing at random/) });
    const w = r.warnings.find((x) => x.code === 'MISSING_AT_RANDOM')!;
    expect(w.message).toMatch(/^Scored on the 4 rows with a reward; 2 of 6 rows have none and were left out\. Every estimate assumes rewards are missing at random/);
  });

  it('the in-memory path (bootstrap) gives the same point estimates', async () => {
    const r = await evaluate(ws, { data: 'tiny', policies: [{ spec: 'column:cand' }], interval: 'bootstrap', resamples: 50, estimators: ['ips', 'snips'], observedRewardsOnly: true });
    expect(value(r, 0, 'ips')).toBeCloseTo(IPS, 14);
    expect(value(r, 0, 'snips')).toBeCloseTo(SNIPS, 14);
    expect(r.logging.value).toBeCloseTo(0.5, 15);
  });

  it('a candidate table must still score every observed row', async () => {
    const short = path.join(dir, 'cand-short.parquet');
    await conn.run(`COPY (SELECT row_id, p FROM read_parquet(${lit(observedTable)}) WHERE row_id <> 3) TO ${lit(short)} (FORMAT parquet)`);
    await expectRejects(
      evaluate(ws, { data: 'tiny', policies: [{ spec: short }], interval: 't', estimators: ['ips'], observedRewardsOnly: true }),
      'E_POLICY_ROWS',
      /1 of the log's 4 row_ids are missing from it \(first: 3\)/,
    );
  });

  it('on a larger log (drop-rewards at 30%): both backends agree to 1e-12 and IPS equals the mean over the observed rows', async () => {
    const r = await bothBackends({ data: 'syn-drop', policies: [{ name: 'sharp', spec: synTable }, { name: 'logger', spec: 'column:action_probs' }], interval: 'bernstein', clip: 3, observedRewardsOnly: true, estimators: ['ips', 'clipped-ips', 'snips', 'es-ips'] });
    const v = await ws.resolve('syn-drop');
    const row = await queryOne(
      conn,
      `SELECT count(*) AS n, avg(reward) AS mean, avg(c.p[l.action + 1] / l.propensity * l.reward) AS ips
       FROM read_parquet(${lit(v.glob)}) l JOIN read_parquet(${lit(synTable)}) c USING (row_id) WHERE l.reward IS NOT NULL`,
    );
    expect(Number(row.n)).toBe(1050);
    expect(r.dataset.observedRewardsOnly).toMatchObject({ rowsUsed: 1050, rowsWithoutReward: 450 });
    expect(r.logging.value).toBeCloseTo(Number(row.mean), 12);
    expect(value(r, 0, 'ips')).toBeCloseTo(Number(row.ips), 12);
  });

  it('a log without NULL rewards is scored as it is, with no assumption stated', async () => {
    const r = await evaluate(ws, { data: 'syn', policies: [{ spec: 'column:action_probs' }], interval: 't', estimators: ['ips'], observedRewardsOnly: true });
    expect(r.dataset.observedRewardsOnly).toBeUndefined();
    expect(r.warnings.map((w) => w.code)).not.toContain('MISSING_AT_RANDOM');
  });
});

describe('the CLI', () => {
  const run = (args: string[]): ReturnType<typeof runCli> => runCli(['-w', path.join(dir, 'ws'), ...args]);

  it('evaluate refuses with exit 2; --observed-rewards-only prints the assumption, writes it to the JSON and the report', async () => {
    const out = path.join(dir, 'tiny.json');
    const refused = await run(['evaluate', '--data', 'tiny', '--policy', 'column:cand', '--interval', 't', '--estimators', 'ips', '--out', out]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('error [E_NULL_REWARDS]: 2 of the 6 rows of tiny@1 have no reward (NULL; first row_ids: 1, 4).');
    const ok = await run(['evaluate', '--data', 'tiny', '--policy', 'column:cand', '--interval', 't', '--estimators', 'ips,snips', '--observed-rewards-only', '--out', out]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/\(logging\)\s+mean reward\s+0\.5000/);
    expect(ok.out).toMatch(/cand\s+ips\s+0\.9000/);
    expect(ok.out).toContain('warning [MISSING_AT_RANDOM] Scored on the 4 rows with a reward; 2 of 6 rows have none and were left out. Every estimate assumes rewards are missing at random');
    const json = JSON.parse(await readFile(out, 'utf8')) as EvaluationResult;
    expect(json.dataset.observedRewardsOnly).toMatchObject({ rowsUsed: 4, rowsWithoutReward: 2 });
    await renderReport(json, { formats: ['md'], outDir: path.join(dir, 'report') });
    const md = await readFile(path.join(dir, 'report', 'report.md'), 'utf8');
    expect(md).toContain('Scored on the 4 rows with a reward; 2 of 6 rows have none and were left out. Every estimate assumes rewards are missing at random');
  });

  it('corrupt-log --kind drop-rewards, then evaluate --observed-rewards-only: the logging value is the mean of the observed rewards', async () => {
    const c = await run(['corrupt-log', '--data', 'syn', '--kind', 'drop-rewards', '--rate', '0.4', '--seed', '9', '--name', 'syn-d2', '--json']);
    expect(c.code).toBe(0);
    const out = path.join(dir, 'syn-d2.json');
    const r = await run(['evaluate', '--data', 'syn-d2', '--policy', 'column:action_probs', '--interval', 't', '--estimators', 'ips', '--observed-rewards-only', '--out', out]);
    expect(r.code).toBe(0);
    const v = await ws.resolve('syn-d2');
    const mean = Number((await queryOne(conn, `SELECT avg(reward) AS m FROM read_parquet(${lit(v.glob)})`)).m);
    const json = JSON.parse(await readFile(out, 'utf8')) as EvaluationResult;
    expect(json.logging.value).toBeCloseTo(mean, 12);
    expect(json.dataset.observedRewardsOnly).toMatchObject({ rowsUsed: 900, rowsWithoutReward: 600 });
  });

  it('robustness scores a drop-rewards setting with --observed-rewards-only, and names the flag without it', async () => {
    const without = await run(['robustness', '--data', 'syn', '--setting', 'kind=drop-rewards,rate=0.2', '--policy', 'column:action_probs', '--estimators', 'ips', '--name', 'syn-rob']);
    expect(without.code).toBe(0);
    expect(without.out).toMatch(/not scored:\n.*\[E_NULL_REWARDS\].*--observed-rewards-only/);
    // One run: the printed table (with the assumption) and the study written by --out.
    const file = path.join(dir, 'syn-rob.json');
    const withFlag = await run(['robustness', '--data', 'syn', '--setting', 'kind=drop-rewards,rate=0.2', '--policy', 'column:action_probs', '--estimators', 'ips', '--name', 'syn-rob', '--observed-rewards-only', '--out', file]);
    expect(withFlag.code).toBe(0);
    expect(withFlag.out).toContain('their estimates assume rewards are missing at random');
    const study = JSON.parse(await readFile(file, 'utf8')) as { settings: { error?: unknown }[]; rows: { metric: string; clean: number; corrupted: number }[] };
    expect(study.settings[0]!.error).toBeUndefined();
    expect(study.rows.every((x) => Number.isFinite(x.corrupted))).toBe(true);
    expect(study.rows.find((x) => x.metric === '(rows with a reward)')).toMatchObject({ clean: 1500, corrupted: 1200 });
  });

  it('learn refuses a log with NULL rewards and learns on the observed rows with --observed-rewards-only', async () => {
    const refused = await run(['learn', '--data', 'syn-drop', '--objective', 'catoni', '--policy-class', 'softmax', '--epochs', '1', '--out', path.join(dir, 'learned')]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('error [E_NULL_REWARDS]: 450 of the 1500 rows of syn-drop@1 have no reward');
    const ok = await run(['learn', '--data', 'syn-drop', '--objective', 'catoni', '--policy-class', 'softmax', '--epochs', '1', '--observed-rewards-only', '--out', path.join(dir, 'learned')]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('Learned on the 1050 rows with a reward (450 without one were left out): the certificate assumes rewards are missing at random');
  });
});
