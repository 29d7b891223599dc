/**
 * A fitted behaviour policy for trajectory data without `behavior_logprob`.
 *
 * Importance weights need log pi_b(a_t|s_t) of every logged action. When the
 * data does not store it (or `mode: 'fit'` asks to ignore it), pi_b is
 * estimated from the logged (observation, action) pairs:
 *   discrete actions  multinomial logistic regression of the action on the
 *                     standardised observation (the bandit side's propensity
 *                     model, ../propensity.ts; probabilities floored at 1e-6);
 *   box actions       a Gaussian MLP whose density matches how the stored
 *                     actions are bounded (./behavior-model-gaussian.ts).
 * Cross-fitted by episode: episodes are dealt to K folds by a seeded
 * permutation, and each episode's log-probabilities come from the model
 * trained on the other K - 1 folds, so no step's weight uses a model that saw
 * that step. The mean held-out log-likelihood per step is reported. Every
 * result that uses these estimates carries ESTIMATED_BEHAVIOR_POLICY (a verdict
 * caveat, as ESTIMATED_PROPENSITIES is for bandit logs).
 */
import type { Warning } from '../../core/evaluation-result.js';
import type { TrajectoryBehaviorModel } from '../../core/trajectory-evaluation-result.js';
import { OffpolicyError, type DataErrorDetails } from '../../core/errors.js';
import type { Space } from '../../datasets/metadata.js';
import type { TrajectoryArrays } from '../../datasets/load-trajectories.js';
import { computeNormStats, normalizeRows } from '../../nn/normalization.js';
import { Rng } from '../../util/rng.js';
import { fitMultinomialLogistic, propensityProbs } from '../propensity.js';
import { boxGeometry, fitGaussianBehavior, gaussianBehaviorLogprob, type BoxGeometry, type GaussianFitSettings } from './behavior-model-gaussian.js';
import { episodeOfRows, indexEpisodes } from './data.js';

export type BehaviorModelMode = 'auto' | 'fit' | 'none';
export const BEHAVIOR_MODEL_MODES: readonly BehaviorModelMode[] = ['auto', 'fit', 'none'];

export interface BehaviorModelOptions {
  /** auto (default): fit only when behavior_logprob is absent; fit: always fit (ignore the column); none: never fit. */
  mode?: BehaviorModelMode;
  /** Cross-fitting folds over episodes (default 5, at least 2). */
  folds?: number;
  /** Gaussian MLP (box actions): hidden widths (default 64,64), Adam steps per fold (default 3000), batch (256), learning rate (3e-3). */
  hidden?: readonly number[];
  steps?: number;
  batch?: number;
  lr?: number;
  /** Categorical model: L2 penalty on the slopes (default 1, on the mean cross-entropy scale of ../propensity.ts). */
  lambda?: number;
}

export const DEFAULT_BEHAVIOR_FOLDS = 5;
const DEFAULTS: GaussianFitSettings = { hidden: [64, 64], steps: 3000, batch: 256, lr: 3e-3 };
const PROB_FLOOR = 1e-6;

export interface FittedBehavior {
  /** Cross-fitted log pi_b(a_t|s_t) per step. */
  logprob: Float64Array;
  summary: TrajectoryBehaviorModel;
  warnings: Warning[];
}

export interface BehaviorFitContext {
  seed?: number;
  actionSpace?: Space;
  /** Box of the actions (overrides actionSpace's low / high). */
  actionBox?: { low: ArrayLike<number>; high: ArrayLike<number> };
  onProgress?: (done: number, total: number) => void;
}

const FIX = 'Store behavior_logprob (log pi_b(a_t|s_t) of each logged action) with the data, or use only the direct method (--estimators dm).';

function noLogprob(reason: string, hint: string = FIX, details?: DataErrorDetails): OffpolicyError {
  return new OffpolicyError('E_NO_BEHAVIOR_LOGPROB', `The trajectory data has no usable behavior_logprob column, and no behaviour model can be fitted: ${reason}.`, {
    hint,
    ...(details ? { details } : {}),
  });
}

export function checkBehaviorOptions(o: BehaviorModelOptions): Required<Pick<BehaviorModelOptions, 'mode' | 'folds'>> {
  const mode = o.mode ?? 'auto';
  if (!BEHAVIOR_MODEL_MODES.includes(mode)) {
    throw new OffpolicyError('E_BEHAVIOR_MODEL', `Unknown behaviour-model mode "${String(mode)}".`, { hint: 'Use auto (fit when behavior_logprob is absent), fit (always fit) or none (never fit).' });
  }
  const folds = o.folds ?? DEFAULT_BEHAVIOR_FOLDS;
  if (!(Number.isInteger(folds) && folds >= 2)) {
    throw new OffpolicyError('E_BEHAVIOR_MODEL', `The behaviour model's cross-fitting needs an integer number of folds >= 2, got ${folds}.`, { hint: 'Use e.g. --behavior-folds 5 (the default).' });
  }
  for (const [k, v] of [['steps', o.steps], ['batch', o.batch]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new OffpolicyError('E_BEHAVIOR_MODEL', `The behaviour model's ${k} must be a positive integer, got ${v}.`, { hint: `Omit it for the default (${DEFAULTS[k]}).` });
  }
  if (o.lr !== undefined && !(o.lr > 0)) throw new OffpolicyError('E_BEHAVIOR_MODEL', `The behaviour model's learning rate must be positive, got ${o.lr}.`, { hint: 'Omit it for the default (3e-3).' });
  if (o.hidden !== undefined && !o.hidden.every((h) => Number.isInteger(h) && h >= 1)) {
    throw new OffpolicyError('E_BEHAVIOR_MODEL', `The behaviour model's hidden widths must be positive integers, got [${o.hidden.join(', ')}].`, { hint: 'Use e.g. hidden: [64, 64] (the default).' });
  }
  return { mode, folds };
}

/** Fold (0..K-1) of each episode: a seeded permutation dealt round-robin, so fold sizes differ by at most one. */
export function behaviorFolds(episodes: number, folds: number, seed: number): Int32Array {
  const perm = new Rng(`behavior-folds:${seed}`).permutation(episodes);
  const out = new Int32Array(episodes);
  for (let i = 0; i < episodes; i++) out[perm[i]!] = i % folds;
  return out;
}

/** The generator a fold's model is fitted with (initialisation and minibatches). */
export function foldRng(seed: number, fold: number): Rng {
  return new Rng(`behavior-model:${seed}:${fold}`);
}

/** A model fitted on some rows, predicting log pi_b(a_r|s_r) for others. */
export interface BehaviorPredictor {
  logprob(rows: Int32Array): Float64Array;
  /** Rows whose predicted probability was raised to the floor (categorical only). */
  floored: number;
  uniformShare?: number;
}

interface FitPlan {
  discrete: boolean;
  K: number;
  geometry: BoxGeometry | null;
  settings: GaussianFitSettings;
  lambda: number;
}

function fitPlan(a: TrajectoryArrays, opts: BehaviorModelOptions, ctx: BehaviorFitContext): FitPlan & { boundarySteps: number; outside: number } {
  if (a.obsDim < 1) throw noLogprob('the data has no observations to condition pi_b(a|s) on');
  const settings: GaussianFitSettings = {
    hidden: opts.hidden ?? DEFAULTS.hidden,
    steps: opts.steps ?? DEFAULTS.steps,
    batch: opts.batch ?? DEFAULTS.batch,
    lr: opts.lr ?? DEFAULTS.lr,
  };
  const lambda = opts.lambda ?? 1;
  for (let i = 0; i < a.observations.length; i++) {
    if (!Number.isFinite(a.observations[i]!)) {
      const row = Math.floor(i / a.obsDim);
      throw noLogprob(`observation of episode ${a.episodeId[row]} step ${a.step[row]} is not finite (${a.observations[i]})`, `Fix or drop the steps with NaN / infinite observations, or ${FIX[0]!.toLowerCase()}${FIX.slice(1)}`);
    }
  }
  if (a.discreteActions !== undefined) {
    const K = a.discreteActions;
    const acts = a.actions as Int32Array;
    for (let r = 0; r < a.n; r++) {
      if (!(acts[r]! >= 0 && acts[r]! < K)) throw noLogprob(`action ${acts[r]} of episode ${a.episodeId[r]} step ${a.step[r]} is outside 0..${K - 1}`);
    }
    if (K < 2) throw noLogprob(`the action space has ${K} action(s); a categorical model needs at least 2`);
    return { discrete: true, K, geometry: null, settings, lambda, boundarySteps: 0, outside: 0 };
  }
  const m = a.actDim;
  if (!(a.actions instanceof Float32Array) || m < 1) throw noLogprob('the actions are neither discrete indices nor box vectors');
  for (let i = 0; i < a.actions.length; i++) {
    if (!Number.isFinite(a.actions[i]!)) {
      const row = Math.floor(i / m);
      throw noLogprob(`action of episode ${a.episodeId[row]} step ${a.step[row]} is not finite (${a.actions[i]})`);
    }
  }
  let box = ctx.actionBox ?? null;
  const sp = ctx.actionSpace;
  if (!box && sp && sp.type === 'box' && sp.low && sp.high && sp.low.length === m && sp.high.length === m) {
    let finite = true;
    for (let j = 0; j < m; j++) if (!(Number.isFinite(sp.low[j]!) && Number.isFinite(sp.high[j]!) && sp.high[j]! > sp.low[j]!)) finite = false;
    if (finite) box = { low: sp.low, high: sp.high };
  }
  const g = boxGeometry(a.actions, a.n, m, box);
  return { discrete: false, K: 0, geometry: g, settings, lambda, boundarySteps: g.boundarySteps, outside: g.outside };
}

/** Fits the behaviour model on the rows `train` (indices into a's steps) with generator `rng`. */
function fitOn(a: TrajectoryArrays, p: FitPlan, train: Int32Array, rng: Rng, onStep?: (done: number, total: number) => void): BehaviorPredictor {
  const d = a.obsDim;
  if (p.discrete) {
    const acts = a.actions as Int32Array;
    const xs = new Float32Array(train.length * d);
    const ys = new Int32Array(train.length);
    for (let i = 0; i < train.length; i++) {
      xs.set(a.observations.subarray(train[i]! * d, (train[i]! + 1) * d), i * d);
      ys[i] = acts[train[i]!]!;
    }
    const norm = computeNormStats([xs], d);
    const fit = fitMultinomialLogistic(normalizeRows(xs, norm), ys, train.length, d, p.K, { lambda: p.lambda });
    onStep?.(1, 1);
    const pred: BehaviorPredictor = {
      floored: 0,
      logprob(rows) {
        const xr = new Float32Array(rows.length * d);
        for (let i = 0; i < rows.length; i++) xr.set(a.observations.subarray(rows[i]! * d, (rows[i]! + 1) * d), i * d);
        const probs = propensityProbs(fit, normalizeRows(xr, norm), rows.length);
        const out = new Float64Array(rows.length);
        for (let i = 0; i < rows.length; i++) {
          let v = probs[i * p.K + acts[rows[i]!]!]!;
          if (v < PROB_FLOOR) {
            v = PROB_FLOOR;
            pred.floored++;
          }
          out[i] = Math.log(v);
        }
        return out;
      },
    };
    return pred;
  }
  const acts = a.actions as Float32Array;
  const model = fitGaussianBehavior(a.observations, d, acts, a.actDim, train, a.episodeId, p.geometry!, p.settings, rng, onStep);
  return { floored: 0, uniformShare: model.uniformShare, logprob: (rows) => gaussianBehaviorLogprob(model, a.observations, d, acts, a.actDim, rows) };
}

/**
 * The behaviour model of one fold, fitted on the rows `train`: exported so a
 * caller (and the tests) can refit any fold and check what it was trained on.
 */
export function fitBehaviorFold(a: TrajectoryArrays, train: Int32Array, opts: BehaviorModelOptions, ctx: BehaviorFitContext, fold: number): BehaviorPredictor {
  checkBehaviorOptions(opts);
  return fitOn(a, fitPlan(a, opts, ctx), train, foldRng(ctx.seed ?? 0, fold));
}

function describe(p: FitPlan): string {
  if (p.discrete) return `multinomial logistic regression of the action on the standardised observation (${p.K} actions)`;
  const g = p.geometry!;
  const net = `Gaussian MLP (${p.settings.hidden.join('x')}, state-dependent log-std)`;
  if (g.kind === 'squashed') return `${net}, tanh-squashed into the action box, mixed with a uniform share over the box`;
  if (g.kind === 'censored') return `${net} censored at the action box (point masses on the bounds, where stored actions sit)`;
  return `${net} on the raw actions (no finite action box)`;
}

/**
 * Cross-fitted log pi_b(a_t|s_t) for every step of `a` (episode / step order,
 * as loadTrajectoryArrays returns them). `reason` says why it was fitted.
 */
export function fitBehaviorModel(a: TrajectoryArrays, opts: BehaviorModelOptions = {}, ctx: BehaviorFitContext = {}, reason: 'absent' | 'forced' = 'absent'): FittedBehavior {
  const { folds } = checkBehaviorOptions(opts);
  const seed = ctx.seed ?? 0;
  const ep = indexEpisodes(a.episodeId, a.step, a.terminated, a.truncated);
  if (ep.count < folds) {
    throw noLogprob(`${ep.count} episode(s) are too few for ${folds}-fold cross-fitting of the behaviour model`, `Use fewer folds (--behavior-folds ${Math.max(2, ep.count)}, at least 2) with at least as many episodes as folds, or ${FIX[0]!.toLowerCase()}${FIX.slice(1)}`, {
      rule: 'episodes >= folds >= 2',
      count: ep.count,
      rows: [],
    });
  }
  const p = fitPlan(a, opts, ctx);
  const foldOf = behaviorFolds(ep.count, folds, seed);
  const rowsOf: number[][] = Array.from({ length: folds }, () => []);
  for (let i = 0; i < ep.count; i++) for (let r = ep.start[i]!; r < ep.start[i + 1]!; r++) rowsOf[foldOf[i]!]!.push(r);
  const logprob = new Float64Array(a.n);
  const foldLogLik: number[] = [];
  const uniformShare: number[] = [];
  let floored = 0;
  const total = p.discrete ? folds : folds * p.settings.steps;
  const epOfRow = episodeOfRows(ep);
  for (let k = 0; k < folds; k++) {
    const train: number[] = [];
    for (let r = 0; r < a.n; r++) if (foldOf[epOfRow[r]!]! !== k) train.push(r);
    const pred = fitOn(a, p, Int32Array.from(train), foldRng(seed, k), ctx.onProgress ? (done) => ctx.onProgress!(k * (p.discrete ? 1 : p.settings.steps) + done, total) : undefined);
    const held = Int32Array.from(rowsOf[k]!);
    const lp = pred.logprob(held);
    let s = 0;
    for (let i = 0; i < held.length; i++) {
      logprob[held[i]!] = lp[i]!;
      s += lp[i]!;
    }
    foldLogLik.push(s / held.length);
    floored += pred.floored;
    if (pred.uniformShare !== undefined) uniformShare.push(pred.uniformShare);
  }
  let all = 0;
  for (let r = 0; r < a.n; r++) all += logprob[r]!;
  const heldOutLogLik = all / a.n;
  const kind = p.discrete ? 'categorical-logistic' : (`${p.geometry!.kind}-gaussian-mlp` as const);
  const description = describe(p);
  const summary: TrajectoryBehaviorModel = {
    kind,
    description,
    reason,
    folds,
    seed,
    heldOutLogLik,
    foldLogLik,
    ...(p.discrete ? { lambda: p.lambda } : { hidden: [...p.settings.hidden], steps: p.settings.steps }),
    ...(uniformShare.length > 0 && p.geometry?.kind === 'squashed' ? { uniformShare } : {}),
    ...(p.boundarySteps > 0 ? { boundarySteps: p.boundarySteps } : {}),
    ...(floored > 0 ? { flooredSteps: floored } : {}),
  };
  const warnings: Warning[] = [estimatedBehaviorWarning(summary)];
  if (floored > 0) warnings.push({ code: 'BEHAVIOR_PROB_FLOORED', message: `${floored} fitted behaviour probabilities were below ${PROB_FLOOR} and were raised to it.` });
  if (p.boundarySteps > 0) {
    warnings.push({
      code: 'BEHAVIOR_BOUNDARY_MASS',
      message: `${p.boundarySteps} step(s) have actions on the action box's bound; the fitted behaviour policy gives those components a probability mass (a clipped Gaussian), so a candidate's log-probability of such an action must be a mass too for the ratio to be meaningful.`,
    });
  }
  if (p.outside > 0) {
    warnings.push({ code: 'BEHAVIOR_ACTIONS_OUTSIDE_BOX', message: `${p.outside} action component(s) lie outside the stored action box, so the behaviour model ignored the box and fitted an unbounded Gaussian.` });
  }
  return { logprob, summary, warnings };
}

/** The warning (and verdict caveat) every result using fitted behaviour log-probabilities carries. */
export function estimatedBehaviorWarning(s: TrajectoryBehaviorModel): Warning {
  const why = s.reason === 'absent' ? 'The data has no behavior_logprob column, so' : 'As asked (behaviour model: fit),';
  return {
    code: 'ESTIMATED_BEHAVIOR_POLICY',
    message: `${why} log pi_b(a|s) was estimated by ${s.description}, cross-fitted over ${s.folds} folds of episodes (held-out log-likelihood ${s.heldOutLogLik.toFixed(3)} per step); every importance weight inherits that model's error.`,
  };
}

/**
 * What the evaluation uses for log pi_b: the stored column (null returned), or
 * a fitted model (mode auto with the column absent, or mode fit). Mode none
 * with the column absent raises E_NO_BEHAVIOR_LOGPROB.
 */
export function resolveBehaviorLogprob(a: TrajectoryArrays, opts: BehaviorModelOptions = {}, ctx: BehaviorFitContext = {}): FittedBehavior | null {
  const { mode } = checkBehaviorOptions(opts);
  if (mode === 'auto' && a.behaviorLogprob) return null;
  if (mode === 'none') {
    if (a.behaviorLogprob) return null;
    throw noLogprob('behaviour-model fitting is switched off (--behavior-model none)', `Use --behavior-model auto to fit pi_b from the logged (observation, action) pairs (cross-fitted; the result then carries ESTIMATED_BEHAVIOR_POLICY), or ${FIX[0]!.toLowerCase()}${FIX.slice(1)}`);
  }
  return fitBehaviorModel(a, opts, ctx, a.behaviorLogprob ? 'forced' : 'absent');
}
