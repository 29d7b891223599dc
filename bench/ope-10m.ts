/**
 * OPE speed and memory (issue 3):
 *  1. 10M-row Parquet log, K = 10, candidate probabilities and reward predictions
 *     as columns: all nine point estimates with Student-t intervals through
 *     evaluate() (the DuckDB pushdown path), with the clipped-IPS certificates
 *     (Catoni, London-Sandler) and exact weight quantiles. Target < 2 s,
 *     RSS < 1.5 GB. Shown for DOUBLE[10] list columns and for per-action scalar
 *     columns, next to a bare DuckDB SUM over the same file (the floor). The
 *     bench log's logger is uniform (p = 0.1), so every weight is 0.5 or 5.5: the
 *     footer statistics prove w <= L = 10 and the clipped estimators share IPS's
 *     and DR's sums; a run with --clip 5 shows the cost without that shortcut.
 *     Then once more on a second log with continuous softmax logger and candidate
 *     probabilities and action_probs (support deficiency, the exponential-smoothing
 *     certificate, and exact weight quantiles that need their second query): not
 *     part of the target.
 *  2. 1M rows, K = 10: all nine estimators with 1,000-resample bootstrap
 *     intervals (in-memory path). Target < 5 s.
 *
 * Each timed step prints wall time, process CPU time (all DuckDB threads
 * included: the stable figure on a shared machine), the 1-minute load average
 * and peak RSS. Evaluations run `repeats` times; the best and median are shown.
 *
 * Run: npx tsx bench/ope-10m.ts [rows=10000000] [bootstrapRows=1000000] [repeats=3]
 *      (rows = 0 skips part 1; bootstrapRows = 0 skips part 2)
 * OPE_BENCH_WS=DIR keeps the generated logs in DIR and reuses them on the next run.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { lit, openMemoryConnection, queryOne, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { Workspace } from '../src/datasets/workspace.js';
import { evaluate } from '../src/ope/evaluate.js';
import type { EvaluationResult } from '../src/core/evaluation-result.js';
import { fmtTiming, mb, once, stopSampling, type Timing } from './measure.js';

const N = Number(process.argv[2] ?? 10_000_000);
const NB = Number(process.argv[3] ?? 1_000_000);
const REPEATS = Math.max(1, Number(process.argv[4] ?? 3));
const K = 10;


const fmt = (t: Timing): string => fmtTiming(t);

async function timed<T>(label: string, f: () => Promise<T>, repeats = 1): Promise<T> {
  const runs: Timing[] = [];
  let out!: T;
  for (let i = 0; i < repeats; i++) {
    const r = await once(f);
    out = r.out;
    runs.push(r.t);
    if (repeats > 1) console.log(`  ${label} #${i + 1}: ${fmt(r.t)}`);
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  const best = runs.reduce((a, b) => (b.cpu < a.cpu ? b : a));
  console.log(`${label.padEnd(70)} ${repeats > 1 ? `best ${fmt(best)} | median wall ${med(runs.map((r) => r.wall)).toFixed(3)} s CPU ${med(runs.map((r) => r.cpu)).toFixed(3)} s` : fmt(runs[0]!)}`);
  return out;
}

/** A uniform logger (p = 0.1), Bernoulli rewards, a candidate favouring action i % 10, predictions in [0, 1]. */
export function logSelect(n: number): string {
  const cand = `[${Array.from({ length: K }, (_, a) => `CASE WHEN i % ${K} = ${a} THEN 0.55 ELSE 0.05 END::DOUBLE`).join(', ')}]`;
  const q = `[${Array.from({ length: K }, (_, a) => `round(0.2 + 0.6 * ((i * ${a + 7}) % 101) / 101.0, 4)::DOUBLE`).join(', ')}]`;
  const scalars = Array.from({ length: K }, (_, a) => `cand[${a + 1}] AS p_${a}, q[${a + 1}] AS q_${a}`).join(', ');
  return `SELECT row_id, action, reward, propensity, cand, q, ${scalars} FROM (
    SELECT i::BIGINT AS row_id, (hash(i) % ${K})::INTEGER AS action,
           CASE WHEN (hash(i * 31 + 7) % 1000) < 300 THEN 1.0 ELSE 0.0 END::DOUBLE AS reward,
           0.1::DOUBLE AS propensity, ${cand} AS cand, ${q} AS q
    FROM range(${n}) t(i))`;
}

/**
 * Continuous probabilities: a softmax logger over hashed scores (action_probs,
 * propensity = its entry at the logged action), a softmax candidate, predictions q.
 */
function softmaxLogSelect(n: number): string {
  const scores = (salt: number, scale: number): string => `[${Array.from({ length: K }, (_, a) => `exp(${scale} * ((hash(i * ${K} + ${a} + ${salt}) % 10000) / 10000.0 - 0.5))`).join(', ')}]`;
  const q = `[${Array.from({ length: K }, (_, a) => `round(0.2 + 0.6 * ((i * ${a + 7}) % 101) / 101.0, 4)::DOUBLE`).join(', ')}]`;
  const norm = (x: string): string => `list_transform(${x}, lambda v: v / list_sum(${x}))::DOUBLE[]`;
  return `SELECT row_id, action, reward, action_probs[action + 1] AS propensity, action_probs, cand, q FROM (
    SELECT i::BIGINT AS row_id, (hash(i) % ${K})::INTEGER AS action,
           CASE WHEN (hash(i * 31 + 7) % 1000) < 300 THEN 1.0 ELSE 0.0 END::DOUBLE AS reward,
           ${norm('s0')} AS action_probs, ${norm('s1')} AS cand, ${q} AS q
    FROM (SELECT i, ${scores(0, 3)} AS s0, ${scores(77777, 4)} AS s1 FROM range(${n}) t(i)))`;
}

export async function ensure(ws: Workspace, conn: DuckDBConnection, name: string, select: string): Promise<void> {
  const meta = { kind: 'bandit' as const, actionSpace: { type: 'discrete' as const, n: K }, lineage: { transform: 'bench', params: {} } };
  if (existsSync(path.join(ws.root, 'datasets', name))) return;
  await timed(`write ${name} (setup, not a target)`, () => ws.createVersion({ name, conn, select, metadata: meta }));
}

function show(label: string, r: EvaluationResult): void {
  const c = r.candidates[0]!;
  console.log(`  ${label}: ${c.estimates.map((x) => `${x.estimator}=${x.value.toFixed(5)}`).join(' ')}`);
  console.log(`  ${label}: certificates ${c.certificates.map((x) => `${x.kind}=[${x.lower.toFixed(5)}${x.upper !== undefined ? `, ${x.upper.toFixed(5)}` : ''}]`).join(' ') || 'none'}; weight quantiles ${c.diagnostics.weightQuantiles.map((q) => `${q.q}:${q.value}`).join(' ')}`);
  const w = c.warnings.filter((x) => x.code.startsWith('CERTIFICATE'));
  if (w.length > 0) console.log(`  ${label}: ${w.map((x) => `${x.code}: ${x.message}`).join(' | ')}`);
}

async function main(): Promise<void> {
  const keep = process.env.OPE_BENCH_WS;
  const dir = keep ?? (await mkdtemp(path.join(tmpdir(), 'offpolicy-bench-ope-')));
  console.log(`cores: 2 shared; load at start ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  try {
    const ws = await Workspace.open(dir);
    const conn = await openMemoryConnection();
    if (N > 0) {
      const big = `big${N}`;
      const bigPi0 = `soft${N}`;
      await ensure(ws, conn, big, logSelect(N));
      const v = await ws.resolve(big);
      await timed('bare DuckDB SUM(reward) over the Parquet file (floor)', async () => {
        const c = await openMemoryConnection();
        const r = await queryOne(c, `SELECT sum(reward) AS s FROM read_parquet(${lit(v.glob)})`);
        c.closeSync();
        return r;
      }, REPEATS);
      const pCols = Array.from({ length: K }, (_, a) => `p_${a}`).join(',');
      const qCols = Array.from({ length: K }, (_, a) => `q_${a}`).join(',');
      const listRun = await timed('evaluate: 9 estimators + t intervals, DOUBLE[10] columns', () =>
        evaluate(ws, { data: big, policies: [{ name: 'cand', spec: 'column:cand' }], interval: 't', rewardModel: 'columns:q' }),
      REPEATS);
      const scalarRun = await timed('evaluate: 9 estimators + t intervals, per-action columns', () =>
        evaluate(ws, { data: big, policies: [{ name: 'cand', spec: `column:${pCols}` }], interval: 't', rewardModel: `columns:${qCols}` }),
      REPEATS);
      await timed('evaluate, DOUBLE[10] columns, --clip 5 (no proven-bound shortcut)', () =>
        evaluate(ws, { data: big, policies: [{ name: 'cand', spec: 'column:cand' }], interval: 't', rewardModel: 'columns:q', clip: 5 }),
      REPEATS);
      show('list', listRun);
      show('scalar', scalarRun);
      await ensure(ws, conn, bigPi0, softmaxLogSelect(N));
      const pi0Run = await timed('evaluate, softmax log, DOUBLE[10] + action_probs (3 certificates)', () =>
        evaluate(ws, { data: bigPi0, policies: [{ name: 'cand', spec: 'column:cand' }], interval: 't', rewardModel: 'columns:q' }),
      REPEATS);
      show('softmax', pi0Run);
    }
    if (NB > 0) {
      const mid = `mid${NB}`;
      await ensure(ws, conn, mid, logSelect(NB));
      const boot = await timed('evaluate: 9 estimators + 1,000-resample bootstrap, 1M rows', () =>
        evaluate(ws, { data: mid, policies: [{ name: 'cand', spec: 'column:cand' }], interval: 'bootstrap', resamples: 1000, rewardModel: 'columns:q', seed: 0 }),
      );
      console.log(`  bootstrap: ${boot.candidates[0]!.estimates.map((x) => `${x.estimator}=[${x.interval!.lower.toFixed(4)}, ${x.interval!.upper.toFixed(4)}]`).join(' ')}`);
    }
    conn.closeSync();
  } finally {
    stopSampling();
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

// Run only as a script: bench/poisson-bootstrap.ts imports the log generator.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
else stopSampling();
