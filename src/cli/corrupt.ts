/**
 * `offpolicy corrupt` (trajectories, RIQL protocol) and `offpolicy corrupt-log`
 * (bandit logs): flags in, library call, summary out.
 */
import type { Command } from 'commander';
import { BANDIT_CORRUPTION_KINDS } from '../corruption/bandit.js';
import type { Critic } from '../corruption/critic.js';
import { TRAJECTORY_FIELDS, type CorruptionMode } from '../corruption/trajectories.js';
import type { RobustnessStudyResult } from '../core/robustness-result.js';
import type { DatasetVersion } from '../datasets/workspace.js';
import { formatTable } from '../util/text-table.js';
import { writeFile } from 'node:fs/promises';
import { collect, openWorkspace, printJson, numberFlag, rewardRangeFlag } from './context.js';
import { progressBar } from './progress.js';

const FLAG_CODES: Record<string, string> = {
  '--rate': 'E_CORRUPTION_RATE',
  '--scale': 'E_CORRUPTION_SCALE',
  '--seed': 'E_CORRUPTION_SEED',
};

const num = (flag: string, value: string): number => numberFlag(flag, value, { code: FLAG_CODES[flag] ?? 'E_CORRUPTION_PARAM', example: '1' });

function printSummary(v: DatasetVersion, extra: Record<string, unknown>, json: boolean): void {
  const summary = { ref: v.ref, parent: v.metadata.lineage.parent, rows: v.metadata.rowCount, contentHash: v.metadata.contentHash, ...extra };
  if (json) return printJson(summary);
  for (const [k, val] of Object.entries(summary)) process.stdout.write(`${k.padEnd(12)} ${typeof val === 'object' ? JSON.stringify(val) : String(val)}\n`);
}

export function registerCorrupt(program: Command): void {
  program
    .command('corrupt')
    .description('corrupt a trajectory dataset (RIQL protocol) into a new version')
    .requiredOption('--data <ref>', 'dataset (NAME or NAME@VERSION)')
    .option('--field <fields>', `field(s) to corrupt: ${TRAJECTORY_FIELDS.join('|')}|all (repeatable or comma list)`, collect, [])
    .option('--mode <mode>', 'random | adversarial', 'random')
    .option('--rate <c>', 'share of rows corrupted per field, in [0, 1]', '0.3')
    .option('--scale <eps>', 'perturbation scale eps > 0', '1.0')
    .option('--seed <seed>', 'random seed', '0')
    .option('--trajectory-consistent', "keep s'_t == s_{t+1}: a corrupted state is written into both rows")
    .option('--critic <file>', 'adversarial mode: critic JSON (saveCritic format) to attack')
    .option('--train-critic', 'adversarial mode without --critic: fit a critic on the dataset by fitted-Q evaluation')
    .option('--critic-steps <n>', 'gradient steps of --train-critic', '3000')
    .option('--save-critic <file>', 'write the critic trained by --train-critic to this JSON file')
    .option('--attack-steps <n>', 'Adam steps of the adversarial attack', '100')
    .option('--name <out>', 'output dataset name (default: NAME-corrupted, a new dataset or a new version of it; never a new version of the input)')
    .option('--json', 'print the summary as JSON')
    .action(async (o: Record<string, string | boolean | string[]>, cmd: Command) => {
      const [{ loadCritic, saveCritic }, { corruptTrajectories }] = await Promise.all([import('../corruption/critic.js'), import('../corruption/trajectories.js')]);
      const fields = o.field as string[];
      const critic: Critic | undefined = o.critic ? await loadCritic(String(o.critic)) : undefined;
      const bar = progressBar('training critic', !o.json);
      const ws = await openWorkspace(cmd);
      const res = await corruptTrajectories(ws, {
        data: String(o.data),
        fields: fields.length ? fields : [],
        mode: String(o.mode) as CorruptionMode,
        rate: num('--rate', String(o.rate)),
        scale: num('--scale', String(o.scale)),
        seed: num('--seed', String(o.seed)),
        trajectoryConsistent: Boolean(o.trajectoryConsistent),
        ...(critic ? { critic } : {}),
        ...(o.trainCritic ? { trainCritic: { steps: num('--critic-steps', String(o.criticSteps)) } } : {}),
        attackSteps: num('--attack-steps', String(o.attackSteps)),
        ...(o.name ? { name: String(o.name) } : {}),
        onProgress: bar.onProgress,
      }).finally(() => bar.stop());
      if (res.trainedCritic && o.saveCritic) await saveCritic(res.trainedCritic, String(o.saveCritic));
      for (const w of res.warnings) process.stderr.write(`warning: ${w}\n`);
      printSummary(res.version, { selected: res.selected, changed: res.changed }, Boolean(o.json));
    });

  program
    .command('corrupt-log')
    .description('corrupt a bandit log (propensities, rewards, duplicates) into a new version')
    .requiredOption('--data <ref>', 'dataset (NAME or NAME@VERSION)')
    .requiredOption('--kind <kind>', BANDIT_CORRUPTION_KINDS.join(' | '))
    .option('--rate <c>', 'share of rows corrupted, in [0, 1]', '0.3')
    .option('--scale <eps>', 'noise size eps > 0 (log-normal sd, reward noise sd, logger tempering)', '1.0')
    .option('--decimals <k>', 'propensity-round: decimals kept', '2')
    .option('--seed <seed>', 'random seed', '0')
    .option('--name <out>', 'output dataset name (default: NAME-corrupted, a new dataset or a new version of it; never a new version of the input)')
    .option('--json', 'print the summary as JSON')
    .action(async (o: Record<string, string | boolean>, cmd: Command) => {
      const { corruptBanditLog } = await import('../corruption/bandit.js');
      const ws = await openWorkspace(cmd);
      const res = await corruptBanditLog(ws, {
        data: String(o.data),
        kind: String(o.kind),
        rate: num('--rate', String(o.rate)),
        scale: num('--scale', String(o.scale)),
        decimals: num('--decimals', String(o.decimals)),
        seed: num('--seed', String(o.seed)),
        ...(o.name ? { name: String(o.name) } : {}),
      });
      printSummary(res.version, { kind: o.kind, changed: res.changed }, Boolean(o.json));
    });

  program
    .command('robustness')
    .description('robustness study: evaluate candidates on the clean log and on each corrupted version, side by side')
    .requiredOption('--data <ref>', 'bandit log (NAME or NAME@VERSION)')
    .requiredOption('--setting <spec>', 'corruption setting, e.g. "kind=propensity-noise,rate=0.3,scale=0.5" (repeatable)', collect)
    .requiredOption('--policy <spec>', 'candidate policy, as for offpolicy evaluate (repeatable)', collect)
    .option('--estimators <list>', 'comma list of estimators (default: all)')
    .option('--seed <seed>', 'random seed of the corruptions and the evaluation', '0')
    .option('--name <out>', 'name of the corrupted versions (default: NAME-robustness)')
    .option('--observed-rewards-only', 'score only the rows with a reward (e.g. after kind=drop-rewards); assumes rewards are missing at random')
    .option('--reward-model <model>', 'as for evaluate: ridge | ridge-per-action | logistic | mlp | columns:q_0,...')
    .option('--clip <L>', 'as for evaluate: weight clip of clipped IPS / Switch-DR / DR-OS (Infinity disables)')
    .option('--reward-range <min,max>', 'as for evaluate: reward bounds of the certificates (default: observed)')
    .option('--allow-deficient', 'as for evaluate: compute importance-weighted estimates on deficient support')
    .option('--prob-columns <cols>', 'as for evaluate: per-action probability columns of table policies')
    .option('--context-columns <cols>', 'as for evaluate: named feature columns to use as the context')
    .option('--critic <file>', 'adversarial trajectory settings: critic JSON to attack')
    .option('--train-critic', 'adversarial trajectory settings without --critic: fit one critic by fitted-Q evaluation and reuse it')
    .option('--out <file>', 'write the study as JSON')
    .option('--json', 'print the study as JSON')
    .action(async (o: Record<string, string | boolean | string[]>, cmd: Command) => {
      const [{ robustnessStudy, parseSetting }, { estimateScorer, ROWS_SCORED }, { parsePolicyArg }, { MISSING_AT_RANDOM }] = await Promise.all([
        import('../corruption/robustness.js'),
        import('../ope/scorer.js'),
        import('../policies/candidates.js'),
        import('../datasets/load-bandit.js'),
      ]);
      const ws = await openWorkspace(cmd);
      const seed = num('--seed', String(o.seed));
      const cols = (v: unknown): string[] | undefined => (v === undefined ? undefined : String(v).split(',').map((c) => c.trim()).filter(Boolean));
      const probColumns = cols(o.probColumns);
      const contextColumns = cols(o.contextColumns);
      const policies = (o.policy as string[]).map((p) => ({ ...parsePolicyArg(p), ...(probColumns ? { probColumns } : {}) }));
      const estimators = o.estimators ? String(o.estimators).split(',').map((e) => e.trim()) : undefined;
      const critic: Critic | undefined = o.critic ? await (await import('../corruption/critic.js')).loadCritic(String(o.critic)) : undefined;
      const study = await robustnessStudy(ws, {
        data: String(o.data),
        settings: (o.setting as string[]).map(parseSetting),
        seed,
        ...(o.name ? { name: String(o.name) } : {}),
        ...(critic ? { critic } : o.trainCritic ? { trainCritic: true } : {}),
        score: estimateScorer(ws, {
          policies,
          seed,
          ...(estimators ? { estimators } : {}),
          observedRewardsOnly: Boolean(o.observedRewardsOnly),
          allowDeficient: Boolean(o.allowDeficient),
          ...(o.rewardModel !== undefined ? { rewardModel: String(o.rewardModel) } : {}),
          ...(o.clip !== undefined ? { clip: numberFlag('--clip', String(o.clip), { code: 'E_CLI_ARG', example: '10', allowInfinity: true }) } : {}),
          ...(o.rewardRange !== undefined ? { rewardRange: rewardRangeFlag(String(o.rewardRange)) } : {}),
          ...(contextColumns ? { contextColumns } : {}),
        }),
      });
      if (o.out) await writeFile(String(o.out), JSON.stringify(study, null, 2) + '\n');
      if (o.json) return printJson(study);
      process.stdout.write(robustnessTable(study) + '\n');
      if (o.observedRewardsOnly) process.stdout.write(`\nVersions with rows without a reward were scored on the rows with one (metric ${ROWS_SCORED}): their estimates assume ${MISSING_AT_RANDOM}.\n`);
    });
}

/** The study as a text table: one row per (setting, metric). */
export function robustnessTable(study: RobustnessStudyResult): string {
  const rows = study.rows.map((r) => ({ setting: r.setting, version: r.ref, metric: r.metric, clean: r.clean, corrupted: r.corrupted, delta: r.delta, 'rel. change': r.relativeChange }));
  const failed = study.settings.filter((s) => s.error).map((s) => `${s.label}${s.ref ? ` (${s.ref})` : ''}: [${s.error!.code}] ${s.error!.message}`);
  return [`clean: ${study.clean.ref}`, formatTable(rows), ...(failed.length ? ['', 'not scored:', ...failed] : [])].join('\n');
}
