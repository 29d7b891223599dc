/**
 * Speed of one epoch of the exponential-smoothing objective, linear softmax, on a
 * Fashion-MNIST-sized log (57,000 x 784, K = 10, batch 128), against an equivalent
 * PyTorch CPU script (bench/learning_speed_torch.py) on the same data in the same run.
 *
 *   npx tsx bench/learning-speed.ts [--rows 57000] [--dim 784] [--actions 10]
 *
 * Needs Debian's python3-torch (bench/learning-setup.sh; /usr/bin/python3 when present). The data are random (contexts
 * L2-normalised, a softmax logger) written to a temporary file both sides read.
 * One epoch = t(3 epochs) - t(1 epoch), halved, so setup and the certificate pass
 * are excluded on our side; PyTorch times its epoch loop directly. Both train in f32
 * (ours: scores and weight gradient on the wasm SIMD gemm, src/learning/linear-f32.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { learnPolicy, type LearningLog } from '../src/learning/index.js';
import { Rng } from '../src/util/rng.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const n = arg('--rows', 57000), d = arg('--dim', 784), k = arg('--actions', 10);
const rng = new Rng(0);
const contexts = new Float32Array(n * d);
for (let i = 0; i < n; i++) {
  let s = 0;
  for (let j = 0; j < d; j++) {
    const v = Math.max(0, rng.normal());
    contexts[i * d + j] = v;
    s += v * v;
  }
  const inv = 1 / Math.sqrt(s || 1);
  for (let j = 0; j < d; j++) contexts[i * d + j]! *= inv;
}
const actionProbs = new Float64Array(n * k), actions = new Int32Array(n), propensities = new Float64Array(n), rewards = new Float64Array(n);
for (let i = 0; i < n; i++) {
  let t = 0;
  for (let a = 0; a < k; a++) t += (actionProbs[i * k + a] = Math.exp(rng.normal()));
  for (let a = 0; a < k; a++) actionProbs[i * k + a]! /= t;
  const a = rng.categorical(actionProbs, i * k, k);
  actions[i] = a;
  propensities[i] = actionProbs[i * k + a]!;
  rewards[i] = rng.uniform() < 0.3 ? 1 : 0;
}
const log: LearningLog = { n, numActions: k, contextDim: d, contexts, actions, rewards, propensities, actionProbs };
const holdout = 1000 / n; // the softmax class holds rows out for its certificate: train on n - 1000
const time = (epochs: number): [number, number] => {
  const t = process.hrtime.bigint();
  const c = process.cpuUsage();
  learnPolicy(log, { objective: 'es', policyClass: 'softmax', epochs, batchSize: 128, learningRate: 1e-3, seed: 0, holdout });
  const u = process.cpuUsage(c);
  return [Number(process.hrtime.bigint() - t) / 1e9, (u.user + u.system) / 1e6];
};
const load0 = loadavg()[0]!;
const t1 = time(1), t3 = time(3);
const ours = (t3[0] - t1[0]) / 2;
const oursCpu = (t3[1] - t1[1]) / 2;

const dir = mkdtempSync(path.join(tmpdir(), 'offpolicy-speed-'));
try {
  const trainRows = n - Math.round(n * holdout);
  writeFileSync(path.join(dir, 'x.f32'), Buffer.from(contexts.buffer, 0, trainRows * d * 4));
  writeFileSync(path.join(dir, 'a.i32'), Buffer.from(actions.buffer, 0, trainRows * 4));
  writeFileSync(path.join(dir, 'p.f64'), Buffer.from(propensities.buffer, 0, trainRows * 8));
  writeFileSync(path.join(dir, 'r.f64'), Buffer.from(rewards.buffer, 0, trainRows * 8));
  writeFileSync(path.join(dir, 'pi0.f64'), Buffer.from(actionProbs.buffer, 0, trainRows * k * 8));
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'learning_speed_torch.py');
  const torch = (threads: number): [number, number] => {
    const out = execFileSync(existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3', [script, dir, String(trainRows), String(d), String(k), String(threads)], { encoding: 'utf8' });
    const [wall, cpu] = out.trim().split('\n').pop()!.split(' ').map(Number);
    return [wall!, cpu!];
  };
  const torch1 = torch(1), torch2 = torch(2);
  const load1 = loadavg()[0]!;
  const row = (name: string, s: [number, number]): string => `| ${name} | ${s[0].toFixed(3)} | ${s[1].toFixed(3)} | ${(s[0] / ours).toFixed(2)} |`;
  console.log(`rows ${trainRows} x ${d}, K = ${k}, batch 128; load average ${load0.toFixed(1)} -> ${load1.toFixed(1)} (2 cores)`);
  console.log('| implementation | wall s per epoch | CPU s per epoch | wall relative to ours |\n|---|---|---|---|');
  console.log(row('offpolicy (TypeScript, 1 thread)', [ours, oursCpu]));
  console.log(row('PyTorch CPU, 1 thread', torch1));
  console.log(row('PyTorch CPU, 2 threads', torch2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
