/**
 * The deploy rule (REFERENCES.md): a candidate is recommended only if a lower
 * confidence bound on its value — the lower end of a named estimator's interval,
 * or a certificate's lower bound — exceeds the logging policy's value estimate,
 * or, when strict, the upper end of the logging policy's interval.
 */
import { OffpolicyError } from '../core/errors.js';
import type { Certificate, CertificateKind, Estimate, Verdict } from '../core/evaluation-result.js';

export interface VerdictInput {
  candidate: string;
  lowerBound: number;
  /** e.g. "dr (bootstrap)" or "certificate: catoni-clipped-ips" */
  lowerBoundSource: string;
  /** Miscoverage of the lower bound (alpha of the interval, delta of the certificate). */
  alpha: number;
  /** The logging policy's value estimate (mean logged reward). */
  loggingValue: number;
  /** Upper end of the logging policy's interval; required when strict. */
  loggingUpper?: number;
  strict?: boolean;
}

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
  const what = strict ? 'logging upper bound' : 'logging value';
  if (!Number.isFinite(v.lowerBound)) {
    return {
      recommended: false,
      lowerBound: v.lowerBound,
      lowerBoundSource: v.lowerBoundSource,
      baseline,
      strict,
      sentence: `Not enough evidence: no finite lower bound from ${v.lowerBoundSource} to compare with the ${what} ${baseline.toFixed(3)}.`,
    };
  }
  const recommended = v.lowerBound > baseline;
  const [lb, base] = formatPair(v.lowerBound, baseline);
  const sentence = recommended
    ? `Candidate ${v.candidate} beats the logging policy: lower bound ${lb} > ${strict ? `${what} ` : ''}${base} at ${level(v.alpha)}.`
    : `Not enough evidence: lower bound ${lb} <= ${what} ${base} at ${level(v.alpha)}.`;
  return { recommended, lowerBound: v.lowerBound, lowerBoundSource: v.lowerBoundSource, baseline, strict, sentence };
}

export type LowerBoundSource = { estimator: string } | { certificate: CertificateKind };

/** Picks the lower bound named by `source` from a candidate's estimates or certificates. */
export function pickLowerBound(
  estimates: readonly Estimate[],
  certificates: readonly Certificate[],
  source: LowerBoundSource,
): { lowerBound: number; lowerBoundSource: string; alpha: number } {
  if ('estimator' in source) {
    const e = estimates.find((x) => x.estimator === source.estimator);
    if (!e || !e.interval) {
      throw new OffpolicyError('E_VERDICT_SOURCE', `The verdict uses the interval of estimator "${source.estimator}", but ${e ? 'it has no interval' : 'that estimator was not run'}.`, {
        hint: `Run it with an interval, or choose another source from: ${estimates.filter((x) => x.interval).map((x) => x.estimator).join(', ') || 'none'}.`,
      });
    }
    return { lowerBound: e.interval.lower, lowerBoundSource: `${e.estimator} (${e.interval.method})`, alpha: e.interval.alpha };
  }
  const c = certificates.find((x) => x.kind === source.certificate);
  if (!c) {
    throw new OffpolicyError('E_VERDICT_SOURCE', `The verdict uses the "${source.certificate}" certificate, but it was not computed.`, {
      hint: `Choose from: ${certificates.map((x) => x.kind).join(', ') || 'none'}.`,
    });
  }
  return { lowerBound: c.lower, lowerBoundSource: `certificate: ${c.kind}`, alpha: c.delta };
}
