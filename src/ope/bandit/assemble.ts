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
import { candidateWarnings, diagnosticsFromStats } from '../diagnostics.js';
import { DEFAULT_CLIP, getEstimator, termRange } from '../estimators/index.js';
import type { EstimatorId, ResolvedParams } from '../estimators/types.js';
import { bernsteinInterval } from '../intervals/bernstein.js';
import { hoeffdingInterval } from '../intervals/hoeffding.js';
import { needsRows, type RowIntervalMethod } from '../intervals/row-methods.js';
import { tInterval } from '../intervals/t.js';
import { sumsStdError, sumsValue, type MergeableSums } from '../sums.js';
import type { CandidateResult, Certificate, CertificateKind, Estimate, Interval, IntervalMethod, Warning } from '../../core/evaluation-result.js';
import { deployVerdict, pickLowerBound } from '../verdict.js';
import type { BanditPlan, CandidateSums } from './plan.js';

/** Estimators that weight by pi / pi0: refused on support-deficient candidates unless allowDeficient. */
export const IPS_FAMILY: readonly EstimatorId[] = ['ips', 'clipped-ips', 'snips', 'es-ips', 'dr', 'sndr', 'switch-dr', 'dr-os'];

/** Default order in which an estimator's interval serves as the verdict's lower bound. */
export const VERDICT_PREFERENCE: readonly EstimatorId[] = ['dr', 'sndr', 'switch-dr', 'dr-os', 'snips', 'ips', 'clipped-ips', 'es-ips', 'dm'];

/** The propensity clip of the clipped-IPS certificates: 1 / clip for a finite clip >= 1, else 1 / DEFAULT_CLIP. */
export function certificateTau(params: ResolvedParams): number {
  return Number.isFinite(params.clip) && params.clip >= 1 ? 1 / params.clip : 1 / DEFAULT_CLIP;
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
    if (method === 't') return tInterval(s, alpha);
    const range = termRange(id, { rewardRange, maxWeight: maxWeightBound, params: { clip: params.clip, smoothingAlpha: params.smoothingAlpha } });
    if (range === null) {
      warnings.push({ code: 'INTERVAL_UNSUPPORTED', message: `${method} intervals do not apply to ${id} (a self-normalized ratio); use t or bootstrap for it.` });
      return undefined;
    }
    return method === 'hoeffding' ? hoeffdingInterval(s, range, alpha, id) : bernsteinInterval(s, range, alpha, id);
  } catch (e) {
    if (e instanceof OffpolicyError) {
      warnings.push({ code: 'INTERVAL_UNSUPPORTED', message: `${id}: ${e.message}` });
      return undefined;
    }
    throw e;
  }
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

/**
 * The lower bound behind the verdict: `source` names an estimator id or a
 * certificate kind; by default the first of VERDICT_PREFERENCE with an interval,
 * then the first certificate.
 */
function verdictBound(estimates: Estimate[], certificates: Certificate[], source?: string): { lowerBound: number; lowerBoundSource: string; alpha: number } {
  if (source) {
    const isCert = certificates.some((c) => c.kind === source) || ['exponential-smoothing', 'catoni-clipped-ips', 'london-sandler'].includes(source);
    return pickLowerBound(estimates, certificates, isCert ? { certificate: source as Certificate['kind'] } : { estimator: source });
  }
  for (const id of VERDICT_PREFERENCE) {
    const e = estimates.find((x) => x.estimator === id && x.interval && Number.isFinite(x.interval.lower));
    if (e) return pickLowerBound(estimates, certificates, { estimator: id });
  }
  if (certificates.length > 0) return pickLowerBound(estimates, certificates, { certificate: certificates[0]!.kind });
  return { lowerBound: NaN, lowerBoundSource: 'no estimator with an interval', alpha: 0.05 };
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
    return estimateFromSums(id, s, plan.params, interval);
  });
  warnings.push(...(ctx.intervalWarnings ?? []));
  const certificates = certify(r, plan, ctx.alpha, ctx.rewardRange, ctx.ref, ctx.allowDeficient, warnings);
  const diagnostics = diagnosticsFromStats(r.weights, deficiency);
  const values = estimates.map((e) => e.value).filter(Number.isFinite);
  const disagreement = values.length > 0 ? Math.max(...values) - Math.min(...values) : 0;
  warnings.push(...candidateWarnings(diagnostics, estimates), ...(ctx.sharedWarnings ?? []));
  const verdict = deployVerdict({
    candidate: ctx.name,
    ...verdictBound(estimates, certificates, ctx.verdictSource),
    loggingValue: ctx.loggingValue,
    ...(ctx.loggingInterval ? { loggingUpper: ctx.loggingInterval.upper } : {}),
    strict: ctx.strict,
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
