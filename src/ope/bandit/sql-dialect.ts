/**
 * The SQL constructs the bandit scan (./scan-sql.ts) needs that differ between
 * engines. DuckDB is the one implementation; a ClickHouse dialect (one flat
 * SELECT with `WITH expr AS alias`, toFloat64 instead of `::` casts, countIf
 * instead of FILTER) plugs in here.
 *
 * Not yet behind the dialect: the estimators' sqlTerms, the candidate vectors'
 * SQL (../../policies/sql-vector.ts: 1-based list indexing, list_dot_product,
 * lambdas) and the log summary's aggregates (../log-summary.ts: bit_or, list()).
 */

/** One per-row expression and the name later levels and the aggregates read it by. */
export interface RowExpr {
  expr: string;
  alias: string;
}

import { sqlNumber } from '../estimators/params.js';

export interface SqlDialect {
  readonly name: string;
  /** expr as a 64-bit float. */
  double(expr: string): string;
  /** expr as a 32-bit integer. */
  integer(expr: string): string;
  /** The number of rows where cond holds. */
  countIf(cond: string): string;
  /** Order statistics of expr over the rows where cond holds, at fractions (quantile_disc's definition), as one list. */
  quantilesDiscIf(expr: string, fractions: readonly number[], cond: string): string;
  /**
   * One aggregate query over `from`: per-row expressions computed in levels (an
   * expression may read the aliases of earlier levels), then `aggregates` over the
   * rows where `where` holds (over any alias), grouped by `groupBy`.
   */
  scan(levels: readonly (readonly RowExpr[])[], aggregates: readonly string[], from: string, opts?: { where?: string; groupBy?: string }): string;
  /**
   * Exact integer primitives of the Poisson bootstrap's hash (./poisson-bootstrap-sql.ts).
   * Operands are non-negative and below 2^63 (the hash keeps every product there),
   * so signed 64-bit engines neither overflow nor differ on signs. Optional so a
   * dialect without them still runs the point-estimate scan; the bootstrap refuses it.
   */
  int64?(expr: string): string;
  xor?(a: string, b: string): string;
  shiftRight?(a: string, bits: number): string;
  /** a mod m for a >= 0, m > 0. */
  mod?(a: string, m: string): string;
  /** floor(a / m) for a >= 0, m > 0. */
  intDiv?(a: string, m: string): string;
  /** (h * c) mod 2^32 for uint32 h and c. */
  mulMod32?(h: string, c: number): string;
  /** How many of the ascending integer thresholds are <= u. */
  countAtMost?(u: string, thresholds: readonly number[]): string;
  /** `rel` (a parenthesised query) as alias `as`, with each of its rows repeated for column = 0 .. count - 1 (a 64-bit integer). */
  crossRange?(rel: string, as: string, column: string, count: number): string;
}

export const DUCKDB: SqlDialect = {
  name: 'duckdb',
  double: (e) => `(${e})::DOUBLE`,
  integer: (e) => `(${e})::INTEGER`,
  countIf: (c) => `count(*) FILTER (WHERE ${c})`,
  quantilesDiscIf: (e, fr, c) => `quantile_disc(${e}, [${fr.map(sqlNumber).join(', ')}]) FILTER (WHERE ${c})`,
  scan(levels, aggregates, from, { where, groupBy } = {}) {
    // Nested sub-selects: DuckDB computes each level once per row and projects away what the aggregates do not read.
    let rel = from;
    levels.forEach((level, i) => {
      const cols = level.map((x) => `${x.expr} AS ${x.alias}`);
      rel = `(SELECT ${i === 0 ? '' : '*, '}${cols.join(', ')} FROM ${rel})`;
    });
    return `SELECT\n  ${aggregates.join(',\n  ')}\nFROM ${rel}${where ? `\nWHERE ${where}` : ''}${groupBy ? `\nGROUP BY ${groupBy} ORDER BY ${groupBy}` : ''}`;
  },
  int64: (e) => `(${e})::BIGINT`,
  xor: (a, b) => `xor(${a}, ${b})`,
  shiftRight: (a, k) => `((${a}) >> ${k})`,
  mod: (a, m) => `((${a}) % ${m})`,
  intDiv: (a, m) => `((${a}) // ${m})`,
  // BIGINT arithmetic raises on signed overflow: with c = 2^31 + c', h c = h c' + (h mod 2) 2^31 (mod 2^32), every term below 2^63.
  mulMod32: (h, c) => (c >= 2 ** 31 ? `((${h} * ${c - 2 ** 31} + (${h} % 2) * ${2 ** 31}) % ${2 ** 32})` : `((${h} * ${c}) % ${2 ** 32})`),
  countAtMost: (u, ts) => `CASE ${ts.map((t, i) => `WHEN ${u} < ${t} THEN ${i}`).join(' ')} ELSE ${ts.length} END`,
  crossRange: (rel, as, column, count) => `${rel} AS ${as} CROSS JOIN range(${count}) AS ${as}_range(${column})`,
};
