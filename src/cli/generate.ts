/** `offpolicy generate bandit | multiclass | trajectories`: flags in, library call, summary out. */
import type { Command } from 'commander';
import type { BehaviourLogits, RewardFunction, RewardShape } from '../datasets/synthetic/bandit.js';
import type { DatasetVersion } from '../datasets/workspace.js';
import { openWorkspace, printJson, numberFlag } from './context.js';
import { progressBar } from './progress.js';

const num = (flag: string, value: string): number => numberFlag(flag, value, { code: 'E_GENERATOR_PARAM', example: '3' });

function printSummary(v: DatasetVersion, extra: Record<string, unknown>, json: boolean): void {
  const summary = { ref: v.ref, rows: v.metadata.rowCount, ...(v.metadata.episodeCount ? { episodes: v.metadata.episodeCount } : {}), contentHash: v.metadata.contentHash, ...extra };
  if (json) return printJson(summary);
  for (const [k, val] of Object.entries(summary)) process.stdout.write(`${k.padEnd(18)} ${typeof val === 'object' ? JSON.stringify(val) : String(val)}\n`);
}

export function registerGenerate(program: Command): void {
  const generate = program.command('generate').description('generate synthetic datasets with known ground truth');

  generate
    .command('bandit')
    .description('synthetic logged bandit data (OBP-style: logistic/linear reward, softmax behaviour)')
    .requiredOption('--name <name>', 'dataset name')
    .option('--rows <n>', 'number of logged rounds', '10000')
    .option('--actions <k>', 'number of actions', '10')
    .option('--context-dim <d>', 'context dimension', '5')
    .option('--reward <shape>', 'logistic (binary rewards) or linear (continuous rewards)', 'logistic')
    .option('--beta <beta>', 'inverse temperature of the behaviour softmax', '-3')
    .option('--deficient-support <d>', 'actions per row given zero logging probability', '0')
    .option('--reward-function <family>', "default, or obp (Open Bandit Pipeline's polynomial reward function)", 'default')
    .option('--degree <n>', 'polynomial degree of --reward-function obp (1..4; OBP: 1 logistic, 3 polynomial)')
    .option('--behaviour <logits>', 'linear (softmax of x.V_a + e_a) or expected-reward (softmax of q(x, a), OBP default)', 'linear')
    .option('--seed <seed>', 'random seed', '0')
    .option('--json', 'print the summary as JSON')
    .action(async (o: Record<string, string>, cmd: Command) => {
      const [{ generateBanditLog }, { writeBanditDataset }] = await Promise.all([import('../datasets/synthetic/bandit.js'), import('../datasets/synthetic/bandit-log.js')]);
      const log = generateBanditLog({
        n: num('--rows', o.rows!),
        numActions: num('--actions', o.actions!),
        contextDim: num('--context-dim', o.contextDim!),
        reward: o.reward as RewardShape,
        beta: num('--beta', o.beta!),
        deficientSupport: num('--deficient-support', o.deficientSupport!),
        rewardFunction: o.rewardFunction as RewardFunction,
        ...(o.degree === undefined ? {} : { degree: num('--degree', o.degree) }),
        behaviour: o.behaviour as BehaviourLogits,
        seed: num('--seed', o.seed!),
      });
      const ws = await openWorkspace(cmd);
      const v = await writeBanditDataset(ws, o.name!, log);
      printSummary(v, { loggingTrueValue: log.loggingValue }, Boolean(o.json));
    });

  generate
    .command('multiclass')
    .description('multiclass-to-bandit reduction over a labelled table (OBP convention)')
    .requiredOption('--name <name>', 'dataset name')
    .option('--dataset <name>', 'labelled table: iris', 'iris')
    .option('--alpha-b <alpha>', 'behaviour = alpha * classifier + (1 - alpha) * uniform', '0.4')
    .option('--rows <n>', 'rows to log, resampled with replacement from the evaluation rows (default: each once)')
    .option('--eval-size <share>', 'share of the table held out for logging', '0.7')
    .option('--eval-alpha <alpha...>', 'evaluation-policy alphas whose true values to report')
    .option('--seed <seed>', 'random seed', '0')
    .option('--json', 'print the summary as JSON')
    .action(async (o: Record<string, string | string[] | undefined>, cmd: Command) => {
      const [{ multiclassToBandit }, { writeBanditDataset }] = await Promise.all([import('../datasets/synthetic/multiclass.js'), import('../datasets/synthetic/bandit-log.js')]);
      const evalAlphas = (o.evalAlpha as string[] | undefined)?.map((a) => num('--eval-alpha', a));
      const log = multiclassToBandit({
        dataset: String(o.dataset),
        alphaB: num('--alpha-b', String(o.alphaB)),
        ...(o.rows === undefined ? {} : { n: num('--rows', String(o.rows)) }),
        evalSize: num('--eval-size', String(o.evalSize)),
        ...(evalAlphas ? { evalAlphas } : {}),
        seed: num('--seed', String(o.seed)),
      });
      const ws = await openWorkspace(cmd);
      const v = await writeBanditDataset(ws, String(o.name), log);
      printSummary(
        v,
        { loggingTrueValue: log.loggingValue, classifierAccuracy: log.classifierAccuracy, ...(evalAlphas ? { evalTrueValues: log.evalTrueValues } : {}) },
        Boolean(o.json),
      );
    });

  generate
    .command('trajectories')
    .description('roll out a behaviour policy in an environment (pendulum, mountain-car, cartpole, maze)')
    .requiredOption('--name <name>', 'dataset name')
    .requiredOption('--env <id>', 'environment id or alias')
    .option('--policy <policy>', 'random | medium | expert | medium-replay', 'medium')
    .option('--episodes <n>', 'number of episodes (50 when --steps is not given)')
    .option('--steps <n>', 'number of steps (instead of --episodes)')
    .option('--seed <seed>', 'random seed', '0')
    .option('--json', 'print the summary as JSON')
    .action(async (o: Record<string, string | undefined>, cmd: Command) => {
      const { generateTrajectories, writeTrajectoryDataset } = await import('../envs/trajectories.js');
      const episodes = o.episodes === undefined ? (o.steps === undefined ? 50 : undefined) : num('--episodes', o.episodes);
      const bar = progressBar('generate', !o.json);
      const data = generateTrajectories({
        env: String(o.env),
        policy: String(o.policy),
        ...(episodes === undefined ? { steps: num('--steps', String(o.steps)) } : { episodes }),
        seed: num('--seed', String(o.seed)),
        onProgress: bar.onProgress,
      });
      bar.stop();
      const ws = await openWorkspace(cmd);
      const v = await writeTrajectoryDataset(ws, String(o.name), data);
      const meanReturn = data.episodeReturns.reduce((a, b) => a + b, 0) / data.episodes;
      printSummary(v, { envId: data.envId, policy: data.policy, meanReturn }, Boolean(o.json));
    });
}
