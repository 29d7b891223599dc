/**
 * Seeded pseudo-random numbers. Every random step in the toolkit takes one of
 * these; the same seed gives the same stream on every platform (32-bit integer
 * arithmetic only, no Math.random).
 *
 * Generator: sfc32 (Small Fast Chaotic, 128-bit state), seeded through splitmix32.
 */
import { OffpolicyError } from '../core/errors.js';

/** A generator's exact state (see Rng.getState). */
export interface RngState {
  /** sfc32 state words a, b, c, d as unsigned 32-bit integers. */
  s: [number, number, number, number];
  /** The cached second Box-Muller draw, or null. */
  spareNormal: number | null;
}

/** MurmurHash3's 32-bit finaliser: a bijection of uint32 with full avalanche (also spelled in SQL by ../ope/bandit/poisson-bootstrap-sql.ts). */
export function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | null = null;

  constructor(seed: number | string) {
    let s = typeof seed === 'string' ? hashString(seed) : seed >>> 0 ^ Math.floor(seed / 2 ** 32);
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      return fmix32(s);
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A uniformly distributed 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 53 bits of resolution. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box-Muller, caching the second draw). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Index drawn from the probabilities probs[offset .. offset+k) (need not be normalized). */
  categorical(probs: ArrayLike<number>, offset = 0, k = probs.length - offset): number {
    let total = 0;
    for (let j = 0; j < k; j++) total += probs[offset + j]!;
    let u = this.uniform() * total;
    for (let j = 0; j < k; j++) {
      u -= probs[offset + j]!;
      if (u < 0) return j;
    }
    return k - 1;
  }

  /** The exact generator state (128-bit sfc32 state plus the cached normal draw); JSON-safe. */
  getState(): RngState {
    return { s: [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0], spareNormal: this.spareNormal };
  }

  /** Restores a state from getState(): the stream continues exactly where that generator was. */
  setState(state: RngState): void {
    const ok =
      state !== null &&
      typeof state === 'object' &&
      Array.isArray(state.s) &&
      state.s.length === 4 &&
      state.s.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32) &&
      (state.spareNormal === null || typeof state.spareNormal === 'number');
    if (!ok) {
      throw new OffpolicyError('E_RNG_STATE', `Not a generator state: ${JSON.stringify(state)}.`, {
        hint: 'Pass an object from Rng.getState(): { s: [four 32-bit unsigned integers], spareNormal: number | null }.',
      });
    }
    this.a = state.s[0]! | 0;
    this.b = state.s[1]! | 0;
    this.c = state.s[2]! | 0;
    this.d = state.s[3]! | 0;
    this.spareNormal = state.spareNormal;
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates, drawing with int()). */
  permutation(n: number): Int32Array {
    const perm = new Int32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    return perm;
  }

  /** An independent generator derived from this one's seed stream and a label. */
  fork(label: string | number): Rng {
    return new Rng(`${this.nextUint32()}:${label}`);
  }
}

/** FNV-1a 32-bit hash of a string, used to turn string seeds into numbers. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
