/**
 * SNDR: (1/n) sum dm_i + sum w_i (r_i - q_i) / sum w_i
 * (OBP SelfNormalizedDoublyRobust: the DM part plus a self-normalized correction).
 * Row terms: base = dm_i, num = w_i (r_i - q_i), den = w_i.
 */
import { loggedInputs, modelInputs, requireSqlModel, sqlWeight } from './inputs.js';
import type { EstimatorSpec } from './types.js';

export const sndr: EstimatorSpec = {
  id: 'sndr',
  label: 'SNDR',
  reference: 'Kallus & Uehara 2019; OBP SelfNormalizedDoublyRobust',
  needsRewardModel: true,
  selfNormalized: true,
  uses: [],
  rowTerms(b) {
    const m = modelInputs(b, 'sndr');
    const { weights } = loggedInputs(b);
    const num = new Float64Array(b.n);
    for (let i = 0; i < b.n; i++) num[i] = weights[i]! * (b.rewards[i]! - m.qLogged[i]!);
    return { num, den: weights, base: m.dm };
  },
  sqlTerms(c) {
    const m = requireSqlModel('sndr', c.qLogged, c.dm);
    const w = sqlWeight(c);
    return { num: `(${w} * ((${c.reward}) - ${m.q}))`, den: w, base: m.dm };
  },
};
