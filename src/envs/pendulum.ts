/**
 * Pendulum-v1 (Gymnasium classic_control/pendulum.py): same constants, dynamics,
 * reward and reset distribution. State (theta, theta_dot) with theta = 0 upright;
 * observation (cos theta, sin theta, theta_dot); action torque in [-2, 2].
 * Never terminates; the time limit is 200 steps.
 */
import type { Rng } from '../util/rng.js';
import { actionComponent, finishStep, type Env, type EnvAction, type EnvState, type ResetResult, type StepResult } from './types.js';

export const PENDULUM = {
  maxSpeed: 8,
  maxTorque: 2,
  dt: 0.05,
  g: 10,
  m: 1,
  l: 1,
} as const;

/** Python's ((x + pi) % (2 pi)) - pi, with Python's non-negative modulo. */
export function angleNormalize(x: number): number {
  const twoPi = 2 * Math.PI;
  const r = (x + Math.PI) % twoPi;
  return (r < 0 ? r + twoPi : r) - Math.PI;
}

function clip(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

function observe(s: Float64Array): Float64Array {
  return Float64Array.of(Math.cos(s[0]!), Math.sin(s[0]!), s[1]!);
}

export const pendulum: Env = {
  id: 'Pendulum-v1',
  observationSpace: { type: 'box', shape: [3], low: [-1, -1, -PENDULUM.maxSpeed], high: [1, 1, PENDULUM.maxSpeed] },
  actionSpace: { type: 'box', shape: [1], low: [-PENDULUM.maxTorque], high: [PENDULUM.maxTorque] },
  maxEpisodeSteps: 200,

  reset(rng: Rng): ResetResult {
    const s = Float64Array.of(rng.range(-Math.PI, Math.PI), rng.range(-1, 1));
    return { state: { t: 0, s }, observation: observe(s) };
  },

  step(state: EnvState, action: EnvAction): StepResult {
    const { maxSpeed, maxTorque, dt, g, m, l } = PENDULUM;
    const th = state.s[0]!;
    const thdot = state.s[1]!;
    const u = clip(actionComponent(action), -maxTorque, maxTorque);
    const costs = angleNormalize(th) ** 2 + 0.1 * thdot ** 2 + 0.001 * u ** 2;
    let newthdot = thdot + ((3 * g) / (2 * l) * Math.sin(th) + (3.0 / (m * l ** 2)) * u) * dt;
    newthdot = clip(newthdot, -maxSpeed, maxSpeed);
    const newth = th + newthdot * dt;
    const s = Float64Array.of(newth, newthdot);
    return finishStep(pendulum, state, s, observe(s), -costs, false);
  },
};
