/**
 * Checks on candidate action probabilities, in JS (for Policy objects) and as
 * SQL rules (for probability tables and columns, checked inside DuckDB).
 */
import { dataError } from '../core/errors.js';

/** Rows of a candidate's distribution must sum to 1 within this tolerance. */
export const PROB_SUM_TOLERANCE = 1e-6;
const TOLERANCE_TEXT = '1e-6';

export const RULE_SUM = `probabilities sum to 1 (tolerance ${TOLERANCE_TEXT})`;
export const RULE_RANGE = 'probabilities are finite and non-negative';

/**
 * Validates an n x K matrix of probabilities; throws E_POLICY_PROBS naming the
 * rule, the count of bad rows and the first few (0-based log row positions).
 */
export function checkProbabilityMatrix(probs: Float64Array, n: number, k: number, source: string): void {
  if (probs.length !== n * k) {
    throw dataError('E_POLICY_SHAPE', `policy returns n x K = ${n} x ${k} probabilities`, 1, [0], `Policy ${source} returned ${probs.length} values.`);
  }
  const badRange: number[] = [];
  let badRangeCount = 0;
  const badSum: number[] = [];
  let badSumCount = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    let ok = true;
    for (let a = 0; a < k; a++) {
      const v = probs[i * k + a]!;
      if (!(v >= 0) || !Number.isFinite(v)) ok = false;
      s += v;
    }
    if (!ok) {
      badRangeCount++;
      if (badRange.length < 5) badRange.push(i);
    } else if (Math.abs(s - 1) > PROB_SUM_TOLERANCE) {
      badSumCount++;
      if (badSum.length < 5) badSum.push(i);
    }
  }
  if (badRangeCount > 0) {
    throw dataError('E_POLICY_PROBS', RULE_RANGE, badRangeCount, badRange, `Candidate ${source} gives negative, NaN or infinite probabilities; fix the policy so every probability is in [0, 1].`);
  }
  if (badSumCount > 0) {
    throw dataError('E_POLICY_PROBS', RULE_SUM, badSumCount, badSum, `Candidate ${source} must give a distribution over the actions on every row; renormalize its probabilities.`);
  }
}

/** SQL predicates over a probability source (see prob-source.ts): TRUE when the row is bad. */
export function sqlRangeBad(values: string[]): string {
  return values.map((v) => `(${v} IS NULL OR isnan(${v}) OR isinf(${v}) OR ${v} < 0)`).join(' OR ');
}

export function sqlSumBad(sumExpr: string): string {
  return `abs((${sumExpr}) - 1.0) > ${PROB_SUM_TOLERANCE}`;
}
