/** Per-decision importance sampling: g_i = sum_t gamma^t w_{0:t} r_t (Precup et al. 2000). */
import { discounts } from '../data.js';
import { requireWeights } from './require.js';
import type { TrajectoryEstimator } from './types.js';

export const pdis: TrajectoryEstimator = {
  id: 'pdis',
  label: 'PDIS',
  reference: 'Precup, Sutton & Singh 2000',
  selfNormalized: false,
  needsWeights: true,
  needsQ: false,
  episodeTerms(x) {
    const w = requireWeights(x, 'PDIS');
    const { episodes: ep, rewards, gamma } = x.data;
    const disc = discounts(gamma, ep.horizon);
    const g = new Float64Array(ep.count);
    for (let i = 0; i < ep.count; i++) {
      let s = 0;
      for (let r = ep.start[i]!; r < ep.start[i + 1]!; r++) s += disc[r - ep.start[i]!]! * (w.w[r]! === 0 ? 0 : w.w[r]! * rewards[r]!);
      g[i] = s;
    }
    return g;
  },
};
