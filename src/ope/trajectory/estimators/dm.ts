/** Direct method: g_i = V(s_0) = E_{a ~ pi} Q(s_0, a), Q from fitted Q evaluation (Le, Voloshin & Yue 2019). */
import { requireQ } from './require.js';
import type { TrajectoryEstimator } from './types.js';

export const dm: TrajectoryEstimator = {
  id: 'dm',
  label: 'DM',
  reference: 'Le, Voloshin & Yue 2019 (FQE)',
  selfNormalized: false,
  needsWeights: false,
  needsQ: true,
  episodeTerms(x) {
    const { v } = requireQ(x, 'DM', false);
    const ep = x.data.episodes;
    const g = new Float64Array(ep.count);
    for (let i = 0; i < ep.count; i++) g[i] = v[ep.start[i]!]!;
    return g;
  },
};
