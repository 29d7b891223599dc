/**
 * The standard normal distribution: erfc, the CDF Phi and the density phi, and
 * Gauss-Hermite nodes for expectations over N(0, 1).
 *
 * erfc: power series of erf below 2.5, Lentz's continued fraction above
 * (absolute error below 1e-13; relative error of the tail below 1e-10).
 */

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** The complementary error function erfc(x) = 1 - erf(x). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) {
    // erf(x) = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - TWO_OVER_SQRT_PI * sum;
  }
  if (x > 27) return 0;
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1 / (x + (1/2) / (x + 1 / (x + (3/2) / (x + 2 / (x + ...)))))
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = x + a * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = x + a / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Phi(x) = P(Z <= x), accurate in the lower tail. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** The standard normal density phi(x). */
export function normalPdf(x: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/**
 * Nodes z_g and weights w_g (summing to 1) with sum_g w_g f(z_g) ~ E f(Z), Z ~ N(0, 1):
 * the physicists' Gauss-Hermite rule (roots of H_m by Newton's method from the
 * usual asymptotic starting points, Numerical Recipes' gauher) rescaled by sqrt(2).
 * Exact for polynomials of degree < 2m.
 */
export function gaussHermiteNormal(m: number): { nodes: Float64Array; weights: Float64Array } {
  if (!Number.isInteger(m) || m < 1 || m > 200) throw new RangeError(`Gauss-Hermite order must be an integer in [1, 200], got ${m}`);
  const x = new Float64Array(m);
  const w = new Float64Array(m);
  const PIM4 = 0.7511255444649425; // pi^(-1/4)
  let z = 0;
  for (let i = 0; i < Math.floor((m + 1) / 2); i++) {
    if (i === 0) z = Math.sqrt(2 * m + 1) - 1.85575 * Math.pow(2 * m + 1, -0.16667);
    else if (i === 1) z -= (1.14 * Math.pow(m, 0.426)) / z;
    else if (i === 2) z = 1.86 * z - 0.86 * x[0]!;
    else if (i === 3) z = 1.91 * z - 0.91 * x[1]!;
    else z = 2 * z - x[i - 2]!;
    let pp = 0;
    for (let it = 0; it < 100; it++) {
      let p1 = PIM4;
      let p2 = 0;
      for (let j = 0; j < m; j++) {
        const p3 = p2;
        p2 = p1;
        p1 = z * Math.sqrt(2 / (j + 1)) * p2 - Math.sqrt(j / (j + 1)) * p3;
      }
      pp = Math.sqrt(2 * m) * p2;
      const z1 = z;
      z = z1 - p1 / pp;
      if (Math.abs(z - z1) <= 1e-15 * Math.max(1, Math.abs(z))) break;
    }
    x[i] = z;
    x[m - 1 - i] = -z;
    w[i] = 2 / (pp * pp);
    w[m - 1 - i] = w[i]!;
  }
  const nodes = new Float64Array(m);
  const weights = new Float64Array(m);
  let total = 0;
  for (let i = 0; i < m; i++) total += w[i]!;
  for (let i = 0; i < m; i++) {
    nodes[i] = Math.SQRT2 * x[m - 1 - i]!;
    weights[i] = w[m - 1 - i]! / total;
  }
  return { nodes, weights };
}
