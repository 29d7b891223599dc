/**
 * Issue 2's trajectory target: a 1,000,000-step D4RL-style HDF5 file (17-dim
 * observations, 6-dim actions, episodes of 1000 steps, with next_observations)
 * ingests and loads into typed arrays for training in under 10 s together.
 *
 *   npx tsx bench/trajectory-hdf5.ts [steps]
 *
 * Times (file writing is not timed):
 *   ingest  = ingest(): sniff, stageD4rlHdf5, trajectory validation, Parquet write;
 *   load    = loadTrajectoryArrays on the stored version;
 * and, to show where the time goes, the stage / validate / createVersion parts
 * run separately on a second connection. Each figure comes with the process's
 * CPU time (DuckDB's threads included), which moves less than wall time when
 * other work shares the machine; the load average is printed for context.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import h5wasm from 'h5wasm/node';
import { openMemoryConnection } from '../src/datasets/duckdb.js';
import { ingest } from '../src/datasets/ingest/index.js';
import { stageD4rlHdf5 } from '../src/datasets/ingest/hdf5.js';
import { loadTrajectoryArrays } from '../src/datasets/load-trajectories.js';
import { prepareTrajectoryChecks } from '../src/datasets/validate-trajectory.js';
import { findViolations } from '../src/datasets/validation.js';
import { Workspace } from '../src/datasets/workspace.js';
import { Rng } from '../src/util/rng.js';

const N = Number(process.argv[2] ?? 1_000_000);
const OBS = 17;
const ACT = 6;
const EP = 1000;

const ms = (t0: number) => performance.now() - t0;
const fmt = (x: number) => `${(x / 1000).toFixed(2)} s`;
/** CPU seconds of this process (all threads, DuckDB's included) since `c0`: steadier than wall time on a shared machine. */
const cpu = (c0: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(c0);
  return `${((d.user + d.system) / 1e6).toFixed(2)} s CPU`;
};

const dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-bench-h5-'));
try {
  const file = path.join(dir, 'halfcheetah-like.hdf5');
  let t0 = performance.now();
  const rng = new Rng(7);
  const obs = new Float32Array((N + 1) * OBS);
  for (let i = 0; i < obs.length; i++) obs[i] = rng.normal();
  const act = new Float32Array(N * ACT);
  for (let i = 0; i < act.length; i++) act[i] = rng.uniform() * 2 - 1;
  const rewards = new Float32Array(N);
  for (let i = 0; i < N; i++) rewards[i] = rng.normal();
  const terminals = new Uint8Array(N);
  const timeouts = new Uint8Array(N);
  for (let i = EP - 1; i < N; i += EP) timeouts[i] = 1;
  await h5wasm.ready;
  const f = new h5wasm.File(file, 'w');
  f.create_dataset({ name: 'observations', data: obs.subarray(0, N * OBS), shape: [N, OBS], dtype: '<f' });
  f.create_dataset({ name: 'next_observations', data: obs.subarray(OBS), shape: [N, OBS], dtype: '<f' });
  f.create_dataset({ name: 'actions', data: act, shape: [N, ACT], dtype: '<f' });
  f.create_dataset({ name: 'rewards', data: rewards, shape: [N], dtype: '<f' });
  f.create_dataset({ name: 'terminals', data: terminals, shape: [N], dtype: '<B' });
  f.create_dataset({ name: 'timeouts', data: timeouts, shape: [N], dtype: '<B' });
  f.create_attribute('env_id', 'halfcheetah-medium-v2');
  f.close();
  const size = (await stat(file)).size;
  console.log(`wrote ${N.toLocaleString()} steps (${(size / 1e6).toFixed(0)} MB) in ${fmt(ms(t0))} (not timed)`);

  const ws = await Workspace.open(path.join(dir, 'ws'));
  t0 = performance.now();
  let c0 = process.cpuUsage();
  const result = await ingest(ws, file, { name: 'cheetah' });
  const tIngest = ms(t0);
  console.log(
    `ingest (stage + validate + write Parquet): ${fmt(tIngest)} (${cpu(c0)})  -> ${result.version.ref}, ${result.version.metadata.episodeCount} episodes`,
  );

  const conn = await openMemoryConnection();
  t0 = performance.now();
  c0 = process.cpuUsage();
  const arrays = await loadTrajectoryArrays(conn, result.version);
  const tLoad = ms(t0);
  console.log(`loadTrajectoryArrays: ${fmt(tLoad)} (${cpu(c0)})  (n=${arrays.n}, obs ${arrays.observations.length} floats)`);
  const total = tIngest + tLoad;
  console.log(`TOTAL ingest + load: ${fmt(total)}  (target < 10 s: ${total < 10_000 ? 'met' : 'NOT met'})`);
  const rss = process.memoryUsage().rss;
  console.log(`resident memory after load: ${(rss / 1e9).toFixed(2)} GB; machine load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)} on ${(await import('node:os')).cpus().length} cores`);

  // Where the ingest time goes.
  const c2 = await openMemoryConnection();
  t0 = performance.now();
  c0 = process.cpuUsage();
  const { metadata } = await stageD4rlHdf5(c2, file, 'staged');
  const tStage = ms(t0);
  const cStage = cpu(c0);
  t0 = performance.now();
  c0 = process.cpuUsage();
  const checks = await prepareTrajectoryChecks(c2, 'staged', metadata.actionSpace ? { actionSpace: metadata.actionSpace } : {});
  const v = await findViolations(c2, checks.checkTable, checks.rules);
  const tValidate = ms(t0);
  const cValidate = cpu(c0);
  t0 = performance.now();
  c0 = process.cpuUsage();
  await ws.createVersion({
    name: 'cheetah_parts',
    conn: c2,
    select: 'SELECT * EXCLUDE (_row) FROM staged',
    metadata: { ...metadata, kind: 'trajectory', lineage: { transform: 'bench', params: {} } },
  });
  const tWrite = ms(t0);
  console.log(
    `parts: stageD4rlHdf5 ${fmt(tStage)} (${cStage}), validate ${fmt(tValidate)} (${cValidate}; ${v.length} violations), createVersion ${fmt(tWrite)} (${cpu(c0)})`,
  );
  conn.closeSync();
  c2.closeSync();
} finally {
  await rm(dir, { recursive: true, force: true });
}
