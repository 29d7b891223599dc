/**
 * The result of evaluating candidates on a slate (ranking) log with the slate
 * estimators (src/ope/slate/). Values are per slate: the expected sum of the slot
 * rewards of one slate.
 */
import type { Estimate, ResultDatasetIdentity, Warning } from './evaluation-result.js';

export interface SlateCandidateResult {
  name: string;
  /** The candidate table's path. */
  source: string;
  estimates: Estimate[];
  warnings: Warning[];
}

export interface SlateEvaluationResult {
  schema: 'offpolicy.slate-evaluation/1';
  toolkitVersion: string;
  createdAt: string;
  command?: string;
  dataset: ResultDatasetIdentity & {
    slates: number;
    slateLength: number;
    numActions: number;
  };
  /** The logging policy's value: the mean over slates of the sum of slot rewards, with a t interval. */
  logging: { value: number; interval?: Estimate['interval'] };
  settings: { estimators: string[]; interval: 't'; alpha: number };
  candidates: SlateCandidateResult[];
  warnings: Warning[];
}
