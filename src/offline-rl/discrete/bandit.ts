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
import type { DuckDBConnection } from '../../datasets/duckdb.js';
import { loadBanditArrays, type BanditArrays, type LoadBanditOptions } from '../../datasets/load-bandit.js';
import type { TrajectoryArrays } from '../../datasets/load-trajectories.js';
import type { DatasetVersion } from '../../datasets/workspace.js';
import { OffpolicyError } from '../../core/errors.js';

/** The log as one-step terminated episodes (see the module comment). */
export function banditLogToTrajectoryArrays(log: Pick<BanditArrays, 'n' | 'numActions' | 'contextDim' | 'contexts' | 'actions' | 'rewards' | 'rowIds' | 'features'> & { propensities?: Float64Array | null }): TrajectoryArrays {
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
    ...(log.features ? { features: log.features } : {}),
  };
}


/**
 * Reads a stored bandit log into training arrays (loadBanditArrays, then one-step
 * episodes): a learner needs a context to condition on.
 */
export async function loadBanditTrainingArrays(conn: DuckDBConnection, version: DatasetVersion, opts: LoadBanditOptions = {}): Promise<TrajectoryArrays> {
  const names = version.metadata.columns.map((c) => c.name);
  if (version.metadata.kind === 'bandit' && !(opts.contextColumns && opts.contextColumns.length > 0) && !(opts.categorical && opts.categorical.length > 0) && !names.includes('context')) {
    throw new OffpolicyError('E_NO_CONTEXT', `Bandit log ${version.ref} has no context column, so a learned policy would have nothing to condition on.`, {
      hint: `Name its feature columns with --context-columns, or categorical ones with --categorical (columns found: ${names.join(', ')}).`,
    });
  }
  return banditLogToTrajectoryArrays(await loadBanditArrays(conn, version, { nullRewardsFix: 'Train on the rows with rewards with --where "reward IS NOT NULL" (library: where), which assumes rewards are missing at random', ...opts }));
}
