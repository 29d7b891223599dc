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
  /**
   * What the interval is for. 'value' (or absent): meant to cover the policy's
   * value. 'variance': the sampling spread of an estimator that is biased by
   * design (clipped IPS, ES-IPS, Switch-DR, DR-OS, DM); it does not cover the value.
   */
  covers?: 'value' | 'variance';
  /** Set when an end was moved into the feasible value range (the range is given). */
  clippedTo?: [number, number];
  /** DM only: whether the interval includes the reward model's estimation error. */
  rewardModelUncertainty?: boolean;
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

/**
 * better: the deciding lower bound exceeds the baseline; worse: the deciding
 * upper bound is below the logging value; inconclusive: neither, or caveats
 * undermined a "better" (see src/ope/verdict.ts for the rule).
 */
export type VerdictOutcome = 'better' | 'better-with-caveats' | 'worse' | 'inconclusive';

/** Evidence that weakens a verdict; stable codes, listed in README (Off-policy evaluation, Verdict). */
export interface VerdictCaveat {
  code: string;
  message: string;
}

export interface Verdict {
  /** Absent only in results written before the three-outcome verdict. */
  outcome?: VerdictOutcome;
  /** outcome is 'better' or 'better-with-caveats'. */
  recommended: boolean;
  /**
   * The lower end compared against the baseline, and where it came from (estimator + interval, or a certificate).
   * null when no interval or certificate could be used: the outcome is then 'inconclusive' and sourceNote says why.
   */
  lowerBound: number | null;
  lowerBoundSource: string;
  /** The upper end of the same interval, which decides "worse"; absent when it has none (a one-sided certificate). */
  upperBound?: number;
  /** The estimator id or certificate kind that decided (its row carries the label). */
  decidedBy?: { kind: 'estimator' | 'certificate'; id: string };
  /** Set when the requested (or default) source could not be used, and why. */
  sourceNote?: string;
  /** Evidence that turned "better" into "better, with caveats" or "inconclusive", or that weakens any verdict. */
  caveats?: VerdictCaveat[];
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
  /** sha256 of the candidate's file (a directory: of its files' paths and hashes), for reproduction. */
  sha256?: string;
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

/** The reward model's quality on rows it did not see (src/ope/reward-models/fit-quality.ts). */
export interface RewardModelFit {
  model: string;
  /** How the rows were held out. */
  heldOut: string;
  rows: number;
  /** 1 - SSE / SST at the logged actions. */
  r2: number;
  /** Rewards in [0, 1]: cross-entropy of the predictions, and of the constant training mean. */
  logLoss?: number;
  baselineLogLoss?: number;
}

/** Which stored dataset version a result scored (the bandit and slate result schemas name it the same way). */
export interface ResultDatasetIdentity {
  ref: string;
  name: string;
  version: number;
  contentHash: string;
  rowCount: number;
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
  dataset: ResultDatasetIdentity & {
    /** Present when rows without a reward were left out (observedRewardsOnly): what was scored and what that assumes. */
    observedRewardsOnly?: { rowsUsed: number; rowsWithoutReward: number; assumption: string };
    numActions: number;
    contextDim?: number;
    /** What the context is, in words ("none", "the context vector (5): 5 features", "one-hot city (3 levels + other): 4 features"). */
    context?: string;
    /** Summary numbers for the report (reward mean, propensity min, ...). */
    summary: Record<string, number>;
    /** How the version was made (its metadata's lineage): the report rebuilds the ingest command from it. */
    lineage?: { transform: string; parent?: string; source?: string; params?: Record<string, unknown>; seed?: number };
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
    /** What the fitted reward model reads, in words (e.g. "logistic on [action one-hot]; the log gives it no context, ..."). */
    rewardModelInputs?: string;
    clip?: number;
    strict: boolean;
    /** Bounds of the reward used by Hoeffding, Bernstein and the certificates. */
    rewardRange: [number, number];
  };
  propensitiesEstimated: boolean;
  /** Held-out quality of the fitted reward model (absent for supplied predictions). */
  rewardModelFit?: RewardModelFit;
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

/** A verdict's outcome; results written before outcomes existed read as better / inconclusive. */
export function verdictOutcomeOf(v: Pick<Verdict, 'outcome' | 'recommended'>): VerdictOutcome {
  return v.outcome ?? (v.recommended ? 'better' : 'inconclusive');
}

/** The label printed for each outcome (CLI table, reports). */
export const VERDICT_LABELS: Readonly<Record<VerdictOutcome, string>> = {
  better: 'BETTER',
  'better-with-caveats': 'BETTER, WITH CAVEATS',
  worse: 'WORSE',
  inconclusive: 'INCONCLUSIVE',
};

/** The caption of an interval: "95% interval", or "95% variance interval" for a biased-by-design estimator. */
export function intervalCaption(iv: Pick<Interval, 'alpha' | 'covers'>): string {
  const p = (1 - iv.alpha) * 100;
  const level = `${Number.isInteger(Math.round(p * 1e6) / 1e6) ? Math.round(p) : p.toFixed(1)}%`;
  return `${level} ${iv.covers === 'variance' ? 'variance interval' : 'interval'}`;
}
