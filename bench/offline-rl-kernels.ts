/**
 * Micro-benchmark that decided the engine's design: tfjs (wasm backend) matMul,
 * plain vs transposed, against a hand-written Float32Array kernel, at the
 * reference IQL shapes (batch 256, hidden 256, obs 17, act 6).
 * Run: npx tsx bench/offline-rl-kernels.ts
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

function timeit(label: string, reps: number, fn: () => void): number {
  for (let i = 0; i < 3; i++) fn();
  // best of 3 rounds: the machine is shared, the minimum is the least disturbed figure
  let ms = Infinity;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    ms = Math.min(ms, (performance.now() - t0) / reps);
  }
  console.log(`${label.padEnd(48)} ${ms.toFixed(3)} ms`);
  return ms;
}

/** C[m x n] = A[m x k] B[k x n], i-k-j loop order. */
function jsMatMul(a: Float32Array, b: Float32Array, c: Float32Array, m: number, k: number, n: number): void {
  c.fill(0);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p]!;
      if (av === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j]! += av * b[bp + j]!;
    }
  }
}

async function main(): Promise<void> {
  await tf.setBackend('wasm');
  await tf.ready();
  console.log(`backend: ${tf.getBackend()}`);
  const B = 256;
  const H = 256;
  const a = tf.randomNormal([B, H]);
  const w = tf.randomNormal([H, H]);
  const aIn = tf.randomNormal([B, 23]);
  const wIn = tf.randomNormal([23, H]);
  const bias = tf.zeros([H]);
  const reps = 50;
  const plain = timeit('tf matMul 256x256 @ 256x256', reps, () => tf.matMul(a, w).dispose());
  const tA = timeit('tf matMul transposeA (dW = x^T g)', reps, () => tf.matMul(a, w, true, false).dispose());
  const tB = timeit('tf matMul transposeB (dx = g W^T)', reps, () => tf.matMul(a, w, false, true).dispose());
  const explicitT = timeit('tf transpose then plain matMul', reps, () => tf.tidy(() => tf.matMul(tf.transpose(a), w)).dispose());
  timeit('tf matMul 256x23 @ 23x256', reps, () => tf.matMul(aIn, wIn).dispose());
  timeit('tf fused matMul+bias+relu 256x256', reps, () =>
    tf.fused.matMul({ a, b: w, bias, activation: 'relu' }).dispose(),
  );
  const av = a.dataSync() as Float32Array;
  const wv = w.dataSync() as Float32Array;
  const cv = new Float32Array(B * H);
  const js = timeit('hand-written JS Float32Array matMul 256^3', 5, () => jsMatMul(av, wv, cv, B, H, H));
  const gflop = (2 * B * H * H) / 1e6;
  console.log(`\nGFLOP/s: tf plain ${(gflop / plain).toFixed(2)}, tf transposeA ${(gflop / tA).toFixed(2)}, tf transposeB ${(gflop / tB).toFixed(2)}, explicit transpose ${(gflop / explicitT).toFixed(2)}, JS ${(gflop / js).toFixed(2)}`);
}

void main();
