/**
 * Synthetic logged-bandit data with ground truth, modelled on Open Bandit
 * Pipeline's SyntheticBanditDataset (obp/dataset/synthetic.py):
 *
 * - contexts x ~ N(0, I_d);
 * - expected reward as OBP's _base_reward_function with degree 1 and one-hot
 *   action contexts: raw(x, a) = x.c + b_a + x.M_a with c, b, M ~ U(-1, 1),
 *   z-scored; `logistic` gives q = sigmoid(z) and Bernoulli rewards
 *   (OBP's reward_type "binary"), `linear` gives q = z and rewards
 *   q + N(0, rewardStd^2) (OBP's "continuous");
 * - behaviour as OBP's linear behaviour policy: logits s(x, a) = x.V_a + e_a with
 *   V, e ~ U(0, 1), pi_b = softmax(beta * s) (beta < 0 favours low logits);
 * - deficient support as OBP's n_deficient_actions: per row, a uniformly random
 *   set of K - D actions keeps the softmax, the other D get probability exactly 0.
 *
 * Differences from OBP, on purpose:
 * - The z-score uses the exact mean and variance of raw(x, a) under x ~ N(0, I)
 *   and a uniform action (mean_a b_a; mean_a |c + M_a|^2 + var_a b_a), not the
 *   batch's sample statistics, so q(x, a) does not depend on n or on the other rows.
 * - Coefficients come from a stream forked from the seed before any data, so the
 *   same seed gives the same reward function and behaviour policy for every n.
 * - Random numbers come from the project's sfc32 Rng, not NumPy: the values
 *   differ from OBP's for the same seed; the distributions are the same.
 *
 * OBP's own setting (the one behind its synthetic accuracy table) is available with
 * `rewardFunction: 'obp'` and `behaviour: 'expected-reward'`:
 *
 * - `rewardFunction: 'obp'` is OBP's _base_reward_function (obp 0.5.5) with one-hot
 *   action contexts: phi(x) are the polynomial features of x up to `degree`
 *   (scikit-learn's PolynomialFeatures, bias included), psi(a) those of one-hot(a),
 *   raw(x, a) = phi.c + psi.b + phi' M psi with c, b, M ~ U(-1, 1), and
 *   z = degree * (raw - mean) / std. logistic_reward_function is degree 1,
 *   logistic_polynomial_reward_function degree 3. The one-hot features of action a
 *   are 1 at the bias and at its D = degree powers e_a^p, so raw(x, a) =
 *   sum_f phi_f(x) u[a, f] with u[a, f] = c_f + M[f, 0] + sum_p M[f, (a, p)] (the
 *   bias coefficient also takes b_0 + sum_p b_(a, p)): that is what obpRewardModel
 *   draws, without the all-zero columns. The default reward function differs from
 *   this in the share of the coefficients that all actions have in common (here
 *   c + M[., 0], two uniforms; default: c, one uniform).
 * - `behaviour: 'expected-reward'` is OBP's behaviour when no
 *   behavior_policy_function is given (as in its synthetic benchmark):
 *   pi_b = softmax(beta * q(x, a)), the logits being the expected reward itself.
 * - OBP z-scores with the batch's sample mean and std; here, as for the default
 *   function, the exact moments under x ~ N(0, I) and a uniform action are used
 *   (Gaussian moments of the monomials), so q does not depend on n. obp 0.5.6
 *   changed that line to `raw - mean / std` (operator precedence), which leaves the
 *   logits unscaled; the published table reproduces with the 0.5.5 form, which is
 *   the one implemented (bench/obp-synthetic.ts; the README gives what the 0.5.6
 *   form does to DM's error).
 * - OBP's effective_dim_ratio (sparse reward functions) is not implemented.
 */
import { checkDenseCells } from '../limits.js';
import { OffpolicyError } from '../../core/errors.js';
import { Rng } from '../../util/rng.js';
import { softmaxRows } from '../../util/softmax.js';
import { checkInt, sampleIndex, trueValue, type BanditLog } from './bandit-log.js';

export type RewardShape = 'logistic' | 'linear';
/** Expected-reward family: the default one above, or OBP's polynomial _base_reward_function. */
export type RewardFunction = 'default' | 'obp';
/** Behaviour logits: OBP's linear_behavior_policy (default), or q(x, a) itself (OBP's default). */
export type BehaviourLogits = 'linear' | 'expected-reward';

export const REWARD_FUNCTIONS: readonly RewardFunction[] = ['default', 'obp'];
export const BEHAVIOUR_LOGITS: readonly BehaviourLogits[] = ['linear', 'expected-reward'];
/** Most polynomial features the 'obp' reward function takes (its moments cost features^2). */
export const MAX_POLYNOMIAL_FEATURES = 2000;

export interface GenerateBanditOptions {
  n: number;
  numActions: number;
  contextDim: number;
  reward: RewardShape;
  /** Inverse temperature of the softmax behaviour policy (OBP's beta). */
  beta: number;
  /** Actions given zero logging probability in each row (OBP's n_deficient_actions). Default 0. */
  deficientSupport?: number;
  /** Noise std of `linear` rewards. Default 1. */
  rewardStd?: number;
  /** Expected-reward function: 'default' (above) or 'obp' (OBP's _base_reward_function). Default 'default'. */
  rewardFunction?: RewardFunction;
  /** Polynomial degree of the 'obp' reward function, 1..4 (OBP: 1 for logistic_reward_function, 3 for its polynomial variant). Default 1. */
  degree?: number;
  /** Behaviour logits: 'linear' (x.V_a + e_a, default) or 'expected-reward' (q(x, a); OBP's default). */
  behaviour?: BehaviourLogits;
  seed: number;
}

/** The fixed coefficients that define q(x, a) and the behaviour logits for one seed. */
export interface BanditModel {
  d: number;
  K: number;
  /** raw(x, a) = x . w_a + b_a; w is K x d row-major (w_a = c + M_a). */
  w: Float64Array;
  b: Float64Array;
  mean: number;
  std: number;
  /** Behaviour logits s(x, a) = x . V_a + e_a; V is K x d. */
  v: Float64Array;
  e: Float64Array;
}

export function banditModel(seed: number, d: number, K: number): BanditModel {
  const rng = new Rng(seed).fork('coefficients');
  const c = Float64Array.from({ length: d }, () => rng.range(-1, 1));
  const b = Float64Array.from({ length: K }, () => rng.range(-1, 1));
  const w = new Float64Array(K * d);
  for (let j = 0; j < d; j++) for (let a = 0; a < K; a++) w[a * d + j] = c[j]! + rng.range(-1, 1);
  const e = Float64Array.from({ length: K }, () => rng.uniform());
  const v = new Float64Array(K * d);
  for (let j = 0; j < d; j++) for (let a = 0; a < K; a++) v[a * d + j] = rng.uniform();
  let mean = 0;
  for (let a = 0; a < K; a++) mean += b[a]! / K;
  let variance = 0;
  for (let a = 0; a < K; a++) {
    let norm2 = 0;
    for (let j = 0; j < d; j++) norm2 += w[a * d + j]! ** 2;
    variance += (norm2 + (b[a]! - mean) ** 2) / K;
  }
  return { d, K, w, b, mean, std: Math.sqrt(variance), v, e };
}

/**
 * OBP's polynomial reward function for one seed (see the header): raw(x, a) =
 * sum_f phi_f(x) u[a, f], z = degree * (raw - mean) / std.
 */
export interface ObpRewardModel {
  d: number;
  K: number;
  degree: number;
  /** The monomials phi_f(x), bias first, in scikit-learn's PolynomialFeatures order: each lists its variables (with repeats). */
  monomials: number[][];
  /** K x F coefficients, row-major (F = monomials.length). */
  u: Float64Array;
  /** Exact mean and std of raw(x, a) under x ~ N(0, I_d) and a uniform action. */
  mean: number;
  std: number;
}

/** Monomials of d variables up to `degree`, bias first, in scikit-learn's PolynomialFeatures order. */
export function polynomialMonomials(d: number, degree: number): number[][] {
  const out: number[][] = [[]];
  let level: number[][] = [[]];
  for (let deg = 1; deg <= degree; deg++) {
    const next: number[][] = [];
    for (const m of level) for (let j = m.length === 0 ? 0 : m[m.length - 1]!; j < d; j++) next.push([...m, j]);
    out.push(...next);
    level = next;
  }
  return out;
}

/** Number of monomials of d variables up to `degree`: C(d + degree, degree). */
export function polynomialFeatureCount(d: number, degree: number): number {
  let c = 1;
  for (let k = 1; k <= degree; k++) c = (c * (d + k)) / k;
  return Math.round(c);
}

/** E[x^k] for x ~ N(0, 1): 0 for odd k, (k - 1)!! for even k. */
export function gaussianMoment(k: number): number {
  if (k % 2 === 1) return 0;
  let m = 1;
  for (let j = k - 1; j > 1; j -= 2) m *= j;
  return m;
}

/** E[prod of the listed variables] for independent standard normals (a variable may repeat). */
function monomialMoment(vars: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const j of vars) counts.set(j, (counts.get(j) ?? 0) + 1);
  let m = 1;
  for (const c of counts.values()) m *= gaussianMoment(c);
  return m;
}

export function obpRewardModel(seed: number, d: number, K: number, degree: number): ObpRewardModel {
  const monomials = polynomialMonomials(d, degree);
  const F = monomials.length;
  const rng = new Rng(seed).fork('obp-coefficients');
  // c (context), b (action), M (context x action) ~ U(-1, 1), only the entries the
  // one-hot action features can reach: b_0 and M[., 0] (the bias of psi), and per
  // action the D powers (a, p).
  const c = Float64Array.from({ length: F }, () => rng.range(-1, 1));
  const b0 = rng.range(-1, 1);
  const m0 = Float64Array.from({ length: F }, () => rng.range(-1, 1));
  const u = new Float64Array(K * F);
  for (let a = 0; a < K; a++) {
    let bias = b0;
    for (let p = 0; p < degree; p++) bias += rng.range(-1, 1);
    for (let f = 0; f < F; f++) {
      let coef = c[f]! + m0[f]!;
      for (let p = 0; p < degree; p++) coef += rng.range(-1, 1);
      u[a * F + f] = coef;
    }
    u[a * F] = u[a * F]! + bias;
  }
  // Exact moments: E[raw] = mean_a u_a . E[phi], E[raw^2] = mean_a u_a' E[phi phi'] u_a.
  const ePhi = monomials.map(monomialMoment);
  const gram = new Float64Array(F * F);
  for (let f = 0; f < F; f++) for (let g = f; g < F; g++) gram[f * F + g] = gram[g * F + f] = monomialMoment([...monomials[f]!, ...monomials[g]!]);
  let mean = 0;
  let second = 0;
  for (let a = 0; a < K; a++) {
    const ua = u.subarray(a * F, (a + 1) * F);
    for (let f = 0; f < F; f++) {
      mean += (ua[f]! * ePhi[f]!) / K;
      let row = 0;
      for (let g = 0; g < F; g++) row += gram[f * F + g]! * ua[g]!;
      second += (ua[f]! * row) / K;
    }
  }
  return { d, K, degree, monomials, u, mean, std: Math.sqrt(Math.max(second - mean * mean, 0)) };
}

/** Writes phi(x) (the model's monomials of x = contexts[offset .. offset + d)) into out. */
export function polynomialFeatures(monomials: readonly (readonly number[])[], contexts: ArrayLike<number>, offset: number, out: Float64Array): void {
  for (let f = 0; f < monomials.length; f++) {
    let v = 1;
    for (const j of monomials[f]!) v *= contexts[offset + j]!;
    out[f] = v;
  }
}

function checkOptions(o: GenerateBanditOptions): void {
  checkInt('rows', o.n, 1, 2 ** 31 - 1, '--rows');
  checkInt('actions', o.numActions, 2, 100_000, '--actions');
  checkInt('context dimension', o.contextDim, 1, 10_000, '--context-dim');
  // Scores, action probabilities and expected rewards are n x K arrays; contexts n x d.
  checkDenseCells(o.n, o.numActions, 'Generating this log');
  checkDenseCells(o.n, o.contextDim, 'Generating this log (contexts)');
  if (o.reward !== 'logistic' && o.reward !== 'linear') {
    throw new OffpolicyError('E_GENERATOR_PARAM', `Unknown reward function "${String(o.reward)}".`, {
      hint: 'Use --reward logistic (binary rewards) or --reward linear (continuous rewards).',
    });
  }
  if (!Number.isFinite(o.beta)) {
    throw new OffpolicyError('E_GENERATOR_PARAM', `beta must be a finite number, got ${o.beta}.`, {
      hint: 'Pass --beta with a number, e.g. --beta -3 (OBP default experiments).',
    });
  }
  checkInt('deficient support', o.deficientSupport ?? 0, 0, o.numActions - 1, '--deficient-support');
  const fn = o.rewardFunction ?? 'default';
  if (!REWARD_FUNCTIONS.includes(fn)) {
    throw new OffpolicyError('E_GENERATOR_PARAM', `Unknown reward function family "${String(fn)}".`, {
      hint: "Use --reward-function default, or --reward-function obp (Open Bandit Pipeline's polynomial reward function).",
    });
  }
  if (o.degree !== undefined) {
    if (fn !== 'obp') {
      throw new OffpolicyError('E_GENERATOR_PARAM', `degree applies only to the obp reward function, but the reward function is "${fn}".`, {
        hint: 'Add --reward-function obp, or drop --degree.',
      });
    }
    checkInt('degree', o.degree, 1, 4, '--degree');
    const features = polynomialFeatureCount(o.contextDim, o.degree);
    if (features > MAX_POLYNOMIAL_FEATURES) {
      throw new OffpolicyError(
        'E_GENERATOR_PARAM',
        `degree ${o.degree} with context dimension ${o.contextDim} gives ${features} polynomial features, more than the ${MAX_POLYNOMIAL_FEATURES} the obp reward function allows.`,
        { hint: 'Lower --degree or --context-dim.' },
      );
    }
  } else if (fn === 'obp' && o.contextDim + 1 > MAX_POLYNOMIAL_FEATURES) {
    throw new OffpolicyError(
      'E_GENERATOR_PARAM',
      `context dimension ${o.contextDim} gives ${o.contextDim + 1} polynomial features, more than the ${MAX_POLYNOMIAL_FEATURES} the obp reward function allows.`,
      { hint: 'Lower --context-dim.' },
    );
  }
  if (o.behaviour !== undefined && !BEHAVIOUR_LOGITS.includes(o.behaviour)) {
    throw new OffpolicyError('E_GENERATOR_PARAM', `Unknown behaviour "${String(o.behaviour)}".`, {
      hint: 'Use --behaviour linear (softmax of x.V_a + e_a) or --behaviour expected-reward (softmax of q(x, a), OBP\'s default).',
    });
  }
  if (o.rewardStd !== undefined && !(o.rewardStd >= 0 && Number.isFinite(o.rewardStd))) {
    throw new OffpolicyError('E_GENERATOR_PARAM', `rewardStd must be a non-negative number, got ${o.rewardStd}.`, {
      hint: 'Pass a standard deviation of 0 or more.',
    });
  }
  if (!Number.isFinite(o.seed)) {
    throw new OffpolicyError('E_GENERATOR_PARAM', `seed must be a number, got ${o.seed}.`, { hint: 'Pass --seed 0 (any integer).' });
  }
}

/** Generates a logged-bandit data set with its ground truth; the same options give the same arrays. */
export function generateBanditLog(opts: GenerateBanditOptions): BanditLog {
  checkOptions(opts);
  const { n, numActions: K, contextDim: d, reward, beta, seed } = opts;
  const deficient = opts.deficientSupport ?? 0;
  const rewardStd = opts.rewardStd ?? 1;
  const rewardFunction = opts.rewardFunction ?? 'default';
  const degree = opts.degree ?? 1;
  const behaviour = opts.behaviour ?? 'linear';
  const model = banditModel(seed, d, K);
  const obp = rewardFunction === 'obp' ? obpRewardModel(seed, d, K, degree) : undefined;
  const root = new Rng(seed);
  root.fork('coefficients'); // keep the streams below independent of the model's
  const ctxRng = root.fork('contexts');
  const supportRng = root.fork('support');
  const actionRng = root.fork('actions');
  const rewardRng = root.fork('rewards');

  const contexts = new Float32Array(n * d);
  for (let i = 0; i < n * d; i++) contexts[i] = ctxRng.normal();

  const expectedRewards = new Float64Array(n * K);
  const scores = new Float64Array(n * K);
  const F = obp ? obp.monomials.length : 0;
  const phi = new Float64Array(F);
  for (let i = 0; i < n; i++) {
    if (obp) polynomialFeatures(obp.monomials, contexts, i * d, phi);
    for (let a = 0; a < K; a++) {
      let raw = model.b[a]!;
      let s = model.e[a]!;
      for (let j = 0; j < d; j++) {
        const x = contexts[i * d + j]!;
        raw += x * model.w[a * d + j]!;
        s += x * model.v[a * d + j]!;
      }
      let z = (raw - model.mean) / model.std;
      if (obp) {
        let rawObp = 0;
        for (let f = 0; f < F; f++) rawObp += phi[f]! * obp.u[a * F + f]!;
        z = (degree * (rawObp - obp.mean)) / obp.std;
      }
      const q = reward === 'logistic' ? 1 / (1 + Math.exp(-z)) : z;
      expectedRewards[i * K + a] = q;
      scores[i * K + a] = behaviour === 'expected-reward' ? q : s;
    }
  }

  let mask: Uint8Array | undefined;
  if (deficient > 0) {
    mask = new Uint8Array(n * K);
    const perm = new Int32Array(K);
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < K; a++) perm[a] = a;
      // Partial Fisher-Yates: the first K - D entries are a uniform random subset.
      for (let a = 0; a < K - deficient; a++) {
        const j = a + supportRng.int(K - a);
        const t = perm[a]!;
        perm[a] = perm[j]!;
        perm[j] = t;
        mask[i * K + perm[a]!] = 1;
      }
    }
  }
  const actionProbs = new Float64Array(n * K);
  softmaxRows(scores, beta, n, K, actionProbs, mask);

  const actions = new Int32Array(n);
  const propensities = new Float64Array(n);
  const rewards = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = sampleIndex(actionRng, actionProbs, i * K, K);
    actions[i] = a;
    propensities[i] = actionProbs[i * K + a]!;
    const q = expectedRewards[i * K + a]!;
    rewards[i] = reward === 'logistic' ? (rewardRng.uniform() < q ? 1 : 0) : q + rewardStd * rewardRng.normal();
  }

  return {
    generator: 'synthetic',
    params: {
      rows: n,
      actions: K,
      contextDim: d,
      reward,
      beta,
      deficientSupport: deficient,
      ...(reward === 'linear' ? { rewardStd } : {}),
      // Recorded only when not the default, so default logs keep their bytes.
      ...(rewardFunction === 'obp' ? { rewardFunction, degree } : {}),
      ...(behaviour !== 'linear' ? { behaviour } : {}),
    },
    seed,
    n,
    numActions: K,
    contextDim: d,
    contexts,
    actions,
    rewards,
    propensities,
    actionProbs,
    expectedRewards,
    scores,
    loggingValue: trueValue(expectedRewards, actionProbs, n, K),
  };
}

/** Candidate policy softmax(betaE * scores) of a log: n x K probabilities with known true value. */
export function softmaxPolicy(log: BanditLog, betaE: number): Float64Array {
  const out = new Float64Array(log.n * log.numActions);
  softmaxRows(log.scores, betaE, log.n, log.numActions, out);
  return out;
}
