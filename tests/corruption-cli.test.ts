import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from '../src/datasets/workspace.js';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { loadCritic } from '../src/corruption/critic.js';
import { pendulumDataset } from './corruption-helpers.js';
import { runCli } from './support/run-cli.js';

let dir: string;

const run = (args: string[]): ReturnType<typeof runCli> => runCli(['-w', dir, ...args]);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-corrupt-cli-'));
  const ws = await Workspace.open(dir);
  await pendulumDataset(ws, 'pend', 400);
  await writeBanditDataset(ws, 'logs', generateBanditLog({ n: 300, numActions: 3, contextDim: 2, reward: 'logistic', beta: 1, seed: 1 }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('offpolicy corrupt', () => {
  it('corrupts comma-listed and repeated fields and prints the summary', async () => {
    const clean = await (await Workspace.open(dir)).resolve('pend');
    const r = await run(['corrupt', '--data', 'pend', '--field', 'obs,reward', '--field', 'next_obs', '--rate', '0.25', '--scale', '0.5', '--seed', '3', '--trajectory-consistent', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    // Without --name the corrupted data is a new dataset: pend@latest is still the clean version.
    const after = await Workspace.open(dir);
    expect((await after.resolve('pend')).ref).toBe(clean.ref);
    expect((await after.resolve('pend')).metadata.contentHash).toBe(clean.metadata.contentHash);
    const v = await after.resolve('pend-corrupted@1');
    expect(s).toMatchObject({ ref: 'pend-corrupted@1', parent: 'pend@1', rows: 400, contentHash: v.metadata.contentHash, selected: { obs: 100, reward: 100, next_obs: 100 } });
    expect(v.metadata.lineage.params).toMatchObject({ fields: ['obs', 'reward', 'next_obs'], rate: 0.25, scale: 0.5, trajectoryConsistent: true });
    expect(v.metadata.lineage.seed).toBe(3);
  });

  it('trains, uses and saves a critic in adversarial mode', async () => {
    const file = path.join(dir, 'critic.json');
    const r = await run(['corrupt', '--data', 'pend@1', '--field', 'action', '--mode', 'adversarial', '--train-critic', '--critic-steps', '40', '--attack-steps', '5', '--save-critic', file, '--name', 'adv']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ref\s+adv@1\n/);
    expect(existsSync(file)).toBe(true);
    const c = await loadCritic(file);
    expect([c.obsDim, c.actDim]).toEqual([3, 1]);
    const again = await run(['corrupt', '--data', 'pend@1', '--field', 'action', '--mode', 'adversarial', '--critic', file, '--attack-steps', '5', '--name', 'adv2']);
    expect(again.code).toBe(0);
  }, 30_000);

  it.each([
    [['--field', 'obs', '--rate', '1.5'], 'E_CORRUPTION_RATE', 'Corruption rate must lie in [0, 1], got 1.5.'],
    [['--field', 'obs', '--rate', 'lots'], 'E_CORRUPTION_RATE', '--rate takes a number, got "lots".'],
    [['--field', 'obs', '--scale', '0'], 'E_CORRUPTION_SCALE', 'Corruption scale must be a positive number, got 0.'],
    [['--field', 'wheels'], 'E_CORRUPTION_FIELD', 'Unknown field "wheels". Valid fields: obs, action, reward, next_obs, all.'],
    [[], 'E_CORRUPTION_FIELD', 'No field to corrupt was given.'],
    [['--field', 'obs', '--mode', 'adversarial'], 'E_CRITIC_REQUIRED', 'needs a critic Q(s, a) to attack.'],
  ])('%j -> %s', async (flags, code, message) => {
    const r = await run(['corrupt', '--data', 'pend', ...flags]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`error [${code}]: `);
    expect(r.err).toContain(message);
  });

  it('refuses a bandit log', async () => {
    const r = await run(['corrupt', '--data', 'logs', '--field', 'obs']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('error [E_DATASET_KIND]: Dataset logs@1 is a bandit log, not trajectory data.');
  });
});

describe('offpolicy corrupt-log', () => {
  it('corrupts a bandit log', async () => {
    const r = await run(['corrupt-log', '--data', 'logs', '--kind', 'reward-flip', '--rate', '0.1', '--seed', '2', '--name', 'flipped', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ ref: 'flipped@1', parent: 'logs@1', rows: 300, kind: 'reward-flip', changed: 30 });
  });

  it('without --name writes NAME-corrupted (then new versions of it), never a new latest version of the clean log', async () => {
    const clean = await (await Workspace.open(dir)).resolve('logs');
    const a = await run(['corrupt-log', '--data', 'logs', '--kind', 'reward-noise', '--seed', '1', '--json']);
    const b = await run(['corrupt-log', '--data', 'logs', '--kind', 'drop-rewards', '--seed', '1', '--json']);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect([JSON.parse(a.out).ref, JSON.parse(b.out).ref]).toEqual(['logs-corrupted@1', 'logs-corrupted@2']);
    const now = await (await Workspace.open(dir)).resolve('logs');
    expect([now.ref, now.metadata.contentHash]).toEqual([clean.ref, clean.metadata.contentHash]);
  });

  it('rejects an unknown kind and a trajectory dataset', async () => {
    const a = await run(['corrupt-log', '--data', 'logs', '--kind', 'swap']);
    expect(a.code).toBe(2);
    expect(a.err).toContain('error [E_CORRUPTION_KIND]: Unknown bandit-log corruption "swap". Valid kinds: propensity-noise,');
    const b = await run(['corrupt-log', '--data', 'pend@1', '--kind', 'reward-noise']);
    expect(b.code).toBe(2);
    expect(b.err).toContain('error [E_DATASET_KIND]: Dataset pend@1 is trajectory data, not a bandit log.');
  });
});
