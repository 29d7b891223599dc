/**
 * The range [lo, hi] a row term can take, for concentration intervals (Hoeffding,
 * empirical Bernstein) that need bounded values. Derived from the reward range
 * [rmin, rmax] (reward-model predictions are assumed to lie in it too) and the
 * largest possible importance weight W >= pi(a|x) / pi0(a|x) (e.g. 1 / min
 * propensity, or 1 / min over actions of pi0 when the candidate is arbitrary).
 *
 *   IPS          w r                       w in [0, W]
 *   clipped IPS  min(w, L) r               weight in [0, min(W, L)]
 *   ES-IPS       pi / p^alpha = w^alpha pi^(1-alpha) <= W^alpha
 *   DM           dm_i in [rmin, rmax]
 *   DR           dm + w (r - q): [rmin - W D, rmax + W D], D = rmax - rmin
 *   Switch-DR    as DR with W -> min(W, L)
 *   DR-OS        as DR with W -> max_{w <= W} L w / (w^2 + L)  (= sqrt(L)/2 once W >= sqrt(L))
 *   SNIPS, SNDR  null: a ratio of sums is not a mean of bounded i.i.d. terms.
 *
 * Callers may override the result (e.g. a known tighter range).
 */
import { OffpolicyError } from '../../core/errors.js';
import { shrinkWeight } from './dr-os.js';
import { checkClip, DEFAULT_CLIP, checkSmoothingAlpha } from './params.js';
import type { EstimatorId, EstimatorParams } from './types.js';

export interface TermRangeInput {
  rewardRange: readonly [number, number];
  /** Largest possible importance weight pi / pi0 (e.g. 1 / min propensity). */
  maxWeight: number;
  params?: EstimatorParams;
}

function productRange(wMax: number, rmin: number, rmax: number): [number, number] {
  const c = [0, wMax * rmin, wMax * rmax];
  return [Math.min(...c), Math.max(...c)];
}

export function termRange(id: EstimatorId, input: TermRangeInput): [number, number] | null {
  const [rmin, rmax] = input.rewardRange;
  const W = input.maxWeight;
  if (!(rmin <= rmax) || !Number.isFinite(rmin) || !Number.isFinite(rmax)) {
    throw new OffpolicyError('E_RANGE', `The reward range [${rmin}, ${rmax}] is not a finite interval with min <= max.`, {
      hint: 'Pass --reward-range MIN,MAX with MIN <= MAX.',
    });
  }
  if (!(W > 0) || !Number.isFinite(W)) {
    throw new OffpolicyError('E_RANGE', `The largest importance weight must be a positive finite number, got ${W}.`, {
      hint: 'Use 1 / (smallest propensity), or clip the weights.',
    });
  }
  const p = input.params ?? {};
  const D = rmax - rmin;
  const L = (): number => checkClip(p.clip ?? DEFAULT_CLIP);
  switch (id) {
    case 'ips':
      return productRange(W, rmin, rmax);
    case 'clipped-ips':
      return productRange(Math.min(W, L()), rmin, rmax);
    case 'es-ips': {
      // Without a given alpha, max(W, 1) bounds W^alpha for every alpha in [0, 1].
      const bound = p.smoothingAlpha === undefined ? Math.max(W, 1) : Math.pow(W, checkSmoothingAlpha(p.smoothingAlpha));
      return productRange(bound, rmin, rmax);
    }
    case 'dm':
      return [rmin, rmax];
    case 'dr':
      return [rmin - W * D, rmax + W * D];
    case 'switch-dr': {
      const w = Math.min(W, L());
      return [rmin - w * D, rmax + w * D];
    }
    case 'dr-os': {
      const l = L();
      const w = l === Infinity ? W : W <= Math.sqrt(l) ? shrinkWeight(W, l) : Math.sqrt(l) / 2;
      return [rmin - w * D, rmax + w * D];
    }
    case 'snips':
    case 'sndr':
      return null;
  }
}
