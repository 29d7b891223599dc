/** The report layer: EvaluationResult -> HTML / Markdown / JSON documents and SVG charts. */
export { renderReport, parseReportFormats, REPORT_FORMATS, type ReportFormat, type RenderReportOptions, type ReportJson } from './render.js';
export { loadEvaluationResult, loadAnyEvaluationResult, checkEvaluationResult, checkSlateEvaluationResult, RESULT_SCHEMA, SLATE_RESULT_SCHEMA, type ReportableResult } from './load-result.js';
export { writeSlateReport, slateSections } from './slate.js';
export { buildReportTables, headlineEstimate, allWarnings, type ReportTables } from './tables.js';
export { forestPlotSpec, forestDomain } from './charts/forest-plot.js';
export { weightHistogramSpec } from './charts/weight-histogram.js';
export { renderCharts, type RenderedChart } from './charts/index.js';
export { renderChartSvg, countSvgMarks } from './svg.js';
export { escapeHtml } from './escape.js';
export { shellCommand, shellQuote } from './command-line.js';
export { renderRobustnessReport, buildRobustnessTable, type RobustnessTable } from './robustness.js';
export { robustnessChartSpec } from './charts/robustness.js';
export { loadRobustnessStudy, checkRobustnessStudy } from './load-result.js';
