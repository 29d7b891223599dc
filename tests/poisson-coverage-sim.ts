/**
 * The coverage simulation of the Poisson bootstrap (tests/poisson-bootstrap-coverage.test.ts,
 * bench/poisson-bootstrap-coverage.ts): the project's synthetic bandit generator
 * (src/datasets/synthetic/bandit.ts) with a known true value, `reps` logs of m rows
 * each (consecutive slices of one generated log, so one reward function and logger,
 * each slice keeping its row ids), 95% intervals for IPS, SNIPS and DR (reward model
 * 0.8 q* + 0.1, wrong on purpose).
 *
 * The true value is the candidate's value over the generated contexts the slices
 * come from (800,000 by default: its error as the population value, ~4e-4, is a
 * fiftieth of an interval's half-width at m = 4,000).
 */
import { generateBanditLog, softmaxPolicy } from '../src/datasets/synthetic/bandit.js';
import { trueValue } from '../src/datasets/synthetic/bandit-log.js';
import type { Interval } from '../src/core/evaluation-result.js';
import { ESTIMATORS, type BanditBatch, type EstimatorId, type RowTerms } from '../src/ope/estimators/index.js';
import { tInterval } from '../src/ope/intervals/t.js';
import { sumsFromTerms } from '../src/ope/sums.js';

const K = 5;
/** Rows generated (bench/poisson-bootstrap-coverage.ts sets POISSON_SIM_ROWS for more replications). */
export const SIM_ROWS = Number(process.env.POISSON_SIM_ROWS ?? 800_000);
const log = generateBanditLog({ n: SIM_ROWS, numActions: K, contextDim: 5, reward: 'logistic', beta: 1, seed: 2026 });
const candidate = softmaxPolicy(log, 3);
export const SIM_TRUTH = trueValue(log.expectedRewards, candidate, SIM_ROWS, K);
export const SIM_ESTIMATORS: EstimatorId[] = ['ips', 'snips', 'dr'];

/** Rows [from, from + m) as a batch with their row ids. */
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

export interface CoverageRow {
  /** Share of logs whose interval holds the true value, per estimator. */
  cover: number[];
  /** Mean width, and mean width over the delta-method t interval's, per estimator. */
  width: number[];
  widthRatio: number[];
}

/** Coverage of an interval method over `reps` slices of m rows (slice r uses seed r). */
export function coverage(reps: number, m: number, intervals: (terms: RowTerms[], rowIds: Float64Array, seed: number) => (Interval | undefined)[]): CoverageRow {
  if (reps * m > SIM_ROWS) throw new Error(`coverage: ${reps} x ${m} rows exceed the ${SIM_ROWS} generated`);
  const E = SIM_ESTIMATORS.length;
  const cover = new Array<number>(E).fill(0);
  const width = new Array<number>(E).fill(0);
  const widthT = new Array<number>(E).fill(0);
  for (let r = 0; r < reps; r++) {
    const b = slice(r * m, m);
    const terms = SIM_ESTIMATORS.map((id) => ESTIMATORS[id].rowTerms(b, {}));
    const ivs = intervals(terms, b.rowIds, r);
    for (let j = 0; j < E; j++) {
      const iv = ivs[j]!;
      if (iv.lower <= SIM_TRUTH && SIM_TRUTH <= iv.upper) cover[j]! += 1;
      width[j]! += iv.upper - iv.lower;
      const t = tInterval(sumsFromTerms(terms[j]!), 0.05);
      widthT[j]! += t.upper - t.lower;
    }
  }
  return { cover: cover.map((c) => c / reps), width: width.map((w) => w / reps), widthRatio: width.map((w, j) => w / widthT[j]!) };
}
