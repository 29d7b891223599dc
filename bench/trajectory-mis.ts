// Marginalised IS / DR (minimax weight learning) against rollout truth on CartPole (200-step time limit, gamma 0.95,
// so the truncated tail gamma^200 < 4e-5 is negligible), behaviour 'medium', candidates 'expert' and a noisier one
// (epsilon + 0.3): R replications of N behaviour episodes, MIS with linear and RBF features, and one run of
// MIS / MDR / PDIS / DR / DM with FQE Q. npx tsx bench/trajectory-mis.ts [R] [N]
import { cpuUsage } from 'node:process';
import { loadavg } from 'node:os';
import { levelPolicy, noiseLevel } from '../src/envs/behavior-policies.js';
import { getEnv } from '../src/envs/registry.js';
import { policyCandidate } from '../src/ope/trajectory/candidates.js';
import { trajectoryOpeData } from '../src/ope/trajectory/data.js';
import { TRAJECTORY_ESTIMATORS } from '../src/ope/trajectory/estimators/index.js';
import { evaluateTrajectoryArrays } from '../src/ope/trajectory/evaluate.js';
import { fqeProvider } from '../src/ope/trajectory/fqe-q.js';
import { asDiscretePolicy, onPolicyValue, simulateTrajectories, withTimeLimit } from '../src/ope/trajectory/ground-truth.js';
import { learnMarginalWeights, type MwlSettings } from '../src/ope/trajectory/marginal/mwl.js';

const R = Number(process.argv[2] ?? 20);
const N = Number(process.argv[3] ?? 200);
const GAMMA = 0.95;
const env = withTimeLimit(getEnv('cartpole'), 200);
const beh = levelPolicy(env, noiseLevel(env, 'medium', 1));
const medium = noiseLevel(env, 'medium', 1)!;
const candidates = { expert: levelPolicy(env, noiseLevel(env, 'expert', 1)), noisier: levelPolicy(env, { ...medium, epsilon: Math.min(1, medium.epsilon + 0.3) }) };
const t0 = Date.now();
const c0 = cpuUsage();
const behTruth = onPolicyValue(env, beh, 20_000, GAMMA, 'behaviour');
console.log(`behaviour ${behTruth.value.toFixed(3)}`);
for (const [candName, candSampler] of Object.entries(candidates)) {
  const cand = asDiscretePolicy(candSampler, 4, 2);
  const truth = onPolicyValue(env, candSampler, 20_000, GAMMA, 'truth');
  const settings: Record<string, MwlSettings> = { linear: {}, 'rbf 64': { features: 'rbf', rbfDim: 64 } };
  const acc: Record<string, number[]> = {};
  for (let r = 0; r < R; r++) {
    const a = simulateTrajectories(env, beh, N, `mis:${r}`);
    const d = trajectoryOpeData(a, GAMMA);
    const c = policyCandidate(cand, candName, 'sim', { steps: a });
    for (const [name, s] of Object.entries(settings)) {
      const marginal = learnMarginalWeights(a, d, c, { ...s, seed: r });
      const g = TRAJECTORY_ESTIMATORS.mis.episodeTerms({ data: d, weights: null, marginal });
      (acc[`${candName} MIS ${name}`] ??= []).push(g.reduce((x, y) => x + y, 0) / g.length);
    }
  }
  console.log(`${candName}: truth ${truth.value.toFixed(3)} ± ${truth.stdError.toFixed(3)}`);
  for (const [k, v] of Object.entries(acc)) {
    const m = v.reduce((x, y) => x + y, 0) / v.length;
    const sd = Math.sqrt(v.reduce((x, y) => x + (y - m) ** 2, 0) / Math.max(1, v.length - 1));
    console.log(`${k}: mean ${m.toFixed(3)} (se ${(sd / Math.sqrt(v.length)).toFixed(3)}, sd ${sd.toFixed(3)}) over ${v.length} x ${N} episodes`);
  }
  const a = simulateTrajectories(env, beh, N, 'mis:fqe');
  for (const [name, s] of Object.entries(settings).slice(0, 2)) {
    const res = await evaluateTrajectoryArrays(a, {
      gamma: GAMMA,
      candidates: [{ name: candName, spec: cand }],
      estimators: ['mis', 'mdr', 'pdis', 'dr', 'dm'],
      qProvider: fqeProvider({ seed: 0, steps: 5000, hidden: [64, 64] }),
      marginal: s,
    });
    const c = res.candidates[0]!;
    console.log(`${candName}, one run (${N} episodes, ${name}; residual ${c.marginal!.residual.toExponential(2)}, negative ${(100 * c.marginal!.negativeShare).toFixed(1)}%): ` + c.estimates.map((e) => `${e.estimator} ${e.value.toFixed(3)} [${e.interval!.lower.toFixed(2)}, ${e.interval!.upper.toFixed(2)}]`).join('; '));
  }
}
const cpu = cpuUsage(c0);
console.log(`wall ${((Date.now() - t0) / 1000).toFixed(1)} s, cpu ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
