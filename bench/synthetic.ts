/**
 * Generation speed of the synthetic data sources (no targets in the issue; for
 * the README). Run: npx tsx bench/synthetic.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { generateTrajectories, writeTrajectoryDataset } from '../src/envs/trajectories.js';
import { Workspace } from '../src/datasets/workspace.js';

const time = async <T>(label: string, rows: number, fn: () => T | Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const out = await fn();
  const s = (performance.now() - t0) / 1000;
  console.log(`${label.padEnd(48)} ${s.toFixed(2)} s  (${Math.round(rows / s).toLocaleString('en-US')} rows/s)`);
  return out;
};

const dir = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-bench-synth-'));
try {
  const ws = await Workspace.open(dir);
  const N = 1_000_000;
  const log = await time('generateBanditLog 1M rows, K=10, d=5', N, () =>
    generateBanditLog({ n: N, numActions: 10, contextDim: 5, reward: 'logistic', beta: -3, seed: 0 }),
  );
  await time('writeBanditDataset 1M rows', N, () => writeBanditDataset(ws, 'bandit', log));
  const steps = 1_000_000;
  const traj = await time('generateTrajectories pendulum medium 1M steps', steps, () =>
    generateTrajectories({ env: 'pendulum', policy: 'medium', steps, seed: 0 }),
  );
  await time('writeTrajectoryDataset 1M steps', steps, () => writeTrajectoryDataset(ws, 'pendulum', traj));
  console.log(`peak RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
