/**
 * What the context of a bandit log is, in one place: describe, evaluate, the
 * reward and propensity models, policy learning and the discrete learners all
 * read it through resolveFeatures / loadBanditArrays, so they agree.
 *
 * The context is the `context` FLOAT[] column when the log has one, else none;
 * `contextColumns` replaces it with named columns, and `categorical` columns are
 * one-hot encoded (added to the context when not already named). A text column
 * that ingest detected as categorical (metadata.extra.categoricalColumns) is
 * one-hot encoded when named; any other non-numeric column is E_CONTEXT_TYPE.
 *
 * One-hot encoding: the `maxLevels` most frequent values of the rows the spec
 * is fitted on (ties by value), one entry each, then one "other" entry for every
 * remaining value, unseen values and NULL. The fitted spec (a FeatureSpec, core
 * contract) is stored with learned policies and applied unchanged to new logs.
 *
 * Item features (metadata.extra.itemContext, e.g. OBD's item_context.csv) are
 * encoded the same way into a K x m matrix for reward models (actionFeaturesOf).
 */
import type { FeatureColumn, FeatureSpec } from '../core/contracts.js';
import { OffpolicyError } from '../core/errors.js';
import { ident, lit, queryRows, type DuckDBConnection } from './duckdb.js';
import type { DatasetVersion } from './workspace.js';

export type { FeatureColumn, FeatureSpec } from '../core/contracts.js';

/** Default cap on one-hot levels per categorical column (the rest share "other"). */
export const DEFAULT_MAX_LEVELS = 32;
/** Ingest records a text column as categorical when it has at most this many distinct values. */
export const CATEGORICAL_MAX_DISTINCT = 1000;
/** The name of the bucket for levels beyond the cap, unseen levels and NULL. */
export const OTHER_LEVEL = '(other)';

export interface ContextOptions {
  /** Named columns to use as the context instead of the `context` vector. */
  contextColumns?: string[];
  /** Columns to one-hot encode (added to the context when not in contextColumns). */
  categorical?: string[];
  /** Levels kept per categorical column (default 32). */
  maxLevels?: number;
  /** A spec fitted elsewhere (a learned policy's): applied as is. */
  features?: FeatureSpec;
}

const NUMERIC = /^(FLOAT|DOUBLE|REAL|DECIMAL|U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|BOOLEAN)/;

function isScalarNumeric(type: string): boolean {
  return NUMERIC.test(type) && !type.endsWith(']');
}

/** The levels a categorical column keeps: the most frequent first (ties by value), at most maxLevels. */
export function fitLevels(counts: Iterable<[string, number]>, maxLevels: number): string[] {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, maxLevels)
    .map(([v]) => v);
}

/** Index of a value's entry in a one-hot block of `levels.length + 1` (the last is "other"). */
export function levelIndex(levels: readonly string[], value: string | number | boolean | null | undefined): number {
  if (value === null || value === undefined) return levels.length;
  const i = levels.indexOf(String(value));
  return i < 0 ? levels.length : i;
}

function columnWidth(c: FeatureColumn): number {
  return c.kind === 'numeric' ? 1 : c.levels.length + 1;
}

export function specWidth(vectorWidth: number, columns: readonly FeatureColumn[]): number {
  return columns.reduce((w, c) => w + columnWidth(c), vectorWidth);
}

/** One name per entry of the context: context[0], age, city=Paris, city=(other). */
export function featureNames(spec: FeatureSpec): string[] {
  const out = Array.from({ length: spec.vectorWidth }, (_, j) => `context[${j}]`);
  for (const c of spec.columns) {
    if (c.kind === 'numeric') out.push(c.name);
    else out.push(...c.levels.map((l) => `${c.name}=${l}`), `${c.name}=${OTHER_LEVEL}`);
  }
  return out;
}

/** A sentence saying what the context is: "none", "the context vector (5)", "columns age, one-hot city (3 levels + other): 5 features". */
export function describeFeatures(spec: FeatureSpec): string {
  if (spec.width === 0) return 'none';
  const parts: string[] = [];
  if (spec.vectorWidth > 0) parts.push(`the context vector (${spec.vectorWidth})`);
  const numeric = spec.columns.filter((c) => c.kind === 'numeric').map((c) => c.name);
  if (numeric.length) parts.push(`column${numeric.length > 1 ? 's' : ''} ${numeric.join(', ')}`);
  for (const c of spec.columns) if (c.kind === 'categorical') parts.push(`one-hot ${c.name} (${c.levels.length} level${c.levels.length === 1 ? '' : 's'} + other)`);
  return `${parts.join(', ')}: ${spec.width} feature${spec.width === 1 ? '' : 's'}`;
}

/** SQL for every entry of the context over a log's columns (NULL numbers stay NULL, read as NaN). */
export function featureSql(spec: FeatureSpec): string[] {
  const out = Array.from({ length: spec.vectorWidth }, (_, j) => `context[${j + 1}]::FLOAT`);
  for (const c of spec.columns) {
    const col = ident(c.name);
    if (c.kind === 'numeric') {
      out.push(`${col}::FLOAT`);
      continue;
    }
    const text = `${col}::VARCHAR`;
    for (const l of c.levels) out.push(`(coalesce(${text} = ${lit(l)}, false))::FLOAT`);
    out.push(c.levels.length ? `(coalesce(${text} NOT IN (${c.levels.map(lit).join(', ')}), true))::FLOAT` : '1::FLOAT');
  }
  return out;
}

function has(v: DatasetVersion, column: string): boolean {
  return v.metadata.columns.some((c) => c.name === column);
}

function typeOf(v: DatasetVersion, column: string): string {
  return v.metadata.columns.find((c) => c.name === column)?.type ?? '';
}

/** Text columns ingest detected as categorical (metadata.extra.categoricalColumns). */
export function detectedCategorical(v: DatasetVersion): string[] {
  const c = v.metadata.extra?.categoricalColumns;
  return Array.isArray(c) ? c.map(String) : [];
}

function checkMaxLevels(maxLevels: number): void {
  if (!Number.isInteger(maxLevels) || maxLevels < 1 || maxLevels > 10000) {
    throw new OffpolicyError('E_MAX_LEVELS', `The cap on one-hot levels must be an integer between 1 and 10000, got ${maxLevels}.`, { hint: 'Pass e.g. --max-levels 32.' });
  }
}

/**
 * The context of `version` as a fitted FeatureSpec (see the module comment).
 * `scan` is the SQL relation the levels are counted over (default: the whole
 * version; pass the training rows' relation to fit on those only).
 */
export async function resolveFeatures(conn: DuckDBConnection, version: DatasetVersion, opts: ContextOptions = {}, scan?: string): Promise<FeatureSpec> {
  const from = scan ?? `read_parquet(${lit(version.glob)})`;
  if (opts.features) return checkSpecAgainst(conn, version, opts.features, from);
  const maxLevels = opts.maxLevels ?? DEFAULT_MAX_LEVELS;
  checkMaxLevels(maxLevels);
  const named = opts.contextColumns ?? [];
  const categorical = opts.categorical ?? [];
  const wanted = [...named, ...categorical.filter((c) => !named.includes(c))];
  const missing = wanted.filter((c) => !has(version, c));
  if (missing.length > 0) {
    throw new OffpolicyError('E_MISSING_COLUMN', `Context column(s) ${missing.join(', ')} are not in ${version.ref}.`, {
      hint: `Columns found: ${version.metadata.columns.map((c) => c.name).join(', ')}.`,
    });
  }
  let vectorWidth = 0;
  if (named.length === 0 && has(version, 'context')) vectorWidth = await contextVectorWidth(conn, from);
  const detected = new Set(detectedCategorical(version));
  const columns: FeatureColumn[] = [];
  const refused: string[] = [];
  for (const name of wanted) {
    const type = typeOf(version, name);
    if (categorical.includes(name) || (detected.has(name) && !isScalarNumeric(type))) {
      if (type.endsWith(']') || type.startsWith('STRUCT') || type.startsWith('MAP')) {
        throw new OffpolicyError('E_CONTEXT_TYPE', `Column "${name}" is ${type}: a list or struct cannot be one-hot encoded.`, { hint: 'Name scalar columns (text, integers, booleans) as categorical.' });
      }
      columns.push({ name, kind: 'categorical', levels: await countLevels(conn, from, name, maxLevels) });
    } else if (isScalarNumeric(type)) columns.push({ name, kind: 'numeric' });
    else refused.push(name);
  }
  if (refused.length > 0) throw await nonNumericError(conn, version, from, refused, named);
  return { vectorWidth, columns, maxLevels, width: specWidth(vectorWidth, columns) };
}

async function contextVectorWidth(conn: DuckDBConnection, from: string): Promise<number> {
  const row = (await queryRows(conn, `SELECT min(len(context)) AS lo, max(len(context)) AS hi FROM ${from}`))[0]!;
  if (row.lo === null || row.lo === undefined) return 0;
  if (Number(row.lo) !== Number(row.hi)) {
    throw new OffpolicyError('E_RAGGED_VECTOR', `Column "context" has between ${row.lo} and ${row.hi} values per row.`, { hint: 'Every row of a vector column must have the same length.' });
  }
  return Number(row.lo);
}

async function countLevels(conn: DuckDBConnection, from: string, column: string, maxLevels: number): Promise<string[]> {
  const rows = await queryRows(
    conn,
    `SELECT ${ident(column)}::VARCHAR AS v, count(*)::DOUBLE AS n FROM ${from} WHERE ${ident(column)} IS NOT NULL GROUP BY 1 ORDER BY n DESC, v LIMIT ${maxLevels}`,
  );
  return fitLevels(rows.map((r) => [String(r.v), Number(r.n)] as [string, number]), maxLevels);
}

/** E_CONTEXT_TYPE for named context columns that are neither numbers nor categorical: each with its type and distinct count. */
async function nonNumericError(conn: DuckDBConnection, version: DatasetVersion, from: string, cols: string[], named: string[]): Promise<OffpolicyError> {
  const counts = (await queryRows(conn, `SELECT ${cols.map((c, i) => `approx_count_distinct(${ident(c)})::DOUBLE AS d${i}`).join(', ')} FROM ${from}`))[0]!;
  const what = cols.map((c, i) => `"${c}" (${typeOf(version, c)}, about ${Number(counts[`d${i}`])} distinct values)`);
  const numericRest = named.filter((c) => !cols.includes(c));
  return new OffpolicyError(
    'E_CONTEXT_TYPE',
    `Context column${cols.length > 1 ? 's' : ''} ${what.join(', ')} ${cols.length > 1 ? 'are' : 'is'} not numeric and not declared categorical, so ${cols.length > 1 ? 'they' : 'it'} cannot be read as numbers.`,
    {
      hint: `One-hot encode ${cols.length > 1 ? 'them' : 'it'} with --categorical ${cols.join(',')} (the ${DEFAULT_MAX_LEVELS} most frequent values, the rest "other"; --max-levels changes the cap), or leave ${cols.length > 1 ? 'them' : 'it'} out${numericRest.length ? ` (--context-columns ${numericRest.join(',')})` : ''}.`,
    },
  );
}

/** A stored spec against a log it is applied to: its columns must be there, and the context vector as wide. */
async function checkSpecAgainst(conn: DuckDBConnection, version: DatasetVersion, spec: FeatureSpec, from: string): Promise<FeatureSpec> {
  const missing = spec.columns.map((c) => c.name).filter((c) => !has(version, c));
  if (spec.vectorWidth > 0 && !has(version, 'context')) missing.unshift('context');
  if (missing.length > 0) {
    throw new OffpolicyError('E_MISSING_COLUMN', `The policy reads context column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')}, which ${version.ref} does not have.`, {
      hint: `Evaluate on a log with the columns the policy was trained on (columns found: ${version.metadata.columns.map((c) => c.name).join(', ')}).`,
    });
  }
  if (spec.vectorWidth > 0) {
    const w = await contextVectorWidth(conn, from);
    if (w !== spec.vectorWidth) {
      throw new OffpolicyError('E_ACTION_SPACE', `The policy reads a context vector of ${spec.vectorWidth} values, but ${version.ref} has ${w}.`, { hint: 'Evaluate on a log with the context the policy was trained on.' });
    }
  }
  return spec;
}

/** Checks that a value read from JSON is a well-formed FeatureSpec (policy files); returns it typed. */
export function parseFeatureSpec(value: unknown, source: string): FeatureSpec {
  const bad = (what: string): OffpolicyError =>
    new OffpolicyError('E_POLICY_SPEC', `Policy file ${source}: "features" ${what}.`, { hint: 'Write the policy again with offpolicy learn, or remove "features" to use the log\'s own context.' });
  if (typeof value !== 'object' || value === null) throw bad('must be an object');
  const v = value as Record<string, unknown>;
  const vectorWidth = v.vectorWidth;
  const maxLevels = v.maxLevels;
  if (typeof vectorWidth !== 'number' || !Number.isInteger(vectorWidth) || vectorWidth < 0) throw bad('needs a non-negative integer "vectorWidth"');
  if (typeof maxLevels !== 'number' || !Number.isInteger(maxLevels) || maxLevels < 1) throw bad('needs a positive integer "maxLevels"');
  if (!Array.isArray(v.columns)) throw bad('needs a "columns" array');
  const columns: FeatureColumn[] = v.columns.map((c: unknown, i: number) => {
    const o = (c ?? {}) as Record<string, unknown>;
    if (typeof o.name !== 'string' || o.name === '') throw bad(`column ${i} needs a "name"`);
    if (o.kind === 'numeric') return { name: o.name, kind: 'numeric' as const };
    if (o.kind === 'categorical' && Array.isArray(o.levels) && o.levels.every((l) => typeof l === 'string')) return { name: o.name, kind: 'categorical' as const, levels: o.levels as string[] };
    throw bad(`column ${i} ("${o.name}") must be {"kind": "numeric"} or {"kind": "categorical", "levels": [strings]}`);
  });
  const width = specWidth(vectorWidth, columns);
  if (v.width !== undefined && v.width !== width) throw bad(`says width ${String(v.width)}, but its columns give ${width}`);
  return { vectorWidth, columns, maxLevels, width };
}

/** Item features by action (K x m) for reward models, and what they are. */
export interface ActionFeatures {
  width: number;
  values: Float32Array;
  names: string[];
  /** Where they came from, e.g. "item_context.csv". */
  source: string;
  /** Actions 0..K-1 with no row in the item table (their features are 0). */
  missingActions: number[];
}

/**
 * Encodes the item table a version records (metadata.extra.itemContext:
 * { file, columns, rows }, keyed by item_id = action) as K x m: numeric columns
 * as they are, text columns one-hot on their most frequent values (+ other).
 * Undefined when the version has no item table.
 */
export function actionFeaturesOf(version: DatasetVersion, numActions: number, maxLevels = DEFAULT_MAX_LEVELS): ActionFeatures | undefined {
  const ic = version.metadata.extra?.itemContext as { file?: string; columns?: string[]; rows?: Record<string, unknown>[] } | undefined;
  if (!ic || !Array.isArray(ic.rows) || !Array.isArray(ic.columns) || !ic.columns.includes('item_id')) return undefined;
  const rows = ic.rows;
  const cols: FeatureColumn[] = [];
  for (const name of ic.columns.filter((c) => c !== 'item_id')) {
    const values = rows.map((r) => r[name]);
    if (values.every((x) => typeof x === 'number' || x === null || x === undefined)) cols.push({ name, kind: 'numeric' });
    else {
      const counts = new Map<string, number>();
      for (const x of values) if (x !== null && x !== undefined) counts.set(String(x), (counts.get(String(x)) ?? 0) + 1);
      cols.push({ name, kind: 'categorical', levels: fitLevels(counts, maxLevels) });
    }
  }
  const m = specWidth(0, cols);
  if (m === 0) return undefined;
  const values = new Float32Array(numActions * m);
  const seen = new Uint8Array(numActions);
  for (const r of rows) {
    const a = Number(r.item_id);
    if (!Number.isInteger(a) || a < 0 || a >= numActions) continue;
    seen[a] = 1;
    let o = a * m;
    for (const c of cols) {
      const x = r[c.name];
      if (c.kind === 'numeric') values[o++] = x === null || x === undefined ? 0 : Number(x);
      else {
        values[o + levelIndex(c.levels, x as string | null)] = 1;
        o += c.levels.length + 1;
      }
    }
  }
  const missingActions: number[] = [];
  for (let a = 0; a < numActions; a++) if (!seen[a]) missingActions.push(a);
  return { width: m, values, names: featureNames({ vectorWidth: 0, columns: cols, maxLevels, width: m }), source: ic.file ?? 'item table', missingActions };
}
