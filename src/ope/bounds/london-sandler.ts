/**
 * The London & Sandler (2019, "Bayesian Counterfactual Risk Minimization", ICML)
 * certificate for clipped IPS. With costs c_i = -r'_i in [-1, 0] (./common.ts),
 * R_tau_hat the clipped-IPS risk with max(p, tau) (as in ./catoni.ts) and
 * C = KL + ln(2 sqrt(n) / delta), with probability >= 1 - delta
 *
 *   R(pi) <= R_tau_hat + 2 C / (n tau) + sqrt(2 (R_tau_hat + 1/tau) C / (n tau)).
 *
 * It is the relaxation E Z <= Z_hat + sqrt(2 Z_hat C/n) + 2 C/n of the kl inequality
 * for Z = tau c w_tau + 1 in [0, 1], mapped back by R = (E Z - 1) / tau. Same form
 * as the authors' training objective in imadaouali/exponential-smoothing-icml23
 * (models.py, LondonGaussian.upper_bound). One-sided: a value lower bound. Computed
 * from the same mergeable sums as the Catoni bound (./catoni.ts).
 */
import type { BanditBatch } from '../estimators/types.js';
import type { Certificate } from '../../core/evaluation-result.js';
import { checkedClippedRiskSums, clippedCertificateInputs, type ClippedBoundOptions, type ClippedRiskSums } from './catoni.js';
import { riskToValue } from './common.js';
import { londonSandlerRisk } from '../../util/pac-bayes.js';

export function londonSandlerBound(b: BanditBatch, opts: ClippedBoundOptions): Certificate {
  return londonSandlerFromSums(checkedClippedRiskSums(b, opts), opts);
}

/** The London-Sandler certificate from the clipped-risk sums (./catoni.ts; opts.tau must be the tau the sums used). */
export function londonSandlerFromSums(s: ClippedRiskSums, opts: ClippedBoundOptions): Certificate {
  const { delta, kl, tau, riskHat, complexity: C } = clippedCertificateInputs(s, opts);
  const bound = londonSandlerRisk(riskHat, tau, C);
  const v = riskToValue(opts.rewardRange, bound);
  return { kind: 'london-sandler', lower: v.lower, delta, params: { tau, kl, n: s.n, clippedRisk: riskHat, riskBound: bound } };
}
