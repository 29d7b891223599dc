/**
 * Benchmark: `describe` on a 10,000,000-row bandit log (target: < 2 s, RSS < 2 GB).
 *
 * Builds the log in a temporary workspace straight from DuckDB (range() +
 * random() after setseed), K = 10 actions, a 5-dimensional FLOAT[] context,
 * softmax-like propensities; then times describeDataset and prints the figures.
 *
 *   npx tsx bench/describe.ts [rows]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { openMemoryConnection } from '../src/datasets/duckdb.js';
import { describeDataset } from '../src/datasets/describe.js';
import { Workspace } from '../src/datasets/workspace.js';

const rows = Number(process.argv[2] ?? 10_000_000);
const K = 10;

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-bench-describe-'));
  try {
    const ws = await Workspace.open(dir);
    const conn = await openMemoryConnection();
    await conn.run('SELECT setseed(0.42)');
    const t0 = performance.now();
    // Deterministic pseudo-random columns: hash of the row number, so the build is reproducible
    // whatever the thread schedule (random() after setseed is only reproducible single-threaded).
    const u = (salt: number) => `((hash(i, ${salt}) % 1000000)::DOUBLE / 1000000)`;
    await ws.createVersion({
      name: 'bench',
      conn,
      select: `SELECT i::BIGINT AS row_id,
                      [${[1, 2, 3, 4, 5].map((s) => `${u(s)}::FLOAT`).join(', ')}]::FLOAT[] AS context,
                      (hash(i, 6) % ${K})::INTEGER AS action,
                      (${u(7)} < 0.3)::INTEGER::DOUBLE AS reward,
                      (0.02 + 0.16 * ${u(8)})::DOUBLE AS propensity
               FROM range(${rows}) t(i)`,
      metadata: {
        kind: 'bandit',
        actionSpace: { type: 'discrete', n: K },
        observationSpace: { type: 'box', shape: [5] },
        lineage: { transform: 'bench', params: { rows } },
      },
    });
    conn.closeSync();
    const built = (performance.now() - t0) / 1000;
    const timings: number[] = [];
    const cpu: number[] = [];
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
    for (let rep = 0; rep < 3; rep++) {
      const t = performance.now();
      const c = process.cpuUsage();
      const d = await describeDataset(ws, 'bench');
      timings.push((performance.now() - t) / 1000);
      const dc = process.cpuUsage(c);
      cpu.push((dc.user + dc.system) / 1e6);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      if (rep === 0 && (d.kind !== 'bandit' || d.rows !== rows)) throw new Error('unexpected description');
    }
    clearInterval(sampler);
    const best = Math.min(...timings);
    console.log(`rows: ${rows.toLocaleString('en-US')}`);
    console.log(`build (createVersion from range()): ${built.toFixed(2)} s`);
    console.log(`describe: ${timings.map((t) => t.toFixed(3)).join(' s, ')} s (best ${best.toFixed(3)} s; target < 2 s)`);
    console.log(`describe CPU time (all threads): ${cpu.map((t) => t.toFixed(2)).join(' s, ')} s`);
    console.log(`load average (1 min) during the run: ${loadavg()[0]!.toFixed(2)} (the machine has 2 cores; figures above ~2 are contended)`);
    console.log(`peak RSS: ${(peakRss / 2 ** 20).toFixed(0)} MiB (target < 2048 MiB)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
