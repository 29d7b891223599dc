/**
 * From whatever columns an input has to the canonical schema of its kind
 * (src/datasets/schema.ts): applies --map, assembles vector columns from lists,
 * list-like strings ("[0.1, 0.2]", as DuckDB writes lists to CSV) or numbered
 * scalar columns (obs_0, obs_1, ... / context_0, ... / --map context=x1,x2,x3),
 * casts to the canonical types, keeps every other column as a named feature
 * after the canonical ones, and assigns row_id (input order) when absent.
 *
 * The result is a view over the raw input table with `_row` (the 0-based input
 * row) and one `_badcast_<column>` flag per conversion that can fail, so a value
 * that cannot be read as its canonical type is reported as E_BAD_VALUE rather
 * than silently turned into NULL.
 */
import { OffpolicyError } from '../../core/errors.js';
import { ident, lit, queryOne, queryRows, type DuckDBConnection } from '../duckdb.js';
import type { DatasetKind } from '../metadata.js';
import { BANDIT_COLUMNS, TRAJECTORY_COLUMNS } from '../schema.js';
import type { RowRule } from '../validation.js';
import { isFloatType, isIntegerType, isListType, isNumericType, isStructType, isTextType, sourceSql, type SourceColumn } from './column-types.js';

/** Vector columns and the prefixes of their numbered scalar columns (prefix + 0, 1, ...). */
const NUMBERED_PREFIXES: Record<string, string[]> = {
  context: ['context_'],
  observation: ['observation_', 'obs_'],
  next_observation: ['next_observation_', 'next_obs_'],
  action_probs: ['action_probs_', 'action_prob_'],
};
const TRAJECTORY_ACTION_PREFIXES = ['action_', 'act_'];
/** A slate log's logging probabilities, as Open Bandit Pipeline names them (src/ope/slate/evaluate.ts reads them). */
const SLATE_PSCORES = ['pscore', 'pscore_item_position', 'pscore_cascade'];

/** Usual source names of canonical columns, used only to suggest a --map flag. */
const SYNONYMS: Record<string, string[]> = {
  reward: ['click', 'clicks', 'clicked', 'conversion', 'rewards', 'r', 'label', 'outcome', 'y'],
  action: ['item_id', 'item', 'arm', 'arm_id', 'action_id', 'actions', 'a'],
  propensity: ['pscore', 'propensity_score', 'prob', 'probability', 'p', 'logging_prob', 'action_prob'],
  episode_id: ['episode', 'episode_idx', 'episode_index', 'traj_id', 'trajectory_id'],
  step: ['t', 'timestep', 'step_id', 'time_step'],
  observation: ['obs', 'observations', 'state', 'states'],
  next_observation: ['next_obs', 'next_state', 'next_observations'],
  terminated: ['terminal', 'terminals', 'done', 'dones'],
  truncated: ['timeout', 'timeouts'],
  row_id: ['id', 'index'],
};

export interface CanonicalPlan {
  kind: DatasetKind;
  /** Output columns in order: canonical first, then kept named features. */
  select: { name: string; sql: string }[];
  /** Conversions that may fail: the view carries `_badcast_<name>` TRUE where they did (E_BAD_VALUE unless `code` says otherwise). */
  castChecks: { name: string; source: string; type: string; sql: string; code?: string; rule?: string; hint?: string }[];
  /** Source columns kept as named features. */
  kept: string[];
  /** True when row_id was assigned from the input order. */
  rowIdAssigned: boolean;
  /** Where propensity came from ('slate': a slate log's pscore columns, read by the slate estimators). */
  propensitySource: 'column' | 'action_probs' | 'slate' | 'missing';
  /** canonical -> source column(s) actually used. */
  resolved: Record<string, string[]>;
  warnings: string[];
}

type Resolution = { sources: SourceColumn[]; how: 'name' | 'map' | 'numbered'; json?: JsonSource };

/** A vector read from the keys of JSON objects in one column (text holding JSON, a JSON value or a struct). */
interface JsonSource {
  column: SourceColumn;
  keys: string[];
  /** True when the keys were named in the --map flag (rows may then carry more keys). */
  explicit: boolean;
}

function numberedColumns(columns: SourceColumn[], prefixes: string[]): SourceColumn[] | undefined {
  for (const prefix of prefixes) {
    const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\d+)$`);
    const found = columns
      .map((c) => ({ c, m: re.exec(c.name) }))
      .filter((x) => x.m !== null)
      .map((x) => ({ c: x.c, i: Number(x.m![1]) }))
      .sort((a, b) => a.i - b.i);
    if (found.length === 0) continue;
    if (found.some((x, j) => x.i !== j)) {
      throw new OffpolicyError(
        'E_MISSING_COLUMN',
        `Numbered columns ${prefix}0..${prefix}${found[found.length - 1]!.i} are not contiguous (found: ${found.map((x) => x.c.name).join(', ')}).`,
        { hint: `List the columns explicitly, e.g. --map ${prefix.replace(/_$/, '')}=${found.map((x) => x.c.name).join(',')}.` },
      );
    }
    return found.map((x) => x.c);
  }
  return undefined;
}

function mapFlagHint(canonical: string, all: SourceColumn[]): string {
  // A struct is not a value: its fields are mapped by dotted path.
  const columns = all.filter((c) => !isStructType(c.type));
  const names = new Set(columns.map((c) => c.name));
  const lower = new Map(columns.map((c) => [c.name.toLowerCase(), c.name]));
  const guess = (SYNONYMS[canonical] ?? []).map((s) => lower.get(s) ?? (names.has(s) ? s : undefined)).find((s) => s !== undefined);
  return guess ? `pass --map ${canonical}=${guess}` : `pass --map ${canonical}=COLUMN naming the column that holds it`;
}

/** A problem with the input's columns: a required column missing, or a --map naming nothing. */
type ColumnProblem = { missing: string; fix: string } | { map: string };

/** One coded error listing every missing required column (each with its --map fix) and every --map naming nothing. */
function missingColumnsError(problems: ColumnProblem[], kind: DatasetKind, columns: SourceColumn[]): OffpolicyError {
  const found = columns.map((c) => c.name).join(', ');
  const missing = problems.filter((p): p is { missing: string; fix: string } => 'missing' in p);
  const maps = problems.filter((p): p is { map: string } => 'map' in p).map((p) => p.map);
  const parts: string[] = [];
  if (missing.length === 1) parts.push(`Required column "${missing[0]!.missing}" of a ${kind} dataset is missing; found: ${found}; ${missing[0]!.fix}.`);
  else if (missing.length > 1) {
    parts.push(`${missing.length} required columns of a ${kind} dataset are missing: ${missing.map((p) => `"${p.missing}" (${p.fix})`).join(', ')}; found: ${found}.`);
  }
  if (maps.length) parts.push(`${maps.join('; ')}${missing.length ? '' : `; found: ${found}`}.`);
  return new OffpolicyError('E_MISSING_COLUMN', parts.join(' '), maps.length ? { hint: 'Check the spelling (column names are case-sensitive; a dotted path like user.features reads a field of a struct column).' } : {});
}

/** Conversion of one source column to a scalar canonical type; `check` when it can fail on valid-looking input. */
function scalarCast(src: SourceColumn, target: string): { sql: string; check: boolean } {
  const c = sourceSql(src, ident);
  if (src.type === target) return { sql: c, check: false };
  const intTarget = ['BIGINT', 'INTEGER', 'SMALLINT'].includes(target);
  if (intTarget && isFloatType(src.type)) {
    return { sql: `CASE WHEN ${c} = trunc(${c}) THEN try_cast(${c} AS ${target}) END`, check: true };
  }
  if (target === 'TIMESTAMP' && isNumericType(src.type)) {
    return { sql: `try_cast(to_timestamp(${c}) AS TIMESTAMP)`, check: true };
  }
  if (isNumericType(src.type) && (isNumericType(target) || target === 'BOOLEAN')) {
    // Range problems (an action of 2^40) surface through the kind's own rules.
    return { sql: `try_cast(${c} AS ${target})`, check: false };
  }
  if (target === 'VARCHAR') return { sql: `${c}::VARCHAR`, check: false };
  return { sql: `try_cast(${c} AS ${target})`, check: true };
}

/** Conversion of one or several source columns to a vector type (FLOAT[] or DOUBLE[]). */
function vectorCast(sources: SourceColumn[], target: 'FLOAT[]' | 'DOUBLE[]'): { sql: string; check: boolean } {
  const elem = target.slice(0, -2);
  if (sources.length > 1) {
    const parts = sources.map((s) => (isNumericType(s.type) || s.type === 'BOOLEAN' ? `${sourceSql(s, ident)}::${elem}` : `try_cast(${sourceSql(s, ident)} AS ${elem})`));
    return { sql: `[${parts.join(', ')}]::${target}`, check: false };
  }
  const s = sources[0]!;
  const c = sourceSql(s, ident);
  if (s.type === target) return { sql: c, check: false };
  if (isListType(s.type)) return { sql: `try_cast(${c} AS ${target})`, check: true };
  if (isNumericType(s.type)) return { sql: `[${c}::${elem}]`, check: false };
  return { sql: `try_cast(${c} AS ${target})`, check: true };
}

/** VARCHAR columns whose every non-NULL value reads as a numeric list ("[1, 2.5]"): stored as DOUBLE[]. */
async function listLikeTextColumns(conn: DuckDBConnection, rawTable: string, candidates: SourceColumn[]): Promise<Set<string>> {
  const text = candidates.filter((c) => isTextType(c.type));
  if (text.length === 0) return new Set();
  const parts = text.map(
    (c, i) =>
      `bool_and(${ident(c.name)} IS NULL OR (starts_with(trim(${ident(c.name)}), '[') AND try_cast(${ident(c.name)} AS DOUBLE[]) IS NOT NULL)) AS c${i}, count(${ident(c.name)}) AS n${i}`,
  );
  const row = await queryOne(conn, `SELECT ${parts.join(', ')} FROM ${ident(rawTable)}`);
  return new Set(text.filter((_, i) => row[`c${i}`] === true && Number(row[`n${i}`]) > 0).map((c) => c.name));
}

/**
 * A --map source: a column by its exact name, else a dotted path into struct
 * columns ("user.features" reads field features of struct column user; JSON
 * Lines objects arrive as structs). Undefined when neither exists.
 */
async function resolveSource(conn: DuckDBConnection, rawTable: string, byName: Map<string, SourceColumn>, name: string): Promise<SourceColumn | undefined> {
  const direct = byName.get(name);
  if (direct) return direct;
  const parts = name.split('.');
  for (let i = parts.length - 1; i >= 1; i--) {
    const root = byName.get(parts.slice(0, i).join('.'));
    if (!root || !isStructType(root.type)) continue;
    const sql = [ident(root.name), ...parts.slice(i).map(ident)].join('.');
    try {
      const t = await queryRows(conn, `DESCRIBE SELECT ${sql} AS v FROM ${ident(rawTable)}`);
      return { name, type: String(t[0]!.column_type), sql, root: root.name };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** SQL turning a column of JSON objects (text, JSON or struct) into a JSON value. */
function jsonValueSql(col: SourceColumn): string {
  const c = sourceSql(col, ident);
  if (col.type === 'JSON') return c;
  if (isTextType(col.type)) return `try_cast(${c} AS JSON)`;
  return `to_json(${c})`;
}

/** The non-NULL keys of a JSON value, sorted. */
function jsonKeysSql(j: string): string {
  return `list_sort(list_filter(json_keys(${j}), x -> json_type(${j}, x) <> 'NULL'))`;
}

/** The JSON source of a mapped column: explicit keys, or the first row's keys, sorted. */
async function jsonSource(conn: DuckDBConnection, rawTable: string, col: SourceColumn, keys: string[] | undefined): Promise<JsonSource> {
  if (!isTextType(col.type) && col.type !== 'JSON' && !isStructType(col.type)) {
    throw new OffpolicyError('E_MAP_FLAG', `--map ...=json:${col.name}: column "${col.name}" is ${col.type}, not JSON text or an object.`, {
      hint: 'json: reads columns holding JSON objects such as {"age": 31, "tenure": 2}.',
    });
  }
  if (keys && keys.length > 0) return { column: col, keys, explicit: true };
  const j = jsonValueSql(col);
  const first = await queryRows(
    conn,
    `SELECT json_type(${j}) AS t, ${jsonKeysSql(j)} AS k, rowid AS r FROM ${ident(rawTable)} WHERE ${sourceSql(col, ident)} IS NOT NULL ORDER BY rowid LIMIT 1`,
  );
  const row = first[0];
  if (!row || row.t !== 'OBJECT' || !Array.isArray(row.k) || row.k.length === 0) {
    throw new OffpolicyError(
      'E_JSON_CONTEXT',
      `Column "${col.name}" should hold JSON objects, but ${row ? `its first value (row ${row.r}) is ${row.t === 'OBJECT' ? 'an object with no keys' : row.t ? `a JSON ${String(row.t).toLowerCase()}` : 'not valid JSON'}` : 'it has no values'}.`,
      { hint: `Write each value as an object like {"age": 31, "tenure": 2}, or name the keys: --map context=json:${col.name}:KEY1,KEY2.` },
    );
  }
  return { column: col, keys: (row.k as unknown[]).map(String), explicit: false };
}

/** A context column that holds JSON objects (a struct, JSON, or text whose first value starts with "{"): read by its keys. */
async function autoJsonContext(conn: DuckDBConnection, rawTable: string, col: SourceColumn): Promise<JsonSource | undefined> {
  if (isStructType(col.type) || col.type === 'JSON') return jsonSource(conn, rawTable, col, undefined);
  if (!isTextType(col.type)) return undefined;
  const first = await queryRows(conn, `SELECT starts_with(trim(${sourceSql(col, ident)}), '{') AS o FROM ${ident(rawTable)} WHERE ${sourceSql(col, ident)} IS NOT NULL ORDER BY rowid LIMIT 1`);
  return first[0]?.o === true ? jsonSource(conn, rawTable, col, undefined) : undefined;
}

/** The vector of a JSON source's keys, with its two row rules: the keys (E_JSON_KEYS) and the values (E_BAD_VALUE). */
function jsonVector(src: JsonSource, elem: 'FLOAT' | 'DOUBLE'): { sql: string; checks: CanonicalPlan['castChecks'] } {
  const j = jsonValueSql(src.column);
  const c = sourceSql(src.column, ident);
  const path = (k: string): string => lit(`$."${k.replaceAll('"', '\\"')}"`);
  const sql = `[${src.keys.map((k) => `try_cast(json_extract_string(${j}, ${path(k)}) AS ${elem})`).join(', ')}]::${elem}[]`;
  const wanted = `[${[...src.keys].sort().map((k) => lit(k)).join(', ')}]::VARCHAR[]`;
  const keysBad = `(${j} IS NULL OR json_type(${j}) <> 'OBJECT' OR ${src.explicit ? `NOT list_has_all(${jsonKeysSql(j)}, ${wanted})` : `${jsonKeysSql(j)} <> ${wanted}`})`;
  const keyList = src.keys.join(', ');
  return {
    // A row breaking either rule gets zeros (it is rejected anyway), so only these two rules report it.
    sql: `CASE WHEN ${c} IS NULL THEN NULL WHEN ${keysBad} OR len(list_filter(${sql}, x -> x IS NULL)) > 0 THEN [${src.keys.map(() => '0').join(', ')}]::${elem}[] ELSE ${sql} END`,
    checks: [
      {
        name: 'keys',
        source: src.column.name,
        type: `${elem}[]`,
        sql: `(${c} IS NOT NULL AND ${keysBad})`,
        code: 'E_JSON_KEYS',
        rule: `column "${src.column.name}" holds a JSON object with ${src.explicit ? 'the keys' : 'exactly the keys'} ${keyList}`,
        hint: src.explicit
          ? `Give those rows the keys ${keyList}, or drop them with --drop-invalid.`
          : `Every row needs the keys of the first row (${keyList}); name the keys to read with --map context=json:${src.column.name}:${src.keys.join(',')} (other keys are then ignored), or drop the rows with --drop-invalid.`,
      },
      {
        name: 'values',
        source: src.column.name,
        type: `${elem}[]`,
        sql: `(${c} IS NOT NULL AND NOT ${keysBad} AND len(list_filter(${sql}, x -> x IS NULL)) > 0)`,
        rule: `the values of keys ${keyList} in column "${src.column.name}" read as numbers`,
        hint: `Fix the values of "${src.column.name}" that are not numbers, or map other keys.`,
      },
    ],
  };
}

/** A text (or other non-numeric) column listed in a vector: coded, with the way to use it as a categorical feature instead. */
function nonNumericVectorError(canonical: string, bad: SourceColumn, sources: SourceColumn[]): OffpolicyError {
  const text = isTextType(bad.type) || bad.type === 'BOOLEAN';
  const rest = sources.filter((s) => s !== bad).map((s) => s.name);
  return new OffpolicyError(
    'E_CONTEXT_TYPE',
    `Column "${bad.name}" is ${bad.type}, not a number, so it cannot be part of the ${canonical} vector (${sources.map((s) => s.name).join(', ')}).`,
    {
      hint: text && canonical === 'context'
        ? `Leave it out of the vector${rest.length ? ` (--map context=${rest.join(',')})` : ''}: it is then kept as a named column, detected as categorical, and one-hot encoded when named at evaluation (--context-columns ${bad.name}).`
        : `Convert "${bad.name}" to numbers, or leave it out of the list.`,
    },
  );
}

export interface PlanOptions {
  kind?: DatasetKind;
  map?: Record<string, string>;
  /** Source columns to leave out entirely (e.g. an OBD file's unnamed index). */
  drop?: string[];
  /** Fixed SQL for canonical columns that are not plain source columns (e.g. OBD's 0-based position). */
  fixed?: Record<string, { sql: string; consumes: string[] }>;
}

/** Decides, from the raw table's columns (and for text columns a scan), how each canonical column is made. */
export async function planCanonical(conn: DuckDBConnection, rawTable: string, opts: PlanOptions = {}): Promise<CanonicalPlan> {
  const all = (await queryRows(conn, `DESCRIBE SELECT * FROM ${ident(rawTable)}`)).map((r) => ({
    name: String(r.column_name),
    type: String(r.column_type),
  }));
  const columns = all.filter((c) => !(opts.drop ?? []).includes(c.name));
  const byName = new Map(columns.map((c) => [c.name, c]));
  const map = opts.map ?? {};
  const fixed = opts.fixed ?? {};
  const known = new Set([...BANDIT_COLUMNS, ...TRAJECTORY_COLUMNS].map((c) => c.name));
  const vectorNames = new Set(Object.keys(NUMBERED_PREFIXES));
  // Every problem with the columns (a --map naming nothing, a required column missing) is reported at once.
  const problems: ColumnProblem[] = [];
  const mapped = new Map<string, Resolution>();
  for (const [canonical, source] of Object.entries(map)) {
    if (!known.has(canonical)) {
      throw new OffpolicyError('E_MAP_FLAG', `--map ${canonical}=${source}: "${canonical}" is not a canonical column.`, {
        hint: `Map one of: ${[...known].join(', ')}.`,
      });
    }
    const json = /^json:([^:]+)(?::(.*))?$/.exec(source);
    if (json) {
      if (!vectorNames.has(canonical)) {
        throw new OffpolicyError('E_MAP_FLAG', `--map ${canonical}=${source}: only vector columns (${[...vectorNames].join(', ')}) can be read from JSON objects.`, {
          hint: `Map ${canonical} to a column or a dotted path, e.g. --map ${canonical}=outcome.click.`,
        });
      }
      const col = await resolveSource(conn, rawTable, byName, json[1]!.trim());
      if (!col) {
        problems.push({ map: `--map ${canonical}=${source} names column "${json[1]!.trim()}", which the input does not have` });
        continue;
      }
      const keys = json[2] === undefined ? undefined : json[2].split(',').map((k) => k.trim()).filter(Boolean);
      mapped.set(canonical, { sources: [col], how: 'map', json: await jsonSource(conn, rawTable, col, keys) });
      continue;
    }
    const names = source.split(',').map((x) => x.trim());
    const sources: SourceColumn[] = [];
    for (const name of names) {
      const col = await resolveSource(conn, rawTable, byName, name);
      if (col) sources.push(col);
      else problems.push({ map: `--map ${canonical}=${source} names ${name.includes('.') ? 'path' : 'column'} "${name}", which the input does not have` });
    }
    if (sources.length !== names.length) continue;
    const isVector = vectorNames.has(canonical) || canonical === 'action';
    if (sources.length > 1 && !isVector) {
      throw new OffpolicyError('E_MAP_FLAG', `--map ${canonical}=${map[canonical]} lists several columns, but ${canonical} is a single value.`, {
        hint: 'Only vector columns (context, observation, next_observation, action_probs, trajectory action) take a list of columns.',
      });
    }
    mapped.set(canonical, { sources, how: 'map' });
  }
  const badlyMapped = new Set(Object.keys(map).filter((c) => !mapped.has(c)));

  const resolve = (canonical: string, kind: DatasetKind): Resolution | undefined => {
    const m = mapped.get(canonical);
    if (m) {
      if (m.sources.length > 1 && canonical === 'action' && kind !== 'trajectory') {
        throw new OffpolicyError('E_MAP_FLAG', `--map ${canonical}=${map[canonical]} lists several columns, but ${canonical} is a single value.`, {
          hint: 'Only vector columns (context, observation, next_observation, action_probs, trajectory action) take a list of columns.',
        });
      }
      return m;
    }
    if (badlyMapped.has(canonical)) return undefined;
    const direct = byName.get(canonical);
    if (direct) return { sources: [direct], how: 'name' };
    const prefixes = canonical === 'action' ? (kind === 'trajectory' ? TRAJECTORY_ACTION_PREFIXES : undefined) : NUMBERED_PREFIXES[canonical];
    if (prefixes) {
      const numbered = numberedColumns(columns, prefixes);
      if (numbered) return { sources: numbered, how: 'numbered' };
    }
    return undefined;
  };

  // Detection only asks whether a column is there; a malformed numbered set (obs_0, obs_2) is an error only for the kind that needs it.
  const present = (f: () => Resolution | undefined): boolean => {
    try {
      return f() !== undefined;
    } catch {
      return false;
    }
  };
  let kind: DatasetKind;
  if (opts.kind) kind = opts.kind;
  else if (['episode_id', 'step', 'observation'].some((c) => present(() => resolve(c, 'trajectory')))) kind = 'trajectory';
  else kind = 'bandit';

  const spec = kind === 'bandit' ? BANDIT_COLUMNS : TRAJECTORY_COLUMNS;
  const consumed = new Set<string>();
  const select: CanonicalPlan['select'] = [];
  const castChecks: CanonicalPlan['castChecks'] = [];
  const resolved: Record<string, string[]> = {};
  const warnings: string[] = [];
  const exprOf = new Map<string, string>();
  let rowIdAssigned = false;
  let propensitySource: CanonicalPlan['propensitySource'] = 'column';

  for (const col of spec) {
    if (fixed[col.name]) {
      select.push({ name: col.name, sql: fixed[col.name]!.sql });
      exprOf.set(col.name, fixed[col.name]!.sql);
      for (const s of fixed[col.name]!.consumes) consumed.add(s);
      resolved[col.name] = fixed[col.name]!.consumes;
      continue;
    }
    let r = resolve(col.name, kind);
    if (!r) {
      if (col.name === 'row_id') {
        rowIdAssigned = true;
        select.push({ name: 'row_id', sql: 'rowid::BIGINT' });
        continue;
      }
      if (col.required && !badlyMapped.has(col.name)) problems.push({ missing: col.name, fix: mapFlagHint(col.name, columns) });
      continue;
    }
    // A context column of JSON objects (text or struct) is read by its keys without being asked to.
    if (col.name === 'context' && !r.json && r.sources.length === 1) {
      const auto = await autoJsonContext(conn, rawTable, r.sources[0]!);
      if (auto) {
        r = { ...r, json: auto };
        warnings.push(
          `Column "${auto.column.name}" holds JSON objects: context = [${auto.keys.join(', ')}] (the keys of its first row, sorted); fix the order with --map context=json:${auto.column.name}:${auto.keys.join(',')}.`,
        );
      }
    }
    for (const s of r.sources) consumed.add(s.root ?? s.name);
    resolved[col.name] = r.sources.map((s) => s.name);
    let conv: { sql: string; check: boolean };
    let target = col.type;
    if (r.json) {
      const j = jsonVector(r.json, col.type === 'DOUBLE[]' ? 'DOUBLE' : 'FLOAT');
      select.push({ name: col.name, sql: j.sql });
      exprOf.set(col.name, j.sql);
      castChecks.push(...j.checks.map((c) => ({ ...c, name: c.name === 'keys' ? `${col.name}_keys` : col.name })));
      resolved[col.name] = [`json:${r.json.column.name}:${r.json.keys.join(',')}`];
      continue;
    }
    if (r.sources.length > 1 || (r.how === 'numbered' && col.type.endsWith('[]'))) {
      // Text that holds numbers (with a stray "NA") is cast and its bad rows reported; text that holds no number is a category, not a feature.
      for (const src of r.sources.filter((x) => !isNumericType(x.type) && x.type !== 'BOOLEAN')) {
        const parses = isTextType(src.type) && Number((await queryOne(conn, `SELECT count(try_cast(${sourceSql(src, ident)} AS DOUBLE)) AS n FROM ${ident(rawTable)}`)).n) > 0;
        if (!parses) throw nonNumericVectorError(col.name, src, r.sources);
      }
    }
    if (kind === 'trajectory' && col.name === 'action') {
      const s = r.sources[0]!;
      if (r.sources.length === 1 && isIntegerType(s.type)) {
        target = 'INTEGER';
        conv = scalarCast(s, 'INTEGER');
      } else {
        target = 'FLOAT[]';
        conv = vectorCast(r.sources, 'FLOAT[]');
      }
    } else if (col.type.endsWith('[]')) {
      conv = vectorCast(r.sources, col.type as 'FLOAT[]' | 'DOUBLE[]');
    } else {
      conv = scalarCast(r.sources[0]!, col.type);
    }
    select.push({ name: col.name, sql: conv.sql });
    exprOf.set(col.name, conv.sql);
    if (conv.check) {
      const src = r.sources[0]!;
      castChecks.push({ name: col.name, source: src.name, type: target, sql: `(${sourceSql(src, ident)} IS NOT NULL AND (${conv.sql}) IS NULL)` });
    }
  }
  if (problems.length > 0) throw missingColumnsError(problems, kind, columns);

  if (kind === 'bandit' && !exprOf.has('propensity')) {
    if (exprOf.has('action_probs')) {
      propensitySource = 'action_probs';
      const sql = `(${exprOf.get('action_probs')!})[(${exprOf.get('action')!}) + 1]`;
      const at = select.findIndex((s) => s.name === 'action_probs');
      select.splice(at, 0, { name: 'propensity', sql });
      warnings.push('No propensity column: propensity taken from action_probs at the logged action.');
    } else if (columns.some((c) => c.name === 'slate_id')) {
      // A slate log: the slate estimators read the logger's slate probabilities from these columns; nothing is estimated.
      const given = SLATE_PSCORES.filter((p) => columns.some((c) => c.name === p));
      propensitySource = given.length > 0 ? 'slate' : 'missing';
      if (given.length === 0) {
        warnings.push(
          `Slate log (a slate_id column) with no ${SLATE_PSCORES.join(', ')} or propensity column: the slate estimators need the logging policy's probabilities and will refuse this log; add the column(s) the chosen estimators need (Open Bandit Pipeline's names).`,
        );
      }
    } else {
      propensitySource = 'missing';
      const hint = mapFlagHint('propensity', columns);
      warnings.push(
        `No propensity or action_probs column: the logging propensities will have to be estimated at evaluation (recorded in metadata)${hint.includes('=COLUMN') ? '' : `; if a column holds them, ${hint}`}.`,
      );
    }
  }

  const kept: string[] = [];
  const outNames = new Set(select.map((s) => s.name));
  const keepCandidates = columns.filter((c) => !consumed.has(c.name));
  const listLike = await listLikeTextColumns(conn, rawTable, keepCandidates);
  for (const c of keepCandidates) {
    if (outNames.has(c.name)) {
      warnings.push(`Column "${c.name}" was left out: a mapped column already fills canonical "${c.name}".`);
      continue;
    }
    if (c.name.startsWith('_')) {
      warnings.push(`Column "${c.name}" was left out: names starting with "_" are reserved for internal columns.`);
      continue;
    }
    kept.push(c.name);
    select.push({ name: c.name, sql: listLike.has(c.name) ? `try_cast(${ident(c.name)} AS DOUBLE[])` : ident(c.name) });
    outNames.add(c.name);
  }
  return { kind, select, castChecks, kept, rowIdAssigned, propensitySource, resolved, warnings };
}

/** Creates the staged view over `rawTable`: canonical columns, kept features, `_badcast_*` flags and `_row`. */
export async function createStagedView(conn: DuckDBConnection, rawTable: string, view: string, plan: CanonicalPlan): Promise<void> {
  const cols = [
    ...plan.select.map((s) => `${s.sql} AS ${ident(s.name)}`),
    ...plan.castChecks.map((c) => `${c.sql} AS ${ident(`_badcast_${c.name}`)}`),
    'rowid AS _row',
  ];
  await conn.run(`CREATE OR REPLACE VIEW ${ident(view)} AS SELECT ${cols.join(', ')} FROM ${ident(rawTable)}`);
}

/** E_BAD_VALUE rules for the plan's fallible conversions. */
export function castRules(plan: CanonicalPlan): RowRule[] {
  return plan.castChecks.map((c) => ({
    code: c.code ?? 'E_BAD_VALUE',
    rule: c.rule ?? `${c.name} (from column "${c.source}") reads as ${c.type}`,
    bad: ident(`_badcast_${c.name}`),
    hint: c.hint ?? `Fix the values of "${c.source}" that are not ${c.type}${c.type.endsWith('[]') ? ' lists like [0.1, 0.2]' : ''}, or map another column.`,
  }));
}
