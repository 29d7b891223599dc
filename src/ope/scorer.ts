/**
 * Turns the evaluation suite into a scorer for robustness studies: each dataset
 * version gets one number per candidate and estimator, keyed "candidate/estimator".
 * With observedRewardsOnly it also reports ROWS_SCORED, the rows with a reward
 * each version was scored on (they assume rewards are missing at random).
 */
import type { Workspace } from '../datasets/workspace.js';
import type { PolicyInput } from '../policies/candidates.js';
import { evaluate, type EvaluateOptions } from './evaluate.js';

export type EstimateScorer = (ref: string) => Promise<Record<string, number>>;

/** The metric holding the rows a version was scored on, under observedRewardsOnly. */
export const ROWS_SCORED = '(rows with a reward)';

export function estimateScorer(
  ws: Workspace,
  opts: { policies: PolicyInput[]; seed: number } & Omit<EvaluateOptions, 'data' | 'policies' | 'seed'>,
): EstimateScorer {
  return async (ref) => {
    const result = await evaluate(ws, { ...opts, data: ref });
    const scores: Record<string, number> = {};
    for (const c of result.candidates) for (const e of c.estimates) scores[`${c.name}/${e.estimator}`] = e.value;
    if (opts.observedRewardsOnly) scores[ROWS_SCORED] = result.dataset.observedRewardsOnly?.rowsUsed ?? result.dataset.rowCount;
    return scores;
  };
}
