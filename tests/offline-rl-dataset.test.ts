import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from '../src/datasets/workspace.js';
import { generateTrajectories, writeTrajectoryDataset } from '../src/envs/trajectories.js';
import { ensureTfBackend } from '../src/util/tf-backend.js';
import { trainOnDataset } from '../src/offline-rl/train-dataset.js';

let dir: string;
let ws: Workspace;

beforeAll(async () => {
  await ensureTfBackend();
  dir = await mkdtemp(join(tmpdir(), 'offline-rl-ws-'));
  ws = await Workspace.open(dir);
  await writeTrajectoryDataset(ws, 'pend', generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 4, seed: 1 }));
  await writeTrajectoryDataset(ws, 'cart', generateTrajectories({ env: 'cartpole', policy: 'random', episodes: 2, seed: 1 }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('training on a stored dataset', () => {
  it('loads the version, takes the action bound from its space, records the dataset and scores in its env', async () => {
    const r = await trainOnDataset(ws, 'pend', 'iql', { steps: 5, seed: 1, hidden: [8, 8], batchSize: 16, evalEpisodes: 2 });
    expect(r.dataset).toBe('pend@1');
    expect(r.algo).toBe('iql');
    expect([...r.policy.maxAction]).toEqual([2]);
    expect(r.policy.obsDim).toBe(3);
    expect(r.policy.training).toMatchObject({ algo: 'iql', steps: 5, dataset: 'pend@1', datasetHash: expect.any(String) });
    expect(r.evaluation!.envId).toBe('Pendulum-v1');
    expect(r.evaluation!.returns.length).toBe(2);
    expect(r.evaluation!.normalizedScore).not.toBeNull();
    const none = await trainOnDataset(ws, 'pend@1', 'bc', { steps: 2, seed: 1, hidden: [8], batchSize: 8, evalEpisodes: 0, where: 'episode_id < 2' });
    expect(none.evaluation).toBeNull();
  });
  it('errors: unknown algorithm (before loading), unknown dataset, discrete actions', async () => {
    await expect(trainOnDataset(ws, 'nope', 'dqn-ish', { steps: 1, seed: 1 })).rejects.toMatchObject({ code: 'E_UNKNOWN_ALGO' });
    await expect(trainOnDataset(ws, 'nope', 'bc', { steps: 1, seed: 1 })).rejects.toMatchObject({ code: 'E_DATASET_NOT_FOUND', message: expect.stringContaining('No dataset named "nope"') });
    await expect(trainOnDataset(ws, 'cart', 'bc', { steps: 1, seed: 1 })).rejects.toMatchObject({
      code: 'E_ACTION_SHAPE',
      message: expect.stringContaining('needs continuous (box) actions'),
    });
  });
});
