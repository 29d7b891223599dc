/** `offpolicy report`: renders an evaluation result or a robustness study as HTML / Markdown / JSON. No logic here. */
import type { Command } from 'commander';
import { OffpolicyError } from '../core/errors.js';
import { shellCommand } from '../reports/command-line.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write an HTML / Markdown / JSON report from an evaluation result (offpolicy evaluate --out: bandit, slate or trajectory) or a robustness study (offpolicy robustness --out)')
    .option('--results <file>', 'the evaluation result JSON')
    .option('--robustness <file>', 'the robustness study JSON')
    .option('--format <list>', 'comma-separated formats: html, md, json', 'html,md,json')
    .option('--out <dir>', 'output directory', 'offpolicy-report')
    .action(async (opts: { results?: string; robustness?: string; format: string; out: string }) => {
      if ((opts.results === undefined) === (opts.robustness === undefined)) {
        throw new OffpolicyError('E_REPORT_INPUT', 'Pass exactly one of --results FILE and --robustness FILE.', {
          hint: '--results takes the JSON of `offpolicy evaluate --out`, --robustness the JSON of `offpolicy robustness --out`.',
        });
      }
      const [{ loadAnyEvaluationResult, loadRobustnessStudy }, { parseReportFormats, renderReport }, { renderRobustnessReport }] = await Promise.all([
        import('../reports/load-result.js'),
        import('../reports/render.js'),
        import('../reports/robustness.js'),
      ]);
      const formats = parseReportFormats(opts.format);
      const command = shellCommand(process.argv.slice(2));
      const { files } =
        opts.results !== undefined
          ? await renderReport(await loadAnyEvaluationResult(opts.results), { formats, outDir: opts.out, command })
          : await renderRobustnessReport(await loadRobustnessStudy(opts.robustness!), { formats, outDir: opts.out, command });
      for (const f of files) process.stdout.write(`${f}\n`);
    });
}
