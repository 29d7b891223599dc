/**
 * Test logs for the pushdown (fast) path: continuous logger and candidate
 * probabilities stored as DOUBLE[K] columns, written through Workspace.createVersion.
 */
import { expect } from 'vitest';
import type { DuckDBConnection } from '../src/datasets/duckdb.js';
import type { Workspace } from '../src/datasets/workspace.js';
import type { EvaluationResult } from '../src/core/evaluation-result.js';
import { Rng } from '../src/util/rng.js';

export interface FastLog {
  n: number;
  k: number;
  actions: number[];
  rewards: number[];
  propensities: number[];
  /** Candidate columns by name, n x K row-major. */
  cands: Record<string, number[][]>;
}

const softmax = (s: number[]): number[] => {
  const m = Math.max(...s);
  const e = s.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
};

/**
 * n rows, K actions: a softmax logger (action_probs unless withLoggingProbs is
 * false), Bernoulli rewards, predictions q, and two candidates: `near` (the logger
 * perturbed by at most 1e-4 relative, so every weight lies within 1e-4 of 1: many
 * distinct weights in one weight bin) and `far` (an unrelated softmax policy).
 */
export async function storeFastLog(ws: Workspace, conn: DuckDBConnection, name: string, opts: { n: number; k: number; seed: number; withLoggingProbs?: boolean }): Promise<FastLog> {
  const { n, k } = opts;
  const rng = new Rng(opts.seed);
  const rows: string[] = [];
  const log: FastLog = { n, k, actions: [], rewards: [], propensities: [], cands: { near: [], far: [] } };
  const arr = (v: number[]): string => `[${v.map((x) => `${x}::DOUBLE`).join(', ')}]`;
  for (let i = 0; i < n; i++) {
    const pi0 = softmax(Array.from({ length: k }, () => 1.5 * rng.normal()));
    const a = rng.categorical(pi0);
    const er = Array.from({ length: k }, () => rng.uniform());
    const r = rng.uniform() < er[a]! ? 1 : 0;
    const nearRaw = pi0.map((p) => p * (1 + 1e-4 * rng.uniform()));
    const z = nearRaw.reduce((s, v) => s + v, 0);
    const near = nearRaw.map((v) => v / z);
    const far = softmax(Array.from({ length: k }, () => 2 * rng.normal()));
    const q = Array.from({ length: k }, () => Math.round(1000 * rng.uniform()) / 1000);
    log.actions.push(a);
    log.rewards.push(r);
    log.propensities.push(pi0[a]!);
    log.cands.near!.push(near);
    log.cands.far!.push(far);
    rows.push(`(${i}::BIGINT, ${a}::INTEGER, ${r}::DOUBLE, ${pi0[a]}::DOUBLE, ${arr(pi0)}, ${arr(er)}, ${arr(near)}, ${arr(far)}, ${arr(q)})`);
  }
  const cols = 'row_id, action, reward, propensity, action_probs, expected_reward, near, far, q';
  const keep = opts.withLoggingProbs === false ? 'row_id, action, reward, propensity, expected_reward, near, far, q' : '*';
  await ws.createVersion({
    name,
    conn,
    select: `SELECT ${keep} FROM (VALUES ${rows.join(', ')}) t(${cols}) ORDER BY row_id`,
    metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: k }, lineage: { transform: 'test', params: {} } },
  });
  return log;
}

/** |a - b| <= tol * max(1, |a|), with a label in the failure message. */
export function expectNear(a: number | undefined, b: number | undefined, label: string, tol = 1e-10): void {
  expect(a, label).toBeTypeOf('number');
  expect(b, label).toBeTypeOf('number');
  if (Number.isNaN(a!) || Number.isNaN(b!)) {
    expect(Number.isNaN(a!), label).toBe(Number.isNaN(b!));
    return;
  }
  if (a === b) return;
  expect(Math.abs(a! - b!), `${label}: ${a} vs ${b}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(a!)));
}

/**
 * The fast path and the in-memory path give the same result to `tol` (relative):
 * estimates, intervals, certificates (every parameter), weight diagnostics
 * and histogram, the logging value and interval, the
 * dataset summary, true values and the warning codes.
 */
export function expectSameResult(fast: EvaluationResult, slow: EvaluationResult, tol = 1e-10): void {
  expectNear(fast.logging.value, slow.logging.value, 'logging value', tol);
  expectNear(fast.logging.interval?.lower, slow.logging.interval?.lower, 'logging lower', tol);
  expectNear(fast.logging.interval?.upper, slow.logging.interval?.upper, 'logging upper', tol);
  if (slow.logging.trueValue !== undefined) expectNear(fast.logging.trueValue, slow.logging.trueValue, 'logging truth', tol);
  expect(Object.keys(fast.dataset.summary).sort()).toEqual(Object.keys(slow.dataset.summary).sort());
  for (const key of Object.keys(slow.dataset.summary)) expectNear(fast.dataset.summary[key], slow.dataset.summary[key], `summary.${key}`, tol);
  expect(fast.candidates.map((c) => c.name)).toEqual(slow.candidates.map((c) => c.name));
  fast.candidates.forEach((fc, ci) => {
    const sc = slow.candidates[ci]!;
    const at = `candidate ${fc.name}`;
    expect(fc.estimates.map((e) => e.estimator)).toEqual(sc.estimates.map((e) => e.estimator));
    fc.estimates.forEach((e, j) => {
      const s = sc.estimates[j]!;
      expectNear(e.value, s.value, `${at} ${e.estimator} value`, tol);
      expectNear(e.diagnostics.stdError, s.diagnostics.stdError, `${at} ${e.estimator} stdError`, tol);
      expect(e.interval === undefined).toBe(s.interval === undefined);
      if (e.interval) {
        expectNear(e.interval.lower, s.interval!.lower, `${at} ${e.estimator} lower`, tol);
        expectNear(e.interval.upper, s.interval!.upper, `${at} ${e.estimator} upper`, tol);
      }
    });
    expect(fc.certificates.map((c) => c.kind)).toEqual(sc.certificates.map((c) => c.kind));
    fc.certificates.forEach((c, j) => {
      const s = sc.certificates[j]!;
      expectNear(c.lower, s.lower, `${at} ${c.kind} lower`, tol);
      expect(c.upper === undefined).toBe(s.upper === undefined);
      if (c.upper !== undefined) expectNear(c.upper, s.upper, `${at} ${c.kind} upper`, tol);
      expect(Object.keys(c.params).sort()).toEqual(Object.keys(s.params).sort());
      // lambda is the argmin of a function flat at its minimum: a 1e-16 change in the risk moves it by ~1e-8.
      for (const key of Object.keys(s.params)) expectNear(c.params[key], s.params[key], `${at} ${c.kind}.${key}`, key === 'lambda' && c.kind === 'catoni-clipped-ips' ? 1e-6 : tol);
    });
    const fd = fc.diagnostics, sd = sc.diagnostics;
    for (const key of ['n', 'ess', 'essRatio', 'maxWeight', 'meanWeight', 'supportDeficiency'] as const) expectNear(fd[key], sd[key], `${at} ${key}`, tol);
    expect(fd.weightQuantiles.map((q) => q.q)).toEqual(sd.weightQuantiles.map((q) => q.q));
    fd.weightQuantiles.forEach((q, j) => expectNear(q.value, sd.weightQuantiles[j]!.value, `${at} weight quantile ${q.q}`, tol));
    expect(fd.weightHistogram.reduce((s, b) => s + b.count, 0)).toBe(fd.n);
    expect(fd.weightHistogram.map((b) => b.count)).toEqual(sd.weightHistogram.map((b) => b.count));
    fd.weightHistogram.forEach((b, j) => {
      expectNear(b.start, sd.weightHistogram[j]!.start, `${at} histogram start`, tol);
      expectNear(b.end, sd.weightHistogram[j]!.end, `${at} histogram end`, tol);
    });
    if (sc.trueValue !== undefined) expectNear(fc.trueValue, sc.trueValue, `${at} truth`, tol);
    expect(fc.warnings.map((w) => w.code).sort()).toEqual(sc.warnings.map((w) => w.code).sort());
    expect(fc.warnings.map((w) => w.message).sort()).toEqual(sc.warnings.map((w) => w.message).sort());
    expect(fc.verdict.recommended).toBe(sc.verdict.recommended);
  });
}
