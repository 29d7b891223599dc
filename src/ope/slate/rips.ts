/**
 * Reward-interaction IPS (OBP SlateRewardInteractionIPS; McInerney et al. 2020):
 *   t_s = sum_l r_s(l) pi_e(a_s(1..l) | x_s) / pi_b(a_s(1..l) | x_s).
 * Unbiased under the cascade assumption: the reward at position l depends only on
 * the actions at positions 1..l.
 */
import { need, weightedSlotSums } from './require.js';
import type { SlateEstimatorSpec } from './types.js';

export const rips: SlateEstimatorSpec = {
  id: 'rips',
  obpName: 'SlateRewardInteractionIPS',
  assumption: 'the reward at a position depends only on the actions at and above it (cascade)',
  terms: (d) =>
    weightedSlotSums(
      d,
      need(d.behaviour.cascade, 'rips', 'pscore_cascade', "the logging policy's top-l probabilities"),
      need(d.evaluation.cascade, 'rips', 'evaluation_policy_pscore_cascade', "the candidate's top-l probabilities"),
    ),
};
