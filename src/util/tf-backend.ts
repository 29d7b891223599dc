/**
 * Picks the tfjs backend once per process (training, the MLP reward model, the corruption critic): `@tensorflow/tfjs-node`
 * when it is importable (an optional dependency, never required), else the wasm
 * backend (the default; measured in bench/offline-rl-kernels.ts), else cpu.
 *
 * The wasm backend runs single-threaded by default. `OFFPOLICY_TF_THREADS=N`
 * (or `setTfThreads(N)` before the first `ensureTfBackend()`) asks for XNNPACK's
 * thread pool with N threads (the threaded-SIMD binary). tfjs turns that binary
 * off under Node (tfjs issue #3830: its pthread workers are Blob URLs, which
 * Node's worker_threads cannot load, and it sizes the pool from half the
 * logical cores), so for N > 1 the initialisation below writes the worker
 * script to a temporary file, points the workers at the package's own copy of
 * the threaded glue, reports 2N cores while the pool is created, and unrefs
 * the pool's workers so that they do not keep the process alive. Matrix
 * products split over output tiles, so results do not depend on N.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as tfWasm from '@tensorflow/tfjs-backend-wasm';
import { OffpolicyError } from '../core/errors.js';

export interface BackendInfo {
  /** The tfjs backend name in use: 'tensorflow', 'wasm' or 'cpu'. */
  name: string;
  /** A sentence for the user when the toolkit fell back to the slow cpu backend, else null. */
  warning: string | null;
  /** Threads of the wasm backend's XNNPACK pool (1 = single-threaded; 1 for the other backends too). */
  threads: number;
}

/** Largest pool tfjs-backend-wasm creates (its binary pre-creates 8 workers). */
export const MAX_TF_THREADS = 8;

let chosen: Promise<BackendInfo> | null = null;
let requestedThreads: number | null = null;

/**
 * Number of wasm threads to ask for: `setTfThreads()` if called, else the
 * OFFPOLICY_TF_THREADS environment variable, else 1.
 */
export function tfThreadsWanted(env: NodeJS.ProcessEnv = process.env): number {
  if (requestedThreads !== null) return requestedThreads;
  const raw = env.OFFPOLICY_TF_THREADS;
  if (raw === undefined || raw.trim() === '') return 1;
  return checkThreads(Number(raw), `OFFPOLICY_TF_THREADS=${raw}`);
}

function checkThreads(n: number, shown: string): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_TF_THREADS) {
    throw new OffpolicyError('E_TF_THREADS', `The wasm thread count must be an integer from 1 to ${MAX_TF_THREADS}; got ${shown}.`, {
      hint: 'Use 1 (the default, single-threaded) or the number of idle cores, e.g. OFFPOLICY_TF_THREADS=2.',
    });
  }
  return n;
}

/** Sets the wasm thread count; only before the backend is chosen (the first ensureTfBackend()). */
export function setTfThreads(n: number): void {
  const v = checkThreads(n, String(n));
  if (chosen !== null && v !== requestedThreads) {
    throw new OffpolicyError('E_TF_THREADS', `The tfjs backend is already initialised; the thread count cannot change to ${v} in this process.`, {
      hint: 'Call setTfThreads() (or set OFFPOLICY_TF_THREADS) before anything trains or predicts.',
    });
  }
  requestedThreads = v;
}

async function tryBackend(name: string): Promise<boolean> {
  try {
    if ((await tf.setBackend(name)) && tf.getBackend() === name) {
      await tf.ready();
      return true;
    }
  } catch {
    // not available
  }
  return false;
}

/** Path of the package's threaded-SIMD emscripten glue (the pthread workers import it). */
function threadedGluePath(): string {
  const req = createRequire(import.meta.url);
  const pkg = req.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return path.join(path.dirname(pkg), 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
}

/** Initialises the wasm backend with an XNNPACK pool of `threads` threads under Node (see the module comment). */
async function tryThreadedWasm(threads: number): Promise<number | null> {
  const glue = threadedGluePath();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'offpolicy-tfwasm-'));
  const texts = new WeakMap<Blob, string>();
  const OrigBlob = globalThis.Blob;
  const origCreate = URL.createObjectURL;
  const origCpus = os.cpus;
  class RecordingBlob extends OrigBlob {
    constructor(parts?: BlobPart[], opts?: BlobPropertyBag) {
      super(parts, opts);
      if (parts?.every((p) => typeof p === 'string')) texts.set(this, parts.join(''));
    }
  }
  try {
    globalThis.Blob = RecordingBlob;
    URL.createObjectURL = (obj: Blob): string => {
      const text = texts.get(obj);
      if (text === undefined) return origCreate(obj);
      // The pthread worker script: its main-script Blob becomes the package's glue file.
      const file = path.join(dir, 'worker.cjs');
      writeFileSync(file, `URL.createObjectURL = () => ${JSON.stringify(glue)}; URL.revokeObjectURL = () => {};\n${text}`);
      return file;
    };
    const cpus = origCpus();
    os.cpus = () => Array.from({ length: 2 * threads }, (_, i) => cpus[i % cpus.length]!);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    tfWasm.setThreadsCount(threads);
    if (!(await tryBackend('wasm'))) return null;
  } finally {
    globalThis.Blob = OrigBlob;
    URL.createObjectURL = origCreate;
    os.cpus = origCpus;
    rmSync(dir, { recursive: true, force: true });
  }
  const wasm = (tf.backend() as unknown as { wasm?: { PThread?: { runningWorkers?: { unref?: () => void }[] } } }).wasm;
  // The pool's workers are ref'd while they run; unref them so the process can exit.
  for (const w of wasm?.PThread?.runningWorkers ?? []) w.unref?.();
  return tfWasm.getThreadsCount();
}

/** Selects the backend (once); later calls return the same choice. */
export function ensureTfBackend(): Promise<BackendInfo> {
  if (chosen) return chosen;
  const threads = tfThreadsWanted();
  requestedThreads = threads;
  chosen = (async (): Promise<BackendInfo> => {
    try {
      // Optional: registers the 'tensorflow' backend when the native package is installed.
      const mod = '@tensorflow/tfjs-node';
      await import(/* @vite-ignore */ mod);
      if (await tryBackend('tensorflow')) return { name: 'tensorflow', warning: null, threads: 1 };
    } catch {
      // tfjs-node is not installed: use wasm
    }
    if (threads > 1) {
      const got = await tryThreadedWasm(threads);
      if (got !== null) {
        const warning = got === threads ? null : `Asked for ${threads} wasm threads; the XNNPACK pool has ${got}.`;
        return { name: 'wasm', warning, threads: got };
      }
      await tryBackend('cpu');
      return { name: tf.getBackend(), warning: `The multi-threaded tfjs wasm backend (${threads} threads) failed to initialise; models run on the much slower cpu backend. Unset OFFPOLICY_TF_THREADS to use the single-threaded wasm backend.`, threads: 1 };
    }
    if (await tryBackend('wasm')) return { name: 'wasm', warning: null, threads: 1 };
    await tryBackend('cpu');
    return { name: tf.getBackend(), warning: 'The tfjs wasm backend failed to initialise; models run on the much slower cpu backend.', threads: 1 };
  })();
  return chosen;
}
