/**
 * Scripted controllers, one per environment: the deterministic core of the
 * "medium" and "expert" behaviour policies. A box controller returns the mean
 * action; the CartPole controller returns a score whose sign says "push right".
 */
import { MOUNTAIN_CAR } from './mountain-car.js';
import { POINT_MAZE } from './point-maze.js';

/**
 * Pendulum: energy pumping far from upright, a PD (LQR-like) stabiliser near it.
 * With theta = 0 upright, theta'' = 15 sin(theta) + 3 u, so E = theta'^2 / 2 + 15 cos(theta)
 * is conserved without torque and equals 15 at rest upright. Far from upright
 * the controller pushes along theta' while E < 15 (and brakes when E > 15); near
 * upright it applies u = -(10 theta + 2 theta').
 */
export function pendulumController(obs: ArrayLike<number>, out: Float64Array): void {
  const th = Math.atan2(obs[1]!, obs[0]!);
  const thdot = obs[2]!;
  const energy = 0.5 * thdot * thdot + 15 * Math.cos(th);
  let u: number;
  if (Math.cos(th) > 0.85) u = -(10 * th + 2 * thdot);
  else u = (15 - energy) * thdot;
  out[0] = Math.max(-2, Math.min(2, u));
}

/** MountainCarContinuous: push in the direction of motion (full throttle), pumping energy. */
export function mountainCarController(obs: ArrayLike<number>, out: Float64Array): void {
  out[0] = obs[1]! >= 0 ? MOUNTAIN_CAR.maxAction : MOUNTAIN_CAR.minAction;
}

/** CartPole: a PD law on pole angle and cart position; positive means push right. */
export function cartPoleScore(obs: ArrayLike<number>): number {
  const [x, xDot, theta, thetaDot] = [obs[0]!, obs[1]!, obs[2]!, obs[3]!];
  return 10 * theta + 2 * thetaDot + 0.1 * x + 0.5 * xDot;
}

/**
 * Point maze: follow waypoints around the wall at unit speed: right along the
 * bottom corridor, up the right-hand gap, then left to the goal.
 */
export function pointMazeController(obs: ArrayLike<number>, out: Float64Array): void {
  const x = obs[0]!;
  const y = obs[1]!;
  const { wall, goal } = POINT_MAZE;
  let tx: number;
  let ty: number;
  if (y > wall.y1) {
    tx = goal.x; // above the wall: straight to the goal
    ty = goal.y;
  } else if (x < wall.x1 + 0.3 && y < wall.y0) {
    tx = wall.x1 + 0.5; // bottom corridor: head right
    ty = y;
  } else {
    tx = wall.x1 + 0.5; // right-hand gap: head up past the wall's end
    ty = wall.y1 + 0.6;
  }
  const dx = tx - x;
  const dy = ty - y;
  const d = Math.hypot(dx, dy) || 1;
  out[0] = dx / d;
  out[1] = dy / d;
}
