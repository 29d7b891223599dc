/**
 * `offpolicy report` on a slate evaluation result: a synthetic slate log is
 * ingested and evaluated with evaluateSlates(); the report (HTML, Markdown with
 * SVG files, JSON) shows every estimate with its interval, where it lies against
 * the logging value, the diagnostics and the warnings. Malformed slate results
 * are refused with E_RESULTS_SCHEMA naming the broken field.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlateEvaluationResult } from '../src/core/slate-evaluation-result.js';
import { ingest } from '../src/datasets/ingest/index.js';
import { generateSlateLog } from '../src/datasets/synthetic/slate.js';
import { Workspace } from '../src/datasets/workspace.js';
import { evaluateSlates } from '../src/ope/slate/evaluate.js';
import { escapeMarkdownCell } from '../src/reports/escape.js';
import { formatNumber } from '../src/reports/format.js';
import { loadAnyEvaluationResult } from '../src/reports/load-result.js';
import { renderReport } from '../src/reports/render.js';
import { countSvgMarks } from '../src/reports/svg.js';
import { runCli } from './support/run-cli.js';

const K = 4;
const g = generateSlateLog({ slates: 200, actions: K, slateLength: 3, rewardStructure: 'cascade_additive', interactionScale: 1, seed: 5 });
let dir: string;
let result: SlateEvaluationResult;
let resultFile: string;

async function csv(name: string, header: string[], row: (r: number) => number[]): Promise<string> {
  const f = path.join(dir, name);
  await writeFile(f, [header.join(','), ...Array.from({ length: g.slateId.length }, (_, r) => row(r).join(','))].join('\n') + '\n');
  return f;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-report-slate-'));
  const ws = await Workspace.open(path.join(dir, 'ws'));
  const log = await csv('slates.csv', ['slate_id', 'position', 'action', 'reward', 'pscore', 'pscore_item_position', 'pscore_cascade'], (r) => [
    g.slateId[r]!, g.position[r]!, g.action[r]!, g.reward[r]!, g.pscore[r]!, g.pscoreItemPosition[r]!, g.pscoreCascade[r]!,
  ]);
  await ingest(ws, log, { name: 'slates' });
  const cand = await csv('cand.csv', ['slate_id', 'position', 'pscore', 'pscore_item_position', 'pscore_cascade'], (r) => [
    g.slateId[r]!, g.position[r]!, g.evaluationPscore[r]!, g.evaluationPscoreItemPosition[r]!, g.evaluationPscoreCascade[r]!,
  ]);
  result = await evaluateSlates(ws, { data: 'slates', policies: [{ name: 'pl|top', spec: cand }], command: 'offpolicy evaluate --data slates --policy pl=cand.csv' });
  resultFile = path.join(dir, 'slate-results.json');
  await writeFile(resultFile, JSON.stringify(result));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Where an interval lies against a value, computed here independently of the report. */
function side(i: { lower: number; upper: number }, v: number): string {
  return i.lower > v ? 'above' : i.upper < v ? 'below' : 'contains it';
}

describe('the slate report', () => {
  it('renders every estimate with its interval, its side of the logging value, diagnostics and warnings in HTML, Markdown and JSON', async () => {
    const out = path.join(dir, 'report');
    const { files } = await renderReport(await loadAnyEvaluationResult(resultFile), { formats: ['html', 'md', 'json'], outDir: out, command: 'offpolicy report --results slate-results.json' });
    expect(files.map((f) => path.relative(out, f)).sort()).toEqual(['charts/forest-pl-top.svg', 'report.html', 'report.json', 'report.md']);
    const md = await readFile(path.join(out, 'report.md'), 'utf8');
    const html = await readFile(path.join(out, 'report.html'), 'utf8');
    expect(md).toContain('# Off-policy evaluation report (slates)');
    expect(md).toContain('Dataset slates@1 · 200 slates of 3 positions (600 rows) · K = 4 actions · 1 candidate · t intervals at 95%');
    expect(result.settings.estimators).toEqual(['sips', 'iips', 'rips']);
    const lv = result.logging.value;
    const est = result.candidates[0]!.estimates;
    expect(est).toHaveLength(3);
    est.forEach((e, i) => {
      // The user's name is escaped in Markdown (a pipe would end the cell) and in HTML.
      const row = `| ${i === 0 ? 'pl\\|top' : ''} | ${e.estimator.toUpperCase()} | ${formatNumber(e.value)} | ${formatNumber(e.interval!.lower)} | ${formatNumber(e.interval!.upper)} | ${formatNumber(e.diagnostics.stdError)} | ${side(e.interval!, lv)} |`;
      expect(md).toContain(row);
      expect(html).toContain(`<td>${e.estimator.toUpperCase()}</td><td class="num">${formatNumber(e.value)}</td><td class="num">${formatNumber(e.interval!.lower)}</td>`);
    });
    expect(md).toContain(escapeMarkdownCell(`Mean over 200 slates of the summed slot rewards: ${formatNumber(lv)} [${formatNumber(result.logging.interval!.lower)}, ${formatNumber(result.logging.interval!.upper)}] (95% t interval).`));
    const bySide = (s: string) => est.filter((e) => side(e.interval!, lv) === s).map((e) => e.estimator.toUpperCase());
    const summary = [['above', 'above'], ['contains it', 'contains it'], ['below', 'below']].filter(([s]) => bySide(s!).length > 0).map(([s, l]) => `${l}: ${bySide(s!).join(', ')}`);
    expect(md).toContain(`pl\\|top: ${summary.join('; ')}.`);
    const values = est.map((e) => e.value);
    const spread = formatNumber(Math.max(...values) - Math.min(...values));
    expect(md).toContain(`| pl\\|top | ${escapeMarkdownCell(result.candidates[0]!.source)} | 200 | 3 | 3 | ${spread} | ${formatNumber(Math.max(...est.map((e) => e.diagnostics.stdError!)))} |`);
    // The estimators' assumptions arrive as warnings and in the Estimators section.
    expect(md).toContain("pl\\|top: \\[SLATE_ASSUMPTION\\] iips is unbiased only if the reward at a position depends on that position's action alone");
    expect(md).toContain('RIPS: weights each slot by the ratio of the probabilities of the actions at and above it');
    expect(md).not.toContain('Cascade-DR:');
    expect(md).toContain('![Estimates and intervals for pl\\|top](charts/forest-pl-top.svg)');
    expect(md).toContain('# evaluation command\noffpolicy evaluate --data slates --policy pl=cand.csv\n# report command\noffpolicy report --results slate-results.json');
    // The forest plot: one interval rule and one point per estimator.
    const svg = await readFile(path.join(out, 'charts', 'forest-pl-top.svg'), 'utf8');
    expect(countSvgMarks(svg)).toBeGreaterThan(10);
    expect(html).toContain('<h1>Off-policy evaluation report (slates)</h1>');
    expect(html).toContain('<td>pl|top</td><td>SIPS</td>');
    expect(html).toMatch(/<figure class="chart" data-chart="forest-pl-top"><svg/);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    const json = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')) as { schema: string; result: SlateEvaluationResult; report: { sections: { title: string; figures?: { file: string; svg?: string }[] }[] } };
    expect(json.schema).toBe('offpolicy.report/1');
    expect(json.result).toEqual(result);
    expect(json.report.sections.map((s) => s.title)).toEqual(['Candidates against the logging policy', 'Logging policy', 'Estimates (t intervals over slates at 95%)', 'Diagnostics', 'Warnings', 'Estimators', 'Reproduction']);
    expect(json.report.sections[2]!.figures).toEqual([{ id: 'forest-pl-top', title: 'Estimates and intervals for pl|top', file: 'charts/forest-pl-top.svg' }]);
  });

  it('`offpolicy report --results` takes a slate result (it used to refuse it with E_RESULTS_SCHEMA)', async () => {
    const out = path.join(dir, 'cli-report');
    const run = await runCli(['report', '--results', resultFile, '--format', 'md', '--out', out]);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out.trim().split('\n')).toEqual([path.join(out, 'charts', 'forest-pl-top.svg'), path.join(out, 'report.md')]);
    expect(existsSync(path.join(out, 'report.html'))).toBe(false);
  });

  it('a slate result with a broken field is refused with E_RESULTS_SCHEMA naming the field', async () => {
    const cases: [(r: Record<string, any>) => void, string][] = [
      [(r) => delete r.logging.value, '"logging.value" is missing or not a number'],
      [(r) => (r.dataset.slates = '200'), '"dataset" needs a string "ref" and "contentHash" and numeric "rowCount", "slates", "slateLength", "numActions"'],
      [(r) => (r.candidates[0].estimates[1] = { estimator: 'iips', value: 1 }), '"candidates[0].estimates[1]" needs a string "estimator", a numeric "value" and a "diagnostics" object'],
      [(r) => delete r.candidates[0].source, '"candidates[0]" needs a string "name" and "source"'],
    ];
    for (const [breakIt, what] of cases) {
      const r = JSON.parse(JSON.stringify(result)) as Record<string, any>;
      breakIt(r);
      const f = path.join(dir, 'bad.json');
      await writeFile(f, JSON.stringify(r));
      const err = await loadAnyEvaluationResult(f).then(() => null, (e: unknown) => e as { code: string; message: string });
      expect(err?.code).toBe('E_RESULTS_SCHEMA');
      expect(err?.message).toContain(`${f} is not an offpolicy slate evaluation result: ${what}. Expected schema "offpolicy.slate-evaluation/1"`);
    }
  });
});
