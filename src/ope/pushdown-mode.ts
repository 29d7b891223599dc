/**
 * The `pushdown` option of bandit and trajectory evaluation: 'auto' sums in
 * DuckDB when it can (and, for trajectories, when the steps exceed the memory
 * budget), 'duckdb' requires it (E_PUSHDOWN naming what stops it), 'never'
 * evaluates in memory.
 */
import { OffpolicyError } from '../core/errors.js';

export type PushdownMode = 'auto' | 'never' | 'duckdb';

/** The mode, default 'auto'; anything else is E_PUSHDOWN. */
export function checkPushdownMode(mode: string | undefined): PushdownMode {
  const m = mode ?? 'auto';
  if (m !== 'auto' && m !== 'never' && m !== 'duckdb') {
    throw new OffpolicyError('E_PUSHDOWN', `Unknown pushdown mode "${m}".`, { hint: "Use 'auto' (DuckDB when it can), 'duckdb' (require DuckDB) or 'never' (in memory)." });
  }
  return m;
}
