/**
 * The Pendulum off-policy selection study (issue 12, item 5), as a function the
 * bench (bench/trajectory-selection.ts) and its test
 * (tests/trajectory-selection-study.test.ts) both run.
 *
 * Data: Pendulum with its time limit cut to `horizon` steps that end the task
 * (terminated, so fitted Q evaluation does not bootstrap past the estimand's
 * horizon), logged by the medium behaviour policy (epsilon 0.5 uniform over the
 * box, else a squashed Gaussian around the scripted controller), whose
 * behavior_logprob is exact. The uniform share bounds the behaviour's density
 * below by 0.5 / 4 on the whole box, so every candidate's density is covered
 * and a step's ratio is at most 8 pi(a|s).
 *
 * Learners train on the same episodes with the last step marked truncated
 * instead (the step count is not in the observation, so they bootstrap).
 * Candidates, and what "the policy" is for the ground truth:
 *   random     uniform over [-2, 2] (density 1/4)
 *   bc, iql    the Gaussian actor (BC trained with actor: 'gaussian'; IQL's own)
 *              restricted to the action box: sampled as `rollout --stochastic`
 *              samples, scored by that truncated density, exactly
 *   bc-mean, iql-mean, td3bc   the deterministic mean action: scored by the
 *              action kernel (src/ope/trajectory/kernel.ts, Scott's rule), so the
 *              IS estimators estimate the value of a kernel-smoothed policy
 * Ground truth: each candidate's mean discounted return over `truthEpisodes`
 * on-policy rollouts with their 95% t interval (ground-truth.ts), every candidate
 * from the same initial states (common random numbers).
 */
import type { ContinuousPolicy } from '../src/core/contracts.js';
import type { TrajectoryArrays } from '../src/datasets/load-trajectories.js';
import { boxPolicy } from '../src/envs/behavior-policies.js';
import { pendulumController } from '../src/envs/controllers.js';
import { getEnv } from '../src/envs/registry.js';
import { gaussianLogProb } from '../src/offline-rl/losses.js';
import type { MlpPolicy } from '../src/offline-rl/policy.js';
import { trainOffline } from '../src/offline-rl/train.js';
import { sampleTruncatedGaussian, logStdNormalMass } from '../src/util/truncated-normal.js';
import { evaluateTrajectoryArrays, type TrajectoryEvaluation } from '../src/ope/trajectory/evaluate.js';
import { fqeProvider, type FqeFitSummary } from '../src/ope/trajectory/fqe-q.js';
import { onPolicyValue, simulateTrajectories, withTimeLimit, type OnPolicyValue, type SamplingPolicy } from '../src/ope/trajectory/ground-truth.js';
import { offPolicySelection, type SelectionResult } from '../src/ope/trajectory/selection.js';
import type { TrajectoryEstimatorId } from '../src/ope/trajectory/estimators/types.js';
import { Rng } from '../src/util/rng.js';

export interface StudySettings {
  /** Seed of the dataset, the learners, FQE and the rollouts. */
  seed: number;
  episodes: number;
  horizon: number;
  gamma: number;
  /** Gradient updates per learner. */
  updates: number;
  hidden: number[];
  fqeSteps: number;
  fqeHidden: number[];
  /** FQE's Adam step size (its default 1e-4 leaves Q far from the ~-50 values of this task in a few thousand updates). */
  fqeLr: number;
  truthEpisodes: number;
  /** Behaviour mixture (default the medium policy's: epsilon 0.5, sigma 1.0). */
  epsilon?: number;
  sigma?: number;
}

export const STUDY_ESTIMATORS: TrajectoryEstimatorId[] = ['tis', 'pdis', 'snpdis', 'dr', 'sndr', 'dm'];
export const CANDIDATES = ['random', 'bc', 'bc-mean', 'td3bc', 'iql', 'iql-mean'] as const;

export interface StudyCandidate {
  name: string;
  kind: 'uniform' | 'truncated-gaussian' | 'deterministic (kernel)';
  truth: Pick<OnPolicyValue, 'value' | 'stdError' | 'interval'>;
  estimates: { estimator: string; value: number; lower: number; upper: number }[];
  trajectoryEss: number | null;
  warnings: string[];
  verdict: { outcome: string; decidedBy: string | null; lowerBound: number | null; sentence: string };
  fqeHeldOutTdError: number | null;
}

export interface StudyResult {
  settings: StudySettings;
  behaviour: { loggedValue: number; truth: Pick<OnPolicyValue, 'value' | 'stdError'> };
  candidates: StudyCandidate[];
  selection: SelectionResult;
  trueRanking: string[];
  seconds: { train: number; truth: number; ope: number };
}

const LOW = -2;
const HIGH = 2;

/** The same episodes with the horizon as a time limit (truncated), for the learners. */
function asTimeLimited(a: TrajectoryArrays): TrajectoryArrays {
  const terminated = new Uint8Array(a.n);
  const truncated = Uint8Array.from(a.truncated);
  for (let r = 0; r < a.n; r++) if (a.terminated[r]) truncated[r] = 1;
  return { ...a, terminated, truncated };
}

/** The uniform policy as the batched candidate (sampler for FQE, density for IS). */
function uniformCandidate(): ContinuousPolicy & { sampleActions(obs: Float32Array, n: number, rng: Rng): Float32Array } {
  return {
    actionDim: 1,
    sampleActions: (_obs, n, rng) => Float32Array.from({ length: n }, () => LOW + (HIGH - LOW) * rng.uniform()),
    act(): Float32Array {
      throw new Error('uniform: no mean action');
    },
    logProb: (_obs, actions, n) => Float64Array.from({ length: n }, (_, i) => (actions[i]! >= LOW && actions[i]! <= HIGH ? -Math.log(HIGH - LOW) : -Infinity)),
  };
}

const uniformSampler: SamplingPolicy = {
  sample: (_o, rng) => ({ action: Float64Array.of(Math.fround(LOW + (HIGH - LOW) * rng.uniform())), logProb: -Math.log(HIGH - LOW) }),
  logProb: (_o, a) => (a[0]! >= LOW && a[0]! <= HIGH ? -Math.log(HIGH - LOW) : -Infinity),
};

/** A Gaussian actor restricted to the box: batched density and sampler, and the one-state sampler for rollouts. */
function truncatedGaussian(p: MlpPolicy): { candidate: ContinuousPolicy & { sampleActions(obs: Float32Array, n: number, rng: Rng): Float32Array }; sampler: SamplingPolicy } {
  const std = p.actionStd();
  const logStd = Float64Array.from(std, Math.log);
  const m = p.actionDim;
  const logMass = (mean: ArrayLike<number>, i: number): number => {
    let s = 0;
    for (let j = 0; j < m; j++) s += logStdNormalMass((LOW - mean[i * m + j]!) / std[j]!, (HIGH - mean[i * m + j]!) / std[j]!);
    return s;
  };
  const logProb = (obs: Float32Array, actions: ArrayLike<number>, n: number): Float64Array => {
    const mean = p.act(obs, n);
    const lp = gaussianLogProb(mean, logStd, actions, m);
    for (let i = 0; i < n; i++) {
      let inside = true;
      for (let j = 0; j < m; j++) if (!(actions[i * m + j]! >= LOW && actions[i * m + j]! <= HIGH)) inside = false;
      lp[i] = inside ? lp[i]! - logMass(mean, i) : -Infinity;
    }
    return lp;
  };
  const draw = (mean: Float32Array, i: number, rng: Rng): Float32Array =>
    sampleTruncatedGaussian(mean.subarray(i * m, (i + 1) * m), std, Array(m).fill(LOW), Array(m).fill(HIGH), rng).action;
  return {
    candidate: {
      actionDim: m,
      act: (obs, n) => p.act(obs, n),
      logProb: (obs, actions, n) => logProb(obs, actions, n),
      sampleActions(obs, n, rng) {
        const mean = p.act(obs, n);
        const out = new Float32Array(n * m);
        for (let i = 0; i < n; i++) out.set(draw(mean, i, rng), i * m);
        return out;
      },
    },
    sampler: {
      sample(obs, rng) {
        const o = Float32Array.from(obs);
        const action = Float64Array.from(draw(p.act(o, 1), 0, rng));
        return { action, logProb: logProb(o, action, 1)[0]! };
      },
      logProb: (obs, a) => logProb(Float32Array.from(obs), Float64Array.from(a), 1)[0]!,
    },
  };
}

/** The actor's mean action as a deterministic candidate (scored by the action kernel) and its rollout sampler. */
function meanAction(p: MlpPolicy): { candidate: ContinuousPolicy & { kind: 'deterministic' }; sampler: SamplingPolicy } {
  return {
    candidate: {
      kind: 'deterministic',
      actionDim: p.actionDim,
      act: (obs, n) => p.act(obs, n),
      logProb(): Float64Array {
        throw new Error('deterministic: no density');
      },
    },
    sampler: {
      sample: (obs) => ({ action: Float64Array.from(p.act(Float32Array.from(obs), 1)), logProb: 0 }),
      logProb: () => 0,
    },
  };
}

/** Runs the study for one seed (see the module comment). `log` receives progress lines. */
export async function runSelectionStudy(s: StudySettings, log: (line: string) => void = () => {}): Promise<StudyResult> {
  const env = withTimeLimit(getEnv('pendulum'), s.horizon, true);
  const behaviour = boxPolicy(env, pendulumController, { epsilon: s.epsilon ?? 0.5, sigma: s.sigma ?? 1.0 });
  const data = simulateTrajectories(env, behaviour, s.episodes, `selection:${s.seed}:data`);
  const train = asTimeLimited(data);
  const t0 = performance.now();
  const common = { steps: s.updates, seed: s.seed, hidden: s.hidden, batchSize: 256, maxAction: HIGH };
  const progress = (algo: string) => (done: number, total: number) => log(`  train ${algo}: ${done}/${total}`);
  const bc = (await trainOffline('bc', train, { ...common, actor: 'gaussian', progressEvery: Math.max(1, Math.floor(s.updates / 2)), onProgress: progress('bc') })).policy;
  const td3bc = (await trainOffline('td3bc', train, { ...common, rewardScale: 0.1, gamma: s.gamma, progressEvery: Math.max(1, Math.floor(s.updates / 2)), onProgress: progress('td3bc') })).policy;
  const iql = (await trainOffline('iql', train, { ...common, rewardScale: 0.1, gamma: s.gamma, progressEvery: Math.max(1, Math.floor(s.updates / 2)), onProgress: progress('iql') })).policy;
  const tTrain = (performance.now() - t0) / 1000;

  const bcG = truncatedGaussian(bc);
  const iqlG = truncatedGaussian(iql);
  const bcM = meanAction(bc);
  const iqlM = meanAction(iql);
  const td3 = meanAction(td3bc);
  const specs: { name: (typeof CANDIDATES)[number]; kind: StudyCandidate['kind']; policy: ContinuousPolicy; sampler: SamplingPolicy }[] = [
    { name: 'random', kind: 'uniform', policy: uniformCandidate(), sampler: uniformSampler },
    { name: 'bc', kind: 'truncated-gaussian', policy: bcG.candidate, sampler: bcG.sampler },
    { name: 'bc-mean', kind: 'deterministic (kernel)', policy: bcM.candidate, sampler: bcM.sampler },
    { name: 'td3bc', kind: 'deterministic (kernel)', policy: td3.candidate, sampler: td3.sampler },
    { name: 'iql', kind: 'truncated-gaussian', policy: iqlG.candidate, sampler: iqlG.sampler },
    { name: 'iql-mean', kind: 'deterministic (kernel)', policy: iqlM.candidate, sampler: iqlM.sampler },
  ];

  const t1 = performance.now();
  const truths = new Map<string, OnPolicyValue>();
  for (const c of specs) {
    truths.set(c.name, onPolicyValue(env, c.sampler, s.truthEpisodes, s.gamma, `selection:${s.seed}:truth:${c.name}`, { startSeed: `selection:${s.seed}:starts` }));
    log(`  truth ${c.name}: ${truths.get(c.name)!.value.toFixed(3)} ± ${truths.get(c.name)!.stdError.toFixed(3)}`);
  }
  const behaviourTruth = onPolicyValue(env, behaviour, s.truthEpisodes, s.gamma, `selection:${s.seed}:truth:behaviour`, { startSeed: `selection:${s.seed}:starts` });
  const tTruth = (performance.now() - t1) / 1000;

  const t2 = performance.now();
  const fits = new Map<string, FqeFitSummary>();
  const ev: TrajectoryEvaluation = await evaluateTrajectoryArrays(
    data,
    {
      gamma: s.gamma,
      candidates: specs.map((c) => ({ name: c.name, spec: c.policy })),
      estimators: STUDY_ESTIMATORS,
      qProvider: fqeProvider({ seed: s.seed, steps: s.fqeSteps, hidden: s.fqeHidden, samples: 5, lr: s.fqeLr }, fits),
      interval: 't',
      seed: s.seed,
      onProgress: (stage, done, total) => log(`  ope ${stage}: ${done}/${total}`),
    },
    { ref: `pendulum-h${s.horizon}-seed${s.seed}`, actionSpace: env.actionSpace },
  );
  const tOpe = (performance.now() - t2) / 1000;

  const candidates: StudyCandidate[] = ev.candidates.map((c, j) => {
    const t = truths.get(c.name)!;
    return {
      name: c.name,
      kind: specs[j]!.kind,
      truth: { value: t.value, stdError: t.stdError, interval: t.interval },
      estimates: c.estimates.map((e) => ({ estimator: e.estimator, value: e.value, lower: e.interval?.lower ?? NaN, upper: e.interval?.upper ?? NaN })),
      trajectoryEss: c.weights ? c.weights.trajectoryEss : null,
      warnings: [...new Set(c.warnings.map((w) => w.code))],
      verdict: { outcome: c.verdict.outcome, decidedBy: c.verdict.decidedBy?.id ?? null, lowerBound: c.verdict.lowerBound, sentence: c.verdict.sentence },
      fqeHeldOutTdError: fits.get(c.name)?.heldOutTdError ?? null,
    };
  });
  const selection = offPolicySelection(
    ev.candidates.map((c) => ({ name: c.name, estimates: c.estimates, trueValue: truths.get(c.name)!.value })),
    { behaviourValue: ev.behaviour.value, k: 1 },
  );
  return {
    settings: s,
    behaviour: { loggedValue: ev.behaviour.value, truth: { value: behaviourTruth.value, stdError: behaviourTruth.stdError } },
    candidates,
    selection,
    trueRanking: selection.trueRanking!,
    seconds: { train: tTrain, truth: tTruth, ope: tOpe },
  };
}
