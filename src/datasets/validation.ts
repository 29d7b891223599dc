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

/**
 * Counts each rule's offending rows and lists the first few input row numbers.
 * One scan counts every rule (cost linear in the number of rules); only the
 * rules that fail get a second, small query for their first rows.
 */
export async function findViolations(conn: DuckDBConnection, table: string, rules: readonly RowRule[]): Promise<RuleViolation[]> {
  if (rules.length === 0) return [];
  // Each row yields the indices of the rules it breaks; one GROUP BY counts them. (A FILTER
  // aggregate per rule plans in time superlinear in the number of rules.)
  const broken = `list_filter([${rules.map((r, i) => `CASE WHEN coalesce((${r.bad}), TRUE) THEN ${i} END`).join(', ')}], x -> x IS NOT NULL)`;
  const counts = new Map<number, number>();
  for (const row of await queryRows(conn, `SELECT r, count(*) AS n FROM (SELECT unnest(${broken}) AS r FROM ${ident(table)}) GROUP BY r`)) {
    counts.set(Number(row.r), Number(row.n));
  }
  const out: RuleViolation[] = [];
  for (let i = 0; i < rules.length; i++) {
    const n = counts.get(i) ?? 0;
    if (n === 0) continue;
    const r = rules[i]!;
    const first = await queryRows(conn, `SELECT _row FROM ${ident(table)} WHERE coalesce((${r.bad}), TRUE) ORDER BY _row LIMIT 5`);
    out.push({ code: r.code, rule: r.rule, count: n, rows: first.map((x) => Number(x._row)), hint: r.hint });
  }
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
