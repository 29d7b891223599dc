/**
 * State-action marginal doubly robust (Kallus & Uehara 2020; Uehara, Huang & Jiang 2020):
 *
 *   g_i = V(s_0) + sum_t gamma^t w(s_t, a_t) (r_t + gamma V(s_{t+1}) - Q(s_t, a_t)),
 *
 * V(s_{t+1}) the value of the NEXT state of the same step (the logged row t + 1;
 * on the last step 0 when the episode terminated, V(next_observation) when it was
 * truncated). Consistent when either w or Q is right. SCOPE-RL's version shifts
 * this by one step (it pairs Q(s_{t+1}, a_{t+1}) with step t and uses it as the
 * baseline V(s_0)); this one does not.
 */
import { OffpolicyError } from '../../../core/errors.js';
import { discounts } from '../data.js';
import { requireMarginal, requireQ } from './require.js';
import type { TrajectoryEstimator } from './types.js';

export const mdr: TrajectoryEstimator = {
  id: 'mdr',
  label: 'MDR',
  reference: 'Kallus & Uehara 2020; Uehara, Huang & Jiang 2020 (MWL weights)',
  selfNormalized: false,
  needsWeights: false,
  needsQ: true,
  needsMarginal: true,
  episodeTerms(x) {
    const { w, bootstrap } = requireMarginal(x, 'MDR');
    const { q, v } = requireQ(x, 'MDR', true);
    const { episodes: ep, rewards, gamma } = x.data;
    const disc = discounts(gamma, ep.horizon);
    const g = new Float64Array(ep.count);
    const missing: number[] = [];
    for (let i = 0; i < ep.count; i++) {
      const s0 = ep.start[i]!;
      const e = ep.start[i + 1]!;
      let s = v[s0]!;
      for (let r = s0; r < e; r++) {
        let vNext = 0;
        if (r < e - 1) vNext = v[r + 1]!;
        else if (bootstrap[r]) {
          vNext = x.vNext?.[r] ?? NaN;
          if (Number.isNaN(vNext)) missing.push(ep.ids[i]!);
        }
        s += disc[r - s0]! * w[r]! * (rewards[r]! + gamma * vNext - q[r]!);
      }
      g[i] = s;
    }
    if (missing.length > 0) {
      throw new OffpolicyError('E_NO_Q', `MDR needs V(next_observation) on the last step of the ${missing.length} episode(s) that end without terminating (episodes ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}), and the Q predictions do not give it.`, {
        hint: 'Fit Q by fitted Q evaluation (which predicts it), or mark those last steps terminated if the horizon is part of the task.',
      });
    }
    return g;
  },
};
