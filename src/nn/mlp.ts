/**
 * Linear + ReLU multilayer perceptrons: the parameter layout, seeded
 * initialisation, a plain JS forward pass (the reference of the gradient
 * checks), and a hand-written forward / backward pass on tfjs ops.
 *
 * Parameters are one flat Float32Array per network: for each layer l, W_l
 * (fanIn x fanOut, row-major) followed by b_l (fanOut). Losses, Adam, Polyak
 * averaging and the parameters themselves live in plain Float32Arrays in JS.
 *
 * The learners (continuous: IQL / RIQL, TD3+BC / PRDC, BC, RCBC; discrete:
 * discrete/*) train on WasmMlp (wasm-mlp.ts, on the WebAssembly SIMD kernels of
 * wasm-kernels.ts), which is faster per IQL update than this tfjs path (README,
 * Offline RL; bench/offline-rl-kernels.ts). The tfjs path stays for batched
 * prediction. On the wasm backend a matMul pays extra when its right-hand
 * operand is a fresh tensor (XNNPACK packs it on every call, and in training
 * every operand is fresh); the transposeA / transposeB flags take a much
 * slower path, so transposes are explicit (tf.transpose). Bias + ReLU are
 * fused into the forward matMul; bias gradients are ones-vector matMuls
 * sharing the packing of the gradient (cheaper than tf.sum over axis 0).
 */
import * as tf from '@tensorflow/tfjs';
import { OffpolicyError } from '../core/errors.js';
import type { Rng } from '../util/rng.js';

export type OutputActivation = 'linear' | 'tanh';

export interface MlpSpec {
  /** Layer widths, input first: [in, hidden..., out]. */
  sizes: readonly number[];
  output: OutputActivation;
}

export interface LayerOffsets {
  fanIn: number;
  fanOut: number;
  w: number;
  b: number;
}

export function layerOffsets(spec: MlpSpec): LayerOffsets[] {
  const out: LayerOffsets[] = [];
  let off = 0;
  for (let l = 0; l + 1 < spec.sizes.length; l++) {
    const fanIn = spec.sizes[l]!;
    const fanOut = spec.sizes[l + 1]!;
    out.push({ fanIn, fanOut, w: off, b: off + fanIn * fanOut });
    off += fanIn * fanOut + fanOut;
  }
  return out;
}

export function parameterCount(spec: MlpSpec): number {
  const ls = layerOffsets(spec);
  const last = ls[ls.length - 1]!;
  return last.b + last.fanOut;
}

export function checkSpec(spec: MlpSpec): void {
  if (spec.sizes.length < 2 || spec.sizes.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new OffpolicyError('E_MLP_SPEC', `An MLP needs at least an input and an output width, all positive integers; got [${spec.sizes.join(', ')}].`, {
      hint: 'Give sizes like [obsDim, 256, 256, 1].',
    });
  }
}

/**
 * Seeded initialisation, PyTorch's nn.Linear default: W and b uniform in
 * (-1/sqrt(fanIn), 1/sqrt(fanIn)). Same seed stream -> same bytes.
 */
export function initMlp(spec: MlpSpec, rng: Rng): Float32Array {
  checkSpec(spec);
  const p = new Float32Array(parameterCount(spec));
  for (const l of layerOffsets(spec)) {
    const bound = 1 / Math.sqrt(l.fanIn);
    for (let i = 0; i < l.fanIn * l.fanOut + l.fanOut; i++) p[l.w + i] = rng.range(-bound, bound);
  }
  return p;
}

/** Row-wise concatenation [a_i, b_i] of n rows of widths da and db (e.g. state-action inputs of a Q network). */
export function concatRows(a: ArrayLike<number>, da: number, b: ArrayLike<number>, db: number, n: number): Float32Array {
  const w = da + db;
  const out = new Float32Array(n * w);
  for (let i = 0; i < n; i++) {
    const o = i * w;
    for (let j = 0; j < da; j++) out[o + j] = a[i * da + j]!;
    for (let j = 0; j < db; j++) out[o + da + j] = b[i * db + j]!;
  }
  return out;
}

/** Plain JS forward pass (float64 accumulation): the reference for gradient checks and the fast path for tiny batches (rollouts). */
export function forwardJs(spec: MlpSpec, params: Float32Array, x: Float32Array, n: number): Float32Array {
  const layers = layerOffsets(spec);
  let h: Float32Array | Float64Array = x;
  for (let li = 0; li < layers.length; li++) {
    const l = layers[li]!;
    const out = new Float64Array(n * l.fanOut);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < l.fanOut; j++) out[r * l.fanOut + j] = params[l.b + j]!;
      for (let i = 0; i < l.fanIn; i++) {
        const hv = h[r * l.fanIn + i]!;
        if (hv === 0) continue;
        const row = l.w + i * l.fanOut;
        for (let j = 0; j < l.fanOut; j++) out[r * l.fanOut + j] += hv * params[row + j]!;
      }
    }
    const last = li === layers.length - 1;
    for (let k = 0; k < out.length; k++) {
      if (!last) out[k] = out[k]! > 0 ? out[k]! : 0;
      else if (spec.output === 'tanh') out[k] = Math.tanh(out[k]!);
    }
    h = out;
  }
  return Float32Array.from(h);
}

/** A network's parameters uploaded as tensors for one update. Dispose (or tidy) after the step. */
export interface UploadedMlp {
  spec: MlpSpec;
  w: tf.Tensor2D[];
  b: tf.Tensor1D[];
}

export function uploadMlp(spec: MlpSpec, params: Float32Array): UploadedMlp {
  const w: tf.Tensor2D[] = [];
  const b: tf.Tensor1D[] = [];
  for (const l of layerOffsets(spec)) {
    w.push(tf.tensor2d(params.subarray(l.w, l.w + l.fanIn * l.fanOut), [l.fanIn, l.fanOut]));
    b.push(tf.tensor1d(params.subarray(l.b, l.b + l.fanOut)));
  }
  return { spec, w, b };
}

/** Activations kept for the backward pass: acts[0] = input, acts[l] = output of layer l (after its activation). */
export interface ForwardCache {
  acts: tf.Tensor2D[];
  out: tf.Tensor2D;
}

export function forwardTf(net: UploadedMlp, x: tf.Tensor2D): ForwardCache {
  const acts: tf.Tensor2D[] = [x];
  let h = x;
  const L = net.w.length;
  for (let l = 0; l < L; l++) {
    const last = l === L - 1;
    h = tf.fused.matMul({ a: h, b: net.w[l]!, bias: net.b[l]!, activation: last ? 'linear' : 'relu' }) as tf.Tensor2D;
    if (last && net.spec.output === 'tanh') h = tf.tanh(h);
    acts.push(h);
  }
  return { acts, out: h };
}

/**
 * A constant tensor of ones, created once per shape and kept across tidy
 * scopes: as the right-hand operand of a bias-gradient product its XNNPACK
 * operator (packed weights) is built once and reused on every step.
 */
const onesCache = new Map<string, tf.Tensor2D>();
function onesTensor(rows: number, cols: number): tf.Tensor2D {
  const key = `${tf.getBackend()}:${rows}x${cols}`;
  let t = onesCache.get(key);
  if (!t || t.isDisposed) {
    t = tf.keep(tf.ones([rows, cols]) as tf.Tensor2D);
    onesCache.set(key, t);
  }
  return t;
}

/** Writes the transpose of src (rows x cols, row-major) into dst at `at` (cols x rows). */
function transposeInto(src: ArrayLike<number>, rows: number, cols: number, dst: Float32Array, at: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) dst[at + c * rows + r] = src[o + c]!;
  }
}

/**
 * Backward pass: given dLoss/dOut, writes dLoss/dParams into `grad` (same
 * layout as the parameters, overwritten) and returns dLoss/dInput when asked.
 *
 * Cost model on the wasm backend (bench/offline-rl-kernels.ts): every tfjs
 * matMul packs its right-hand operand (a sizeable share of the product), so
 * each product is arranged to pack the smaller operand or one whose packing is
 * cached; transposes are explicit (the transposeA/B flags fall back to a much
 * slower kernel).
 *  - dW for a layer that widens (fanIn < fanOut, the first layer): dW^T = g^T x
 *    packs the narrow input x, and db = g^T 1 uses a cached ones column;
 *    dW^T is transposed into place in JS (fanIn x fanOut is small).
 *  - dW otherwise: dW = x^T g, db = 1^T g (the second product reuses g's packing).
 *  - dInput = g W^T, with W^T a reshape when W has one column.
 */
export function backwardTf(
  net: UploadedMlp,
  cache: ForwardCache,
  dOut: tf.Tensor2D,
  grad: Float32Array,
  wantInputGrad = false,
): tf.Tensor2D | null {
  const layers = layerOffsets(net.spec);
  const L = layers.length;
  const n = dOut.shape[0];
  let g = dOut;
  if (net.spec.output === 'tanh') g = tf.mul(g, tf.sub(1, tf.square(cache.out)));
  const pending: { t: tf.Tensor; at: number; rows: number; cols: number; transposed: boolean }[] = [];
  let dx: tf.Tensor2D | null = null;
  for (let l = L - 1; l >= 0; l--) {
    const input = cache.acts[l]!;
    const { fanIn, fanOut } = layers[l]!;
    if (fanIn < fanOut) {
      const gT = tf.transpose(g);
      pending.push({ t: tf.matMul(gT, input), at: layers[l]!.w, rows: fanOut, cols: fanIn, transposed: true });
      pending.push({ t: tf.matMul(gT, onesTensor(n, 1)), at: layers[l]!.b, rows: fanOut, cols: 1, transposed: false });
    } else {
      const inT = fanIn === 1 ? tf.reshape(input, [1, n]) : tf.transpose(input);
      pending.push({ t: tf.matMul(inT, g), at: layers[l]!.w, rows: fanIn, cols: fanOut, transposed: false });
      pending.push({ t: tf.matMul(onesTensor(1, n), g), at: layers[l]!.b, rows: 1, cols: fanOut, transposed: false });
    }
    if (l > 0 || wantInputGrad) {
      const wT = fanOut === 1 ? tf.reshape(net.w[l]!, [1, fanIn]) : tf.transpose(net.w[l]!);
      const dh = tf.matMul(g, wT) as tf.Tensor2D;
      if (l > 0) g = tf.mul(dh, tf.step(input)) as tf.Tensor2D;
      else dx = dh;
    }
  }
  for (const p of pending) {
    const v = p.t.dataSync();
    if (p.transposed) transposeInto(v, p.rows, p.cols, grad, p.at);
    else grad.set(v, p.at);
  }
  return dx;
}

/** Batched prediction on tfjs: rows of x (n x in) -> n x out. */
export function predictTf(spec: MlpSpec, params: Float32Array, x: Float32Array, n: number): Float32Array {
  return tf.tidy(() => {
    const net = uploadMlp(spec, params);
    const { out } = forwardTf(net, tf.tensor2d(x, [n, spec.sizes[0]!]));
    return out.dataSync() as Float32Array;
  });
}
