/**
 * A per-action vector held in SQL: either K scalar expressions (p_0..p_{K-1})
 * or one list expression (DOUBLE[K]). Candidate probability tables and columns,
 * and user-supplied reward predictions, are both SqlVectors, so the evaluator can
 * read pi(a_i|x_i), q(x_i, a_i) and sum_a pi q straight inside DuckDB.
 */
export type SqlVector = { kind: 'scalars'; exprs: string[] } | { kind: 'list'; expr: string };

/** The entry for the action given by `actionExpr` (0-based). */
export function vecAt(v: SqlVector, actionExpr: string): string {
  if (v.kind === 'list') return `(${v.expr})[(${actionExpr}) + 1]`;
  // list_extract over a row-built list measured faster in DuckDB than a K-way CASE.
  return `list_extract([${v.exprs.map((e) => `(${e})::DOUBLE`).join(', ')}], (${actionExpr}) + 1)`;
}

/** sum_a u_a v_a. */
export function vecDot(u: SqlVector, v: SqlVector, k: number): string {
  if (u.kind === 'list' && v.kind === 'list') return `list_dot_product((${u.expr})::DOUBLE[], (${v.expr})::DOUBLE[])`;
  const at = (x: SqlVector, a: number): string => (x.kind === 'list' ? `(${x.expr})[${a + 1}]` : x.exprs[a]!);
  return `(${Array.from({ length: k }, (_, a) => `${at(u, a)} * ${at(v, a)}`).join(' + ')})`;
}

export function vecSum(v: SqlVector): string {
  return v.kind === 'list' ? `list_sum(${v.expr})` : `(${v.exprs.join(' + ')})`;
}

/**
 * sum_a v_a for a vector of K entries, the cheap way: for lists a dot product with
 * K ones (list_sum goes through DuckDB's generic list aggregate and costs several
 * times more per row). NaN or infinite entries make it non-finite; a NULL list
 * gives NULL; a NULL entry makes the dot product raise (list_sum would skip it).
 */
export function vecSumFast(v: SqlVector, k: number): string {
  if (v.kind === 'scalars') return vecSum(v);
  return `list_dot_product((${v.expr})::DOUBLE[], [${Array.from({ length: k }, () => '1.0').join(', ')}]::DOUBLE[])`;
}

/** The smallest entry (NULL entries skipped). */
export function vecMin(v: SqlVector): string {
  return v.kind === 'list' ? `list_min(${v.expr})` : `least(${v.exprs.join(', ')})`;
}

/** sum_a u_a f(v_a), f an SQL expression over one entry (given as its argument). */
export function vecDotMapped(u: SqlVector, v: SqlVector, k: number, f: (x: string) => string): string {
  if (u.kind === 'list' && v.kind === 'list') return `list_dot_product((${u.expr})::DOUBLE[], list_transform((${v.expr})::DOUBLE[], lambda x: ${f('x')}))`;
  const at = (x: SqlVector, a: number): string => (x.kind === 'list' ? `(${x.expr})[${a + 1}]` : x.exprs[a]!);
  return `(${Array.from({ length: k }, (_, a) => `${at(u, a)} * (${f(at(v, a))})`).join(' + ')})`;
}

export function vecAsList(v: SqlVector): string {
  return v.kind === 'list' ? `(${v.expr})::DOUBLE[]` : `[${v.exprs.map((e) => `(${e})::DOUBLE`).join(', ')}]`;
}

/** TRUE when some entry is NULL, NaN, infinite or negative. */
export function vecRangeBad(v: SqlVector): string {
  // list_min skips NaN; a NaN or infinity makes the sum non-finite; list_count skips NULLs.
  if (v.kind === 'list') return `(list_min(${v.expr}) < 0 OR NOT isfinite(list_sum(${v.expr})) OR list_count(${v.expr}) <> len(${v.expr}))`;
  return `(${v.exprs.map((e) => `${e} IS NULL OR ${e} < 0`).join(' OR ')} OR NOT isfinite(${v.exprs.join(' + ')}))`;
}

/** TRUE when the vector does not have K entries (lists only; scalars are checked when built). */
export function vecWidthBad(v: SqlVector, k: number): string | null {
  return v.kind === 'list' ? `(${v.expr} IS NULL OR len(${v.expr}) <> ${k})` : null;
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
