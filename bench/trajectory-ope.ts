/**
 * Trajectory OPE speed and memory (issue 12, item 7): E episodes x T steps,
 * K = 2 discrete actions, the candidate's per-step probabilities p_0, p_1 in a
 * Parquet table keyed by (episode_id, step) and Q as dataset columns q_0, q_1:
 * TIS, PDIS, SNPDIS and DR with t intervals through the library evaluate()
 * (every candidate a table, so only the columns the estimators read are loaded:
 * src/ope/trajectory/evaluate.ts, backend 'scan'). Goals: 1M steps
 * (1,000 x 1,000) under 2 s with peak RSS under 1.5 GB; 10M steps under 15 s.
 * The full load (every column, table rows matched by key: pushdown 'never')
 * on the same data is timed once for comparison (memory=1).
 *
 * The data is synthetic and deterministic (no RNG: hash-based draws in SQL):
 * behaviour P(a = 1) = 0.5 + 0.3 sin(.), the candidate shifts it by at most
 * 0.05, so the log-weights stay finite over 1,000 steps.
 *
 * Each timed step prints wall time, process CPU time (DuckDB threads included),
 * the 1-minute load average and peak RSS; evaluations run `repeats` times.
 *
 * Run: npx tsx bench/trajectory-ope.ts [episodes=1000] [steps=1000] [repeats=3] [memory=1]
 * TRAJ_BENCH_WS=DIR keeps the generated dataset in DIR and reuses it;
 * TRAJ_BENCH_PUSHDOWN=duckdb times the DuckDB window-sum pushdown instead.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lit, openMemoryConnection } from '../src/datasets/duckdb.js';
import { ingest } from '../src/datasets/ingest/index.js';
import { Workspace } from '../src/datasets/workspace.js';
import { evaluate } from '../src/ope/evaluate.js';
import { fmtTiming, mb, once, stopSampling, type Timing } from './measure.js';

const E = Number(process.argv[2] ?? 1000);
const T = Number(process.argv[3] ?? 1000);
const REPEATS = Math.max(1, Number(process.argv[4] ?? 3));
const MEMORY = (process.argv[5] ?? '1') !== '0';


const fmt = (t: Timing): string => fmtTiming(t, { processMax: true });

async function main(): Promise<void> {
  const keep = process.env.TRAJ_BENCH_WS;
  const dir = keep ?? (await mkdtemp(path.join(tmpdir(), 'offpolicy-traj-bench-')));
  const ws = await Workspace.open(path.join(dir, 'ws'));
  const name = `traj_${E}x${T}`;
  const data = path.join(dir, `${name}.parquet`);
  const cand = path.join(dir, `${name}-candidate.parquet`);
  const stored = await ws.resolve(name).then(() => true, () => false);
  if (!existsSync(cand) || !stored) {
    process.stdout.write(`generating ${E} x ${T} = ${(E * T).toLocaleString()} steps...\n`);
    const conn = await openMemoryConnection();
    try {
      // u: a deterministic uniform draw per step; pb1 / pc1: behaviour and candidate P(a = 1)
      const base = `SELECT e.range AS episode_id, s.range::INTEGER AS step,
          0.5 + 0.3 * sin(0.001 * e.range + 0.01 * s.range) AS pb1,
          0.05 * cos(0.002 * e.range + 0.03 * s.range) AS shift,
          (hash(e.range * ${T} + s.range) % 1000000)::DOUBLE / 1000000 AS u
        FROM range(${E}) e, range(${T}) s`;
      await conn.run(`COPY (SELECT episode_id, step, [sin(0.01 * step)::FLOAT, cos(0.001 * episode_id)::FLOAT] AS observation,
          (u < pb1)::INTEGER AS action, CASE WHEN u < pb1 THEN 1.0 ELSE 0.2 END * (1 + 0.1 * sin(step)) AS reward,
          step = ${T - 1} AS terminated, false AS truncated,
          ln(CASE WHEN u < pb1 THEN pb1 ELSE 1 - pb1 END) AS behavior_logprob,
          5 + sin(0.01 * step) AS q_0, 5.5 + cos(0.01 * step) AS q_1
        FROM (${base}) ORDER BY episode_id, step) TO ${lit(data)} (FORMAT parquet)`);
      await conn.run(`COPY (SELECT episode_id, step, 1 - (pb1 + shift) AS p_0, pb1 + shift AS p_1 FROM (${base}) ORDER BY episode_id, step) TO ${lit(cand)} (FORMAT parquet)`);
    } finally {
      conn.closeSync();
    }
    process.stdout.write('ingesting...\n');
    await ingest(ws, data, { name, kind: 'trajectory' });
  }
  const opts = {
    setting: 'trajectory' as const,
    data: name,
    policies: [{ name: 'candidate', spec: cand }],
    estimators: ['tis', 'pdis', 'snpdis', 'dr'],
    interval: 't' as const,
    rewardModel: 'columns:q_0,q_1',
    // TRAJ_BENCH_PUSHDOWN=duckdb times the DuckDB window sums (pushdown.ts) instead of the lean load
    ...(process.env.TRAJ_BENCH_PUSHDOWN ? { trajectory: { pushdown: process.env.TRAJ_BENCH_PUSHDOWN as 'duckdb' } } : {}),
  };
  process.stdout.write(`\nTIS, PDIS, SNPDIS, DR with t intervals, ${(E * T).toLocaleString()} steps (${E} episodes x ${T} steps), evaluate():\n`);
  const times: Timing[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const { out, t } = await once(() => evaluate(ws, opts));
    times.push(t);
    if (r === 0) {
      process.stdout.write(`  backend ${out.settings.backend}; behaviour ${out.behaviour.value.toFixed(4)}\n`);
      for (const e of out.candidates[0]!.estimates) process.stdout.write(`  ${e.estimator.padEnd(7)} ${e.value.toFixed(4)}  [${e.interval!.lower.toFixed(4)}, ${e.interval!.upper.toFixed(4)}]\n`);
    }
    process.stdout.write(`  run ${r + 1}: ${fmt(t)}\n`);
  }
  const walls = times.map((t) => t.wall).sort((a, b) => a - b);
  process.stdout.write(`  best ${walls[0]!.toFixed(3)} s, median ${walls[Math.floor(walls.length / 2)]!.toFixed(3)} s, max peak RSS ${mb(Math.max(...times.map((t) => t.rss)))}\n`);
  if (MEMORY) {
    process.stdout.write('\nthe same, every column loaded (pushdown: never):\n');
    const { out, t } = await once(() => evaluate(ws, { ...opts, pushdown: 'never' }));
    process.stdout.write(`  backend ${out.settings.backend}: ${fmt(t)}\n`);
  }
  if (!keep) await rm(dir, { recursive: true, force: true });
  stopSampling();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
