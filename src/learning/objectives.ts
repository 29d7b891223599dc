/**
 * Training objectives on a minibatch: the value and its gradient with respect to
 * the batch's policy probabilities pi (B x K) and to KL(Q || P). Costs c = -r' in
 * [-1, 0] (r' the reward rescaled to [0, 1]). Bound objectives use the batch
 * means in place of the log means and N (the training rows) in the complexity
 * terms; every lambda is computed from the current statistics and then held
 * fixed for the gradient (detached), as in the references' training code.
 * Formulas: REFERENCES.md, "Bandit policy learning by bound minimisation".
 */
import { bernsteinG, bernsteinLambdaGrid, catoniValue, londonSandlerRisk, minimizeCatoni } from '../util/pac-bayes.js';

export const OBJECTIVES = ['es', 'catoni', 'bernstein', 'bernstein-cv', 'london', 'ips', 'clipped-ips', 'snips', 'dm'] as const;
export type ObjectiveName = (typeof OBJECTIVES)[number];

/** Objectives that minimise a PAC-Bayes bound (and so use the KL). */
export const BOUND_OBJECTIVES: readonly ObjectiveName[] = ['es', 'catoni', 'bernstein', 'bernstein-cv', 'london'];

/** Objectives needing the logger's full distribution (action_probs). */
export const NEEDS_LOGGING_PROBS: readonly ObjectiveName[] = ['es', 'bernstein', 'bernstein-cv'];

export interface ObjectiveSettings {
  /** Training rows N (complexity terms). */
  n: number;
  delta: number;
  /** Exponential-smoothing exponent. */
  alpha: number;
  /** Propensity clip. */
  tau: number;
  /** Bernstein control variate xi (0 or -0.5). */
  xi: number;
  /** Bernstein lambda grid (depends on n, tau, xi, delta only). */
  bernsteinGrid: Float64Array;
}

export function objectiveSettings(objective: ObjectiveName, n: number, delta: number, alpha: number, tau: number): ObjectiveSettings {
  const xi = objective === 'bernstein-cv' ? -0.5 : 0;
  return { n, delta, alpha, tau, xi, bernsteinGrid: bernsteinLambdaGrid(n, tau, xi, delta) };
}

/** One batch: B rows, probabilities pi (B x K), logged actions, propensities, costs, pi0 (B x K) when needed, q-hat for dm. */
export interface ObjectiveBatch {
  B: number;
  k: number;
  pi: Float64Array;
  actions: Int32Array;
  propensities: Float64Array;
  costs: Float64Array;
  pi0: Float64Array | null;
  qhat: Float64Array | null;
}

export interface ObjectiveOutput {
  value: number;
  /** dL/dKL */
  dKl: number;
  /** The lambda used (bounds with one), for the metrics log. */
  lambda?: number;
}

/**
 * The objective's value; writes dL/dpi into grad (B x K, overwritten). For bound
 * objectives `kl` is KL(Q || P); baselines ignore it (dKl = 0).
 */
export function evaluateObjective(name: ObjectiveName, st: ObjectiveSettings, b: ObjectiveBatch, kl: number, grad: Float64Array): ObjectiveOutput {
  const { B, k, pi, actions, propensities: p, costs: c } = b;
  grad.fill(0, 0, B * k);
  const N = st.n;
  switch (name) {
    case 'ips':
    case 'clipped-ips': {
      let sum = 0;
      for (let i = 0; i < B; i++) {
        const den = name === 'ips' ? p[i]! : Math.max(p[i]!, st.tau);
        const a = actions[i]!;
        sum += (c[i]! * pi[i * k + a]!) / den;
        grad[i * k + a] = c[i]! / den / B;
      }
      return { value: sum / B, dKl: 0 };
    }
    case 'snips': {
      let sw = 0, scw = 0;
      for (let i = 0; i < B; i++) {
        const w = pi[i * k + actions[i]!]! / p[i]!;
        sw += w;
        scw += c[i]! * w;
      }
      if (!(sw > 0)) return { value: 0, dKl: 0 };
      const v = scw / sw;
      for (let i = 0; i < B; i++) grad[i * k + actions[i]!] = (c[i]! - v) / (p[i]! * sw);
      return { value: v, dKl: 0 };
    }
    case 'dm': {
      const q = b.qhat!;
      let sum = 0;
      for (let j = 0; j < B * k; j++) {
        sum -= pi[j]! * q[j]!;
        grad[j] = -q[j]! / B;
      }
      return { value: sum / B, dKl: 0 };
    }
    case 'catoni':
    case 'london': {
      let r = 0;
      for (let i = 0; i < B; i++) r += (c[i]! * pi[i * k + actions[i]!]!) / Math.max(p[i]!, st.tau);
      r /= B;
      const C = (kl + Math.log((2 * Math.sqrt(N)) / st.delta)) / N;
      let dR: number, dC: number, value: number, lambda: number | undefined;
      if (name === 'catoni') {
        lambda = minimizeCatoni(r, st.tau, C).lambda;
        value = catoniValue(r, st.tau, lambda, C);
        const e = Math.exp(-st.tau * lambda * r - C) / Math.expm1(lambda);
        dR = lambda * e;
        dC = e / st.tau;
      } else {
        value = londonSandlerRisk(r, st.tau, C);
        const inner = (2 * Math.max(0, r + 1 / st.tau) * C) / st.tau;
        const sq = Math.sqrt(inner);
        dR = 1 + (sq > 0 ? C / (st.tau * sq) : 0);
        dC = 2 / st.tau + (sq > 0 ? Math.max(0, r + 1 / st.tau) / (st.tau * sq) : 0);
      }
      for (let i = 0; i < B; i++) grad[i * k + actions[i]!] = (dR * c[i]!) / Math.max(p[i]!, st.tau) / B;
      return { value, dKl: dC / N, ...(lambda !== undefined ? { lambda } : {}) };
    }
    case 'es': {
      const pi0 = b.pi0!;
      const al = st.alpha;
      let R = 0, mass = 0, V1 = 0, V2 = 0;
      for (let i = 0; i < B; i++) {
        const a = actions[i]!;
        const pa = Math.pow(p[i]!, al);
        const w = pi[i * k + a]!;
        R += (c[i]! * w) / pa;
        V2 += (c[i]! * c[i]! * w) / (pa * pa);
        for (let x = 0; x < k; x++) {
          const q = pi0[i * k + x]!;
          if (q > 0) {
            mass += pi[i * k + x]! * Math.pow(q, 1 - al);
            V1 += pi[i * k + x]! * Math.pow(q, 1 - 2 * al);
          }
        }
      }
      R /= B;
      const bias = 1 - mass / B;
      const M = (V1 + V2) / B;
      const c1 = kl + Math.log((4 * Math.sqrt(N)) / st.delta);
      const c2 = kl + Math.log(4 / st.delta);
      const lambda = M > 0 ? Math.sqrt((2 * c2) / (N * M)) : 1;
      const sq = Math.sqrt(c1 / (2 * N));
      const value = R + sq + bias + c2 / (N * lambda) + (lambda / 2) * M;
      for (let i = 0; i < B; i++) {
        const a = actions[i]!;
        const pa = Math.pow(p[i]!, al);
        for (let x = 0; x < k; x++) {
          const q = pi0[i * k + x]!;
          if (q > 0) grad[i * k + x] = (-Math.pow(q, 1 - al) + (lambda / 2) * Math.pow(q, 1 - 2 * al)) / B;
        }
        grad[i * k + a] += (c[i]! / pa + ((lambda / 2) * c[i]! * c[i]!) / (pa * pa)) / B;
      }
      return { value, dKl: 1 / (4 * N * sq) + 1 / (N * lambda), lambda };
    }
    case 'bernstein':
    case 'bernstein-cv': {
      const pi0 = b.pi0!;
      const { tau, xi } = st;
      const tauXi = (1 + xi) / tau - xi;
      const cXi = Math.max(xi * xi, (1 + xi) * (1 + xi));
      let R = 0, bias = 0, M = 0;
      for (let i = 0; i < B; i++) {
        const a = actions[i]!;
        R += ((c[i]! - xi) * pi[i * k + a]!) / Math.max(p[i]!, tau) + xi;
        for (let x = 0; x < k; x++) {
          const q = pi0[i * k + x]!;
          const t = pi[i * k + x]!;
          if (q < tau) bias += t * (1 - q / tau);
          const pb = Math.max(q, tau);
          M += (q * t) / (pb * pb);
        }
      }
      R /= B;
      bias /= B;
      M /= B;
      const ca = kl + Math.log((2 * st.bernsteinGrid.length) / st.delta);
      const { lambda, term } = bernsteinLambda(st.bernsteinGrid, ca, N, cXi, tauXi, M);
      const c1 = kl + Math.log((4 * Math.sqrt(N)) / st.delta);
      const sq = Math.sqrt(c1 / (2 * N));
      const value = R - xi * bias + sq + term;
      const coef = cXi * lambda * bernsteinG(lambda * tauXi);
      for (let i = 0; i < B; i++) {
        for (let x = 0; x < k; x++) {
          const q = pi0[i * k + x]!;
          const pb = Math.max(q, tau);
          grad[i * k + x] = (-xi * (q < tau ? 1 - q / tau : 0) + (coef * q) / (pb * pb)) / B;
        }
        const a = actions[i]!;
        grad[i * k + a] += (c[i]! - xi) / Math.max(p[i]!, tau) / B;
      }
      return { value, dKl: 1 / (4 * N * sq) + 1 / (lambda * N), lambda };
    }
  }
}

/** The grid lambda minimising (KL + ln(2 n_lambda / delta)) / (lambda N) + C_xi lambda g(lambda tau_xi) M, and that minimum. */
export function bernsteinLambda(grid: Float64Array, ca: number, n: number, cXi: number, tauXi: number, M: number): { lambda: number; term: number } {
  let best = Infinity;
  let lam = grid[0]!;
  for (let j = 0; j < grid.length; j++) {
    const l = grid[j]!;
    const v = ca / (l * n) + cXi * l * bernsteinG(l * tauXi) * M;
    if (v < best) {
      best = v;
      lam = l;
    }
  }
  return { lambda: lam, term: best };
}
