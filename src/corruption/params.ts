/**
 * Parameter checks and row selection shared by every corruption.
 *
 * Row selection is EXACT: a corruption at rate c over m eligible rows picks
 * exactly round(c * m) of them, uniformly without replacement (a partial
 * Fisher-Yates shuffle driven by the seeded Rng). Each field (or bandit kind)
 * draws its subset from its own forked stream, so the subsets are independent
 * of one another: two fields at rate c overlap on about c^2 of the rows.
 */
import { OffpolicyError } from '../core/errors.js';
import type { DatasetVersion } from '../datasets/workspace.js';
import type { DatasetKind } from '../datasets/metadata.js';
import type { Rng } from '../util/rng.js';

/** How the user wrote a corruption parameter, so hints name what they can type: a flag (corrupt, corrupt-log: --rate 0.3) or a robustness setting key (rate=0.3). */
export type ParamStyle = 'flag' | 'setting';

/** "--key value" or "key=value". */
export function spell(key: string, value: string, style: ParamStyle = 'flag'): string {
  return style === 'flag' ? `--${key} ${value}` : `${key}=${value}`;
}

export function checkRate(rate: number, style: ParamStyle = 'flag'): void {
  if (!Number.isFinite(rate) || rate < 0 || rate > 1) {
    throw new OffpolicyError('E_CORRUPTION_RATE', `Corruption rate must lie in [0, 1], got ${rate}.`, {
      hint: `Pass the share of rows to corrupt, e.g. ${spell('rate', '0.3', style)}.`,
    });
  }
}

export function checkScale(scale: number, style: ParamStyle = 'flag'): void {
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new OffpolicyError('E_CORRUPTION_SCALE', `Corruption scale must be a positive number, got ${scale}.`, {
      hint: `Pass the perturbation size eps, e.g. ${spell('scale', '1.0', style)}.`,
    });
  }
}

export function checkSeed(seed: number): void {
  if (!Number.isInteger(seed)) {
    throw new OffpolicyError('E_CORRUPTION_SEED', `Corruption seed must be an integer, got ${seed}.`, {
      hint: 'Pass --seed 0 (or any integer); the same seed gives the same corrupted dataset.',
    });
  }
}

/**
 * The dataset a corruption writes to when no name is given: NAME-corrupted (a new
 * dataset, or a new version of it), never a new latest version of the clean
 * dataset, which the next command reading NAME would silently pick up.
 */
export function corruptedName(parent: DatasetVersion, name?: string): string {
  return name ?? `${parent.name}-corrupted`;
}

/** Refuses a dataset of the wrong kind with a sentence naming the command that fits it. */
export function checkKind(version: DatasetVersion, want: DatasetKind): void {
  const kind = version.metadata.kind;
  if (kind === want) return;
  const hint =
    want === 'trajectory'
      ? 'This is a bandit log: corrupt it with corruptBanditLog (offpolicy corrupt-log --kind ...).'
      : 'This is trajectory data: corrupt it with corruptTrajectories (offpolicy corrupt --field ...).';
  throw new OffpolicyError('E_DATASET_KIND', `Dataset ${version.ref} is ${kind === 'bandit' ? 'a bandit log' : 'trajectory data'}, not ${want === 'bandit' ? 'a bandit log' : 'trajectory data'}.`, { hint });
}

/**
 * Picks exactly round(rate * eligible.length) entries of `eligible`, uniformly
 * without replacement; returns them sorted ascending.
 */
export function chooseRows(rng: Rng, eligible: Int32Array, rate: number): Int32Array {
  const m = eligible.length;
  const k = Math.round(rate * m);
  const pool = Int32Array.from(eligible);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(m - i);
    const t = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = t;
  }
  return pool.subarray(0, k).sort();
}

/** 0..n-1 as an Int32Array. */
export function allRows(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}
