/**
 * Slate (ranking) logs in memory, one layout for every slate estimator.
 *
 * A slate log has one row per (slate, position): slate_id, position 0..L-1,
 * action, reward, and the logging policy's propensities in up to three forms
 * (Open Bandit Pipeline's names):
 *   pscore                the probability of the whole slate (the same on its L rows)
 *   pscore_item_position  the marginal probability of the row's action at the row's position
 *   pscore_cascade        the probability of the slate's top l + 1 actions (non-increasing in l)
 * The candidate gives the same three for the logged slates, and for Cascade-DR its
 * distribution over the next action given the logged prefix (evaluation_policy_action_dist)
 * together with Q-hat of every action at every position.
 *
 * In memory the rows are slate-major: entry s * L + l is slate s at position l, and
 * per-action arrays put action a at (s * L + l) * K + a.
 */

export type SlateEstimatorId = 'sips' | 'iips' | 'rips' | 'cascade-dr';

/** Propensities of one policy, n * L entries each (slate-major). */
export interface SlatePscores {
  /** pi(a_1..a_L | x): the slate's probability, repeated on its L rows. */
  pscore?: Float64Array;
  /** pi(a_l at position l | x): the marginal of the row's action at its position. */
  itemPosition?: Float64Array;
  /** pi(a_1..a_l | x): the probability of the top l + 1 actions. */
  cascade?: Float64Array;
}

export interface SlateData {
  nSlates: number;
  /** L, the same for every slate. */
  slateLength: number;
  /** K (needed by Cascade-DR's per-action inputs). */
  numActions: number;
  /** The slate ids in slate order (slate s has id slateIds[s]). */
  slateIds: Float64Array;
  /** n * L actions (Cascade-DR needs them). */
  actions?: Int32Array;
  /** n * L slot rewards r_s(l). */
  rewards: Float64Array;
  behaviour: SlatePscores;
  evaluation: SlatePscores;
  /** n * L * K: Q-hat_l(x_s, a_s(1..l-1), a) for every action a (Cascade-DR). */
  qHat?: Float64Array;
  /** n * L * K: pi_e(a | x_s, a_s(1..l-1)) for every action a (Cascade-DR). */
  evaluationActionDist?: Float64Array;
}

export interface SlateEstimatorSpec {
  id: SlateEstimatorId;
  /** Open Bandit Pipeline's class name. */
  obpName: string;
  /** What the estimator needs to be unbiased. */
  assumption: string;
  /** Per-slate terms t_s; the estimate is their mean. */
  terms(data: SlateData): Float64Array;
}
