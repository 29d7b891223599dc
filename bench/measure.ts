/**
 * Timing for the benchmarks: wall and process CPU time (DuckDB threads
 * included), the 1-minute load average, and peak RSS sampled every 10 ms
 * (a long synchronous loop can hide a peak between samples).
 */
import { loadavg } from 'node:os';

export interface Timing { wall: number; cpu: number; load: number; rss: number }

export const mb = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MB`;

let peak = 0;
let sampler: ReturnType<typeof setInterval> | undefined;

/** Runs f once, timed; starts the RSS sampler on first use (stop it with stopSampling). */
export async function once<T>(f: () => Promise<T>): Promise<{ out: T; t: Timing }> {
  sampler ??= setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  peak = process.memoryUsage().rss;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await f();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { out, t: { wall, cpu: (c.user + c.system) / 1e6, load: loadavg()[0]!, rss: peak } };
}

/** Lets the process exit. */
export function stopSampling(): void {
  if (sampler) clearInterval(sampler);
  sampler = undefined;
}

/** One line; processMax adds the process's exact maximum RSS so far (getrusage: since start). */
export function fmtTiming(t: Timing, opts: { processMax?: boolean } = {}): string {
  const base = `wall ${t.wall.toFixed(3)} s  CPU ${t.cpu.toFixed(3)} s  load ${t.load.toFixed(2)}  peak RSS ${mb(t.rss)}`;
  return opts.processMax ? `${base} (process max ${mb(process.resourceUsage().maxRSS * 1024)})` : base;
}

/** Best CPU and wall microseconds per call of f over `rounds` rounds of `calls` calls, after `warmup` calls. */
export function bestMicros(f: () => void, opts: { calls: number; rounds: number; warmup: number }): { cpu: number; wall: number } {
  for (let i = 0; i < opts.warmup; i++) f();
  let cpu = Infinity;
  let wall = Infinity;
  for (let r = 0; r < opts.rounds; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < opts.calls; i++) f();
    wall = Math.min(wall, ((performance.now() - t0) * 1000) / opts.calls);
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / opts.calls);
  }
  return { cpu, wall };
}
