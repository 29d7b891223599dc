/**
 * Corruption of logged-bandit data, to test how off-policy estimators behave on
 * flawed logs. One kind per call; each picks exactly round(rate * m) of the m
 * eligible rows (params.ts) from a stream seeded by (seed, kind), and writes a
 * new version whose unchanged rows are the parent's, byte for byte (write.ts).
 *
 * Kinds (eps = scale):
 * - propensity-noise: multiplicative log-normal noise, p <- min(1, p * exp(eps * z)),
 *   z ~ N(0, 1). Always > 0, clipped back into (0, 1] at the top.
 * - propensity-round: p <- max(round(p, k), 10^-k) with k = `decimals` (default 2):
 *   rounding never produces 0, the smallest value is one step 10^-k. (eps unused.)
 * - misspecified-logger: propensities from a wrong model of the logger. With
 *   action_probs: the logger tempered, pi'(a|x) proportional to
 *   pi0(a|x)^(1 / (1 + eps)) (eps = 1: the square root, a flatter logger), and
 *   both action_probs and propensity = pi'(a_i|x_i) are rewritten. Without
 *   action_probs: the context-free empirical frequency of the logged action over
 *   the whole log, count(a_i) / n.
 * - reward-flip: binary rewards r <- 1 - r (refused unless every reward is 0 or 1).
 * - reward-noise: r <- r + eps * z, z ~ N(0, 1).
 * - drop-rewards: r <- NULL (delayed feedback); the child declares rewardNullable.
 * - duplicate-rows: the chosen rows are appended again with new row_ids
 *   max(row_id) + 1, + 2, ... in row_id order.
 * Reward kinds choose among rows whose reward is not NULL.
 */
import { OffpolicyError } from '../core/errors.js';
import { readColumns } from '../datasets/columns.js';
import { ident, lit, openMemoryConnection, queryOne } from '../datasets/duckdb.js';
import { arraysToTable, type ArrayColumn } from '../datasets/from-arrays.js';
import type { DatasetVersion, Workspace } from '../datasets/workspace.js';
import { Rng } from '../util/rng.js';
import { allRows, checkKind, corruptedName, checkRate, checkScale, checkSeed, chooseRows, spell, type ParamStyle } from './params.js';
import { inheritMetadata, writePatched, type PatchedColumn } from './write.js';

/** Bits of the bandit-log `corrupted` column. */
export const BANDIT_CORRUPTED_BITS = { propensity: 1, reward: 2, duplicated: 4 } as const;

export const BANDIT_CORRUPTION_KINDS = [
  'propensity-noise',
  'propensity-round',
  'misspecified-logger',
  'reward-flip',
  'reward-noise',
  'drop-rewards',
  'duplicate-rows',
] as const;
export type BanditCorruptionKind = (typeof BANDIT_CORRUPTION_KINDS)[number];

export interface CorruptBanditOptions {
  data: string;
  kind: BanditCorruptionKind | string;
  /** Share of eligible rows, in [0, 1]. Default 0.3. */
  rate?: number;
  /** eps > 0 (noise size / tempering); default 1.0. */
  scale?: number;
  seed: number;
  /** propensity-round: decimals kept (integer 1..15, default 2). */
  decimals?: number;
  /** How the caller's user writes parameters, for hints (default 'flag'; robustness settings: 'setting'). */
  paramStyle?: ParamStyle;
  /** Output dataset name; default NAME-corrupted (corruptedName), never a new version of the parent's dataset. */
  name?: string;
}

export interface BanditCorruptionResult {
  version: DatasetVersion;
  /** Rows changed (or, for duplicate-rows, rows appended). */
  changed: number;
}

export function checkBanditKind(kind: string): asserts kind is BanditCorruptionKind {
  if (!(BANDIT_CORRUPTION_KINDS as readonly string[]).includes(kind)) {
    throw new OffpolicyError('E_CORRUPTION_KIND', `Unknown bandit-log corruption "${kind}".`, {
      hint: `Valid kinds: ${BANDIT_CORRUPTION_KINDS.join(', ')}.`,
    });
  }
}

const PROPENSITY_KINDS = new Set<string>(['propensity-noise', 'propensity-round', 'misspecified-logger']);
const REWARD_KINDS = new Set<string>(['reward-flip', 'reward-noise', 'drop-rewards']);

/** Corrupts a bandit log and stores the result as a new version. */
export async function corruptBanditLog(ws: Workspace, opts: CorruptBanditOptions): Promise<BanditCorruptionResult> {
  const rate = opts.rate ?? 0.3;
  const eps = opts.scale ?? 1.0;
  const decimals = opts.decimals ?? 2;
  const style = opts.paramStyle ?? 'flag';
  checkRate(rate, style);
  checkScale(eps, style);
  checkSeed(opts.seed);
  checkBanditKind(opts.kind);
  const kind = opts.kind;
  if (kind === 'propensity-round' && (!Number.isInteger(decimals) || decimals < 1 || decimals > 15)) {
    throw new OffpolicyError('E_CORRUPTION_PARAM', `Rounding keeps 1 to 15 decimals, got ${decimals}.`, { hint: `Pass ${spell('decimals', '2', style)}, for example.` });
  }
  const parent = await ws.resolve(opts.data);
  checkKind(parent, 'bandit');
  const cols = new Set(parent.metadata.columns.map((c) => c.name));
  if (PROPENSITY_KINDS.has(kind) && !cols.has('propensity')) {
    throw new OffpolicyError('E_FIELD_MISSING', `Dataset ${parent.ref} has no propensity column, so "${kind}" has nothing to corrupt.`, {
      hint: 'Use a reward or duplicate-rows corruption, or a log that records propensities.',
    });
  }

  const conn = await openMemoryConnection();
  try {
    const scan = `read_parquet(${lit(parent.glob)})`;
    const withProbs = kind === 'misspecified-logger' && cols.has('action_probs');
    const K = withProbs ? Number((await queryOne(conn, `SELECT max(len(action_probs)) AS k FROM ${scan}`)).k) : 0;
    const { n, columns: c } = await readColumns(
      conn,
      `SELECT row_id, action, reward${cols.has('propensity') ? ', propensity' : ''}${withProbs ? ', action_probs' : ''} FROM ${scan} ORDER BY row_id`,
      {
        row_id: { type: 'i64' },
        action: { type: 'i32' },
        reward: { type: 'f64' },
        ...(cols.has('propensity') ? { propensity: { type: 'f64' as const } } : {}),
        ...(withProbs ? { action_probs: { type: 'f64' as const, width: K } } : {}),
      },
    );
    const rowId = c.row_id as Float64Array;
    const reward = c.reward as Float64Array;
    const rng = new Rng(`corrupt-log:${opts.seed}:${kind}`);
    let eligible = allRows(n);
    if (REWARD_KINDS.has(kind)) eligible = Int32Array.from(eligible.filter((i) => !Number.isNaN(reward[i]!)));
    if (kind === 'reward-flip') {
      const bad = Array.from(eligible).filter((i) => reward[i] !== 0 && reward[i] !== 1);
      if (bad.length > 0) {
        throw new OffpolicyError('E_REWARD_NOT_BINARY', `Reward flips need binary rewards, but ${bad.length} rows of ${parent.ref} hold other values (first row_ids: ${bad.slice(0, 5).map((i) => rowId[i]).join(', ')}).`, {
          hint: `Use ${spell('kind', 'reward-noise', style)} for continuous rewards.`,
        });
      }
    }
    const rows = chooseRows(rng, eligible, rate);
    const lineage = {
      parent: parent.ref,
      transform: 'corrupt-log',
      params: { kind, rate, scale: eps, ...(kind === 'propensity-round' ? { decimals } : {}), selection: 'exactly round(rate * eligible rows), seeded by (seed, kind)', changed: rows.length },
      seed: opts.seed,
    };
    const extra = { ...(parent.metadata.extra ?? {}), corruption: { bits: BANDIT_CORRUPTED_BITS, kind, changed: rows.length } };
    const metadata = inheritMetadata(parent.metadata, lineage, {
      extra,
      ...(kind === 'drop-rewards' ? { rewardNullable: true } : {}),
    });
    const name = corruptedName(parent, opts.name);

    if (kind === 'duplicate-rows') {
      await arraysToTable(conn, 'dup', rows.length, [{ name: 'row_id', type: 'BIGINT', data: Float64Array.from(rows, (i) => rowId[i]!) }], { temp: true });
      await arraysToTable(conn, 'nopatch', 0, [{ name: 'row_id', type: 'BIGINT', data: new Float64Array(0) }, { name: '_bits', type: 'SMALLINT', data: new Int16Array(0) }], { temp: true });
      const maxId = Number((await queryOne(conn, `SELECT max(row_id) AS m FROM ${scan}`)).m);
      const hasBits = cols.has('corrupted');
      const version = await writePatched({
        ws,
        conn,
        parent,
        patchTable: 'nopatch',
        keys: ['row_id'],
        columns: {},
        appendSelect: (order) =>
          `SELECT ${order
            .map((col) =>
              col === 'row_id'
                ? `(${maxId} + row_number() OVER (ORDER BY t.row_id))::BIGINT AS row_id`
                : col === 'corrupted'
                  ? `(${hasBits ? 'coalesce(t.corrupted, 0)' : '0'} | ${BANDIT_CORRUPTED_BITS.duplicated})::SMALLINT AS corrupted`
                  : `t.${ident(col)}`,
            )
            .join(', ')} FROM ${scan} t JOIN dup d ON t.row_id = d.row_id`,
        name,
        metadata,
      });
      return { version, changed: rows.length };
    }

    const m = rows.length;
    const bit = PROPENSITY_KINDS.has(kind) ? BANDIT_CORRUPTED_BITS.propensity : BANDIT_CORRUPTED_BITS.reward;
    const newValue = new Float64Array(m);
    let newProbs: Float64Array | null = null;
    if (PROPENSITY_KINDS.has(kind)) {
      const p = c.propensity as unknown as Float64Array;
      if (kind === 'propensity-noise') rows.forEach((i, r) => (newValue[r] = Math.min(1, p[i]! * Math.exp(eps * rng.normal()))));
      else if (kind === 'propensity-round') {
        const f = 10 ** decimals;
        rows.forEach((i, r) => (newValue[r] = Math.min(1, Math.max(Math.round(p[i]! * f) / f, 1 / f))));
      } else if (withProbs) {
        const probs = c.action_probs as unknown as Float64Array;
        const action = c.action as Int32Array;
        newProbs = new Float64Array(m * K);
        const power = 1 / (1 + eps);
        rows.forEach((i, r) => {
          let total = 0;
          for (let a = 0; a < K; a++) total += (newProbs![r * K + a] = Math.pow(probs[i * K + a]!, power));
          for (let a = 0; a < K; a++) newProbs![r * K + a] = newProbs![r * K + a]! / total;
          newValue[r] = newProbs![r * K + action[i]!]!;
        });
      } else {
        const action = c.action as Int32Array;
        const counts = new Map<number, number>();
        for (let i = 0; i < n; i++) counts.set(action[i]!, (counts.get(action[i]!) ?? 0) + 1);
        rows.forEach((i, r) => (newValue[r] = counts.get(action[i]!)! / n));
      }
    } else if (kind === 'reward-flip') rows.forEach((i, r) => (newValue[r] = 1 - reward[i]!));
    else if (kind === 'reward-noise') rows.forEach((i, r) => (newValue[r] = reward[i]! + eps * rng.normal()));
    // drop-rewards: the value is ignored (toNull)

    const patch: ArrayColumn[] = [
      { name: 'row_id', type: 'BIGINT', data: Float64Array.from(rows, (i) => rowId[i]!) },
      { name: '_bits', type: 'SMALLINT', data: new Int16Array(m).fill(bit) },
      { name: 'value', type: 'DOUBLE', data: newValue },
    ];
    if (newProbs) patch.push({ name: 'probs', type: 'DOUBLE', data: newProbs, width: K });
    await arraysToTable(conn, 'patch', m, patch, { temp: true });
    const columns: Record<string, PatchedColumn> = PROPENSITY_KINDS.has(kind)
      ? { propensity: { bit, patchColumn: 'value' }, ...(newProbs ? { action_probs: { bit, patchColumn: 'probs', wrapScalar: K === 1 } } : {}) }
      : { reward: { bit, patchColumn: 'value', toNull: kind === 'drop-rewards' } };
    const version = await writePatched({ ws, conn, parent, patchTable: 'patch', keys: ['row_id'], columns, name, metadata });
    return { version, changed: m };
  } finally {
    conn.closeSync();
  }
}

