/**
 * Row rules for bandit logs, run by findViolations over the staged table
 * (canonical columns, any named feature columns, and `_row`).
 *
 * Rules (each TRUE for a bad row; a NULL result counts as bad):
 * - E_PROPENSITY_RANGE  propensity in (0, 1]
 * - E_PROPENSITY_FLOOR  propensity >= PROPENSITY_FLOOR (1e-100), so importance weights stay finite
 * - E_NON_FINITE        every FLOAT/DOUBLE column and every vector element is finite
 * - E_ACTION_RANGE      action an integer in 0..K-1
 * - E_RAGGED_VECTOR     context has the same length d on every row
 * - E_ACTION_PROBS      action_probs has K entries in [0, 1] summing to 1 within 1e-6
 * - E_NULL_REWARD       reward is not NULL (unless the log declares rewards nullable)
 * - E_DUPLICATE_ROW_ID  row_id present and unique (every copy of a duplicate is marked)
 */
import { OffpolicyError } from '../core/errors.js';
import { ident, queryOne, queryRows, type DuckDBConnection } from './duckdb.js';
import type { RowRule } from './validation.js';
import { checkNumActions, MAX_ACTIONS, PROPENSITY_FLOOR } from './limits.js';
import { elementType, isIeeeType, isListType, type SourceColumn } from './ingest/column-types.js';

/** Tolerance on sum(action_probs) = 1. */
export const ACTION_PROBS_TOLERANCE = 1e-6;

export interface BanditCheckContext {
  /** K: actions are 0..K-1. */
  numActions: number;
  /** Expected context length d (when the log has a context vector column). */
  contextDim?: number;
  /** NULL rewards allowed (delayed feedback). */
  rewardNullable?: boolean;
  /** Check row_id for duplicates and NULLs; skip when row ids were assigned 0..n-1 at ingest. Default true. */
  checkRowIds?: boolean;
}

export interface BanditShape {
  numActions: number;
  /** Where K came from. */
  numActionsSource: 'flag' | 'action_probs' | 'max_action';
  contextDim?: number;
}

async function describe(conn: DuckDBConnection, table: string): Promise<SourceColumn[]> {
  return (await queryRows(conn, `DESCRIBE SELECT * FROM ${ident(table)}`)).map((r) => ({
    name: String(r.column_name),
    type: String(r.column_type),
  }));
}

/**
 * K and d of a staged bandit table, in one pass: K is `numActions` when given,
 * else the most common action_probs length, else max(action) + 1; d is the most
 * common context length (rows of another length break E_RAGGED_VECTOR).
 */
export async function banditShape(conn: DuckDBConnection, table: string, numActions?: number): Promise<BanditShape> {
  const cols = new Set((await describe(conn, table)).map((c) => c.name));
  const parts = ['max(action) AS max_action'];
  if (cols.has('context')) parts.push('mode(len(context)) AS d');
  if (cols.has('action_probs')) parts.push('mode(len(action_probs)) AS k');
  const row = await queryOne(conn, `SELECT ${parts.join(', ')} FROM ${ident(table)}`);
  const d = row.d === undefined || row.d === null ? undefined : Number(row.d);
  let shape: BanditShape;
  if (numActions !== undefined) {
    if (!Number.isInteger(numActions) || numActions < 1) {
      throw new OffpolicyError('E_NUM_ACTIONS', `--num-actions must be a positive integer, got ${numActions}.`, {
        hint: 'Pass the number of actions K (actions are 0..K-1).',
      });
    }
    shape = { numActions, numActionsSource: 'flag' };
  } else if (row.k !== undefined && row.k !== null && Number(row.k) > 0) {
    shape = { numActions: Number(row.k), numActionsSource: 'action_probs' };
  } else {
    const max = row.max_action === null || row.max_action === undefined ? -1 : Number(row.max_action);
    shape = { numActions: Math.max(max + 1, 1), numActionsSource: 'max_action' };
  }
  if (shape.numActions > MAX_ACTIONS) {
    checkNumActions(shape.numActions, shape.numActionsSource === 'flag' ? '--num-actions' : `K (from ${shape.numActionsSource.replace('_', ' ')})`);
  }
  return d === undefined ? shape : { ...shape, contextDim: d };
}

function finiteRule(col: SourceColumn): RowRule | undefined {
  const c = ident(col.name);
  if (isIeeeType(col.type)) {
    return {
      code: 'E_NON_FINITE',
      rule: `${col.name} is finite (not NaN or Infinity)`,
      bad: `${c} IS NOT NULL AND NOT isfinite(${c})`,
      hint: `Replace or drop the rows whose ${col.name} is NaN or Infinity.`,
    };
  }
  if (isListType(col.type) && isIeeeType(elementType(col.type))) {
    return {
      code: 'E_NON_FINITE',
      rule: `${col.name} values are finite numbers (no NaN, Infinity or NULL)`,
      bad: `coalesce(list_bool_or(list_transform(${c}, v -> v IS NULL OR NOT isfinite(v))), FALSE)`,
      hint: `Replace or drop the rows whose ${col.name} holds NaN, Infinity or NULL.`,
    };
  }
  return undefined;
}

/**
 * Fast path of the duplicate check: row ids that strictly increase with `_row`
 * (the usual 0..n-1 or timestamps-as-ids) cannot repeat. One ordered pass
 * pairs each row with the next (POSITIONAL JOIN); the pairing itself is
 * verified (next._row = _row + 1), so a scan in another order only means
 * falling back to the GROUP BY, never a wrong answer.
 */
async function strictlyIncreasingRowIds(conn: DuckDBConnection, table: string): Promise<boolean> {
  const t = ident(table);
  const row = await queryOne(
    conn,
    `SELECT count(*) AS pairs, count(*) FILTER (WHERE b._row = a._row + 1 AND b.row_id > a.row_id) AS ok,
            (SELECT count(*) FROM ${t}) AS n, (SELECT count(*) FROM ${t} WHERE row_id IS NULL) AS nulls
     FROM (SELECT _row, row_id FROM ${t}) a POSITIONAL JOIN (SELECT _row, row_id FROM ${t} WHERE _row >= 1) b
     WHERE b._row IS NOT NULL`,
  );
  const n = Number(row.n);
  return Number(row.nulls) === 0 && Number(row.pairs) === n - 1 && Number(row.ok) === n - 1;
}

/**
 * Builds the bandit row rules for `table`. The duplicate-row-id rule needs one
 * GROUP BY pass (its result, usually empty, lands in a temp table); the other
 * rules are plain predicates over the table itself, which is the check table.
 */
export async function prepareBanditChecks(
  conn: DuckDBConnection,
  table: string,
  ctx: BanditCheckContext,
): Promise<{ checkTable: string; rules: RowRule[] }> {
  const columns = (await describe(conn, table)).filter((c) => !c.name.startsWith('_'));
  const has = new Set(columns.map((c) => c.name));
  const K = ctx.numActions;
  const rules: RowRule[] = [];
  if (has.has('propensity')) {
    rules.push({
      code: 'E_PROPENSITY_RANGE',
      rule: 'propensity in (0, 1]',
      bad: 'NOT (propensity > 0 AND propensity <= 1)',
      hint: 'A propensity is the probability the logging policy gave the logged action: it must be above 0 and at most 1 (map the right column with --map propensity=COLUMN).',
    });
    rules.push({
      code: 'E_PROPENSITY_FLOOR',
      rule: `propensity at least ${PROPENSITY_FLOOR} (a smaller one overflows importance weights)`,
      bad: `propensity > 0 AND propensity < ${PROPENSITY_FLOOR}`,
      hint: `Propensities below ${PROPENSITY_FLOOR} make 1/p overflow the estimates; check how they were computed (log-probabilities exponentiated twice?) or drop those rows with --drop-invalid.`,
    });
  }
  for (const col of columns) {
    const r = finiteRule(col);
    if (r) rules.push(r);
  }
  rules.push({
    code: 'E_ACTION_RANGE',
    rule: `action is an integer in 0..${K - 1}`,
    bad: `NOT (action >= 0 AND action < ${K})`,
    hint: `Actions must be integers 0..K-1 with K = ${K}; pass --num-actions K if the log uses more actions, or fix the rows.`,
  });
  if (has.has('context') && ctx.contextDim !== undefined) {
    rules.push({
      code: 'E_RAGGED_VECTOR',
      rule: `context has ${ctx.contextDim} values`,
      bad: `len(context) <> ${ctx.contextDim}`,
      hint: 'Every row of a vector column must have the same length; fix or drop the rows with a different length.',
    });
  }
  if (has.has('action_probs')) {
    rules.push({
      code: 'E_ACTION_PROBS',
      rule: `action_probs has ${K} entries in [0, 1] summing to 1 (within ${ACTION_PROBS_TOLERANCE})`,
      bad: `len(action_probs) <> ${K} OR abs(list_sum(action_probs) - 1) > ${ACTION_PROBS_TOLERANCE} OR list_bool_or(list_transform(action_probs, p -> NOT (p >= 0 AND p <= 1)))`,
      hint: 'action_probs is the logging distribution over all K actions on that row.',
    });
  }
  if (!ctx.rewardNullable) {
    rules.push({
      code: 'E_NULL_REWARD',
      rule: 'reward is not NULL',
      bad: 'reward IS NULL',
      hint: 'Fill in the missing rewards, or pass --reward-nullable if rewards arrive later (delayed feedback).',
    });
  }
  if (ctx.checkRowIds !== false && has.has('row_id')) {
    let dups = 0;
    const dupTable = `${table}__dup_row_ids`;
    if (!(await strictlyIncreasingRowIds(conn, table))) {
      await conn.run(
        `CREATE OR REPLACE TEMP TABLE ${ident(dupTable)} AS SELECT row_id FROM ${ident(table)} WHERE row_id IS NOT NULL GROUP BY row_id HAVING count(*) > 1`,
      );
      dups = Number((await queryOne(conn, `SELECT count(*) AS n FROM ${ident(dupTable)}`)).n);
    }
    rules.push({
      code: 'E_DUPLICATE_ROW_ID',
      rule: 'row_id is unique and not NULL',
      bad: dups > 0 ? `row_id IS NULL OR row_id IN (SELECT row_id FROM ${ident(dupTable)})` : 'row_id IS NULL',
      hint: 'Every row needs its own row_id; drop the column to have ids assigned 0..n-1, or fix the duplicates.',
    });
  }
  return { checkTable: table, rules };
}
