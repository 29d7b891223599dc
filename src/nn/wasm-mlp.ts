/**
 * The learners' MLP engine: forward and backward passes of a Linear + ReLU
 * network on the WebAssembly SIMD kernels of wasm-kernels.ts, with the
 * parameters in the layout of mlp.ts (one flat Float32Array per network, W_l
 * fanIn x fanOut row-major then b_l), which stay owned by the learner (Adam,
 * Polyak averaging and checkpoints work on them as before).
 *
 * One WasmMlp holds its own wasm memory: two copies of the weights (one for
 * the training forward whose activations the backward pass reuses, one for
 * inference, so an inference with other weights in between does not disturb
 * a pending backward), the activations, the gradient buffers and a scratch
 * W^T. Every width is padded to a multiple of 4 with zero weights (the kernels
 * work on 4-wide vectors); padded units are exactly zero and carry zero
 * gradient, so results are those of the unpadded network.
 *
 * Per training step: forward = one product per layer with bias and ReLU fused;
 * backward per layer = dW = x^T g (the kernel reads x transposed, packing
 * 4-row panels of x^T into a scratch buffer), db = column sums of g, and
 * g_prev = (g W^T) masked by x > 0 (W^T from a transpose kernel, the mask
 * fused). Every product gets a scratch panel buffer (see gemmKernel). The sums run in a fixed order, so a
 * seed gives the same bytes on every run.
 *
 * Products whose left operand is a ReLU output (a hidden layer's input, in the
 * forward pass and in dW = x^T g) or a gradient masked by a ReLU (g W^T below
 * the output layer), about half exact zeros, run on the sparse kernel
 * (spgemm), which skips the zero terms and gives the same numbers as gemm.
 */
import { OffpolicyError } from '../core/errors.js';
import { checkSpec, layerOffsets, type LayerOffsets, type MlpSpec } from './mlp.js';
import { BIN_TABLE_FLOATS, binListInts, SPARSE_STRIP, sparsePackFloats, WasmArena } from './wasm-kernels.js';

/** Rows per block of the sparse product (its nonzero lists of a block stay in cache). */
const SPARSE_ROWS = 16;

const pad4 = (n: number): number => Math.ceil(n / 4) * 4;

interface PaddedLayer extends LayerOffsets {
  inP: number;
  outP: number;
  /** Byte addresses in the arena. */
  wTrain: number;
  bTrain: number;
  wInfer: number;
  bInfer: number;
  dW: number;
  db: number;
}

export class WasmMlp {
  readonly spec: MlpSpec;
  private readonly arena = new WasmArena();
  private readonly layers: PaddedLayer[];
  private readonly wT: number;
  private readonly maxWidth: number;
  private trainCap = 0;
  private inferCap = 0;
  private actsTrain: number[] = [];
  private actsInfer: number[] = [];
  private gA = 0;
  private gB = 0;
  /** 4 x rows floats: the gemm packs transposed 4-row panels here (dW = x^T g). */
  private panel = 0;
  /** 4 x maxWidth floats: the gemm packs 4-row panels of A as stored here (forward, g W^T). */
  private readonly panelK: number;
  private trainRows = 0;
  /** The sparse product's nonzero lists (spgemm), for a K of up to listK. */
  private list = 0;
  private listK = 0;
  /** spgemm's packed copy of its right operand. */
  private pack = 0;
  private packFloats = 0;
  /** The binary products' buffers (binlist / binmul) for up to `rows` rows: entry lists, chunk ends, table, the two scale vectors, h^T. */
  private bin: { list: number; ends: number; table: number; rowScale: number; colScale: number; ht: number; rows: number } | null = null;
  /** The parameters the inference weights were last loaded from (see infer's reuseWeights). */
  private inferLoaded: Float32Array | null = null;
  /** The last training forward's output after tanh (for the tanh backward), else null. */
  private lastOut: Float32Array | null = null;

  constructor(spec: MlpSpec) {
    checkSpec(spec);
    this.spec = spec;
    const a = this.arena;
    this.layers = layerOffsets(spec).map((l) => {
      const inP = pad4(l.fanIn);
      const outP = pad4(l.fanOut);
      return {
        ...l,
        inP,
        outP,
        wTrain: a.alloc(inP * outP),
        bTrain: a.alloc(outP),
        wInfer: a.alloc(inP * outP),
        bInfer: a.alloc(outP),
        dW: a.alloc(inP * outP),
        db: a.alloc(outP),
      };
    });
    this.maxWidth = Math.max(...this.layers.map((l) => Math.max(l.inP, l.outP)));
    this.wT = a.alloc(Math.max(...this.layers.map((l) => l.inP * l.outP)));
    this.panelK = a.alloc(4 * this.maxWidth);
  }

  get inputDim(): number {
    return this.spec.sizes[0]!;
  }

  get outputDim(): number {
    return this.spec.sizes[this.spec.sizes.length - 1]!;
  }

  private widths(): number[] {
    return [this.layers[0]!.inP, ...this.layers.map((l) => l.outP)];
  }

  /** Buffers for a training forward / backward of n rows (grown, never shrunk). */
  private ensureTrainRows(n: number): void {
    if (n <= this.trainCap) return;
    const a = this.arena;
    this.actsTrain = this.widths().map((w) => a.alloc(n * w));
    this.gA = a.alloc(n * this.maxWidth);
    this.gB = a.alloc(n * this.maxWidth);
    this.panel = a.alloc(4 * Math.max(n, this.maxWidth));
    this.trainCap = n;
  }

  /** The sparse product C (M x N) = epilogue(bias + A B) with A (M x K) at strides aRS, aCS (see spgemmKernel). */
  private sparse(a: number, aRS: number, aCS: number, b: number, bRS: number, c: number, M: number, N: number, K: number, bias: number, mask: number, relu: number): void {
    if (K > this.listK) {
      this.list = this.arena.alloc(SPARSE_ROWS + 2 * SPARSE_ROWS * K + 4);
      this.listK = K;
    }
    const need = sparsePackFloats(N, K);
    if (need > this.packFloats) {
      this.pack = this.arena.alloc(need);
      this.packFloats = need;
    }
    this.arena.k.spgemm(a, aRS, aCS, b, bRS, c, 4 * N, M, N, K, bias, mask, 4 * N, relu, this.list, SPARSE_ROWS, this.pack);
  }

  /** Buffers of the binary products for n rows (grown, never shrunk). */
  private binBuffers(n: number): NonNullable<WasmMlp['bin']> {
    const w = this.maxWidth;
    if (!this.bin || this.bin.rows < n) {
      // lists of M (n rows of w) and of M^T (w rows of n)
      const [ints, intsT] = [binListInts(n, w), binListInts(w, n)];
      const a = this.arena;
      this.bin = { list: a.alloc(Math.max(ints.list, intsT.list)), ends: a.alloc(Math.max(ints.ends, intsT.ends)), table: this.bin?.table ?? a.alloc(BIN_TABLE_FLOATS), rowScale: a.alloc(n), colScale: this.bin?.colScale ?? a.alloc(w), ht: a.alloc(n * w), rows: n };
    }
    return this.bin;
  }

  /**
   * The last hidden layer's backward pass for a network with one output (a Q
   * network), on the binary product: there the gradient is rank one times the
   * ReLU mask, g[b, j] = d[b] v[j] [h[b, j] > 0] (d = dLoss/dOut, v = the
   * output weights, h = this layer's output), so with x this layer's input
   *   dW^T = diag(v) M^T diag(d) x   and   g_prev = diag(d) M diag(v) W^T, masked by x > 0,
   * products of the 0/1 matrix M = [h > 0] that binmul does in about half the
   * adds of the sparse product. Numbers equal the general path's up to
   * rounding (another order of the same sums).
   */
  private lastHiddenBackward(l: PaddedLayer, n: number, dOut: number, dOutRS: number, grad: boolean, gPrev: number): void {
    const k = this.arena.k;
    const L = this.layers.length;
    const out = this.layers[L - 1]!;
    const x = this.actsTrain[L - 2]!;
    const h = this.actsTrain[L - 1]!;
    const bin = this.binBuffers(n);
    // d (dLoss/dOut, column 0 of the output gradient) and v (column 0 of the output weights), contiguous
    const f = this.arena.f32();
    for (let b = 0; b < n; b++) f[bin.rowScale / 4 + b] = f[(dOut + b * dOutRS) / 4]!;
    for (let j = 0; j < l.outP; j++) f[bin.colScale / 4 + j] = f[out.wTrain / 4 + j * out.outP]!;
    k.transpose(l.wTrain, this.wT, l.inP, l.outP);
    k.binlist(h, 4 * l.outP, n, l.outP / 4, bin.list, bin.ends);
    k.binmul(this.wT, 4 * l.inP, bin.colScale, l.outP / 4, l.inP, bin.table, bin.list, bin.ends, n, gPrev, 4 * l.inP, bin.rowScale, x, 4 * l.inP);
    if (!grad) return;
    // M^T from h^T; dW^T into W^T's scratch (free now that g_prev is done), then transposed into dW
    k.transpose(h, bin.ht, n, l.outP);
    k.binlist(bin.ht, 4 * n, l.outP, n / 4, bin.list, bin.ends);
    k.binmul(x, 4 * l.inP, bin.rowScale, n / 4, l.inP, bin.table, bin.list, bin.ends, l.outP, this.wT, 4 * l.inP, bin.colScale, 0, 0);
    k.transpose(this.wT, l.dW, l.outP, l.inP);
  }

  private ensureInferRows(n: number): void {
    if (n <= this.inferCap) return;
    this.actsInfer = this.widths().map((w) => this.arena.alloc(n * w));
    this.inferCap = n;
  }

  /** Copies params (mlp.ts layout) into the padded training or inference weight buffers. */
  private load(params: Float32Array, train: boolean): void {
    const f = this.arena.f32();
    for (const l of this.layers) {
      const w = (train ? l.wTrain : l.wInfer) / 4;
      const b = (train ? l.bTrain : l.bInfer) / 4;
      if (l.outP === l.fanOut) f.set(params.subarray(l.w, l.w + l.fanIn * l.fanOut), w);
      else {
        for (let i = 0; i < l.fanIn; i++) {
          const src = l.w + i * l.fanOut;
          const dst = w + i * l.outP;
          for (let j = 0; j < l.fanOut; j++) f[dst + j] = params[src + j]!;
        }
      }
      f.set(params.subarray(l.b, l.b + l.fanOut), b);
    }
  }

  /** Writes rows of x (n x inputDim) into the padded input buffer at `at`. */
  private writeInput(x: ArrayLike<number>, n: number, at: number): void {
    const f = this.arena.f32();
    const d = this.inputDim;
    const dp = this.layers[0]!.inP;
    const base = at / 4;
    if (dp === d && x instanceof Float32Array) f.set(x.subarray(0, n * d), base);
    else for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) f[base + i * dp + j] = x[i * d + j]!;
  }

  private run(n: number, acts: number[], train: boolean): Float32Array {
    const k = this.arena.k;
    const L = this.layers.length;
    for (let li = 0; li < L; li++) {
      const l = this.layers[li]!;
      const [w, b, relu] = [train ? l.wTrain : l.wInfer, train ? l.bTrain : l.bInfer, li < L - 1 ? 1 : 0];
      // a hidden layer's input is a ReLU output, about half exact zeros: skip them when the product is wide enough
      if (li > 0 && l.outP >= SPARSE_STRIP) this.sparse(acts[li]!, 4 * l.inP, 4, w, 4 * l.outP, acts[li + 1]!, n, l.outP, l.inP, b, 0, relu);
      else k.gemm(acts[li]!, 4 * l.inP, 4, w, 4 * l.outP, acts[li + 1]!, 4 * l.outP, n, l.outP, l.inP, b, 0, 0, relu, this.panelK);
    }
    const last = this.layers[L - 1]!;
    const m = this.outputDim;
    const f = this.arena.f32();
    const base = acts[L]! / 4;
    const out = new Float32Array(n * m);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[i * m + j] = f[base + i * last.outP + j]!;
    if (this.spec.output === 'tanh') for (let t = 0; t < out.length; t++) out[t] = Math.tanh(out[t]!);
    return out;
  }

  /**
   * Training forward: rows of x (n x in) -> n x out, keeping the activations
   * for backward(). Later forward() calls replace them; infer() does not.
   */
  forward(params: Float32Array, x: ArrayLike<number>, n: number): Float32Array {
    this.ensureTrainRows(n);
    this.load(params, true);
    this.writeInput(x, n, this.actsTrain[0]!);
    const out = this.run(n, this.actsTrain, true);
    this.trainRows = n;
    this.lastOut = this.spec.output === 'tanh' ? out : null;
    return out;
  }

  /**
   * Inference only (no state for a backward pass): rows of x -> n x out.
   * reuseWeights: the caller promises that `params` did not change since the
   * last infer() with the same array, so its copy into the engine is skipped
   * (a target network between its updates).
   */
  infer(params: Float32Array, x: ArrayLike<number>, n: number, reuseWeights = false): Float32Array {
    this.ensureInferRows(n);
    if (!reuseWeights || this.inferLoaded !== params) {
      this.load(params, false);
      this.inferLoaded = params;
    }
    this.writeInput(x, n, this.actsInfer[0]!);
    return this.run(n, this.actsInfer, false);
  }

  /**
   * Backward pass of the last forward(): given dLoss/dOut (n x out, of the
   * output after tanh when the output is tanh), writes dLoss/dParams into
   * `grad` (mlp.ts layout, overwritten; null skips the parameter gradients)
   * and returns dLoss/dInput (n x in) when asked.
   */
  backward(dOut: ArrayLike<number>, grad: Float32Array | null, wantInputGrad = false): Float32Array | null {
    const n = this.trainRows;
    if (n === 0) {
      throw new OffpolicyError('E_MLP_STATE', 'WasmMlp.backward() was called before any forward(); there are no activations to differentiate.', {
        hint: 'Call forward(params, x, n) on the batch first, then backward(dOut, grad).',
      });
    }
    const k = this.arena.k;
    const L = this.layers.length;
    const m = this.outputDim;
    const last = this.layers[L - 1]!;
    let g = this.gA;
    let other = this.gB;
    let f = this.arena.f32();
    const gb = g / 4;
    f.fill(0, gb, gb + n * last.outP);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        let v = dOut[i * m + j]!;
        if (this.lastOut) {
          const y = this.lastOut[i * m + j]!;
          v *= 1 - y * y;
        }
        f[gb + i * last.outP + j] = v;
      }
    }
    // the last hidden layer of a one-output network on the binary product (see lastHiddenBackward)
    const binary = L >= 3 && m === 1 && n % 4 === 0 && this.layers[L - 2]!.inP >= SPARSE_STRIP && this.layers[L - 2]!.outP >= SPARSE_STRIP;
    const outGrad = g;
    for (let li = L - 1; li >= 0; li--) {
      const l = this.layers[li]!;
      const x = this.actsTrain[li]!;
      if (binary && li === L - 2) {
        if (grad) k.colsum(g, l.db, n, l.outP);
        this.lastHiddenBackward(l, n, outGrad, 4 * last.outP, grad !== null, other);
        [g, other] = [other, g];
        continue;
      }
      // sparse operands: x^T of a hidden layer (a ReLU output) and g below the output layer (masked by a ReLU)
      if (grad) {
        if (li > 0 && l.outP >= SPARSE_STRIP) this.sparse(x, 4, 4 * l.inP, g, 4 * l.outP, l.dW, l.inP, l.outP, n, 0, 0, 0);
        else k.gemm(x, 4, 4 * l.inP, g, 4 * l.outP, l.dW, 4 * l.outP, l.inP, l.outP, n, 0, 0, 0, 0, this.panel);
        k.colsum(g, l.db, n, l.outP);
      }
      if (li > 0 || wantInputGrad) {
        k.transpose(l.wTrain, this.wT, l.inP, l.outP);
        if (li < L - 1 && l.inP >= SPARSE_STRIP) this.sparse(g, 4 * l.outP, 4, this.wT, 4 * l.inP, other, n, l.inP, l.outP, 0, li > 0 ? x : 0, 0);
        else k.gemm(g, 4 * l.outP, 4, this.wT, 4 * l.inP, other, 4 * l.inP, n, l.inP, l.outP, 0, li > 0 ? x : 0, 4 * l.inP, 0, this.panelK);
        [g, other] = [other, g];
      }
    }
    f = this.arena.f32();
    if (grad) {
      for (const l of this.layers) {
        const dW = l.dW / 4;
        if (l.outP === l.fanOut) grad.set(f.subarray(dW, dW + l.fanIn * l.fanOut), l.w);
        else {
          for (let i = 0; i < l.fanIn; i++) {
            const src = dW + i * l.outP;
            const dst = l.w + i * l.fanOut;
            for (let j = 0; j < l.fanOut; j++) grad[dst + j] = f[src + j]!;
          }
        }
        grad.set(f.subarray(l.db / 4, l.db / 4 + l.fanOut), l.b);
      }
    }
    if (!wantInputGrad) return null;
    const d = this.inputDim;
    const dp = this.layers[0]!.inP;
    const dx = new Float32Array(n * d);
    const base = g / 4;
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) dx[i * d + j] = f[base + i * dp + j]!;
    return dx;
  }
}
