/**
 * Off-policy evaluation of candidates on a stored trajectory dataset: load the
 * steps (src/datasets/load-trajectories.ts), check them, resolve every candidate,
 * optionally obtain Q predictions per candidate (an injected provider, e.g.
 * fitted Q evaluation), score, and compare each candidate with the behaviour
 * policy's discounted return on the same episodes.
 */
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lit, openMemoryConnection, type DuckDBConnection } from '../../datasets/duckdb.js';
import { countTrajectoryRows, loadTrajectoryArrays, type TrajectoryArrays } from '../../datasets/load-trajectories.js';
import type { DatasetVersion, Workspace } from '../../datasets/workspace.js';
import type { Interval, Warning } from '../../core/evaluation-result.js';
import { tInterval } from '../intervals/t.js';
import { sumsFromTerms } from '../sums.js';
import { candidateName, checkCandidateNames } from '../../policies/candidates.js';
import { isTableCandidate, loadTrajectoryCandidate, type ResolvedCandidate, type TrajectoryCandidateInput, type TrajectoryPolicyDirLoader } from './candidates.js';
import { DEFAULT_GAMMA, discountedReturns, trajectoryOpeData, type TrajectoryOpeData } from './data.js';
import { checkBehaviorOptions, resolveBehaviorLogprob, type BehaviorModelOptions } from './behavior-model.js';
import type { TrajectoryBehaviorModel } from '../../core/trajectory-evaluation-result.js';
import type { ActionBox } from './kernel.js';
import { qColumnNames, qColumnsExtra, qColumnsFromValues } from './q-columns.js';
import { getTrajectoryEstimator } from './estimators/index.js';
import { DEFAULT_TRAJECTORY_ESTIMATORS, scoreCandidate, type CandidateScore, type QPredictions, type ScoreOptions } from './score.js';
import { deployVerdict, type TrajectoryVerdict } from './verdict.js';
import type { ReturnDistributionResult, ReturnDistributionSettings } from '../../core/trajectory-evaluation-result.js';
import { checkDistributionOptions, distributionGrid, distributionNeedsWeights, returnDistributionSettings, scoreCandidateDistribution, wantsDistributionIntervals, type DistributionIntervalOptions, type DistributionOptions } from './distribution/index.js';
import { learnMarginalWeights, type MwlSettings } from './marginal/mwl.js';
import { trajectoryPushdown, type PushdownDeclined } from './pushdown.js';
import { OffpolicyError } from '../../core/errors.js';
import { checkPushdownMode, type PushdownMode } from '../pushdown-mode.js';

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
  /**
   * 'auto' (default) loads only the columns the estimators read when every candidate is a table (no observations), or
   * sums in DuckDB (pushdown.ts) when the steps `where` selects x LEAN_BYTES_PER_STEP exceed `memoryBudgetBytes`
   * (when it cannot, the steps are loaded and the result warns PUSHDOWN_DECLINED with the reason);
   * 'duckdb' sums in DuckDB, refusing options it cannot sum (E_PUSHDOWN); 'never' loads every column.
   */
  pushdown?: PushdownMode;
  /** Memory the lean load may take under pushdown 'auto' (default DEFAULT_MEMORY_BUDGET_BYTES: 50M steps). */
  memoryBudgetBytes?: number;
  onProgress?: (stage: string, done: number, total: number) => void;
  /** Cumulative-distribution OPE of the discounted return (src/ope/trajectory/distribution/); in memory only. */
  distribution?: DistributionOptions;
  /** MIS / MDR: minimax weight learning settings (marginal/mwl.ts); the seed defaults to `seed`. */
  marginal?: MwlSettings;
  /** When behavior_logprob is absent (or mode 'fit'): fit pi_b, cross-fitted by episode (./behavior-model.ts). */
  behaviorModel?: BehaviorModelOptions;
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
  /** Present when log pi_b was fitted rather than read from behavior_logprob. */
  behaviorModel?: TrajectoryBehaviorModel;
  /** How the steps were read: 'scan' (only the columns the estimators read), 'memory' (every column) or 'duckdb' (summed in the database, pushdown.ts). */
  backend: 'scan' | 'memory' | 'duckdb';
  /** The grid, its rule and settings, and the behaviour policy's empirical return CDF, when distributions were asked for. */
  returnDistribution?: ReturnDistributionSettings;
}

/** Peak bytes per step of the lean load (1.25 GB at 10M steps, bench/trajectory-ope.ts). */
export const LEAN_BYTES_PER_STEP = 125;
/** Default memory budget of the lean load: 50M steps. */
export const DEFAULT_MEMORY_BUDGET_BYTES = 50e6 * LEAN_BYTES_PER_STEP;

/** Whether the DuckDB sums should be tried: asked for, or (auto) the lean load of `rows` steps would exceed the budget. */
export function wantsDuckdbPushdown(opts: Pick<TrajectoryEvaluateOptions, 'pushdown' | 'memoryBudgetBytes'>, rows: number): boolean {
  const mode = checkPushdownMode(opts.pushdown);
  const budget = opts.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES;
  if (!(budget > 0)) {
    throw new OffpolicyError('E_MEMORY_BUDGET', `The memory budget must be a positive number of bytes, got ${budget}.`, { hint: 'Pass e.g. memoryBudgetBytes: 8e9 (--memory-budget 8e9).' });
  }
  return mode === 'duckdb' || (mode === 'auto' && rows * LEAN_BYTES_PER_STEP > budget);
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
  const weighted = needsImportanceWeights(opts);
  if (opts.behaviorModel) checkBehaviorOptions(opts.behaviorModel);
  const fitted = weighted
    ? resolveBehaviorLogprob(a, opts.behaviorModel, {
        seed: opts.seed ?? 0,
        ...(meta.actionSpace ? { actionSpace: meta.actionSpace } : {}),
        ...(opts.actionBox ? { actionBox: opts.actionBox } : {}),
        ...(opts.onProgress ? { onProgress: (done: number, total: number) => opts.onProgress!('fitting the behaviour model', done, total) } : {}),
      })
    : null;
  const d = trajectoryOpeData(fitted ? { ...a, behaviorLogprob: fitted.logprob } : a, gamma, { requireBehaviorLogprob: weighted });
  const behaviour = behaviourValue(d, opts.alpha ?? 0.05);
  const grid = dist ? distributionGrid(d, dist) : null;
  // bootstrap intervals of the return distributions' statistics (distribution/intervals.ts), with the value intervals' alpha, seed and resamples
  const cdIntervals = (stage: string): DistributionIntervalOptions | undefined =>
    dist && wantsDistributionIntervals(dist, opts.interval ?? 't', d.episodes.count)
      ? { alpha: opts.alpha ?? 0.05, seed: opts.seed ?? 0, ...(opts.resamples !== undefined ? { resamples: opts.resamples } : {}), ...(opts.onProgress ? { onProgress: (done: number, total: number) => opts.onProgress!(stage, done, total) } : {}) }
      : undefined;
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
      const cd = scoreCandidateDistribution(d, grid.grid, dist, cand, q, opts.clip, cdIntervals(`return-distribution intervals: ${cand.name}`));
      distribution = cd.result;
      score.warnings.push(...cd.warnings);
      modelSource = cd.model ?? modelSource;
    }
    if (fitted && (score.weights || distribution)) score.warnings.push(fitted.warnings[0]!);
    candidates.push({ ...score, verdict: deployVerdict(score, behaviour, opts.alpha ?? 0.05), q: q ? { source: q.source } : null, ...(distribution ? { distribution } : {}) });
  }
  opts.onProgress?.('candidates', total, total);
  return {
    setting: 'trajectory',
    dataset: { ref: meta.ref, episodes: d.episodes.count, steps: d.n, horizon: d.episodes.horizon, obsDim: a.obsDim, actDim: a.actDim, ...(a.discreteActions !== undefined ? { discreteActions: a.discreteActions } : {}) },
    gamma,
    behaviour,
    candidates,
    warnings: fitted ? fitted.warnings : [],
    ...(fitted ? { behaviorModel: fitted.summary } : {}),
    backend: 'memory',
    ...(dist && grid ? { returnDistribution: returnDistributionSettings(d, grid, dist, modelSource, cdIntervals('return-distribution intervals: behaviour')) } : {}),
  };
}

/**
 * Evaluates candidates on a stored trajectory dataset of the workspace. When
 * every candidate is a table and no Q provider is injected, only the columns
 * the estimators read are loaded (no observations) and the result says
 * backend 'scan'; `pushdown: 'never'` loads every column ('memory');
 * `pushdown: 'duckdb'`, or 'auto' beyond the memory budget, sums in DuckDB
 * without holding the steps ('duckdb', pushdown.ts) when it can. When it
 * cannot, 'duckdb' refuses the options it cannot sum (E_PUSHDOWN) and 'auto'
 * loads the steps with a PUSHDOWN_DECLINED warning; data the SQL checks reject
 * goes to the in-memory path, whose coded errors name the steps.
 */
export async function evaluateTrajectoryDataset(ws: Workspace, data: string, opts: TrajectoryEvaluateOptions): Promise<TrajectoryEvaluation> {
  const version = await ws.resolve(data);
  const conn = await openMemoryConnection();
  try {
    let rows = version.metadata.rowCount;
    // the budget holds the steps `where` selects: counted (the loader's own where) when the stored steps would exceed it
    if (opts.where && opts.pushdown !== 'duckdb' && wantsDuckdbPushdown(opts, rows)) rows = await countTrajectoryRows(conn, version, opts.where);
    let declined: Warning | null = null;
    if (wantsDuckdbPushdown(opts, rows)) {
      // DuckDB keeps to the budget (at least 256 MB, its working minimum here), spilling to a temporary directory beyond it
      const budget = opts.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES;
      await conn.run(`SET memory_limit = '${Math.floor(Math.max(budget, 256e6) / 1e6)}MB'`);
      await conn.run(`SET temp_directory = ${lit(path.join(tmpdir(), `offpolicy-duckdb-${process.pid}`))}`);
      const pushed = await trajectoryPushdown(conn, version, opts);
      if (!('declined' in pushed)) return pushed;
      // asked for explicitly, options it cannot sum are refused; data it rejects goes to the in-memory path, whose coded errors name the steps
      if (opts.pushdown === 'duckdb' && pushed.cause === 'unsupported') {
        throw new OffpolicyError('E_PUSHDOWN', `The DuckDB pushdown (pushdown 'duckdb') cannot run: ${pushed.declined}.`, {
          hint: `To sum in DuckDB, ${pushed.hint}; or use pushdown 'auto' (--pushdown auto) to load the steps into memory.`,
        });
      }
      // 'auto' counted the steps `where` selects already; 'duckdb' did not need them until now
      declined = pushdownDeclinedWarning(pushed, opts.pushdown === 'duckdb' ? await countTrajectoryRows(conn, version, opts.where) : rows, budget, opts);
      await conn.run('RESET memory_limit');
    }
    // one thread: an order-preserving scan of a few columns costs DuckDB several times less CPU than on two
    await conn.run('SET threads = 1');
    const qCols = opts.qProvider ? null : qColumnNames(opts.rewardModel);
    // observations are needed to fit Q (no Q columns) or to learn marginal weights
    const ids = opts.estimators ?? DEFAULT_TRAJECTORY_ESTIMATORS;
    // ... or to fit the behaviour policy (behavior_logprob absent, or behaviour model 'fit')
    const mode = opts.behaviorModel?.mode ?? 'auto';
    const fitsBehavior = needsImportanceWeights(opts) && (mode === 'fit' || (mode === 'auto' && !version.metadata.columns.some((c) => c.name === 'behavior_logprob')));
    const needsObs = fitsBehavior || ids.some((id) => { const e = getTrajectoryEstimator(id); return e.needsMarginal === true || (e.needsQ && !qCols); });
    const lean = opts.pushdown !== 'never' && !opts.qProvider && !needsObs && opts.candidates.length > 0 && opts.candidates.every(isTableCandidate);
    const a = await loadTrajectoryArrays(conn, version, { where: opts.where, observations: !lean, ...(qCols ? { extra: qColumnsExtra(version, qCols) } : {}) });
    const qProvider = opts.qProvider ?? (qCols ? qColumnsFromValues(version.ref, qCols, qCols.map((_, k) => a.extra![`q${k}`] as Float64Array)) : undefined);
    const ev = await evaluateTrajectoryArrays(a, { ...opts, ...(qProvider ? { qProvider } : {}) }, { ref: version.ref, actionSpace: version.metadata.actionSpace, conn });
    return { ...ev, backend: lean ? 'scan' : 'memory', ...(declined ? { warnings: [declined, ...ev.warnings] } : {}) };
  } finally {
    conn.closeSync();
  }
}

/** PUSHDOWN_DECLINED: the steps were loaded although the pushdown was asked for, or (auto) their lean load exceeds the memory budget. */
function pushdownDeclinedWarning(d: PushdownDeclined, rows: number, budget: number, opts: TrajectoryEvaluateOptions): Warning {
  const bytes = (x: number) => `${Math.round(x).toLocaleString('en-US')} bytes`;
  const size = `about ${bytes(rows * LEAN_BYTES_PER_STEP)} (${rows.toLocaleString('en-US')} steps${opts.where ? ' selected by where' : ''} x ${LEAN_BYTES_PER_STEP} bytes for the lean load; loading every column takes more)`;
  const message =
    opts.pushdown === 'duckdb'
      ? `The DuckDB pushdown was asked for but declined: ${d.declined}. The steps were loaded into memory instead, ${size}. To sum in DuckDB, ${d.hint}.`
      : `The steps were loaded into memory although they take ${size}, over the memory budget of ${bytes(budget)}: the DuckDB pushdown declined because ${d.declined}. ` +
        `To stay within the budget, ${d.hint}; or raise the budget (--memory-budget, memoryBudgetBytes) if the machine has the memory.`;
  return { code: 'PUSHDOWN_DECLINED', message };
}

/** Whether any requested estimator (or return-distribution estimator) weights by pi / pi_b, so needs behaviour log-probabilities. */
function needsImportanceWeights(opts: TrajectoryEvaluateOptions): boolean {
  const ids = opts.estimators ?? DEFAULT_TRAJECTORY_ESTIMATORS;
  if (ids.some((id) => getTrajectoryEstimator(id).needsWeights)) return true;
  return opts.distribution !== undefined && distributionNeedsWeights(checkDistributionOptions(opts.distribution).estimators);
}
