/**
 * The evaluate pipeline: a bandit log + candidate policies -> EvaluationResult
 * (estimates with intervals, certificates, diagnostics, warnings, a verdict per
 * candidate, and ground-truth accuracy on synthetic data).
 *
 * It runs as plan -> backend -> assemble (./bandit/plan.ts): one plan for every
 * candidate; a backend returns one record of sums per candidate; ./bandit/assemble.ts
 * turns each record into the candidate's result. The backend:
 *  - DuckDB (./bandit/backend-duckdb.ts): candidate probabilities and reward
 *    predictions are columns and the interval is t / hoeffding / bernstein: one
 *    aggregate per candidate over the Parquet files (the first one also carries
 *    the logging value and the dataset summary), nothing per-row in JS;
 *  - in memory (./bandit/backend-memory.ts): the log is loaded into typed arrays
 *    (../datasets/load-bandit.ts); needed for JSON / learned policies, fitted
 *    reward models, estimated propensities and the bootstrap.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, rename, stat, writeFile } from 'node:fs/promises';
import { sha256File } from '../datasets/fs-guard.js';
import path from 'node:path';
import { OffpolicyError } from '../core/errors.js';
import { openMemoryConnection, queryOne, queryRows, type DuckDBConnection } from '../datasets/duckdb.js';
import { loadBanditArrays, MISSING_AT_RANDOM, numActionsOf, observedRewardsView, readContexts, readMatrix, requireBandit, versionScan, type BanditArrays } from '../datasets/load-bandit.js';
import { actionFeaturesOf, describeFeatures, resolveFeatures } from '../datasets/features.js';
import type { DatasetVersion, Workspace } from '../datasets/workspace.js';
import { candidateFrom, candidateLeafPaths, candidateName, checkCandidateNames, candidateRowChecks, checkSqlCandidate, isPositionAware, loadCandidate, type Candidate, type PolicyInput, type PolicyDirLoader } from '../policies/candidates.js';
import { checkProbabilityMatrix } from '../policies/probabilities.js';
import { vecAsList, vecDot, type SqlVector } from '../policies/sql-vector.js';
import { VERSION } from '../version.js';
import { accuracyMetrics } from './accuracy.js';
import { admitted, assembleCandidate, banditPlan, deficiencyOf, sumsInterval, type AssembleContext } from './bandit/assemble.js';
import { duckdbCandidateSums, footerStats, type DuckdbScanResult } from './bandit/backend-duckdb.js';
import { memoryCandidateSums } from './bandit/backend-memory.js';
import type { BanditPlan, CandidateSums } from './bandit/plan.js';
import { ESTIMATOR_IDS, getEstimator, resolveParams, termRange } from './estimators/index.js';
import type { BanditBatch, EstimatorId, RowTerms } from './estimators/types.js';
import { bootstrapIntervals } from './intervals/bootstrap.js';
import { DEFAULT_POISSON_BUCKETS, poissonBootstrapIntervals } from './intervals/poisson-bootstrap.js';
import { runPoissonBootstrap } from './bandit/poisson-bootstrap-sql.js';
import { DUCKDB } from './bandit/sql-dialect.js';
import { bettingMeanInterval } from './intervals/betting.js';
import { empiricalLikelihoodMeanInterval } from './intervals/empirical-likelihood.js';
import { intervalsForTerms } from './intervals/index.js';
import { needsRows } from './intervals/row-methods.js';
import { loggedInputs } from './estimators/inputs.js';
import { checkEvaluationLimits } from '../datasets/limits.js';
import { logSummaryFromGroups, logSummarySelect, type LogSummary } from './log-summary.js';
import { estimatePropensities } from './propensity.js';
import { describeRewardModelInputs, estimateRewardHat, fitRewardModel, parseRewardModelSpec, type RewardModelSpec } from './reward-models/index.js';
import type { RewardData } from '../core/contracts.js';
import { sumsFromTerms, sumsValue } from './sums.js';
import { checkPushdownMode, type PushdownMode } from './pushdown-mode.js';
import { rewardModelFit } from './reward-models/fit-quality.js';
import { dmUncertainty, type DmUncertainty } from './reward-models/uncertainty.js';
import type { AccuracyMetrics, CandidateResult, EvaluationResult, Interval, IntervalMethod, RewardModelFit, Warning } from '../core/evaluation-result.js';
import type { AnyEvaluationResult, TrajectoryEvaluationResult } from '../core/trajectory-evaluation-result.js';
import { evaluateTrajectories, type EvaluateTrajectoriesOptions } from './trajectory/result.js';

export interface EvaluateOptions {
  /** Loads a trained-policy directory given as a candidate (the CLI passes the offline-RL loader; ope never imports a learner). */
  loadPolicyDir?: PolicyDirLoader;
  /** Dataset reference: "name" or "name@version". */
  data: string;
  policies: PolicyInput[];
  /** Estimator ids (default: all nine). */
  estimators?: string[];
  interval?: IntervalMethod;
  alpha?: number;
  resamples?: number;
  seed?: number;
  /** Hash buckets of the Poisson bootstrap (interval 'poisson-bootstrap'; default 10,000). */
  bootstrapBuckets?: number;
  /** L for clipped IPS, Switch-DR, DR-OS (and tau = 1 / L for the clipped certificates). */
  clip?: number;
  smoothingAlpha?: number;
  /** ridge | ridge-per-action | logistic | mlp | columns:q_0,...  (default: logistic for rewards in [0, 1], else ridge). */
  rewardModel?: string;
  /** Cross-fitting folds for fitted reward models (default 1: no cross-fitting). */
  folds?: number;
  allowDeficient?: boolean;
  strict?: boolean;
  rewardRange?: [number, number];
  /** Named scalar feature columns to use as the context (default: the `context` column). */
  contextColumns?: string[];
  /** Columns to one-hot encode (added to the context when not in contextColumns; see datasets/features.ts). */
  categorical?: string[];
  /** Levels kept per categorical column before "other" (default 32). */
  maxLevels?: number;
  /** Join the log's item table (metadata.extra.itemContext) by action into fitted reward models (default true). */
  itemFeatures?: boolean;
  /** 'auto' (default) uses the DuckDB fast path when it can; 'duckdb' requires it (E_PUSHDOWN naming why it cannot run); 'never' forces the in-memory path. */
  pushdown?: PushdownMode;
  /** Estimator id or certificate kind whose lower bound decides the verdict (default: see VERDICT_PREFERENCE). */
  verdictSource?: string;
  /**
   * Score only the rows whose reward is observed, assuming rewards are missing at
   * random (the result says so). Without it a log with NULL rewards is refused (E_NULL_REWARDS).
   */
  observedRewardsOnly?: boolean;
  /** The command line, recorded for reproduction. */
  command?: string;
  onProgress?: (done: number, total: number, stage: string) => void;
  /** A bandit result (the default): trajectory data is refused with E_DATASET_KIND. See DispatchEvaluateOptions. */
  setting?: 'bandit';
}

/**
 * evaluate() options that dispatch on the dataset's kind: `setting: 'auto'`
 * returns AnyEvaluationResult (told apart by its `setting`), 'trajectory' a
 * trajectory result (other data is refused), 'bandit' a bandit one.
 */
export interface DispatchEvaluateOptions extends Omit<EvaluateOptions, 'setting'> {
  setting: 'bandit' | 'trajectory' | 'auto';
  /** Trajectory data only: discount, fitted Q evaluation, kernel bandwidth, selection. */
  trajectory?: TrajectoryEvaluateSettings;
}

/** The options of a trajectory evaluation that a bandit one does not have (see evaluateTrajectories). */
export type TrajectoryEvaluateSettings = Pick<EvaluateTrajectoriesOptions, 'gamma' | 'fqe' | 'marginal' | 'bandwidth' | 'actionBox' | 'topK' | 'threshold' | 'trueValues' | 'where' | 'termRange' | 'distribution' | 'pushdown' | 'memoryBudgetBytes' | 'behaviorModel'>;

export function checkEstimators(ids: string[] | undefined): EstimatorId[] {
  const list = ids && ids.length > 0 ? ids : [...ESTIMATOR_IDS];
  const out: EstimatorId[] = [];
  for (const id of list) {
    const spec = getEstimator(id.trim());
    if (!out.includes(spec.id)) out.push(spec.id);
  }
  return out;
}

export function checkOptions(opts: Pick<EvaluateOptions, 'policies' | 'interval' | 'alpha' | 'rewardRange'>): void {
  if (!opts.policies || opts.policies.length === 0) {
    throw new OffpolicyError('E_NO_POLICY', 'No candidate policy to evaluate.', { hint: 'Pass at least one --policy FILE (or column:NAME).' });
  }
  checkCandidateNames(opts.policies.map(candidateName));
  const interval = opts.interval ?? 'bootstrap';
  if (!['bootstrap', 't', 'hoeffding', 'bernstein', 'poisson-bootstrap', 'betting', 'empirical-likelihood'].includes(interval)) {
    throw new OffpolicyError('E_INTERVAL_METHOD', `Unknown interval method "${interval}".`, { hint: 'Use bootstrap, t, hoeffding, bernstein, poisson-bootstrap, betting or empirical-likelihood.' });
  }
  if (opts.alpha !== undefined && !(opts.alpha > 0 && opts.alpha < 1)) {
    throw new OffpolicyError('E_ALPHA', `The miscoverage level alpha must lie strictly between 0 and 1, got ${opts.alpha}.`, { hint: 'Use e.g. --alpha 0.05 for a 95% interval.' });
  }
  if (opts.rewardRange && !(opts.rewardRange[0] < opts.rewardRange[1])) {
    throw new OffpolicyError('E_RANGE', `The reward range [${opts.rewardRange[0]}, ${opts.rewardRange[1]}] must have min < max.`, { hint: 'Pass --reward-range MIN,MAX.' });
  }
}

function has(v: DatasetVersion, column: string): boolean {
  return v.metadata.columns.some((c) => c.name === column);
}

/** The log's list/scalar column(s) as an SqlVector over alias l. */
function logVector(v: DatasetVersion, columns: string[], k: number): SqlVector {
  const missing = columns.filter((c) => !has(v, c));
  if (missing.length > 0) {
    throw new OffpolicyError('E_MISSING_COLUMN', `Reward-prediction column(s) ${missing.join(', ')} are not in ${v.ref}.`, {
      hint: `Columns found: ${v.metadata.columns.map((c) => c.name).join(', ')}.`,
    });
  }
  const q = (c: string): string => `l."${c.replaceAll('"', '""')}"`;
  if (columns.length === 1) return { kind: 'list', expr: q(columns[0]!) };
  if (columns.length !== k) {
    throw new OffpolicyError('E_ACTION_SPACE', `${columns.length} reward-prediction columns were given, but the log's action space has K = ${k} actions.`, {
      hint: 'Give one prediction column per action, in action order (columns:q_0,...,q_{K-1}), or one DOUBLE[K] column.',
    });
  }
  return { kind: 'scalars', exprs: columns.map(q) };
}

/**
 * Evaluates candidate policies on a stored dataset. With `setting: 'auto'` it
 * dispatches on the dataset's kind: a bandit log goes through the bandit
 * pipeline (below), trajectory data through evaluateTrajectories (DuckDB
 * pushdown when the candidates are tables and Q is columns, else in memory).
 */
export function evaluate(ws: Workspace, opts: EvaluateOptions | (DispatchEvaluateOptions & { setting: 'bandit' })): Promise<EvaluationResult>;
export function evaluate(ws: Workspace, opts: DispatchEvaluateOptions & { setting: 'trajectory' }): Promise<TrajectoryEvaluationResult>;
export function evaluate(ws: Workspace, opts: DispatchEvaluateOptions): Promise<AnyEvaluationResult>;
export async function evaluate(ws: Workspace, opts: EvaluateOptions | DispatchEvaluateOptions): Promise<AnyEvaluationResult> {
  checkOptions(opts);
  const version = await ws.resolve(opts.data);
  const setting = opts.setting ?? 'bandit';
  if (!['bandit', 'trajectory', 'auto'].includes(setting)) {
    throw new OffpolicyError('E_SETTING', `Unknown evaluation setting "${setting}".`, { hint: "Use 'bandit', 'trajectory' or 'auto' (dispatch on the dataset kind)." });
  }
  if (version.metadata.kind === 'trajectory') {
    if (setting === 'bandit') {
      throw new OffpolicyError('E_DATASET_KIND', `Dataset ${version.ref} holds trajectories, and evaluate() was asked for a bandit result.`, {
        hint: "Pass setting: 'auto' (dispatch on the dataset kind; the result is AnyEvaluationResult) or 'trajectory'.",
      });
    }
    return evaluateTrajectoryData(ws, opts as DispatchEvaluateOptions);
  }
  if (setting === 'trajectory') {
    throw new OffpolicyError('E_DATASET_KIND', `Dataset ${version.ref} is a ${version.metadata.kind} log, not trajectory data.`, { hint: "Pass setting: 'auto' or 'bandit'." });
  }
  const t = 'trajectory' in opts ? opts.trajectory : undefined;
  if (t && Object.keys(t).length > 0) {
    throw new OffpolicyError('E_OPTION_SETTING', `Dataset ${version.ref} is a bandit log; the trajectory options (${Object.keys(t).join(', ')}) do not apply.`, { hint: 'Drop them, or evaluate trajectory data.' });
  }
  const { setting: _s, ...bandit } = opts as DispatchEvaluateOptions;
  return evaluateBandit(ws, bandit, version);
}

/** The bandit options that have no meaning on trajectory data, when set. */
function banditOnly(opts: DispatchEvaluateOptions): string[] {
  const out: string[] = [];
  if (opts.policies.some((p) => p.probColumns)) out.push('probColumns');
  if (opts.smoothingAlpha !== undefined) out.push('smoothingAlpha');
  if (opts.contextColumns) out.push('contextColumns');
  if (opts.verdictSource !== undefined) out.push('verdictSource');
  if (opts.allowDeficient) out.push('allowDeficient');
  if (opts.strict) out.push('strict');
  return out;
}

async function evaluateTrajectoryData(ws: Workspace, opts: DispatchEvaluateOptions): Promise<TrajectoryEvaluationResult> {
  const bad = banditOnly(opts);
  if (bad.length > 0) {
    throw new OffpolicyError('E_OPTION_SETTING', `Dataset ${opts.data} holds trajectories; the bandit option(s) ${bad.join(', ')} do not apply.`, {
      hint: 'Drop them (trajectory candidates are policies or tables keyed by (episode_id, step) with p_0..p_{K-1} or logprob).',
    });
  }
  const t = opts.trajectory ?? {};
  const progress = opts.onProgress;
  return evaluateTrajectories(ws, {
    ...t,
    data: opts.data,
    candidates: opts.policies.map((p) => ({ ...(p.name !== undefined ? { name: p.name } : {}), spec: p.spec })),
    ...(opts.loadPolicyDir ? { loadPolicyDir: opts.loadPolicyDir } : {}),
    ...(opts.estimators ? { estimators: opts.estimators } : {}),
    interval: opts.interval ?? 'bootstrap',
    ...(opts.alpha !== undefined ? { alpha: opts.alpha } : {}),
    ...(opts.resamples !== undefined ? { resamples: opts.resamples } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.clip !== undefined ? { clip: opts.clip } : {}),
    ...(opts.rewardModel !== undefined ? { rewardModel: opts.rewardModel } : {}),
    ...(opts.rewardRange ? { rewardRange: opts.rewardRange } : {}),
    ...(opts.pushdown ? { pushdown: opts.pushdown } : {}),
    ...(opts.command ? { command: opts.command } : {}),
    fqe: {
      ...(opts.folds !== undefined ? { folds: opts.folds } : {}),
      ...t.fqe,
      ...(progress && !t.fqe?.onProgress ? { onProgress: (c: string, done: number, total: number) => progress(done, total, `fitting Q for ${c}`) } : {}),
    },
    ...(progress ? { onProgress: (stage: string, done: number, total: number) => progress(done, total, stage) } : {}),
  });
}

async function evaluateBandit(ws: Workspace, opts: EvaluateOptions, stored: DatasetVersion): Promise<EvaluationResult> {
  requireBandit(stored);
  checkEvaluationLimits(stored.metadata.rowCount, stored.metadata.actionSpace?.type === 'discrete' ? stored.metadata.actionSpace.n : undefined, opts.resamples);
  const estimators = checkEstimators(opts.estimators);
  const interval = opts.interval ?? 'bootstrap';
  const seed = opts.seed ?? 0;
  // Intervals from resamples come in per estimator (bootstrap[c]); the others from each estimator's sums.
  const resampled = interval === 'bootstrap' || interval === 'poisson-bootstrap';
  const poisson = { seed, ...(opts.resamples !== undefined ? { resamples: opts.resamples } : {}), ...(opts.bootstrapBuckets !== undefined ? { buckets: opts.bootstrapBuckets } : {}) };
  const alpha = opts.alpha ?? 0.05;
  const strict = opts.strict ?? false;
  const allowDeficient = opts.allowDeficient ?? false;
  const progress = opts.onProgress ?? (() => {});
  const conn = await openMemoryConnection();
  try {
    // Missing rewards are never scored as 0: refused, or (observedRewardsOnly) left out by a view every backend reads.
    const { version, rowsWithoutReward } = await observedRewardsView(conn, stored, { observedRewardsOnly: opts.observedRewardsOnly ?? false });
    const k = await numActionsOf(conn, version);
    const n = version.metadata.rowCount;
    const params = resolveParams({ clip: opts.clip, smoothingAlpha: opts.smoothingAlpha }, n);
    // The logging value and the dataset summary: a scan of their own, unless the
    // first DuckDB scan carries them (loggingP stays null until then).
    let loggingP: Promise<LogSummary> | null = null;
    const loggingSummary = (): Promise<LogSummary> => (loggingP ??= loggingAndSummary(conn, version, k));
    const rangeOf = (l: LogSummary): [number, number] =>
      opts.rewardRange ?? (l.minReward < l.maxReward ? [l.minReward, l.maxReward] : [l.minReward - 0.5, l.maxReward + 0.5]);
    const needsModel = estimators.some((e) => getEstimator(e).needsRewardModel);
    let defaultModel = 'ridge';
    if (needsModel && opts.rewardModel === undefined) {
      const l = await loggingSummary();
      if (l.minReward >= 0 && l.maxReward <= 1) defaultModel = 'logistic';
    }
    const rewardSpec: RewardModelSpec | null = needsModel ? parseRewardModelSpec(opts.rewardModel ?? defaultModel) : null;
    const globalWarnings: Warning[] = [];
    if (rowsWithoutReward > 0) {
      globalWarnings.push({
        code: 'MISSING_AT_RANDOM',
        message: `Scored on the ${n} rows with a reward; ${rowsWithoutReward} of ${stored.metadata.rowCount} rows have none and were left out. Every estimate assumes ${MISSING_AT_RANDOM}.`,
      });
    }
    // What the context is (the same answer describe gives; datasets/features.ts).
    const features = await resolveFeatures(conn, version, {
      ...(opts.contextColumns ? { contextColumns: opts.contextColumns } : {}),
      ...(opts.categorical ? { categorical: opts.categorical } : {}),
      ...(opts.maxLevels !== undefined ? { maxLevels: opts.maxLevels } : {}),
    });
    const contextDim = features.width;
    const items = opts.itemFeatures === false ? undefined : actionFeaturesOf(version, k, features.maxLevels);
    if (items && items.missingActions.length > 0 && rewardSpec?.type === 'fit') {
      globalWarnings.push({
        code: 'ITEM_FEATURES_MISSING',
        message: `${items.source} has no row for ${items.missingActions.length} action(s) (first: ${items.missingActions.slice(0, 5).join(', ')}); their item features are 0.`,
      });
    }
    const numPositions = has(version, 'position') ? await numPositionsOf(conn, version) : undefined;
    let positionsP: Promise<Int32Array> | null = null;
    const positions = (): Promise<Int32Array> => (positionsP ??= readPositions(conn, version));

    // Lazily loaded arrays (needed by JSON policies, fitted models, the bootstrap...).
    let dataP: Promise<BanditArrays> | null = null;
    const data = (): Promise<BanditArrays> => (dataP ??= loadBanditArrays(conn, version, { features }));
    const rewardData = async (): Promise<RewardData> => {
      const d = await data();
      return { n: d.n, d: d.contextDim, numActions: k, contexts: d.contexts, actions: d.actions, rewards: d.rewards, ...(items ? { actionFeatures: { width: items.width, values: items.values } } : {}) };
    };

    const hasPropensity = has(version, 'propensity');
    const mode = checkPushdownMode(opts.pushdown);
    // why the DuckDB fast path cannot serve these options ([what, the fix]), or null
    const fastPathBlocker = ((): [string, string] | null => {
      if (needsRows(interval)) return [`${interval} intervals need the rows in memory`, 'use t, Hoeffding or Bernstein intervals (--interval t)'];
      if (!hasPropensity) return ['the log has no propensity column (they are estimated from the rows)', 'store the logged propensities as propensity'];
      if (opts.policies.some((p) => !(typeof p.spec === 'string' && (!p.spec.trim().toLowerCase().endsWith('.json') || isFixedJson(p.spec))))) {
        return ['a candidate is a policy that reads the contexts', 'give candidates as columns or tables of probabilities'];
      }
      if (rewardSpec !== null && rewardSpec.type !== 'columns') {
        const which = `"${opts.rewardModel ?? defaultModel}"${opts.rewardModel === undefined ? ' (the default for DM / DR)' : ''}`;
        return [`the reward model ${which} is fitted on the rows`, 'give reward predictions as columns (--reward-model columns:...), or leave out the estimators that need one (DM, DR and their variants)'];
      }
      return null;
    })();
    const refuse = (why: string, fix: string): never => {
      throw new OffpolicyError('E_PUSHDOWN', `The DuckDB fast path (pushdown 'duckdb') cannot run: ${why}.`, { hint: `To run it, ${fix}; or use pushdown 'auto' (--pushdown auto) to evaluate in memory.` });
    };
    if (mode === 'duckdb' && fastPathBlocker) refuse(...fastPathBlocker);
    const maybePushdown = mode !== 'never' && fastPathBlocker === null;
    progress(0, opts.policies.length, 'loading candidates');
    const candidates: Candidate[] = [];
    for (const p of opts.policies) {
      candidates.push(
        await loadCandidate(p, {
          conn,
          log: version,
          numActions: k,
          contextDim,
          ...(numPositions !== undefined ? { numPositions } : {}),
          fitRewardModel: async (kind) => fitRewardModel(await rewardData(), { kind, seed }),
          deferColumnChecks: maybePushdown,
          ...(opts.loadPolicyDir ? { loadPolicyDir: opts.loadPolicyDir } : {}),
        }),
      );
    }

    const usePushdown = maybePushdown && candidates.every((c) => c.type === 'sql');
    const inMemory = candidates.find((c) => c.type !== 'sql');
    if (mode === 'duckdb' && inMemory) refuse(`candidate "${inMemory.name}" is computed from the rows`, 'give every candidate as columns or a table of probabilities');
    if (maybePushdown && !usePushdown) {
      for (const c of candidates) if (c.type === 'sql' && !c.relation) await checkSqlCandidate(conn, version, c, k);
    }

    // What every backend computes per candidate (the reward shift, a precision guard, is the backend's).
    const plan = banditPlan(estimators, params, { rewardRange: opts.rewardRange, rewardsMayBeNull: version.metadata.rewardNullable === true, rewardShift: 0 });
    const records: CandidateSums[] = [];
    let propensitiesEstimated = false;
    let rewardModelFitResult: RewardModelFit | undefined;
    let dmError: DmUncertainty | null = null;
    let loggingInterval: Interval | undefined;
    const bootstrap: Map<EstimatorId, Interval | undefined>[] = candidates.map(() => new Map());
    const intervalWarnings: Warning[][] = candidates.map(() => []);

    if (usePushdown) {
      const loggingProbs: SqlVector | undefined = has(version, 'action_probs') ? { kind: 'list', expr: 'l.action_probs' } : undefined;
      const expectedReward: SqlVector | undefined = has(version, 'expected_reward') ? { kind: 'list', expr: 'l.expected_reward' } : undefined;
      const rewardHat = rewardSpec?.type === 'columns' ? logVector(version, rewardSpec.columns, k) : undefined;
      // Free bounds from the Parquet footers: the reward shift (precision only), and
      // proofs that candidate entries are >= 0 and weights at most max pi / min p.
      const leafPaths = candidates.map((c) => candidateLeafPaths(c as Candidate & { type: 'sql' }));
      const footer = await footerStats(conn, version, ['reward', 'propensity', ...leafPaths.flatMap((x) => x ?? [])]);
      const shift = [opts.rewardRange?.[0], footer.get('reward')?.min].find((x): x is number => x !== undefined && Number.isFinite(x)) ?? 0;
      const minP = footer.get('propensity')?.min ?? 0;
      for (const [ci, cand] of candidates.entries()) {
        progress(ci, candidates.length, `evaluating ${cand.name}`);
        const sqlCand = cand as Candidate & { type: 'sql' };
        // Validation of column candidates and prediction columns rides along in the same scan.
        const leaves = leafPaths[ci] ?? [];
        const proven = leaves.length > 0 && leaves.every((x) => footer.has(x));
        const nonNegative = proven && leaves.every((x) => footer.get(x)!.min >= 0);
        const maxWeight = proven && minP > 0 ? Math.max(...leaves.map((x) => footer.get(x)!.max)) / minP : Infinity;
        const explain = async (): Promise<void> => {
          if (!sqlCand.relation) await checkSqlCandidate(conn, version, sqlCand, k);
          if (rewardHat) await checkPredictionColumns(conn, version, rewardHat, k);
        };
        const res: DuckdbScanResult = await duckdbCandidateSums(conn, {
          log: version,
          candidate: sqlCand,
          numActions: k,
          plan: { ...plan, rewardShift: shift },
          rewardHat,
          loggingProbs,
          expectedReward,
          checks: sqlCand.relation ? {} : candidateRowChecks(sqlCand, k, { nonNegative }),
          checkRewardHat: rewardHat !== undefined,
          summary: loggingP === null,
          bounds: { maxWeight, minPropensity: minP },
        }).catch(async (e: unknown) => {
          // A malformed column (e.g. a list of the wrong length) can fail the query itself: explain it.
          if (!(e instanceof OffpolicyError)) await explain();
          throw e;
        });
        if (res.badRows > 0) await explain();
        if (res.logging) loggingP = Promise.resolve(res.logging);
        records.push(res.record);
        if (interval === 'poisson-bootstrap') {
          // The resamples as SQL sums too (one more scan: buckets of row_id, then resample cells); the first candidate's also carries the logged reward.
          progress(ci, candidates.length, `poisson bootstrap: ${cand.name}`);
          const ids = admitted(estimators, deficiencyOf(res.record), allowDeficient, cand.name, []);
          const boot = await runPoissonBootstrap(DUCKDB, (sql) => queryRows(conn, sql), {
            log: version,
            candidate: sqlCand,
            numActions: k,
            plan: { ...plan, rewardShift: shift },
            rewardHat,
            bounds: { maxWeight, minPropensity: minP },
            estimators: ids,
            loggedReward: ci === 0,
          }, {
            ...poisson,
            alpha,
            // The bucket sums once into a temporary table, then the resamples in chunks with progress.
            stage: async (units) => {
              await queryRows(conn, `CREATE OR REPLACE TEMPORARY TABLE poisson_units AS ${units}`);
              return 'poisson_units';
            },
            onProgress: (done, total) => progress(done, total, `poisson bootstrap: ${cand.name}`),
          });
          ids.forEach((id, j) => bootstrap[ci]!.set(id, boot.intervals[j]));
          if (ci === 0) loggingInterval = boot.intervals[ids.length];
        }
      }
    } else {
      const d = await data();
      const memoryPlan: BanditPlan = { ...plan, rewardShift: rangeOf(await loggingSummary())[0] };
      let propensities = d.propensities;
      let loggingProbs = d.actionProbs;
      if (!propensities) {
        if (d.contextDim === 0) {
          globalWarnings.push({ code: 'NO_CONTEXT', message: 'The log has neither propensities nor contexts; propensities were estimated as overall action frequencies.' });
        }
        const est = estimatePropensities(d.contexts, d.actions, d.n, d.contextDim, k);
        propensities = est.propensities;
        loggingProbs = est.actionProbs;
        propensitiesEstimated = true;
        globalWarnings.push(...est.warnings);
      }
      let rewardHat: Float64Array | undefined;
      if (rewardSpec?.type === 'fit') {
        progress(0, 1, `fitting ${rewardSpec.kind} reward model`);
        const rd = await rewardData();
        const folds = opts.folds ?? 1;
        const fit = await estimateRewardHat(rd, { kind: rewardSpec.kind, seed, folds });
        rewardHat = fit.rewardHat;
        globalWarnings.push(...fit.warnings);
        const refit = (train: RewardData) => fitRewardModel(train, { kind: rewardSpec.kind, seed });
        rewardModelFitResult = await rewardModelFit(rd, rewardSpec.kind, folds, rewardHat, refit, seed);
        // DM's interval with the model's error (./reward-models/uncertainty.ts): from a model fitted on every row.
        // Hoeffding, Bernstein, betting and empirical likelihood need terms in the reward range, which the corrected terms leave.
        if (estimators.includes('dm') && (interval === 't' || interval === 'bootstrap' || interval === 'poisson-bootstrap') && (rewardSpec.kind === 'ridge' || rewardSpec.kind === 'logistic')) dmError = dmUncertainty(await refit(rd), rd);
      } else if (rewardSpec?.type === 'columns') {
        const vec = logVector(version, rewardSpec.columns, k);
        await checkPredictionColumns(conn, version, vec, k);
        rewardHat = await readVector(conn, version, undefined, vec, k, 'q');
      }
      const bootTerms: RowTerms[] = [];
      const bootIndex: { c: number; id: EstimatorId }[] = [];
      for (const [ci, cand] of candidates.entries()) {
        progress(ci, candidates.length, `evaluating ${cand.name}`);
        let targetProbs: Float64Array;
        if (cand.type === 'sql') {
          targetProbs = await readVector(conn, version, cand.relation, cand.probs, k, 'pi');
        } else {
          if (d.contextDim === 0 && cand.policy.usesContext !== false && !cand.policy.features) {
            globalWarnings.push({ code: 'NO_CONTEXT', message: `Candidate "${cand.name}" was scored without contexts (the log has none).` });
          }
          const contexts = cand.policy.features ? await readContexts(conn, version, cand.policy.features) : d.contexts;
          // A policy that carries its own feature spec (a learned policy) reads the log through it.
          const atPositions = cand.policy.actionProbsAtPositions?.bind(cand.policy);
          targetProbs = atPositions && numPositions !== undefined ? atPositions(contexts, await positions(), d.n) : cand.policy.actionProbs(contexts, d.n);
          checkProbabilityMatrix(targetProbs, d.n, k, `"${cand.name}"`);
        }
        const batch: BanditBatch = {
          n: d.n,
          numActions: k,
          actions: d.actions,
          rewards: d.rewards,
          propensities,
          targetProbs,
          ...(rewardHat ? { rewardHat } : {}),
          ...(loggingProbs ? { loggingProbs } : {}),
        };
        const { record, terms } = memoryCandidateSums(batch, d.expectedRewards, memoryPlan);
        const dmTerms = terms.get('dm');
        if (dmError && dmTerms) {
          const corr = dmError.correction(targetProbs);
          const num = Float64Array.from(dmTerms.num, (v, i) => v + corr[i]!);
          terms.set('dm', { ...dmTerms, num });
          // The point estimate stays sum(dm_i) / n; the corrected terms carry the variance.
          const sums = sumsFromTerms({ ...dmTerms, num });
          const sumNum = record.estimators.get('dm')!.sumNum;
          record.estimators.set('dm', { ...sums, sumNum, sumNumDen: sumNum });
        }
        records.push(record);
        if (interval === 'betting' || interval === 'empirical-likelihood') {
          const ids = admitted(estimators, deficiencyOf(record), allowDeficient, cand.name, []);
          const rewardRange = rangeOf(await loggingSummary());
          const maxWeight = 1 / record.minPropensity;
          const reasons = new Map<string, EstimatorId[]>();
          const ivs = intervalsForTerms(
            ids.map((id) => terms.get(id)!),
            {
              method: interval,
              alpha,
              seed,
              estimators: ids,
              ranges: ids.map((id) => termRange(id, { rewardRange, maxWeight, params })),
              weights: loggedInputs(batch).weights,
              rewards: d.rewards,
              rewardRange,
              maxWeight,
              onUnsupported: (j, reason) => reasons.set(reason, [...(reasons.get(reason) ?? []), ids[j]!]),
            },
          );
          ids.forEach((id, j) => bootstrap[ci]!.set(id, ivs[j] ?? undefined));
          for (const [reason, which] of reasons) intervalWarnings[ci]!.push({ code: 'INTERVAL_UNSUPPORTED', message: `No ${interval} interval for ${which.join(', ')}: ${reason}` });
        }
        if (resampled) {
          for (const id of admitted(estimators, deficiencyOf(record), allowDeficient, cand.name, [])) {
            bootTerms.push(terms.get(id)!);
            bootIndex.push({ c: ci, id });
          }
        }
      }
      if (resampled) {
        // One bootstrap over every candidate's estimators and the logged rewards: each resample's counts are drawn once.
        progress(0, 1, interval);
        bootTerms.push({ num: d.rewards, den: null, base: null });
        const onProgress = (done: number, total: number): void => progress(done, total, interval);
        const boot =
          interval === 'poisson-bootstrap'
            ? poissonBootstrapIntervals(bootTerms, d.rowIds ?? null, { ...poisson, alpha, onProgress })
            : bootstrapIntervals(bootTerms, { alpha, seed, resamples: opts.resamples, onProgress });
        bootIndex.forEach(({ c, id }, j) => bootstrap[c]!.set(id, boot.intervals[j]));
        loggingInterval = boot.intervals[boot.intervals.length - 1];
      }
    }
    progress(candidates.length, candidates.length, 'summarizing');

    const logging = await loggingSummary();
    const loggingValue = sumsValue(logging.sums);
    const rewardRange = rangeOf(logging);
    if (interval === 'betting' || interval === 'empirical-likelihood') loggingInterval = rowLoggingInterval(await data(), interval, rewardRange, alpha, seed, globalWarnings);
    else if (!resampled) loggingInterval = sumsInterval('dm', logging.sums, interval, alpha, rewardRange, 1, params, globalWarnings);
    const loggingTrue = logging.truthSum !== undefined && !propensitiesEstimated ? logging.truthSum / logging.sums.n : undefined;
    const sharedWarnings = globalWarnings.filter((w) => w.code === 'ESTIMATED_PROPENSITIES').slice(0, 1);
    const candidateResults = await assembleCandidates(
      records,
      candidates,
      opts.policies,
      { plan, interval, alpha, rewardRange, allowDeficient, ref: version.ref, loggingValue, loggingInterval, strict, verdictSource: opts.verdictSource, sharedWarnings, propensitiesEstimated, dmModelUncertainty: dmError !== null },
      (c) => (resampled || needsRows(interval) ? { bootstrap: bootstrap[c]!, intervalWarnings: intervalWarnings[c]! } : {}),
    );
    if (numPositions !== undefined) {
      candidates.forEach((cand, c) => {
        if (!isPositionAware(cand)) candidateResults[c]!.warnings.push(positionIgnoredWarning(cand.name, numPositions));
      });
    }
    const accuracy = candidateResults.every((c) => c.trueValue !== undefined)
      ? accuracyTable(candidateResults, estimators, loggingTrue ?? loggingValue, globalWarnings)
      : undefined;
    const result: EvaluationResult = {
      schema: 'offpolicy.evaluation/1',
      toolkitVersion: VERSION,
      createdAt: new Date().toISOString(),
      ...(opts.command ? { command: opts.command } : {}),
      seed,
      dataset: {
        ref: version.ref,
        name: version.name,
        version: version.version,
        contentHash: version.metadata.contentHash,
        rowCount: stored.metadata.rowCount,
        ...(rowsWithoutReward > 0 ? { observedRewardsOnly: { rowsUsed: n, rowsWithoutReward, assumption: MISSING_AT_RANDOM } } : {}),
        numActions: k,
        ...(contextDim > 0 ? { contextDim } : {}),
        context: describeFeatures(features),
        summary: logging.summary,
        ...(version.metadata.lineage ? { lineage: version.metadata.lineage } : {}),
      },
      logging: { value: loggingValue, ...(loggingInterval ? { interval: loggingInterval } : {}), ...(loggingTrue !== undefined ? { trueValue: loggingTrue } : {}) },
      settings: {
        estimators,
        interval,
        alpha,
        ...(resampled ? { bootstrapResamples: opts.resamples ?? 1000 } : {}),
        ...(interval === 'poisson-bootstrap' ? { bootstrapBuckets: opts.bootstrapBuckets ?? DEFAULT_POISSON_BUCKETS } : {}),
        ...(rewardSpec ? { rewardModel: rewardSpec.type === 'fit' ? rewardSpec.kind : `columns:${rewardSpec.columns.join(',')}` } : {}),
        ...(rewardSpec?.type === 'fit'
          ? { rewardModelInputs: `${describeRewardModelInputs(rewardSpec.kind, describeFeatures(features), items)}${opts.rewardModel === undefined ? ` (the default: rewards ${rewardSpec.kind === 'logistic' ? 'lie' : 'do not all lie'} in [0, 1]; choose with --reward-model)` : ''}` }
          : {}),
        ...(Number.isFinite(params.clip) ? { clip: params.clip } : {}),
        strict,
        rewardRange,
      },
      propensitiesEstimated,
      ...(rewardModelFitResult ? { rewardModelFit: rewardModelFitResult } : {}),
      candidates: candidateResults,
      ...(accuracy ? { accuracy } : {}),
      warnings: dedupe(globalWarnings),
    };
    return result;
  } finally {
    conn.closeSync();
  }
}

/** What every candidate of one evaluation shares in assembleCandidate's context (optional fields may be undefined). */
export type SharedAssembleContext = Omit<AssembleContext, 'name' | 'source' | 'bootstrap' | 'intervalWarnings' | 'loggingInterval' | 'verdictSource'> & {
  loggingInterval: Interval | undefined;
  verdictSource: string | undefined;
};

/**
 * Every candidate's result from its sums, the last step of every backend (DuckDB,
 * memory, ClickHouse): assembleCandidate with the shared context and the candidate's
 * own row intervals, plus the sha256 of candidates given as files.
 */
export async function assembleCandidates(
  records: readonly CandidateSums[],
  candidates: readonly { name: string; source: string }[],
  policies: readonly PolicyInput[],
  shared: SharedAssembleContext,
  own: (c: number) => Pick<AssembleContext, 'bootstrap' | 'intervalWarnings'>,
): Promise<CandidateResult[]> {
  const { loggingInterval, verdictSource, ...rest } = shared;
  // A `column:` spec names columns of the log, not a file.
  const hashes = await Promise.all(policies.map((p) => (typeof p.spec === 'string' && !p.spec.trim().startsWith('column:') ? candidateHash(p.spec) : Promise.resolve(undefined))));
  return candidates.map((cand, c) => ({
    ...assembleCandidate(records[c]!, {
      ...rest,
      name: cand.name,
      source: cand.source,
      ...(loggingInterval ? { loggingInterval } : {}),
      ...(verdictSource ? { verdictSource } : {}),
      ...own(c),
    }),
    ...(hashes[c] ? { sha256: hashes[c] } : {}),
  }));
}

/** The logging policy's value interval (mean logged reward) by betting or empirical likelihood; undefined + warning if it cannot be computed. */
function rowLoggingInterval(d: BanditArrays, method: 'betting' | 'empirical-likelihood', rewardRange: [number, number], alpha: number, seed: number, warnings: Warning[]): Interval | undefined {
  try {
    return method === 'betting' ? bettingMeanInterval(d.rewards, rewardRange, { alpha, seed }) : empiricalLikelihoodMeanInterval(d.rewards, rewardRange, alpha);
  } catch (e) {
    if (!(e instanceof OffpolicyError)) throw e;
    warnings.push({ code: 'INTERVAL_UNSUPPORTED', message: `logging value: ${e.message}` });
    return undefined;
  }
}

/** Accuracy of each estimator across the candidates (synthetic data); k = min(3, candidates). */
export function accuracyTable(cands: CandidateResult[], estimators: readonly EstimatorId[], behaviourValue: number, warnings: Warning[]): AccuracyMetrics[] | undefined {
  const out: AccuracyMetrics[] = [];
  const truth = cands.map((c) => c.trueValue!);
  for (const id of estimators) {
    const est = cands.map((c) => c.estimates.find((e) => e.estimator === id)?.value);
    if (est.some((v) => v === undefined || !Number.isFinite(v))) continue;
    try {
      out.push(accuracyMetrics(id, est as number[], truth, behaviourValue, Math.min(3, cands.length)));
    } catch (e) {
      if (!(e instanceof OffpolicyError)) throw e;
      warnings.push({ code: 'ACCURACY_SKIPPED', message: `Accuracy of ${id}: ${e.message}` });
    }
  }
  return out.length > 0 ? out : undefined;
}

/**
 * sha256 of a candidate given as a file, or of a directory's files (sorted
 * relative paths with their hashes); undefined for column: specs and paths
 * that are not there.
 */
export async function candidateHash(spec: string): Promise<string | undefined> {
  let file = path.resolve(spec);
  let st = await stat(file).catch(() => null);
  // A training run directory: its policy/ (not the checkpoints) is the candidate.
  const policyDir = st?.isDirectory() ? await stat(path.join(file, 'policy')).catch(() => null) : null;
  if (policyDir?.isDirectory()) [file, st] = [path.join(file, 'policy'), policyDir];
  if (!st) return undefined;
  if (st.isFile()) return (await sha256File(file)).sha256;
  if (!st.isDirectory()) return undefined;
  const entries = (await readdir(file, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => path.relative(file, path.join(e.parentPath, e.name)))
    .sort();
  const h = createHash('sha256');
  for (const rel of entries) h.update(`${rel}\0${(await sha256File(path.join(file, rel))).sha256}\n`);
  return h.digest('hex');
}

export function dedupe(ws: Warning[]): Warning[] {
  const seen = new Set<string>();
  return ws.filter((w) => (seen.has(w.code + w.message) ? false : (seen.add(w.code + w.message), true)));
}

/**
 * A log with positions and a candidate with one distribution per row and no
 * position: the estimators read that distribution at whatever position each row
 * was logged at (Open Bandit Pipeline's position-based evaluation reads the
 * candidate's distribution at the logged position).
 */
function positionIgnoredWarning(name: string, positions: number): Warning {
  return {
    code: 'POSITION_IGNORED',
    message:
      `The log records ${positions} positions, but candidate "${name}" gives no position: its one distribution per row is used for every position, ` +
      'so it is scored as a policy that ranks the same way at every slot (on the Open Bandit Dataset ignoring position moved IPS from 0.0045 to 0.0049). ' +
      'To score it per position, give a probability table with a position column whose rows carry the distribution at the row\'s position, or {"type":"fixed","byPosition":[...]}.',
  };
}

/** A JSON policy file of type "fixed" (a constant SQL candidate that the DuckDB scan can read); false when unreadable. */
function isFixedJson(spec: string): boolean {
  try {
    return (JSON.parse(readFileSync(path.resolve(spec.trim()), 'utf8')) as { type?: unknown })?.type === 'fixed';
  } catch {
    return false;
  }
}

/** max(position) + 1 of a log with a position column (positions are 0-based). */
async function numPositionsOf(conn: DuckDBConnection, v: DatasetVersion): Promise<number> {
  const row = await queryOne(conn, `SELECT max(position) AS m, min(position) AS lo, count(*) FILTER (WHERE position IS NULL) AS nulls FROM ${versionScan(v)}`);
  if (Number(row.nulls) > 0 || Number(row.lo) < 0) {
    throw new OffpolicyError('E_POSITION', `The position column of ${v.ref} holds ${Number(row.nulls) > 0 ? `${row.nulls} NULL values` : `negative positions (smallest ${row.lo})`}; positions are 0-based slot numbers.`, {
      hint: 'Re-ingest the log with every row\'s 0-based position (or without the position column).',
    });
  }
  return Number(row.m) + 1;
}

/** The log's positions, ordered by row_id. */
async function readPositions(conn: DuckDBConnection, v: DatasetVersion): Promise<Int32Array> {
  return Int32Array.from(await readMatrix(conn, `${versionScan(v)} AS l`, ['l.position'], 'l.row_id'));
}

/** Reads an SqlVector (over the log, optionally joined with a table) as n x K, ordered by row_id. */
async function readVector(conn: DuckDBConnection, v: DatasetVersion, relation: string | undefined, vec: SqlVector, k: number, label: string): Promise<Float64Array> {
  const from = candidateFrom(v, { type: 'sql', name: label, source: label, probs: vec, ...(relation ? { relation } : {}) });
  const exprs = vec.kind === 'list' ? Array.from({ length: k }, (_, a) => `(${vec.expr})[${a + 1}]`) : vec.exprs;
  return (await readMatrix(conn, from, exprs, 'l.row_id')) as Float64Array;
}

/** User-supplied reward predictions: K per row, finite. */
async function checkPredictionColumns(conn: DuckDBConnection, v: DatasetVersion, vec: SqlVector, k: number): Promise<void> {
  const list = vecAsList(vec);
  const row = await queryOne(
    conn,
    `SELECT count(*) FILTER (WHERE len(${list}) <> ${k}) AS width, count(*) FILTER (WHERE len(list_filter(${list}, lambda x: x IS NULL OR isnan(x) OR isinf(x))) > 0) AS bad, min(row_id) FILTER (WHERE len(list_filter(${list}, lambda x: x IS NULL OR isnan(x) OR isinf(x))) > 0) AS first FROM ${versionScan(v)} AS l`,
  );
  if (Number(row.width) > 0) {
    throw new OffpolicyError('E_ACTION_SPACE', `The reward-prediction column(s) give a number of values other than K = ${k} on ${row.width} rows.`, {
      hint: 'Give one prediction per action: columns:q_0,...,q_{K-1} or one DOUBLE[K] column.',
    });
  }
  if (Number(row.bad) > 0) {
    throw new OffpolicyError('E_REWARD_PREDICTIONS', `The reward-prediction column(s) hold NULL, NaN or infinite values on ${row.bad} rows (first row_id: ${row.first}).`, {
      hint: 'Fill every prediction with a finite number.',
    });
  }
}

/** The logging policy's sums (mean logged reward) and the dataset summary, in one scan (./log-summary.ts). */
async function loggingAndSummary(conn: DuckDBConnection, v: DatasetVersion, k: number): Promise<LogSummary> {
  const p = has(v, 'propensity');
  const lo = (await footerStats(conn, v, ['reward'])).get('reward')?.min;
  const shift = lo !== undefined && Number.isFinite(lo) ? lo : 0;
  // The logging policy's true value needs its full distribution and the ground truth (and is not reported when propensities are estimated).
  const truth = p && has(v, 'action_probs') && has(v, 'expected_reward') ? vecDot({ kind: 'list', expr: 'action_probs' }, { kind: 'list', expr: 'expected_reward' }, k) : undefined;
  const select = logSummarySelect({ reward: 'reward::DOUBLE', action: 'action', ...(p ? { propensity: 'propensity::DOUBLE' } : {}), rowId: 'row_id', ...(truth ? { truth } : {}) }, v.metadata.rowCount, k, shift);
  const row = await queryOne(conn, `SELECT ${select.join(', ')} FROM ${versionScan(v)}`);
  return logSummaryFromGroups([row], k, shift);
}

/** Writes the result as pretty JSON (creating no directories) and returns the absolute path. */
/** Writes a bandit or trajectory result as JSON (to a temporary file, then renamed into place); returns the absolute path. */
export async function writeEvaluation(result: AnyEvaluationResult, file: string): Promise<string> {
  const abs = path.resolve(file);
  const tmp = `${abs}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(result, null, 2) + '\n');
  await rename(tmp, abs);
  return abs;
}
