/**
 * One candidate's result from its record of sums (./plan.ts), whichever backend
 * produced it: the importance-weighted estimators refused on deficient support,
 * point estimates and sum-based intervals (t, Hoeffding, Bernstein; bootstrap
 * intervals come in from the caller), the PAC-Bayes certificates, the weight
 * diagnostics and histogram, the support deficiency, the true value, the warnings
 * and the verdict.
 */
import { OffpolicyError } from '../../core/errors.js';
import { catoniFromSums } from '../bounds/catoni.js';
import { rewardRangeError } from '../bounds/common.js';
import { exponentialSmoothingFromSums } from '../bounds/exponential-smoothing.js';
import { londonSandlerFromSums } from '../bounds/london-sandler.js';
import { candidateWarnings, DEFAULT_WEIGHT_QUANTILES, diagnosticsFromStats } from '../diagnostics.js';
import { biasedByDesign, DEFAULT_CLIP, getEstimator, termRange } from '../estimators/index.js';
import type { EstimatorId, ResolvedParams } from '../estimators/types.js';
import { bernsteinInterval } from '../intervals/bernstein.js';
import { hoeffdingInterval } from '../intervals/hoeffding.js';
import { needsRows, type RowIntervalMethod } from '../intervals/row-methods.js';
import { clipToRange } from '../intervals/common.js';
import { tInterval } from '../intervals/t.js';
import { sumsStdError, sumsValue, type MergeableSums } from '../sums.js';
import type { CandidateResult, Certificate, CertificateKind, Estimate, Interval, IntervalMethod, Warning } from '../../core/evaluation-result.js';
import { boundOutcome, deployVerdict, pickLowerBound, verdictCaveats, type PickedBound } from '../verdict.js';
import type { BanditPlan, CandidateSums } from './plan.js';

/** Estimators that weight by pi / pi0: refused on support-deficient candidates unless allowDeficient. */
export const IPS_FAMILY: readonly EstimatorId[] = ['ips', 'clipped-ips', 'snips', 'es-ips', 'dr', 'sndr', 'switch-dr', 'dr-os'];

/**
 * Default order in which an estimator's interval decides the verdict: the
 * estimators that aim at the value itself first, then those biased by design.
 */
export const VERDICT_PREFERENCE: readonly EstimatorId[] = ['dr', 'sndr', 'snips', 'ips', 'switch-dr', 'dr-os', 'clipped-ips', 'es-ips', 'dm'];

const CERTIFICATE_KINDS: readonly CertificateKind[] = ['exponential-smoothing', 'catoni-clipped-ips', 'london-sandler'];

/** The propensity clip of the clipped-IPS certificates: 1 / clip for a finite clip >= 1, else 1 / DEFAULT_CLIP. */
export function certificateTau(params: ResolvedParams): number {
  return Number.isFinite(params.clip) && params.clip >= 1 ? 1 / params.clip : 1 / DEFAULT_CLIP;
}

/** The plan every backend computes per candidate: the estimators, their parameters, the certificates' tau, the default weight quantiles. */
export function banditPlan(
  estimators: readonly EstimatorId[],
  params: ResolvedParams,
  o: { rewardRange?: readonly [number, number]; rewardsMayBeNull: boolean; rewardShift: number },
): BanditPlan {
  return {
    estimators,
    params,
    tau: certificateTau(params),
    quantiles: DEFAULT_WEIGHT_QUANTILES,
    ...(o.rewardRange ? { declaredRewardRange: o.rewardRange } : {}),
    rewardsMayBeNull: o.rewardsMayBeNull,
    rewardShift: o.rewardShift,
  };
}

/** Mean candidate mass on actions the logger never takes; NaN when the logger's distribution is unknown. */
export function deficiencyOf(r: CandidateSums): number {
  return r.deficientMass === null || r.n === 0 ? NaN : r.deficientMass / r.n;
}

/** Splits estimators into those that run and those refused for support deficiency (the refusal as a warning). */
export function admitted(estimators: readonly EstimatorId[], deficiency: number, allowDeficient: boolean, name: string, warnings: Warning[]): EstimatorId[] {
  if (!(deficiency > 1e-12) || allowDeficient) return [...estimators];
  const pct = (100 * deficiency).toPrecision(3);
  const kept = estimators.filter((e) => !IPS_FAMILY.includes(e));
  const refused = estimators.filter((e) => IPS_FAMILY.includes(e));
  warnings.push({
    code: 'IPS_REFUSED',
    message: `Candidate "${name}" puts ${pct}% of its mass (mean over rows) on actions the logger never takes; IPS-family estimates (${refused.join(', ')}) are refused because they would be biased. Pass --allow-deficient to compute them anyway.`,
  });
  if (kept.length === 0) {
    throw new OffpolicyError(
      'E_SUPPORT_DEFICIENT',
      `Candidate "${name}" puts ${pct}% of its mass on actions the logger never takes, and every requested estimator (${refused.join(', ')}) is importance-weighted.`,
      { hint: 'Add dm to --estimators, or pass --allow-deficient to compute the biased importance-weighted estimates anyway.' },
    );
  }
  return kept;
}

/** Interval of one estimator from its sums (t, Hoeffding, Bernstein); undefined + warning when the method does not apply. */
export function sumsInterval(
  id: EstimatorId,
  s: MergeableSums,
  method: Exclude<IntervalMethod, RowIntervalMethod | 'poisson-bootstrap'>,
  alpha: number,
  rewardRange: [number, number],
  maxWeightBound: number,
  params: ResolvedParams,
  warnings: Warning[],
): Interval | undefined {
  try {
    if (method === 't') return clipToRange(tInterval(s, alpha), rewardRange);
    const range = termRange(id, { rewardRange, maxWeight: maxWeightBound, params: { clip: params.clip, smoothingAlpha: params.smoothingAlpha } });
    if (range === null) {
      warnings.push({ code: 'INTERVAL_UNSUPPORTED', message: `${method} intervals do not apply to ${id} (a self-normalized ratio); use t or bootstrap for it.` });
      return undefined;
    }
    return clipToRange(method === 'hoeffding' ? hoeffdingInterval(s, range, alpha, id) : bernsteinInterval(s, range, alpha, id), rewardRange);
  } catch (e) {
    if (e instanceof OffpolicyError) {
      warnings.push({ code: 'INTERVAL_UNSUPPORTED', message: `${id}: ${e.message}` });
      return undefined;
    }
    throw e;
  }
}

/**
 * Marks an estimator's interval: 'variance' for estimators biased by design
 * (their interval does not cover the value), and for DM whether it includes
 * the reward model's error.
 */
function labelInterval(id: EstimatorId, iv: Interval, params: ResolvedParams, dmModelUncertainty: boolean): Interval {
  return {
    ...iv,
    covers: biasedByDesign(id, params) ? 'variance' : 'value',
    ...(id === 'dm' ? { rewardModelUncertainty: dmModelUncertainty } : {}),
  };
}

function estimateFromSums(id: EstimatorId, s: MergeableSums, params: ResolvedParams, interval: Interval | undefined): Estimate {
  const spec = getEstimator(id);
  const diagnostics: Record<string, number> = { n: s.n, stdError: sumsStdError(s) };
  if (spec.uses.includes('clip')) diagnostics.clip = params.clip;
  if (spec.uses.includes('smoothingAlpha')) diagnostics.alpha = params.smoothingAlpha;
  return { estimator: id, value: sumsValue(s), ...(interval ? { interval } : {}), diagnostics };
}

/**
 * PAC-Bayes certificates (fixed candidate: KL = 0): none for a support-deficient
 * candidate (unless allowDeficient); one that cannot be computed (e.g. rewards
 * outside the range) becomes a CERTIFICATE_FAILED warning; without the logger's
 * full distribution the exponential-smoothing certificate is skipped with a
 * CERTIFICATE_SKIPPED warning.
 */
function certify(r: CandidateSums, plan: BanditPlan, alpha: number, rewardRange: [number, number], ref: string, allowDeficient: boolean, warnings: Warning[]): Certificate[] {
  const out: Certificate[] = [];
  if (deficiencyOf(r) > 1e-12 && !allowDeficient) return out;
  const guard =
    (f: () => Certificate) =>
    (): Certificate => {
      if (r.rewardsOutside.count > 0) throw rewardRangeError(rewardRange, r.rewardsOutside.count, r.rewardsOutside.rows);
      return f();
    };
  const clipOpts = { delta: alpha, rewardRange, tau: plan.tau };
  const attempts: [CertificateKind, () => Certificate][] = [
    ['catoni-clipped-ips', guard(() => catoniFromSums(r.clippedRisk, clipOpts))],
    ['london-sandler', guard(() => londonSandlerFromSums(r.clippedRisk, clipOpts))],
  ];
  if (r.smoothing) {
    const s = r.smoothing;
    attempts.push(['exponential-smoothing', guard(() => exponentialSmoothingFromSums(s, { delta: alpha, rewardRange }))]);
  } else {
    warnings.push({
      code: 'CERTIFICATE_SKIPPED',
      message: `The exponential-smoothing certificate was not computed: it needs the logger's full action distribution (an action_probs column, DOUBLE[K]), and ${ref} has only the logged propensity. The Catoni and London-Sandler certificates need only the propensity and are reported.`,
    });
  }
  for (const [kind, f] of attempts) {
    try {
      out.push(f());
    } catch (e) {
      if (!(e instanceof OffpolicyError)) throw e;
      warnings.push({ code: 'CERTIFICATE_FAILED', message: `The ${kind} certificate could not be computed: ${e.message}` });
    }
  }
  return out;
}

/** Why estimator `id` has no usable interval for this candidate. */
function unusableReason(id: string, estimates: Estimate[], plan: BanditPlan, warnings: readonly Warning[]): string | null {
  const e = estimates.find((x) => x.estimator === id);
  if (!e) {
    if (!(plan.estimators as readonly string[]).includes(id)) return `${id} was not run (add it to --estimators)`;
    return warnings.some((w) => w.code === 'IPS_REFUSED') ? `${id} was refused: the candidate leaves the logger's support (--allow-deficient computes it anyway)` : `${id} was not computed`;
  }
  if (!e.interval) return `${id} has no interval (${warnings.find((w) => w.code === 'INTERVAL_UNSUPPORTED' && w.message.includes(id))?.message ?? 'the interval method does not apply to it'})`;
  if (!Number.isFinite(e.interval.lower)) return `${id}'s interval has no finite lower bound`;
  return null;
}

/**
 * The bounds behind the verdict. `source` names an estimator id or a certificate
 * kind: if it cannot be used the verdict has no bound (inconclusive) and says
 * why. By default the first of VERDICT_PREFERENCE (among the estimators run)
 * with an interval decides, then the first certificate; when the first
 * preferred estimator cannot be used the note says so (a SOURCE_FALLBACK caveat).
 */
function verdictBound(estimates: Estimate[], certificates: Certificate[], plan: BanditPlan, warnings: readonly Warning[], source?: string): { picked: PickedBound | null; note?: string } {
  if (source) {
    const isCert = (CERTIFICATE_KINDS as readonly string[]).includes(source);
    if (isCert) {
      if (certificates.some((c) => c.kind === source)) return { picked: pickLowerBound(estimates, certificates, { certificate: source as CertificateKind }) };
      const why = warnings.find((w) => (w.code === 'CERTIFICATE_FAILED' || w.code === 'CERTIFICATE_SKIPPED') && w.message.includes(source))?.message ?? 'it was not computed for this candidate';
      return { picked: null, note: `The chosen verdict source, the ${source} certificate, cannot be used: ${why}` };
    }
    if (!(plan.estimators as readonly string[]).includes(source)) return { picked: pickLowerBound(estimates, certificates, { estimator: source }) }; // throws E_VERDICT_SOURCE
    const why = unusableReason(source, estimates, plan, warnings);
    if (why) return { picked: null, note: `The chosen verdict source cannot be used: ${why}.` };
    return { picked: pickLowerBound(estimates, certificates, { estimator: source }) };
  }
  const preferred = VERDICT_PREFERENCE.filter((id) => plan.estimators.includes(id));
  const first = preferred[0];
  for (const id of preferred) {
    if (unusableReason(id, estimates, plan, warnings) !== null) continue;
    const picked = pickLowerBound(estimates, certificates, { estimator: id });
    if (id === first) return { picked };
    return { picked, note: `The default verdict source ${first} cannot be used (${unusableReason(first!, estimates, plan, warnings)}); ${id} decided instead.` };
  }
  const why = first ? ` (${unusableReason(first, estimates, plan, warnings)})` : '';
  if (certificates.length > 0) {
    const picked = pickLowerBound(estimates, certificates, { certificate: certificates[0]!.kind });
    return { picked, note: `No estimator interval can be used${why}; the ${certificates[0]!.kind} certificate decided instead.` };
  }
  return { picked: null, note: `No estimator interval or certificate can be used${why}.` };
}

export interface AssembleContext {
  name: string;
  source: string;
  plan: BanditPlan;
  interval: IntervalMethod;
  alpha: number;
  /** The reward range in force (declared, or the rewards' own). */
  rewardRange: [number, number];
  allowDeficient: boolean;
  /** The dataset reference, named in warnings. */
  ref: string;
  loggingValue: number;
  loggingInterval?: Interval;
  strict: boolean;
  verdictSource?: string;
  /** Intervals of this candidate's admitted estimators computed per estimator from resamples or rows (bootstrap, poisson-bootstrap, betting, empirical-likelihood). */
  bootstrap?: ReadonlyMap<EstimatorId, Interval | undefined>;
  /** Why some of those row intervals are missing (INTERVAL_UNSUPPORTED). */
  intervalWarnings?: readonly Warning[];
  /** Warnings every candidate carries (e.g. ESTIMATED_PROPENSITIES), appended last. */
  sharedWarnings?: readonly Warning[];
  /** The logger's propensities were estimated (a verdict caveat). */
  propensitiesEstimated?: boolean;
  /** DM intervals include the reward model's estimation error (see ../evaluate.ts). */
  dmModelUncertainty?: boolean;
}

export function assembleCandidate(r: CandidateSums, ctx: AssembleContext): CandidateResult {
  const { plan } = ctx;
  const warnings: Warning[] = [];
  const deficiency = deficiencyOf(r);
  const ids = admitted(plan.estimators, deficiency, ctx.allowDeficient, ctx.name, warnings);
  const estimates = ids.map((id) => {
    const s = r.estimators.get(id)!;
    const interval =
      needsRows(ctx.interval) || ctx.interval === 'poisson-bootstrap' ? ctx.bootstrap?.get(id) : sumsInterval(id, s, ctx.interval, ctx.alpha, ctx.rewardRange, 1 / r.minPropensity, plan.params, warnings);
    return estimateFromSums(id, s, plan.params, interval && labelInterval(id, clipToRange(interval, ctx.rewardRange), plan.params, ctx.dmModelUncertainty ?? false));
  });
  warnings.push(...(ctx.intervalWarnings ?? []));
  const certificates = certify(r, plan, ctx.alpha, ctx.rewardRange, ctx.ref, ctx.allowDeficient, warnings);
  const diagnostics = diagnosticsFromStats(r.weights, deficiency);
  const values = estimates.map((e) => e.value).filter(Number.isFinite);
  const disagreement = values.length > 0 ? Math.max(...values) - Math.min(...values) : 0;
  warnings.push(...candidateWarnings(diagnostics, estimates), ...(ctx.sharedWarnings ?? []));
  const { picked, note } = verdictBound(estimates, certificates, plan, warnings, ctx.verdictSource);
  const logging = { loggingValue: ctx.loggingValue, ...(ctx.loggingInterval ? { loggingUpper: ctx.loggingInterval.upper, loggingLower: ctx.loggingInterval.lower } : {}) };
  const betterBase = ctx.strict && ctx.loggingInterval ? ctx.loggingInterval.upper : ctx.loggingValue;
  const worseBase = ctx.strict && ctx.loggingInterval ? ctx.loggingInterval.lower : ctx.loggingValue;
  const caveats = verdictCaveats({
    outcome: picked ? boundOutcome(picked.lowerBound, picked.upperBound, betterBase, worseBase) : 'inconclusive',
    picked,
    estimates,
    certificates,
    diagnostics,
    warnings,
    loggingValue: ctx.loggingValue,
    propensitiesEstimated: ctx.propensitiesEstimated ?? warnings.some((w) => w.code === 'ESTIMATED_PROPENSITIES'),
    ...(note ? { sourceNote: note } : {}),
  });
  const verdict = deployVerdict({
    candidate: ctx.name,
    ...(picked ?? { lowerBound: NaN, lowerBoundSource: ctx.verdictSource ?? 'no usable source', alpha: ctx.alpha }),
    ...logging,
    strict: ctx.strict,
    caveats,
    ...(note ? { sourceNote: note } : {}),
  });
  return {
    name: ctx.name,
    source: ctx.source,
    estimates,
    certificates,
    diagnostics,
    disagreement,
    warnings,
    verdict,
    ...(r.truthSum !== null ? { trueValue: r.truthSum / r.n } : {}),
  };
}
