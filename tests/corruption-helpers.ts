/** Small datasets and helpers shared by the corruption tests. */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { lit, openMemoryConnection } from '../src/datasets/duckdb.js';
import { loadTrajectoryArrays, type TrajectoryArrays } from '../src/datasets/load-trajectories.js';
import type { DatasetVersion, Workspace } from '../src/datasets/workspace.js';
import { generateTrajectories, loadTrajectoryTable, writeTrajectoryDataset } from '../src/envs/trajectories.js';

export async function pendulumDataset(ws: Workspace, name = 'pend', steps = 1200, seed = 1): Promise<DatasetVersion> {
  return writeTrajectoryDataset(ws, name, generateTrajectories({ env: 'pendulum', policy: 'medium', steps, seed }));
}

export async function cartpoleDataset(ws: Workspace, name = 'cart', steps = 600, seed = 2): Promise<DatasetVersion> {
  return writeTrajectoryDataset(ws, name, generateTrajectories({ env: 'cartpole', policy: 'medium', steps, seed }));
}

/** A trajectory dataset without the next_observation column. */
export async function noNextDataset(ws: Workspace, name = 'nonext'): Promise<DatasetVersion> {
  const data = generateTrajectories({ env: 'pendulum', policy: 'random', steps: 300, seed: 3 });
  const conn = await openMemoryConnection();
  try {
    const select = await loadTrajectoryTable(conn, 'traj', data);
    return await ws.createVersion({
      name,
      conn,
      select: `SELECT * EXCLUDE (next_observation) FROM (${select})`,
      metadata: { kind: 'trajectory', observationSpace: data.observationSpace, actionSpace: data.actionSpace, lineage: { transform: 'test', params: {} } },
    });
  } finally {
    conn.closeSync();
  }
}

/** A pendulum dataset whose episodes' last steps have NULL next_observation (as D4RL files store them). */
export async function nullNextDataset(ws: Workspace, name = 'nullnext'): Promise<DatasetVersion> {
  const data = generateTrajectories({ env: 'pendulum', policy: 'random', episodes: 3, seed: 4 });
  const conn = await openMemoryConnection();
  try {
    const select = await loadTrajectoryTable(conn, 'traj', data);
    return await ws.createVersion({
      name,
      conn,
      select: `SELECT * REPLACE (CASE WHEN terminated OR truncated THEN NULL ELSE next_observation END AS next_observation) FROM (${select})`,
      metadata: { kind: 'trajectory', observationSpace: data.observationSpace, actionSpace: data.actionSpace, lineage: { transform: 'test', params: {} } },
    });
  } finally {
    conn.closeSync();
  }
}

export async function arraysOf(v: DatasetVersion): Promise<TrajectoryArrays> {
  const conn = await openMemoryConnection();
  try {
    return await loadTrajectoryArrays(conn, v);
  } finally {
    conn.closeSync();
  }
}

/** sha256 of every file in a version directory, by name. */
export async function dirHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await readdir(dir)).sort()) out[f] = createHash('sha256').update(await readFile(path.join(dir, f))).digest('hex');
  return out;
}

export function scan(v: DatasetVersion): string {
  return `read_parquet(${lit(v.glob)})`;
}

/** Population std per dimension. */
export function stdPerDim(x: Float32Array, n: number, d: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < d; j++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += x[i * d + j]! / n;
    let s = 0;
    for (let i = 0; i < n; i++) s += (x[i * d + j]! - m) ** 2 / n;
    out.push(Math.sqrt(s));
  }
  return out;
}
