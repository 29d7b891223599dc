/**
 * A per-action vector held in SQL: either K scalar expressions (p_0..p_{K-1})
 * or one list expression (DOUBLE[K] in DuckDB, Array(Float64) in ClickHouse).
 * Candidate probability tables and columns, and user-supplied reward
 * predictions, are both SqlVectors, so the evaluator can read pi(a_i|x_i),
 * q(x_i, a_i) and sum_a pi q straight inside the engine.
 *
 * The list primitives differ between engines: each helper takes a VectorSql
 * (DuckDB by default; the bandit SQL dialects of ../ope/bandit/sql-dialect.ts
 * are VectorSqls).
 */
export type SqlVector = { kind: 'scalars'; exprs: string[] } | { kind: 'list'; expr: string };

/** The list primitives of one SQL engine. Lists are 1-based in both engines. */
export interface VectorSql {
  /** expr as a 64-bit float. */
  double(expr: string): string;
  /** Entry `index` (1-based SQL integer expression) of a list. */
  listAt(list: string, index: string): string;
  /** A list's entries as DOUBLEs. */
  doubleList(list: string): string;
  /** A list literal of DOUBLE expressions. */
  listOf(exprs: readonly string[]): string;
  /** The number of entries of a list. */
  listLen(list: string): string;
  /** sum_a u_a v_a of two lists (raises when their lengths differ or an entry is NULL). */
  listDot(u: string, v: string): string;
  /** sum_a u_a f(v_a) of two lists, f an SQL expression over one entry (its argument). */
  listDotMapped(u: string, v: string, f: (x: string) => string): string;
  /** sum of the entries (NULL entries skipped). */
  listSum(list: string): string;
  /** Smallest entry (NULL entries skipped). */
  listMin(list: string): string;
  /** Number of non-NULL entries. */
  listCount(list: string): string;
  isFinite(expr: string): string;
  /** The list of f(x) over the entries x (f an SQL expression over its argument). */
  listMap(list: string, f: (x: string) => string): string;
  /** Largest entry. */
  listMax(list: string): string;
  /** 1-based position of the first entry equal to `value`. */
  listPosition(list: string, value: string): string;
}

/** DuckDB's list functions (1-based list indexing, list_dot_product, lambdas). */
export const DUCKDB_VECTORS: VectorSql = {
  double: (e) => `(${e})::DOUBLE`,
  doubleList: (l) => `(${l})::DOUBLE[]`,
  listAt: (l, i) => `(${l})[${i}]`,
  listOf: (es) => `[${es.join(', ')}]`,
  listLen: (l) => `len(${l})`,
  listDot: (u, v) => `list_dot_product((${u})::DOUBLE[], (${v})::DOUBLE[])`,
  listDotMapped: (u, v, f) => `list_dot_product((${u})::DOUBLE[], list_transform((${v})::DOUBLE[], lambda x: ${f('x')}))`,
  listSum: (l) => `list_sum(${l})`,
  listMin: (l) => `list_min(${l})`,
  listCount: (l) => `list_count(${l})`,
  isFinite: (e) => `isfinite(${e})`,
  listMap: (l, f) => `list_transform(${l}, lambda x: ${f('x')})`,
  listMax: (l) => `list_max(${l})`,
  listPosition: (l, v) => `list_position(${l}, ${v})`,
};

const entry = (d: VectorSql, x: SqlVector, a: number): string => (x.kind === 'list' ? d.listAt(x.expr, String(a + 1)) : x.exprs[a]!);

/** The entry for the action given by `actionExpr` (0-based). */
export function vecAt(v: SqlVector, actionExpr: string, d: VectorSql = DUCKDB_VECTORS): string {
  if (v.kind === 'list') return d.listAt(v.expr, `(${actionExpr}) + 1`);
  // Indexing a row-built list measured faster in DuckDB than a K-way CASE.
  return d.listAt(d.listOf(v.exprs.map((e) => d.double(e))), `(${actionExpr}) + 1`);
}

/** sum_a u_a v_a. */
export function vecDot(u: SqlVector, v: SqlVector, k: number, d: VectorSql = DUCKDB_VECTORS): string {
  if (u.kind === 'list' && v.kind === 'list') return d.listDot(u.expr, v.expr);
  return `(${Array.from({ length: k }, (_, a) => `${entry(d, u, a)} * ${entry(d, v, a)}`).join(' + ')})`;
}

export function vecSum(v: SqlVector, d: VectorSql = DUCKDB_VECTORS): string {
  return v.kind === 'list' ? d.listSum(v.expr) : `(${v.exprs.join(' + ')})`;
}

/**
 * sum_a v_a for a vector of K entries, the cheap way: for lists a dot product with
 * K ones (list_sum goes through DuckDB's generic list aggregate and costs several
 * times more per row). NaN or infinite entries make it non-finite; a NULL list
 * gives NULL; a NULL entry or another length makes the dot product raise.
 */
export function vecSumFast(v: SqlVector, k: number, d: VectorSql = DUCKDB_VECTORS): string {
  if (v.kind === 'scalars') return vecSum(v, d);
  return d.listDot(v.expr, d.listOf(Array.from({ length: k }, () => '1.0')));
}

/** The smallest entry (NULL entries skipped). */
export function vecMin(v: SqlVector, d: VectorSql = DUCKDB_VECTORS): string {
  if (v.kind === 'list') return d.listMin(v.expr);
  // Two-argument least/greatest only (ClickHouse 18.16 takes no more).
  return v.exprs.slice(1).reduce((acc, e) => `least(${acc}, ${e})`, v.exprs[0]!);
}

/** sum_a u_a f(v_a), f an SQL expression over one entry (given as its argument). */
export function vecDotMapped(u: SqlVector, v: SqlVector, k: number, f: (x: string) => string, d: VectorSql = DUCKDB_VECTORS): string {
  if (u.kind === 'list' && v.kind === 'list') return d.listDotMapped(u.expr, v.expr, f);
  return `(${Array.from({ length: k }, (_, a) => `${entry(d, u, a)} * (${f(entry(d, v, a))})`).join(' + ')})`;
}

export function vecAsList(v: SqlVector, d: VectorSql = DUCKDB_VECTORS): string {
  return v.kind === 'list' ? d.doubleList(v.expr) : d.listOf(v.exprs.map((e) => d.double(e)));
}

/** TRUE when some entry is NULL, NaN, infinite or negative. */
export function vecRangeBad(v: SqlVector, d: VectorSql = DUCKDB_VECTORS): string {
  // list_min skips NaN; a NaN or infinity makes the sum non-finite; list_count skips NULLs.
  if (v.kind === 'list') return `(${d.listMin(v.expr)} < 0 OR NOT ${d.isFinite(d.listSum(v.expr))} OR ${d.listCount(v.expr)} <> ${d.listLen(v.expr)})`;
  return `(${v.exprs.map((e) => `${e} IS NULL OR ${e} < 0`).join(' OR ')} OR NOT ${d.isFinite(v.exprs.join(' + '))})`;
}

/** TRUE when the vector does not have K entries (lists only; scalars are checked when built). */
export function vecWidthBad(v: SqlVector, k: number, d: VectorSql = DUCKDB_VECTORS): string | null {
  return v.kind === 'list' ? `(${v.expr} IS NULL OR ${d.listLen(v.expr)} <> ${k})` : null;
}

/** A number as an SQL DOUBLE (parsed as a double, so the value is the JS number's). */
function sqlDouble(x: number): string {
  return `CAST('${String(x)}' AS DOUBLE)`;
}

/** The same K values on every row (a fixed candidate distribution). */
export function constantVector(values: ArrayLike<number>): SqlVector {
  return { kind: 'scalars', exprs: Array.from(values, sqlDouble) };
}

/** Row-dependent on a 0-based position: entry a is rows[position][a] (NULL for positions past the table). */
export function byPositionVector(rows: ArrayLike<number>[], positionExpr: string): SqlVector {
  const k = rows[0]!.length;
  return { kind: 'scalars', exprs: Array.from({ length: k }, (_, a) => `CASE ${positionExpr} ${rows.map((r, pos) => `WHEN ${pos} THEN ${sqlDouble(r[a]!)}`).join(' ')} END`) };
}
