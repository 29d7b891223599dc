/**
 * Resource limits, checked before anything large is allocated; each breach is
 * a coded error naming the limit (README "Limits").
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { OffpolicyError } from '../core/errors.js';
import { assertOutsideWorkspace } from './fs-guard.js';

/** Columns per input file (ingest). */
export const MAX_INPUT_COLUMNS = 2048;
/** Actions K of a bandit log (--num-actions, generators, stored action spaces). */
export const MAX_ACTIONS = 100_000;
/** Cells n x K of a dense per-row, per-action array (candidate probabilities, reward predictions): 2e8 doubles = 1.6 GB. */
export const MAX_DENSE_CELLS = 200_000_000;
/** Bootstrap resamples. */
export const MAX_RESAMPLES = 100_000;
/**
 * The smallest propensity stored: with p >= 1e-100 an importance weight is at
 * most 1e100 and a sum of squared weights over 1e9 rows stays finite
 * (1e209 < 1.8e308). Smaller positive propensities are refused at ingest
 * (E_PROPENSITY_FLOOR) instead of overflowing estimates to Infinity.
 */
export const PROPENSITY_FLOOR = 1e-100;

export function checkNumActions(k: number, flag = '--num-actions'): void {
  if (!Number.isSafeInteger(k) || k < 1 || k > MAX_ACTIONS) {
    throw new OffpolicyError('E_LIMIT_ACTIONS', `${flag} ${k} is out of range: actions are 1..${MAX_ACTIONS}.`, {
      hint: `Pass a whole number of actions between 1 and ${MAX_ACTIONS}.`,
    });
  }
}

export function checkResamples(b: number): void {
  if (!Number.isSafeInteger(b) || b < 1 || b > MAX_RESAMPLES) {
    throw new OffpolicyError('E_LIMIT_RESAMPLES', `--resamples ${b} is out of range: 1..${MAX_RESAMPLES} bootstrap resamples.`, {
      hint: 'A few thousand resamples give stable intervals; for example --resamples 2000.',
    });
  }
}

/** n x K dense arrays: refuses more than MAX_DENSE_CELLS cells. */
export function checkDenseCells(n: number, k: number, what: string): void {
  if (n * k > MAX_DENSE_CELLS) {
    throw new OffpolicyError(
      'E_LIMIT_DENSE',
      `${what} needs ${n} rows x ${k} actions = ${(n * k).toExponential(2)} values in memory; the limit is ${MAX_DENSE_CELLS.toExponential(0)}.`,
      { hint: 'Evaluate on a sample or a split of the log (offpolicy datasets split), or reduce the number of actions.' },
    );
  }
}

/**
 * Where `evaluate` may write its JSON: not inside the workspace, and when the
 * path is only the default (results.json, no --out), not over an existing file.
 */
export async function checkResultsFile(workspaceRoot: string, out: string, isDefault: boolean): Promise<void> {
  await assertOutsideWorkspace(workspaceRoot, out);
  if (isDefault && existsSync(out)) {
    throw new OffpolicyError('E_OUT_EXISTS', `${path.resolve(out)} already exists and no --out was given, so it is left as it is.`, {
      hint: `Pass --out ${out} to overwrite it, or --out ANOTHER.json.`,
    });
  }
}

/** Refuses a non-finite estimate (E_NON_FINITE_ESTIMATE) instead of reporting Infinity or NaN. */
export function assertFiniteEstimates(values: { label: string; value: number | null }[]): void {
  const bad = values.filter((v) => v.value !== null && !Number.isFinite(v.value));
  if (bad.length) {
    throw new OffpolicyError(
      'E_NON_FINITE_ESTIMATE',
      `${bad.length} estimate${bad.length === 1 ? ' is' : 's are'} not finite (${bad.slice(0, 3).map((b) => `${b.label} = ${b.value}`).join(', ')}): importance weights overflowed.`,
      { hint: `Check the propensities (at least ${PROPENSITY_FLOOR} each), clip the weights with --clip, or use dm.` },
    );
  }
}

/** The limits evaluate checks before loading: bootstrap resamples and the n x K candidate arrays. */
export function checkEvaluationLimits(rows: number, numActions: number | undefined, resamples: number | undefined): void {
  if (resamples !== undefined) checkResamples(resamples);
  if (numActions !== undefined) {
    checkNumActions(numActions, 'K');
    checkDenseCells(rows, numActions, 'Evaluation');
  }
}
