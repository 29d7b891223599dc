/**
 * Opens the HTML report in Debian's Chromium (playwright-core) from disk and checks
 * that every chart rendered with marks, that nothing logged an error and that no
 * request failed; saves a full-page screenshot to test-artifacts/report.png.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkEvaluationResult } from '../src/reports/load-result.js';
import { renderReport } from '../src/reports/render.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = path.resolve('test-artifacts');

describe('HTML report in Chromium', () => {
  let dir: string;
  let browser: Browser | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-report-browser-'));
  });
  afterAll(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('renders every chart with marks, logs no errors, makes no failed requests', async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is missing at ${CHROMIUM}: run \`apt-get install chromium\` (the CI script .ci/run installs it).`);
    }
    const result = checkEvaluationResult(JSON.parse(await readFile('tests/fixtures/evaluation-result.json', 'utf8')));
    await renderReport(result, { formats: ['html'], outDir: dir, command: 'offpolicy report --results tests/fixtures/evaluation-result.json' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const consoleErrors: string[] = [];
    const failed: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    page.on('requestfailed', (r) => failed.push(`${r.url()} ${r.failure()?.errorText ?? ''}`));
    page.on('request', (r) => requests.push(r.url()));

    const url = pathToFileURL(path.join(dir, 'report.html')).href;
    const response = await page.goto(url, { waitUntil: 'load' });
    expect(response?.ok() ?? true).toBe(true);

    // One forest plot and one weight histogram per candidate, each an <svg> with marks.
    const charts = await page.$$eval('figure.chart', (figs) =>
      figs.map((f) => {
        const svg = f.querySelector('svg');
        const box = svg?.getBoundingClientRect();
        return {
          id: f.getAttribute('data-chart'),
          kind: f.getAttribute('data-kind'),
          hasSvg: svg !== null,
          marks: svg ? svg.querySelectorAll('path, rect, line, circle, symbol, polygon').length : 0,
          dataMarks: svg ? svg.querySelectorAll('.mark-symbol path, .mark-rect path, .mark-rule line').length : 0,
          texts: svg ? Array.from(svg.querySelectorAll('text')).map((t) => t.textContent ?? '') : [],
          width: box?.width ?? 0,
          height: box?.height ?? 0,
        };
      }),
    );
    const expected = result.candidates.length * 2;
    expect(charts).toHaveLength(expected);
    expect(charts.filter((c) => c.kind === 'forest')).toHaveLength(result.candidates.length);
    expect(charts.filter((c) => c.kind === 'weights')).toHaveLength(result.candidates.length);
    for (const c of charts) {
      expect(c.hasSvg, `chart ${c.id} has an <svg>`).toBe(true);
      expect(c.dataMarks, `chart ${c.id} draws data marks`).toBeGreaterThan(0);
      expect(c.width, `chart ${c.id} has a visible width`).toBeGreaterThan(100);
      expect(c.height, `chart ${c.id} has a visible height`).toBeGreaterThan(50);
      expect(c.texts.join(' ')).toMatch(/Estimates for|Importance weights for/);
    }
    // Each forest plot draws one point per estimator.
    for (const c of charts.filter((x) => x.kind === 'forest')) {
      const texts = c.texts.join(' ');
      for (const e of result.candidates[0]!.estimates) expect(texts).toContain(e.estimator);
    }

    // The verdict sentences are on the page, escaped (the fixture's third name holds <, &, ").
    const verdicts = await page.$$eval('.verdict .sentence', (ps) => ps.map((p) => p.textContent));
    expect(verdicts).toEqual(result.candidates.map((c) => c.verdict.sentence));
    expect(await page.$$eval('script', (s) => s.length)).toBe(0);

    // Only the page itself was requested: nothing from the network.
    expect(requests).toEqual([url]);
    expect(failed).toEqual([]);
    expect(consoleErrors).toEqual([]);

    await mkdir(ARTIFACTS, { recursive: true });
    const shot = path.join(ARTIFACTS, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect((await stat(shot)).size).toBeGreaterThan(10_000);
  });
});
