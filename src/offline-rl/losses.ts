/**
 * Loss functions of the offline-RL learners as pure functions on typed arrays.
 * Each returns the mean loss over the batch and its gradient with respect to
 * the predictions (already divided by the batch size), which the learner feeds
 * to the network's backward pass.
 */
import type { LossResult } from '../nn/losses.js';
import { gaussianLogDensity } from '../util/truncated-normal.js';

/**
 * IQL's expectile loss of the residuals u = target - pred:
 *   L = mean |tau - 1(u < 0)| u^2   (Kostrikov et al. 2022, eq. 5)
 */
export function expectileLoss(pred: ArrayLike<number>, target: ArrayLike<number>, tau: number): LossResult {
  const n = pred.length;
  const grad = new Float32Array(n);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const u = target[i]! - pred[i]!;
    const w = u < 0 ? 1 - tau : tau;
    loss += w * u * u;
    grad[i] = (-2 * w * u) / n;
  }
  return { loss: loss / n, grad };
}

/**
 * Row-wise alpha-quantile over K ensemble values (values is n x K, row-major),
 * with linear interpolation between order statistics: position (K - 1) * alpha
 * in the sorted row, as numpy.quantile's default ("linear") and
 * torch.quantile's default. alpha = 0 is the min, alpha = 1 the max.
 */
export function ensembleQuantile(values: ArrayLike<number>, n: number, k: number, alpha: number): Float64Array {
  const out = new Float64Array(n);
  const row = new Float64Array(k);
  const pos = (k - 1) * alpha;
  const lo = Math.floor(pos);
  const hi = Math.min(k - 1, lo + 1);
  const frac = pos - lo;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) row[j] = values[i * k + j]!;
    row.sort();
    out[i] = row[lo]! + (row[hi]! - row[lo]!) * frac;
  }
  return out;
}

/** Advantage-weighted regression weights min(exp(beta (Q - V)), maxWeight), maxWeight 100 by default. */
export function awrWeights(q: ArrayLike<number>, v: ArrayLike<number>, beta: number, maxWeight = 100): Float64Array {
  const out = new Float64Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = Math.min(Math.exp(beta * (q[i]! - v[i]!)), maxWeight);
  return out;
}

/**
 * One-step TD targets y = r + gamma (1 - done) next, optionally clipped to
 * [clip[0], clip[1]] (RIQL clips to [-100, 1000]).
 */
/**
 * Rewards as the TD targets see them, in place: scale * r + shift. CORL rescales
 * locomotion rewards (scale) and shifts sparse goal rewards by -1 (IQL's
 * antmaze setting), so that every step costs and the goal is worth 0.
 */
export function transformRewards(rewards: Float32Array, scale: number, shift: number): void {
  if (scale === 1 && shift === 0) return;
  for (let i = 0; i < rewards.length; i++) rewards[i] = rewards[i]! * scale + shift;
}

export function tdTargets(
  rewards: ArrayLike<number>,
  done: ArrayLike<number>,
  next: ArrayLike<number>,
  gamma: number,
  clip?: readonly [number, number],
): Float32Array {
  const out = new Float32Array(rewards.length);
  for (let i = 0; i < rewards.length; i++) {
    let y = rewards[i]! + gamma * (1 - done[i]!) * next[i]!;
    if (clip) y = Math.min(clip[1], Math.max(clip[0], y));
    out[i] = y;
  }
  return out;
}

/** Element-wise minimum of two arrays (the twin-Q target). */
export function elementMin(a: ArrayLike<number>, b: ArrayLike<number>): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Math.min(a[i]!, b[i]!);
  return out;
}

/**
 * Weighted behaviour-cloning loss for a deterministic actor:
 *   L = mean_i w_i sum_j (pred_ij - a_ij)^2
 * pred and actions are n x m; weights default to 1 (plain BC).
 */
export function weightedMseActorLoss(pred: ArrayLike<number>, actions: ArrayLike<number>, m: number, weights?: ArrayLike<number>): LossResult {
  const n = pred.length / m;
  const grad = new Float32Array(pred.length);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[i]! : 1;
    for (let j = 0; j < m; j++) {
      const d = pred[i * m + j]! - actions[i * m + j]!;
      loss += w * d * d;
      grad[i * m + j] = (2 * w * d) / n;
    }
  }
  return { loss: loss / n, grad };
}

export const LOG_STD_MIN = -20;
export const LOG_STD_MAX = 2;
/** log N(a; mean, exp(logStd)) summed over the m dimensions of each row (logStd clamped to [-20, 2]). */
export function gaussianLogProb(mean: ArrayLike<number>, logStd: ArrayLike<number>, actions: ArrayLike<number>, m: number): Float64Array {
  const clamped = Float64Array.from({ length: m }, (_, j) => Math.min(LOG_STD_MAX, Math.max(LOG_STD_MIN, logStd[j]!)));
  return gaussianLogDensity(mean, clamped, actions, m);
}

/**
 * Weighted negative log-likelihood of a Gaussian actor with a state-independent
 * log-std vector (IQL's Gaussian policy): L = -mean_i w_i log pi(a_i | s_i).
 * Returns the gradients for the means (n x m) and for logStd (m); the logStd
 * gradient is zero where the clamp to [-20, 2] is active, as with torch.clamp.
 */
export function gaussianNllLoss(
  mean: ArrayLike<number>,
  logStd: ArrayLike<number>,
  actions: ArrayLike<number>,
  m: number,
  weights?: ArrayLike<number>,
): { loss: number; gradMean: Float32Array; gradLogStd: Float32Array } {
  const n = mean.length / m;
  const gradMean = new Float32Array(mean.length);
  const gradLogStd = new Float32Array(m);
  const lp = gaussianLogProb(mean, logStd, actions, m);
  let loss = 0;
  const gls = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[i]! : 1;
    loss -= w * lp[i]!;
    for (let j = 0; j < m; j++) {
      const ls = Math.min(LOG_STD_MAX, Math.max(LOG_STD_MIN, logStd[j]!));
      const sigma = Math.exp(ls);
      const d = actions[i * m + j]! - mean[i * m + j]!;
      gradMean[i * m + j] = (-w * d) / (sigma * sigma) / n;
      gls[j] += (-w * ((d * d) / (sigma * sigma) - 1)) / n;
    }
  }
  for (let j = 0; j < m; j++) {
    const inside = logStd[j]! >= LOG_STD_MIN && logStd[j]! <= LOG_STD_MAX;
    gradLogStd[j] = inside ? gls[j]! : 0;
  }
  return { loss: loss / n, gradMean, gradLogStd };
}

/**
 * Weighted softmax cross-entropy of a categorical actor (discrete BC, and
 * discrete IQL's advantage-weighted regression):
 *   L = mean_i w_i (logsumexp_j z_ij - z_{i,a_i}) = -mean_i w_i log softmax(z_i)[a_i]
 * logits z are n x K row-major, actions integers in 0..K-1, weights default to 1.
 * dL/dz_ij = w_i (softmax(z_i)_j - 1[j = a_i]) / n. Computed in float64 with the
 * row maximum subtracted, so large logits do not overflow.
 */
export function softmaxCrossEntropyLoss(logits: ArrayLike<number>, actions: ArrayLike<number>, k: number, weights?: ArrayLike<number>): LossResult {
  const n = actions.length;
  const grad = new Float32Array(n * k);
  const p = new Float64Array(k);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const o = i * k;
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[o + j]!);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += p[j] = Math.exp(logits[o + j]! - max);
    const a = actions[i]!;
    const w = weights ? weights[i]! : 1;
    loss += w * (max + Math.log(sum) - logits[o + a]!);
    for (let j = 0; j < k; j++) grad[o + j] = (w * (p[j]! / sum - (j === a ? 1 : 0))) / n;
  }
  return { loss: loss / n, grad };
}
