/**
 * The Poisson bootstrap (../intervals/poisson-bootstrap.ts) as SQL sums, written
 * once against a dialect (./sql-dialect.ts): ONE query whose inner aggregate scans
 * the log and sums each estimator's row terms per hash bucket of row_id (G rows:
 * mergeable partial sums, so each partition or shard returns at most G rows), and
 * whose outer aggregate repeats the buckets for b = 0 .. B-1, weights each
 * (bucket, b) cell by its Poisson(1) draw and sums per resample (B rows). JS turns
 * the B rows of totals into intervals (intervalsFromTotals), the same code as the
 * in-memory counterpart.
 *
 * The hash is fmix32 in exact integer arithmetic: operands are uint32 held in
 * 64-bit integers, products mod 2^32 written so no engine overflows (the dialect's
 * mulMod32: on DuckDB's signed BIGINT, h * C with C >= 2^31 as
 * (h * (C - 2^31) + (h mod 2) * 2^31) mod 2^32, below 2^63), and the uniform is
 * compared with integer thresholds, so every engine computes the same buckets and
 * weights.
 */
import { OffpolicyError } from '../../core/errors.js';
import { vecAt, vecDot } from '../../policies/sql-vector.js';
import { getEstimator } from '../estimators/index.js';
import { CLIP_BINDS_ABOVE_L, sqlNumber } from '../estimators/params.js';
import type { EstimatorId } from '../estimators/types.js';
import type { Interval } from '../../core/evaluation-result.js';
import { checkPoissonOptions, checkRowIdRange, intervalsFromTotals, POISSON_THRESHOLDS, type PoissonBootstrapOptions, type ResampleTotals, type TermFields } from '../intervals/poisson-bootstrap.js';
import { preludeLevels, rowBasics, rowColumns, scanFrom, type ScanInput } from './scan-sql.js';
import type { RowExpr, SqlDialect } from './sql-dialect.js';

type IntegerDialect = SqlDialect & Required<Pick<SqlDialect, 'int64' | 'xor' | 'shiftRight' | 'mod' | 'intDiv' | 'mulMod32' | 'countAtMost' | 'crossRange'>>;

function integerDialect(d: SqlDialect): IntegerDialect {
  if (!d.int64 || !d.xor || !d.shiftRight || !d.mod || !d.intDiv || !d.mulMod32 || !d.countAtMost || !d.crossRange) {
    throw new OffpolicyError('E_DIALECT', `The ${d.name} SQL dialect lacks the integer primitives the Poisson bootstrap's hash needs.`, {
      hint: 'Use --interval t, or the DuckDB path.',
    });
  }
  return d as IntegerDialect;
}

const TWO32 = '4294967296';

/**
 * fmix32 of alias `x` as five levels; the result is alias `${p}5`. Each alias is
 * read at most twice by the next one: ClickHouse expands WITH aliases in the AST,
 * so the expression grows by 2^3 per fmix32, not 2^5.
 */
function fmixLevels(d: IntegerDialect, x: string, p: string): RowExpr[][] {
  return [
    [{ expr: d.xor(x, d.shiftRight(x, 16)), alias: `${p}1` }],
    [{ expr: d.mulMod32(`${p}1`, 0x85ebca6b), alias: `${p}2` }],
    [{ expr: d.xor(`${p}2`, d.shiftRight(`${p}2`, 13)), alias: `${p}3` }],
    [{ expr: d.mulMod32(`${p}3`, 0xc2b2ae35), alias: `${p}4` }],
    [{ expr: d.xor(`${p}4`, d.shiftRight(`${p}4`, 16)), alias: `${p}5` }],
  ];
}

/** Puts `extra` level by level beside `levels` (level i of both computed together). */
function zipLevels(levels: RowExpr[][], extra: readonly (readonly RowExpr[])[], from = 0): void {
  extra.forEach((lv, i) => {
    while (levels.length <= from + i) levels.push([]);
    levels[from + i]!.push(...lv);
  });
}

export interface PoissonScanInput extends Pick<ScanInput, 'log' | 'table' | 'prelude' | 'candidate' | 'numActions' | 'plan' | 'rewardHat' | 'bounds'> {
  /** The estimators to resample (the admitted ones), in output order. */
  estimators: readonly EstimatorId[];
  /** Also resample the mean logged reward (the logging policy's value), as the last entry. */
  loggedReward?: boolean;
}

export interface PoissonScan {
  sql: string;
  /** The inner aggregate alone: one row per non-empty bucket (g, n_g, s0_g, s1_g, ..., ridmin_g, ridmax_g); what a shard returns. */
  units: string;
  /** The outer aggregate over `rel` (the units as a parenthesised query or a table) for resamples first .. first + count - 1. */
  cells(rel: string, first: number, count: number): string;
  /** Per estimator (then the logged reward), where its parts are in the fields. */
  layout: TermFields[];
  /** Number of summed fields (aliases s0, s1, ...). */
  fields: number;
  /** The rows the log holds: every resample must have seen them all (sum of n_g). */
  rows: number;
  resamples: number;
}

/** The bootstrap query: B rows (b, n, s0, s1, ..., ridmin, ridmax) ordered by b. */
export function poissonBootstrapSql(dialect: SqlDialect, input: PoissonScanInput, opts: Omit<PoissonBootstrapOptions, 'alpha' | 'onProgress'>): PoissonScan {
  const d = integerDialect(dialect);
  const { resamples: B, buckets: G, keys } = checkPoissonOptions({ ...opts, alpha: 0.05 });
  const { plan } = input;
  const { params } = plan;
  const k = input.numActions;
  const alpha = params.smoothingAlpha;

  // Per-row inputs, the weight, and the estimators' terms (as the point scan computes them).
  // (A prelude, the candidate's own row expressions, exists only in flat dialects, where levels are not nested.)
  const levels: RowExpr[][] = [[...(input.prelude ?? []), ...rowBasics(d, input)], [{ expr: '(pi / p)', alias: 'w' }], []];
  if (input.rewardHat) {
    levels[0]!.push({ expr: d.double(vecAt(input.rewardHat, 'l.action', d)), alias: 'q' });
    levels[0]!.push({ expr: d.double(vecDot(input.candidate.probs, input.rewardHat, k, d)), alias: 'dmv' });
  }
  const needsPow = input.estimators.includes('es-ips') && alpha !== 0 && alpha !== 1;
  if (needsPow) {
    levels[1]!.push({ expr: `power(p, ${sqlNumber(alpha)})`, alias: 'pa' });
    levels[2]!.push({ expr: '(pi / pa)', alias: 'ew' });
  }
  const cols = rowColumns(needsPow, input.rewardHat !== undefined);
  const termLevel: RowExpr[] = [];
  const fieldOf = new Map<string, number>();
  const field = (expr: string): number => {
    let f = fieldOf.get(expr);
    if (f === undefined) {
      f = fieldOf.size;
      fieldOf.set(expr, f);
      termLevel.push({ expr: d.double(expr), alias: `t${f}` });
    }
    return f;
  };
  const p = { clip: params.clip, smoothingAlpha: alpha };
  const clipIdle = (input.bounds?.maxWeight ?? Infinity) <= params.clip;
  const layout: TermFields[] = input.estimators.map((id) => {
    const t = getEstimator(id).sqlTerms(cols, clipIdle && CLIP_BINDS_ABOVE_L.has(id) ? { ...p, clip: Infinity } : p);
    return { num: field(t.num), den: t.den === null ? null : field(t.den), base: t.base === null ? null : field(t.base) };
  });
  if (input.loggedReward) layout.push({ num: field('r'), den: null, base: null });
  const F = fieldOf.size;
  zipLevels(levels, [termLevel], 3);

  // The bucket of row_id: fmix32(fmix32(kB ^ lo) ^ hi) mod G.
  levels[0]!.push({ expr: d.int64('l.row_id'), alias: 'rid' });
  zipLevels(levels, [
    [{ expr: d.mod('rid', TWO32), alias: 'ridlo' }, { expr: d.intDiv('rid', TWO32), alias: 'ridhi' }],
    [{ expr: d.xor(String(keys.bucket), 'ridlo'), alias: 'hx' }],
    ...fmixLevels(d, 'hx', 'ha'),
    [{ expr: d.xor('ha5', 'ridhi'), alias: 'hy' }],
    ...fmixLevels(d, 'hy', 'hb'),
    [{ expr: d.mod('hb5', String(G)), alias: 'g' }],
  ], 1);
  // Names of the bucket sums differ from the resample sums': ClickHouse resolves u.n as any alias n of the query.
  const unitAggs = ['g', `${d.double('count(*)')} AS n_g`, ...Array.from({ length: F }, (_, f) => `sum(t${f}) AS s${f}_g`), 'min(rid) AS ridmin_g', 'max(rid) AS ridmax_g'];
  const units = d.scan([...preludeLevels(d, input), ...levels], unitAggs, scanFrom(input), { groupBy: 'g' });

  // Every (bucket, b) cell: u = fmix32(fmix32(kW ^ g) ^ b), W = Poisson(1) by inverse CDF on u.
  const cells = (rel: string, first: number, count: number): string => {
    const carry: RowExpr[] = [
      { expr: 'u.n_g', alias: 'un' },
      ...Array.from({ length: F }, (_, f) => ({ expr: `u.s${f}_g`, alias: `us${f}` })),
      { expr: 'u.ridmin_g', alias: 'umin' },
      { expr: 'u.ridmax_g', alias: 'umax' },
      { expr: first > 0 ? `${d.int64('b')} + ${first}` : d.int64('b'), alias: 'rb' },
      { expr: d.xor(String(keys.weight), d.int64('u.g')), alias: 'wx' },
    ];
    const cellLevels: RowExpr[][] = [carry, ...fmixLevels(d, 'wx', 'wa'), [{ expr: d.xor('wa5', 'rb'), alias: 'wy' }], ...fmixLevels(d, 'wy', 'wb'), [{ expr: d.double(d.countAtMost('wb5', POISSON_THRESHOLDS)), alias: 'wt' }]];
    const cellAggs = ['rb', 'sum(un) AS n0', `sum(wt * un) AS n`, ...Array.from({ length: F }, (_, f) => `sum(wt * us${f}) AS s${f}`), 'min(umin) AS ridmin', 'max(umax) AS ridmax'];
    return d.scan(cellLevels, cellAggs, d.crossRange(rel, 'u', 'b', count), { groupBy: 'rb' });
  };
  const rows = input.table?.rowCount ?? input.log!.metadata.rowCount;
  return { sql: cells(`(${units})`, 0, B), units, cells, layout, fields: F, resamples: B, rows };
}

/** The query's B rows as totals; refuses row ids the hash does not define. */
export function poissonTotalsFromRows(rows: readonly Record<string, unknown>[], scan: PoissonScan): ResampleTotals {
  const totals = emptyTotals(scan);
  checkRowIdRange(...fillTotals(totals, rows, scan, 0, scan.resamples));
  return totals;
}

function emptyTotals(scan: PoissonScan): ResampleTotals {
  return { rows: new Float64Array(scan.resamples), fields: Array.from({ length: scan.fields }, () => new Float64Array(scan.resamples)) };
}

/** Copies the rows of resamples first .. first + count - 1 into totals; returns the row ids' [min, max]. */
function fillTotals(totals: ResampleTotals, rows: readonly Record<string, unknown>[], scan: PoissonScan, first: number, count: number): [number, number] {
  const fields = scan.fields;
  if (rows.length !== count) throw new OffpolicyError('E_BOOTSTRAP_SHAPE', `The Poisson bootstrap query returned ${rows.length} resamples, expected ${count}.`);
  let lo = Infinity, hi = -Infinity;
  for (const row of rows) {
    const b = Number(row.rb);
    if (!(b >= first && b < first + count)) throw new OffpolicyError('E_BOOTSTRAP_SHAPE', `The Poisson bootstrap query returned resample ${b} outside ${first} .. ${first + count - 1}.`);
    if (Number(row.n0) !== scan.rows) {
      throw new OffpolicyError('E_BOOTSTRAP_PARTIAL', `The Poisson bootstrap's bucket sums cover ${Number(row.n0)} rows, but the log holds ${scan.rows}; no partial result is reported.`, {
        hint: 'The table changed during the evaluation or a shard answered for part of its rows; evaluate again once it is stable.',
      });
    }
    totals.rows[b] = Number(row.n);
    for (let f = 0; f < fields; f++) totals.fields[f]![b] = Number(row[`s${f}`] ?? 0);
    lo = Math.min(lo, Number(row.ridmin));
    hi = Math.max(hi, Number(row.ridmax));
  }
  return [lo, hi];
}

export interface RunPoissonOptions extends PoissonBootstrapOptions {
  /**
   * Keeps the bucket sums where the engine can read them again (e.g. a DuckDB
   * temporary table) and returns that relation: the resamples then run in chunks,
   * with progress after each. Without it: one query.
   */
  stage?: (unitsSql: string) => Promise<string>;
  /** Resamples per chunk when staged; default 100. */
  chunk?: number;
}

/**
 * Runs the bootstrap through `query` (any engine the dialect speaks) and returns
 * the intervals of input.estimators (then the logged reward's, when asked).
 */
export async function runPoissonBootstrap(
  d: SqlDialect,
  query: (sql: string) => Promise<readonly Record<string, unknown>[]>,
  input: PoissonScanInput,
  opts: RunPoissonOptions,
): Promise<{ intervals: (Interval | undefined)[]; replicates: Float64Array[]; sql: string }> {
  const scan = poissonBootstrapSql(d, input, opts);
  const B = scan.resamples;
  if (!opts.stage) {
    const totals = poissonTotalsFromRows(await query(scan.sql), scan);
    opts.onProgress?.(B, B);
    return { ...intervalsFromTotals(totals, scan.layout, opts.alpha), sql: scan.sql };
  }
  const rel = await opts.stage(scan.units);
  const totals = emptyTotals(scan);
  const chunk = Math.max(1, opts.chunk ?? 100);
  let lo = Infinity, hi = -Infinity;
  for (let first = 0; first < B; first += chunk) {
    const count = Math.min(chunk, B - first);
    const [a, b] = fillTotals(totals, await query(scan.cells(rel, first, count)), scan, first, count);
    lo = Math.min(lo, a);
    hi = Math.max(hi, b);
    opts.onProgress?.(first + count, B);
  }
  checkRowIdRange(lo, hi);
  return { ...intervalsFromTotals(totals, scan.layout, opts.alpha), sql: scan.sql };
}
