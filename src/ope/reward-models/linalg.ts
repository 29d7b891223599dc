/**
 * Small dense linear algebra for the reward and propensity models: symmetric
 * positive-definite solves (Cholesky) and limited-memory BFGS. Matrices are
 * row-major Float64Arrays.
 */

/**
 * Solves A x = b for symmetric positive-definite A (p x p) by Cholesky.
 * Returns null when A is not positive definite (singular or indefinite).
 */
export function choleskySolve(a: Float64Array, b: Float64Array, p: number): Float64Array | null {
  const l = new Float64Array(p * p);
  let maxDiag = 0;
  for (let i = 0; i < p; i++) maxDiag = Math.max(maxDiag, Math.abs(a[i * p + i]!));
  const tiny = Math.max(maxDiag, 1) * 1e-12;
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * p + j]!;
      for (let k = 0; k < j; k++) s -= l[i * p + k]! * l[j * p + k]!;
      if (i === j) {
        if (!(s > tiny)) return null;
        l[i * p + i] = Math.sqrt(s);
      } else {
        l[i * p + j] = s / l[j * p + j]!;
      }
    }
  }
  const y = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * p + k]! * y[k]!;
    y[i] = s / l[i * p + i]!;
  }
  const x = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < p; k++) s -= l[k * p + i]! * x[k]!;
    x[i] = s / l[i * p + i]!;
  }
  return x;
}

export interface LbfgsResult {
  x: Float64Array;
  value: number;
  iterations: number;
  converged: boolean;
}

/**
 * Minimizes a smooth function with L-BFGS (memory m) and a backtracking Armijo
 * line search. `fg` returns the value and writes the gradient into `grad`.
 */
export function lbfgs(
  fg: (x: Float64Array, grad: Float64Array) => number,
  x0: Float64Array,
  opts: { maxIter?: number; tol?: number; memory?: number } = {},
): LbfgsResult {
  const maxIter = opts.maxIter ?? 500;
  const tol = opts.tol ?? 1e-8;
  const m = opts.memory ?? 10;
  const p = x0.length;
  let x = Float64Array.from(x0);
  let g = new Float64Array(p);
  let f = fg(x, g);
  if (!Number.isFinite(f)) return { x, value: f, iterations: 0, converged: false };
  const sList: Float64Array[] = [];
  const yList: Float64Array[] = [];
  const rho: number[] = [];
  const dir = new Float64Array(p);
  const alphaBuf = new Float64Array(m);
  const xNew = new Float64Array(p);
  const gNew = new Float64Array(p);
  const dot = (u: Float64Array, v: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < p; i++) s += u[i]! * v[i]!;
    return s;
  };
  let iter = 0;
  for (; iter < maxIter; iter++) {
    const gnorm = Math.sqrt(dot(g, g));
    if (gnorm <= tol * Math.max(1, Math.abs(f))) return { x, value: f, iterations: iter, converged: true };
    // Two-loop recursion: dir = -H g.
    for (let i = 0; i < p; i++) dir[i] = -g[i]!;
    for (let k = sList.length - 1; k >= 0; k--) {
      const a = rho[k]! * dot(sList[k]!, dir);
      alphaBuf[k] = a;
      const yk = yList[k]!;
      for (let i = 0; i < p; i++) dir[i] = dir[i]! - a * yk[i]!;
    }
    if (sList.length > 0) {
      const last = sList.length - 1;
      const gamma = dot(sList[last]!, yList[last]!) / dot(yList[last]!, yList[last]!);
      for (let i = 0; i < p; i++) dir[i] = dir[i]! * gamma;
    } else {
      const scale = 1 / Math.max(1, gnorm);
      for (let i = 0; i < p; i++) dir[i] = dir[i]! * scale;
    }
    for (let k = 0; k < sList.length; k++) {
      const b = rho[k]! * dot(yList[k]!, dir);
      const sk = sList[k]!;
      for (let i = 0; i < p; i++) dir[i] = dir[i]! + (alphaBuf[k]! - b) * sk[i]!;
    }
    let slope = dot(g, dir);
    if (!(slope < 0)) {
      // Not a descent direction: restart from steepest descent.
      sList.length = 0;
      yList.length = 0;
      rho.length = 0;
      for (let i = 0; i < p; i++) dir[i] = -g[i]! / Math.max(1, gnorm);
      slope = dot(g, dir);
    }
    let step = 1;
    let fNew = NaN;
    let accepted = false;
    for (let ls = 0; ls < 40; ls++) {
      for (let i = 0; i < p; i++) xNew[i] = x[i]! + step * dir[i]!;
      fNew = fg(xNew, gNew);
      if (Number.isFinite(fNew) && fNew <= f + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) return { x, value: f, iterations: iter, converged: Math.abs(slope) < 1e-10 * Math.max(1, Math.abs(f)) };
    const s = new Float64Array(p);
    const y = new Float64Array(p);
    for (let i = 0; i < p; i++) {
      s[i] = xNew[i]! - x[i]!;
      y[i] = gNew[i]! - g[i]!;
    }
    const sy = dot(s, y);
    const fPrev = f;
    x = Float64Array.from(xNew);
    g = Float64Array.from(gNew);
    f = fNew;
    if (sy > 1e-12) {
      if (sList.length === m) {
        sList.shift();
        yList.shift();
        rho.shift();
      }
      sList.push(s);
      yList.push(y);
      rho.push(1 / sy);
    }
    if (Math.abs(fPrev - f) <= 1e-12 * Math.max(1, Math.abs(f))) return { x, value: f, iterations: iter + 1, converged: true };
  }
  return { x, value: f, iterations: iter, converged: false };
}
