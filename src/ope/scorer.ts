/**
 * Turns the evaluation suite into a scorer for robustness studies: each dataset
 * version gets one number per candidate and estimator, keyed "candidate/estimator".
 */
import type { Workspace } from '../datasets/workspace.js';
import type { PolicyInput } from '../policies/candidates.js';
import { evaluate, type EvaluateOptions } from './evaluate.js';

export type EstimateScorer = (ref: string) => Promise<Record<string, number>>;

export function estimateScorer(
  ws: Workspace,
  opts: { policies: PolicyInput[]; seed: number } & Omit<EvaluateOptions, 'data' | 'policies' | 'seed'>,
): EstimateScorer {
  return async (ref) => {
    const result = await evaluate(ws, { ...opts, data: ref });
    const scores: Record<string, number> = {};
    for (const c of result.candidates) for (const e of c.estimates) scores[`${c.name}/${e.estimator}`] = e.value;
    return scores;
  };
}
