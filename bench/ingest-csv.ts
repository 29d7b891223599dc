/**
 * Ingest speed and memory on a 10,000,000-row bandit CSV.
 *
 *   npx tsx bench/ingest-csv.ts [rows]
 *
 * Writes the CSV (row_id, x0..x4, action, reward, propensity; K = 10, a
 * softmax-free uniform logger so propensity = 0.1) into a temp dir with DuckDB,
 * then times `ingest` into a fresh temp workspace and reports rows/s, the peak
 * resident set size of this process during the ingest (DuckDB runs in-process,
 * so its memory is inside RSS; VmHWM is reset after writing the CSV) and an
 * RSS sampled every 25 ms. Targets: >= 1M rows/s, peak RSS < 2 GB.
 * The machine's load average and the ingest's CPU time are printed too: on a
 * shared machine wall time depends on what else runs, CPU time much less.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { lit, openMemoryConnection } from '../src/datasets/duckdb.js';
import { ingest } from '../src/datasets/ingest/index.js';
import { Workspace } from '../src/datasets/workspace.js';

const rows = Number(process.argv[2] ?? 10_000_000);

function peakRssBytes(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-bench-ingest-'));
try {
  const csv = path.join(dir, 'bandit.csv');
  let t0 = performance.now();
  {
    const conn = await openMemoryConnection();
    await conn.run('SELECT setseed(0.42)');
    await conn.run(
      `COPY (SELECT i AS row_id,
                    round(random() * 2 - 1, 6) AS x0, round(random() * 2 - 1, 6) AS x1, round(random() * 2 - 1, 6) AS x2,
                    round(random() * 2 - 1, 6) AS x3, round(random() * 2 - 1, 6) AS x4,
                    (i * 7919 % 10)::INTEGER AS action,
                    (random() < 0.3)::INTEGER AS reward,
                    0.1 AS propensity
             FROM range(${rows}) t(i)) TO ${lit(csv)} (FORMAT csv, HEADER)`,
    );
    conn.closeSync();
  }
  const bytes = statSync(csv).size;
  console.log(`wrote ${rows.toLocaleString()} rows, ${(bytes / 1e6).toFixed(0)} MB CSV in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  (globalThis as { gc?: () => void }).gc?.();
  try {
    writeFileSync('/proc/self/clear_refs', '5'); // reset VmHWM so the peak covers the ingest only
  } catch {
    console.log('(could not reset VmHWM; the peak below includes writing the CSV)');
  }
  const baseRss = process.memoryUsage().rss;
  let sampled = baseRss;
  const timer = setInterval(() => {
    sampled = Math.max(sampled, process.memoryUsage().rss);
  }, 25);
  const ws = await Workspace.open(path.join(dir, 'ws'));
  const load0 = loadavg()[0]!;
  const cpu0 = process.cpuUsage();
  t0 = performance.now();
  const result = await ingest(ws, csv, { name: 'bench' });
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSecs = (cpu.user + cpu.system) / 1e6;
  clearInterval(timer);
  const peak = Math.max(peakRssBytes(), sampled);
  const m = result.version.metadata;
  console.log(`ingest ${result.version.ref}: ${m.rowCount.toLocaleString()} rows in ${secs.toFixed(2)} s = ${(m.rowCount / secs / 1e6).toFixed(2)} M rows/s (${(bytes / secs / 1e6).toFixed(0)} MB/s)`);
  console.log(`CPU time ${cpuSecs.toFixed(1)} s (DuckDB threads included; ${(cpuSecs / secs).toFixed(2)} cores busy on average); 1-min load average before ${load0.toFixed(2)}, after ${loadavg()[0]!.toFixed(2)} on ${(await import('node:os')).cpus().length} cores`);
  console.log(`peak RSS during ingest: ${(peak / 2 ** 30).toFixed(2)} GiB (sampled max ${(sampled / 2 ** 30).toFixed(2)} GiB, before ${(baseRss / 2 ** 20).toFixed(0)} MiB)`);
  console.log(`targets: >= 1.00 M rows/s -> ${m.rowCount / secs >= 1e6 ? 'met' : 'NOT met'}; RSS < 2 GiB -> ${peak < 2 * 2 ** 30 ? 'met' : 'NOT met'}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
