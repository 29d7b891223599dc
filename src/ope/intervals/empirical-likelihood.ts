/**
 * Empirical-likelihood (EL) intervals for the value of a candidate from importance
 * weights w_i and rewards r_i, using the known moment E[w] = 1 (Karampatziakis,
 * Langford & Mineiro, NeurIPS 2020, "Empirical Likelihood for Contextual Bandits";
 * the E[w] = 1 dual is also the basis of Karampatziakis, Mineiro & Ramdas 2021,
 * "Off-policy confidence sequences"). One interval serves IPS and SNIPS: both
 * estimate V = E[w r], and under E[w] = 1 that is E[w (r - V)] = 0 as well.
 *
 * Rewards are rescaled to r' in [0, 1]. The EL puts probability q_i on each logged
 * (w_i, r'_i) and, without a likelihood term, mass on unlogged points of the box
 * [wmin, wmax] x [0, 1] (the true distribution of (w, r) may have mass where the log
 * has none: above all, large weights). For a value v,
 *
 *     l(v) = max sum_i log(n q_i)  s.t.  q >= 0, total mass 1, E_q[w] = 1, E_q[w r'] = v.
 *
 * By convex duality (q_i = 1 / (n (1 + lambda . g_i))),
 *
 *     -l(v) = L(v) = max_lambda sum_i log(1 + lambda . g_i(v)),   g_i(v) = (w_i - 1, w_i r'_i - v),
 *
 * over lambda with 1 + lambda . g(w, r) >= 0 on the whole box, which (g being
 * linear in w for fixed r and in r for fixed w) is the four corners
 * (w, r) in {wmin, wmax} x {0, 1}: the points vw-estimators' cressieread interval
 * tries as its extra sample (wfake in {wmin, wmax}, r = rmin for the lower end and rmax
 * for the upper; here all four constrain both ends at once). Without the E[w r'] constraint the maximum is
 * L0 = max_beta sum_i log(1 + beta (w_i - 1)), beta in [-1 / (wmax - 1), 1 / (1 - wmin)]
 * (the EL estimate of KLM 2020). The interval is the profile set
 *
 *     { v : 2 (L(v) - L0) <= crit },
 *
 * an interval because l is concave in v; its ends are found by regula falsi. crit is
 * the (1 - alpha) quantile of F(1, n) = t_n(1 - alpha/2)^2 by default, the small-sample
 * calibration vw-estimators uses, or of chi-square(1) = z(1 - alpha/2)^2, its n -> oo
 * limit (Wilks' theorem for the profile EL, Qin & Lawless 1994). Coverage is
 * asymptotic, not a finite-sample guarantee (unlike the betting interval).
 *
 * Difference from vw-estimators' cressieread: that code uses the Cressie-Read
 * power divergence with exponent -2 (the Euclidean likelihood: closed form, may put
 * negative mass on a point) and treats the extra point as one more sample; here the
 * divergence is Owen's log empirical likelihood (q >= 0 always) and the extra mass
 * carries no likelihood, as in KLM 2020. Both give the same first-order interval
 * (the regression-adjusted one using E[w] = 1).
 *
 * Dual solve: Newton's method with backtracking on sum_i log(1 + lambda . g_i) plus
 * eps * sum_corners log(1 + lambda . c_k), eps from 0.1 down to 1e-8 (a log barrier
 * for the corner constraints), in 1 or 2 dimensions.
 */
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import { OffpolicyError } from '../../core/errors.js';
import type { Interval } from '../../core/evaluation-result.js';
import { checkAlpha, checkRange, checkRows } from './common.js';
import { checkSameLength, checkValuesInRange, checkWeights } from './row-inputs.js';

export type ElCalibration = 'f' | 'chi-square';

export interface EmpiricalLikelihoodOptions {
  /** Miscoverage: a 1 - alpha interval. */
  alpha: number;
  /** Known range of the rewards. */
  rewardRange: readonly [number, number];
  /** Largest possible importance weight (e.g. 1 / the smallest logged propensity); > 1 and >= every weight. */
  maxWeight: number;
  /** Smallest possible weight; default 0 (in [0, 1)). */
  minWeight?: number;
  /** 'f' (default): F(1, n) quantile; 'chi-square': chi-square(1) quantile. */
  calibration?: ElCalibration;
}

export interface EmpiricalLikelihoodResult {
  interval: Interval;
  /** The EL point estimate (KLM 2020): the maximizer of the EL under E[w] = 1. */
  estimate: number;
}

/** The profile threshold on 2 (L(v) - L0). */
export function elCritical(alpha: number, n: number, calibration: ElCalibration = 'f'): number {
  checkAlpha(alpha);
  if (calibration === 'chi-square') return normalQuantile(1 - alpha / 2, 0, 1) ** 2;
  if (calibration === 'f') return tQuantile(1 - alpha / 2, n) ** 2;
  throw new OffpolicyError('E_EL_CALIBRATION', `Unknown empirical-likelihood calibration "${String(calibration)}".`, { hint: 'Use "f" or "chi-square".' });
}

const EPS_SCHEDULE = [1e-1, 1e-3, 1e-5, 1e-8];

/**
 * max over lambda (dimension 1 or 2) of sum_i log(1 + lambda . g_i) subject to
 * 1 + lambda . c >= 0 for every corner c. Returns early, with a value >= stopAbove,
 * once a feasible lambda reaches stopAbove (the caller only needs to know that).
 */
export function elDual(g: readonly Float64Array[], corners: readonly (readonly number[])[], stopAbove = Infinity, start?: readonly number[]): { value: number; lambda: number[] } {
  const d = g.length;
  const n = g[0]!.length;
  const g0 = g[0]!;
  const g1 = d === 2 ? g[1]! : null;
  const lam = [0, 0];
  const dataValue = (l0: number, l1: number): number => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const z = 1 + l0 * g0[i]! + (g1 ? l1 * g1[i]! : 0);
      if (!(z > 0)) return -Infinity;
      s += Math.log(z);
    }
    return s;
  };
  const barrier = (l0: number, l1: number): number => {
    let s = 0;
    for (const c of corners) {
      const z = 1 + l0 * c[0]! + (d === 2 ? l1 * c[1]! : 0);
      if (!(z > 0)) return -Infinity;
      s += Math.log(z);
    }
    return s;
  };
  let f = 0;
  // A warm start (e.g. the solution at a nearby v) is used when strictly feasible.
  if (start && start.length === d) {
    const s0 = start[0]!;
    const s1 = d === 2 ? start[1]! : 0;
    const fs = dataValue(s0, s1);
    if (fs > -Infinity && barrier(s0, s1) > -Infinity) {
      lam[0] = s0;
      lam[1] = s1;
      f = fs;
    }
  }
  for (const eps of EPS_SCHEDULE) {
    let phi = f + eps * barrier(lam[0]!, lam[1]!);
    for (let it = 0; it < 200; it++) {
      let a0 = 0;
      let a1 = 0;
      let h00 = 0;
      let h01 = 0;
      let h11 = 0;
      for (let i = 0; i < n; i++) {
        const z = 1 + lam[0]! * g0[i]! + (g1 ? lam[1]! * g1[i]! : 0);
        const u = g0[i]! / z;
        const v = g1 ? g1[i]! / z : 0;
        a0 += u;
        a1 += v;
        h00 += u * u;
        h01 += u * v;
        h11 += v * v;
      }
      for (const c of corners) {
        const z = 1 + lam[0]! * c[0]! + (d === 2 ? lam[1]! * c[1]! : 0);
        const u = c[0]! / z;
        const v = d === 2 ? c[1]! / z : 0;
        a0 += eps * u;
        a1 += eps * v;
        h00 += eps * u * u;
        h01 += eps * u * v;
        h11 += eps * v * v;
      }
      // Newton step s = H^-1 a for the concave objective (H = -[h], ridge for flat directions).
      const ridge = 1e-12 * (h00 + h11) + 1e-300;
      let s0: number;
      let s1 = 0;
      if (d === 1) s0 = a0 / (h00 + ridge);
      else {
        const p = h00 + ridge;
        const q = h11 + ridge;
        const det = p * q - h01 * h01;
        s0 = (q * a0 - h01 * a1) / det;
        s1 = (p * a1 - h01 * a0) / det;
      }
      const dec = a0 * s0 + a1 * s1;
      // dec / 2 is the Newton estimate of the remaining gain; 1e-9 is far below any threshold used.
      if (!(dec > 1e-9)) break;
      let t = 1;
      let accepted = false;
      while (t > 1e-6) {
        const c0 = lam[0]! + t * s0;
        const c1 = lam[1]! + t * s1;
        const fc = dataValue(c0, c1);
        const pc = fc + eps * barrier(c0, c1);
        if (pc >= phi + 0.25 * t * dec) {
          lam[0] = c0;
          lam[1] = c1;
          f = fc;
          phi = pc;
          accepted = true;
          break;
        }
        t *= 0.5;
      }
      if (!accepted) break;
      if (f >= stopAbove) return { value: f, lambda: lam.slice(0, d) };
    }
  }
  return { value: f, lambda: lam.slice(0, d) };
}

/**
 * The end of the accepted set {v : h(v) <= 0} (h convex) between an accepted point
 * `inner` and `outer`: outer itself if accepted, else the root of h between them by
 * the Illinois variant of regula falsi, returning the accepted end of the final
 * bracket (so the interval errs on the wide side, by < 1e-10 on the [0, 1] scale).
 */
function acceptedEnd(h: (v: number) => number, inner: number, outer: number, step: number): number {
  // Bracket: walk out from `inner` by `step`, doubling, until rejected or at `outer`.
  let a = inner;
  let fa = Math.min(0, h(inner));
  let b = outer;
  let fo = NaN;
  for (let s = step; ; s *= 2) {
    const v = inner + Math.sign(outer - inner) * s;
    if ((v - outer) * (outer - inner) >= 0) break;
    const fv = h(v);
    if (fv > 0) {
      b = v;
      fo = fv;
      break;
    }
    a = v;
    fa = fv;
  }
  if (Number.isNaN(fo)) {
    fo = h(outer);
    if (fo <= 0) return outer;
  }
  let side = 0;
  for (let it = 0; it < 100 && Math.abs(b - a) > 1e-10; it++) {
    const c = fa === fo ? 0.5 * (a + b) : b - (fo * (b - a)) / (fo - fa);
    const m = Number.isFinite(c) && (c - a) * (c - b) < 0 ? c : 0.5 * (a + b);
    const fm = h(m);
    if (fm <= 0) {
      a = m;
      fa = fm;
      if (side === -1) fo /= 2;
      side = -1;
    } else {
      b = m;
      fo = fm;
      if (side === 1) fa /= 2;
      side = 1;
    }
  }
  return a;
}

function sampleVariance(x: Float64Array): number {
  const n = x.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += x[i]!;
  m /= n;
  let s = 0;
  for (let i = 0; i < n; i++) s += (x[i]! - m) * (x[i]! - m);
  return s / Math.max(1, n - 1);
}

/** Values of v in (0, 1) the search visits: the box corners are excluded (the dual is unbounded there). */
const EDGE = 1e-9;

/** EL interval for the value from weights and rewards, with the constraint E[w] = 1 (see above). */
export function empiricalLikelihoodInterval(weights: ArrayLike<number>, rewards: ArrayLike<number>, opts: EmpiricalLikelihoodOptions): EmpiricalLikelihoodResult {
  const alpha = checkAlpha(opts.alpha);
  checkSameLength(weights, rewards, 'Empirical-likelihood');
  const n = rewards.length;
  checkRows(n, 2, 'empirical-likelihood');
  const [rmin, rmax] = checkRange(opts.rewardRange);
  checkWeights(weights, 'Empirical-likelihood');
  checkValuesInRange(rewards, opts.rewardRange, 'reward', 'Empirical-likelihood');
  const wmin = opts.minWeight ?? 0;
  const wmax = opts.maxWeight;
  if (!(wmin >= 0 && wmin < 1) || !(wmax > 1 && wmax < Infinity)) {
    throw new OffpolicyError('E_WEIGHT_BOUND', `Empirical-likelihood intervals need weight bounds 0 <= minWeight < 1 < maxWeight < Infinity, got [${wmin}, ${wmax}].`, {
      hint: 'Pass maxWeight = 1 / (smallest logging propensity).',
    });
  }
  checkValuesInRange(weights, [wmin, wmax], 'importance weight', 'Empirical-likelihood');
  const crit = elCritical(alpha, n, opts.calibration ?? 'f');
  const D = rmax - rmin;
  const w = Float64Array.from(weights, (x) => Math.min(wmax, Math.max(wmin, x)));
  const r = new Float64Array(n);
  for (let i = 0; i < n; i++) r[i] = D > 0 ? Math.min(1, Math.max(0, (rewards[i]! - rmin) / D)) : 0;
  const gw = Float64Array.from(w, (x) => x - 1);
  const wr = new Float64Array(n);
  for (let i = 0; i < n; i++) wr[i] = w[i]! * r[i]!;

  // The EL estimate under E[w] = 1 alone: q_i = 1 / (n (1 + beta (w_i - 1))).
  const base = elDual([gw], [[wmin - 1], [wmax - 1]]);
  const beta = base.lambda[0]!;
  let vObs = 0;
  let wMass = 0;
  let rSum = 0;
  for (let i = 0; i < n; i++) {
    const q = 1 / (n * (1 + beta * gw[i]!));
    vObs += q * wr[i]!;
    wMass += q * w[i]!;
    rSum += r[i]!;
  }
  const missing = Math.max(0, 1 - wMass);
  const estimate = rmin + D * (vObs + missing * (rSum / n));
  if (D === 0) return { interval: { lower: rmin, upper: rmax, method: 'empirical-likelihood', alpha }, estimate };

  const cornersAt = (v: number): number[][] => [
    [wmin - 1, -v],
    [wmin - 1, wmin - v],
    [wmax - 1, -v],
    [wmax - 1, wmax - v],
  ];
  const gv = new Float64Array(n);
  let warm: number[] | undefined;
  const h = (v: number): number => {
    for (let i = 0; i < n; i++) gv[i] = wr[i]! - v;
    const sol = elDual([gw, gv], cornersAt(v), Infinity, warm);
    warm = sol.lambda;
    return 2 * (sol.value - base.value) - crit;
  };
  const inside = (v: number): number => Math.min(1 - EDGE, Math.max(EDGE, v));
  // First step out: about the half-width of a Wald interval for mean(w r').
  const step = Math.max(1e-6, Math.sqrt(crit * sampleVariance(wr) / n));
  const lo = acceptedEnd(h, inside(vObs), EDGE, step);
  warm = undefined;
  const hi = acceptedEnd(h, inside(vObs + missing), 1 - EDGE, step);
  const snap = (v: number): number => (v <= EDGE ? 0 : v >= 1 - EDGE ? 1 : v);
  return { interval: { lower: rmin + D * snap(lo), upper: rmin + D * snap(hi), method: 'empirical-likelihood', alpha }, estimate };
}

/**
 * EL interval for a plain mean of values in a known range (Owen 1988), with the
 * same calibration: the logging policy's value (all weights 1).
 */
export function empiricalLikelihoodMeanInterval(values: ArrayLike<number>, range: readonly [number, number], alpha: number, calibration: ElCalibration = 'f'): Interval {
  checkAlpha(alpha);
  const n = values.length;
  checkRows(n, 2, 'empirical-likelihood');
  const [a, b] = checkRange(range);
  checkValuesInRange(values, range, 'value', 'Empirical-likelihood');
  if (b === a) return { lower: a, upper: b, method: 'empirical-likelihood', alpha };
  const crit = elCritical(alpha, n, calibration);
  const z = Float64Array.from(values, (x) => Math.min(1, Math.max(0, (x - a) / (b - a))));
  const mean = z.reduce((s, x) => s + x, 0) / n;
  const g = new Float64Array(n);
  let warm: number[] | undefined;
  const h = (v: number): number => {
    for (let i = 0; i < n; i++) g[i] = z[i]! - v;
    const sol = elDual([g], [[-v], [1 - v]], Infinity, warm);
    warm = sol.lambda;
    return 2 * sol.value - crit;
  };
  const m = Math.min(1 - EDGE, Math.max(EDGE, mean));
  const step = Math.max(1e-6, Math.sqrt(crit * sampleVariance(z) / n));
  const lo = acceptedEnd(h, m, EDGE, step);
  warm = undefined;
  const hi = acceptedEnd(h, m, 1 - EDGE, step);
  const snap = (v: number): number => (v <= EDGE ? 0 : v >= 1 - EDGE ? 1 : v);
  return { lower: a + (b - a) * snap(lo), upper: a + (b - a) * snap(hi), method: 'empirical-likelihood', alpha };
}
