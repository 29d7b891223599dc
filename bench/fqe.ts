/**
 * Fitted Q evaluation speed against PyTorch, in one run: FQE updates per
 * CPU-second at obs 17, act 6, Q network 2 x 256, batch 256, single-threaded.
 *
 *  - ours: fitFqe (src/models/fqe.ts) on 100k random transitions with a
 *    deterministic target policy; the CPU time of updates warmup+1..warmup+N
 *    (the setup, which computes pi(s') once for every row, is excluded).
 *  - PyTorch: the same update in torch on CPU with torch.set_num_threads(1):
 *    gather a batch, target y = r + gamma (1 - terminated) Q_target(s', pi(s'))
 *    under no_grad (pi(s') gathered from a precomputed column, as ours),
 *    MSE, backward, Adam (lr 1e-4), hard target copy every 100 updates.
 *    Debian's python3-torch; installed here with apt-get when missing.
 *
 * Each side runs `--reps` times (default 3) alternately; the best CPU rate of
 * each is compared, and the median of the rounds' ratios (each round's two
 * runs are back to back, so they share its load). Prints the load average
 * with the figures (shared machine).
 *
 * Then the ceiling: the dense 256 x 256 x 256 product on each side (our wasm
 * gemm, torch.mm single-threaded), in multiply-adds per CPU-second, and the
 * CPU time of each part of our update (the target network's forward pass, the
 * training forward pass, the backward pass, Adam), against the time per update
 * that 1.5x PyTorch's rate allows.
 * Run: npx tsx bench/fqe.ts [--steps 1000] [--reps 3]   (OFFPOLICY_WASM_FMA=1 for fused multiply-add)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fitFqe, type FqeTransitions } from '../src/models/fqe.js';
import { Adam } from '../src/nn/adam.js';
import { initMlp } from '../src/nn/mlp.js';
import { WasmArena } from '../src/nn/wasm-kernels.js';
import { WasmMlp } from '../src/nn/wasm-mlp.js';
import { wasmFmaEnabled } from '../src/nn/wasm-kernels.js';
import { Rng } from '../src/util/rng.js';
import { bestMicros } from './measure.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const steps = arg('--steps', 1000);
const reps = arg('--reps', 3);
const warmup = 100;
const [N, D, M, B] = [100_000, 17, 6, 256];
const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');

function data(): FqeTransitions {
  const rng = new Rng(1);
  const terminated = new Uint8Array(N);
  for (let i = 999; i < N; i += 1000) terminated[i] = 1;
  return {
    n: N,
    obsDim: D,
    obs: new Float32Array(N * D).map(() => rng.normal()),
    actions: new Float32Array(N * M).map(() => rng.range(-1, 1)),
    rewards: new Float64Array(N).map(() => rng.normal()),
    nextObs: new Float32Array(N * D).map(() => rng.normal()),
    terminated,
  };
}

// a fixed deterministic policy: tanh of a linear map of the observation
const W = new Float32Array(D * M).map((_, k) => Math.sin(k + 1) / 4);
const policy = {
  actionDim: M,
  act(obs: Float32Array, n: number): Float32Array {
    const out = new Float32Array(n * M);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < M; j++) {
        let s = 0;
        for (let k = 0; k < D; k++) s += obs[i * D + k]! * W[k * M + j]!;
        out[i * M + j] = Math.tanh(s);
      }
    }
    return out;
  },
};

function ours(t: FqeTransitions): { rate: number; wallRate: number } {
  let cpu0 = 0;
  let wall0 = 0;
  let rate = 0;
  let wallRate = 0;
  fitFqe(t, { kind: 'box', actDim: M }, { kind: 'deterministic', policy }, {
    seed: 1,
    steps: warmup + steps,
    batchSize: B,
    hidden: [256, 256],
    evalEvery: warmup + steps,
    progressEvery: warmup,
    onProgress: (done) => {
      if (done === warmup) {
        const u = process.cpuUsage();
        cpu0 = (u.user + u.system) / 1e6;
        wall0 = performance.now();
      } else if (done === warmup + steps) {
        const u = process.cpuUsage();
        rate = steps / ((u.user + u.system) / 1e6 - cpu0);
        wallRate = steps / ((performance.now() - wall0) / 1000);
      }
    },
  });
  return { rate, wallRate };
}

const TORCH = `
import sys, time, torch
torch.set_num_threads(1)
torch.manual_seed(0)
N, D, M, B, steps, warmup = ${N}, ${D}, ${M}, ${B}, int(sys.argv[1]), ${warmup}
obs = torch.randn(N, D); nobs = torch.randn(N, D)
act = torch.rand(N, M) * 2 - 1; rew = torch.randn(N)
term = torch.zeros(N); term[999::1000] = 1
W = torch.tensor([__import__('math').sin(k + 1) / 4 for k in range(D * M)]).reshape(D, M)
nact = torch.tanh(nobs @ W)  # pi(s') once for every row, as ours
def net():
    return torch.nn.Sequential(torch.nn.Linear(D + M, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1))
q = net(); qt = net(); qt.load_state_dict(q.state_dict())
opt = torch.optim.Adam(q.parameters(), lr=1e-4)
gamma = 0.99
def update(step):
    idx = torch.randint(0, N, (B,))
    with torch.no_grad():
        y = rew[idx] + gamma * (1 - term[idx]) * qt(torch.cat([nobs[idx], nact[idx]], 1)).squeeze(1)
    pred = q(torch.cat([obs[idx], act[idx]], 1)).squeeze(1)
    loss = torch.nn.functional.mse_loss(pred, y)
    opt.zero_grad(); loss.backward(); opt.step()
    if step % 100 == 0:
        qt.load_state_dict(q.state_dict())
for s in range(1, warmup + 1): update(s)
c0 = time.process_time(); w0 = time.perf_counter()
for s in range(warmup + 1, warmup + steps + 1): update(s)
c1 = time.process_time(); w1 = time.perf_counter()
print(steps / (c1 - c0), steps / (w1 - w0), torch.__version__, torch.get_num_threads())
a = torch.randn(256, 256); b = torch.randn(256, 256)
best = float('inf')
for r in range(7):
    c0 = time.process_time()
    for i in range(200): torch.mm(a, b)
    best = min(best, (time.process_time() - c0) / 200)
print(256 ** 3 / best / 1e9)
`;

// Debian's interpreter (python3-torch installs there), not a python3 earlier on PATH (pyenv)
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function ensureTorch(): void {
  if (spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return;
  console.log('installing python3-torch (Debian) ...');
  execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=900', 'install', '-y', 'python3-torch'], { stdio: 'inherit' });
}

function torchRun(file: string): { rate: number; wallRate: number; version: string; gmacs: number } {
  const out = execFileSync(PY, [file, String(steps)], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' } }).trim().split(/\s+/);
  return { rate: Number(out[0]), wallRate: Number(out[1]), version: `${out[2]} (${out[3]} thread)`, gmacs: Number(out[4]) };
}

/** Best CPU microseconds per call of f over 7 rounds of `n` calls (after a warm-up). */
const cpuMicros = (f: () => void, n = 100): number => bestMicros(f, { calls: n, rounds: 7, warmup: 20 }).cpu;

/** Our dense 256^3 product (giga multiply-adds per CPU-second) and the CPU time of each part of an update at the benchmark's shape. */
function ceiling(): { gmacs: number; parts: Record<string, number> } {
  const arena = new WasmArena();
  const n = 256;
  const [a, b, c, panel] = [arena.alloc(n * n), arena.alloc(n * n), arena.alloc(n * n), arena.alloc(4 * n)];
  const rng = new Rng(3);
  const f = arena.f32();
  for (let i = 0; i < 2 * n * n; i++) f[a / 4 + i] = rng.normal();
  const gemm = cpuMicros(() => arena.k.gemm(a, 4 * n, 4, b, 4 * n, c, 4 * n, n, n, n, 0, 0, 0, 0, panel));
  const spec = { sizes: [D + M, 256, 256, 1], output: 'linear' as const };
  const params = initMlp(spec, rng);
  const target = Float32Array.from(params);
  const [net, tnet] = [new WasmMlp(spec), new WasmMlp(spec)];
  const x = new Float32Array(B * (D + M)).map(() => rng.normal());
  const x2 = new Float32Array(B * (D + M)).map(() => rng.normal());
  const dOut = new Float32Array(B).map(() => rng.normal() / B);
  const grad = new Float32Array(params.length);
  const adam = new Adam(params.length, { lr: 1e-4 });
  return {
    gmacs: n ** 3 / gemm / 1e3,
    parts: {
      'target forward': cpuMicros(() => tnet.infer(target, x2, B, true)),
      forward: cpuMicros(() => net.forward(params, x, B)),
      backward: cpuMicros(() => {
        net.backward(dOut, grad);
      }),
      Adam: cpuMicros(() => adam.step(params, grad)),
    },
  };
}

ensureTorch();
const dir = mkdtempSync(path.join(os.tmpdir(), 'fqe-bench-'));
const file = path.join(dir, 'fqe_torch.py');
writeFileSync(file, TORCH);
const t = data();
console.log(`FQE updates at obs ${D}, act ${M}, 2 x 256, batch ${B}; ${steps} timed updates after ${warmup}; node ${process.version}, wasm FMA ${wasmFmaEnabled() ? 'on' : 'off'}`);
let bestOurs = 0;
let bestTorch = 0;
const ratios: number[] = [];
let version = '';
let torchGmacs = 0;
for (let r = 0; r < reps; r++) {
  const a = ours(t);
  console.log(`  offpolicy  ${a.rate.toFixed(1)} updates per CPU-second (${a.wallRate.toFixed(1)} wall)   load ${load()}`);
  const b = torchRun(file);
  version = b.version;
  torchGmacs = Math.max(torchGmacs, b.gmacs);
  console.log(`  PyTorch    ${b.rate.toFixed(1)} updates per CPU-second (${b.wallRate.toFixed(1)} wall)   load ${load()}`);
  ratios.push(a.rate / b.rate);
  bestOurs = Math.max(bestOurs, a.rate);
  bestTorch = Math.max(bestTorch, b.rate);
}
rmSync(dir, { recursive: true, force: true });
ratios.sort((x, y) => x - y);
const median = ratios.length % 2 ? ratios[(ratios.length - 1) / 2]! : (ratios[ratios.length / 2 - 1]! + ratios[ratios.length / 2]!) / 2;
const ceil = ceiling();
const total = Object.values(ceil.parts).reduce((x, y) => x + y, 0);
console.log(`dense 256^3 product: offpolicy ${ceil.gmacs.toFixed(1)}, PyTorch ${torchGmacs.toFixed(1)} G multiply-adds per CPU-second (ratio ${(ceil.gmacs / torchGmacs).toFixed(2)})`);
console.log(`our update's parts (CPU microseconds, batch ${B}): ${Object.entries(ceil.parts).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}; sum ${total.toFixed(0)} (${(1e6 / total).toFixed(0)} updates/s before gathers and targets); 1.5x PyTorch's best allows ${(1e6 / (1.5 * bestTorch)).toFixed(0)} per update`);
console.log(`best: offpolicy ${bestOurs.toFixed(1)}, PyTorch ${version} ${bestTorch.toFixed(1)} updates per CPU-second: ratio ${(bestOurs / bestTorch).toFixed(2)} (goal >= 1.5); median of the rounds' ratios ${median.toFixed(2)} (${ratios.map((r) => r.toFixed(2)).join(', ')}); load ${load()}`);
