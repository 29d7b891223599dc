/**
 * Fitted Q evaluation (Le, Voloshin & Yue 2019; d3rlpy's FQE) on the wasm
 * engine: Q^pi of a target policy pi from logged transitions, by regressing
 * Q(s, a) on  y = r + gamma (1 - terminated) E_{a' ~ pi(.|s')} Q_target(s', a').
 *
 *  - discrete actions: the exact expectation sum_a' pi(a'|s') Q_target(s', a');
 *  - box actions: the deterministic action a' = pi(s'), or the mean over
 *    `samples` seeded draws a' ~ pi(.|s') (fresh draws every batch);
 *  - 'logged': a' is the next logged action a_{t+1} (one draw from the behaviour
 *    policy: FQE of the behaviour policy, i.e. SARSA; the corruption critic).
 * Truncated steps bootstrap from s' (pass terminated = 0), terminated steps do not.
 *
 * Defaults are d3rlpy's (REFERENCES.md): Adam lr 1e-4, MLP 2 x 256, batch 100,
 * gamma 0.99, the target network copied every 100 updates, Huber loss
 * (delta 1) for discrete actions and MSE for box actions; d3rlpy bootstraps from
 * pi's greedy action even for a stochastic pi, we take the expectation.
 * Batches are drawn uniformly with replacement with the seeded Rng; the same
 * seed gives the same bytes.
 */
import type { ContinuousPolicy, Policy, QFunction } from '../core/contracts.js';
import { dataError, OffpolicyError } from '../core/errors.js';
import { Adam } from '../nn/adam.js';
import { huberLoss, mseLoss } from '../nn/losses.js';
import { initMlp } from '../nn/mlp.js';
import { computeNormStats, identityStats } from '../nn/normalization.js';
import { Rng } from '../util/rng.js';
import { actionInput, MlpQFunction } from './q-network.js';

/** Logged transitions (s, a, r, s', terminated), row-major typed arrays. */
export interface FqeTransitions {
  n: number;
  obsDim: number;
  /** n x obsDim. */
  obs: Float32Array;
  /** Discrete: n action indices 0..K-1 (Int32Array). Box: n x actDim (Float32Array). */
  actions: Int32Array | Float32Array;
  rewards: ArrayLike<number>;
  /** n x obsDim; rows with terminated = 1 are not read (may be NaN). */
  nextObs: Float32Array;
  /** 1 when the step ended the episode in a terminal state (no bootstrap); truncated steps are 0. */
  terminated: Uint8Array;
  /** Target 'logged' only: the next logged action a_{t+1} of each non-terminated row (same layout as actions). */
  nextActions?: Int32Array | Float32Array;
  /** The rows to use (default: all n). Cross-fitting and held-out splits pass subsets. */
  rows?: Int32Array;
}

/** The action space: K discrete actions, or a box of actDim dimensions. */
export type FqeActionSpace = { kind: 'discrete'; numActions: number } | { kind: 'box'; actDim: number };

/** Draws one action per row from pi(.|s): n x actDim. */
export type ActionSampler = (obs: Float32Array, n: number, rng: Rng) => Float32Array;

/** The policy whose value FQE estimates: how a' is chosen in the target. */
export type FqeTargetPolicy =
  /** Discrete: the exact expectation over pi(.|s'). */
  | { kind: 'categorical'; policy: Pick<Policy, 'numActions' | 'actionProbs'> }
  /** Box: a' = pi(s') (a deterministic policy, or a stochastic one's mean). */
  | { kind: 'deterministic'; policy: Pick<ContinuousPolicy, 'actionDim' | 'act'> }
  /** Box: the mean of Q over `samples` draws a' ~ pi(.|s') (default 10). */
  | { kind: 'sampled'; sample: ActionSampler; samples?: number }
  /** The behaviour policy: a' = the next logged action (FqeTransitions.nextActions). */
  | { kind: 'logged' };

export interface FqeOptions {
  seed: number;
  /** Gradient updates (default 10000). */
  steps?: number;
  batchSize?: number;
  lr?: number;
  hidden?: readonly number[];
  gamma?: number;
  /** Copy the online network into the target every this many updates (default 100). */
  targetEvery?: number;
  /** Default: 'huber' for discrete actions, 'mse' for box actions. */
  loss?: 'huber' | 'mse';
  /** Standardize observations by the training rows' mean / std (default true). */
  normalize?: boolean;
  /**
   * Reuse a row's target value while the target network is unchanged (default
   * true; see TargetCache). false recomputes every batch in full: the same
   * bits, slower (it exists to check that).
   */
  targetCache?: boolean;
  /** A learning-curve point every this many updates (default steps / 20) and at the end. */
  evalEvery?: number;
  /** Initial states s_0 (n0 x obsDim): each curve point records mean V(s_0). */
  initialObs?: Float32Array;
  /** Held-out transitions: each curve point records their mean squared TD error. */
  validation?: FqeTransitions;
  /** Called every `progressEvery` updates (default 100) and at the end. */
  onProgress?: (done: number, total: number, loss: number) => void;
  progressEvery?: number;
}

export const FQE_DEFAULTS = { steps: 10000, batchSize: 100, lr: 1e-4, hidden: [256, 256], gamma: 0.99, targetEvery: 100, normalize: true, samples: 10 } as const;

export interface FqeCurvePoint {
  /** Updates done. */
  step: number;
  /** Mean training loss over the updates since the previous point. */
  tdLoss: number;
  /** Mean V(s_0) over FqeOptions.initialObs (when given and the target policy is known). */
  initialValue?: number;
  /** Mean squared TD error r + gamma (1 - terminated) V(s') - Q(s, a) on the validation rows, with the current network on both sides. */
  heldOutTdError?: number;
}

export interface FqeResult {
  model: FqeModel;
  curve: FqeCurvePoint[];
  /** The resolved settings, for the record. */
  config: { steps: number; batchSize: number; lr: number; hidden: number[]; gamma: number; targetEvery: number; loss: 'huber' | 'mse'; normalize: boolean; samples?: number; seed: number; rows: number };
}

/** How a' enters one set of next-state rows: probabilities (n x K), actions (n x S x actDim), or logged actions. */
interface NextActions {
  probs?: Float64Array;
  acts?: Float32Array;
  samples: number;
}

function fqeError(message: string, hint: string): OffpolicyError {
  return new OffpolicyError('E_FQE_DATA', message, { hint });
}

/**
 * A fitted Q^pi: the QFunction contract (q of state-action pairs; discrete
 * also qAll) plus V(s) = E_{a ~ pi} Q(s, a) under the target policy it was fitted for.
 */
export class FqeModel implements QFunction {
  constructor(
    readonly net: MlpQFunction,
    readonly space: FqeActionSpace,
    readonly target: FqeTargetPolicy,
    private readonly seed: number,
  ) {}

  get obsDim(): number {
    return this.net.obsDim;
  }
  /** Width of the action input (box: actDim; discrete: K, one-hot). */
  get actDim(): number {
    return this.net.actDim;
  }

  /** Q(s_i, a_i): actions n x actDim (discrete: one-hot n x K). */
  q(obs: Float32Array, actions: Float32Array, n: number): Float64Array {
    return this.net.q(obs, actions, n);
  }

  /** Q(s_i, a_i) for raw actions: discrete indices (Int32Array) or box actions (n x actDim). */
  qAt(obs: Float32Array, actions: Int32Array | Float32Array, n: number): Float64Array {
    return this.net.q(obs, actionInput(actions, n, this.net.numActions), n);
  }

  /** Discrete actions: n x K. */
  qAll(obs: Float32Array, n: number): Float64Array {
    return this.net.qAll(obs, n);
  }

  /** V(s_i) = E_{a ~ pi(.|s_i)} Q(s_i, a) (sampled policies: the same seeded draws on every call). */
  v(obs: Float32Array, n: number, params = this.net.params): Float64Array {
    if (this.target.kind === 'logged') {
      throw new OffpolicyError('E_FQE_VALUE', 'This Q function was fitted for the behaviour policy from logged next actions, so it has no policy to average over at a new state.', {
        hint: 'Evaluate q(obs, actions) at logged actions, or fit FQE for an explicit target policy.',
      });
    }
    return expectedQ(this.net, obs, n, policyNextActions(this.target, obs, n, new Rng(`fqe-value:${this.seed}`)), params);
  }
}

/** a' for n states under the target policy (not 'logged'). */
function policyNextActions(target: FqeTargetPolicy, obs: Float32Array, n: number, rng: Rng): NextActions {
  switch (target.kind) {
    case 'categorical':
      return { probs: target.policy.actionProbs(obs, n), samples: 1 };
    case 'deterministic':
      return { acts: target.policy.act(obs, n), samples: 1 };
    case 'sampled': {
      const S = target.samples ?? FQE_DEFAULTS.samples;
      const d = obs.length / Math.max(n, 1);
      const rep = new Float32Array(n * S * d);
      for (let i = 0; i < n; i++) for (let s = 0; s < S; s++) rep.set(obs.subarray(i * d, (i + 1) * d), (i * S + s) * d);
      return { acts: target.sample(rep, n * S, rng), samples: S };
    }
    case 'logged':
      throw new Error('unreachable: logged next actions come from the data');
  }
}

/**
 * E_{a'} Q(s'_i, a') for n rows given how a' enters (probabilities or S actions per row).
 * x: an optional buffer for the network inputs; reuseWeights as WasmMlp.infer.
 */
function expectedQ(net: MlpQFunction, obs: Float32Array, n: number, na: NextActions, params: Float32Array, x?: Float32Array, reuseWeights = false): Float64Array {
  const out = new Float64Array(n);
  if (n === 0) return out;
  if (na.probs) {
    const K = net.numActions!;
    const q = net.predictInputs(net.allActionInputs(obs, n, x?.subarray(0, n * K * (net.obsDim + K))), n * K, params, reuseWeights);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let a = 0; a < K; a++) {
        const p = na.probs[i * K + a]!;
        if (p !== 0) s += p * q[i * K + a]!;
      }
      out[i] = s;
    }
    return out;
  }
  const S = na.samples;
  const d = net.obsDim;
  let o = obs;
  if (S > 1) {
    o = new Float32Array(n * S * d);
    for (let i = 0; i < n; i++) for (let s = 0; s < S; s++) o.set(obs.subarray(i * d, (i + 1) * d), (i * S + s) * d);
  }
  const q = net.predictInputs(net.inputs(o, na.acts!, n * S, x?.subarray(0, n * S * (d + net.actDim))), n * S, params, reuseWeights);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < S; j++) s += q[i * S + j]!;
    out[i] = s / S;
  }
  return out;
}

function actionWidth(space: FqeActionSpace): number {
  return space.kind === 'discrete' ? space.numActions : space.actDim;
}

/** Checks shapes and finiteness of the rows FQE reads; returns the row list. */
function checkTransitions(t: FqeTransitions, space: FqeActionSpace, target: FqeTargetPolicy, what: string): Int32Array {
  const { n, obsDim: d } = t;
  const m = space.kind === 'discrete' ? 1 : space.actDim;
  const wantActions = space.kind === 'discrete' ? 'Int32Array of action indices' : `Float32Array of n x ${m} actions`;
  if (t.obs.length !== n * d || t.nextObs.length !== n * d || t.rewards.length !== n || t.terminated.length !== n || t.actions.length !== n * m) {
    throw fqeError(`The ${what} arrays do not fit n = ${n} rows of ${d}-dim observations and ${m}-wide actions (obs ${t.obs.length}, nextObs ${t.nextObs.length}, actions ${t.actions.length}, rewards ${t.rewards.length}, terminated ${t.terminated.length}).`, 'Pass row-major arrays of n rows each.');
  }
  if ((space.kind === 'discrete') !== t.actions instanceof Int32Array) throw fqeError(`The ${what} actions must be an ${wantActions} for ${space.kind} actions.`, 'Pass discrete actions as indices, box actions as floats.');
  if (target.kind === 'logged' && (!t.nextActions || t.nextActions.length !== n * m)) {
    throw fqeError(`FQE of the behaviour policy needs the next logged action of every row (nextActions, ${n * m} values) in the ${what}.`, 'Give nextActions (a_{t+1} of each row whose episode continues).');
  }
  const rows = t.rows ?? Int32Array.from({ length: n }, (_, i) => i);
  if (rows.length === 0) throw fqeError(`The ${what} hold no rows.`, 'Fit FQE on at least one transition.');
  const bad: number[] = [];
  let count = 0;
  const K = space.kind === 'discrete' ? space.numActions : 0;
  for (const i of rows) {
    let ok = i >= 0 && i < n && Number.isFinite(t.rewards[i]!);
    for (let j = 0; ok && j < d; j++) ok = Number.isFinite(t.obs[i * d + j]!) && (t.terminated[i] !== 0 || Number.isFinite(t.nextObs[i * d + j]!));
    if (ok && space.kind === 'discrete') {
      const a = t.actions[i]!;
      ok = a >= 0 && a < K && (target.kind !== 'logged' || t.terminated[i] !== 0 || (t.nextActions![i]! >= 0 && t.nextActions![i]! < K));
    } else for (let j = 0; ok && j < m; j++) ok = Number.isFinite(t.actions[i * m + j]!) && (target.kind !== 'logged' || t.terminated[i] !== 0 || Number.isFinite(t.nextActions![i * m + j]!));
    if (!ok) {
      count++;
      if (bad.length < 5) bad.push(i);
    }
  }
  if (count > 0) {
    const rule = `finite observation, action and reward, a finite next observation on every non-terminated step${space.kind === 'discrete' ? `, actions in 0..${K - 1}` : ''} (${what})`;
    throw dataError('E_FQE_DATA', rule, count, bad, 'Repair or drop those rows. A step whose successor is unknown cannot be bootstrapped: mark it terminated only if the episode really ended there.');
  }
  return rows;
}

/** The training batch's pieces, preallocated once per fit (an update allocates only small arrays). */
class BatchBuffers {
  readonly x: Float32Array;
  readonly nextObs: Float32Array;
  readonly nextProbs: Float64Array;
  /** The targets y, the loss gradient, and the batch positions of the bootstrapped rows. */
  readonly y: Float64Array;
  readonly grad: Float32Array;
  readonly boot: Int32Array;
  /** The data rows of the bootstrapped batch rows. */
  readonly bootRows: Int32Array;
  /** The target network's inputs: B x S x (d + w), S the next actions per row (discrete: K). */
  readonly nextX: Float32Array;
  /** The bootstrapped rows whose target value is not cached. */
  readonly missRows: Int32Array;
  constructor(B: number, d: number, w: number, S: number) {
    this.missRows = new Int32Array(B);
    this.x = new Float32Array(B * (d + w));
    this.nextObs = new Float32Array(B * d);
    this.nextProbs = new Float64Array(B * w);
    this.y = new Float64Array(B);
    this.grad = new Float32Array(B);
    this.boot = new Int32Array(B);
    this.bootRows = new Int32Array(B);
    this.nextX = new Float32Array(B * S * (d + w));
  }
}

/**
 * E_{a'} Q_target(s', a') per data row while the target network is unchanged
 * (between two copies, every targetEvery updates): a row drawn again in that
 * window (about 1 - (1 - e^{-u}) / u of the draws, u = batch x targetEvery /
 * rows: 12% at 256 x 100 / 100k) is not recomputed. Only for targets that are
 * functions of the row (deterministic, categorical, logged next action; not
 * 'sampled', which draws afresh each batch). The network computes each row on
 * its own, so a value does not depend on the rows it was computed with: the
 * targets are the bits of computing every batch in full.
 */
class TargetCache {
  /** The target network version (bumped at each copy) a row's value was computed under; 0 = never. */
  private readonly stamp: Int32Array;
  readonly value: Float64Array;
  private version = 1;
  constructor(n: number) {
    this.stamp = new Int32Array(n);
    this.value = new Float64Array(n);
  }
  /** The target network changed: every cached value is stale. */
  invalidate(): void {
    this.version++;
  }
  /** Compacts rows[0..m-1] to the distinct rows without a current value (marking them current); returns their count. */
  misses(rows: Int32Array, m: number, out: Int32Array): number {
    let k = 0;
    for (let t = 0; t < m; t++) {
      const i = rows[t]!;
      if (this.stamp[i] !== this.version) {
        this.stamp[i] = this.version;
        out[k++] = i;
      }
    }
    return k;
  }
}

/**
 * Fits Q^pi of `target` on `data`. Returns the model, the learning curve and
 * the resolved settings. Throws E_FQE_DATA for arrays that do not fit or rows
 * that cannot be used, E_TRAIN_PARAM for bad settings.
 */
export function fitFqe(data: FqeTransitions, space: FqeActionSpace, target: FqeTargetPolicy, opts: FqeOptions): FqeResult {
  const steps = opts.steps ?? FQE_DEFAULTS.steps;
  const B = opts.batchSize ?? FQE_DEFAULTS.batchSize;
  const lr = opts.lr ?? FQE_DEFAULTS.lr;
  const hidden = [...(opts.hidden ?? FQE_DEFAULTS.hidden)];
  const gamma = opts.gamma ?? FQE_DEFAULTS.gamma;
  const targetEvery = opts.targetEvery ?? FQE_DEFAULTS.targetEvery;
  const lossKind = opts.loss ?? (space.kind === 'discrete' ? 'huber' : 'mse');
  const normalize = opts.normalize ?? FQE_DEFAULTS.normalize;
  const evalEvery = opts.evalEvery ?? Math.max(1, Math.floor(steps / 20));
  const param = (ok: boolean, msg: string): void => {
    if (!ok) throw new OffpolicyError('E_TRAIN_PARAM', msg, { hint: 'Leave the FQE setting at its default (REFERENCES.md: d3rlpy) or give a valid value.' });
  };
  for (const [k, v] of Object.entries({ steps, batchSize: B, targetEvery, evalEvery })) param(Number.isInteger(v) && v >= 1, `FQE ${k} must be a positive integer, got ${v}.`);
  param(lr > 0 && Number.isFinite(lr), `FQE learning rate must be a positive number, got ${lr}.`);
  param(gamma >= 0 && gamma <= 1, `FQE gamma must be in [0, 1], got ${gamma}.`);
  param(hidden.length > 0 && hidden.every((h) => Number.isInteger(h) && h >= 1), `FQE hidden widths must be positive integers, got [${hidden.join(', ')}].`);
  if (target.kind === 'categorical' || space.kind === 'discrete') {
    param(target.kind === 'categorical' || target.kind === 'logged', `A discrete action space needs a categorical target policy (or 'logged'), not '${target.kind}'.`);
    param(space.kind === 'discrete', 'A categorical target policy needs a discrete action space.');
    if (target.kind === 'categorical') param(target.policy.numActions === actionWidth(space), `The target policy has ${target.policy.numActions} actions, the data ${actionWidth(space)}.`);
  }
  if (target.kind === 'deterministic') param(target.policy.actionDim === actionWidth(space), `The target policy acts in ${target.policy.actionDim} dimensions, the data in ${actionWidth(space)}.`);
  const samples = target.kind === 'sampled' ? (target.samples ?? FQE_DEFAULTS.samples) : undefined;
  if (samples !== undefined) param(Number.isInteger(samples) && samples >= 1, `FQE samples per next state must be a positive integer, got ${samples}.`);

  const rows = checkTransitions(data, space, target, 'training transitions');
  const valRows = opts.validation ? checkTransitions(opts.validation, space, target, 'validation transitions') : null;
  const d = data.obsDim;
  const w = actionWidth(space);
  const K = space.kind === 'discrete' ? space.numActions : undefined;
  const rng = new Rng(`fqe:${opts.seed}`);
  let stats = identityStats(d);
  if (normalize) {
    const sel = new Float32Array(rows.length * d);
    rows.forEach((i, k) => sel.set(data.obs.subarray(i * d, (i + 1) * d), k * d));
    stats = computeNormStats([sel], d);
  }
  const shape = { obsDim: d, hidden, ...(K !== undefined ? { numActions: K } : { actDim: w }) };
  const net = new MlpQFunction(shape, initMlp({ sizes: [d + w, ...hidden, 1], output: 'linear' }, rng.fork('init')), stats.mean, stats.std);
  const model = new FqeModel(net, space, target, opts.seed);
  const targetParams = Float32Array.from(net.params);
  const grad = new Float32Array(net.params.length);
  const adam = new Adam(net.params.length, { lr });
  const batchRng = rng.fork('batches');
  const sampleRng = rng.fork('samples');

  // The next actions of every bootstrapped row, computed once (the target policy does not change): per-row probabilities or actions.
  const na = precomputeNextActions(data, rows, space, target);
  const buf = new BatchBuffers(B, d, w, K ?? samples ?? 1);
  // the target network's weights were loaded into the engine by the previous update unless just synced
  // whether the engine holds the target network's current weights (WasmMlp.infer's reuseWeights): not after a copy
  const targetWeights = { loaded: false };
  const cache = target.kind === 'sampled' || opts.targetCache === false ? null : new TargetCache(data.n);
  const idx = new Int32Array(B);
  const curve: FqeCurvePoint[] = [];
  let lossSum = 0;
  let lossCount = 0;
  const progressEvery = opts.progressEvery ?? 100;
  for (let step = 1; step <= steps; step++) {
    for (let b = 0; b < B; b++) idx[b] = rows[batchRng.int(rows.length)]!;
    const y = batchTargets(data, idx, B, target, na, net, targetParams, gamma, buf, sampleRng, targetWeights, cache);
    net.gatherInputs(data.obs, data.actions, idx, B, buf.x);
    const pred = net.net.forward(net.params, buf.x, B);
    const l = lossKind === 'huber' ? huberLoss(pred, y, 1, buf.grad) : mseLoss(pred, y, buf.grad);
    if (!Number.isFinite(l.loss)) {
      throw new OffpolicyError('E_DIVERGED', `Fitted Q evaluation diverged at update ${step}: the TD loss is ${l.loss}.`, {
        hint: 'Lower the learning rate, keep observation normalization on, or check the rewards for extreme values.',
      });
    }
    net.net.backward(l.grad, grad);
    adam.step(net.params, grad);
    if (step % targetEvery === 0) {
      targetParams.set(net.params);
      targetWeights.loaded = false;
      cache?.invalidate();
    }
    lossSum += l.loss;
    lossCount++;
    if (step % evalEvery === 0 || step === steps) {
      const point: FqeCurvePoint = { step, tdLoss: lossSum / lossCount };
      if (opts.initialObs && target.kind !== 'logged') {
        const n0 = opts.initialObs.length / d;
        const v0 = model.v(opts.initialObs, n0);
        point.initialValue = v0.reduce((a, b) => a + b, 0) / n0;
      }
      if (opts.validation && valRows) point.heldOutTdError = tdError(model, opts.validation, valRows, space, target, gamma);
      curve.push(point);
      lossSum = 0;
      lossCount = 0;
    }
    if (opts.onProgress && (step % progressEvery === 0 || step === steps)) opts.onProgress(step, steps, l.loss);
  }
  return {
    model,
    curve,
    config: { steps, batchSize: B, lr, hidden, gamma, targetEvery, loss: lossKind, normalize, ...(samples !== undefined ? { samples } : {}), seed: opts.seed, rows: rows.length },
  };
}

/** Rows idx[0..B-1] of src (d wide) into out, by element (a subarray view per row would allocate). */
function gatherObs(src: Float32Array, idx: Int32Array, B: number, d: number, out: Float32Array): Float32Array {
  for (let b = 0; b < B; b++) {
    const i = idx[b]! * d;
    const o = b * d;
    for (let j = 0; j < d; j++) out[o + j] = src[i + j]!;
  }
  return out;
}

function gatherActions(actions: Int32Array | Float32Array, idx: Int32Array, B: number, K: number | undefined, w: number, out: Float32Array): void {
  if (K !== undefined) {
    out.fill(0);
    for (let b = 0; b < B; b++) out[b * K + actions[idx[b]!]!] = 1;
  } else {
    for (let b = 0; b < B; b++) {
      const i = idx[b]!;
      for (let j = 0; j < w; j++) out[b * w + j] = actions[i * w + j]!;
    }
  }
}

/** Per data row: pi(.|s') (n x K) or pi(s') (n x actDim) for the bootstrapped rows; the logged next actions as inputs. */
function precomputeNextActions(data: FqeTransitions, rows: Int32Array, space: FqeActionSpace, target: FqeTargetPolicy): { probs?: Float64Array; acts?: Float32Array } {
  if (target.kind === 'sampled') return {};
  const d = data.obsDim;
  const w = actionWidth(space);
  const boot = rows.filter((i) => data.terminated[i] === 0);
  const uniq = Int32Array.from(new Set(boot)).sort();
  if (target.kind === 'logged') {
    const acts = new Float32Array(data.n * w);
    const K = space.kind === 'discrete' ? space.numActions : undefined;
    for (const i of uniq) {
      if (K !== undefined) acts[i * K + data.nextActions![i]!] = 1;
      else for (let j = 0; j < w; j++) acts[i * w + j] = data.nextActions![i * w + j]!;
    }
    return { acts };
  }
  const out = target.kind === 'categorical' ? { probs: new Float64Array(data.n * w) } : { acts: new Float32Array(data.n * w) };
  const CH = 65536;
  for (let k0 = 0; k0 < uniq.length; k0 += CH) {
    const part = uniq.subarray(k0, Math.min(uniq.length, k0 + CH));
    const obs = gatherObs(data.nextObs, part, part.length, d, new Float32Array(part.length * d));
    const r = target.kind === 'categorical' ? target.policy.actionProbs(obs, part.length) : target.policy.act(obs, part.length);
    if (r.length !== part.length * w) throw fqeError(`The target policy returned ${r.length} values for ${part.length} states; expected ${part.length * w}.`, 'The policy must return one row of width K (probabilities) or actDim (actions) per state.');
    const dst = (out.probs ?? out.acts)!;
    part.forEach((i, k) => {
      for (let j = 0; j < w; j++) dst[i * w + j] = r[k * w + j]!;
    });
  }
  return out;
}

/** y_b = r + gamma (1 - terminated) E_{a'} Q_target(s', a') for the batch rows idx (written into buf.y). */
function batchTargets(
  data: FqeTransitions,
  idx: Int32Array,
  B: number,
  target: FqeTargetPolicy,
  pre: { probs?: Float64Array; acts?: Float32Array },
  net: MlpQFunction,
  targetParams: Float32Array,
  gamma: number,
  buf: BatchBuffers,
  rng: Rng,
  targetWeights: { loaded: boolean },
  cache: TargetCache | null = null,
): Float64Array {
  const y = buf.y;
  // the bootstrapped rows of the batch, compacted
  const boot = buf.boot;
  const rows = buf.bootRows;
  let m = 0;
  for (let b = 0; b < B; b++) {
    const i = idx[b]!;
    y[b] = data.rewards[i]!;
    if (data.terminated[i] === 0) {
      boot[m] = b;
      rows[m++] = i;
    }
  }
  if (m === 0 || gamma === 0) return y;
  if (cache) {
    // the values of rows not yet cached under this target network, then every row's from the cache
    const miss = buf.missRows;
    const u = cache.misses(rows, m, miss);
    if (u > 0) {
      const fresh = nextValues(data, miss, u, target, pre, net, targetParams, buf, rng, targetWeights);
      for (let k = 0; k < u; k++) cache.value[miss[k]!] = fresh[k]!;
    }
    for (let k = 0; k < m; k++) {
      const b = boot[k]!;
      y[b] = y[b]! + gamma * cache.value[rows[k]!]!;
    }
    return y;
  }
  const v = nextValues(data, rows, m, target, pre, net, targetParams, buf, rng, targetWeights);
  for (let k = 0; k < m; k++) {
    const b = boot[k]!;
    y[b] = y[b]! + gamma * v[k]!;
  }
  return y;
}

/** E_{a'} Q_target(s'_i, a') for the data rows rows[0..m-1]. */
function nextValues(
  data: FqeTransitions,
  rows: Int32Array,
  m: number,
  target: FqeTargetPolicy,
  pre: { probs?: Float64Array; acts?: Float32Array },
  net: MlpQFunction,
  targetParams: Float32Array,
  buf: BatchBuffers,
  rng: Rng,
  targetWeights: { loaded: boolean },
): Float64Array {
  const reuseWeights = targetWeights.loaded;
  targetWeights.loaded = true;
  let v: Float64Array;
  if (pre.acts) {
    // a' per row known (deterministic or logged): the target network's inputs straight from the data
    v = net.predictInputs(net.gatherInputs(data.nextObs, pre.acts, rows, m, buf.nextX), m, targetParams, reuseWeights);
  } else {
    const d = data.obsDim;
    const nobs = buf.nextObs.subarray(0, m * d);
    for (let k = 0; k < m; k++) {
      const i = rows[k]! * d;
      for (let j = 0; j < d; j++) nobs[k * d + j] = data.nextObs[i + j]!;
    }
    let na: NextActions;
    if (target.kind === 'sampled') na = policyNextActions(target, nobs, m, rng);
    else {
      const K = pre.probs!.length / data.n;
      const probs = buf.nextProbs.subarray(0, m * K);
      for (let k = 0; k < m; k++) for (let a = 0; a < K; a++) probs[k * K + a] = pre.probs![rows[k]! * K + a]!;
      na = { probs, samples: 1 };
    }
    v = expectedQ(net, nobs, m, na, targetParams, buf.nextX, reuseWeights);
  }
  return v;
}

/** Mean squared TD error on the rows, with the current network on both sides. */
function tdError(model: FqeModel, t: FqeTransitions, rows: Int32Array, space: FqeActionSpace, target: FqeTargetPolicy, gamma: number): number {
  const d = t.obsDim;
  const w = actionWidth(space);
  const K = space.kind === 'discrete' ? space.numActions : undefined;
  const n = rows.length;
  const obs = gatherObs(t.obs, rows, n, d, new Float32Array(n * d));
  const act = new Float32Array(n * w);
  gatherActions(t.actions, rows, n, K, w, act);
  const q = model.q(obs, act, n);
  const boot = Int32Array.from(rows.filter((i) => t.terminated[i] === 0));
  const nobs: Float32Array = gatherObs(t.nextObs, boot, boot.length, d, new Float32Array(boot.length * d));
  let v: Float64Array;
  if (target.kind === 'logged') {
    const nact = new Float32Array(boot.length * w);
    gatherActions(t.nextActions!, boot, boot.length, K, w, nact);
    v = model.q(nobs, nact, boot.length);
  } else v = model.v(nobs, boot.length);
  let s = 0;
  let k = 0;
  for (let r = 0; r < n; r++) {
    const i = rows[r]!;
    const y = t.rewards[i]! + (t.terminated[i] === 0 ? gamma * v[k++]! : 0);
    s += (y - q[r]!) ** 2;
  }
  return s / n;
}

/**
 * K-fold cross-fitting: the rows are split into `folds` groups by a seeded
 * assignment of their `groups` (e.g. episode ids, so an episode stays in one
 * fold); fold f's model is fitted on the other folds. foldOf[i] is row i's fold:
 * predict row i with folds[foldOf[i]].model.
 */
export function crossFitFqe(
  data: FqeTransitions,
  space: FqeActionSpace,
  target: FqeTargetPolicy,
  opts: FqeOptions & { folds: number; groups?: ArrayLike<number | bigint> },
): { folds: FqeResult[]; foldOf: Int32Array } {
  const k = opts.folds;
  if (!Number.isInteger(k) || k < 2) throw new OffpolicyError('E_TRAIN_PARAM', `Cross-fitting needs at least 2 folds, got ${k}.`, { hint: 'Pass folds >= 2 (e.g. 2 or 5), or fit once without cross-fitting.' });
  const rows = data.rows ?? Int32Array.from({ length: data.n }, (_, i) => i);
  const groupOf = (i: number): string => String(opts.groups ? opts.groups[i] : i);
  const keys = [...new Set(Array.from(rows, groupOf))];
  if (keys.length < k) throw new OffpolicyError('E_TRAIN_PARAM', `Cross-fitting with ${k} folds needs at least ${k} groups; the data has ${keys.length}.`, { hint: 'Use fewer folds.' });
  // seeded shuffle of the groups, then round-robin into folds
  const rng = new Rng(`fqe-folds:${opts.seed}`);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  const fold = new Map(keys.map((g, i) => [g, i % k]));
  const foldOf = new Int32Array(data.n).fill(-1);
  for (const i of rows) foldOf[i] = fold.get(groupOf(i))!;
  const results: FqeResult[] = [];
  for (let f = 0; f < k; f++) {
    const train = Int32Array.from(rows.filter((i) => foldOf[i] !== f));
    const { folds: _f, groups: _g, ...rest } = opts;
    results.push(fitFqe({ ...data, rows: train }, space, target, { ...rest, seed: opts.seed * k + f }));
  }
  return { folds: results, foldOf };
}
