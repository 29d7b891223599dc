/**
 * Off-policy evaluation of candidates on a stored trajectory dataset: load the
 * steps (src/datasets/load-trajectories.ts), check them, resolve every candidate,
 * optionally obtain Q predictions per candidate (an injected provider, e.g.
 * fitted Q evaluation), score, and compare each candidate with the behaviour
 * policy's discounted return on the same episodes.
 */
import { openMemoryConnection, type DuckDBConnection } from '../../datasets/duckdb.js';
import { loadTrajectoryArrays, type TrajectoryArrays } from '../../datasets/load-trajectories.js';
import type { DatasetVersion, Workspace } from '../../datasets/workspace.js';
import type { Interval, Warning } from '../../core/evaluation-result.js';
import { tInterval } from '../intervals/t.js';
import { sumsFromTerms } from '../sums.js';
import { candidateName, checkCandidateNames } from '../../policies/candidates.js';
import { isTableCandidate, loadTrajectoryCandidate, type ResolvedCandidate, type TrajectoryCandidateInput, type TrajectoryPolicyDirLoader } from './candidates.js';
import { DEFAULT_GAMMA, discountedReturns, trajectoryOpeData, type TrajectoryOpeData } from './data.js';
import type { ActionBox } from './kernel.js';
import { qColumnNames, qColumnsExtra, qColumnsFromValues } from './q-columns.js';
import { getTrajectoryEstimator } from './estimators/index.js';
import { DEFAULT_TRAJECTORY_ESTIMATORS, scoreCandidate, type CandidateScore, type QPredictions, type ScoreOptions } from './score.js';
import { deployVerdict, type TrajectoryVerdict } from './verdict.js';
import type { ReturnDistributionResult, ReturnDistributionSettings } from '../../core/trajectory-evaluation-result.js';
import { checkDistributionOptions, distributionGrid, distributionNeedsWeights, returnDistributionSettings, scoreCandidateDistribution, type DistributionOptions } from './distribution/index.js';
import { learnMarginalWeights, type MwlSettings } from './marginal/mwl.js';

/** Supplies Q predictions for a candidate (fitted Q evaluation, or Q columns); null = none. */
export type QProvider = (cand: ResolvedCandidate, steps: TrajectoryArrays, gamma: number) => Promise<QPredictions | null>;

export interface TrajectoryEvaluateOptions extends ScoreOptions {
  gamma?: number;
  candidates: TrajectoryCandidateInput[];
  loadPolicyDir?: TrajectoryPolicyDirLoader;
  /** Kernel bandwidth for deterministic continuous candidates (box-scaled units). */
  bandwidth?: number;
  actionBox?: ActionBox;
  qProvider?: QProvider;
  /** Q for DM / DR when no qProvider is given: "columns:q_0,...,q_{K-1}" (columns of the dataset). */
  rewardModel?: string;
  /** Optional SQL condition over the stored columns. */
  where?: string;
  /** 'auto' (default) loads only the columns the estimators read when every candidate is a table (no observations); 'never' loads every column. */
  pushdown?: 'auto' | 'never';
  onProgress?: (stage: string, done: number, total: number) => void;
  /** Cumulative-distribution OPE of the discounted return (src/ope/trajectory/distribution/); in memory only. */
  distribution?: DistributionOptions;
  /** MIS / MDR: minimax weight learning settings (marginal/mwl.ts); the seed defaults to `seed`. */
  marginal?: MwlSettings;
}

export interface BehaviourValue {
  /** Mean discounted return of the logged episodes (on-policy). */
  value: number;
  interval?: Interval;
  /** Per-episode discounted returns. */
  returns?: Float64Array;
}

export interface TrajectoryCandidateResult extends CandidateScore {
  verdict: TrajectoryVerdict;
  q: { source: string } | null;
  distribution?: ReturnDistributionResult;
}

export interface TrajectoryEvaluation {
  setting: 'trajectory';
  dataset: { ref: string; episodes: number; steps: number; horizon: number; obsDim: number; actDim: number; discreteActions?: number };
  gamma: number;
  behaviour: BehaviourValue;
  candidates: TrajectoryCandidateResult[];
  warnings: Warning[];
  /** How the steps were loaded: 'scan' (only the columns the estimators read) or 'memory' (every column). */
  backend: 'scan' | 'memory';
  /** The grid, its rule and settings, and the behaviour policy's empirical return CDF, when distributions were asked for. */
  returnDistribution?: ReturnDistributionSettings;
}

/** The behaviour policy's value on the same episodes: mean discounted return, t interval. */
export function behaviourValue(d: TrajectoryOpeData, alpha = 0.05): BehaviourValue {
  const returns = discountedReturns(d);
  const s = sumsFromTerms({ num: returns, den: null, base: null });
  return { value: s.sumNum / s.n, ...(s.n >= 2 ? { interval: tInterval(s, alpha) } : {}), returns };
}

/** Evaluates candidates on already-loaded trajectory arrays (the library form; evaluateTrajectoryDataset loads them). */
export async function evaluateTrajectoryArrays(
  a: TrajectoryArrays,
  opts: TrajectoryEvaluateOptions,
  meta: { ref: string; actionSpace?: DatasetVersion['metadata']['actionSpace']; conn?: DuckDBConnection } = { ref: 'arrays' },
): Promise<TrajectoryEvaluation> {
  const gamma = opts.gamma ?? DEFAULT_GAMMA;
  const ids = opts.estimators ?? DEFAULT_TRAJECTORY_ESTIMATORS;
  const dist = opts.distribution ? checkDistributionOptions(opts.distribution) : null;
  const d = trajectoryOpeData(a, gamma, { requireBehaviorLogprob: ids.some((id) => getTrajectoryEstimator(id).needsWeights) || (dist !== null && distributionNeedsWeights(dist.estimators)) });
  const behaviour = behaviourValue(d, opts.alpha ?? 0.05);
  const grid = dist ? distributionGrid(d, dist) : null;
  let modelSource: string | undefined;
  checkCandidateNames(opts.candidates.map(candidateName));
  const candidates: TrajectoryCandidateResult[] = [];
  const total = opts.candidates.length;
  for (let j = 0; j < total; j++) {
    opts.onProgress?.('candidates', j, total);
    const cand = await loadTrajectoryCandidate(opts.candidates[j]!, {
      steps: a,
      actionSpace: meta.actionSpace,
      conn: meta.conn,
      loadPolicyDir: opts.loadPolicyDir,
      bandwidth: opts.bandwidth,
      actionBox: opts.actionBox,
    });
    const q = opts.qProvider ? await opts.qProvider(cand, a, gamma) : null;
    const marginal = ids.some((id) => getTrajectoryEstimator(id).needsMarginal) ? learnMarginalWeights(a, d, cand, { seed: opts.seed ?? 0, ...opts.marginal }) : undefined;
    const score = scoreCandidate(d, cand, opts, q ?? undefined, marginal);
    let distribution: ReturnDistributionResult | undefined;
    if (dist && grid) {
      const cd = scoreCandidateDistribution(d, grid.grid, dist, cand, q, opts.clip);
      distribution = cd.result;
      score.warnings.push(...cd.warnings);
      modelSource = cd.model ?? modelSource;
    }
    candidates.push({ ...score, verdict: deployVerdict(score, behaviour, opts.alpha ?? 0.05), q: q ? { source: q.source } : null, ...(distribution ? { distribution } : {}) });
  }
  opts.onProgress?.('candidates', total, total);
  return {
    setting: 'trajectory',
    dataset: { ref: meta.ref, episodes: d.episodes.count, steps: d.n, horizon: d.episodes.horizon, obsDim: a.obsDim, actDim: a.actDim, ...(a.discreteActions !== undefined ? { discreteActions: a.discreteActions } : {}) },
    gamma,
    behaviour,
    candidates,
    warnings: [],
    backend: 'memory',
    ...(dist && grid ? { returnDistribution: returnDistributionSettings(d, grid, dist, modelSource) } : {}),
  };
}

/**
 * Evaluates candidates on a stored trajectory dataset of the workspace. When
 * every candidate is a table and no Q provider is injected, only the columns
 * the estimators read are loaded (no observations) and the result says
 * backend 'scan'; `pushdown: 'never'` loads every column ('memory').
 */
export async function evaluateTrajectoryDataset(ws: Workspace, data: string, opts: TrajectoryEvaluateOptions): Promise<TrajectoryEvaluation> {
  const version = await ws.resolve(data);
  const conn = await openMemoryConnection();
  try {
    // one thread: an order-preserving scan of a few columns costs DuckDB several times less CPU than on two
    await conn.run('SET threads = 1');
    const qCols = opts.qProvider ? null : qColumnNames(opts.rewardModel);
    // observations are needed to fit Q (no Q columns) or to learn marginal weights
    const ids = opts.estimators ?? DEFAULT_TRAJECTORY_ESTIMATORS;
    const needsObs = ids.some((id) => { const e = getTrajectoryEstimator(id); return e.needsMarginal === true || (e.needsQ && !qCols); });
    const lean = opts.pushdown !== 'never' && !opts.qProvider && !needsObs && opts.candidates.length > 0 && opts.candidates.every(isTableCandidate);
    const a = await loadTrajectoryArrays(conn, version, { where: opts.where, observations: !lean, ...(qCols ? { extra: qColumnsExtra(version, qCols) } : {}) });
    const qProvider = opts.qProvider ?? (qCols ? qColumnsFromValues(version.ref, qCols, qCols.map((_, k) => a.extra![`q${k}`] as Float64Array)) : undefined);
    const ev = await evaluateTrajectoryArrays(a, { ...opts, ...(qProvider ? { qProvider } : {}) }, { ref: version.ref, actionSpace: version.metadata.actionSpace, conn });
    return { ...ev, backend: lean ? 'scan' : 'memory' };
  } finally {
    conn.closeSync();
  }
}
