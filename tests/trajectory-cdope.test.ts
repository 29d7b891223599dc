/**
 * Cumulative-distribution OPE (src/ope/trajectory/distribution/): CD-IS, CD-SNIS,
 * CD-DR, CD-DM and the behaviour CDF on the hand-computed 3 x 3 table of
 * trajectory-ope-estimators.test.ts (gamma 0.9, two actions), fractional bins,
 * SCOPE-RL's defects not copied, unbiasedness by simulation on Pendulum with
 * exact behaviour log-probabilities, bad input, and the report's chart.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { trajectoryOpeData, discountedReturns, type TrajectoryOpeData } from '../src/ope/trajectory/data.js';
import { trajectoryWeights, type TrajectoryWeights } from '../src/ope/trajectory/weights.js';
import {
  behaviourDistribution,
  candidateDistributions,
  cdDmRaw,
  cdDrRaw,
  cdIsRaw,
  checkDistributionOptions,
  distributionGrid,
  distributionStatistics,
  distributionWarnings,
  empiricalRaw,
  isotonic,
  locationShiftModel,
  projectCdf,
  returnDistributionSettings,
  returnGrid,
  zeroReturnModel,
  type ReturnToGoModel,
} from '../src/ope/trajectory/distribution/index.js';
import { evaluateTrajectoryArrays } from '../src/ope/trajectory/evaluate.js';
import { getTrajectoryEstimator } from '../src/ope/trajectory/estimators/index.js';
import { boxPolicy } from '../src/envs/behavior-policies.js';
import { mountainCarController, pendulumController } from '../src/envs/controllers.js';
import { getEnv } from '../src/envs/registry.js';
import { simulateTrajectories, withTimeLimit } from '../src/ope/trajectory/ground-truth.js';
import { renderTrajectoryHtml, renderTrajectoryMarkdown, writeTrajectoryReport } from '../src/reports/trajectory.js';
import type { TrajectoryEvaluationResult } from '../src/core/trajectory-evaluation-result.js';
import { expectError } from './support/expect-error.js';

// The table of trajectory-ope-estimators.test.ts. pb / pi: behaviour / candidate probability of the LOGGED action.
const G = 0.9;
const pb = [[0.5, 0.5, 0.5], [0.4, 0.6, 0.5], [0.5, 0.25, 0.8]];
const pi = [[0.8, 0.3, 0.6], [0.2, 0.7, 0.9], [0.5, 0.5, 0.4]];
const rew = [[1, 0, 2], [0, 1, 1], [2, 1, 0]];
const V = [[1.0, 0.4, 1.2], [0.5, 0.6, 0.9], [1.5, 0.9, 0.2]];
// Returns sum_t 0.9^t r_t, final rewards counted: 1 + 0.81 * 2, 0.9 + 0.81, 2 + 0.9.
const R0 = 2.62;
const R1 = 1.71;
const R2 = 2.9;
// Trajectory weights prod pi / pb: 1.6 * 0.6 * 1.2, 0.5 * 7/6 * 1.8, 1 * 2 * 0.5.
const W0 = 1.152;
const W1 = 1.05;
const W2 = 1;
const TOL = 1e-12;

function table(): { d: TrajectoryOpeData; w: TrajectoryWeights } {
  const d = trajectoryOpeData(
    {
      episodeId: Float64Array.from([0, 0, 0, 1, 1, 1, 2, 2, 2]),
      step: Int32Array.from([0, 1, 2, 0, 1, 2, 0, 1, 2]),
      rewards: Float64Array.from(rew.flat()),
      behaviorLogprob: Float64Array.from(pb.flat().map(Math.log)),
      terminated: Uint8Array.from([0, 0, 1, 0, 0, 1, 0, 0, 0]),
      truncated: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 1]),
    },
    G,
  );
  return { d, w: trajectoryWeights(d, Float64Array.from(pi.flat().map(Math.log))) };
}

const close = (a: ArrayLike<number>, b: readonly number[]): void => {
  expect(a.length).toBe(b.length);
  for (let j = 0; j < b.length; j++) expect(Math.abs(a[j]! - b[j]!)).toBeLessThan(TOL);
};

/** Mean, variance, CVaR_alpha of the distribution with masses p on points g (hand formulas). */
function stats(g: number[], p: number[], alpha: number): { mean: number; variance: number; cvar: number } {
  const mean = g.reduce((s, x, j) => s + p[j]! * x, 0);
  const variance = g.reduce((s, x, j) => s + p[j]! * (x - mean) ** 2, 0);
  let left = alpha;
  let tail = 0;
  for (let j = 0; j < g.length && left > 0; j++) {
    const take = Math.min(left, p[j]!);
    tail += take * g[j]!;
    left -= take;
  }
  return { mean, variance, cvar: tail / alpha };
}

describe('CD-OPE on the hand-computed 3 x 3 table (gamma 0.9)', () => {
  const { d, w } = table();
  const opts = checkDistributionOptions({ estimators: ['cd-is', 'cd-snis'], cvarAlpha: 0.5 });
  const { grid, rule } = distributionGrid(d, opts);

  it('the grid is the sorted distinct returns, every reward counted with gamma^t from t = 0 (the final one too)', () => {
    close(grid, [R1, R0, R2]);
    expect(rule).toBe('the 3 distinct returns');
    // SCOPE-RL drops the final reward (episode 0 would return 1) and discounts by gamma^(t+1) (2.358): neither is a grid point.
    expect(Array.from(grid).some((g) => Math.abs(g - 1) < 1e-9 || Math.abs(g - 0.9 * R0) < 1e-9)).toBe(false);
  });

  it('CD-IS: F(m) = (1/n) sum_i w_i 1{G_i <= m} at every grid point, 0 below the smallest return, projected and completed to 1', () => {
    const [is] = candidateDistributions(d, grid, opts, { weights: w, model: null, candidate: 'c' });
    close(is!.rawCdf, [W1 / 3, (W1 + W0) / 3, (W1 + W0 + W2) / 3]);
    expect(is!.totalMass).toBeCloseTo((W0 + W1 + W2) / 3, 12); // the mean weight, 1.0673 > 1
    close(is!.cdf, [W1 / 3, (W1 + W0) / 3, 1]);
    // Below the smallest return the CDF is 0 (SCOPE-RL: w_(1)/n): a grid starting below it shows it.
    const below = cdIsRaw(d, w, Float64Array.from([1.0, R1, R0, R2]));
    close(below, [0, W1 / 3, (W1 + W0) / 3, (W1 + W0 + W2) / 3]);
    const p = [W1 / 3, W0 / 3, 1 - (W1 + W0) / 3];
    const h = stats([R1, R0, R2], p, 0.5);
    expect(Math.abs(is!.mean! - h.mean)).toBeLessThan(TOL);
    expect(Math.abs(is!.variance! - h.variance)).toBeLessThan(TOL);
    expect(Math.abs(is!.cvar! - (W1 / 3 * R1 + (0.5 - W1 / 3) * R0) / 0.5)).toBeLessThan(TOL);
    expect(Math.abs(is!.cvar! - h.cvar)).toBeLessThan(TOL);
    // F = 0.35, 0.734, 1: quantiles 0.1, 0.25 -> 1.71; 0.5 -> 2.62; 0.75, 0.9 -> 2.9
    expect(is!.quantiles).toEqual([
      { level: 0.1, value: R1 },
      { level: 0.25, value: R1 },
      { level: 0.5, value: R0 },
      { level: 0.75, value: R2 },
      { level: 0.9, value: R2 },
    ]);
  });

  it('quantile levels of your choosing (--cdf-quantiles): sorted and deduplicated, each the smallest return with F >= level', () => {
    const own = checkDistributionOptions({ estimators: ['cd-is'], quantileLevels: [0.74, 0.3, 0.74, 0.36] });
    expect(own.quantileLevels).toEqual([0.3, 0.36, 0.74]);
    const [is] = candidateDistributions(d, grid, own, { weights: w, model: null, candidate: 'c' });
    // F = 0.35, 0.734, 1 at R1, R0, R2
    expect(is!.quantiles).toEqual([
      { level: 0.3, value: R1 },
      { level: 0.36, value: R0 },
      { level: 0.74, value: R2 },
    ]);
    expect(returnDistributionSettings(d, { grid, rule }, own).behaviour.quantiles.map((q) => q.level)).toEqual([0.3, 0.36, 0.74]);
  });

  it('CD-IS with mean weight below 1: the missing mass goes to the largest return, so its mean is TIS + (1 - mean w) G_max', () => {
    const low = { ...w, final: Float64Array.from([0.5, 0.8, 1]) }; // episodes 0, 1, 2: returns 2.62, 1.71, 2.9
    const e = distributionStatistics(grid, projectCdf(cdIsRaw(d, low, grid)), 0.5, [0.5]);
    const tis = (0.5 * R0 + 0.8 * R1 + 1 * R2) / 3;
    expect(Math.abs(e.mean - (tis + (1 - 2.3 / 3) * R2))).toBeLessThan(TOL);
  });

  it('all weights zero: no distribution (statistics null, CDF_MASS warned); all returns equal: a one-point grid', () => {
    const zero = { ...w, final: new Float64Array(3) };
    const [is, sn] = candidateDistributions(d, grid, opts, { weights: zero, model: null, candidate: 'z' });
    for (const e of [is!, sn!]) {
      expect(e.rawCdf).toEqual([0, 0, 0]);
      expect([e.mean, e.variance, e.cvar]).toEqual([null, null, null]);
      expect(e.quantiles.every((q) => q.value === null)).toBe(true);
    }
    expect(distributionWarnings([is!, sn!], 'z').map((x) => x.code)).toEqual(['CDF_MASS']);
    const flat = returnGrid(Float64Array.from([1.5, 1.5, 1.5]), 10);
    close(flat.grid, [1.5]);
    const e = distributionStatistics(flat.grid, projectCdf(Float64Array.from([0.7])), 0.1, [0.5]);
    close([e.mean, e.variance, e.cvar, e.quantiles[0]!.value], [1.5, 0, 1.5, 1.5]);
  });

  it('CD-SNIS: divided by sum_i w_i; its mean is SNTIS', () => {
    const [, sn] = candidateDistributions(d, grid, opts, { weights: w, model: null, candidate: 'c' });
    const S = W0 + W1 + W2;
    close(sn!.rawCdf, [W1 / S, (W1 + W0) / S, 1]);
    close(sn!.cdf, [W1 / S, (W1 + W0) / S, 1]);
    const h = stats([R1, R0, R2], [W1 / S, W0 / S, W2 / S], 0.5);
    expect(Math.abs(sn!.mean! - (W0 * R0 + W1 * R1 + W2 * R2) / S)).toBeLessThan(TOL);
    expect(Math.abs(sn!.variance! - h.variance)).toBeLessThan(TOL);
    expect(Math.abs(sn!.cvar! - h.cvar)).toBeLessThan(TOL);
    // F = 0.3279, 0.6877, 1
    expect(sn!.quantiles.map((q) => q.value)).toEqual([R1, R1, R0, R2, R2]);
  });

  it('the behaviour CDF is the empirical CDF of the logged returns; its mean is the behaviour value', () => {
    const b = behaviourDistribution(d, grid, opts);
    close(b.cdf, [1 / 3, 2 / 3, 1]);
    const h = stats([R1, R0, R2], [1 / 3, 1 / 3, 1 / 3], 0.5);
    expect(Math.abs(b.mean! - (R0 + R1 + R2) / 3)).toBeLessThan(TOL);
    expect(Math.abs(b.variance! - h.variance)).toBeLessThan(TOL);
    expect(Math.abs(b.cvar! - (R1 / 3 + (0.5 - 1 / 3) * R0) / 0.5)).toBeLessThan(TOL);
  });

  it('fractional bins split a return between its grid neighbours linearly, keeping the mean', () => {
    const g = Float64Array.from([1.5, 2.0, 2.5, 3.0]);
    // 1.71 -> 0.58 at 1.5, 0.42 at 2.0; 2.62 -> 0.76 at 2.5, 0.24 at 3.0; 2.9 -> 0.2 at 2.5, 0.8 at 3.0
    close(empiricalRaw(d, g), [0.58 / 3, 1 / 3, 1.96 / 3, 1]);
    const b = behaviourDistribution(d, g, opts);
    expect(Math.abs(b.mean! - (R0 + R1 + R2) / 3)).toBeLessThan(TOL);
    // two grid points (quantiles 0 and 1 of the returns): 2.62 splits between 1.71 and 2.9
    const two = returnGrid(discountedReturns(d), 2);
    close(two.grid, [R1, R2]);
    expect(two.rule).toBe('2 quantiles of the 3 returns');
    const lam = (R0 - R1) / (R2 - R1);
    close(empiricalRaw(d, two.grid), [(1 + (1 - lam)) / 3, 1]);
    const sn = candidateDistributions(d, two.grid, { ...opts, estimators: ['cd-snis'] }, { weights: w, model: null, candidate: 'c' })[0]!;
    expect(Math.abs(sn.mean! - (W0 * R0 + W1 * R1 + W2 * R2) / (W0 + W1 + W2))).toBeLessThan(TOL);
    expect(Math.abs(behaviourDistribution(d, two.grid, opts).mean! - (R0 + R1 + R2) / 3)).toBeLessThan(TOL);
  });

  it('a quantile grid on many returns holds the smallest and largest return and keeps the behaviour mean', () => {
    const x = Float64Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 + i / 100);
    const { grid: q, rule: r } = returnGrid(x, 50);
    expect(q.length).toBe(50);
    expect(r).toBe('50 quantiles of the 1000 returns');
    expect(q[0]).toBe(Math.min(...x));
    expect(q[49]).toBe(Math.max(...x));
    for (let j = 1; j < q.length; j++) expect(q[j]!).toBeGreaterThan(q[j - 1]!);
  });

  it('CD-DR: the zero model gives CD-IS; a model below / above the grid adds 1 - mean(w) / nothing (telescoping)', () => {
    const zero = cdDrRaw(d, w, zeroReturnModel(d.n), grid);
    close(zero, Array.from(cdIsRaw(d, w, grid)));
    const shifted = (c: number): ReturnToGoModel => ({ center: new Float64Array(d.n).fill(c), noise: () => ({ offsets: Float64Array.from([0]), probs: Float64Array.from([1]) }), source: 'test' });
    const meanW = (W0 + W1 + W2) / 3;
    close(cdDrRaw(d, w, shifted(-100), grid), [W1 / 3 + 1 - meanW, (W1 + W0) / 3 + 1 - meanW, 1]);
    close(cdDrRaw(d, w, shifted(100), grid), Array.from(cdIsRaw(d, w, grid)));
  });

  it('CD-DR by hand with a one-atom model V(s_t): the atoms at P_t + gamma^t V(s_t) weighted by w_{0:t-1} - w_{0:t}', () => {
    const model: ReturnToGoModel = { center: Float64Array.from(V.flat()), noise: () => ({ offsets: Float64Array.from([0]), probs: Float64Array.from([1]) }), source: 'test' };
    const g = Float64Array.from([0, 1, 2, 3]);
    const wc = [[1.6, 0.96, 1.152], [0.5, 0.5 * (7 / 6), 1.05], [1, 2, 1]];
    // atoms (value, mass * 3): episode i, step t at P_t + 0.9^t V, mass w_{t-1} - w_t; final at G_i with w_{T-1}
    const atoms: [number, number][] = [];
    const P = [[0, 1, 1], [0, 0, 0.9], [0, 2, 2.9]];
    for (let i = 0; i < 3; i++) {
      for (let t = 0; t < 3; t++) atoms.push([P[i]![t]! + G ** t * V[i]![t]!, (t === 0 ? 1 : wc[i]![t - 1]!) - wc[i]![t]!]);
    }
    atoms.push([R0, W0], [R1, W1], [R2, W2]);
    // bin by hand: each atom x in (k, k+1] splits (k+1-x) to k and (x-k) to k+1
    const acc = [0, 0, 0, 0];
    for (const [x, m] of atoms) {
      if (x > 3) continue; // above the grid (episode 2, step 2: 2.9 + 0.81 * 0.2): off it
      expect(x).toBeGreaterThanOrEqual(0);
      const k = Math.min(2, Math.max(0, Math.ceil(x) - 1));
      acc[k] += (k + 1 - x) * m;
      acc[k + 1] += (x - k) * m;
    }
    const expected = acc.map((_, j) => acc.slice(0, j + 1).reduce((s, v) => s + v, 0) / 3);
    close(cdDrRaw(d, w, model, g), expected);
  });

  it('CD-DM with the location-shift model: V(s_0) plus the centred step-0 residuals; a constant V gives the empirical CDF', () => {
    const constV = new Float64Array(d.n).fill((R0 + R1 + R2) / 3);
    const model = locationShiftModel(d, constV);
    close(Array.from(model.noise(0).offsets), [R1, R0, R2].map((r) => r - (R0 + R1 + R2) / 3));
    close(cdDmRaw(d, model, grid), [1 / 3, 2 / 3, 1]);
    // the step-2 residuals are the last rewards minus V, centred: 2, 1, 0 -> 1, 0, -1 (sorted -1, 0, 1)
    const m2 = locationShiftModel(d, Float64Array.from(V.flat()));
    close(Array.from(m2.noise(2).offsets), [2 - 1.2, 1 - 0.9, 0 - 0.2].map((e) => e - (0.8 + 0.1 - 0.2) / 3).sort((a, b) => a - b));
  });

  it('projection: isotonic regression, clip to [0, 1], 1 at the last point; statistics read the projected CDF', () => {
    close(isotonic(Float64Array.from([0.2, 0.5, 0.3, 0.9])), [0.2, 0.4, 0.4, 0.9]);
    close(projectCdf(Float64Array.from([-0.1, 0.5, 0.3, 1.2, 1.1])), [0, 0.4, 0.4, 1, 1]);
    const s = distributionStatistics(Float64Array.from([1, 2, 3]), Float64Array.from([0.25, 0.25, 1]), 0.1, [0.25, 0.3]);
    expect(s.mean).toBeCloseTo(0.25 * 1 + 0.75 * 3, 12);
    expect(s.cvar).toBeCloseTo(1, 12);
    expect(s.quantiles).toEqual([{ level: 0.25, value: 1 }, { level: 0.3, value: 3 }]);
  });
});

describe('bad input', () => {
  it('alpha outside (0, 1), bins < 2, bad quantile levels, a bad grid and unknown ids are coded errors', () => {
    expectError(() => checkDistributionOptions({ estimators: ['cd-is'], cvarAlpha: 0 }), 'E_CVAR_ALPHA', 'The CVaR level alpha must lie strictly between 0 and 1, got 0. Use e.g. --cvar-alpha 0.1 (the mean of the worst 10% of returns, the default).');
    expectError(() => checkDistributionOptions({ estimators: ['cd-is'], cvarAlpha: 1 }), 'E_CVAR_ALPHA', /got 1\./);
    expectError(() => checkDistributionOptions({ estimators: ['cd-is'], bins: 1 }), 'E_CDF_BINS', 'The number of CDF grid points must be an integer >= 2, got 1. Use e.g. --cdf-bins 100 (the default).');
    expectError(() => checkDistributionOptions({ estimators: ['cd-is'], bins: 2.5 }), 'E_CDF_BINS', /got 2\.5\./);
    expectError(() => checkDistributionOptions({ estimators: ['cd-is'], quantileLevels: [0.5, 1] }), 'E_QUANTILE_LEVEL', 'Quantile levels must lie strictly between 0 and 1, got 1. Use e.g. --cdf-quantiles 0.1,0.25,0.5,0.75,0.9 (the default; library: distribution.quantileLevels).');
    expectError(() => checkDistributionOptions({ estimators: ['cd-is'], quantileLevels: [0, 0.5, NaN, -0.2] }), 'E_QUANTILE_LEVEL', /strictly between 0 and 1, got 0, NaN, -0\.2\./);
    expectError(() => checkDistributionOptions({ estimators: ['cd-is'], quantileLevels: [] }), 'E_QUANTILE_LEVEL', /\(none were given\)/);
    expectError(() => checkDistributionOptions({ estimators: ['cd-is'], grid: [1, 1, 2] }), 'E_CDF_GRID', /strictly increasing returns \(positions 1 break it\)/);
    expectError(() => checkDistributionOptions({ estimators: ['cd-foo'] }), 'E_UNKNOWN_ESTIMATOR', 'Unknown cumulative-distribution estimator "cd-foo". Distribution estimators: cd-is, cd-snis, cd-dr, cd-dm.');
    expectError(() => checkDistributionOptions({ estimators: [] }), 'E_NO_ESTIMATORS', /No cumulative-distribution estimators/);
    expect(checkDistributionOptions({ estimators: ['all'] }).estimators).toEqual(['cd-is', 'cd-snis', 'cd-dr', 'cd-dm']);
    // a CD id among the value estimators points to the distribution option
    expectError(() => getTrajectoryEstimator('cd-is'), 'E_UNKNOWN_ESTIMATOR', /^Unknown trajectory estimator "cd-is"\..*go in --distribution \(library option distribution\)\.$/);
  });

  it('CD-DR without Q, and weights-based estimators without weights, are refused', () => {
    const { d, w } = table();
    const o = checkDistributionOptions({ estimators: ['cd-dr'] });
    expectError(() => candidateDistributions(d, Float64Array.from([1, 2]), o, { weights: w, model: null, candidate: 'c' }), 'E_NO_Q', /CD-DR needs Q predictions for candidate "c"/);
    expectError(() => candidateDistributions(d, Float64Array.from([1, 2]), checkDistributionOptions({ estimators: ['cd-is'] }), { weights: null, model: null, candidate: 'c' }), 'E_NO_WEIGHTS', /CD-IS needs importance weights/);
  });
});

// Unbiasedness by simulation: MountainCarContinuous cut to 4 steps (reward -0.1 a^2 per step, so the
// return's distribution depends on the policy), gamma 0.9, exact behaviour log-probabilities.
describe('unbiasedness by simulation (MountainCarContinuous, horizon 4, gamma 0.9)', () => {
  const N = 100;
  const REPS = 300;
  const env = withTimeLimit(getEnv('MountainCarContinuous-v0'), 4, true);
  const behaviour = boxPolicy(env, mountainCarController, { epsilon: 0.5, sigma: 1.0 });
  const candidate = boxPolicy(env, mountainCarController, { epsilon: 0.1, sigma: 0.5 });
  type Arrays = ReturnType<typeof simulateTrajectories>;
  const weightsOf = (a: Arrays): { d: TrajectoryOpeData; w: TrajectoryWeights } => {
    const d = trajectoryOpeData(a, 0.9);
    const lp = new Float64Array(a.n);
    for (let r = 0; r < a.n; r++) lp[r] = candidate.logProb(Float64Array.from(a.observations.subarray(2 * r, 2 * r + 2)), a.actions.subarray(r, r + 1));
    return { d, w: trajectoryWeights(d, lp) };
  };
  // A fixed model of the return-to-go (any fixed model keeps CD-DR unbiased): V(s) from the speed, noise atoms from independent episodes.
  const vOf = (a: Arrays): Float64Array => Float64Array.from({ length: a.n }, (_, r) => -0.1 - 10 * a.observations[2 * r + 1]!);
  it('CD-IS and CD-DR averaged over replications match the rollout CDF at fixed thresholds within 4 standard errors; CD-DR varies less', () => {
    const truthData = trajectoryOpeData(simulateTrajectories(env, candidate, 20_000, 'cdope-truth'), 0.9);
    const sorted = Float64Array.from(discountedReturns(truthData)).sort();
    const grid = Float64Array.from([0.2, 0.4, 0.6, 0.8].map((q) => sorted[Math.floor(q * sorted.length)]!));
    // the truth: the rollouts' mean of the smoothed indicators h_j(G) (the same fractional bins)
    const truth = empiricalRaw(truthData, grid);
    const indep = simulateTrajectories(env, behaviour, 400, 'cdope-model');
    const indepData = trajectoryOpeData(indep, 0.9);
    const noise = locationShiftModel(indepData, vOf(indep)).noise;
    const behaviourCdf = empiricalRaw(indepData, grid);
    const acc = { is: [0, 0, 0, 0], is2: [0, 0, 0, 0], dr: [0, 0, 0, 0], dr2: [0, 0, 0, 0] };
    for (let k = 0; k < REPS; k++) {
      const a = simulateTrajectories(env, behaviour, N, `cdope-rep:${k}`);
      const { d, w } = weightsOf(a);
      const is = cdIsRaw(d, w, grid);
      const dr = cdDrRaw(d, w, { center: vOf(a), noise, source: 'test' }, grid);
      for (let j = 0; j < grid.length; j++) {
        acc.is[j] += is[j]!;
        acc.is2[j] += is[j]! ** 2;
        acc.dr[j] += dr[j]!;
        acc.dr2[j] += dr[j]! ** 2;
      }
    }
    const n = truthData.episodes.count;
    for (let j = 0; j < grid.length; j++) {
      const tSe = Math.sqrt((truth[j]! * (1 - truth[j]!)) / n); // h_j in [0, 1]: a bound on the truth's standard error
      const sd: number[] = [];
      for (const [m, m2] of [[acc.is[j]!, acc.is2[j]!], [acc.dr[j]!, acc.dr2[j]!]] as const) {
        const mean = m / REPS;
        sd.push(Math.sqrt(Math.max(0, m2 / REPS - mean * mean) * (REPS / (REPS - 1))));
        const se = Math.sqrt((sd[sd.length - 1]! ** 2) / REPS + tSe * tSe);
        expect(Math.abs(mean - truth[j]!)).toBeLessThan(4 * se);
        // the test has power: the behaviour policy's CDF is far outside that band
        expect(Math.abs(behaviourCdf[j]! - truth[j]!)).toBeGreaterThan(8 * se);
      }
      // the model's control variates cut the spread at every threshold (measured: 0.22-0.29 vs 0.40-0.52)
      expect(sd[1]!).toBeLessThan(0.8 * sd[0]!);
    }
  }, 60_000);
});

describe('evaluation and report', () => {
  it('evaluateTrajectoryArrays carries the grid, the CDFs and the behaviour CDF; the report renders a CDF chart and the table', async () => {
    const env = withTimeLimit(getEnv('pendulum'), 4, true);
    const behaviour = boxPolicy(env, pendulumController, { epsilon: 0.5, sigma: 1.0 });
    const candidate = boxPolicy(env, pendulumController, { epsilon: 0.3, sigma: 0.8 });
    const { asContinuousPolicy } = await import('../src/ope/trajectory/ground-truth.js');
    const a = simulateTrajectories(env, behaviour, 60, 'cdope-eval');
    const ev = await evaluateTrajectoryArrays(a, {
      gamma: 0.9,
      candidates: [{ name: 'cand', spec: asContinuousPolicy(candidate, 3, 1) }],
      estimators: ['tis', 'sntis'],
      interval: 't',
      distribution: { estimators: ['cd-is', 'cd-snis'], bins: 20, cvarAlpha: 0.2 },
    });
    const rd = ev.returnDistribution!;
    expect(rd.grid.length).toBe(20);
    expect(rd.gridRule).toBe('20 quantiles of the 60 returns');
    expect(rd.behaviour.mean!).toBeCloseTo(ev.behaviour.value, 10);
    const c = ev.candidates[0]!;
    expect(c.distribution!.grid).toEqual(rd.grid);
    expect(c.distribution!.estimates.map((e) => e.estimator)).toEqual(['cd-is', 'cd-snis']);
    // CD-SNIS's mean is SNTIS (fractional bins keep the mean)
    expect(c.distribution!.estimates[1]!.mean!).toBeCloseTo(c.estimates.find((e) => e.estimator === 'sntis')!.value, 10);
    // CD-IS's raw total mass is the mean trajectory weight
    const { d, w } = (() => {
      const dd = trajectoryOpeData(a, 0.9);
      const lp = new Float64Array(a.n);
      for (let r = 0; r < a.n; r++) lp[r] = candidate.logProb(Float64Array.from(a.observations.subarray(3 * r, 3 * r + 3)), a.actions.subarray(r, r + 1));
      return { d: dd, w: trajectoryWeights(dd, lp) };
    })();
    expect(d.episodes.count).toBe(60);
    const mass = w.final.reduce((s, x) => s + x, 0) / 60;
    expect(c.distribution!.estimates[0]!.totalMass).toBeCloseTo(mass, 12);
    // a CDF_MASS warning exactly when the mean weight is more than 0.2 from 1
    expect(c.warnings.some((x) => x.code === 'CDF_MASS')).toBe(Math.abs(mass - 1) > 0.2);
    const warned = distributionWarnings([{ ...c.distribution!.estimates[0]!, totalMass: 0.5 }], 'cand');
    expect(warned).toEqual([{ code: 'CDF_MASS', message: 'CD-IS of "cand": the raw CDF ends at 0.500 instead of 1 (the mean trajectory weight), so the projection puts 0.500 of the probability on the largest return: its mean, variance and upper quantiles lean on that. CD-SNIS is a distribution by construction.' }]);
    expect(distributionWarnings([{ ...c.distribution!.estimates[0]!, totalMass: 1.1 }], 'cand')).toEqual([]);

    const result = {
      setting: 'trajectory',
      schema: 'offpolicy.evaluation/1',
      toolkitVersion: 'test',
      createdAt: '2026-01-01T00:00:00Z',
      seed: 0,
      dataset: ev.dataset,
      behaviour: { value: ev.behaviour.value },
      settings: { estimators: ['tis', 'sntis'], interval: 't', alpha: 0.05, gamma: 0.9 },
      candidates: [{ name: 'cand', source: 'sim', kind: c.kind, estimates: c.estimates.map(({ terms: _t, ...e }) => e), weights: null, warnings: [], verdict: { outcome: 'inconclusive', recommended: false, lowerBound: 0, lowerBoundSource: 'tis', caveats: [], baseline: 0, strict: false, sentence: 'x' }, valueRange: [-100, 0], distribution: c.distribution }],
      selection: null,
      returnDistribution: rd,
      warnings: [],
    } as unknown as TrajectoryEvaluationResult;
    const md = renderTrajectoryMarkdown(result);
    expect(md).toContain('## Return distribution: cand');
    expect(md).toMatch(/\| CD-SNIS \| [-\d.]+ \| [\d.]+ \| [-\d.]+ \|/);
    expect(md).toContain('| behaviour (logged) |');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cdope-report-'));
    try {
      const { files } = await writeTrajectoryReport(result, ['html', 'md'], dir);
      expect(files.some((f) => f.endsWith(path.join('charts', 'cdf-cand.svg')))).toBe(true);
      const html = await readFile(path.join(dir, 'report.html'), 'utf8');
      expect(html).toContain('data-chart="cdf-cand"');
      expect((html.match(/<path/g) ?? []).length).toBeGreaterThan(3);
      const mdFile = await readFile(path.join(dir, 'report.md'), 'utf8');
      expect(mdFile).toContain('](charts/cdf-cand.svg)');
      expect(renderTrajectoryHtml(result)).toContain('Return distribution: cand');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('offpolicy evaluate --distribution (CLI)', () => {
  it('writes the CD estimates, the behaviour CDF and the grid; report renders the chart; bad flags are coded errors', async () => {
    const [{ Workspace }, { generateTrajectories, writeTrajectoryDataset }, { runCli }, { writeFile }] = await Promise.all([
      import('../src/datasets/workspace.js'),
      import('../src/envs/trajectories.js'),
      import('./support/run-cli.js'),
      import('node:fs/promises'),
    ]);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cdope-cli-'));
    try {
      const ws = await Workspace.open(path.join(dir, 'ws'));
      await writeTrajectoryDataset(ws, 'cart', generateTrajectories({ env: 'cartpole', policy: 'medium', episodes: 30, seed: 5 }));
      await writeFile(path.join(dir, 'uniform.json'), '{"type":"uniform"}');
      const base = ['--workspace', path.join(dir, 'ws'), 'evaluate', '--data', 'cart', '--policy', `uniform=${path.join(dir, 'uniform.json')}`, '--interval', 't', '--gamma', '0.95'];
      const out = path.join(dir, 'res.json');
      const r = await runCli([...base, '--estimators', 'tis,sntis', '--distribution', 'cd-is,cd-snis', '--cdf-bins', '12', '--cvar-alpha', '0.2', '--out', out]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/Return distribution \(12 quantiles of the 30 returns\):/);
      expect(r.out).toMatch(/\(behaviour\)\s+behaviour/);
      const res = JSON.parse(await readFile(out, 'utf8')) as TrajectoryEvaluationResult;
      const rd = res.returnDistribution!;
      expect(rd.grid.length).toBe(12);
      expect(rd.cvarAlpha).toBe(0.2);
      expect(rd.behaviour.mean!).toBeCloseTo(res.behaviour.value, 9);
      const c = res.candidates[0]!;
      expect(c.distribution!.estimates.map((e) => e.estimator)).toEqual(['cd-is', 'cd-snis']);
      for (const e of c.distribution!.estimates) {
        expect(e.cdf.length).toBe(12);
        expect(e.cdf[11]).toBe(1);
        for (let j = 1; j < 12; j++) expect(e.cdf[j]!).toBeGreaterThanOrEqual(e.cdf[j - 1]!);
      }
      expect(c.distribution!.estimates[1]!.mean!).toBeCloseTo(c.estimates.find((e) => e.estimator === 'sntis')!.value, 9);
      const rep = await runCli(['report', '--results', out, '--out', path.join(dir, 'report')]);
      expect(rep.code).toBe(0);
      const md = await readFile(path.join(dir, 'report', 'report.md'), 'utf8');
      expect(md).toContain('## Return distribution: uniform');
      expect(md).toContain('](charts/cdf-uniform.svg)');
      expect(await readFile(path.join(dir, 'report', 'charts', 'cdf-uniform.svg'), 'utf8')).toMatch(/^<svg/);

      const bad = await runCli([...base, '--distribution', 'cd-is', '--cvar-alpha', '1.5', '--out', path.join(dir, 'x.json')]);
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(/E_CVAR_ALPHA.*got 1\.5/s);
      const bins = await runCli([...base, '--distribution', 'cd-is', '--cdf-bins', '1', '--out', path.join(dir, 'x.json')]);
      expect(bins.code).toBe(2);
      expect(bins.err).toMatch(/E_CDF_BINS.*integer >= 2, got 1/s);
      const stray = await runCli([...base, '--cdf-bins', '10', '--out', path.join(dir, 'x.json')]);
      expect(stray.code).toBe(2);
      expect(stray.err).toMatch(/E_CLI_ARG.*--cdf-bins apply to cumulative-distribution OPE only/s);

      // --cdf-quantiles: sorted, deduplicated, in the result, the console table and the report; bad levels are coded errors
      const qOut = path.join(dir, 'q.json');
      const q = await runCli([...base, '--estimators', 'tis', '--distribution', 'cd-is', '--cdf-quantiles', '0.9, 0.05,0.5,0.9', '--out', qOut]);
      expect(q.err).toBe('');
      expect(q.code).toBe(0);
      const qRes = JSON.parse(await readFile(qOut, 'utf8')) as TrajectoryEvaluationResult;
      expect(qRes.returnDistribution!.quantileLevels).toEqual([0.05, 0.5, 0.9]);
      expect(qRes.returnDistribution!.behaviour.quantiles.map((x) => x.level)).toEqual([0.05, 0.5, 0.9]);
      expect(qRes.candidates[0]!.distribution!.estimates[0]!.quantiles.map((x) => x.level)).toEqual([0.05, 0.5, 0.9]);
      expect(q.out).toMatch(/CVaR 0\.1\s+q0\.05\s+q0\.5\s+q0\.9/);
      expect(r.out).toMatch(/CVaR 0\.2\s+median/);
      expect(r.out).not.toMatch(/q0\.5/);
      expect((await runCli(['report', '--results', qOut, '--out', path.join(dir, 'qreport')])).code).toBe(0);
      expect(await readFile(path.join(dir, 'qreport', 'report.md'), 'utf8')).toContain('| estimator | mean | variance | CVaR 0.1 | q0.05 | q0.5 | q0.9 | raw mass |');
      const outside = await runCli([...base, '--distribution', 'cd-is', '--cdf-quantiles', '0.5,1.2', '--out', path.join(dir, 'x.json')]);
      expect(outside.code).toBe(2);
      expect(outside.err).toMatch(/E_QUANTILE_LEVEL.*strictly between 0 and 1, got 1\.2\./s);
      const word = await runCli([...base, '--distribution', 'cd-is', '--cdf-quantiles', '0.5,median', '--out', path.join(dir, 'x.json')]);
      expect(word.code).toBe(2);
      expect(word.err).toMatch(/E_CLI_ARG.*--cdf-quantiles takes a number, got "median"/s);
      const strayQ = await runCli([...base, '--cdf-quantiles', '0.5', '--out', path.join(dir, 'x.json')]);
      expect(strayQ.code).toBe(2);
      expect(strayQ.err).toMatch(/E_CLI_ARG.*--cdf-quantiles apply to cumulative-distribution OPE only/s);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('stored data with a table candidate and Q columns', () => {
  it('distributions on the lean scan of a table candidate; CD-DR reads Q from the columns; the value estimates are unchanged', async () => {
    const [{ Workspace }, { generateTrajectories, writeTrajectoryDataset }, { openMemoryConnection }, { ingest }, { evaluateTrajectoryDataset }] = await Promise.all([
      import('../src/datasets/workspace.js'),
      import('../src/envs/trajectories.js'),
      import('../src/datasets/duckdb.js'),
      import('../src/datasets/ingest/index.js'),
      import('../src/ope/trajectory/evaluate.js'),
    ]);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cdope-push-'));
    try {
      const ws = await Workspace.open(path.join(dir, 'ws'));
      await writeTrajectoryDataset(ws, 'cart0', generateTrajectories({ env: 'cartpole', policy: 'medium', episodes: 12, seed: 4 }));
      const v = await ws.resolve('cart0');
      const conn = await openMemoryConnection();
      try {
        await conn.run(`COPY (SELECT *, 10 + observation[1] AS q_0, 10 + observation[1] + observation[3] AS q_1 FROM read_parquet('${v.glob}')) TO '${path.join(dir, 'cartq.parquet')}' (FORMAT parquet)`);
        await conn.run(`COPY (SELECT episode_id, step, 0.25 + 0.5 * (observation[3] > 0)::DOUBLE AS p_0, 0.75 - 0.5 * (observation[3] > 0)::DOUBLE AS p_1 FROM read_parquet('${v.glob}')) TO '${path.join(dir, 'soft.parquet')}' (FORMAT parquet)`);
      } finally {
        conn.closeSync();
      }
      await ingest(ws, path.join(dir, 'cartq.parquet'), { name: 'cart', kind: 'trajectory' });
      const base = { gamma: 0.95, candidates: [{ name: 'soft', spec: path.join(dir, 'soft.parquet') }], estimators: ['tis', 'dr'] as const, rewardModel: 'columns:q_0,q_1', interval: 't' as const };
      const pushed = await evaluateTrajectoryDataset(ws, 'cart', { ...base, estimators: [...base.estimators] });
      expect(pushed.backend).toBe('scan');
      expect(pushed.returnDistribution).toBeUndefined();
      const ev = await evaluateTrajectoryDataset(ws, 'cart', { ...base, estimators: [...base.estimators], distribution: { estimators: ['cd-is', 'cd-dr', 'cd-dm'] } });
      expect(ev.backend).toBe('scan');
      expect(ev.returnDistribution!.model).toBe('columns:q_0,q_1 V(s_t) + centred step-t residuals of the logged returns-to-go');
      expect(ev.candidates[0]!.distribution!.estimates.map((e) => e.estimator)).toEqual(['cd-is', 'cd-dr', 'cd-dm']);
      // the same value estimates as without distributions
      for (const e of pushed.candidates[0]!.estimates) expect(ev.candidates[0]!.estimates.find((x) => x.estimator === e.estimator)!.value).toBeCloseTo(e.value, 9);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
