/**
 * Benchmark: start-up of the compiled CLI (targets: `offpolicy --version` < 0.3 s,
 * `offpolicy datasets list` < 0.6 s).
 *
 * Runs `node bin/offpolicy.js ARGS` as a user's shell would, N times per command,
 * and prints the median, the fastest and the slowest wall time, the child's CPU
 * time (user + system, from the kernel's accounting of waited-for children), and
 * the load average before and after. `datasets list` runs against a temporary
 * workspace holding the sample log (data/bandit-sample.csv), ingested once first.
 * Also prints which heavy packages the library's index loads (none should).
 *
 *   npm run build && npx tsx bench/startup.ts [runs]     (default 15 runs)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin', 'offpolicy.js');
const runs = Number(process.argv[2] ?? 15);

/** Wall and CPU seconds of one `node bin/offpolicy.js ...` run (CPU from /usr/bin/time when present). */
function runOnce(args: string[], env: NodeJS.ProcessEnv): { wall: number; cpu: number | null } {
  const time = '/usr/bin/time';
  const useTime = existsSync(time);
  const cmd = useTime ? time : process.execPath;
  const argv = useTime ? ['-f', 'CPU %U %S', process.execPath, BIN, ...args] : [BIN, ...args];
  const t0 = performance.now();
  const r = spawnSync(cmd, argv, { env, encoding: 'utf8' });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`offpolicy ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const m = /CPU ([\d.]+) ([\d.]+)/.exec(r.stderr ?? '');
  return { wall, cpu: m ? Number(m[1]) + Number(m[2]) : null };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

const HEAVY = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'vega', 'vega-lite', 'h5wasm', 'apache-arrow', '@duckdb/node-api'];

/**
 * The npm packages a fresh Node process loads while importing `file`: an ES module resolve hook lists
 * what `import` resolves, and require.cache what CommonJS `require` loaded (the hook does not see those).
 */
function packagesLoadedBy(file: string): string[] {
  const hook = `export async function resolve(s, c, next) { const r = await next(s, c); const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url); if (m) process.stderr.write('LOADED ' + m[1] + '\\n'); return r; }`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify('data:text/javascript,' + encodeURIComponent(hook))});`;
  const r = spawnSync(process.execPath, ['--import', 'data:text/javascript,' + encodeURIComponent(register), '--input-type=module', '-e', `import { createRequire } from 'node:module'; await import(${JSON.stringify(file)}); for (const k of Object.keys(createRequire(import.meta.url).cache)) process.stderr.write('LOADED ' + (/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(k)?.[1] ?? '') + '\\n');`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`importing ${file} failed: ${r.stderr}`);
  return [...new Set([...r.stderr.matchAll(/^LOADED (\S+)$/gm)].map((m) => m[1]!))].sort();
}

const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

async function main(): Promise<void> {
  if (!existsSync(path.join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first.');
  const ws = await mkdtemp(path.join(tmpdir(), 'offpolicy-bench-startup-'));
  const env = { ...process.env, OFFPOLICY_HOME: ws };
  try {
    execFileSync(process.execPath, [BIN, 'datasets', 'ingest', path.join(ROOT, 'data', 'bandit-sample.csv'), '--name', 'clicks', '--map', 'context=x0,x1,x2,x3,x4', '--no-progress'], { env, stdio: 'ignore' });
    console.log(`load average before: ${load()}   (${runs} runs per command, 1 warm-up run not counted)`);
    // For scale on a loaded machine: a bare `node -e 0` start.
    const bare: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      spawnSync(process.execPath, ['-e', '0']);
      bare.push((performance.now() - t0) / 1000);
    }
    console.log(`node -e 0 (bare start-up)        median ${median(bare).toFixed(3)} s`);
    const targets: [string[], number][] = [
      [['--version'], 0.3],
      [['datasets', 'list'], 0.6],
    ];
    for (const [args, target] of targets) {
      runOnce(args, env);
      const walls: number[] = [];
      const cpus: number[] = [];
      for (let i = 0; i < runs; i++) {
        const r = runOnce(args, env);
        walls.push(r.wall);
        if (r.cpu !== null) cpus.push(r.cpu);
      }
      const med = median(walls);
      console.log(
        `offpolicy ${args.join(' ').padEnd(14)} median ${med.toFixed(3)} s  (min ${Math.min(...walls).toFixed(3)}, max ${Math.max(...walls).toFixed(3)})` +
          `${cpus.length ? `  CPU median ${median(cpus).toFixed(2)} s` : ''}  target < ${target} s: ${med < target ? 'met' : 'NOT met'}`,
      );
    }
    // What the library's index loads: none of the heavy packages until a function needs them.
    const t0 = performance.now();
    const loaded = packagesLoadedBy(path.join(ROOT, 'dist', 'index.js'));
    const wall = (performance.now() - t0) / 1000;
    const heavy = loaded.filter((p) => HEAVY.includes(p));
    console.log(`import("offpolicy") in a fresh process (with a resolve hook): ${wall.toFixed(3)} s; heavy packages loaded: ${heavy.join(', ') || 'none'}`);
    console.log(`load average after: ${load()}`);
  } finally {
    await rm(ws, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
