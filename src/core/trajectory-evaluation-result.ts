/**
 * The result of evaluating candidates on trajectory data (setting 'trajectory'):
 * the same document shape as a bandit evaluation (dataset, the behaviour
 * policy's value, candidates with estimates, intervals, warnings and a verdict),
 * plus what only trajectories have: the discount, per-step weight diagnostics,
 * the fitted-Q learning curve and the off-policy selection table.
 */
import type { Estimate, IntervalMethod, Interval, Verdict, Warning } from './evaluation-result.js';

export interface TrajectoryStepDiagnostics {
  /** Per step t: episodes still running, ESS of w_{0:t}, largest weight share. */
  episodes: number[];
  ess: number[];
  maxShare: number[];
}

export interface TrajectoryQFit {
  /** "fqe", "fqe (k-fold cross-fitted)", "columns:q_0,...". */
  source: string;
  /** FQE learning curve: updates, mean V(s_0), held-out TD error. */
  curve?: { step: number; initialValue?: number; heldOutTdError?: number; tdLoss: number }[];
  heldOutTdError?: number | null;
}

/** One estimate of the return's distribution on the grid (cumulative-distribution OPE, src/ope/trajectory/distribution/). */
export interface ReturnDistributionEstimate {
  /** cd-is | cd-snis | cd-dr | cd-dm | behaviour (the logged episodes' empirical CDF). */
  estimator: string;
  /** F(grid_j) after projection onto a CDF (isotonic, clipped to [0, 1], 1 at the last grid point). */
  cdf: number[];
  /** F(grid_j) before projection (CD-IS: its last value is the mean trajectory weight). */
  rawCdf: number[];
  /** Raw F at the last grid point: the mass before the distribution is completed to 1. */
  totalMass: number;
  /** Statistics of the projected distribution on the grid (null when it has no mass: all weights zero). */
  mean: number | null;
  variance: number | null;
  /** Lower-tail CVaR at `cvarAlpha`: the mean of the worst alpha share of returns. */
  cvar: number | null;
  quantiles: { level: number; value: number | null }[];
  /** Percentile-bootstrap intervals over episodes (settings in ReturnDistributionSettings.intervals); absent when not computed. */
  intervals?: ReturnDistributionIntervals;
}

/** Two-sided (alpha/2, 1 - alpha/2) percentile bounds of a statistic over the bootstrap resamples. */
export interface StatisticBounds {
  lower: number;
  upper: number;
}

/** Bootstrap intervals of one return-distribution estimate's statistics, and a pointwise band for its CDF. */
export interface ReturnDistributionIntervals {
  mean: StatisticBounds;
  variance: StatisticBounds;
  cvar: StatisticBounds;
  quantiles: ({ level: number } & StatisticBounds)[];
  /** Pointwise percentile band of the projected CDF at each grid point. */
  cdf: { lower: number[]; upper: number[] };
  /** Resamples left out because their raw CDF had no mass (every drawn trajectory weight 0). */
  emptyResamples: number;
}

/** Return distributions of one candidate (or of the behaviour policy), all on one grid of discounted returns. */
export interface ReturnDistributionResult {
  grid: number[];
  estimates: ReturnDistributionEstimate[];
}

/** The grid shared by every candidate, how it was chosen, the statistics' settings, and the behaviour policy's empirical CDF on it. */
export interface ReturnDistributionSettings {
  estimators: string[];
  grid: number[];
  /** The --cdf-bins setting (grid points when the returns have more distinct values). */
  bins: number;
  /** "the 81 distinct returns", "100 quantiles of the 1000 returns" or "given". */
  gridRule: string;
  cvarAlpha: number;
  quantileLevels: number[];
  /** The CD-DR / CD-DM model, when one was used. */
  model?: string;
  behaviour: ReturnDistributionEstimate;
  /** How the statistics' intervals were computed, when they were (episodes resampled; every estimate's `intervals`). */
  intervals?: { method: 'bootstrap'; alpha: number; resamples: number; seed: number };
}

/** How MIS / MDR's marginal weights w(s, a) were learned (src/ope/trajectory/marginal/mwl.ts). */
export interface TrajectoryMarginalWeights {
  method: 'mwl';
  reference: string;
  /** The feature map phi(s, a) of the weight and discriminator class. */
  features: string;
  k: number;
  /** Relative ridge: lambda = ridge * trace(A'A) / k. */
  ridge: number;
  normalised: boolean;
  /** E_D[w (1 - gamma c)] before normalising. */
  scale: number;
  /** Relative moment violation ||A theta - b|| / ||b||. */
  residual: number;
  negativeShare: number;
  min: number;
  max: number;
  /** Mean w over the logged steps (after normalising; not 1 in general: the normaliser weights steps by gamma^t (1 - gamma c)). */
  mean: number;
  /** The largest |w| as a share of sum |w| over the logged steps. */
  maxShare: number;
  /** (sum w)^2 / sum w^2 over the logged steps. */
  ess: number;
  /** How E_{a ~ pi} phi(s, a) was formed. */
  policyExpectation: string;
}

/** The fitted behaviour policy, when behavior_logprob was estimated (src/ope/trajectory/behavior-model.ts). */
export interface TrajectoryBehaviorModel {
  /** categorical-logistic | squashed-gaussian-mlp | censored-gaussian-mlp | gaussian-mlp */
  kind: string;
  description: string;
  /** absent: the data has no behavior_logprob; forced: fitted although it has (behaviour model: fit). */
  reason: 'absent' | 'forced';
  /** Cross-fitting folds over episodes: each episode scored by the model not trained on it. */
  folds: number;
  seed: number;
  /** Mean held-out log pi_b(a_t|s_t) per step, overall and per fold. */
  heldOutLogLik: number;
  foldLogLik: number[];
  lambda?: number;
  hidden?: number[];
  steps?: number;
  /** Learned uniform share of the squashed Gaussian mixture, per fold. */
  uniformShare?: number[];
  /** Steps with an action component on the box bound (censored model). */
  boundarySteps?: number;
  /** Steps whose fitted probability was raised to the floor 1e-6 (categorical). */
  flooredSteps?: number;
}

export interface TrajectoryCandidateResult {
  name: string;
  source: string;
  /** discrete | gaussian | deterministic | table */
  kind: string;
  estimates: Estimate[];
  /** Null when no estimator used weights (DM only). */
  weights: { ess: number; maxShare: number; maxWeight: number; perStep: TrajectoryStepDiagnostics } | null;
  kernel?: { bandwidth: number; rule: string };
  q?: TrajectoryQFit;
  /** MIS / MDR: the learned marginal weights' method, settings and diagnostics. */
  marginal?: TrajectoryMarginalWeights;
  warnings: Warning[];
  verdict: Verdict;
  /** The value range intervals were clipped to. */
  valueRange: [number, number];
  /** On-policy value from rollouts, when known. */
  trueValue?: number;
  /** Cumulative-distribution OPE of the discounted return, when asked for. */
  distribution?: ReturnDistributionResult;
}

export interface TrajectorySelectionRow {
  estimator: string;
  by: 'estimate' | 'lower-bound';
  ranking: string[];
  scores: number[];
  metrics?: { nmse: number; spearman: number; regretAtK: number; typeI: number; typeII: number; sharpeAtK: number; k: number };
}

export interface TrajectoryEvaluationResult {
  setting: 'trajectory';
  schema: 'offpolicy.evaluation/1';
  toolkitVersion: string;
  createdAt: string;
  command?: string;
  seed: number;
  dataset: { ref: string; episodes: number; steps: number; horizon: number; obsDim: number; actDim: number; discreteActions?: number };
  /** The behaviour policy's value: the mean discounted return of the logged episodes. */
  behaviour: { value: number; interval?: Interval };
  settings: {
    estimators: string[];
    interval: IntervalMethod;
    alpha: number;
    gamma: number;
    bootstrapResamples?: number;
    clip?: number;
    rewardModel?: string;
    /** How the steps were read: 'scan' (only the columns the estimators read: every candidate a table), 'memory' (every column) or 'duckdb' (summed in the database). */
    backend?: 'scan' | 'memory' | 'duckdb';
  };
  candidates: TrajectoryCandidateResult[];
  selection: { rows: TrajectorySelectionRow[]; threshold: number; k: number; trueRanking?: string[] } | null;
  /** Cumulative-distribution OPE settings and the behaviour policy's empirical return CDF on the same grid, when asked for. */
  returnDistribution?: ReturnDistributionSettings;
  /** Present when log pi_b was fitted rather than read from behavior_logprob. */
  behaviorModel?: TrajectoryBehaviorModel;
  warnings: Warning[];
}

/**
 * A bandit or a trajectory result, told apart by evaluationSetting(). The
 * EvaluationResult union of evaluation-result.ts still names bandit results only:
 * its consumers (CLI table, report tables, demo, tests) read bandit fields without
 * narrowing; the report's render() narrows this one.
 */
export type AnyEvaluationResult = import('./evaluation-result.js').BanditEvaluationResult | TrajectoryEvaluationResult;
