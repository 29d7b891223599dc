/** The Markdown report: the same content as the HTML page, charts linked as SVG files beside it. */
import type { EvaluationResult } from '../core/evaluation-result.js';
import type { RenderedChart } from './charts/index.js';
import { escapeMarkdownCell, markdownCode, markdownCodeBlock } from './escape.js';
import { formatInterval, formatLevel, formatNumber, formatPercent } from './format.js';
import type { KeyValueRow, ReportTables, WarningRow } from './tables.js';

type Cell = string | number | boolean | undefined | null;

function md(v: Cell): string {
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return escapeMarkdownCell(v ?? '');
}

function table(headers: string[], rows: Cell[][], numeric?: boolean[]): string {
  const align = headers.map((_, j) => (numeric?.[j] ?? rows.every((r) => typeof r[j] === 'number' || r[j] === undefined) ? '---:' : '---'));
  return [`| ${headers.map(md).join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows.map((r) => `| ${r.map(md).join(' | ')} |`)].join('\n');
}

function kv(rows: KeyValueRow[]): string {
  return table(['', 'value'], rows.map((r) => [r.key, r.value]), [false, false]);
}

function warnings(rows: WarningRow[], withScope: boolean): string {
  if (rows.length === 0) return '_No warnings._';
  return rows.map((w) => `- **${escapeMarkdownCell(w.code)}**${withScope && w.scope !== 'evaluation' ? ` (${escapeMarkdownCell(w.scope)})` : ''}: ${escapeMarkdownCell(w.message)}`).join('\n');
}

/** `chartPath(chart)` gives the link written for a chart (relative to the Markdown file). */
export function renderMarkdown(result: EvaluationResult, tables: ReportTables, charts: RenderedChart[], chartPath: (c: RenderedChart) => string): string {
  const level = formatLevel(result.settings.alpha);
  const ds = result.dataset;
  const out: string[] = [];
  out.push('# Off-policy evaluation report', '');
  out.push(`Dataset ${markdownCode(ds.ref)} · ${formatNumber(ds.rowCount)} rows · K = ${ds.numActions} actions · ${result.candidates.length} candidates · ${escapeMarkdownCell(result.settings.interval)} intervals at ${level}`, '');

  out.push('## Deploy verdicts', '');
  tables.candidates.forEach((c, i) => {
    const o = tables.overview[i]!;
    out.push(`- **${c.verdict.recommended ? 'RECOMMENDED' : 'NOT RECOMMENDED'}: ${escapeMarkdownCell(c.name)}**: ${escapeMarkdownCell(c.verdict.sentence)}`);
    const extra = [`${o.headlineEstimator.toUpperCase()} estimate ${formatNumber(o.estimate)}${o.lower !== undefined ? ` ${formatInterval({ lower: o.lower, upper: o.upper! })}` : ''}`];
    if (o.trueValue !== undefined) extra.push(`true value ${formatNumber(o.trueValue)}`);
    out.push(`  (${escapeMarkdownCell(extra.join('; '))})`);
  });
  out.push('');

  const hasTruth = tables.overview.some((o) => o.trueValue !== undefined);
  out.push('## Candidates at a glance', '');
  const h = ['candidate', 'verdict', 'estimator', 'estimate', 'interval', 'lower bound', 'logging value', 'ESS', 'ESS / n', 'max weight'];
  if (hasTruth) h.push('true value');
  out.push(
    table(
      h,
      tables.overview.map((o) => {
        const r: Cell[] = [o.candidate, o.recommended ? 'recommended' : 'not recommended', o.headlineEstimator, o.estimate, o.lower !== undefined ? formatInterval({ lower: o.lower, upper: o.upper! }) : '', o.lowerBound, o.baseline, o.ess, formatPercent(o.essRatio), o.maxWeight];
        if (hasTruth) r.push(o.trueValue);
        return r;
      }),
      [false, false, false, true, true, true, true, true, true, true, true],
    ),
    '',
  );

  out.push('## Dataset', '', kv(tables.dataset), '', '## Logging policy', '', kv(tables.logging), '', '## Settings', '', kv(tables.settings), '');
  out.push('## Warnings', '', warnings(tables.warnings, true), '');

  const forests = charts.filter((c) => c.kind === 'forest');
  const hists = charts.filter((c) => c.kind === 'weights');
  tables.candidates.forEach((c, i) => {
    const truth = c.trueValue !== undefined;
    out.push(`## Candidate: ${escapeMarkdownCell(c.name)}`, '', `Source: ${markdownCode(c.source)}`, '');
    if (forests[i]) out.push(`![${escapeMarkdownCell(forests[i].title)}](${chartPath(forests[i])})`, '');
    out.push('### Estimators', '');
    const eh = ['estimator', 'value', 'lower', 'upper', 'interval', 'std. error'];
    if (truth) eh.push('error vs truth');
    out.push(
      table(
        eh,
        c.estimates.map((r) => {
          const row: Cell[] = [r.estimator, r.value, r.lower, r.upper, r.method ? `${r.method} ${r.level}` : '', r.stdError];
          if (truth) row.push(r.error);
          return row;
        }),
        [false, true, true, true, false, true, true],
      ),
      '',
    );
    out.push('### PAC-Bayes certificates', '');
    out.push(
      c.certificates.length === 0
        ? '_No certificates were computed._'
        : table(['certificate', 'value ≥ (lower)', 'value ≤ (upper)', 'holds with prob.', 'parameters'], c.certificates.map((k) => [k.kind, k.lower, k.upper, k.level, k.params]), [false, true, true, false, false]),
      '',
    );
    out.push('### Weight and propensity diagnostics', '');
    if (hists[i]) out.push(`![${escapeMarkdownCell(hists[i].title)}](${chartPath(hists[i])})`, '');
    out.push(kv(c.diagnostics), '');
    if (c.weightQuantiles.length) out.push(table(['quantile', 'weight'], c.weightQuantiles.map((w) => [`q${Math.round(w.q * 100)}`, w.value]), [false, true]), '');
    out.push('### Warnings', '', warnings(c.warnings, false), '');
  });

  if (tables.accuracy && tables.accuracy.length > 0) {
    out.push('## Estimator accuracy against the true values', '');
    out.push(table(['estimator', 'relative error', 'squared error', 'Spearman', 'regret@k', 'Sharpe@k', 'k'], tables.accuracy.map((a) => [a.estimator, a.relativeError, a.squaredError, a.spearman, a.regretAtK, a.sharpeAtK, a.k])), '');
  }

  const r = tables.reproduction;
  const commands = ['# evaluation command', r.command ?? '(not recorded)', ...(r.reportCommand ? ['# report command', r.reportCommand] : [])];
  out.push('## Reproduce', '', markdownCodeBlock(commands.join('\n'), 'sh'), '');
  out.push(table(['', 'value'], [['toolkit version', `offpolicy ${r.toolkitVersion}`], ['dataset', r.datasetRef], ['content hash', r.contentHash], ['seed', r.seed], ...(r.createdAt ? [['evaluated at', r.createdAt] as Cell[]] : [])], [false, false]), '');
  return out.join('\n');
}
