/** `offpolicy demo`: the main job with an embedded default setting. No logic here. */
import type { Command } from 'commander';
import { OffpolicyError } from '../core/errors.js';
import { shellCommand } from '../reports/command-line.js';
import { formatTable } from '../util/text-table.js';
import { globals } from './context.js';
import { progressBar } from './progress.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('generate a synthetic bandit log with ground truth, evaluate three candidates and write a report')
    .option('--out <dir>', 'report directory', 'offpolicy-report')
    .option('--seed <n>', 'random seed', '0')
    .option('--rows <n>', 'rows of the synthetic log', '20000')
    .action(async (opts: { out: string; seed: string; rows: string }, cmd: Command) => {
      const seed = Number(opts.seed);
      if (!/^\d+$/.test(opts.seed.trim())) {
        throw new OffpolicyError('E_DEMO_PARAM', `--seed must be a non-negative integer, got "${opts.seed}".`, { hint: 'Pass e.g. --seed 0.' });
      }
      if (!/^\d+$/.test(opts.rows.trim()) || Number(opts.rows) < 100) {
        throw new OffpolicyError('E_DEMO_PARAM', `--rows must be an integer of at least 100, got "${opts.rows}".`, { hint: 'Pass e.g. --rows 20000 (the default).' });
      }
      const { demoSummaryRows, runDemo } = await import('../demo.js');
      const bar = progressBar('demo');
      let summary;
      try {
        summary = await runDemo({
          outDir: opts.out,
          seed,
          rows: Number(opts.rows),
          workspace: globals(cmd).workspace,
          command: shellCommand(process.argv.slice(2)),
          onProgress: bar.onProgress,
        });
      } finally {
        bar.stop();
      }
      const { rows, columns } = demoSummaryRows(summary);
      process.stdout.write(`${summary.rows} logged rounds, ${summary.numActions} actions (dataset ${summary.dataset}); ${summary.seconds.toFixed(1)} s\n\n`);
      process.stdout.write(formatTable(rows, columns) + '\n\n');
      const mark = { better: '✔', 'better-with-caveats': '~', worse: '✘', inconclusive: '?' } as const;
      for (const c of summary.candidates) process.stdout.write(`${mark[c.outcome]} ${c.sentence.includes(c.name) ? '' : `${c.name}: `}${c.sentence}\n`);
      process.stdout.write(`\nReport: ${summary.reportPath}\n`);
    });
}
