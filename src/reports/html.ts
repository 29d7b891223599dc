/**
 * The self-contained HTML report: inline CSS and inline SVG charts, no scripts,
 * no network. Every user-provided string is escaped.
 */
import type { EvaluationResult } from '../core/evaluation-result.js';
import type { RenderedChart } from './charts/index.js';
import { escapeHtml } from './escape.js';
import { formatInterval, formatLevel, formatNumber, formatPercent } from './format.js';
import { REPORT_CSS } from './html-style.js';
import { ACCURACY_HEADERS, intervalText, type KeyValueRow, type ReportTables, type WarningRow } from './tables.js';

const e = escapeHtml;

function cell(v: string | number | boolean | undefined | null): string {
  if (typeof v === 'number') return `<td class="num">${e(formatNumber(v))}</td>`;
  if (typeof v === 'boolean') return `<td>${v ? 'yes' : 'no'}</td>`;
  return `<td>${e(v ?? '')}</td>`;
}

function kvTable(rows: KeyValueRow[]): string {
  const body = rows.map((r) => `<tr><th scope="row">${e(r.key)}</th>${cell(r.value)}</tr>`).join('');
  return `<table class="kv"><tbody>${body}</tbody></table>`;
}

function table(headers: string[], rows: string[][], rowClasses?: (string | undefined)[]): string {
  const head = headers.map((h) => `<th scope="col">${e(h)}</th>`).join('');
  const body = rows.map((r, i) => `<tr${rowClasses?.[i] ? ` class="${rowClasses[i]}"` : ''}>${r.join('')}</tr>`).join('');
  return `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

function warningsList(rows: WarningRow[], withScope: boolean): string {
  if (rows.length === 0) return '<p class="none">No warnings.</p>';
  const items = rows
    .map((w) => `<li><code>${e(w.code)}</code>${withScope && w.scope !== 'evaluation' ? `<strong>${e(w.scope)}:</strong> ` : ''}${e(w.message)}</li>`)
    .join('');
  return `<ul class="warnings">${items}</ul>`;
}

function figure(chart: RenderedChart | undefined, caption: string): string {
  if (!chart) return '';
  return `<figure class="chart" data-chart="${e(chart.id)}" data-kind="${chart.kind}">${chart.svg}<figcaption>${e(caption)}</figcaption></figure>`;
}

export function renderHtml(result: EvaluationResult, tables: ReportTables, charts: RenderedChart[]): string {
  const level = formatLevel(result.settings.alpha);
  const ds = result.dataset;
  const parts: string[] = [];
  parts.push(`<header><h1>Off-policy evaluation report</h1><p class="sub">Dataset <code>${e(ds.ref)}</code> · ${e(formatNumber(ds.rowCount))} rows · K = ${e(String(ds.numActions))} actions · ${result.candidates.length} candidate${result.candidates.length === 1 ? '' : 's'} · ${e(result.settings.interval)} intervals at ${e(level)}</p></header>`);

  // Verdicts first: the decision is what the reader came for.
  parts.push('<h2 id="verdicts">Deploy verdicts</h2><div class="verdicts">');
  tables.candidates.forEach((c, i) => {
    const o = tables.overview[i]!;
    const nums = [`${e(o.headlineEstimator.toUpperCase())} estimate ${e(formatNumber(o.estimate))}${o.lower !== undefined ? ` ${e(formatInterval({ lower: o.lower, upper: o.upper! }))}` : ''}`];
    nums.push(`lower bound ${e(formatNumber(o.lowerBound))} (${e(o.lowerBoundSource)}) vs logging ${e(formatNumber(o.baseline))}`);
    if (o.trueValue !== undefined) nums.push(`true value ${e(formatNumber(o.trueValue))}`);
    const cls = { better: ' ok', 'better-with-caveats': ' caveats', worse: ' worse', inconclusive: '' }[o.outcome];
    const caveats = c.caveats.length > 0 ? `<ul class="caveats">${c.caveats.map((k) => `<li><code>${e(k.code)}</code> ${e(k.message)}</li>`).join('')}</ul>` : '';
    parts.push(`<div class="verdict${cls}" data-candidate="${e(c.name)}" data-outcome="${o.outcome}"><span class="badge">${e(c.label)}</span><h3>${e(c.name)}</h3><p class="sentence">${e(c.verdict.sentence)}</p><p class="numbers">${nums.join('<br>')}</p>${caveats}</div>`);
  });
  parts.push('</div>');

  // Overview table.
  const hasTruth = tables.overview.some((o) => o.trueValue !== undefined);
  const estimators = [...new Set(tables.overview.map((o) => o.headlineEstimator))];
  const oneEstimator = estimators.length === 1;
  const ovHeaders = ['candidate', 'verdict'];
  if (!oneEstimator) ovHeaders.push('estimator');
  ovHeaders.push(`${oneEstimator ? `${estimators[0]!.toUpperCase()} ` : ''}estimate [${level} interval]`, 'lower bound', 'ESS (share of n)', 'max weight');
  if (hasTruth) ovHeaders.push('true value');
  parts.push('<h2 id="overview">Candidates at a glance</h2>');
  parts.push(`<p class="sub">Logging policy value: ${e(formatNumber(result.logging.value))}${result.logging.interval ? ` ${e(formatInterval(result.logging.interval))}` : ''}${result.logging.trueValue !== undefined ? ` (true value ${e(formatNumber(result.logging.trueValue))})` : ''}.</p>`);
  parts.push(
    table(
      ovHeaders,
      tables.overview.map((o) => {
        const est = `${formatNumber(o.estimate)}${o.lower !== undefined ? ` ${formatInterval({ lower: o.lower, upper: o.upper! })}` : ''}`;
        const r = [cell(o.candidate), `<td class="label">${e(o.label)}</td>`];
        if (!oneEstimator) r.push(cell(o.headlineEstimator));
        r.push(`<td class="num">${e(est)}</td>`, cell(o.lowerBound), `<td class="num">${e(`${formatNumber(o.ess)} (${formatPercent(o.essRatio)})`)}</td>`, cell(o.maxWeight));
        if (hasTruth) r.push(cell(o.trueValue));
        return r;
      }),
    ),
  );

  parts.push('<h2 id="dataset">Dataset and logging policy</h2><div class="cols">');
  parts.push(`<div><h3>Dataset</h3>${kvTable(tables.dataset)}</div>`);
  parts.push(`<div><h3>Logging policy</h3>${kvTable(tables.logging)}<h3>Settings</h3>${kvTable(tables.settings)}</div>`);
  parts.push('</div>');

  if (tables.rewardModel.length > 0) {
    parts.push('<h2 id="reward-model">Reward model fit</h2><p class="sub">Quality on rows the model did not see; DM rests on it, DR corrects its errors.</p>');
    parts.push(kvTable(tables.rewardModel));
  }
  parts.push('<h2 id="warnings">Warnings</h2>');
  parts.push(warningsList(tables.warnings.filter((w) => w.scope === 'evaluation'), false));

  tables.candidates.forEach((c, i) => {
    const forest = charts.filter((ch) => ch.kind === 'forest')[i];
    const weights = charts.filter((ch) => ch.kind === 'weights')[i];
    parts.push(`<section class="candidate" id="candidate-${i + 1}"><h2>Candidate: ${e(c.name)}</h2><p class="sub">Source: <code>${e(c.source)}</code></p>`);
    const truth = c.trueValue !== undefined;
    parts.push(figure(forest, `Each estimator's value and ${level} interval (a variance interval for the estimators biased by design: see the table). Reference lines: the logging policy's value${truth ? ' and the true values (synthetic data)' : ''}.`));
    parts.push('<h3>Estimators</h3>');
    const headers = ['estimator', 'value', 'lower', 'upper', 'interval', 'std. error', 'verdict'];
    if (truth) headers.push('error vs truth');
    const headlineName = tables.overview[i]!.headlineEstimator;
    parts.push(
      table(
        headers,
        c.estimates.map((r) => {
          const row = [cell(r.estimator), cell(r.value), cell(r.lower), cell(r.upper), `<td data-covers="${r.covers ?? ''}">${e(intervalText(r))}</td>`, cell(r.stdError), `<td class="label">${r.decided ? e(c.label) : ''}</td>`];
          if (truth) row.push(cell(r.error));
          return row;
        }),
        c.estimates.map((r) => (r.estimator === headlineName ? 'headline' : undefined)),
      ),
    );
    if (c.estimates.some((r) => r.covers === 'variance')) parts.push('<p class="sub">Variance intervals belong to estimators biased by design: they show the estimate\'s spread and do not cover the policy value.</p>');
    parts.push('<h3>PAC-Bayes certificates</h3>');
    parts.push(
      c.certificates.length === 0
        ? '<p class="none">No certificates were computed.</p>'
        : table(
            ['certificate', 'value at least', 'value at most', 'holds with prob.', 'verdict'],
            c.certificates.map((k) => [cell(k.kind), cell(k.lower), cell(k.upper), cell(k.level), `<td class="label">${k.decided ? e(c.label) : ''}</td>`]),
          ) +
            `<details class="internals"><summary>Certificate internals</summary>${table(['certificate', 'parameters'], c.certificates.map((k) => [cell(k.kind), cell(k.params)]))}</details>`,
    );
    parts.push('<h3>Weight and propensity diagnostics</h3><div class="cols">');
    parts.push(`<div>${figure(weights, 'Importance weights w = π(a|x) / p of the logged actions; dashed line at w = 1.')}</div>`);
    const q = c.weightQuantiles.length ? table(['quantile', 'weight'], c.weightQuantiles.map((w) => [cell(`q${Math.round(w.q * 100)}`), cell(w.value)])) : '';
    parts.push(`<div>${kvTable(c.diagnostics)}${q}</div></div>`);
    if (c.warnings.length > 0) parts.push('<h3>Warnings</h3>', warningsList(c.warnings, false));
    parts.push('</section>');
  });

  if (tables.accuracy && tables.accuracy.length > 0) {
    parts.push('<h2 id="accuracy">Estimator accuracy against the true values</h2>');
    if (tables.accuracyNote) parts.push(`<p class="sub">${e(tables.accuracyNote)}</p>`);
    const cols = tables.accuracyColumns;
    parts.push(table(['estimator', ...cols.map((k) => ACCURACY_HEADERS[k])], tables.accuracy.map((a) => [cell(a.estimator), ...cols.map((k) => cell(a[k]))])));
  } else if (tables.accuracyNote) {
    parts.push(`<p class="none">${e(tables.accuracyNote)}</p>`);
  }

  parts.push('<h2 id="glossary">Glossary</h2><dl class="glossary">');
  for (const g of tables.glossary) parts.push(`<dt>${e(g.term)}</dt><dd>${e(g.text)}</dd>`);
  parts.push('</dl>');

  const r = tables.reproduction;
  const repro = [
    ...(r.ingestCommand ? ['# dataset', r.ingestCommand, ''] : []),
    `# evaluation command`,
    r.command ?? '(not recorded)',
    ...(r.reportCommand ? ['', '# report command', r.reportCommand] : []),
    '',
    `toolkit version: offpolicy ${r.toolkitVersion}`,
    `dataset:         ${r.datasetRef}`,
    `content hash:    ${r.contentHash}`,
    `seed:            ${r.seed}`,
    ...(r.createdAt ? [`evaluated at:    ${r.createdAt}`] : []),
    ...(r.candidateHashes.length > 0 ? ['', '# candidate files (sha256)', ...r.candidateHashes.map((h) => `${h.sha256}  ${h.source}`)] : []),
  ].join('\n');
  parts.push(`<h2 id="reproduce">Reproduce</h2><pre class="repro">${e(repro)}</pre>`);
  parts.push(`<footer>Generated by offpolicy ${e(r.toolkitVersion)}. This page is self-contained: it loads nothing from the network.</footer>`);

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Off-policy evaluation report: ${e(ds.ref)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<main>
${parts.join('\n')}
</main>
</body>
</html>
`;
}
