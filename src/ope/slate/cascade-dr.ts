/**
 * Cascade doubly robust (OBP SlateCascadeDoublyRobust; Kiyohara et al., WSDM 2022):
 *   t_s = sum_l [ w_s(1..l) (r_s(l) - Qhat_l(a_s(l))) + w_s(1..l-1) sum_a pi_e(a | x_s, a_s(1..l-1)) Qhat_l(a) ]
 * with w_s(1..l) = pi_e(a_s(1..l) | x_s) / pi_b(a_s(1..l) | x_s) (pscore_cascade) and
 * w_s(1..0) = 1, Qhat_l(a) = Qhat_l(x_s, a_s(1..l-1), a) an estimate of the reward
 * from position l to the end. Unbiased under the cascade assumption for any Q-hat that
 * does not look at the slate's own rewards; a good Q-hat lowers the variance.
 */
import { need } from './require.js';
import type { SlateEstimatorSpec } from './types.js';

export const cascadeDr: SlateEstimatorSpec = {
  id: 'cascade-dr',
  obpName: 'SlateCascadeDoublyRobust',
  assumption: 'cascade, as RIPS; Q-hat only lowers the variance',
  terms: (d) => {
    const bCas = need(d.behaviour.cascade, 'cascade-dr', 'pscore_cascade', "the logging policy's top-l probabilities");
    const eCas = need(d.evaluation.cascade, 'cascade-dr', 'evaluation_policy_pscore_cascade', "the candidate's top-l probabilities");
    const q = need(d.qHat, 'cascade-dr', 'q_hat', 'Q-hat of every action at every position');
    const pi = need(d.evaluationActionDist, 'cascade-dr', 'evaluation_policy_action_dist', "the candidate's distribution of the next action given the logged prefix");
    const actions = need(d.actions, 'cascade-dr', 'action', 'the logged actions');
    const { nSlates: n, slateLength: L, numActions: K, rewards } = d;
    const out = new Float64Array(n);
    for (let s = 0; s < n; s++) {
      let t = 0;
      let wPrev = 1;
      for (let l = 0; l < L; l++) {
        const j = s * L + l;
        const w = eCas[j]! / bCas[j]!;
        let expected = 0;
        for (let a = 0; a < K; a++) expected += pi[j * K + a]! * q[j * K + a]!;
        t += w * (rewards[j]! - q[j * K + actions[j]!]!) + wPrev * expected;
        wPrev = w;
      }
      out[s] = t;
    }
    return out;
  },
};
