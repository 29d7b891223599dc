/**
 * The Gaussian MLP behaviour model for box actions: an MLP on standardised
 * observations gives, per action dimension j, a mean mu_j(s) and a
 * state-dependent log-std log sigma_j(s) = -5 + 7 sigmoid(raw) (so sigma lies in
 * [e^-5, e^2]). Actions are scaled to the box, t_j = (a_j - c_j) / h_j (c the
 * centre, h the half-width), and the density is the one the stored actions can
 * have (`BoxDensityKind`):
 *   squashed  every stored action lies strictly inside a finite box:
 *             a_j = c_j + h_j tanh(u_j), u_j ~ N(mu_j, sigma_j^2), mixed with a
 *             uniform share eps over the box (one learned scalar: the bundled
 *             generators' behaviour policies have this form; eps -> 0 is a plain
 *             squashed Gaussian):
 *               log p(a) = logaddexp(log eps - log vol, log(1 - eps) + sum_j [log N(atanh t_j; mu_j, sigma_j) - log(h_j (1 - t_j^2))]);
 *   censored  some stored actions sit on the box bound (a Gaussian clipped to the
 *             box): per dimension a Gaussian in t with point masses at the bounds,
 *             P(t_j = 1) = 1 - Phi((1 - mu_j) / sigma_j), P(t_j = -1) = Phi((-1 - mu_j) / sigma_j);
 *             a bound component contributes the log of that mass, an interior one
 *             log N(t_j; mu_j, sigma_j) - log h_j;
 *   gaussian  no finite box: a ~ N(mu, diag sigma^2) in the data's units (c = 0, h = 1).
 * Trained by Adam on the mean negative log-likelihood (minibatches drawn with a
 * seeded generator), with early stopping: a tenth of the training episodes is
 * kept aside and the parameters with the best validation log-likelihood (checked
 * 20 times per fit) are kept, since a small data set overfits a 64x64 network.
 * The forward / backward passes run on the wasm MLP engine.
 */
import { Adam } from '../../nn/adam.js';
import { initMlp, type MlpSpec } from '../../nn/mlp.js';
import { computeNormStats, normalizeRows, type NormStats } from '../../nn/normalization.js';
import { WasmMlp } from '../../nn/wasm-mlp.js';
import { normalCdf, normalPdf } from '../../util/normal.js';
import type { Rng } from '../../util/rng.js';

export type BoxDensityKind = 'squashed' | 'censored' | 'gaussian';

export interface BoxGeometry {
  kind: BoxDensityKind;
  /** Centre and half-width per dimension (0 and 1 for 'gaussian'). */
  centre: Float64Array;
  half: Float64Array;
}

export interface GaussianFitSettings {
  hidden: readonly number[];
  steps: number;
  batch: number;
  lr: number;
}

export interface GaussianBehaviorModel {
  geometry: BoxGeometry;
  spec: MlpSpec;
  params: Float32Array;
  norm: NormStats;
  /** Uniform share eps (squashed only; 0 otherwise). */
  uniformShare: number;
}

const LOG_2PI = Math.log(2 * Math.PI);
const LOG_STD_MIN = -5;
const LOG_STD_SPAN = 7;
/** A bound is hit when the stored value is within this relative distance of it (float32 storage). */
const BOUND_TOL = 1e-6;

function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** log Phi(q) and the inverse Mills ratio phi(q) / Phi(q), stable in the lower tail. */
export function logPhiAndMills(q: number): [number, number] {
  if (q < -30) return [-0.5 * q * q - Math.log(-q) - 0.5 * LOG_2PI, -q - 1 / q];
  const p = normalCdf(q);
  return [Math.log(p), normalPdf(q) / p];
}

/** +1 / -1 when t (box-scaled) sits on the upper / lower bound, else 0. */
function onBound(t: number): number {
  return t >= 1 - BOUND_TOL ? 1 : t <= -1 + BOUND_TOL ? -1 : 0;
}

/**
 * The density family the stored actions allow (see the module comment): a
 * finite box with every action inside -> squashed; some action on a bound ->
 * censored; no finite box, or actions outside it -> gaussian. `boundarySteps`
 * counts the steps with some component on a bound.
 */
export function boxGeometry(actions: Float32Array, n: number, m: number, box: { low: ArrayLike<number>; high: ArrayLike<number> } | null): BoxGeometry & { boundarySteps: number; outside: number } {
  const centre = new Float64Array(m);
  const half = new Float64Array(m).fill(1);
  if (!box) return { kind: 'gaussian', centre, half, boundarySteps: 0, outside: 0 };
  for (let j = 0; j < m; j++) {
    centre[j] = (box.low[j]! + box.high[j]!) / 2;
    half[j] = (box.high[j]! - box.low[j]!) / 2;
  }
  let boundary = 0;
  let outside = 0;
  for (let i = 0; i < n; i++) {
    let b = false;
    for (let j = 0; j < m; j++) {
      const t = (actions[i * m + j]! - centre[j]!) / half[j]!;
      if (Math.abs(t) > 1 + BOUND_TOL) outside++;
      else if (onBound(t) !== 0) b = true;
    }
    if (b) boundary++;
  }
  if (outside > 0) return { kind: 'gaussian', centre: new Float64Array(m), half: new Float64Array(m).fill(1), boundarySteps: 0, outside };
  return { kind: boundary > 0 ? 'censored' : 'squashed', centre, half, boundarySteps: boundary, outside: 0 };
}

/**
 * log p(a | s) of one row from the network output y (mu_0..mu_{m-1}, raw log-std
 * 0..m-1); when `grad` is given, adds d(-log p)/dy * scale into grad and returns
 * d(-log p)/d theta_eps in `epsGrad[0]` (accumulated).
 */
function rowLogProb(
  g: BoxGeometry,
  a: ArrayLike<number>,
  aOff: number,
  y: ArrayLike<number>,
  yOff: number,
  m: number,
  logEps: number,
  log1mEps: number,
  logVol: number,
  grad?: Float32Array,
  scale = 0,
  epsGrad?: Float64Array,
  eps = 0,
): number {
  let logG = 0;
  // gradient of -logG w.r.t. mu_j and raw_j, filled below when grad is given
  const dmu = grad ? new Float64Array(m) : null;
  const draw = grad ? new Float64Array(m) : null;
  for (let j = 0; j < m; j++) {
    const mu = y[yOff + j]!;
    const s = sigmoid(y[yOff + m + j]!);
    const logSig = LOG_STD_MIN + LOG_STD_SPAN * s;
    const sig = Math.exp(logSig);
    const t = (a[aOff + j]! - g.centre[j]!) / g.half[j]!;
    let dm = 0;
    let dls = 0;
    const side = g.kind === 'censored' ? onBound(t) : 0;
    if (side !== 0) {
      // point mass at the bound: log Phi(q), q = (mu - 1) / sigma (upper) or (-1 - mu) / sigma (lower)
      const q = side > 0 ? (mu - 1) / sig : (-1 - mu) / sig;
      const [lp, lam] = logPhiAndMills(q);
      logG += lp;
      dm = side > 0 ? -lam / sig : lam / sig;
      dls = lam * q;
    } else {
      const x = g.kind === 'squashed' ? Math.atanh(Math.max(-1 + 1e-12, Math.min(1 - 1e-12, t))) : t;
      const z = (x - mu) / sig;
      logG += -0.5 * z * z - logSig - 0.5 * LOG_2PI - Math.log(g.half[j]!);
      if (g.kind === 'squashed') logG -= Math.log1p(-t * t);
      dm = -z / sig;
      dls = 1 - z * z;
    }
    if (dmu && draw) {
      dmu[j] = dm;
      draw[j] = dls * LOG_STD_SPAN * s * (1 - s);
    }
  }
  const logP = g.kind === 'squashed' ? logAddExp(logEps - logVol, log1mEps + logG) : logG;
  if (grad && dmu && draw) {
    // responsibility of the Gaussian component (1 without a uniform share)
    const r = g.kind === 'squashed' ? Math.exp(log1mEps + logG - logP) : 1;
    for (let j = 0; j < m; j++) {
      grad[yOff + j] = grad[yOff + j]! + scale * r * dmu[j]!;
      grad[yOff + m + j] = grad[yOff + m + j]! + scale * r * draw[j]!;
    }
    if (epsGrad) epsGrad[0] = epsGrad[0]! + scale * (eps - (1 - r));
  }
  return logP;
}

/** Fits the Gaussian MLP on the rows `train` (indices into obs / actions). */
export function fitGaussianBehavior(
  obs: Float32Array,
  obsDim: number,
  actions: Float32Array,
  m: number,
  rows: Int32Array,
  episodeOfRow: ArrayLike<number>,
  geometry: BoxGeometry,
  settings: GaussianFitSettings,
  rng: Rng,
  onStep?: (done: number, total: number) => void,
): GaussianBehaviorModel {
  // validation episodes: a seeded tenth of the distinct episodes of `rows` (none when fewer than 2)
  const eps0: number[] = [];
  for (let i = 0; i < rows.length; i++) if (i === 0 || episodeOfRow[rows[i]!] !== episodeOfRow[rows[i - 1]!]) eps0.push(episodeOfRow[rows[i]!]!);
  const perm = rng.permutation(eps0.length);
  const nValid = eps0.length >= 2 ? Math.max(1, Math.floor(eps0.length / 10)) : 0;
  const validEp = new Set<number>();
  for (let i = 0; i < nValid; i++) validEp.add(eps0[perm[i]!]!);
  const trainList: number[] = [];
  const validList: number[] = [];
  for (let i = 0; i < rows.length; i++) (validEp.has(episodeOfRow[rows[i]!]!) ? validList : trainList).push(rows[i]!);
  const train = Int32Array.from(trainList);
  const valid = Int32Array.from(validList);
  const nTrain = train.length;
  const trainObs = new Float32Array(nTrain * obsDim);
  for (let i = 0; i < nTrain; i++) trainObs.set(obs.subarray(train[i]! * obsDim, (train[i]! + 1) * obsDim), i * obsDim);
  const norm = computeNormStats([trainObs], obsDim);
  const x = normalizeRows(trainObs, norm);
  const spec: MlpSpec = { sizes: [obsDim, ...settings.hidden, 2 * m], output: 'linear' };
  const params = initMlp(spec, rng);
  const grad = new Float32Array(params.length);
  const adam = new Adam(params.length, { lr: settings.lr });
  const useEps = geometry.kind === 'squashed';
  const theta = new Float32Array([Math.log(0.1 / 0.9)]);
  const thetaGrad = new Float32Array(1);
  const adamEps = new Adam(1, { lr: settings.lr * 10 });
  let logVol = 0;
  for (let j = 0; j < m; j++) logVol += Math.log(2 * geometry.half[j]!);
  const net = new WasmMlp(spec);
  const B = Math.min(settings.batch, nTrain);
  const xb = new Float32Array(B * obsDim);
  const ab = new Float32Array(B * m);
  const dOut = new Float32Array(B * 2 * m);
  const epsGrad = new Float64Array(1);
  const every = Math.max(1, Math.floor(settings.steps / 50));
  const checkEvery = Math.max(1, Math.floor(settings.steps / 20));
  let best = { ll: -Infinity, params: Float32Array.from(params), theta: theta[0]! };
  const current = (): GaussianBehaviorModel => ({ geometry, spec, params, norm, uniformShare: useEps ? sigmoid(theta[0]!) : 0 });
  for (let step = 0; step < settings.steps; step++) {
    for (let b = 0; b < B; b++) {
      const i = rng.int(nTrain);
      xb.set(x.subarray(i * obsDim, (i + 1) * obsDim), b * obsDim);
      const r = train[i]!;
      for (let j = 0; j < m; j++) ab[b * m + j] = actions[r * m + j]!;
    }
    const y = net.forward(params, xb, B);
    dOut.fill(0);
    epsGrad[0] = 0;
    const eps = useEps ? sigmoid(theta[0]!) : 0;
    const logEps = useEps ? Math.log(eps) : -Infinity;
    const log1mEps = useEps ? Math.log1p(-eps) : 0;
    for (let b = 0; b < B; b++) rowLogProb(geometry, ab, b * m, y, b * 2 * m, m, logEps, log1mEps, logVol, dOut, 1 / B, epsGrad, eps);
    net.backward(dOut, grad);
    adam.step(params, grad);
    if (useEps) {
      thetaGrad[0] = epsGrad[0]!;
      adamEps.step(theta, thetaGrad);
    }
    if (valid.length > 0 && ((step + 1) % checkEvery === 0 || step + 1 === settings.steps)) {
      const lp = gaussianBehaviorLogprob(current(), obs, obsDim, actions, m, valid);
      let ll = 0;
      for (let i = 0; i < lp.length; i++) ll += lp[i]!;
      ll /= lp.length;
      if (ll > best.ll) best = { ll, params: Float32Array.from(params), theta: theta[0]! };
    }
    if (onStep && (step + 1) % every === 0) onStep(step + 1, settings.steps);
  }
  if (valid.length === 0) return current();
  return { geometry, spec, params: best.params, norm, uniformShare: useEps ? sigmoid(best.theta) : 0 };
}

/** log p(a_r | s_r) of the model for the rows `rows`. */
export function gaussianBehaviorLogprob(model: GaussianBehaviorModel, obs: Float32Array, obsDim: number, actions: Float32Array, m: number, rows: Int32Array): Float64Array {
  const out = new Float64Array(rows.length);
  const net = new WasmMlp(model.spec);
  const g = model.geometry;
  const eps = model.uniformShare;
  const logEps = g.kind === 'squashed' ? Math.log(eps) : -Infinity;
  const log1mEps = g.kind === 'squashed' ? Math.log1p(-eps) : 0;
  let logVol = 0;
  for (let j = 0; j < m; j++) logVol += Math.log(2 * g.half[j]!);
  const CHUNK = 8192;
  for (let s = 0; s < rows.length; s += CHUNK) {
    const k = Math.min(CHUNK, rows.length - s);
    const xb = new Float32Array(k * obsDim);
    for (let i = 0; i < k; i++) {
      const r = rows[s + i]!;
      for (let j = 0; j < obsDim; j++) xb[i * obsDim + j] = (obs[r * obsDim + j]! - model.norm.mean[j]!) / model.norm.std[j]!;
    }
    const y = net.infer(model.params, xb, k);
    for (let i = 0; i < k; i++) out[s + i] = rowLogProb(g, actions, rows[s + i]! * m, y, i * 2 * m, m, logEps, log1mEps, logVol);
  }
  return out;
}
