/**
 * The logged trajectories as off-policy evaluation reads them: steps in episode /
 * step order, an index of where each episode starts, rewards and the behaviour
 * policy's log-probability of each logged action, and the discount.
 *
 * Conventions (REFERENCES.md, "Trajectory off-policy evaluation"): episodes
 * i = 1..n, steps t = 0..T_i - 1 (contiguous), discount gamma^t from t = 0, and
 * every step's reward counts, the last one included. An episode that ended
 * before step t (terminated, or truncated by its time limit) sits in an
 * absorbing state with reward 0 where every policy agrees, so its cumulative
 * weight stays at w_{0:T_i-1}: that is how self-normalised estimators normalise
 * when episode lengths differ.
 */
import { OffpolicyError } from '../../core/errors.js';

/** Where each episode's steps are: rows start[i] .. start[i + 1] - 1. */
export interface EpisodeIndex {
  count: number;
  /** count + 1 row offsets. */
  start: Int32Array;
  /** The stored episode_id of each episode. */
  ids: Float64Array;
  /** Longest episode (steps). */
  horizon: number;
}

export interface TrajectoryOpeData {
  /** Steps (rows). */
  n: number;
  episodes: EpisodeIndex;
  rewards: Float64Array;
  /** log pi_b(a_t | s_t) per step (NaN throughout when the data has none and only DM was asked for). */
  behaviorLogprob: Float64Array;
  hasBehaviorLogprob: boolean;
  gamma: number;
}

export const DEFAULT_GAMMA = 0.99;
const MAX_NAMED = 5;

/** gamma in [0, 1] (1 allowed: undiscounted episodic return). */
export function checkGamma(gamma: number): number {
  if (!(typeof gamma === 'number' && gamma >= 0 && gamma <= 1)) {
    throw new OffpolicyError('E_GAMMA', `The discount gamma must lie in [0, 1], got ${gamma}.`, {
      hint: 'Use e.g. --gamma 0.99 (the default), or 1 for the undiscounted return of finite episodes.',
    });
  }
  return gamma;
}

function namedEpisodes(ids: number[]): string {
  return ids.slice(0, MAX_NAMED).join(', ') + (ids.length > MAX_NAMED ? ', ...' : '');
}

/**
 * Indexes episodes of rows already sorted by (episode_id, step) and checks that
 * each episode's steps are 0, 1, ..., T - 1 (E_STEP_GAP names the episodes that
 * are not), and that terminated / truncated appear only on an episode's last step.
 */
export function indexEpisodes(episodeId: Float64Array, step: Int32Array, terminated?: Uint8Array, truncated?: Uint8Array): EpisodeIndex {
  const n = episodeId.length;
  if (step.length !== n) {
    throw new OffpolicyError('E_SHAPE', `episode_id has ${n} rows but step has ${step.length}.`, { hint: 'Pass one step number per row.' });
  }
  if (n === 0) {
    throw new OffpolicyError('E_TOO_FEW_ROWS', 'The trajectory data has no steps.', { hint: 'Evaluate on a dataset with at least two episodes.' });
  }
  const starts: number[] = [];
  const ids: number[] = [];
  const gaps: number[] = [];
  const badEnd: number[] = [];
  let gapCount = 0;
  let endCount = 0;
  let horizon = 0;
  for (let r = 0; r < n; r++) {
    if (r === 0 || episodeId[r] !== episodeId[r - 1]) {
      if (r > 0 && episodeId[r]! < episodeId[r - 1]!) {
        throw new OffpolicyError('E_UNSORTED', `Rows are not in episode order at row ${r} (episode ${episodeId[r]} after ${episodeId[r - 1]}).`, {
          hint: 'Load the data with loadTrajectoryArrays, which sorts by (episode_id, step).',
        });
      }
      if (starts.length > 0) horizon = Math.max(horizon, r - starts[starts.length - 1]!);
      starts.push(r);
      ids.push(episodeId[r]!);
    }
    const s = starts[starts.length - 1]!;
    const t = r - s;
    if (step[r] !== t) {
      // report each episode once
      if (gaps[gaps.length - 1] !== episodeId[r]) {
        gaps.push(episodeId[r]!);
        gapCount++;
      }
    }
    const last = r === n - 1 || episodeId[r + 1] !== episodeId[r];
    if (!last && ((terminated && terminated[r]) || (truncated && truncated[r]))) {
      if (badEnd[badEnd.length - 1] !== episodeId[r]) {
        badEnd.push(episodeId[r]!);
        endCount++;
      }
    }
  }
  horizon = Math.max(horizon, n - starts[starts.length - 1]!);
  if (gapCount > 0) {
    throw new OffpolicyError(
      'E_STEP_GAP',
      `${gapCount} episode(s) do not number their steps 0, 1, ..., T - 1 without gaps or repeats (episodes ${namedEpisodes(gaps)}).`,
      {
        hint: 'Off-policy evaluation multiplies importance ratios along each episode, so a missing step breaks every later weight. Re-export the episodes whole, or drop the broken ones (e.g. with a WHERE on episode_id).',
        details: { rule: 'steps 0..T-1 contiguous per episode', count: gapCount, rows: gaps.slice(0, MAX_NAMED) },
      },
    );
  }
  if (endCount > 0) {
    throw new OffpolicyError('E_EPISODE_END', `${endCount} episode(s) are marked terminated or truncated before their last step (episodes ${namedEpisodes(badEnd)}).`, {
      hint: 'An episode ends at its last step; split the data so each end starts a new episode_id.',
      details: { rule: 'terminated / truncated only on the last step', count: endCount, rows: badEnd.slice(0, MAX_NAMED) },
    });
  }
  starts.push(n);
  return { count: ids.length, start: Int32Array.from(starts), ids: Float64Array.from(ids), horizon };
}

/** The episode of each row. */
export function episodeOfRows(ep: EpisodeIndex): Int32Array {
  const out = new Int32Array(ep.start[ep.count]!);
  for (let i = 0; i < ep.count; i++) out.fill(i, ep.start[i]!, ep.start[i + 1]!);
  return out;
}

/**
 * Checks log-probabilities: NaN and +inf are never valid; -inf (probability 0)
 * is invalid for the behaviour policy (it took the action) but fine for a
 * candidate (its weight is then 0). Names the episodes and steps that fail.
 */
export function checkLogprobs(logp: Float64Array, ep: EpisodeIndex, who: string, allowMinusInf: boolean): void {
  const bad: string[] = [];
  let count = 0;
  const epIds: number[] = [];
  for (let i = 0; i < ep.count; i++) {
    for (let r = ep.start[i]!; r < ep.start[i + 1]!; r++) {
      const v = logp[r]!;
      if (Number.isNaN(v) || v === Infinity || (!allowMinusInf && v === -Infinity)) {
        count++;
        if (bad.length < MAX_NAMED) bad.push(`episode ${ep.ids[i]} step ${r - ep.start[i]!} (${v})`);
        if (epIds[epIds.length - 1] !== ep.ids[i]) epIds.push(ep.ids[i]!);
      }
    }
  }
  if (count > 0) {
    const rule = allowMinusInf ? 'log-probability is a number below +inf' : 'log-probability is finite';
    throw new OffpolicyError('E_LOGPROB', `${who}: ${count} step(s) have an invalid log-probability (rule: ${rule}; first: ${bad.join(', ')}).`, {
      hint: allowMinusInf
        ? 'A log-probability must be a number <= 0 for discrete actions (or a finite log-density); NaN and +inf usually come from a division by zero upstream.'
        : 'The behaviour policy took each logged action, so log pi_b(a|s) must be finite; recompute behavior_logprob, or drop the affected episodes.',
      details: { rule, count, rows: epIds.slice(0, MAX_NAMED) },
    });
  }
}

export interface TrajectoryDataInput {
  episodeId: Float64Array;
  step: Int32Array;
  rewards: Float64Array;
  terminated?: Uint8Array;
  truncated?: Uint8Array;
  behaviorLogprob: Float64Array | null;
}

/**
 * Builds and checks the OPE view of trajectory rows (in (episode_id, step) order,
 * as loadTrajectoryArrays returns them).
 */
export function trajectoryOpeData(a: TrajectoryDataInput, gamma: number = DEFAULT_GAMMA, opts: { requireBehaviorLogprob?: boolean } = {}): TrajectoryOpeData {
  checkGamma(gamma);
  const episodes = indexEpisodes(a.episodeId, a.step, a.terminated, a.truncated);
  if (!a.behaviorLogprob && opts.requireBehaviorLogprob === false) {
    return { n: a.episodeId.length, episodes, rewards: a.rewards, behaviorLogprob: new Float64Array(a.episodeId.length).fill(NaN), hasBehaviorLogprob: false, gamma };
  }
  if (!a.behaviorLogprob) {
    throw new OffpolicyError('E_NO_BEHAVIOR_LOGPROB', `The trajectory data has no behavior_logprob column, and no behaviour model is available to estimate it (${episodes.count} episodes affected, all of them).`, {
      hint: 'Importance-sampling estimators need log pi_b(a_t|s_t) of every logged action: store it as behavior_logprob (the generators do), let the evaluation fit a behaviour model (evaluateTrajectoryArrays / offpolicy evaluate do by default; or fitBehaviorModel), or use only the direct method (--estimators dm).',
    });
  }
  const n = a.episodeId.length;
  if (a.rewards.length !== n || a.behaviorLogprob.length !== n) {
    throw new OffpolicyError('E_SHAPE', `The trajectory columns have different lengths: ${n} episode ids, ${a.rewards.length} rewards, ${a.behaviorLogprob.length} behaviour log-probabilities.`, {
      hint: 'Pass one value per step in every column.',
    });
  }
  const badReward: number[] = [];
  for (let r = 0; r < n; r++) if (!Number.isFinite(a.rewards[r]!)) badReward.push(r);
  if (badReward.length > 0) {
    throw new OffpolicyError('E_REWARD', `${badReward.length} step(s) have a NaN or infinite reward (first rows: ${badReward.slice(0, MAX_NAMED).join(', ')}).`, {
      hint: 'Fix or drop those steps before evaluating.',
      details: { rule: 'reward is finite', count: badReward.length, rows: badReward.slice(0, MAX_NAMED) },
    });
  }
  checkLogprobs(a.behaviorLogprob, episodes, 'behavior_logprob', false);
  return { n, episodes, rewards: a.rewards, behaviorLogprob: a.behaviorLogprob, hasBehaviorLogprob: true, gamma };
}

/** Discounted return sum_t gamma^t r_t of each episode (the behaviour policy's on-policy value terms). */
export function discountedReturns(d: TrajectoryOpeData): Float64Array {
  const ep = d.episodes;
  const out = new Float64Array(ep.count);
  for (let i = 0; i < ep.count; i++) {
    let g = 0;
    let disc = 1;
    for (let r = ep.start[i]!; r < ep.start[i + 1]!; r++) {
      g += disc * d.rewards[r]!;
      disc *= d.gamma;
    }
    out[i] = g;
  }
  return out;
}

/** gamma^t for t = 0..H-1, by repeated multiplication (as discountedReturns). */
export function discounts(gamma: number, H: number): Float64Array {
  const out = new Float64Array(H);
  let x = 1;
  for (let t = 0; t < H; t++) {
    out[t] = x;
    x *= gamma;
  }
  return out;
}
