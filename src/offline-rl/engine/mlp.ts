/**
 * Linear + ReLU multilayer perceptrons with a hand-written forward / backward
 * pass on tfjs ops.
 *
 * Design (measured in bench/offline-rl-kernels.ts on the wasm backend, batch
 * 256, hidden 256): a plain 256x256 @ 256x256 matMul takes about 1.0 ms, the
 * same product with transposeA or transposeB about 16 ms, an explicit
 * tf.transpose followed by a plain matMul about 1.4 ms, and a hand-written JS
 * Float32Array kernel about 47 ms. So the matrix products run in tfjs with
 * explicit transposes (never the transposeA/B flags), bias + ReLU fused into the
 * forward matMul, bias gradients as a ones-row matMul (tf.sum over axis 0 costs
 * 0.3 ms at 256 x 256, the matMul a few microseconds); everything else (losses, Adam, Polyak averaging, the
 * parameters themselves) lives in plain Float32Arrays in JS, where a few
 * hundred thousand scalar updates cost about a millisecond.
 *
 * Parameters are one flat Float32Array per network: for each layer l, W_l
 * (fanIn x fanOut, row-major) followed by b_l (fanOut).
 */
import * as tf from '@tensorflow/tfjs';
import { OffpolicyError } from '../../errors.js';
import type { Rng } from '../../util/rng.js';

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
 * Backward pass: given dLoss/dOut, writes dLoss/dParams into `grad` (same
 * layout as the parameters, overwritten) and returns dLoss/dInput when asked.
 * Products use explicit transposes (see the module comment).
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
  let g = dOut;
  if (net.spec.output === 'tanh') g = tf.mul(g, tf.sub(1, tf.square(cache.out)));
  const pending: { t: tf.Tensor; at: number }[] = [];
  let dx: tf.Tensor2D | null = null;
  // Bias gradients as ones(1 x B) @ g: a matMul is ~10x faster than tf.sum over axis 0 on wasm.
  const ones = tf.ones([1, dOut.shape[0]]);
  for (let l = L - 1; l >= 0; l--) {
    const input = cache.acts[l]!;
    const fanOut = layers[l]!.fanOut;
    // With one output column, g^T and W^T are reshapes, not transposes, and
    // dW (fanIn x 1) has the memory layout of g^T input (1 x fanIn).
    const gT = fanOut === 1 ? tf.reshape(g, [1, g.shape[0]]) : null;
    pending.push({ t: gT ? tf.matMul(gT, input) : tf.matMul(tf.transpose(input), g), at: layers[l]!.w });
    pending.push({ t: tf.matMul(ones, g), at: layers[l]!.b });
    if (l > 0 || wantInputGrad) {
      const wT = fanOut === 1 ? tf.reshape(net.w[l]!, [1, layers[l]!.fanIn]) : tf.transpose(net.w[l]!);
      const dh = tf.matMul(g, wT) as tf.Tensor2D;
      if (l > 0) g = tf.mul(dh, tf.step(input)) as tf.Tensor2D;
      else dx = dh;
    }
  }
  for (const p of pending) grad.set(p.t.dataSync() as Float32Array, p.at);
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
