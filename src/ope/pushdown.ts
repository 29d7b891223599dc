/**
 * The fast path: when a candidate's probabilities and the reward-model
 * predictions are columns (in the log, or in a Parquet/CSV table joined by
 * row_id), ONE DuckDB scan over the Parquet files yields every estimator's
 * mergeable sums, the sums behind the PAC-Bayes certificates, the weight
 * diagnostics, the support deficiency, the column checks, (for synthetic data)
 * the true value and, when asked, the logging policy's value and the dataset
 * summary. No per-row data reaches JS; point estimates, t / Hoeffding /
 * Bernstein intervals and certificates follow from the sums.
 *
 * The scan groups rows by a fine weight bin (WEIGHT_BINS_PER_OCTAVE bins per
 * octave of w = pi / p) and every aggregate is mergeable, so JS adds the groups
 * up. The per-bin count, min and max give the weight histogram and the EXACT
 * weight quantiles (quantile_cont's definition): an order statistic that is the
 * first or last of its bin, or falls in a bin holding one distinct value, is read
 * off directly; otherwise a second, narrow query runs quantile_disc over the few
 * bins that hold the missing order statistics. (Measured on 10M rows: grouping
 * costs about as much as the log-binned histogram aggregate it replaces, and less
 * than an ungrouped scan plus a separate bin scan, which decodes the candidate
 * column twice.)
 *
 * Row expressions are computed once per row in levels: the inputs (r, p, pi, q,
 * dm, checks), then w = pi / p and the shared power p^alpha, then each
 * estimator's terms (SqlColumns.weight / smoothedWeight point the estimators at
 * the precomputed w and pi / p^alpha); identical terms share one column and one
 * set of sums. Free bounds from the Parquet footers (footerStats) remove work that
 * cannot change the result: when max pi / min p <= L, clipped IPS and Switch-DR
 * are IPS and DR row by row and share their sums; when min p >= tau, the clipped
 * certificate's weight is w itself.
 *
 * The weight histogram has one bin per octave (the in-memory path's has 20
 * equal-width bins over [0, max weight]); every other number agrees with the
 * in-memory path to rounding (tests/evaluate.test.ts checks 1e-10).
 */
import { lit, queryOne, type DuckDBConnection } from '../datasets/duckdb.js';
import type { DatasetVersion } from '../datasets/workspace.js';
import { candidateFrom, type Candidate } from '../policies/candidates.js';
import { vecAt, vecDot, vecDotMapped, type SqlVector } from '../policies/sql-vector.js';
import { clippedRiskSqlTerms, clippedWeightSql, type ClippedRiskSums } from './bounds/catoni.js';
import { smoothingActionMaps, smoothingSqlTerms, type SmoothingSums } from './bounds/exponential-smoothing.js';
import { DEFAULT_WEIGHT_QUANTILES } from './diagnostics.js';
import { getEstimator } from './estimators/index.js';
import { CLIP_BINDS_ABOVE_L, sqlNumber } from './estimators/params.js';
import type { EstimatorId, ResolvedParams, SqlColumns } from './estimators/types.js';
import { logSummaryFromGroups, logSummarySelect, type LogSummary } from './log-summary.js';
import { emptySums, foldBase, mergeSums, type MergeableSums } from './sums.js';
import { quantileRanks, resolveFromBins, type CountedBin } from '../util/binned-order-statistics.js';

export const WEIGHT_QUANTILES = DEFAULT_WEIGHT_QUANTILES;
/** Resolution of the weight bins: distinct weights closer than 2^(1/256) - 1 = 0.27% share a bin. */
export const WEIGHT_BINS_PER_OCTAVE = 256;
/** The bin of w = 0 (below every other bin index). */
const ZERO_BIN = -(2 ** 30);

/** Extra per-candidate checks folded into the same scan: name -> SQL boolean over the raw columns (TRUE = bad row). */
export type RowChecks = Record<string, string>;

export interface PushdownInput {
  conn: DuckDBConnection;
  log: DatasetVersion;
  candidate: Candidate & { type: 'sql' };
  numActions: number;
  estimators: readonly EstimatorId[];
  params: ResolvedParams;
  /** Reward predictions q(x, a) as SQL (over aliases l and c), when the estimators need them. */
  rewardHat?: SqlVector;
  /** The logger's full distribution (action_probs): support deficiency and the exponential-smoothing certificate. */
  loggingProbs?: SqlVector;
  /** Ground-truth q*(x, a) (expected_reward) for the true value. */
  expectedReward?: SqlVector;
  /** Candidate checks (e.g. candidateRowChecks), counted in the same scan. */
  checks?: RowChecks;
  /**
   * Also check the reward predictions: all finite (read off sum_a pi_a q_a). With a
   * list candidate, a prediction list of other than K entries makes that dot
   * product raise, and the caller explains a failed query as it explains a positive
   * bad-row count; next to per-action candidate columns its length is checked.
   */
  checkRewardHat?: boolean;
  /**
   * Carry the certificate sums: clipped risk with propensity clip tau; with
   * loggingProbs, the exponential-smoothing sums for params.smoothingAlpha.
   */
  certificates?: { tau: number };
  /**
   * Rewards enter the certificate and summary sums as (r - rewardShift): a constant
   * near the smallest reward keeps them free of cancellation (bounds/common.ts). Default 0.
   */
  rewardShift?: number;
  /** Carry the logging policy's sums and the dataset summary (./log-summary.ts). */
  summary?: boolean;
  /**
   * Proven bounds (e.g. from footerStats): every weight pi / p is at most
   * maxWeight, every propensity at least minPropensity. When maxWeight <= L the
   * estimators of CLIP_BINDS_ABOVE_L share IPS's and DR's sums (row by row the
   * same); when minPropensity >= tau the clipped certificate's weight is w itself.
   */
  bounds?: { maxWeight: number; minPropensity: number };
  /** A declared reward range: rows with a reward outside it (or NULL / NaN) are counted. */
  rewardRange?: readonly [number, number];
}

export interface PushdownResult {
  sums: Map<EstimatorId, MergeableSums>;
  n: number;
  sumWeight: number;
  sumWeight2: number;
  maxWeight: number;
  minPropensity: number;
  /** Exact (quantile_cont's definition). */
  weightQuantiles: { q: number; value: number }[];
  /** One bin per octave [2^o, 2^(o+1)) (the last one ends at the largest weight), plus [0, 0] for zero weights. */
  weightHistogram: { start: number; end: number; count: number }[];
  /** Mean candidate mass on actions the logger never takes; NaN when action_probs is absent. */
  supportDeficiency: number;
  trueValue?: number;
  clippedRisk?: ClippedRiskSums;
  smoothing?: SmoothingSums;
  /** Rows whose reward lies outside the declared rewardRange. */
  rewardsOutOfRange?: number;
  /** With `summary`: the logging policy's sums, the summary, and its true value when the log allows. */
  logging?: LogSummary & { trueValue?: number };
  /** Rows failing a check (any positive count: run the full checks to explain). */
  badRows: number;
  /** Whether the exact quantiles needed the second scan. */
  quantileScan: boolean;
  /** The SQL of the main scan (for --verbose and tests). */
  sql: string;
}

interface Plan {
  sql: string;
  /** Per estimator: sum field -> aggregate alias. */
  layout: Record<string, string>[];
  /** Other summed quantities (weights, certificate sums, deficiency, truth) -> aggregate alias. */
  totals: Record<string, string>;
  smoothing: boolean;
  /** totals.sumShiftedRewardV holds sum r v (not yet shifted). */
  unshiftedRewardV: boolean;
}

/** The SQL of r, p and pi(a_i|x_i), shared by the main scan and the quantile query so the weights (and bins) agree. */
function rowBasics(input: PushdownInput): { r: string; p: string; pi: string } {
  return { r: 'l.reward::DOUBLE', p: 'l.propensity::DOUBLE', pi: `${vecAt(input.candidate.probs, 'l.action')}::DOUBLE` };
}
const SUMMARY_COLUMNS = { reward: 'r', action: 'a', propensity: 'p', rowId: 'rid' };
/** Aggregates of the scan the summary reuses. */
const SUMMARY_GIVEN = { count: 'n', minPropensity: 'pmin' };
const BIN_SQL = `CASE WHEN w <= 0 THEN ${ZERO_BIN} ELSE floor(log2(w) * ${WEIGHT_BINS_PER_OCTAVE})::INTEGER END`;

function buildPushdown(input: PushdownInput): Plan {
  const { candidate, numActions: k, params } = input;
  const basics = rowBasics(input);
  const smoothing = input.certificates !== undefined && input.loggingProbs !== undefined;
  const alpha = params.smoothingAlpha;
  // Level 1: the per-row inputs and the checks over the raw columns.
  const inner: string[] = [`${basics.r} AS r`, `${basics.p} AS p`, `${basics.pi} AS pi`];
  const checkNames: string[] = [];
  if (input.rewardHat) {
    inner.push(`${vecAt(input.rewardHat, 'l.action')}::DOUBLE AS q`);
    inner.push(`${vecDot(candidate.probs, input.rewardHat, k)}::DOUBLE AS dmv`);
  }
  if (input.loggingProbs) {
    const pi0 = input.loggingProbs;
    const at = (v: SqlVector, a: number): string => (v.kind === 'list' ? `(${v.expr})[${a + 1}]` : v.exprs[a]!);
    const terms = Array.from({ length: k }, (_, a) => `CASE WHEN ${at(pi0, a)} <= 0 THEN ${at(candidate.probs, a)} ELSE 0 END`);
    inner.push(`(${terms.join(' + ')})::DOUBLE AS deficient`);
  }
  if (smoothing) {
    const maps = smoothingActionMaps(alpha);
    inner.push(`${vecDotMapped(candidate.probs, input.loggingProbs!, k, maps.biasMass)}::DOUBLE AS esb`);
    inner.push(`${vecDotMapped(candidate.probs, input.loggingProbs!, k, maps.secondMoment)}::DOUBLE AS esm`);
  }
  if (input.expectedReward) inner.push(`${vecDot(candidate.probs, input.expectedReward, k)}::DOUBLE AS truth`);
  const loggingTruth = input.summary && input.expectedReward && input.loggingProbs;
  if (loggingTruth) inner.push(`${vecDot(input.loggingProbs!, input.expectedReward!, k)}::DOUBLE AS ltruth`);
  if (input.summary) inner.push('l.action AS a', 'l.row_id AS rid');
  // A list of predictions next to per-action candidate columns is read entry by entry (no dot product to raise): check its width.
  if (input.checkRewardHat && input.rewardHat?.kind === 'list' && candidate.probs.kind !== 'list') {
    inner.push(`coalesce(len(${input.rewardHat.expr}) <> ${k}, TRUE) AS chk_q_width`);
    checkNames.push('chk_q_width');
  }
  for (const [name, bad] of Object.entries(input.checks ?? {})) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`pushdown: bad check name ${name}`);
    inner.push(`coalesce(${bad}, TRUE) AS ${name}`);
    checkNames.push(name);
  }

  // Level 2: the weight and the power of p shared by ES-IPS and the smoothing certificate; level 3: the weight bin and pi / p^alpha.
  const needsPow = (input.estimators.includes('es-ips') && alpha !== 0 && alpha !== 1) || smoothing;
  const second: string[] = ['*', '(pi / p) AS w'];
  if (needsPow) second.push(`power(p, ${sqlNumber(alpha)}) AS pa`);
  if (input.checkRewardHat && input.rewardHat) {
    // With a valid candidate, sum_a pi_a q_a is finite exactly when every q_a is (0 * inf and 0 * NaN are NaN).
    second.push('coalesce(NOT isfinite(dmv), TRUE) AS chk_q_finite');
    checkNames.push('chk_q_finite');
  }
  const third: string[] = ['*', `${BIN_SQL} AS wbin`];
  if (needsPow) third.push('(pi / pa) AS ew');

  // Level 4: the estimators' and certificates' row terms; identical expressions share one column and one set of sums.
  const cols: SqlColumns = {
    reward: 'r',
    propensity: 'p',
    piLogged: 'pi',
    weight: 'w',
    ...(needsPow ? { smoothedWeight: 'ew' } : {}),
    ...(input.rewardHat ? { qLogged: 'q', dm: 'dmv' } : {}),
  };
  const fourth: string[] = ['*'];
  const aggs: string[] = ['wbin', 'count(*)::DOUBLE AS n', 'min(w) AS wlo', 'max(w) AS whi', 'min(p) AS pmin'];
  const columnOf = new Map<string, string>();
  const column = (expr: string): string => {
    let c = columnOf.get(expr);
    if (!c) {
      c = `t${columnOf.size}`;
      columnOf.set(expr, c);
      fourth.push(`(${expr})::DOUBLE AS ${c}`);
    }
    return c;
  };
  const aggOf = new Map<string, string>();
  const agg = (expr: string): string => {
    let a = aggOf.get(expr);
    if (!a) {
      a = `s${aggOf.size}`;
      aggOf.set(expr, a);
      aggs.push(`sum(${expr}) AS ${a}`);
    }
    return a;
  };
  const p = { clip: params.clip, smoothingAlpha: alpha };
  const clipIdle = (input.bounds?.maxWeight ?? Infinity) <= params.clip;
  const layout: Record<string, string>[] = [];
  input.estimators.forEach((id) => {
    const t = getEstimator(id).sqlTerms(cols, clipIdle && CLIP_BINDS_ABOVE_L.has(id) ? { ...p, clip: Infinity } : p);
    const u = column(t.num);
    const f: Record<string, string> = { sumNum: agg(u), sumNum2: agg(`${u} * ${u}`) };
    const d = t.den !== null ? column(t.den) : null;
    if (d) Object.assign(f, { sumDen: agg(d), sumDen2: agg(`${d} * ${d}`), sumNumDen: agg(`${u} * ${d}`) });
    if (t.base !== null) {
      const b = column(t.base);
      Object.assign(f, { sumBase: agg(b), sumBase2: agg(`${b} * ${b}`), sumBaseNum: agg(`${b} * ${u}`) });
      if (d) f.sumBaseDen = agg(`${b} * ${d}`);
    }
    layout.push(f);
  });
  const w = column('(w)');
  const totals: Record<string, string> = { sumWeight: agg(w), sumWeight2: agg(`${w} * ${w}`) };
  let unshiftedRewardV = false;
  if (input.certificates) {
    const { tau } = input.certificates;
    const shift = input.rewardShift ?? 0;
    if ((input.bounds?.minPropensity ?? 0) >= tau) {
      // pi / max(p, tau) = w on every row: sum v and sum r v are SNIPS's and IPS's sums (the shift is applied in JS).
      totals.sumV = agg(w);
      totals.sumShiftedRewardV = agg(column(getEstimator('ips').sqlTerms(cols, p).num));
      unshiftedRewardV = true;
    } else {
      const v = column(clippedWeightSql({ piLogged: 'pi', propensity: 'p' }, tau));
      totals.sumV = agg(v);
      totals.sumShiftedRewardV = agg(column(clippedRiskSqlTerms({ reward: 'r', piLogged: 'pi', propensity: 'p', clippedWeight: v }, tau, shift).sumShiftedRewardV));
    }
    if (smoothing) {
      const st = smoothingSqlTerms({ reward: 'r', piLogged: 'pi', propensity: 'p', propensityPow: 'pa', smoothedWeight: 'ew' }, alpha, shift);
      for (const [field, expr] of Object.entries(st)) totals[field] = agg(column(expr));
      totals.biasMass = agg('esb');
      totals.secondMoment = agg('esm');
    }
  }
  if (input.loggingProbs) totals.deficient = agg('deficient');
  if (input.expectedReward) totals.truth = agg('truth');
  if (loggingTruth) totals.ltruth = agg('ltruth');
  if (input.rewardRange) {
    const [lo, hi] = input.rewardRange;
    aggs.push(`count(*) FILTER (WHERE coalesce(NOT (r >= ${sqlNumber(lo)} AND r <= ${sqlNumber(hi)}), TRUE))::DOUBLE AS outside`);
  }
  if (checkNames.length > 0) aggs.push(`count(*) FILTER (WHERE ${checkNames.join(' OR ')})::DOUBLE AS bad`);
  if (input.summary) aggs.push(...logSummarySelect(SUMMARY_COLUMNS, input.log.metadata.rowCount, k, input.rewardShift ?? 0, SUMMARY_GIVEN));
  const from = candidateFrom(input.log, candidate);
  const sql =
    `SELECT\n  ${aggs.join(',\n  ')}\n` +
    `FROM (SELECT ${fourth.join(', ')} FROM (SELECT ${third.join(', ')} FROM (SELECT ${second.join(', ')} FROM (SELECT ${inner.join(', ')} FROM ${from}))))\n` +
    'GROUP BY wbin ORDER BY wbin';
  return { sql, layout, totals, smoothing, unshiftedRewardV };
}

export function pushdownSql(input: PushdownInput): string {
  return buildPushdown(input).sql;
}

/** Fills the sums an estimator's missing den (= 1) and base (= 0) imply. */
function sumsOf(row: Record<string, unknown>, fields: Record<string, string>, n: number): MergeableSums {
  const g = (f: string): number | undefined => (fields[f] === undefined ? undefined : Number(row[fields[f]!] ?? 0));
  const sumNum = g('sumNum')!;
  const hasDen = g('sumDen') !== undefined;
  return {
    n,
    sumNum,
    sumNum2: g('sumNum2')!,
    sumDen: hasDen ? g('sumDen')! : n,
    sumDen2: hasDen ? g('sumDen2')! : n,
    sumNumDen: hasDen ? g('sumNumDen')! : sumNum,
    sumBase: g('sumBase') ?? 0,
    sumBase2: g('sumBase2') ?? 0,
    sumBaseNum: g('sumBaseNum') ?? 0,
    sumBaseDen: g('sumBaseDen') ?? (hasDen ? 0 : g('sumBase') ?? 0),
  };
}

interface WeightBin extends CountedBin {
  bin: number;
}

/**
 * Exact weight quantiles (quantile_cont's definition, as sortedQuantile computes
 * it: x0 + d (x1 - x0) between the order statistics at ranks floor(h) and
 * floor(h) + 1, h = (n - 1) q, d = h - floor(h)) from the bins;
 * order statistics strictly inside a bin with several distinct values come from
 * one more scan (quantile_disc at (k + 0.5) / count picks the k-th smallest of a
 * bin exactly).
 */
async function exactWeightQuantiles(input: PushdownInput, bins: WeightBin[], n: number): Promise<{ quantiles: { q: number; value: number }[]; scanned: boolean }> {
  if (n === 0) return { quantiles: WEIGHT_QUANTILES.map((q) => ({ q, value: NaN })), scanned: false };
  const { known, pending: need } = resolveFromBins(bins, WEIGHT_QUANTILES.flatMap((q) => quantileRanks(n, q)));
  if (need.length > 0) {
    const basics = rowBasics(input);
    const selects = need.map(({ bin: b, ks }, j) => `quantile_disc(w, [${ks.map((k) => sqlNumber((k + 0.5) / b.count)).join(', ')}]) FILTER (WHERE wbin = ${b.bin}) AS q${j}`);
    const row = await queryOne(
      input.conn,
      `SELECT ${selects.join(', ')} FROM (SELECT w, ${BIN_SQL} AS wbin FROM (SELECT (${basics.pi}) / (${basics.p}) AS w FROM ${candidateFrom(input.log, input.candidate)}))
       WHERE wbin IN (${need.map(({ bin: b }) => b.bin).join(', ')})`,
    );
    need.forEach(({ bin: b, ks }, j) => {
      const vals = row[`q${j}`] as unknown[];
      ks.forEach((k, i) => known.set(b.start + k, Number(vals[i])));
    });
  }
  const at = (rank: number): number => known.get(rank)!;
  const quantiles = WEIGHT_QUANTILES.map((q) => {
    const h = (n - 1) * q;
    const r = Math.floor(h);
    const x0 = at(r);
    if (!(h > r) || r + 1 >= n) return { q, value: x0 };
    // sortedQuantile's interpolation (./intervals/bootstrap.ts), so both paths agree to the last bit.
    return { q, value: x0 + (h - r) * (at(r + 1) - x0) };
  });
  return { quantiles, scanned: need.length > 0 };
}

/** One bin per octave from the fine bins; zero weights get [0, 0]. */
function octaveHistogram(bins: WeightBin[], maxWeight: number): { start: number; end: number; count: number }[] {
  const coarse = new Map<number, number>();
  for (const b of bins) {
    const key = b.bin === ZERO_BIN ? Number.NEGATIVE_INFINITY : Math.floor(b.bin / WEIGHT_BINS_PER_OCTAVE);
    coarse.set(key, (coarse.get(key) ?? 0) + b.count);
  }
  return [...coarse.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([o, count]) => (o === Number.NEGATIVE_INFINITY ? { start: 0, end: 0, count } : { start: Math.pow(2, o), end: Math.min(Math.pow(2, o + 1), Math.max(maxWeight, Math.pow(2, o))), count }));
}

export async function pushdownCandidate(input: PushdownInput): Promise<PushdownResult> {
  const plan = buildPushdown(input);
  // JS values (not JSON): BIGINT bit masks arrive as bigint, lists as arrays.
  const rows = (await input.conn.runAndReadAll(plan.sql)).getRowObjectsJS() as Record<string, unknown>[];
  const num = (row: Record<string, unknown>, key: string): number => Number(row[key] ?? 0);
  let n = 0;
  const sums = new Map<EstimatorId, MergeableSums>();
  input.estimators.forEach((id) => sums.set(id, emptySums()));
  const folded = (): Map<EstimatorId, MergeableSums> => new Map([...sums].map(([id, s]) => [id, foldBase(s)]));
  const tot: Record<string, number> = {};
  for (const key of Object.keys(plan.totals)) tot[key] = 0;
  let maxWeight = Number.NEGATIVE_INFINITY;
  let minPropensity = Infinity;
  let outside = 0;
  let bad = 0;
  const bins: WeightBin[] = [];
  for (const row of rows) {
    const rn = num(row, 'n');
    n += rn;
    input.estimators.forEach((id, i) => sums.set(id, mergeSums(sums.get(id)!, sumsOf(row, plan.layout[i]!, rn))));
    for (const [key, alias] of Object.entries(plan.totals)) tot[key]! += num(row, alias);
    if (row.whi !== null) maxWeight = Math.max(maxWeight, Number(row.whi));
    if (row.pmin !== null) minPropensity = Math.min(minPropensity, Number(row.pmin));
    outside += num(row, 'outside');
    bad += num(row, 'bad');
    if (row.wbin !== null && row.wbin !== undefined) bins.push({ bin: Number(row.wbin), count: rn, lo: Number(row.wlo), hi: Number(row.whi), start: 0 });
  }
  let seen = 0;
  for (const b of bins) {
    b.start = seen;
    seen += b.count;
  }
  // Quantiles only for valid columns (a failed check is explained by the caller, who throws) where every row has a weight.
  const exact = bad === 0 && seen === n ? await exactWeightQuantiles(input, bins, n) : { quantiles: WEIGHT_QUANTILES.map((q) => ({ q, value: NaN })), scanned: false };
  const shift = input.rewardShift ?? 0;
  const result: PushdownResult = {
    sums: folded(),
    n,
    sumWeight: tot.sumWeight!,
    sumWeight2: tot.sumWeight2!,
    maxWeight,
    minPropensity,
    weightQuantiles: exact.quantiles,
    weightHistogram: octaveHistogram(bins, maxWeight),
    supportDeficiency: input.loggingProbs ? tot.deficient! / n : NaN,
    ...(input.expectedReward ? { trueValue: tot.truth! / n } : {}),
    ...(input.rewardRange ? { rewardsOutOfRange: outside } : {}),
    badRows: bad,
    quantileScan: exact.scanned,
    sql: plan.sql,
  };
  if (input.certificates) {
    result.clippedRisk = { n, shift, sumV: tot.sumV!, sumShiftedRewardV: plan.unshiftedRewardV ? tot.sumShiftedRewardV! - shift * tot.sumV! : tot.sumShiftedRewardV! };
    if (plan.smoothing) {
      result.smoothing = {
        n,
        alpha: input.params.smoothingAlpha,
        shift,
        sumE: tot.sumE!,
        sumShiftedRewardE: tot.sumShiftedRewardE!,
        sumF: tot.sumF!,
        sumShiftedRewardF: tot.sumShiftedRewardF!,
        sumShiftedReward2F: tot.sumShiftedReward2F!,
        biasMass: tot.biasMass!,
        secondMoment: tot.secondMoment!,
      };
    }
  }
  if (input.summary) {
    const logging = logSummaryFromGroups(rows, input.numActions, shift, SUMMARY_GIVEN);
    result.logging = { ...logging, ...(tot.ltruth !== undefined ? { trueValue: tot.ltruth / n } : {}) };
  }
  return result;
}

/**
 * Min and max of Parquet leaf columns of the log (path_in_schema, e.g. "reward" or
 * "cand, list, element") from the footer statistics: free bounds, exact for files
 * DuckDB writes. A column with a row group lacking a statistic is left out.
 */
export async function footerStats(conn: DuckDBConnection, log: DatasetVersion, paths: readonly string[]): Promise<Map<string, { min: number; max: number }>> {
  const out = new Map<string, { min: number; max: number }>();
  if (paths.length === 0) return out;
  const rows = (
    await conn.runAndReadAll(
      `SELECT path_in_schema AS path, count(*) AS groups,
              count(TRY_CAST(stats_min_value AS DOUBLE)) AS nmin, count(TRY_CAST(stats_max_value AS DOUBLE)) AS nmax,
              min(TRY_CAST(stats_min_value AS DOUBLE)) AS lo, max(TRY_CAST(stats_max_value AS DOUBLE)) AS hi
       FROM parquet_metadata(${lit(log.glob)}) WHERE path_in_schema IN (${paths.map(lit).join(', ')}) GROUP BY path_in_schema`,
    )
  ).getRowObjectsJS() as Record<string, unknown>[];
  for (const r of rows) {
    const groups = Number(r.groups);
    const lo = Number(r.lo), hi = Number(r.hi);
    if (groups > 0 && Number(r.nmin) === groups && Number(r.nmax) === groups && !Number.isNaN(lo) && !Number.isNaN(hi)) out.set(String(r.path), { min: lo, max: hi });
  }
  return out;
}
