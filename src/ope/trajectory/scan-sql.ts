/**
 * SQL of the trajectory pushdown (./pushdown.ts): the IS / DR sums of a stored
 * trajectory dataset computed by the database, so that only per-step and
 * per-episode totals come back (REFERENCES.md, "Trajectory off-policy evaluation").
 *
 *   1. rows: the logged steps joined with the candidate's table on
 *      (episode_id, step); log rho_t = log pi(a_t|s_t) - behavior_logprob, and
 *      the cumulative log-weights log w_{0:t} as running window sums over
 *      (episode_id, step) (a zero target probability zeroes the weight from that
 *      step on, as in weights.ts); stored as a temporary table;
 *   2. steps: GROUP BY step: sums of w, w^2, max w, w r, w (r - Q), w_{0:t-1} V,
 *      the weights of episodes ending at t (the self-normalising denominators
 *      and the per-step ESS);
 *   3. episodes: GROUP BY episode_id, then sums over episodes of each
 *      estimator's term g_i and g_i^2 (t intervals) and of the final weights;
 *   4. influence: the self-normalised estimators' linearised terms need
 *      per-step coefficients (and SNTIS its estimate) known only after 2 and 3:
 *      joined on step, summed per episode, squared and summed.
 *
 * Every engine-specific construct goes through TrajectorySqlDialect (which
 * extends the bandit scan's SqlDialect): window functions, literal tables,
 * temporary tables.
 */
import { DUCKDB, type RowExpr, type SqlDialect } from '../bandit/sql-dialect.js';

export interface TrajectorySqlDialect extends SqlDialect {
  /** sum(expr) over the rows of the partition up to and including this one, in `order`. */
  runningSum(expr: string, partition: string, order: string): string;
  /** 1, 2, ... within the partition, in `order`. */
  rowNumber(partition: string, order: string): string;
  /** expr of the next row in the partition, NULL on the last one. */
  lead(expr: string, partition: string, order: string): string;
  /** A float64 literal (finite or +-inf) that reads back bit for bit. */
  number(x: number): string;
  /** A relation of literal rows. */
  values(columns: readonly string[], rows: readonly (readonly number[])[]): string;
  createTemp(name: string, select: string): string;
  dropTemp(name: string): string;
}

const over = (partition: string, order: string, frame = ''): string => `OVER (PARTITION BY ${partition} ORDER BY ${order}${frame})`;

function duckNumber(x: number): string {
  if (x === Infinity) return `'inf'::DOUBLE`;
  if (x === -Infinity) return `'-inf'::DOUBLE`;
  if (!Number.isFinite(x)) throw new Error(`not a number: ${x}`);
  // exponent notation parses as DOUBLE (a plain decimal would parse as DECIMAL first)
  return `(${x.toExponential(16)})::DOUBLE`;
}

/** A finite float64 in exponent notation (round-trips), or an infinity. */
function listNumber(x: number): string {
  if (x === Infinity) return `'inf'`;
  if (x === -Infinity) return `'-inf'`;
  if (!Number.isFinite(x)) throw new Error(`not a number: ${x}`);
  return x.toExponential(16);
}

export const TRAJECTORY_DUCKDB: TrajectorySqlDialect = {
  ...DUCKDB,
  runningSum: (e, p, o) => `sum(${e}) ${over(p, o, ' ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW')}`,
  rowNumber: (p, o) => `row_number() ${over(p, o)}`,
  lead: (e, p, o) => `lead(${e}) ${over(p, o)}`,
  number: duckNumber,
  // one list per column, unnested side by side: a few list constants bind far faster than thousands of VALUES cells
  values: (cols, rows) => `(SELECT ${cols.map((c, j) => `unnest([${rows.map((r) => listNumber(r[j]!)).join(',')}]::DOUBLE[]) AS ${c}`).join(', ')})`,
  createTemp: (name, select) => `CREATE OR REPLACE TEMP TABLE ${name} AS ${select}`,
  dropTemp: (name) => `DROP TABLE IF EXISTS ${name}`,
};

const MAX_DOUBLE = '1.7976931348623157e308';

/** x is a finite number (NULL, NaN and +-inf are not). */
const finite = (x: string): string => `(${x} >= -${MAX_DOUBLE} AND ${x} <= ${MAX_DOUBLE})`;

/** The columns of the stored rows table. */
const STORED = ['e', 's', 'r', 'q', 'v', 'lw', 'lwp', 'last', 'ok', 'stoch', 'matched'];

export interface RowsQuery {
  /** The logged steps, with columns episode_id, step, reward, behavior_logprob, action, terminated, truncated (and the Q columns). */
  data: string;
  /** The candidate's table, with columns episode_id, step and the probability / logprob columns. */
  candidate: string;
  /** Discrete: K (probabilities p_0..p_{K-1} in `probColumns`); continuous: undefined (`logprob`). */
  numActions?: number;
  probColumns?: readonly string[];
  /** Q(s, a) columns of the data, one per action (discrete only). */
  qColumns?: readonly string[];
}

/**
 * The per-step rows (step 1): episode_id e, step s, reward r, Q(s_t, a_t) q and
 * V(s_t) v (0 without Q), the cumulative log-weights lw = log w_{0:t} and
 * lwp = log w_{0:t-1} (NULL when the weight is 0), last (the episode's last
 * step), ok (every check this row must pass: the candidate has the step, a
 * finite behaviour log-probability and reward, the candidate's probabilities a
 * distribution (each in [0, 1], summing to 1 within 1e-6) or its logprob not
 * NaN / +inf, finite Q, steps numbered 0, 1, ... without gaps, an end flag only
 * on the last step), stoch (the candidate's distribution is not a point mass).
 */
export function rowsSql(dl: TrajectorySqlDialect, q: RowsQuery): string {
  const part = 'e';
  const ord = 's';
  const K = q.numActions;
  const pcols = q.probColumns ?? [];
  const qcols = q.qColumns ?? [];
  const level0: RowExpr[] = [
    { expr: dl.double('d.episode_id'), alias: 'e' },
    { expr: dl.integer('d.step'), alias: 's' },
    { expr: dl.double('d.reward'), alias: 'r' },
    { expr: dl.double('d.behavior_logprob'), alias: 'blp' },
    { expr: '(d.terminated OR d.truncated)', alias: 'ended' },
    { expr: 'c.episode_id IS NOT NULL', alias: 'matched' },
  ];
  if (K !== undefined) {
    level0.push({ expr: dl.double(`CASE d.action ${pcols.map((c, a) => `WHEN ${a} THEN c.${c}`).join(' ')} END`), alias: 'pa' });
    pcols.forEach((c, a) => level0.push({ expr: dl.double(`c.${c}`), alias: `p${a}` }));
    qcols.forEach((c, a) => level0.push({ expr: dl.double(`d.${c}`), alias: `q${a}` }));
    if (qcols.length > 0) level0.push({ expr: dl.double(`CASE d.action ${qcols.map((c, a) => `WHEN ${a} THEN d.${c}`).join(' ')} END`), alias: 'qa' });
  } else {
    level0.push({ expr: dl.double('c.logprob'), alias: 'lt' });
  }
  const ps = pcols.map((_, a) => `p${a}`);
  const probsOk = K !== undefined ? `${ps.map((p) => `${p} >= 0 AND ${p} <= 1`).join(' AND ')} AND abs(${ps.join(' + ')} - 1) <= 1e-6 AND pa IS NOT NULL` : `lt <= ${MAX_DOUBLE}`;
  const qOk = qcols.length > 0 ? qcols.map((_, a) => finite(`q${a}`)).join(' AND ') : 'true';
  // z: the candidate gives the logged action probability 0 (weight 0 from here on); lr = log rho_t otherwise
  const level1: RowExpr[] = [
    { expr: K !== undefined ? `coalesce(pa = 0, false)` : `coalesce(lt = ${dl.number(-Infinity)}, false)`, alias: 'z' },
    {
      expr: K !== undefined ? `CASE WHEN pa > 0 AND pa <= 1 THEN ln(pa) - blp ELSE 0 END` : `CASE WHEN ${finite('lt')} THEN lt - blp ELSE 0 END`,
      alias: 'lr',
    },
    { expr: `coalesce(matched AND ${finite('blp')} AND ${finite('r')} AND ${probsOk} AND ${qOk}, false)`, alias: 'rowok' },
    { expr: K !== undefined ? `coalesce(greatest(${ps.join(', ')}) < 1 - 1e-12, false)` : 'true', alias: 'stoch' },
    { expr: qcols.length > 0 ? 'qa' : '0', alias: 'q' },
    { expr: qcols.length > 0 ? ps.map((p, a) => `${p} * q${a}`).join(' + ') : '0', alias: 'v' },
  ];
  const zi = `CASE WHEN z THEN 1 ELSE 0 END`;
  const level2: RowExpr[] = [
    { expr: dl.runningSum('lr', part, ord), alias: 'cl' },
    { expr: dl.runningSum(zi, part, ord), alias: 'cz' },
    { expr: dl.rowNumber(part, ord), alias: 'rn' },
    { expr: dl.lead(ord, part, ord), alias: 'nxt' },
  ];
  const level3: RowExpr[] = [
    { expr: 'CASE WHEN cz > 0 THEN NULL ELSE cl END', alias: 'lw' },
    { expr: `CASE WHEN cz - ${zi} > 0 THEN NULL ELSE cl - lr END`, alias: 'lwp' },
    { expr: 'nxt IS NULL', alias: 'last' },
    { expr: `rowok AND s = rn - 1 AND (NOT coalesce(ended, false) OR nxt IS NULL)`, alias: 'ok' },
  ];
  const from = `${q.data} AS d LEFT JOIN ${q.candidate} AS c ON c.episode_id = d.episode_id AND c.step = d.step`;
  // the last level keeps only what the later queries read
  return dl.scan([level0, level1, level2, level3], STORED, from);
}

/** The stored columns, then w_{0:t} and w_{0:t-1} (clipped at `clip`) from the log-weights, and gamma^t. */
function weightLevels(dl: TrajectorySqlDialect, gamma: number, clip: number | null): RowExpr[][] {
  return [STORED.map((c) => ({ expr: c, alias: c })), weightLevel(dl, gamma, clip)];
}

function weightLevel(dl: TrajectorySqlDialect, gamma: number, clip: number | null): RowExpr[] {
  const w = (lw: string, dflt: string): string => `CASE WHEN ${lw} IS NULL THEN ${dflt} ELSE ${clip !== null && clip !== Infinity ? `least(exp(${lw}), ${dl.number(clip)})` : `exp(${lw})`} END`;
  return [
    { expr: w('lw', '0'), alias: 'w' },
    // lwp is 0 at t = 0 (w_{0:-1} = 1, also when clipped below 1: as weights.ts, min(1, L) is not applied)
    { expr: `CASE WHEN s = 0 THEN 1 ELSE ${w('lwp', '0')} END`, alias: 'wp' },
    { expr: 'CASE WHEN lw IS NULL THEN 0 ELSE exp(lw) END', alias: 'raw' },
    { expr: `pow(${dl.number(gamma)}, s)`, alias: 'disc' },
  ];
}

/** w * y with 0 * anything = 0 (as the in-memory estimators). */
const prod = (w: string, y: string): string => `CASE WHEN ${w} = 0 THEN 0 ELSE ${w} * (${y}) END`;

/** Per-step sums (step 2), ordered by step, plus the checks' counts summed over steps by the caller. */
export function stepsSql(dl: TrajectorySqlDialect, table: string, gamma: number, clip: number | null): string {
  const aggs = [
    's AS step',
    dl.double('count(*)') + ' AS cnt',
    'sum(w) AS s1',
    'sum(w * w) AS s2',
    'max(w) AS mx',
    'max(raw) AS mraw',
    `sum(CASE WHEN last THEN w ELSE 0 END) AS lastw`,
    `sum(${prod('w', 'r')}) AS a`,
    `sum(${prod('w', 'r - q')}) AS n1`,
    `sum(${prod('wp', 'v')}) AS n2`,
    'min(r) AS rmin',
    'max(r) AS rmax',
    dl.double(dl.countIf('NOT ok')) + ' AS bad',
    dl.double(dl.countIf('stoch')) + ' AS stoch',
    dl.double(dl.countIf('matched')) + ' AS matched',
  ];
  return dl.scan(weightLevels(dl, gamma, clip), aggs, table, { groupBy: 's' });
}

/** Sums over episodes (step 3) of TIS, PDIS, DR, DM terms and their squares, the returns and the final weights. */
export function episodesSql(dl: TrajectorySqlDialect, table: string, gamma: number, clip: number | null): string {
  const perEpisode = dl.scan(
    weightLevels(dl, gamma, clip),
    [
      'e',
      dl.double('count(*)') + ' AS len',
      'sum(disc * r) AS g',
      `sum(CASE WHEN last THEN w ELSE 0 END) AS fin`,
      `sum(disc * ${prod('w', 'r')}) AS pd`,
      `sum(disc * (${prod('w', 'r - q')} + ${prod('wp', 'v')})) AS dr`,
      'sum(CASE WHEN s = 0 THEN v ELSE 0 END) AS dm',
    ],
    table,
    { groupBy: 'e' },
  );
  const tis = prod('fin', 'g');
  const sq = (x: string): string => `sum((${x}) * (${x}))`;
  return dl.scan(
    [],
    [
      dl.double('count(*)') + ' AS n',
      'max(len) AS horizon',
      'sum(g) AS sg', `${sq('g')} AS sg2`,
      `sum(${tis}) AS stis`, `${sq(tis)} AS stis2`,
      'sum(pd) AS spd', `${sq('pd')} AS spd2`,
      'sum(dr) AS sdr', `${sq('dr')} AS sdr2`,
      'sum(dm) AS sdm', `${sq('dm')} AS sdm2`,
      'sum(fin) AS f1', `${sq('fin')} AS f2`, 'max(fin) AS fmax',
    ],
    `(${perEpisode})`,
  );
}

/**
 * Sums over episodes (step 4) of the SN influence terms and their squares:
 * SNPDIS with coefficients (kkA, kA, sufA), SNDR with (kk1, k1, kk2, k2, sufB)
 * from influenceCoefficients, in `coef` rows t = 0..H (column t); SNTIS's
 * e_i = (w_i G_i - v w_i) / m with its estimate v and mean final weight m
 * (summed here rather than expanded from sums of squares, which cancel).
 */
export function influenceSql(dl: TrajectorySqlDialect, table: string, coef: string, gamma: number, clip: number | null, sntis: { value: number; meanWeight: number }): string {
  const perEpisode = `SELECT x.e AS e, ${dl.double('count(*)')} AS len, sum(CASE WHEN x.last THEN x.w ELSE 0 END) AS fin, sum(x.disc * x.r) AS g,
    sum(c.kka * ${prod('x.w', 'x.r')} - c.ka * x.w) AS ia,
    sum(c.kk1 * ${prod('x.w', 'x.r - x.q')} - c.k1 * x.w + c.kk2 * ${prod('x.wp', 'x.v')} - c.k2 * x.wp) AS ib
  FROM (${dl.scan(weightLevels(dl, gamma, clip), [...STORED, 'w', 'wp', 'disc'], table)}) AS x JOIN ${coef} AS c ON c.t = x.s
  GROUP BY x.e`;
  const ia = `p.ia - ${prod('p.fin', 'c.sufa')}`;
  const ib = `p.ib - ${prod('p.fin', 'c.sufb')}`;
  const ic = sntis.meanWeight === 0 ? '0' : `(${prod('p.fin', 'p.g')} - ${dl.number(sntis.value)} * p.fin) / ${dl.number(sntis.meanWeight)}`;
  return `SELECT sum(${ia}) AS sa, sum((${ia}) * (${ia})) AS sa2, sum(${ib}) AS sb, sum((${ib}) * (${ib})) AS sb2, sum(${ic}) AS sc, sum((${ic}) * (${ic})) AS sc2
FROM (${perEpisode}) AS p JOIN ${coef} AS c ON c.t = p.len`;
}
