/**
 * Independent IPS (OBP SlateIndependentIPS; Li et al. 2018):
 *   t_s = sum_l r_s(l) pi_e(a_s(l) at l | x_s) / pi_b(a_s(l) at l | x_s).
 * Unbiased when the reward at a position depends only on the action at that position
 * (the item-position model: no interaction between slots).
 */
import { need, weightedSlotSums } from './require.js';
import type { SlateEstimatorSpec } from './types.js';

export const iips: SlateEstimatorSpec = {
  id: 'iips',
  obpName: 'SlateIndependentIPS',
  assumption: "the reward at a position depends only on that position's action (item-position model)",
  terms: (d) =>
    weightedSlotSums(
      d,
      need(d.behaviour.itemPosition, 'iips', 'pscore_item_position', "the logging policy's marginal item-position probabilities"),
      need(d.evaluation.itemPosition, 'iips', 'evaluation_policy_pscore_item_position', "the candidate's marginal item-position probabilities"),
    ),
};
