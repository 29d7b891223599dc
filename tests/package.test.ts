/**
 * The package as a user installs it: the package's files (package.json, README, bin/) with dist/
 * compiled from the current sources by the build config, packed by `npm pack` in a staging folder
 * (so the checkout's own dist/, which other tests and the notebooks use, is left alone); the tarball
 * installed into a fresh project without the network (its lockfile is cut from ours, so `npm ci
 * --offline` takes every package from the npm cache that installing this repository filled), then a
 * TypeScript script there, type-checked against the installed declarations and run: it imports
 * `evaluate`, `Workspace` and `ingest` from 'offpolicy' and evaluates a small CSV log whose
 * estimates are worked out by hand below. The installed `offpolicy` command runs too, and importing
 * the library loads none of the heavy packages (tfjs, vega, h5wasm, apache-arrow, DuckDB).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = process.cwd();
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

let dir = '';
let project = '';

/** A lockfile for {offpolicy (the tarball), @types/node}: our production entries plus @types/node's. */
async function projectLock(tarball: string): Promise<unknown> {
  const lock = JSON.parse(await readFile(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  const typesNode = lock.packages['node_modules/@types/node']!;
  const packages: Record<string, unknown> = {
    '': { name: 'user-project', dependencies: { offpolicy: `file:${tarball}`, '@types/node': typesNode.version } },
    'node_modules/offpolicy': {
      version: pkg.version,
      resolved: `file:${tarball}`,
      license: pkg.license,
      dependencies: pkg.dependencies,
      optionalDependencies: pkg.optionalDependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [k, v] of Object.entries(lock.packages)) {
    if (k === '' || !k.startsWith('node_modules/')) continue;
    const keep = !v.dev || k === 'node_modules/@types/node' || k === 'node_modules/undici-types';
    if (keep) packages[k] = Object.fromEntries(Object.entries(v).filter(([key]) => key !== 'dev' && key !== 'devOptional'));
  }
  return { name: 'user-project', lockfileVersion: 3, requires: true, packages };
}

// A log with K = 2 actions: context (x0, x1), logged action, reward, propensity of the logged action.
const CSV = ['x0,x1,action,reward,propensity', '0.1,1,0,1,0.5', '0.2,0,1,0,0.25', '0.3,1,1,1,0.75', '0.4,0,0,0,0.5', '0.5,1,0,1,0.8', '0.6,0,1,1,0.2'].join('\n') + '\n';

const SCRIPT = `import { evaluate, ingest, Workspace, type EvaluationResult } from 'offpolicy';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const dir = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-user-'));
const csv = path.join(dir, 'log.csv');
await writeFile(csv, ${JSON.stringify(CSV)});
const ws: Workspace = await Workspace.open(path.join(dir, 'ws'));
const { version } = await ingest(ws, csv, { name: 'log', map: { context: 'x0,x1' } });
await writeFile(path.join(dir, 'uniform.json'), JSON.stringify({ type: 'uniform' }));
const result: EvaluationResult = await evaluate(ws, {
  data: 'log',
  policies: [{ name: 'uniform', spec: path.join(dir, 'uniform.json') }],
  estimators: ['ips', 'snips'],
  interval: 't',
  seed: 0,
});
const c = result.candidates[0]!;
console.log(JSON.stringify({ ref: version.ref, rows: version.metadata.rowCount, logging: result.logging.value, estimates: Object.fromEntries(c.estimates.map((e) => [e.estimator, e.value])) }));
`;

describe('the npm package', () => {
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-pack-'));
    const stage = path.join(dir, 'stage');
    await mkdir(stage);
    for (const f of ['package.json', 'README.md', 'bin']) await cp(path.join(ROOT, f), path.join(stage, f), { recursive: true });
    await run(process.execPath, [TSC, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(stage, 'dist')], { cwd: ROOT });
    // The build `prepare` runs is the one just done: pack without scripts.
    const { stdout } = await run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: stage, maxBuffer: 64 * 1024 * 1024 });
    const packed = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    const tarball = path.join(dir, packed[0]!.filename);
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('bin/offpolicy.js');
    expect(files.filter((f) => !/^(dist\/|bin\/|package\.json$|README\.md$)/.test(f))).toEqual([]);

    project = path.join(dir, 'user-project');
    await mkdir(project);
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module', dependencies: { offpolicy: `file:${tarball}` } }, null, 2));
    const lock = (await projectLock(tarball)) as { packages: Record<string, { dependencies?: Record<string, string> }> };
    const root = JSON.parse(await readFile(path.join(project, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    root.dependencies = lock.packages['']!.dependencies!;
    await writeFile(path.join(project, 'package.json'), JSON.stringify(root, null, 2));
    await writeFile(path.join(project, 'package-lock.json'), JSON.stringify(lock, null, 2));
    await run(NPM, ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: project, maxBuffer: 64 * 1024 * 1024 });
    await writeFile(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, types: ['node'], outDir: 'out' }, include: ['main.ts'] }),
    );
    await writeFile(path.join(project, 'main.ts'), SCRIPT);
  }, 900_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('installs without tsx or TypeScript: the package runs compiled JavaScript', () => {
    expect(existsSync(path.join(project, 'node_modules', 'offpolicy', 'dist', 'cli.js'))).toBe(true);
    expect(existsSync(path.join(project, 'node_modules', 'tsx'))).toBe(false);
    expect(existsSync(path.join(project, 'node_modules', 'typescript'))).toBe(false);
  });

  it('type-checks a script against the installed declarations, runs it, and the estimates are the hand-computed ones', async () => {
    await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: project });
    const { stdout } = await run(process.execPath, [path.join('out', 'main.js')], { cwd: project });
    const got = JSON.parse(stdout) as { ref: string; rows: number; logging: number; estimates: Record<string, number> };
    // The uniform candidate gives each action 1/2, so each row's weight is 0.5 / propensity:
    // 1, 2, 2/3, 1, 0.625, 2.5. IPS = mean(w r) = (1 + 0 + 2/3 + 0 + 0.625 + 2.5) / 6;
    // SNIPS = sum(w r) / sum(w); the logging value is the mean reward 4/6.
    const w = [1, 2, 2 / 3, 1, 0.625, 2.5];
    const r = [1, 0, 1, 0, 1, 1];
    const swr = w.reduce((s, wi, i) => s + wi * r[i]!, 0);
    expect(got.ref).toBe('log@1');
    expect(got.rows).toBe(6);
    expect(got.logging).toBeCloseTo(4 / 6, 12);
    expect(got.estimates.ips).toBeCloseTo(swr / 6, 12);
    expect(got.estimates.snips).toBeCloseTo(swr / w.reduce((a, b) => a + b, 0), 12);
  });

  it('a type error in user code is caught against the installed types', async () => {
    await writeFile(path.join(project, 'main.ts'), SCRIPT.replace("interval: 't'", "interval: 'no-such-interval'"));
    const err = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: project }).then(
      () => null,
      (e: { stdout?: string }) => e,
    );
    await writeFile(path.join(project, 'main.ts'), SCRIPT);
    // evaluate() is overloaded (bandit / trajectory / auto), so tsc reports TS2769 naming the bad field.
    expect(err?.stdout).toMatch(/main\.ts\(\d+,\d+\): error TS(2322|2769):[\s\S]*Type '"no-such-interval"' is not assignable to type 'IntervalMethod/);
  });

  it('the installed offpolicy command runs and imports no heavy package to start', async () => {
    const bin = path.join(project, 'node_modules', '.bin', 'offpolicy');
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect((await run(bin, ['--version'], { cwd: project })).stdout.trim()).toBe(pkg.version);
    const { stdout } = await run(bin, ['datasets', 'list'], { cwd: project, env: { ...process.env, OFFPOLICY_HOME: path.join(project, 'ws') } });
    expect(stdout).toBe('No datasets in this workspace.\n');
    // Which npm packages importing the library loads: an ES module resolve hook lists what `import` resolves,
    // require.cache what CommonJS `require` loaded.
    const hook = `export async function resolve(s, c, next) { const r = await next(s, c); const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url); if (m) process.stderr.write('LOADED ' + m[1] + '\\n'); return r; }`;
    const register = `import { register } from 'node:module'; register(${JSON.stringify('data:text/javascript,' + encodeURIComponent(hook))});`;
    const probe = `import { createRequire } from 'node:module'; const lib = await import('offpolicy'); if (typeof lib.evaluate !== 'function') throw new Error('no evaluate');
      for (const k of Object.keys(createRequire(import.meta.url).cache)) { const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(k); if (m) process.stderr.write('LOADED ' + m[1] + '\\n'); }`;
    const { stderr } = await run(process.execPath, ['--import', 'data:text/javascript,' + encodeURIComponent(register), '--input-type=module', '-e', probe], { cwd: project });
    const loaded = new Set([...stderr.matchAll(/^LOADED (\S+)$/gm)].map((m) => m[1]!));
    expect(loaded.has('offpolicy')).toBe(true);
    for (const heavy of ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'vega', 'vega-lite', 'h5wasm', 'apache-arrow', '@duckdb/node-api']) {
      expect(loaded.has(heavy), `${heavy} loaded by import('offpolicy')`).toBe(false);
    }
  });
});
