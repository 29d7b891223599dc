/**
 * Multinomial logistic regression, written out for small tables (iris: 150
 * rows): features standardized with the training mean and std, softmax
 * cross-entropy with an L2 penalty, full-batch gradient descent for a fixed
 * number of iterations. No randomness, so a fit is a pure function of its data.
 */
export interface LogisticModel {
  d: number;
  K: number;
  mean: Float64Array;
  std: Float64Array;
  /** K x (d + 1) row-major; the last column is the bias. */
  weights: Float64Array;
}

export interface FitOptions {
  iterations?: number;
  learningRate?: number;
  l2?: number;
}

/** Fits on rows `x` (n x d) with integer labels `y` in [0, K). */
export function fitLogisticRegression(x: ArrayLike<number>, y: ArrayLike<number>, n: number, d: number, K: number, opts: FitOptions = {}): LogisticModel {
  const iterations = opts.iterations ?? 500;
  const lr = opts.learningRate ?? 0.5;
  const l2 = opts.l2 ?? 1e-3;
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += x[i * d + j]! / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) std[j]! += (x[i * d + j]! - mean[j]!) ** 2 / n;
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]!) || 1;
  const z = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) z[i * d + j] = (x[i * d + j]! - mean[j]!) / std[j]!;

  const model: LogisticModel = { d, K, mean, std, weights: new Float64Array(K * (d + 1)) };
  const w = model.weights;
  const grad = new Float64Array(K * (d + 1));
  const p = new Float64Array(K);
  for (let it = 0; it < iterations; it++) {
    grad.fill(0);
    for (let i = 0; i < n; i++) {
      logitsStandardized(model, z, i, p);
      softmaxInPlace(p);
      for (let k = 0; k < K; k++) {
        const g = (p[k]! - (y[i] === k ? 1 : 0)) / n;
        for (let j = 0; j < d; j++) grad[k * (d + 1) + j]! += g * z[i * d + j]!;
        grad[k * (d + 1) + d]! += g;
      }
    }
    for (let k = 0; k < K; k++) for (let j = 0; j < d; j++) grad[k * (d + 1) + j]! += l2 * w[k * (d + 1) + j]!;
    for (let t = 0; t < w.length; t++) w[t]! -= lr * grad[t]!;
  }
  return model;
}

function logitsStandardized(model: LogisticModel, z: ArrayLike<number>, i: number, out: Float64Array): void {
  const { d, K, weights } = model;
  for (let k = 0; k < K; k++) {
    let s = weights[k * (d + 1) + d]!;
    for (let j = 0; j < d; j++) s += weights[k * (d + 1) + j]! * z[i * d + j]!;
    out[k] = s;
  }
}

function softmaxInPlace(p: Float64Array): void {
  let max = -Infinity;
  for (const v of p) max = Math.max(max, v);
  let sum = 0;
  for (let k = 0; k < p.length; k++) {
    p[k] = Math.exp(p[k]! - max);
    sum += p[k]!;
  }
  for (let k = 0; k < p.length; k++) p[k]! /= sum;
}

/** Logits (n x K) of raw rows `x` (n x d). */
export function predictLogits(model: LogisticModel, x: ArrayLike<number>, n: number): Float64Array {
  const { d, K } = model;
  const z = new Float64Array(d);
  const row = new Float64Array(K);
  const out = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) z[j] = (x[i * d + j]! - model.mean[j]!) / model.std[j]!;
    logitsStandardized(model, z, 0, row);
    out.set(row, i * K);
  }
  return out;
}
