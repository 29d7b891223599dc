/**
 * Slate logs through the CLI: a synthetic slate log and its candidate written as
 * CSV (OBP's column names), ingested, and evaluated by `offpolicy evaluate`; the
 * values equal the library's estimateSlates on the same arrays.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSlateLog } from '../src/datasets/synthetic/slate.js';
import { estimateSlates, slateDataFromRows } from '../src/ope/slate/index.js';
import type { SlateEvaluationResult } from '../src/core/slate-evaluation-result.js';
import { runCli } from './support/run-cli.js';
import { ingest } from '../src/datasets/ingest/index.js';
import { Workspace } from '../src/datasets/workspace.js';

const g = generateSlateLog({ slates: 300, actions: 4, slateLength: 3, rewardStructure: 'cascade_additive', interactionScale: 1, seed: 3 });
const K = 4;
let dir: string;
let ws: string[];
let ingestErr: string;

async function writeCsv(name: string, header: string[], row: (r: number) => (number | string)[], rows = g.slateId.length): Promise<string> {
  const f = path.join(dir, name);
  await writeFile(f, [header.join(','), ...Array.from({ length: rows }, (_, r) => row(r).join(','))].join('\n') + '\n');
  return f;
}

const LOG_HEADER = ['slate_id', 'position', 'action', 'reward', 'pscore', 'pscore_item_position', 'pscore_cascade'];
const logRow = (r: number): number[] => [g.slateId[r]!, g.position[r]!, g.action[r]!, g.reward[r]!, g.pscore[r]!, g.pscoreItemPosition[r]!, g.pscoreCascade[r]!];
const CAND_HEADER = ['slate_id', 'position', 'pscore', 'pscore_item_position', 'pscore_cascade', ...Array.from({ length: K }, (_, a) => `action_dist_${a}`), ...Array.from({ length: K }, (_, a) => `q_hat_${a}`)];
const candRow = (r: number): number[] => [
  g.slateId[r]!,
  g.position[r]!,
  g.evaluationPscore[r]!,
  g.evaluationPscoreItemPosition[r]!,
  g.evaluationPscoreCascade[r]!,
  ...g.evaluationActionDist.subarray(r * K, r * K + K),
  ...g.trueQ.subarray(r * K, r * K + K),
];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-slate-cli-'));
  ws = ['-w', path.join(dir, 'ws')];
  const log = await writeCsv('slates.csv', LOG_HEADER, logRow);
  const ing = await runCli([...ws, 'datasets', 'ingest', log, '--name', 'slates']);
  expect(ing.code).toBe(0);
  ingestErr = ing.err;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ingest of a slate log', () => {
  it('says nothing about estimated propensities when the pscore columns are given, and warns when none is', async () => {
    expect(ingestErr).toBe('');
    const v = await (await Workspace.open(path.join(dir, 'ws'))).resolve('slates');
    expect(v.metadata.extra?.propensitySource).toBe('slate');
    const bare = await writeCsv('slates-bare.csv', ['slate_id', 'position', 'action', 'reward'], (r) => logRow(r).slice(0, 4), 30);
    const res = await ingest(await Workspace.open(path.join(dir, 'ws')), bare, { name: 'bare' });
    expect(res.warnings).toEqual([
      "Slate log (a slate_id column) with no pscore, pscore_item_position, pscore_cascade or propensity column: the slate estimators need the logging policy's probabilities and will refuse this log; add the column(s) the chosen estimators need (Open Bandit Pipeline's names).",
    ]);
    expect(res.warnings.join(' ')).not.toContain('estimated');
    expect((await (await Workspace.open(path.join(dir, 'ws'))).resolve('bare')).metadata.extra?.propensitySource).toBe('missing');
  });
});

describe('offpolicy evaluate on a slate log', () => {
  it('gives every slate estimator, equal to the library on the same arrays, with the truth inside the intervals', async () => {
    const cand = await writeCsv('cand.csv', CAND_HEADER, candRow);
    const out = path.join(dir, 'slate-results.json');
    const run = await runCli([...ws, 'evaluate', '--data', 'slates', '--policy', `pl=${cand}`, '--out', out]);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toContain('slate log slates@1: 300 slates of 3 positions, K = 4');
    expect(run.out).toContain('warning [SLATE_ASSUMPTION]');
    const res = JSON.parse(await readFile(out, 'utf8')) as SlateEvaluationResult;
    expect(res.schema).toBe('offpolicy.slate-evaluation/1');
    expect(res.settings.estimators).toEqual(['sips', 'iips', 'rips', 'cascade-dr']);
    const lib = estimateSlates(slateDataFromRows({ ...g, qHat: g.trueQ }));
    for (const e of lib) {
      const got = res.candidates[0]!.estimates.find((x) => x.estimator === e.estimator)!;
      expect(Math.abs(got.value - e.value)).toBeLessThan(1e-12);
      expect(Math.abs(got.interval!.lower - e.interval!.lower)).toBeLessThan(1e-12);
    }
    // Unbiased estimators on one log: the truth sits inside the 95% intervals of RIPS and Cascade-DR here (cascade rewards).
    for (const id of ['rips', 'cascade-dr']) {
      const e = res.candidates[0]!.estimates.find((x) => x.estimator === id)!;
      expect(e.interval!.lower).toBeLessThan(g.trueValue);
      expect(e.interval!.upper).toBeGreaterThan(g.trueValue);
    }
    let sum = 0;
    g.reward.forEach((r) => (sum += r));
    expect(Math.abs(res.logging.value - sum / 300)).toBeLessThan(1e-12);
  });

  it('--estimators picks estimators; a candidate without the inputs of one is a coded error', async () => {
    const cand = await writeCsv('cand-ips.csv', ['slate_id', 'position', 'pscore_cascade'], (r) => [g.slateId[r]!, g.position[r]!, g.evaluationPscoreCascade[r]!]);
    const ok = await runCli([...ws, 'evaluate', '--data', 'slates', '--policy', cand, '--estimators', 'rips', '--out', path.join(dir, 'r2.json')]);
    expect(ok.code).toBe(0);
    const boot = await runCli([...ws, 'evaluate', '--data', 'slates', '--policy', cand, '--interval', 'bootstrap', '--out', path.join(dir, 'r3.json')]);
    expect(boot.err).toContain('E_INTERVAL_METHOD');
    expect(boot.err).toContain('Slate estimators give Student-t intervals over slates; --interval bootstrap is not available for slate logs.');
    const bad = await runCli([...ws, 'evaluate', '--data', 'slates', '--policy', cand, '--estimators', 'iips', '--out', path.join(dir, 'r3.json')]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain('E_MISSING_COLUMN');
    expect(bad.err).toContain('Slate estimator iips needs the candidate\'s marginal item-position probabilities (column evaluation_policy_pscore_item_position)');
  });

  it('a candidate that misses logged rows, and a log pscore outside (0, 1], are coded errors', async () => {
    const short = await writeCsv('cand-short.csv', CAND_HEADER, candRow, g.slateId.length - 2);
    const r = await runCli([...ws, 'evaluate', '--data', 'slates', '--policy', short, '--out', path.join(dir, 'r4.json')]);
    expect(r.err).toContain('E_POLICY_ROWS');
    expect(r.err).toContain('2 of the log\'s 900 (slate_id, position) rows are missing from it');
    const badLog = await writeCsv('slates-bad.csv', LOG_HEADER, (row) => (row === 4 ? [...logRow(row).slice(0, 5), 0, logRow(row)[6]!] : logRow(row)));
    expect((await runCli([...ws, 'datasets', 'ingest', badLog, '--name', 'slatesbad'])).code).toBe(0);
    const cand = await writeCsv('cand2.csv', CAND_HEADER, candRow);
    const e = await runCli([...ws, 'evaluate', '--data', 'slatesbad', '--policy', cand, '--estimators', 'iips', '--out', path.join(dir, 'r5.json')]);
    expect(e.err).toContain('E_SLATE_PSCORE');
    expect(e.err).toContain('Rule "pscore_item_position in (0, 1]" failed for 1 row (first: 1)');
  });

  it('a slate log whose slates have different lengths is refused', async () => {
    const ragged = await writeCsv('slates-ragged.csv', LOG_HEADER, logRow, g.slateId.length - 1);
    expect((await runCli([...ws, 'datasets', 'ingest', ragged, '--name', 'ragged'])).code).toBe(0);
    const cand = await writeCsv('cand3.csv', CAND_HEADER, candRow, g.slateId.length - 1);
    const e = await runCli([...ws, 'evaluate', '--data', 'ragged', '--policy', cand, '--out', path.join(dir, 'r6.json')]);
    expect(e.err).toContain('E_SLATE_LENGTH');
    expect(e.err).toContain('failed for 1 row (first: 299)');
  });
});
