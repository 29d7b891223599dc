/**
 * The Gaussian restricted to an interval, for rollouts that sample a Gaussian
 * actor inside an environment's action box. Clipping a sample would put a
 * point mass on the bound (no density to log); drawing until the sample lies
 * in the box gives the truncated Gaussian, whose exact log-density is
 *   log N(a; mu, sd) - log (Phi((hi - mu) / sd) - Phi((lo - mu) / sd)).
 *
 * erfc: power series of erf below 2.5, Lentz's continued fraction above
 * (absolute error below 1e-13; relative error of the tail below 1e-10).
 */
import { OffpolicyError } from '../core/errors.js';
import type { Rng } from '../util/rng.js';

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

/** log P(lo <= X <= hi) for X ~ N(0, 1), accurate in the tails. */
export function logStdNormalMass(lo: number, hi: number): number {
  if (!(hi > lo)) return -Infinity;
  const s = Math.SQRT2;
  if (lo >= 0) return Math.log(0.5 * (erfc(lo / s) - erfc(hi / s)));
  if (hi <= 0) return Math.log(0.5 * (erfc(-hi / s) - erfc(-lo / s)));
  // 1 - P(X < lo) - P(X > hi)
  return Math.log1p(-0.5 * (erfc(-lo / s) + erfc(hi / s)));
}

/** Below this probability mass inside the box, sampling by rejection is refused. */
export const MIN_BOX_MASS = 1e-6;

/**
 * Draws a float32 action from N(mean, diag(std^2)) restricted to the box
 * [low, high] (rejection per dimension, each draw rounded to float32 as the
 * dataset stores it) and returns it with log Z, the log-probability mass of
 * the untruncated Gaussian inside the box (the truncated log-density is the
 * Gaussian log-density minus log Z).
 */
export function sampleTruncatedGaussian(
  mean: ArrayLike<number>,
  std: ArrayLike<number>,
  low: ArrayLike<number> | undefined,
  high: ArrayLike<number> | undefined,
  rng: Rng,
): { action: Float32Array; logMass: number } {
  const m = mean.length;
  const action = new Float32Array(m);
  let logMass = 0;
  const scratch = new Float32Array(1);
  for (let j = 0; j < m; j++) {
    const lo = low?.[j] ?? -Infinity;
    const hi = high?.[j] ?? Infinity;
    const mu = mean[j]!;
    const sd = std[j]!;
    const lm = logStdNormalMass((lo - mu) / sd, (hi - mu) / sd);
    if (!(lm >= Math.log(MIN_BOX_MASS))) {
      throw new OffpolicyError(
        'E_ACTION_RANGE',
        `The policy's Gaussian puts ${Math.exp(lm).toExponential(2)} of its probability inside the action bounds [${lo}, ${hi}] of dimension ${j} (mean ${mu}, std ${sd}).`,
        { hint: 'Roll the policy out in the environment it was trained for, or without --stochastic.' },
      );
    }
    logMass += lm;
    for (;;) {
      scratch[0] = mu + sd * rng.normal();
      const a = scratch[0]!;
      if (a >= lo && a <= hi) {
        action[j] = a;
        break;
      }
    }
  }
  return { action, logMass };
}
