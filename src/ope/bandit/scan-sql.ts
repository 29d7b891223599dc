/**
 * The SQL of the bandit backend (./backend-duckdb.ts), written once against a
 * dialect (./sql-dialect.ts): ONE aggregate over the log (joined with a
 * candidate table when the candidate is one) that yields a candidate's whole
 * record of sums (./plan.ts: CandidateSums): every estimator's mergeable sums,
 * the weight statistics, the certificates' sums, the support deficiency, the
 * truth, the rewards outside the declared range, the column checks and, when
 * asked, the logging policy's sums and the dataset summary.
 *
 * Rows are grouped by a fine weight bin (WEIGHT_BINS_PER_OCTAVE bins per octave
 * of w = pi / p) and every aggregate is mergeable, so the backend adds the groups
 * up; the per-bin count, min and max give the histogram and the exact quantiles.
 *
 * Row expressions are computed once per row in levels: the inputs (r, p, pi, q,
 * dm, checks), then w = pi / p and the shared power p^alpha, then the weight bin
 * and pi / p^alpha, then each estimator's terms (SqlColumns.weight / smoothedWeight
 * point the estimators at the precomputed w and pi / p^alpha); identical terms
 * share one column and one set of sums. Proven bounds (from the Parquet footers)
 * remove work that cannot change the result: when max pi / min p <= L, clipped
 * IPS and Switch-DR are IPS and DR row by row and share their sums; when
 * min p >= tau, the clipped certificate's weight is w itself.
 */
import { versionScan } from '../../datasets/load-bandit.js';
import type { DatasetVersion } from '../../datasets/workspace.js';
import { candidateFrom, type Candidate } from '../../policies/candidates.js';
import { vecAt, vecDot, vecDotMapped, type SqlVector } from '../../policies/sql-vector.js';
import { clippedRiskSqlTerms, clippedWeightSql } from '../bounds/catoni.js';
import { smoothingActionMaps, smoothingSqlTerms } from '../bounds/exponential-smoothing.js';
import { getEstimator } from '../estimators/index.js';
import { CLIP_BINDS_ABOVE_L, sqlNumber } from '../estimators/params.js';
import type { SqlColumns } from '../estimators/types.js';
import { logSummarySelect } from '../log-summary.js';
import { countsRewardsOutside, type BanditPlan } from './plan.js';
import type { RowExpr, SqlDialect } from './sql-dialect.js';

/** Resolution of the weight bins: distinct weights closer than 2^(1/256) - 1 = 0.27% share a bin. */
export const WEIGHT_BINS_PER_OCTAVE = 256;
/** The bin of w = 0 (below every other bin index). */
export const ZERO_BIN = -(2 ** 30);

/** Extra per-candidate checks folded into the same scan: name -> SQL boolean over the raw columns (TRUE = bad row). */
export type RowChecks = Record<string, string>;

export interface ScanInput {
  /** The stored log (DuckDB over its Parquet files); or give `table`. */
  log?: DatasetVersion;
  /** Rows that are not a stored version (e.g. a ClickHouse table): the FROM clause (log alias l, candidate columns in it) and the row count. */
  table?: ScanTable;
  /**
   * Per-row expressions the candidate's probabilities read (e.g. a JSON policy in
   * SQL, ../../policies/json-policy-sql.ts), computed before everything else. Only
   * in a dialect with one flat level of row expressions (ClickHouse).
   */
  prelude?: readonly RowExpr[];
  candidate: Candidate & { type: 'sql' };
  numActions: number;
  plan: BanditPlan;
  /** Reward predictions q(x, a) as SQL (over aliases l and c), when the estimators need them. */
  rewardHat?: SqlVector;
  /** The logger's full distribution (action_probs): support deficiency and the exponential-smoothing sums. */
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
  /** Carry the logging policy's sums and the dataset summary (../log-summary.ts), with its truth when the log allows. */
  summary?: boolean;
  /**
   * Proven bounds (e.g. from the Parquet footers): every weight pi / p is at most
   * maxWeight, every propensity at least minPropensity.
   */
  bounds?: { maxWeight: number; minPropensity: number };
}

export interface Scan {
  sql: string;
  /** Per plan estimator: sum field -> aggregate alias. */
  layout: Record<string, string>[];
  /** Other summed quantities (weights, certificate sums, deficiency, truth) -> aggregate alias. */
  totals: Record<string, string>;
  smoothing: boolean;
  /** totals.sumShiftedRewardV holds sum r v (not yet shifted). */
  unshiftedRewardV: boolean;
}

export interface ScanTable {
  from: string;
  rowCount: number;
}

/** The FROM clause of the scan: the log (alias l), joined with the candidate's table when it has one (alias c). */
export function scanFrom(input: Pick<ScanInput, 'log' | 'table' | 'candidate'>): string {
  if (input.table) return input.table.from;
  if (!input.log) throw new Error('scan: neither a stored log nor a table');
  return candidateFrom(input.log, input.candidate);
}

function logFrom(input: Pick<ScanInput, 'log' | 'table'>): string {
  if (input.table) return input.table.from;
  return `${versionScan(input.log!)} AS l`;
}

/** Aliases of the summary's columns in the scan, and the aggregates of the scan it reuses. */
export const SUMMARY_COLUMNS = { reward: 'r', action: 'a', propensity: 'p', rowId: 'rid' };
export const SUMMARY_GIVEN = { count: 'n', minPropensity: 'pmin' };


/** The row aliases the estimators' sqlTerms read (from rowBasics and the levels after it): ew when ES-IPS smooths, q and dmv with reward predictions. */
export function rowColumns(smoothed: boolean, rewardHat: boolean): SqlColumns {
  return {
    reward: 'r',
    propensity: 'p',
    piLogged: 'pi',
    weight: 'w',
    ...(smoothed ? { smoothedWeight: 'ew' } : {}),
    ...(rewardHat ? { qLogged: 'q', dm: 'dmv' } : {}),
  };
}
/** The SQL of r, p and pi(a_i|x_i), shared by the main scan and the follow-up queries so the weights (and bins) agree. */
export function rowBasics(d: SqlDialect, input: Pick<ScanInput, 'candidate'>): RowExpr[] {
  return [
    { expr: d.double('l.reward'), alias: 'r' },
    { expr: d.double('l.propensity'), alias: 'p' },
    { expr: d.double(vecAt(input.candidate.probs, 'l.action', d)), alias: 'pi' },
  ];
}

function binExpr(d: SqlDialect): string {
  return `CASE WHEN w <= 0 THEN ${ZERO_BIN} ELSE ${d.integer(`floor(log2(w) * ${WEIGHT_BINS_PER_OCTAVE})`)} END`;
}

/** Rewards outside the declared range, NULL or NaN (without a declared range: NULL or NaN). */
function outsideExpr(d: SqlDialect, plan: BanditPlan): string {
  const range = plan.declaredRewardRange;
  return range ? `coalesce(NOT (r >= ${sqlNumber(range[0])} AND r <= ${sqlNumber(range[1])}), ${d.true})` : `(r IS NULL OR ${d.isNaN('r')})`;
}

/** The prelude as the first level (see ScanInput.prelude). */
export function preludeLevels(d: SqlDialect, input: Pick<ScanInput, 'prelude'>): RowExpr[][] {
  if (!input.prelude || input.prelude.length === 0) return [];
  if (d.name === 'duckdb') throw new Error('scan: a prelude needs a dialect with flat row expressions');
  return [[...input.prelude]];
}

export function buildScan(d: SqlDialect, input: ScanInput): Scan {
  const { candidate, numActions: k, plan } = input;
  const { params } = plan;
  const smoothing = input.loggingProbs !== undefined;
  const alpha = params.smoothingAlpha;
  // Level 1: the per-row inputs and the checks over the raw columns.
  const inner: RowExpr[] = rowBasics(d, input);
  const checkNames: string[] = [];
  if (input.rewardHat) {
    inner.push({ expr: d.double(vecAt(input.rewardHat, 'l.action', d)), alias: 'q' });
    inner.push({ expr: d.double(vecDot(candidate.probs, input.rewardHat, k, d)), alias: 'dmv' });
  }
  if (input.loggingProbs) {
    const pi0 = input.loggingProbs;
    const at = (v: SqlVector, a: number): string => (v.kind === 'list' ? d.listAt(v.expr, String(a + 1)) : v.exprs[a]!);
    const terms = Array.from({ length: k }, (_, a) => `CASE WHEN ${at(pi0, a)} <= 0 THEN ${at(candidate.probs, a)} ELSE 0 END`);
    inner.push({ expr: d.double(terms.join(' + ')), alias: 'deficient' });
    const maps = smoothingActionMaps(alpha);
    inner.push({ expr: d.double(vecDotMapped(candidate.probs, pi0, k, maps.biasMass, d)), alias: 'esb' });
    inner.push({ expr: d.double(vecDotMapped(candidate.probs, pi0, k, maps.secondMoment, d)), alias: 'esm' });
  }
  if (input.expectedReward) inner.push({ expr: d.double(vecDot(candidate.probs, input.expectedReward, k, d)), alias: 'truth' });
  const loggingTruth = input.summary && input.expectedReward && input.loggingProbs;
  if (loggingTruth) inner.push({ expr: d.double(vecDot(input.loggingProbs!, input.expectedReward!, k, d)), alias: 'ltruth' });
  if (input.summary) inner.push({ expr: 'l.action', alias: 'a' }, { expr: 'l.row_id', alias: 'rid' });
  // A list of predictions next to per-action candidate columns is read entry by entry (no dot product to raise): check its width.
  if (input.checkRewardHat && input.rewardHat?.kind === 'list' && candidate.probs.kind !== 'list') {
    inner.push({ expr: `coalesce(${d.listLen(input.rewardHat.expr)} <> ${k}, ${d.true})`, alias: 'chk_q_width' });
    checkNames.push('chk_q_width');
  }
  for (const [name, bad] of Object.entries(input.checks ?? {})) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`scan: bad check name ${name}`);
    inner.push({ expr: `coalesce(${bad}, ${d.true})`, alias: name });
    checkNames.push(name);
  }

  // Level 2: the weight and the power of p shared by ES-IPS and the smoothing certificate; level 3: the weight bin and pi / p^alpha.
  const needsPow = (plan.estimators.includes('es-ips') && alpha !== 0 && alpha !== 1) || smoothing;
  const second: RowExpr[] = [{ expr: '(pi / p)', alias: 'w' }];
  if (needsPow) second.push({ expr: `power(p, ${sqlNumber(alpha)})`, alias: 'pa' });
  if (input.checkRewardHat && input.rewardHat) {
    // With a valid candidate, sum_a pi_a q_a is finite exactly when every q_a is (0 * inf and 0 * NaN are NaN).
    second.push({ expr: `coalesce(NOT ${d.isFinite('dmv')}, ${d.true})`, alias: 'chk_q_finite' });
    checkNames.push('chk_q_finite');
  }
  const third: RowExpr[] = [{ expr: binExpr(d), alias: 'wbin' }];
  if (needsPow) third.push({ expr: '(pi / pa)', alias: 'ew' });

  // Level 4: the estimators' and certificates' row terms; identical expressions share one column and one set of sums.
  const cols = rowColumns(needsPow, input.rewardHat !== undefined);
  const fourth: RowExpr[] = [];
  const aggs: string[] = ['wbin', `${d.double('count(*)')} AS n`, 'min(w) AS wlo', 'max(w) AS whi', 'min(p) AS pmin'];
  const columnOf = new Map<string, string>();
  const column = (expr: string): string => {
    let c = columnOf.get(expr);
    if (!c) {
      c = `t${columnOf.size}`;
      columnOf.set(expr, c);
      fourth.push({ expr: d.double(expr), alias: c });
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
  plan.estimators.forEach((id) => {
    const t = getEstimator(id).sqlTerms(cols, clipIdle && CLIP_BINDS_ABOVE_L.has(id) ? { ...p, clip: Infinity } : p);
    const u = column(t.num);
    const f: Record<string, string> = { sumNum: agg(u), sumNum2: agg(`${u} * ${u}`) };
    const dn = t.den !== null ? column(t.den) : null;
    if (dn) Object.assign(f, { sumDen: agg(dn), sumDen2: agg(`${dn} * ${dn}`), sumNumDen: agg(`${u} * ${dn}`) });
    if (t.base !== null) {
      const b = column(t.base);
      Object.assign(f, { sumBase: agg(b), sumBase2: agg(`${b} * ${b}`), sumBaseNum: agg(`${b} * ${u}`) });
      if (dn) f.sumBaseDen = agg(`${b} * ${dn}`);
    }
    layout.push(f);
  });
  const w = column('(w)');
  const totals: Record<string, string> = { sumWeight: agg(w), sumWeight2: agg(`${w} * ${w}`) };
  let unshiftedRewardV = false;
  const { tau, rewardShift: shift } = plan;
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
    totals.deficient = agg('deficient');
  }
  if (input.expectedReward) totals.truth = agg('truth');
  if (countsRewardsOutside(plan)) aggs.push(`${d.double(d.countIf(outsideExpr(d, plan)))} AS outside`);
  if (checkNames.length > 0) aggs.push(`${d.double(d.countIf(checkNames.join(' OR ')))} AS bad`);
  if (input.summary) {
    const rowCount = input.table?.rowCount ?? input.log!.metadata.rowCount;
    // From ClickHouse shards only sums travel: no propensity sample (../evaluate-clickhouse.ts adds the exact quantiles from a binned scan).
    aggs.push(...logSummarySelect({ ...SUMMARY_COLUMNS, ...(loggingTruth ? { truth: 'ltruth' } : {}) }, rowCount, k, shift, SUMMARY_GIVEN, d, d.name !== 'clickhouse'));
  }
  const sql = d.scan([...preludeLevels(d, input), inner, second, third, fourth], aggs, scanFrom(input), { groupBy: 'wbin' });
  return { sql, layout, totals, smoothing, unshiftedRewardV };
}

/** The k-th smallest weights (0-based, per bin) of the given fine bins, one list per bin (aliases q0, q1, ...). */
export function binQuantilesSql(d: SqlDialect, input: Pick<ScanInput, 'log' | 'table' | 'candidate' | 'prelude'>, need: readonly { bin: number; count: number; ks: readonly number[] }[]): string {
  const selects = need.map(({ bin, count, ks }, j) => `${d.quantilesDiscIf('w', ks.map((k) => (k + 0.5) / count), `wbin = ${bin}`)} AS q${j}`);
  return d.scan(weightLevels(d, input), selects, scanFrom(input), { where: `wbin IN (${need.map((b) => b.bin).join(', ')})` });
}

/** The row_ids of the first few rewards outside the declared range, NULL or NaN (alias outside_row_id, ascending). */
export function rowIdsOutsideSql(d: SqlDialect, input: Pick<ScanInput, 'log' | 'table'>, plan: BanditPlan, limit = 5): string {
  const level = [
    { expr: d.double('l.reward'), alias: 'r' },
    { expr: 'l.row_id', alias: 'outside_row_id' },
  ];
  return `${d.scan([level], ['outside_row_id'], logFrom(input), { where: outsideExpr(d, plan) })}\nORDER BY outside_row_id LIMIT ${limit}`;
}

/** How many rows have a row_id below each given one (their 0-based positions in row_id order; aliases c0, c1, ...). */
export function positionsSql(d: SqlDialect, input: Pick<ScanInput, 'log' | 'table'>, rowIds: readonly number[]): string {
  return `SELECT ${rowIds.map((id, j) => `${d.double(d.countIf(`l.row_id < ${id}`))} AS c${j}`).join(', ')} FROM ${logFrom(input)}`;
}

/** How many weights of the given fine bins lie below 2^o (the histogram's edge; aliases e0, e1, ...). */
export function binEdgeCountsSql(d: SqlDialect, input: Pick<ScanInput, 'log' | 'table' | 'candidate' | 'prelude'>, edges: readonly { bin: number; edge: number }[]): string {
  const selects = edges.map(({ bin, edge }, j) => `${d.double(d.countIf(`wbin = ${bin} AND w < ${sqlNumber(edge)}`))} AS e${j}`);
  return d.scan(weightLevels(d, input), selects, scanFrom(input), { where: `wbin IN (${edges.map((b) => b.bin).join(', ')})` });
}

function weightLevels(d: SqlDialect, input: Pick<ScanInput, 'candidate' | 'prelude'>): RowExpr[][] {
  const basics = rowBasics(d, input);
  const pi = basics.find((x) => x.alias === 'pi')!.expr;
  const p = basics.find((x) => x.alias === 'p')!.expr;
  return [...preludeLevels(d, input), [{ expr: `(${pi}) / (${p})`, alias: 'w' }], [{ expr: binExpr(d), alias: 'wbin' }]];
}
