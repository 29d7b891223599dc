/**
 * The LinearMap (policies/linear-gibbs.ts) that training uses: the two products
 * of a minibatch with the K x d weights in f32 on the wasm SIMD matrix kernel
 * of src/nn (WasmArena.gemm), instead of the f64 scalar loops.
 *
 *   scores  S (B x Kp) = X_B (B x d) W^T (d x Kp) + b       gemm(M = B, N = Kp, K = d)
 *   grad    G_W^T (d x Kp) = X_B^T (d x B) G (B x Kp)         gemm(M = d, N = Kp, K = B), X_B read transposed
 *
 * Kp = K rounded up to a multiple of 4 (the kernel's column blocks); the padding
 * columns of W^T, b and G are zero and their outputs are ignored. The batch rows
 * are gathered into wasm memory by scores(); accumulate() reuses them. Training runs in f32 (as PyTorch's
 * float32 does); the certificate, the stored policy and the JSON policy types
 * keep the f64 loops, so the bound is computed in f64 on the f64 weights.
 * Without OFFPOLICY_WASM_FMA the kernel rounds the same way on every machine:
 * same seed, same bytes.
 */
import { WasmArena } from '../nn/wasm-kernels.js';
import type { LinearMap, LinearParams } from '../policies/linear-gibbs.js';

export class LinearMapWasmF32 implements LinearMap {
  private readonly arena = new WasmArena();
  private readonly kp: number;
  private maxB = 0;
  private xb = 0;
  private wt = 0;
  private bias = 0;
  private s = 0;
  private g = 0;
  private gwt = 0;
  private scratch = 0;

  constructor(
    readonly k: number,
    readonly d: number,
  ) {
    this.kp = Math.ceil(k / 4) * 4;
    const { kp } = this;
    this.wt = this.arena.alloc(d * kp);
    this.bias = this.arena.alloc(kp);
    this.gwt = this.arena.alloc(d * kp);
  }

  private ensure(B: number): void {
    if (B <= this.maxB) return;
    const { d, kp } = this;
    this.maxB = B;
    this.xb = this.arena.alloc(B * d);
    this.s = this.arena.alloc(B * kp);
    this.g = this.arena.alloc(B * kp);
    this.scratch = this.arena.alloc(4 * Math.max(d, B));
  }

  private gather(f: Float32Array, x: Float32Array, idx: Int32Array | null, B: number): void {
    const d = this.d;
    const at = this.xb >> 2;
    for (let r = 0; r < B; r++) {
      const o = (idx ? idx[r]! : r) * d;
      f.set(x.subarray(o, o + d), at + r * d);
    }
  }

  scores(p: LinearParams, x: Float32Array, idx: Int32Array | null, B: number, s: Float64Array): void {
    const { k, d, kp } = this;
    this.ensure(B);
    const f = this.arena.f32();
    this.gather(f, x, idx, B);
    const wt = this.wt >> 2, bias = this.bias >> 2;
    const W = p.weights;
    for (let a = 0; a < k; a++) {
      const w = a * d;
      for (let j = 0; j < d; j++) f[wt + j * kp + a] = W[w + j]!;
      f[bias + a] = p.bias[a]!;
    }
    this.arena.k.gemm(this.xb, 4 * d, 4, this.wt, 4 * kp, this.s, 4 * kp, B, kp, d, this.bias, 0, 0, 0, this.scratch);
    const so = this.s >> 2;
    for (let r = 0; r < B; r++) for (let a = 0; a < k; a++) s[r * k + a] = f[so + r * kp + a]!;
  }

  /** For the rows of the last scores() call (LinearGibbsKernel.backward follows its forward), still gathered in X_B. */
  accumulate(_x: Float32Array, _idx: Int32Array | null, B: number, gs: Float64Array, gradW: Float64Array, gradB: Float64Array): void {
    const { k, d, kp } = this;
    const f = this.arena.f32();
    const go = this.g >> 2;
    for (let r = 0; r < B; r++) {
      for (let a = 0; a < k; a++) {
        const v = gs[r * k + a]!;
        f[go + r * kp + a] = v;
        gradB[a] += v;
      }
    }
    this.arena.k.gemm(this.xb, 4, 4 * d, this.g, 4 * kp, this.gwt, 4 * kp, d, kp, B, 0, 0, 0, 0, this.scratch);
    const gw = this.gwt >> 2;
    for (let a = 0; a < k; a++) {
      const w = a * d;
      for (let j = 0; j < d; j++) gradW[w + j] += f[gw + j * kp + a]!;
    }
  }
}
