/**
 * The fixture, the backend comparison and the shared equivalence cases both
 * trajectory table-candidate tests (the lean scan and the DuckDB pushdown)
 * compare backends on: CartPole with Q as columns, a soft and a
 * zero-probability candidate table, a bandit log, Pendulum with a continuous
 * candidate's log-density table.
 */
import { expect, it } from 'vitest';
import path from 'node:path';
import { openMemoryConnection } from '../../src/datasets/duckdb.js';
import { ingest } from '../../src/datasets/ingest/index.js';
import type { TrajectoryEvaluateOptions, TrajectoryEvaluation } from '../../src/ope/trajectory/evaluate.js';
import { evaluate } from '../../src/ope/evaluate.js';
import { evaluateTrajectories } from '../../src/ope/trajectory/result.js';
import type { Workspace } from '../../src/datasets/workspace.js';
import { generateTrajectories, writeTrajectoryDataset } from '../../src/envs/trajectories.js';
import { generateBanditLog } from '../../src/datasets/synthetic/bandit.js';
import { writeBanditDataset } from '../../src/datasets/synthetic/bandit-log.js';

export const ALL_SUMMED = ['tis', 'pdis', 'sntis', 'snpdis', 'dr', 'sndr', 'dm'] as const;

export async function sql(q: string): Promise<void> {
  const conn = await openMemoryConnection();
  try {
    await conn.run(q);
  } finally {
    conn.closeSync();
  }
}

/** Writes datasets `cart` (with q_0, q_1), `logs`, `pend` into ws and soft.parquet, zeros.csv, pend.parquet into dir. */
export async function writeTrajectoryTables(ws: Workspace, dir: string): Promise<void> {
  await writeTrajectoryDataset(ws, 'cart0', generateTrajectories({ env: 'cartpole', policy: 'medium', episodes: 12, seed: 4 }));
  const v = await ws.resolve('cart0');
  // Q(s, a) as columns: any fixed function of the row
  const withQ = path.join(dir, 'cartq.parquet');
  await sql(`COPY (SELECT *, 10 + observation[1] AS q_0, 10 + observation[1] + observation[3] AS q_1 FROM read_parquet('${v.glob}')) TO '${withQ}' (FORMAT parquet)`);
  await ingest(ws, withQ, { name: 'cart', kind: 'trajectory' });
  // a stochastic candidate, and one that gives the logged action probability 0 on some steps
  await sql(`COPY (SELECT episode_id, step, 0.25 + 0.5 * (observation[3] > 0)::DOUBLE AS p_0, 0.75 - 0.5 * (observation[3] > 0)::DOUBLE AS p_1 FROM read_parquet('${v.glob}')) TO '${path.join(dir, 'soft.parquet')}' (FORMAT parquet)`);
  await sql(`COPY (SELECT episode_id, step, CASE WHEN observation[4] > 0.4 THEN 1 - action ELSE 0.4 END AS p_0, CASE WHEN observation[4] > 0.4 THEN action ELSE 0.6 END AS p_1 FROM read_parquet('${v.glob}')) TO '${path.join(dir, 'zeros.csv')}' (HEADER)`);
  await writeBanditDataset(ws, 'logs', generateBanditLog({ n: 200, numActions: 3, contextDim: 2, reward: 'logistic', beta: 1, seed: 1 }));
  await writeTrajectoryDataset(ws, 'pend', generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 8, seed: 5 }));
  const vp = await ws.resolve('pend');
  // a continuous candidate's log-density: the behaviour's shifted by a bounded function of the state
  await sql(`COPY (SELECT episode_id, step, behavior_logprob + 0.3 * sin(observation[1] + step) AS logprob FROM read_parquet('${vp.glob}')) TO '${path.join(dir, 'pend.parquet')}' (FORMAT parquet)`);
}

/** a equals b to a relative tolerance (absolute below 1). */
export function close(a: number, b: number, what = '', tol = 1e-10): void {
  expect(Math.abs(a - b), `${what}: ${a} vs ${b}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b)));
}

/**
 * p equals m to 1e-10 in every value, interval, diagnostic and weight summary;
 * warnings equal whole ('equal') or by code ('codes').
 */
export function sameTrajectoryResults(
  p: TrajectoryEvaluation,
  m: TrajectoryEvaluation,
  o: { backend: TrajectoryEvaluation['backend']; referenceBackend: TrajectoryEvaluation['backend']; warnings: 'equal' | 'codes' },
): void {
  expect(p.backend).toBe(o.backend);
  expect(m.backend).toBe(o.referenceBackend);
  expect(p.dataset).toEqual(m.dataset);
  close(p.behaviour.value, m.behaviour.value);
  close(p.behaviour.interval!.lower, m.behaviour.interval!.lower);
  expect(p.candidates.length).toBe(m.candidates.length);
  p.candidates.forEach((pc, j) => {
    const mc = m.candidates[j]!;
    expect(pc.name).toBe(mc.name);
    expect(pc.estimates.map((e) => e.estimator)).toEqual(mc.estimates.map((e) => e.estimator));
    pc.estimates.forEach((pe, k) => {
      const me = mc.estimates[k]!;
      const what = `${pc.name} ${pe.estimator}`;
      close(pe.value, me.value, `${what} value`);
      expect(Boolean(pe.interval)).toBe(Boolean(me.interval));
      if (pe.interval) {
        close(pe.interval.lower, me.interval!.lower, `${what} lower (value ${me.value}, upper ${me.interval!.upper})`);
        close(pe.interval.upper, me.interval!.upper, `${what} upper`);
      }
      for (const key of Object.keys(me.diagnostics!)) close(pe.diagnostics![key]!, me.diagnostics![key]!, `${what} ${key}`);
    });
    if (mc.weights) {
      expect(pc.weights!.perStep.episodes).toEqual(mc.weights.perStep.episodes);
      mc.weights.perStep.ess.forEach((e, t) => close(pc.weights!.perStep.ess[t]!, e, `ess ${t}`));
      mc.weights.perStep.maxShare.forEach((e, t) => close(pc.weights!.perStep.maxShare[t]!, e, `maxShare ${t}`));
      close(pc.weights!.trajectoryEss, mc.weights.trajectoryEss);
      close(pc.weights!.maxWeight, mc.weights.maxWeight);
      expect(pc.weights!.firstLowEssStep).toBe(mc.weights.firstLowEssStep);
    } else expect(pc.weights).toBeNull();
    if (o.warnings === 'equal') expect(pc.warnings).toEqual(mc.warnings);
    else expect(pc.warnings.map((w) => w.code)).toEqual(mc.warnings.map((w) => w.code));
    expect(pc.verdict.recommended).toBe(mc.verdict.recommended);
    expect(pc.q).toEqual(mc.q);
    expect(pc.valueRange).toEqual(mc.valueRange);
  });
}

/**
 * The cases every table-candidate backend must match the full load on (writeTrajectoryTables' data in
 * dir()): `both(data, opts)` runs the backend under test and the reference on the same options and compares.
 */
export function tableCandidateCases(dir: () => string, both: (data: string, opts: TrajectoryEvaluateOptions) => Promise<void>): void {
  it('discrete actions, Q columns: all seven estimators, t intervals, unclipped and clipped, with zero weights', async () => {
    const candidates = [{ name: 'soft', spec: path.join(dir(), 'soft.parquet') }, { spec: path.join(dir(), 'zeros.csv') }];
    for (const clip of [undefined, 1.5]) {
      await both('cart', { candidates, estimators: [...ALL_SUMMED], rewardModel: 'columns:q_0,q_1', gamma: 0.97, interval: 't', ...(clip ? { clip } : {}) });
    }
  });
  it('Hoeffding intervals (plain means only), a WHERE, gamma 1, the default estimator set', async () => {
    await both('cart', { candidates: [{ spec: path.join(dir(), 'soft.parquet') }], estimators: ['tis', 'pdis', 'snpdis', 'dr'], rewardModel: 'columns:q_0,q_1', interval: 'hoeffding', termRange: [-500, 500] });
    const soft5 = path.join(dir(), 'soft5.parquet');
    await sql(`COPY (SELECT * FROM read_parquet('${path.join(dir(), 'soft.parquet')}') WHERE episode_id >= 5) TO '${soft5}' (FORMAT parquet)`);
    await both('cart', { candidates: [{ spec: soft5 }], where: 'episode_id >= 5', gamma: 1, interval: 't' });
  });
  it('continuous actions: a logprob table', async () => {
    await both('pend', { candidates: [{ name: 'shifted', spec: path.join(dir(), 'pend.parquet') }], estimators: ['tis', 'pdis', 'sntis', 'snpdis'], gamma: 0.9 });
  });
}

/**
 * Library evaluate() with setting 'auto' on the fixture: trajectory data gives the trajectory result from
 * `backend` (trajectory.pushdown as given), equal to the full load; a bandit log gives the bandit result.
 */
export async function expectDispatchOnKind(ws: Workspace, dir: string, backend: 'scan' | 'duckdb', pushdown?: 'duckdb'): Promise<void> {
  const soft = path.join(dir, 'soft.parquet');
  const opts = { estimators: ['tis', 'pdis', 'snpdis', 'dr'], interval: 't', rewardModel: 'columns:q_0,q_1' } as const;
  const r = await evaluate(ws, { setting: 'auto', data: 'cart', policies: [{ name: 'soft', spec: soft }], ...opts, estimators: [...opts.estimators], trajectory: { gamma: 0.95, ...(pushdown ? { pushdown } : {}) } });
  expect(r.setting).toBe('trajectory');
  if (r.setting !== 'trajectory') return;
  expect(r.settings.backend).toBe(backend);
  expect(r.settings.gamma).toBe(0.95);
  const direct = await evaluateTrajectories(ws, { data: 'cart', candidates: [{ name: 'soft', spec: soft }], ...opts, estimators: [...opts.estimators], gamma: 0.95, pushdown: 'never' });
  expect(direct.settings.backend).toBe('memory');
  r.candidates[0]!.estimates.forEach((e, k) => close(e.value, direct.candidates[0]!.estimates[k]!.value));
  expect(r.selection!.rows.length).toBeGreaterThan(0);
  const b = await evaluate(ws, { setting: 'auto', data: 'logs', policies: [{ spec: 'column:action_probs' }], estimators: ['ips'], interval: 't' });
  expect(b.setting).toBeUndefined();
  if (b.setting !== 'trajectory') expect(b.logging.value).toBeGreaterThan(-Infinity);
}
