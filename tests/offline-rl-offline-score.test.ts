/**
 * Training without a simulator scores its checkpoints offline: fitted Q
 * evaluation of each checkpoint's policy (initial-state value, held-out TD
 * error), injected into the session (offline-rl never imports ope), logged as
 * offline-score events and in summary.json; and the CLI wires it in.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from '../src/datasets/workspace.js';
import { generateTrajectories, writeTrajectoryDataset } from '../src/envs/trajectories.js';
import { readMetrics } from '../src/offline-rl/metrics-log.js';
import { trainSession } from '../src/offline-rl/session.js';
import { fqeCheckpointScorer } from '../src/ope/trajectory/checkpoint-scorer.js';
import { ensureTfBackend } from '../src/util/tf-backend.js';
import { runCli } from './support/run-cli.js';

let dir: string;
let ws: Workspace;
const tinyFqe = { steps: 40, hidden: [16, 16], batchSize: 32 };

beforeAll(async () => {
  await ensureTfBackend();
  dir = await mkdtemp(join(tmpdir(), 'offline-score-'));
  ws = await Workspace.open(join(dir, 'ws'));
  await writeTrajectoryDataset(ws, 'pend', generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 20, seed: 1 }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('checkpoints scored offline', () => {
  it('a run without a simulator logs an FQE score (initial-state value, TD error) at every checkpoint and at the end', async () => {
    const out = join(dir, 'bc');
    const r = await trainSession(ws, 'bc', {
      data: 'pend', out, steps: 30, seed: 0, hidden: [16, 16], batchSize: 32, checkpointEvery: 10, evalEpisodes: 0, logEvery: 10,
      offlineScorer: fqeCheckpointScorer(ws, 'pend', { gamma: 0.9, seed: 1, fqe: tinyFqe }),
    });
    expect(r.evaluation).toBeNull();
    const scores = (await readMetrics(join(out, 'metrics.jsonl'))).filter((e) => e.event === 'offline-score');
    expect(scores.map((e) => e.step)).toEqual([10, 20, 30]);
    for (const e of scores) {
      expect(e.scorer).toBe('fqe');
      // pendulum rewards lie in [-16.3, 0]: V(s0) with gamma 0.9 lies in [-163, 0]
      expect(e.initialValue as number).toBeLessThanOrEqual(0.5);
      expect(e.initialValue as number).toBeGreaterThan(-170);
      expect(Number.isFinite(e.tdError as number), JSON.stringify(e)).toBe(true);
    }
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as { offlineScores: unknown[] };
    expect(summary.offlineScores.length).toBe(3);
  });
  it("with an environment, 'auto' leaves scoring to the rollouts and 'always' scores too", async () => {
    const base = { data: 'pend', steps: 10, seed: 0, hidden: [16, 16], batchSize: 32, checkpointEvery: 10, evalEpisodes: 1, evalEvery: 10 } as const;
    const scorer = fqeCheckpointScorer(ws, 'pend', { gamma: 0.9, fqe: tinyFqe });
    await trainSession(ws, 'bc', { ...base, out: join(dir, 'auto'), offlineScorer: scorer });
    const auto = await readMetrics(join(dir, 'auto', 'metrics.jsonl'));
    expect(auto.some((e) => e.event === 'eval')).toBe(true);
    expect(auto.some((e) => e.event === 'offline-score')).toBe(false);
    await trainSession(ws, 'bc', { ...base, out: join(dir, 'always'), offlineScorer: scorer, offlineScore: 'always' });
    expect((await readMetrics(join(dir, 'always', 'metrics.jsonl'))).filter((e) => e.event === 'offline-score').map((e) => e.step)).toEqual([10]);
  });
  it('the CLI injects the FQE scorer and prints the last score; a bad --offline-score is a usage error', async () => {
    const w = ['--workspace', join(dir, 'ws'), 'train', 'bc', '--data', 'pend', '--steps', '10', '--hidden', '16,16', '--batch-size', '32', '--eval-episodes', '0', '--checkpoint-every', '10', '--score-fqe-steps', '30'];
    const r = await runCli([...w, '--out', join(dir, 'cli')]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/offline score\s+FQE at step 10: V\(s0\) -?\d/);
    const bad = await runCli([...w, '--out', join(dir, 'cli2'), '--offline-score', 'sometimes']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/E_CLI_ARG.*--offline-score takes auto, always or none/s);
  });
  it('a bandit log trains without offline scoring; --offline-score always on it is a usage error', async () => {
    const wsArg = ['--workspace', join(dir, 'ws')];
    const gen = await runCli([...wsArg, 'generate', 'bandit', '--name', 'log', '--rows', '300', '--actions', '3', '--context-dim', '2', '--reward', 'logistic', '--beta', '1', '--seed', '0']);
    expect(gen.code, gen.err).toBe(0);
    const w = [...wsArg, 'train', 'bc', '--data', 'log', '--steps', '10', '--hidden', '16,16', '--batch-size', '32', '--checkpoint-every', '10'];
    const ok = await runCli([...w, '--out', join(dir, 'bandit-bc')]);
    expect(ok.code, ok.err).toBe(0);
    expect((await readMetrics(join(dir, 'bandit-bc', 'metrics.jsonl'))).some((e) => e.event === 'offline-score')).toBe(false);
    const bad = await runCli([...w, '--out', join(dir, 'bandit-bc2'), '--offline-score', 'always']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/E_CLI_ARG.*--offline-score always scores checkpoints by FQE on trajectory data, but log is not a trajectory dataset/s);
  });
});
