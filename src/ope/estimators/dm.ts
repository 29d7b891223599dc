/** DM: (1/n) sum_i sum_a pi(a|x_i) q(x_i, a) (OBP DirectMethod). */
import { modelInputs, requireSqlModel } from './inputs.js';
import type { EstimatorSpec } from './types.js';

export const dm: EstimatorSpec = {
  id: 'dm',
  label: 'DM',
  reference: 'Beygelzimer & Langford 2009; OBP DirectMethod',
  needsRewardModel: true,
  selfNormalized: false,
  uses: [],
  rowTerms(b) {
    const m = modelInputs(b, 'dm');
    return { num: m.dm, den: null, base: null };
  },
  sqlTerms(c) {
    return { num: requireSqlModel('dm', c.qLogged, c.dm).dm, den: null, base: null };
  },
};
