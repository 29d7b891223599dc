/**
 * The SQL constructs the bandit scan (./scan-sql.ts), the candidate vectors
 * (../../policies/sql-vector.ts) and the log summary (../log-summary.ts) need
 * that differ between engines. Two dialects:
 *  - DUCKDB: nested sub-selects per level of row expressions, `::` casts, FILTER;
 *  - CLICKHOUSE: ONE flat SELECT with `WITH expr AS alias` (a nested sub-select
 *    would make each shard of a Distributed table ship its rows to the initiator
 *    instead of partial sums), toFloat64, countIf / -If combinators, 1-based
 *    arrays read through a clamped index (ClickHouse answers 0 past the end and
 *    fails on index 0; the widths are checked separately), inf / NaN mapped to a
 *    sentinel before an integer conversion (18.16 turns them into -2147483648),
 *    two-argument least / greatest, no TRUE / FALSE literals. It runs on 18.16
 *    and on current ClickHouse.
 * Number literals come from sqlNumber (CAST(x AS DOUBLE), which both engines read).
 */
import { sqlNumber } from '../estimators/params.js';
import { DUCKDB_VECTORS, type VectorSql } from '../../policies/sql-vector.js';

/** One per-row expression and the name later levels and the aggregates read it by. */
export interface RowExpr {
  expr: string;
  alias: string;
}

export interface SqlDialect extends VectorSql {
  readonly name: string;
  /** The boolean literals. */
  readonly true: string;
  readonly false: string;
  /** expr as a 32-bit integer (a non-finite expr gives NON_FINITE_INT). */
  integer(expr: string): string;
  isNaN(expr: string): string;
  /** The number of rows where cond holds. */
  countIf(cond: string): string;
  /** The values of expr over the rows where cond holds, as one list (order unspecified). */
  listAggIf(expr: string, cond: string): string;
  /** OR over the rows of 2^(action - lo) for actions in [lo, hi) (a bit mask; 0 or NULL when none). */
  actionMaskAgg(action: string, lo: number, hi: number): string;
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

/** What integer() gives for a non-finite input in ClickHouse (DuckDB raises instead). */
export const NON_FINITE_INT = -2147483647;

export const DUCKDB: SqlDialect = {
  ...DUCKDB_VECTORS,
  name: 'duckdb',
  true: 'TRUE',
  false: 'FALSE',
  integer: (e) => `(${e})::INTEGER`,
  isNaN: (e) => `isnan(${e})`,
  countIf: (c) => `count(*) FILTER (WHERE ${c})`,
  listAggIf: (e, c) => `list(${e}) FILTER (WHERE ${c})`,
  // BIGINT shifts are cheap in DuckDB; UBIGINT ones cost ~50 ns a row.
  actionMaskAgg: (a, lo, hi) => `bit_or(CASE WHEN ${a} >= ${lo} AND ${a} < ${hi} THEN (1::BIGINT << (${a} - ${lo})) END)`,
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

export const CLICKHOUSE: SqlDialect = {
  name: 'clickhouse',
  true: '1',
  false: '0',
  double: (e) => `toFloat64(${e})`,
  doubleList: (l) => `arrayMap(x -> toFloat64(x), ${l})`,
  // A constant index is written as a literal (18.16 answers 0 for a constant Int64 index); a computed one is clamped to >= 1.
  listAt: (l, i) => (/^[1-9][0-9]*$/.test(i) ? `(${l})[${i}]` : `(${l})[greatest(toInt64(${i}), toInt64(1))]`),
  listOf: (es) => `[${es.join(', ')}]`,
  listLen: (l) => `length(${l})`,
  // v is resized to u's length so a list of another width gives a number (counted by the width checks) instead of failing the whole scan.
  listDot: (u, v) => `arraySum(arrayMap((x, y) -> toFloat64(x) * toFloat64(y), ${u}, arrayResize(${v}, length(${u}))))`,
  listDotMapped: (u, v, f) => `arraySum(arrayMap((x, y) -> toFloat64(x) * (${f('toFloat64(y)')}), ${u}, arrayResize(${v}, length(${u}))))`,
  // arraySum skips nothing: NULL entries are checked by listCount.
  listSum: (l) => `arraySum(arrayMap(x -> toFloat64(coalesce(x, 0)), ${l}))`,
  listMin: (l) => `arrayReduce('min', ${l})`,
  listCount: (l) => `arrayCount(x -> x IS NOT NULL, ${l})`,
  isFinite: (e) => `isFinite(${e})`,
  listMap: (l, f) => `arrayMap(x -> ${f('x')}, ${l})`,
  listMax: (l) => `arrayReduce('max', ${l})`,
  listPosition: (l, v) => `indexOf(${l}, ${v})`,
  integer: (e) => `toInt32(if(isFinite(${e}), ${e}, ${NON_FINITE_INT}))`,
  isNaN: (e) => `isNaN(${e})`,
  countIf: (c) => `countIf(${c})`,
  listAggIf: (e, c) => `groupArrayIf(${e}, ${c})`,
  actionMaskAgg: (a, lo, hi) => `groupBitOr(CASE WHEN ${a} >= ${lo} AND ${a} < ${hi} THEN bitShiftLeft(toUInt64(1), toUInt64(${a} - ${lo})) ELSE toUInt64(0) END)`,
  quantilesDiscIf: (e, fr, c) => `quantilesExactIf(${fr.map((f) => String(f)).join(', ')})(${e}, ${c})`,
  scan(levels, aggregates, from, { where, groupBy } = {}) {
    // One flat SELECT: WITH aliases are per-row expressions each shard computes before it aggregates.
    // ClickHouse resolves l.x as x, so an alias named like a column of the table would capture it:
    // row aliases get a prefix no column is expected to have (output names stay as the caller wrote them).
    // (A row alias the SELECT list names bare keeps its name: ClickHouse 18.16 does not see `x AS y` of a GROUP BY key x as that key.)
    const bare = new Set(aggregates);
    const rows = levels.flat();
    const rename = aliasRenamer(rows.map((x) => x.alias).filter((a) => !bare.has(a)));
    // A bare column under an alias trips 18.16's Distributed rewrite (the shards name the aggregate by the column): `+ 0` keeps it an expression.
    const expr = (e: string): string => (/^l\.[A-Za-z_][A-Za-z0-9_]*$/.test(e) ? `(${e} + 0)` : e);
    const withs = rows.map((x) => `${rename(expr(x.expr))} AS ${bare.has(x.alias) ? '' : ROW_ALIAS_PREFIX}${x.alias}`);
    const aggs = aggregates.map(rename);
    const g = groupBy ? rename(groupBy) : undefined;
    return `WITH\n  ${withs.join(',\n  ')}\nSELECT\n  ${aggs.join(',\n  ')}\nFROM ${from}${where ? `\nWHERE ${rename(where)}` : ''}${g ? `\nGROUP BY ${g} ORDER BY ${g}` : ''}`;
  },
};

/** Prefix of the ClickHouse scan's row aliases. */
export const ROW_ALIAS_PREFIX = '_op_';

/** Renames bare references to the given aliases (not l.x, not inside quotes) to ROW_ALIAS_PREFIX + alias. */
function aliasRenamer(aliases: readonly string[]): (sql: string) => string {
  if (aliases.length === 0) return (sql) => sql;
  const re = new RegExp(`(?<![\\w."$])(${aliases.map((a) => a.replace(/[^A-Za-z0-9_]/g, '')).join('|')})(?![\\w"(])`, 'g');
  // Split off single-quoted literals and double-quoted identifiers; rename in the rest.
  return (sql) => sql.split(/('(?:[^'\\]|\\.)*'|"(?:[^"]|"")*")/).map((part, i) => (i % 2 === 1 ? part : part.replace(re, `${ROW_ALIAS_PREFIX}$1`))).join('');
}
