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
 */
import { OffpolicyError } from '../../errors.js';
import { DEFAULT_CLIP } from '../estimators/params.js';
import type { BanditBatch } from '../estimators/types.js';
import type { Certificate } from '../types.js';
import { checkDelta, checkKl, requireRows, rescaledRewards, riskToValue, type BoundOptions } from './common.js';

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

/** R_tau_hat: the clipped-IPS risk on costs -r' (see the module comment). */
export function clippedRisk(b: BanditBatch, r: Float64Array, tau: number): number {
  let s = 0;
  for (let i = 0; i < b.n; i++) s += (-r[i]! * b.targetProbs[i * b.numActions + b.actions[i]!]!) / Math.max(b.propensities[i]!, tau);
  return s / b.n;
}

/** The Catoni expression for one lambda (stable for small lambda via expm1). */
export function catoniValue(riskHat: number, tau: number, lambda: number, complexity: number): number {
  return -Math.expm1(-tau * lambda * riskHat - complexity) / (tau * Math.expm1(lambda));
}

/** Minimizes the Catoni expression over lambda in [1e-8, 60]: log grid, then golden-section refinement. */
export function minimizeCatoni(riskHat: number, tau: number, complexity: number): { value: number; lambda: number } {
  const f = (l: number): number => catoniValue(riskHat, tau, l, complexity);
  const lo = Math.log(1e-8), hi = Math.log(60);
  const G = 400;
  let best = 0;
  let bestV = Infinity;
  for (let g = 0; g <= G; g++) {
    const v = f(Math.exp(lo + ((hi - lo) * g) / G));
    if (v < bestV) { bestV = v; best = g; }
  }
  let a = lo + ((hi - lo) * Math.max(0, best - 1)) / G;
  let c = lo + ((hi - lo) * Math.min(G, best + 1)) / G;
  const phi = (Math.sqrt(5) - 1) / 2;
  for (let it = 0; it < 80; it++) {
    const x1 = c - phi * (c - a), x2 = a + phi * (c - a);
    if (f(Math.exp(x1)) <= f(Math.exp(x2))) c = x2; else a = x1;
  }
  const lam = Math.exp((a + c) / 2);
  const v = f(lam);
  return v <= bestV ? { value: v, lambda: lam } : { value: bestV, lambda: Math.exp(lo + ((hi - lo) * best) / G) };
}

export function catoniClippedIpsBound(b: BanditBatch, opts: ClippedBoundOptions): Certificate {
  const delta = checkDelta(opts.delta);
  const kl = checkKl(opts.kl);
  requireRows(b.n);
  const tau = checkTau(opts.tau ?? 1 / DEFAULT_CLIP);
  const r = rescaledRewards(b, opts.rewardRange);
  const riskHat = clippedRisk(b, r, tau);
  const complexity = (kl + Math.log((2 * Math.sqrt(b.n)) / delta)) / b.n;
  const { value, lambda } = minimizeCatoni(riskHat, tau, complexity);
  const v = riskToValue(opts.rewardRange, value);
  return { kind: 'catoni-clipped-ips', lower: v.lower, delta, params: { tau, lambda, kl, n: b.n, clippedRisk: riskHat, riskBound: value } };
}
