/**
 * The deploy verdict (REFERENCES.md, README "Verdict"): three outcomes from one
 * named interval (an estimator's, or a certificate's bounds) against the logging
 * policy's value:
 *
 *   better        the lower bound exceeds the logging value (strict: the upper end
 *                 of the logging value's interval);
 *   worse         the upper bound is below the logging value (strict: the lower end
 *                 of the logging value's interval);
 *   inconclusive  neither.
 *
 * Then the caveat rule (verdictCaveats gathers the evidence): a "better" becomes
 * "inconclusive" when a blocking caveat is present (SUPPORT_DEFICIENT while an
 * importance-weighted estimator decided) or when at least two of LOW_ESS,
 * ESTIMATOR_DISAGREEMENT and CERTIFICATE_BELOW_LOGGING are; otherwise any caveat
 * makes it "better, with caveats". Caveats never change "worse" or
 * "inconclusive" (they are listed).
 */
import { OffpolicyError } from '../core/errors.js';
import type { Certificate, CertificateKind, Estimate, Verdict, VerdictCaveat, VerdictOutcome, Warning, WeightDiagnostics } from '../core/evaluation-result.js';
import { estimatorDisagreement, SUPPORT_TOLERANCE } from './diagnostics.js';

export interface VerdictInput {
  candidate: string;
  lowerBound: number;
  /** Upper end of the same interval (Infinity or absent: a one-sided bound, never "worse"). */
  upperBound?: number;
  /** e.g. "dr (bootstrap)" or "certificate: catoni-clipped-ips" */
  lowerBoundSource: string;
  decidedBy?: { kind: 'estimator' | 'certificate'; id: string };
  /** Miscoverage of the bound (alpha of the interval, delta of the certificate). */
  alpha: number;
  /** The logging policy's value estimate (mean logged reward). */
  loggingValue: number;
  /** Upper end of the logging policy's interval; required when strict. */
  loggingUpper?: number;
  /** Lower end of the logging policy's interval: "worse" compares against it when strict. */
  loggingLower?: number;
  strict?: boolean;
  /** Evidence gathered by verdictCaveats (or the caller). */
  caveats?: VerdictCaveat[];
  /** Why the requested or default source could not be used. */
  sourceNote?: string;
}

/** Caveats that, two or more together, make a "better" inconclusive. */
export const UNDERMINING_CAVEATS: readonly string[] = ['LOW_ESS', 'ESTIMATOR_DISAGREEMENT', 'CERTIFICATE_BELOW_LOGGING'];
/** Caveats that alone make a "better" inconclusive. */
export const BLOCKING_CAVEATS: readonly string[] = ['SUPPORT_DEFICIENT_SOURCE'];

/** Formats a and b with the fewest decimals (3 to 8) that tell them apart. */
function formatPair(a: number, b: number): [string, string] {
  for (let d = 3; d <= 8; d++) {
    const x = a.toFixed(d), y = b.toFixed(d);
    if (x !== y || d === 8) return [x, y];
  }
  return [String(a), String(b)];
}

function level(alpha: number): string {
  const p = 100 * (1 - alpha);
  return `${Number.isInteger(Math.round(p * 10) / 10) ? Math.round(p) : (Math.round(p * 10) / 10).toFixed(1)}%`;
}

/** The outcome of a bound against the baselines, before caveats. */
export function boundOutcome(lower: number, upper: number, better: number, worse: number): 'better' | 'worse' | 'inconclusive' {
  if (lower > better) return 'better';
  if (upper < worse) return 'worse';
  return 'inconclusive';
}

/** Applies the caveat rule to an outcome (see the module comment). */
export function applyCaveats(outcome: 'better' | 'worse' | 'inconclusive', caveats: readonly VerdictCaveat[]): VerdictOutcome {
  if (outcome !== 'better' || caveats.length === 0) return outcome;
  const codes = new Set(caveats.map((c) => c.code));
  if (BLOCKING_CAVEATS.some((c) => codes.has(c))) return 'inconclusive';
  if (UNDERMINING_CAVEATS.filter((c) => codes.has(c)).length >= 2) return 'inconclusive';
  return 'better-with-caveats';
}

export function deployVerdict(v: VerdictInput): Verdict {
  const strict = v.strict ?? false;
  let baseline = v.loggingValue;
  if (strict) {
    if (v.loggingUpper === undefined || !Number.isFinite(v.loggingUpper)) {
      throw new OffpolicyError('E_VERDICT_STRICT', "A strict verdict compares against the upper end of the logging policy's interval, but none was given.", {
        hint: 'Compute an interval for the logging value, or drop --strict.',
      });
    }
    baseline = v.loggingUpper;
  }
  const worseBaseline = strict && v.loggingLower !== undefined && Number.isFinite(v.loggingLower) ? v.loggingLower : v.loggingValue;
  const upper = v.upperBound ?? Infinity;
  const caveats = v.caveats ?? [];
  const common = {
    lowerBound: Number.isNaN(v.lowerBound) ? null : v.lowerBound, // no bound: null, as JSON writes it
    lowerBoundSource: v.lowerBoundSource,
    // an infinite upper end (a one-sided certificate) is left out: JSON would write it as null
    ...(v.upperBound !== undefined && Number.isFinite(v.upperBound) ? { upperBound: v.upperBound } : {}),
    ...(v.decidedBy ? { decidedBy: v.decidedBy } : {}),
    ...(v.sourceNote ? { sourceNote: v.sourceNote } : {}),
    caveats,
    baseline,
    strict,
  };
  const what = strict ? 'logging upper bound' : 'logging value';
  const at = `at ${level(v.alpha)}`;
  const listed = caveats.length > 0 ? ` Caveats: ${caveats.map((c) => c.code).join(', ')}.` : '';
  if (!Number.isFinite(v.lowerBound) && !Number.isFinite(upper)) {
    const why = v.sourceNote ?? `no finite bound from ${v.lowerBoundSource}`;
    return { ...common, outcome: 'inconclusive', recommended: false, sentence: `Inconclusive for candidate ${v.candidate}: ${why}.`.replace(/\.\.$/, '.') + listed };
  }
  const raw = boundOutcome(v.lowerBound, upper, baseline, worseBaseline);
  const outcome = applyCaveats(raw, caveats);
  const src = v.lowerBoundSource;
  let sentence: string;
  if (raw === 'better') {
    const [lb, base] = formatPair(v.lowerBound, baseline);
    const claim = `${src} lower bound ${lb} > ${what} ${base} ${at}`;
    if (outcome === 'better') sentence = `Candidate ${v.candidate} beats the logging policy: ${claim}.`;
    else if (outcome === 'better-with-caveats') sentence = `Candidate ${v.candidate} beats the logging policy, with caveats: ${claim}.${listed}`;
    else sentence = `Inconclusive for candidate ${v.candidate}: ${claim}, but ${caveats.map((c) => c.code).join(', ')} undermine it.`;
  } else if (raw === 'worse') {
    const wv = strict && worseBaseline !== v.loggingValue ? 'logging lower bound' : 'logging value';
    const [ub, base] = formatPair(upper, worseBaseline);
    sentence = `Candidate ${v.candidate} is worse than the logging policy: ${src} upper bound ${ub} < ${wv} ${base} ${at}.${listed}`;
  } else {
    const [lb, base] = formatPair(v.lowerBound, baseline);
    const up = Number.isFinite(upper) ? `; upper bound ${formatPair(upper, worseBaseline)[0]} >= ${formatPair(upper, worseBaseline)[1]}` : '';
    sentence = `Inconclusive for candidate ${v.candidate}: ${src} lower bound ${lb} <= ${what} ${base}${up} ${at}.${listed}`;
  }
  if (v.sourceNote && !sentence.includes(v.sourceNote)) sentence += ` ${v.sourceNote}`;
  return { ...common, outcome, recommended: outcome === 'better' || outcome === 'better-with-caveats', sentence };
}

export type LowerBoundSource = { estimator: string } | { certificate: CertificateKind };

export interface PickedBound {
  lowerBound: number;
  upperBound: number;
  lowerBoundSource: string;
  alpha: number;
  decidedBy: { kind: 'estimator' | 'certificate'; id: string };
  /** 'variance' when the interval belongs to an estimator biased by design. */
  covers: 'value' | 'variance';
}

/** Picks the bounds named by `source` from a candidate's estimates or certificates. */
export function pickLowerBound(estimates: readonly Estimate[], certificates: readonly Certificate[], source: LowerBoundSource): PickedBound {
  if ('estimator' in source) {
    const e = estimates.find((x) => x.estimator === source.estimator);
    if (!e || !e.interval) {
      throw new OffpolicyError('E_VERDICT_SOURCE', `The verdict uses the interval of estimator "${source.estimator}", but ${e ? 'it has no interval' : 'that estimator was not run'}.`, {
        hint: `Run it with an interval, or choose another source from: ${estimates.filter((x) => x.interval).map((x) => x.estimator).join(', ') || 'none'}.`,
      });
    }
    const covers = e.interval.covers ?? 'value';
    return {
      lowerBound: e.interval.lower,
      upperBound: e.interval.upper,
      lowerBoundSource: `${e.estimator} (${e.interval.method}${covers === 'variance' ? ', variance interval' : ''})`,
      alpha: e.interval.alpha,
      decidedBy: { kind: 'estimator', id: e.estimator },
      covers,
    };
  }
  const c = certificates.find((x) => x.kind === source.certificate);
  if (!c) {
    throw new OffpolicyError('E_VERDICT_SOURCE', `The verdict uses the "${source.certificate}" certificate, but it was not computed.`, {
      hint: `Choose from: ${certificates.map((x) => x.kind).join(', ') || 'none'}.`,
    });
  }
  return { lowerBound: c.lower, upperBound: c.upper ?? Infinity, lowerBoundSource: `certificate: ${c.kind}`, alpha: c.delta, decidedBy: { kind: 'certificate', id: c.kind }, covers: 'value' };
}

/** Estimators that aim at the policy value without bias by design (checked against a "better"). */
const VALUE_ESTIMATORS: ReadonlySet<string> = new Set(['ips', 'snips', 'dr', 'sndr']);
/** Estimators that weight by pi / pi0 (support deficiency biases them). */
const WEIGHTED: ReadonlySet<string> = new Set(['ips', 'clipped-ips', 'snips', 'es-ips', 'dr', 'sndr', 'switch-dr', 'dr-os']);

const f3 = (x: number): string => x.toFixed(3);

export interface CaveatInput {
  outcome: 'better' | 'worse' | 'inconclusive';
  picked: PickedBound | null;
  estimates: readonly Estimate[];
  certificates: readonly Certificate[];
  diagnostics: WeightDiagnostics;
  /** The candidate's warnings (LOW_ESS, ESTIMATOR_DISAGREEMENT are read from them). */
  warnings: readonly Warning[];
  loggingValue: number;
  propensitiesEstimated: boolean;
  sourceNote?: string;
}

/**
 * The evidence that weakens a verdict, each a caveat with a stable code:
 *   LOW_ESS                    the LOW_ESS warning fired (few effective rows);
 *   ESTIMATOR_DISAGREEMENT     among the unbiased estimators (ips, snips, dr, sndr): one puts
 *                              the value at or below the logging value (better) / at or above
 *                              it (worse), or two have intervals that do not overlap;
 *   CERTIFICATE_BELOW_LOGGING  (better) no certificate confirms: every certificate's lower
 *                              bound is at or below the logging value;
 *   CERTIFICATE_ABOVE_LOGGING  (worse) a certificate's lower bound is above the logging value;
 *   ESTIMATED_PROPENSITIES     the logger's propensities were estimated, not logged;
 *   SUPPORT_DEFICIENT          the candidate leaves the logger's support (DM decided);
 *   SUPPORT_DEFICIENT_SOURCE   ... and an importance-weighted estimator decided (blocking);
 *   VARIANCE_INTERVAL          the deciding interval is a variance interval of a biased estimator;
 *   SOURCE_FALLBACK            the default source could not be used and another decided.
 */
export function verdictCaveats(x: CaveatInput): VerdictCaveat[] {
  const out: VerdictCaveat[] = [];
  const codes = new Set(x.warnings.map((w) => w.code));
  const d = x.diagnostics;
  const deciding = x.picked?.decidedBy;
  if (codes.has('LOW_ESS')) {
    out.push({ code: 'LOW_ESS', message: `Effective sample size ${d.ess.toFixed(1)} of ${d.n} rows (${(100 * d.essRatio).toFixed(1)}%), largest weight ${d.maxWeight.toPrecision(3)}: the importance-weighted estimates rest on few rows.` });
  }
  if (x.outcome !== 'inconclusive') {
    const better = x.outcome === 'better';
    const against = x.estimates.filter(
      (e) => VALUE_ESTIMATORS.has(e.estimator) && e.estimator !== deciding?.id && Number.isFinite(e.value) && (better ? e.value <= x.loggingValue : e.value >= x.loggingValue),
    );
    // Among the unbiased estimators only: DM and the clipped / smoothed ones differ from them by design.
    const dis = estimatorDisagreement(x.estimates.filter((e) => VALUE_ESTIMATORS.has(e.estimator)));
    const apart = dis.min?.interval && dis.max?.interval && dis.min.interval.upper < dis.max.interval.lower;
    if (against.length > 0 || apart) {
      const spread = dis.min && dis.max ? `unbiased estimates range from ${dis.min.estimator} ${f3(dis.min.value)} to ${dis.max.estimator} ${f3(dis.max.value)}` : '';
      out.push({
        code: 'ESTIMATOR_DISAGREEMENT',
        message:
          against.length > 0
            ? `${against.map((e) => `${e.estimator} gives ${f3(e.value)}`).join(', ')}, ${better ? 'at or below' : 'at or above'} the logging value ${f3(x.loggingValue)}${spread ? `; ${spread}` : ''}.`
            : `The unbiased estimators' intervals do not overlap: ${spread}.`,
      });
    }
    // better: no certificate confirms it (every lower bound at or below the logging value); worse: one contradicts it.
    const others = x.certificates.filter((c) => deciding?.id !== c.kind);
    const certs = better ? (others.every((c) => c.lower <= x.loggingValue) ? others : []) : others.filter((c) => c.lower > x.loggingValue);
    if (certs.length > 0) {
      out.push({
        code: better ? 'CERTIFICATE_BELOW_LOGGING' : 'CERTIFICATE_ABOVE_LOGGING',
        message: `${certs.map((c) => `${c.kind} lower bound ${f3(c.lower)}`).join(', ')} ${better ? 'at or below' : 'above'} the logging value ${f3(x.loggingValue)}.`,
      });
    }
  }
  if (x.propensitiesEstimated) {
    out.push({ code: 'ESTIMATED_PROPENSITIES', message: "The logger's propensities were estimated from the log, not logged: every importance weight inherits that model's error." });
  }
  if (d.supportDeficiency > SUPPORT_TOLERANCE) {
    const weighted = deciding?.kind === 'estimator' && WEIGHTED.has(deciding.id);
    out.push({
      code: weighted ? 'SUPPORT_DEFICIENT_SOURCE' : 'SUPPORT_DEFICIENT',
      message: weighted
        ? `The candidate puts ${(100 * d.supportDeficiency).toFixed(1)}% of its mass on actions the logger never takes, and ${deciding!.id}, which cannot see those actions, decided.`
        : `The candidate puts ${(100 * d.supportDeficiency).toFixed(1)}% of its mass on actions the logger never takes: only the reward model speaks for them.`,
    });
  }
  if (x.picked?.covers === 'variance') {
    out.push({ code: 'VARIANCE_INTERVAL', message: `The deciding interval (${x.picked.lowerBoundSource}) describes the sampling spread of an estimator biased by design; it does not cover the policy value.` });
  }
  if (x.sourceNote && x.picked) out.push({ code: 'SOURCE_FALLBACK', message: x.sourceNote });
  return out;
}
