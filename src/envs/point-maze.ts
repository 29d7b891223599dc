/**
 * PointMaze-U-v0: a 2-D point in a 4 x 4 room with a wall across the lower-left
 * three quarters, so the goal (top-left) is reached by going right, up past the
 * wall's end, then back left: a U-shaped path. Sparse reward.
 *
 * - State = observation = (x, y).
 * - Action: a velocity (vx, vy) in [-1, 1]^2; the point moves by dt * action.
 *   Moves are resolved one axis at a time (x first, then y): an axis move that
 *   would enter the wall or leave the room is cancelled, so the point slides
 *   along walls instead of sticking.
 * - Reward 1 on the step that brings the point within GOAL.radius of the goal
 *   centre, which terminates the episode; 0 otherwise. Time limit 300 steps.
 * - Reset: uniform in the 0.5 x 0.5 square centred on START.
 */
import type { Rng } from '../util/rng.js';
import { actionComponent, finishStep, type Env, type EnvAction, type EnvState, type ResetResult, type StepResult } from './types.js';

export const POINT_MAZE = {
  size: 4,
  dt: 0.1,
  /** Axis-aligned wall rectangle [x0, x1] x [y0, y1]. */
  wall: { x0: 0, x1: 3, y0: 1.75, y1: 2.25 },
  start: [0.5, 0.5] as const,
  goal: { x: 0.5, y: 3.5, radius: 0.5 },
} as const;

function blocked(x: number, y: number): boolean {
  const { size, wall } = POINT_MAZE;
  if (x < 0 || x > size || y < 0 || y > size) return true;
  return x >= wall.x0 && x <= wall.x1 && y >= wall.y0 && y <= wall.y1;
}

export function atGoal(x: number, y: number): boolean {
  const { goal } = POINT_MAZE;
  return Math.hypot(x - goal.x, y - goal.y) <= goal.radius;
}

function clip1(v: number): number {
  return v < -1 ? -1 : v > 1 ? 1 : Number.isNaN(v) ? 0 : v;
}

export const pointMaze: Env = {
  id: 'PointMaze-U-v0',
  observationSpace: { type: 'box', shape: [2], low: [0, 0], high: [POINT_MAZE.size, POINT_MAZE.size] },
  actionSpace: { type: 'box', shape: [2], low: [-1, -1], high: [1, 1] },
  maxEpisodeSteps: 300,

  reset(rng: Rng): ResetResult {
    const s = Float64Array.of(POINT_MAZE.start[0] + rng.range(-0.25, 0.25), POINT_MAZE.start[1] + rng.range(-0.25, 0.25));
    return { state: { t: 0, s }, observation: Float64Array.from(s) };
  },

  step(state: EnvState, action: EnvAction): StepResult {
    const { dt } = POINT_MAZE;
    let x = state.s[0]!;
    let y = state.s[1]!;
    const nx = x + dt * clip1(actionComponent(action, 0));
    if (!blocked(nx, y)) x = nx;
    const ny = y + dt * clip1(actionComponent(action, 1));
    if (!blocked(x, ny)) y = ny;
    const terminated = atGoal(x, y);
    const s = Float64Array.of(x, y);
    return finishStep(pointMaze, state, s, Float64Array.from(s), terminated ? 1 : 0, terminated);
  },
};
