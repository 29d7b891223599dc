/**
 * Row-wise softmax of an n x K score matrix with inverse temperature beta:
 * out[i, a] = exp(beta s[i, a]) / sum_b exp(beta s[i, b]), computed stably.
 * `out` may be `scores` itself (in place). With a mask, actions whose mask is 0
 * get probability exactly 0.
 */
export function softmaxRows(scores: Float64Array, beta: number, n: number, K: number, out: Float64Array, mask?: Uint8Array): void {
  for (let i = 0; i < n; i++) {
    const o = i * K;
    let max = -Infinity;
    for (let a = 0; a < K; a++) if (!mask || mask[o + a]) max = Math.max(max, beta * scores[o + a]!);
    let sum = 0;
    for (let a = 0; a < K; a++) {
      const v = !mask || mask[o + a] ? Math.exp(beta * scores[o + a]! - max) : 0;
      out[o + a] = v;
      sum += v;
    }
    for (let a = 0; a < K; a++) out[o + a]! /= sum;
  }
}
