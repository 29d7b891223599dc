/**
 * DR-OS (doubly robust with optimistic shrinkage, Su, Dimakopoulou, Krishnamurthy,
 * Dudik, ICML 2020): DR with w replaced by L w / (w^2 + L).
 * OBP's convention (DoublyRobustWithShrinkage): iw_hat = lambda * iw / (iw^2 + lambda),
 * and lambda = inf leaves the weight unchanged (plain DR).
 */
import { loggedInputs, modelInputs, requireSqlModel, sqlWeight } from './inputs.js';
import { checkClip, DEFAULT_CLIP, sqlNumber } from './params.js';
import type { EstimatorSpec } from './types.js';

/** The shrunk weight lambda w / (w^2 + lambda); w itself when lambda = inf. */
export function shrinkWeight(w: number, lambda: number): number {
  return lambda === Infinity ? w : (lambda * w) / (w * w + lambda);
}

export const drOs: EstimatorSpec = {
  id: 'dr-os',
  label: 'DR-OS',
  reference: 'Su et al. 2020; OBP DoublyRobustWithShrinkage',
  needsRewardModel: true,
  selfNormalized: false,
  uses: ['clip'],
  rowTerms(b, p) {
    const L = checkClip(p.clip ?? DEFAULT_CLIP);
    const m = modelInputs(b, 'dr-os');
    const { weights } = loggedInputs(b);
    const num = new Float64Array(b.n);
    for (let i = 0; i < b.n; i++) num[i] = m.dm[i]! + shrinkWeight(weights[i]!, L) * (b.rewards[i]! - m.qLogged[i]!);
    return { num, den: null, base: null };
  },
  sqlTerms(c, p) {
    const Lv = checkClip(p.clip ?? DEFAULT_CLIP);
    const m = requireSqlModel('dr-os', c.qLogged, c.dm);
    const w = sqlWeight(c);
    const shrunk = Lv === Infinity ? w : `(${sqlNumber(Lv)} * ${w} / (${w} * ${w} + ${sqlNumber(Lv)}))`;
    return { num: `(${m.dm} + ${shrunk} * ((${c.reward}) - ${m.q}))`, den: null, base: null };
  },
};
