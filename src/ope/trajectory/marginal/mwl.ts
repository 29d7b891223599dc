/**
 * State-action marginal importance weights w(s, a) by minimax weight learning
 * (MWL; Uehara, Huang & Jiang 2020, section 4) with a linear function class, for
 * which the minimax problem has a closed form.
 *
 * Why MWL: it is behaviour-agnostic (no pi_b is needed, so it also scores
 * deterministic discrete candidates, which per-decision IS refuses), and with
 * W = F = span(phi) the inner max and the outer min are a least-squares problem:
 * no adversarial training, no step size, the same answer for the same data.
 *
 * The normalisation for our data (episodes of any length, gamma^t from t = 0,
 * every reward counted). Write E_D[h] = (1/n) sum_i sum_{t < T_i} gamma^t h(step i, t)
 * (per episode, discounted, unnormalised; s' of a step is the next row's observation, or
 * next_observation on an episode's last step) and c_t = 0 on a terminated episode's
 * last step, 1 otherwise (a truncated last step bootstraps from next_observation,
 * as fitted Q evaluation does). Let d_pi(s, a) = E_pi[sum_t gamma^t 1{s_t = s, a_t = a}]
 * (stopping only at termination) and d_D the same sum over the data. Then
 * w = d_pi / d_D satisfies, for every f,
 *
 *   E_D[ w(s, a) (f(s, a) - gamma c E_{a' ~ pi} f(s', a')) ] = (1/n) sum_i E_{a ~ pi} f(s_{i,0}, a)
 *
 * (telescoping sum_t gamma^t (f_t - gamma c_t f_{t+1}) along pi's episodes), and
 * sum_t gamma^t w r_t has mean sum d_pi r, the candidate's discounted value. There is
 * no (1 - gamma) factor because both occupancies are per episode, unnormalised.
 * f = 1 gives the normaliser E_D[w (1 - gamma c)] = 1 (with gamma = 1 and
 * no termination it reads 0 = 1: the value is infinite, and MWL refuses).
 *
 * With w = theta' phi and f = beta' phi, ||beta|| <= 1, the largest squared moment
 * violation is ||A theta - b||^2, A = E_D[(phi - gamma c phibar') phi'], b = mean_i phibar(s_{i,0}),
 * phibar(s) = E_{a ~ pi} phi(s, a). MWL's estimate is the minimiser, with a ridge:
 *
 *   theta = (A'A + lambda I)^{-1} A'b,   lambda = ridge * trace(A'A) / k,
 *
 * default ridge 1e-9 (A'A holds squared singular values, so this damps the
 * directions of A below about 3e-5 of their RMS; 1e-6 visibly biased RBF fits),
 * solved by Cholesky. When the ridge is small the moments hold almost exactly;
 * the ridge picks the smallest-norm theta among exact solutions (redundant
 * features, unvisited actions). `normalise` (default on) then rescales w so that
 * E_D[w (1 - gamma c)] = 1 exactly (the "mean 1" of normalised occupancies;
 * E_D[w] = 1 would be wrong here, since d_pi and d_D have different total mass
 * when episode lengths differ).
 *
 * What it assumes: (1) realisability: the true ratio d_pi / d_D lies in span(phi)
 * (exact for tabular features; otherwise w is the best moment match in the class
 * and MIS is biased; MDR stays consistent if Q is right); (2) coverage: d_D > 0
 * wherever d_pi > 0 (else A is rank-deficient in those directions and the ridge
 * sets them to 0); (3) a Markov state: the observation carries everything the
 * transition and the episode's end depend on (a time limit is not in the state:
 * with truncation the estimand is the value past the time limit, as FQE's, not
 * the logged horizon's; they agree when episodes terminate). w may be negative (a
 * linear class has no sign constraint); the share of negative weights is reported.
 */
import { OffpolicyError } from '../../../core/errors.js';
import type { TrajectoryMarginalWeights } from '../../../core/trajectory-evaluation-result.js';
import { Rng } from '../../../util/rng.js';
import type { TrajectoryArrays } from '../../../datasets/load-trajectories.js';
import { choleskySolve } from '../../reward-models/linalg.js';
import type { ResolvedCandidate } from '../candidates.js';
import type { TrajectoryOpeData } from '../data.js';
import { targetFor } from '../fqe-q.js';
import { columnScale, stateFeatureMap, type StateFeatureKind } from './features.js';

export const MWL_REFERENCE = 'Uehara, Huang & Jiang 2020 (minimax weight learning)';
export const DEFAULT_MWL_RIDGE = 1e-9;
export const DEFAULT_MWL_SAMPLES = 16;

export interface MwlSettings {
  /** Relative ridge: lambda = ridge * trace(A'A) / k (default 1e-9; 0 allowed when A has full rank). */
  ridge?: number;
  /** Rescale w so that E_D[w (1 - gamma c)] = 1 exactly (default true). */
  normalise?: boolean;
  /** State features: 'linear' (default) or 'rbf' (random Fourier features). */
  features?: StateFeatureKind;
  rbfDim?: number;
  rbfBandwidth?: number;
  /** Draws per state for E_{a ~ pi}[a] of stochastic continuous candidates (default 16). */
  samples?: number;
  seed?: number;
}

/** What the results say about the weights (scale is 1 for an exact moment match with a constant in the class; ess is (sum w)^2 / sum w^2, mean and maxShare max |w| / sum |w|, all over the logged steps). */
export type MarginalWeightInfo = TrajectoryMarginalWeights;

export interface MarginalWeights {
  /** w(s_t, a_t) per logged step. */
  w: Float64Array;
  /** 1 where the step's next state is bootstrapped: every step but a terminated episode's last. */
  bootstrap: Uint8Array;
  info: MarginalWeightInfo;
}

/** The logged columns MWL reads. */
export type MwlSteps = Pick<
  TrajectoryArrays,
  'n' | 'obsDim' | 'actDim' | 'discreteActions' | 'observations' | 'actions' | 'nextObservations' | 'nextObservationMissing' | 'terminated'
>;

function unsupported(cand: ResolvedCandidate, why: string): OffpolicyError {
  return new OffpolicyError('E_MWL_CANDIDATE', `Minimax weight learning cannot use candidate "${cand.name}" (${cand.kind}): ${why}`, {
    hint: 'Give the candidate as a policy (a trained directory or a JSON policy), or use per-decision estimators (--estimators pdis,dr).',
  });
}

/** E_{a ~ pi}[a] (continuous) at `count` observations, by the candidate's own rule (fqe-q.ts's target policy). */
function meanActions(cand: ResolvedCandidate, obs: Float32Array, count: number, m: number, samples: number, rng: Rng): { mean: Float32Array; how: string } {
  const target = targetFor(cand, samples);
  if (target.kind === 'deterministic') return { mean: target.policy.act(obs, count), how: 'exact (deterministic mean action)' };
  if (target.kind !== 'sampled') throw unsupported(cand, 'its actions are not continuous.');
  const S = target.samples ?? samples;
  const mean = new Float32Array(count * m);
  for (let s = 0; s < S; s++) {
    const a = target.sample(obs, count, rng);
    for (let j = 0; j < count * m; j++) mean[j] += a[j]! / S;
  }
  return { mean, how: `sampled (${S} seeded draws per state)` };
}

/** Learns w(s, a) for `cand` on the logged steps (see the file comment). */
export function learnMarginalWeights(steps: MwlSteps, d: TrajectoryOpeData, cand: ResolvedCandidate, settings: MwlSettings = {}): MarginalWeights {
  const ridge = settings.ridge ?? DEFAULT_MWL_RIDGE;
  if (!(ridge >= 0 && Number.isFinite(ridge))) {
    throw new OffpolicyError('E_MWL_RIDGE', `The MWL ridge must be a finite number >= 0, got ${ridge}.`, { hint: 'Use e.g. 1e-9 (the default).' });
  }
  const kind = settings.features ?? 'linear';
  if (kind !== 'linear' && kind !== 'rbf') {
    throw new OffpolicyError('E_MWL_FEATURES', `Unknown MWL feature map "${String(kind)}".`, { hint: 'Use linear (standardised observation and 1) or rbf (random Fourier features).' });
  }
  const samples = settings.samples ?? DEFAULT_MWL_SAMPLES;
  const { n, obsDim: dObs } = steps;
  const ep = d.episodes;
  const gamma = d.gamma;
  if (n !== d.n) throw new OffpolicyError('E_SHAPE', `MWL got ${n} logged steps but the data has ${d.n}.`, { hint: 'Pass the arrays the data was built from.' });

  // which last steps bootstrap, and from which next observation
  const bootstrap = new Uint8Array(n).fill(1);
  const finals: number[] = [];
  const openIds: number[] = [];
  const noNext: number[] = [];
  for (let i = 0; i < ep.count; i++) {
    const last = ep.start[i + 1]! - 1;
    if (steps.terminated[last]) bootstrap[last] = 0;
    else {
      finals.push(last);
      openIds.push(ep.ids[i]!);
      if (!steps.nextObservations || steps.nextObservationMissing?.[last]) noNext.push(ep.ids[i]!);
    }
  }
  if (gamma === 1 && finals.length > 0) {
    throw new OffpolicyError('E_MWL_GAMMA', `With gamma = 1, ${finals.length} episode(s) that did not terminate have an unbounded discounted occupancy (episodes ${openIds.slice(0, 5).join(', ')}${openIds.length > 5 ? ', ...' : ''} do not end terminated), so marginal weights do not exist.`, {
      hint: 'Use gamma < 1, or mark the last step of a fixed-horizon task terminated.',
    });
  }
  if (noNext.length > 0) {
    throw new OffpolicyError('E_MWL_DATA', `${noNext.length} episode(s) end without terminating and have no next_observation on their last step (episodes ${noNext.slice(0, 5).join(', ')}${noNext.length > 5 ? ', ...' : ''}); MWL bootstraps there from s'.`, {
      hint: 'Store next_observation for truncated last steps, or use per-decision estimators (--estimators pdis,dr).',
    });
  }
  const nextObs = new Float32Array(finals.length * dObs);
  finals.forEach((r, j) => nextObs.set(steps.nextObservations!.subarray(r * dObs, (r + 1) * dObs), j * dObs));

  const fmap = stateFeatureMap(steps.observations, n, dObs, { kind, dim: settings.rbfDim, bandwidth: settings.rbfBandwidth, seed: settings.seed ?? 0 });
  const p = fmap.p;
  const X = fmap.apply(steps.observations, n);
  const Xn = fmap.apply(nextObs, finals.length);

  // fillPsi(r): phi(s_r, a_r); fillBar(src, idx): phibar at a logged row (src 0) or a final next state (src 1)
  let k: number;
  let fillPsi: (r: number, out: Float64Array) => void;
  let fillBar: (src: 0 | 1, idx: number, out: Float64Array) => void;
  let policyExpectation: string;
  let description: string;
  const K = steps.discreteActions;
  if (K !== undefined) {
    if (!cand.probs) throw unsupported(cand, 'it gives no action probabilities.');
    let nextProbs: Float64Array = new Float64Array(0);
    if (finals.length > 0) {
      if (!cand.policy || typeof (cand.policy as { actionProbs?: unknown }).actionProbs !== 'function') {
        throw unsupported(cand, `a table gives pi only at the logged steps, and ${finals.length} episode(s) end truncated, where MWL needs pi(.|s') at next_observation.`);
      }
      nextProbs = (cand.policy as { actionProbs(o: Float32Array, c: number): Float64Array }).actionProbs(nextObs, finals.length);
    }
    const probs = cand.probs;
    const acts = steps.actions as Int32Array;
    k = K * p;
    fillPsi = (r, out) => {
      out.fill(0);
      const a = acts[r]!;
      for (let j = 0; j < p; j++) out[a * p + j] = X[r * p + j]!;
    };
    fillBar = (src, idx, out) => {
      const pr = src === 0 ? probs : nextProbs;
      const x = src === 0 ? X : Xn;
      for (let a = 0; a < K; a++) for (let j = 0; j < p; j++) out[a * p + j] = pr[idx * K + a]! * x[idx * p + j]!;
    };
    policyExpectation = 'exact (sum over pi(.|s))';
    description = `onehot(action) x ${fmap.description}`;
  } else {
    const m = steps.actDim;
    if (!cand.policy) throw unsupported(cand, 'a table of log-densities gives pi only at the logged actions, and MWL needs E_{a ~ pi} phi(s, a).');
    const acts = steps.actions as Float32Array;
    const { mean: am, sd: as } = columnScale(acts, n, m);
    const rng = new Rng(`mwl-draws:${settings.seed ?? 0}:${cand.name}`);
    const here = meanActions(cand, steps.observations, n, m, samples, rng);
    const there = finals.length > 0 ? meanActions(cand, nextObs, finals.length, m, samples, rng).mean : new Float32Array(0);
    const q = m + 1;
    k = p * q;
    const outer = (x: Float64Array, xi: number, a: ArrayLike<number>, ai: number, out: Float64Array): void => {
      for (let j = 0; j < p; j++) {
        const xv = x[xi * p + j]!;
        for (let l = 0; l < m; l++) out[j * q + l] = xv * ((a[ai * m + l]! - am[l]!) / as[l]!);
        out[j * q + m] = xv;
      }
    };
    fillPsi = (r, out) => outer(X, r, acts, r, out);
    fillBar = (src, idx, out) => (src === 0 ? outer(X, idx, here.mean, idx, out) : outer(Xn, idx, there, idx, out));
    policyExpectation = here.how;
    description = `${fmap.description} x [standardised action (${m}), 1]`;
  }

  // A = E_D[(phi - gamma c phibar') phi'] (k x k, row = discriminator), b = mean_i phibar(s_i0)
  const A = new Float64Array(k * k);
  const b = new Float64Array(k);
  const psi = new Float64Array(k);
  const nu = new Float64Array(k);
  const diff = new Float64Array(k);
  const nz = new Int32Array(k);
  let finalIdx = 0;
  for (let i = 0; i < ep.count; i++) {
    const s0 = ep.start[i]!;
    const e = ep.start[i + 1]!;
    fillBar(0, s0, nu);
    for (let j = 0; j < k; j++) b[j] += nu[j]! / ep.count;
    let g = 1 / ep.count;
    for (let r = s0; r < e; r++) {
      fillPsi(r, psi);
      let c = 1;
      if (r < e - 1) fillBar(0, r + 1, nu);
      else if (bootstrap[r]) fillBar(1, finalIdx++, nu);
      else c = 0;
      for (let j = 0; j < k; j++) diff[j] = psi[j]! - (c ? gamma * nu[j]! : 0);
      let nnz = 0;
      for (let l = 0; l < k; l++) if (psi[l] !== 0) nz[nnz++] = l;
      for (let j = 0; j < k; j++) {
        const dj = g * diff[j]!;
        if (dj === 0) continue;
        for (let z = 0; z < nnz; z++) A[j * k + nz[z]!] += dj * psi[nz[z]!]!;
      }
      g *= gamma;
    }
  }

  // theta = (A'A + lambda I)^{-1} A'b
  const M = new Float64Array(k * k);
  const rhs = new Float64Array(k);
  for (let u = 0; u < k; u++) {
    for (let v = u; v < k; v++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += A[j * k + u]! * A[j * k + v]!;
      M[u * k + v] = s;
      M[v * k + u] = s;
    }
    let s = 0;
    for (let j = 0; j < k; j++) s += A[j * k + u]! * b[j]!;
    rhs[u] = s;
  }
  let trace = 0;
  for (let u = 0; u < k; u++) trace += M[u * k + u]!;
  const lambda = (ridge * trace) / k;
  for (let u = 0; u < k; u++) M[u * k + u] += lambda;
  const theta = trace > 0 ? choleskySolve(M, rhs, k) : null;
  if (!theta) {
    throw new OffpolicyError('E_MWL_SINGULAR', `The MWL moment system (${k} features, ridge ${ridge}) is singular: some feature directions are never visited by the data or are collinear, so the weights are not identified.`, {
      hint: 'Use a ridge > 0 (e.g. 1e-9, the default), fewer features, or more data covering the candidate\'s actions.',
    });
  }
  let res2 = 0;
  let b2 = 0;
  for (let j = 0; j < k; j++) {
    let s = -b[j]!;
    for (let u = 0; u < k; u++) s += A[j * k + u]! * theta[u]!;
    res2 += s * s;
    b2 += b[j]! ** 2;
  }

  const w = new Float64Array(n);
  let scale = 0;
  for (let i = 0; i < ep.count; i++) {
    let g = 1 / ep.count;
    for (let r = ep.start[i]!; r < ep.start[i + 1]!; r++) {
      fillPsi(r, psi);
      let s = 0;
      for (let u = 0; u < k; u++) if (psi[u] !== 0) s += theta[u]! * psi[u]!;
      w[r] = s;
      scale += g * s * (1 - gamma * bootstrap[r]!);
      g *= gamma;
    }
  }
  const normalise = settings.normalise ?? true;
  if (normalise) {
    if (!(scale > 0)) {
      throw new OffpolicyError('E_MWL_SINGULAR', `The learned weights have a non-positive normaliser E_D[w (1 - gamma c)] = ${scale.toPrecision(3)}; the fit carries no usable weight.`, {
        hint: 'Check the candidate\'s coverage by the data, or turn normalisation off to inspect the raw weights.',
      });
    }
    for (let r = 0; r < n; r++) w[r] = w[r]! / scale;
  }
  let neg = 0;
  let min = Infinity;
  let max = -Infinity;
  let s1 = 0;
  let s2 = 0;
  let sAbs = 0;
  let maxAbs = 0;
  for (const x of w) {
    if (x < 0) neg++;
    if (x < min) min = x;
    if (x > max) max = x;
    s1 += x;
    s2 += x * x;
    sAbs += Math.abs(x);
    maxAbs = Math.max(maxAbs, Math.abs(x));
  }
  return {
    w,
    bootstrap,
    info: {
      method: 'mwl',
      reference: MWL_REFERENCE,
      features: description,
      k,
      ridge,
      normalised: normalise,
      scale,
      residual: b2 > 0 ? Math.sqrt(res2 / b2) : 0,
      negativeShare: neg / n,
      min,
      max,
      mean: s1 / n,
      maxShare: sAbs > 0 ? maxAbs / sAbs : 0,
      ess: s2 > 0 ? (s1 * s1) / s2 : 0,
      policyExpectation,
    },
  };
}
