/**
 * Coverage of the Poisson bootstrap of hashed row buckets by simulation, on the
 * project's synthetic bandit generator (src/datasets/synthetic/bandit.ts) with a
 * known true value: 200 logs of m rows each (consecutive slices of one generated
 * log, so one reward function and logger, each slice keeping its row ids), 95%
 * intervals for IPS, SNIPS and DR (reward model deliberately wrong), in two
 * regimes: fewer rows than buckets (nearly the per-row Poisson bootstrap) and many
 * rows per bucket (blocks of ~20 rows, the regime of large logs).
 *
 * The true value is the candidate's value over the 800,000 generated contexts the
 * slices come from (its error as the population value, ~4e-4, is a fiftieth of an
 * interval's half-width here).
 * bench/poisson-bootstrap-coverage.ts runs more replications next to the
 * in-memory multinomial bootstrap.
 */
import { describe, expect, it } from 'vitest';
import { generateBanditLog, softmaxPolicy } from '../src/datasets/synthetic/bandit.js';
import { trueValue } from '../src/datasets/synthetic/bandit-log.js';
import { ESTIMATORS, type BanditBatch, type EstimatorId } from '../src/ope/estimators/index.js';
import { poissonBootstrapIntervals } from '../src/ope/intervals/poisson-bootstrap.js';
import { tInterval } from '../src/ope/intervals/t.js';
import { sumsFromTerms } from '../src/ope/sums.js';

const K = 5;
const TOTAL = 800_000;
const log = generateBanditLog({ n: TOTAL, numActions: K, contextDim: 5, reward: 'logistic', beta: 1, seed: 2026 });
const candidate = softmaxPolicy(log, 3);
const truth = trueValue(log.expectedRewards, candidate, TOTAL, K);

/** Rows [from, from + m) as a batch; the reward model is 0.8 q* + 0.1 (wrong on purpose). */
function slice(from: number, m: number): BanditBatch & { rowIds: Float64Array } {
  const rewardHat = new Float64Array(m * K);
  for (let j = 0; j < m * K; j++) rewardHat[j] = 0.8 * log.expectedRewards[from * K + j]! + 0.1;
  return {
    n: m,
    numActions: K,
    actions: log.actions.subarray(from, from + m),
    rewards: log.rewards.subarray(from, from + m),
    propensities: log.propensities.subarray(from, from + m),
    targetProbs: candidate.subarray(from * K, (from + m) * K),
    rewardHat,
    rowIds: Float64Array.from({ length: m }, (_, i) => from + i),
  };
}

const IDS: EstimatorId[] = ['ips', 'snips', 'dr'];

function coverage(reps: number, m: number, buckets: number): { cover: number[]; widthRatio: number[] } {
  const cover = IDS.map(() => 0);
  const width = IDS.map(() => 0);
  const widthT = IDS.map(() => 0);
  for (let r = 0; r < reps; r++) {
    const b = slice(r * m, m);
    const terms = IDS.map((id) => ESTIMATORS[id].rowTerms(b, {}));
    const boot = poissonBootstrapIntervals(terms, b.rowIds, { alpha: 0.05, seed: r, resamples: 1000, buckets });
    IDS.forEach((_, j) => {
      const iv = boot.intervals[j]!;
      if (iv.lower <= truth && truth <= iv.upper) cover[j]! += 1;
      width[j]! += iv.upper - iv.lower;
      const t = tInterval(sumsFromTerms(terms[j]!), 0.05);
      widthT[j]! += t.upper - t.lower;
    });
  }
  return { cover: cover.map((c) => c / reps), widthRatio: width.map((w, j) => w / widthT[j]!) };
}

describe('Poisson bootstrap coverage (synthetic generator, known truth)', () => {
  it('95% intervals cover in >= 93% of 200 logs of 500 rows with 10,000 buckets (nearly per-row weights)', () => {
    const { cover, widthRatio } = coverage(200, 500, 10_000);
    IDS.forEach((id, j) => {
      expect(cover[j], `${id} coverage`).toBeGreaterThanOrEqual(0.93);
      // Not trivially wide: the mean width is the delta-method t interval's to within 10%.
      expect(widthRatio[j], `${id} width / t width`).toBeGreaterThan(0.9);
      expect(widthRatio[j], `${id} width / t width`).toBeLessThan(1.1);
    });
  });

  it('95% intervals cover in >= 93% of 200 logs of 4,000 rows in 200 buckets (blocks of ~20 rows)', () => {
    const { cover, widthRatio } = coverage(200, 4000, 200);
    IDS.forEach((id, j) => {
      expect(cover[j], `${id} coverage`).toBeGreaterThanOrEqual(0.93);
      expect(widthRatio[j], `${id} width / t width`).toBeGreaterThan(0.85);
      expect(widthRatio[j], `${id} width / t width`).toBeLessThan(1.15);
    });
  });
});
