import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/run-cli.js';
import { openMemoryConnection, queryOne, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { Workspace } from '../src/datasets/workspace.js';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { parseSetting, robustnessStudy, settingLabel } from '../src/corruption/robustness.js';
import { OffpolicyError } from '../src/core/errors.js';
import { pendulumDataset, scan } from './corruption-helpers.js';

let dir: string;
let ws: Workspace;
let conn: DuckDBConnection;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-robust-'));
  ws = await Workspace.open(dir);
  await writeBanditDataset(ws, 'logs', generateBanditLog({ n: 400, numActions: 3, contextDim: 2, reward: 'logistic', beta: 1, seed: 1 }));
  await pendulumDataset(ws, 'pend', 300);
  conn = await openMemoryConnection();
});
afterAll(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

const meanReward = async (ref: string): Promise<Record<string, number>> => {
  const v = await ws.resolve(ref);
  const r = await queryOne(conn, `SELECT avg(reward) AS m, count(*) AS n FROM ${scan(v)}`);
  return { meanReward: Number(r.m), rows: Number(r.n) };
};

async function expectError(p: Promise<unknown> | (() => unknown), code: string, message: RegExp): Promise<void> {
  const e = typeof p === 'function' ? (() => { try { p(); return null; } catch (x) { return x; } })() : await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(OffpolicyError);
  expect((e as OffpolicyError).code).toBe(code);
  expect((e as OffpolicyError).message).toMatch(message);
}

describe('robustnessStudy', () => {
  it('scores the clean and each corrupted bandit log side by side', async () => {
    const study = await robustnessStudy(ws, {
      data: 'logs',
      settings: [parseSetting('kind=reward-flip,rate=1'), parseSetting('kind=duplicate-rows,rate=0.5')],
      seed: 3,
      score: meanReward,
    });
    const m = study.clean.scores.meanReward!;
    expect(study.clean).toEqual({ ref: 'logs@1', scores: { meanReward: m, rows: 400 } });
    expect(study.settings).toEqual([
      { label: 'reward-flip rate=1 scale=1', ref: 'logs-robustness@1' },
      { label: 'duplicate-rows rate=0.5 scale=1', ref: 'logs-robustness@2' },
    ]);
    const flip = study.rows.find((r) => r.ref === 'logs-robustness@1' && r.metric === 'meanReward')!;
    expect(flip.corrupted).toBeCloseTo(1 - m, 12);
    expect(flip.delta).toBeCloseTo(1 - 2 * m, 12);
    expect(flip.relativeChange).toBeCloseTo((1 - 2 * m) / m, 12);
    const dupRows = study.rows.find((r) => r.ref === 'logs-robustness@2' && r.metric === 'rows')!;
    expect([dupRows.clean, dupRows.corrupted, dupRows.delta, dupRows.relativeChange]).toEqual([400, 600, 200, 0.5]);
  });

  it('runs trajectory settings and records a scorer that refuses a version', async () => {
    const study = await robustnessStudy(ws, {
      data: 'pend',
      settings: [{ fields: ['reward'], mode: 'adversarial', rate: 1, scale: 1 }, { fields: ['obs'], rate: 0.5 }],
      seed: 1,
      name: 'pend-rob',
      score: async (ref) => {
        if (ref === 'pend-rob@2') throw new OffpolicyError('E_TEST', 'This scorer refuses pend-rob@2.');
        return meanReward(ref);
      },
    });
    const r = study.rows.find((x) => x.metric === 'meanReward')!;
    expect(r.corrupted).toBeCloseTo(-r.clean, 12);
    expect(study.settings[1]).toEqual({ label: 'obs random rate=0.5 scale=1', ref: 'pend-rob@2', error: { code: 'E_TEST', message: 'This scorer refuses pend-rob@2.' } });
    expect(study.rows.every((x) => x.ref === 'pend-rob@1')).toBe(true);
  });

  it('trains one critic for the adversarial settings and reuses it', async () => {
    const study = await robustnessStudy(ws, {
      data: 'pend@1',
      settings: [parseSetting('field=obs,mode=adversarial,rate=0.2'), parseSetting('field=action,mode=adversarial,rate=0.2')],
      seed: 2,
      name: 'pend-adv',
      trainCritic: { steps: 40 },
      score: meanReward,
    });
    expect(study.settings.map((s) => s.ref)).toEqual(['pend-adv@1', 'pend-adv@2']);
    const first = await ws.resolve('pend-adv@1');
    const second = await ws.resolve('pend-adv@2');
    expect(first.metadata.lineage.params).toMatchObject({ critic: { trained: { steps: 40 } } });
    expect(second.metadata.lineage.params).toMatchObject({ critic: 'supplied' });
    expect(study.rows.every((r) => r.corrupted === r.clean || r.metric !== 'meanReward')).toBe(true); // rewards untouched
  }, 30_000);

  it('rejects bad settings before writing anything', async () => {
    await expectError(() => parseSetting('kind=reward-flip,speed=3'), 'E_CORRUPTION_SETTING', /Cannot read "speed=3" in the corruption setting/);
    await expectError(() => parseSetting('rate=0.3'), 'E_CORRUPTION_SETTING', /needs exactly one of field=\.\.\. \(trajectories\) and kind=\.\.\. \(bandit logs\)/);
    await expectError(() => parseSetting('kind=reward-flip,rate=abc'), 'E_CORRUPTION_SETTING', /rate takes a number .*got "abc"/);
    const before = (await ws.versions()).length;
    await expectError(robustnessStudy(ws, { data: 'logs', settings: [{ kind: 'reward-flip' }, { kind: 'reward-noise', rate: 3 }], seed: 1, score: meanReward }), 'E_CORRUPTION_RATE', /got 3/);
    await expectError(robustnessStudy(ws, { data: 'logs', settings: [{ kind: 'reward-flip' }, { fields: ['obs'] }], seed: 1, score: meanReward }), 'E_DATASET_KIND', /logs@1 is a bandit log/);
    await expectError(robustnessStudy(ws, { data: 'logs', settings: [], seed: 1, score: meanReward }), 'E_CORRUPTION_SETTING', /at least one corruption setting/);
    expect((await ws.versions()).length).toBe(before);
    expect(settingLabel(parseSetting('field=obs+next_obs,mode=adversarial,scale=0.5,consistent=true'))).toBe('obs+next_obs adversarial rate=0.3 scale=0.5 consistent');
  });
});

describe('offpolicy robustness', () => {
  it('evaluates a candidate on clean and corrupted logs and prints the table', async () => {
    const { out, err, code } = await runCli(['-w', dir, 'robustness', '--data', 'logs@1', '--setting', 'kind=reward-flip,rate=1', '--policy', 'logger=column:action_probs', '--estimators', 'ips,snips', '--json']);
    expect(code, err).toBe(0);
    const study = JSON.parse(out);
    const m = (await meanReward('logs@1')).meanReward!;
    // The logger evaluated on its own log: IPS and SNIPS are the mean reward (all weights 1).
    expect(study.clean.scores['logger/ips']).toBeCloseTo(m, 12);
    const ips = study.rows.find((r: { metric: string }) => r.metric === 'logger/ips');
    expect(ips.corrupted).toBeCloseTo(1 - m, 12);
    expect(study.rows.map((r: { metric: string }) => r.metric).sort()).toEqual(['logger/ips', 'logger/snips']);
  }, 30_000);
});
