/**
 * The fast path: when a candidate's probabilities and the reward-model
 * predictions are columns (in the log, or in a Parquet/CSV table joined by
 * row_id), every estimator's mergeable sums, the weight diagnostics, the support
 * deficiency and (for synthetic data) the true value come out of ONE DuckDB
 * aggregate over the Parquet files. No per-row data reaches JS; point estimates
 * and Student-t (or Hoeffding / Bernstein) intervals follow from the sums.
 */
import { queryOne, type DuckDBConnection } from '../datasets/duckdb.js';
import type { DatasetVersion } from '../datasets/workspace.js';
import { candidateFrom, type Candidate } from '../policies/candidates.js';
import { vecAt, vecDot, type SqlVector } from '../policies/sql-vector.js';
import { DEFAULT_WEIGHT_QUANTILES } from './diagnostics.js';
import { getEstimator } from './estimators/index.js';
import type { EstimatorId, ResolvedParams } from './estimators/types.js';
import type { MergeableSums } from './sums.js';

export const WEIGHT_QUANTILES = DEFAULT_WEIGHT_QUANTILES;

export interface PushdownInput {
  conn: DuckDBConnection;
  log: DatasetVersion;
  candidate: Candidate & { type: 'sql' };
  numActions: number;
  estimators: readonly EstimatorId[];
  params: ResolvedParams;
  /** Reward predictions q(x, a) as SQL (over aliases l and c), when the estimators need them. */
  rewardHat?: SqlVector;
  /** The logger's full distribution (action_probs) for the support deficiency. */
  loggingProbs?: SqlVector;
  /** Ground-truth q*(x, a) (expected_reward) for the true value. */
  expectedReward?: SqlVector;
}

export interface PushdownResult {
  sums: Map<EstimatorId, MergeableSums>;
  n: number;
  sumWeight: number;
  sumWeight2: number;
  maxWeight: number;
  minPropensity: number;
  weightQuantiles: { q: number; value: number }[];
  weightHistogram: { start: number; end: number; count: number }[];
  /** Mean candidate mass on actions the logger never takes; NaN when action_probs is absent. */
  supportDeficiency: number;
  trueValue?: number;
  /** The SQL that ran (for --verbose and tests). */
  sql: string;
}

/** Extra per-candidate checks folded into the same scan: name -> SQL boolean (TRUE = bad row). */
export type RowChecks = Record<string, string>;

/**
 * Builds the single aggregate query for one candidate. Three levels: the inputs
 * (r, p, pi, q, dm) once per row; each estimator's row terms once per row; then
 * only the sums each estimator needs (constant den = 1 and base = 0 are filled in
 * JS, see termsOf).
 */
function buildPushdown(input: PushdownInput, checks: RowChecks): { sql: string; layout: Record<string, string>[] } {
  const { candidate, numActions: k, params } = input;
  const inner: string[] = ['l.reward::DOUBLE AS r', 'l.propensity::DOUBLE AS p', `${vecAt(candidate.probs, 'l.action')}::DOUBLE AS pi`];
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
  if (input.expectedReward) inner.push(`${vecDot(candidate.probs, input.expectedReward, k)}::DOUBLE AS truth`);
  Object.entries(checks).forEach(([name, bad]) => inner.push(`coalesce(${bad}, TRUE) AS ${name}`));
  const cols = { reward: 'r', propensity: 'p', piLogged: 'pi', qLogged: input.rewardHat ? 'q' : undefined, dm: input.rewardHat ? 'dmv' : undefined };
  const p = { clip: params.clip, smoothingAlpha: params.smoothingAlpha };
  const middle: string[] = ['*', '(pi / p) AS w'];
  const aggs: string[] = ['count(*)::DOUBLE AS n'];
  // Identical term expressions (e.g. IPS and SNIPS share w r) become one column and one set of sums.
  const columnOf = new Map<string, string>();
  const column = (expr: string): string => {
    let c = columnOf.get(expr);
    if (!c) {
      c = `t${columnOf.size}`;
      columnOf.set(expr, c);
      middle.push(`(${expr})::DOUBLE AS ${c}`);
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
  const layout: Record<string, string>[] = [];
  input.estimators.forEach((id) => {
    const t = getEstimator(id).sqlTerms(cols, p);
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
  aggs.push('sum(w) AS sw', 'sum(w * w) AS sw2', 'max(w) AS wmax', 'min(p) AS pmin');
  // Weight histogram on log2 bins of width 1/8 octave; quantiles are read off it (relative error < 9%).
  aggs.push(`histogram(CASE WHEN w <= 0 THEN ${ZERO_BIN} ELSE greatest(${ZERO_BIN + 1}, floor(log2(w) * ${BINS_PER_OCTAVE}))::INTEGER END) AS wh`);
  if (input.loggingProbs) aggs.push('avg(deficient) AS deficiency');
  if (input.expectedReward) aggs.push('avg(truth) AS truth');
  Object.keys(checks).forEach((name) => aggs.push(`count(*) FILTER (WHERE ${name}) AS ${name}`));
  return {
    sql: `SELECT\n  ${aggs.join(',\n  ')}\nFROM (SELECT ${middle.join(', ')} FROM (SELECT ${inner.join(', ')} FROM ${candidateFrom(input.log, candidate)}))`,
    layout,
  };
}

export function pushdownSql(input: PushdownInput, checks: RowChecks = {}): string {
  return buildPushdown(input, checks).sql;
}

const BINS_PER_OCTAVE = 8;
/** Bin index standing for w = 0 (weights below 2^-40 share the next bin). */
const ZERO_BIN = -40 * BINS_PER_OCTAVE - 1;

function binRange(bin: number): [number, number] {
  if (bin === ZERO_BIN) return [0, 0];
  return [Math.pow(2, bin / BINS_PER_OCTAVE), Math.pow(2, (bin + 1) / BINS_PER_OCTAVE)];
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

/** Quantiles and a coarse (one bin per octave) histogram from the fine log2 histogram. */
function fromFineHistogram(map: Map<number, number>, n: number, maxWeight: number): { quantiles: { q: number; value: number }[]; histogram: { start: number; end: number; count: number }[] } {
  const bins = [...map.entries()].sort((a, b) => a[0] - b[0]);
  const quantiles = WEIGHT_QUANTILES.map((q) => {
    const target = q * (n - 1);
    let seen = 0;
    for (const [bin, count] of bins) {
      if (seen + count > target) {
        const [lo, hi] = binRange(bin);
        const frac = count > 1 ? (target - seen) / (count - 1) : 0;
        return { q, value: Math.min(maxWeight, lo + (hi - lo) * Math.min(1, frac)) };
      }
      seen += count;
    }
    return { q, value: maxWeight };
  });
  const coarse = new Map<number, number>();
  for (const [bin, count] of bins) {
    const key = bin === ZERO_BIN ? Number.NEGATIVE_INFINITY : Math.floor(bin / BINS_PER_OCTAVE);
    coarse.set(key, (coarse.get(key) ?? 0) + count);
  }
  const histogram = [...coarse.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([o, count]) => (o === Number.NEGATIVE_INFINITY ? { start: 0, end: 0, count } : { start: Math.pow(2, o), end: Math.min(Math.pow(2, o + 1), Math.max(maxWeight, Math.pow(2, o))), count }));
  return { quantiles, histogram };
}

export async function pushdownCandidate(input: PushdownInput, checks: RowChecks = {}): Promise<PushdownResult & { checks: Record<string, number> }> {
  const { sql, layout } = buildPushdown(input, checks);
  const row = await queryOne(input.conn, sql);
  const n = Number(row.n);
  const sums = new Map<EstimatorId, MergeableSums>();
  input.estimators.forEach((id, i) => sums.set(id, sumsOf(row, layout[i]!, n)));
  const maxWeight = Number(row.wmax);
  const wh = row.wh as Map<number, number> | Record<string, number> | { entries?: unknown } | null;
  const map = new Map<number, number>();
  if (wh instanceof Map) for (const [key, v] of wh) map.set(Number(key), Number(v));
  else if (Array.isArray(wh)) for (const e of wh as { key: unknown; value: unknown }[]) map.set(Number(e.key), Number(e.value));
  else if (wh && typeof wh === 'object') for (const [key, v] of Object.entries(wh)) map.set(Number(key), Number(v));
  const { quantiles, histogram } = fromFineHistogram(map, n, maxWeight);
  const checkCounts: Record<string, number> = {};
  for (const name of Object.keys(checks)) checkCounts[name] = Number(row[name]);
  return {
    sums,
    n,
    sumWeight: Number(row.sw),
    sumWeight2: Number(row.sw2),
    maxWeight,
    minPropensity: Number(row.pmin),
    weightQuantiles: quantiles,
    weightHistogram: histogram,
    supportDeficiency: input.loggingProbs ? Number(row.deficiency) : NaN,
    ...(input.expectedReward ? { trueValue: Number(row.truth) } : {}),
    sql,
    checks: checkCounts,
  };
}

