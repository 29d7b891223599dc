/** `offpolicy rollout`: flags in, runRollout() from the library, returns and normalized score out. */
import type { Command } from 'commander';
import { openWorkspace, numberFlag, printJson } from './context.js';
import { progressBar } from './progress.js';

const num = (flag: string, value: string): number => numberFlag(flag, value, { code: 'E_ROLLOUT_PARAM', example: '10' });

export function registerRollout(program: Command): void {
  program
    .command('rollout')
    .description('roll a trained policy out in a built-in environment: returns, normalized score, optionally a new dataset')
    .requiredOption('--policy <dir>', 'a training run directory (offpolicy train --out DIR) or the policy/ folder inside it')
    .option('--env <id>', 'environment id or alias (default: the one the policy was trained for)')
    .option('--episodes <n>', 'episodes', '10')
    .option('--seed <seed>', 'random seed (episode starts and, with --stochastic, action draws)', '0')
    .option('--stochastic', 'sample actions from the policy (Gaussian truncated to the action box; categorical) instead of its mean / argmax')
    .option('--save <name>', 'store the rollouts as a new version of this trajectory dataset')
    .option('--json', 'print the result as JSON')
    .action(async (o: Record<string, string | boolean | undefined>, cmd: Command) => {
      const { runRollout } = await import('../offline-rl/rollout.js');
      const json = Boolean(o.json);
      const bar = progressBar('rollout', !json);
      let r;
      try {
        r = await runRollout(
          {
            policy: String(o.policy),
            ...(o.env !== undefined ? { env: String(o.env) } : {}),
            episodes: num('--episodes', String(o.episodes)),
            seed: num('--seed', String(o.seed)),
            stochastic: Boolean(o.stochastic),
            ...(o.save !== undefined ? { save: String(o.save) } : {}),
            onProgress: bar.onProgress,
          },
          { workspace: () => openWorkspace(cmd) },
        );
      } finally {
        bar.stop();
      }
      const ro = r.rollout;
      const summary = {
        policy: r.policy,
        algo: r.algo,
        env: ro.envId,
        episodes: ro.episodes,
        stochastic: ro.stochastic,
        meanReturn: ro.meanReturn,
        stdReturn: ro.stdReturn,
        normalizedScore: ro.normalizedScore,
        returns: [...ro.returns],
        lengths: [...ro.lengths],
        saved: r.saved,
      };
      if (json) return printJson(summary);
      const lines: [string, string][] = [
        ['policy', `${r.policy} (${r.algo})`],
        ['environment', `${ro.envId}, ${ro.episodes} episodes${ro.stochastic ? ', stochastic' : ''}`],
        ['return', `${ro.meanReturn.toFixed(4)} +- ${ro.stdReturn.toFixed(4)} (mean +- std)`],
        ['normalized score', ro.normalizedScore === null ? '- (no reference scores)' : ro.normalizedScore.toFixed(2)],
        ...(r.saved ? [['saved', r.saved] as [string, string]] : []),
      ];
      for (const [k, v] of lines) process.stdout.write(`${k.padEnd(17)} ${v}\n`);
    });
}
