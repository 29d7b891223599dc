/**
 * Q predictions for DM / DR by fitted Q evaluation (src/models/fqe.ts), per
 * candidate, on the logged steps:
 *
 *   target policy   discrete: the exact expectation over pi(.|s'); continuous
 *                   deterministic: a' = mu(s'); continuous stochastic: the mean over
 *                   seeded draws a' ~ pi(.|s') (the policy's own sampler, or a Gaussian
 *                   from its mean and actionStd())
 *   bootstrapping   terminated steps do not bootstrap; truncated steps do, from
 *                   next_observation; a truncated step without a stored
 *                   next_observation cannot and is left out of the fit
 *   held-out error  folds = 1: 10% of the episodes (seeded) are held out of the fit
 *                   and the learning curve records their TD error; folds >= 2:
 *                   K-fold cross-fitting by episode, each step predicted by the
 *                   model that did not see its episode, the curve from fold 0
 *
 * V(s_t) comes from the same model (FqeModel.v), so DM = mean V(s_0) and DR's
 * control variate use one Q.
 */
import type { ContinuousPolicy, Policy } from '../../core/contracts.js';
import { OffpolicyError } from '../../core/errors.js';
import type { TrajectoryArrays } from '../../datasets/load-trajectories.js';
import { crossFitFqe, fitFqe, type ActionSampler, type FqeCurvePoint, type FqeModel, type FqeOptions, type FqeResult, type FqeTargetPolicy, type FqeTransitions } from '../../models/fqe.js';
import { Rng } from '../../util/rng.js';
import type { ResolvedCandidate } from './candidates.js';
import type { QProvider } from './evaluate.js';

export interface FqeSettings {
  seed: number;
  /** Gradient updates per fit (FQE default 10,000). */
  steps?: number;
  hidden?: readonly number[];
  batchSize?: number;
  lr?: number;
  /** Cross-fitting folds (1 = a single fit with 10% of episodes held out). */
  folds?: number;
  /** Draws per next state for stochastic continuous candidates. */
  samples?: number;
  onProgress?: (candidate: string, done: number, total: number) => void;
}

export interface FqeFitSummary {
  curve: FqeCurvePoint[];
  /** Last held-out TD error (mean squared). */
  heldOutTdError: number | null;
  folds: number;
  config: FqeResult['config'];
}

/** A policy may offer its own sampler (simulation policies do). */
type WithSampler = { sampleActions?: ActionSampler; actionStd?: () => Float64Array; kind?: string };

export function targetFor(cand: ResolvedCandidate, samples: number | undefined): FqeTargetPolicy {
  const p = cand.policy;
  if (!p) {
    throw new OffpolicyError('E_FQE_POLICY', `Candidate "${cand.name}" is a table of probabilities at the logged steps; fitted Q evaluation needs the policy at every next state.`, {
      hint: 'Give the candidate as a policy (a trained directory or a JSON policy), or supply Q as columns (--reward-model columns:q_0,...).',
    });
  }
  if (typeof (p as Policy).actionProbs === 'function') return { kind: 'categorical', policy: p as Policy };
  const cp = p as ContinuousPolicy & WithSampler;
  if (cp.sampleActions) return { kind: 'sampled', sample: cp.sampleActions.bind(cp), ...(samples ? { samples } : {}) };
  if (cp.kind === 'deterministic' || !cp.actionStd) return { kind: 'deterministic', policy: cp };
  const std = cp.actionStd();
  const m = cp.actionDim;
  const sample: ActionSampler = (obs, n, rng) => {
    const mean = cp.act(obs, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) mean[i * m + j] = mean[i * m + j]! + std[j]! * rng.normal();
    return mean;
  };
  return { kind: 'sampled', sample, ...(samples ? { samples } : {}) };
}

/** Transitions of the logged steps; rows that cannot be fitted (truncated without a next observation) are left out. */
function transitions(a: TrajectoryArrays): FqeTransitions {
  if (!a.nextObservations) {
    throw new OffpolicyError('E_FQE_DATA', 'The trajectory data has no next_observation column, so fitted Q evaluation has no s\' to bootstrap from.', {
      hint: 'Store next_observation, or supply Q as columns (--reward-model columns:q_0,...).',
    });
  }
  const rows: number[] = [];
  for (let r = 0; r < a.n; r++) if (a.terminated[r] || !a.nextObservationMissing?.[r]) rows.push(r);
  return { n: a.n, obsDim: a.obsDim, obs: a.observations, actions: a.actions, rewards: a.rewards, nextObs: a.nextObservations, terminated: a.terminated, rows: Int32Array.from(rows) };
}

function predict(model: FqeModel, a: TrajectoryArrays, rows: Int32Array | null): { q: Float64Array; v: Float64Array } {
  const idx = rows ?? Int32Array.from({ length: a.n }, (_, i) => i);
  const m = idx.length;
  const d = a.obsDim;
  const obs = new Float32Array(m * d);
  const w = a.discreteActions !== undefined ? 1 : a.actDim;
  const acts = a.discreteActions !== undefined ? new Int32Array(m) : new Float32Array(m * w);
  for (let k = 0; k < m; k++) {
    const r = idx[k]!;
    obs.set(a.observations.subarray(r * d, (r + 1) * d), k * d);
    if (w === 1 && a.discreteActions !== undefined) acts[k] = a.actions[r]!;
    else acts.set((a.actions as Float32Array).subarray(r * w, (r + 1) * w), k * w);
  }
  return { q: model.qAt(obs, acts, m), v: model.v(obs, m) };
}

/**
 * V(next_observation) into `out` on the last steps among `rows` of episodes that
 * did not terminate (marginal DR bootstraps there); other entries are left as they are.
 */
function predictNextValues(model: FqeModel, a: TrajectoryArrays, rows: ArrayLike<number>, out: Float64Array): void {
  if (!a.nextObservations) return;
  const last: number[] = [];
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]!;
    const final = r === a.n - 1 || a.episodeId[r + 1] !== a.episodeId[r];
    if (final && !a.terminated[r] && !a.nextObservationMissing?.[r]) last.push(r);
  }
  if (last.length === 0) return;
  const d = a.obsDim;
  const obs = new Float32Array(last.length * d);
  last.forEach((r, k) => obs.set(a.nextObservations!.subarray(r * d, (r + 1) * d), k * d));
  const v = model.v(obs, last.length);
  last.forEach((r, k) => (out[r] = v[k]!));
}

/** Episode-level split: episodes whose seeded uniform draw falls under `share` are held out. */
function holdOut(a: TrajectoryArrays, share: number, seed: number): { train: Int32Array; val: Int32Array } {
  const rng = new Rng(`fqe-holdout:${seed}`);
  const train: number[] = [];
  const val: number[] = [];
  let held = false;
  for (let r = 0; r < a.n; r++) {
    if (r === 0 || a.episodeId[r] !== a.episodeId[r - 1]) held = rng.uniform() < share;
    (held ? val : train).push(r);
  }
  if (val.length === 0 || train.length === 0) return { train: Int32Array.from({ length: a.n }, (_, i) => i), val: new Int32Array(0) };
  return { train: Int32Array.from(train), val: Int32Array.from(val) };
}

function fqeBase(cand: ResolvedCandidate, a: TrajectoryArrays, gamma: number, settings: FqeSettings): FqeOptions {
  const starts: number[] = [];
  for (let r = 0; r < a.n; r++) if (a.step[r] === 0) starts.push(r);
  const initialObs = new Float32Array(starts.length * a.obsDim);
  starts.forEach((r, k) => initialObs.set(a.observations.subarray(r * a.obsDim, (r + 1) * a.obsDim), k * a.obsDim));
  return {
    seed: settings.seed,
    gamma,
    initialObs,
    ...(settings.steps !== undefined ? { steps: settings.steps } : {}),
    ...(settings.hidden ? { hidden: settings.hidden } : {}),
    ...(settings.batchSize !== undefined ? { batchSize: settings.batchSize } : {}),
    ...(settings.lr !== undefined ? { lr: settings.lr } : {}),
    onProgress: (done, total) => settings.onProgress?.(cand.name, done, total),
  };
}

function fitSingle(cand: ResolvedCandidate, a: TrajectoryArrays, gamma: number, settings: FqeSettings, base: FqeOptions): { model: FqeModel; summary: FqeFitSummary } {
  const target = targetFor(cand, settings.samples);
  const data = transitions(a);
  const space = a.discreteActions !== undefined ? ({ kind: 'discrete', numActions: a.discreteActions } as const) : ({ kind: 'box', actDim: a.actDim } as const);
  const fitted = new Set(data.rows);
  const { train, val } = holdOut(a, 0.1, settings.seed);
  const trainRows = Int32Array.from(Array.from(train).filter((r) => fitted.has(r)));
  const valRows = Int32Array.from(Array.from(val).filter((r) => fitted.has(r)));
  const res = fitFqe({ ...data, rows: trainRows }, space, target, { ...base, ...(valRows.length > 0 ? { validation: { ...data, rows: valRows } } : {}) });
  return { model: res.model, summary: { curve: res.curve, heldOutTdError: res.curve[res.curve.length - 1]?.heldOutTdError ?? null, folds: 1, config: res.config } };
}

/** Fits FQE for one candidate on the logged steps (10% of episodes held out for the TD error). */
export function fitCandidateFqe(cand: ResolvedCandidate, a: TrajectoryArrays, gamma: number, settings: FqeSettings): { model: FqeModel; summary: FqeFitSummary } {
  return fitSingle(cand, a, gamma, settings, fqeBase(cand, a, gamma, settings));
}

/** A QProvider fitting FQE for each candidate; `fits` collects each candidate's learning curve and held-out TD error. */
export function fqeProvider(settings: FqeSettings, fits: Map<string, FqeFitSummary> = new Map()): QProvider {
  return async (cand, a, gamma) => {
    const target = targetFor(cand, settings.samples);
    const data = transitions(a);
    const space = a.discreteActions !== undefined ? ({ kind: 'discrete', numActions: a.discreteActions } as const) : ({ kind: 'box', actDim: a.actDim } as const);
    const base = fqeBase(cand, a, gamma, settings);
    const fitted = new Set(data.rows);
    const folds = settings.folds ?? 1;
    const qLogged = new Float64Array(a.n);
    const vState = new Float64Array(a.n);
    const vAtNext = new Float64Array(a.n).fill(NaN);
    let summary: FqeFitSummary;
    if (folds <= 1) {
      const fit = fitSingle(cand, a, gamma, settings, base);
      const p = predict(fit.model, a, null);
      qLogged.set(p.q);
      vState.set(p.v);
      predictNextValues(fit.model, a, Int32Array.from({ length: a.n }, (_, r) => r), vAtNext);
      summary = fit.summary;
    } else {
      const { folds: results, foldOf } = crossFitFqe(data, space, target, { ...base, folds, groups: a.episodeId });
      // every row (fitted or not) is predicted by the fold model that did not see its episode
      const episodeFold = new Map<number, number>();
      for (let r = 0; r < a.n; r++) if (foldOf[r]! >= 0) episodeFold.set(a.episodeId[r]!, foldOf[r]!);
      let sq = 0;
      let cnt = 0;
      for (let f = 0; f < folds; f++) {
        const model = results[f]!.model;
        const rows = Int32Array.from(Array.from({ length: a.n }, (_, r) => r).filter((r) => (episodeFold.get(a.episodeId[r]!) ?? 0) === f));
        const p = predict(model, a, rows);
        rows.forEach((r, k) => {
          qLogged[r] = p.q[k]!;
          vState[r] = p.v[k]!;
        });
        predictNextValues(model, a, rows, vAtNext);
        // held-out TD error of this fold's model on the episodes it did not see
        const td = Array.from(rows).filter((r) => fitted.has(r));
        const next = new Float32Array(td.length * a.obsDim);
        td.forEach((r, k) => next.set(a.nextObservations!.subarray(r * a.obsDim, (r + 1) * a.obsDim), k * a.obsDim));
        const vNext = model.v(next, td.length);
        const pos = new Map(Array.from(rows, (r, k) => [r, k] as const));
        td.forEach((r, k) => {
          const y = a.rewards[r]! + (a.terminated[r] ? 0 : gamma * vNext[k]!);
          sq += (y - p.q[pos.get(r)!]!) ** 2;
          cnt++;
        });
      }
      summary = { curve: results[0]!.curve, heldOutTdError: cnt > 0 ? sq / cnt : null, folds, config: results[0]!.config };
    }
    fits.set(cand.name, summary);
    return { qLogged, vState, vNext: vAtNext, source: folds > 1 ? `fqe (${folds}-fold cross-fitted)` : 'fqe' };
  };
}

/** Q predictions from one already-fitted model (e.g. fitted on independent data), for every candidate it was fitted for. */
export function fqeModelProvider(model: FqeModel): QProvider {
  return async (_cand, a) => {
    const p = predict(model, a, null);
    const vNext = new Float64Array(a.n).fill(NaN);
    predictNextValues(model, a, Int32Array.from({ length: a.n }, (_, r) => r), vNext);
    return { qLogged: p.q, vState: p.v, vNext, source: 'fqe (given model)' };
  };
}
