/**
 * The SQL backends: a candidate whose probabilities (and the reward-model
 * predictions) are columns gets its whole record of sums (./plan.ts) from ONE
 * scan (./scan-sql.ts) in the engine holding the rows (DuckDB over the Parquet
 * files, ./backend-duckdb.ts; ClickHouse, ./backend-clickhouse.ts); no per-row
 * data reaches JS. The engine is a SqlRunner and a dialect (./sql-dialect.ts).
 *
 * The scan groups rows by a fine weight bin; JS adds the groups up. The per-bin
 * count, min and max give the EXACT weight quantiles (quantile_cont's definition):
 * an order statistic that is the first or last of its bin, or falls in a bin
 * holding one distinct value, is read off directly; otherwise a second, narrow
 * query picks the missing order statistics inside the few bins that hold them
 * (DuckDB quantile_disc, ClickHouse quantilesExact: both exact; ClickHouse ships
 * the values of those few bins from each shard).
 * The histogram's octave [2^o, 2^(o+1)) of a fine bin is exact unless log2
 * rounded a weight just below 2^o up to o; a bin whose smallest weight shows that
 * gets its rows below the edge counted by one more narrow query.
 */
import { ZERO_WEIGHT_BIN } from '../diagnostics.js';
import type { EstimatorId } from '../estimators/types.js';
import { logSummaryFromGroups, type LogSummary } from '../log-summary.js';
import { emptySums, foldBase, mergeSums, type MergeableSums } from '../sums.js';
import { quantileRanks, resolveFromBins, type CountedBin } from '../../util/binned-order-statistics.js';
import type { CandidateSums } from './plan.js';
import { binEdgeCountsSql, binQuantilesSql, buildScan, positionsSql, rowIdsOutsideSql, SUMMARY_GIVEN, WEIGHT_BINS_PER_OCTAVE, ZERO_BIN, type ScanInput } from './scan-sql.js';
import type { SqlDialect } from './sql-dialect.js';

/** Runs one query and returns its rows as objects (numbers, bigints or numeric strings; lists as arrays). */
export type SqlRunner = (sql: string) => Promise<Record<string, unknown>[]>;

const one = async (run: SqlRunner, sql: string): Promise<Record<string, unknown>> => {
  const rows = await run(sql);
  if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}`);
  return rows[0]!;
};

export interface SqlScanResult {
  record: CandidateSums;
  /** Rows failing a candidate or prediction check (any positive count: the caller explains and throws). */
  badRows: number;
  /** With `summary`: the logging policy's sums and the summary (with its truth when the log allows). */
  logging?: LogSummary;
  /** Whether the exact quantiles needed the second query. */
  quantileScan: boolean;
  /** The SQL of the main scan (for --verbose and tests). */
  sql: string;
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
 * floor(h) + 1, h = (n - 1) q, d = h - floor(h)) from the bins; order statistics
 * strictly inside a bin with several distinct values come from one more query.
 */
async function exactWeightQuantiles(run: SqlRunner, d: SqlDialect, input: ScanInput, bins: WeightBin[], n: number): Promise<{ quantiles: { q: number; value: number }[]; scanned: boolean }> {
  const qs = input.plan.quantiles;
  if (n === 0) return { quantiles: qs.map((q) => ({ q, value: NaN })), scanned: false };
  const { known, pending: need } = resolveFromBins(bins, qs.flatMap((q) => quantileRanks(n, q)));
  if (need.length > 0) {
    const row = await one(run, binQuantilesSql(d, input, need.map(({ bin: b, ks }) => ({ bin: b.bin, count: b.count, ks }))));
    need.forEach(({ bin: b, ks }, j) => {
      const vals = row[`q${j}`] as unknown[];
      ks.forEach((k, i) => known.set(b.start + k, Number(vals[i])));
    });
  }
  return { quantiles: interpolateQuantiles(qs, n, known), scanned: need.length > 0 };
}

/** quantile_cont from the order statistics at quantileRanks(n, q). */
function interpolateQuantiles(qs: readonly number[], n: number, known: ReadonlyMap<number, number>): { q: number; value: number }[] {
  const at = (rank: number): number => known.get(rank)!;
  return qs.map((q) => {
    const h = (n - 1) * q;
    const r = Math.floor(h);
    const x0 = at(r);
    if (!(h > r) || r + 1 >= n) return { q, value: x0 };
    // sortedQuantile's interpolation (../intervals/bootstrap.ts), so both backends agree to the last bit.
    return { q, value: x0 + (h - r) * (at(r + 1) - x0) };
  });
}

/**
 * Exact quantiles (quantile_cont's definition) of a positive column over the rows
 * `where` selects (it reads the value as `v`), with the weights' method: per-bin
 * count, min and max on fine log2 bins, then the order statistics strictly inside
 * a bin from a second query over those bins. Only bin sums and the values of the
 * few bins holding a rank leave a ClickHouse shard. Empty selection: NaN.
 */
export async function exactColumnQuantiles(run: SqlRunner, d: SqlDialect, from: string, expr: string, where: string, qs: readonly number[]): Promise<{ q: number; value: number }[]> {
  const levels = [[{ expr, alias: 'v' }], [{ expr: `CASE WHEN v <= 0 THEN ${ZERO_BIN} ELSE ${d.integer(`floor(log2(v) * ${WEIGHT_BINS_PER_OCTAVE})`)} END`, alias: 'vbin' }]];
  const rows = await run(d.scan(levels, ['vbin', `${d.double('count(*)')} AS n`, `${d.double('min(v)')} AS vlo`, `${d.double('max(v)')} AS vhi`], from, { where, groupBy: 'vbin' }));
  const bins: WeightBin[] = rows.map((r) => ({ bin: Number(r.vbin), count: Number(r.n), lo: Number(r.vlo), hi: Number(r.vhi), start: 0 })).sort((a, b) => a.bin - b.bin);
  let n = 0;
  for (const b of bins) {
    b.start = n;
    n += b.count;
  }
  if (n === 0) return qs.map((q) => ({ q, value: NaN }));
  const { known, pending } = resolveFromBins(bins, qs.flatMap((q) => quantileRanks(n, q)));
  if (pending.length > 0) {
    const selects = pending.map(({ bin: b, ks }, j) => `${d.quantilesDiscIf('v', ks.map((k) => (k + 0.5) / b.count), `vbin = ${b.bin}`)} AS q${j}`);
    const row = await one(run, d.scan(levels, selects, from, { where: `(${where}) AND vbin IN (${pending.map((p) => p.bin.bin).join(', ')})` }));
    pending.forEach(({ bin: b, ks }, j) => ks.forEach((k, i) => known.set(b.start + k, Number((row[`q${j}`] as unknown[])[i]))));
  }
  return interpolateQuantiles(qs, n, known);
}

/** Octave counts (the histogram of ../diagnostics.ts) from the fine bins, exact at the edges. */
async function octaveCounts(run: SqlRunner, d: SqlDialect, input: ScanInput, bins: WeightBin[]): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  const add = (o: number, c: number): void => {
    if (c > 0) counts.set(o, (counts.get(o) ?? 0) + c);
  };
  const straddling: { bin: WeightBin; octave: number }[] = [];
  for (const b of bins) {
    if (b.bin === ZERO_BIN) {
      add(ZERO_WEIGHT_BIN, b.count);
      continue;
    }
    const o = Math.floor(b.bin / WEIGHT_BINS_PER_OCTAVE);
    if (b.lo < 2 ** o) straddling.push({ bin: b, octave: o });
    else add(o, b.count);
  }
  if (straddling.length > 0) {
    const row = await one(run, binEdgeCountsSql(d, input, straddling.map((s) => ({ bin: s.bin.bin, edge: 2 ** s.octave }))));
    straddling.forEach((s, j) => {
      const below = Number(row[`e${j}`]);
      add(s.octave - 1, below);
      add(s.octave, s.bin.count - below);
    });
  }
  return counts;
}

/** The 0-based positions (in row_id order) of the first few rewards outside the declared range, NULL or NaN. */
async function rowsOutside(run: SqlRunner, d: SqlDialect, input: ScanInput): Promise<number[]> {
  const ids = (await run(rowIdsOutsideSql(d, input, input.plan))).map((r) => Number(r.outside_row_id));
  if (ids.length === 0) return [];
  const row = await one(run, positionsSql(d, input, ids));
  return ids.map((_, j) => Number(row[`c${j}`]));
}

/** One candidate's record of sums from one scan (plus the narrow follow-up queries the module comment names). */
export async function sqlCandidateSums(run: SqlRunner, d: SqlDialect, input: ScanInput): Promise<SqlScanResult> {
  const scan = buildScan(d, input);
  const rows = await run(scan.sql);
  const { plan } = input;
  const num = (row: Record<string, unknown>, key: string): number => Number(row[key] ?? 0);
  let n = 0;
  const sums = new Map<EstimatorId, MergeableSums>();
  plan.estimators.forEach((id) => sums.set(id, emptySums()));
  const tot: Record<string, number> = {};
  for (const key of Object.keys(scan.totals)) tot[key] = 0;
  let maxWeight = Number.NEGATIVE_INFINITY;
  let minPropensity = Infinity;
  let outside = 0;
  let bad = 0;
  const bins: WeightBin[] = [];
  for (const row of rows) {
    const rn = num(row, 'n');
    n += rn;
    plan.estimators.forEach((id, i) => sums.set(id, mergeSums(sums.get(id)!, sumsOf(row, scan.layout[i]!, rn))));
    for (const [key, alias] of Object.entries(scan.totals)) tot[key]! += num(row, alias);
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
  // Quantiles and histogram only for valid columns (a failed check is explained by the caller, who throws) where every row has a weight.
  const valid = bad === 0 && seen === n;
  const exact = valid ? await exactWeightQuantiles(run, d, input, bins, n) : { quantiles: plan.quantiles.map((q) => ({ q, value: NaN })), scanned: false };
  const histogram = valid ? await octaveCounts(run, d, input, bins) : new Map<number, number>();
  const shift = plan.rewardShift;
  const record: CandidateSums = {
    n,
    estimators: new Map([...sums].map(([id, s]) => [id, foldBase(s)])),
    weights: { n, sumWeight: tot.sumWeight!, sumWeight2: tot.sumWeight2!, maxWeight, quantiles: exact.quantiles, histogram },
    minPropensity,
    deficientMass: scan.smoothing ? tot.deficient! : null,
    truthSum: input.expectedReward ? tot.truth! : null,
    clippedRisk: { n, shift, sumV: tot.sumV!, sumShiftedRewardV: scan.unshiftedRewardV ? tot.sumShiftedRewardV! - shift * tot.sumV! : tot.sumShiftedRewardV! },
    smoothing: scan.smoothing
      ? {
          n,
          alpha: plan.params.smoothingAlpha,
          shift,
          sumE: tot.sumE!,
          sumShiftedRewardE: tot.sumShiftedRewardE!,
          sumF: tot.sumF!,
          sumShiftedRewardF: tot.sumShiftedRewardF!,
          sumShiftedReward2F: tot.sumShiftedReward2F!,
          biasMass: tot.biasMass!,
          secondMoment: tot.secondMoment!,
        }
      : null,
    rewardsOutside: { count: outside, rows: outside > 0 ? await rowsOutside(run, d, input) : [] },
  };
  const out: SqlScanResult = { record, badRows: bad, quantileScan: exact.scanned, sql: scan.sql };
  if (input.summary) {
    out.logging = logSummaryFromGroups(rows, input.numActions, shift, SUMMARY_GIVEN);
  }
  return out;
}
