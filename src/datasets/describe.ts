/**
 * What the catalog holds and what one version is: `list` (listDatasets),
 * `show` (showDataset) and `describe` (describeDataset).
 *
 * `describe`: summary statistics of one dataset version, computed in DuckDB
 * over its Parquet files in as few scans as possible.
 *
 * Bandit logs: one scan grouped by action with a grand-total grouping set
 * (counts, reward moments, per-action propensity minimum, propensity
 * quantiles). Trajectories: one scan over steps (reward, action, corruption)
 * and one over per-episode aggregates (returns, lengths, end flags).
 *
 * Standard deviations are sample standard deviations (n - 1); quantiles are
 * linear interpolations between order statistics (DuckDB quantile_cont).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { OffpolicyError } from '../core/errors.js';
import { formatTable, type Cell } from '../util/text-table.js';
import { ident, lit, openMemoryConnection, queryOne, queryRows, type DuckDBConnection } from './duckdb.js';
import { normalizedScore, type DatasetMetadata } from './metadata.js';
import { describeFeatures, detectedCategorical, resolveFeatures } from './features.js';
import { BANDIT_COLUMNS, CORRUPTED_BITS } from './schema.js';
import { quantileRanks, resolveFromBins } from '../util/binned-order-statistics.js';
import type { DamagedVersion, DatasetVersion, Workspace } from './workspace.js';

export interface SummaryStats {
  mean: number | null;
  std: number | null;
  min: number | null;
  max: number | null;
}

export interface Distribution extends SummaryStats {
  q25: number | null;
  median: number | null;
  q75: number | null;
}

export interface BanditActionRow {
  action: number;
  count: number;
  share: number;
  rewardMean: number | null;
  rewardStd: number | null;
  rewardMin: number | null;
  rewardMax: number | null;
  /** Smallest logged propensity of this action; null when the log has no propensity column. */
  propensityMin: number | null;
}

export interface BanditDescription {
  kind: 'bandit';
  ref: string;
  contentHash: string;
  rows: number;
  /** Width of the context evaluate uses by default (the `context` vector; 0 when the log has none): the same answer evaluate gives. */
  contextDim: number;
  /** That context in words (datasets/features.ts describeFeatures). */
  context: string;
  /** Named columns beyond the canonical ones: not in the default context; evaluate and learn use them when named (--context-columns). */
  featureColumns: string[];
  /** Those of them ingest detected as categorical (one-hot encoded when named). */
  categoricalColumns: string[];
  actions: BanditActionRow[];
  reward: SummaryStats & { nulls: number };
  propensity: { min: number; q01: number; q05: number; q25: number; q50: number; max: number } | null;
}

export interface TrajectoryDescription {
  kind: 'trajectory';
  ref: string;
  contentHash: string;
  rows: number;
  episodes: number;
  returns: Distribution;
  /** D4RL normalized returns, when the metadata gives refMinScore and refMaxScore. */
  normalizedReturns: Distribution | null;
  lengths: Distribution;
  /** Episodes whose last step is terminated / truncated / neither (cut by the end of the data). */
  terminatedEpisodes: number;
  truncatedEpisodes: number;
  unfinishedEpisodes: number;
  reward: SummaryStats;
  /** Box actions: per-dimension statistics. */
  actionDims: (SummaryStats & { dim: number })[] | null;
  /** Discrete actions: frequencies. */
  actionCounts: { action: number; count: number; share: number }[] | null;
  /** Share of steps with each corruption bit set; null when there is no `corrupted` column. */
  corrupted: Record<keyof typeof CORRUPTED_BITS, number> | null;
}

export type DatasetDescription = BanditDescription | TrajectoryDescription;

export interface DatasetListing {
  name: string;
  version: number;
  ref: string;
  kind: DatasetMetadata['kind'];
  rows: number;
  episodes: number | null;
  createdAt: string;
  contentHash: string;
  /** Number of stored versions of this dataset. */
  versions: number;
}

/** The latest version of every dataset, or every version with `all`. Sorted by name, then version. */
export async function listDatasets(ws: Workspace, opts: { all?: boolean } = {}): Promise<DatasetListing[]> {
  return (await listDatasetsAndDamage(ws, opts)).datasets;
}

/** `listDatasets` and, from the same scan, the versions left out because their files are damaged. */
export async function listDatasetsAndDamage(ws: Workspace, opts: { all?: boolean } = {}): Promise<{ datasets: DatasetListing[]; damaged: DamagedVersion[] }> {
  const { versions: all, damaged } = await ws.scan();
  const counts = new Map<string, number>();
  const latest = new Map<string, DatasetVersion>();
  for (const v of all) {
    counts.set(v.name, (counts.get(v.name) ?? 0) + 1);
    latest.set(v.name, v);
  }
  const chosen = opts.all ? all : [...latest.values()];
  const datasets = chosen.map((v) => ({
    name: v.name,
    version: v.version,
    ref: v.ref,
    kind: v.metadata.kind,
    rows: v.metadata.rowCount,
    episodes: v.metadata.episodeCount ?? null,
    createdAt: v.metadata.createdAt,
    contentHash: v.metadata.contentHash,
    versions: counts.get(v.name) ?? 1,
  }));
  return { datasets, damaged };
}

/** The stderr lines `list` prints for damaged versions: which, and what to do. */
export function formatDamaged(damaged: readonly DamagedVersion[]): string {
  return damaged
    .map((d) => `warning [E_DATASET_DAMAGED]: ${d.ref} is left out: ${d.problem} Remove it with \`offpolicy datasets rm ${d.ref} --yes\` or restore its files.`)
    .join('\n');
}

/** The human table of `list`: content hashes shortened to 12 characters. */
export function formatListing(rows: readonly DatasetListing[]): string {
  if (rows.length === 0) return 'No datasets in this workspace.';
  return formatTable(
    rows.map((r) => ({
      dataset: r.name,
      version: r.version,
      kind: r.kind,
      rows: r.rows,
      episodes: r.episodes ?? '',
      created: r.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      hash: r.contentHash.slice(0, 12),
    })),
  );
}

export interface LineageStep {
  ref: string;
  transform: string | null;
  params: Record<string, unknown> | null;
  seed?: number;
  source?: string;
  /** False when the parent version was removed from the workspace. */
  present: boolean;
}

export interface DatasetShow {
  ref: string;
  dir: string;
  metadata: DatasetMetadata;
  /** This version first, then its parent, the parent's parent, ... */
  lineage: LineageStep[];
  files: { name: string; bytes: number }[];
}

/** Everything stored about one version, with the lineage chain followed through parents. */
export async function showDataset(ws: Workspace, ref: string): Promise<DatasetShow> {
  const version = await ws.resolve(ref);
  const lineage: LineageStep[] = [];
  const seen = new Set<string>();
  let current: DatasetVersion | null = version;
  let nextRef: string | undefined = version.ref;
  while (nextRef && !seen.has(nextRef)) {
    seen.add(nextRef);
    if (current === null) {
      lineage.push({ ref: nextRef, transform: null, params: null, present: false });
      break;
    }
    const l: DatasetMetadata['lineage'] = current.metadata.lineage;
    lineage.push({
      ref: current.ref,
      transform: l.transform,
      params: l.params,
      ...(l.seed === undefined ? {} : { seed: l.seed }),
      ...(l.source === undefined ? {} : { source: l.source }),
      present: true,
    });
    nextRef = l.parent;
    current = nextRef ? await ws.resolve(nextRef).catch(() => null) : null;
  }
  const files = await Promise.all(
    version.metadata.files.map(async (name) => ({ name, bytes: (await stat(path.join(version.dir, name)).catch(() => null))?.size ?? 0 })),
  );
  return { ref: version.ref, dir: version.dir, metadata: version.metadata, lineage, files };
}

function formatSpace(s: DatasetMetadata['actionSpace']): string {
  if (!s) return '';
  if (s.type === 'discrete') return `discrete(${s.n})`;
  const bounds = s.low && s.high ? ` in [${Math.min(...s.low)}, ${Math.max(...s.high)}]` : '';
  return `box(${s.shape.join('x')})${bounds}`;
}

/** The human form of `show`. */
export function formatShow(d: DatasetShow): string {
  const m = d.metadata;
  const pairs: [string, Cell][] = [
    ['dataset', d.ref],
    ['kind', m.kind],
    ['rows', m.rowCount],
    ...(m.episodeCount === undefined ? [] : ([['episodes', m.episodeCount]] as [string, Cell][])),
    ['created', m.createdAt],
    ['content hash', m.contentHash],
    ['schema version', m.schemaVersion],
    ['directory', d.dir],
  ];
  if (m.actionSpace) pairs.push(['action space', formatSpace(m.actionSpace)]);
  if (m.observationSpace) pairs.push(['observation space', formatSpace(m.observationSpace)]);
  if (m.envId) pairs.push(['env id', m.envId]);
  if (m.refMinScore !== undefined) pairs.push(['ref min score', m.refMinScore]);
  if (m.refMaxScore !== undefined) pairs.push(['ref max score', m.refMaxScore]);
  if (m.rewardNullable) pairs.push(['reward nullable', true]);
  const out = [formatTable(pairs.map(([k, v]) => ({ field: k, value: v === undefined ? '' : String(v) })), ['field', 'value'])];
  out.push('\nColumns\n' + formatTable(m.columns.map((c) => ({ column: c.name, type: c.type }))));
  out.push(
    '\nLineage (newest first)\n' +
      formatTable(
        d.lineage.map((l) => ({
          version: l.ref,
          transform: l.present ? (l.transform ?? '') : '(removed)',
          seed: l.seed ?? '',
          params: l.params ? JSON.stringify(l.params) : '',
          source: l.source ?? '',
        })),
      ),
  );
  out.push('\nFiles\n' + formatTable(d.files.map((f) => ({ file: f.name, bytes: f.bytes }))));
  if (m.rejected) {
    out.push(
      `\nRejected rows: ${m.rejected.count} in ${m.rejected.file}\n` +
        formatTable(Object.entries(m.rejected.reasons).map(([reason, count]) => ({ reason, count }))),
    );
  }
  return out.join('\n');
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const numOr0 = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/** Describes `ref` ("name" or "name@v") of the workspace. */
export async function describeDataset(ws: Workspace, ref: string): Promise<DatasetDescription> {
  const version = await ws.resolve(ref);
  const conn = await openMemoryConnection();
  try {
    return await describeVersion(conn, version);
  } finally {
    conn.closeSync();
  }
}

/** Describes an already-resolved version on the given connection. */
export async function describeVersion(conn: DuckDBConnection, version: DatasetVersion): Promise<DatasetDescription> {
  const m = version.metadata;
  const scan = `read_parquet(${lit(version.glob)})`;
  return m.kind === 'bandit' ? describeBandit(conn, version, scan) : describeTrajectory(conn, version, scan);
}

function hasColumn(m: DatasetMetadata, name: string): boolean {
  return m.columns.some((c) => c.name === name);
}

function columnType(m: DatasetMetadata, name: string): string | undefined {
  return m.columns.find((c) => c.name === name)?.type;
}

function requireColumns(version: DatasetVersion, names: string[]): void {
  const missing = names.filter((n) => !hasColumn(version.metadata, n));
  if (missing.length) {
    throw new OffpolicyError(
      'E_MISSING_COLUMN',
      `Dataset ${version.ref} (${version.metadata.kind}) lacks column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')}.`,
      { hint: `Columns found: ${version.metadata.columns.map((c) => c.name).join(', ')}.` },
    );
  }
}

async function vectorWidth(conn: DuckDBConnection, scan: string, column: string): Promise<number> {
  const row = await queryOne(conn, `SELECT coalesce(max(len(${ident(column)})), 0) AS d FROM (SELECT ${ident(column)} FROM ${scan} LIMIT 1)`);
  return Number(row.d);
}

async function describeBandit(conn: DuckDBConnection, version: DatasetVersion, scan: string): Promise<BanditDescription> {
  const m = version.metadata;
  requireColumns(version, ['action', 'reward']);
  const hasProp = hasColumn(m, 'propensity');
  // One grouped scan for counts and reward moments per action (totals are merged
  // in JS); the propensity quantiles come from exactQuantiles (a histogram scan,
  // rarely a second scan of a few bins), which is cheaper than quantile_cont.
  const perAction = await queryRows(
    conn,
    `SELECT action, count(*)::DOUBLE AS n, count(reward)::DOUBLE AS nr, avg(reward::DOUBLE) AS mean,
            var_samp(reward::DOUBLE) AS var, min(reward::DOUBLE) AS rmin, max(reward::DOUBLE) AS rmax
            ${hasProp ? ', min(propensity::DOUBLE) AS pmin' : ''}
     FROM ${scan} GROUP BY action ORDER BY action`,
  );
  const pq = hasProp ? await exactQuantiles(conn, scan, 'propensity', [0.01, 0.05, 0.25, 0.5]) : null;
  const total = mergeMoments(perAction);
  const n = Number(total.n);
  const features = await resolveFeatures(conn, version, {}, scan);
  const canonical = new Set([...BANDIT_COLUMNS.map((c) => c.name), 'expected_reward']);
  const featureColumns = m.columns.map((c) => c.name).filter((c) => !canonical.has(c));
  const categorical = new Set(detectedCategorical(version));
  return {
    kind: 'bandit',
    ref: version.ref,
    contentHash: m.contentHash,
    rows: n,
    contextDim: features.width,
    context: describeFeatures(features),
    featureColumns,
    categoricalColumns: featureColumns.filter((c) => categorical.has(c)),
    actions: perAction.map((r) => ({
      action: Number(r.action),
      count: Number(r.n),
      share: Number(r.n) / n,
      rewardMean: num(r.mean),
      rewardStd: r.var === null ? null : Math.sqrt(Number(r.var)),
      rewardMin: num(r.rmin),
      rewardMax: num(r.rmax),
      propensityMin: hasProp ? num(r.pmin) : null,
    })),
    reward: { mean: total.mean, std: total.std, min: total.min, max: total.max, nulls: n - total.nr },
    propensity:
      pq && pq.n > 0
        ? { min: pq.min, q01: pq.values[0]!, q05: pq.values[1]!, q25: pq.values[2]!, q50: pq.values[3]!, max: pq.max }
        : null,
  };
}

const QUANTILE_BINS = 65536;

/**
 * Exact quantiles of a numeric column, equal to DuckDB's quantile_cont (linear
 * interpolation x0 (1 - d) + x1 d between the order statistics x0, x1 at ranks
 * floor(h) and floor(h) + 1, h = (n - 1) q, d = h - floor(h)), without gathering and selecting over every value:
 *
 * 1. one scan builds a histogram (count, min, max per bin of width 1/65536);
 * 2. each needed order statistic falls in a known bin at a known rank; when it
 *    is the bin's first or last value, or the bin holds one distinct value, the
 *    bin's min / max is the answer;
 * 3. otherwise one more scan sorts only the values of those few bins.
 *
 * NULLs are ignored. Returns n = 0 (and NaN values) when there is no value.
 */
export async function exactQuantiles(
  conn: DuckDBConnection,
  from: string,
  column: string,
  qs: readonly number[],
): Promise<{ n: number; min: number; max: number; values: number[] }> {
  const v = `${ident(column)}::DOUBLE`;
  const bin = `floor(${v} * ${QUANTILE_BINS})`;
  const hist = await queryRows(
    conn,
    `SELECT ${bin} AS b, count(*)::DOUBLE AS c, min(${v}) AS lo, max(${v}) AS hi
     FROM ${from} WHERE ${ident(column)} IS NOT NULL GROUP BY b ORDER BY b`,
  );
  const bins = hist.map((r) => ({ b: Number(r.b), count: Number(r.c), lo: Number(r.lo), hi: Number(r.hi), start: 0 }));
  let n = 0;
  for (const h of bins) {
    h.start = n;
    n += h.count;
  }
  if (n === 0) return { n: 0, min: NaN, max: NaN, values: qs.map(() => NaN) };
  const { known, pending: need } = resolveFromBins(bins, new Set(qs.flatMap((q) => quantileRanks(n, q))));
  if (need.length > 0) {
    const values = `VALUES ${need.map((x) => `(${x.bin.b}::DOUBLE, [${x.ks.join(', ')}]::BIGINT[])`).join(', ')}`;
    const rows = await queryRows(
      conn,
      `WITH need(b, ks) AS (${values}),
            s AS (SELECT ${bin} AS b, list_sort(list(${v})) AS sorted FROM ${from}
                  WHERE ${ident(column)} IS NOT NULL AND ${bin} IN (SELECT b FROM need) GROUP BY 1)
       SELECT need.b AS b, need.ks AS ks, list_transform(need.ks, k -> s.sorted[k + 1]) AS vals FROM need JOIN s ON need.b = s.b`,
    );
    for (const r of rows) {
      const x = need.find((y) => y.bin.b === Number(r.b))!;
      const ks = (r.ks as unknown[]).map(Number);
      const vals = (r.vals as unknown[]).map(Number);
      ks.forEach((k, j) => known.set(x.bin.start + k, vals[j]!));
    }
  }
  const at = (rank: number) => {
    const value = known.get(rank);
    if (value === undefined) throw new Error(`exactQuantiles: order statistic ${rank} was not found`);
    return value;
  };
  const values = qs.map((q) => {
    const h = (n - 1) * q;
    const r = Math.floor(h);
    const x0 = at(r);
    if (!(h > r) || r + 1 >= n) return x0;
    const x1 = at(r + 1);
    const d = h - r;
    return x0 * (1 - d) + x1 * d; // DuckDB's interpolation for doubles, to the last bit
  });
  return { n, min: bins[0]!.lo, max: bins[bins.length - 1]!.hi, values };
}

/** Merges per-group counts, means, sample variances, minima and maxima into totals (Chan et al.). */
function mergeMoments(groups: Record<string, unknown>[]): { n: number; nr: number; mean: number | null; std: number | null; min: number | null; max: number | null } {
  let n = 0;
  let nr = 0;
  let mean = 0;
  let m2 = 0;
  let min: number | null = null;
  let max: number | null = null;
  for (const g of groups) {
    n += Number(g.n);
    const k = Number(g.nr);
    if (k === 0) continue;
    const gm = Number(g.mean);
    const gm2 = g.var === null ? 0 : Number(g.var) * (k - 1);
    const delta = gm - mean;
    const tot = nr + k;
    mean += (delta * k) / tot;
    m2 += gm2 + (delta * delta * nr * k) / tot;
    nr = tot;
    min = min === null ? Number(g.rmin) : Math.min(min, Number(g.rmin));
    max = max === null ? Number(g.rmax) : Math.max(max, Number(g.rmax));
  }
  return { n, nr, mean: nr > 0 ? mean : null, std: nr > 1 ? Math.sqrt(m2 / (nr - 1)) : null, min, max };
}

const QUANTS = '[0.25, 0.5, 0.75]';
function distSql(col: string, alias: string): string {
  const c = `${ident(col)}::DOUBLE`;
  return `avg(${c}) AS ${alias}_mean, stddev_samp(${c}) AS ${alias}_sd, min(${c}) AS ${alias}_min, max(${c}) AS ${alias}_max,
          quantile_cont(${c}, ${QUANTS}) AS ${alias}_q`;
}
function distFrom(row: Record<string, unknown>, alias: string): Distribution {
  const q = (row[`${alias}_q`] as number[] | null) ?? [null, null, null];
  return {
    mean: num(row[`${alias}_mean`]),
    std: num(row[`${alias}_sd`]),
    min: num(row[`${alias}_min`]),
    max: num(row[`${alias}_max`]),
    q25: num(q[0]),
    median: num(q[1]),
    q75: num(q[2]),
  };
}

async function describeTrajectory(conn: DuckDBConnection, version: DatasetVersion, scan: string): Promise<TrajectoryDescription> {
  const m = version.metadata;
  requireColumns(version, ['episode_id', 'reward', 'action']);
  const hasTerm = hasColumn(m, 'terminated');
  const hasTrunc = hasColumn(m, 'truncated');
  const ep = await queryOne(
    conn,
    `WITH ep AS (
       SELECT episode_id, count(*)::DOUBLE AS len, sum(reward::DOUBLE) AS ret,
              ${hasTerm ? 'bool_or(terminated)' : 'false'} AS term, ${hasTrunc ? 'bool_or(truncated)' : 'false'} AS trunc
       FROM ${scan} GROUP BY episode_id)
     SELECT count(*)::DOUBLE AS episodes, ${distSql('ret', 'ret')}, ${distSql('len', 'len')},
            count_if(term)::DOUBLE AS term, count_if(trunc AND NOT term)::DOUBLE AS trunc,
            count_if(NOT term AND NOT trunc)::DOUBLE AS unfinished
     FROM ep`,
  );
  const actionType = columnType(m, 'action') ?? '';
  const boxAction = actionType.endsWith('[]') || /\[\d+\]$/.test(actionType);
  const width = boxAction ? await vectorWidth(conn, scan, 'action') : 0;
  const dims = Array.from({ length: width }, (_, j) => `avg(action[${j + 1}]::DOUBLE) AS a${j}_mean, stddev_samp(action[${j + 1}]::DOUBLE) AS a${j}_sd,
      min(action[${j + 1}]::DOUBLE) AS a${j}_min, max(action[${j + 1}]::DOUBLE) AS a${j}_max`);
  const hasCorrupted = hasColumn(m, 'corrupted');
  const bits = Object.entries(CORRUPTED_BITS).map(([name, bit]) => `avg(((coalesce(corrupted, 0) & ${bit}) <> 0)::DOUBLE) AS c_${name}`);
  const st = await queryOne(
    conn,
    `SELECT count(*)::DOUBLE AS n, avg(reward::DOUBLE) AS r_mean, stddev_samp(reward::DOUBLE) AS r_sd, min(reward::DOUBLE) AS r_min, max(reward::DOUBLE) AS r_max
            ${dims.length ? ', ' + dims.join(', ') : ''} ${hasCorrupted ? ', ' + bits.join(', ') : ''}
     FROM ${scan}`,
  );
  let actionCounts: TrajectoryDescription['actionCounts'] = null;
  const rows = Number(st.n);
  if (!boxAction) {
    const counts = await queryRows(conn, `SELECT action, count(*)::DOUBLE AS n FROM ${scan} GROUP BY action ORDER BY action`);
    actionCounts = counts.map((r) => ({ action: Number(r.action), count: Number(r.n), share: Number(r.n) / rows }));
  }
  const returns = distFrom(ep, 'ret');
  let normalizedReturns: Distribution | null = null;
  if (m.refMinScore !== undefined && m.refMaxScore !== undefined) {
    const lo = m.refMinScore;
    const hi = m.refMaxScore;
    const f = (v: number | null) => (v === null ? null : normalizedScore(v, lo, hi));
    normalizedReturns = {
      mean: f(returns.mean),
      std: returns.std === null ? null : (100 * returns.std) / Math.abs(hi - lo),
      min: hi > lo ? f(returns.min) : f(returns.max),
      max: hi > lo ? f(returns.max) : f(returns.min),
      q25: f(returns.q25),
      median: f(returns.median),
      q75: f(returns.q75),
    };
  }
  return {
    kind: 'trajectory',
    ref: version.ref,
    contentHash: m.contentHash,
    rows,
    episodes: Number(ep.episodes),
    returns,
    normalizedReturns,
    lengths: distFrom(ep, 'len'),
    terminatedEpisodes: numOr0(ep.term),
    truncatedEpisodes: numOr0(ep.trunc),
    unfinishedEpisodes: numOr0(ep.unfinished),
    reward: { mean: num(st.r_mean), std: num(st.r_sd), min: num(st.r_min), max: num(st.r_max) },
    actionDims: boxAction
      ? Array.from({ length: width }, (_, j) => ({
          dim: j,
          mean: num(st[`a${j}_mean`]),
          std: num(st[`a${j}_sd`]),
          min: num(st[`a${j}_min`]),
          max: num(st[`a${j}_max`]),
        }))
      : null,
    actionCounts,
    corrupted: hasCorrupted
      ? (Object.fromEntries(Object.keys(CORRUPTED_BITS).map((k) => [k, numOr0(st[`c_${k}`])])) as Record<keyof typeof CORRUPTED_BITS, number>)
      : null,
  };
}

/** The human-readable form of a description (what `offpolicy datasets describe` prints). */
export function formatDescription(d: DatasetDescription): string {
  const out: string[] = [];
  const section = (title: string, body: string) => out.push(`${title}\n${body}`);
  const kv = (pairs: [string, Cell][]) => formatTable(pairs.map(([k, v]) => ({ statistic: k, value: v })), ['statistic', 'value']);
  if (d.kind === 'bandit') {
    section(
      `${d.ref} (bandit, ${d.rows} rows)`,
      kv([
        ['rows', d.rows],
        ['actions', d.actions.length],
        ['context dim', d.contextDim],
        ['context', d.context],
        ...(d.featureColumns.length
          ? ([['other columns (--context-columns)', `${d.featureColumns.length}${d.categoricalColumns.length ? ` (${d.categoricalColumns.length} categorical)` : ''}: ${d.featureColumns.slice(0, 8).join(', ')}${d.featureColumns.length > 8 ? ', ...' : ''}`]] as [string, Cell][])
          : []),
        ['reward mean', d.reward.mean],
        ['reward std', d.reward.std],
        ['reward min', d.reward.min],
        ['reward max', d.reward.max],
        ['null rewards', d.reward.nulls],
        ...(d.propensity
          ? ([
              ['propensity min', d.propensity.min],
              ['propensity q01', d.propensity.q01],
              ['propensity q05', d.propensity.q05],
              ['propensity q25', d.propensity.q25],
              ['propensity median', d.propensity.q50],
              ['propensity max', d.propensity.max],
            ] as [string, Cell][])
          : [['propensity', 'absent'] as [string, Cell]]),
      ]),
    );
    section(
      '\nBy action',
      formatTable(
        d.actions.map((a) => ({
          action: a.action,
          count: a.count,
          share: a.share,
          'reward mean': a.rewardMean,
          'reward std': a.rewardStd,
          'reward min': a.rewardMin,
          'reward max': a.rewardMax,
          'min propensity': a.propensityMin,
        })),
      ),
    );
    return out.join('\n');
  }
  section(
    `${d.ref} (trajectory, ${d.rows} steps, ${d.episodes} episodes)`,
    kv([
      ['steps', d.rows],
      ['episodes', d.episodes],
      ['terminated episodes', d.terminatedEpisodes],
      ['truncated episodes', d.truncatedEpisodes],
      ['unfinished episodes', d.unfinishedEpisodes],
      ['reward mean', d.reward.mean],
      ['reward std', d.reward.std],
      ['reward min', d.reward.min],
      ['reward max', d.reward.max],
    ]),
  );
  const distRow = (label: string, x: Distribution) => ({
    '': label,
    mean: x.mean,
    std: x.std,
    min: x.min,
    q25: x.q25,
    median: x.median,
    q75: x.q75,
    max: x.max,
  });
  const dists = [distRow('return', d.returns), ...(d.normalizedReturns ? [distRow('normalized return', d.normalizedReturns)] : []), distRow('length', d.lengths)];
  section('\nEpisodes', formatTable(dists));
  if (d.actionDims) section('\nActions (per dimension)', formatTable(d.actionDims.map((a) => ({ dim: a.dim, mean: a.mean, std: a.std, min: a.min, max: a.max }))));
  if (d.actionCounts) section('\nActions', formatTable(d.actionCounts));
  if (d.corrupted) section('\nCorrupted share', formatTable(Object.entries(d.corrupted).map(([field, share]) => ({ field, share }))));
  return out.join('\n');
}
