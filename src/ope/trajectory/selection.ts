/**
 * Off-policy selection across candidates (SCOPE-RL's OPS; Kiyohara et al. 2023):
 * rank candidates by each estimator's point estimate and by its interval's lower
 * bound; with ground truth (on-policy rollouts on a built-in environment) score
 * each ranking:
 *
 *   nMSE        mean_j (V_hat_j - V_j)^2 / var(V)   (var over candidates, divisor m; NaN when all V are equal)
 *   Spearman    rank correlation of V_hat and V
 *   regret@k    max_j V_j - max_{j in top-k} V_j
 *   Type I      among candidates truly below the safety threshold, the share judged at or above it
 *               (V_hat_j >= threshold: an unsafe policy passed as safe); NaN when none is below
 *   Type II     among candidates truly at or above the threshold, the share judged below it; NaN when none is
 *   SharpeRatio@k  (max_{top-k} V - V_behaviour) / std_{top-k}(V)   (src/ope/accuracy.ts)
 *
 * The ranking "by lower bound" judges with the lower bound instead of the estimate.
 * The threshold defaults to the behaviour policy's value.
 */
import { OffpolicyError } from '../../core/errors.js';
import { regretAtK, sharpeRatioAtK, spearman, topK } from '../accuracy.js';

export interface SelectionCandidate {
  name: string;
  estimates: readonly { estimator: string; value: number; interval?: { lower: number } }[];
  /** On-policy value from rollouts (ground truth), when known. */
  trueValue?: number;
}

export interface SelectionOptions {
  /** The behaviour policy's value (SharpeRatio@k's baseline; the default threshold). */
  behaviourValue: number;
  /** Safety threshold for Type I / II; default behaviourValue. */
  threshold?: number;
  /** Top-k for regret and SharpeRatio (default min(3, candidates)). */
  k?: number;
}

export interface SelectionMetrics {
  nmse: number;
  spearman: number;
  regretAtK: number;
  typeI: number;
  typeII: number;
  sharpeAtK: number;
  k: number;
}

export interface SelectionRow {
  estimator: string;
  by: 'estimate' | 'lower-bound';
  /** Candidate names, best first. */
  ranking: string[];
  scores: number[];
  metrics?: SelectionMetrics;
}

export interface SelectionResult {
  rows: SelectionRow[];
  threshold: number;
  k: number;
  /** Candidate names by true value, when known. */
  trueRanking?: string[];
}

export function normalizedMse(est: readonly number[], truth: readonly number[]): number {
  const m = truth.length;
  const mean = truth.reduce((a, b) => a + b, 0) / m;
  const v = truth.reduce((a, b) => a + (b - mean) ** 2, 0) / m;
  const mse = est.reduce((a, e, j) => a + (e - truth[j]!) ** 2, 0) / m;
  return v > 0 ? mse / v : NaN;
}

/** Type I and II error rates of judging "safe" as score >= threshold. */
export function safetyErrorRates(scores: readonly number[], truth: readonly number[], threshold: number): { typeI: number; typeII: number } {
  let unsafe = 0, passed = 0, safe = 0, rejected = 0;
  for (let j = 0; j < truth.length; j++) {
    if (truth[j]! < threshold) {
      unsafe++;
      if (scores[j]! >= threshold) passed++;
    } else {
      safe++;
      if (scores[j]! < threshold) rejected++;
    }
  }
  return { typeI: unsafe > 0 ? passed / unsafe : NaN, typeII: safe > 0 ? rejected / safe : NaN };
}

export function offPolicySelection(cands: readonly SelectionCandidate[], opts: SelectionOptions): SelectionResult {
  const m = cands.length;
  if (m === 0) throw new OffpolicyError('E_SELECTION_INPUT', 'Off-policy selection needs at least one candidate.', { hint: 'Pass one or more --policy.' });
  const k = opts.k ?? Math.min(3, m);
  if (!Number.isInteger(k) || k < 1 || k > m) {
    throw new OffpolicyError('E_SELECTION_INPUT', `k must be an integer between 1 and the number of candidates (${m}), got ${k}.`, { hint: 'Use e.g. --top-k 1.' });
  }
  const threshold = opts.threshold ?? opts.behaviourValue;
  const haveTruth = cands.every((c) => c.trueValue !== undefined);
  const truth = haveTruth ? cands.map((c) => c.trueValue!) : null;
  const ids = [...new Set(cands.flatMap((c) => c.estimates.map((e) => e.estimator)))].filter((id) => cands.every((c) => c.estimates.some((e) => e.estimator === id)));
  const rows: SelectionRow[] = [];
  for (const id of ids) {
    const est = cands.map((c) => c.estimates.find((e) => e.estimator === id)!);
    const byEst = est.map((e) => e.value);
    const variants: { by: SelectionRow['by']; scores: number[] }[] = [{ by: 'estimate', scores: byEst }];
    if (est.every((e) => e.interval)) variants.push({ by: 'lower-bound', scores: est.map((e) => e.interval!.lower) });
    for (const { by, scores } of variants) {
      const order = topK(scores, m);
      const row: SelectionRow = { estimator: id, by, ranking: order.map((j) => cands[j]!.name), scores: order.map((j) => scores[j]!) };
      if (truth) {
        const { typeI, typeII } = safetyErrorRates(scores, truth, threshold);
        row.metrics = {
          nmse: normalizedMse(byEst, truth),
          spearman: m >= 2 ? spearman(scores, truth) : NaN,
          regretAtK: regretAtK(scores, truth, k),
          typeI,
          typeII,
          sharpeAtK: sharpeRatioAtK(scores, truth, opts.behaviourValue, k),
          k,
        };
      }
      rows.push(row);
    }
  }
  return { rows, threshold, k, ...(truth ? { trueRanking: topK(truth, m).map((j) => cands[j]!.name) } : {}) };
}
