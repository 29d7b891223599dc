/**
 * Exponentially smoothed IPS: (1/n) sum pi(a_i|x_i) r_i / p_i^alpha, alpha in [0, 1]
 * (Aouali, Brunel, Rohde, Korba, ICML 2023, "Exponential Smoothing for Off-Policy
 * Learning"). alpha = 1 is IPS; the paper's experiments use alpha = 1 - n^(-1/4),
 * the default here (rowTerms knows n; for sqlTerms pass smoothingAlpha, e.g. from
 * resolveParams(params, n)).
 */
import { OffpolicyError } from '../../core/errors.js';
import { loggedInputs, sqlWeight } from './inputs.js';
import { checkSmoothingAlpha, defaultSmoothingAlpha, sqlNumber } from './params.js';
import type { EstimatorSpec } from './types.js';

export const esIps: EstimatorSpec = {
  id: 'es-ips',
  label: 'ES-IPS',
  reference: 'Aouali et al. 2023 (ICML), exponential smoothing',
  needsRewardModel: false,
  selfNormalized: false,
  uses: ['smoothingAlpha'],
  rowTerms(b, p) {
    const alpha = checkSmoothingAlpha(p.smoothingAlpha ?? defaultSmoothingAlpha(b.n));
    const { piLogged } = loggedInputs(b);
    const num = new Float64Array(b.n);
    for (let i = 0; i < b.n; i++) num[i] = (piLogged[i]! * b.rewards[i]!) / Math.pow(b.propensities[i]!, alpha);
    return { num, den: null, base: null };
  },
  sqlTerms(c, p) {
    if (p.smoothingAlpha === undefined) {
      throw new OffpolicyError('E_ESTIMATOR_PARAM', 'ES-IPS in SQL needs an explicit smoothing exponent alpha (its default 1 - n^(-1/4) depends on n).', {
        hint: 'Call resolveParams(params, n) before building the SQL.',
      });
    }
    const alpha = checkSmoothingAlpha(p.smoothingAlpha);
    // alpha = 1 is IPS and alpha = 0 drops the propensity: no power() per row for either.
    if (alpha === 1) return { num: `(${sqlWeight(c)} * (${c.reward}))`, den: null, base: null };
    if (alpha === 0) return { num: `((${c.piLogged}) * (${c.reward}))`, den: null, base: null };
    if (c.smoothedWeight !== undefined) return { num: `((${c.smoothedWeight}) * (${c.reward}))`, den: null, base: null };
    return { num: `((${c.piLogged}) * (${c.reward}) / power(${c.propensity}, ${sqlNumber(alpha)}))`, den: null, base: null };
  },
};
