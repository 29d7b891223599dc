/**
 * Speed target (issue 3): 1M rows, K = 10, all 9 estimators with 1,000-resample
 * percentile-bootstrap intervals in < 5 s. Times row terms + bootstrap (the data
 * generation is not timed). Run: npx tsx bench/ope-bootstrap.ts [rows] [resamples]
 */
import { ESTIMATOR_IDS, rowTermsFor, type BanditBatch } from '../src/ope/estimators/index.js';
import { bootstrapIntervals } from '../src/ope/intervals/bootstrap.js';
import { Rng } from '../src/util/rng.js';

const n = Number(process.argv[2] ?? 1_000_000);
const R = Number(process.argv[3] ?? 1000);
const K = 10;
const rng = new Rng(7);
const actions = new Int32Array(n);
const rewards = new Float64Array(n);
const propensities = new Float64Array(n);
const targetProbs = new Float64Array(n * K);
const rewardHat = new Float64Array(n * K);
const logging = new Float64Array(K);
for (let i = 0; i < n; i++) {
  let z = 0;
  for (let a = 0; a < K; a++) {
    logging[a] = Math.exp(rng.normal());
    z += logging[a]!;
    targetProbs[i * K + a] = 0;
    rewardHat[i * K + a] = rng.uniform();
  }
  const a = rng.categorical(logging);
  actions[i] = a;
  propensities[i] = logging[a]! / z;
  const best = rng.int(K);
  for (let b = 0; b < K; b++) targetProbs[i * K + b] = b === best ? 0.91 : 0.01;
  rewards[i] = rng.uniform() < rewardHat[i * K + a]! ? 1 : 0;
}
const batch: BanditBatch = { n, numActions: K, actions, rewards, propensities, targetProbs, rewardHat };

const t0 = performance.now();
const terms = rowTermsFor(batch, ESTIMATOR_IDS, { clip: 10 });
const t1 = performance.now();
const res = bootstrapIntervals(terms, { alpha: 0.05, seed: 1, resamples: R });
const t2 = performance.now();
console.log(`rows=${n} K=${K} estimators=${terms.length} resamples=${R} mode=${res.mode} units=${res.units}`);
console.log(`row terms: ${((t1 - t0) / 1000).toFixed(3)} s; bootstrap: ${((t2 - t1) / 1000).toFixed(3)} s; total ${((t2 - t0) / 1000).toFixed(3)} s (target < 5 s)`);
ESTIMATOR_IDS.forEach((id, e) => console.log(`  ${id.padEnd(12)} [${res.intervals[e]!.lower.toFixed(4)}, ${res.intervals[e]!.upper.toFixed(4)}]`));
