/**
 * The evaluate pipeline: a bandit log + candidate policies -> EvaluationResult
 * (estimates with intervals, certificates, diagnostics, warnings, a verdict per
 * candidate, and ground-truth accuracy on synthetic data).
 *
 * Two paths give the same numbers (estimates, intervals, certificates, weight
 * quantiles, summary; only the weight histogram's bins differ: octaves on the
 * fast path, 20 equal-width bins in memory):
 *  - pushdown (./pushdown.ts): candidate probabilities and reward predictions are
 *    columns, the interval is t / hoeffding / bernstein: one DuckDB aggregate per
 *    candidate over the Parquet files (the first one also carries the logging
 *    value and the dataset summary), nothing per-row in JS;
 *  - in memory: the log is loaded into typed arrays (./load-bandit.ts); needed for
 *    JSON / learned policies, fitted reward models, estimated propensities and the
 *    bootstrap.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OffpolicyError } from '../core/errors.js';
import { openMemoryConnection, queryOne, queryRows, type DuckDBConnection } from '../datasets/duckdb.js';
import type { DatasetVersion, Workspace } from '../datasets/workspace.js';
import { candidateFrom, candidateLeafPaths, candidateRowChecks, checkSqlCandidate, loadCandidate, type Candidate, type PolicyInput, type PolicyDirLoader } from '../policies/candidates.js';
import { checkProbabilityMatrix } from '../policies/probabilities.js';
import { vecAsList, type SqlVector } from '../policies/sql-vector.js';
import { VERSION } from '../version.js';
import { catoniClippedIpsBound, catoniFromSums } from './bounds/catoni.js';
import { rewardRangeError } from './bounds/common.js';
import { exponentialSmoothingBound, exponentialSmoothingFromSums } from './bounds/exponential-smoothing.js';
import { londonSandlerBound, londonSandlerFromSums } from './bounds/london-sandler.js';
import { DEFAULT_CLIP, ESTIMATOR_IDS, getEstimator, resolveParams, sqlNumber, termRange } from './estimators/index.js';
import type { BanditBatch, EstimatorId, ResolvedParams, RowTerms } from './estimators/types.js';
import { bernsteinInterval } from './intervals/bernstein.js';
import { bootstrapIntervals } from './intervals/bootstrap.js';
import { hoeffdingInterval } from './intervals/hoeffding.js';
import { tInterval } from './intervals/t.js';
import { checkEvaluationLimits } from '../datasets/limits.js';
import { loadBandit, numActionsOf, readMatrix, requireBandit, type BanditData } from './load-bandit.js';
import { estimatePropensities } from './propensity.js';
import { logSummaryFromGroups, logSummarySelect, type LogSummary } from './log-summary.js';
import { footerStats, pushdownCandidate, type PushdownResult } from './pushdown.js';
import { estimateRewardHat, fitRewardModel, parseRewardModelSpec, type RewardModelSpec } from './reward-models/index.js';
import type { RewardData } from '../core/contracts.js';
import { sumsFromTerms, sumsValue, sumsStdError, type MergeableSums } from './sums.js';
import type {
  Certificate,
  CertificateKind,
  CandidateResult,
  Estimate,
  EvaluationResult,
  Interval,
  IntervalMethod,
  Warning,
  WeightDiagnostics,
} from '../core/evaluation-result.js';
import { accuracyMetrics } from './accuracy.js';
import { candidateWarnings, weightDiagnostics } from './diagnostics.js';
import { deployVerdict, pickLowerBound } from './verdict.js';
import type { AccuracyMetrics } from '../core/evaluation-result.js';

/** Estimators that weight by pi / pi0: refused on support-deficient candidates unless allowDeficient. */
export const IPS_FAMILY: readonly EstimatorId[] = ['ips', 'clipped-ips', 'snips', 'es-ips', 'dr', 'sndr', 'switch-dr', 'dr-os'];

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
  /** 'auto' (default) uses the DuckDB fast path when it can; 'never' forces the in-memory path. */
  pushdown?: 'auto' | 'never';
  /** Estimator id or certificate kind whose lower bound decides the verdict (default: see VERDICT_PREFERENCE). */
  verdictSource?: string;
  /** The command line, recorded for reproduction. */
  command?: string;
  onProgress?: (done: number, total: number, stage: string) => void;
}

/** What one candidate's evaluation produced before the summary (verdict, warnings). */
interface CandidateCore {
  estimates: Estimate[];
  certificates: Certificate[];
  diagnostics: WeightDiagnostics;
  warnings: Warning[];
  trueValue?: number;
}

function checkEstimators(ids: string[] | undefined): EstimatorId[] {
  const list = ids && ids.length > 0 ? ids : [...ESTIMATOR_IDS];
  const out: EstimatorId[] = [];
  for (const id of list) {
    const spec = getEstimator(id.trim());
    if (!out.includes(spec.id)) out.push(spec.id);
  }
  return out;
}

function checkOptions(opts: EvaluateOptions): void {
  if (!opts.policies || opts.policies.length === 0) {
    throw new OffpolicyError('E_NO_POLICY', 'No candidate policy to evaluate.', { hint: 'Pass at least one --policy FILE (or column:NAME).' });
  }
  const names = opts.policies.map((p, i) => p.name ?? (typeof p.spec === 'string' ? p.spec : `policy${i}`));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new OffpolicyError('E_POLICY_NAME', `Two candidates are named "${dup}".`, { hint: 'Name them apart with --policy NAME=FILE.' });
  const interval = opts.interval ?? 'bootstrap';
  if (!['bootstrap', 't', 'hoeffding', 'bernstein'].includes(interval)) {
    throw new OffpolicyError('E_INTERVAL_METHOD', `Unknown interval method "${interval}".`, { hint: 'Use bootstrap, t, hoeffding or bernstein.' });
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

/** Interval of one estimator from its sums (t, Hoeffding, Bernstein); undefined + warning when the method does not apply. */
function sumsInterval(
  id: EstimatorId,
  s: MergeableSums,
  method: Exclude<IntervalMethod, 'bootstrap'>,
  alpha: number,
  rewardRange: [number, number],
  maxWeightBound: number,
  params: ResolvedParams,
  warnings: Warning[],
): Interval | undefined {
  try {
    if (method === 't') return tInterval(s, alpha);
    const range = termRange(id, { rewardRange, maxWeight: maxWeightBound, params: { clip: params.clip, smoothingAlpha: params.smoothingAlpha } });
    if (range === null) {
      warnings.push({ code: 'INTERVAL_UNSUPPORTED', message: `${method} intervals do not apply to ${id} (a self-normalized ratio); use t or bootstrap for it.` });
      return undefined;
    }
    return method === 'hoeffding' ? hoeffdingInterval(s, range, alpha, id) : bernsteinInterval(s, range, alpha, id);
  } catch (e) {
    if (e instanceof OffpolicyError) {
      warnings.push({ code: 'INTERVAL_UNSUPPORTED', message: `${id}: ${e.message}` });
      return undefined;
    }
    throw e;
  }
}

function estimateFromSums(id: EstimatorId, s: MergeableSums, params: ResolvedParams, interval: Interval | undefined, extra: Record<string, number>): Estimate {
  const spec = getEstimator(id);
  const diagnostics: Record<string, number> = { n: s.n, stdError: sumsStdError(s), ...extra };
  if (spec.uses.includes('clip')) diagnostics.clip = params.clip;
  if (spec.uses.includes('smoothingAlpha')) diagnostics.alpha = params.smoothingAlpha;
  return { estimator: id, value: sumsValue(s), ...(interval ? { interval } : {}), diagnostics };
}

/** Splits estimators into those that run and those refused for support deficiency. */
function admitted(estimators: readonly EstimatorId[], deficiency: number, allowDeficient: boolean, name: string, warnings: Warning[]): EstimatorId[] {
  if (!(deficiency > 1e-12)) return [...estimators];
  const pct = (100 * deficiency).toPrecision(3);
  if (allowDeficient) return [...estimators];
  const kept = estimators.filter((e) => !IPS_FAMILY.includes(e));
  const refused = estimators.filter((e) => IPS_FAMILY.includes(e));
  warnings.push({
    code: 'IPS_REFUSED',
    message: `Candidate "${name}" puts ${pct}% of its mass (mean over rows) on actions the logger never takes; IPS-family estimates (${refused.join(', ')}) are refused because they would be biased. Pass --allow-deficient to compute them anyway.`,
  });
  if (kept.length === 0) {
    throw new OffpolicyError(
      'E_SUPPORT_DEFICIENT',
      `Candidate "${name}" puts ${pct}% of its mass on actions the logger never takes, and every requested estimator (${refused.join(', ')}) is importance-weighted.`,
      { hint: 'Add dm to --estimators, or pass --allow-deficient to compute the biased importance-weighted estimates anyway.' },
    );
  }
  return kept;
}

export async function evaluate(ws: Workspace, opts: EvaluateOptions): Promise<EvaluationResult> {
  checkOptions(opts);
  const version = await ws.resolve(opts.data);
  requireBandit(version);
  checkEvaluationLimits(version.metadata.rowCount, version.metadata.actionSpace?.type === 'discrete' ? version.metadata.actionSpace.n : undefined, opts.resamples);
  const estimators = checkEstimators(opts.estimators);
  const interval = opts.interval ?? 'bootstrap';
  const alpha = opts.alpha ?? 0.05;
  const seed = opts.seed ?? 0;
  const strict = opts.strict ?? false;
  const allowDeficient = opts.allowDeficient ?? false;
  const progress = opts.onProgress ?? (() => {});
  const conn = await openMemoryConnection();
  try {
    const k = await numActionsOf(conn, version);
    const n = version.metadata.rowCount;
    const params = resolveParams({ clip: opts.clip, smoothingAlpha: opts.smoothingAlpha }, n);
    // The logging value and the dataset summary: a scan of their own, unless the
    // first pushdown scan carries them (loggingP stays null until then).
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
    const contextDim = await contextDimOf(conn, version, opts.contextColumns);

    // Lazily loaded arrays (needed by JSON policies, fitted models, the bootstrap...).
    let dataP: Promise<BanditData> | null = null;
    const data = (): Promise<BanditData> => (dataP ??= loadBandit(ws, version.ref, { conn, contextColumns: opts.contextColumns }));
    const rewardData = async (): Promise<RewardData> => {
      const d = await data();
      return { n: d.n, d: d.contextDim, numActions: k, contexts: d.contexts, actions: d.actions, rewards: d.rewards };
    };

    const hasPropensity = has(version, 'propensity');
    const maybePushdown =
      (opts.pushdown ?? 'auto') === 'auto' &&
      interval !== 'bootstrap' &&
      hasPropensity &&
      opts.policies.every((p) => typeof p.spec === 'string' && !p.spec.trim().toLowerCase().endsWith('.json')) &&
      (rewardSpec === null || rewardSpec.type === 'columns');
    progress(0, opts.policies.length, 'loading candidates');
    const candidates: Candidate[] = [];
    for (const p of opts.policies) {
      candidates.push(
        await loadCandidate(p, {
          conn,
          log: version,
          numActions: k,
          contextDim,
          fitRewardModel: async (kind) => fitRewardModel(await rewardData(), { kind, seed }),
          deferColumnChecks: maybePushdown,
          ...(opts.loadPolicyDir ? { loadPolicyDir: opts.loadPolicyDir } : {}),
        }),
      );
    }

    const usePushdown = maybePushdown && candidates.every((c) => c.type === 'sql');
    if (maybePushdown && !usePushdown) {
      for (const c of candidates) if (c.type === 'sql' && !c.relation) await checkSqlCandidate(conn, version, c, k);
    }

    const loggingProbsVec: SqlVector | undefined = has(version, 'action_probs') ? { kind: 'list', expr: 'l.action_probs' } : undefined;
    const expectedVec: SqlVector | undefined = has(version, 'expected_reward') ? { kind: 'list', expr: 'l.expected_reward' } : undefined;
    const cores: CandidateCore[] = [];
    let propensitiesEstimated = false;
    let loggingTrue: number | undefined;
    let loggingInterval: Interval | undefined;

    if (usePushdown) {
      const rewardHat = rewardSpec?.type === 'columns' ? logVector(version, rewardSpec.columns, k) : undefined;
      // Free bounds from the Parquet footers: the reward shift (precision only), and
      // proofs that candidate entries are >= 0 and weights at most max pi / min p.
      const leafPaths = candidates.map((c) => candidateLeafPaths(c as Candidate & { type: 'sql' }));
      const footer = await footerStats(conn, version, ['reward', 'propensity', ...leafPaths.flatMap((x) => x ?? [])]);
      const shift = [opts.rewardRange?.[0], footer.get('reward')?.min].find((x): x is number => x !== undefined && Number.isFinite(x)) ?? 0;
      const minP = footer.get('propensity')?.min ?? 0;
      let outsideRows: number[] | null = null;
      for (const [ci, cand] of candidates.entries()) {
        progress(ci, candidates.length, `evaluating ${cand.name}`);
        const sqlCand = cand as Candidate & { type: 'sql' };
        // Validation of column candidates and prediction columns rides along in the same scan.
        const leaves = leafPaths[ci] ?? [];
        const proven = leaves.length > 0 && leaves.every((x) => footer.has(x));
        const nonNegative = proven && leaves.every((x) => footer.get(x)!.min >= 0);
        const maxWeight = proven && minP > 0 ? Math.max(...leaves.map((x) => footer.get(x)!.max)) / minP : Infinity;
        const checks = sqlCand.relation ? {} : candidateRowChecks(sqlCand, k, { nonNegative });
        const explain = async (): Promise<void> => {
          if (!sqlCand.relation) await checkSqlCandidate(conn, version, sqlCand, k);
          if (rewardHat) await checkPredictionColumns(conn, version, rewardHat, k);
        };
        const res: PushdownResult = await pushdownCandidate({
          conn,
          log: version,
          candidate: sqlCand,
          numActions: k,
          estimators,
          params,
          rewardHat,
          loggingProbs: loggingProbsVec,
          expectedReward: expectedVec,
          checks,
          checkRewardHat: rewardHat !== undefined,
          certificates: { tau: certificateTau(params) },
          rewardShift: shift,
          summary: loggingP === null,
          bounds: { maxWeight, minPropensity: minP },
          ...(opts.rewardRange ? { rewardRange: opts.rewardRange } : {}),
        }).catch(async (e: unknown) => {
          // A malformed column (e.g. a list of the wrong length) can fail the query itself: explain it.
          if (!(e instanceof OffpolicyError)) await explain();
          throw e;
        });
        if (res.badRows > 0) await explain();
        if (res.logging) {
          loggingP = Promise.resolve(res.logging);
          loggingTrue = res.logging.trueValue;
        }
        const rewardRange = rangeOf(await loggingSummary());
        const warnings: Warning[] = [];
        const run = admitted(estimators, res.supportDeficiency, allowDeficient, cand.name, warnings);
        const wBound = 1 / res.minPropensity;
        const estimates = run.map((id) =>
          estimateFromSums(id, res.sums.get(id)!, params, sumsInterval(id, res.sums.get(id)!, interval as Exclude<IntervalMethod, 'bootstrap'>, alpha, rewardRange, wBound, params, warnings), {}),
        );
        const diagnostics: WeightDiagnostics = {
          n: res.n,
          ess: res.sumWeight2 > 0 ? (res.sumWeight * res.sumWeight) / res.sumWeight2 : 0,
          essRatio: res.sumWeight2 > 0 ? (res.sumWeight * res.sumWeight) / res.sumWeight2 / res.n : 0,
          maxWeight: res.maxWeight,
          meanWeight: res.sumWeight / res.n,
          weightQuantiles: res.weightQuantiles,
          supportDeficiency: Number.isNaN(res.supportDeficiency) ? 0 : res.supportDeficiency,
          weightHistogram: res.weightHistogram,
        };
        // Rewards outside a declared range: the certificates fail as on the in-memory path, naming the first rows.
        const outside = res.rewardsOutOfRange ?? 0;
        if (outside > 0 && outsideRows === null) outsideRows = await rowsOutsideRange(conn, version, opts.rewardRange!);
        const guard =
          (f: () => Certificate) =>
          (): Certificate => {
            if (outside > 0) throw rewardRangeError(opts.rewardRange!, outside, outsideRows!);
            return f();
          };
        const clipOpts = { delta: alpha, rewardRange, tau: certificateTau(params) };
        const attempts: CertificateAttempt[] = [
          ['catoni-clipped-ips', guard(() => catoniFromSums(res.clippedRisk!, clipOpts))],
          ['london-sandler', guard(() => londonSandlerFromSums(res.clippedRisk!, clipOpts))],
        ];
        if (res.smoothing) attempts.push(['exponential-smoothing', guard(() => exponentialSmoothingFromSums(res.smoothing!, { delta: alpha, rewardRange }))]);
        const certificates = certify(attempts, version.ref, res.supportDeficiency, allowDeficient, warnings);
        cores.push({ estimates, certificates, diagnostics, warnings, ...(res.trueValue !== undefined ? { trueValue: res.trueValue } : {}) });
      }
      const logging = await loggingSummary();
      loggingInterval = sumsInterval('dm', logging.sums, interval as Exclude<IntervalMethod, 'bootstrap'>, alpha, rangeOf(logging), 1, params, globalWarnings);
      if (expectedVec && loggingProbsVec && loggingTrue === undefined) {
        const row = await queryOne(conn, `SELECT avg(list_dot_product(l.action_probs::DOUBLE[], l.expected_reward::DOUBLE[])) AS v FROM ${candidateFrom(version, { type: 'sql', name: '', source: '', probs: loggingProbsVec })}`);
        loggingTrue = Number(row.v);
      }
    } else {
      const d = await data();
      const logging = await loggingSummary();
      const rewardRange = rangeOf(logging);
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
        const fit = await estimateRewardHat(await rewardData(), { kind: rewardSpec.kind, seed, folds: opts.folds ?? 1 });
        rewardHat = fit.rewardHat;
        globalWarnings.push(...fit.warnings);
      } else if (rewardSpec?.type === 'columns') {
        const vec = logVector(version, rewardSpec.columns, k);
        await checkPredictionColumns(conn, version, vec, k);
        rewardHat = await readVector(conn, version, undefined, vec, k, 'q');
      }
      const bootTerms: RowTerms[] = [];
      const bootIndex: { c: number; e: number }[] = [];
      const pending: { ids: EstimatorId[]; sums: MergeableSums[]; warnings: Warning[]; batch: BanditBatch; deficiency: number; trueValue?: number }[] = [];
      for (const [ci, cand] of candidates.entries()) {
        progress(ci, candidates.length, `evaluating ${cand.name}`);
        let targetProbs: Float64Array;
        if (cand.type === 'sql') {
          targetProbs = await readVector(conn, version, cand.relation, cand.probs, k, 'pi');
        } else {
          if (d.contextDim === 0 && cand.policy.usesContext !== false) {
            globalWarnings.push({ code: 'NO_CONTEXT', message: `Candidate "${cand.name}" was scored without contexts (the log has none).` });
          }
          targetProbs = cand.policy.actionProbs(d.contexts, d.n);
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
        let deficiency = NaN;
        if (loggingProbs) {
          let s = 0;
          for (let j = 0; j < d.n * k; j++) if (loggingProbs[j]! <= 0) s += targetProbs[j]!;
          deficiency = s / d.n;
        }
        const warnings: Warning[] = [];
        const ids = admitted(estimators, deficiency, allowDeficient, cand.name, warnings);
        const sums: MergeableSums[] = [];
        for (const id of ids) {
          const terms = getEstimator(id).rowTerms(batch, { clip: params.clip, smoothingAlpha: params.smoothingAlpha });
          sums.push(sumsFromTerms(terms));
          if (interval === 'bootstrap') {
            bootTerms.push(terms);
            bootIndex.push({ c: ci, e: sums.length - 1 });
          }
        }
        let trueValue: number | undefined;
        if (d.expectedRewards) {
          let s = 0;
          for (let j = 0; j < d.n * k; j++) s += targetProbs[j]! * d.expectedRewards[j]!;
          trueValue = s / d.n;
        }
        pending.push({ ids, sums, warnings, batch, deficiency, ...(trueValue !== undefined ? { trueValue } : {}) });
      }
      // Intervals.
      const intervals: (Interval | undefined)[][] = pending.map((p) => p.ids.map(() => undefined));
      let minP = Infinity;
      for (let i = 0; i < d.n; i++) minP = Math.min(minP, propensities[i]!);
      if (interval === 'bootstrap') {
        progress(0, 1, 'bootstrap');
        bootTerms.push({ num: d.rewards, den: null, base: null });
        const boot = bootstrapIntervals(bootTerms, {
          alpha,
          seed,
          resamples: opts.resamples,
          onProgress: (done, total) => progress(done, total, 'bootstrap'),
        });
        bootIndex.forEach(({ c, e }, j) => (intervals[c]![e] = boot.intervals[j]));
        loggingInterval = boot.intervals[boot.intervals.length - 1];
      } else {
        pending.forEach((p, c) =>
          p.ids.forEach((id, e) => (intervals[c]![e] = sumsInterval(id, p.sums[e]!, interval, alpha, rewardRange, 1 / minP, params, p.warnings))),
        );
        loggingInterval = sumsInterval('dm', logging.sums, interval, alpha, rewardRange, 1, params, globalWarnings);
      }
      for (const [c, p] of pending.entries()) {
        const estimates = p.ids.map((id, e) => estimateFromSums(id, p.sums[e]!, params, intervals[c]![e], {}));
        const diagnostics = weightDiagnostics(p.batch);
        if (Number.isNaN(diagnostics.supportDeficiency)) diagnostics.supportDeficiency = 0;
        const certificates = certify(batchCertificates(p.batch, alpha, rewardRange, params), version.ref, p.deficiency, allowDeficient, p.warnings);
        cores.push({ estimates, certificates, diagnostics, warnings: p.warnings, ...(p.trueValue !== undefined ? { trueValue: p.trueValue } : {}) });
      }
      if (d.expectedRewards && loggingProbs && !propensitiesEstimated) {
        let s = 0;
        for (let j = 0; j < d.n * k; j++) s += loggingProbs[j]! * d.expectedRewards[j]!;
        loggingTrue = s / d.n;
      }
    }
    progress(candidates.length, candidates.length, 'summarizing');

    const logging = await loggingSummary();
    const loggingValue = sumsValue(logging.sums);
    const candidateResults: CandidateResult[] = candidates.map((cand, c) => {
      const core = cores[c]!;
      const values = core.estimates.map((e) => e.value).filter(Number.isFinite);
      const disagreement = values.length > 0 ? Math.max(...values) - Math.min(...values) : 0;
      const warnings = [...core.warnings, ...candidateWarnings(core.diagnostics, core.estimates)];
      if (propensitiesEstimated) warnings.push({ code: 'ESTIMATED_PROPENSITIES', message: globalWarnings.find((w) => w.code === 'ESTIMATED_PROPENSITIES')!.message });
      const pick = verdictBound(core.estimates, core.certificates, opts.verdictSource);
      const verdict = deployVerdict({
        candidate: cand.name,
        ...pick,
        loggingValue,
        ...(loggingInterval ? { loggingUpper: loggingInterval.upper } : {}),
        strict,
      });
      return {
        name: cand.name,
        source: cand.source,
        estimates: core.estimates,
        certificates: core.certificates,
        diagnostics: core.diagnostics,
        disagreement,
        warnings,
        verdict,
        ...(core.trueValue !== undefined ? { trueValue: core.trueValue } : {}),
      };
    });
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
        rowCount: n,
        numActions: k,
        ...(contextDim > 0 ? { contextDim } : {}),
        summary: logging.summary,
      },
      logging: { value: loggingValue, ...(loggingInterval ? { interval: loggingInterval } : {}), ...(loggingTrue !== undefined ? { trueValue: loggingTrue } : {}) },
      settings: {
        estimators,
        interval,
        alpha,
        ...(interval === 'bootstrap' ? { bootstrapResamples: opts.resamples ?? 1000 } : {}),
        ...(rewardSpec ? { rewardModel: rewardSpec.type === 'fit' ? rewardSpec.kind : `columns:${rewardSpec.columns.join(',')}` } : {}),
        ...(Number.isFinite(params.clip) ? { clip: params.clip } : {}),
        strict,
        rewardRange: rangeOf(logging),
      },
      propensitiesEstimated,
      candidates: candidateResults,
      ...(accuracy ? { accuracy } : {}),
      warnings: dedupe(globalWarnings),
    };
    return result;
  } finally {
    conn.closeSync();
  }
}

/** Default order in which an estimator's interval serves as the verdict's lower bound. */
export const VERDICT_PREFERENCE: readonly EstimatorId[] = ['dr', 'sndr', 'switch-dr', 'dr-os', 'snips', 'ips', 'clipped-ips', 'es-ips', 'dm'];

/**
 * The lower bound behind the verdict: `source` names an estimator id or a
 * certificate kind; by default the first of VERDICT_PREFERENCE with an interval,
 * then the first certificate.
 */
function verdictBound(estimates: Estimate[], certificates: Certificate[], source?: string): { lowerBound: number; lowerBoundSource: string; alpha: number } {
  if (source) {
    const isCert = certificates.some((c) => c.kind === source) || ['exponential-smoothing', 'catoni-clipped-ips', 'london-sandler'].includes(source);
    return pickLowerBound(estimates, certificates, isCert ? { certificate: source as Certificate['kind'] } : { estimator: source });
  }
  for (const id of VERDICT_PREFERENCE) {
    const e = estimates.find((x) => x.estimator === id && x.interval && Number.isFinite(x.interval.lower));
    if (e) return pickLowerBound(estimates, certificates, { estimator: id });
  }
  if (certificates.length > 0) return pickLowerBound(estimates, certificates, { certificate: certificates[0]!.kind });
  return { lowerBound: NaN, lowerBoundSource: 'no estimator with an interval', alpha: 0.05 };
}

/** Accuracy of each estimator across the candidates (synthetic data); k = min(3, candidates). */
function accuracyTable(cands: CandidateResult[], estimators: readonly EstimatorId[], behaviourValue: number, warnings: Warning[]): AccuracyMetrics[] | undefined {
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

function dedupe(ws: Warning[]): Warning[] {
  const seen = new Set<string>();
  return ws.filter((w) => (seen.has(w.code + w.message) ? false : (seen.add(w.code + w.message), true)));
}

/** One certificate to try: its kind and how to compute it (it may throw an OffpolicyError). */
type CertificateAttempt = [CertificateKind, () => Certificate];

/** The propensity clip of the clipped-IPS certificates: 1 / clip for a finite clip >= 1, else 1 / DEFAULT_CLIP. */
function certificateTau(params: ResolvedParams): number {
  return Number.isFinite(params.clip) && params.clip >= 1 ? 1 / params.clip : 1 / DEFAULT_CLIP;
}

/** The in-memory path's certificate attempts (fixed candidate: KL = 0). */
function batchCertificates(b: BanditBatch, alpha: number, rewardRange: [number, number], params: ResolvedParams): CertificateAttempt[] {
  const opts = { delta: alpha, rewardRange, tau: certificateTau(params) };
  const attempts: CertificateAttempt[] = [
    ['catoni-clipped-ips', () => catoniClippedIpsBound(b, opts)],
    ['london-sandler', () => londonSandlerBound(b, opts)],
  ];
  if (b.loggingProbs) attempts.push(['exponential-smoothing', () => exponentialSmoothingBound(b, { delta: alpha, rewardRange, alpha: params.smoothingAlpha })]);
  return attempts;
}

/**
 * PAC-Bayes certificates, the same on both paths: none for a support-deficient
 * candidate (unless allowDeficient); one that cannot be computed becomes a
 * CERTIFICATE_FAILED warning; without the logger's full distribution the
 * exponential-smoothing certificate is skipped with a CERTIFICATE_SKIPPED warning.
 */
function certify(attempts: CertificateAttempt[], ref: string, deficiency: number, allowDeficient: boolean, warnings: Warning[]): Certificate[] {
  const out: Certificate[] = [];
  if (deficiency > 1e-12 && !allowDeficient) return out;
  if (!attempts.some(([kind]) => kind === 'exponential-smoothing')) {
    warnings.push({
      code: 'CERTIFICATE_SKIPPED',
      message: `The exponential-smoothing certificate was not computed: it needs the logger's full action distribution (an action_probs column, DOUBLE[K]), and ${ref} has only the logged propensity. The Catoni and London-Sandler certificates need only the propensity and are reported.`,
    });
  }
  for (const [kind, f] of attempts) {
    try {
      out.push(f());
    } catch (e) {
      if (!(e instanceof OffpolicyError)) throw e;
      warnings.push({ code: 'CERTIFICATE_FAILED', message: `The ${kind} certificate could not be computed: ${e.message}` });
    }
  }
  return out;
}

async function contextDimOf(conn: DuckDBConnection, v: DatasetVersion, contextColumns?: string[]): Promise<number> {
  if (contextColumns && contextColumns.length > 0) return contextColumns.length;
  if (!has(v, 'context')) return 0;
  const row = await queryOne(conn, `SELECT max(len(context)) AS d FROM read_parquet('${v.glob.replaceAll("'", "''")}')`);
  return Number(row.d ?? 0);
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
    `SELECT count(*) FILTER (WHERE len(${list}) <> ${k}) AS width, count(*) FILTER (WHERE len(list_filter(${list}, lambda x: x IS NULL OR isnan(x) OR isinf(x))) > 0) AS bad, min(row_id) FILTER (WHERE len(list_filter(${list}, lambda x: x IS NULL OR isnan(x) OR isinf(x))) > 0) AS first FROM read_parquet('${v.glob.replaceAll("'", "''")}') AS l`,
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
  const select = logSummarySelect({ reward: 'reward::DOUBLE', action: 'action', ...(p ? { propensity: 'propensity::DOUBLE' } : {}), rowId: 'row_id' }, v.metadata.rowCount, k, shift);
  const row = await queryOne(conn, `SELECT ${select.join(', ')} FROM read_parquet('${v.glob.replaceAll("'", "''")}')`);
  return logSummaryFromGroups([row], k, shift);
}

/** The first few 0-based positions (in row_id order) of rewards outside the declared range, NULL or NaN. */
async function rowsOutsideRange(conn: DuckDBConnection, v: DatasetVersion, range: readonly [number, number]): Promise<number[]> {
  const rows = await queryRows(
    conn,
    `SELECT pos FROM (SELECT row_number() OVER (ORDER BY row_id) - 1 AS pos, reward::DOUBLE AS r FROM read_parquet('${v.glob.replaceAll("'", "''")}'))
     WHERE coalesce(NOT (r >= ${sqlNumber(range[0])} AND r <= ${sqlNumber(range[1])}), TRUE) ORDER BY pos LIMIT 5`,
  );
  return rows.map((r) => Number(r.pos));
}

/** Writes the result as pretty JSON (creating no directories) and returns the absolute path. */
export async function writeEvaluation(result: EvaluationResult, file: string): Promise<string> {
  const abs = path.resolve(file);
  await writeFile(abs, JSON.stringify(result, null, 2) + '\n');
  return abs;
}
