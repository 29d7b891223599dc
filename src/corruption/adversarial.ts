/**
 * The RIQL adversarial attack on continuous inputs: start from a random
 * perturbation U(-eps, eps) * std, then run Adam steps (default 100, lr
 * 0.01 * eps) that lower Q, clamping the perturbation to +-eps * std after
 * every step. Each row's Q depends only on its own inputs, so minimising the
 * mean Q is minimising every row's Q; Adam is run per coordinate on the
 * gradient of the sum (Adam's normalisation removes the 1/n of the mean).
 */
import type { Rng } from '../util/rng.js';
import type { Critic } from './critic.js';

export interface AttackOptions {
  critic: Critic;
  /** Which critic input to perturb. */
  target: 'obs' | 'act';
  /** n x obsDim and n x actDim critic inputs (the clean values). */
  obs: Float32Array;
  act: Float32Array;
  n: number;
  /** Per-dimension standard deviation of the attacked input. */
  std: ArrayLike<number>;
  eps: number;
  rng: Rng;
  steps?: number;
  /** Adam learning rate; default 0.01 * eps. */
  learningRate?: number;
  onStep?: (done: number, total: number) => void;
}

/** Returns the attacked input (obs or act, n x width), each entry within +-eps * std of the clean one. */
export function adamAttack(o: AttackOptions): Float32Array {
  const d = o.target === 'obs' ? o.critic.obsDim : o.critic.actDim;
  const clean = o.target === 'obs' ? o.obs : o.act;
  const steps = o.steps ?? 100;
  const lr = o.learningRate ?? 0.01 * o.eps;
  const size = o.n * d;
  const bound = new Float64Array(d);
  for (let j = 0; j < d; j++) bound[j] = o.eps * o.std[j]!;
  const delta = new Float64Array(size);
  for (let k = 0; k < size; k++) delta[k] = o.rng.range(-1, 1) * bound[k % d]!;
  const m = new Float64Array(size);
  const v = new Float64Array(size);
  const cur = new Float32Array(size);
  const b1 = 0.9;
  const b2 = 0.999;
  for (let t = 1; t <= steps; t++) {
    for (let k = 0; k < size; k++) cur[k] = clean[k]! + delta[k]!;
    const g = o.critic.grad(o.target === 'obs' ? cur : o.obs, o.target === 'act' ? cur : o.act, o.n);
    const grad = o.target === 'obs' ? g.obs : g.act;
    const c1 = 1 - b1 ** t;
    const c2 = 1 - b2 ** t;
    for (let k = 0; k < size; k++) {
      const gk = grad[k]!;
      m[k] = b1 * m[k]! + (1 - b1) * gk;
      v[k] = b2 * v[k]! + (1 - b2) * gk * gk;
      const step = (lr * (m[k]! / c1)) / (Math.sqrt(v[k]! / c2) + 1e-8);
      const bd = bound[k % d]!;
      delta[k] = Math.min(bd, Math.max(-bd, delta[k]! - step));
    }
    o.onStep?.(t, steps);
  }
  for (let k = 0; k < size; k++) cur[k] = clean[k]! + delta[k]!;
  return cur;
}
