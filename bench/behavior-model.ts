/**
 * Accuracy and cost of the fitted behaviour policy (src/ope/trajectory/behavior-model.ts)
 * on generated data with known log-probabilities: for CartPole medium (categorical)
 * and Pendulum medium (squashed Gaussian MLP with a uniform share), the
 * cross-fitted log-probabilities against the true ones (mean absolute error, mean
 * held-out log-likelihood against the true mean), and the PDIS / SNPDIS estimates
 * (gamma 0.9) of a candidate with fitted against true log-probabilities.
 *
 *   npx tsx bench/behavior-model.ts [episodes=50]
 */
import { loadavg } from 'node:os';
import { scriptedContinuousPolicy } from '../src/envs/behavior-policies.js';
import { getEnv } from '../src/envs/registry.js';
import { generateTrajectories } from '../src/envs/trajectories.js';
import { trajectoryDataToArrays } from '../src/offline-rl/from-generated.js';
import { fitBehaviorModel } from '../src/ope/trajectory/behavior-model.js';
import { evaluateTrajectoryArrays } from '../src/ope/trajectory/evaluate.js';

const episodes = Number(process.argv[2] ?? 50);
const uniform = { numActions: 2, usesContext: false, actionProbs: (_c: Float32Array, n: number) => new Float64Array(2 * n).fill(0.5) };
const cases = [
  { env: 'cartpole', candidate: { name: 'uniform', spec: uniform } },
  { env: 'pendulum', candidate: { name: 'expert', spec: scriptedContinuousPolicy(getEnv('pendulum'), 'expert') } },
] as const;
console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
for (const c of cases) {
  const t = generateTrajectories({ env: c.env, policy: 'medium', episodes, seed: 1 });
  const a = trajectoryDataToArrays(t);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const f = fitBehaviorModel({ ...a, behaviorLogprob: null }, {}, { seed: 0, actionSpace: t.actionSpace });
  const cpu = process.cpuUsage(c0);
  const wall = (performance.now() - t0) / 1000;
  let mae = 0;
  let trueLL = 0;
  for (let r = 0; r < a.n; r++) {
    mae += Math.abs(f.logprob[r]! - t.behaviorLogprob[r]!);
    trueLL += t.behaviorLogprob[r]!;
  }
  const opts = { candidates: [c.candidate], estimators: ['pdis', 'snpdis'] as ('pdis' | 'snpdis')[], gamma: 0.9, interval: 't' as const, seed: 0 };
  const truth = await evaluateTrajectoryArrays(a, opts, { ref: c.env, actionSpace: t.actionSpace });
  const fitted = await evaluateTrajectoryArrays({ ...a, behaviorLogprob: f.logprob }, opts, { ref: c.env, actionSpace: t.actionSpace });
  const est = (r: typeof truth, id: string): string => {
    const e = r.candidates[0]!.estimates.find((x) => x.estimator === id)!;
    return `${e.value.toFixed(3)} [${e.interval!.lower.toFixed(3)}, ${e.interval!.upper.toFixed(3)}]`;
  };
  console.log(
    `${c.env} medium, ${episodes} episodes (${a.n} steps): ${f.summary.kind}, 5 folds; mean |fitted - true| ${(mae / a.n).toFixed(3)} nats; ` +
      `held-out log-lik ${f.summary.heldOutLogLik.toFixed(3)} vs true ${(trueLL / a.n).toFixed(3)}; ` +
      `${f.summary.uniformShare ? `uniform share ${f.summary.uniformShare.map((x) => x.toFixed(2)).join(',')} (true 0.5); ` : ''}` +
      `fit ${wall.toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU`,
  );
  for (const id of ['pdis', 'snpdis']) console.log(`  ${c.candidate.name} ${id}: true log-probs ${est(truth, id)}, fitted ${est(fitted, id)}`);
}
console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
