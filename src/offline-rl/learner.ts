/**
 * The learner contract: what `offpolicy train` (session.ts) needs from every
 * offline-RL learner, continuous (IQL, RIQL, TD3+BC, PRDC, RCBC, BC) or
 * discrete (src/offline-rl/discrete/).
 *
 *   const learner = createLearner('iql', data, { steps, seed, ... });  // train.ts
 *   for (...) losses = learner.update();        // one gradient step, learner.step += 1
 *   const ckpt = learner.getState();           // everything that changes during training
 *   other.setState(ckpt);                       // `other` built with the same data + options
 *   learner.policy();                           // the trained policy (save / evaluate / OPE)
 *
 * Exact resume: a learner built from the same data and options, given
 * `setState(getState())` of another one at step t, must continue with
 * bit-identical updates. So the state holds every buffer that changes during
 * training (parameters, target networks, Adam m / v, log-std, ...) and every
 * scalar that does (step, Adam step counts, rng states, a cached loss, ...).
 * What is derived from the data and options alone (normalization statistics,
 * transition set, KD-trees, action scales, initial weights) is NOT stored: the
 * constructor rebuilds it, and setState overwrites what training changed.
 *
 * The helpers below (putAdam / takeAdam / takeBuffer / ...) do the bookkeeping
 * and raise E_CHECKPOINT with a precise message when a state does not fit.
 */
import { OffpolicyError } from '../core/errors.js';
import type { ContinuousPolicy, Policy } from '../core/contracts.js';
import type { Adam } from '../nn/adam.js';
import type { Rng, RngState } from '../util/rng.js';

/** A JSON value (what `scalars` may hold; NaN / Infinity are not JSON: store them as null or a string). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type StateBuffer = Float32Array | Float64Array;

/** Everything about a learner that changes during training. */
export interface LearnerState {
  /** The learner's algorithm name ("iql", "td3bc", "bc-discrete", ...); setState refuses another algo's state. */
  algo: string;
  /** Completed updates. */
  step: number;
  /**
   * Named typed-array buffers, e.g. "q0.params", "q0.target", "q0.adam.m",
   * "q0.adam.v", "actor.params", "actor.logStd". Stored bit-exactly.
   */
  buffers: Record<string, StateBuffer>;
  /**
   * JSON scalars, e.g. "q0.adam.step": 1200, "rng.batches": {...RngState},
   * "config": {...}. Values must survive JSON.stringify / JSON.parse unchanged.
   */
  scalars: Record<string, JsonValue>;
}

/** A trained policy as the session handles it: continuous or discrete, with a save method writing a policy directory. */
export type TrainedPolicy = (ContinuousPolicy | Policy) & {
  readonly algo: string;
  /** Writes the policy directory (policy.json + weights) that loadPolicy / `offpolicy rollout` read. */
  save(dir: string): Promise<void>;
};

/** The contract every learner implements. */
export interface Learner {
  /** Algorithm name, as accepted by `offpolicy train <algo>`. */
  readonly algo: string;
  /** Completed updates (update() increments it). */
  step: number;
  /** One gradient step; returns the step's losses by name (e.g. { v, q, actor }). Throws E_DIVERGED / E_NAN_BATCH. */
  update(): Record<string, number>;
  /** The current policy (a snapshot: later updates do not change it). */
  policy(): TrainedPolicy;
  /** A copy of the training state (buffers are copies, safe to keep while training goes on). */
  getState(): LearnerState;
  /** Overwrites the training state with `s` (copied in); throws E_CHECKPOINT when it does not fit this learner. */
  setState(s: LearnerState): void;
}

/** Raised when a checkpoint does not fit (other algo, other network sizes, missing entries). */
export function checkpointError(message: string, hint = 'Resume with the same algorithm, dataset and options as the run that wrote the checkpoint, or start over with --force.'): OffpolicyError {
  return new OffpolicyError('E_CHECKPOINT', message, { hint });
}

/** Starts a state: algo + step, empty buffers and scalars. */
export function newState(algo: string, step: number): LearnerState {
  return { algo, step, buffers: {}, scalars: {} };
}

/** Checks that `s` belongs to this algorithm; returns it. */
export function checkStateAlgo(s: LearnerState, algo: string): LearnerState {
  if (s.algo !== algo) throw checkpointError(`The checkpoint was written by a ${s.algo} learner, not ${algo}.`);
  if (!Number.isInteger(s.step) || s.step < 0) throw checkpointError(`The checkpoint's step count ${String(s.step)} is not a non-negative integer.`);
  return s;
}

/** Copies `src` into the state under `name`. */
export function putBuffer(s: LearnerState, name: string, src: StateBuffer): void {
  s.buffers[name] = src instanceof Float64Array ? Float64Array.from(src) : Float32Array.from(src);
}

/** Copies the state's buffer `name` into `into` (same type and length, else E_CHECKPOINT). */
export function takeBuffer(s: LearnerState, name: string, into: StateBuffer): void {
  const b = s.buffers[name];
  if (!b) throw checkpointError(`The ${s.algo} checkpoint has no buffer "${name}".`);
  if (b.constructor !== into.constructor) {
    throw checkpointError(`Checkpoint buffer "${name}" is a ${b.constructor.name}, this learner needs a ${into.constructor.name}.`);
  }
  if (b.length !== into.length) {
    throw checkpointError(`Checkpoint buffer "${name}" holds ${b.length} values but this learner's has ${into.length} (different network sizes or dataset?).`);
  }
  into.set(b);
}

/** A scalar of the state (E_CHECKPOINT when missing). */
export function takeScalar(s: LearnerState, name: string): JsonValue {
  if (!(name in s.scalars)) throw checkpointError(`The ${s.algo} checkpoint has no entry "${name}".`);
  return s.scalars[name]!;
}

/** The JSON form of a learner's options (functions, undefined and the progress knobs dropped), keys sorted. */
export function configJson(cfg: object): JsonValue {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) {
      return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
    }
    return ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v;
  };
  const plain = Object.fromEntries(Object.entries(cfg).filter(([k, v]) => typeof v !== 'function' && v !== undefined && k !== 'onProgress' && k !== 'progressEvery'));
  return JSON.parse(JSON.stringify(sortKeys(plain))) as JsonValue;
}

/** Stores the learner's options as the "config" scalar. */
export function putConfig(s: LearnerState, cfg: object): void {
  s.scalars.config = configJson(cfg);
}

/** Refuses a state written with other options (names the keys that differ). */
export function checkConfig(s: LearnerState, cfg: object): void {
  const stored = takeScalar(s, 'config');
  const mine = configJson(cfg);
  if (JSON.stringify(stored) === JSON.stringify(mine)) return;
  const a = (stored ?? {}) as Record<string, JsonValue>;
  const b = (mine ?? {}) as Record<string, JsonValue>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
  const diff = keys.map((k) => `${k}: ${JSON.stringify(a[k] ?? null)} in the checkpoint, ${JSON.stringify(b[k] ?? null)} now`).join('; ');
  throw checkpointError(`The ${s.algo} checkpoint was written with other options (${diff}).`);
}

/** A number that may be NaN / +-Infinity as a JSON value, and back. */
export function numberToJson(x: number): JsonValue {
  return Number.isFinite(x) ? x : String(x);
}
export function numberFromJson(v: JsonValue): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v);
  throw checkpointError(`Expected a number in the checkpoint, got ${JSON.stringify(v)}.`);
}

/** A trained network's state: its parameters, its Adam optimizer and, for critics, a Polyak target. */
export interface NetState {
  params: Float32Array;
  adam: Adam;
  target?: Float32Array;
}

/** Stores a network as `${name}.params`, `${name}.target` (when it has one) and its Adam state under `${name}.adam`. */
export function putNet(s: LearnerState, name: string, net: NetState): void {
  putBuffer(s, `${name}.params`, net.params);
  if (net.target) putBuffer(s, `${name}.target`, net.target);
  putAdam(s, `${name}.adam`, net.adam);
}

export function takeNet(s: LearnerState, name: string, net: NetState): void {
  takeBuffer(s, `${name}.params`, net.params);
  if (net.target) takeBuffer(s, `${name}.target`, net.target);
  takeAdam(s, `${name}.adam`, net.adam);
}

/** Stores an Adam optimizer as `${prefix}.m`, `${prefix}.v` buffers and a `${prefix}.step` scalar. */
export function putAdam(s: LearnerState, prefix: string, adam: Adam): void {
  const a = adam.exportState();
  s.buffers[`${prefix}.m`] = a.m;
  s.buffers[`${prefix}.v`] = a.v;
  s.scalars[`${prefix}.step`] = a.step;
}

export function takeAdam(s: LearnerState, prefix: string, adam: Adam): void {
  const step = takeScalar(s, `${prefix}.step`);
  const m = s.buffers[`${prefix}.m`];
  const v = s.buffers[`${prefix}.v`];
  if (typeof step !== 'number' || !m || !v) throw checkpointError(`The ${s.algo} checkpoint's optimizer state "${prefix}" is incomplete.`);
  if (!(m instanceof Float32Array) || !(v instanceof Float32Array)) throw checkpointError(`Checkpoint optimizer state "${prefix}" must be float32.`);
  adam.importState({ step, m, v });
}

/** Stores a generator's exact state under `name`. */
export function putRng(s: LearnerState, name: string, rng: Rng): void {
  s.scalars[name] = rng.getState() as unknown as JsonValue;
}

export function takeRng(s: LearnerState, name: string, rng: Rng): void {
  rng.setState(takeScalar(s, name) as unknown as RngState);
}

/** What stores and restores itself under a checkpoint (an actor: weights, log-std, optimizers). */
export interface StateHolder {
  putState(s: LearnerState): void;
  takeState(s: LearnerState): void;
}

/** The state of a learner that trains one actor (BC, RCBC and their discrete variants): config, actor, batch rng. */
export function actorLearnerState(algo: string, step: number, config: object, actor: StateHolder, rng: Rng): LearnerState {
  const s = newState(algo, step);
  putConfig(s, config);
  actor.putState(s);
  putRng(s, 'rng.batches', rng);
  return s;
}

/** Restores what actorLearnerState stored (after checking algorithm and config); returns the step to continue from. */
export function restoreActorLearner(s: LearnerState, algo: string, config: object, actor: StateHolder, rng: Rng): number {
  checkStateAlgo(s, algo);
  checkConfig(s, config);
  actor.takeState(s);
  takeRng(s, 'rng.batches', rng);
  return s.step;
}
