/**
 * Scores one candidate on trajectory data: weights, every requested estimator's
 * per-episode terms, value, interval and diagnostics, and the warnings.
 */
import { OffpolicyError } from '../../core/errors.js';
import type { Estimate, Interval, IntervalMethod, Warning } from '../../core/evaluation-result.js';
import type { TrajectoryOpeData } from './data.js';
import { getTrajectoryEstimator, type TrajectoryEstimator, type TrajectoryEstimatorId, type TrajectoryTermsInput } from './estimators/index.js';
import { feasibleValueRange, observedRewardRange, trajectoryIntervals, type IntervalItem } from './intervals.js';
import type { ResolvedCandidate } from './candidates.js';
import { trajectoryWeights, weightSummary, weightWarnings, type WeightSummary } from './weights.js';
import type { MarginalWeightInfo, MarginalWeights } from './marginal/mwl.js';

export const DEFAULT_TRAJECTORY_ESTIMATORS: TrajectoryEstimatorId[] = ['tis', 'pdis', 'sntis', 'snpdis'];

/** Q predictions for one candidate: Q(s_t, a_t) and V(s_t) = E_{a~pi} Q(s_t, a) per step. */
export interface QPredictions {
  qLogged: Float64Array;
  vState: Float64Array;
  /** V(next_observation) per step (MDR reads it on the last step of episodes that did not terminate); NaN where not predicted. */
  vNext?: Float64Array;
  /** e.g. "fqe" or "columns:q_0,q_1". */
  source: string;
}

export interface ScoreOptions {
  estimators?: readonly TrajectoryEstimatorId[];
  clip?: number;
  interval?: IntervalMethod;
  alpha?: number;
  seed?: number;
  resamples?: number;
  /** Hoeffding / Bernstein: range of the per-episode terms (one for all, or per estimator id). */
  termRange?: readonly [number, number] | Readonly<Record<string, readonly [number, number]>>;
  /** Bounds on a step's reward, for the feasible value range; default the observed range. */
  rewardRange?: readonly [number, number];
}

export interface TrajectoryEstimate extends Estimate {
  /** Per-episode terms g_i (their mean is `value`). */
  terms?: Float64Array;
}

export interface CandidateScore {
  name: string;
  source: string;
  kind: ResolvedCandidate['kind'];
  estimates: TrajectoryEstimate[];
  weights: WeightSummary | null;
  warnings: Warning[];
  kernel: ResolvedCandidate['kernel'];
  valueRange: [number, number];
  /** MIS / MDR: how the marginal weights were learned. */
  marginal?: MarginalWeightInfo;
}

function mean(x: Float64Array): number {
  let s = 0;
  for (const v of x) s += v;
  return s / x.length;
}

/** Scores `cand` with the requested estimators (default TIS, PDIS, SNTIS, SNPDIS; DM / DR / SNDR need `q`). */
export function scoreCandidate(d: TrajectoryOpeData, cand: ResolvedCandidate, opts: ScoreOptions = {}, q?: QPredictions, marginal?: MarginalWeights): CandidateScore {
  const ids = opts.estimators ?? (q ? [...DEFAULT_TRAJECTORY_ESTIMATORS, 'dr', 'sndr', 'dm'] : DEFAULT_TRAJECTORY_ESTIMATORS);
  const specs: TrajectoryEstimator[] = ids.map((id) => getTrajectoryEstimator(id));
  if (specs.length === 0) throw new OffpolicyError('E_NO_ESTIMATORS', 'No estimators were requested.', { hint: 'Pass e.g. --estimators pdis,dr.' });
  const needW = specs.some((e) => e.needsWeights);
  if (needW && !cand.targetLogprob) {
    throw cand.refusal ?? new OffpolicyError('E_NO_WEIGHTS', `Candidate "${cand.name}" gives no action probabilities.`, { hint: 'Use --estimators dm.' });
  }
  const needQ = specs.filter((e) => e.needsQ);
  if (needQ.length > 0 && !q) {
    throw new OffpolicyError('E_NO_Q', `${needQ.map((e) => e.label).join(', ')} need Q predictions for candidate "${cand.name}", and none were given.`, {
      hint: 'Fit Q by fitted Q evaluation, give Q columns (--reward-model columns:q_0,...), or choose among TIS, PDIS, SNTIS and SNPDIS.',
    });
  }
  if (q && (q.qLogged.length !== d.n || q.vState.length !== d.n)) {
    throw new OffpolicyError('E_SHAPE', `Q predictions cover ${q.qLogged.length} / ${q.vState.length} steps, but the data has ${d.n}.`, { hint: 'Predict Q for every logged step.' });
  }
  const weights = needW ? trajectoryWeights(d, cand.targetLogprob!, opts.clip) : null;
  const input: TrajectoryTermsInput = { data: d, weights, ...(q ? { qLogged: q.qLogged, vState: q.vState, ...(q.vNext ? { vNext: q.vNext } : {}) } : {}), ...(marginal ? { marginal } : {}) };
  const items: IntervalItem[] = specs.map((e) => ({ estimator: e, input, terms: e.episodeTerms(input) }));
  const valueRange = feasibleValueRange(opts.rewardRange ?? observedRewardRange(d), d.gamma, d.episodes.horizon);
  const alpha = opts.alpha ?? 0.05;
  const method = opts.interval ?? 't';
  const intervals: (Interval | null)[] =
    d.episodes.count >= 2
      ? trajectoryIntervals(items, { method, alpha, seed: opts.seed ?? 0, resamples: opts.resamples, termRange: opts.termRange, valueRange })
      : items.map(() => null);
  const summary = weights ? weightSummary(d, weights) : null;
  const values = items.map((it) => (it.estimator.selfNormalized ? it.estimator.resampled!(input, new Float64Array(d.episodes.count).fill(1)) : mean(it.terms)));
  const score = finishScore(cand, {
    estimators: specs,
    values,
    intervals,
    terms: items.map((it) => it.terms),
    summary,
    clip: weights?.clip ?? null,
    episodes: d.episodes.count,
    steps: d.n,
    gamma: d.gamma,
    valueRange,
  });
  return marginal && specs.some((e) => e.needsMarginal) ? withMarginal(score, marginal.info) : score;
}

/** MIS / MDR: the weights' diagnostics on their estimates, their settings on the candidate, and the interval caveat. */
function withMarginal(score: CandidateScore, info: MarginalWeightInfo): CandidateScore {
  for (const e of score.estimates) {
    if (!getTrajectoryEstimator(e.estimator).needsMarginal) continue;
    Object.assign(e.diagnostics!, { marginalFeatures: info.k, marginalRidge: info.ridge, marginalResidual: info.residual, marginalNegativeShare: info.negativeShare, marginalMaxWeight: info.max, marginalEss: info.ess });
  }
  score.warnings.push({
    code: 'MARGINAL_WEIGHTS',
    message:
      `MIS / MDR for candidate "${score.name}" use state-action weights learned by minimax weight learning (${info.features}; ridge ${info.ridge}; moment residual ${info.residual.toPrecision(2)}; ` +
      `${(100 * info.negativeShare).toFixed(1)}% negative). Their intervals treat the weights as known and leave out the weight-learning error, and the weights are exact only if the true ratio lies in the feature class.`,
  });
  return { ...score, marginal: info };
}

/** What finishScore turns into a CandidateScore. */
export interface ScoreParts {
  estimators: readonly TrajectoryEstimator[];
  values: readonly number[];
  intervals: readonly (Interval | null)[];
  /** Per-episode terms, when they were computed in memory. */
  terms?: readonly Float64Array[];
  summary: WeightSummary | null;
  clip: number | null;
  episodes: number;
  steps: number;
  gamma: number;
  valueRange: [number, number];
}

/** Estimates with their diagnostics, and the candidate's warnings. */
export function finishScore(cand: Pick<ResolvedCandidate, 'name' | 'source' | 'kind' | 'kernel'>, p: ScoreParts): CandidateScore {
  const { summary } = p;
  const estimates: TrajectoryEstimate[] = p.estimators.map((e, j) => {
    const diagnostics: Record<string, number> = { n: p.episodes, steps: p.steps, gamma: p.gamma };
    if (summary && e.needsWeights) {
      diagnostics.ess = summary.trajectoryEss;
      diagnostics.maxWeight = summary.maxWeight;
      diagnostics.finalStepEss = summary.perStep.ess[summary.perStep.ess.length - 1]!;
    }
    if (p.clip != null) diagnostics.clip = p.clip;
    const iv = p.intervals[j];
    // DM (FQE) is biased by its fitted Q: its interval is a variance interval, as on bandit logs.
    const interval = iv ? { ...iv, covers: e.id === 'dm' ? ('variance' as const) : ('value' as const) } : undefined;
    return { estimator: e.id, value: p.values[j]!, ...(interval ? { interval } : {}), diagnostics, ...(p.terms ? { terms: p.terms[j]! } : {}) };
  });
  const warnings: Warning[] = summary ? weightWarnings(summary, p.episodes) : [];
  if (cand.kernel) {
    warnings.push({
      code: 'KERNEL_WEIGHTS',
      message: `Candidate "${cand.name}" is deterministic: its weights use a Gaussian kernel on the box-scaled action (bandwidth ${cand.kernel.bandwidth.toPrecision(3)}, ${cand.kernel.rule}), which trades bias for variance.`,
    });
  }
  return { name: cand.name, source: cand.source, kind: cand.kind, estimates, weights: summary, warnings, kernel: cand.kernel, valueRange: p.valueRange };
}
