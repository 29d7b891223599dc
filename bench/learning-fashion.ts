/**
 * The shape of Aouali et al.'s (ICML 2023) vision experiment on Fashion-MNIST
 * (Debian's dataset-fashion-mnist; run bench/learning-setup.sh first).
 *
 * 5% of the 60,000 training images fit a multinomial logistic regression; the
 * logger is softmax(eta * its logits). One pass over the other 57,000 images
 * makes the log (reward 1 when the action is the label). Contexts are pixels / 255,
 * L2-normalised. Each learner (mixed-logit class unless --class gaussian, prior mean eta * the logger's
 * weights, alpha = 1 - n^(-1/4), tau = n^(-1/4), delta = 0.05) is trained and
 * certified on the log; its test reward is the mean of pi(label | x) over the
 * 10,000 test images.
 *
 *   nice -n 10 npx tsx bench/learning-fashion.ts [--etas 0,0.11,...,1] [--seeds 0,1,2] [--epochs 3] [--lr 0.01] [--learners es,catoni,bernstein,london] [--class mixed-logit|gaussian] [--table] [--chart]
 *
 * Writes bench/results/learning-fashion.json, appending each run as it finishes,
 * so a stopped run is resumed by running it again (cells already there are
 * skipped; a file written with other epochs / lr / draws is refused). The
 * table and the chart (--chart: bench/results/learning-fashion.svg) show the
 * --etas asked for, each cell the mean over the seeds that ran.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fitLogisticRegression } from '../src/datasets/synthetic/logistic-regression.js';
import { learnPolicy, type LearningLog, type ObjectiveName } from '../src/learning/index.js';
import { fixedMixedLogitNoise, linearClassProbs } from '../src/policies/linear-gibbs.js';
import { renderChartSvg } from '../src/reports/svg.js';
import { Rng } from '../src/util/rng.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : def;
};
// linspace(0, 1, 10) rounded to two decimals, as the issue lists it
const etas = arg('--etas', '0,0.11,0.22,0.33,0.44,0.56,0.67,0.78,0.89,1').split(',').map(Number);
const seeds = arg('--seeds', '0,1,2').split(',').map(Number);
const epochs = Number(arg('--epochs', '3'));
const lr = Number(arg('--lr', '0.01'));
const learners = arg('--learners', 'es,catoni,bernstein,london').split(',') as ObjectiveName[];
// --class gaussian (probit) works but costs ~13x a mixed-logit epoch at K = 10 (K^2 normal CDFs per node and row)
const policyClass = arg('--class', 'mixed-logit') as 'mixed-logit' | 'gaussian';
// --out: run seeds in parallel processes, each into its own copy of the results file (then --merge them)
const out = arg('--out', path.join(path.dirname(new URL(import.meta.url).pathname), 'results', policyClass === 'mixed-logit' ? 'learning-fashion.json' : `learning-fashion-${policyClass}.json`));

function findFile(pattern: RegExp): string {
  const files = execFileSync('dpkg', ['-L', 'dataset-fashion-mnist'], { encoding: 'utf8' }).split('\n');
  const f = files.find((x) => pattern.test(x));
  if (!f) throw new Error(`dataset-fashion-mnist has no file matching ${pattern}: run bench/learning-setup.sh`);
  return f;
}
function idx(file: string): Buffer {
  const raw = readFileSync(file);
  return file.endsWith('.gz') ? gunzipSync(raw) : raw;
}
function images(file: string): { n: number; x: Float32Array } {
  const b = idx(file);
  const n = b.readUInt32BE(4), rows = b.readUInt32BE(8), cols = b.readUInt32BE(12);
  const d = rows * cols;
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += (b[16 + i * d + j]! / 255) ** 2;
    const inv = 1 / Math.sqrt(s || 1);
    for (let j = 0; j < d; j++) x[i * d + j] = (b[16 + i * d + j]! / 255) * inv;
  }
  return { n, x };
}
const labels = (file: string): Int32Array => Int32Array.from(idx(file).subarray(8));

const K = 10, d = 784;
const train = images(findFile(/train-images-idx3-ubyte/));
const trainY = labels(findFile(/train-labels-idx1-ubyte/));
const test = images(findFile(/t10k-images-idx3-ubyte/));
const testY = labels(findFile(/t10k-labels-idx1-ubyte/));

type Row = { eta: number; seed: number; learner: string; testReward: number; certificate: number; kl: number; sigma: number; loggingTestReward: number; seconds: number; cpuSeconds?: number; load: number; precision?: string };
const settings = { epochs, lr, batchSize: 128, policyClass, ...(policyClass === 'mixed-logit' ? { trainSamples: 8, certificateSamples: 32 } : { quadratureNodes: 20 }), logger: 'softmax(eta * logistic regression on 5%)' };
const saved = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as { settings: typeof settings; runs: Row[] }) : null;
if (saved && JSON.stringify(saved.settings) !== JSON.stringify(settings)) {
  throw new Error(`${out} holds runs with settings ${JSON.stringify(saved.settings)}, not ${JSON.stringify(settings)}: move it away or pass the same --epochs / --lr`);
}
const results: Row[] = saved?.runs ?? [];
// --merge A.json,B.json: add the runs of other result files (same settings) that this one lacks
for (const other of process.argv.includes('--merge') ? arg('--merge', '').split(',') : []) {
  const o = JSON.parse(readFileSync(other, 'utf8')) as { settings: typeof settings; runs: Row[] };
  if (JSON.stringify(o.settings) !== JSON.stringify(settings)) throw new Error(`${other} was run with other settings`);
  for (const r of o.runs) if (!results.some((x) => x.eta === r.eta && x.seed === r.seed && x.learner === r.learner)) results.push(r);
  writeFileSync(out + '.tmp', JSON.stringify({ settings, runs: results }, null, 2) + '\n');
  renameSync(out + '.tmp', out);
}
const skipRuns = process.argv.includes('--table') || process.argv.includes('--chart') ? process.argv.includes('--run') === false : false;

for (const seed of skipRuns ? [] : seeds) {
  if (etas.every((eta) => learners.every((l) => results.some((r) => r.eta === eta && r.seed === seed && r.learner === l)))) continue;
  // 5% of the training set fits the logger (seeded split); the rest is logged.
  const rng = new Rng(seed);
  const order = Int32Array.from({ length: train.n }, (_, i) => i);
  for (let i = train.n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const nFit = Math.round(0.05 * train.n);
  const fitX = new Float64Array(nFit * d);
  const fitY = new Int32Array(nFit);
  for (let r = 0; r < nFit; r++) {
    fitX.set(train.x.subarray(order[r]! * d, order[r]! * d + d), r * d);
    fitY[r] = trainY[order[r]!]!;
  }
  const model = fitLogisticRegression(fitX, fitY, nFit, d, K, { iterations: 100 });
  // logits on raw x: W (x - m) / s + b  ->  weights W / s, bias b - W . m / s
  const W = new Float64Array(K * d), bvec = new Float64Array(K);
  for (let a = 0; a < K; a++) {
    let b = model.weights[a * (d + 1) + d]!;
    for (let j = 0; j < d; j++) {
      const w = model.weights[a * (d + 1) + j]! / model.std[j]!;
      W[a * d + j] = w;
      b -= w * model.mean[j]!;
    }
    bvec[a] = b;
  }
  const n = train.n - nFit;
  const logX = new Float32Array(n * d);
  const logY = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    logX.set(train.x.subarray(order[nFit + r]! * d, order[nFit + r]! * d + d), r * d);
    logY[r] = trainY[order[nFit + r]!]!;
  }
  for (const eta of etas) {
    if (learners.every((l) => results.some((r) => r.eta === eta && r.seed === seed && r.learner === l))) continue;
    const scaled = { weights: W.map((v) => v * eta), bias: bvec.map((v) => v * eta) };
    const pi0 = linearClassProbs('softmax', { ...scaled, sigma: 1 }, K, d, logX, n);
    const actRng = new Rng(seed).fork(`actions-${eta}`);
    const actions = new Int32Array(n), propensities = new Float64Array(n), rewards = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const a = actRng.categorical(pi0, i * K, K);
      actions[i] = a;
      propensities[i] = pi0[i * K + a]!;
      rewards[i] = a === logY[i] ? 1 : 0;
    }
    const log: LearningLog = { n, numActions: K, contextDim: d, contexts: logX, actions, rewards, propensities, actionProbs: pi0 };
    const testPi0 = linearClassProbs('softmax', { ...scaled, sigma: 1 }, K, d, test.x, test.n);
    let loggingTestReward = 0;
    for (let i = 0; i < test.n; i++) loggingTestReward += testPi0[i * K + testY[i]!]! / test.n;
    for (const learner of learners) {
      if (results.some((r) => r.eta === eta && r.seed === seed && r.learner === learner)) continue;
      const t = Date.now();
      const cpu = process.cpuUsage();
      const cpuOf = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1e6;
      const res = learnPolicy(log, { objective: learner, policyClass, epochs, learningRate: lr, seed, prior: scaled, policySamples: 32 });
      const probs =
        policyClass === 'mixed-logit'
          ? linearClassProbs('mixed-logit', res.params, K, d, test.x, test.n, { noise: fixedMixedLogitNoise(32, K, seed) })
          : linearClassProbs('probit', res.params, K, d, test.x, test.n, { quadratureNodes: 20 });
      let testReward = 0;
      for (let i = 0; i < test.n; i++) testReward += probs[i * K + testY[i]!]! / test.n;
      const row: Row = { eta, seed, learner, testReward, certificate: res.certificate.valueLower, kl: res.kl, sigma: res.params.sigma, loggingTestReward, seconds: (Date.now() - t) / 1000, cpuSeconds: cpuOf(process.cpuUsage(cpu)), load: loadavg()[0]!, precision: 'f32' };
      results.push(row);
      console.log(JSON.stringify(row));
      writeFileSync(out + '.tmp', JSON.stringify({ settings, runs: results }, null, 2) + '\n');
      renameSync(out + '.tmp', out);
    }
  }
}

if (process.argv.includes('--table')) {
  // mean test reward (and certificate) per eta and learner over the seeds run
  const etasRun = etas.filter((eta) => results.some((r) => r.eta === eta));
  const names = [...new Set(results.map((r) => r.learner))];
  console.log(`| eta | seeds | logging | ${names.map((l) => `${l} (certificate)`).join(' | ')} |`);
  console.log(`|---|---|---|${names.map(() => '---').join('|')}|`);
  for (const eta of etasRun) {
    const rs = results.filter((r) => r.eta === eta);
    const m = (xs: number[]): string => (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(3);
    const cells = names.map((l) => {
      const x = rs.filter((r) => r.learner === l);
      return x.length ? `${m(x.map((r) => r.testReward))} (${m(x.map((r) => r.certificate))})` : '-';
    });
    console.log(`| ${eta} | ${[...new Set(rs.map((r) => r.seed))].join(',')} | ${m([...new Set(rs.map((r) => r.loggingTestReward))])} | ${cells.join(' | ')} |`);
  }
}

if (process.argv.includes('--chart')) {
  const mean = new Map<string, { sum: number; n: number }>();
  for (const r of results.filter((x) => etas.includes(x.eta))) {
    for (const [name, v] of [[r.learner, r.testReward], ['logging', r.loggingTestReward]] as const) {
      const key = `${r.eta}|${name}`;
      const m = mean.get(key) ?? { sum: 0, n: 0 };
      m.sum += v;
      m.n++;
      mean.set(key, m);
    }
  }
  const values = [...mean].map(([key, m]) => ({ eta: Number(key.split('|')[0]), learner: key.split('|')[1], reward: m.sum / m.n }));
  const svg = await renderChartSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Fashion-MNIST: test reward of the learned policy vs the logger\'s inverse temperature',
    width: 420,
    height: 260,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'eta', type: 'quantitative', title: 'logger inverse temperature eta' },
      y: { field: 'reward', type: 'quantitative', title: 'test reward', scale: { domain: [0, 1] } },
      color: { field: 'learner', type: 'nominal' },
    },
  });
  writeFileSync(out.replace(/\.json$/, '.svg'), svg);
}
