/**
 * Validation rules for staged trajectory tables (DESIGN.md, "Trajectory steps").
 *
 * prepareTrajectoryChecks computes, in one statement over the staged table
 * (a per-episode aggregate joined back to the rows), a small check table:
 * `_row`, `episode_id` and one boolean per rule. The RowRules then test those
 * booleans, so findViolations / badRowsSql (validation.ts) scan a narrow table
 * instead of recomputing the episode aggregates once per rule.
 *
 * Which rows a rule marks:
 * - E_STEP_GAP and E_TERMINAL_FLAGS concern an episode's structure: every row of
 *   a bad episode is marked, so --drop-invalid drops whole episodes.
 * - E_RAGGED_VECTOR, E_NON_FINITE and E_ACTION_RANGE mark the offending rows
 *   themselves, so the error points at the rows to fix. Dropping such a row
 *   alone would leave a gap in its episode: use episodeRowsSql to widen a set of
 *   bad rows to whole episodes before dropping trajectory rows.
 */
import { OffpolicyError } from '../core/errors.js';
import { ident, queryOne, queryRows, type DuckDBConnection } from './duckdb.js';
import { spaceWidth, type Space } from './metadata.js';
import type { RowRule } from './validation.js';

export interface TrajectoryCheckContext {
  /** Declared action space: discrete actions must lie in 0..n-1; box actions within low/high when given. */
  actionSpace?: Space;
  /** Declared observation space: a box shape fixes the expected observation length. */
  observationSpace?: Space;
}

export interface TrajectoryChecks {
  /** Temp table with `_row`, `episode_id` and the per-rule booleans the rules test. */
  checkTable: string;
  rules: RowRule[];
  /** Expected vector lengths the ragged rule checked against. */
  widths: { observation: number; action?: number };
}

/** Finite, non-NULL list with no NULL element. */
function finiteList(col: string): string {
  return `(${col} IS NOT NULL AND coalesce(isfinite(list_sum(${col})), FALSE) AND list_count(${col}) = len(${col}))`;
}

function num(x: number): string {
  if (Number.isNaN(x)) return `'nan'::DOUBLE`;
  if (x === Infinity) return `'inf'::DOUBLE`;
  if (x === -Infinity) return `'-inf'::DOUBLE`;
  return String(x);
}

/**
 * Builds the check table for the staged trajectory table `table` (canonical
 * columns plus `_row`) and returns the rules to run over it.
 */
export async function prepareTrajectoryChecks(
  conn: DuckDBConnection,
  table: string,
  ctx: TrajectoryCheckContext = {},
): Promise<TrajectoryChecks> {
  const t = ident(table);
  const cols = new Map((await queryRows(conn, `DESCRIBE ${t}`)).map((r) => [String(r.column_name), String(r.column_type)]));
  for (const required of ['_row', 'episode_id', 'step', 'observation', 'action', 'reward', 'terminated', 'truncated']) {
    if (!cols.has(required)) {
      throw new OffpolicyError('E_MISSING_COLUMN', `The staged trajectory table has no "${required}" column.`, {
        hint: `Columns found: ${[...cols.keys()].join(', ')}. Map it with --map ${required}=SOURCE_COLUMN.`,
      });
    }
  }
  // Vectors: lists (FLOAT[]) or fixed-size arrays (FLOAT[17]).
  const isVector = (type: string) => /\[\d*\]$/.test(type);
  const obsType = cols.get('observation')!;
  if (!isVector(obsType)) {
    throw new OffpolicyError('E_COLUMN_TYPE', `Column "observation" has type ${obsType}; a list of numbers (FLOAT[]) is expected.`, {
      hint: 'Store observations as a vector column, or list the feature columns with --map observation=x1,x2,...',
    });
  }
  const hasNext = cols.has('next_observation');
  const actionIsList = isVector(cols.get('action')!);
  const hasLogp = cols.has('behavior_logprob');

  // Expected lengths: the declared space when given, else the most common length.
  const declaredObs = ctx.observationSpace?.type === 'box' ? spaceWidth(ctx.observationSpace) : undefined;
  const declaredAct = ctx.actionSpace?.type === 'box' ? spaceWidth(ctx.actionSpace) : undefined;
  const modeOf = [
    ...(declaredObs === undefined ? ['mode(len(observation)) AS o'] : []),
    ...(actionIsList && declaredAct === undefined ? ['mode(len(action)) AS a'] : []),
  ];
  const modes = modeOf.length > 0 ? await queryOne(conn, `SELECT ${modeOf.join(', ')} FROM ${t}`) : {};
  const obsWidth = declaredObs ?? Number(modes.o ?? 0);
  const actWidth = actionIsList ? (declaredAct ?? Number(modes.a ?? 0)) : undefined;

  // Action range.
  let rangeBad = 'FALSE';
  let rangeRule: string | undefined;
  const space = ctx.actionSpace;
  if (space?.type === 'discrete') {
    if (actionIsList) {
      throw new OffpolicyError('E_COLUMN_TYPE', `The action space is discrete (${space.n} actions) but "action" holds vectors.`, {
        hint: 'Store discrete actions as one integer per step.',
      });
    }
    rangeBad = `(action IS NOT NULL AND (action < 0 OR action >= ${space.n}))`;
    rangeRule = `action in 0..${space.n - 1}`;
  } else if (space?.type === 'box' && actionIsList && (space.low || space.high)) {
    const parts: string[] = [];
    for (let j = 0; j < (actWidth ?? 0); j++) {
      const lo = space.low?.[j];
      const hi = space.high?.[j];
      if (lo !== undefined && Number.isFinite(lo)) parts.push(`action[${j + 1}] < ${num(lo)}`);
      if (hi !== undefined && Number.isFinite(hi)) parts.push(`action[${j + 1}] > ${num(hi)}`);
    }
    if (parts.length > 0) {
      // NaN sorts above every number in DuckDB: leave non-finite actions to E_NON_FINITE.
      rangeBad = `(len(action) = ${actWidth} AND coalesce(isfinite(list_sum(action)), FALSE) AND coalesce(${parts.join(' OR ')}, FALSE))`;
      rangeRule = `action within the action space bounds [${(space.low ?? []).join(', ')}] .. [${(space.high ?? []).join(', ')}]`;
    }
  }

  const ragged = [`coalesce(len(observation) <> ${obsWidth}, FALSE)`];
  if (hasNext) ragged.push(`coalesce(len(next_observation) <> ${obsWidth}, FALSE)`);
  if (actionIsList) ragged.push(`coalesce(len(action) <> ${actWidth}, FALSE)`);

  const finite = [finiteList('observation'), 'reward IS NOT NULL AND isfinite(reward)'];
  finite.push(actionIsList ? finiteList('action') : 'action IS NOT NULL');
  if (hasLogp) finite.push('(behavior_logprob IS NULL OR isfinite(behavior_logprob))');

  const checkTable = `${table}__checks`;
  // Episode structure by aggregation (a hash aggregate and join, no sort): the
  // steps of an episode are exactly 0..T-1 when none is NULL or repeated, the
  // smallest is 0 and the largest T-1; its last step is the largest, and at most
  // one row, that one, carries a flag. Per-row checks run in the same scan as
  // the row's vectors, so only narrow booleans go through the join.
  const nextCols = hasNext
    ? `, next_observation IS NULL AS _next_null, coalesce(${finiteList('next_observation')}, FALSE) AS _next_finite`
    : '';
  const nextOk = hasNext ? ' AND (CASE WHEN r._next_null THEN coalesce(r.step = e._last, FALSE) ELSE r._next_finite END)' : '';
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${ident(checkTable)} AS
    WITH episodes AS (
      SELECT episode_id,
        max(step) AS _last,
        (count(step) <> count(*) OR min(step) <> 0 OR max(step) <> count(*) - 1 OR count(DISTINCT step) <> count(*)) AS _step_gap,
        (count(terminated) <> count(*) OR count(truncated) <> count(*)
          OR count_if(terminated OR truncated) > 1
          OR coalesce(max(step) FILTER (WHERE terminated OR truncated) <> max(step), FALSE)
          OR coalesce(bool_or(terminated AND truncated), FALSE)) AS _flags_bad
      FROM ${t}
      GROUP BY episode_id
    ), rows AS (
      SELECT _row, episode_id, step,
        ${ragged.join(' OR ')} AS _ragged,
        ${finite.map((f) => `coalesce(${f}, FALSE)`).join(' AND ')} AS _finite${nextCols},
        ${rangeBad} AS _action_range
      FROM ${t}
    )
    SELECT r._row, r.episode_id,
      coalesce(e._step_gap, TRUE) AS _step_gap,
      coalesce(e._flags_bad, FALSE) AS _flags_bad,
      r._ragged,
      NOT (r._finite${nextOk}) AS _non_finite,
      r._action_range
    FROM rows r LEFT JOIN episodes e ON r.episode_id = e.episode_id`);

  const widthText = `observation${hasNext ? ' and next_observation' : ''} of length ${obsWidth}${
    actionIsList ? `, action of length ${actWidth}` : ''
  }`;
  const rules: RowRule[] = [
    {
      code: 'E_STEP_GAP',
      rule: 'steps of each episode run 0..T-1 without gaps or repeats',
      bad: '_step_gap',
      hint: 'Every row of an episode with missing, repeated or out-of-order steps is counted. Renumber the steps 0..T-1, or pass --drop-invalid to drop those episodes.',
    },
    {
      code: 'E_TERMINAL_FLAGS',
      rule: 'terminated/truncated set only on the last step of an episode, never both',
      bad: '_flags_bad',
      hint: 'Every row of an episode whose flags are misplaced is counted. Set the flag on the episode\'s last step only, or split the episode there.',
    },
    {
      code: 'E_RAGGED_VECTOR',
      rule: `every row has ${widthText}`,
      bad: '_ragged',
      hint: 'Vector columns must have the same length on every row; fix or remove the short or long rows.',
    },
    {
      code: 'E_NON_FINITE',
      rule: `observation, action, reward${hasNext ? ', next_observation' : ''}${hasLogp ? ', behavior_logprob' : ''} are finite numbers (no NaN, infinity or missing value${hasNext ? '; next_observation may be missing on an episode\'s last step only' : ''})`,
      bad: '_non_finite',
      hint: 'Replace or remove the rows with NaN, infinite or missing values.',
    },
  ];
  if (rangeRule) {
    rules.push({
      code: 'E_ACTION_RANGE',
      rule: rangeRule,
      bad: '_action_range',
      hint: 'Actions must lie in the declared action space; check the action encoding (0-based) or the declared space.',
    });
  }
  return { checkTable, rules, widths: { observation: obsWidth, ...(actWidth === undefined ? {} : { action: actWidth }) } };
}

/**
 * SQL giving `_row` for every row of every episode that holds at least one row
 * breaking one of `rules`: trajectory data is dropped an episode at a time.
 */
export function episodeRowsSql(checkTable: string, rules: readonly RowRule[]): string {
  const any = rules.length === 0 ? 'FALSE' : rules.map((r) => `coalesce((${r.bad}), TRUE)`).join(' OR ');
  return `SELECT _row FROM (SELECT _row, bool_or(${any}) OVER (PARTITION BY episode_id) AS _bad FROM ${ident(checkTable)}) WHERE _bad`;
}
