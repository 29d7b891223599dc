/**
 * The estimator registry: one spec per estimator id, each in its own module.
 */
import { OffpolicyError } from '../../core/errors.js';
import { clippedIps } from './clipped-ips.js';
import { dm } from './dm.js';
import { drOs } from './dr-os.js';
import { dr } from './dr.js';
import { esIps } from './es-ips.js';
import { ips } from './ips.js';
import { sndr } from './sndr.js';
import { snips } from './snips.js';
import { switchDr } from './switch-dr.js';
import { withSharedInputs } from './inputs.js';
import type { BanditBatch, EstimatorId, EstimatorParams, EstimatorSpec, ResolvedParams, RowTerms } from './types.js';

export type * from './types.js';
export { DEFAULT_CLIP, defaultSmoothingAlpha, resolveParams, sqlNumber } from './params.js';
export { shrinkWeight } from './dr-os.js';
export { termRange, type TermRangeInput } from './range.js';

export const ESTIMATORS: Record<EstimatorId, EstimatorSpec> = {
  ips,
  'clipped-ips': clippedIps,
  snips,
  'es-ips': esIps,
  dm,
  dr,
  sndr,
  'switch-dr': switchDr,
  'dr-os': drOs,
};

/** All ids, in the order reports list them. */
export const ESTIMATOR_IDS: readonly EstimatorId[] = ['ips', 'clipped-ips', 'snips', 'es-ips', 'dm', 'dr', 'sndr', 'switch-dr', 'dr-os'];

export function isEstimatorId(id: string): id is EstimatorId {
  return Object.prototype.hasOwnProperty.call(ESTIMATORS, id);
}

/** Looks up an estimator by id, with an error naming the valid ids. */
export function getEstimator(id: string): EstimatorSpec {
  if (!isEstimatorId(id)) {
    throw new OffpolicyError('E_UNKNOWN_ESTIMATOR', `Unknown estimator "${id}".`, { hint: `Choose from: ${ESTIMATOR_IDS.join(', ')}.` });
  }
  return ESTIMATORS[id];
}

/** estimate = mean(base) + sum(num) / (den ? sum(den) : n), summed in JS. */
export function estimateFromTerms(t: RowTerms): number {
  const n = t.num.length;
  let sn = 0;
  for (let i = 0; i < n; i++) sn += t.num[i]!;
  let v: number;
  if (t.den) {
    let sd = 0;
    for (let i = 0; i < n; i++) sd += t.den[i]!;
    v = sn / sd;
  } else {
    v = sn / n;
  }
  if (t.base) {
    let sb = 0;
    for (let i = 0; i < n; i++) sb += t.base[i]!;
    v += sb / n;
  }
  return v;
}

/**
 * Row terms of several estimators over one batch, computing the shared per-row
 * inputs (weights, q at the logged action, DM term) once. Same result as calling
 * each spec's rowTerms.
 */
export function rowTermsFor(b: BanditBatch, ids: readonly EstimatorId[], p: EstimatorParams): RowTerms[] {
  return withSharedInputs(() => ids.map((id) => ESTIMATORS[id].rowTerms(b, p)));
}

/**
 * Estimators that trade bias for variance on purpose, so their expectation is
 * not the policy value: clipped IPS, Switch-DR and DR-OS with a finite clip,
 * ES-IPS with alpha < 1, and DM (its reward model's bias). Their intervals
 * describe sampling spread only ('variance' intervals), not the value.
 */
export function biasedByDesign(id: EstimatorId, p: ResolvedParams): boolean {
  switch (id) {
    case 'dm':
      return true;
    case 'clipped-ips':
    case 'switch-dr':
    case 'dr-os':
      return Number.isFinite(p.clip);
    case 'es-ips':
      return p.smoothingAlpha < 1;
    default:
      return false;
  }
}
