/**
 * Cumulative importance weights along episodes, computed in log space in float64:
 *
 *   log rho_t = log pi(a_t|s_t) - log pi_b(a_t|s_t),   log w_{0:t} = sum_{t' <= t} log rho_t',   w_{0:-1} = 1.
 *
 * A product of hundreds of ratios overflows or underflows long before its log
 * does; the weights are exponentiated once, at the end (exp of at most ~709 is
 * finite). Optional clipping caps each cumulative weight: min(w_{0:t}, L).
 *
 * Diagnostics per step t, over the episodes still running at t: the effective
 * sample size ESS_t = (sum w_{0:t})^2 / sum w_{0:t}^2 and the largest weight's
 * share of the sum. Weights degenerate with the horizon (ESS_t collapses to 1
 * when one episode carries all the mass); the warnings say from which step.
 */
import type { Warning } from '../../core/evaluation-result.js';
import { OffpolicyError } from '../../core/errors.js';
import type { TrajectoryOpeData } from './data.js';

export interface TrajectoryWeights {
  /** log w_{0:t} per step (unclipped). */
  logW: Float64Array;
  /** w_{0:t} per step (clipped when a clip was given). */
  w: Float64Array;
  /** w_{0:t-1} per step (1 at t = 0; clipped when a clip was given). */
  wPrev: Float64Array;
  /** w_{0:T_i-1} per episode (clipped when a clip was given): the trajectory-wise weight. */
  final: Float64Array;
  clip: number | null;
}

export interface StepDiagnostics {
  /** Episodes still running at step t. */
  episodes: number[];
  ess: number[];
  /** max_i w_{0:t} / sum_i w_{0:t} over running episodes. */
  maxShare: number[];
  /** Largest w_{0:t} (unclipped). */
  maxWeight: number[];
}

export interface WeightSummary {
  perStep: StepDiagnostics;
  /** ESS of the trajectory-wise weights w_{0:T_i-1} over all episodes. */
  trajectoryEss: number;
  trajectoryMaxShare: number;
  maxWeight: number;
  /** Steps whose running episodes have ESS below `lowEssRatio` of their count (first one), or -1. */
  firstLowEssStep: number;
}

export const DEFAULT_LOW_ESS_RATIO = 0.1;
export const DEFAULT_MAX_SHARE = 0.5;

export function checkClip(clip: number | undefined | null): number | null {
  if (clip === undefined || clip === null) return null;
  if (!(clip > 0) || Number.isNaN(clip)) {
    throw new OffpolicyError('E_CLIP', `The weight clip must be a positive number, got ${clip}.`, { hint: 'Use e.g. --clip 100, or omit it for unclipped weights.' });
  }
  return clip;
}

/** Cumulative weights of `targetLogprob` (log pi(a_t|s_t) per step) against the data's behaviour policy. */
export function trajectoryWeights(d: TrajectoryOpeData, targetLogprob: Float64Array, clip?: number | null): TrajectoryWeights {
  if (targetLogprob.length !== d.n) {
    throw new OffpolicyError('E_SHAPE', `The candidate gives ${targetLogprob.length} log-probabilities for ${d.n} steps.`, { hint: 'Give one log-probability per logged step.' });
  }
  if (!d.hasBehaviorLogprob) {
    throw new OffpolicyError('E_NO_BEHAVIOR_LOGPROB', `The trajectory data has no behavior_logprob column, and no behaviour model is available to estimate it (${d.episodes.count} episodes affected, all of them).`, {
      hint: 'Importance-sampling estimators need log pi_b(a_t|s_t) of every logged action: store it as behavior_logprob (the generators do), or use only the direct method (--estimators dm).',
    });
  }
  const L = checkClip(clip);
  const ep = d.episodes;
  const logW = new Float64Array(d.n);
  const w = new Float64Array(d.n);
  const wPrev = new Float64Array(d.n);
  const final = new Float64Array(ep.count);
  for (let i = 0; i < ep.count; i++) {
    let acc = 0;
    let prev = 1;
    for (let r = ep.start[i]!; r < ep.start[i + 1]!; r++) {
      const lt = targetLogprob[r]!;
      // -inf target: the candidate never takes this action, the weight is 0 from here on.
      acc = lt === -Infinity ? -Infinity : acc + (lt - d.behaviorLogprob[r]!);
      logW[r] = acc;
      let x = Math.exp(acc);
      if (L !== null && x > L) x = L;
      w[r] = x;
      wPrev[r] = prev;
      prev = x;
    }
    final[i] = prev;
  }
  return { logW, w, wPrev, final, clip: L };
}

/** Per-step ESS and weight shares, and the trajectory-wise ESS. */
export function weightSummary(d: TrajectoryOpeData, tw: TrajectoryWeights, lowEssRatio = DEFAULT_LOW_ESS_RATIO): WeightSummary {
  const H = d.episodes.horizon;
  const ep = d.episodes;
  const s: WeightSums = { s1: new Float64Array(H), s2: new Float64Array(H), max: new Float64Array(H), count: new Float64Array(H), maxRaw: 0, f1: 0, f2: 0, fMax: 0 };
  let maxLog = -Infinity;
  for (let i = 0; i < ep.count; i++) {
    for (let r = ep.start[i]!; r < ep.start[i + 1]!; r++) {
      const t = r - ep.start[i]!;
      const x = tw.w[r]!;
      s.s1[t] += x;
      s.s2[t] += x * x;
      if (x > s.max[t]!) s.max[t] = x;
      s.count[t]++;
      if (tw.logW[r]! > maxLog) maxLog = tw.logW[r]!;
    }
  }
  // exp is increasing: the largest unclipped weight is exp of the largest log-weight
  s.maxRaw = Math.exp(maxLog);
  for (const x of tw.final) {
    s.f1 += x;
    s.f2 += x * x;
    if (x > s.fMax) s.fMax = x;
  }
  return weightSummaryFromSums(s, lowEssRatio);
}

/**
 * The sums a weight summary is made of (per step t over the running episodes:
 * sum, sum of squares, largest and count of w_{0:t}; over episodes the same of
 * w_{0:T_i-1}): mergeable over episodes.
 */
export interface WeightSums {
  s1: Float64Array;
  s2: Float64Array;
  max: Float64Array;
  count: Float64Array;
  /** Largest unclipped w_{0:t}. */
  maxRaw: number;
  f1: number;
  f2: number;
  fMax: number;
}

export function weightSummaryFromSums(s: WeightSums, lowEssRatio = DEFAULT_LOW_ESS_RATIO): WeightSummary {
  const H = s.s1.length;
  const perStep: StepDiagnostics = { episodes: [], ess: [], maxShare: [], maxWeight: [] };
  let firstLow = -1;
  for (let t = 0; t < H; t++) {
    const s1 = s.s1[t]!;
    const s2 = s.s2[t]!;
    const ess = s2 > 0 ? (s1 * s1) / s2 : 0;
    perStep.episodes.push(s.count[t]!);
    perStep.ess.push(ess);
    perStep.maxShare.push(s1 > 0 ? s.max[t]! / s1 : 1);
    perStep.maxWeight.push(s.max[t]!);
    if (firstLow < 0 && ess < lowEssRatio * s.count[t]!) firstLow = t;
  }
  return {
    perStep,
    trajectoryEss: s.f2 > 0 ? (s.f1 * s.f1) / s.f2 : 0,
    trajectoryMaxShare: s.f1 > 0 ? s.fMax / s.f1 : 1,
    maxWeight: s.maxRaw,
    firstLowEssStep: firstLow,
  };
}

/** Warnings when weights degenerate: ESS collapsing along the horizon, one episode dominating, all weights zero. */
export function weightWarnings(s: WeightSummary, episodes: number, lowEssRatio = DEFAULT_LOW_ESS_RATIO, maxShare = DEFAULT_MAX_SHARE): Warning[] {
  const out: Warning[] = [];
  const H = s.perStep.ess.length;
  if (s.firstLowEssStep >= 0) {
    const t = s.firstLowEssStep;
    const last = H - 1;
    out.push({
      code: 'WEIGHT_DEGENERACY',
      message:
        `Per-decision weights degenerate with the horizon: from step ${t} the effective sample size is below ${Math.round(lowEssRatio * 100)}% of the running episodes ` +
        `(ESS ${s.perStep.ess[t]!.toFixed(1)} of ${s.perStep.episodes[t]} at step ${t}; ${s.perStep.ess[last]!.toFixed(1)} of ${s.perStep.episodes[last]} at step ${last}). ` +
        'Importance-sampling estimates after that step rest on a few episodes; prefer DR or DM, a shorter horizon, or clipping.',
    });
  }
  if (s.trajectoryEss < lowEssRatio * episodes) {
    out.push({
      code: 'LOW_ESS',
      message: `The trajectory-wise weights have an effective sample size of ${s.trajectoryEss.toFixed(1)} out of ${episodes} episodes: TIS and SNTIS rest on a few episodes.`,
    });
  }
  if (s.trajectoryMaxShare > maxShare) {
    out.push({
      code: 'WEIGHT_DOMINANCE',
      message: `One episode carries ${(100 * s.trajectoryMaxShare).toFixed(0)}% of the total trajectory-wise weight.`,
    });
  }
  if (!(s.trajectoryEss > 0)) {
    out.push({ code: 'ZERO_WEIGHTS', message: 'Every trajectory-wise weight is 0: the candidate gives probability 0 to some logged action in every episode.' });
  }
  return out;
}
