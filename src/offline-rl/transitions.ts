/**
 * Turns TrajectoryArrays into the transition set a learner samples from, with
 * the checks every learner needs, and draws seeded mini-batches.
 *
 * Rows whose next observation is missing (D4RL files, last step of an episode)
 * are kept when the step terminated (nothing is bootstrapped from them; their
 * next observation reads as zeros) and dropped when it did not, as
 * d4rl.qlearning_dataset does.
 */
import { dataError, OffpolicyError } from '../core/errors.js';
import type { TrajectoryArrays } from '../datasets/load-trajectories.js';
import { normalizeRows, type NormStats } from '../nn/normalization.js';
import type { Rng } from '../util/rng.js';

export interface TransitionSet {
  obsDim: number;
  actDim: number;
  /** Dataset row number of each transition. */
  rows: Uint32Array;
  /** Normalized observations of all dataset rows (n x obsDim). */
  obs: Float32Array;
  /** Normalized next observations (n x obsDim; zeros where missing), or null when not needed. */
  nextObs: Float32Array | null;
  actions: Float32Array;
  rewards: Float64Array;
  terminated: Uint8Array;
}

export interface Batch {
  size: number;
  obs: Float32Array;
  actions: Float32Array;
  rewards: Float32Array;
  /** 1 where the step terminated (no bootstrap). */
  done: Float32Array;
  nextObs: Float32Array | null;
  /** Dataset row numbers of the batch (for error messages). */
  rows: Uint32Array;
}

/** Checks a dataset has continuous actions of the expected width. */
export function checkContinuousActions(data: TrajectoryArrays, expectedActDim?: number): void {
  if (data.discreteActions !== undefined || !(data.actions instanceof Float32Array)) {
    throw new OffpolicyError(
      'E_ACTION_SHAPE',
      `This learner needs continuous (box) actions, but the dataset has discrete actions (${data.discreteActions ?? '?'} choices).`,
      { hint: 'Train it on a dataset with FLOAT[] action vectors (e.g. Pendulum or MountainCarContinuous data).' },
    );
  }
  if (data.actDim < 1 || data.actions.length !== data.n * data.actDim) {
    throw new OffpolicyError(
      'E_ACTION_SHAPE',
      `The action array holds ${data.actions.length} values, not ${data.n} rows x ${data.actDim} action dimensions.`,
      { hint: 'Every action must be a vector of the same length; re-ingest the dataset so validation rejects ragged actions.' },
    );
  }
  if (expectedActDim !== undefined && expectedActDim !== data.actDim) {
    throw new OffpolicyError(
      'E_ACTION_SHAPE',
      `The dataset's actions have ${data.actDim} dimensions but ${expectedActDim} were expected.`,
      { hint: 'Use a dataset logged in the same environment as the policy (or the evaluation env), or drop the action-dimension option.' },
    );
  }
  if (data.observations.length !== data.n * data.obsDim) {
    throw new OffpolicyError('E_OBS_SHAPE', `The observation array holds ${data.observations.length} values, not ${data.n} rows x ${data.obsDim}.`, {
      hint: 'Re-ingest the dataset so validation rejects ragged observations.',
    });
  }
}

/**
 * Builds the transition set. `needNext`: TD learners bootstrap from the next
 * observation; a dataset without the column fails with E_NO_NEXT_OBS.
 */
export function buildTransitions(data: TrajectoryArrays, stats: NormStats, opts: { needNext: boolean; algo: string; expectedActDim?: number }): TransitionSet {
  checkContinuousActions(data, opts.expectedActDim);
  if (data.n === 0) {
    throw new OffpolicyError('E_EMPTY_DATASET', 'The dataset has no rows to train on.', { hint: 'Check the dataset name and any where filter.' });
  }
  const { n, obsDim } = data;
  let nextObs: Float32Array | null = null;
  const keep: number[] = [];
  if (opts.needNext) {
    if (!data.nextObservations) {
      throw new OffpolicyError(
        'E_NO_NEXT_OBS',
        `${opts.algo.toUpperCase()} bootstraps from next observations, but the dataset has no next_observation column.`,
        { hint: 'Ingest the data with next observations (D4RL next_observations or Minari N+1 observations), or train bc, which does not need them.' },
      );
    }
    const raw = data.nextObservations;
    const missing = data.nextObservationMissing;
    const filled = new Float32Array(raw.length);
    for (let i = 0; i < n; i++) {
      const isMissing = missing ? missing[i] === 1 : false;
      if (isMissing) {
        if (data.terminated[i] === 1) keep.push(i); // next obs stays 0; done = 1 masks it
        continue;
      }
      filled.set(raw.subarray(i * obsDim, (i + 1) * obsDim), i * obsDim);
      keep.push(i);
    }
    nextObs = normalizeRows(filled, stats);
    if (missing) for (let i = 0; i < n; i++) if (missing[i] === 1) nextObs.fill(0, i * obsDim, (i + 1) * obsDim);
    if (keep.length === 0) {
      throw new OffpolicyError('E_NO_NEXT_OBS', 'No row of the dataset has a next observation or a terminal flag, so nothing can be bootstrapped.', {
        hint: 'Ingest the data with next observations, or train bc.',
      });
    }
  } else {
    for (let i = 0; i < n; i++) keep.push(i);
  }
  return {
    obsDim,
    actDim: data.actDim,
    rows: Uint32Array.from(keep),
    obs: normalizeRows(data.observations, stats),
    nextObs,
    actions: data.actions as Float32Array,
    rewards: data.rewards,
    terminated: data.terminated,
  };
}

/** Draws `size` transitions uniformly with replacement; throws E_NAN_BATCH when a drawn row holds NaN or infinity. */
export function sampleBatch(t: TransitionSet, size: number, rng: Rng): Batch {
  const d = t.obsDim;
  const m = t.actDim;
  const b: Batch = {
    size,
    obs: new Float32Array(size * d),
    actions: new Float32Array(size * m),
    rewards: new Float32Array(size),
    done: new Float32Array(size),
    nextObs: t.nextObs ? new Float32Array(size * d) : null,
    rows: new Uint32Array(size),
  };
  let bad: number[] | null = null;
  for (let i = 0; i < size; i++) {
    const r = t.rows[rng.int(t.rows.length)]!;
    b.rows[i] = r;
    b.obs.set(t.obs.subarray(r * d, (r + 1) * d), i * d);
    b.actions.set(t.actions.subarray(r * m, (r + 1) * m), i * m);
    b.rewards[i] = t.rewards[r]!;
    b.done[i] = t.terminated[r]!;
    if (b.nextObs && t.nextObs) b.nextObs.set(t.nextObs.subarray(r * d, (r + 1) * d), i * d);
    let ok = Number.isFinite(b.rewards[i]!);
    for (let j = 0; ok && j < d; j++) ok = Number.isFinite(b.obs[i * d + j]!) && (!b.nextObs || Number.isFinite(b.nextObs[i * d + j]!));
    for (let j = 0; ok && j < m; j++) ok = Number.isFinite(b.actions[i * m + j]!);
    if (!ok) (bad ??= []).push(r);
  }
  if (bad) {
    const rows = [...new Set(bad)].sort((x, y) => x - y);
    throw dataError(
      'E_NAN_BATCH',
      'finite observation, action, reward and next observation in a training batch',
      rows.length,
      rows,
      'Remove or repair those rows (offpolicy datasets ingest rejects NaN values; a corruption or a custom loader may have introduced them).',
    );
  }
  return b;
}
