/**
 * Validation rules run as SQL over a staged table before anything is stored.
 *
 * A staged table holds the canonical columns plus `_row`, the 0-based row
 * number in the user's input (so errors can point at the rows to fix). Each
 * rule is a SQL predicate that is TRUE for a bad row; rules that concern whole
 * episodes mark every row of the bad episode through window functions in the
 * predicate's source view.
 */
import { dataError, OffpolicyError } from '../core/errors.js';
import { ident, queryRows, type DuckDBConnection } from './duckdb.js';

export interface RowRule {
  /** Stable error code, e.g. E_PROPENSITY_RANGE. */
  code: string;
  /** The rule in words, e.g. "propensity in (0, 1]". */
  rule: string;
  /** SQL boolean expression over the staged row (and any window columns): TRUE when the row breaks the rule. */
  bad: string;
  /** How to fix it. */
  hint: string;
}

export interface RuleViolation {
  code: string;
  rule: string;
  count: number;
  rows: number[];
  hint: string;
}

/** Counts each rule's offending rows and lists the first few input row numbers. */
export async function findViolations(conn: DuckDBConnection, table: string, rules: readonly RowRule[]): Promise<RuleViolation[]> {
  if (rules.length === 0) return [];
  const parts = rules.map(
    (r, i) => `SELECT ${i} AS rule, count(*) AS n, list(_row ORDER BY _row)[1:5] AS rows FROM ${ident(table)} WHERE coalesce((${r.bad}), TRUE)`,
  );
  const result = await queryRows(conn, parts.join(' UNION ALL '));
  const out: RuleViolation[] = [];
  for (const row of result) {
    const n = Number(row.n);
    if (n === 0) continue;
    const r = rules[Number(row.rule)]!;
    out.push({ code: r.code, rule: r.rule, count: n, rows: (row.rows as (string | number)[]).map(Number), hint: r.hint });
  }
  out.sort((a, b) => rules.findIndex((r) => r.code === a.code && r.rule === a.rule) - rules.findIndex((r) => r.code === b.code && r.rule === b.rule));
  return out;
}

/** SQL giving (_row, reason) for every bad row, one line per broken rule. */
export function badRowsSql(table: string, rules: readonly RowRule[]): string {
  return rules
    .map((r) => `SELECT _row, '${r.code}: ${r.rule.replaceAll("'", "''")}' AS reason FROM ${ident(table)} WHERE coalesce((${r.bad}), TRUE)`)
    .join(' UNION ALL ');
}

/** Turns violations into one error: the first rule's code, every broken rule in the message. */
export function violationsError(violations: readonly RuleViolation[]): OffpolicyError {
  const first = violations[0]!;
  if (violations.length === 1) return dataError(first.code, first.rule, first.count, first.rows, first.hint);
  const lines = violations.map((v) => dataError(v.code, v.rule, v.count, v.rows, v.hint).message);
  return new OffpolicyError(first.code, `${violations.length} validation rules failed:\n  - ${lines.join('\n  - ')}`, {
    hint: 'Fix the input, or pass --drop-invalid to store only the valid rows and write the rejected ones beside the new version.',
    details: { rule: first.rule, count: first.count, rows: first.rows },
  });
}
