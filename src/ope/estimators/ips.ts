/** IPS: (1/n) sum w_i r_i. Unbiased when the logger covers the candidate's support. */
import { loggedInputs, sqlWeight } from './inputs.js';
import type { EstimatorSpec } from './types.js';

export const ips: EstimatorSpec = {
  id: 'ips',
  label: 'IPS',
  reference: 'Horvitz & Thompson 1952; OBP InverseProbabilityWeighting',
  needsRewardModel: false,
  selfNormalized: false,
  uses: [],
  rowTerms(b) {
    const { weights } = loggedInputs(b);
    const num = new Float64Array(b.n);
    for (let i = 0; i < b.n; i++) num[i] = weights[i]! * b.rewards[i]!;
    return { num, den: null, base: null };
  },
  sqlTerms(c) {
    return { num: `(${sqlWeight(c)} * (${c.reward}))`, den: null, base: null };
  },
};
