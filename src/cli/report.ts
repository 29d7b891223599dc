/** `offpolicy report`: renders an evaluation result as HTML / Markdown / JSON. No logic here. */
import type { Command } from 'commander';
import { loadEvaluationResult } from '../reports/load-result.js';
import { parseReportFormats, renderReport } from '../reports/render.js';
import { shellCommand } from '../reports/command-line.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write an HTML / Markdown / JSON report from an evaluation result (offpolicy evaluate --out)')
    .requiredOption('--results <file>', 'the evaluation result JSON')
    .option('--format <list>', 'comma-separated formats: html, md, json', 'html,md,json')
    .option('--out <dir>', 'output directory', 'offpolicy-report')
    .action(async (opts: { results: string; format: string; out: string }) => {
      const formats = parseReportFormats(opts.format);
      const result = await loadEvaluationResult(opts.results);
      const { files } = await renderReport(result, { formats, outDir: opts.out, command: shellCommand(process.argv.slice(2)) });
      for (const f of files) process.stdout.write(`${f}\n`);
    });
}
