/**
 * MountainCarContinuous-v0 (Gymnasium classic_control/continuous_mountain_car.py):
 * same constants, dynamics, reward and reset. State = observation = (position,
 * velocity). Reward: +100 on reaching the goal (position >= 0.45 with velocity >= 0,
 * which terminates), minus 0.1 * action^2 every step, using the action as given
 * (Gymnasium squares the unclipped action; the force itself is clipped to [-1, 1]).
 * Time limit 999 steps.
 */
import type { Rng } from '../util/rng.js';
import { actionComponent, finishStep, type Env, type EnvAction, type EnvState, type ResetResult, type StepResult } from './types.js';

export const MOUNTAIN_CAR = {
  minAction: -1,
  maxAction: 1,
  minPosition: -1.2,
  maxPosition: 0.6,
  maxSpeed: 0.07,
  goalPosition: 0.45,
  goalVelocity: 0,
  power: 0.0015,
} as const;

export const mountainCarContinuous: Env = {
  id: 'MountainCarContinuous-v0',
  observationSpace: {
    type: 'box',
    shape: [2],
    low: [MOUNTAIN_CAR.minPosition, -MOUNTAIN_CAR.maxSpeed],
    high: [MOUNTAIN_CAR.maxPosition, MOUNTAIN_CAR.maxSpeed],
  },
  actionSpace: { type: 'box', shape: [1], low: [MOUNTAIN_CAR.minAction], high: [MOUNTAIN_CAR.maxAction] },
  maxEpisodeSteps: 999,

  reset(rng: Rng): ResetResult {
    const s = Float64Array.of(rng.range(-0.6, -0.4), 0);
    return { state: { t: 0, s }, observation: Float64Array.from(s) };
  },

  step(state: EnvState, action: EnvAction): StepResult {
    const c = MOUNTAIN_CAR;
    let position = state.s[0]!;
    let velocity = state.s[1]!;
    const a = actionComponent(action);
    const force = Math.min(Math.max(a, c.minAction), c.maxAction);
    velocity += force * c.power - 0.0025 * Math.cos(3 * position);
    if (velocity > c.maxSpeed) velocity = c.maxSpeed;
    if (velocity < -c.maxSpeed) velocity = -c.maxSpeed;
    position += velocity;
    if (position > c.maxPosition) position = c.maxPosition;
    if (position < c.minPosition) position = c.minPosition;
    if (position === c.minPosition && velocity < 0) velocity = 0;
    const terminated = position >= c.goalPosition && velocity >= c.goalVelocity;
    let reward = terminated ? 100.0 : 0;
    reward -= a ** 2 * 0.1;
    const s = Float64Array.of(position, velocity);
    return finishStep(mountainCarContinuous, state, s, Float64Array.from(s), reward, terminated);
  },
};
