/**
 * DM and DR with fitted Q evaluation (src/models/fqe.ts) on trajectory data:
 * DM against the on-policy value from rollouts on CartPole and Pendulum
 * (gamma 0.9 and a 100-step time limit, so the truncated tail gamma^100 < 3e-5
 * is negligible next to the tolerance), the learning curve and held-out TD
 * error, cross-fitting, and the candidates FQE cannot serve.
 */
import { describe, expect, it } from 'vitest';
import { levelPolicy, noiseLevel, scriptedContinuousPolicy } from '../src/envs/behavior-policies.js';
import { getEnv } from '../src/envs/registry.js';
import { evaluateTrajectoryArrays } from '../src/ope/trajectory/evaluate.js';
import { fqeProvider, type FqeFitSummary } from '../src/ope/trajectory/fqe-q.js';
import { asDiscretePolicy, onPolicyValue, simulateTrajectories, withTimeLimit, type SamplingPolicy } from '../src/ope/trajectory/ground-truth.js';
import { policyCandidate } from '../src/ope/trajectory/candidates.js';
import { expectRejects } from './support/expect-error.js';

const GAMMA = 0.9;

describe('DM by fitted Q evaluation', () => {
  it('CartPole (expert candidate, medium behaviour): DM within 2% of the on-policy value; learning curve and held-out TD error reported', async () => {
    const env = withTimeLimit(getEnv('cartpole'), 100);
    const beh = levelPolicy(env, noiseLevel(env, 'medium', 1));
    const cand = levelPolicy(env, noiseLevel(env, 'expert', 1));
    const truth = onPolicyValue(env, cand, 2000, GAMMA, 'truth');
    const a = simulateTrajectories(env, beh, 100, 'data');
    const fits = new Map<string, FqeFitSummary>();
    const res = await evaluateTrajectoryArrays(a, {
      gamma: GAMMA,
      candidates: [{ name: 'expert', spec: asDiscretePolicy(cand, 4, 2) }],
      estimators: ['dm', 'dr'],
      interval: 't',
      qProvider: fqeProvider({ seed: 0, steps: 10_000, hidden: [64, 64] }, fits),
    });
    const dm = res.candidates[0]!.estimates.find((e) => e.estimator === 'dm')!;
    expect(Math.abs(dm.value - truth.value)).toBeLessThan(0.02 * Math.abs(truth.value));
    const fit = fits.get('expert')!;
    expect(fit.curve.length).toBeGreaterThan(10);
    expect(fit.curve[fit.curve.length - 1]!.initialValue).toBeCloseTo(dm.value, 0);
    expect(fit.heldOutTdError).toBeGreaterThan(0);
    expect(fit.heldOutTdError).toBeLessThan(2);
    expect(res.candidates[0]!.q).toEqual({ source: 'fqe' });
  });
  it('Pendulum (deterministic controller candidate): DM within 10% of the on-policy value', async () => {
    const env = withTimeLimit(getEnv('pendulum'), 100);
    const beh = levelPolicy(env, noiseLevel(env, 'medium', 1));
    const det = { ...scriptedContinuousPolicy(env, 'expert'), kind: 'deterministic' as const };
    const detSampler: SamplingPolicy = {
      sample: (o) => ({ action: Float64Array.from(det.act(Float32Array.from(o), 1)), logProb: 0 }),
      logProb: () => 0,
    };
    const truth = onPolicyValue(env, detSampler, 2000, GAMMA, 'truth');
    const a = simulateTrajectories(env, beh, 60, 'data');
    const res = await evaluateTrajectoryArrays(a, {
      gamma: GAMMA,
      candidates: [{ name: 'det', spec: det }],
      estimators: ['dm'],
      interval: 't',
      actionBox: { low: [-2], high: [2] },
      qProvider: fqeProvider({ seed: 1, steps: 8000, hidden: [64, 64] }),
    });
    const dm = res.candidates[0]!.estimates[0]!;
    expect(Math.abs(dm.value - truth.value)).toBeLessThan(0.1 * Math.abs(truth.value));
  });
  it('cross-fitting by episode reports a held-out TD error; a table candidate cannot be fitted (E_FQE_POLICY)', async () => {
    const env = withTimeLimit(getEnv('cartpole'), 20);
    const beh = levelPolicy(env, noiseLevel(env, 'medium', 1));
    const a = simulateTrajectories(env, beh, 20, 'cf');
    const fits = new Map<string, FqeFitSummary>();
    const res = await evaluateTrajectoryArrays(a, {
      gamma: GAMMA,
      candidates: [{ name: 'b', spec: asDiscretePolicy(beh, 4, 2) }],
      estimators: ['dm', 'dr', 'sndr'],
      qProvider: fqeProvider({ seed: 2, steps: 300, hidden: [16], folds: 2 }, fits),
    });
    expect(res.candidates[0]!.q!.source).toBe('fqe (2-fold cross-fitted)');
    expect(fits.get('b')!.folds).toBe(2);
    expect(Number.isFinite(fits.get('b')!.heldOutTdError!)).toBe(true);
    const table = { ...policyCandidate(asDiscretePolicy(beh, 4, 2), 't', 't', { steps: a }), policy: null };
    await expectRejects(fqeProvider({ seed: 0 })(table, a, GAMMA), 'E_FQE_POLICY', /is a table of probabilities at the logged steps/);
  });
});
