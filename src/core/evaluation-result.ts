/**
 * The result types of off-policy evaluation. The report layer consumes
 * EvaluationResult (as JSON) and knows nothing of how it was computed.
 */

/**
 * What kind of data an evaluation scored. A result is tagged by its `setting`
 * field; bandit results leave it out (absent means 'bandit'), so their JSON is
 * the same as before the tag existed.
 */
export type EvaluationSetting = 'bandit' | 'trajectory';

/** The setting of a result: its tag, or 'bandit' when the tag is absent. */
export function evaluationSetting(result: { setting?: EvaluationSetting }): EvaluationSetting {
  return result.setting ?? 'bandit';
}

/** 'poisson-bootstrap': percentile intervals of the hashed-bucket Poisson bootstrap (src/ope/intervals/poisson-bootstrap.ts; bandit logs only). */
export type IntervalMethod = 'bootstrap' | 't' | 'hoeffding' | 'bernstein' | 'poisson-bootstrap' | 'betting' | 'empirical-likelihood';

export interface Interval {
  lower: number;
  upper: number;
  method: IntervalMethod;
  /** Miscoverage: a 1 - alpha interval. */
  alpha: number;
}

export interface Estimate {
  /** Estimator id: ips, clipped-ips, snips, es-ips, dm, dr, sndr, switch-dr, dr-os. */
  estimator: string;
  value: number;
  interval?: Interval;
  /** e.g. n, ess, maxWeight, clip, alpha (smoothing), stdError. */
  diagnostics: Record<string, number>;
}

export type CertificateKind = 'exponential-smoothing' | 'catoni-clipped-ips' | 'london-sandler';

/** A PAC-Bayes certificate, stated on the value (reward) scale. */
export interface Certificate {
  kind: CertificateKind;
  /** With probability >= 1 - delta the candidate's value is at least `lower`. */
  lower: number;
  /** Two-sided bounds also give an upper end. */
  upper?: number;
  delta: number;
  /** The bound's tuning (alpha, tau, lambda, KL...). */
  params: Record<string, number>;
}

export interface Warning {
  /** Stable code: LOW_ESS, SUPPORT_DEFICIENT, ESTIMATOR_DISAGREEMENT, ESTIMATED_PROPENSITIES, ... */
  code: string;
  message: string;
}

export interface WeightDiagnostics {
  n: number;
  /** (sum w)^2 / sum w^2 */
  ess: number;
  /** ess / n */
  essRatio: number;
  maxWeight: number;
  meanWeight: number;
  /** Quantiles of the importance weights w_i = pi(a_i|x_i) / p_i. */
  weightQuantiles: { q: number; value: number }[];
  /** Mean over rows of the candidate's mass on actions the logger gives zero probability (needs action_probs). */
  supportDeficiency: number;
  /** Histogram of importance weights for the report. */
  weightHistogram: { start: number; end: number; count: number }[];
}

export interface Verdict {
  recommended: boolean;
  /** The lower end compared against the baseline, and where it came from (estimator + interval, or a certificate). */
  lowerBound: number;
  lowerBoundSource: string;
  /** The logging policy's value estimate (or its upper bound when strict). */
  baseline: number;
  strict: boolean;
  /** One plain sentence, e.g. "Candidate B beats the logging policy: lower bound 0.071 > 0.064 at 95%." */
  sentence: string;
}

export interface CandidateResult {
  name: string;
  /** Where the policy came from: a file path, "column:NAME", "json:softmax", ... */
  source: string;
  estimates: Estimate[];
  certificates: Certificate[];
  diagnostics: WeightDiagnostics;
  /** Spread (max - min) of the point estimates across estimators. */
  disagreement: number;
  warnings: Warning[];
  verdict: Verdict;
  /** Known only for synthetic data. */
  trueValue?: number;
}

/** Estimator accuracy over many candidates, when true values are known. */
export interface AccuracyMetrics {
  estimator: string;
  relativeError: number;
  squaredError: number;
  spearman: number;
  regretAtK: number;
  sharpeAtK: number;
  k: number;
}

/** The result of evaluating candidates on a bandit log. */
export interface BanditEvaluationResult {
  /** Absent in written JSON (see EvaluationSetting). */
  setting?: 'bandit';
  schema: 'offpolicy.evaluation/1';
  toolkitVersion: string;
  createdAt: string;
  /** The exact command line, for reproduction. */
  command?: string;
  seed: number;
  dataset: {
    ref: string;
    name: string;
    version: number;
    contentHash: string;
    rowCount: number;
    numActions: number;
    contextDim?: number;
    /** Summary numbers for the report (reward mean, propensity min, ...). */
    summary: Record<string, number>;
  };
  logging: {
    /** On-policy estimate of the logging policy's value: the mean logged reward. */
    value: number;
    interval?: Interval;
    trueValue?: number;
  };
  settings: {
    estimators: string[];
    interval: IntervalMethod;
    alpha: number;
    bootstrapResamples?: number;
    /** Hash buckets of the Poisson bootstrap (interval 'poisson-bootstrap'). */
    bootstrapBuckets?: number;
    rewardModel?: string;
    clip?: number;
    strict: boolean;
    /** Bounds of the reward used by Hoeffding, Bernstein and the certificates. */
    rewardRange: [number, number];
  };
  propensitiesEstimated: boolean;
  candidates: CandidateResult[];
  accuracy?: AccuracyMetrics[];
  /** Warnings about the whole evaluation (each candidate also has its own). */
  warnings: Warning[];
}

/**
 * The bandit result under the name the bandit code and reports have always
 * used; the union of every setting is AnyEvaluationResult
 * (trajectory-evaluation-result.ts).
 */
export type EvaluationResult = BanditEvaluationResult;
