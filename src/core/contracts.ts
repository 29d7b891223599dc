/**
 * The contracts the layers meet at. Evaluation sees a policy, a reward model or
 * a Q function only through these interfaces; learners, policy formats and model
 * fitters implement them. Arrays are row-major, float32 in, float64 out.
 */
import type { Warning } from './evaluation-result.js';

/** A discrete-action policy: n x K action probabilities, each row summing to 1. */
export interface Policy {
  readonly numActions: number;
  actionProbs(contexts: Float32Array, n: number): Float64Array;
  /**
   * False when the probabilities do not depend on the contexts (the uniform
   * policy), so evaluation need not warn when a log has no contexts. Absent
   * means the policy may read them.
   */
  readonly usesContext?: boolean;
  /**
   * Position-aware policies (a log with a `position` column: one slot of a
   * ranking per row): the distribution at each row's 0-based position, n x K.
   * Evaluation calls this instead of actionProbs when the log has positions.
   */
  actionProbsAtPositions?(contexts: Float32Array, positions: Int32Array, n: number): Float64Array;
  /**
   * How the policy's context is built from a log's columns (fitted on the log it
   * was trained on: columns, one-hot levels). When present, an evaluator builds
   * the contexts it passes to actionProbs with this spec rather than its own.
   */
  readonly features?: FeatureSpec;
}

/** One input column of a context: a number, or a categorical column one-hot encoded on fitted levels (+ an "other" bucket). */
export type FeatureColumn = { name: string; kind: 'numeric' } | { name: string; kind: 'categorical'; levels: string[] };

/**
 * How a bandit log's rows become context vectors: the `context` FLOAT[] column
 * (width `vectorWidth`) when used, then `columns` in order, a categorical column
 * giving one entry per level and a last "other" entry (unseen levels and NULL).
 * Plain JSON, stored with learned policies so they apply to new data.
 */
export interface FeatureSpec {
  /** Width of the leading `context` vector (0: not used). */
  vectorWidth: number;
  columns: FeatureColumn[];
  /** The cap on levels per categorical column it was fitted with. */
  maxLevels: number;
  /** Total width d. */
  width: number;
}

/** A continuous-action policy (offline-RL learners export these). */
export interface ContinuousPolicy {
  readonly actionDim: number;
  /** The deterministic (mean) action for each row: n x actionDim. */
  act(obs: Float32Array, n: number): Float32Array;
  /** log pi(a_i | s_i) for each row. */
  logProb(obs: Float32Array, actions: Float32Array, n: number): Float64Array;
  /**
   * Per-dimension std of a Gaussian policy that acts by drawing from its
   * Gaussian restricted to the action box (as `rollout --stochastic` does);
   * its Gaussian is then N(act(s), diag(actionStd()^2)), the density logProb
   * gives, and off-policy evaluation scores it by that density truncated to
   * the box.
   */
  actionStd?(): Float64Array;
}

/** Logged (x, a, r) for fitting a reward model. */
export interface RewardData {
  n: number;
  /** Context dimension (0 allowed: then q depends on the action only). */
  d: number;
  numActions: number;
  /** n x d, row-major. */
  contexts: Float32Array;
  actions: Int32Array;
  rewards: Float64Array;
  /**
   * Features of each action (K x m, row-major; e.g. an item catalogue joined by
   * action): joint models then read [x, one-hot(a), z_a], so what they learn about
   * a feature carries over between actions that share it.
   */
  actionFeatures?: { width: number; values: Float32Array };
}

/** What every reward model gives: q(x, a) for every action (the horizon-1 Q function of a bandit). */
export interface RewardModel {
  readonly kind: string;
  readonly numActions: number;
  /** Predicted rewards q(x_i, a) for every action: n x K, row-major. */
  predict(contexts: Float32Array, n: number): Float64Array;
  /** Things the fit noticed (e.g. an action with no data). */
  readonly warnings: Warning[];
}

/** Q(s, a) of given state-action pairs (fitted Q evaluation, critics). */
export interface QFunction {
  readonly obsDim: number;
  /** Width of the action input (box: the action dimension; discrete: K, actions one-hot). */
  readonly actDim: number;
  /** Q(s_i, a_i) for n rows: obs n x obsDim, actions n x actDim. */
  q(obs: Float32Array, actions: Float32Array, n: number): Float64Array;
}

/** Q(s, a) for every one of K discrete actions. */
export interface DiscreteQFunction {
  readonly numActions: number;
  /** n x K, row-major. */
  qAll(obs: Float32Array, n: number): Float64Array;
}
