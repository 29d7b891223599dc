/**
 * The exponential-smoothing certificate (Aouali, Brunel, Rohde, Korba, ICML 2023,
 * "Exponential Smoothing for Off-Policy Learning", the two-sided PAC-Bayes bound for
 * the alpha-smoothed IPS risk, Section 4). It holds for standard IPS (alpha = 1)
 * WITHOUT any bound on the importance weights.
 *
 * With costs c_i = -r'_i in [-1, 0] (see ./common.ts), pi0 the logger's full
 * distribution, and C1 = KL + ln(4 sqrt(n) / delta), C2 = KL + ln(4 / delta):
 *
 *   R_hat   = (1/n) sum_i c_i pi(a_i|x_i) / p_i^alpha                     (smoothed risk)
 *   B       = 1 - (1/n) sum_i sum_a pi(a|x_i) pi0(a|x_i)^(1 - alpha)       (bias term)
 *   M1      = (1/n) sum_i sum_a pi(a|x_i) / pi0(a|x_i)^(2 alpha - 1)        (second moment)
 *   M2      = (1/n) sum_i c_i^2 pi(a_i|x_i) / p_i^(2 alpha)                 (empirical second moment)
 *   |R - R_hat| <= sqrt(C1 / (2n)) + B + C2 / (n lambda) + (lambda / 2)(M1 + M2).
 *
 * These are the terms of the authors' code (imadaouali/exponential-smoothing-icml23,
 * models.py: OurGaussian / OurMixedLogit, whose two-sided constants ln(4 sqrt(n)/delta)
 * and ln(4/delta) we use; their one-sided softmax variant uses ln(2 sqrt(n)/delta) and
 * ln(1/delta)). lambda: the closed form minimizing the last two terms,
 * lambda* = sqrt(2 C2 / (n (M1 + M2))), giving sqrt(2 C2 (M1 + M2) / n). Like the
 * authors, lambda is chosen from the data; strictly the theorem holds for a fixed
 * lambda, so pass `lambda` to fix it in advance when that matters.
 *
 * Actions the logger never takes (pi0 = 0) contribute nothing to the sums over a
 * (0^0 := 0), so the candidate's mass there lands in B: the bias that IPS has
 * without support is accounted for.
 *
 * Every term is a mergeable sum (SmoothingSums; rewards shifted as in ./common.ts),
 * so the bound also runs as DuckDB aggregates over Parquet (smoothingSqlTerms,
 * smoothingActionMaps) on the pushdown path.
 */
import { OffpolicyError } from '../../core/errors.js';
import { checkSmoothingAlpha, defaultSmoothingAlpha, sqlNumber } from '../estimators/params.js';
import type { BanditBatch } from '../estimators/types.js';
import type { Certificate } from '../../core/evaluation-result.js';
import { smoothingDeviation } from '../../util/pac-bayes.js';
import { checkDelta, checkKl, checkRewardRange, checkRewardsInRange, requireRows, rescaledMean, riskToValue, type BoundOptions } from './common.js';

export interface ExponentialSmoothingOptions extends BoundOptions {
  /** Smoothing exponent; default 1 - n^(-1/4). */
  alpha?: number;
  /** Fixed lambda > 0; default: the closed-form minimizer. */
  lambda?: number;
}

/**
 * The sums behind the bound, with e_i = pi(a_i|x_i) / p_i^alpha, f_i = e_i / p_i^alpha
 * and rewards shifted by `shift`.
 */
export interface SmoothingSums {
  n: number;
  alpha: number;
  shift: number;
  /** sum_i e_i */
  sumE: number;
  /** sum_i (r_i - shift) e_i */
  sumShiftedRewardE: number;
  /** sum_i f_i */
  sumF: number;
  /** sum_i (r_i - shift) f_i */
  sumShiftedRewardF: number;
  /** sum_i (r_i - shift)^2 f_i */
  sumShiftedReward2F: number;
  /** sum_i sum_{a: pi0 > 0} pi(a|x_i) pi0(a|x_i)^(1 - alpha) */
  biasMass: number;
  /** sum_i sum_{a: pi0 > 0} pi(a|x_i) pi0(a|x_i)^(1 - 2 alpha) */
  secondMoment: number;
}

function requireLoggingProbs(b: BanditBatch): Float64Array {
  const pi0 = b.loggingProbs;
  if (!pi0 || pi0.length !== b.n * b.numActions) {
    throw new OffpolicyError('E_LOGGING_PROBS_REQUIRED', "The exponential-smoothing certificate needs the logger's full action distribution (action_probs), which this log does not have.", {
      hint: 'Log action_probs, or use the Catoni or London-Sandler certificates, which need only the logged propensity.',
    });
  }
  return pi0;
}

/** The sums over a batch (JS); needs loggingProbs. */
export function smoothingSums(b: BanditBatch, alpha: number, shift = 0): SmoothingSums {
  const pi0 = requireLoggingProbs(b);
  checkSmoothingAlpha(alpha);
  const { n, numActions: k } = b;
  let se = 0, sre = 0, sf = 0, srf = 0, sr2f = 0, biasMass = 0, m1 = 0;
  for (let i = 0; i < n; i++) {
    const pa = Math.pow(b.propensities[i]!, alpha);
    const e = b.targetProbs[i * k + b.actions[i]!]! / pa;
    const f = e / pa;
    const r = b.rewards[i]! - shift;
    se += e;
    sre += r * e;
    sf += f;
    srf += r * f;
    sr2f += r * r * f;
    for (let a = 0; a < k; a++) {
      const q = pi0[i * k + a]!;
      const t = b.targetProbs[i * k + a]!;
      if (q > 0 && t > 0) {
        biasMass += t * Math.pow(q, 1 - alpha);
        m1 += t * Math.pow(q, 1 - 2 * alpha);
      }
    }
  }
  return { n, alpha, shift, sumE: se, sumShiftedRewardE: sre, sumF: sf, sumShiftedRewardF: srf, sumShiftedReward2F: sr2f, biasMass, secondMoment: m1 };
}

/**
 * Per-row SQL terms whose SUMs give the logged-action sums of SmoothingSums.
 * `propensityPow` may name a column already holding p^alpha, `smoothedWeight` one
 * holding pi(a_i|x_i) / p^alpha.
 */
export function smoothingSqlTerms(
  c: { reward: string; piLogged: string; propensity: string; propensityPow?: string; smoothedWeight?: string },
  alpha: number,
  shift: number,
): Pick<Record<keyof SmoothingSums, string>, 'sumE' | 'sumShiftedRewardE' | 'sumF' | 'sumShiftedRewardF' | 'sumShiftedReward2F'> {
  const pa = c.propensityPow ?? `power(${c.propensity}, ${sqlNumber(checkSmoothingAlpha(alpha))})`;
  const e = c.smoothedWeight !== undefined ? `(${c.smoothedWeight})` : `((${c.piLogged}) / (${pa}))`;
  const f = `(${e} / (${pa}))`;
  const r = `((${c.reward}) - ${sqlNumber(shift)})`;
  return { sumE: e, sumShiftedRewardE: `(${r} * ${e})`, sumF: f, sumShiftedRewardF: `(${r} * ${f})`, sumShiftedReward2F: `(${r} * ${r} * ${f})` };
}

/**
 * The per-action maps of the two sums over actions, as SQL over one logging
 * probability x: biasMass = sum_a pi_a * map(x_a), secondMoment likewise.
 */
export function smoothingActionMaps(alpha: number): { biasMass: (x: string) => string; secondMoment: (x: string) => string } {
  const a = checkSmoothingAlpha(alpha);
  const pow = (x: string, e: number): string => `CASE WHEN ${x} > 0 THEN power(${x}, ${sqlNumber(e)}) ELSE 0.0 END`;
  return { biasMass: (x) => pow(x, 1 - a), secondMoment: (x) => pow(x, 1 - 2 * a) };
}

export function exponentialSmoothingBound(b: BanditBatch, opts: ExponentialSmoothingOptions): Certificate {
  checkDelta(opts.delta);
  checkKl(opts.kl);
  requireRows(b.n);
  const alpha = checkSmoothingAlpha(opts.alpha ?? defaultSmoothingAlpha(b.n));
  requireLoggingProbs(b);
  checkRewardsInRange(b, opts.rewardRange);
  return exponentialSmoothingFromSums(smoothingSums(b, alpha, opts.rewardRange[0]), opts);
}

/** The certificate from SmoothingSums (the sums' alpha is the one used; opts.alpha is ignored). */
export function exponentialSmoothingFromSums(s: SmoothingSums, opts: ExponentialSmoothingOptions): Certificate {
  const delta = checkDelta(opts.delta);
  const kl = checkKl(opts.kl);
  requireRows(s.n);
  checkRewardRange(opts.rewardRange);
  const { n, alpha } = s;
  const [lo, hi] = opts.rewardRange;
  const D = hi - lo;
  const d = lo - s.shift;
  // c_i = -r'_i: risk = -(1/n) sum r' e; M2 = (1/n) sum r'^2 f with r' = ((r - shift) - d) / D.
  const risk = -rescaledMean(opts.rewardRange, s.shift, n, s.sumShiftedRewardE, s.sumE);
  const m2 = (s.sumShiftedReward2F - 2 * d * s.sumShiftedRewardF + d * d * s.sumF) / (D * D * n);
  const m1 = s.secondMoment / n;
  const bias = Math.max(0, 1 - s.biasMass / n);
  if (opts.lambda !== undefined && (!(opts.lambda > 0) || !Number.isFinite(opts.lambda))) {
    throw new OffpolicyError('E_BOUND_PARAM', `lambda must be a positive finite number, got ${opts.lambda}.`, {
      hint: 'Omit lambda to use the closed-form choice.',
    });
  }
  const { epsilon: eps, lambda } = smoothingDeviation({ n, kl, delta, bias, secondMoment: m1 + m2, ...(opts.lambda !== undefined ? { lambda: opts.lambda } : {}) });
  const v = riskToValue(opts.rewardRange, risk + eps, risk - eps);
  return {
    kind: 'exponential-smoothing',
    lower: v.lower,
    upper: v.upper,
    delta,
    params: { alpha, lambda, kl, n, smoothedRisk: risk, bias, secondMoment: m1, empiricalSecondMoment: m2, epsilon: eps },
  };
}
