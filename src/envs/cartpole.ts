/**
 * CartPole-v1 (Gymnasium classic_control/cartpole.py): same constants, Euler
 * integration, termination thresholds, reward (+1 on every step, including the
 * step that terminates) and reset (each state component uniform in [-0.05, 0.05]).
 * Action 0 pushes left, 1 pushes right. Time limit 500 steps.
 */
import { OffpolicyError } from '../core/errors.js';
import type { Rng } from '../util/rng.js';
import { actionComponent, finishStep, FLOAT32_MAX, type Env, type EnvAction, type EnvState, type ResetResult, type StepResult } from './types.js';

export const CARTPOLE = {
  gravity: 9.8,
  massCart: 1.0,
  massPole: 0.1,
  totalMass: 1.1,
  length: 0.5,
  poleMassLength: 0.05,
  forceMag: 10.0,
  tau: 0.02,
  thetaThresholdRadians: (12 * 2 * Math.PI) / 360,
  xThreshold: 2.4,
} as const;

export const cartPole: Env = {
  id: 'CartPole-v1',
  observationSpace: {
    type: 'box',
    shape: [4],
    low: [-CARTPOLE.xThreshold * 2, -FLOAT32_MAX, -CARTPOLE.thetaThresholdRadians * 2, -FLOAT32_MAX],
    high: [CARTPOLE.xThreshold * 2, FLOAT32_MAX, CARTPOLE.thetaThresholdRadians * 2, FLOAT32_MAX],
  },
  actionSpace: { type: 'discrete', n: 2 },
  maxEpisodeSteps: 500,

  reset(rng: Rng): ResetResult {
    const s = new Float64Array(4);
    for (let i = 0; i < 4; i++) s[i] = rng.range(-0.05, 0.05);
    return { state: { t: 0, s }, observation: Float64Array.from(s) };
  },

  step(state: EnvState, action: EnvAction): StepResult {
    const a = actionComponent(action);
    if (a !== 0 && a !== 1) {
      throw new OffpolicyError('E_ENV_ACTION', `CartPole-v1 takes action 0 or 1, got ${a}.`, {
        hint: 'Pass 0 to push the cart left or 1 to push it right.',
      });
    }
    const c = CARTPOLE;
    let [x, xDot, theta, thetaDot] = state.s as unknown as [number, number, number, number];
    const force = a === 1 ? c.forceMag : -c.forceMag;
    const cosTheta = Math.cos(theta);
    const sinTheta = Math.sin(theta);
    const temp = (force + c.poleMassLength * thetaDot ** 2 * sinTheta) / c.totalMass;
    const thetaAcc = (c.gravity * sinTheta - cosTheta * temp) / (c.length * (4.0 / 3.0 - (c.massPole * cosTheta ** 2) / c.totalMass));
    const xAcc = temp - (c.poleMassLength * thetaAcc * cosTheta) / c.totalMass;
    x = x + c.tau * xDot;
    xDot = xDot + c.tau * xAcc;
    theta = theta + c.tau * thetaDot;
    thetaDot = thetaDot + c.tau * thetaAcc;
    const terminated = x < -c.xThreshold || x > c.xThreshold || theta < -c.thetaThresholdRadians || theta > c.thetaThresholdRadians;
    const s = Float64Array.of(x, xDot, theta, thetaDot);
    return finishStep(cartPole, state, s, Float64Array.from(s), 1.0, terminated);
  },
};
