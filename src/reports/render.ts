/**
 * renderReport: an EvaluationResult -> HTML (self-contained), Markdown (+ SVG chart
 * files beside it) and JSON (the result plus the report's derived tables).
 */
import { OffpolicyError } from '../core/errors.js';
import type { EvaluationResult } from '../core/evaluation-result.js';
import { writeTrajectoryReport } from './trajectory.js';
import { writeSlateReport } from './slate.js';
import { renderCharts, type RenderedChart } from './charts/index.js';
import { renderHtml } from './html.js';
import { checkEvaluationResult, checkSlateEvaluationResult, isSlateEvaluationResult, type ReportableResult } from './load-result.js';
import { renderMarkdown } from './markdown.js';
import { reportWriter } from './write.js';
import { buildReportTables, type ReportTables } from './tables.js';

export type ReportFormat = 'html' | 'md' | 'json';
export const REPORT_FORMATS: readonly ReportFormat[] = ['html', 'md', 'json'];
export const REPORT_JSON_SCHEMA = 'offpolicy.report/1';

export interface RenderReportOptions {
  formats: ReportFormat[];
  outDir: string;
  /** The command that produced the report, recorded in the reproduction block. */
  command?: string;
}

export interface ReportJson {
  schema: typeof REPORT_JSON_SCHEMA;
  result: EvaluationResult;
  report: ReportTables & { charts: { id: string; kind: string; candidate: string; file: string }[] };
}

/** Parses "html,md" (or a list) into formats; unknown or empty -> E_REPORT_FORMAT. */
export function parseReportFormats(spec: string | readonly string[]): ReportFormat[] {
  const items = (typeof spec === 'string' ? spec.split(',') : [...spec]).map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0);
  const bad = items.filter((s) => !(REPORT_FORMATS as readonly string[]).includes(s));
  if (bad.length > 0 || items.length === 0) {
    throw new OffpolicyError(
      'E_REPORT_FORMAT',
      items.length === 0 ? 'No report format was given.' : `Unknown report format ${bad.map((b) => `"${b}"`).join(', ')}.`,
      { hint: `Use a comma-separated list of ${REPORT_FORMATS.join(', ')} (e.g. --format html,md).` },
    );
  }
  return [...new Set(items)] as ReportFormat[];
}

const CHART_DIR = 'charts';

/** Writes report.html / report.md (+ charts/*.svg) / report.json into outDir; returns the written paths. */
export async function renderReport(result: ReportableResult, opts: RenderReportOptions): Promise<{ files: string[] }> {
  const formats = parseReportFormats(opts.formats);
  if (isSlateEvaluationResult(result)) return writeSlateReport(checkSlateEvaluationResult(result, 'The slate evaluation result'), formats, opts.outDir, opts.command);
  if (result.setting === 'trajectory') return writeTrajectoryReport(result, formats, opts.outDir);
  checkEvaluationResult(result, 'The evaluation result');
  const tables = buildReportTables(result, opts.command);
  const charts = await renderCharts(result);
  const chartFile = (c: RenderedChart) => `${CHART_DIR}/${c.id}.svg`;
  const { write, files } = await reportWriter(opts.outDir);

  if (formats.includes('html')) await write('report.html', renderHtml(result, tables, charts));
  if (formats.includes('md')) {
    for (const c of charts) await write(chartFile(c), c.svg);
    await write('report.md', renderMarkdown(result, tables, charts, chartFile));
  }
  if (formats.includes('json')) {
    const json: ReportJson = {
      schema: REPORT_JSON_SCHEMA,
      result,
      report: { ...tables, charts: charts.map((c) => ({ id: c.id, kind: c.kind, candidate: c.candidate, file: chartFile(c) })) },
    };
    await write('report.json', JSON.stringify(json, null, 2) + '\n');
  }
  return { files };
}
