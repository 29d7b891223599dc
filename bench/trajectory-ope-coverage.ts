// Coverage and bias of the trajectory estimators on short-horizon Pendulum (the setting of tests/trajectory-ope-simulation.test.ts, plus SNPDIS and SNDR): npx tsx bench/trajectory-ope-coverage.ts
import { boxPolicy } from '../src/envs/behavior-policies.js';
import { pendulumController } from '../src/envs/controllers.js';
import { getEnv } from '../src/envs/registry.js';
import { evaluateTrajectoryArrays } from '../src/ope/trajectory/evaluate.js';
import { fitCandidateFqe, fqeModelProvider } from '../src/ope/trajectory/fqe-q.js';
import { policyCandidate } from '../src/ope/trajectory/candidates.js';
import { asContinuousPolicy, onPolicyValue, simulateTrajectories, withTimeLimit } from '../src/ope/trajectory/ground-truth.js';
const env = withTimeLimit(getEnv('pendulum'), 5, process.argv[2] === 'terminal');
const behaviour = boxPolicy(env, pendulumController, { epsilon: 0.5, sigma: 1.0 });
const candidate = boxPolicy(env, pendulumController, { epsilon: 0.3, sigma: 0.8 });
const truth = onPolicyValue(env, candidate, 100_000, 0.9, 'truth');
const independent = simulateTrajectories(env, behaviour, 400, 'fqe-data');
const { model } = fitCandidateFqe(policyCandidate(asContinuousPolicy(candidate, 3, 1), 'c', 'sim', { steps: independent }), independent, 0.9, { seed: 0, steps: 3000, hidden: [32, 32], samples: 5 });
const qProvider = fqeModelProvider(model);
const acc: Record<string, { v: number[]; cov: number; w: number }> = {};
for (let r = 0; r < 300; r++) {
  const a = simulateTrajectories(env, behaviour, 200, `replication:${r}`);
  for (const interval of ['t', 'bootstrap'] as const) {
    const res = await evaluateTrajectoryArrays(a, { gamma: 0.9, candidates: [{ name: 'c', spec: asContinuousPolicy(candidate, 3, 1) }], estimators: ['tis', 'pdis', 'snpdis', 'dr', 'sndr'], qProvider, interval, resamples: 400, seed: r });
    for (const e of res.candidates[0]!.estimates) {
      const k = `${e.estimator} ${interval}`;
      acc[k] ??= { v: [], cov: 0, w: 0 };
      acc[k].v.push(e.value);
      acc[k].cov += e.interval!.lower <= truth.value && truth.value <= e.interval!.upper ? 1 : 0;
      acc[k].w += (e.interval!.upper - e.interval!.lower) / 300;
    }
  }
}
console.log(`truth ${truth.value.toFixed(3)} ± ${truth.stdError.toFixed(3)}`);
for (const [k, x] of Object.entries(acc)) {
  const m = x.v.reduce((a, b) => a + b, 0) / x.v.length;
  const sd = Math.sqrt(x.v.reduce((a, b) => a + (b - m) ** 2, 0) / (x.v.length - 1));
  console.log(`${k}: mean ${m.toFixed(3)} (se ${(sd / Math.sqrt(x.v.length)).toFixed(3)}), coverage ${(x.cov / 300).toFixed(3)}, mean width ${x.w.toFixed(3)}`);
}
