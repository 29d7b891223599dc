/**
 * Standard slate IPS (OBP SlateStandardIPS; McInerney et al. 2020):
 *   t_s = (pi_e(slate_s | x_s) / pi_b(slate_s | x_s)) * sum_l r_s(l).
 * Unbiased for any reward structure, given the slate's full probability under both
 * policies; its weights are products over positions, so its variance grows fast with L.
 */
import { need, weightedSlotSums } from './require.js';
import type { SlateEstimatorSpec } from './types.js';

export const sips: SlateEstimatorSpec = {
  id: 'sips',
  obpName: 'SlateStandardIPS',
  assumption: 'none on the reward: the slate probabilities pscore of both policies',
  terms: (d) => weightedSlotSums(d, need(d.behaviour.pscore, 'sips', 'pscore', "the logging policy's slate probabilities"), need(d.evaluation.pscore, 'sips', 'evaluation_policy_pscore', "the candidate's slate probabilities")),
};
