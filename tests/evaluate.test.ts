import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMemoryConnection, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { Workspace } from '../src/datasets/workspace.js';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { OffpolicyError } from '../src/core/errors.js';
import { evaluate, writeEvaluation, type EvaluateOptions } from '../src/ope/evaluate.js';
import { buildScan } from '../src/ope/bandit/scan-sql.js';
import { DUCKDB } from '../src/ope/bandit/sql-dialect.js';
import { DEFAULT_WEIGHT_QUANTILES } from '../src/ope/diagnostics.js';
import { runCli } from './support/run-cli.js';
import { expectNear, expectSameResult, storeFastLog } from './ope-fastpath-helpers.js';

// 6 rows, K = 3: logger pi0, candidate pi (column `cand`), reward predictions q (column `q`).
const LOG = [
  { ctx: [1, 0], a: 0, r: 1, pi0: [0.5, 0.3, 0.2], pi: [0.2, 0.5, 0.3], q: [0.6, 0.4, 0.2] },
  { ctx: [0, 1], a: 1, r: 0, pi0: [0.2, 0.5, 0.3], pi: [0.1, 0.1, 0.8], q: [0.3, 0.5, 0.7] },
  { ctx: [1, 1], a: 2, r: 1, pi0: [0.4, 0.4, 0.2], pi: [0.5, 0.25, 0.25], q: [0.6, 0.4, 0.2] },
  { ctx: [0, 0], a: 0, r: 0, pi0: [0.6, 0.2, 0.2], pi: [1, 0, 0], q: [0.3, 0.5, 0.7] },
  { ctx: [2, 1], a: 1, r: 1, pi0: [0.1, 0.8, 0.1], pi: [0, 0.5, 0.5], q: [0.6, 0.4, 0.2] },
  { ctx: [1, 2], a: 2, r: 0, pi0: [0.3, 0.3, 0.4], pi: [0.3, 0.3, 0.4], q: [0.3, 0.5, 0.7] },
];

let dir: string;
let ws: Workspace;
let conn: DuckDBConnection;
const arr = (v: number[]): string => `[${v.map((x) => (Number.isNaN(x) ? `'nan'::DOUBLE` : `${x}::DOUBLE`)).join(', ')}]`;

async function store(name: string, withPropensity: boolean, rewardOf: (i: number) => number = (i) => LOG[i]!.r, qOf: (i: number) => number[] = (i) => LOG[i]!.q): Promise<void> {
  const rows = LOG.map(
    (r, i) =>
      `(${i}::BIGINT, [${r.ctx.join(', ')}]::FLOAT[], ${r.a}::INTEGER, ${rewardOf(i)}::DOUBLE${withPropensity ? `, ${r.pi0[r.a]}::DOUBLE, ${arr(r.pi0)}` : ''}, ${arr(r.pi)}, ${arr(qOf(i))}, ${r.q.map((x) => `${x}::DOUBLE`).join(', ')})`,
  );
  const cols = `row_id, context, action, reward${withPropensity ? ', propensity, action_probs' : ''}, cand, q, q_0, q_1, q_2`;
  await ws.createVersion({
    name,
    conn,
    select: `SELECT * FROM (VALUES ${rows.join(', ')}) t(${cols}) ORDER BY row_id`,
    metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: 3 }, lineage: { transform: 'test', params: {} } },
    // Some logs hold a NaN prediction on purpose, as an older release could store: every write now checks
    // the rows, so these vouch for them to exercise evaluate's own checks.
    validated: true,
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-evaluate-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  conn = await openMemoryConnection();
  await store('tiny', true);
  await store('nopropensity', false);
  await store('allones', true, () => 1);
  await store('nanq', true, undefined, (i) => (i === 3 ? [0.1, NaN, 0.2] : LOG[i]!.q));
  await writeBanditDataset(ws, 'syn', generateBanditLog({ n: 3000, numActions: 5, contextDim: 3, reward: 'logistic', beta: -1, seed: 11 }));
  await storeFastLog(ws, conn, 'cont', { n: 2000, k: 4, seed: 5 });
  await storeFastLog(ws, conn, 'contnp', { n: 500, k: 4, seed: 6, withLoggingProbs: false });
  // Candidate lists with a negative, a NULL and a NaN entry (rows 1, 2 and 4; every other row is valid).
  const bad = (neg: string): string =>
    `SELECT i::BIGINT AS row_id, (i % 2)::INTEGER AS action, (i % 3 = 0)::DOUBLE AS reward, 0.5::DOUBLE AS propensity,
            CASE WHEN i = ${neg} ELSE [0.5, 0.5]::DOUBLE[] END AS cand FROM range(6) t(i)`;
  const meta = { kind: 'bandit' as const, actionSpace: { type: 'discrete' as const, n: 2 }, lineage: { transform: 'test', params: {} } };
  await ws.createVersion({ name: 'negcand', conn, select: bad(`1 THEN [1.25, -0.25]::DOUBLE[]`), metadata: meta });
  await ws.createVersion({ name: 'nullcand', conn, select: bad(`2 THEN [1.0, NULL]::DOUBLE[]`), metadata: meta, validated: true });
  await ws.createVersion({ name: 'nancand', conn, select: bad(`4 THEN [0.5::DOUBLE, 'nan'::DOUBLE]`), metadata: meta, validated: true });
  // K = 2, but three predictions per row (next to per-action candidate columns) and, on row 3, a 3-entry candidate list.
  await ws.createVersion({
    name: 'widths',
    conn,
    select: `SELECT i::BIGINT AS row_id, (i % 2)::INTEGER AS action, 1.0::DOUBLE AS reward, 0.5::DOUBLE AS propensity, 0.5::DOUBLE AS p_0, 0.5::DOUBLE AS p_1,
                    [0.1, 0.2, 0.3]::DOUBLE[] AS q3, [0.1, 0.2]::DOUBLE[] AS q2, CASE WHEN i = 3 THEN [0.5, 0.5, 0.0] ELSE [0.5, 0.5] END::DOUBLE[] AS cand
             FROM range(6) t(i)`,
    metadata: meta,
  });
});
afterAll(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

async function expectError(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OffpolicyError);
  expect((e as OffpolicyError).code).toBe(code);
  expect((e as Error).message).toMatch(message);
}

describe('evaluate on a hand-computed log', () => {
  const base: EvaluateOptions = { data: 'tiny', policies: [{ name: 'c', spec: 'column:cand' }], interval: 't', rewardModel: 'columns:q', clip: 2 };

  it('gives the hand-computed IPS, DM and DR on both paths, which agree to 1e-12', async () => {
    const fast = await evaluate(ws, base);
    const slow = await evaluate(ws, { ...base, pushdown: 'never' });
    const n = LOG.length;
    let ips = 0, dm = 0, dr = 0, clipped = 0, sw = 0, swr = 0;
    for (const r of LOG) {
      const w = r.pi[r.a]! / r.pi0[r.a]!;
      const d = r.pi.reduce((s, p, a) => s + p * r.q[a]!, 0);
      ips += (w * r.r) / n;
      clipped += (Math.min(w, 2) * r.r) / n;
      dm += d / n;
      dr += (d + w * (r.r - r.q[r.a]!)) / n;
      sw += w;
      swr += w * r.r;
    }
    expect(ips).toBeCloseTo(2.275 / 6, 14);
    const value = (res: typeof fast, id: string): number => res.candidates[0]!.estimates.find((e) => e.estimator === id)!.value;
    for (const res of [fast, slow]) {
      expect(value(res, 'ips')).toBeCloseTo(ips, 12);
      expect(value(res, 'clipped-ips')).toBeCloseTo(clipped, 12);
      expect(value(res, 'snips')).toBeCloseTo(swr / sw, 12);
      expect(value(res, 'dm')).toBeCloseTo(dm, 12);
      expect(value(res, 'dr')).toBeCloseTo(dr, 12);
    }
    const fe = fast.candidates[0]!.estimates;
    const se = slow.candidates[0]!.estimates;
    expect(fe.map((e) => e.estimator)).toEqual(['ips', 'clipped-ips', 'snips', 'es-ips', 'dm', 'dr', 'sndr', 'switch-dr', 'dr-os']);
    fe.forEach((e, i) => {
      expect(e.value).toBeCloseTo(se[i]!.value, 12);
      expect(e.interval!.lower).toBeCloseTo(se[i]!.interval!.lower, 10);
      expect(e.interval!.upper).toBeCloseTo(se[i]!.interval!.upper, 10);
    });
    // Weight diagnostics: ESS = (sum w)^2 / sum w^2 on both paths.
    const ws2 = LOG.reduce((s, r) => s + (r.pi[r.a]! / r.pi0[r.a]!) ** 2, 0);
    expect(fast.candidates[0]!.diagnostics.ess).toBeCloseTo((sw * sw) / ws2, 12);
    expect(slow.candidates[0]!.diagnostics.ess).toBeCloseTo((sw * sw) / ws2, 12);
    expect(fast.candidates[0]!.diagnostics.maxWeight).toBeCloseTo(1 / 0.6, 12); // row 3: pi = 1, p = 0.6
    // Logging value: the mean logged reward.
    expect(fast.logging.value).toBeCloseTo(0.5, 14);
    expect(fast.candidates[0]!.verdict.sentence).toMatch(/lower bound/);
    // Per-action columns and a list column are the same predictions.
    const perAction = await evaluate(ws, { ...base, rewardModel: 'columns:q_0,q_1,q_2' });
    expect(perAction.candidates[0]!.estimates.find((e) => e.estimator === 'dr')!.value).toBeCloseTo(dr, 12);
    // Both paths agree on everything else too: certificates, exact weight quantiles, summary.
    expectSameResult(fast, slow, 1e-12);
    expect(fast.candidates[0]!.certificates.map((c) => c.kind)).toEqual(['catoni-clipped-ips', 'london-sandler', 'exponential-smoothing']);
    expect(fast.candidates[0]!.warnings.map((w) => w.code)).not.toContain('CERTIFICATES_SKIPPED');
    // Weights sorted: 0.2, 0.4, 0.625, 1, 1.25, 5/3; the median interpolates halfway between 0.625 and 1.
    const wq = fast.candidates[0]!.diagnostics.weightQuantiles;
    expect(wq.find((q) => q.q === 0.5)!.value).toBeCloseTo(0.8125, 14);
    expect(wq.find((q) => q.q === 0.01)!.value).toBeCloseTo(0.2 + 0.05 * 0.2, 14);
    // London-Sandler by hand: clip L = 2 gives tau = 1/2; rewards in [0, 1] are their own rescaling.
    const tau = 0.5;
    const risk = -LOG.reduce((s, r) => s + (r.r * r.pi[r.a]!) / Math.max(r.pi0[r.a]!, tau), 0) / n;
    const C = Math.log((2 * Math.sqrt(n)) / 0.05) / n;
    const ls = risk + (2 * C) / tau + Math.sqrt((2 * (risk + 1 / tau) * C) / tau);
    expect(fast.candidates[0]!.certificates.find((c) => c.kind === 'london-sandler')!.lower).toBeCloseTo(Math.max(0, -ls), 12);
    expect(fast.dataset.summary).toMatchObject({ rewardMean: 0.5, rewardMin: 0, rewardMax: 1, actionsSeen: 3, propensityMin: 0.2 });
    expect(fast.dataset.summary.propensityMedian).toBeCloseTo(0.5, 14);
  });

  it('pushes everything into one SQL aggregate over the Parquet files', async () => {
    const v = await ws.resolve('tiny');
    const { sql } = buildScan(DUCKDB, {
      log: v,
      candidate: { type: 'sql', name: 'c', source: 'column:cand', probs: { kind: 'list', expr: 'l.cand' } },
      numActions: 3,
      plan: { estimators: ['ips', 'dr'], params: { clip: 10, smoothingAlpha: 0.5 }, tau: 0.1, quantiles: DEFAULT_WEIGHT_QUANTILES, rewardsMayBeNull: false, rewardShift: 0 },
      rewardHat: { kind: 'list', expr: 'l.q' },
    });
    expect(sql.match(/read_parquet/g)).toHaveLength(1);
    expect(sql).toMatch(/^SELECT/);
    expect(sql).toMatch(/GROUP BY wbin/);
    // Both estimators need w, computed once: the terms read the column w, never pi / p again.
    expect(sql.match(/pi \/ p\b/g)).toHaveLength(1);
  });

  it('fills the result schema and writes it as JSON', async () => {
    const r = await evaluate(ws, { ...base, interval: 'bootstrap', resamples: 200, seed: 3, command: 'offpolicy evaluate ...' });
    expect(r.schema).toBe('offpolicy.evaluation/1');
    expect(r.dataset).toMatchObject({ ref: 'tiny@1', name: 'tiny', version: 1, rowCount: 6, numActions: 3, contextDim: 2 });
    expect(r.dataset.summary.rewardMean).toBeCloseTo(0.5, 14);
    expect(r.settings).toMatchObject({ interval: 'bootstrap', alpha: 0.05, bootstrapResamples: 200, rewardModel: 'columns:q', clip: 2, strict: false, rewardRange: [0, 1] });
    expect(r.logging.interval!.method).toBe('bootstrap');
    const c = r.candidates[0]!;
    expect(c.certificates.map((x) => x.kind).sort()).toEqual(['catoni-clipped-ips', 'exponential-smoothing', 'london-sandler']);
    expect(c.disagreement).toBeCloseTo(Math.max(...c.estimates.map((e) => e.value)) - Math.min(...c.estimates.map((e) => e.value)), 14);
    // Same seed, same intervals.
    const again = await evaluate(ws, { ...base, interval: 'bootstrap', resamples: 200, seed: 3 });
    expect(again.candidates[0]!.estimates.map((e) => e.interval)).toEqual(c.estimates.map((e) => e.interval));
    const file = await writeEvaluation(r, path.join(dir, 'out.json'));
    expect(JSON.parse(await readFile(file, 'utf8')).candidates[0].name).toBe('c');
  });

  it('fits ridge, logistic and MLP reward models for DM (in memory), each named in the settings', async () => {
    for (const model of ['ridge', 'ridge-per-action', 'logistic', 'mlp']) {
      const r = await evaluate(ws, { data: 'tiny', policies: [{ spec: 'column:cand' }], estimators: ['dm', 'dr'], interval: 't', rewardModel: model, seed: 1 });
      expect(r.settings.rewardModel).toBe(model);
      const dm = r.candidates[0]!.estimates[0]!;
      expect(Number.isFinite(dm.value)).toBe(true);
    }
  });

  it('estimates missing propensities and flags every result that uses them', async () => {
    const r = await evaluate(ws, { data: 'nopropensity', policies: [{ spec: 'column:cand' }], estimators: ['ips', 'snips'], interval: 't' });
    expect(r.propensitiesEstimated).toBe(true);
    expect(r.warnings.map((w) => w.code)).toContain('ESTIMATED_PROPENSITIES');
    expect(r.candidates[0]!.warnings.map((w) => w.code)).toContain('ESTIMATED_PROPENSITIES');
    expect(Number.isFinite(r.candidates[0]!.estimates[0]!.value)).toBe(true);
  });

  it('refuses Hoeffding for self-normalized estimators with a warning and bounds the rest', async () => {
    const r = await evaluate(ws, { ...base, estimators: ['ips', 'snips'], interval: 'hoeffding' });
    const [ips, snips] = r.candidates[0]!.estimates;
    expect(ips!.interval!.method).toBe('hoeffding');
    expect(snips!.interval).toBeUndefined();
    expect(r.candidates[0]!.warnings.find((w) => w.code === 'INTERVAL_UNSUPPORTED')!.message).toMatch(/snips/);
  });
});

describe('the fast path and the in-memory path agree', () => {
  it('on 2,000 rows with continuous weights, two candidates, action_probs and ground truth (t intervals)', async () => {
    const opts: EvaluateOptions = { data: 'cont', policies: [{ spec: 'column:near' }, { spec: 'column:far' }], interval: 't', rewardModel: 'columns:q', clip: 4 };
    const fast = await evaluate(ws, opts);
    const slow = await evaluate(ws, { ...opts, pushdown: 'never' });
    expectSameResult(fast, slow);
    for (const c of fast.candidates) expect(c.certificates.map((x) => x.kind)).toEqual(['catoni-clipped-ips', 'london-sandler', 'exponential-smoothing']);
    // near: every weight within 1e-4 of 1, so the quantiles are exact order statistics inside one bin
    const near = fast.candidates[0]!.diagnostics.weightQuantiles;
    expect(near.every((q) => Math.abs(q.value - 1) < 2e-4)).toBe(true);
    expect(new Set(near.map((q) => q.value)).size).toBe(near.length);
  });

  it('with Bernstein intervals, a clip that never binds, and a declared reward range', async () => {
    const opts: EvaluateOptions = { data: 'cont', policies: [{ spec: 'column:far' }], interval: 'bernstein', rewardModel: 'columns:q', clip: 1e6, rewardRange: [-1, 2] };
    const fast = await evaluate(ws, opts);
    const slow = await evaluate(ws, { ...opts, pushdown: 'never' });
    expectSameResult(fast, slow);
    expect(fast.settings.rewardRange).toEqual([-1, 2]);
    const e = (id: string) => fast.candidates[0]!.estimates.find((x) => x.estimator === id)!;
    expect(e('clipped-ips').value).toBe(e('ips').value);
    expect(e('dr').interval!.method).toBe('bernstein');
  });

  it('without action_probs: the exponential-smoothing certificate is skipped with the same warning on both paths', async () => {
    const opts: EvaluateOptions = { data: 'contnp', policies: [{ spec: 'column:far' }], interval: 't', rewardModel: 'columns:q' };
    const fast = await evaluate(ws, opts);
    const slow = await evaluate(ws, { ...opts, pushdown: 'never' });
    expectSameResult(fast, slow);
    const c = fast.candidates[0]!;
    expect(c.certificates.map((x) => x.kind)).toEqual(['catoni-clipped-ips', 'london-sandler']);
    expect(c.warnings.find((w) => w.code === 'CERTIFICATE_SKIPPED')!.message).toBe(
      "The exponential-smoothing certificate was not computed: it needs the logger's full action distribution (an action_probs column, DOUBLE[K]), and contnp@1 has only the logged propensity. The Catoni and London-Sandler certificates need only the propensity and are reported.",
    );
  });

  it('rewards outside a declared range fail the certificates with the same data error, naming the rows', async () => {
    const opts: EvaluateOptions = { data: 'tiny', policies: [{ name: 'c', spec: 'column:cand' }], interval: 't', rewardModel: 'columns:q', rewardRange: [0, 0.5] };
    const fast = await evaluate(ws, opts);
    const slow = await evaluate(ws, { ...opts, pushdown: 'never' });
    expectSameResult(fast, slow, 1e-12);
    const failed = fast.candidates[0]!.warnings.filter((w) => w.code === 'CERTIFICATE_FAILED');
    expect(failed).toHaveLength(3);
    expect(failed[0]!.message).toBe(
      'The catoni-clipped-ips certificate could not be computed: Rule "reward in [0, 0.5]" failed for 3 rows (first: 0, 2, 4). Certificates need bounded rewards: widen --reward-range or fix the rewards.',
    );
    expect(fast.candidates[0]!.certificates).toEqual([]);
  });

  it('the scan also carries the logging value and the summary (hand-checked on the 6-row log)', async () => {
    const r = await evaluate(ws, { data: 'tiny', policies: [{ spec: 'column:cand' }], interval: 't', estimators: ['ips'] });
    // rewards 1, 0, 1, 0, 1, 0: mean 0.5, sample variance 6 * 0.25 / 5 = 0.3; t_{0.975, 5} = 2.5705818 (stdlib's quantile to ~1e-9)
    expectNear(r.dataset.summary.rewardStd, Math.sqrt(0.3), 'rewardStd', 1e-14);
    // 0.5 -+ 2.5705818 sqrt(0.3 / 6) = [-0.0748, 1.0748], clipped to the reward range [0, 1], where the value lies.
    expect(0.5 - 2.5705818366147395 * Math.sqrt(0.3 / 6)).toBeLessThan(0);
    expect(r.logging.interval).toMatchObject({ lower: 0, upper: 1, method: 't', clippedTo: [0, 1] });
    expect(r.dataset.summary.actionsSeen).toBe(3);
  });
});

describe('bad input', () => {
  const base: EvaluateOptions = { data: 'tiny', policies: [{ spec: 'column:cand' }], interval: 't' };
  it('names what is wrong', async () => {
    await expectError(evaluate(ws, { ...base, estimators: ['ips', 'magic'] }), 'E_UNKNOWN_ESTIMATOR', /Unknown estimator "magic"/);
    await expectError(evaluate(ws, { ...base, policies: [] }), 'E_NO_POLICY', /No candidate policy to evaluate/);
    await expectError(evaluate(ws, { ...base, policies: [{ name: 'a', spec: 'column:cand' }, { name: 'a', spec: 'column:cand' }] }), 'E_POLICY_NAME', /Candidate names must differ, but "a" names 2 candidates./);
    await expectError(evaluate(ws, { ...base, interval: 'jackknife' as never }), 'E_INTERVAL_METHOD', /Unknown interval method "jackknife"/);
    await expectError(evaluate(ws, { ...base, alpha: 1.5 }), 'E_ALPHA', /strictly between 0 and 1, got 1.5/);
    await expectError(evaluate(ws, { ...base, data: 'nothere' }), 'E_DATASET_NOT_FOUND', /No dataset named "nothere"/);
    await expectError(evaluate(ws, { ...base, rewardModel: 'forest' }), 'E_REWARD_MODEL_SPEC', /Unknown reward model "forest"/);
  });

  it("pushdown 'duckdb' requires the fast path: the same result as 'auto' when it can run, E_PUSHDOWN naming why when it cannot", async () => {
    const ips = { ...base, estimators: ['ips', 'snips'] };
    expectSameResult(await evaluate(ws, { ...ips, pushdown: 'duckdb' }), await evaluate(ws, ips));
    // the default estimators include DM and DR, whose default reward model is fitted on the rows
    await expectError(evaluate(ws, { ...base, pushdown: 'duckdb' }), 'E_PUSHDOWN', /cannot run: the reward model "(ridge|logistic)" \(the default for DM \/ DR\) is fitted on the rows\./);
    await expectError(evaluate(ws, { ...base, interval: 'bootstrap', pushdown: 'duckdb' }), 'E_PUSHDOWN', /fast path \(pushdown 'duckdb'\) cannot run: bootstrap intervals need the rows in memory\./);
    await expectError(evaluate(ws, { ...base, rewardModel: 'ridge', pushdown: 'duckdb' }), 'E_PUSHDOWN', /cannot run: the reward model "ridge" is fitted on the rows\./);
    await expectError(evaluate(ws, { data: 'nopropensity', policies: [{ spec: 'column:cand' }], estimators: ['ips'], interval: 't', pushdown: 'duckdb' }), 'E_PUSHDOWN', /cannot run: the log has no propensity column/);
    await expectError(evaluate(ws, { ...base, pushdown: 'sql' as 'auto' }), 'E_PUSHDOWN', /Unknown pushdown mode "sql"/);
  });

  it('catches bad candidate entries on the fast path and names the rows', async () => {
    const base2: EvaluateOptions = { data: 'negcand', policies: [{ spec: 'column:cand' }], interval: 't', estimators: ['ips'] };
    for (const [data, row] of [['negcand', 1], ['nullcand', 2], ['nancand', 4]] as const) {
      for (const pushdown of ['auto', 'never'] as const) {
        await expectError(evaluate(ws, { ...base2, data, pushdown }), 'E_POLICY_PROBS', new RegExp(`Rule "probabilities are finite and non-negative" failed for 1 row \\(first: ${row}\\)`));
      }
    }
  });

  it('catches lists of the wrong length on the fast path (predictions read entry by entry, or a failing dot product)', async () => {
    const w: EvaluateOptions = { data: 'widths', policies: [{ spec: 'column:p_0,p_1' }], interval: 't', estimators: ['dm'], rewardModel: 'columns:q3' };
    await expectError(evaluate(ws, w), 'E_ACTION_SPACE', /reward-prediction column\(s\) give a number of values other than K = 2 on 6 rows/);
    await expectError(evaluate(ws, { ...w, policies: [{ spec: 'column:cand' }], rewardModel: 'columns:q2' }), 'E_ACTION_SPACE', /Rule "candidate gives K = 2 probabilities per row \(the log's action space\)" failed for 1 row \(first: 3\)/);
    const ok = await evaluate(ws, { ...w, rewardModel: 'columns:q2' });
    expect(ok.candidates[0]!.estimates[0]!.value).toBeCloseTo(0.15, 14);
  });

  it('reports a reward model that cannot fit', async () => {
    await expectError(evaluate(ws, { ...base, data: 'allones', estimators: ['dm'], rewardModel: 'logistic' }), 'E_REWARD_MODEL_FIT', /every logged reward equals 1/);
    await expectError(evaluate(ws, { ...base, estimators: ['dm'], rewardModel: 'columns:q_0,q_1' }), 'E_ACTION_SPACE', /2 reward-prediction columns were given, but the log's action space has K = 3/);
    await expectError(evaluate(ws, { ...base, estimators: ['dm'], rewardModel: 'columns:context' }), 'E_ACTION_SPACE', /other than K = 3 on 6 rows/);
    await expectError(evaluate(ws, { ...base, estimators: ['dm'], rewardModel: 'columns:context', pushdown: 'never' }), 'E_ACTION_SPACE', /other than K = 3 on 6 rows/);
    await expectError(evaluate(ws, { ...base, data: 'nanq', estimators: ['dr'], rewardModel: 'columns:q' }), 'E_REWARD_PREDICTIONS', /NULL, NaN or infinite values on 1 rows \(first row_id: 3\)/);
    await expectError(evaluate(ws, { ...base, estimators: ['dm'], rewardModel: 'columns:nope' }), 'E_MISSING_COLUMN', /Reward-prediction column\(s\) nope are not in tiny@1/);
  });
});

describe('synthetic data with ground truth', () => {
  it('reports true values and accuracy, and DR lands near the truth', async () => {
    const soft = path.join(dir, 'soft.json');
    await writeFile(soft, JSON.stringify({ type: 'softmax', weights: [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0], [-1, 0, 0]], bias: [0, 0, 0, 0, 0], temperature: 1 }));
    const uni = path.join(dir, 'uni.json');
    await writeFile(uni, JSON.stringify({ type: 'uniform' }));
    const r = await evaluate(ws, { data: 'syn', policies: [{ spec: soft }, { spec: uni }], interval: 't', rewardModel: 'logistic', folds: 2, seed: 1 });
    expect(r.logging.trueValue).toBeGreaterThan(0);
    for (const c of r.candidates) {
      expect(c.trueValue).toBeGreaterThan(0);
      const dr = c.estimates.find((e) => e.estimator === 'dr')!;
      expect(Math.abs(dr.value - c.trueValue!)).toBeLessThan(4 * dr.diagnostics.stdError!);
      expect(c.certificates.length).toBe(3);
    }
    expect(r.accuracy!.map((a) => a.estimator)).toContain('dr');
    expect(r.accuracy![0]!.k).toBe(2);
  });

  it('runs as `offpolicy evaluate` and prints the table and the JSON path', async () => {
    const file = path.join(dir, 'cli.json');
    const { out: text, err, code } = await runCli(['-w', path.join(dir, 'ws'), 'evaluate', '--data', 'tiny', '--policy', 'cand=column:cand', '--estimators', 'ips,dr', '--reward-model', 'columns:q', '--interval', 't', '--out', file]);
    expect(code, err).toBe(0);
    expect(text).toMatch(/candidate\s+estimator\s+value\s+95% interval\s+covers\s+verdict/);
    expect(text).toMatch(/cand\s+ips\s+0\.3792/);
    // The label sits on the row of the estimator that decided (DR by default), not the first row.
    const result = JSON.parse(await readFile(file, 'utf8'));
    const label = { better: 'BETTER', 'better-with-caveats': 'BETTER, WITH CAVEATS', worse: 'WORSE', inconclusive: 'INCONCLUSIVE' }[result.candidates[0].verdict.outcome as string]!;
    expect(result.candidates[0].verdict.decidedBy).toEqual({ kind: 'estimator', id: 'dr' });
    expect(text).toMatch(new RegExp(`\\n\\s+dr\\s+\\S+\\s+\\[[^\\]]+\\]\\s+value(; clipped to \\[0, 1\\])?\\s+${label}\\n`));
    expect(text).not.toMatch(/cand\s+ips.*(BETTER|WORSE|INCONCLUSIVE)/);
    expect(text).toContain(`Results written to ${file}`);
    expect(JSON.parse(await readFile(file, 'utf8')).settings.estimators).toEqual(['ips', 'dr']);
  });
});
