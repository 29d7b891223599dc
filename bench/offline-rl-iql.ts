/**
 * IQL speed and a short learning check.
 *  1. Updates per second at the reference shape (obs 17, act 6, 2 x 256, batch 256)
 *     on random data, for IQL, RIQL, TD3+BC, PRDC, RCBC and BC, single-threaded;
 *     a PyTorch CPU implementation of the IQL update does about 56 updates/s
 *     single-threaded on this machine. Printed twice, in child processes: with
 *     the plain SIMD kernels (OFFPOLICY_WASM_FMA=0) and with fused multiply-add
 *     (OFFPOLICY_WASM_FMA=1, relaxed SIMD). Each line: best-of-3 wall rate, CPU
 *     rate, CPU seconds per 100 updates, and the load average (the machine is
 *     shared: the CPU figures are the stable ones).
 *  2. The optimizer step at the size of one reference Q network (72,193
 *     parameters): Adam on the f32x4 kernel (the default), on the f64x2 kernel
 *     (bit-identical to the earlier scalar loop), the scalar loops themselves,
 *     and Polyak averaging (kernel and scalar loop); CPU microseconds per call.
 *  3. Every learner on a small Pendulum medium dataset (generateTrajectories),
 *     2 x 64 networks, normalized score after N steps via rollouts.
 * Run: npx tsx bench/offline-rl-iql.ts [--steps N] [--reps N] [--skip-learning]
 *      (--speed-only: the speed table for the current OFFPOLICY_WASM_FMA only;
 *       --optimizer-only: part 2 only)
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { TrajectoryArrays } from '../src/datasets/load-trajectories.js';
import { generateTrajectories } from '../src/envs/trajectories.js';
import { trajectoryDataToArrays } from '../src/offline-rl/from-generated.js';
import { BcLearner, trainBc } from '../src/offline-rl/bc.js';
import { ensureTfBackend } from '../src/util/tf-backend.js';
import { evaluateInEnv } from '../src/offline-rl/evaluate-env.js';
import { IqlLearner, RIQL_DEFAULTS, trainIql, trainRiql } from '../src/offline-rl/iql.js';
import { Adam, adamStepF32Js, adamStepJs, polyakUpdate, polyakUpdateJs } from '../src/nn/adam.js';
import { parameterCount } from '../src/nn/mlp.js';
import { Td3BcLearner, trainPrdc, trainTd3Bc } from '../src/offline-rl/td3bc.js';
import { RcbcLearner, trainRcbc } from '../src/offline-rl/rcbc.js';
import { Rng } from '../src/util/rng.js';
import { bestMicros } from './measure.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

function randomArrays(n: number, d: number, m: number, seed: number): TrajectoryArrays {
  const rng = new Rng(seed);
  const obs = new Float32Array(n * d).map(() => rng.normal());
  const next = new Float32Array(n * d).map(() => rng.normal());
  const act = new Float32Array(n * m).map(() => rng.range(-1, 1));
  const term = new Uint8Array(n);
  for (let i = 999; i < n; i += 1000) term[i] = 1;
  return {
    n, obsDim: d, actDim: m, observations: obs, actions: act, rewards: new Float64Array(n).map(() => rng.normal()),
    nextObservations: next, nextObservationMissing: new Uint8Array(n), terminated: term, truncated: new Uint8Array(n),
    episodeId: new Float64Array(n).map((_, i) => Math.floor(i / 1000)), step: new Int32Array(n).map((_, i) => i % 1000),
    behaviorLogprob: null, corrupted: null,
  };
}

function speed(label: string, update: () => void, reps: number): number {
  for (let i = 0; i < 5; i++) update();
  let best = 0;
  let bestCpu = 0;
  for (let round = 0; round < 3; round++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) update();
    best = Math.max(best, reps / ((performance.now() - t0) / 1000));
    const c = process.cpuUsage(c0);
    bestCpu = Math.max(bestCpu, reps / ((c.user + c.system) / 1e6));
  }
  // The machine is shared: wall-clock figures drop when other processes run; CPU time is the steadier figure.
  const load = os.loadavg()[0]!.toFixed(2);
  console.log(`${label.padEnd(40)} ${best.toFixed(1).padStart(6)} updates/s wall ${bestCpu.toFixed(1).padStart(6)} per CPU-second ${(100 / bestCpu).toFixed(2).padStart(6)} CPU s / 100 updates  (load ${load})`);
  return best;
}

function speedTable(reps: number): void {
  const data = randomArrays(20_000, 17, 6, 1);
  const iql = new IqlLearner(data, { steps: 1_000_000, seed: 0 });
  speed('IQL (obs 17, act 6, 2x256, batch 256)', () => iql.update(), reps);
  const iqlDet = new IqlLearner(data, { steps: 1_000_000, seed: 0, actor: 'deterministic' });
  speed('IQL deterministic actor', () => iqlDet.update(), reps);
  const riql = new IqlLearner(data, { steps: 1_000_000, seed: 0, ...RIQL_DEFAULTS }, 'riql');
  speed('RIQL (K = 5)', () => riql.update(), reps);
  const td3 = new Td3BcLearner(data, { steps: 1_000_000, seed: 0 });
  speed('TD3+BC (actor every 2nd step)', () => td3.update(), reps);
  const prdc = new Td3BcLearner(data, { steps: 1_000_000, seed: 0 }, 'prdc');
  speed('PRDC (20k-key KD-tree)', () => prdc.update(), reps);
  const rcbc = new RcbcLearner(data, { steps: 1_000_000, seed: 0 });
  speed('RCBC', () => rcbc.update(), reps);
  const bc = new BcLearner(data, { steps: 1_000_000, seed: 0 });
  speed('BC', () => bc.update(), reps);
}

/** CPU microseconds per call of `f`: best of 5 rounds of `reps` calls, after a warm-up. */
function micro(label: string, f: () => void, reps = 300): void {
  const { cpu: best, wall: bestWall } = bestMicros(f, { calls: reps, rounds: 5, warmup: 30 });
  console.log(`${label.padEnd(44)} ${best.toFixed(0).padStart(5)} us CPU ${bestWall.toFixed(0).padStart(5)} us wall per call  (load ${os.loadavg()[0]!.toFixed(2)})`);
}

function optimizerTable(): void {
  const n = parameterCount({ sizes: [23, 256, 256, 1], output: 'linear' });
  const rng = new Rng(3);
  const p = new Float32Array(n).map(() => rng.normal());
  const g = new Float32Array(n).map(() => rng.normal());
  const t = new Float32Array(n).map(() => rng.normal());
  console.log(`\noptimizer step, ${n} parameters (one reference Q network), CPU time per call:`);
  const f32 = new Adam(n, { lr: 3e-4 });
  micro('Adam f32x4 kernel (default)', () => f32.step(p, g));
  const f64 = new Adam(n, { lr: 3e-4, precision: 'f64' });
  micro('Adam f64x2 kernel (precision f64)', () => f64.step(p, g));
  const s64 = { step: 0, m: new Float32Array(n), v: new Float32Array(n) };
  micro('Adam scalar JS loop (f64, the earlier code)', () => adamStepJs(p, g, s64, 3e-4));
  const s32 = { step: 0, m: new Float32Array(n), v: new Float32Array(n) };
  micro('Adam scalar JS loop, Math.fround per op', () => adamStepF32Js(p, g, s32, 3e-4));
  micro('Polyak f64x2 kernel', () => polyakUpdate(t, p, 0.005));
  micro('Polyak scalar JS loop (the earlier code)', () => polyakUpdateJs(t, p, 0.005));
}

async function main(): Promise<void> {
  const reps = arg('--reps', 30);
  if (process.argv.includes('--optimizer-only')) {
    optimizerTable();
    return;
  }
  if (process.argv.includes('--speed-only')) {
    await ensureTfBackend();
    speedTable(reps);
    return;
  }
  const backend = await ensureTfBackend();
  console.log(`node ${process.version}, ${os.cpus().length} cpus, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; tfjs backend ${backend.name} (policies only: the learners run on the wasm kernels of src/nn/wasm-kernels.ts)`);
  const self = fileURLToPath(import.meta.url);
  for (const [fma, title] of [['0', 'plain SIMD kernels (mul + add), OFFPOLICY_WASM_FMA=0'], ['1', 'fused multiply-add kernels (relaxed SIMD), OFFPOLICY_WASM_FMA=1']] as const) {
    console.log(`\n${title}, single-threaded:`);
    const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--speed-only', '--reps', String(reps)], { env: { ...process.env, OFFPOLICY_WASM_FMA: fma } });
    process.stdout.write(out.toString());
  }
  optimizerTable();
  if (process.argv.includes('--skip-learning')) return;

  const steps = arg('--steps', 2000);
  const gen = generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 50, seed: 7 });
  const arrays = trajectoryDataToArrays(gen);
  let behaviour = 0;
  for (const r of gen.episodeReturns) behaviour += r / gen.episodes;
  console.log(`\nPendulum medium: ${gen.n} steps, ${gen.episodes} episodes, behaviour mean return ${behaviour.toFixed(1)}`);
  const small = { steps, seed: 1, hidden: [64, 64], batchSize: 256 };
  // Pendulum rewards reach -16 per step: with rewardScale 1, Q - V is large and
  // exp(3 (Q - V)) saturates; CORL rescales rewards for the same reason.
  for (const [name, run] of [
    ['bc', () => trainBc(arrays, small)],
    ['iql (rewardScale 1)', () => trainIql(arrays, { ...small })],
    ['iql (rewardScale 0.1)', () => trainIql(arrays, { ...small, rewardScale: 0.1 })],
    ['riql (rewardScale 0.1)', () => trainRiql(arrays, { ...small, rewardScale: 0.1 })],
    ['td3bc (rewardScale 0.1)', () => trainTd3Bc(arrays, { ...small, rewardScale: 0.1 })],
    ['prdc (rewardScale 0.1)', () => trainPrdc(arrays, { ...small, rewardScale: 0.1 })],
    ['rcbc (target: best return)', () => trainRcbc(arrays, small)],
  ] as const) {
    const t0 = performance.now();
    const { policy } = await run();
    const secs = (performance.now() - t0) / 1000;
    const ev = evaluateInEnv(policy, 'pendulum', 20, 99);
    console.log(`${name.padEnd(24)} ${steps} steps (2x64) in ${secs.toFixed(1)} s: return ${ev.meanReturn.toFixed(1)} +- ${ev.stdReturn.toFixed(1)}, normalized ${ev.normalizedScore?.toFixed(1)}`);
  }
  const zero = evaluateInEnv({ actionDim: 1, act: (_o, n) => new Float32Array(n), logProb: () => new Float64Array(0) }, 'pendulum', 20, 99);
  const rr = new Rng(5);
  const rand = evaluateInEnv({ actionDim: 1, act: (_o, n) => new Float32Array(n).map(() => rr.range(-2, 2)), logProb: () => new Float64Array(0) }, 'pendulum', 20, 99);
  console.log(`zero-torque policy: normalized ${zero.normalizedScore?.toFixed(1)}; uniform random policy: ${rand.normalizedScore?.toFixed(1)}`);
}

void main();
