/**
 * Observation normalization: per-dimension mean and standard deviation over the
 * dataset (population std plus eps, as CORL's compute_mean_std / normalize_states).
 */
export interface NormStats {
  mean: Float32Array;
  std: Float32Array;
}

/**
 * Mean / std per dimension over the rows of one or more row-major arrays of
 * width `dim`; rows holding a NaN (a missing next observation) are skipped.
 */
export function computeNormStats(sources: readonly Float32Array[], dim: number, eps = 1e-3): NormStats {
  const sum = new Float64Array(dim);
  const sq = new Float64Array(dim);
  let count = 0;
  for (const src of sources) {
    const rows = src.length / dim;
    for (let r = 0; r < rows; r++) {
      let ok = true;
      for (let j = 0; j < dim; j++) if (!Number.isFinite(src[r * dim + j]!)) ok = false;
      if (!ok) continue;
      count++;
      for (let j = 0; j < dim; j++) {
        const v = src[r * dim + j]!;
        sum[j] += v;
        sq[j] += v * v;
      }
    }
  }
  const mean = new Float32Array(dim);
  const std = new Float32Array(dim);
  for (let j = 0; j < dim; j++) {
    const m = count > 0 ? sum[j]! / count : 0;
    mean[j] = m;
    std[j] = Math.sqrt(Math.max(0, count > 0 ? sq[j]! / count - m * m : 0)) + eps;
  }
  return { mean, std };
}

/** (x - mean) / std row by row, into a new array. */
export function normalizeRows(x: Float32Array, stats: NormStats): Float32Array {
  const dim = stats.mean.length;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const j = i % dim;
    out[i] = (x[i]! - stats.mean[j]!) / stats.std[j]!;
  }
  return out;
}

/** Identity statistics (mean 0, std 1) for learners run without normalization. */
export function identityStats(dim: number): NormStats {
  return { mean: new Float32Array(dim), std: new Float32Array(dim).fill(1) };
}
