/**
 * The scalar formulas of the PAC-Bayes bounds on a risk (costs in [-1, 0]), shared
 * by the certificates of fixed candidates (ope/bounds) and by policy learning
 * (learning/), which minimises them. The sums they start from live with their
 * callers. Notation as in REFERENCES.md ("Bandit policy learning by bound minimisation").
 */

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

/**
 * London & Sandler (2019): R_tau_hat + 2 C / tau + sqrt(2 (R_tau_hat + 1/tau) C / tau),
 * with C = (KL + ln(2 sqrt(n) / delta)) / n.
 */
export function londonSandlerRisk(riskHat: number, tau: number, complexity: number): number {
  return riskHat + (2 * complexity) / tau + Math.sqrt((2 * Math.max(0, riskHat + 1 / tau) * complexity) / tau);
}

/**
 * The deviation term of the exponential-smoothing bound (Aouali et al. 2023):
 * sqrt(C1 / 2n) + B + C2 / (n lambda) + (lambda / 2) M, with C1 = KL + ln(4 sqrt(n) / delta),
 * C2 = KL + ln(4 / delta) and M = M1 + M2. lambda undefined: the closed-form minimiser
 * sqrt(2 C2 / (n M)), chosen from the data (see learning/certificate.ts for a grid).
 */
export function smoothingDeviation(p: { n: number; kl: number; delta: number; bias: number; secondMoment: number; lambda?: number }): { epsilon: number; lambda: number } {
  const { n, kl, delta, bias, secondMoment: M } = p;
  const c1 = kl + Math.log((4 * Math.sqrt(n)) / delta);
  const c2 = kl + Math.log(4 / delta);
  let lambda: number;
  let varianceTerm: number;
  if (p.lambda !== undefined) {
    lambda = p.lambda;
    varianceTerm = c2 / (n * lambda) + (lambda / 2) * M;
  } else {
    // M = 0 only when the candidate has no mass on any action the logger takes.
    lambda = M > 0 ? Math.sqrt((2 * c2) / (n * M)) : Infinity;
    varianceTerm = Math.sqrt((2 * c2 * M) / n);
  }
  return { epsilon: Math.sqrt(c1 / (2 * n)) + bias + varianceTerm, lambda };
}

/** g(u) = (e^u - 1 - u) / u^2 of the Bernstein bound (1/2 at u = 0). */
export function bernsteinG(u: number): number {
  if (Math.abs(u) < 1e-5) return 0.5 + u / 6;
  return (Math.expm1(u) - u) / (u * u);
}

/**
 * Sakhi et al. (2023) Bernstein bound's lambda grid: n_lambda values evenly spaced
 * from sqrt(2 tau ln(1/delta) / (5 n C_xi)) to 2 / tau_xi, as in the authors' code
 * (their union bound is the ln(2 n_lambda / delta) term). Depends only on n, tau,
 * xi, delta: fixed before the data are seen.
 */
export function bernsteinLambdaGrid(n: number, tau: number, xi: number, delta: number, count = 200): Float64Array {
  const tauXi = (1 + xi) / tau - xi;
  const cXi = Math.max(xi * xi, (1 + xi) * (1 + xi));
  const lo = Math.sqrt((2 * tau * Math.log(1 / delta)) / (5 * n * cXi));
  const hi = 2 / tauXi;
  const out = new Float64Array(count);
  for (let j = 0; j < count; j++) out[j] = count === 1 ? lo : lo + ((hi - lo) * j) / (count - 1);
  return out;
}
