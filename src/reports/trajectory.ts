/**
 * The report of a trajectory evaluation (setting 'trajectory'), in the same
 * document style as the bandit report: verdicts first, then the estimates with
 * their intervals, per-step effective sample sizes, the marginal weights of MIS /
 * MDR, the FQE learning curve and the off-policy selection table. HTML (self-contained), Markdown and JSON.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TrajectoryEvaluationResult } from '../core/trajectory-evaluation-result.js';
import { VERDICT_LABELS, verdictOutcomeOf } from '../core/evaluation-result.js';
import { escapeHtml, escapeMarkdownCell, slugify } from './escape.js';
import { formatInterval, formatLevel, formatNumber, formatPercent } from './format.js';
import { REPORT_CSS } from './html-style.js';
import { renderChartSvg } from './svg.js';
import { returnCdfSpec } from './charts/return-cdf.js';

interface Section {
  title: string;
  /** The id of the chart shown with the section (the return-CDF charts). */
  chart?: string;
  /** Paragraphs of plain text. */
  text?: string[];
  table?: { headers: string[]; rows: string[][] };
}

/** At most `max` step indices: 0, evenly spaced ones, and the last. */
export function sampledSteps(H: number, max = 12): number[] {
  if (H <= max) return Array.from({ length: H }, (_, t) => t);
  const out = new Set<number>();
  for (let k = 0; k < max; k++) out.add(Math.round((k * (H - 1)) / (max - 1)));
  return [...out];
}

export function trajectorySections(r: TrajectoryEvaluationResult): Section[] {
  const level = formatLevel(r.settings.alpha);
  const s: Section[] = [];
  s.push({
    title: 'Deploy verdicts',
    text: [
      `Behaviour policy: mean discounted return ${formatNumber(r.behaviour.value)} ${formatInterval(r.behaviour.interval)} over ${r.dataset.episodes} logged episodes (gamma ${r.settings.gamma}).`,
      ...(r.behaviorModel ? [`Behaviour log-probabilities estimated, not logged: ${r.behaviorModel.description}, ${r.behaviorModel.folds}-fold cross-fitted by episode (see "Behaviour model").`] : []),
      ...r.candidates.map((c) => `${VERDICT_LABELS[verdictOutcomeOf(c.verdict)]}: ${c.verdict.sentence}`),
    ],
  });
  if (r.behaviorModel) {
    const bm = r.behaviorModel;
    s.push({
      title: 'Behaviour model',
      text: [
        `${bm.reason === 'absent' ? 'The data has no behavior_logprob column, so' : 'As asked, ignoring the stored behavior_logprob,'} pi_b(a|s) was fitted: ${bm.description}. Each episode's log-probabilities come from the model trained on the other ${bm.folds - 1} of ${bm.folds} folds (seed ${bm.seed}); mean held-out log-likelihood ${formatNumber(bm.heldOutLogLik)} per step.` +
          (bm.boundarySteps ? ` ${bm.boundarySteps} steps have actions on the box bound (modelled as point masses).` : '') +
          (bm.flooredSteps ? ` ${bm.flooredSteps} fitted probabilities were raised to 1e-6.` : ''),
      ],
      table: {
        headers: ['fold', 'held-out log-likelihood per step', ...(bm.uniformShare ? ['uniform share'] : [])],
        rows: bm.foldLogLik.map((ll, k) => [String(k), formatNumber(ll), ...(bm.uniformShare ? [formatNumber(bm.uniformShare[k]!)] : [])]),
      },
    });
  }
  s.push({
    title: `Estimates (${r.settings.interval} intervals at ${level})`,
    table: {
      headers: ['candidate', 'kind', 'estimator', 'value', `${level} interval`, 'true value'],
      rows: r.candidates.flatMap((c) =>
        c.estimates.map((e, i) => [i === 0 ? c.name : '', i === 0 ? c.kind : '', e.estimator.toUpperCase(), formatNumber(e.value), formatInterval(e.interval), i === 0 && c.trueValue !== undefined ? formatNumber(c.trueValue) : '']),
      ),
    },
  });
  for (const c of r.candidates) {
    if (!c.weights) continue;
    const steps = sampledSteps(c.weights.perStep.ess.length);
    s.push({
      title: `Per-step effective sample size: ${c.name}`,
      text: [`Trajectory-wise ESS ${formatNumber(c.weights.ess)} of ${r.dataset.episodes} episodes; largest weight ${formatNumber(c.weights.maxWeight)}.${c.kernel ? ` Kernel bandwidth ${formatNumber(c.kernel.bandwidth)} (${c.kernel.rule}).` : ''}`],
      table: {
        headers: ['step', 'running episodes', 'ESS of w_{0:t}', 'ESS share', 'largest weight share'],
        rows: steps.map((t) => [String(t), String(c.weights!.perStep.episodes[t]), formatNumber(c.weights!.perStep.ess[t]!), formatPercent(c.weights!.perStep.ess[t]! / Math.max(1, c.weights!.perStep.episodes[t]!)), formatPercent(c.weights!.perStep.maxShare[t]!)]),
      },
    });
  }
  s.push(...marginalSections(r));
  for (const c of r.candidates) {
    if (!c.q?.curve || c.q.curve.length === 0) continue;
    s.push({
      title: `Fitted Q evaluation learning curve: ${c.name}`,
      text: [`Q from ${c.q.source}; final held-out TD error ${formatNumber(c.q.heldOutTdError ?? NaN)}.`],
      table: {
        headers: ['updates', 'training loss', 'mean V(s_0)', 'held-out TD error'],
        rows: c.q.curve.map((p) => [String(p.step), formatNumber(p.tdLoss), formatNumber(p.initialValue), formatNumber(p.heldOutTdError)]),
      },
    });
  }
  s.push(...distributionSections(r));
  if (r.selection) {
    const withMetrics = r.selection.rows.some((x) => x.metrics);
    s.push({
      title: 'Off-policy selection',
      text: [
        `Candidates ranked by each estimator's estimate and by its ${level} lower bound; safety threshold ${formatNumber(r.selection.threshold)}, k = ${r.selection.k}.` +
          (r.selection.trueRanking ? ` True ranking (rollouts): ${r.selection.trueRanking.join(' > ')}.` : ''),
      ],
      table: {
        headers: ['estimator', 'ranked by', 'ranking', ...(withMetrics ? ['nMSE', 'Spearman', `regret@${r.selection.k}`, 'Type I', 'Type II', `SharpeRatio@${r.selection.k}`] : [])],
        rows: r.selection.rows.map((x) => [
          x.estimator.toUpperCase(),
          x.by,
          x.ranking.join(' > '),
          ...(withMetrics && x.metrics ? [x.metrics.nmse, x.metrics.spearman, x.metrics.regretAtK, x.metrics.typeI, x.metrics.typeII, x.metrics.sharpeAtK].map((v) => formatNumber(v)) : withMetrics ? ['', '', '', '', '', ''] : []),
        ]),
      },
    });
  }
  const warnings = [...r.warnings.map((w) => `[${w.code}] ${w.message}`), ...r.candidates.flatMap((c) => c.warnings.map((w) => `${c.name}: [${w.code}] ${w.message}`))];
  s.push({ title: 'Warnings', text: warnings.length > 0 ? warnings : ['No warnings.'] });
  return s;
}

/** Per candidate scored by MIS / MDR: how the marginal weights were learned and their diagnostics over the logged steps. */
function marginalSections(r: TrajectoryEvaluationResult): Section[] {
  const out: Section[] = [];
  for (const c of r.candidates) {
    const m = c.marginal;
    if (!m) continue;
    out.push({
      title: `Marginal weights (MIS / MDR): ${c.name}`,
      text: [
        `State-action weights w(s, a) = d_pi(s, a) / d_D(s, a) learned as in ${m.reference}: ${m.k} features, ${m.features}; relative ridge ${m.ridge}; E_{a ~ pi} phi(s, a) ${m.policyExpectation}. ` +
          (m.normalised
            ? `Normalised so that E_D[w (1 - gamma c)] = 1 (it was ${formatNumber(m.scale)} before).`
            : `Not normalised: E_D[w (1 - gamma c)] = ${formatNumber(m.scale)} (1 when the moments hold exactly).`) +
          ` ESS ${formatNumber(m.ess)} of ${r.dataset.steps} logged steps. The MIS / MDR intervals treat these weights as known.`,
      ],
      table: {
        headers: ['ESS', 'ESS share', 'largest weight share', 'mean weight', 'smallest weight', 'largest weight', 'negative share', 'moment residual'],
        rows: [[
          formatNumber(m.ess),
          formatPercent(m.ess / Math.max(1, r.dataset.steps)),
          m.maxShare === undefined ? '' : formatPercent(m.maxShare),
          formatNumber(m.mean),
          formatNumber(m.min),
          formatNumber(m.max),
          formatPercent(m.negativeShare),
          formatNumber(m.residual),
        ]],
      },
    });
  }
  return out;
}

/** The chart id of each candidate with return distributions: cdf-<slug>. */
function cdfChartIds(r: TrajectoryEvaluationResult): Map<string, string> {
  const taken = new Set<string>();
  const out = new Map<string, string>();
  for (const c of r.candidates) if (c.distribution) out.set(c.name, `cdf-${slugify(c.name, taken)}`);
  return out;
}

/** Per candidate: the return's mean, variance, CVaR and quantiles by each CD estimator, against the behaviour policy's. */
function distributionSections(r: TrajectoryEvaluationResult): Section[] {
  const rd = r.returnDistribution;
  if (!rd) return [];
  const ids = cdfChartIds(r);
  const out: Section[] = [];
  for (const c of r.candidates) {
    if (!c.distribution) continue;
    // "value [lower, upper]" when the statistics have bootstrap intervals
    const cell = (v: number | null, b?: { lower: number; upper: number }) => (v !== null && b ? `${formatNumber(v)} [${formatNumber(b.lower)}, ${formatNumber(b.upper)}]` : formatNumber(v));
    const row = (label: string, e: (typeof rd)['behaviour']) => [
      label,
      cell(e.mean, e.intervals?.mean),
      cell(e.variance, e.intervals?.variance),
      cell(e.cvar, e.intervals?.cvar),
      ...e.quantiles.map((q) => cell(q.value, e.intervals?.quantiles.find((b) => b.level === q.level))),
      formatNumber(e.totalMass),
    ];
    out.push({
      title: `Return distribution: ${c.name}`,
      chart: ids.get(c.name)!,
      text: [
        `CDF of the discounted return on a grid of ${rd.grid.length} points (${rd.gridRule}; fractional bins: a return between two grid points splits its weight linearly, which keeps the mean). ` +
          `Raw estimates are projected onto a CDF (isotonic, clipped to [0, 1], 1 at the largest return: "raw mass" is F there before that). CVaR is the mean of the worst ${formatPercent(rd.cvarAlpha, 0)} of returns.` +
          (rd.model ? ` CD-DR / CD-DM model: ${rd.model}.` : '') +
          (rd.intervals ? ` ${intervalSentence(rd.intervals)}` : ''),
      ],
      table: {
        headers: ['estimator', 'mean', 'variance', `CVaR ${rd.cvarAlpha}`, ...rd.quantileLevels.map((q) => `q${q}`), 'raw mass'],
        rows: [...c.distribution.estimates.map((e) => row(e.estimator.toUpperCase(), e)), row('behaviour (logged)', rd.behaviour)],
      },
    });
  }
  return out;
}

/** What the return distribution's intervals are, for the section text. */
function intervalSentence(iv: NonNullable<TrajectoryEvaluationResult['returnDistribution']>['intervals'] & object): string {
  const pct = formatPercent(1 - iv.alpha, 0);
  return (
    `In brackets: ${pct} percentile-bootstrap intervals (${iv.resamples} resamples of the episodes, seed ${iv.seed}; each resample re-estimates the whole CDF on this grid); ` +
    `the shaded band in the chart is the pointwise ${pct} interval of F at each grid point. They assume i.i.d. episodes, and for quantiles and CVaR they are approximate, loosest with few episodes.`
  );
}

/** The return-CDF charts (SVG), by chart id. */
export async function renderTrajectoryCharts(r: TrajectoryEvaluationResult): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [name, id] of cdfChartIds(r)) {
    const c = r.candidates.find((x) => x.name === name)!;
    out.set(id, await renderChartSvg(returnCdfSpec(name, c.distribution!, r.returnDistribution?.behaviour, { gamma: r.settings.gamma, ...(r.returnDistribution?.intervals ? { bandLabel: `pointwise ${formatPercent(1 - r.returnDistribution.intervals.alpha, 0)} band` } : {}) }), id));
  }
  return out;
}

function header(r: TrajectoryEvaluationResult): string {
  const d = r.dataset;
  return `Dataset ${d.ref} · ${d.episodes} episodes · ${d.steps} steps · horizon ${d.horizon} · ${d.discreteActions !== undefined ? `K = ${d.discreteActions} actions` : `${d.actDim}-dimensional actions`} · gamma ${r.settings.gamma}`;
}

/** Markdown; `chartPath(id)` gives the link of a chart rendered beside it (none: no images). */
export function renderTrajectoryMarkdown(r: TrajectoryEvaluationResult, chartPath?: (id: string) => string): string {
  const out = ['# Off-policy evaluation report (trajectories)', '', header(r), ''];
  for (const s of trajectorySections(r)) {
    out.push(`## ${s.title}`, '');
    for (const p of s.text ?? []) out.push(escapeMarkdownCell(p), '');
    if (s.chart && chartPath) out.push(`![${escapeMarkdownCell(s.title)}](${chartPath(s.chart)})`, '');
    if (s.table) {
      out.push(`| ${s.table.headers.map(escapeMarkdownCell).join(' | ')} |`, `| ${s.table.headers.map(() => '---').join(' | ')} |`);
      for (const row of s.table.rows) out.push(`| ${row.map(escapeMarkdownCell).join(' | ')} |`);
      out.push('');
    }
  }
  if (r.command) out.push('## Reproduce', '', '```sh', r.command, '```', '');
  return out.join('\n');
}

/** Self-contained HTML; `charts` (renderTrajectoryCharts) are inlined as SVG. */
export function renderTrajectoryHtml(r: TrajectoryEvaluationResult, charts: ReadonlyMap<string, string> = new Map()): string {
  const e = escapeHtml;
  const parts = [`<header><h1>Off-policy evaluation report (trajectories)</h1><p class="sub">${e(header(r))}</p></header>`];
  for (const s of trajectorySections(r)) {
    parts.push(`<h2>${e(s.title)}</h2>`);
    for (const p of s.text ?? []) parts.push(`<p>${e(p)}</p>`);
    const svg = s.chart ? charts.get(s.chart) : undefined;
    if (svg) parts.push(`<figure class="chart" data-chart="${e(s.chart!)}" data-kind="cdf">${svg}<figcaption>${e(s.title)}</figcaption></figure>`);
    if (s.table) {
      const head = s.table.headers.map((h) => `<th scope="col">${e(h)}</th>`).join('');
      const body = s.table.rows.map((row) => `<tr>${row.map((c) => `<td>${e(c)}</td>`).join('')}</tr>`).join('');
      parts.push(`<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`);
    }
  }
  if (r.command) parts.push(`<h2>Reproduce</h2><pre><code>${e(r.command)}</code></pre>`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Off-policy evaluation report (trajectories)</title><style>${REPORT_CSS}</style></head><body><main>${parts.join('\n')}</main></body></html>\n`;
}

/** Writes report.html / report.md / report.json for a trajectory result into outDir. */
export async function writeTrajectoryReport(r: TrajectoryEvaluationResult, formats: readonly string[], outDir: string): Promise<{ files: string[] }> {
  const dir = path.resolve(outDir);
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  const write = async (name: string, text: string) => {
    const f = path.join(dir, name);
    await writeFile(f, text);
    files.push(f);
  };
  const charts = formats.includes('html') || formats.includes('md') ? await renderTrajectoryCharts(r) : new Map<string, string>();
  const chartPath = (id: string) => `charts/${id}.svg`;
  if (formats.includes('html')) await write('report.html', renderTrajectoryHtml(r, charts));
  if (formats.includes('md')) {
    if (charts.size > 0) await mkdir(path.join(dir, 'charts'), { recursive: true });
    for (const [id, svg] of charts) await write(chartPath(id), svg);
    await write('report.md', renderTrajectoryMarkdown(r, chartPath));
  }
  if (formats.includes('json')) await write('report.json', JSON.stringify({ schema: 'offpolicy.report/1', result: r, report: { sections: trajectorySections(r) } }, null, 2) + '\n');
  return { files };
}
