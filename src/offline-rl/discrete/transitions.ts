/**
 * The transition set of the discrete-action learners: the checks of a dataset
 * with INTEGER actions (0..K-1), then the shared transition builder of
 * ../transitions.ts with the action index as a one-value float "action" (exact
 * for any K below 2^24), so next-observation handling, row dropping and the
 * NaN checks of every batch are the continuous learners' own.
 */
import type { TrajectoryArrays } from '../../datasets/load-trajectories.js';
import { dataError, OffpolicyError } from '../../core/errors.js';
import type { NormStats } from '../../nn/normalization.js';
import { buildTransitions, type Batch, type TransitionSet } from '../transitions.js';

export interface DiscreteTransitionSet extends TransitionSet {
  /** Number of actions K. */
  numActions: number;
}

/**
 * Checks `data` has discrete actions: an Int32Array of indices in 0..K-1 with
 * K = data.discreteActions >= 2; returns K. `algo` names the learner in messages.
 */
export function checkDiscreteActions(data: TrajectoryArrays, algo: string): number {
  const k = data.discreteActions;
  if (k === undefined || !(data.actions instanceof Int32Array)) {
    throw new OffpolicyError(
      'E_ACTION_SHAPE',
      `The discrete ${algo} learner needs discrete actions (integers 0..K-1), but the dataset has ${data.actDim}-dimensional continuous actions.`,
      { hint: `Train the continuous ${algo} on box-action data (offpolicy train ${algo} picks it for FLOAT[] actions), or use a dataset with INTEGER actions (e.g. CartPole-v1).` },
    );
  }
  if (!Number.isInteger(k) || k < 2) {
    throw new OffpolicyError('E_ACTION_SPACE', `The dataset's action space has ${k} action(s); a discrete policy needs at least 2 to choose between.`, {
      hint: 'Check the dataset\'s action_space metadata (offpolicy datasets show), or re-ingest it with --num-actions K.',
    });
  }
  if (data.actions.length !== data.n) {
    throw new OffpolicyError('E_ACTION_SHAPE', `The action array holds ${data.actions.length} values, not one action index per row (${data.n} rows).`, {
      hint: 'Discrete actions are one INTEGER per row; re-ingest the dataset.',
    });
  }
  if (data.observations.length !== data.n * data.obsDim) {
    throw new OffpolicyError('E_OBS_SHAPE', `The observation array holds ${data.observations.length} values, not ${data.n} rows x ${data.obsDim}.`, {
      hint: 'Re-ingest the dataset so validation rejects ragged observations.',
    });
  }
  const bad: number[] = [];
  let count = 0;
  for (let i = 0; i < data.n; i++) {
    const a = data.actions[i]!;
    if (a < 0 || a >= k) {
      count++;
      if (bad.length < 5) bad.push(i);
    }
  }
  if (count > 0) {
    throw dataError('E_ACTION_RANGE', `action in 0..${k - 1} (the action space has K = ${k} actions)`, count, bad, 'Fix or drop those rows, or declare the right number of actions when ingesting (--num-actions).');
  }
  return k;
}

/** Builds the transition set (see the module comment); `needNext` as for ../transitions.ts. */
export function buildDiscreteTransitions(data: TrajectoryArrays, stats: NormStats, opts: { needNext: boolean; algo: string }): DiscreteTransitionSet {
  const k = checkDiscreteActions(data, opts.algo);
  const asIndex: TrajectoryArrays = { ...data, actDim: 1, actions: Float32Array.from(data.actions) };
  delete asIndex.discreteActions;
  return { ...buildTransitions(asIndex, stats, { needNext: opts.needNext, algo: opts.algo }), numActions: k };
}

/** The batch's action indices as integers. */
export function batchActionIndices(b: Batch): Int32Array {
  return Int32Array.from(b.actions);
}

/** values[i, actions[i]] of an n x k matrix. */
export function gatherActions(values: ArrayLike<number>, actions: ArrayLike<number>, k: number): Float32Array {
  const out = new Float32Array(actions.length);
  for (let i = 0; i < actions.length; i++) out[i] = values[i * k + actions[i]!]!;
  return out;
}

/** An n x k matrix that is zero except g[i] at column actions[i] (the gradient of a gathered loss). */
export function scatterActions(g: ArrayLike<number>, actions: ArrayLike<number>, k: number): Float32Array {
  const out = new Float32Array(actions.length * k);
  for (let i = 0; i < actions.length; i++) out[i * k + actions[i]!] = g[i]!;
  return out;
}
