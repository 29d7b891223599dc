// Coverage of the bootstrap intervals of cumulative-distribution OPE (src/ope/trajectory/distribution/intervals.ts) on
// MountainCarContinuous cut to 4 steps (gamma 0.9, exact behaviour log-probabilities; the setting of
// tests/trajectory-cdope-intervals.test.ts): npx tsx bench/cdope-interval-coverage.ts [episodes 1000] [replications 300] [resamples 200] [grid points 201] [pendulum]
import { cpuUsage } from 'node:process';
import { loadavg } from 'node:os';
import { boxPolicy } from '../src/envs/behavior-policies.js';
import { mountainCarController, pendulumController } from '../src/envs/controllers.js';
import { getEnv } from '../src/envs/registry.js';
import { discountedReturns, trajectoryOpeData } from '../src/ope/trajectory/data.js';
import { candidateDistributions, checkDistributionOptions, distributionStatistics, empiricalRaw, projectCdf } from '../src/ope/trajectory/distribution/index.js';
import { simulateTrajectories, withTimeLimit } from '../src/ope/trajectory/ground-truth.js';
import { trajectoryWeights } from '../src/ope/trajectory/weights.js';

const [N, REPS, R, GP] = [Number(process.argv[2] ?? 1000), Number(process.argv[3] ?? 300), Number(process.argv[4] ?? 200), Number(process.argv[5] ?? 201)];
const LEVELS = [0.1, 0.5, 0.9];
// 'pendulum' as 6th argument: Pendulum cut to 4 steps, the policies of tests/trajectory-cdope.test.ts's evaluation test
const PENDULUM = process.argv[6] === 'pendulum';
const env = withTimeLimit(getEnv(PENDULUM ? 'pendulum' : 'MountainCarContinuous-v0'), 4, true);
const OBS = PENDULUM ? 3 : 2;
const behaviour = boxPolicy(env, PENDULUM ? pendulumController : mountainCarController, { epsilon: 0.5, sigma: 1.0 });
const candidate = boxPolicy(env, PENDULUM ? pendulumController : mountainCarController, PENDULUM ? { epsilon: 0.3, sigma: 0.8 } : { epsilon: 0.1, sigma: 0.5 });
const t0 = Date.now();
const c0 = cpuUsage();
const truthData = trajectoryOpeData(simulateTrajectories(env, candidate, 20_000, 'cdope-truth'), 0.9);
const span = [...discountedReturns(truthData), ...discountedReturns(trajectoryOpeData(simulateTrajectories(env, behaviour, 2_000, 'cdint-span'), 0.9))];
const [lo, hi] = [Math.min(...span), Math.max(...span)];
// a fixed grid over both policies' returns: the estimands are the statistics of the rollouts' CDF on it (the mean is the true mean)
const grid = Float64Array.from({ length: GP }, (_, j) => lo - 0.01 + (j * (hi - lo + 0.02)) / (GP - 1));
const truth = distributionStatistics(grid, projectCdf(empiricalRaw(truthData, grid)), 0.1, LEVELS);
const names = ['mean', 'variance', 'CVaR 0.1', ...LEVELS.map((l) => `q${l}`)];
const truthOf = [truth.mean, truth.variance, truth.cvar, ...truth.quantiles.map((q) => q.value)];
const o = checkDistributionOptions({ estimators: ['cd-is', 'cd-snis'], grid: Array.from(grid), quantileLevels: LEVELS });
const acc = o.estimators.map(() => names.map(() => ({ cover: 0, width: 0, bias: 0 })));
for (let k = 0; k < REPS; k++) {
  const a = simulateTrajectories(env, behaviour, N, `cdint-rep:${k}`);
  const d = trajectoryOpeData(a, 0.9);
  const lp = new Float64Array(a.n);
  for (let r = 0; r < a.n; r++) lp[r] = candidate.logProb(Float64Array.from(a.observations.subarray(OBS * r, OBS * r + OBS)), a.actions.subarray(r, r + 1));
  const est = candidateDistributions(d, grid, o, { weights: trajectoryWeights(d, lp), model: null, candidate: 'c' }, { alpha: 0.05, seed: k, resamples: R });
  est.forEach((e, i) => {
    const iv = e.intervals!;
    const point = [e.mean!, e.variance!, e.cvar!, ...e.quantiles.map((q) => q.value!)];
    [iv.mean, iv.variance, iv.cvar, ...iv.quantiles].forEach((b, s) => {
      acc[i]![s]!.bias += (point[s]! - truthOf[s]!) / REPS;
      acc[i]![s]!.cover += b.lower <= truthOf[s]! && truthOf[s]! <= b.upper ? 1 : 0;
      acc[i]![s]!.width += (b.upper - b.lower) / REPS;
    });
  });
}
const cpu = cpuUsage(c0);
console.log(`${PENDULUM ? 'Pendulum' : 'MountainCarContinuous'}, ${REPS} replications of ${N} episodes, ${R} resamples, 95% percentile intervals; truth from 20,000 rollouts on a ${GP}-point grid`);
console.log(`| estimator | ${names.map((n) => `${n} (truth ${truthOf[names.indexOf(n)]!.toPrecision(3)})`).join(' | ')} |`);
o.estimators.forEach((id, i) => console.log(`| ${id.toUpperCase()} | ${acc[i]!.map((x) => `${(x.cover / REPS).toFixed(3)} / ${x.width.toPrecision(2)} / ${x.bias.toPrecision(2)}`).join(' | ')} |`));
console.log(`coverage / mean width / mean error of the estimate; wall ${((Date.now() - t0) / 1000).toFixed(1)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
