/** `offpolicy train <algo>`: flags in, trainSession() from the library, a progress bar with losses, a summary out. */
import type { Command } from 'commander';
import { OffpolicyError } from '../core/errors.js';
import type { ActorKind } from '../offline-rl/policy.js';
import type { TrainingSessionOptions } from '../offline-rl/session.js';
import type { MetricsEvent } from '../offline-rl/metrics-log.js';
import { openWorkspace, numberFlag, printJson } from './context.js';
import { progressBar } from './progress.js';

/** An example value per flag for the error message ("--lr takes a number, got "x". For example --lr 0.0003."). */
const EXAMPLES: Readonly<Record<string, string>> = { '--steps': '100000', '--lr': '0.0003', '--actor-lr': '0.0003', '--batch-size': '256', '--seed': '0' };
const num = (flag: string, value: string): number => numberFlag(flag, value, { code: 'E_TRAIN_PARAM', example: EXAMPLES[flag] ?? '1' });

function numberList(flag: string, value: string, example: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) {
    throw new OffpolicyError('E_TRAIN_PARAM', `${flag} takes comma-separated numbers, got "${value}".`, { hint: `For example ${flag} ${example}.` });
  }
  return parts.map((p) => numberFlag(flag, p, { code: 'E_TRAIN_PARAM', example }));
}

/** Flag -> learner option, for the numeric knobs (only given flags are passed on). */
const NUMERIC_KNOBS: readonly [flag: string, key: keyof TrainingSessionOptions][] = [
  ['batchSize', 'batchSize'],
  ['lr', 'lr'],
  ['actorLr', 'actorLr'],
  ['gamma', 'gamma'],
  ['tau', 'tau'],
  ['expectile', 'expectile'],
  ['beta', 'beta'],
  ['rewardScale', 'rewardScale'],
  ['rewardShift', 'rewardShift'],
  ['alpha', 'alpha'],
  ['ensembleSize', 'ensembleSize'],
  ['quantile', 'quantile'],
  ['huberDelta', 'huberDelta'],
  ['policyNoise', 'policyNoise'],
  ['noiseClip', 'noiseClip'],
  ['policyFreq', 'policyFreq'],
  ['prdcBeta', 'prdcBeta'],
  ['targetReturn', 'targetReturn'],
  ['returnScale', 'returnScale'],
  ['evalEvery', 'evalEvery'],
  ['evalEpisodes', 'evalEpisodes'],
  ['evalSeed', 'evalSeed'],
  ['checkpointEvery', 'checkpointEvery'],
  ['keepCheckpoints', 'keepCheckpoints'],
  ['logEvery', 'logEvery'],
];

const kebab = (k: string): string => '--' + k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function fmt(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  return Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toFixed(digits);
}

function lossText(losses: Record<string, number>): string {
  return Object.entries(losses)
    .map(([k, v]) => `${k} ${fmt(v, 3)}`)
    .join('  ');
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train an offline-RL policy on a trajectory dataset (iql, riql, td3bc, prdc, rcbc, bc)')
    .argument('<algo>', 'iql | riql | td3bc | prdc | rcbc | bc')
    .requiredOption('--data <ref>', 'trajectory dataset NAME or NAME@VERSION')
    .requiredOption('--steps <n>', 'gradient steps')
    .requiredOption('--out <dir>', 'output directory (policy/, checkpoints/, metrics.jsonl, summary.json)')
    .option('--seed <seed>', 'random seed', '0')
    .option('--env <id>', 'evaluation environment (default: the dataset\'s env_id)')
    .option('--where <sql>', 'train on the rows matching this SQL condition')
    .option('--context-columns <cols>', 'bandit logs: named feature columns to use as the context')
    .option('--categorical <cols>', 'bandit logs: columns to one-hot encode (added to the context; stored with the policy)')
    .option('--max-levels <n>', 'bandit logs: levels kept per categorical column; the rest share "other" (default 32)')
    .option('--eval-every <n>', 'evaluate every n steps (0: only at the end)', '5000')
    .option('--eval-episodes <k>', 'episodes per evaluation (0: no evaluation)', '10')
    .option('--eval-seed <s>', 'seed of the evaluation episodes', '0')
    .option('--checkpoint-every <n>', 'checkpoint every n steps (0: none)', '5000')
    .option('--keep-checkpoints <k>', 'checkpoints kept on disk', '2')
    .option('--log-every <n>', 'log losses every n steps', '100')
    .option('--resume', 'continue from the newest checkpoint in --out')
    .option('--force', 'start over in a non-empty --out (removes the previous run\'s files)')
    .option('--hidden <sizes>', 'hidden layer widths, e.g. 256,256')
    .option('--batch-size <n>', 'mini-batch size (default 256)')
    .option('--lr <lr>', 'learning rate (default 3e-4)')
    .option('--actor-lr <lr>', 'IQL/RIQL actor learning rate (cosine schedule)')
    .option('--actor <kind>', 'gaussian | deterministic (iql, riql, bc, rcbc)')
    .option('--no-normalize', 'do not normalize observations')
    .option('--max-action <a>', 'action bound(s), comma-separated per dimension (default: the dataset\'s action space)')
    .option('--gamma <g>', 'discount (default 0.99)')
    .option('--tau <t>', 'target-network Polyak rate (default 0.005)')
    .option('--reward-scale <s>', 'multiply rewards by s in the TD targets (default 1)')
    .option('--reward-shift <c>', 'then add c (default 0; -1 turns a sparse 0/1 goal reward into a cost per step, as IQL does on antmaze)')
    .option('--expectile <e>', 'IQL expectile (default 0.7)')
    .option('--beta <b>', 'IQL advantage temperature (default 3)')
    .option('--ensemble-size <k>', 'RIQL Q heads (default 5; IQL 2)')
    .option('--quantile <q>', 'RIQL quantile of the V target over the heads (default 0.25)')
    .option('--huber-delta <d>', 'RIQL Huber threshold of the Q loss (default 1; the RIQL code\'s sigma s is threshold 1/s^2)')
    .option('--td-clip <lo,hi>', 'RIQL clip of the TD targets (default -100,1000)')
    .option('--alpha <a>', 'TD3+BC / PRDC trade-off (default 2.5)')
    .option('--policy-noise <s>', 'TD3 target policy noise (default 0.2)')
    .option('--noise-clip <c>', 'TD3 target noise clip (default 0.5)')
    .option('--policy-freq <n>', 'TD3 actor update period (default 2)')
    .option('--prdc-beta <b>', 'PRDC state weight in the nearest-neighbour keys (default 2)')
    .option('--target-return <r>', 'RCBC return to condition on (default: best episode return in the data)')
    .option('--return-scale <s>', 'RCBC multiplier of the return-to-go input')
    .option('--offline-score <mode>', 'score checkpoints by fitted Q evaluation on the data (initial-state value, TD error): auto (when no environment evaluates) | always | none', 'auto')
    .option('--score-fqe-steps <n>', 'FQE updates per checkpoint score (default 2000)')
    .option('--json', 'print the result as JSON')
    .action(async (algo: string, o: Record<string, string | boolean | undefined>, cmd: Command) => {
      const opts: TrainingSessionOptions = {
        data: String(o.data),
        out: String(o.out),
        steps: num('--steps', String(o.steps)),
        seed: num('--seed', String(o.seed)),
        ...(o.env !== undefined ? { env: String(o.env) } : {}),
        ...(o.where !== undefined ? { where: String(o.where) } : {}),
        ...(o.contextColumns !== undefined || o.categorical !== undefined || o.maxLevels !== undefined
          ? {
              context: {
                ...(o.contextColumns !== undefined ? { contextColumns: String(o.contextColumns).split(',').map((c) => c.trim()).filter(Boolean) } : {}),
                ...(o.categorical !== undefined ? { categorical: String(o.categorical).split(',').map((c) => c.trim()).filter(Boolean) } : {}),
                ...(o.maxLevels !== undefined ? { maxLevels: num('--max-levels', String(o.maxLevels)) } : {}),
              },
            }
          : {}),
        ...(o.resume ? { resume: true } : {}),
        ...(o.force ? { force: true } : {}),
        ...(o.hidden !== undefined ? { hidden: numberList('--hidden', String(o.hidden), '256,256') } : {}),
        ...(o.actor !== undefined ? { actor: String(o.actor) as ActorKind } : {}),
        ...(o.normalize === false ? { normalize: false } : {}),
        ...(o.maxAction !== undefined ? { maxAction: numberList('--max-action', String(o.maxAction), '2') } : {}),
        ...(o.tdClip !== undefined ? { tdClip: numberList('--td-clip', String(o.tdClip), '-100,1000') as unknown as readonly [number, number] } : {}),
      };
      for (const [flag, key] of NUMERIC_KNOBS) {
        if (o[flag] !== undefined) (opts as unknown as Record<string, number>)[key] = num(kebab(flag), String(o[flag]));
      }
      const json = Boolean(o.json);
      const bar = progressBar(`train ${algo}`, !json);
      let score = '';
      opts.onProgress = (done, total, losses) => bar.onProgress(done, total, `step ${done}/${total}  ${lossText(losses)}${score}`);
      let offline: MetricsEvent | null = null;
      opts.onEvent = (e) => {
        if (e.event === 'eval') score = `  | eval ${fmt(e.returnMean as number, 1)}${e.normalizedScore === null ? '' : ` (${fmt(e.normalizedScore as number, 1)} normalized)`}`;
        if (e.event === 'offline-score') {
          offline = e;
          score = `  | FQE V(s0) ${fmt(e.initialValue as number, 2)}`;
        }
      };
      const ws = await openWorkspace(cmd);
      const mode = String(o.offlineScore);
      if (!['auto', 'always', 'none'].includes(mode)) throw new OffpolicyError('E_CLI_ARG', `--offline-score takes auto, always or none, got "${mode}".`, { hint: 'For example --offline-score always.' });
      // Offline checkpoint scoring fits FQE on trajectories; a bandit log has none (its policies are scored by evaluate).
      const trajectoryData = (await ws.resolve(opts.data)).metadata.kind === 'trajectory';
      if (mode === 'always' && !trajectoryData) {
        throw new OffpolicyError('E_CLI_ARG', `--offline-score always scores checkpoints by FQE on trajectory data, but ${opts.data} is not a trajectory dataset.`, { hint: 'Drop --offline-score, or score the trained policy with offpolicy evaluate.' });
      }
      if (mode !== 'none' && trajectoryData) {
        const { fqeCheckpointScorer } = await import('../ope/trajectory/checkpoint-scorer.js');
        opts.offlineScorer = fqeCheckpointScorer(ws, opts.data, {
          ...(opts.where ? { where: opts.where } : {}),
          ...(opts.gamma !== undefined ? { gamma: opts.gamma } : {}),
          seed: opts.seed,
          ...(o.scoreFqeSteps !== undefined ? { fqe: { steps: num('--score-fqe-steps', String(o.scoreFqeSteps)) } } : {}),
        });
        opts.offlineScore = mode as 'auto' | 'always';
      }
      let r;
      try {
        const { trainSession } = await import('../offline-rl/session.js');
        r = await trainSession(ws, algo, opts);
      } finally {
        bar.stop();
      }
      if (json) return printJson(r);
      const ev = r.evaluation;
      const lines: [string, string][] = [
        ['algorithm', r.algo],
        ['dataset', `${r.dataset} (${r.datasetHash.slice(0, 12)})`],
        ['steps', `${r.step}${r.resumedFrom !== null ? ` (resumed from step ${r.resumedFrom})` : ''}`],
        ['final losses', lossText(r.losses) || '-'],
        ['evaluation', ev ? `${ev.envId}, ${ev.episodes} episodes: return ${fmt(ev.returnMean, 2)} +- ${fmt(ev.returnStd, 2)}` : 'none (no matching environment or --eval-episodes 0)'],
        ['normalized score', ev && ev.normalizedScore !== null ? fmt(ev.normalizedScore, 1) : '-'],
        ...(offline ? ([['offline score', `FQE at step ${(offline as MetricsEvent).step}: V(s0) ${fmt((offline as MetricsEvent).initialValue as number, 2)}, held-out TD error ${fmt((offline as MetricsEvent).tdError as number | null, 4)}`]] as [string, string][]) : []),
        ['policy', r.policyDir ?? '-'],
        ['metrics', `${r.out}/metrics.jsonl`],
        ['speed', `${fmt(r.updatesPerSec, 1)} updates/s (${r.backend}), wall ${fmt(r.wallSec, 1)} s, CPU ${fmt(r.cpuSec, 1)} s`],
      ];
      for (const [k, v] of lines) process.stdout.write(`${k.padEnd(17)} ${v}\n`);
    });
}
