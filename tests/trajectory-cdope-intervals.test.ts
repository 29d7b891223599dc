/**
 * Bootstrap intervals of cumulative-distribution OPE (src/ope/trajectory/distribution/intervals.ts):
 * the degenerate case with an exact answer, the same draws as the value estimators' bootstrap
 * (CD-SNIS's mean interval is SNTIS's), seeding, when they run, coverage by simulation on
 * MountainCarContinuous (horizon 4, exact behaviour log-probabilities), and bad input.
 */
import { describe, expect, it } from 'vitest';
import { trajectoryOpeData, discountedReturns, type TrajectoryOpeData } from '../src/ope/trajectory/data.js';
import { trajectoryWeights, type TrajectoryWeights } from '../src/ope/trajectory/weights.js';
import {
  candidateDistributions,
  checkDistributionOptions,
  distributionStatistics,
  empiricalRaw,
  locationShiftModel,
  projectCdf,
  returnDistributionSettings,
} from '../src/ope/trajectory/distribution/index.js';
import { evaluateTrajectoryArrays } from '../src/ope/trajectory/evaluate.js';
import { asContinuousPolicy, simulateTrajectories, withTimeLimit } from '../src/ope/trajectory/ground-truth.js';
import { boxPolicy } from '../src/envs/behavior-policies.js';
import { mountainCarController, pendulumController } from '../src/envs/controllers.js';
import { getEnv } from '../src/envs/registry.js';
import type { ReturnDistributionEstimate } from '../src/core/trajectory-evaluation-result.js';
import { OffpolicyError } from '../src/core/errors.js';
import { expectError } from './support/expect-error.js';

/** n identical episodes of two steps (rewards 1, 0.5; gamma 1: return 1.5), behaviour probability 1/4 and candidate 1/2 per step. */
function identical(n: number): { d: TrajectoryOpeData; w: TrajectoryWeights } {
  const d = trajectoryOpeData(
    {
      episodeId: Float64Array.from({ length: 2 * n }, (_, r) => Math.floor(r / 2)),
      step: Int32Array.from({ length: 2 * n }, (_, r) => r % 2),
      rewards: Float64Array.from({ length: 2 * n }, (_, r) => (r % 2 === 0 ? 1 : 0.5)),
      behaviorLogprob: new Float64Array(2 * n).fill(Math.log(0.25)),
      terminated: Uint8Array.from({ length: 2 * n }, (_, r) => r % 2),
      truncated: new Uint8Array(2 * n),
    },
    1,
  );
  return { d, w: trajectoryWeights(d, new Float64Array(2 * n).fill(Math.log(0.5))) };
}

function expectPointInterval(e: ReturnDistributionEstimate): void {
  const iv = e.intervals!;
  expect(iv).toBeDefined();
  for (const [b, v] of [[iv.mean, e.mean], [iv.variance, e.variance], [iv.cvar, e.cvar]] as const) expect([b.lower, b.upper]).toEqual([v, v]);
  expect(iv.quantiles).toEqual(e.quantiles.map((q) => ({ level: q.level, lower: q.value, upper: q.value })));
  expect(iv.cdf).toEqual({ lower: e.cdf, upper: e.cdf });
  expect(iv.emptyResamples).toBe(0);
}

describe('the degenerate case: all episodes identical', () => {
  it('every interval has zero width and equals the point estimate (CD-IS, CD-SNIS, CD-DR, CD-DM and the behaviour CDF)', () => {
    const { d, w } = identical(8);
    const o = checkDistributionOptions({ estimators: ['all'], grid: [0, 1, 2, 3], cvarAlpha: 0.1, quantileLevels: [0.25, 0.5, 0.9] });
    // V(s_t) = the return-to-go: the model's atoms sit on the return 1.5
    const model = locationShiftModel(d, Float64Array.from({ length: d.n }, (_, r) => (r % 2 === 0 ? 1.5 : 0.5)));
    const ivo = { alpha: 0.05, seed: 3, resamples: 50 };
    const est = candidateDistributions(d, o.grid!, o, { weights: w, model, candidate: 'c' }, ivo);
    // the weight is 4: CD-IS's raw F (4 x half a unit at 1 and 2) is clipped to a point mass at 1; the others are half at 1, half at 2
    expect(est.map((e) => e.mean)).toEqual([1, 1.5, 1.5, 1.5]);
    expect(est.map((e) => e.variance)).toEqual([0, 0.25, 0.25, 0.25]);
    est.forEach(expectPointInterval);
    const settings = returnDistributionSettings(d, { grid: o.grid!, rule: 'given' }, o, undefined, ivo);
    expectPointInterval(settings.behaviour);
    expect(settings.intervals).toEqual({ method: 'bootstrap', alpha: 0.05, resamples: 50, seed: 3 });
  });
});

describe('evaluation: when the intervals run, seeding, and the same draws as the value bootstrap', () => {
  const env = withTimeLimit(getEnv('pendulum'), 4, true);
  const behaviour = boxPolicy(env, pendulumController, { epsilon: 0.5, sigma: 1.0 });
  const candidate = boxPolicy(env, pendulumController, { epsilon: 0.3, sigma: 0.8 });
  const a = simulateTrajectories(env, behaviour, 40, 'cdint-eval');
  const run = (o: { interval: 't' | 'bootstrap'; seed?: number; intervals?: boolean; resamples?: number }, arrays = a) =>
    evaluateTrajectoryArrays(arrays, {
      gamma: 0.9,
      candidates: [{ name: 'cand', spec: asContinuousPolicy(candidate, 3, 1) }],
      estimators: ['sntis'],
      interval: o.interval,
      seed: o.seed ?? 7,
      resamples: o.resamples ?? 300,
      distribution: { estimators: ['cd-is', 'cd-snis'], bins: 15, ...(o.intervals !== undefined ? { intervals: o.intervals } : {}) },
    });

  it('with the bootstrap interval method: every statistic gets an interval; CD-SNIS\'s mean interval is SNTIS\'s (same draws, re-normalised)', async () => {
    const ev = await run({ interval: 'bootstrap' });
    const c = ev.candidates[0]!;
    const [is, sn] = c.distribution!.estimates;
    expect(ev.returnDistribution!.intervals).toEqual({ method: 'bootstrap', alpha: 0.05, resamples: 300, seed: 7 });
    for (const e of [is!, sn!, ev.returnDistribution!.behaviour]) {
      const iv = e.intervals!;
      expect(iv.mean.lower).toBeLessThan(iv.mean.upper);
      expect(iv.variance.lower).toBeLessThan(iv.variance.upper);
      expect(iv.cvar.lower).toBeLessThanOrEqual(iv.cvar.upper);
      expect(iv.cvar.upper).toBeLessThanOrEqual(iv.mean.upper);
      for (const q of iv.quantiles) expect(q.lower).toBeLessThanOrEqual(q.upper);
      expect(iv.cdf.lower.length).toBe(15);
      for (let j = 0; j < 15; j++) {
        expect(iv.cdf.lower[j]!).toBeLessThanOrEqual(iv.cdf.upper[j]!);
        expect(iv.cdf.lower[j]!).toBeGreaterThanOrEqual(0);
      }
      expect(iv.cdf.upper[14]).toBe(1);
      expect(iv.emptyResamples).toBe(0);
    }
    // the data grid holds every logged return, so CD-SNIS's mean is SNTIS on every resample
    const sntis = c.estimates[0]!.interval!;
    expect(sn!.intervals!.mean.lower).toBeCloseTo(sntis.lower, 9);
    expect(sn!.intervals!.mean.upper).toBeCloseTo(sntis.upper, 9);
  }, 30_000);

  it('same seed, same bytes; another seed, other bounds', async () => {
    const one = JSON.stringify((await run({ interval: 'bootstrap', seed: 11 })).candidates[0]!.distribution);
    const two = JSON.stringify((await run({ interval: 'bootstrap', seed: 11 })).candidates[0]!.distribution);
    const other = (await run({ interval: 'bootstrap', seed: 12 })).candidates[0]!.distribution!;
    expect(two).toBe(one);
    const first = JSON.parse(one) as typeof other;
    expect(other.estimates.map((e) => e.mean)).toEqual(first.estimates.map((e) => e.mean));
    expect(other.estimates[1]!.intervals!.mean).not.toEqual(first.estimates[1]!.intervals!.mean);
  }, 30_000);

  it('t intervals: none unless asked (intervals: true); bootstrap: off when asked (intervals: false); one episode: none by default', async () => {
    const t = await run({ interval: 't' });
    expect(t.returnDistribution!.intervals).toBeUndefined();
    expect(t.candidates[0]!.distribution!.estimates.every((e) => e.intervals === undefined)).toBe(true);
    const asked = await run({ interval: 't', intervals: true });
    expect(asked.returnDistribution!.intervals!.method).toBe('bootstrap');
    expect(asked.candidates[0]!.distribution!.estimates.every((e) => e.intervals !== undefined)).toBe(true);
    const off = await run({ interval: 'bootstrap', intervals: false });
    expect(off.returnDistribution!.intervals).toBeUndefined();
    expect(off.returnDistribution!.behaviour.intervals).toBeUndefined();
    const single = simulateTrajectories(env, behaviour, 1, 'cdint-one');
    const oneEp = await run({ interval: 'bootstrap' }, single);
    expect(oneEp.returnDistribution!.intervals).toBeUndefined();
  }, 30_000);

  it('bad input: too few episodes when asked, bad resamples, a non-boolean switch are coded errors', async () => {
    const single = simulateTrajectories(env, behaviour, 1, 'cdint-one');
    const failure = (p: Promise<unknown>) => p.then(() => ({}), (e: OffpolicyError) => ({ code: e.code, message: e.message }));
    expect(await failure(run({ interval: 't', intervals: true }, single))).toEqual({
      code: 'E_TOO_FEW_ROWS',
      message: expect.stringContaining('Bootstrap intervals of the return distribution resample episodes and need at least 2, got 1.'),
    });
    for (const R of [1, 2.5, 0]) {
      expect(await failure(run({ interval: 't', intervals: true, resamples: R }))).toEqual({
        code: 'E_BOOTSTRAP_RESAMPLES',
        message: expect.stringContaining(`The number of bootstrap resamples must be an integer >= 2, got ${R}.`),
      });
    }
    expectError(() => checkDistributionOptions({ estimators: ['cd-is'], intervals: 'yes' as unknown as boolean }), 'E_CDF_INTERVALS', /^distribution\.intervals must be true or false, got "yes"\. Leave it unset/);
    const { d, w } = identical(4);
    const o = checkDistributionOptions({ estimators: ['cd-is'], grid: [0, 1, 2] });
    expectError(() => candidateDistributions(d, o.grid!, o, { weights: w, model: null, candidate: 'c' }, { alpha: 1.5, seed: 0 }), 'E_ALPHA', /strictly between 0 and 1, got 1.5/);
  }, 30_000);
});

describe('coverage by simulation (MountainCarContinuous, horizon 4, gamma 0.9)', () => {
  const env = withTimeLimit(getEnv('MountainCarContinuous-v0'), 4, true);
  const behaviour = boxPolicy(env, mountainCarController, { epsilon: 0.5, sigma: 1.0 });
  const candidate = boxPolicy(env, mountainCarController, { epsilon: 0.1, sigma: 0.5 });
  // at 100 episodes the heavy trajectory weights make the percentile intervals too short (README: coverage 0.78 / 0.81)
  const N = 1000;
  const REPS = 300;
  it('the 95% bootstrap intervals of the CD-SNIS mean and median cover the rollouts\' values in >= 90% of 300 replications of 1000 episodes', () => {
    const truthData = trajectoryOpeData(simulateTrajectories(env, candidate, 20_000, 'cdope-truth'), 0.9);
    const behaviourData = trajectoryOpeData(simulateTrajectories(env, behaviour, 2_000, 'cdint-span'), 0.9);
    // a fixed grid spanning both policies' returns: fractional bins keep the mean, so the estimand is the true mean,
    // and the true median on this grid is read from the rollouts' CDF on the same grid
    let lo = Infinity;
    let hi = -Infinity;
    for (const g of [...discountedReturns(truthData), ...discountedReturns(behaviourData)]) [lo, hi] = [Math.min(lo, g), Math.max(hi, g)];
    const grid = Float64Array.from({ length: 201 }, (_, j) => lo - 0.01 + (j * (hi - lo + 0.02)) / 200);
    const truth = distributionStatistics(grid, projectCdf(empiricalRaw(truthData, grid)), 0.1, [0.5]);
    const o = checkDistributionOptions({ estimators: ['cd-snis'], grid: Array.from(grid), quantileLevels: [0.5] });
    let mean = 0;
    let median = 0;
    let behaviourMedian = 0;
    for (let k = 0; k < REPS; k++) {
      const a = simulateTrajectories(env, behaviour, N, `cdint-rep:${k}`);
      const d = trajectoryOpeData(a, 0.9);
      const lp = new Float64Array(a.n);
      for (let r = 0; r < a.n; r++) lp[r] = candidate.logProb(Float64Array.from(a.observations.subarray(2 * r, 2 * r + 2)), a.actions.subarray(r, r + 1));
      const [sn] = candidateDistributions(d, grid, o, { weights: trajectoryWeights(d, lp), model: null, candidate: 'c' }, { alpha: 0.05, seed: k, resamples: 200 });
      const iv = sn!.intervals!;
      if (iv.mean.lower <= truth.mean && truth.mean <= iv.mean.upper) mean++;
      const q = iv.quantiles[0]!;
      if (q.lower <= truth.quantiles[0]!.value && truth.quantiles[0]!.value <= q.upper) median++;
      const b = distributionStatistics(grid, projectCdf(empiricalRaw(d, grid)), 0.1, [0.5]).quantiles[0]!.value;
      if (q.lower <= b && b <= q.upper) behaviourMedian++;
    }
    console.log(`CD-SNIS 95% bootstrap coverage over ${REPS} replications of ${N} episodes: mean ${mean / REPS}, median ${median / REPS}, behaviour median ${behaviourMedian / REPS}`);
    expect(mean / REPS).toBeGreaterThanOrEqual(0.9);
    expect(median / REPS).toBeGreaterThanOrEqual(0.9);
    expect(mean / REPS).toBeLessThanOrEqual(1);
    // the test has power: the intervals are not so wide that they also cover the behaviour policy's median
    expect(behaviourMedian / REPS).toBeLessThan(0.5);
  }, 60_000);
});

describe('CLI and report', () => {
  it('--interval bootstrap (the default) prints and writes "value [lower, upper]"; --interval t leaves them out unless --cdf-intervals; --no-cdf-intervals; the report shows them and the chart a band', async () => {
    const [{ mkdtemp, readFile, rm, writeFile }, os, path, { Workspace }, { generateTrajectories, writeTrajectoryDataset }, { runCli }, { returnCdfSpec }] = await Promise.all([
      import('node:fs/promises'),
      import('node:os'),
      import('node:path'),
      import('../src/datasets/workspace.js'),
      import('../src/envs/trajectories.js'),
      import('./support/run-cli.js'),
      import('../src/reports/charts/return-cdf.js'),
    ]);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cdint-cli-'));
    try {
      const ws = await Workspace.open(path.join(dir, 'ws'));
      await writeTrajectoryDataset(ws, 'cart', generateTrajectories({ env: 'cartpole', policy: 'medium', episodes: 30, seed: 5 }));
      await writeFile(path.join(dir, 'uniform.json'), '{"type":"uniform"}');
      const base = ['--workspace', path.join(dir, 'ws'), 'evaluate', '--data', 'cart', '--policy', `uniform=${path.join(dir, 'uniform.json')}`, '--gamma', '0.95', '--estimators', 'sntis', '--distribution', 'cd-snis', '--cdf-bins', '12', '--resamples', '200', '--seed', '4'];
      const out = path.join(dir, 'boot.json');
      const r = await runCli([...base, '--out', out]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toContain('Return distribution (12 quantiles of the 30 returns; 95% percentile-bootstrap intervals over episodes, 200 resamples):');
      const res = JSON.parse(await readFile(out, 'utf8')) as import('../src/core/trajectory-evaluation-result.js').TrajectoryEvaluationResult;
      expect(res.returnDistribution!.intervals).toEqual({ method: 'bootstrap', alpha: 0.05, resamples: 200, seed: 4 });
      const sn = res.candidates[0]!.distribution!.estimates[0]!;
      const mean = sn.intervals!.mean;
      expect(mean.lower).toBeLessThan(sn.mean!);
      expect(mean.upper).toBeGreaterThan(sn.mean!);
      expect(r.out).toContain(`${sn.mean!.toFixed(4)} [${mean.lower.toFixed(4)}, ${mean.upper.toFixed(4)}]`);
      // the report: "value [lower, upper]" cells, the sentence, and a band in the chart
      expect((await runCli(['report', '--results', out, '--out', path.join(dir, 'report')])).code).toBe(0);
      const md = await readFile(path.join(dir, 'report', 'report.md'), 'utf8');
      expect(md).toMatch(/\| CD-SNIS \| [-\d.]+ \\\[[-\d.]+, [-\d.]+\\\] \|/);
      expect(md).toContain('95% percentile-bootstrap intervals (200 resamples of the episodes, seed 4');
      const spec = returnCdfSpec('uniform', res.candidates[0]!.distribution!, res.returnDistribution!.behaviour, { bandLabel: 'band' }) as unknown as { layer: { mark: { type: string }; data: { values: { lo: number; hi: number }[] } }[] };
      expect(spec.layer.map((l) => l.mark.type)).toEqual(['area', 'line']);
      expect(spec.layer[0]!.data.values.length).toBe(2 * 12);
      const noBand = returnCdfSpec('uniform', { grid: res.returnDistribution!.grid, estimates: [{ ...sn, intervals: undefined }] }, undefined) as unknown as { layer?: unknown; mark: { type: string } };
      expect(noBand.layer).toBeUndefined();
      expect(noBand.mark.type).toBe('line');
      const svg = await readFile(path.join(dir, 'report', 'charts', 'cdf-uniform.svg'), 'utf8');
      expect(svg).toMatch(/^<svg/);
      expect(svg).toContain('shaded: pointwise 95% band');

      const t = await runCli([...base, '--interval', 't', '--out', path.join(dir, 't.json')]);
      expect(t.code).toBe(0);
      expect(t.out).toContain('Return distribution (12 quantiles of the 30 returns):');
      expect(JSON.parse(await readFile(path.join(dir, 't.json'), 'utf8')).returnDistribution.intervals).toBeUndefined();
      const tAsked = await runCli([...base, '--interval', 't', '--cdf-intervals', '--out', path.join(dir, 'ta.json')]);
      expect(tAsked.code).toBe(0);
      // the same seed and resamples: the same bytes of the distribution as under --interval bootstrap
      expect(JSON.stringify(JSON.parse(await readFile(path.join(dir, 'ta.json'), 'utf8')).candidates[0].distribution)).toBe(JSON.stringify(res.candidates[0]!.distribution));
      const off = await runCli([...base, '--no-cdf-intervals', '--out', path.join(dir, 'off.json')]);
      expect(off.code).toBe(0);
      expect(JSON.parse(await readFile(path.join(dir, 'off.json'), 'utf8')).candidates[0].distribution.estimates[0].intervals).toBeUndefined();
      const bad = await runCli([...base, '--resamples', '1', '--interval', 't', '--cdf-intervals', '--out', path.join(dir, 'x.json')]);
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(/E_BOOTSTRAP_RESAMPLES.*integer >= 2, got 1\./s);
      const stray = await runCli([...base.filter((x, i) => x !== 'cd-snis' && base[i + 1] !== 'cd-snis' && x !== '--cdf-bins' && x !== '12'), '--cdf-intervals', '--out', path.join(dir, 'x.json')]);
      expect(stray.code).toBe(2);
      expect(stray.err).toMatch(/E_CLI_ARG.*--cdf-intervals apply to cumulative-distribution OPE only/s);
      const strayNo = await runCli([...base.filter((x, i) => x !== 'cd-snis' && base[i + 1] !== 'cd-snis' && x !== '--cdf-bins' && x !== '12'), '--no-cdf-intervals', '--out', path.join(dir, 'x.json')]);
      expect(strayNo.err).toMatch(/E_CLI_ARG.*--no-cdf-intervals apply to cumulative-distribution OPE only/s);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('resamples without mass', () => {
  it('are left out, counted, and warned (CDF_EMPTY_RESAMPLES) when only some episodes carry weight', async () => {
    const { distributionWarnings } = await import('../src/ope/trajectory/distribution/index.js');
    const { d } = identical(3);
    // the candidate never takes the logged action in episodes 1 and 2: their weights are 0
    const w = trajectoryWeights(d, Float64Array.from({ length: d.n }, (_, r) => (r < 2 ? Math.log(0.5) : -Infinity)));
    const o = checkDistributionOptions({ estimators: ['cd-snis'], grid: [0, 1, 2, 3] });
    const [sn] = candidateDistributions(d, o.grid!, o, { weights: w, model: null, candidate: 'c' }, { alpha: 0.05, seed: 1, resamples: 300 });
    // P(episode 0 not drawn) = (2/3)^3 = 8/27: about 89 of 300
    expect(sn!.intervals!.emptyResamples).toBeGreaterThan(60);
    expect(sn!.intervals!.emptyResamples).toBeLessThan(120);
    expect(sn!.intervals!.mean).toEqual({ lower: 1.5, upper: 1.5 });
    const warned = distributionWarnings([sn!], 'c');
    expect(warned.map((x) => x.code)).toEqual(['CDF_EMPTY_RESAMPLES']);
    expect(warned[0]!.message).toBe(`CD-SNIS of "c": ${sn!.intervals!.emptyResamples} bootstrap resamples drew only episodes of weight 0 (no distribution); they were left out, so its intervals describe only resamples that drew a weighted episode: few episodes carry the weight.`);
  });
});
