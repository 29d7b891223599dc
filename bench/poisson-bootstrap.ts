/**
 * Poisson bootstrap speed (issue 14 item 5): 1,000 resamples over the 10M-row
 * Parquet log of bench/ope-10m.ts (K = 10, candidate and reward predictions as
 * DOUBLE[10] columns) in at most twice the time of the point-estimate scan,
 * measured in one run. Timed, interleaved, `repeats` times each:
 *  - point: evaluate() with t intervals (the pushdown path: the one scan of all
 *    nine estimators' sums, certificates, exact weight quantiles);
 *  - resamples: the Poisson bootstrap's query alone (buckets of row_id, then
 *    G x B resample cells) for all nine estimators and the logged reward;
 *  - evaluate() with --interval poisson-bootstrap (point scan + resamples).
 * The ratio is resamples / point (medians). Prints `uptime` before and after.
 *
 * Run: npx tsx bench/poisson-bootstrap.ts [rows=10000000] [resamples=1000] [repeats=3] [buckets=10000]
 * OPE_BENCH_WS=DIR keeps the generated log in DIR (shared with bench/ope-10m.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openMemoryConnection, queryRows } from '../src/datasets/duckdb.js';
import { Workspace } from '../src/datasets/workspace.js';
import { footerStats } from '../src/ope/bandit/backend-duckdb.js';
import { runPoissonBootstrap } from '../src/ope/bandit/poisson-bootstrap-sql.js';
import { DUCKDB } from '../src/ope/bandit/sql-dialect.js';
import { certificateTau } from '../src/ope/bandit/assemble.js';
import { DEFAULT_WEIGHT_QUANTILES } from '../src/ope/diagnostics.js';
import { ESTIMATOR_IDS, resolveParams } from '../src/ope/estimators/index.js';
import { evaluate } from '../src/ope/evaluate.js';
import { ensure, logSelect } from './ope-10m.js';

const N = Number(process.argv[2] ?? 10_000_000);
const B = Number(process.argv[3] ?? 1000);
const REPEATS = Math.max(1, Number(process.argv[4] ?? 3));
const G = Number(process.argv[5] ?? 10_000);

const uptime = (): string => execFileSync('uptime', { encoding: 'utf8' }).trim();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function time(f: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await f();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
}

async function main(): Promise<void> {
  const keep = process.env.OPE_BENCH_WS;
  const dir = keep ?? (await mkdtemp(path.join(tmpdir(), 'offpolicy-bench-poisson-')));
  console.log(`rows ${N}, resamples ${B}, buckets ${G}, repeats ${REPEATS}`);
  console.log(`uptime at start: ${uptime()}`);
  try {
    const ws = await Workspace.open(dir);
    const conn = await openMemoryConnection();
    const name = `big${N}`;
    await ensure(ws, conn, name, logSelect(N));
    const log = await ws.resolve(name);
    const footer = await footerStats(conn, log, ['propensity', 'cand, list, element']);
    const minP = footer.get('propensity')!.min;
    const params = resolveParams({}, N);
    const input = {
      log,
      candidate: { type: 'sql' as const, name: 'cand', source: 'column:cand', probs: { kind: 'list' as const, expr: 'l.cand' } },
      numActions: 10,
      plan: { estimators: ESTIMATOR_IDS, params, tau: certificateTau(params), quantiles: DEFAULT_WEIGHT_QUANTILES, rewardsMayBeNull: false, rewardShift: 0 },
      rewardHat: { kind: 'list' as const, expr: 'l.q' },
      bounds: { maxWeight: footer.get('cand, list, element')!.max / minP, minPropensity: minP },
      estimators: ESTIMATOR_IDS,
      loggedReward: true,
    };
    const common = { data: name, policies: [{ name: 'cand', spec: 'column:cand' }], rewardModel: 'columns:q', seed: 0 };
    const runs: Record<'point' | 'resamples' | 'evaluate', { wall: number; cpu: number }[]> = { point: [], resamples: [], evaluate: [] };
    let boot: Awaited<ReturnType<typeof runPoissonBootstrap>> | undefined;
    for (let r = 0; r < REPEATS; r++) {
      runs.point.push(await time(() => evaluate(ws, { ...common, interval: 't' })));
      runs.resamples.push(await time(async () => (boot = await runPoissonBootstrap(DUCKDB, (sql) => queryRows(conn, sql), input, { alpha: 0.05, seed: 0, resamples: B, buckets: G }))));
      runs.evaluate.push(await time(() => evaluate(ws, { ...common, interval: 'poisson-bootstrap', resamples: B, bootstrapBuckets: G })));
      console.log(`  #${r + 1}: point ${runs.point[r]!.wall.toFixed(3)} s, resamples ${runs.resamples[r]!.wall.toFixed(3)} s, evaluate --interval poisson-bootstrap ${runs.evaluate[r]!.wall.toFixed(3)} s (wall)`);
    }
    const line = (label: string, xs: { wall: number; cpu: number }[]): string =>
      `${label.padEnd(58)} median wall ${median(xs.map((x) => x.wall)).toFixed(3)} s (best ${Math.min(...xs.map((x) => x.wall)).toFixed(3)}), median CPU ${median(xs.map((x) => x.cpu)).toFixed(3)} s`;
    console.log(line('point: evaluate --interval t (one scan, 9 estimators)', runs.point));
    console.log(line(`resamples: Poisson bootstrap query, ${B} resamples`, runs.resamples));
    console.log(line('evaluate --interval poisson-bootstrap (both)', runs.evaluate));
    const ratio = median(runs.resamples.map((x) => x.wall)) / median(runs.point.map((x) => x.wall));
    const cpuRatio = median(runs.resamples.map((x) => x.cpu)) / median(runs.point.map((x) => x.cpu));
    console.log(`ratio resamples / point: wall ${ratio.toFixed(2)}, CPU ${cpuRatio.toFixed(2)} (target <= 2)`);
    console.log(`intervals: ${ESTIMATOR_IDS.map((id, j) => `${id}=[${boot!.intervals[j]!.lower.toFixed(5)}, ${boot!.intervals[j]!.upper.toFixed(5)}]`).join(' ')} logged=[${boot!.intervals[ESTIMATOR_IDS.length]!.lower.toFixed(5)}, ${boot!.intervals[ESTIMATOR_IDS.length]!.upper.toFixed(5)}]`);
    console.log(`uptime at end: ${uptime()}`);
    conn.closeSync();
  } finally {
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

await main();
