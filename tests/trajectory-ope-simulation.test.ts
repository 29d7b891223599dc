/**
 * Statistical properties by simulation on a built-in environment with exact
 * behaviour log-probabilities: Pendulum cut to a 5-step horizon, gamma 0.9,
 * behaviour = the medium policy's mixture (epsilon 0.5, sigma 1.0), candidate =
 * a different mixture around the same controller (epsilon 0.3, sigma 0.8).
 * Ground truth: the candidate's mean discounted return over 100,000 rollouts.
 *
 *  - unbiasedness: TIS, PDIS and DR averaged over 300 replications of 200
 *    episodes agree with the truth within 4 standard errors (of the average and
 *    the truth). DR's Q is fitted once by FQE on independent episodes and held
 *    fixed (DR is unbiased for any fixed Q when the weights are exact; the Q is
 *    time-blind, so it is not the truth either);
 *  - coverage: the 95% t and bootstrap intervals of PDIS and DR cover the truth
 *    in at least 93% of the 300 replications.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { boxPolicy } from '../src/envs/behavior-policies.js';
import { pendulumController } from '../src/envs/controllers.js';
import { getEnv } from '../src/envs/registry.js';
import { evaluateTrajectoryArrays } from '../src/ope/trajectory/evaluate.js';
import { fitCandidateFqe, fqeModelProvider } from '../src/ope/trajectory/fqe-q.js';
import { policyCandidate } from '../src/ope/trajectory/candidates.js';
import { asContinuousPolicy, onPolicyValue, simulateTrajectories, withTimeLimit, type OnPolicyValue } from '../src/ope/trajectory/ground-truth.js';

const H = 5;
const N = 200;
const R = 300;
const GAMMA = 0.9;
const env = withTimeLimit(getEnv('pendulum'), H, true); // the 5-step horizon ends the task (terminated)
const behaviour = boxPolicy(env, pendulumController, { epsilon: 0.5, sigma: 1.0 });
const candidate = boxPolicy(env, pendulumController, { epsilon: 0.3, sigma: 0.8 });

interface Rep { estimator: string; method: string; value: number; lower: number; upper: number }
let truth: OnPolicyValue;
const reps: Rep[] = [];

beforeAll(async () => {
  truth = onPolicyValue(env, candidate, 100_000, GAMMA, 'truth');
  const independent = simulateTrajectories(env, behaviour, 400, 'fqe-data');
  const { model } = fitCandidateFqe(policyCandidate(asContinuousPolicy(candidate, 3, 1), 'c', 'sim', { steps: independent }), independent, GAMMA, { seed: 0, steps: 3000, hidden: [32, 32], samples: 5 });
  const qProvider = fqeModelProvider(model);
  for (let r = 0; r < R; r++) {
    const a = simulateTrajectories(env, behaviour, N, `replication:${r}`);
    for (const interval of ['t', 'bootstrap'] as const) {
      const res = await evaluateTrajectoryArrays(a, {
        gamma: GAMMA,
        candidates: [{ name: 'c', spec: asContinuousPolicy(candidate, 3, 1) }],
        estimators: ['tis', 'pdis', 'dr'],
        qProvider,
        interval,
        resamples: 400,
        seed: r,
      });
      for (const e of res.candidates[0]!.estimates) reps.push({ estimator: e.estimator, method: interval, value: e.value, lower: e.interval!.lower, upper: e.interval!.upper });
    }
  }
}, 300_000);

describe('trajectory estimators by simulation (Pendulum, horizon 5, gamma 0.9)', () => {
  for (const id of ['tis', 'pdis', 'dr']) {
    it(`${id.toUpperCase()} is unbiased: its mean over ${R} replications is within 4 standard errors of the on-policy value`, () => {
      const v = reps.filter((x) => x.estimator === id && x.method === 't').map((x) => x.value);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1));
      const se = Math.sqrt((sd * sd) / v.length + truth.stdError ** 2);
      expect(Math.abs(mean - truth.value)).toBeLessThan(4 * se);
      // and the test has power: 4 standard errors are small next to the value
      expect(4 * se).toBeLessThan(0.05 * Math.abs(truth.value));
    });
  }
  for (const [id, method] of [['pdis', 't'], ['pdis', 'bootstrap'], ['dr', 't'], ['dr', 'bootstrap']] as const) {
    it(`${id.toUpperCase()} ${method} intervals at 95% cover the on-policy value in >= 93% of ${R} replications`, () => {
      const iv = reps.filter((x) => x.estimator === id && x.method === method);
      expect(iv.length).toBe(R);
      const covered = iv.filter((x) => x.lower <= truth.value && truth.value <= x.upper).length / R;
      expect(covered).toBeGreaterThanOrEqual(0.93);
      expect(covered).toBeLessThan(0.995); // not trivially wide
    });
  }
});
