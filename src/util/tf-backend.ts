/**
 * Picks the tfjs backend once per process (training, the MLP reward model, the corruption critic): `@tensorflow/tfjs-node`
 * when it is importable (an optional dependency, never required), else the wasm
 * backend (the default; measured in bench/offline-rl-kernels.ts), else cpu.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export interface BackendInfo {
  /** The tfjs backend name in use: 'tensorflow', 'wasm' or 'cpu'. */
  name: string;
  /** A sentence for the user when the toolkit fell back to the slow cpu backend, else null. */
  warning: string | null;
}

let chosen: Promise<BackendInfo> | null = null;

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

/** Selects the backend (once); later calls return the same choice. */
export function ensureTfBackend(): Promise<BackendInfo> {
  chosen ??= (async (): Promise<BackendInfo> => {
    try {
      // Optional: registers the 'tensorflow' backend when the native package is installed.
      const mod = '@tensorflow/tfjs-node';
      await import(/* @vite-ignore */ mod);
      if (await tryBackend('tensorflow')) return { name: 'tensorflow', warning: null };
    } catch {
      // tfjs-node is not installed: use wasm
    }
    if (await tryBackend('wasm')) return { name: 'wasm', warning: null };
    await tryBackend('cpu');
    return { name: tf.getBackend(), warning: 'The tfjs wasm backend failed to initialise; models run on the much slower cpu backend.' };
  })();
  return chosen;
}
