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
import { ident, queryOne, queryRows, type DuckDBConnection } from '../duckdb.js';
import type { DatasetKind } from '../metadata.js';
import { BANDIT_COLUMNS, TRAJECTORY_COLUMNS } from '../schema.js';
import type { RowRule } from '../validation.js';
import { isFloatType, isIntegerType, isListType, isNumericType, isTextType, type SourceColumn } from './column-types.js';

/** Vector columns and the prefixes of their numbered scalar columns (prefix + 0, 1, ...). */
const NUMBERED_PREFIXES: Record<string, string[]> = {
  context: ['context_'],
  observation: ['observation_', 'obs_'],
  next_observation: ['next_observation_', 'next_obs_'],
  action_probs: ['action_probs_', 'action_prob_'],
};
const TRAJECTORY_ACTION_PREFIXES = ['action_', 'act_'];

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
  /** Conversions that may fail: the view carries `_badcast_<name>` TRUE where they did. */
  castChecks: { name: string; source: string; type: string; sql: string }[];
  /** Source columns kept as named features. */
  kept: string[];
  /** True when row_id was assigned from the input order. */
  rowIdAssigned: boolean;
  /** Where propensity came from. */
  propensitySource: 'column' | 'action_probs' | 'missing';
  /** canonical -> source column(s) actually used. */
  resolved: Record<string, string[]>;
  warnings: string[];
}

type Resolution = { sources: SourceColumn[]; how: 'name' | 'map' | 'numbered' };

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

function mapFlagHint(canonical: string, columns: SourceColumn[]): string {
  const names = new Set(columns.map((c) => c.name));
  const lower = new Map(columns.map((c) => [c.name.toLowerCase(), c.name]));
  const guess = (SYNONYMS[canonical] ?? []).map((s) => lower.get(s) ?? (names.has(s) ? s : undefined)).find((s) => s !== undefined);
  return guess ? `pass --map ${canonical}=${guess}` : `pass --map ${canonical}=COLUMN naming the column that holds it`;
}

function missingColumnError(canonical: string, kind: DatasetKind, columns: SourceColumn[]): OffpolicyError {
  const found = columns.map((c) => c.name).join(', ');
  return new OffpolicyError(
    'E_MISSING_COLUMN',
    `Required column "${canonical}" of a ${kind} dataset is missing; found: ${found}; ${mapFlagHint(canonical, columns)}.`,
  );
}

/** Conversion of one source column to a scalar canonical type; `check` when it can fail on valid-looking input. */
function scalarCast(src: SourceColumn, target: string): { sql: string; check: boolean } {
  const c = ident(src.name);
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
    const parts = sources.map((s) => (isNumericType(s.type) ? `${ident(s.name)}::${elem}` : `try_cast(${ident(s.name)} AS ${elem})`));
    return { sql: `[${parts.join(', ')}]::${target}`, check: false };
  }
  const s = sources[0]!;
  const c = ident(s.name);
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
  for (const [canonical, source] of Object.entries(map)) {
    if (!known.has(canonical)) {
      throw new OffpolicyError('E_MAP_FLAG', `--map ${canonical}=${source}: "${canonical}" is not a canonical column.`, {
        hint: `Map one of: ${[...known].join(', ')}.`,
      });
    }
    for (const s of source.split(',').map((x) => x.trim())) {
      if (!byName.has(s)) {
        throw new OffpolicyError(
          'E_MISSING_COLUMN',
          `--map ${canonical}=${source} names column "${s}", which the input does not have; found: ${columns.map((c) => c.name).join(', ')}.`,
          { hint: 'Check the spelling (column names are case-sensitive).' },
        );
      }
    }
  }

  const vectorNames = new Set(Object.keys(NUMBERED_PREFIXES));
  const resolve = (canonical: string, kind: DatasetKind): Resolution | undefined => {
    if (map[canonical] !== undefined) {
      const sources = map[canonical]!.split(',').map((s) => byName.get(s.trim())!);
      const isVector = vectorNames.has(canonical) || (canonical === 'action' && kind === 'trajectory');
      if (sources.length > 1 && !isVector) {
        throw new OffpolicyError('E_MAP_FLAG', `--map ${canonical}=${map[canonical]} lists several columns, but ${canonical} is a single value.`, {
          hint: 'Only vector columns (context, observation, next_observation, action_probs, trajectory action) take a list of columns.',
        });
      }
      return { sources, how: 'map' };
    }
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
    const r = resolve(col.name, kind);
    if (!r) {
      if (col.name === 'row_id') {
        rowIdAssigned = true;
        select.push({ name: 'row_id', sql: 'rowid::BIGINT' });
        continue;
      }
      if (col.required) throw missingColumnError(col.name, kind, columns);
      continue;
    }
    for (const s of r.sources) consumed.add(s.name);
    resolved[col.name] = r.sources.map((s) => s.name);
    let conv: { sql: string; check: boolean };
    let target = col.type;
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
      castChecks.push({ name: col.name, source: src.name, type: target, sql: `(${ident(src.name)} IS NOT NULL AND (${conv.sql}) IS NULL)` });
    }
  }

  if (kind === 'bandit' && !exprOf.has('propensity')) {
    if (exprOf.has('action_probs')) {
      propensitySource = 'action_probs';
      const sql = `(${exprOf.get('action_probs')!})[(${exprOf.get('action')!}) + 1]`;
      const at = select.findIndex((s) => s.name === 'action_probs');
      select.splice(at, 0, { name: 'propensity', sql });
      warnings.push('No propensity column: propensity taken from action_probs at the logged action.');
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
    code: 'E_BAD_VALUE',
    rule: `${c.name} (from column "${c.source}") reads as ${c.type}`,
    bad: ident(`_badcast_${c.name}`),
    hint: `Fix the values of "${c.source}" that are not ${c.type}${c.type.endsWith('[]') ? ' lists like [0.1, 0.2]' : ''}, or map another column.`,
  }));
}
