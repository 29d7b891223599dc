/**
 * The prior mean mu_0 from the logging policy's JSON file: its linear weights and
 * bias (divided by the temperature of a softmax policy), which must fit the log.
 */
import { OffpolicyError } from '../core/errors.js';

export function priorFromJsonPolicy(spec: unknown, source: string, k: number, d: number): { weights: Float64Array; bias: Float64Array } {
  const s = (spec ?? {}) as Record<string, unknown>;
  const types = ['softmax', 'argmax', 'mixed-logit', 'probit'];
  if (typeof spec !== 'object' || !types.includes(String(s.type))) {
    throw new OffpolicyError('E_POLICY_SPEC', `Prior policy ${source}: the prior mean needs a linear policy (type ${types.join(', ')}), got ${JSON.stringify(s.type)}.`, {
      hint: 'Pass the logging policy as a JSON softmax policy, or omit --prior for mu_0 = 0.',
    });
  }
  const w = s.weights;
  const rows = Array.isArray(w) ? w.length : -1;
  const cols = Array.isArray(w) && Array.isArray(w[0]) ? (w[0] as unknown[]).length : -1;
  if (rows !== k) throw new OffpolicyError('E_ACTION_SPACE', `Prior policy ${source} has ${rows} weight rows, but the log has K = ${k} actions.`, { hint: 'Pass the logging policy of this log.' });
  if (cols !== d || (w as unknown[]).some((r) => !Array.isArray(r) || r.length !== d)) {
    throw new OffpolicyError('E_CONTEXT_DIM', `Prior policy ${source} takes ${cols} context features, but the log's contexts have d = ${d}.`, { hint: 'Pass the logging policy of this log.' });
  }
  const t = s.type === 'softmax' && typeof s.temperature === 'number' ? s.temperature : 1;
  const weights = new Float64Array(k * d);
  (w as number[][]).forEach((r, a) => r.forEach((v, j) => (weights[a * d + j] = Number(v) / t)));
  const bias = Float64Array.from({ length: k }, (_, a) => Number((s.bias as number[] | undefined)?.[a] ?? 0) / t);
  if (![...weights, ...bias].every(Number.isFinite)) throw new OffpolicyError('E_POLICY_SPEC', `Prior policy ${source} holds non-finite weights.`, { hint: 'Weights must be finite numbers.' });
  return { weights, bias };
}
