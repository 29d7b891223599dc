import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { Workspace } from '../src/datasets/workspace.js';
import { runCli } from './support/run-cli.js';

let dir: string;
let ws: string;
const run = (args: string[]): ReturnType<typeof runCli> => runCli(['-w', ws, ...args]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'learn-cli-'));
  ws = join(dir, 'ws');
  const w = await Workspace.open(ws);
  const gen = generateBanditLog({ n: 800, numActions: 3, contextDim: 2, reward: 'logistic', beta: 0, seed: 5 });
  await writeBanditDataset(w, 'syn', gen);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('offpolicy learn', () => {
  it('learns, prints the certificate, writes a policy directory evaluate accepts; same seed, same policy bytes', async () => {
    const out = join(dir, 'pol');
    const r = await run(['learn', '--data', 'syn', '--objective', 'catoni', '--policy-class', 'mixed-logit', '--epochs', '2', '--seed', '3', '--out', out]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^With probability >= 95%, the learned policy's value is >= [0-9.]+ \(catoni bound on the whole log, n = 800, KL = [0-9.]+\)\./);
    const cert = JSON.parse(await readFile(join(out, 'certificate.json'), 'utf8'));
    expect(cert.data).toBe('syn@1');
    expect(cert.certificate.verdict).toMatch(/^(deploy|do-not-deploy)$/);
    const again = await run(['learn', '--data', 'syn', '--objective', 'catoni', '--policy-class', 'mixed-logit', '--epochs', '2', '--seed', '3', '--out', out, '--force']);
    expect(again.code).toBe(0);
    const p1 = await readFile(join(out, 'policy.json'), 'utf8');
    const ev = await run(['evaluate', '--data', 'syn', '--policy', out, '--estimators', 'ips', '--interval', 't', '--out', join(dir, 'res.json')]);
    expect(ev.code).toBe(0);
    expect(ev.out).toContain('pol');
    const third = join(dir, 'pol3');
    await run(['learn', '--data', 'syn', '--objective', 'catoni', '--policy-class', 'mixed-logit', '--epochs', '2', '--seed', '3', '--out', third]);
    expect(await readFile(join(third, 'policy.json'), 'utf8')).toBe(p1);
  }, 60_000);

  it('bad input exits 2 with the coded error', async () => {
    const r = await run(['learn', '--data', 'syn', '--objective', 'es', '--out', join(dir, 'x'), '--reward-range', '0.5,1']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^error \[E_REWARD_RANGE\]: Rule "reward in \[0.5, 1\]" failed for \d+ rows/);
    const k = await run(['learn', '--data', 'syn', '--objective', 'catoni', '--out', join(dir, 'y'), '--epochs', 'many']);
    expect(k.code).toBe(2);
    expect(k.err).toContain('error [E_CLI_ARG]: --epochs takes a number, got "many".');
  }, 60_000);
});
