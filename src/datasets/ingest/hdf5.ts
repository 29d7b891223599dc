/**
 * D4RL-style HDF5 files -> a staged trajectory table.
 *
 * Layout read (as written by D4RL and by exportD4rlHdf5): flat arrays of equal
 * length N at the file's root
 *   observations [N, d]   actions [N, m] (float: box) or [N] (integer: discrete)
 *   rewards [N]           terminals [N]           timeouts [N]
 *   next_observations [N, d]       (optional)
 *   infos/action_log_probs [N]     (optional) -> behavior_logprob
 *   infos/corrupted [N]            (optional, written by our own export) -> corrupted
 * Every other infos/* array (qpos, qvel, goal, ...) is ignored; D4RL's metadata/*
 * datasets are ignored too. Root attributes env_id (or env_name), ref_min_score,
 * ref_max_score and action_space_n, when present, go into the metadata; the
 * attribute next_observation_column = 0 (written by exportD4rlHdf5 for a
 * dataset without that column) stages no next_observation column.
 *
 * Episodes: rows are split after every row with terminals | timeouts set;
 * episode_id counts episodes from 0 in file order, step counts rows within an
 * episode from 0. A row with both flags set is a termination (terminated =
 * true, truncated = false): the MDP ended, so the time limit did not cut it.
 * Rows after the last flag form a final episode with neither flag (D4RL files
 * often end mid-episode); nothing is added to close it.
 *
 * next_observation when the file has no next_observations: the next row's
 * observation when that row belongs to the same episode; on an episode's last
 * row it is NULL. D4RL itself never stores that final observation:
 * d4rl.qlearning_dataset drops timeout rows and the file's last row, and for a
 * terminal row takes the next row even though it starts another episode (its
 * value is masked by the terminal flag). We keep every row and leave the unknown
 * observation NULL rather than borrow another episode's first observation.
 */
import { open } from 'node:fs/promises';
import h5wasm from 'h5wasm/node';
import { OffpolicyError } from '../../core/errors.js';
import { ident, type DuckDBConnection } from '../duckdb.js';
import { arraysToTable, type ArrayColumn } from '../from-arrays.js';
import type { MetadataInput, Space } from '../metadata.js';

const HDF5_MAGIC = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** h5wasm's dataset classes: 0 integer, 1 float, 8 enum (h5py's bool is an int8 enum). */
const NUMERIC_CLASSES = new Set([0, 1, 8]);

type H5File = InstanceType<typeof h5wasm.File>;
type H5Dataset = InstanceType<typeof h5wasm.Dataset>;
type NumArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

export interface D4rlArray {
  /** Rows (the first dimension). */
  rows: number;
  /** Values per row (product of the remaining dimensions; 1 for a flat array). */
  width: number;
  data: NumArray;
  isFloat: boolean;
}

/** Opens an HDF5 file for reading, with a clear error when it is not one. */
export async function openHdf5(file: string): Promise<H5File> {
  let head: Buffer;
  try {
    const fh = await open(file, 'r');
    try {
      head = Buffer.alloc(8);
      const { bytesRead } = await fh.read(head, 0, 8, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw new OffpolicyError('E_FILE_NOT_FOUND', `Cannot read ${file}: ${(e as Error).message}.`, {
      hint: 'Check the path and that the file is readable.',
      cause: e,
    });
  }
  if (!head.equals(HDF5_MAGIC)) {
    throw new OffpolicyError('E_FILE_FORMAT', `${file} is not an HDF5 file (its first bytes are not the HDF5 signature).`, {
      hint: 'Pass a D4RL-style .hdf5/.h5 file, or choose the format that matches the file with --format.',
    });
  }
  // HDF5's own error stack becomes a thrown Error (caught below) instead of HDF5-DIAG lines on stderr.
  (await h5wasm.ready).activate_throwing_error_handler();
  const unopenable = (cause?: unknown) =>
    new OffpolicyError('E_FILE_FORMAT', `${file} has the HDF5 signature but cannot be opened (truncated or damaged).`, {
      hint: 'Re-download or re-export the file.',
      ...(cause ? { cause } : {}),
    });
  let f: H5File;
  try {
    f = new h5wasm.File(file, 'r');
  } catch (e) {
    throw unopenable(e);
  }
  if ((f as unknown as { file_id: bigint }).file_id < 0n) throw unopenable();
  return f;
}

/** Reads one numeric dataset as a flat typed array with its row count and width. */
export function readD4rlArray(f: H5File, name: string, file: string): D4rlArray | undefined {
  let entity: unknown;
  try {
    entity = f.get(name);
  } catch (e) {
    if (isHdf5Error(e)) throw damagedHdf5(file, e, name);
    return undefined;
  }
  if (!entity || !(entity instanceof h5wasm.Dataset)) return undefined;
  const ds = entity as H5Dataset;
  const meta = ds.metadata as { type: number; shape: number[] | null };
  if (!NUMERIC_CLASSES.has(meta.type) || !ds.shape || ds.shape.length === 0) {
    throw new OffpolicyError('E_COLUMN_TYPE', `Dataset "${name}" in ${file} is not a numeric array.`, {
      hint: `D4RL files hold numeric arrays with one row per step; "${name}" has dtype ${JSON.stringify(ds.dtype)} and shape ${JSON.stringify(ds.shape)}.`,
    });
  }
  const shape = ds.shape;
  const rows = shape[0]!;
  const width = shape.slice(1).reduce((a, b) => a * b, 1);
  let data: NumArray;
  try {
    data = ds.value as NumArray;
  } catch (e) {
    throw damagedHdf5(file, e, name);
  }
  return { rows, width, data, isFloat: meta.type === 1 };
}

const isHdf5Error = (e: unknown): boolean => String((e as Error)?.message ?? e).startsWith('HDF5-DIAG');

/** E_FILE_FORMAT for a file whose HDF5 structures cannot be read; the first line of HDF5's error stack says where. */
function damagedHdf5(file: string, e: unknown, dataset: string): OffpolicyError {
  const detail = String((e as Error)?.message ?? e).split('\n').find((l) => /#000:/.test(l))?.replace(/^.*\bin\s+/, '').trim();
  return new OffpolicyError('E_FILE_FORMAT', `${file} has the HDF5 signature but its dataset "${dataset}" cannot be read: the file is damaged${detail ? ` (HDF5: ${detail})` : ''}.`, {
    hint: 'Re-download or re-export the file.',
    cause: e,
  });
}

/** Copies an HDF5 array into the typed array `Ctor` (as is when it already has that type). */
function convert<T extends Float32Array | Float64Array | Int32Array>(a: NumArray, Ctor: { new (n: number): T }): T {
  if (a instanceof Ctor) return a as T;
  const out = new Ctor(a.length);
  if (a instanceof BigInt64Array || a instanceof BigUint64Array) for (let i = 0; i < a.length; i++) out[i] = Number(a[i]!);
  else out.set(a as ArrayLike<number>);
  return out;
}

const toFloat32 = (a: NumArray): Float32Array => convert(a, Float32Array);
const toFloat64 = (a: NumArray): Float64Array => convert(a, Float64Array);
const toInt32 = (a: NumArray): Int32Array => convert(a, Int32Array);

function attrValue(f: H5File, names: readonly string[]): unknown {
  for (const owner of [f, f.get('metadata')]) {
    if (!owner || !(owner instanceof h5wasm.Group)) continue;
    const attrs = owner.attrs;
    for (const n of names) {
      if (attrs[n] !== undefined) {
        const v = attrs[n]!.json_value;
        return Array.isArray(v) && v.length === 1 ? v[0] : v;
      }
    }
  }
  return undefined;
}

function numberAttr(f: H5File, names: readonly string[]): number | undefined {
  const v = attrValue(f, names);
  const x = typeof v === 'bigint' ? Number(v) : typeof v === 'string' ? Number(v) : v;
  return typeof x === 'number' && Number.isFinite(x) ? x : undefined;
}

function stringAttr(f: H5File, names: readonly string[]): string | undefined {
  const v = attrValue(f, names);
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/**
 * Reads a D4RL-style HDF5 file into the staged DuckDB table `table` with the
 * canonical trajectory columns plus `_row` (the row's index in the file).
 * Returns what the file says about the dataset (spaces, env id, reference scores).
 */
export async function stageD4rlHdf5(conn: DuckDBConnection, file: string, table: string): Promise<{ metadata: Partial<MetadataInput> }> {
  const f = await openHdf5(file);
  try {
    const required = ['observations', 'actions', 'rewards', 'terminals', 'timeouts'] as const;
    const arrays: Record<string, D4rlArray | undefined> = {};
    for (const name of [...required, 'next_observations', 'infos/action_log_probs', 'infos/corrupted']) {
      arrays[name] = readD4rlArray(f, name, file);
    }
    const missing = required.filter((r) => !arrays[r]);
    if (missing.length > 0) {
      throw new OffpolicyError(
        'E_MISSING_COLUMN',
        `${file} has no ${missing.map((m) => `"${m}"`).join(', ')} dataset${missing.length > 1 ? 's' : ''}.`,
        {
          hint: `A D4RL file holds observations, actions, rewards, terminals and timeouts at its root; found: ${f.keys().join(', ') || 'nothing'}.`,
        },
      );
    }
    const obs = arrays.observations!;
    const act = arrays.actions!;
    const n = obs.rows;
    for (const [name, a] of Object.entries(arrays)) {
      if (a && a.rows !== n) {
        throw new OffpolicyError('E_LENGTH_MISMATCH', `Dataset "${name}" has ${a.rows} rows but "observations" has ${n}.`, {
          hint: 'Every array of a D4RL file has one row per step; the file is damaged or was written inconsistently.',
        });
      }
    }
    for (const name of ['rewards', 'terminals', 'timeouts', 'infos/action_log_probs', 'infos/corrupted']) {
      const a = arrays[name];
      if (a && a.width !== 1) {
        throw new OffpolicyError('E_SHAPE_MISMATCH', `Dataset "${name}" has ${a.width} values per row; one is expected.`, {
          hint: `Store "${name}" as a flat array of shape [N].`,
        });
      }
    }
    const next = arrays.next_observations;
    if (next && next.width !== obs.width) {
      throw new OffpolicyError(
        'E_SHAPE_MISMATCH',
        `"next_observations" has ${next.width} values per row but "observations" has ${obs.width}.`,
        { hint: 'Both arrays must have the same shape [N, d].' },
      );
    }

    // Episodes: split after each terminal | timeout.
    const term = arrays.terminals!.data;
    const tout = arrays.timeouts!.data;
    const episodeId = new Float64Array(n);
    const step = new Int32Array(n);
    const terminated = new Uint8Array(n);
    const truncated = new Uint8Array(n);
    const row = new Float64Array(n);
    let ep = 0;
    let t = 0;
    for (let i = 0; i < n; i++) {
      const isTerm = Number(term[i]) !== 0;
      const isTout = Number(tout[i]) !== 0;
      episodeId[i] = ep;
      step[i] = t;
      terminated[i] = isTerm ? 1 : 0;
      truncated[i] = isTout && !isTerm ? 1 : 0;
      row[i] = i;
      if (isTerm || isTout) {
        ep++;
        t = 0;
      } else {
        t++;
      }
    }

    const discrete = !act.isFloat && act.width === 1;
    const observation = toFloat32(obs.data);
    const withNext = next !== undefined || numberAttr(f, ['next_observation_column']) !== 0;
    let nextObservation: Float32Array | undefined;
    if (next) {
      nextObservation = toFloat32(next.data);
    } else if (withNext) {
      // Shifted copy; the episode-final rows are set to NULL below.
      nextObservation = new Float32Array(observation.length);
      nextObservation.set(observation.subarray(obs.width));
    }
    const columns: ArrayColumn[] = [
      { name: 'episode_id', type: 'BIGINT', data: episodeId },
      { name: 'step', type: 'INTEGER', data: step },
      { name: 'observation', type: 'FLOAT', data: observation, width: obs.width },
      ...(nextObservation ? [{ name: 'next_observation', type: 'FLOAT' as const, data: nextObservation, width: obs.width }] : []),
      discrete
        ? { name: 'action', type: 'INTEGER', data: toInt32(act.data) }
        : { name: 'action', type: 'FLOAT', data: toFloat32(act.data), width: act.width },
      { name: 'reward', type: 'DOUBLE', data: toFloat64(arrays.rewards!.data) },
      { name: 'terminated', type: 'BOOLEAN', data: terminated },
      { name: 'truncated', type: 'BOOLEAN', data: truncated },
    ];
    const logp = arrays['infos/action_log_probs'];
    if (logp) columns.push({ name: 'behavior_logprob', type: 'DOUBLE', data: toFloat64(logp.data) });
    const corrupted = arrays['infos/corrupted'];
    if (corrupted) {
      const c = new Int16Array(n);
      c.set(toInt32(corrupted.data));
      columns.push({ name: 'corrupted', type: 'SMALLINT', data: c });
    }
    columns.push({ name: '_row', type: 'BIGINT', data: row });
    // Fixed-size ARRAY columns: appended straight into the staged table, stored as lists.
    await arraysToTable(conn, table, n, columns, { temp: true, fixedSize: true });
    if (!next && withNext) {
      // No stored successor on an episode's last row: leave it unknown (see the module comment).
      await conn.run(
        `UPDATE ${ident(table)} SET next_observation = NULL WHERE terminated OR truncated OR _row = ${n - 1}`,
      );
    }
    if (obs.width === 1) {
      // arraysToTable makes width-1 columns scalars; observations are still vectors.
      const nextExpr = withNext
        ? ', CASE WHEN next_observation IS NULL THEN NULL ELSE [next_observation] END::FLOAT[] AS next_observation'
        : '';
      await conn.run(
        `CREATE OR REPLACE TEMP TABLE ${ident(table)} AS SELECT * REPLACE ([observation]::FLOAT[] AS observation${nextExpr}) FROM ${ident(table)}`,
      );
    }
    if (!discrete && act.width === 1) {
      await conn.run(`CREATE OR REPLACE TEMP TABLE ${ident(table)} AS SELECT * REPLACE ([action]::FLOAT[] AS action) FROM ${ident(table)}`);
    }

    const metadata: Partial<MetadataInput> = {
      kind: 'trajectory',
      observationSpace: { type: 'box', shape: obsShape(f, obs) },
    };
    let actionSpace: Space;
    if (discrete) {
      const declared = numberAttr(f, ['action_space_n']);
      let max = -1;
      const a = act.data;
      for (let i = 0; i < a.length; i++) if (Number(a[i]) > max) max = Number(a[i]);
      actionSpace = { type: 'discrete', n: declared ?? max + 1 };
    } else {
      actionSpace = { type: 'box', shape: [act.width] };
    }
    metadata.actionSpace = actionSpace;
    const envId = stringAttr(f, ['env_id', 'env_name', 'env']);
    if (envId) metadata.envId = envId;
    const refMin = numberAttr(f, ['ref_min_score']);
    const refMax = numberAttr(f, ['ref_max_score']);
    if (refMin !== undefined) metadata.refMinScore = refMin;
    if (refMax !== undefined) metadata.refMaxScore = refMax;
    return { metadata };
  } finally {
    f.close();
  }
}

function obsShape(f: H5File, obs: D4rlArray): number[] {
  const ds = f.get('observations') as H5Dataset;
  const shape = ds.shape ?? [obs.rows, obs.width];
  return shape.length > 1 ? shape.slice(1) : [1];
}
