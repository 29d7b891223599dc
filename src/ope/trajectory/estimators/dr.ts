/**
 * Per-decision doubly robust (Jiang & Li 2016; Thomas & Brunskill 2016):
 *   g_i = sum_t gamma^t [ w_{0:t} (r_t - Q(s_t, a_t)) + w_{0:t-1} V(s_t) ],  w_{0:-1} = 1.
 * Unbiased for any Q when the weights are exact: E[w_{0:t} Q(s_t, a_t) | s_t, past] = w_{0:t-1} V(s_t).
 */
import { discounts } from '../data.js';
import { requireQ, requireWeights } from './require.js';
import type { TrajectoryEstimator } from './types.js';

export const dr: TrajectoryEstimator = {
  id: 'dr',
  label: 'DR',
  reference: 'Jiang & Li 2016; Thomas & Brunskill 2016',
  selfNormalized: false,
  needsWeights: true,
  needsQ: true,
  episodeTerms(x) {
    const w = requireWeights(x, 'DR');
    const { q, v } = requireQ(x, 'DR', true);
    const { episodes: ep, rewards, gamma } = x.data;
    const disc = discounts(gamma, ep.horizon);
    const g = new Float64Array(ep.count);
    for (let i = 0; i < ep.count; i++) {
      let s = 0;
      for (let r = ep.start[i]!; r < ep.start[i + 1]!; r++) {
        const a = w.w[r]! === 0 ? 0 : w.w[r]! * (rewards[r]! - q[r]!);
        const b = w.wPrev[r]! === 0 ? 0 : w.wPrev[r]! * v[r]!;
        s += disc[r - ep.start[i]!]! * (a + b);
      }
      g[i] = s;
    }
    return g;
  },
};
