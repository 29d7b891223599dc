/**
 * The Gaussian restricted to an interval, for rollouts that sample a Gaussian
 * actor inside an environment's action box. Clipping a sample would put a
 * point mass on the bound (no density to log); drawing until the sample lies
 * in the box gives the truncated Gaussian, whose exact log-density is
 *   log N(a; mu, sd) - log (Phi((hi - mu) / sd) - Phi((lo - mu) / sd)).
 */
import { OffpolicyError } from '../core/errors.js';
import { erfc } from './normal.js';
import type { Rng } from './rng.js';

/** log P(lo <= X <= hi) for X ~ N(0, 1), accurate in the tails. */
export function logStdNormalMass(lo: number, hi: number): number {
  if (!(hi > lo)) return -Infinity;
  const s = Math.SQRT2;
  if (lo >= 0) return Math.log(0.5 * (erfc(lo / s) - erfc(hi / s)));
  if (hi <= 0) return Math.log(0.5 * (erfc(-hi / s) - erfc(-lo / s)));
  // 1 - P(X < lo) - P(X > hi)
  return Math.log1p(-0.5 * (erfc(-lo / s) + erfc(hi / s)));
}

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** log N(a; mean, diag(exp(logStd))^2), per row of m dimensions (mean and actions n x m). */
export function gaussianLogDensity(mean: ArrayLike<number>, logStd: ArrayLike<number>, actions: ArrayLike<number>, m: number): Float64Array {
  const n = mean.length / m;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < m; j++) {
      const ls = logStd[j]!;
      const z = (actions[i * m + j]! - mean[i * m + j]!) / Math.exp(ls);
      s += -0.5 * z * z - ls - HALF_LOG_2PI;
    }
    out[i] = s;
  }
  return out;
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
