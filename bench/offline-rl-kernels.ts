/**
 * Micro-benchmarks that decided the MLP engine's design, at the reference IQL
 * shapes (batch 256, hidden 256, obs 17, act 6), CPU time per call (the machine
 * is shared: wall time is printed too, with the load average).
 *  1. tfjs (wasm backend) matMul: plain, transposeA/B flags, explicit transpose,
 *     fresh right-hand operand (XNNPACK packs it on every call), tf.transpose.
 *  2. The engine's own WebAssembly SIMD kernels (src/nn/wasm-kernels.ts):
 *     product with A as stored and read transposed, the transpose, column sums,
 *     plain (mul + add) and fused multiply-add (relaxed SIMD) variants; the
 *     sparse product (spgemm) on a left operand half exact zeros, as after a ReLU.
 *  3. One IQL update broken into its parts: the WasmMlp passes of each network,
 *     Adam, Polyak averaging, batch sampling.
 * Run: npx tsx bench/offline-rl-kernels.ts
 * (OFFPOLICY_TF_THREADS=2 runs the tfjs part on a 2-thread XNNPACK pool.)
 *
 * Figures recorded while the engine was written (they stood in the engine's
 * source comments until the comments were cleaned of measurement history; CPU
 * time per call, one thread, load not recorded; rerun for current figures):
 *  - tfjs wasm matMul 256 x 256 x 256: about 1.0 ms, plus about 0.3 ms when the
 *    right-hand operand is fresh; tf.transpose 0.15 to 0.25 ms at 256 x 256;
 *    the transposeA/B flags about 15x slower; tf.sum over axis 0 0.3 ms.
 *  - the engine's kernel at 256^3: 0.75 to 0.8 ms (42 to 45 GFLOP/s) with
 *    mul + add, 0.62 ms with fused multiply-add; the earlier kernel (one call
 *    per 4 x 8 block) took 0.85 to 0.9 ms, so the one-call gemm is 1.09 to
 *    1.14x faster there and 1.05 to 1.5x on a training step's small products
 *    (K = 4 or 24, N = 4); reading A in place for the 256 x 4 dW of an output
 *    layer is 1.5x faster than packing it.
 *  - per IQL update, WasmMlp is 1.8x (mul + add) to 2.3x (fused multiply-add)
 *    faster than the tfjs forward / backward path of src/nn/mlp.ts.
 *  - Adam on 72k parameters (one reference Q network, bench/offline-rl-iql.ts),
 *    per step with the copies: f32 kernel about 80 us, f64 kernel 190 us, the
 *    earlier JS loop 540 to 565 us; Polyak averaging 56 us (kernel) vs 200 us.
 */
import os from 'node:os';
import v8 from 'node:v8';
import * as tf from '@tensorflow/tfjs';
import type { TrajectoryArrays } from '../src/datasets/load-trajectories.js';
import { Adam, polyakUpdate } from '../src/nn/adam.js';
import { concatRows, initMlp, type MlpSpec } from '../src/nn/mlp.js';
import { identityStats } from '../src/nn/normalization.js';
import { WasmArena, relaxedSimdAvailable, sparsePackFloats, wasmFmaEnabled } from '../src/nn/wasm-kernels.js';
import { WasmMlp } from '../src/nn/wasm-mlp.js';
import { buildTransitions, sampleBatch } from '../src/offline-rl/transitions.js';
import { ensureTfBackend } from '../src/util/tf-backend.js';
import { Rng } from '../src/util/rng.js';

/** Best of 5 rounds: CPU ms per call (and wall ms of that round). */
function timeit(label: string, reps: number, fn: () => void): number {
  for (let i = 0; i < 3; i++) fn();
  let cpu = Infinity;
  let wall = Infinity;
  for (let round = 0; round < 5; round++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / 1000 / reps);
    wall = Math.min(wall, (performance.now() - t0) / reps);
  }
  console.log(`${label.padEnd(62)} ${cpu.toFixed(3).padStart(7)} ms cpu ${wall.toFixed(3).padStart(7)} ms wall`);
  return cpu;
}

const B = 256;
const H = 256;
const GFLOP = (2 * B * H * H) / 1e6;

function tfjsPart(): void {
  const a = tf.randomNormal([B, H]);
  const w = tf.randomNormal([H, H]);
  const wv = w.dataSync() as Float32Array;
  const plain = timeit('tf matMul 256x256 @ 256x256 (same operands)', 50, () => tf.matMul(a, w).dispose());
  timeit('tf matMul transposeA flag (dW = x^T g)', 5, () => tf.matMul(a, w, true, false).dispose());
  timeit('tf matMul transposeB flag (dx = g W^T)', 5, () => tf.matMul(a, w, false, true).dispose());
  timeit('tf transpose 256x256', 50, () => tf.transpose(a).dispose());
  const fresh = timeit('tf matMul with a fresh right operand (packing)', 50, () => {
    const f = tf.tensor2d(wv, [H, H]);
    tf.matMul(a, f).dispose();
    f.dispose();
  });
  console.log(`  tfjs GFLOP/s: ${(GFLOP / plain).toFixed(1)} (same operands), ${(GFLOP / fresh).toFixed(1)} (fresh operand, as in training)`);
}

function kernelPart(fma: boolean): void {
  const ar = new WasmArena(fma);
  const a = ar.alloc(B * H);
  const b = ar.alloc(H * H);
  const c = ar.alloc(B * H);
  const bias = ar.alloc(H);
  const panel = ar.alloc(4 * B);
  const f = ar.f32();
  for (let i = 0; i < B * H; i++) {
    f[a / 4 + i] = Math.sin(i);
    f[b / 4 + i] = Math.cos(i);
  }
  const tag = fma ? 'fma' : 'plain';
  const nn = timeit(`wasm gemm ${tag}: C = relu(A W + b)`, 50, () => ar.k.gemm(a, 4 * H, 4, b, 4 * H, c, 4 * H, B, H, H, bias, 0, 0, 1, panel));
  timeit(`wasm gemm ${tag}: C = relu(A W + b), A read in place (scratch 0)`, 50, () => ar.k.gemm(a, 4 * H, 4, b, 4 * H, c, 4 * H, B, H, H, bias, 0, 0, 1, 0));
  const tn = timeit(`wasm gemm ${tag}: dW = x^T g (x read transposed)`, 50, () => ar.k.gemm(a, 4, 4 * H, b, 4 * H, c, 4 * H, H, H, B, 0, 0, 0, 0, panel));
  timeit(`wasm gemm ${tag}: g_prev = (g W^T) masked, incl. W^T`, 50, () => {
    ar.k.transpose(b, c, H, H);
    ar.k.gemm(a, 4 * H, 4, c, 4 * H, c, 4 * H, B, H, H, 0, a, 4 * H, 0, panel);
  });
  // the sparse product on A with every other entry an exact zero (a ReLU output is about half zero)
  const z = ar.alloc(B * H);
  const list = ar.alloc(16 + 2 * 16 * Math.max(B, H) + 4);
  const bp = ar.alloc(sparsePackFloats(H, Math.max(B, H)));
  const fz = ar.f32();
  for (let i = 0; i < B * H; i++) fz[z / 4 + i] = (i * 7) % 2 ? Math.sin(i) : 0;
  timeit(`wasm gemm ${tag}: C = relu(A W + b), A half zeros`, 50, () => ar.k.gemm(z, 4 * H, 4, b, 4 * H, c, 4 * H, B, H, H, bias, 0, 0, 1, panel));
  timeit(`wasm spgemm ${tag}: C = relu(A W + b), A half zeros`, 50, () => ar.k.spgemm(z, 4 * H, 4, b, 4 * H, c, 4 * H, B, H, H, bias, 0, 0, 1, list, 16, bp));
  timeit(`wasm spgemm ${tag}: dW = x^T g, x half zeros`, 50, () => ar.k.spgemm(z, 4, 4 * H, b, 4 * H, c, 4 * H, H, H, B, 0, 0, 0, 0, list, 16, bp));
  timeit('wasm transpose 256x256 (4x4 register tiles)', 200, () => ar.k.transpose(a, c, H, H));
  timeit('wasm column sums 256x256 (bias gradient)', 200, () => ar.k.colsum(a, c, B, H));
  console.log(`  wasm ${tag} GFLOP/s: ${(GFLOP / nn).toFixed(1)} (A as stored), ${(GFLOP / tn).toFixed(1)} (A transposed)`);
}

function randomArrays(n: number, d: number, m: number, seed: number): TrajectoryArrays {
  const rng = new Rng(seed);
  return {
    n, obsDim: d, actDim: m, observations: new Float32Array(n * d).map(() => rng.normal()), actions: new Float32Array(n * m).map(() => rng.range(-1, 1)),
    rewards: new Float64Array(n).map(() => rng.normal()), nextObservations: new Float32Array(n * d).map(() => rng.normal()),
    nextObservationMissing: new Uint8Array(n), terminated: new Uint8Array(n), truncated: new Uint8Array(n),
    episodeId: new Float64Array(n).map((_, i) => Math.floor(i / 1000)), step: new Int32Array(n).map((_, i) => i % 1000), behaviorLogprob: null, corrupted: null,
  };
}

/** The parts of one IQL update at the reference shape, each timed alone; their sum is set against the measured update. */
function iqlBreakdown(): void {
  const d = 17;
  const m = 6;
  const rng = new Rng(3);
  const qSpec: MlpSpec = { sizes: [d + m, H, H, 1], output: 'linear' };
  const vSpec: MlpSpec = { sizes: [d, H, H, 1], output: 'linear' };
  const aSpec: MlpSpec = { sizes: [d, H, H, m], output: 'tanh' };
  const qp = initMlp(qSpec, rng);
  const vp = initMlp(vSpec, rng);
  const ap = initMlp(aSpec, rng);
  const obs = new Float32Array(B * d).map(() => rng.normal());
  const sa = concatRows(obs, d, new Float32Array(B * m).map(() => rng.range(-1, 1)), m, B);
  const qNet = new WasmMlp(qSpec);
  const vNet = new WasmMlp(vSpec);
  const aNet = new WasmMlp(aSpec);
  const g1 = new Float32Array(B).fill(1e-3);
  const gm = new Float32Array(B * m).fill(1e-3);
  const qGrad = new Float32Array(qp.length);
  const parts: [string, number, number][] = [];
  const part = (label: string, times: number, reps: number, fn: () => void): void => {
    parts.push([label, times, timeit(`  ${label}`, reps, fn)]);
  };
  part('Q target forward (x2: one per head)', 2, 50, () => qNet.infer(qp, sa, B));
  part('V forward on s, then on s\' (inference)', 1, 50, () => {
    vNet.forward(vp, obs, B);
    vNet.infer(vp, obs, B);
  });
  part('V backward', 1, 50, () => vNet.backward(g1, new Float32Array(vp.length)));
  part('Q head forward + backward (x2)', 2, 30, () => {
    qNet.forward(qp, sa, B);
    qNet.backward(g1, qGrad);
  });
  part('actor forward + backward', 1, 30, () => {
    aNet.forward(ap, obs, B);
    aNet.backward(gm, new Float32Array(ap.length));
  });
  const adam = new Adam(qp.length, { lr: 3e-4 });
  const params = Float32Array.from(qp);
  part('Adam on one network (~72k parameters; x4: V, Q1, Q2, actor)', 4, 100, () => adam.step(params, qGrad));
  const target = Float32Array.from(qp);
  part('Polyak averaging of one target (x2)', 2, 200, () => polyakUpdate(target, params, 0.005));
  const ts = buildTransitions(randomArrays(20_000, d, m, 1), identityStats(d), { needNext: true, algo: 'iql' });
  const batchRng = new Rng(5);
  part('batch sampling (256 of 20,000 transitions)', 1, 200, () => sampleBatch(ts, B, batchRng));
  let total = 0;
  for (const [label, times, ms] of parts) {
    total += times * ms;
    console.log(`  ${(times * ms).toFixed(2).padStart(6)} ms  ${label}`);
  }
  console.log(`  ${total.toFixed(2).padStart(6)} ms  sum of the parts (CPU) = ${(1000 / total).toFixed(1)} updates/s; see bench/offline-rl-iql.ts for the measured update`);
}

async function main(): Promise<void> {
  // decided (and fixed for this process) before the FMA kernels of part 2 enable relaxed SIMD
  const fma = wasmFmaEnabled();
  const backend = await ensureTfBackend();
  console.log(`tfjs backend: ${backend.name}, ${backend.threads} thread(s); node ${process.version}; ${os.cpus().length} cpus; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log('\n1. tfjs matMul (what the engine used before)');
  tfjsPart();
  console.log('\n2. The engine\'s WebAssembly SIMD kernels');
  kernelPart(false);
  if (!relaxedSimdAvailable()) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  if (relaxedSimdAvailable()) kernelPart(true);
  else console.log('  (relaxed SIMD unavailable: no fused multiply-add variant)');
  console.log(`\n3. One IQL update, part by part (learner kernels: ${fma ? 'fused multiply-add' : 'plain mul + add'}; OFFPOLICY_WASM_FMA=${process.env.OFFPOLICY_WASM_FMA ?? 'auto'})`);
  iqlBreakdown();
  console.log(`\nload average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

void main();
