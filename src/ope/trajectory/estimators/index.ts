/** The trajectory estimator registry. */
import { OffpolicyError } from '../../../core/errors.js';
import { dm } from './dm.js';
import { dr } from './dr.js';
import { mdr } from './mdr.js';
import { mis } from './mis.js';
import { pdis } from './pdis.js';
import { sndr, snpdis, sntis } from './self-normalized.js';
import { tis } from './tis.js';
import type { TrajectoryEstimator, TrajectoryEstimatorId } from './types.js';

export type { TrajectoryEstimator, TrajectoryEstimatorId, TrajectoryTermsInput } from './types.js';

export const TRAJECTORY_ESTIMATORS: Readonly<Record<TrajectoryEstimatorId, TrajectoryEstimator>> = { dm, tis, pdis, sntis, snpdis, dr, sndr, mis, mdr };

export const TRAJECTORY_ESTIMATOR_IDS = Object.keys(TRAJECTORY_ESTIMATORS) as TrajectoryEstimatorId[];

export function getTrajectoryEstimator(id: string): TrajectoryEstimator {
  const e = (TRAJECTORY_ESTIMATORS as Record<string, TrajectoryEstimator>)[id.trim().toLowerCase()];
  if (!e) {
    throw new OffpolicyError('E_UNKNOWN_ESTIMATOR', `Unknown trajectory estimator "${id}".`, {
      hint: `Trajectory estimators: ${TRAJECTORY_ESTIMATOR_IDS.join(', ')}.${/^cd-/i.test(id.trim()) ? ' Cumulative-distribution estimators (cd-is, cd-snis, cd-dr, cd-dm) go in --distribution (library option distribution).' : ''}`,
    });
  }
  return e;
}

/** The estimate with episode multiplicities `counts` (bootstrap); plain means weight their terms. */
export function resampledValue(e: TrajectoryEstimator, x: Parameters<TrajectoryEstimator['episodeTerms']>[0], terms: Float64Array, counts: Float64Array): number {
  if (e.resampled) return e.resampled(x, counts);
  let s = 0;
  let m = 0;
  for (let i = 0; i < terms.length; i++) {
    s += counts[i]! * terms[i]!;
    m += counts[i]!;
  }
  return s / m;
}
