/** SNIPS: sum w_i r_i / sum w_i (OBP SelfNormalizedInverseProbabilityWeighting). */
import { loggedInputs, sqlWeight } from './inputs.js';
import type { EstimatorSpec } from './types.js';

export const snips: EstimatorSpec = {
  id: 'snips',
  label: 'SNIPS',
  reference: 'Swaminathan & Joachims 2015; OBP SelfNormalizedInverseProbabilityWeighting',
  needsRewardModel: false,
  selfNormalized: true,
  uses: [],
  rowTerms(b) {
    const { weights } = loggedInputs(b);
    const num = new Float64Array(b.n);
    for (let i = 0; i < b.n; i++) num[i] = weights[i]! * b.rewards[i]!;
    return { num, den: weights, base: null };
  },
  sqlTerms(c) {
    const w = sqlWeight(c);
    return { num: `(${w} * (${c.reward}))`, den: w, base: null };
  },
};
