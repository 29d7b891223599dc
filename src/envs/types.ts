/**
 * Small simulators with Gymnasium semantics. An environment is a pure step
 * function: `step(state, action)` never mutates `state` and returns the next one,
 * so rollouts are reproducible from the seed given to `reset`.
 *
 * `terminated` means the task ended inside the MDP (pole fell, goal reached);
 * `truncated` means the time limit (`maxEpisodeSteps`) cut the episode. At most
 * one of them is true, and `terminated` wins when both would apply, as in
 * Gymnasium's TimeLimit wrapper.
 */
import type { Space } from '../datasets/metadata.js';
import type { Rng } from '../util/rng.js';

export interface EnvState {
  /** Steps taken so far in this episode. */
  readonly t: number;
  /** The physical state (not necessarily equal to the observation). */
  readonly s: Float64Array;
}

export interface ResetResult {
  state: EnvState;
  observation: Float64Array;
}

export interface StepResult {
  state: EnvState;
  observation: Float64Array;
  reward: number;
  terminated: boolean;
  truncated: boolean;
}

/** A discrete action is its index; a box action is a vector (a plain number is read as a length-1 vector). */
export type EnvAction = number | ArrayLike<number>;

export interface Env {
  /** Gymnasium-style id, e.g. "Pendulum-v1". */
  readonly id: string;
  readonly observationSpace: Space;
  readonly actionSpace: Space;
  readonly maxEpisodeSteps: number;
  reset(rng: Rng): ResetResult;
  step(state: EnvState, action: EnvAction): StepResult;
}

/** Reads component `i` of an action given as a number or a vector. */
export function actionComponent(action: EnvAction, i = 0): number {
  return typeof action === 'number' ? action : Number(action[i]);
}

/** Time-limit bookkeeping shared by every env: builds the StepResult. */
export function finishStep(
  env: Env,
  prev: EnvState,
  s: Float64Array,
  observation: Float64Array,
  reward: number,
  terminated: boolean,
): StepResult {
  const t = prev.t + 1;
  return {
    state: { t, s },
    observation,
    reward,
    terminated,
    truncated: !terminated && t >= env.maxEpisodeSteps,
  };
}

/** Largest finite float32, which Gymnasium uses for "unbounded" box limits. */
export const FLOAT32_MAX = 3.4028234663852886e38;
