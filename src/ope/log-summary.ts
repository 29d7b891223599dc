/**
 * The logging policy's value (the mean logged reward, as mergeable sums) and the
 * dataset summary of a bandit log, written as SQL aggregates that merge across
 * groups: the pushdown scan carries them while it groups rows by weight bin
 * (./bandit/scan-sql.ts), and the in-memory path runs them as one ungrouped scan. Both
 * paths read the summary through logSummaryFromGroups, so they report the same
 * numbers.
 *
 * Summary fields: rewardMean, rewardStd (sample; from sums of (r - shift) and its
 * square, shift close to the smallest reward), rewardMin, rewardMax,
 * actionsSeen (exact: distinct actions in 0..K-1, from bit masks OR-ed across
 * groups), propensityMin, propensityQ01 and propensityMedian (quantile_cont's
 * definition over every row up to SUMMARY_SAMPLE_ABOVE rows, then over the rows
 * whose row_id is a multiple of 64: deterministic and cheap).
 */
import { sortedQuantile } from './intervals/bootstrap.js';
import { sqlNumber } from './estimators/params.js';
import { emptySums, type MergeableSums } from './sums.js';
import { DUCKDB, type SqlDialect } from './bandit/sql-dialect.js';

/** Above this many rows the propensity quantiles are taken on every 64th row_id. */
export const SUMMARY_SAMPLE_ABOVE = 1_000_000;

export interface LogSummaryColumns {
  /** reward as DOUBLE */
  reward: string;
  /** action, 0-based INTEGER */
  action: string;
  /** propensity as DOUBLE, when the log has it */
  propensity?: string;
  rowId: string;
  /** sum_a pi0(a|x) q*(x, a) as DOUBLE, when the log carries the logger's distribution and the ground truth */
  truth?: string;
}

export interface LogSummary {
  /** The logging policy's value as sums of the logged reward (count, sum, sum of squares). */
  sums: MergeableSums;
  minReward: number;
  maxReward: number;
  summary: Record<string, number>;
  /** sum_i sum_a pi0(a|x_i) q*(x_i, a) (the logging policy's true value times n), when the scan carried `truth`. */
  truthSum?: number;
}

const PREFIX = 'ls_';
/** Actions per bit-mask word (62: the masks fit a signed BIGINT, see the dialects' actionMaskAgg). */
const WORD = 62;
const words = (k: number): number => Math.max(1, Math.ceil(k / WORD));

/**
 * SELECT-list entries (aliases start with ls_) for a log of `rowCount` rows and K
 * actions. Reward moments are summed as r - shift (shift: a constant near the
 * smallest reward, e.g. from the Parquet footer; it only guards precision).
 * `given` names aggregates the caller's scan already has: its count(*) and its
 * min(propensity) (aliases), so they are not repeated.
 */
export function logSummarySelect(
  c: LogSummaryColumns,
  rowCount: number,
  k: number,
  shift = 0,
  given: { count?: string; minPropensity?: string } = {},
  q: SqlDialect = DUCKDB,
  /** Collect the propensity sample for the quantiles (false where the rows must not travel, e.g. from ClickHouse shards). */
  propensitySample = true,
): string[] {
  const d = `(${c.reward} - ${sqlNumber(shift)})`;
  const out = [
    ...(given.count ? [] : [`${q.double('count(*)')} AS ${PREFIX}n`]),
    `${q.double(`count(${c.reward})`)} AS ${PREFIX}nr`,
    `${q.double(`sum(${d})`)} AS ${PREFIX}s1`,
    `${q.double(`sum(${d} * ${d})`)} AS ${PREFIX}s2`,
    `${q.double(`min(${c.reward})`)} AS ${PREFIX}rmin`,
    `${q.double(`max(${c.reward})`)} AS ${PREFIX}rmax`,
  ];
  for (let j = 0; j < words(k); j++) out.push(`${q.actionMaskAgg(c.action, WORD * j, Math.min(k, WORD * (j + 1)))} AS ${PREFIX}aw${j}`);
  if (c.truth) out.push(`${q.double(`sum(${c.truth})`)} AS ${PREFIX}truth`);
  if (c.propensity) {
    const sample = rowCount > SUMMARY_SAMPLE_ABOVE ? ` AND ${c.rowId} % 64 = 0` : '';
    if (!given.minPropensity) out.push(`${q.double(`min(${c.propensity})`)} AS ${PREFIX}pmin`);
    if (propensitySample) out.push(`${q.listAggIf(c.propensity, `${c.propensity} IS NOT NULL${sample}`)} AS ${PREFIX}psample`);
  }
  return out;
}

function popcount(x: bigint): number {
  let c = 0;
  for (let v = x; v > 0n; v >>= 1n) c += Number(v & 1n);
  return c;
}

/**
 * Merges the groups of a scan that carried logSummarySelect(..., shift, given)
 * into the sums and the summary (pass the same shift and given).
 */
export function logSummaryFromGroups(rows: readonly Record<string, unknown>[], k: number, shift = 0, given: { count?: string; minPropensity?: string } = {}): LogSummary {
  const masks = Array.from({ length: words(k) }, () => 0n);
  let n = 0, nr = 0, s1 = 0, s2 = 0, truth = 0;
  const hasTruth = rows.length > 0 && `${PREFIX}truth` in rows[0]!;
  let rmin = NaN, rmax = -Infinity;
  let pmin = Infinity;
  const hasPropensity = rows.length > 0 && (`${PREFIX}psample` in rows[0]! || `${given.minPropensity ?? `${PREFIX}pmin`}` in rows[0]!);
  const sample: number[] = [];
  const num = (row: Record<string, unknown>, key: string): number => Number(row[key] ?? 0);
  for (const row of rows) {
    n += num(row, given.count ?? `${PREFIX}n`);
    nr += num(row, `${PREFIX}nr`);
    s1 += num(row, `${PREFIX}s1`);
    s2 += num(row, `${PREFIX}s2`);
    if (hasTruth) truth += num(row, `${PREFIX}truth`);
    // min / max order NaN above every number, as DuckDB does.
    const lo = row[`${PREFIX}rmin`], hi = row[`${PREFIX}rmax`];
    if (lo !== null && lo !== undefined) {
      const l = Number(lo);
      if (Number.isNaN(rmin) || l < rmin) rmin = l;
    }
    if (hi !== null && hi !== undefined) {
      const h = Number(hi);
      if (Number.isNaN(h) || h > rmax) rmax = h;
    }
    masks.forEach((m, j) => {
      const w = row[`${PREFIX}aw${j}`];
      if (w !== null && w !== undefined) masks[j] = m | BigInt(w as bigint | number);
    });
    if (hasPropensity) {
      const p = row[given.minPropensity ?? `${PREFIX}pmin`];
      if (p !== null && p !== undefined) pmin = Math.min(pmin, Number(p));
      for (const v of (row[`${PREFIX}psample`] as unknown[] | null) ?? []) sample.push(Number(v));
    }
  }
  // Logging value: the mean of the observed rewards (a NULL reward is never a 0; evaluate refuses such logs or scores a view without them).
  const sums: MergeableSums = { ...emptySums(), n: nr, sumNum: s1 + shift * nr, sumNum2: s2 + 2 * shift * s1 + shift * shift * nr, sumDen: nr, sumDen2: nr, sumNumDen: s1 + shift * nr };
  const summary: Record<string, number> = {};
  const put = (key: string, v: number | null): void => {
    if (v !== null && !Number.isNaN(v)) summary[key] = v;
  };
  const mean = nr > 0 ? shift + s1 / nr : null;
  put('rewardMean', mean);
  put('rewardStd', nr > 1 ? Math.sqrt(Math.max(0, (s2 - (s1 * s1) / nr) / (nr - 1))) : null);
  put('rewardMin', nr > 0 ? rmin : null);
  put('rewardMax', nr > 0 ? rmax : null);
  put('actionsSeen', masks.reduce((acc, x) => acc + popcount(x), 0));
  if (hasPropensity) {
    put('propensityMin', Number.isFinite(pmin) ? pmin : null);
    if (sample.length > 0) {
      const sorted = Float64Array.from(sample).sort();
      put('propensityQ01', sortedQuantile(sorted, 0.01));
      put('propensityMedian', sortedQuantile(sorted, 0.5));
    }
  }
  return { sums, minReward: nr > 0 ? rmin : NaN, maxReward: nr > 0 ? rmax : NaN, summary, ...(hasTruth ? { truthSum: truth } : {}) };
}
