/**
 * The report of a slate evaluation (schema offpolicy.slate-evaluation/1, from
 * `offpolicy evaluate` on a log with a slate_id column), in the bandit report's
 * document style: each candidate against the logging policy, the estimates with
 * their t intervals and a forest plot per candidate, diagnostics, warnings, what
 * each estimator assumes, and how to reproduce. HTML, Markdown (+ SVG files), JSON.
 */
import type { Estimate } from '../core/evaluation-result.js';
import type { SlateEvaluationResult } from '../core/slate-evaluation-result.js';
import { forestDomain, forestPlotSpec } from './charts/forest-plot.js';
import { slugify } from './escape.js';
import { formatInterval, formatLevel, formatNumber } from './format.js';
import { renderSectionsHtml, renderSectionsMarkdown, type ReportSection, type SectionsDocument } from './sections.js';
import { renderChartSvg } from './svg.js';
import { reportWriter } from './write.js';

/** What each slate estimator weights by and assumes of the reward (Open Bandit Pipeline's estimators). */
const SLATE_ESTIMATORS: Record<string, string> = {
  sips: 'SIPS: weights every slot by the whole slate\'s probability ratio; assumes nothing about the reward, and has the largest variance.',
  iips: 'IIPS: weights each slot by the ratio of its marginal item-position probabilities; unbiased only if a slot\'s reward depends on that slot\'s action alone.',
  rips: 'RIPS: weights each slot by the ratio of the probabilities of the actions at and above it; unbiased under the cascade assumption.',
  'cascade-dr': 'Cascade-DR: RIPS with the candidate\'s Q-hat as a control variate (doubly robust); unbiased under the cascade assumption when either the weights or Q-hat are right.',
};

/** Where an interval lies against the logging value. */
function against(e: Estimate, logging: number): 'above' | 'below' | 'contains it' | '' {
  if (!e.interval) return '';
  if (e.interval.lower > logging) return 'above';
  if (e.interval.upper < logging) return 'below';
  return 'contains it';
}

/** The sections of the report; `figures` holds the rendered forest plots (one per candidate, in order). */
export function slateSections(r: SlateEvaluationResult, figures: ReportSection['figures'] = []): ReportSection[] {
  const level = formatLevel(r.settings.alpha);
  const lv = r.logging.value;
  const s: ReportSection[] = [];
  s.push({
    title: 'Candidates against the logging policy',
    text: [
      `Slate evaluations compute no deploy verdict; each line counts the estimators whose ${level} interval lies above, below or around the logging value ${formatNumber(lv)}. Trust only the estimators whose assumption holds (Estimators, below).`,
      ...r.candidates.map((c) => {
        const where = c.estimates.map((e) => against(e, lv));
        const n = (w: string) => c.estimates.filter((_, i) => where[i] === w).map((e) => e.estimator.toUpperCase());
        const part = (w: string, label: string) => (n(w).length > 0 ? `${label}: ${n(w).join(', ')}` : '');
        const parts = [part('above', 'above'), part('contains it', 'contains it'), part('below', 'below'), part('', 'no interval')].filter((x) => x !== '');
        return `${c.name}: ${parts.join('; ')}.`;
      }),
    ],
  });
  s.push({
    title: 'Logging policy',
    text: [`Mean over ${r.dataset.slates} slates of the summed slot rewards: ${formatNumber(lv)}${r.logging.interval ? ` ${formatInterval(r.logging.interval)} (${level} t interval)` : ''}.`],
  });
  s.push({
    title: `Estimates (t intervals over slates at ${level})`,
    text: ['Values are per slate: the expected sum of the slot rewards of one slate under the candidate.'],
    figures,
    table: {
      headers: ['candidate', 'estimator', 'value', 'lower', 'upper', 'std. error', 'interval vs logging value'],
      numeric: [false, false, true, true, true, true, false],
      rows: r.candidates.flatMap((c) =>
        c.estimates.map((e, i) => [i === 0 ? c.name : '', e.estimator.toUpperCase(), formatNumber(e.value), formatNumber(e.interval?.lower), formatNumber(e.interval?.upper), formatNumber(e.diagnostics.stdError), against(e, lv)]),
      ),
    },
  });
  s.push({
    title: 'Diagnostics',
    text: ['Spread: the largest minus the smallest estimate across estimators; a spread wider than the intervals means the estimators\' assumptions disagree on this log.'],
    table: {
      headers: ['candidate', 'source', 'slates', 'positions', 'estimators', 'spread of estimates', 'largest std. error'],
      numeric: [false, false, true, true, true, true, true],
      rows: r.candidates.map((c) => {
        const values = c.estimates.map((e) => e.value);
        const se = c.estimates.map((e) => e.diagnostics.stdError).filter((v): v is number => v !== undefined);
        return [
          c.name,
          c.source,
          formatNumber(c.estimates[0]?.diagnostics.slates ?? r.dataset.slates),
          formatNumber(c.estimates[0]?.diagnostics.slateLength ?? r.dataset.slateLength),
          String(c.estimates.length),
          values.length > 0 ? formatNumber(Math.max(...values) - Math.min(...values)) : '',
          se.length > 0 ? formatNumber(Math.max(...se)) : '',
        ];
      }),
    },
  });
  const warnings = [...r.warnings.map((w) => `[${w.code}] ${w.message}`), ...r.candidates.flatMap((c) => c.warnings.map((w) => `${c.name}: [${w.code}] ${w.message}`))];
  s.push({ title: 'Warnings', text: warnings.length > 0 ? warnings : ['No warnings.'] });
  s.push({ title: 'Estimators', text: r.settings.estimators.map((id) => SLATE_ESTIMATORS[id] ?? id) });
  const d = r.dataset;
  s.push({
    title: 'Reproduction',
    table: {
      headers: ['', 'value'],
      rows: [
        ['toolkit version', `offpolicy ${r.toolkitVersion}`],
        ['dataset', d.ref],
        ['content hash', d.contentHash],
        ['evaluated at', r.createdAt],
        ...r.candidates.map((c) => [`candidate ${c.name}`, c.source]),
      ],
    },
  });
  return s;
}

/** `reportCommand`: the `offpolicy report` command, shown after the evaluation's. */
export function slateDocument(r: SlateEvaluationResult, figures: ReportSection['figures'] = [], reportCommand?: string): SectionsDocument {
  const d = r.dataset;
  const command = [...(r.command ? ['# evaluation command', r.command] : []), ...(reportCommand ? ['# report command', reportCommand] : [])].join('\n');
  return {
    title: 'Off-policy evaluation report (slates)',
    subtitle: `Dataset ${d.ref} · ${d.slates} slates of ${d.slateLength} positions (${d.rowCount} rows) · K = ${d.numActions} actions · ${r.candidates.length} candidate${r.candidates.length === 1 ? '' : 's'} · t intervals at ${formatLevel(r.settings.alpha)}`,
    sections: slateSections(r, figures),
    ...(command ? { command } : {}),
  };
}

/** Writes report.html / report.md (+ charts/*.svg) / report.json for a slate result into outDir. */
export async function writeSlateReport(r: SlateEvaluationResult, formats: readonly string[], outDir: string, reportCommand?: string): Promise<{ files: string[] }> {
  const { write, files } = await reportWriter(outDir);
  const domain = forestDomain(r);
  const taken = new Set<string>();
  const figures: NonNullable<ReportSection['figures']> = [];
  for (const c of r.candidates) {
    const id = `forest-${slugify(c.name, taken)}`;
    figures.push({ id, title: `Estimates and intervals for ${c.name}`, svg: await renderChartSvg(forestPlotSpec(r, c, { domain }), id), file: `charts/${id}.svg` });
  }
  const doc = slateDocument(r, figures, reportCommand);
  if (formats.includes('html')) await write('report.html', renderSectionsHtml(doc));
  if (formats.includes('md')) {
    for (const f of figures) await write(f.file, f.svg);
    await write('report.md', renderSectionsMarkdown(doc));
  }
  if (formats.includes('json')) {
    const sections = doc.sections.map(({ figures: fs, ...rest }) => (fs && fs.length > 0 ? { ...rest, figures: fs.map(({ svg: _svg, ...f }) => f) } : rest));
    await write('report.json', JSON.stringify({ schema: 'offpolicy.report/1', result: r, report: { sections } }, null, 2) + '\n');
  }
  return { files };
}
