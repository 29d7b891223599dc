import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoSummaryRows, runDemo, type DemoSummary } from '../src/demo.js';
import { Workspace } from '../src/datasets/workspace.js';
import { OffpolicyError } from '../src/core/errors.js';
import { checkEvaluationResult } from '../src/reports/load-result.js';
import { runCli } from './support/run-cli.js';

let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-demo-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('runDemo (the default setting)', () => {
  let s: DemoSummary;
  const progress: [number, number, string][] = [];
  beforeAll(async () => {
    s = await runDemo({ outDir: path.join(tmp, 'report'), onProgress: (d, t, stage) => progress.push([d, t, stage]) });
  });

  it('writes the HTML, Markdown (with charts) and JSON report', async () => {
    expect(s.reportPath).toBe(path.join(tmp, 'report', 'report.html'));
    for (const f of ['report.html', 'report.md', 'report.json', 'charts/forest-reward-greedy.svg', 'charts/weights-softer-logger.svg']) {
      expect(existsSync(path.join(tmp, 'report', f)), f).toBe(true);
    }
    expect(s.files).toHaveLength(9);
    const json = JSON.parse(await readFile(path.join(tmp, 'report', 'report.json'), 'utf8')) as { result: unknown };
    const result = checkEvaluationResult(json.result);
    expect(result.command).toBe('offpolicy demo --seed 0');
    expect(result.settings.interval).toBe('bootstrap');
    expect(result.settings.bootstrapResamples).toBe(1000);
    expect(result.dataset.rowCount).toBe(20_000);
    const html = await readFile(s.reportPath, 'utf8');
    expect(html).toContain('Candidate reward-greedy beats the logging policy');
  });

  it('the three candidates are better, worse and close to the logger in truth', () => {
    const [better, worse, close] = s.candidates;
    expect(s.candidates.map((c) => c.name)).toEqual(['reward-greedy', 'reward-averse', 'softer-logger']);
    expect(better!.trueValue).toBeGreaterThan(s.logging.trueValue + 0.03);
    expect(worse!.trueValue).toBeLessThan(s.logging.trueValue - 0.03);
    expect(Math.abs(close!.trueValue - s.logging.trueValue)).toBeLessThan(0.01);
  });

  it('calls the better candidate better (with a caveat: no certificate confirms it), the worse one worse and the close one inconclusive', () => {
    const [better, worse, close] = s.candidates;
    expect(s.candidates.map((c) => [c.outcome, c.recommended])).toEqual([
      ['better-with-caveats', true],
      ['worse', false],
      ['inconclusive', false],
    ]);
    expect(better!.sentence).toMatch(/^Candidate reward-greedy beats the logging policy, with caveats: dr \(bootstrap\) lower bound 0\.\d+ > logging value 0\.\d+ at 95%\. Caveats: CERTIFICATE_BELOW_LOGGING\.$/);
    expect(worse!.sentence).toMatch(/^Candidate reward-averse is worse than the logging policy: dr \(bootstrap\) upper bound 0\.\d+ < logging value 0\.\d+ at 95%\.$/);
    expect(close!.sentence).toMatch(/^Inconclusive for candidate softer-logger/);
    // The headline DR intervals bracket the true values on this seed.
    for (const c of s.candidates) {
      expect(c.estimator).toBe('dr');
      expect(c.lower!).toBeLessThan(c.trueValue);
      expect(c.upper!).toBeGreaterThan(c.trueValue);
    }
  });

  it('reports monotone progress in percent up to 100', () => {
    const pct = progress.map((p) => p[0]);
    expect(pct[0]).toBe(0);
    expect(pct[pct.length - 1]).toBe(100);
    for (let i = 1; i < pct.length; i++) expect(pct[i]!).toBeGreaterThanOrEqual(pct[i - 1]!);
    expect(progress.every((p) => p[1] === 100)).toBe(true);
    expect(progress.map((p) => p[2])).toContain('bootstrap');
  });

  it('builds the summary table: the logger, then each candidate', () => {
    const { rows, columns } = demoSummaryRows(s);
    expect(columns).toEqual(['policy', 'true value', 'DR estimate', '95% interval', 'verdict']);
    expect(rows.map((r) => r.policy)).toEqual(['logging policy (mean reward)', 'reward-greedy', 'reward-averse', 'softer-logger']);
    expect(rows.map((r) => r.verdict)).toEqual(['(baseline)', 'better, with caveats', 'worse', 'inconclusive']);
    expect(rows[1]!['DR estimate']).toBe(s.candidates[0]!.estimate);
  });
});

describe('runDemo options', () => {
  it('is deterministic by seed and keeps the dataset in a given workspace', async () => {
    const wsDir = path.join(tmp, 'ws');
    const a = await runDemo({ outDir: path.join(tmp, 'a'), seed: 5, rows: 2000, resamples: 100, workspace: wsDir });
    const b = await runDemo({ outDir: path.join(tmp, 'b'), seed: 5, rows: 2000, resamples: 100 });
    expect(b.result.dataset.contentHash).toBe(a.result.dataset.contentHash);
    expect(b.candidates).toEqual(a.candidates);
    const ws = await Workspace.open(wsDir);
    expect((await ws.versions()).map((v) => v.ref)).toEqual(['demo-bandit@1']);
  });

  it('rejects a bad seed or row count', async () => {
    await expect(runDemo({ outDir: path.join(tmp, 'x'), seed: -1 })).rejects.toThrow(OffpolicyError);
    await expect(runDemo({ outDir: path.join(tmp, 'x'), seed: 1.5 })).rejects.toMatchObject({
      code: 'E_DEMO_PARAM',
      message: "The demo's seed must be a non-negative integer, got 1.5. Pass --seed 0 (any non-negative integer).",
    });
    await expect(runDemo({ outDir: path.join(tmp, 'x'), rows: 10 })).rejects.toMatchObject({
      code: 'E_DEMO_PARAM',
      message: 'The demo needs an integer number of rows of at least 100, got 10. Pass rows: 20000 (the default) or more than 100.',
    });
    expect(existsSync(path.join(tmp, 'x'))).toBe(false);
  });
});

describe('offpolicy demo (CLI, in process)', () => {
  /** Runs `offpolicy ARGS` in process with the temporary directory as the working directory (the demo writes ./offpolicy-report). */
  async function cli(args: string[]): ReturnType<typeof runCli> {
    const cwd = process.cwd();
    process.chdir(tmp);
    try {
      return await runCli(args);
    } finally {
      process.chdir(cwd);
    }
  }

  it('prints the summary table and the report path', async () => {
    const { out, code } = await cli(['demo', '--rows', '2000', '--seed', '1']);
    expect(code).toBe(0);
    expect(out).toMatch(/^2000 logged rounds, 10 actions \(dataset demo-bandit@1\)/);
    expect(out).toMatch(/policy\s+true value\s+DR estimate\s+95% interval\s+verdict/);
    expect(out).toMatch(/\nreward-greedy\s+0\.\d{4}\s+0\.\d{4}\s+\[0\.\d{4}, 0\.\d{4}\]\s+(better|better, with caveats|worse|inconclusive)\n/);
    expect(out).toContain(`Report: ${path.join(tmp, 'offpolicy-report', 'report.html')}`);
    expect(existsSync(path.join(tmp, 'offpolicy-report', 'report.html'))).toBe(true);
  });

  it('exits 2 with the error sentence on a bad seed or row count', async () => {
    const a = await cli(['demo', '--seed', 'abc']);
    expect(a.code).toBe(2);
    expect(a.err).toBe('error [E_DEMO_PARAM]: --seed must be a non-negative integer, got "abc". Pass e.g. --seed 0.\n');
    const b = await cli(['demo', '--rows', '5']);
    expect(b.code).toBe(2);
    expect(b.err).toBe('error [E_DEMO_PARAM]: --rows must be an integer of at least 100, got "5". Pass e.g. --rows 20000 (the default).\n');
  });
});
