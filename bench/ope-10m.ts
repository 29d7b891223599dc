/**
 * OPE speed and memory (issue 3):
 *  1. 10M-row Parquet log, K = 10, candidate probabilities and reward predictions
 *     as columns: all nine point estimates with Student-t intervals through
 *     evaluate() (the DuckDB pushdown path). Target < 2 s, RSS < 1.5 GB. Shown
 *     for DOUBLE[10] list columns and for per-action scalar columns, next to a
 *     bare DuckDB SUM over the same file (the floor).
 *  2. 1M rows, K = 10: all nine estimators with 1,000-resample bootstrap
 *     intervals (in-memory path). Target < 5 s.
 *
 * Run: npx tsx bench/ope-10m.ts [rows=10000000] [bootstrapRows=1000000]   (rows = 0 skips part 1)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lit, openMemoryConnection, queryOne } from '../src/datasets/duckdb.js';
import { Workspace } from '../src/datasets/workspace.js';
import { evaluate } from '../src/ope/evaluate.js';

const N = Number(process.argv[2] ?? 10_000_000);
const NB = Number(process.argv[3] ?? 1_000_000);
const K = 10;

let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
const mb = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MB`;

async function timed<T>(label: string, f: () => Promise<T>): Promise<T> {
  peak = process.memoryUsage().rss;
  const t0 = performance.now();
  const out = await f();
  const s = (performance.now() - t0) / 1000;
  peak = Math.max(peak, process.memoryUsage().rss);
  console.log(`${label.padEnd(64)} ${s.toFixed(3)} s   peak RSS ${mb(peak)}`);
  return out;
}

/** A uniform logger (p = 0.1), Bernoulli rewards, a candidate favouring action i % 10, predictions in [0, 1]. */
function logSelect(n: number): string {
  const cand = `[${Array.from({ length: K }, (_, a) => `CASE WHEN i % ${K} = ${a} THEN 0.55 ELSE 0.05 END::DOUBLE`).join(', ')}]`;
  const q = `[${Array.from({ length: K }, (_, a) => `round(0.2 + 0.6 * ((i * ${a + 7}) % 101) / 101.0, 4)::DOUBLE`).join(', ')}]`;
  const scalars = Array.from({ length: K }, (_, a) => `cand[${a + 1}] AS p_${a}, q[${a + 1}] AS q_${a}`).join(', ');
  return `SELECT row_id, action, reward, propensity, cand, q, ${scalars} FROM (
    SELECT i::BIGINT AS row_id, (hash(i) % ${K})::INTEGER AS action,
           CASE WHEN (hash(i * 31 + 7) % 1000) < 300 THEN 1.0 ELSE 0.0 END::DOUBLE AS reward,
           0.1::DOUBLE AS propensity, ${cand} AS cand, ${q} AS q
    FROM range(${n}) t(i))`;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-bench-ope-'));
  try {
    const ws = await Workspace.open(dir);
    const conn = await openMemoryConnection();
    const meta = { kind: 'bandit' as const, actionSpace: { type: 'discrete' as const, n: K }, lineage: { transform: 'bench', params: {} } };
    if (N > 0) {
    await timed(`write ${N.toLocaleString()}-row log (setup, not a target)`, () => ws.createVersion({ name: 'big', conn, select: logSelect(N), metadata: meta }));
    const big = await ws.resolve('big');
    await timed('bare DuckDB SUM(reward) over the Parquet file (floor)', async () => {
      const c = await openMemoryConnection();
      const r = await queryOne(c, `SELECT sum(reward) AS s FROM read_parquet(${lit(big.glob)})`);
      c.closeSync();
      return r;
    });
    const listRun = await timed('evaluate: 9 estimators + t intervals, DOUBLE[10] columns', () =>
      evaluate(ws, { data: 'big', policies: [{ name: 'cand', spec: 'column:cand' }], interval: 't', rewardModel: 'columns:q' }),
    );
    const pCols = Array.from({ length: K }, (_, a) => `p_${a}`).join(',');
    const qCols = Array.from({ length: K }, (_, a) => `q_${a}`).join(',');
    const scalarRun = await timed('evaluate: 9 estimators + t intervals, per-action columns', () =>
      evaluate(ws, { data: 'big', policies: [{ name: 'cand', spec: `column:${pCols}` }], interval: 't', rewardModel: `columns:${qCols}` }),
    );
    for (const [label, r] of [['list', listRun], ['scalar', scalarRun]] as const) {
      const e = r.candidates[0]!.estimates;
      console.log(`  ${label}: ${e.map((x) => `${x.estimator}=${x.value.toFixed(5)}`).join(' ')}`);
    }
    }

    await timed(`write ${NB.toLocaleString()}-row log (setup)`, () => ws.createVersion({ name: 'mid', conn, select: logSelect(NB), metadata: meta }));
    const boot = await timed('evaluate: 9 estimators + 1,000-resample bootstrap, 1M rows', () =>
      evaluate(ws, { data: 'mid', policies: [{ name: 'cand', spec: 'column:cand' }], interval: 'bootstrap', resamples: 1000, rewardModel: 'columns:q', seed: 0 }),
    );
    console.log(`  bootstrap: ${boot.candidates[0]!.estimates.map((x) => `${x.estimator}=[${x.interval!.lower.toFixed(4)}, ${x.interval!.upper.toFixed(4)}]`).join(' ')}`);
    conn.closeSync();
  } finally {
    clearInterval(sampler);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
