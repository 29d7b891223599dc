/**
 * Synthetic slate (ranking) logs with ground truth, modelled on Open Bandit
 * Pipeline's SyntheticSlateBanditDataset (obp/dataset/synthetic_slate.py) with a
 * base reward function and no click model:
 *
 * - contexts x ~ N(0, I_d);
 * - base reward f(x, a) = sigmoid(z_a(x)), z_a(x) = x.phi_a + c_a (phi_a ~ N(0, I/d), c_a ~ N(0, 1));
 * - expected reward of the slot at position l of slate sigma (OBP's
 *   action_interaction_reward_function, binary rewards, g = logit):
 *     independent        q_l = sigmoid(z_{sigma_l})
 *     standard_additive  q_l = sigmoid(z_{sigma_l} + sum_{j != l} W[sigma_l, sigma_j])
 *     cascade_additive   q_l = sigmoid(z_{sigma_l} + sum_{j < l} W[sigma_l, sigma_j])
 *   with W symmetric, entries N(0, interactionScale^2) (OBP: scale 5); slot rewards
 *   Bernoulli(q_l), independent given the slate;
 * - behaviour and evaluation policies: softmax over linear logits beta * Theta x
 *   (Theta ~ N(0, 1), one per policy), slates drawn without replacement
 *   (Plackett-Luce, OBP's non-factorizable policy).
 *
 * Differences from OBP, on purpose: OBP's linear_behavior_policy_logit adds the
 * same context term to every action (so its behaviour ignores the context); here
 * each action has its own weights. The model (phi, c, W, both Thetas) comes from
 * `modelSeed`, the data from `seed`, so replications share one model. Propensities
 * (pscore, pscore_item_position, pscore_cascade for both policies), the
 * candidate's conditional distribution at each position and the exact Q_l of every
 * action (the expected reward from l to the end when the candidate fills the rest)
 * are computed by enumerating the K!/(K-L)! slates.
 */
import { OffpolicyError } from '../../core/errors.js';
import { Rng } from '../../util/rng.js';
import { checkInt } from './bandit-log.js';

export type SlateRewardStructure = 'independent' | 'standard_additive' | 'cascade_additive';
export const SLATE_REWARD_STRUCTURES: readonly SlateRewardStructure[] = ['independent', 'standard_additive', 'cascade_additive'];

/** Most slates enumerated per context (K!/(K-L)!). */
export const MAX_ENUMERATED_SLATES = 50_000;

export interface SlateGeneratorOptions {
  slates: number;
  /** K >= L. */
  actions: number;
  /** L >= 2. */
  slateLength: number;
  contextDim?: number;
  rewardStructure?: SlateRewardStructure;
  /** Inverse temperature of the behaviour policy (0: uniform). Default 1. */
  behaviourBeta?: number;
  /** Inverse temperature of the evaluation policy. Default 1. */
  evaluationBeta?: number;
  /** Standard deviation of the interaction entries W (OBP: 5). Default 5. */
  interactionScale?: number;
  /** Seed of the model (reward function, interactions, both policies). Default 0. */
  modelSeed?: number;
  /** Seed of the data (contexts, slates, rewards). */
  seed: number;
}

/** Rows slate-major (row s * L + l); per-action arrays (row * K + a). Field names match the slate estimators' SlateRows. */
export interface SyntheticSlateLog {
  nSlates: number;
  slateLength: number;
  numActions: number;
  contextDim: number;
  rewardStructure: SlateRewardStructure;
  /** nSlates x d. */
  contexts: Float32Array;
  slateId: Float64Array;
  position: Int32Array;
  action: Int32Array;
  reward: Float64Array;
  /** q_l of the logged slate. */
  expectedReward: Float64Array;
  pscore: Float64Array;
  pscoreItemPosition: Float64Array;
  pscoreCascade: Float64Array;
  evaluationPscore: Float64Array;
  evaluationPscoreItemPosition: Float64Array;
  evaluationPscoreCascade: Float64Array;
  /** pi_e(a | x, logged actions above the row), rows x K. */
  evaluationActionDist: Float64Array;
  /** Exact Q_l(x, logged actions above, a) under the evaluation policy, rows x K (0 for actions above). */
  trueQ: Float64Array;
  /** mean_s sum_sigma pi_e(sigma | x_s) sum_l q_l(x_s, sigma): the evaluation policy's value on these contexts. */
  trueValue: number;
  /** The same for the behaviour policy. */
  behaviourTrueValue: number;
}

/** Every ordered selection of L of K actions (lexicographic). */
export function enumerateSlates(k: number, L: number): Int32Array[] {
  const out: Int32Array[] = [];
  const cur = new Int32Array(L);
  const used = new Uint8Array(k);
  const rec = (l: number): void => {
    if (l === L) {
      out.push(Int32Array.from(cur));
      return;
    }
    for (let a = 0; a < k; a++) {
      if (used[a]) continue;
      used[a] = 1;
      cur[l] = a;
      rec(l + 1);
      used[a] = 0;
    }
  };
  rec(0);
  return out;
}

function countSlates(k: number, L: number): number {
  let c = 1;
  for (let i = 0; i < L; i++) c *= k - i;
  return c;
}

/** Plackett-Luce probabilities of each position's choice of a slate: out[l] = pi(sigma_l | sigma_<l). */
function plackettLuce(expLogits: Float64Array, slate: Int32Array, out: Float64Array): void {
  // The remaining mass is summed afresh at each position (subtracting could round it below the chosen entry).
  for (let l = 0; l < slate.length; l++) {
    let total = 0;
    for (let a = 0; a < expLogits.length; a++) {
      let above = false;
      for (let j = 0; j < l; j++) if (slate[j] === a) above = true;
      if (!above) total += expLogits[a]!;
    }
    out[l] = Math.min(1, expLogits[slate[l]!]! / total);
  }
}

interface SlateModel {
  d: number;
  phi: Float64Array;
  c: Float64Array;
  w: Float64Array;
  thetaB: Float64Array;
  thetaE: Float64Array;
}

function drawModel(k: number, d: number, scale: number, modelSeed: number): SlateModel {
  const rng = new Rng(`slate-model:${modelSeed}`);
  const phi = Float64Array.from({ length: k * d }, () => rng.normal() / Math.sqrt(d));
  const c = Float64Array.from({ length: k }, () => rng.normal());
  const w = new Float64Array(k * k);
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < a; b++) {
      const v = scale * rng.normal();
      w[a * k + b] = v;
      w[b * k + a] = v;
    }
  }
  const thetaB = Float64Array.from({ length: k * d }, () => rng.normal());
  const thetaE = Float64Array.from({ length: k * d }, () => rng.normal());
  return { d, phi, c, w, thetaB, thetaE };
}

const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** exp of the softmax logits beta * Theta x, shifted by their maximum. */
function expLogits(theta: Float64Array, beta: number, x: Float64Array, k: number, d: number): Float64Array {
  const z = new Float64Array(k);
  let max = -Infinity;
  for (let a = 0; a < k; a++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += theta[a * d + j]! * x[j]!;
    z[a] = beta * s;
    max = Math.max(max, z[a]!);
  }
  for (let a = 0; a < k; a++) z[a] = Math.exp(z[a]! - max);
  return z;
}

/** Generates a slate log, the candidate's probabilities on it, and the ground truth. */
export function generateSlateLog(opts: SlateGeneratorOptions): SyntheticSlateLog {
  const n = opts.slates;
  const k = opts.actions;
  const L = opts.slateLength;
  const d = opts.contextDim ?? 2;
  const structure = opts.rewardStructure ?? 'cascade_additive';
  checkInt('slates', n, 1, 10_000_000, '--slates');
  checkInt('actions', k, 2, 10_000, '--actions');
  checkInt('slate length', L, 2, k, '--slate-length (at most the number of actions)');
  checkInt('context dimension', d, 1, 1000, '--context-dim');
  checkInt('seed', opts.seed, 0, 2 ** 32 - 1, '--seed');
  if (!SLATE_REWARD_STRUCTURES.includes(structure)) {
    throw new OffpolicyError('E_GENERATOR_PARAM', `Unknown slate reward structure "${structure}".`, { hint: `Use one of ${SLATE_REWARD_STRUCTURES.join(', ')}.` });
  }
  const count = countSlates(k, L);
  if (count > MAX_ENUMERATED_SLATES) {
    throw new OffpolicyError('E_GENERATOR_PARAM', `K = ${k}, L = ${L} give ${count} possible slates; the generator enumerates at most ${MAX_ENUMERATED_SLATES} for its exact propensities and ground truth.`, {
      hint: 'Use fewer actions or a shorter slate.',
    });
  }
  const betaB = opts.behaviourBeta ?? 1;
  const betaE = opts.evaluationBeta ?? 1;
  const model = drawModel(k, d, opts.interactionScale ?? 5, opts.modelSeed ?? 0);
  const slates = enumerateSlates(k, L);
  const rng = new Rng(`slate-data:${opts.seed}`);

  const rows = n * L;
  const out: SyntheticSlateLog = {
    nSlates: n,
    slateLength: L,
    numActions: k,
    contextDim: d,
    rewardStructure: structure,
    contexts: new Float32Array(n * d),
    slateId: new Float64Array(rows),
    position: new Int32Array(rows),
    action: new Int32Array(rows),
    reward: new Float64Array(rows),
    expectedReward: new Float64Array(rows),
    pscore: new Float64Array(rows),
    pscoreItemPosition: new Float64Array(rows),
    pscoreCascade: new Float64Array(rows),
    evaluationPscore: new Float64Array(rows),
    evaluationPscoreItemPosition: new Float64Array(rows),
    evaluationPscoreCascade: new Float64Array(rows),
    evaluationActionDist: new Float64Array(rows * k),
    trueQ: new Float64Array(rows * k),
    trueValue: 0,
    behaviourTrueValue: 0,
  };
  const x = new Float64Array(d);
  const z = new Float64Array(k);
  const condB = new Float64Array(L);
  const condE = new Float64Array(L);
  const probB = new Float64Array(count);
  const probE = new Float64Array(count);
  const q = new Float64Array(count * L);
  const logged = new Int32Array(L);
  let valueE = 0;
  let valueB = 0;
  for (let s = 0; s < n; s++) {
    for (let j = 0; j < d; j++) {
      x[j] = rng.normal();
      out.contexts[s * d + j] = x[j]!;
    }
    for (let a = 0; a < k; a++) {
      let v = model.c[a]!;
      for (let j = 0; j < d; j++) v += model.phi[a * d + j]! * x[j]!;
      z[a] = v;
    }
    const eB = expLogits(model.thetaB, betaB, x, k, d);
    const eE = expLogits(model.thetaE, betaE, x, k, d);
    // Every slate's probability under both policies and its slot rewards.
    for (let i = 0; i < count; i++) {
      const sl = slates[i]!;
      plackettLuce(eB, sl, condB);
      plackettLuce(eE, sl, condE);
      let pb = 1;
      let pe = 1;
      let total = 0;
      for (let l = 0; l < L; l++) {
        pb *= condB[l]!;
        pe *= condE[l]!;
        let v = z[sl[l]!]!;
        if (structure !== 'independent') {
          for (let j = 0; j < L; j++) {
            if (j === l || (structure === 'cascade_additive' && j > l)) continue;
            v += model.w[sl[l]! * k + sl[j]!]!;
          }
        }
        q[i * L + l] = sigmoid(v);
        total += q[i * L + l]!;
      }
      probB[i] = pb;
      probE[i] = pe;
      valueB += pb * total;
      valueE += pe * total;
    }
    // The logged slate, drawn without replacement from the behaviour policy.
    const remaining = Float64Array.from(eB);
    for (let l = 0; l < L; l++) {
      const a = rng.categorical(remaining);
      logged[l] = a;
      remaining[a] = 0;
    }
    // Its index among the enumerated slates (lexicographic rank).
    const idx = slates.findIndex((sl) => sl.every((a, l) => a === logged[l]));
    plackettLuce(eB, logged, condB);
    plackettLuce(eE, logged, condE);
    let cb = 1;
    let ce = 1;
    for (let l = 0; l < L; l++) {
      const r = s * L + l;
      const a = logged[l]!;
      cb *= condB[l]!;
      ce *= condE[l]!;
      out.slateId[r] = s;
      out.position[r] = l;
      out.action[r] = a;
      out.expectedReward[r] = q[idx * L + l]!;
      out.pscoreCascade[r] = cb;
      out.evaluationPscoreCascade[r] = ce;
      out.pscore[r] = probB[idx]!;
      out.evaluationPscore[r] = probE[idx]!;
      let mb = 0;
      let me = 0;
      // Q_l(a') = E_e[sum_{l' >= l} q_l' | logged prefix, a' at l]; pi_e(a' | prefix) from the same sums.
      const mass = new Float64Array(k);
      const ret = new Float64Array(k);
      for (let i = 0; i < count; i++) {
        const sl = slates[i]!;
        if (sl[l] === a) {
          mb += probB[i]!;
          me += probE[i]!;
        }
        let prefix = true;
        for (let j = 0; j < l; j++) if (sl[j] !== logged[j]) prefix = false;
        if (!prefix) continue;
        let rest = 0;
        for (let j = l; j < L; j++) rest += q[i * L + j]!;
        mass[sl[l]!] += probE[i]!;
        ret[sl[l]!] += probE[i]! * rest;
      }
      // Sums of probabilities can round above 1.
      out.pscoreItemPosition[r] = Math.min(1, mb);
      out.evaluationPscoreItemPosition[r] = Math.min(1, me);
      let total = 0;
      for (let b = 0; b < k; b++) total += mass[b]!;
      for (let b = 0; b < k; b++) {
        out.evaluationActionDist[r * k + b] = mass[b]! / total;
        out.trueQ[r * k + b] = mass[b]! > 0 ? ret[b]! / mass[b]! : 0;
      }
      out.reward[r] = rng.uniform() < q[idx * L + l]! ? 1 : 0;
    }
  }
  out.trueValue = valueE / n;
  out.behaviourTrueValue = valueB / n;
  return out;
}
