/**
 * Issue 15 item 6: CLI defaults that protect data and meaning. Usage errors exit
 * 2 (run as processes); a trained policy's candidate name is its run directory's
 * name and duplicate names are refused for every kind of candidate; rollout and
 * evaluate take a run directory and find policy/ inside. (Corruption naming:
 * corruption-cli.test.ts.)
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { Workspace } from '../src/datasets/workspace.js';
import { evaluate } from '../src/ope/evaluate.js';
import { loadPolicyDir } from '../src/offline-rl/discrete/policy-dir.js';
import { expectRejects } from './support/expect-error.js';
import { runCli } from './support/run-cli.js';
import { spawnCli } from './support/spawn-cli.js';

let dir: string;
let wsDir: string;
let ws: Workspace;
const run = (args: string[]): ReturnType<typeof runCli> => runCli(['-w', wsDir, ...args]);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-cli-defaults-'));
  wsDir = path.join(dir, 'ws');
  ws = await Workspace.open(wsDir);
  // K = 2 and 4 context features, as CartPole: a policy trained on CartPole data scores this log.
  await writeBanditDataset(ws, 'logs', generateBanditLog({ n: 400, numActions: 2, contextDim: 4, reward: 'logistic', beta: 1, seed: 4 }));
  const gen = await run(['generate', 'trajectories', '--name', 'cp', '--env', 'cartpole', '--policy', 'random', '--episodes', '3', '--seed', '0']);
  expect(gen.code).toBe(0);
  // Two run directories of discrete BC on CartPole data: one training, copied under a second name (only the names differ).
  const t = await run(['train', 'bc', '--data', 'cp', '--steps', '3', '--seed', '0', '--eval-episodes', '0', '--out', path.join(dir, 'runs', 'robot-iql')]);
  expect(t.code, t.err).toBe(0);
  await cp(path.join(dir, 'runs', 'robot-iql'), path.join(dir, 'runs', 'cart-bc'), { recursive: true });
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('usage errors exit 2, as coded errors do (separate processes)', () => {
  it.each([
    [['evaluate', '--data', 'logs', '--policy', 'column:action_probs', '--bogus'], 2, "error: unknown option '--bogus'"],
    [['corrupt-log', '--kind', 'drop-rewards'], 2, "error: required option '--data <ref>' not specified"],
    [['datasets', 'ingest', '--name', 'x'], 2, "error: missing required argument 'source'"],
    [['frobnicate'], 2, "error: unknown command 'frobnicate'"],
    [['evaluate', '--data', 'logs', '--policy'], 2, "error: option '--policy <spec>' argument missing"],
    [['datasets', 'show', 'nope'], 2, 'error [E_DATASET_NOT_FOUND]'],
    [['--version'], 0, ''],
    [['evaluate', '--help'], 0, ''],
  ])('%j exits %i', async (args, code, stderr) => {
    const r = await spawnCli(['-w', wsDir, ...args]);
    expect(r.code, r.err).toBe(code);
    expect(r.err).toContain(stderr);
  });
});

describe('candidate names', () => {
  it('a trained policy is named after its run directory, given as the run directory or its policy/ folder', async () => {
    for (const spec of [path.join(dir, 'runs', 'robot-iql'), path.join(dir, 'runs', 'robot-iql', 'policy')]) {
      const r = await evaluate(ws, { data: 'logs', policies: [{ spec }], interval: 't', estimators: ['ips'], loadPolicyDir });
      expect(r.candidates[0]!.name).toBe('robot-iql');
    }
  });

  it('the run directory and its policy/ folder together are refused: one name for two candidates', async () => {
    const out = path.join(dir, 'dup.json');
    const r = await run(['evaluate', '--data', 'logs', '--policy', path.join(dir, 'runs', 'robot-iql'), '--policy', path.join(dir, 'runs', 'robot-iql', 'policy'), '--interval', 't', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('error [E_POLICY_NAME]: Candidate names must differ, but "robot-iql" names 2 candidates. Name them apart with --policy NAME=SPEC');
    const named = await run(['evaluate', '--data', 'logs', '--policy', `a=${path.join(dir, 'runs', 'robot-iql')}`, '--policy', `b=${path.join(dir, 'runs', 'robot-iql', 'policy')}`, '--interval', 't', '--estimators', 'ips', '--out', out]);
    expect(named.code, named.err).toBe(0);
  });

  it('duplicates of every kind are refused, naming each shared name: tables, JSON policies, columns', async () => {
    for (const sub of ['a', 'b']) {
      await mkdir(path.join(dir, sub), { recursive: true });
      await writeFile(path.join(dir, sub, 'u.json'), JSON.stringify({ type: 'uniform' }));
      await writeFile(path.join(dir, sub, 'cand.csv'), 'row_id,p_0,p_1\n' + Array.from({ length: 400 }, (_, i) => `${i},0.3,0.7`).join('\n') + '\n');
    }
    await expectRejects(
      evaluate(ws, {
        data: 'logs',
        policies: [{ spec: path.join(dir, 'a', 'cand.csv') }, { spec: path.join(dir, 'b', 'cand.csv') }, { spec: path.join(dir, 'a', 'u.json') }, { spec: path.join(dir, 'b', 'u.json') }, { spec: path.join(dir, 'a', 'u.json') }],
      }),
      'E_POLICY_NAME',
      'Candidate names must differ, but "cand" names 2 candidates, "u" names 3 candidates. Name them apart with --policy NAME=SPEC (library: the name of each policy); a trained policy is named after its run directory by default.',
    );
    await expectRejects(evaluate(ws, { data: 'logs', policies: [{ spec: 'column:action_probs' }, { name: 'action_probs', spec: path.join(dir, 'a', 'u.json') }] }), 'E_POLICY_NAME', /"action_probs" names 2 candidates/);
  });

  it('trajectory candidates: named after the run directory, duplicates refused', async () => {
    const out = path.join(dir, 'traj.json');
    const dup = await run(['evaluate', '--data', 'cp', '--policy', path.join(dir, 'runs', 'cart-bc'), '--policy', path.join(dir, 'runs', 'cart-bc', 'policy'), '--estimators', 'tis', '--interval', 't', '--out', out]);
    expect(dup.code).toBe(2);
    expect(dup.err).toContain('error [E_POLICY_NAME]: Candidate names must differ, but "cart-bc" names 2 candidates.');
    const ok = await run(['evaluate', '--data', 'cp', '--policy', path.join(dir, 'runs', 'cart-bc'), '--estimators', 'tis', '--interval', 't', '--out', out]);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain('cart-bc');
  });
});

describe('rollout --policy RUN_DIR', () => {
  it('finds policy/ inside the run directory, and says where it looked when neither holds a policy', async () => {
    const r = await run(['rollout', '--policy', path.join(dir, 'runs', 'cart-bc'), '--episodes', '1', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ algo: 'bc-discrete', env: 'CartPole-v1', episodes: 1 });
    const missing = await run(['rollout', '--policy', path.join(dir, 'runs'), '--episodes', '1']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain(`error [E_POLICY_NOT_FOUND]: No policy.json in ${path.join(dir, 'runs')}. Nor in ${path.join(dir, 'runs', 'policy')}: pass a training run directory (what offpolicy train wrote) or the policy/ folder inside it.`);
  });
});
