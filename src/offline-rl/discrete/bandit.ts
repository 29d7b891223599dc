/**
 * A logged-bandit dataset as training data for the discrete learners: every
 * row is a one-step episode that terminates (context -> observation, logged
 * action, reward; no next observation, nothing is bootstrapped), so a policy
 * can be trained on one log and scored by the OPE estimators on another.
 * On such data discrete IQL's Q(s, a) regresses the reward, V(s) is an upper
 * expectile of it under the logger, and the actor is the logger's choices
 * reweighted by exp(beta (Q - V)); BC clones the logger.
 *
 * behavior_logprob is log(propensity) when the log has propensities.
 */
import { readColumns, type ColumnSpec } from '../../datasets/columns.js';
import { ident, lit, queryOne, type DuckDBConnection } from '../../datasets/duckdb.js';
import type { TrajectoryArrays } from '../../datasets/load-trajectories.js';
import { spaceWidth } from '../../datasets/metadata.js';
import type { DatasetVersion } from '../../datasets/workspace.js';
import { OffpolicyError } from '../../core/errors.js';

/** What a bandit log needs to carry (BanditLog of the generators and BanditData of ope/load-bandit.ts both fit). */
export interface BanditArrays {
  n: number;
  numActions: number;
  contextDim: number;
  /** n x contextDim, row-major. */
  contexts: Float32Array;
  actions: Int32Array;
  rewards: Float64Array;
  propensities?: Float64Array | null;
  /** Optional stable row ids (episode ids of the one-step episodes); default 0..n-1. */
  rowIds?: Float64Array;
}

/** The log as one-step terminated episodes (see the module comment). */
export function banditLogToTrajectoryArrays(log: BanditArrays): TrajectoryArrays {
  const { n, contextDim: d, numActions: k } = log;
  if (d < 1) {
    throw new OffpolicyError('E_NO_CONTEXT', 'The bandit log has no context features, so a learned policy would have nothing to condition on.', {
      hint: 'Give the context as a FLOAT[] column named context, or name scalar feature columns (contextColumns / --context-columns).',
    });
  }
  if (log.contexts.length !== n * d || log.actions.length !== n || log.rewards.length !== n) {
    throw new OffpolicyError(
      'E_SHAPE',
      `A bandit log of ${n} rows with ${d} context features needs ${n * d} context values, ${n} actions and ${n} rewards; got ${log.contexts.length}, ${log.actions.length} and ${log.rewards.length}.`,
      { hint: 'Pass row-major arrays for the same n rows.' },
    );
  }
  const step = new Int32Array(n);
  const missing = new Uint8Array(n).fill(1);
  const next = new Float32Array(n * d).fill(NaN);
  let logp: Float64Array | null = null;
  if (log.propensities) {
    logp = new Float64Array(n);
    for (let i = 0; i < n; i++) logp[i] = Math.log(log.propensities[i]!);
  }
  const episodeId = log.rowIds ? Float64Array.from(log.rowIds) : Float64Array.from({ length: n }, (_, i) => i);
  return {
    n,
    obsDim: d,
    actDim: 1,
    discreteActions: k,
    observations: log.contexts,
    actions: log.actions,
    rewards: log.rewards,
    nextObservations: next,
    nextObservationMissing: missing,
    terminated: new Uint8Array(n).fill(1),
    truncated: new Uint8Array(n),
    episodeId,
    step,
    behaviorLogprob: logp,
    corrupted: null,
  };
}

export interface LoadBanditTrainingOptions {
  /** SQL condition over the stored columns (e.g. "row_id % 2 = 0"). */
  where?: string;
  /** Named scalar feature columns to use as the context instead of the `context` list column. */
  contextColumns?: string[];
}

/**
 * Reads a stored bandit log (kind "bandit") into training arrays, ordered by
 * row_id: the `context` FLOAT[] column (or `contextColumns`), action, reward,
 * and propensity when present. K comes from the action-space metadata, else
 * max(action) + 1.
 */
export async function loadBanditTrainingArrays(conn: DuckDBConnection, version: DatasetVersion, opts: LoadBanditTrainingOptions = {}): Promise<TrajectoryArrays> {
  const meta = version.metadata;
  if (meta.kind !== 'bandit') {
    throw new OffpolicyError('E_DATASET_KIND', `Dataset ${version.ref} is a ${meta.kind} dataset, not a bandit log.`, {
      hint: 'Load trajectory data with loadTrajectoryArrays.',
    });
  }
  const names = new Set(meta.columns.map((c) => c.name));
  const scan = `read_parquet(${lit(version.glob)})`;
  const where = opts.where ? ` WHERE ${opts.where}` : '';
  let contextExpr: string;
  let d: number;
  if (opts.contextColumns && opts.contextColumns.length > 0) {
    const absent = opts.contextColumns.filter((c) => !names.has(c));
    if (absent.length > 0) {
      throw new OffpolicyError('E_MISSING_COLUMN', `Context column(s) ${absent.join(', ')} are not in ${version.ref}.`, {
        hint: `Columns found: ${[...names].join(', ')}.`,
      });
    }
    contextExpr = `[${opts.contextColumns.map((c) => `${ident(c)}::FLOAT`).join(', ')}]`;
    d = opts.contextColumns.length;
  } else {
    if (!names.has('context')) {
      throw new OffpolicyError('E_NO_CONTEXT', `Bandit log ${version.ref} has no context column, so a learned policy would have nothing to condition on.`, {
        hint: `Name its feature columns with --context-columns (columns found: ${[...names].join(', ')}).`,
      });
    }
    const w = await queryOne(conn, `SELECT min(len(context)) AS lo, max(len(context)) AS hi FROM ${scan}${where}`);
    if (w.lo !== null && Number(w.lo) !== Number(w.hi)) {
      throw new OffpolicyError('E_RAGGED_VECTOR', `Column "context" of ${version.ref} has between ${w.lo} and ${w.hi} values per row.`, {
        hint: 'Every row of a vector column must have the same length.',
      });
    }
    contextExpr = 'context';
    d = meta.observationSpace?.type === 'box' ? spaceWidth(meta.observationSpace) : Number(w.lo ?? 0);
  }
  const hasP = names.has('propensity');
  const spec: Record<string, ColumnSpec> = {
    row_id: { type: 'i64' },
    context: { type: 'f32', width: d },
    action: { type: 'i32' },
    reward: { type: 'f64' },
    ...(hasP ? { propensity: { type: 'f64' } } : {}),
  };
  const sql = `SELECT row_id, ${contextExpr} AS context, action, reward${hasP ? ', propensity' : ''} FROM ${scan}${where} ORDER BY row_id`;
  const { n, columns: c } = await readColumns(conn, sql, spec);
  let k: number;
  if (meta.actionSpace?.type === 'discrete') k = meta.actionSpace.n;
  else {
    let max = -1;
    for (const a of c.action as Int32Array) max = Math.max(max, a);
    k = max + 1;
  }
  return banditLogToTrajectoryArrays({
    n,
    numActions: k,
    contextDim: d,
    contexts: c.context as Float32Array,
    actions: c.action as Int32Array,
    rewards: c.reward as Float64Array,
    propensities: hasP ? (c.propensity as Float64Array) : null,
    rowIds: c.row_id as Float64Array,
  });
}
