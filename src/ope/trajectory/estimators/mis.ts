/**
 * State-action marginal importance sampling (Liu et al. 2018; Uehara, Huang & Jiang 2020):
 *   g_i = sum_t gamma^t w(s_t, a_t) r_t,
 * w learned by minimax weight learning (../marginal/mwl.ts). The terms treat w as
 * fixed, so intervals over them leave out the weight-learning error.
 */
import { discounts } from '../data.js';
import { requireMarginal } from './require.js';
import type { TrajectoryEstimator } from './types.js';

export const mis: TrajectoryEstimator = {
  id: 'mis',
  label: 'MIS',
  reference: 'Uehara, Huang & Jiang 2020 (MWL weights)',
  selfNormalized: false,
  needsWeights: false,
  needsQ: false,
  needsMarginal: true,
  episodeTerms(x) {
    const { w } = requireMarginal(x, 'MIS');
    const { episodes: ep, rewards, gamma } = x.data;
    const disc = discounts(gamma, ep.horizon);
    const g = new Float64Array(ep.count);
    for (let i = 0; i < ep.count; i++) {
      let s = 0;
      for (let r = ep.start[i]!; r < ep.start[i + 1]!; r++) s += disc[r - ep.start[i]!]! * w[r]! * rewards[r]!;
      g[i] = s;
    }
    return g;
  },
};
