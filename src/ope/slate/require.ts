/** The inputs an estimator needs, with the column each comes from (for the error). */
import { OffpolicyError } from '../../core/errors.js';
import type { SlateData, SlateEstimatorId } from './types.js';

export function need<T>(value: T | undefined, estimator: SlateEstimatorId, column: string, role: string): T {
  if (value === undefined) {
    throw new OffpolicyError('E_MISSING_COLUMN', `Slate estimator ${estimator} needs ${role} (column ${column}), which was not given.`, {
      hint: `Add the ${column} column (Open Bandit Pipeline's name), or pick estimators whose inputs you have with --estimators.`,
    });
  }
  return value;
}

/** sum_l r_s(l) w_s(l) for each slate: the terms of the three slate IPS estimators. */
export function weightedSlotSums(data: SlateData, behaviour: Float64Array, evaluation: Float64Array): Float64Array {
  const { nSlates: n, slateLength: L, rewards } = data;
  const out = new Float64Array(n);
  for (let s = 0; s < n; s++) {
    let t = 0;
    for (let l = 0; l < L; l++) {
      const j = s * L + l;
      t += (rewards[j]! * evaluation[j]!) / behaviour[j]!;
    }
    out[s] = t;
  }
  return out;
}
