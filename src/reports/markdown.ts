/** The Markdown report: the same content as the HTML page, charts linked as SVG files beside it. */
import type { EvaluationResult } from '../core/evaluation-result.js';
import type { RenderedChart } from './charts/index.js';
import { escapeMarkdownCell, markdownCode, markdownCodeBlock } from './escape.js';
import { formatInterval, formatLevel, formatNumber, formatPercent } from './format.js';
import { ACCURACY_HEADERS, intervalText, type KeyValueRow, type ReportTables, type WarningRow } from './tables.js';

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
    out.push(`- **${escapeMarkdownCell(c.label)}: ${escapeMarkdownCell(c.name)}**: ${escapeMarkdownCell(c.verdict.sentence)}`);
    const extra = [`${o.headlineEstimator.toUpperCase()} estimate ${formatNumber(o.estimate)}${o.lower !== undefined ? ` ${formatInterval({ lower: o.lower, upper: o.upper! })}` : ''}`];
    if (o.trueValue !== undefined) extra.push(`true value ${formatNumber(o.trueValue)}`);
    out.push(`  (${escapeMarkdownCell(extra.join('; '))})`);
    for (const k of c.caveats) out.push(`  - caveat **${escapeMarkdownCell(k.code)}**: ${escapeMarkdownCell(k.message)}`);
  });
  out.push('');

  const hasTruth = tables.overview.some((o) => o.trueValue !== undefined);
  out.push('## Candidates at a glance', '');
  const h = ['candidate', 'verdict', 'decided by', 'estimate', 'interval', 'lower bound', 'logging value', 'ESS', 'ESS / n', 'max weight'];
  if (hasTruth) h.push('true value');
  out.push(
    table(
      h,
      tables.overview.map((o) => {
        const r: Cell[] = [o.candidate, o.label, o.lowerBoundSource, o.estimate, o.lower !== undefined ? formatInterval({ lower: o.lower, upper: o.upper! }) : '', o.lowerBound, o.baseline, o.ess, formatPercent(o.essRatio), o.maxWeight];
        if (hasTruth) r.push(o.trueValue);
        return r;
      }),
      [false, false, false, true, true, true, true, true, true, true, true],
    ),
    '',
  );

  out.push('## Dataset', '', kv(tables.dataset), '', '## Logging policy', '', kv(tables.logging), '', '## Settings', '', kv(tables.settings), '');
  if (tables.rewardModel.length > 0) out.push('## Reward model fit', '', "Quality on rows the model did not see; DM rests on it, DR corrects its errors.", '', kv(tables.rewardModel), '');
  out.push('## Warnings', '', warnings(tables.warnings.filter((w) => w.scope === 'evaluation'), false), '');

  const forests = charts.filter((c) => c.kind === 'forest');
  const hists = charts.filter((c) => c.kind === 'weights');
  tables.candidates.forEach((c, i) => {
    const truth = c.trueValue !== undefined;
    out.push(`## Candidate: ${escapeMarkdownCell(c.name)}`, '', `Source: ${markdownCode(c.source)}`, '');
    if (forests[i]) out.push(`![${escapeMarkdownCell(forests[i].title)}](${chartPath(forests[i])})`, '');
    out.push('### Estimators', '');
    const eh = ['estimator', 'value', 'lower', 'upper', 'interval', 'std. error', 'verdict'];
    if (truth) eh.push('error vs truth');
    out.push(
      table(
        eh,
        c.estimates.map((r) => {
          const row: Cell[] = [r.estimator, r.value, r.lower, r.upper, intervalText(r), r.stdError, r.decided ? c.label : ''];
          if (truth) row.push(r.error);
          return row;
        }),
        [false, true, true, true, false, true, false, true],
      ),
      '',
    );
    if (c.estimates.some((r) => r.covers === 'variance')) out.push('_Variance intervals belong to estimators biased by design: they show the estimate\'s spread and do not cover the policy value._', '');
    out.push('### PAC-Bayes certificates', '');
    if (c.certificates.length === 0) out.push('_No certificates were computed._', '');
    else {
      out.push(table(['certificate', 'value at least', 'value at most', 'holds with prob.', 'verdict'], c.certificates.map((k) => [k.kind, k.lower, k.upper, k.level, k.decided ? c.label : '']), [false, true, true, false, false]), '');
      out.push(`Certificate internals: ${c.certificates.map((k) => `${escapeMarkdownCell(k.kind)} (${escapeMarkdownCell(k.params)})`).join('; ')}.`, '');
    }
    out.push('### Weight and propensity diagnostics', '');
    if (hists[i]) out.push(`![${escapeMarkdownCell(hists[i].title)}](${chartPath(hists[i])})`, '');
    out.push(kv(c.diagnostics), '');
    if (c.weightQuantiles.length) out.push(table(['quantile', 'weight'], c.weightQuantiles.map((w) => [`q${Math.round(w.q * 100)}`, w.value]), [false, true]), '');
    if (c.warnings.length > 0) out.push('### Warnings', '', warnings(c.warnings, false), '');
  });

  if (tables.accuracy && tables.accuracy.length > 0) {
    out.push('## Estimator accuracy against the true values', '');
    if (tables.accuracyNote) out.push(escapeMarkdownCell(tables.accuracyNote), '');
    const cols = tables.accuracyColumns;
    out.push(table(['estimator', ...cols.map((k) => ACCURACY_HEADERS[k])], tables.accuracy.map((a) => [a.estimator, ...cols.map((k) => a[k])])), '');
  } else if (tables.accuracyNote) {
    out.push(`_${escapeMarkdownCell(tables.accuracyNote)}_`, '');
  }

  out.push('## Glossary', '');
  for (const g of tables.glossary) out.push(`- **${escapeMarkdownCell(g.term)}**: ${escapeMarkdownCell(g.text)}`);
  out.push('');

  const r = tables.reproduction;
  const commands = [
    ...(r.ingestCommand ? ['# dataset', r.ingestCommand] : []),
    '# evaluation command',
    r.command ?? '(not recorded)',
    ...(r.reportCommand ? ['# report command', r.reportCommand] : []),
    ...(r.candidateHashes.length > 0 ? ['# candidate files (sha256)', ...r.candidateHashes.map((h) => `# ${h.sha256}  ${h.source}`)] : []),
  ];
  out.push('## Reproduce', '', markdownCodeBlock(commands.join('\n'), 'sh'), '');
  out.push(table(['', 'value'], [['toolkit version', `offpolicy ${r.toolkitVersion}`], ['dataset', r.datasetRef], ['content hash', r.contentHash], ['seed', r.seed], ...(r.createdAt ? [['evaluated at', r.createdAt] as Cell[]] : [])], [false, false]), '');
  return out.join('\n');
}
