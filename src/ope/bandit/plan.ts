/**
 * Bandit evaluation runs as plan -> backend -> assemble:
 *  - the plan (this module) says what to compute for every candidate: the
 *    estimators and their parameters, the certificates' propensity clip, the
 *    weight quantiles, the weight-histogram definition and the declared reward range;
 *  - a backend computes ONE record of sums per candidate (CandidateSums):
 *    ./backend-memory.ts over typed arrays, ./backend-duckdb.ts as one SQL scan
 *    over the Parquet files (SQL from ./scan-sql.ts in a ./sql-dialect.ts dialect);
 *  - ./assemble.ts turns a record into the candidate's result (diagnostics,
 *    truth, support deficiency, histogram, intervals, certificates, warnings,
 *    verdict), the same code for every backend, so the paths cannot disagree
 *    beyond the rounding of their sums.
 */
import type { ClippedRiskSums } from '../bounds/catoni.js';
import type { SmoothingSums } from '../bounds/exponential-smoothing.js';
import type { EstimatorId, ResolvedParams } from '../estimators/types.js';
import type { WeightStats } from '../diagnostics.js';
import type { MergeableSums } from '../sums.js';

export interface BanditPlan {
  /** Every requested estimator: backends sum them all; assemble refuses the importance-weighted ones on deficient support. */
  estimators: readonly EstimatorId[];
  params: ResolvedParams;
  /** Propensity clip of the clipped-IPS certificates (Catoni, London-Sandler); the exponential-smoothing sums use params.smoothingAlpha. */
  tau: number;
  quantiles: readonly number[];
  /**
   * The reward range a user declared: rows with a reward outside it, NULL or NaN
   * are counted (the certificates then fail naming them). Without one, only NULL
   * and NaN rewards count (the range is then the rewards' own).
   */
  declaredRewardRange?: readonly [number, number];
  /**
   * Whether rewards may be NULL (a log declared reward-nullable). Without a declared
   * range and without this, no row is counted as outside: ingest rejects NaN rewards,
   * so every reward lies in the rewards' own range (and the scan saves the count).
   */
  rewardsMayBeNull: boolean;
  /** Rewards enter the certificate sums as r - rewardShift (a constant near the smallest reward; precision only). */
  rewardShift: number;
}

/** What a backend returns for one candidate: sums and order statistics, nothing derived. */
/** Whether the backends count rewards outside the range (see BanditPlan.rewardsMayBeNull). */
export function countsRewardsOutside(plan: BanditPlan): boolean {
  return plan.declaredRewardRange !== undefined || plan.rewardsMayBeNull;
}

export interface CandidateSums {
  n: number;
  /** Mergeable sums of every plan estimator. */
  estimators: Map<EstimatorId, MergeableSums>;
  /** Statistics of the weights w_i = pi(a_i|x_i) / p_i (../diagnostics.ts turns them into the diagnostics). */
  weights: WeightStats;
  /** min_i p_i (the largest possible weight is 1 / minPropensity). */
  minPropensity: number;
  /** sum_i sum_{a: pi0(a|x_i) <= 0} pi(a|x_i); null without the logger's full distribution. */
  deficientMass: number | null;
  /** sum_i sum_a pi(a|x_i) q*(x_i, a); null without ground truth (expected_reward). */
  truthSum: number | null;
  clippedRisk: ClippedRiskSums;
  /** Null without the logger's full distribution. */
  smoothing: SmoothingSums | null;
  /** Rows whose reward is outside the declared range, NULL or NaN, and the first few 0-based positions in row_id order (see BanditPlan.rewardsMayBeNull). */
  rewardsOutside: { count: number; rows: number[] };
}

