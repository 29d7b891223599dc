/**
 * The in-memory shape shared by the logged-bandit generators (synthetic and
 * multiclass reduction), the ground-truth value helper, and the writer that
 * stores a log as a workspace version.
 */
import { OffpolicyError } from '../../core/errors.js';
import { arraysToTable } from '../from-arrays.js';
import { ident, openMemoryConnection, type DuckDBConnection } from '../duckdb.js';
import type { BanditArrays } from '../load-bandit.js';
import type { DatasetVersion, Workspace } from '../workspace.js';
import type { Rng } from '../../util/rng.js';

/** A generated log: the bandit arrays (row ids 0..n-1) with every optional array present, and the generator's extras. */
export interface BanditLog extends BanditArrays {
  /** "synthetic" or "multiclass:<dataset>". */
  generator: string;
  /** The generator's parameters, recorded in metadata.extra and the lineage. */
  params: Record<string, unknown>;
  seed: number;
  /** pi_b(a_i | x_i) of the logged action. */
  propensities: Float64Array;
  /** n x K logging distribution pi_b(. | x_i). */
  actionProbs: Float64Array;
  /** n x K true expected reward q(x_i, a) (ground truth; only synthetic data has it). */
  expectedRewards: Float64Array;
  /** n x K behaviour logits (synthetic: x.V_a + e_a, or q(x, a) with behaviour "expected-reward"; multiclass: the classifier's logits). */
  scores: Float64Array;
  /** True value of the logging policy on these contexts: trueValue(expectedRewards, actionProbs). */
  loggingValue: number;
}

/**
 * True value of a policy on the logged contexts:
 * (1/n) sum_i sum_a pi(a | x_i) q(x_i, a), both arrays n x K row-major.
 */
export function trueValue(expectedRewards: Float64Array, policyProbs: ArrayLike<number>, n: number, K: number): number {
  if (expectedRewards.length !== n * K || policyProbs.length !== n * K) {
    throw new OffpolicyError(
      'E_SHAPE',
      `trueValue needs n x K = ${n * K} values in both arrays, got ${expectedRewards.length} expected rewards and ${policyProbs.length} probabilities.`,
      { hint: 'Pass row-major n x K arrays for the same n rows and K actions.' },
    );
  }
  let total = 0;
  for (let i = 0; i < n * K; i++) total += policyProbs[i]! * expectedRewards[i]!;
  return total / n;
}

/**
 * Rows [from, to) of a log as a log of its own (same reward function and logger;
 * the logging value recomputed on those rows). E.g. a training and a test log
 * from one generated log, as OBP's two obtain_batch_bandit_feedback calls.
 */
export function sliceBanditLog(log: BanditLog, from: number, to: number): BanditLog {
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > log.n || from >= to) {
    throw new OffpolicyError('E_SHAPE', `Cannot take rows [${from}, ${to}) of a log with ${log.n} rows.`, {
      hint: `Pass integers with 0 <= from < to <= ${log.n}.`,
    });
  }
  const { contextDim: d, numActions: k } = log;
  const expectedRewards = log.expectedRewards.slice(from * k, to * k);
  const actionProbs = log.actionProbs.slice(from * k, to * k);
  return {
    ...log,
    n: to - from,
    contexts: log.contexts.slice(from * d, to * d),
    actions: log.actions.slice(from, to),
    rewards: log.rewards.slice(from, to),
    propensities: log.propensities.slice(from, to),
    actionProbs,
    expectedRewards,
    scores: log.scores.slice(from * k, to * k),
    loggingValue: trueValue(expectedRewards, actionProbs, to - from, k),
  };
}

/** Draws an index from probs[offset .. offset+K); never returns an index of probability 0. */
export function sampleIndex(rng: Rng, probs: Float64Array, offset: number, K: number): number {
  let u = rng.uniform();
  let last = -1;
  for (let a = 0; a < K; a++) {
    const p = probs[offset + a]!;
    if (p <= 0) continue;
    last = a;
    u -= p;
    if (u < 0) return a;
  }
  return last; // rounding left u >= 0: the last action with positive probability
}

/** Throws E_GENERATOR_PARAM unless `v` is an integer in [min, max]. */
export function checkInt(name: string, v: number, min: number, max: number, flag: string): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    const range = max === Infinity ? `at least ${min}` : `between ${min} and ${max}`;
    throw new OffpolicyError('E_GENERATOR_PARAM', `${name} must be an integer ${range}, got ${v}.`, {
      hint: `Pass ${flag} with a value ${range}.`,
    });
  }
}

/**
 * Loads `log` into `table` and returns a SELECT of the stored columns: the
 * canonical bandit columns (row_id, context, action, reward, propensity,
 * action_probs) followed by `expected_reward DOUBLE[]`, the ground-truth q(x, a)
 * that only synthetic data can carry.
 */
export async function loadBanditTable(conn: DuckDBConnection, table: string, log: BanditLog): Promise<string> {
  const rowId = new Float64Array(log.n);
  for (let i = 0; i < log.n; i++) rowId[i] = i;
  await arraysToTable(conn, table, log.n, [
    { name: 'row_id', type: 'BIGINT', data: rowId },
    { name: 'context', type: 'FLOAT', data: log.contexts, width: log.contextDim },
    { name: 'action', type: 'INTEGER', data: log.actions },
    { name: 'reward', type: 'DOUBLE', data: log.rewards },
    { name: 'propensity', type: 'DOUBLE', data: log.propensities },
    { name: 'action_probs', type: 'DOUBLE', data: log.actionProbs, width: log.numActions },
    { name: 'expected_reward', type: 'DOUBLE', data: log.expectedRewards, width: log.numActions },
  ]);
  const context = log.contextDim === 1 ? '[context]::FLOAT[] AS context' : 'context';
  return `SELECT row_id, ${context}, action, reward, propensity, action_probs, expected_reward FROM ${ident(table)} ORDER BY row_id`;
}

/** Stores `log` as a new version of `name`; metadata.extra holds the generator parameters and the logger's true value. */
export async function writeBanditDataset(ws: Workspace, name: string, log: BanditLog): Promise<DatasetVersion> {
  const conn = await openMemoryConnection();
  try {
    const select = await loadBanditTable(conn, 'bandit_log', log);
    return await ws.createVersion({
      name,
      conn,
      select,
      metadata: {
        kind: 'bandit',
        actionSpace: { type: 'discrete', n: log.numActions },
        observationSpace: { type: 'box', shape: [log.contextDim] },
        extra: {
          generator: log.generator,
          params: log.params,
          loggingTrueValue: log.loggingValue,
          groundTruthColumn: 'expected_reward: q(x, a) for every action, known only for synthetic data',
        },
        lineage: {
          transform: log.generator.startsWith('multiclass') ? 'generate:multiclass' : 'generate:bandit',
          params: log.params,
          seed: log.seed,
        },
      },
    });
  } finally {
    conn.closeSync();
  }
}
