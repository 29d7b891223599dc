import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RobustnessStudyResult } from '../src/core/robustness-result.js';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { Workspace } from '../src/datasets/workspace.js';
import { OffpolicyError } from '../src/core/errors.js';
import { checkRobustnessStudy, loadRobustnessStudy } from '../src/reports/load-result.js';
import { buildRobustnessTable, renderRobustnessReport } from '../src/reports/robustness.js';
import { countSvgMarks } from '../src/reports/svg.js';
import { runCli } from './support/run-cli.js';

const FIXTURE = path.resolve('tests/fixtures/robustness-study.json');
let tmp: string;
let study: RobustnessStudyResult;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'offpolicy-robust-report-'));
  study = await loadRobustnessStudy(FIXTURE);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('robustness report', () => {
  it('puts clean and corrupted values side by side with their change', () => {
    const t = buildRobustnessTable(study);
    expect(t.columns).toEqual(['metric', 'clean', 'reward-flip rate=0.1 scale=1', 'reward-flip rate=0.1 scale=1 change']);
    expect(t.rows).toEqual([
      ['cand/ips', '0.5000', '0.4500', '-0.0500 (-10.0%)'],
      ['cand/dr', '0.4000', '0.4200', '+0.0200 (+5.0%)'],
      ['<b>&/snips', '0', '0.1000', '+0.1000'],
    ]);
    expect(t.notScored).toEqual([{ label: 'drop-rewards rate=0.3 scale=1', ref: 'logs-robustness@2', reason: '[E_REWARD_MODEL_FIT] NULL rewards.' }]);
  });

  it('writes self-contained HTML with a drawn chart, Markdown with the chart file, and JSON', async () => {
    const out = path.join(tmp, 'fixture');
    const { files } = await renderRobustnessReport(study, { formats: ['html', 'md', 'json'], outDir: out, command: 'offpolicy report --robustness s.json' });
    expect(files.map((f) => path.relative(out, f))).toEqual(['robustness.html', 'charts/robustness.svg', 'robustness.md', 'robustness.json']);
    const html = await readFile(path.join(out, 'robustness.html'), 'utf8');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    const svg = html.slice(html.indexOf('<svg'), html.indexOf('</svg>') + 6);
    expect(countSvgMarks(svg)).toBeGreaterThan(5);
    expect(html).toContain('&lt;b&gt;&amp;/snips');
    expect(html).not.toContain('<b>&/snips');
    expect(html).toContain('[E_REWARD_MODEL_FIT] NULL rewards.');
    expect(html).toContain('content hash:    abc123');
    const md = await readFile(path.join(out, 'robustness.md'), 'utf8');
    expect(md).toContain('| cand/ips | 0.5000 | 0.4500 | -0.0500 (-10.0%) |');
    const link = /!\[Clean vs corrupted\]\(([^)]+)\)/.exec(md)![1]!;
    expect(existsSync(path.join(out, link))).toBe(true);
    const json = JSON.parse(await readFile(path.join(out, 'robustness.json'), 'utf8'));
    expect(json.study).toEqual(JSON.parse(await readFile(FIXTURE, 'utf8')));
  });

  it('escapes labels, refs, messages and the reproduce block in Markdown', async () => {
    const hostile: RobustnessStudyResult = structuredClone(study);
    const failed = hostile.settings.find((s) => s.error)!;
    failed.label = '<img src=x onerror=alert(1)> *bold* | pipe\nnext';
    failed.ref = 'weird`ref@2';
    failed.error!.message = '<script>alert(1)</script> | ```';
    const out = path.join(tmp, 'hostile');
    await renderRobustnessReport(hostile, { formats: ['md'], outDir: out, command: 'offpolicy report --robustness "a```b.json"' });
    const md = await readFile(path.join(out, 'robustness.md'), 'utf8');
    // outside the fenced reproduce block (where text is literal) no raw HTML survives
    // (a backslash-escaped \< is literal text in Markdown, never a tag; no HTML entities either)
    expect(md.slice(0, md.indexOf('## Reproduce'))).not.toMatch(/(?<!\\)<(img|script)/);
    expect(md).not.toMatch(/&(amp|lt|gt|quot|#\d+);/);
    expect(md).toContain('- **\\<img src=x onerror=alert(1)> \\*bold\\* \\| pipe next** (``weird`ref@2``): \\[E_REWARD_MODEL_FIT\\] \\<script>alert(1)\\</script> \\| \\`\\`\\`');
    // the reproduce block keeps the command whole inside a fence longer than its backtick run
    expect(md).toContain('````\nreport command:  offpolicy report --robustness "a```b.json"\n');
  });

  it('refuses files that are not robustness studies', async () => {
    const expectCode = async (p: Promise<unknown> | (() => unknown), code: string, message: RegExp) => {
      const e = typeof p === 'function' ? (() => { try { p(); return null; } catch (x) { return x; } })() : await p.then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(OffpolicyError);
      expect((e as OffpolicyError).code).toBe(code);
      expect((e as OffpolicyError).message).toMatch(message);
    };
    await expectCode(loadRobustnessStudy(path.join(tmp, 'nope.json')), 'E_RESULTS_FILE', /^Study file .*nope\.json does not exist\. Pass the JSON written by `offpolicy robustness --out study\.json`\./);
    const bad = path.join(tmp, 'bad.json');
    await writeFile(bad, '{not json');
    await expectCode(loadRobustnessStudy(bad), 'E_RESULTS_FILE', /is not valid JSON/);
    await expectCode(() => checkRobustnessStudy({ schema: 'offpolicy.evaluation/1' }, 's.json'), 'E_RESULTS_SCHEMA', /^s\.json is not an offpolicy robustness study: its schema is "offpolicy\.evaluation\/1", not "offpolicy\.robustness\/1"\./);
    await expectCode(() => checkRobustnessStudy({ ...study, rows: [{ metric: 'x' }] }, 's.json'), 'E_RESULTS_SCHEMA', /"rows\[0\]" needs a string "setting" and "metric" and a numeric "clean"/);
  });

  it('offpolicy report needs exactly one of --results and --robustness', async () => {
    const both = await runCli(['report', '--results', 'a.json', '--robustness', FIXTURE, '--out', path.join(tmp, 'both')]);
    expect(both.code).toBe(2);
    expect(both.err).toBe('error [E_REPORT_INPUT]: Pass exactly one of --results FILE and --robustness FILE. --results takes the JSON of `offpolicy evaluate --out`, --robustness the JSON of `offpolicy robustness --out`.\n');
    const neither = await runCli(['report', '--out', path.join(tmp, 'neither')]);
    expect(neither.code).toBe(2);
    expect(neither.err).toContain('error [E_REPORT_INPUT]');
    expect(existsSync(path.join(tmp, 'both'))).toBe(false);
    const missing = await runCli(['report', '--robustness', path.join(tmp, 'missing.json'), '--out', path.join(tmp, 'missing')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^error \[E_RESULTS_FILE\]: Study file .*missing\.json does not exist\./);
    const notJson = path.join(tmp, 'cli-bad.json');
    await writeFile(notJson, 'nope');
    const bad = await runCli(['report', '--robustness', notJson, '--out', path.join(tmp, 'cli-bad')]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^error \[E_RESULTS_FILE\]: .*is not valid JSON/);
    const evalFile = path.resolve('tests/fixtures/evaluation-result.json');
    const wrong = await runCli(['report', '--robustness', evalFile, '--out', path.join(tmp, 'wrong')]);
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/^error \[E_RESULTS_SCHEMA\]: .* is not an offpolicy robustness study: its schema is "offpolicy\.evaluation\/1"/);
    expect(existsSync(path.join(tmp, 'wrong'))).toBe(false);
  });

  it('end to end: robustness study through the CLI, then its report', async () => {
    const wsDir = path.join(tmp, 'ws');
    const ws = await Workspace.open(wsDir);
    await writeBanditDataset(ws, 'logs', generateBanditLog({ n: 400, numActions: 3, contextDim: 2, reward: 'logistic', beta: 1, seed: 1 }));
    const studyFile = path.join(tmp, 'study.json');
    const run = await runCli(['-w', wsDir, 'robustness', '--data', 'logs', '--setting', 'kind=reward-flip,rate=0.5', '--policy', 'logger=column:action_probs', '--estimators', 'ips,snips', '--out', studyFile]);
    expect(run.code).toBe(0);
    const out = path.join(tmp, 'e2e');
    const rep = await runCli(['report', '--robustness', studyFile, '--format', 'html,md', '--out', out]);
    expect(rep.code).toBe(0);
    expect(rep.out.trim().split('\n').map((f) => path.relative(out, f))).toEqual(['robustness.html', 'charts/robustness.svg', 'robustness.md']);
    const md = await readFile(path.join(out, 'robustness.md'), 'utf8');
    expect(md).toMatch(/\| logger\/ips \| 0\.\d{4} \| 0\.\d{4} \| [+-]0\.\d{4} \([+-]\d+\.\d%\) \|/);
    const saved = JSON.parse(await readFile(studyFile, 'utf8'));
    expect(saved.dataset.ref).toBe('logs@1');
    expect(saved.seed).toBe(0);
  }, 60_000);
});
