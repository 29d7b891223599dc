/**
 * The ClickHouse backend: the SQL backend (./backend-sql.ts) in the ClickHouse
 * dialect over a table (local, or Distributed over shards). Each shard computes
 * the flat scan's per-weight-bin partial sums over its own rows; the initiator
 * merges them per bin (sums add, min / max combine, bit masks OR) and returns a
 * few hundred rows; JS adds the bins up. Nothing per row leaves a shard except
 * in the narrow follow-up queries (the values of the few weight bins that hold
 * a quantile, and the row_ids of bad rows when explaining an error).
 *
 * The table is not validated by ingest, so the log's own rules (propensity in
 * (0, 1], actions in 0..K-1, finite rewards, list widths) ride along in the scan
 * as row checks; a positive count is explained by clickhouseExplain, which names
 * the rule, the count and the first row_ids.
 */
import { dataError } from '../../core/errors.js';
import type { ClickhouseConnection, QueryOptions } from '../../datasets/clickhouse.js';
import { PROPENSITY_FLOOR } from '../../datasets/limits.js';
import { ACTION_PROBS_TOLERANCE } from '../../datasets/validate-bandit.js';
import type { RowRule } from '../../datasets/validation.js';
import { sqlCandidateSums, type SqlRunner, type SqlScanResult } from './backend-sql.js';
import type { ScanInput } from './scan-sql.js';
import { CLICKHOUSE } from './sql-dialect.js';

export function clickhouseRunner(conn: ClickhouseConnection, o: QueryOptions = {}): SqlRunner {
  return (sql) => conn.query(sql, o);
}

/** One candidate's record of sums from one ClickHouse scan (plus its narrow follow-ups). */
export function clickhouseCandidateSums(conn: ClickhouseConnection, input: ScanInput, o: QueryOptions = {}): Promise<SqlScanResult> {
  return sqlCandidateSums(clickhouseRunner(conn, o), CLICKHOUSE, input);
}

const d = CLICKHOUSE;

/** The log's rules over alias l (TRUE = bad row; NULL counts as bad), as ingest checks a stored log. */
export function clickhouseLogRules(k: number, opts: { rewardNullable: boolean; actionProbs: boolean; expectedReward: boolean; contextDim?: number }): RowRule[] {
  const rules: RowRule[] = [
    {
      code: 'E_PROPENSITY_RANGE',
      rule: 'propensity in (0, 1]',
      bad: `NOT (toFloat64(l.propensity) > 0 AND toFloat64(l.propensity) <= 1)`,
      hint: 'A propensity is the probability the logging policy gave the logged action: above 0 and at most 1.',
    },
    {
      code: 'E_PROPENSITY_FLOOR',
      rule: `propensity >= ${PROPENSITY_FLOOR}`,
      bad: `toFloat64(l.propensity) < ${PROPENSITY_FLOOR}`,
      hint: 'Propensities this small make the importance weights overflow; fix the logging probabilities.',
    },
    {
      code: 'E_ACTION_RANGE',
      rule: `action is an integer in 0..${k - 1}`,
      bad: `NOT (l.action >= 0 AND l.action < ${k})`,
      hint: `Actions must be integers 0..K-1 with K = ${k}; pass numActions (--num-actions) if the log uses more actions.`,
    },
    {
      code: 'E_NON_FINITE',
      rule: opts.rewardNullable ? 'reward is NULL or finite' : 'reward is finite (not NULL, NaN or Infinity)',
      bad: opts.rewardNullable ? `l.reward IS NOT NULL AND NOT isFinite(toFloat64(l.reward))` : `NOT isFinite(toFloat64(l.reward))`,
      hint: 'Replace or drop the rows whose reward is NaN or Infinity.',
    },
  ];
  if (opts.actionProbs) {
    rules.push({
      code: 'E_ACTION_PROBS',
      rule: `action_probs has ${k} entries in [0, 1] summing to 1 (within ${ACTION_PROBS_TOLERANCE})`,
      bad: `length(l.action_probs) <> ${k} OR abs(${d.listSum('l.action_probs')} - 1) > ${ACTION_PROBS_TOLERANCE} OR arrayExists(x -> NOT (x >= 0 AND x <= 1), l.action_probs)`,
      hint: 'action_probs is the logging distribution over all K actions on that row.',
    });
  }
  if (opts.expectedReward) {
    rules.push({
      code: 'E_RAGGED_VECTOR',
      rule: `expected_reward has ${k} finite values`,
      bad: `length(l.expected_reward) <> ${k} OR NOT isFinite(${d.listSum('l.expected_reward')})`,
      hint: 'expected_reward holds the true mean reward of every action on that row.',
    });
  }
  if (opts.contextDim !== undefined) {
    rules.push({
      code: 'E_RAGGED_VECTOR',
      rule: `context has ${opts.contextDim} finite values`,
      bad: `length(l.context) <> ${opts.contextDim} OR NOT isFinite(${d.listSum('l.context')})`,
      hint: 'Every row of a vector column must have the same length; fix or drop the rows with a different length.',
    });
  }
  return rules;
}

/**
 * Finds the first failing rule of those a scan counted bad rows for and throws
 * its data error (count and first row_ids). Returns when none fails (the caller
 * then reports the scan's failure as it is).
 */
export async function clickhouseExplain(conn: ClickhouseConnection, from: string, rules: readonly RowRule[], o: QueryOptions = {}): Promise<void> {
  if (rules.length === 0) return;
  const guard = (bad: string): string => `coalesce(${bad}, 1)`;
  const row = (await conn.query(`SELECT ${rules.map((r, i) => `countIf(${guard(r.bad)}) AS c${i}`).join(', ')} FROM ${from}`, o))[0]!;
  const i = rules.findIndex((_, j) => Number(row[`c${j}`]) > 0);
  if (i < 0) return;
  const r = rules[i]!;
  const ids = (await conn.query(`SELECT l.row_id AS id FROM ${from} WHERE ${guard(r.bad)} ORDER BY id LIMIT 5`, o)).map((x) => Number(x.id));
  throw dataError(r.code, r.rule, Number(row[`c${i}`]), ids, `${r.hint} Row numbers here are row_id values.`);
}
