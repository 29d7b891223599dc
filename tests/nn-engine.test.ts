import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, adamStepF32Js, adamStepJs, cosineLr, polyakUpdate, polyakUpdateJs, type AdamState } from '../src/nn/adam.js';
import { ensureTfBackend, setTfThreads, tfThreadsWanted } from '../src/util/tf-backend.js';
import { BIN_TABLE_FLOATS, binListInts, WasmArena, parseFmaSetting, relaxedSimdAvailable, sparsePackFloats } from '../src/nn/wasm-kernels.js';
import { WasmMlp } from '../src/nn/wasm-mlp.js';
import { backwardTf, forwardJs, forwardTf, initMlp, layerOffsets, parameterCount, predictTf, uploadMlp, type MlpSpec } from '../src/nn/mlp.js';
import { computeNormStats, normalizeRows } from '../src/nn/normalization.js';
import { OffpolicyError } from '../src/core/errors.js';
import { Rng } from '../src/util/rng.js';

beforeAll(async () => {
  const b = await ensureTfBackend();
  expect(b.name).toBe('wasm');
});

function randomArray(n: number, rng: Rng, scale = 1): Float32Array {
  return new Float32Array(n).map(() => scale * rng.normal());
}

/** L(params, x) = sum(out * R): its gradient w.r.t. out is R. */
function lossJs(spec: MlpSpec, p: Float32Array, x: Float32Array, n: number, r: Float32Array): number {
  const out = forwardJs(spec, p, x, n);
  let s = 0;
  for (let i = 0; i < out.length; i++) s += out[i]! * r[i]!;
  return s;
}

function analytic(spec: MlpSpec, p: Float32Array, x: Float32Array, n: number, r: Float32Array): { grad: Float32Array; dx: Float32Array } {
  const grad = new Float32Array(p.length);
  const dx = tf.tidy(() => {
    const net = uploadMlp(spec, p);
    const cache = forwardTf(net, tf.tensor2d(x, [n, spec.sizes[0]!]));
    return backwardTf(net, cache, tf.tensor2d(r, [n, spec.sizes[spec.sizes.length - 1]!]), grad, true)!.dataSync() as Float32Array;
  });
  return { grad, dx };
}

describe('MLP initialisation', () => {
  const spec: MlpSpec = { sizes: [3, 5, 4, 2], output: 'linear' };
  it('lays out W (fanIn x fanOut) then b per layer', () => {
    expect(layerOffsets(spec)).toEqual([
      { fanIn: 3, fanOut: 5, w: 0, b: 15 },
      { fanIn: 5, fanOut: 4, w: 20, b: 40 },
      { fanIn: 4, fanOut: 2, w: 44, b: 52 },
    ]);
    expect(parameterCount(spec)).toBe(54);
  });
  it('is seeded: same seed, same bytes; another seed, other weights; within +-1/sqrt(fanIn)', () => {
    const a = initMlp(spec, new Rng(5));
    const b = initMlp(spec, new Rng(5));
    const c = initMlp(spec, new Rng(6));
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
    for (const l of layerOffsets(spec)) {
      const bound = 1 / Math.sqrt(l.fanIn);
      const slice = a.subarray(l.w, l.b + l.fanOut);
      expect(Math.max(...slice.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.max(...slice.map(Math.abs))).toBeGreaterThan(bound / 2);
    }
  });
  it('rejects a spec without layers', () => {
    try {
      initMlp({ sizes: [3], output: 'linear' }, new Rng(1));
      expect.unreachable();
    } catch (e) {
      expect((e as OffpolicyError).code).toBe('E_MLP_SPEC');
      expect((e as Error).message).toContain('at least an input and an output width');
    }
  });
});

describe('forward pass', () => {
  it('matches a hand-computed 2-1-1 network', () => {
    // h = relu(1*x0 - 1*x1 + 0.5); y = tanh(2 h - 1)
    const spec: MlpSpec = { sizes: [2, 1, 1], output: 'tanh' };
    const p = Float32Array.of(1, -1, 0.5, 2, -1);
    const x = Float32Array.of(1, 0, 0, 3); // rows: h = 1.5 -> tanh(2); h = relu(-2.5) = 0 -> tanh(-1)
    const y = forwardJs(spec, p, x, 2);
    expect(y[0]).toBeCloseTo(Math.tanh(2), 6);
    expect(y[1]).toBeCloseTo(Math.tanh(-1), 6);
    const yt = predictTf(spec, p, x, 2);
    expect(yt[0]).toBeCloseTo(Math.tanh(2), 6);
    expect(yt[1]).toBeCloseTo(Math.tanh(-1), 6);
  });
  it('tfjs and JS forward agree on a random network', () => {
    const rng = new Rng(11);
    const spec: MlpSpec = { sizes: [7, 16, 16, 3], output: 'linear' };
    const p = initMlp(spec, rng);
    const x = randomArray(9 * 7, rng);
    const a = forwardJs(spec, p, x, 9);
    const b = predictTf(spec, p, x, 9);
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i]!, 5);
  });
});

/**
 * Central differences in float64 (the loss functions use forwardJs) around
 * float32 values, h = 1e-3, each compared with the analytic gradient. A ReLU
 * kink inside [v - h, v + h] makes the one-sided slopes disagree: such
 * coordinates are skipped and counted (callers bound the count).
 */
function finiteDifferenceCheck(base: Float32Array, analyticGrad: Float32Array, f: (v: Float32Array) => number): { checked: number; skipped: number } {
  const h = 1e-3;
  let checked = 0;
  let skipped = 0;
  const f0 = f(base);
  for (let i = 0; i < base.length; i++) {
    const plus = Float32Array.from(base);
    const minus = Float32Array.from(base);
    plus[i] = base[i]! + h;
    minus[i] = base[i]! - h;
    const fp = f(plus);
    const fm = f(minus);
    const right = (fp - f0) / (plus[i]! - base[i]!);
    const left = (f0 - fm) / (base[i]! - minus[i]!);
    if (Math.abs(right - left) > 5e-3 * (1 + Math.abs(right))) {
      skipped++;
      continue;
    }
    const fd = (fp - fm) / (plus[i]! - minus[i]!);
    expect(Math.abs(fd - analyticGrad[i]!)).toBeLessThan(1e-3 + 1e-3 * Math.abs(fd));
    checked++;
  }
  return { checked, skipped };
}

describe('hand-written backward pass vs finite differences', () => {
  // width 1 takes the reshape path of the backward pass (Q and V heads)
  for (const [output, width, seed] of [['linear', 3, 21], ['tanh', 3, 22], ['linear', 1, 24], ['tanh', 1, 25]] as const) {
    it(`parameter and input gradients (${output} output, width ${width})`, () => {
      const rng = new Rng(seed);
      const spec: MlpSpec = { sizes: [4, 6, 5, width], output };
      const p = initMlp(spec, rng);
      const n = 5;
      const x = randomArray(n * 4, rng);
      const r = randomArray(n * width, rng);
      const { grad, dx } = analytic(spec, p, x, n, r);
      const pc = finiteDifferenceCheck(p, grad, (v) => lossJs(spec, v, x, n, r));
      expect(pc.checked + pc.skipped).toBe(parameterCount(spec));
      expect(pc.skipped).toBeLessThanOrEqual(3);
      const xc = finiteDifferenceCheck(x, dx, (v) => lossJs(spec, p, v, n, r));
      expect(xc.skipped).toBeLessThanOrEqual(2);
    });
  }
  it('the output bias gradient is exactly the sum of dLoss/dOut', () => {
    const rng = new Rng(23);
    const spec: MlpSpec = { sizes: [3, 4, 1], output: 'linear' };
    const p = initMlp(spec, rng);
    const x = randomArray(6, rng);
    const r = Float32Array.of(1, 1);
    const { grad } = analytic(spec, p, x, 2, r);
    const bOut = layerOffsets(spec)[1]!.b;
    expect(grad[bOut]).toBeCloseTo(2, 6);
  });
});

describe('Adam, Polyak, cosine schedule', () => {
  it('Adam matches torch.optim.Adam on hand-computed steps', () => {
    const p = Float32Array.of(1);
    const adam = new Adam(1, { lr: 0.1 });
    adam.step(p, Float32Array.of(0.5));
    expect(p[0]).toBeCloseTo(0.900000002, 6);
    adam.step(p, Float32Array.of(-1));
    expect(p[0]).toBeCloseTo(0.9366103542405654, 6);
    adam.step(p, Float32Array.of(0.25));
    expect(p[0]).toBeCloseTo(0.9502794203389762, 6);
    expect(adam.state.step).toBe(3);
  });
  it('Polyak averaging moves the target by tau', () => {
    const target = Float32Array.of(0, 10);
    polyakUpdate(target, Float32Array.of(1, 0), 0.005);
    expect(target[0]).toBeCloseTo(0.005, 7);
    expect(target[1]).toBeCloseTo(9.95, 5);
  });
  it('cosine learning rate goes from lr to 0', () => {
    expect(cosineLr(3e-4, 0, 100)).toBeCloseTo(3e-4, 12);
    expect(cosineLr(3e-4, 50, 100)).toBeCloseTo(1.5e-4, 12);
    expect(cosineLr(3e-4, 100, 100)).toBeCloseTo(0, 12);
  });
});

describe('Adam and Polyak on the wasm optimizer kernels', () => {
  const bytes = (a: Float32Array): Buffer => Buffer.from(Float32Array.from(a).buffer);
  /** 40 steps of the kernel and of the scalar reference from the same start, gradients of mixed scale (1e-6 .. 10), a changing lr. */
  function runBoth(n: number, precision: 'f32' | 'f64', seed: number): { kernel: Float32Array; ref: Float32Array; adam: Adam; state: AdamState } {
    const rng = new Rng(seed);
    const p0 = randomArray(n, rng);
    const kernel = Float32Array.from(p0);
    const ref = Float32Array.from(p0);
    const adam = new Adam(n, { lr: 1e-3, precision });
    const state: AdamState = { step: 0, m: new Float32Array(n), v: new Float32Array(n) };
    const refStep = precision === 'f32' ? adamStepF32Js : adamStepJs;
    for (let t = 0; t < 40; t++) {
      const g = randomArray(n, rng, [1e-6, 1, 10][t % 3]!);
      const lr = cosineLr(1e-3, t, 40);
      adam.step(kernel, g, lr);
      refStep(ref, g, state, lr);
    }
    return { kernel, ref, adam, state };
  }
  for (const precision of ['f32', 'f64'] as const) {
    it(`precision ${precision}: the SIMD kernel gives the bits of its scalar reference (params, m, v), odd sizes included`, () => {
      for (const n of [1, 5, 1031]) {
        const r = runBoth(n, precision, n);
        expect(bytes(r.kernel).equals(bytes(r.ref))).toBe(true);
        expect(bytes(r.adam.state.m).equals(bytes(r.state.m))).toBe(true);
        expect(bytes(r.adam.state.v).equals(bytes(r.state.v))).toBe(true);
        expect(r.adam.state.step).toBe(40);
      }
    });
  }
  it('f32 and f64 differ only in the last bits', () => {
    const a = runBoth(1031, 'f32', 9).kernel;
    const b = runBoth(1031, 'f64', 9).kernel;
    expect(bytes(a).equals(bytes(b))).toBe(false);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1e-3, Math.abs(b[i]!)));
    expect(worst).toBeLessThan(1e-5);
  });
  it('f32 step 1 by hand: m = 0.1 g, v = 0.001 g^2, p moves by lr (sign of g)', () => {
    const p = Float32Array.of(1, -2, 0.5, 3, 7);
    const adam = new Adam(5, { lr: 0.01 });
    adam.step(p, Float32Array.of(0.5, -4, 0, 1e-3, 2));
    // step 1: m = 0.1 g, v = 0.001 g^2, stepSize = lr / 0.1, bc2 = sqrt(0.001), so
    // p -= (10 lr) (0.1 g) / (|g| + eps) = lr g / (|g| + eps): lr sign(g), 0 for g = 0
    // (f32: 0.1 g is fround(0.1) times a power of two or 1e-3, hence fround(0.1 g) for these g)
    expect(Array.from(adam.state.m)).toEqual([0.05, -0.4, 0, Math.fround(0.1) * Math.fround(1e-3), 0.2].map(Math.fround));
    expect(p[0]).toBeCloseTo(0.99, 6);
    expect(p[1]).toBeCloseTo(-1.99, 6);
    expect(p[2]).toBe(0.5);
    expect(p[3]).toBeCloseTo(2.99, 6);
    expect(p[4]).toBeCloseTo(6.99, 6);
  });
  it('exportState / importState carry the kernel state: a restored optimizer continues with the same bits', () => {
    const rng = new Rng(4);
    const p = randomArray(37, rng);
    const a = new Adam(37, { lr: 1e-2 });
    for (let t = 0; t < 5; t++) a.step(p, randomArray(37, rng));
    const saved = a.exportState();
    const b = new Adam(37, { lr: 1e-2 });
    b.importState(saved);
    const pb = Float32Array.from(p);
    for (let t = 0; t < 5; t++) {
      const g = randomArray(37, rng);
      a.step(p, g);
      b.step(pb, g);
    }
    expect(bytes(p).equals(bytes(pb))).toBe(true);
    expect(bytes(a.state.m).equals(bytes(b.state.m))).toBe(true);
    expect(b.state.step).toBe(10);
    // the exported copy is detached from the live state
    expect(saved.step).toBe(5);
    expect(bytes(saved.m).equals(bytes(a.state.m))).toBe(false);
  });
  it('Polyak kernel gives the bits of the scalar loop, odd sizes included', () => {
    for (const n of [1, 3, 4097]) {
      const rng = new Rng(n);
      const src = randomArray(n, rng);
      const t1 = randomArray(n, rng, 10);
      const t2 = Float32Array.from(t1);
      for (let k = 0; k < 10; k++) {
        polyakUpdate(t1, src, 0.005);
        polyakUpdateJs(t2, src, 0.005);
      }
      expect(bytes(t1).equals(bytes(t2))).toBe(true);
    }
    // a large update grows the shared memory; a small one afterwards still works
    const big = new Float32Array(300_000).fill(2);
    polyakUpdate(big, new Float32Array(300_000).fill(4), 0.5);
    expect(big[299_999]).toBe(3);
    const small = Float32Array.of(0);
    polyakUpdate(small, Float32Array.of(1), 0.25);
    expect(small[0]).toBe(0.25);
  });
  it('rejects mismatched sizes and an unknown precision', () => {
    const adam = new Adam(4, { lr: 1 });
    const err = (f: () => void): OffpolicyError => {
      try {
        f();
      } catch (e) {
        return e as OffpolicyError;
      }
      throw new Error('expected an error');
    };
    const e1 = err(() => adam.step(new Float32Array(3), new Float32Array(4)));
    expect(e1.code).toBe('E_ADAM_SIZE');
    expect(e1.message).toBe('Adam.step got 3 parameters and 4 gradients for an optimizer of 4 parameters. Create one Adam per parameter vector, with its length.');
    expect(adam.state.step).toBe(0);
    const e2 = err(() => polyakUpdate(new Float32Array(2), new Float32Array(3), 0.1));
    expect(e2.code).toBe('E_POLYAK_SIZE');
    expect(e2.message).toBe('polyakUpdate got a target of 2 values and a source of 3. The target network must have the same shape as its source network.');
    const e3 = err(() => new Adam(2, { lr: 1, precision: 'f16' as 'f32' }));
    expect(e3.code).toBe('E_TRAIN_PARAM');
    expect(e3.message).toBe("Adam precision must be 'f32' or 'f64', got 'f16'. Leave it unset for float32 (torch's arithmetic), or 'f64' to reproduce the earlier scalar optimizer bit for bit.");
  });
});

describe('observation normalization', () => {
  it('mean / population std + eps, skipping rows with NaN', () => {
    const x = Float32Array.of(1, 10, 3, 10, NaN, 0);
    const s = computeNormStats([x], 2, 1e-3);
    expect(s.mean[0]).toBeCloseTo(2, 6);
    expect(s.mean[1]).toBeCloseTo(10, 6);
    expect(s.std[0]).toBeCloseTo(1.001, 6);
    expect(s.std[1]).toBeCloseTo(0.001, 6);
    const z = normalizeRows(Float32Array.of(3, 10), s);
    expect(z[0]).toBeCloseTo(1 / 1.001, 5);
    expect(z[1]).toBeCloseTo(0, 6);
  });
  it('pools several sources (observations and next observations)', () => {
    const s = computeNormStats([Float32Array.of(0, 2), Float32Array.of(4)], 1, 0);
    expect(s.mean[0]).toBeCloseTo(2, 6);
    expect(s.std[0]).toBeCloseTo(Math.sqrt(8 / 3), 5);
  });
});

describe('wasm SIMD kernels (wasm-kernels.ts)', () => {
  // float64 reference of C = epilogue(bias + A B) with A(i, k) given by a function
  function reference(a: (i: number, k: number) => number, b: Float32Array, M: number, N: number, K: number, bias: Float32Array | null, mask: Float32Array | null, relu: boolean): Float64Array {
    const c = new Float64Array(M * N);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = bias ? bias[j]! : 0;
        for (let k = 0; k < K; k++) s += a(i, k) * b[k * N + j]!;
        if (relu) s = Math.max(0, s);
        if (mask && !(mask[i * N + j]! > 0)) s = 0;
        c[i * N + j] = s;
      }
    }
    return c;
  }
  function checkGemm(arena: WasmArena): number {
    let worst = 0;
    const panel = arena.alloc(4 * 64);
    // M with a 1-row tail, N with a 4-column tail, K = 0 and K = 1
    for (const [M, N, K] of [[5, 4, 3], [4, 8, 1], [7, 12, 9], [9, 20, 37], [3, 4, 0], [13, 28, 64]] as const) {
      for (const orientation of ['stored', 'transposed'] as const) {
        for (const [useBias, useMask, relu] of [[false, false, false], [true, false, true], [false, true, false], [true, true, true]] as const) {
          const a = arena.alloc(M * K);
          const b = arena.alloc(K * N);
          const c = arena.alloc(M * N);
          const bias = arena.alloc(N);
          const mask = arena.alloc(M * N);
          const f = arena.f32();
          for (let t = 0; t < M * K; t++) f[a / 4 + t] = Math.sin(1.3 * t + 0.2);
          for (let t = 0; t < K * N; t++) f[b / 4 + t] = Math.cos(0.7 * t);
          for (let t = 0; t < N; t++) f[bias / 4 + t] = 0.1 * t - 0.3;
          for (let t = 0; t < M * N; t++) f[mask / 4 + t] = Math.sin(2.1 * t);
          // 'stored': A is M x K; 'transposed': A is stored K x M and read as its transpose
          const aAt = orientation === 'stored' ? (i: number, k: number) => f[a / 4 + i * K + k]! : (i: number, k: number) => f[a / 4 + k * M + i]!;
          const [aRS, aCS] = orientation === 'stored' ? [4 * K, 4] : [4, 4 * M];
          arena.k.gemm(a, aRS, aCS, b, 4 * N, c, 4 * N, M, N, K, useBias ? bias : 0, useMask ? mask : 0, 4 * N, relu ? 1 : 0, panel);
          const g = arena.f32();
          const want = reference(aAt, g.slice(b / 4, b / 4 + K * N), M, N, K, useBias ? g.slice(bias / 4, bias / 4 + N) : null, useMask ? g.slice(mask / 4, mask / 4 + M * N) : null, relu);
          for (let t = 0; t < M * N; t++) worst = Math.max(worst, Math.abs(want[t]! - g[c / 4 + t]!) / (1 + Math.abs(want[t]!)));
        }
      }
    }
    return worst;
  }
  it('the product matches a float64 reference in both orientations, with bias, ReLU, mask and every tail', () => {
    const arena = new WasmArena(false);
    expect(arena.fma).toBe(false);
    expect(checkGemm(arena)).toBeLessThan(2e-6);
  });
  it('packing A into the scratch panel changes no bit (A as stored, with and without scratch)', () => {
    const arena = new WasmArena(false);
    for (const [M, N, K] of [[5, 8, 3], [13, 28, 37], [8, 16, 4], [9, 12, 64]] as const) {
      const a = arena.alloc(M * K);
      const b = arena.alloc(K * N);
      const c1 = arena.alloc(M * N);
      const c2 = arena.alloc(M * N);
      const bias = arena.alloc(N);
      const panel = arena.alloc(4 * K);
      const f = arena.f32();
      for (let t = 0; t < M * K; t++) f[a / 4 + t] = Math.sin(0.9 * t + 0.1);
      for (let t = 0; t < K * N; t++) f[b / 4 + t] = Math.cos(1.7 * t);
      for (let t = 0; t < N; t++) f[bias / 4 + t] = 0.05 * t - 0.2;
      arena.k.gemm(a, 4 * K, 4, b, 4 * N, c1, 4 * N, M, N, K, bias, 0, 0, 1, panel);
      arena.k.gemm(a, 4 * K, 4, b, 4 * N, c2, 4 * N, M, N, K, bias, 0, 0, 1, 0);
      const g = new Uint32Array(arena.memory.buffer);
      expect(g.slice(c1 / 4, c1 / 4 + M * N)).toEqual(g.slice(c2 / 4, c2 / 4 + M * N));
    }
  });
  it('the sparse product (spgemm) gives the numbers of gemm on a left operand with many zeros: both orientations, B packed or in place, every tail and row block', () => {
    for (const fma of [false, true]) {
      if (fma && !relaxedSimdAvailable()) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
      const arena = new WasmArena(fma);
      const rng = new Rng(5);
      let compared = 0;
      for (const [M, N, K] of [[5, 4, 3], [7, 12, 9], [3, 4, 0], [13, 60, 37], [17, 28, 64], [9, 92, 5]] as const) {
        for (const orientation of ['stored', 'transposed'] as const) {
          for (const [useBias, useMask, relu] of [[false, false, false], [true, false, true], [false, true, false], [true, true, true]] as const) {
            for (const [rb, packed] of [[1, false], [4, true], [16, false], [16, true]] as const) {
              const a = arena.alloc(M * K);
              const b = arena.alloc(K * N);
              const c1 = arena.alloc(M * N);
              const c2 = arena.alloc(M * N);
              const bias = arena.alloc(N);
              const mask = arena.alloc(M * N);
              const panel = arena.alloc(4 * Math.max(M, K, N));
              const list = arena.alloc(rb + 2 * rb * Math.max(K, 1) + 4);
              const bp = packed ? arena.alloc(sparsePackFloats(N, K)) : 0;
              const f = arena.f32();
              // about half the entries of A exact zeros (some -0), as after a ReLU or a ReLU mask
              for (let t = 0; t < M * K; t++) f[a / 4 + t] = rng.uniform() < 0.5 ? (t % 3 ? 0 : -0) : rng.normal();
              for (let t = 0; t < K * N; t++) f[b / 4 + t] = rng.normal();
              for (let t = 0; t < N; t++) f[bias / 4 + t] = 0.1 * t - 0.3;
              for (let t = 0; t < M * N; t++) f[mask / 4 + t] = rng.normal();
              const [aRS, aCS] = orientation === 'stored' ? [4 * K, 4] : [4, 4 * M];
              const [bi, ma, re] = [useBias ? bias : 0, useMask ? mask : 0, relu ? 1 : 0];
              arena.k.gemm(a, aRS, aCS, b, 4 * N, c1, 4 * N, M, N, K, bi, ma, 4 * N, re, panel);
              arena.k.spgemm(a, aRS, aCS, b, 4 * N, c2, 4 * N, M, N, K, bi, ma, 4 * N, re, list, rb, bp);
              // equal as numbers (a sum of skipped terms only may differ from gemm in the sign of a zero)
              const g = arena.f32();
              expect(g.slice(c2 / 4, c2 / 4 + M * N)).toEqual(g.slice(c1 / 4, c1 / 4 + M * N));
              compared += M * N;
            }
          }
        }
      }
      expect(compared).toBeGreaterThan(10000);
    }
  });
  it('the binary product (binlist + binmul, four Russians) matches a float64 reference: scales, mask, strip tails, several table chunks, empty rows', () => {
    const arena = new WasmArena(false);
    const rng = new Rng(9);
    let compared = 0;
    // K up to 260 (5 chunks of 16 groups, the last partial), N below, at and past a strip of BIN_STRIP = 32 columns
    for (const [M, K, N] of [[5, 8, 4], [7, 12, 36], [16, 64, 96], [9, 132, 40], [3, 260, 8], [4, 4, 32]] as const) {
      for (const [useB, useR, useM] of [[false, false, false], [true, true, true], [true, false, true], [false, true, false]] as const) {
        const G = K / 4;
        const ints = binListInts(M, K);
        const [src, b, c, bs, rs, mk] = [arena.alloc(M * K), arena.alloc(K * N), arena.alloc(M * N), arena.alloc(K), arena.alloc(M), arena.alloc(M * N)];
        const [table, list, ends] = [arena.alloc(BIN_TABLE_FLOATS), arena.alloc(ints.list), arena.alloc(ints.ends)];
        const f = arena.f32();
        // about half of A set (ReLU outputs: 0, -0 or positive); row 1 all zero
        for (let t = 0; t < M * K; t++) f[src / 4 + t] = Math.floor(t / K) === 1 || rng.uniform() < 0.5 ? (t % 3 ? 0 : -0) : rng.uniform() + 1e-3;
        for (let t = 0; t < K * N; t++) f[b / 4 + t] = rng.normal();
        for (let t = 0; t < K; t++) f[bs / 4 + t] = rng.normal();
        for (let t = 0; t < M; t++) f[rs / 4 + t] = rng.normal();
        for (let t = 0; t < M * N; t++) f[mk / 4 + t] = rng.normal();
        f.fill(NaN, c / 4, c / 4 + M * N);
        arena.k.binlist(src, 4 * K, M, G, list, ends);
        arena.k.binmul(b, 4 * N, useB ? bs : 0, G, N, table, list, ends, M, c, 4 * N, useR ? rs : 0, useM ? mk : 0, 4 * N);
        const g = arena.f32();
        for (let i = 0; i < M; i++) {
          for (let j = 0; j < N; j++) {
            let want = 0;
            for (let k = 0; k < K; k++) if (g[src / 4 + i * K + k]! > 0) want += g[b / 4 + k * N + j]! * (useB ? g[bs / 4 + k]! : 1);
            if (useR) want *= g[rs / 4 + i]!;
            if (useM && !(g[mk / 4 + i * N + j]! > 0)) want = 0;
            expect(Math.abs(g[c / 4 + i * N + j]! - want)).toBeLessThan(2e-6 * (1 + Math.sqrt(K)));
            compared++;
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(8000);
  });
  it('the fused multiply-add variant (relaxed SIMD) matches the reference too', () => {
    if (!relaxedSimdAvailable()) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    expect(relaxedSimdAvailable()).toBe(true);
    expect(checkGemm(new WasmArena(true))).toBeLessThan(2e-6);
  });
  it('transposes in 4 x 4 tiles and sums columns exactly', () => {
    const arena = new WasmArena(false);
    const src = arena.alloc(8 * 12);
    const dst = arena.alloc(12 * 8);
    const sums = arena.alloc(12);
    const f = arena.f32();
    for (let t = 0; t < 96; t++) f[src / 4 + t] = t;
    arena.k.transpose(src, dst, 8, 12);
    arena.k.colsum(src, sums, 8, 12);
    const g = arena.f32();
    for (let j = 0; j < 12; j++) for (let i = 0; i < 8; i++) expect(g[dst / 4 + j * 8 + i]).toBe(i * 12 + j);
    // column j of an 8 x 12 matrix holding 0..95: sum_i (12 i + j) = 336 + 8 j
    for (let j = 0; j < 12; j++) expect(g[sums / 4 + j]).toBe(336 + 8 * j);
  });
  it('OFFPOLICY_WASM_FMA accepts 0 / 1 / auto and rejects anything else', () => {
    expect(parseFmaSetting(undefined)).toBe('off');
    expect(parseFmaSetting('')).toBe('off');
    expect(parseFmaSetting(' AUTO ')).toBe('auto');
    expect(parseFmaSetting('1')).toBe('on');
    expect(parseFmaSetting('off')).toBe('off');
    try {
      parseFmaSetting('yes');
      expect.unreachable();
    } catch (e) {
      expect((e as OffpolicyError).code).toBe('E_WASM_FMA');
      expect((e as Error).message).toContain("must be 0, 1 or auto; got 'yes'");
    }
  });
});

describe('WasmMlp: the learners\' forward / backward engine', () => {
  const specs: [MlpSpec, number][] = [
    // padded widths (6 -> 8, 5 -> 8, 3 -> 4), tanh output
    [{ sizes: [4, 6, 5, 3], output: 'tanh' }, 5],
    // one output column (Q and V heads), a batch not a multiple of 4
    [{ sizes: [5, 8, 7, 1], output: 'linear' }, 7],
    [{ sizes: [3, 4, 1], output: 'tanh' }, 2],
    // one output, hidden widths >= 28 and a batch a multiple of 4: the last hidden layer on the binary product
    [{ sizes: [4, 32, 36, 1], output: 'tanh' }, 8],
  ];
  for (const [spec, n] of specs) {
    it(`parameter and input gradients match finite differences (${spec.sizes.join('-')}, ${spec.output})`, () => {
      const rng = new Rng(31 + spec.sizes.length + n);
      const p = initMlp(spec, rng);
      const din = spec.sizes[0]!;
      const dout = spec.sizes[spec.sizes.length - 1]!;
      const x = randomArray(n * din, rng);
      const r = randomArray(n * dout, rng);
      const net = new WasmMlp(spec);
      const y = net.forward(p, x, n);
      const yRef = forwardJs(spec, p, x, n);
      for (let i = 0; i < y.length; i++) expect(y[i]).toBeCloseTo(yRef[i]!, 5);
      const grad = new Float32Array(p.length);
      const dx = net.backward(r, grad, true)!;
      const skipped =
        finiteDifferenceCheck(p, grad, (v) => lossJs(spec, v, x, n, r)).skipped + finiteDifferenceCheck(x, dx, (v) => lossJs(spec, p, v, n, r)).skipped;
      expect(skipped).toBeLessThanOrEqual(4);
      // without parameter gradients (grad null) the input gradient is the same, bit for bit
      net.forward(p, x, n);
      expect(Array.from(net.backward(r, null, true)!)).toEqual(Array.from(dx));
    });
  }
  // the reference shape, and three hidden layers (the binary product at the last, the sparse product below it)
  for (const [sizes, n] of [[[17, 256, 256, 1], 64], [[5, 28, 32, 32, 1], 12]] as const) {
    it(`agrees with the tfjs backward pass (${sizes.join('-')}, one output, batch ${n})`, () => {
      const spec: MlpSpec = { sizes: [...sizes], output: 'linear' };
      const rng = new Rng(41);
      const p = initMlp(spec, rng);
      const x = randomArray(n * sizes[0], rng);
      const r = randomArray(n, rng, 0.01);
      const want = analytic(spec, p, x, n, r);
      const net = new WasmMlp(spec);
      net.forward(p, x, n);
      const grad = new Float32Array(p.length);
      const dx = net.backward(r, grad, true)!;
      let scale = 0;
      for (const g of want.grad) scale = Math.max(scale, Math.abs(g));
      for (let i = 0; i < p.length; i++) expect(Math.abs(grad[i]! - want.grad[i]!)).toBeLessThan(1e-5 * scale);
      for (let i = 0; i < dx.length; i++) expect(dx[i]).toBeCloseTo(want.dx[i]!, 5);
    });
  }
  it('an inference with other weights between forward and backward does not change the gradients; runs are byte-identical', () => {
    const spec: MlpSpec = { sizes: [6, 12, 12, 2], output: 'tanh' };
    const rng = new Rng(43);
    const p = initMlp(spec, rng);
    const other = initMlp(spec, rng);
    const x = randomArray(9 * 6, rng);
    const r = randomArray(9 * 2, rng);
    const run = (interleave: boolean): Float32Array => {
      const net = new WasmMlp(spec);
      net.forward(p, x, 9);
      if (interleave) net.infer(other, randomArray(20 * 6, rng), 20);
      const g = new Float32Array(p.length);
      net.backward(r, g);
      return g;
    };
    const a = run(false);
    const b = run(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(run(false).buffer).equals(Buffer.from(a.buffer))).toBe(true);
  });
  it('refuses a backward pass before any forward pass', () => {
    const net = new WasmMlp({ sizes: [2, 4, 1], output: 'linear' });
    try {
      net.backward(new Float32Array(1), new Float32Array(17));
      expect.unreachable();
    } catch (e) {
      expect((e as OffpolicyError).code).toBe('E_MLP_STATE');
      expect((e as Error).message).toContain('before any forward()');
    }
  });
});

describe('tfjs backend threads (tf-backend.ts)', () => {
  it('OFFPOLICY_TF_THREADS: 1 by default, an integer from 1 to 8 otherwise', () => {
    expect(tfThreadsWanted({})).toBe(1);
    expect(tfThreadsWanted({ OFFPOLICY_TF_THREADS: '3' })).toBe(1); // already chosen in this process: the choice made at init wins
    for (const bad of ['0', '9', '2.5', 'two']) {
      try {
        setTfThreads(Number(bad));
        expect.unreachable();
      } catch (e) {
        expect((e as OffpolicyError).code).toBe('E_TF_THREADS');
        expect((e as Error).message).toContain('must be an integer from 1 to 8');
      }
    }
  });
  it('cannot change the thread count once the backend is initialised', () => {
    setTfThreads(1);
    try {
      setTfThreads(2);
      expect.unreachable();
    } catch (e) {
      expect((e as OffpolicyError).code).toBe('E_TF_THREADS');
      expect((e as Error).message).toContain('already initialised');
    }
  });
  it('a 2-thread wasm backend initialises under Node, gives the same product as 1 thread, and lets the process exit', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'offpolicy-threads-'));
    const script = path.join(dir, 'threads.mts');
    writeFileSync(
      script,
      [
        `import * as tf from ${JSON.stringify(createRequire(import.meta.url).resolve('@tensorflow/tfjs'))};`,
        `import { ensureTfBackend } from ${JSON.stringify(path.resolve('src/util/tf-backend.ts'))};`,
        `const info = await ensureTfBackend();`,
        `const a = tf.tensor2d(Array.from({ length: 64 * 48 }, (_, i) => Math.sin(i)), [64, 48]);`,
        `const b = tf.tensor2d(Array.from({ length: 48 * 40 }, (_, i) => Math.cos(i)), [48, 40]);`,
        `const c = tf.matMul(a, b).dataSync();`,
        `console.log(JSON.stringify({ info, bytes: Buffer.from(c.buffer).toString('base64') }));`,
      ].join('\n'),
    );
    const run = (threads: string): { info: { name: string; threads: number; warning: string | null }; bytes: string } => {
      const out = execFileSync(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, OFFPOLICY_TF_THREADS: threads }, timeout: 60_000, cwd: process.cwd(), stdio: 'pipe' });
      return JSON.parse(out.toString().trim().split('\n').pop()!);
    };
    const one = run('1');
    const two = run('2');
    expect(one.info).toEqual({ name: 'wasm', warning: null, threads: 1 });
    expect(two.info).toEqual({ name: 'wasm', warning: null, threads: 2 });
    expect(two.bytes).toBe(one.bytes);
    try {
      run('9');
      expect.unreachable();
    } catch (e) {
      const stderr = String((e as { stderr?: Buffer }).stderr);
      expect(stderr).toContain('E_TF_THREADS');
      expect(stderr).toContain('must be an integer from 1 to 8; got OFFPOLICY_TF_THREADS=9');
    }
    rmSync(dir, { recursive: true, force: true });
  }, 90_000);
});
