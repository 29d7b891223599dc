/**
 * Checks shared by the policy loaders (continuous MlpPolicy, categorical):
 * the weights file stays inside the policy directory (no "..", no absolute
 * path, no symlink) and holds finite float32 values; the normalisation and
 * action-scale vectors have the right lengths and sane values. Every failure
 * is E_POLICY_FORMAT (or E_POLICY_NOT_FOUND for a missing file).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileInside } from '../datasets/fs-guard.js';
import { OffpolicyError } from '../core/errors.js';

function formatError(message: string): OffpolicyError {
  return new OffpolicyError('E_POLICY_FORMAT', message, { hint: 'Export the policy again (offpolicy train ... --out DIR), or copy the whole directory.' });
}

/** Reads `name` from `dir` as little-endian float32 values, all finite. */
export async function readPolicyWeights(dir: string, name: unknown): Promise<Float32Array> {
  const file = await fileInside(dir, name, 'E_POLICY_FORMAT', 'The weights file');
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    throw new OffpolicyError('E_POLICY_NOT_FOUND', `The weights file ${String(name)} is missing from ${dir}.`, { hint: 'Copy the whole policy directory.' });
  }
  if (bytes.length % 4 !== 0) throw formatError(`${String(name)} has ${bytes.length} bytes, not a whole number of float32 values.`);
  const params = new Float32Array(bytes.length / 4);
  let bad = 0;
  for (let i = 0; i < params.length; i++) {
    const v = bytes.readFloatLE(i * 4);
    if (!Number.isFinite(v)) bad++;
    params[i] = v;
  }
  if (bad) throw formatError(`${join(dir, String(name))} holds ${bad} non-finite weight${bad === 1 ? '' : 's'} (NaN or Infinity).`);
  return params;
}

/** A numeric vector field of policy.json: `length` finite numbers, each passing `ok`. */
export function checkVector(file: string, field: string, v: unknown, length: number, ok: (x: number) => boolean = () => true, rule = ''): number[] {
  if (!Array.isArray(v) || v.length !== length || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && ok(x))) {
    throw formatError(`${file}: ${field} must be ${length} finite number${length === 1 ? '' : 's'}${rule ? ` ${rule}` : ''}, got ${JSON.stringify(v)?.slice(0, 80)}.`);
  }
  return v as number[];
}

/** Layer widths: at least two positive integers (bounded, so a hostile file cannot ask for a huge network). */
export function checkSizes(file: string, sizes: unknown): number[] {
  if (!Array.isArray(sizes) || sizes.length < 2 || !sizes.every((x) => Number.isSafeInteger(x) && x > 0 && x <= 1 << 20)) {
    throw formatError(`${file}: actor.sizes must list at least two positive integer layer widths, got ${JSON.stringify(sizes)?.slice(0, 80)}.`);
  }
  return sizes as number[];
}

export { formatError as policyFormatError };
