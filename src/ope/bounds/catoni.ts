/**
 * The Catoni-style certificate for clipped IPS (Sakhi, Alquier, Chopin, ICML 2023,
 * "PAC-Bayesian Offline Contextual Bandits With Guarantees": their first bound, for
 * the clipped-IPS risk with propensities clipped from below at tau).
 *
 * With costs c_i = -r'_i in [-1, 0] (see ./common.ts),
 *   R_tau_hat = (1/n) sum_i c_i pi(a_i|x_i) / max(p_i, tau)   in [-1/tau, 0],
 *   C = KL + ln(2 sqrt(n) / delta),
 * with probability >= 1 - delta, for all lambda > 0,
 *   R(pi) <= R_tau(pi) <= (1 - exp(-tau lambda R_tau_hat - C / n)) / (tau (e^lambda - 1)).
 * The first inequality holds because clipping shrinks weights and costs are <= 0.
 * The bound is Catoni's relaxation of the Seeger/Maurer kl inequality
 * kl(R_hat || R) <= C / n applied to tau * c * w_tau + 1 in [0, 1]; that inequality
 * holds uniformly, and the relaxation is valid for every lambda, so minimizing over
 * lambda is free (the authors' code does the same with a bounded scalar search:
 * imadaouali/exponential-smoothing-icml23, models.py, CatoniSoftmax).
 * Only the logged propensity is needed. One-sided: a value lower bound.
 *
 * The risk comes from two mergeable sums (./common.ts): with v_i = pi(a_i|x_i) / max(p_i, tau),
 * sum v_i and sum (r_i - shift) v_i, so R_tau_hat = -(1/n) sum r'_i v_i is also an
 * aggregate over Parquet (clippedRiskSqlTerms; London-Sandler uses the same sums).
 */
import { OffpolicyError } from '../../core/errors.js';
import { DEFAULT_CLIP, sqlNumber } from '../estimators/params.js';
import type { BanditBatch } from '../estimators/types.js';
import type { Certificate } from '../../core/evaluation-result.js';
import { minimizeCatoni } from '../../util/pac-bayes.js';
import { checkDelta, checkKl, checkRewardRange, checkRewardsInRange, requireRows, rescaledMean, riskToValue, type BoundOptions } from './common.js';

export interface ClippedBoundOptions extends BoundOptions {
  /** Propensity clip tau in (0, 1]: weights become pi / max(p, tau) <= 1 / tau. Default 1 / DEFAULT_CLIP. */
  tau?: number;
}

export function checkTau(tau: number): number {
  if (!(tau > 0 && tau <= 1)) {
    throw new OffpolicyError('E_BOUND_PARAM', `The propensity clip tau must lie in (0, 1], got ${tau}.`, {
      hint: 'tau = 1 / L bounds every weight by L; e.g. 0.1.',
    });
  }
  return tau;
}

/** The sums behind the clipped-IPS risk, with v_i = pi(a_i|x_i) / max(p_i, tau). */
export interface ClippedRiskSums {
  n: number;
  /** The constant subtracted from every reward before summing (see ./common.ts). */
  shift: number;
  /** sum_i v_i */
  sumV: number;
  /** sum_i (r_i - shift) v_i */
  sumShiftedRewardV: number;
}

/** The sums over a batch (JS); shift defaults to 0. */
export function clippedRiskSums(b: BanditBatch, tau: number, shift = 0): ClippedRiskSums {
  const k = b.numActions;
  let sv = 0, srv = 0;
  for (let i = 0; i < b.n; i++) {
    const v = b.targetProbs[i * k + b.actions[i]!]! / Math.max(b.propensities[i]!, tau);
    sv += v;
    srv += (b.rewards[i]! - shift) * v;
  }
  return { n: b.n, shift, sumV: sv, sumShiftedRewardV: srv };
}

/** v_i = pi(a_i|x_i) / max(p_i, tau) in SQL. */
export function clippedWeightSql(c: { piLogged: string; propensity: string }, tau: number): string {
  return `((${c.piLogged}) / greatest(${c.propensity}, ${sqlNumber(checkTau(tau))}))`;
}

/**
 * Per-row SQL terms whose SUMs give ClippedRiskSums (over columns for r, pi(a_i|x_i)
 * and p); `clippedWeight` may name a column already holding clippedWeightSql.
 */
export function clippedRiskSqlTerms(c: { reward: string; piLogged: string; propensity: string; clippedWeight?: string }, tau: number, shift: number): { sumV: string; sumShiftedRewardV: string } {
  const v = c.clippedWeight !== undefined ? `(${c.clippedWeight})` : clippedWeightSql(c, tau);
  return { sumV: v, sumShiftedRewardV: `(((${c.reward}) - ${sqlNumber(shift)}) * ${v})` };
}

/** R_tau_hat = -(1/n) sum r'_i v_i: the clipped-IPS risk on costs -r' (see the module comment). */
export function clippedRiskFromSums(s: ClippedRiskSums, range: readonly [number, number]): number {
  checkRewardRange(range);
  return -rescaledMean(range, s.shift, s.n, s.sumShiftedRewardV, s.sumV);
}

/**
 * The clipped-risk sums of a batch for the clipped certificates (Catoni,
 * London-Sandler), after the checks that can fail before the O(n) pass:
 * delta, KL, rows, tau, rewards inside the range.
 */
export function checkedClippedRiskSums(b: BanditBatch, opts: ClippedBoundOptions): ClippedRiskSums {
  checkDelta(opts.delta);
  checkKl(opts.kl);
  requireRows(b.n);
  const tau = checkTau(opts.tau ?? 1 / DEFAULT_CLIP);
  checkRewardsInRange(b, opts.rewardRange);
  return clippedRiskSums(b, tau, opts.rewardRange[0]);
}

/**
 * What both clipped certificates start from, checked: delta, KL, tau (opts.tau
 * must be the tau the sums used), the clipped empirical risk and the
 * complexity term (KL + ln(2 sqrt(n) / delta)) / n.
 */
export function clippedCertificateInputs(s: ClippedRiskSums, opts: ClippedBoundOptions): { delta: number; kl: number; tau: number; riskHat: number; complexity: number } {
  const delta = checkDelta(opts.delta);
  const kl = checkKl(opts.kl);
  requireRows(s.n);
  const tau = checkTau(opts.tau ?? 1 / DEFAULT_CLIP);
  const riskHat = clippedRiskFromSums(s, opts.rewardRange);
  const complexity = (kl + Math.log((2 * Math.sqrt(s.n)) / delta)) / s.n;
  return { delta, kl, tau, riskHat, complexity };
}

export function catoniClippedIpsBound(b: BanditBatch, opts: ClippedBoundOptions): Certificate {
  return catoniFromSums(checkedClippedRiskSums(b, opts), opts);
}

/** The Catoni certificate from the clipped-risk sums (opts.tau must be the tau the sums used). */
export function catoniFromSums(s: ClippedRiskSums, opts: ClippedBoundOptions): Certificate {
  const { delta, kl, tau, riskHat, complexity } = clippedCertificateInputs(s, opts);
  const { value, lambda } = minimizeCatoni(riskHat, tau, complexity);
  const v = riskToValue(opts.rewardRange, value);
  return { kind: 'catoni-clipped-ips', lower: v.lower, delta, params: { tau, lambda, kl, n: s.n, clippedRisk: riskHat, riskBound: value } };
}
