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
 */
import { OffpolicyError } from '../../errors.js';
import { checkSmoothingAlpha, defaultSmoothingAlpha } from '../estimators/params.js';
import type { BanditBatch } from '../estimators/types.js';
import type { Certificate } from '../types.js';
import { checkDelta, checkKl, requireRows, rescaledRewards, riskToValue, type BoundOptions } from './common.js';

export interface ExponentialSmoothingOptions extends BoundOptions {
  /** Smoothing exponent; default 1 - n^(-1/4). */
  alpha?: number;
  /** Fixed lambda > 0; default: the closed-form minimizer. */
  lambda?: number;
}

export function exponentialSmoothingBound(b: BanditBatch, opts: ExponentialSmoothingOptions): Certificate {
  const delta = checkDelta(opts.delta);
  const kl = checkKl(opts.kl);
  requireRows(b.n);
  const alpha = checkSmoothingAlpha(opts.alpha ?? defaultSmoothingAlpha(b.n));
  const pi0 = b.loggingProbs;
  const { n, numActions: k } = b;
  if (!pi0 || pi0.length !== n * k) {
    throw new OffpolicyError('E_LOGGING_PROBS_REQUIRED', "The exponential-smoothing certificate needs the logger's full action distribution (action_probs), which this log does not have.", {
      hint: 'Log action_probs, or use the Catoni or London-Sandler certificates, which need only the logged propensity.',
    });
  }
  const r = rescaledRewards(b, opts.rewardRange);
  let risk = 0, m2 = 0, biasMass = 0, m1 = 0;
  for (let i = 0; i < n; i++) {
    const c = -r[i]!;
    const pi = b.targetProbs[i * k + b.actions[i]!]!;
    const p = b.propensities[i]!;
    const pa = Math.pow(p, alpha);
    risk += (c * pi) / pa;
    m2 += (c * c * pi) / (pa * pa);
    for (let a = 0; a < k; a++) {
      const q = pi0[i * k + a]!;
      const t = b.targetProbs[i * k + a]!;
      if (q > 0 && t > 0) {
        biasMass += t * Math.pow(q, 1 - alpha);
        m1 += t / Math.pow(q, 2 * alpha - 1);
      }
    }
  }
  risk /= n;
  m2 /= n;
  m1 /= n;
  const bias = Math.max(0, 1 - biasMass / n);
  const c1 = kl + Math.log((4 * Math.sqrt(n)) / delta);
  const c2 = kl + Math.log(4 / delta);
  const M = m1 + m2;
  let lambda: number;
  let varianceTerm: number;
  if (opts.lambda !== undefined) {
    if (!(opts.lambda > 0) || !Number.isFinite(opts.lambda)) {
      throw new OffpolicyError('E_BOUND_PARAM', `lambda must be a positive finite number, got ${opts.lambda}.`, {
        hint: 'Omit lambda to use the closed-form choice.',
      });
    }
    lambda = opts.lambda;
    varianceTerm = c2 / (n * lambda) + (lambda / 2) * M;
  } else {
    // M = 0 only when the candidate has no mass on any action the logger takes.
    lambda = M > 0 ? Math.sqrt((2 * c2) / (n * M)) : Infinity;
    varianceTerm = Math.sqrt((2 * c2 * M) / n);
  }
  const eps = Math.sqrt(c1 / (2 * n)) + bias + varianceTerm;
  const v = riskToValue(opts.rewardRange, risk + eps, risk - eps);
  return {
    kind: 'exponential-smoothing',
    lower: v.lower,
    upper: v.upper,
    delta,
    params: { alpha, lambda, kl, n, smoothedRisk: risk, bias, secondMoment: m1, empiricalSecondMoment: m2, epsilon: eps },
  };
}
