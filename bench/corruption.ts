/**
 * Corruption throughput: random corruption of every field, trajectory-consistent,
 * the critic fit (fitted Q evaluation on the wasm engine) and the adversarial
 * attack (100 Adam steps) on a generated Pendulum dataset; prints the load average.
 * Usage: npx tsx bench/corruption.ts [steps=100000]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { Workspace } from '../src/datasets/workspace.js';
import { openMemoryConnection } from '../src/datasets/duckdb.js';
import { loadTrajectoryArrays } from '../src/datasets/load-trajectories.js';
import { generateTrajectories, writeTrajectoryDataset } from '../src/envs/trajectories.js';
import { corruptTrajectories } from '../src/corruption/trajectories.js';
import { trainFqeCritic } from '../src/corruption/critic.js';
import { corruptBanditLog } from '../src/corruption/bandit.js';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';

const steps = Number(process.argv[2] ?? 100_000);
const dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-bench-corrupt-'));
try {
  const ws = await Workspace.open(dir);
  await writeTrajectoryDataset(ws, 'pend', generateTrajectories({ env: 'pendulum', policy: 'medium', steps, seed: 1 }));
  const time = async (label: string, f: () => Promise<unknown>): Promise<void> => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await f();
    const s = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    console.log(`${label.padEnd(58)} ${s.toFixed(2)} s wall, ${((c.user + c.system) / 1e6).toFixed(2)} s CPU, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  };
  await time(`random, all fields, rate 0.3, ${steps} steps`, () => corruptTrajectories(ws, { data: 'pend@1', fields: 'all', mode: 'random', seed: 1, name: 'r' }));
  await time(`random, obs+next_obs, trajectory-consistent, ${steps} steps`, () =>
    corruptTrajectories(ws, { data: 'pend@1', fields: ['obs', 'next_obs'], mode: 'random', seed: 1, trajectoryConsistent: true, name: 'c' }),
  );
  const conn = await openMemoryConnection();
  const data = await loadTrajectoryArrays(conn, await ws.resolve('pend@1'));
  conn.closeSync();
  let critic: Awaited<ReturnType<typeof trainFqeCritic>>['critic'] | undefined;
  await time('train FQE critic, 3000 steps, batch 256', async () => {
    const r = await trainFqeCritic(data, { seed: 1 });
    critic = r.critic;
    if (r.warnings.length) console.log(r.warnings.join('\n'));
  });
  await time(`adversarial obs, rate 0.3 (${Math.round(0.3 * steps)} rows x 100 Adam steps)`, () =>
    corruptTrajectories(ws, { data: 'pend@1', fields: ['obs'], mode: 'adversarial', seed: 1, critic, name: 'a' }),
  );
  const n = steps * 10;
  await writeBanditDataset(ws, 'logs', generateBanditLog({ n, numActions: 10, contextDim: 5, reward: 'logistic', beta: -3, seed: 1 }));
  await time(`bandit propensity-noise, rate 0.3, ${n} rows`, () => corruptBanditLog(ws, { data: 'logs', kind: 'propensity-noise', seed: 1, name: 'b1' }));
  await time(`bandit duplicate-rows, rate 0.3, ${n} rows`, () => corruptBanditLog(ws, { data: 'logs', kind: 'duplicate-rows', seed: 1, name: 'b2' }));
} finally {
  await rm(dir, { recursive: true, force: true });
}
