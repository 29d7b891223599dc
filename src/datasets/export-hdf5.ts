/**
 * Writes a trajectory version as a D4RL-style HDF5 file, the layout
 * stageD4rlHdf5 (ingest/hdf5.ts) reads, so ingest -> export -> ingest gives
 * the same content hash:
 *   observations [N, d] float32, actions [N, m] float32 (discrete: [N] int32),
 *   rewards [N] float64, terminals [N] uint8, timeouts [N] uint8,
 *   next_observations [N, d] float32 (only when no row lacks it: when some
 *     episode-final rows have none, the array is left out and a re-ingest derives
 *     the same values from the next row),
 *   infos/action_log_probs [N] float64 (behavior_logprob; a NULL is written as NaN),
 *   infos/corrupted [N] int16 (the corruption bitmask),
 *   root attributes env_id, ref_min_score, ref_max_score, action_space_n, and
 *   next_observation_column = 0 when the dataset has no next_observation
 *   column at all (so a re-ingest does not derive one).
 * Observations and actions are float32 as in D4RL (the stored FLOAT columns, so
 * nothing is lost); rewards stay float64 (D4RL uses float32) so no value changes.
 *
 * Rows are written in episode / step order. D4RL marks episode ends only through
 * terminals and timeouts, so an episode that ends with neither flag and is not
 * the file's last is written with timeouts = 1 on its last step; otherwise the
 * next episode would be read back as its continuation. Episode ids are not
 * stored: a re-ingest numbers episodes 0, 1, ... in order.
 *
 * The file is written beside its destination and renamed into place.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import h5wasm from 'h5wasm/node';
import { OffpolicyError } from '../core/errors.js';
import type { DuckDBConnection } from './duckdb.js';
import { loadTrajectoryArrays } from './load-trajectories.js';
import type { DatasetVersion } from './workspace.js';

export async function exportD4rlHdf5(conn: DuckDBConnection, version: DatasetVersion, file: string): Promise<void> {
  if (version.metadata.kind !== 'trajectory') {
    throw new OffpolicyError(
      'E_EXPORT_KIND',
      `Dataset ${version.ref} is a ${version.metadata.kind} log; D4RL-style HDF5 holds trajectories only.`,
      { hint: 'Export bandit logs as parquet, csv or jsonl.' },
    );
  }
  const a = await loadTrajectoryArrays(conn, version);
  const n = a.n;
  const terminals = new Uint8Array(n);
  const timeouts = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    terminals[i] = a.terminated[i]!;
    const lastOfEpisode = i + 1 < n && a.episodeId[i + 1] !== a.episodeId[i];
    timeouts[i] = a.truncated[i] || (lastOfEpisode && !a.terminated[i]) ? 1 : 0;
  }
  let writeNext = a.nextObservations !== null;
  if (a.nextObservationMissing) for (let i = 0; i < n && writeNext; i++) if (a.nextObservationMissing[i]) writeNext = false;

  const target = path.resolve(file);
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await h5wasm.ready;
  try {
    const f = new h5wasm.File(tmp, 'w');
    try {
      f.create_dataset({ name: 'observations', data: a.observations, shape: [n, a.obsDim], dtype: '<f' });
      if (a.discreteActions !== undefined) {
        f.create_dataset({ name: 'actions', data: a.actions as Int32Array, shape: [n], dtype: '<i' });
        f.create_attribute('action_space_n', a.discreteActions, null, '<i');
      } else {
        f.create_dataset({ name: 'actions', data: a.actions as Float32Array, shape: [n, a.actDim], dtype: '<f' });
      }
      f.create_dataset({ name: 'rewards', data: a.rewards, shape: [n], dtype: '<d' });
      f.create_dataset({ name: 'terminals', data: terminals, shape: [n], dtype: '<B' });
      f.create_dataset({ name: 'timeouts', data: timeouts, shape: [n], dtype: '<B' });
      if (writeNext) {
        f.create_dataset({ name: 'next_observations', data: a.nextObservations!, shape: [n, a.obsDim], dtype: '<f' });
      }
      if (a.behaviorLogprob || a.corrupted) {
        f.create_group('infos');
        if (a.behaviorLogprob) f.create_dataset({ name: 'infos/action_log_probs', data: a.behaviorLogprob, shape: [n], dtype: '<d' });
        if (a.corrupted) {
          const c = new Int16Array(n);
          c.set(a.corrupted);
          f.create_dataset({ name: 'infos/corrupted', data: c, shape: [n], dtype: '<h' });
        }
      }
      const m = version.metadata;
      if (a.nextObservations === null) f.create_attribute('next_observation_column', 0, null, '<i');
      if (m.envId) f.create_attribute('env_id', m.envId);
      if (m.refMinScore !== undefined) f.create_attribute('ref_min_score', m.refMinScore, null, '<d');
      if (m.refMaxScore !== undefined) f.create_attribute('ref_max_score', m.refMaxScore, null, '<d');
    } finally {
      f.close();
    }
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
