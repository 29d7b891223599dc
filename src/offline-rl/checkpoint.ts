/**
 * Learner checkpoints on disk: one directory per checkpoint,
 *   <out>/checkpoints/step-000001000/state.json   (format, algo, step, scalars, buffer table, sha256)
 *   <out>/checkpoints/step-000001000/state.bin    (every buffer, little-endian, back to back)
 * written into a temporary directory and renamed into place, so a crash never
 * leaves a half-written checkpoint under a step-* name. Reading verifies the
 * byte count and SHA-256 of state.bin, and `headerSha256`, the SHA-256 of
 * state.json's own text without that field, so editing the step or a scalar
 * is caught too. binFile must name a regular file inside the checkpoint
 * directory; buffers must lie inside state.bin (their values round-trip bit
 * for bit, NaN included).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { fileInside } from '../datasets/fs-guard.js';
import { checkpointError, type JsonValue, type LearnerState, type StateBuffer } from './learner.js';

export const CHECKPOINT_DIR = 'checkpoints';
const STATE_JSON = 'state.json';
const STATE_BIN = 'state.bin';

interface BufferEntry {
  name: string;
  dtype: 'float32' | 'float64';
  /** Byte offset in state.bin. */
  offset: number;
  /** Number of values. */
  length: number;
}

interface CheckpointJson {
  format: 'offpolicy-checkpoint';
  formatVersion: 1;
  algo: string;
  step: number;
  createdAt: string;
  /** Facts the writer wants back on resume (the training session stores its run fingerprint here). */
  meta: JsonValue;
  scalars: Record<string, JsonValue>;
  buffers: BufferEntry[];
  binFile: string;
  binBytes: number;
  sha256: string;
  /** SHA-256 of JSON.stringify of this object without headerSha256 (key order as written). */
  headerSha256?: string;
}

function headerHash(json: Omit<CheckpointJson, 'headerSha256'>): string {
  return createHash('sha256').update(JSON.stringify(json)).digest('hex');
}

export interface CheckpointInfo {
  step: number;
  dir: string;
}

export function checkpointName(step: number): string {
  return `step-${String(step).padStart(9, '0')}`;
}

function toBytes(b: StateBuffer): Buffer {
  if (endianness() === 'LE') return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const out = Buffer.alloc(b.byteLength);
  const w = b instanceof Float64Array ? 8 : 4;
  for (let i = 0; i < b.length; i++) {
    if (w === 8) out.writeDoubleLE(b[i]!, i * 8);
    else out.writeFloatLE(b[i]!, i * 4);
  }
  return out;
}

function fromBytes(bytes: Buffer, e: BufferEntry): StateBuffer {
  const w = e.dtype === 'float64' ? 8 : 4;
  const slice = bytes.subarray(e.offset, e.offset + e.length * w);
  if (endianness() === 'LE') {
    const copy = new Uint8Array(slice.length);
    copy.set(slice);
    return e.dtype === 'float64' ? new Float64Array(copy.buffer) : new Float32Array(copy.buffer);
  }
  const out = e.dtype === 'float64' ? new Float64Array(e.length) : new Float32Array(e.length);
  for (let i = 0; i < e.length; i++) out[i] = w === 8 ? slice.readDoubleLE(i * 8) : slice.readFloatLE(i * 4);
  return out;
}

/** Writes `state` as the checkpoint of its step under `root` (the checkpoints directory) atomically; returns its directory. */
export async function writeCheckpoint(root: string, state: LearnerState, meta: JsonValue = null): Promise<string> {
  await mkdir(root, { recursive: true });
  const entries: BufferEntry[] = [];
  const parts: Buffer[] = [];
  let offset = 0;
  for (const name of Object.keys(state.buffers).sort()) {
    const b = state.buffers[name]!;
    const bytes = toBytes(b);
    entries.push({ name, dtype: b instanceof Float64Array ? 'float64' : 'float32', offset, length: b.length });
    parts.push(bytes);
    offset += bytes.length;
  }
  const bin = Buffer.concat(parts, offset);
  const json: CheckpointJson = {
    format: 'offpolicy-checkpoint',
    formatVersion: 1,
    algo: state.algo,
    step: state.step,
    createdAt: new Date().toISOString(),
    meta,
    scalars: state.scalars,
    buffers: entries,
    binFile: STATE_BIN,
    binBytes: bin.length,
    sha256: createHash('sha256').update(bin).digest('hex'),
  };
  const final = join(root, checkpointName(state.step));
  const tmp = join(root, `.tmp-${checkpointName(state.step)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  try {
    await writeFile(join(tmp, STATE_BIN), bin);
    await writeFile(join(tmp, STATE_JSON), JSON.stringify({ ...json, headerSha256: headerHash(json) }) + '\n');
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return final;
}

/** The complete checkpoints under `root`, oldest first (temporary directories and strays are ignored). */
export async function listCheckpoints(root: string): Promise<CheckpointInfo[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  const out: CheckpointInfo[] = [];
  for (const name of names) {
    const m = /^step-(\d+)$/.exec(name);
    if (!m) continue;
    const dir = join(root, name);
    try {
      await stat(join(dir, STATE_JSON));
    } catch {
      continue;
    }
    out.push({ step: Number(m[1]), dir });
  }
  return out.sort((a, b) => a.step - b.step);
}

/** Reads a checkpoint directory back into a LearnerState (and the writer's meta); E_CHECKPOINT when damaged. */
export async function readCheckpoint(dir: string): Promise<{ state: LearnerState; meta: JsonValue }> {
  let json: CheckpointJson;
  try {
    json = JSON.parse(await readFile(join(dir, STATE_JSON), 'utf8')) as CheckpointJson;
  } catch (e) {
    throw checkpointError(`Cannot read ${join(dir, STATE_JSON)}: ${(e as Error).message}.`, 'Delete that checkpoint directory to resume from the one before it, or start over with --force.');
  }
  const again = 'Delete that checkpoint directory to resume from the one before it, or start over with --force.';
  if (typeof json !== 'object' || json === null || json.format !== 'offpolicy-checkpoint' || json.formatVersion !== 1) {
    throw checkpointError(`${join(dir, STATE_JSON)} is not an offpolicy checkpoint (format ${String(json?.format)}, version ${String(json?.formatVersion)}).`);
  }
  const { headerSha256, ...header } = json;
  if (typeof headerSha256 !== 'string' || headerHash(header) !== headerSha256) {
    throw checkpointError(`The checkpoint ${dir} is damaged: ${STATE_JSON} does not match its recorded hash (it was edited, or written by an older version).`, again);
  }
  if (!Number.isSafeInteger(json.step) || json.step < 0 || !Array.isArray(json.buffers) || !Number.isSafeInteger(json.binBytes)) {
    throw checkpointError(`${join(dir, STATE_JSON)} has an invalid step, buffer table or byte count.`, again);
  }
  const binPath = await fileInside(dir, json.binFile, 'E_CHECKPOINT', 'The checkpoint data file');
  let bin: Buffer;
  try {
    bin = await readFile(binPath);
  } catch {
    throw checkpointError(`The checkpoint ${dir} has no ${json.binFile}.`, again);
  }
  const sha = createHash('sha256').update(bin).digest('hex');
  if (bin.length !== json.binBytes || sha !== json.sha256) {
    throw checkpointError(
      `The checkpoint ${dir} is damaged: ${json.binFile} has ${bin.length} bytes (SHA-256 ${sha.slice(0, 12)}...), state.json expects ${json.binBytes} (${String(json.sha256).slice(0, 12)}...).`,
      again,
    );
  }
  const buffers: Record<string, StateBuffer> = {};
  for (const e of json.buffers) {
    if (typeof e?.name !== 'string' || (e.dtype !== 'float32' && e.dtype !== 'float64') || !Number.isSafeInteger(e.offset) || !Number.isSafeInteger(e.length) || e.offset < 0 || e.length < 0) {
      throw checkpointError(`${join(dir, STATE_JSON)} lists an invalid buffer ${JSON.stringify(e)?.slice(0, 80)}.`, again);
    }
    const w = e.dtype === 'float64' ? 8 : 4;
    if (e.offset + e.length * w > bin.length) throw checkpointError(`Checkpoint buffer "${e.name}" runs past the end of ${json.binFile}.`);
    buffers[e.name] = fromBytes(bin, e);
  }
  return { state: { algo: json.algo, step: json.step, buffers, scalars: json.scalars }, meta: json.meta };
}

/** Removes all but the newest `keep` checkpoints (and stale temporary directories). */
export async function pruneCheckpoints(root: string, keep: number): Promise<void> {
  const all = await listCheckpoints(root);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) await rm(c.dir, { recursive: true, force: true });
  let names: string[] = [];
  try {
    names = await readdir(root);
  } catch {
    return;
  }
  for (const name of names) if (name.startsWith('.tmp-') && !name.includes(`-${process.pid}-`)) await rm(join(root, name), { recursive: true, force: true });
}
