/**
 * Betting confidence intervals (Waudby-Smith & Ramdas, JRSS-B 2024, "Estimating
 * means of bounded random variables by betting"), and their off-policy form for
 * IPS (Waudby-Smith, Wu, Ramdas, Karampatziakis & Mineiro 2022, "Anytime-valid
 * off-policy inference for contextual bandits").
 *
 * One-sided core. Let Y_1..Y_n >= 0 be i.i.d. with mean mu in [0, 1]. For a
 * candidate m, a gambler starts with capital 1 and bets a fraction lambda_t(m) on
 * Y_t exceeding m:
 *
 *     K_t(m) = prod_{i <= t} (1 + lambda_i(m) (Y_i - m)),  lambda_i(m) = min(lambda_i, c / m),
 *
 * lambda_i in [0, c] depending only on Y_1..Y_{i-1} (predictable), c = 1/2. Since
 * Y >= 0 and lambda_i(m) <= c / m, every factor is >= 1 - c > 0, and under mu = m
 * K_t is a nonnegative martingale with K_0 = 1, so by Ville's inequality
 * P(max_{t <= n} K_t(mu) >= 1 / a) <= a. Each factor decreases in m, so
 * {m : max_{t <= n} K_t(m) < 1 / a} is an interval [L, 1]: L is a level-(1 - a)
 * lower confidence bound for mu, found by bisection. No upper bound on Y is needed.
 *
 * Bets: the predictable plug-in of WSR (their PrPl),
 *
 *     lambda_t = min(c, sqrt(2 ln(2 / alpha) / (n s2_{t-1})))          (fixed n: a CI, the default)
 *     lambda_t = min(c, sqrt(2 ln(2 / alpha) / (s2_{t-1} t ln(t + 1))))  (anytime: a confidence sequence)
 *     mu_t = (1/2 + sum_{i<=t} Y_i) / (t + 1),  s2_t = (1/4 + sum_{i<=t} (Y_i - mu_i)^2) / (t + 1).
 *
 * Both are valid at n (the running maximum over t <= n is what Ville's inequality
 * controls); the fixed-n bets are tuned to give the narrowest interval at n, the
 * anytime ones stay valid if one keeps looking as rows arrive.
 *
 * Two-sided, level 1 - alpha: WSR's hedged capital max(K+ / 2, K- / 2) is below
 * 1 / alpha exactly when both one-sided capitals are below 2 / alpha, so the
 * interval is the intersection of a lower and an upper one-sided bound at alpha / 2
 * each:
 *  - a mean of terms X in [a, b] (any estimator with a term range): Y = (X - a) / (b - a)
 *    for the lower end and Y = (b - X) / (b - a) for the upper end;
 *  - IPS, off-policy form: with r' = (r - rmin) / (rmax - rmin), Y = w r' for the lower
 *    end, and Y = w (1 - r') for the upper end, whose mean is E[w] - E[w r'] = 1 - V'
 *    when E[w] = 1 (full support, true propensities). Neither side needs a bound on the
 *    weights; with heavy weights the bets simply shrink.
 *
 * Row order. A sequential method sees rows in an order; for i.i.d. rows any order
 * chosen without looking at the data keeps them i.i.d. The default is a uniform
 * permutation seeded by `seed` (same seed, same interval: a log sorted by time or
 * by reward does not matter); `order: 'log'` uses the rows as given (for a log
 * that is already in arrival order and an anytime reading).
 */
import { OffpolicyError } from '../../core/errors.js';
import type { Interval } from '../../core/evaluation-result.js';
import { checkAlpha, checkRange, checkRows } from './common.js';
import { checkSameLength, checkValuesInRange, checkWeights, rowOrder, type RowOrder } from './row-inputs.js';

export type BettingHorizon = 'fixed' | 'anytime';

export interface BettingOptions {
  /** Miscoverage: a 1 - alpha interval. */
  alpha: number;
  /** 'shuffle' (default): a permutation seeded by `seed`; 'log': the rows as given. */
  order?: RowOrder;
  /** Seed of the row permutation; default 0. */
  seed?: number;
  /** 'fixed' (default): bets tuned for n rows; 'anytime': the time-n element of a confidence sequence. */
  horizon?: BettingHorizon;
  /** c in (0, 1): the largest bet, as a fraction of the distance to the boundary; default 1/2. */
  maxBet?: number;
}

export const DEFAULT_MAX_BET = 0.5;

function checkOptions(opts: BettingOptions): { c: number; horizon: BettingHorizon } {
  checkAlpha(opts.alpha);
  const c = opts.maxBet ?? DEFAULT_MAX_BET;
  if (!(c > 0 && c < 1)) {
    throw new OffpolicyError('E_BETTING_BET', `The largest bet c must lie strictly between 0 and 1, got ${c}.`, { hint: 'Leave it at the default 1/2.' });
  }
  const horizon = opts.horizon ?? 'fixed';
  if (horizon !== 'fixed' && horizon !== 'anytime') {
    throw new OffpolicyError('E_BETTING_HORIZON', `Unknown betting horizon "${String(horizon)}".`, { hint: 'Use "fixed" or "anytime".' });
  }
  return { c, horizon };
}

/** WSR's predictable plug-in bets for the sequence y (before truncation at c / m). */
export function plugInBets(y: ArrayLike<number>, alpha: number, horizon: BettingHorizon, c: number): Float64Array {
  const n = y.length;
  const lam = new Float64Array(n);
  const twoLog = 2 * Math.log(2 / alpha);
  let sum = 0;
  let sq = 0.25;
  let s2 = 0.25;
  for (let t = 1; t <= n; t++) {
    const denom = horizon === 'fixed' ? n * s2 : s2 * t * Math.log(t + 1);
    lam[t - 1] = Math.min(c, Math.sqrt(twoLog / denom));
    const x = y[t - 1]!;
    sum += x;
    const mu = (0.5 + sum) / (t + 1);
    sq += (x - mu) * (x - mu);
    s2 = sq / (t + 1);
  }
  return lam;
}

/** max_{t <= n} ln K_t(m) for the one-sided capital above. */
export function maxLogCapital(y: ArrayLike<number>, lam: ArrayLike<number>, c: number, m: number): number {
  const cap = m > 0 ? c / m : Infinity;
  let lk = 0;
  let best = 0;
  for (let i = 0; i < y.length; i++) {
    const l = lam[i]! < cap ? lam[i]! : cap;
    lk += Math.log1p(l * (y[i]! - m));
    if (lk > best) best = lk;
  }
  return best;
}

/**
 * Level-(1 - a) lower confidence bound on the mean (in [0, 1]) of nonnegative y,
 * with `a` = alpha / 2 (one side of a two-sided interval at alpha).
 */
function lowerBound(y: Float64Array, alpha: number, horizon: BettingHorizon, c: number): number {
  const lam = plugInBets(y, alpha, horizon, c);
  const threshold = Math.log(2 / alpha);
  const rejects = (m: number): boolean => maxLogCapital(y, lam, c, m) >= threshold;
  if (!rejects(0)) return 0;
  if (rejects(1)) return 1;
  let lo = 0;
  let hi = 1;
  while (hi - lo > 1e-12) {
    const mid = 0.5 * (lo + hi);
    if (rejects(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Betting interval for the mean of i.i.d. values in [a, b] (WSR 2024), intersected with [a, b]. */
export function bettingMeanInterval(values: ArrayLike<number>, range: readonly [number, number], opts: BettingOptions): Interval {
  const { c, horizon } = checkOptions(opts);
  const n = values.length;
  checkRows(n, 1, 'betting');
  const [a, b] = checkRange(range);
  checkValuesInRange(values, range, 'row term', 'Betting');
  if (b === a) return { lower: a, upper: b, method: 'betting', alpha: opts.alpha };
  const perm = rowOrder(n, opts.order ?? 'shuffle', opts.seed ?? 0);
  const up = new Float64Array(n);
  const down = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    const z = Math.min(1, Math.max(0, (values[perm[t]!]! - a) / (b - a)));
    up[t] = z;
    down[t] = 1 - z;
  }
  const lo = lowerBound(up, opts.alpha, horizon, c);
  const hi = 1 - lowerBound(down, opts.alpha, horizon, c);
  return { lower: a + (b - a) * lo, upper: a + (b - a) * hi, method: 'betting', alpha: opts.alpha };
}

/**
 * Off-policy betting interval for the value of a candidate from logged importance
 * weights w_i = pi(a_i|x_i) / pi0(a_i|x_i) and rewards r_i in rewardRange
 * (WWRKM 2022): valid without a bound on the weights, assuming E[w] = 1.
 */
export function bettingIpsInterval(weights: ArrayLike<number>, rewards: ArrayLike<number>, rewardRange: readonly [number, number], opts: BettingOptions): Interval {
  const { c, horizon } = checkOptions(opts);
  checkSameLength(weights, rewards, 'Betting');
  const n = rewards.length;
  checkRows(n, 1, 'betting');
  const [rmin, rmax] = checkRange(rewardRange);
  checkWeights(weights, 'Betting');
  checkValuesInRange(rewards, rewardRange, 'reward', 'Betting');
  if (rmax === rmin) return { lower: rmin, upper: rmax, method: 'betting', alpha: opts.alpha };
  const perm = rowOrder(n, opts.order ?? 'shuffle', opts.seed ?? 0);
  const up = new Float64Array(n);
  const down = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    const i = perm[t]!;
    const r = Math.min(1, Math.max(0, (rewards[i]! - rmin) / (rmax - rmin)));
    up[t] = weights[i]! * r;
    down[t] = weights[i]! * (1 - r);
  }
  const lo = lowerBound(up, opts.alpha, horizon, c);
  const hi = 1 - lowerBound(down, opts.alpha, horizon, c);
  const D = rmax - rmin;
  return { lower: rmin + D * lo, upper: rmin + D * hi, method: 'betting', alpha: opts.alpha };
}
