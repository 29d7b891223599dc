/**
 * The reward model's estimation error in DM's interval, for the models linear in
 * the joint design x_ia = [1, x_i, one-hot(a)] through a link mu (ridge: identity;
 * logistic: sigmoid), fitted by penalised M-estimation:
 *
 *     sum_i s_i(theta) + lambda P theta = 0,   s_i = (mu(x_i,a_i . theta) - r_i) x_i,a_i,
 *     H = sum_i mu'(z_i) x_i x_i^T + lambda P   (P: identity without the intercept).
 *
 * Refitting theta on a bootstrap resample (row counts c_i) and taking one Newton
 * step from theta_hat gives theta* - theta_hat = -H^-1 sum_i (c_i - 1) s_i, so
 *
 *     DM* ~ (1/n) sum_i c_i [dm_i + corr_i],   corr_i = -n G^T H^-1 (s_i - mean s),
 *     G = (1/n) sum_i sum_a pi(a|x_i) mu'(z_ia) x_ia   (dDM / dtheta).
 *
 * DM's row terms dm_i + corr_i have the same mean as dm_i, and any interval over
 * them (t, the bootstrap) includes the reward model's error to first order: the
 * bootstrap over them is the one-step refit bootstrap, at no refitting cost.
 * Models without this form (per-action ridge, the MLP, supplied predictions, item features) get
 * no correction and their DM interval says so (rewardModelUncertainty: false).
 */
import type { RewardData, RewardModel } from '../../core/contracts.js';
import { choleskySolve } from './linalg.js';
import { LogisticRewardModel } from './logistic.js';
import { RidgeRewardModel } from './ridge.js';
import { designRow, designWidth, linearScore } from './types.js';

interface LinearIndex {
  weights: Float64Array;
  link: 'identity' | 'logistic';
  lambda: number;
}

function linearIndexOf(model: RewardModel): LinearIndex | null {
  // Item features widen the design beyond [1, x, one-hot(a)]; no correction for them yet.
  if ((model instanceof LogisticRewardModel || model instanceof RidgeRewardModel) && model.z !== undefined) return null;
  if (model instanceof LogisticRewardModel) return { weights: model.weights, link: 'logistic', lambda: model.lambda };
  if (model instanceof RidgeRewardModel && !model.perAction) return { weights: model.weights[0]!, link: 'identity', lambda: model.lambda };
  return null;
}

const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** Prepared once per fitted model and log; correction() then costs O(n K p) per candidate. */
export interface DmUncertainty {
  /** corr_i for a candidate's n x K probabilities (see the module comment). */
  correction(targetProbs: Float64Array): Float64Array;
}

/** null when the model is not linear in the joint design (no correction is available). */
export function dmUncertainty(model: RewardModel, data: RewardData): DmUncertainty | null {
  const lin = linearIndexOf(model);
  if (!lin) return null;
  const { n, d, numActions: k } = data;
  const p = designWidth(d, k);
  const w = lin.weights;
  const mu = (z: number): number => (lin.link === 'identity' ? z : sigmoid(z));
  const dmu = (z: number): number => {
    if (lin.link === 'identity') return 1;
    const s = sigmoid(z);
    return s * (1 - s);
  };
  const h = new Float64Array(p * p);
  const resid = new Float64Array(n);
  const row = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    const a = data.actions[i]!;
    const z = linearScore(w, data.contexts, i, d, a);
    resid[i] = mu(z) - data.rewards[i]!;
    const g = dmu(z);
    designRow(data.contexts, i, d, a, k, row);
    for (let u = 0; u < p; u++) {
      const ru = row[u]! * g;
      if (ru === 0) continue;
      for (let v = 0; v <= u; v++) h[u * p + v] = h[u * p + v]! + ru * row[v]!;
    }
  }
  for (let u = 0; u < p; u++) for (let v = 0; v < u; v++) h[v * p + u] = h[u * p + v]!;
  for (let j = 1; j < p; j++) h[j * p + j] = h[j * p + j]! + lin.lambda;
  return {
    correction(targetProbs: Float64Array): Float64Array {
      const g = new Float64Array(p);
      for (let i = 0; i < n; i++) {
        for (let a = 0; a < k; a++) {
          const pi = targetProbs[i * k + a]!;
          if (pi === 0) continue;
          const c = pi * dmu(linearScore(w, data.contexts, i, d, a));
          g[0] = g[0]! + c;
          for (let j = 0; j < d; j++) g[1 + j] = g[1 + j]! + c * data.contexts[i * d + j]!;
          if (a > 0) g[d + a] = g[d + a]! + c;
        }
      }
      for (let j = 0; j < p; j++) g[j] = g[j]! / n;
      const u = choleskySolve(h, g, p);
      const out = new Float64Array(n);
      if (!u) return out;
      let mean = 0;
      for (let i = 0; i < n; i++) {
        const v = resid[i]! * linearScore(u, data.contexts, i, d, data.actions[i]!);
        out[i] = v;
        mean += v;
      }
      mean /= n;
      for (let i = 0; i < n; i++) out[i] = -n * (out[i]! - mean);
      return out;
    },
  };
}
