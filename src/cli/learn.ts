/** `offpolicy learn`: flags in, learnPolicy() and writeLearnedPolicy() from the library, the certificate out. */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { OffpolicyError } from '../core/errors.js';
import type { CertificateBound, LearnOptions, ObjectiveName, PolicyClassName } from '../learning/index.js';
import { OBJECTIVES } from '../learning/objectives.js';
import { POLICY_CLASSES } from '../learning/train.js';
import { numberFlag, openWorkspace, rewardRangeFlag } from './context.js';
import { progressBar } from './progress.js';

const num = (flag: string, value: string): number => numberFlag(flag, value, { code: 'E_CLI_ARG', example: '0.05' });

export function registerLearn(program: Command): void {
  program
    .command('learn')
    .description('learn a linear bandit policy from a log by minimising a PAC-Bayes bound, and certify it')
    .requiredOption('--data <ref>', 'bandit dataset NAME or NAME@VERSION')
    .requiredOption('--objective <name>', OBJECTIVES.join(' | ') + ' (bernstein-cv: control variate xi = -0.5)')
    .option('--policy-class <class>', POLICY_CLASSES.join(' | '), 'mixed-logit')
    .option('--delta <delta>', 'the certificate holds with probability 1 - delta', '0.05')
    .option('--epochs <n>', 'passes over the log', '20')
    .option('--batch-size <n>', 'minibatch rows', '128')
    .option('--lr <rate>', 'Adam step size', '0.01')
    .option('--seed <seed>', 'random seed (shuffles, Monte Carlo draws, held-out split)', '0')
    .option('--alpha <a>', 'exponential-smoothing alpha (default 1 - n^-1/4)')
    .option('--tau <t>', 'propensity clip (default n^-1/4)')
    .option('--reward-range <min,max>', 'reward bounds, rescaled to [0, 1] (default [0, 1] if the rewards fit, else observed)')
    .option('--prior <file.json>', "the logging policy's JSON file: its weights are the prior mean (default 0)")
    .option('--certificate <bound>', 'es | catoni | bernstein | bernstein-cv | london (default: the objective\'s bound, catoni for baselines)')
    .option('--holdout <share>', 'rows held out to certify a softmax policy', '0.25')
    .option('--context-columns <cols>', 'named feature columns to use as the context')
    .option('--observed-rewards-only', 'learn from the rows with a reward only (a log with NULL rewards is refused otherwise); assumes rewards are missing at random')
    .option('--categorical <cols>', 'columns to one-hot encode (added to the context; stored with the policy)')
    .option('--max-levels <n>', 'levels kept per categorical column; the rest share "other"', '32')
    .option('--force', 'replace a non-empty --out directory')
    .requiredOption('--out <dir>', 'policy directory to write (policy.json, certificate.json, metrics.jsonl)')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const [{ learnPolicy, priorFromJsonPolicy, writeLearnedPolicy }, { loadBanditRef, MISSING_AT_RANDOM }] = await Promise.all([import('../learning/index.js'), import('../datasets/load-bandit.js')]);
      const ws = await openWorkspace(cmd);
      const contextColumns = o.contextColumns === undefined ? undefined : String(o.contextColumns).split(',').map((c) => c.trim()).filter(Boolean);
      const categorical = o.categorical === undefined ? undefined : String(o.categorical).split(',').map((c) => c.trim()).filter(Boolean);
      const data = await loadBanditRef(ws, String(o.data), { ...(contextColumns ? { contextColumns } : {}), ...(categorical ? { categorical } : {}), maxLevels: num('--max-levels', String(o.maxLevels)), observedRewardsOnly: Boolean(o.observedRewardsOnly) });
      const range = o.rewardRange !== undefined ? rewardRangeFlag(String(o.rewardRange)) : undefined;
      let prior: LearnOptions['prior'];
      if (o.prior !== undefined) {
        let spec: unknown;
        try {
          spec = JSON.parse(await readFile(String(o.prior), 'utf8'));
        } catch (e) {
          throw new OffpolicyError('E_POLICY_SPEC', `Cannot read the prior policy ${o.prior}: ${(e as Error).message}`, { hint: 'Pass a JSON softmax policy file.' });
        }
        prior = priorFromJsonPolicy(spec, String(o.prior), data.numActions, data.contextDim);
      }
      const bar = progressBar('learn');
      let result;
      try {
        result = learnPolicy(data, {
          objective: String(o.objective) as ObjectiveName,
          policyClass: String(o.policyClass) as PolicyClassName,
          delta: num('--delta', String(o.delta)),
          epochs: num('--epochs', String(o.epochs)),
          batchSize: num('--batch-size', String(o.batchSize)),
          learningRate: num('--lr', String(o.lr)),
          seed: num('--seed', String(o.seed)),
          holdout: num('--holdout', String(o.holdout)),
          ...(o.alpha !== undefined ? { alpha: num('--alpha', String(o.alpha)) } : {}),
          ...(o.tau !== undefined ? { tau: num('--tau', String(o.tau)) } : {}),
          ...(o.certificate !== undefined ? { certificate: String(o.certificate) as CertificateBound } : {}),
          ...(range ? { rewardRange: range } : {}),
          ...(prior ? { prior } : {}),
          onProgress: bar.onProgress,
        });
      } finally {
        bar.stop();
      }
      const dir = await writeLearnedPolicy(String(o.out), result, { data: data.version.ref, command: ['offpolicy', ...process.argv.slice(2)].join(' '), force: Boolean(o.force) });
      if (data.rowsWithoutReward > 0) process.stdout.write(`Learned on the ${data.n} rows with a reward (${data.rowsWithoutReward} without one were left out): the certificate assumes ${MISSING_AT_RANDOM}.\n`);
      process.stdout.write(`${result.certificate.statement}\nPolicy directory: ${dir} (offpolicy evaluate --policy ${dir})\n`);
    });
}
