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
 */
import { OffpolicyError } from '../../errors.js';
import { Rng } from '../../util/rng.js';
import { softmaxRows } from '../../util/softmax.js';
import { checkInt, sampleIndex, trueValue, type BanditLog } from './bandit-log.js';

export type RewardShape = 'logistic' | 'linear';

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

function checkOptions(o: GenerateBanditOptions): void {
  checkInt('rows', o.n, 1, 2 ** 31 - 1, '--rows');
  checkInt('actions', o.numActions, 2, 100_000, '--actions');
  checkInt('context dimension', o.contextDim, 1, 10_000, '--context-dim');
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
  const model = banditModel(seed, d, K);
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
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < K; a++) {
      let raw = model.b[a]!;
      let s = model.e[a]!;
      for (let j = 0; j < d; j++) {
        const x = contexts[i * d + j]!;
        raw += x * model.w[a * d + j]!;
        s += x * model.v[a * d + j]!;
      }
      const z = (raw - model.mean) / model.std;
      expectedRewards[i * K + a] = reward === 'logistic' ? 1 / (1 + Math.exp(-z)) : z;
      scores[i * K + a] = s;
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
