/**
 * Adam with bias correction on a flat Float32Array of parameters, following
 * torch.optim.Adam (no weight decay):
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * The update runs on a SIMD kernel of wasm-kernels.ts (optimModule): the
 * moments live in the optimizer's own wasm memory (state.m / state.v are views
 * of it), params and grad are copied in and params back out. Two precisions:
 *  - 'f32' (the default): f32x4, every operation rounded to f32 as torch does
 *    on float32 tensors, in the order of torch's single-tensor Adam (m by
 *    lerp, v by mul + addcmul, denom = sqrt(v) / bc2 + eps, addcdiv). The same
 *    bits as the scalar reference adamStepF32Js, on every machine.
 *  - 'f64': f64x2, f64 arithmetic with each stored value rounded once to f32:
 *    the same bits as adamStepJs, the scalar loop this optimizer ran before
 *    the kernels (use it to reproduce runs of that version bit for bit).
 * The two differ in the last bits of every step (about 1e-7 relative).
 * Polyak averaging runs on an f64x2 kernel, bit-identical to its earlier loop.
 * Timings: bench/offline-rl-kernels.ts.
 */
import { OffpolicyError } from '../core/errors.js';
import { optimModule, type OptimKernels } from './wasm-kernels.js';

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Arithmetic of the update (see the module comment); default 'f32'. */
  precision?: 'f32' | 'f64';
}

export interface AdamState {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

export class Adam {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly precision: 'f32' | 'f64';
  /** m and v are views of the optimizer's wasm memory (fixed size, never detached). */
  readonly state: AdamState;
  private readonly k: OptimKernels;
  private readonly mem: Float32Array;
  private readonly size: number;
  /** Byte addresses of m, v and the params / grad staging buffers. */
  private readonly at: { m: number; v: number; p: number; g: number };

  constructor(size: number, opts: AdamOptions) {
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.precision = opts.precision ?? 'f32';
    if (this.precision !== 'f32' && this.precision !== 'f64') {
      throw new OffpolicyError('E_TRAIN_PARAM', `Adam precision must be 'f32' or 'f64', got '${String(this.precision)}'.`, {
        hint: "Leave it unset for float32 (torch's arithmetic), or 'f64' to reproduce the earlier scalar optimizer bit for bit.",
      });
    }
    this.size = size;
    // every buffer padded to 4 floats (16-byte aligned, an even count for the 2-wide kernel)
    const padded = Math.ceil(size / 4) * 4;
    const bytes = 16 * padded;
    const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(bytes / 65536)) });
    this.k = new WebAssembly.Instance(optimModule(), { env: { memory } }).exports as unknown as OptimKernels;
    this.mem = new Float32Array(memory.buffer);
    this.at = { m: 0, v: 4 * padded, p: 8 * padded, g: 12 * padded };
    this.state = { step: 0, m: this.mem.subarray(0, size), v: this.mem.subarray(padded, padded + size) };
  }

  /** A copy of the optimizer state (step count, first and second moments), for checkpoints. */
  exportState(): AdamState {
    return { step: this.state.step, m: Float32Array.from(this.state.m), v: Float32Array.from(this.state.v) };
  }

  /** Restores a state from exportState() (copied in); the sizes must match. */
  importState(s: AdamState): void {
    if (s.m.length !== this.state.m.length || s.v.length !== this.state.v.length || !Number.isInteger(s.step) || s.step < 0) {
      throw new OffpolicyError(
        'E_CHECKPOINT',
        `Adam state does not fit: ${s.m.length} / ${s.v.length} moments and step ${s.step} for an optimizer of ${this.state.m.length} parameters.`,
        { hint: 'Resume with the same network sizes as the run that wrote the checkpoint.' },
      );
    }
    this.state.step = s.step;
    this.state.m.set(s.m);
    this.state.v.set(s.v);
  }

  /** One update of `params` in place from `grad`; `lr` overrides the current rate (schedules). */
  step(params: Float32Array, grad: Float32Array, lr = this.lr): void {
    const n = this.size;
    if (params.length !== n || grad.length !== n) {
      throw new OffpolicyError('E_ADAM_SIZE', `Adam.step got ${params.length} parameters and ${grad.length} gradients for an optimizer of ${n} parameters.`, {
        hint: 'Create one Adam per parameter vector, with its length.',
      });
    }
    const s = this.state;
    s.step++;
    const b1 = this.beta1;
    const b2 = this.beta2;
    const stepSize = lr / (1 - b1 ** s.step);
    const bc2 = Math.sqrt(1 - b2 ** s.step);
    const f = this.mem;
    const { p, g } = this.at;
    f.set(params, p / 4);
    f.set(grad, g / 4);
    if (this.precision === 'f32') this.k.adam32(p, g, this.at.m, this.at.v, Math.ceil(n / 4) * 4, 1 - b1, b2, 1 - b2, stepSize, bc2, this.eps);
    else this.k.adam(p, g, this.at.m, this.at.v, Math.ceil(n / 2) * 2, b1, b2, 1 - b1, 1 - b2, stepSize, bc2, this.eps);
    params.set(f.subarray(p / 4, p / 4 + n));
  }
}

/**
 * The scalar reference of Adam.step with precision 'f64' (f64 arithmetic, each
 * stored value rounded to f32; the optimizer's code before the wasm kernels):
 * the kernel reproduces it bit for bit. Updates `state` in place.
 */
export function adamStepJs(params: Float32Array, grad: Float32Array, state: AdamState, lr: number, beta1 = 0.9, beta2 = 0.999, eps = 1e-8): void {
  state.step++;
  const stepSize = lr / (1 - beta1 ** state.step);
  const bc2 = Math.sqrt(1 - beta2 ** state.step);
  const { m, v } = state;
  for (let i = 0; i < params.length; i++) {
    const g = grad[i]!;
    const mi = beta1 * m[i]! + (1 - beta1) * g;
    const vi = beta2 * v[i]! + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] = params[i]! - (stepSize * mi) / (Math.sqrt(vi) / bc2 + eps);
  }
}

/**
 * The scalar reference of Adam.step with precision 'f32': every operation
 * rounded to f32 (Math.fround; an f64 result of +, -, *, /, sqrt on f32
 * operands rounds to the correctly rounded f32 result), the constants rounded
 * to f32 first. The f32x4 kernel reproduces it bit for bit.
 */
export function adamStepF32Js(params: Float32Array, grad: Float32Array, state: AdamState, lr: number, beta1 = 0.9, beta2 = 0.999, eps = 1e-8): void {
  const f = Math.fround;
  state.step++;
  const c1 = f(1 - beta1);
  const b2 = f(beta2);
  const c2 = f(1 - beta2);
  const ss = f(lr / (1 - beta1 ** state.step));
  const bc2 = f(Math.sqrt(1 - beta2 ** state.step));
  const e = f(eps);
  const { m, v } = state;
  for (let i = 0; i < params.length; i++) {
    const g = grad[i]!;
    const mi = f(m[i]! + f(c1 * f(g - m[i]!)));
    const vi = f(f(b2 * v[i]!) + f(f(c2 * g) * g));
    m[i] = mi;
    v[i] = vi;
    params[i] = f(params[i]! - f(f(ss * mi) / f(f(f(Math.sqrt(vi)) / bc2) + e)));
  }
}

/** One shared wasm memory for Polyak updates (grown on demand; the kernels are stateless). */
let polyakArena: { memory: WebAssembly.Memory; k: OptimKernels; view: Float32Array } | null = null;

/**
 * Polyak averaging of a target network: target <- tau * source + (1 - tau) * target,
 * in f64 rounded once to f32 (the f64x2 kernel, bit-identical to polyakUpdateJs).
 */
export function polyakUpdate(target: Float32Array, source: Float32Array, tau: number): void {
  const n = target.length;
  if (source.length !== n) {
    throw new OffpolicyError('E_POLYAK_SIZE', `polyakUpdate got a target of ${n} values and a source of ${source.length}.`, {
      hint: 'The target network must have the same shape as its source network.',
    });
  }
  const padded = Math.ceil(n / 4) * 4;
  const bytes = 8 * padded;
  if (!polyakArena) {
    const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(bytes / 65536)) });
    polyakArena = { memory, k: new WebAssembly.Instance(optimModule(), { env: { memory } }).exports as unknown as OptimKernels, view: new Float32Array(memory.buffer) };
  }
  const a = polyakArena;
  if (a.memory.buffer.byteLength < bytes) a.memory.grow(Math.ceil((bytes - a.memory.buffer.byteLength) / 65536));
  if (a.view.buffer !== a.memory.buffer) a.view = new Float32Array(a.memory.buffer);
  const f = a.view;
  f.set(target, 0);
  f.set(source, padded);
  a.k.polyak(0, 4 * padded, Math.ceil(n / 2) * 2, tau, 1 - tau);
  target.set(f.subarray(0, n));
}

/** The scalar reference of polyakUpdate. */
export function polyakUpdateJs(target: Float32Array, source: Float32Array, tau: number): void {
  for (let i = 0; i < target.length; i++) target[i] = tau * source[i]! + (1 - tau) * target[i]!;
}

/** Cosine annealing (torch CosineAnnealingLR with eta_min 0): lr * (1 + cos(pi t / T)) / 2. */
export function cosineLr(lr: number, t: number, total: number): number {
  if (total <= 0) return lr;
  return (lr * (1 + Math.cos((Math.PI * Math.min(t, total)) / total))) / 2;
}
