import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OffpolicyError } from '../src/core/errors.js';
import type { EvaluationResult } from '../src/core/evaluation-result.js';
import { forestDomain, forestPlotSpec } from '../src/reports/charts/forest-plot.js';
import { weightHistogramSpec } from '../src/reports/charts/weight-histogram.js';
import { shellCommand, shellQuote } from '../src/reports/command-line.js';
import { escapeHtml, escapeMarkdownCell, markdownCode, slugify } from '../src/reports/escape.js';
import { formatLevel, formatNumber } from '../src/reports/format.js';
import { checkEvaluationResult, loadEvaluationResult } from '../src/reports/load-result.js';
import { parseReportFormats, renderReport, type ReportJson } from '../src/reports/render.js';
import { countSvgMarks, renderChartSvg } from '../src/reports/svg.js';
import { buildReportTables } from '../src/reports/tables.js';
import { runCli } from './support/run-cli.js';

const FIXTURE = path.resolve('tests/fixtures/evaluation-result.json');

let tmp: string;
let fixture: EvaluationResult;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-report-'));
  fixture = checkEvaluationResult(JSON.parse(await readFile(FIXTURE, 'utf8')));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function clone(): EvaluationResult {
  return JSON.parse(JSON.stringify(fixture)) as EvaluationResult;
}

/** The number of <path> children of the vega mark group of the given type in an SVG. */
function markCount(svg: string, type: 'symbol' | 'rect' | 'rule'): number {
  const group = svg.match(new RegExp(`<g class="mark-${type} role-mark[^"]*"[^>]*>(.*?)</g>`, 's'));
  if (!group) return 0;
  return (group[1]!.match(type === 'rule' ? /<line\b/g : /<path\b/g) ?? []).length;
}

async function expectError(p: Promise<unknown> | (() => unknown), code: string, message: RegExp): Promise<void> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(OffpolicyError);
  expect((err as OffpolicyError).code).toBe(code);
  expect((err as OffpolicyError).message).toMatch(message);
}

describe('formatting and escaping helpers', () => {
  it('escapes HTML and Markdown', () => {
    expect(escapeHtml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&#39;');
    // Backslash escapes, never HTML entities: the raw Markdown reads as text.
    expect(escapeMarkdownCell('x|y\nz <i> a_b _c_ & *d*')).toBe('x\\|y z \\<i> a_b \\_c\\_ \\& \\*d\\*');
    expect(markdownCode('a`b')).toBe('``a`b``');
    expect(markdownCode('plain')).toBe('`plain`');
  });
  it('makes unique file-safe slugs', () => {
    const taken = new Set<string>();
    expect(slugify('softmax-<tuned> & "co"', taken)).toBe('softmax-tuned-co');
    expect(slugify('Softmax <tuned> co', taken)).toBe('softmax-tuned-co-2');
    expect(slugify('***', taken)).toBe('candidate');
  });
  it('formats numbers, levels and command lines', () => {
    expect(formatNumber(0.64129)).toBe('0.6413');
    expect(formatNumber(-0.0009)).toBe('-0.0009');
    expect(formatNumber(2.9e-5)).toBe('2.9e-5');
    expect(formatNumber(3120.4)).toBe('3120.4');
    expect(formatNumber(10000)).toBe('10000');
    expect(formatNumber(Number.POSITIVE_INFINITY)).toBe('∞');
    expect(formatLevel(0.05)).toBe('95%');
    expect(formatLevel(0.1)).toBe('90%');
    expect(formatLevel(0.005)).toBe('99.5%');
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellCommand(['report', '--results', 'r.json', '--out', 'my dir'])).toBe("offpolicy report --results r.json --out 'my dir'");
  });
});

describe('derived tables', () => {
  it('computes the overview, per-candidate rows, warnings and reproduction block', () => {
    const t = buildReportTables(fixture, 'offpolicy report --results r.json');
    expect(t.overview.map((o) => [o.candidate, o.recommended, o.headlineEstimator, o.estimate, o.lower, o.upper])).toEqual([
      ['greedy-ridge', true, 'dr', 0.653, 0.641, 0.665],
      ['uniform', false, 'dr', 0.4394, 0.4299, 0.4489],
      ['softmax-<tuned> & "co"', false, 'dr', 0.5227, 0.5067, 0.5387],
    ]);
    const greedy = t.candidates[0]!;
    expect(greedy.estimates).toHaveLength(9);
    const dm = greedy.estimates.find((e) => e.estimator === 'dm')!;
    expect(dm.level).toBe('95%');
    expect(dm.error).toBeCloseTo(0.6162 - 0.6512, 12);
    expect(greedy.certificates.map((c) => [c.kind, c.lower, c.upper, c.params])).toEqual([
      ['exponential-smoothing', 0.6011, 0.7013, 'alpha = 0.9, lambda = 3.41, kl = 0'],
      ['catoni-clipped-ips', 0.5874, undefined, 'tau = 0.05, lambda = 1.92, kl = 0'],
      ['london-sandler', 0.5712, undefined, 'tau = 0.05, kl = 0'],
    ]);
    // One evaluation-wide warning then the third candidate's three.
    expect(t.warnings.map((w) => `${w.scope}:${w.code}`)).toEqual([
      'evaluation:ESTIMATOR_DISAGREEMENT',
      'softmax-<tuned> & "co":LOW_ESS',
      'softmax-<tuned> & "co":SUPPORT_DEFICIENT',
      'softmax-<tuned> & "co":ESTIMATOR_DISAGREEMENT',
    ]);
    expect(t.reproduction).toEqual({
      candidateHashes: [],
      command: fixture.command,
      reportCommand: 'offpolicy report --results r.json',
      toolkitVersion: '0.1.0',
      datasetRef: 'synth-bandit@1',
      contentHash: fixture.dataset.contentHash,
      seed: 7,
      createdAt: '2026-11-21T16:30:00.000Z',
    });
  });

  it('falls back to the first estimator when DR is absent', () => {
    const r = clone();
    r.candidates[0]!.estimates = r.candidates[0]!.estimates.filter((e) => e.estimator !== 'dr');
    expect(buildReportTables(r).overview[0]!.headlineEstimator).toBe('ips');
  });
});

describe('chart specs and SVG rendering', () => {
  it('forest plots share one x range padded 5% around every value and reference', () => {
    const r = clone();
    r.candidates = [r.candidates[1]!];
    r.candidates[0]!.estimates = [
      { estimator: 'ips', value: 0.4, interval: { lower: 0.3, upper: 0.5, method: 't', alpha: 0.05 }, diagnostics: {} },
      { estimator: 'dm', value: 0.45, diagnostics: {} },
    ];
    r.candidates[0]!.trueValue = 0.42;
    r.logging = { value: 0.6, trueValue: 0.61 };
    const [lo, hi] = forestDomain(r);
    expect(lo).toBeCloseTo(0.3 - 0.0155, 12);
    expect(hi).toBeCloseTo(0.61 + 0.0155, 12);
    const spec = forestPlotSpec(r, r.candidates[0]!) as unknown as { layer: { data: { values: unknown[] } }[] };
    // No logging interval -> no band: references, interval rules, points.
    expect(spec.layer).toHaveLength(3);
    expect(spec.layer[0]!.data.values).toEqual([
      { reference: 'logging policy (estimate)', x: 0.6 },
      { reference: 'candidate true value', x: 0.42 },
      { reference: 'logging policy true value', x: 0.61 },
    ]);
    expect(spec.layer[2]!.data.values).toEqual([
      { estimator: 'ips', value: 0.4, lower: 0.3, upper: 0.5 },
      { estimator: 'dm', value: 0.45, lower: 0.45, upper: 0.45 },
    ]);
  });

  it('renders a forest plot to SVG in Node with one point per estimator, text and reference lines', async () => {
    const c = fixture.candidates[0]!;
    const svg = await renderChartSvg(forestPlotSpec(fixture, c), 'f1');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(markCount(svg, 'symbol')).toBe(c.estimates.length);
    // One interval rule per estimator; three reference lines (logging, candidate truth, logging truth).
    const rules = [...svg.matchAll(/<g class="mark-rule role-mark[^"]*"[^>]*>(.*?)<\/g>/gs)].map((m) => (m[1]!.match(/<line\b/g) ?? []).length);
    expect(rules.sort()).toEqual([3, c.estimates.length].sort());
    // Text renders without node-canvas: title, axis labels and legend entries are present.
    expect(svg).toContain('>Estimates for greedy-ridge</text>');
    for (const e of c.estimates) expect(svg).toContain(`>${e.estimator}</text>`);
    expect(svg).toContain('>logging policy (estimate)</text>');
    expect(countSvgMarks(svg)).toBeGreaterThan(20);
  });

  it('renders a weight histogram with one bar per bin and the ESS in its subtitle', async () => {
    const c = fixture.candidates[2]!;
    const svg = await renderChartSvg(weightHistogramSpec(c));
    expect(markCount(svg, 'rect')).toBe(c.diagnostics.weightHistogram.length);
    expect(svg).toContain('ESS 812.6 (8.1% of 10000 rows), max weight 61.3');
    // The name is escaped inside the SVG text.
    expect(svg).toContain('Importance weights for softmax-&lt;tuned&gt; &amp; "co"');
  });
});

describe('renderReport', () => {
  let out: string;
  let files: string[];
  beforeAll(async () => {
    out = path.join(tmp, 'all');
    ({ files } = await renderReport(fixture, { formats: ['html', 'md', 'json'], outDir: out, command: 'offpolicy report --results results.json' }));
  });

  it('writes the HTML, the Markdown with one SVG per chart, and the JSON', async () => {
    const rel = files.map((f) => path.relative(out, f)).sort();
    expect(rel).toEqual(
      [
        'report.html',
        'report.md',
        'report.json',
        'charts/forest-greedy-ridge.svg',
        'charts/weights-greedy-ridge.svg',
        'charts/forest-uniform.svg',
        'charts/weights-uniform.svg',
        'charts/forest-softmax-tuned-co.svg',
        'charts/weights-softmax-tuned-co.svg',
      ].sort(),
    );
    for (const f of files) expect(existsSync(f)).toBe(true);
  });

  it('HTML is self-contained, escaped, and holds every section', async () => {
    const html = await readFile(path.join(out, 'report.html'), 'utf8');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//i);
    expect(html).not.toContain('<tuned>');
    expect(html).toContain('softmax-&lt;tuned&gt; &amp; &quot;co&quot;');
    // Six inline charts, each with marks, with unique element ids across the page.
    const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    expect(svgs).toHaveLength(6);
    for (const s of svgs) expect(countSvgMarks(s)).toBeGreaterThan(5);
    const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    // Verdicts in plain words, for each candidate.
    expect(html).toContain('Candidate greedy-ridge beats the logging policy: lower bound 0.6413 &gt; 0.5127 at 95%.');
    expect(html).toContain('Not enough evidence: candidate uniform has lower bound 0.4300 &lt;= 0.5127');
    expect((html.match(/class="verdict ok"/g) ?? []).length).toBe(1);
    expect((html.match(/class="verdict"/g) ?? []).length).toBe(2);
    // Dataset summary, estimator table, certificates, warnings, reproduction.
    for (const s of ['synth-bandit@1', fixture.dataset.contentHash, 'actions (K)', 'smallest logged propensity', 'PAC-Bayes certificates', 'catoni-clipped-ips', 'LOW_ESS', 'SUPPORT_DEFICIENT', 'ESTIMATOR_DISAGREEMENT', 'switch-dr', 'dr-os', 'offpolicy 0.1.0', 'seed:            7', 'offpolicy report --results results.json', 'Estimator accuracy']) {
      expect(html).toContain(s);
    }
    expect(html).toContain(escapeHtml(fixture.command!));
    // Every estimator row of every candidate, with its interval bounds.
    for (const c of fixture.candidates) {
      for (const e of c.estimates) expect(html).toContain(`<td class="num">${formatNumber(e.interval!.lower)}</td><td class="num">${formatNumber(e.interval!.upper)}</td>`);
    }
  });

  it('Markdown links every chart to a file beside it and holds the tables', async () => {
    const md = await readFile(path.join(out, 'report.md'), 'utf8');
    const links = [...md.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]!);
    expect(links).toHaveLength(6);
    for (const l of links) {
      const svg = await readFile(path.join(out, l), 'utf8');
      expect(countSvgMarks(svg)).toBeGreaterThan(5);
    }
    // A result written before three-outcome verdicts reads as better / inconclusive.
    expect(md).toContain('**BETTER: greedy-ridge**: Candidate greedy-ridge beats the logging policy: lower bound 0.6413 > 0.5127 at 95%.');
    expect(md).toContain('| dr | 0.6530 | 0.6410 | 0.6650 | bootstrap, 95% interval | 0.0061 |  | 0.0018 |');
    expect(md).toContain('| exponential-smoothing | 0.6011 | 0.7013 | 95% |  |');
    expect(md).toContain('exponential-smoothing (alpha = 0.9, lambda = 3.41, kl = 0)');
    expect(md).toContain('## Candidate: softmax-\\<tuned> \\& "co"');
    expect(md).not.toMatch(/&(amp|lt|gt|quot|#\d+);/);
    expect(md).toContain(fixture.dataset.contentHash);
    expect(md).toContain(fixture.command!);
    // Every table row has as many cells as its header.
    for (const block of md.split(/\n\n/).filter((b) => b.startsWith('|'))) {
      const rows = block.trimEnd().split('\n');
      const cells = (row: string) => row.replace(/\\\|/g, '').split('|').length;
      for (const row of rows) expect(cells(row)).toBe(cells(rows[0]!));
    }
  });

  it('JSON holds the result unchanged plus the derived tables and chart files', async () => {
    const json = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')) as ReportJson;
    expect(json.schema).toBe('offpolicy.report/1');
    expect(json.result).toEqual(fixture);
    expect(json.report.overview.map((o) => o.recommended)).toEqual([true, false, false]);
    expect(json.report.charts.map((c) => c.file)).toContain('charts/forest-uniform.svg');
    expect(json.report.reproduction.reportCommand).toBe('offpolicy report --results results.json');
  });

  it('writes only the formats asked for', async () => {
    const dir = path.join(tmp, 'only-html');
    const { files: f } = await renderReport(fixture, { formats: ['html'], outDir: dir });
    expect(f).toEqual([path.join(dir, 'report.html')]);
    expect((await readdir(dir)).sort()).toEqual(['report.html']);
  });

  it('renders a result without truths, intervals, certificates or warnings', async () => {
    const r = clone();
    delete r.logging.trueValue;
    delete r.logging.interval;
    delete r.accuracy;
    r.warnings = [];
    for (const c of r.candidates) {
      delete c.trueValue;
      c.certificates = [];
      c.warnings = [];
      for (const e of c.estimates) delete e.interval;
    }
    const dir = path.join(tmp, 'bare');
    await renderReport(r, { formats: ['html', 'md'], outDir: dir });
    const html = await readFile(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain('No certificates were computed.');
    expect(html).toContain('No warnings.');
    expect(html).not.toContain('true value');
    expect(html).not.toContain('Estimator accuracy');
    expect((html.match(/<svg/g) ?? []).length).toBe(6);
  });
});

describe('bad input', () => {
  it('a missing results file is E_RESULTS_FILE', async () => {
    const f = path.join(tmp, 'nope.json');
    await expectError(loadEvaluationResult(f), 'E_RESULTS_FILE', new RegExp(`^Results file ${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} does not exist\\. Pass the JSON written by`));
  });
  it('a file that is not JSON is E_RESULTS_FILE', async () => {
    const f = path.join(tmp, 'bad.json');
    await writeFile(f, '{"schema": "offpolicy.evaluation/1",');
    await expectError(loadEvaluationResult(f), 'E_RESULTS_FILE', /is not valid JSON \(.+\)\. Pass the JSON written by `offpolicy evaluate --out results.json`\./);
  });
  it('a directory is E_RESULTS_FILE', async () => {
    await expectError(loadEvaluationResult(tmp), 'E_RESULTS_FILE', /is a directory\./);
  });
  it('another schema, no schema, or not an object is E_RESULTS_SCHEMA', async () => {
    const f = path.join(tmp, 'other.json');
    await writeFile(f, JSON.stringify({ ...fixture, schema: 'offpolicy.evaluation/9' }));
    await expectError(loadEvaluationResult(f), 'E_RESULTS_SCHEMA', /is not an offpolicy evaluation result: its schema is "offpolicy.evaluation\/9", not "offpolicy.evaluation\/1"\. Expected schema/);
    await writeFile(f, JSON.stringify({ hello: 1 }));
    await expectError(loadEvaluationResult(f), 'E_RESULTS_SCHEMA', /: it has no "schema" field\./);
    await writeFile(f, '[1, 2]');
    await expectError(loadEvaluationResult(f), 'E_RESULTS_SCHEMA', /: the top level is not a JSON object\./);
  });
  it('a result missing parts the report needs names the field', async () => {
    const r = clone() as unknown as Record<string, unknown>;
    delete r.candidates;
    await expectError(() => checkEvaluationResult(r, 'r.json'), 'E_RESULTS_SCHEMA', /^r\.json is not an offpolicy evaluation result: "candidates" is missing or not an array\./);
    const r2 = clone();
    (r2.candidates[1]!.verdict as unknown as Record<string, unknown>).sentence = 3;
    await expectError(() => checkEvaluationResult(r2, 'r.json'), 'E_RESULTS_SCHEMA', /"candidates\[1\]\.verdict\.sentence" is missing or not a string/);
    const r3 = clone();
    (r3.candidates[0]!.estimates[2] as unknown as Record<string, unknown>).value = 'x';
    await expectError(() => checkEvaluationResult(r3, 'r.json'), 'E_RESULTS_SCHEMA', /"candidates\[0\]\.estimates\[2\]" needs a string "estimator" and a numeric "value"/);
    const r4 = clone() as unknown as { dataset: Record<string, unknown> };
    delete r4.dataset.contentHash;
    await expectError(() => checkEvaluationResult(r4, 'r.json'), 'E_RESULTS_SCHEMA', /"dataset\.contentHash" is missing or not a string/);
  });
  it('an unknown or empty format is E_REPORT_FORMAT', async () => {
    await expectError(() => parseReportFormats('html,pdf'), 'E_REPORT_FORMAT', /^Unknown report format "pdf"\. Use a comma-separated list of html, md, json/);
    await expectError(() => parseReportFormats(' , '), 'E_REPORT_FORMAT', /^No report format was given\./);
    expect(parseReportFormats('HTML, md,html')).toEqual(['html', 'md']);
    await expectError(renderReport(fixture, { formats: ['pdf' as 'html'], outDir: path.join(tmp, 'x') }), 'E_REPORT_FORMAT', /Unknown report format "pdf"/);
    expect(existsSync(path.join(tmp, 'x'))).toBe(false);
  });
  it('an output path that is a file is E_REPORT_OUT', async () => {
    const f = path.join(tmp, 'a-file');
    await writeFile(f, 'x');
    await expectError(renderReport(fixture, { formats: ['html'], outDir: path.join(f, 'sub') }), 'E_REPORT_OUT', /^Cannot create the report directory .*a-file\/sub \(ENOTDIR\)\. Choose a writable directory with --out\./);
  });
});

describe('offpolicy report (CLI, in process)', () => {
  it('writes the report and prints the files', async () => {
    const dir = path.join(tmp, 'cli');
    const { out, code } = await runCli(['report', '--results', FIXTURE, '--format', 'html,json', '--out', dir]);
    expect(code).toBe(0);
    expect(out.trim().split('\n')).toEqual([path.join(dir, 'report.html'), path.join(dir, 'report.json')]);
    const json = JSON.parse(await readFile(path.join(dir, 'report.json'), 'utf8')) as ReportJson;
    expect(json.report.reproduction.reportCommand).toBe(`offpolicy report --results ${FIXTURE} --format html,json --out ${dir}`);
  });

  it('prints the error code and sentence and exits 2 on bad input', async () => {
    const a = await runCli(['report', '--results', path.join(tmp, 'missing.json'), '--out', path.join(tmp, 'cli2')]);
    expect(a.code).toBe(2);
    expect(a.err).toBe(`error [E_RESULTS_FILE]: Results file ${path.join(tmp, 'missing.json')} does not exist. Pass the JSON written by \`offpolicy evaluate --out results.json\`.\n`);
    const b = await runCli(['report', '--results', FIXTURE, '--format', 'pdf']);
    expect(b.code).toBe(2);
    expect(b.err).toBe('error [E_REPORT_FORMAT]: Unknown report format "pdf". Use a comma-separated list of html, md, json (e.g. --format html,md).\n');
    expect(existsSync(path.join(tmp, 'cli2'))).toBe(false);
  });
});
