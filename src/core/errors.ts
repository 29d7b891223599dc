/**
 * Every user-facing failure is an OffpolicyError: a stable code, a sentence that
 * says what was wrong and how to fix it, and for data errors the rule broken,
 * how many rows broke it and the first few row numbers.
 */
export interface DataErrorDetails {
  /** The validation rule that failed, e.g. "propensity in (0, 1]". */
  rule: string;
  /** How many rows broke the rule. */
  count: number;
  /** The first few offending row numbers (0-based positions in the input). */
  rows: number[];
}

export class OffpolicyError extends Error {
  readonly code: string;
  readonly hint?: string;
  readonly details?: DataErrorDetails;

  constructor(code: string, message: string, opts: { hint?: string; details?: DataErrorDetails; cause?: unknown } = {}) {
    super(opts.hint ? `${message} ${opts.hint}` : message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'OffpolicyError';
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details;
  }
}

/** How many offending row numbers an error message lists. */
export const MAX_ROWS_IN_MESSAGE = 5;

/**
 * Builds a data-validation error: "<rule> failed for <count> rows (first: 3, 8, 12). <hint>".
 * `rows` may hold more than MAX_ROWS_IN_MESSAGE entries; only the first few are kept.
 */
export function dataError(code: string, rule: string, count: number, rows: readonly number[], hint: string): OffpolicyError {
  const first = rows.slice(0, MAX_ROWS_IN_MESSAGE);
  const noun = count === 1 ? 'row' : 'rows';
  const message = `Rule "${rule}" failed for ${count} ${noun} (first: ${first.join(', ')}).`;
  return new OffpolicyError(code, message, { hint, details: { rule, count, rows: first } });
}

export function isOffpolicyError(e: unknown): e is OffpolicyError {
  return e instanceof OffpolicyError;
}
