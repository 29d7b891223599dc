/**
 * RIQL-style corruption of trajectory data (Yang et al., ICLR 2024; protocol in
 * REFERENCES.md, "Corruption").
 *
 * - Each field (obs, action, reward, next_obs) is corrupted on its own subset of
 *   exactly round(rate * m) rows (m = eligible rows: every row, or for next_obs
 *   the rows whose next_observation is not NULL), drawn from a stream seeded by
 *   (seed, field) alone: the subsets are independent, and a field's subset does
 *   not depend on which other fields are corrupted with it.
 * - random: obs / action / next_obs x <- x + U(-eps, eps) * std(x), std per
 *   dimension over the whole dataset (population std); reward r <- U(-eps, eps) * 30.
 *   Discrete actions: replaced by a uniformly drawn different action.
 * - adversarial: reward r <- -eps * r; obs / action / next_obs: Adam attack on a
 *   critic (see adversarial.ts), obs attacked through Q(s + d, a), action through
 *   Q(s, a + d), next_obs through Q(s' + d, a') with a' the next logged action of
 *   the episode (the row's own action on an episode's last step). Discrete
 *   actions: replaced by argmin_a Q(s, a). Adversarial rewards need no critic.
 * - trajectoryConsistent: the state shared by next_observation at step t and
 *   observation at step t+1 of the same episode is corrupted once: a corrupted
 *   next_obs at t is copied into obs at t+1, a corrupted obs at t+1 into next_obs
 *   at t (when both are selected, the next_obs value wins); both rows get their
 *   bit. Every value stays within +-eps * std of its clean value.
 *
 * The result is a new version (default: the next version of the same dataset)
 * whose unchanged rows are copied from the parent's file untouched (write.ts).
 */
import { OffpolicyError } from '../core/errors.js';
import { openMemoryConnection } from '../datasets/duckdb.js';
import { arraysToTable, type ArrayColumn } from '../datasets/from-arrays.js';
import { loadTrajectoryArrays, type TrajectoryArrays } from '../datasets/load-trajectories.js';
import { CORRUPTED_BITS } from '../datasets/schema.js';
import type { DatasetVersion, Workspace } from '../datasets/workspace.js';
import { Rng } from '../util/rng.js';
import { adamAttack } from './adversarial.js';
import { actionInput } from '../models/q-network.js';
import { columnStats, trainFqeCritic, type Critic, type MlpCritic, type TrainCriticOptions } from './critic.js';
import { allRows, checkKind, corruptedName, checkRate, checkScale, checkSeed, chooseRows, spell, type ParamStyle } from './params.js';
import { inheritMetadata, writePatched } from './write.js';

export const TRAJECTORY_FIELDS = ['obs', 'action', 'reward', 'next_obs'] as const;
export type TrajectoryField = (typeof TRAJECTORY_FIELDS)[number];
export type CorruptionMode = 'random' | 'adversarial';

const FIELD_ALIASES: Record<string, TrajectoryField> = {
  obs: 'obs',
  observation: 'obs',
  observations: 'obs',
  action: 'action',
  actions: 'action',
  reward: 'reward',
  rewards: 'reward',
  next_obs: 'next_obs',
  next_observation: 'next_obs',
  next_observations: 'next_obs',
};

const BIT: Record<TrajectoryField, number> = {
  obs: CORRUPTED_BITS.observation,
  action: CORRUPTED_BITS.action,
  reward: CORRUPTED_BITS.reward,
  next_obs: CORRUPTED_BITS.next_observation,
};

/** Random-reward range: r <- U(-eps, eps) * REWARD_RANGE (RIQL). */
export const RANDOM_REWARD_RANGE = 30;

export interface CorruptTrajectoriesOptions {
  /** Dataset reference: "name" (latest) or "name@v". */
  data: string;
  /** Fields to corrupt; entries may be comma lists; 'all' = every field the dataset has. */
  fields: readonly string[] | 'all';
  mode: CorruptionMode;
  /** Share of eligible rows corrupted per field, in [0, 1]. Default 0.3. */
  rate?: number;
  /** eps > 0. Default 1.0. */
  scale?: number;
  seed: number;
  trajectoryConsistent?: boolean;
  /** The critic adversarial obs / action / next_obs attacks minimise. */
  critic?: Critic;
  /** Without a critic: train one here by fitted-Q evaluation (true, or training options without the seed). */
  trainCritic?: boolean | Omit<TrainCriticOptions, 'seed' | 'onProgress'>;
  /** Adam steps of the attack (default 100). */
  attackSteps?: number;
  /** How the caller's user writes parameters, for hints (default 'flag'; robustness settings: 'setting'). */
  paramStyle?: ParamStyle;
  /** Output dataset name; default NAME-corrupted (corruptedName), never a new version of the parent's dataset. */
  name?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface TrajectoryCorruptionResult {
  version: DatasetVersion;
  /** Rows whose field changed, per field (includes rows changed by trajectory-consistent propagation). */
  changed: Record<TrajectoryField, number>;
  /** Rows selected per field (exactly round(rate * eligible)). */
  selected: Partial<Record<TrajectoryField, number>>;
  warnings: string[];
  /** The critic trained here (trainCritic), so the caller can save it. */
  trainedCritic?: MlpCritic;
}

/** Parses field names ("obs", "obs,reward", "all"); unknown names raise E_CORRUPTION_FIELD. */
export function parseFields(fields: readonly string[] | 'all', style: ParamStyle = 'flag'): TrajectoryField[] | 'all' {
  const parts = (fields === 'all' ? ['all'] : fields).flatMap((f) => f.split(',')).map((f) => f.trim().toLowerCase()).filter(Boolean);
  if (parts.length === 0) {
    throw new OffpolicyError('E_CORRUPTION_FIELD', 'No field to corrupt was given.', {
      hint: `Pass ${style === 'flag' ? '--field' : 'field='} with one or more of: ${TRAJECTORY_FIELDS.join(', ')}, all.`,
    });
  }
  if (parts.includes('all')) return 'all';
  const out = new Set<TrajectoryField>();
  for (const p of parts) {
    const f = FIELD_ALIASES[p];
    if (!f) {
      throw new OffpolicyError('E_CORRUPTION_FIELD', `Unknown field "${p}".`, {
        hint: `Valid fields: ${TRAJECTORY_FIELDS.join(', ')}, all.`,
      });
    }
    out.add(f);
  }
  return TRAJECTORY_FIELDS.filter((f) => out.has(f));
}

export function checkMode(mode: string, style: ParamStyle = 'flag'): asserts mode is CorruptionMode {
  if (mode !== 'random' && mode !== 'adversarial') {
    throw new OffpolicyError('E_CORRUPTION_MODE', `Unknown corruption mode "${mode}".`, { hint: `Use ${spell('mode', 'random', style)} or ${spell('mode', 'adversarial', style)}.` });
  }
}

/** Corrupts a trajectory dataset and stores the result as a new version. */
export async function corruptTrajectories(ws: Workspace, opts: CorruptTrajectoriesOptions): Promise<TrajectoryCorruptionResult> {
  const rate = opts.rate ?? 0.3;
  const eps = opts.scale ?? 1.0;
  const style = opts.paramStyle ?? 'flag';
  checkRate(rate, style);
  checkScale(eps, style);
  checkSeed(opts.seed);
  checkMode(opts.mode, style);
  const parsed = parseFields(opts.fields, style);
  const parent = await ws.resolve(opts.data);
  checkKind(parent, 'trajectory');
  const hasNext = parent.metadata.columns.some((c) => c.name === 'next_observation');
  const fields: TrajectoryField[] = parsed === 'all' ? TRAJECTORY_FIELDS.filter((f) => f !== 'next_obs' || hasNext) : parsed;
  if (fields.includes('next_obs') && !hasNext) {
    throw new OffpolicyError('E_FIELD_MISSING', `Dataset ${parent.ref} has no next_observation column, so next_obs cannot be corrupted.`, {
      hint: `Corrupt one of the fields it has: ${TRAJECTORY_FIELDS.filter((f) => f !== 'next_obs').join(', ')}.`,
    });
  }
  const needsCritic = opts.mode === 'adversarial' && fields.some((f) => f !== 'reward');
  if (needsCritic && !opts.critic && !opts.trainCritic) {
    throw new OffpolicyError('E_CRITIC_REQUIRED', 'Adversarial corruption of observations, actions or next observations needs a critic Q(s, a) to attack.', {
      hint: 'Pass a trained critic (--critic FILE), or --train-critic to fit one on this dataset by fitted-Q evaluation.',
    });
  }

  const warnings: string[] = [];
  const conn = await openMemoryConnection();
  try {
    const data = await loadTrajectoryArrays(conn, parent);
    const n = data.n;
    const K = data.discreteActions;
    let critic: Critic | undefined = opts.critic;
    let trainedCritic: MlpCritic | undefined;
    if (needsCritic && !critic) {
      const trainOpts = typeof opts.trainCritic === 'object' ? opts.trainCritic : {};
      const r = await trainFqeCritic(data, { ...trainOpts, seed: opts.seed, onProgress: opts.onProgress });
      warnings.push(...r.warnings);
      critic = trainedCritic = r.critic;
    }
    if (critic && needsCritic && (critic.obsDim !== data.obsDim || critic.actDim !== (K ?? data.actDim))) {
      throw new OffpolicyError(
        'E_CRITIC_SHAPE',
        `The critic takes ${critic.obsDim}-dim observations and ${critic.actDim}-dim actions, but ${parent.ref} has ${data.obsDim} and ${K ?? data.actDim}${K !== undefined ? ' (one-hot)' : ''}.`,
        { hint: 'Supply a critic trained on this dataset, or use --train-critic.' },
      );
    }

    const newObs = Float32Array.from(data.observations);
    const newNext = data.nextObservations ? Float32Array.from(data.nextObservations) : null;
    const newAct = data.actions instanceof Int32Array ? Int32Array.from(data.actions) : Float32Array.from(data.actions);
    const newRew = Float64Array.from(data.rewards);
    const bits = new Uint8Array(n);
    const selectedFlags: Partial<Record<TrajectoryField, Uint8Array>> = {};
    const selected: Partial<Record<TrajectoryField, number>> = {};
    const ctx: FieldContext = { data, eps, critic, attackSteps: opts.attackSteps ?? 100, newObs, newNext, newAct, newRew };

    for (const field of fields) {
      const rng = new Rng(`corrupt:${opts.seed}:${field}`);
      const eligible = field === 'next_obs' ? eligibleNext(data) : allRows(n);
      const rows = chooseRows(rng, eligible, rate);
      selected[field] = rows.length;
      const flag = new Uint8Array(n);
      for (const i of rows) {
        flag[i] = 1;
        bits[i] = bits[i]! | BIT[field];
      }
      selectedFlags[field] = flag;
      corruptField(field, opts.mode, rows, rng, ctx);
    }
    if (opts.trajectoryConsistent) makeConsistent(data, newObs, newNext, bits, selectedFlags.obs, selectedFlags.next_obs);

    const changed = { obs: 0, action: 0, reward: 0, next_obs: 0 } as Record<TrajectoryField, number>;
    const patchRows: number[] = [];
    for (let i = 0; i < n; i++) {
      if (!bits[i]) continue;
      patchRows.push(i);
      for (const f of TRAJECTORY_FIELDS) if (bits[i]! & BIT[f]) changed[f]++;
    }
    await writePatchTable(conn, data, patchRows, bits, newObs, newNext, newAct, newRew);
    const vec = K === undefined && data.actDim === 1;
    const version = await writePatched({
      ws,
      conn,
      parent,
      patchTable: 'patch',
      keys: ['episode_id', 'step'],
      columns: {
        observation: { bit: BIT.obs, patchColumn: 'observation', wrapScalar: data.obsDim === 1 },
        action: { bit: BIT.action, patchColumn: 'action', wrapScalar: vec },
        reward: { bit: BIT.reward, patchColumn: 'reward' },
        ...(hasNext ? { next_observation: { bit: BIT.next_obs, patchColumn: 'next_observation', wrapScalar: data.obsDim === 1 } } : {}),
      },
      name: corruptedName(parent, opts.name),
      metadata: inheritMetadata(
        parent.metadata,
        {
          parent: parent.ref,
          transform: 'corrupt',
          params: {
            fields,
            mode: opts.mode,
            rate,
            scale: eps,
            trajectoryConsistent: Boolean(opts.trajectoryConsistent),
            selection: 'exactly round(rate * eligible rows) per field, independent subsets seeded by (seed, field)',
            randomRewardRange: RANDOM_REWARD_RANGE,
            ...(needsCritic ? { attackSteps: ctx.attackSteps, attackLearningRate: 0.01 * eps, critic: trainedCritic ? { trained: trainedCritic.training } : 'supplied' } : {}),
            selected,
            changed,
          },
          seed: opts.seed,
        },
        {
          extra: { ...(parent.metadata.extra ?? {}), corruption: { bits: CORRUPTED_BITS, changed } },
          // Perturbed continuous actions may leave the parent's box, which every stored version is checked against: keep its shape only.
          ...(changed.action > 0 && parent.metadata.actionSpace?.type === 'box' ? { actionSpace: { type: 'box' as const, shape: parent.metadata.actionSpace.shape } } : {}),
        },
      ),
    });
    return { version, changed, selected, warnings, ...(trainedCritic ? { trainedCritic } : {}) };
  } finally {
    conn.closeSync();
  }
}

interface FieldContext {
  data: TrajectoryArrays;
  eps: number;
  critic?: Critic;
  attackSteps: number;
  newObs: Float32Array;
  newNext: Float32Array | null;
  newAct: Float32Array | Int32Array;
  newRew: Float64Array;
}

function eligibleNext(data: TrajectoryArrays): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < data.n; i++) if (!data.nextObservationMissing?.[i]) out.push(i);
  return Int32Array.from(out);
}

function gatherRows(src: Float32Array, rows: Int32Array, d: number): Float32Array {
  const out = new Float32Array(rows.length * d);
  rows.forEach((i, r) => out.set(src.subarray(i * d, (i + 1) * d), r * d));
  return out;
}

function scatterRows(dst: Float32Array, rows: Int32Array, d: number, values: Float32Array): void {
  rows.forEach((i, r) => dst.set(values.subarray(r * d, (r + 1) * d), i * d));
}

/** The same-episode successor of each row (-1 on an episode's last step). */
function successors(data: TrajectoryArrays): Int32Array {
  const next = new Int32Array(data.n).fill(-1);
  for (let i = 0; i + 1 < data.n; i++) {
    if (data.episodeId[i + 1] === data.episodeId[i] && data.step[i + 1] === data.step[i]! + 1) next[i] = i + 1;
  }
  return next;
}

function corruptField(field: TrajectoryField, mode: CorruptionMode, rows: Int32Array, rng: Rng, c: FieldContext): void {
  const { data, eps } = c;
  if (rows.length === 0) return;
  if (field === 'reward') {
    for (const i of rows) c.newRew[i] = mode === 'random' ? rng.range(-eps, eps) * RANDOM_REWARD_RANGE : -eps * data.rewards[i]!;
    return;
  }
  const K = data.discreteActions;
  if (field === 'action' && K !== undefined) {
    const acts = c.newAct as Int32Array;
    if (K < 2) {
      throw new OffpolicyError('E_CORRUPTION_FIELD', `The action space has ${K} action, so actions cannot be corrupted.`, {
        hint: 'Corrupt obs, reward or next_obs instead.',
      });
    }
    if (mode === 'random') {
      for (const i of rows) {
        const a = rng.int(K - 1);
        acts[i] = a >= data.actions[i]! ? a + 1 : a;
      }
    } else {
      const obs = gatherRows(data.observations, rows, data.obsDim);
      const m = rows.length;
      const obsK = new Float32Array(m * K * data.obsDim);
      const actK = new Float32Array(m * K * K);
      for (let r = 0; r < m; r++) {
        for (let a = 0; a < K; a++) {
          obsK.set(obs.subarray(r * data.obsDim, (r + 1) * data.obsDim), (r * K + a) * data.obsDim);
          actK[(r * K + a) * K + a] = 1;
        }
      }
      const q = c.critic!.q(obsK, actK, m * K);
      rows.forEach((i, r) => {
        let best = 0;
        for (let a = 1; a < K; a++) if (q[r * K + a]! < q[r * K + best]!) best = a;
        acts[i] = best;
      });
    }
    return;
  }
  const src = field === 'obs' ? data.observations : field === 'action' ? (data.actions as Float32Array) : data.nextObservations!;
  const dst = field === 'obs' ? c.newObs : field === 'action' ? (c.newAct as Float32Array) : c.newNext!;
  const d = field === 'action' ? data.actDim : data.obsDim;
  const { std } = columnStats(src, data.n, d, field === 'next_obs' ? data.nextObservationMissing : null);
  if (mode === 'random') {
    for (const i of rows) for (let j = 0; j < d; j++) dst[i * d + j] = src[i * d + j]! + rng.range(-eps, eps) * std[j]!;
    return;
  }
  // Adversarial: attack the critic through this field.
  const critic = c.critic!;
  const actAll = actionInput(data.actions, data.n, K);
  const ad = critic.actDim;
  let obsIn: Float32Array;
  let actIn: Float32Array;
  if (field === 'next_obs') {
    const succ = successors(data);
    obsIn = gatherRows(data.nextObservations!, rows, data.obsDim);
    actIn = new Float32Array(rows.length * ad);
    rows.forEach((i, r) => {
      const j = succ[i]! >= 0 ? succ[i]! : i;
      actIn.set(actAll.subarray(j * ad, (j + 1) * ad), r * ad);
    });
  } else {
    obsIn = gatherRows(data.observations, rows, data.obsDim);
    actIn = gatherRows(actAll, rows, ad);
  }
  const attacked = adamAttack({
    critic,
    target: field === 'action' ? 'act' : 'obs',
    obs: obsIn,
    act: actIn,
    n: rows.length,
    std,
    eps,
    rng,
    steps: c.attackSteps,
  });
  scatterRows(dst, rows, d, attacked);
}

function makeConsistent(
  data: TrajectoryArrays,
  newObs: Float32Array,
  newNext: Float32Array | null,
  bits: Uint8Array,
  obsSel: Uint8Array | undefined,
  nextSel: Uint8Array | undefined,
): void {
  if (!newNext) return;
  const d = data.obsDim;
  const succ = successors(data);
  const copy = (dst: Float32Array, to: number, src: Float32Array, from: number): void => dst.set(src.subarray(from * d, (from + 1) * d), to * d);
  for (let t = 0; t < data.n; t++) {
    const s = succ[t]!;
    if (s < 0 || data.nextObservationMissing?.[t]) continue;
    if (nextSel?.[t]) {
      copy(newObs, s, newNext, t);
      bits[s] = bits[s]! | BIT.obs;
    } else if (obsSel?.[s]) {
      copy(newNext, t, newObs, s);
      bits[t] = bits[t]! | BIT.next_obs;
    }
  }
}

async function writePatchTable(
  conn: Awaited<ReturnType<typeof openMemoryConnection>>,
  data: TrajectoryArrays,
  rows: number[],
  bits: Uint8Array,
  newObs: Float32Array,
  newNext: Float32Array | null,
  newAct: Float32Array | Int32Array,
  newRew: Float64Array,
): Promise<void> {
  const idx = Int32Array.from(rows);
  const m = idx.length;
  const d = data.obsDim;
  const ep = new Float64Array(m);
  const st = new Int32Array(m);
  const b = new Int16Array(m);
  const rew = new Float64Array(m);
  idx.forEach((i, r) => {
    ep[r] = data.episodeId[i]!;
    st[r] = data.step[i]!;
    b[r] = bits[i]!;
    rew[r] = newRew[i]!;
  });
  const cols: ArrayColumn[] = [
    { name: 'episode_id', type: 'BIGINT', data: ep },
    { name: 'step', type: 'INTEGER', data: st },
    { name: '_bits', type: 'SMALLINT', data: b },
    { name: 'observation', type: 'FLOAT', data: gatherRows(newObs, idx, d), width: d },
    { name: 'reward', type: 'DOUBLE', data: rew },
  ];
  if (newAct instanceof Int32Array) {
    cols.push({ name: 'action', type: 'INTEGER', data: Int32Array.from(idx, (i) => newAct[i]!) });
  } else {
    cols.push({ name: 'action', type: 'FLOAT', data: gatherRows(newAct, idx, data.actDim), width: data.actDim });
  }
  if (newNext) cols.push({ name: 'next_observation', type: 'FLOAT', data: gatherRows(newNext, idx, d), width: d });
  await arraysToTable(conn, 'patch', m, cols, { temp: true });
}
