/** Trajectory-wise importance sampling: g_i = w_{0:T_i-1} sum_t gamma^t r_t (Precup et al. 2000). */
import { discountedReturns } from '../data.js';
import { requireWeights } from './require.js';
import type { TrajectoryEstimator } from './types.js';

export const tis: TrajectoryEstimator = {
  id: 'tis',
  label: 'TIS',
  reference: 'Precup, Sutton & Singh 2000',
  selfNormalized: false,
  needsWeights: true,
  needsQ: false,
  episodeTerms(x) {
    const w = requireWeights(x, 'TIS');
    const g = discountedReturns(x.data);
    for (let i = 0; i < g.length; i++) g[i] = w.final[i]! === 0 ? 0 : w.final[i]! * g[i]!;
    return g;
  },
};
