/**
 * Open Bandit Pipeline's synthetic accuracy table, reproduced (issue 3).
 *
 * OBP's table (examples/synthetic/README.md, obp 0.5.x) comes from
 * examples/synthetic/evaluate_off_policy_estimators.py run as
 *   --n_runs 20 --n_rounds 10000 --n_actions 30 --dim_context 5 --beta -3
 *   --base_model_for_evaluation_policy logistic_regression
 *   --base_model_for_reg_model logistic_regression --random_state 12345
 * i.e., per run i = 0..19:
 *  - SyntheticBanditDataset(n_actions=30, dim_context=5,
 *    reward_function=logistic_reward_function, beta=-3, random_state=i) with NO
 *    behavior_policy_function, so pi_b = softmax(-3 q(x, a)): the logits are the
 *    expected reward itself, not linear_behavior_policy. logistic_reward_function is
 *    _base_reward_function with degree 1 (not 3), z-scored;
 *  - a training and a test log of 10,000 rounds each (same reward function);
 *  - evaluation policy: IPWLearner(LogisticRegression(C=100, max_iter=10000)) fitted
 *    on the training log (a multinomial classifier of the logged action with sample
 *    weights r / p), then predict_proba, which is softmax(classifier probabilities / 1):
 *    a nearly uniform policy (its probabilities are within a factor e of each other);
 *  - reward model: RegressionModel(LogisticRegression(C=100)) on [x, one-hot(a)],
 *    3-fold cross-fitting on the test log;
 *  - IPW, SNIPW, DR, SNDR without clipping; Switch-DR and DR-OS tuned by SLOPE
 *    (SLOPE++, delta 0.1) over lambdas [10, 50, 100, 500, 1000, 5000, 10000, inf];
 *  - relative error |V_hat - V| / V with V = mean over the test rows of
 *    sum_a pi_e(a|x) q(x, a); mean and std over the 20 runs.
 *
 * Here: the same setting with generateBanditLog({ rewardFunction: 'obp', behaviour:
 * 'expected-reward' }), the library's multinomial logistic fit as the IPWLearner,
 * estimateRewardHat (logistic, 3 folds, L2 penalty 1, i.e. scikit-learn C = 1, which
 * is what `evaluate` uses; C = 100 changes the figures by < 0.001) and the estimator
 * row terms. SLOPE is not in the library; `slopeSelect` below follows OBP's
 * _tune_hyperparam_with_slope.
 *
 * Run: npx tsx bench/obp-synthetic.ts [seeds=20] [firstSeed=0] [errors.json]
 * (the optional third argument writes every run's relative errors as JSON;
 * OBP_REWARD_LAMBDA=0.01 fits the reward model with OBP's C = 100 instead of evaluate's C = 1).
 * The test tests/obp-reproduction.test.ts asserts on runObpSeed's output.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { sliceBanditLog, trueValue, type BanditLog } from '../src/datasets/synthetic/bandit-log.js';
import { estimateFromTerms, rowTermsFor, type BanditBatch, type EstimatorId } from '../src/ope/estimators/index.js';
import { fitMultinomialLogistic, propensityProbs, type PropensityModel } from '../src/ope/propensity.js';
import { estimateRewardHat } from '../src/ope/reward-models/index.js';
import type { Policy } from '../src/core/contracts.js';
import { softmaxRows } from '../src/util/softmax.js';

/** OBP's published figures: mean and std of the relative error over 20 runs. */
export const OBP_TABLE: Record<string, { mean: number; std: number }> = {
  dm: { mean: 0.07439, std: 0.024525 },
  ips: { mean: 0.009481, std: 0.006899 },
  snips: { mean: 0.006665, std: 0.004541 },
  dr: { mean: 0.006175, std: 0.004245 },
  sndr: { mean: 0.006118, std: 0.003997 },
  'switch-dr': { mean: 0.006175, std: 0.004245 },
  'dr-os': { mean: 0.021951, std: 0.013337 },
};
export const TABLE_ROWS = Object.keys(OBP_TABLE);

/** OBP's benchmark setting. */
export const OBP_SETTING = { rounds: 10_000, numActions: 30, contextDim: 5, beta: -3, folds: 3, classifierC: 100 } as const;
/** The candidate lambdas OBP's example gives SwitchDoublyRobustTuning and DoublyRobustWithShrinkageTuning. */
export const SLOPE_LAMBDAS = [10, 50, 100, 500, 1000, 5000, 10000, Infinity];

/**
 * OBP's IPWLearner with a logistic-regression base classifier: a multinomial
 * logistic model of the logged action with sample weights r_i / p_i (L2 penalty
 * 1 / C). predict_proba (the default here) is softmax(classifier probabilities / tau);
 * `deterministic` gives predict (the argmax, one-hot).
 */
export class ObpIpwLearner implements Policy {
  readonly numActions: number;
  private readonly model: PropensityModel;
  constructor(
    train: BanditLog,
    private readonly opts: { C?: number; tau?: number; deterministic?: boolean } = {},
  ) {
    const weights = Float64Array.from(train.rewards, (r, i) => r / train.propensities[i]!);
    this.model = fitMultinomialLogistic(train.contexts, train.actions, train.n, train.contextDim, train.numActions, {
      weights,
      lambda: 1 / (opts.C ?? OBP_SETTING.classifierC),
      maxIter: 2000,
    });
    this.numActions = train.numActions;
  }
  actionProbs(contexts: Float32Array, n: number): Float64Array {
    const p = propensityProbs(this.model, contexts, n);
    const k = this.numActions;
    if (this.opts.deterministic) {
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let a = 1; a < k; a++) if (p[i * k + a]! > p[i * k + best]!) best = a;
        for (let a = 0; a < k; a++) p[i * k + a] = a === best ? 1 : 0;
      }
      return p;
    }
    softmaxRows(p, 1 / (this.opts.tau ?? 1), n, k, p);
    return p;
  }
}

/**
 * SLOPE as OBP implements it (_tune_hyperparam_with_slope, SLOPE++ of Tucker and Lee
 * 2021): for every lambda, the estimate theta and the width
 * cnf = sqrt(var(terms) / (n - 1)) * t_{n-1}(1 - delta) (var with ddof 0; OBP's
 * estimate_student_t_lower_bound in obp/ope/helper.py, a one-sided bound); walk the
 * lambdas from the widest cnf down, keeping each while |theta_j - theta_i| <= cnf_i +
 * (sqrt(6) - 1) cnf_j for every kept j; return the last one kept.
 */
export function slopeSelect(batch: BanditBatch, id: 'switch-dr' | 'dr-os', lambdas: readonly number[] = SLOPE_LAMBDAS, delta = 0.1): { lambda: number; value: number } {
  const n = batch.n;
  const t = tQuantile(1 - delta, n - 1);
  const theta: number[] = [];
  const cnf: number[] = [];
  for (const L of lambdas) {
    const terms = rowTermsFor(batch, [id], { clip: L })[0]!;
    const m = estimateFromTerms(terms);
    let v = 0;
    for (const x of terms.num) v += (x - m) ** 2;
    theta.push(m);
    cnf.push(Math.sqrt(v / n / (n - 1)) * t);
  }
  const order = lambdas.map((_, i) => i).sort((i, j) => cnf[j]! - cnf[i]!);
  const keptTheta: number[] = [];
  const keptCnf: number[] = [];
  for (let r = 0; r < order.length; r++) {
    const i = order[r]!;
    const ok = keptTheta.every((tj, j) => Math.abs(tj - theta[i]!) <= cnf[i]! + (Math.sqrt(6) - 1) * keptCnf[j]!);
    if (!ok) {
      const best = order[r - 1]!;
      return { lambda: lambdas[best]!, value: theta[best]! };
    }
    keptTheta.push(theta[i]!);
    keptCnf.push(cnf[i]!);
  }
  const last = order[order.length - 1]!;
  return { lambda: lambdas[last]!, value: theta[last]! };
}

export interface ObpSeedResult {
  seed: number;
  trueValue: number;
  /** Estimates of OBP's table rows (switch-dr and dr-os SLOPE-tuned). */
  estimates: Record<string, number>;
  /** |estimate - true| / true per table row. */
  relErrors: Record<string, number>;
  /** Untuned estimates (clip = inf for switch-dr and dr-os, i.e. both equal DR). */
  untuned: Record<string, number>;
  /** lambdas SLOPE picked. */
  slopeLambda: { 'switch-dr': number; 'dr-os': number };
  maxWeight: number;
  /** The logs and policy, for callers that go on (e.g. through `evaluate`). */
  train: BanditLog;
  test: BanditLog;
  policy: ObpIpwLearner;
}

/** The generated log of one OBP run: 2 x 10,000 rounds of OBP's setting with seed `seed`. */
export function obpLogs(seed: number): { train: BanditLog; test: BanditLog } {
  const { rounds, numActions, contextDim, beta } = OBP_SETTING;
  const all = generateBanditLog({
    n: 2 * rounds,
    numActions,
    contextDim,
    reward: 'logistic',
    rewardFunction: 'obp',
    degree: 1,
    behaviour: 'expected-reward',
    beta,
    seed,
  });
  return { train: sliceBanditLog(all, 0, rounds), test: sliceBanditLog(all, rounds, 2 * rounds) };
}

const UNTUNED: EstimatorId[] = ['dm', 'ips', 'snips', 'dr', 'sndr', 'switch-dr', 'dr-os'];

/**
 * One run of OBP's benchmark (in memory: the estimator row terms, no dataset written).
 * `rewardModelLambda` is the reward model's L2 penalty: 1 (default) is what `evaluate`
 * uses (scikit-learn C = 1); OBP's example uses C = 100, i.e. 0.01.
 */
export async function runObpSeed(seed: number, opts: { rewardModelLambda?: number } = {}): Promise<ObpSeedResult> {
  const { train, test } = obpLogs(seed);
  const { n, numActions: k, contextDim: d } = test;
  const policy = new ObpIpwLearner(train);
  const targetProbs = policy.actionProbs(test.contexts, n);
  const truth = trueValue(test.expectedRewards, targetProbs, n, k);
  // The same call `evaluate` makes for --reward-model logistic --folds 3 --seed seed.
  const { rewardHat } = await estimateRewardHat(
    { n, d, numActions: k, contexts: test.contexts, actions: test.actions, rewards: test.rewards },
    { kind: 'logistic', seed, folds: OBP_SETTING.folds, lambda: opts.rewardModelLambda ?? 1 },
  );
  const batch: BanditBatch = { n, numActions: k, actions: test.actions, rewards: test.rewards, propensities: test.propensities, targetProbs, rewardHat };
  const terms = rowTermsFor(batch, UNTUNED, { clip: Infinity });
  const untuned = Object.fromEntries(UNTUNED.map((id, i) => [id, estimateFromTerms(terms[i]!)]));
  const sw = slopeSelect(batch, 'switch-dr');
  const os_ = slopeSelect(batch, 'dr-os');
  const estimates: Record<string, number> = { ...untuned, 'switch-dr': sw.value, 'dr-os': os_.value };
  const relErrors = Object.fromEntries(TABLE_ROWS.map((e) => [e, Math.abs(estimates[e]! - truth) / truth]));
  let maxWeight = 0;
  for (let i = 0; i < n; i++) maxWeight = Math.max(maxWeight, targetProbs[i * k + test.actions[i]!]! / test.propensities[i]!);
  return { seed, trueValue: truth, estimates, relErrors, untuned, slopeLambda: { 'switch-dr': sw.lambda, 'dr-os': os_.lambda }, maxWeight, train, test, policy };
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** Sample standard deviation (ddof 1, as pandas' describe in OBP's script). */
export function std(xs: readonly number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

/** Mean and std of the relative error per table row over runs. */
export function summarize(runs: readonly ObpSeedResult[]): Record<string, { mean: number; std: number }> {
  return Object.fromEntries(TABLE_ROWS.map((e) => [e, { mean: mean(runs.map((r) => r.relErrors[e]!)), std: std(runs.map((r) => r.relErrors[e]!)) }]));
}

/** The Markdown table: ours vs OBP. */
export function tableMarkdown(runs: readonly ObpSeedResult[]): string {
  const s = summarize(runs);
  const label: Record<string, string> = { dm: 'DM', ips: 'IPS (IPW)', snips: 'SNIPS (SNIPW)', dr: 'DR', sndr: 'SNDR', 'switch-dr': 'Switch-DR (SLOPE)', 'dr-os': 'DR-OS (SLOPE)' };
  const rows = TABLE_ROWS.map((e) => {
    const o = OBP_TABLE[e]!;
    return `| ${label[e]} | ${s[e]!.mean.toFixed(4)} | ${s[e]!.std.toFixed(4)} | ${o.mean.toFixed(4)} | ${o.std.toFixed(4)} | ${(s[e]!.mean / o.mean).toFixed(2)} |`;
  });
  return ['| estimator | ours: mean rel. error | ours: std | OBP: mean | OBP: std | ours / OBP |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

async function main(): Promise<void> {
  const seeds = Number(process.argv[2] ?? 20);
  const first = Number(process.argv[3] ?? 0);
  const jsonOut = process.argv[4];
  const rewardModelLambda = Number(process.env.OBP_REWARD_LAMBDA ?? 1);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const runs: ObpSeedResult[] = [];
  for (let s = first; s < first + seeds; s++) {
    const r = await runObpSeed(s, { rewardModelLambda });
    runs.push(r);
    process.stderr.write(`\rseed ${s} (${runs.length}/${seeds})`);
  }
  process.stderr.write('\n');
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `OBP synthetic setting: ${OBP_SETTING.rounds} rounds (+ ${OBP_SETTING.rounds} to train the IPWLearner), ${OBP_SETTING.numActions} actions, d = ${OBP_SETTING.contextDim}, beta = ${OBP_SETTING.beta}; seeds ${first}..${first + seeds - 1}; reward-model L2 penalty ${rewardModelLambda} (scikit-learn C = ${1 / rewardModelLambda})`,
  );
  console.log(tableMarkdown(runs));
  const pair = (a: string, b: string): string => {
    const d = runs.map((r) => r.relErrors[a]! - r.relErrors[b]!);
    const wins = d.filter((x) => x < 0).length;
    return `${a} - ${b}: ${mean(d).toFixed(5)} +- ${(std(d) / Math.sqrt(d.length)).toFixed(5)} (${a} closer in ${wins}/${d.length} runs)`;
  };
  console.log('\npaired differences of relative error (mean +- standard error):');
  for (const [a, b] of [
    ['dr', 'snips'],
    ['sndr', 'snips'],
    ['snips', 'ips'],
    ['dr', 'ips'],
    ['dr', 'dr-os'],
    ['ips', 'dm'],
  ] as const) {
    console.log('  ' + pair(a, b));
  }
  const count = (key: 'switch-dr' | 'dr-os'): string => {
    const c = new Map<number, number>();
    for (const r of runs) c.set(r.slopeLambda[key], (c.get(r.slopeLambda[key]) ?? 0) + 1);
    return [...c.entries()].sort((x, y) => x[0] - y[0]).map(([l, n]) => `${l}: ${n}`).join(', ');
  };
  console.log(`\nSLOPE's lambda  switch-dr { ${count('switch-dr')} }  dr-os { ${count('dr-os')} }`);
  console.log(`max importance weight per run: ${Math.min(...runs.map((r) => r.maxWeight)).toFixed(2)} .. ${Math.max(...runs.map((r) => r.maxWeight)).toFixed(2)}`);
  console.log(`true value per run: ${Math.min(...runs.map((r) => r.trueValue)).toFixed(4)} .. ${Math.max(...runs.map((r) => r.trueValue)).toFixed(4)}`);
  if (jsonOut) await writeFile(jsonOut, JSON.stringify(runs.map((r) => ({ seed: r.seed, trueValue: r.trueValue, relErrors: r.relErrors, slopeLambda: r.slopeLambda, maxWeight: r.maxWeight }))));
  console.log(
    `\nwall ${wall.toFixed(1)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (${((cpu.user + cpu.system) / 1e6 / seeds).toFixed(2)} s per run), loadavg ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await main();
}
