/**
 * A trained actor as a ContinuousPolicy: mean = maxAction * tanh(MLP((s - mean) / std)).
 * A Gaussian actor adds a state-independent log-std vector (IQL's Gaussian
 * policy); `act` returns the mean, `logProb` the Gaussian log-density of the
 * given actions. A return-conditioned actor (RCBC) takes one more input, the
 * scaled return-to-go: it starts at the target return at `reset()` and drops
 * by each reward passed to `observeReward` (rollouts call both). Saved as a directory: policy.json (architecture,
 * normalization, scales) + actor.bin (little-endian float32 weights).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkSizes, checkVector, policyFormatError, readPolicyWeights } from './policy-guard.js';
import { OffpolicyError } from '../core/errors.js';
import type { ContinuousPolicy } from '../core/contracts.js';
import { checkSpec, forwardJs, parameterCount, type MlpSpec } from '../nn/mlp.js';
import { WasmMlp } from '../nn/wasm-mlp.js';
import { gaussianLogProb, LOG_STD_MAX, LOG_STD_MIN } from './losses.js';

export type ActorKind = 'deterministic' | 'gaussian';

/**
 * From this many rows, `act` runs the batch through the wasm engine
 * (src/nn/wasm-mlp.ts) in chunks; below it, the plain JS pass (float64
 * accumulation; what rollouts use, a few rows at a time). The JS pass is slow
 * on large batches (README, Offline RL).
 */
export const ENGINE_MIN_ROWS = 512;
const ENGINE_CHUNK_ROWS = 8192;

/** One inference engine per network shape, created on first use. */
const engines = new Map<string, WasmMlp>();
function engineFor(spec: MlpSpec): WasmMlp {
  const key = `${spec.sizes.join(',')}:${spec.output}`;
  let e = engines.get(key);
  if (!e) engines.set(key, (e = new WasmMlp(spec)));
  return e;
}

/** What a saved policy network needs to run: weights, normalization and, when return-conditioned, the return still to collect. */
export interface PolicyNetwork {
  spec: MlpSpec;
  params: Float32Array;
  obsDim: number;
  obsMean: Float32Array;
  obsStd: Float32Array;
  returnConditioning: ReturnConditioning | null;
  returnToGo: number;
}

/**
 * The network's output for n observations (already shape-checked): each row
 * normalized by the dataset statistics, with the scaled return-to-go appended
 * for return-conditioned policies.
 */
export function policyNetworkOutput(p: PolicyNetwork, obs: Float32Array, n: number): Float32Array {
  const d = p.obsDim;
  const rc = p.returnConditioning;
  const w = d + (rc ? 1 : 0);
  const x = new Float32Array(n * w);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) x[r * w + j] = (obs[r * d + j]! - p.obsMean[j]!) / p.obsStd[j]!;
    if (rc) x[r * w + d] = p.returnToGo * rc.scale;
  }
  return forwardForInference(p.spec, p.params, x, n);
}

/**
 * Inference forward pass of a policy network over n rows: the wasm engine in
 * chunks of ENGINE_CHUNK_ROWS when the batch is large, else the plain JS pass.
 */
export function forwardForInference(spec: MlpSpec, params: Float32Array, x: Float32Array, n: number): Float32Array {
  if (n < ENGINE_MIN_ROWS) return forwardJs(spec, params, x, n);
  const net = engineFor(spec);
  const w = spec.sizes[0]!;
  const k = spec.sizes[spec.sizes.length - 1]!;
  const y = new Float32Array(n * k);
  for (let r0 = 0; r0 < n; r0 += ENGINE_CHUNK_ROWS) {
    const rows = Math.min(ENGINE_CHUNK_ROWS, n - r0);
    y.set(net.infer(params, x.subarray(r0 * w, (r0 + rows) * w), rows), r0 * k);
  }
  return y;
}

export interface PolicyJson {
  format: 'offpolicy-policy';
  formatVersion: 1;
  algo: string;
  kind: ActorKind;
  obsDim: number;
  actDim: number;
  actor: { sizes: number[]; output: 'tanh' };
  maxAction: number[];
  logStd: number[] | null;
  obsMean: number[];
  obsStd: number[];
  weightsFile: string;
  /** Return-conditioned actors: the return to aim for and the scale applied to the return-to-go input. */
  returnConditioning?: ReturnConditioning;
  /** How it was trained (free-form: config, dataset, steps). */
  training?: Record<string, unknown>;
}

export interface ReturnConditioning {
  targetReturn: number;
  scale: number;
}

export interface MlpPolicyInit {
  returnConditioning?: ReturnConditioning;
  algo: string;
  kind: ActorKind;
  spec: MlpSpec;
  params: Float32Array;
  maxAction: Float32Array;
  logStd: Float32Array | null;
  obsMean: Float32Array;
  obsStd: Float32Array;
  training?: Record<string, unknown>;
}

export class MlpPolicy implements ContinuousPolicy {
  readonly algo: string;
  readonly kind: ActorKind;
  readonly spec: MlpSpec;
  readonly params: Float32Array;
  readonly maxAction: Float32Array;
  readonly logStd: Float32Array | null;
  readonly obsMean: Float32Array;
  readonly obsStd: Float32Array;
  readonly training?: Record<string, unknown>;
  readonly obsDim: number;
  readonly actionDim: number;
  readonly returnConditioning: ReturnConditioning | null;
  /** Return still to collect in the current episode (return-conditioned actors). */
  returnToGo = 0;

  constructor(init: MlpPolicyInit) {
    checkSpec(init.spec);
    this.algo = init.algo;
    this.kind = init.kind;
    this.spec = init.spec;
    this.params = Float32Array.from(init.params);
    this.maxAction = Float32Array.from(init.maxAction);
    this.logStd = init.logStd && Float32Array.from(init.logStd);
    this.obsMean = Float32Array.from(init.obsMean);
    this.obsStd = Float32Array.from(init.obsStd);
    this.training = init.training;
    this.returnConditioning = init.returnConditioning ?? null;
    this.returnToGo = this.returnConditioning?.targetReturn ?? 0;
    this.obsDim = init.spec.sizes[0]! - (this.returnConditioning ? 1 : 0);
    this.actionDim = init.spec.sizes[init.spec.sizes.length - 1]!;
    if (this.params.length !== parameterCount(init.spec)) {
      throw new OffpolicyError('E_POLICY_FORMAT', `The actor has ${this.params.length} weights but its layer sizes [${init.spec.sizes.join(', ')}] need ${parameterCount(init.spec)}.`, {
        hint: 'The weights file does not belong to this policy.json; export the policy again.',
      });
    }
    if (this.kind === 'gaussian' && (!this.logStd || this.logStd.length !== this.actionDim)) {
      throw new OffpolicyError('E_POLICY_FORMAT', `A Gaussian policy needs ${this.actionDim} log-std values.`, { hint: 'Export the policy again.' });
    }
  }

  private checkObs(obs: Float32Array, n: number): void {
    if (obs.length !== n * this.obsDim) {
      throw new OffpolicyError('E_OBS_SHAPE', `Expected ${n} observations of ${this.obsDim} values (${n * this.obsDim}), got ${obs.length} values.`, {
        hint: `This policy was trained on ${this.obsDim}-dimensional observations.`,
      });
    }
  }

  /** Deterministic action (the actor's mean), n x actionDim. */
  act(obs: Float32Array, n: number): Float32Array {
    this.checkObs(obs, n);
    const y = policyNetworkOutput(this, obs, n);
    const m = this.actionDim;
    for (let i = 0; i < y.length; i++) y[i] = y[i]! * this.maxAction[i % m]!;
    return y;
  }

  /** log pi(a | s) per row for a Gaussian actor; a deterministic actor has no density and throws E_NO_LOGPROB. */
  logProb(obs: Float32Array, actions: Float32Array, n: number): Float64Array {
    if (this.kind !== 'gaussian' || !this.logStd) {
      throw new OffpolicyError('E_NO_LOGPROB', `This ${this.algo} policy has a deterministic actor, so it has no action log-probabilities.`, {
        hint: 'Train it with the Gaussian actor (actor: "gaussian") to evaluate it with importance-sampling estimators.',
      });
    }
    if (actions.length !== n * this.actionDim) {
      throw new OffpolicyError('E_ACTION_SHAPE', `Expected ${n} actions of ${this.actionDim} values, got ${actions.length} values.`, {
        hint: `This policy acts in a ${this.actionDim}-dimensional action space.`,
      });
    }
    return gaussianLogProb(this.act(obs, n), this.logStd, actions, this.actionDim);
  }

  /** Per-dimension standard deviation of a Gaussian actor (exp of the log-std clamped to [-20, 2], as logProb uses); E_NO_LOGPROB for a deterministic one. */
  actionStd(): Float64Array {
    if (this.kind !== 'gaussian' || !this.logStd) {
      throw new OffpolicyError('E_NO_LOGPROB', `This ${this.algo} policy has a deterministic actor, so it cannot sample actions.`, {
        hint: 'Roll it out without --stochastic, or train it with the Gaussian actor (actor: "gaussian"; IQL uses it by default).',
      });
    }
    return Float64Array.from(this.logStd, (ls) => Math.exp(Math.min(LOG_STD_MAX, Math.max(LOG_STD_MIN, ls))));
  }

  /** Starts an episode: the return-to-go goes back to the target return. */
  reset(): void {
    if (this.returnConditioning) this.returnToGo = this.returnConditioning.targetReturn;
  }

  /** Records a reward received in the current episode (return-conditioned actors subtract it). */
  observeReward(reward: number): void {
    if (this.returnConditioning) this.returnToGo -= reward;
  }

  /** Writes the policy directory (policy.json + actor.bin); see savePolicy. */
  save(dir: string): Promise<void> {
    return savePolicy(this, dir);
  }

  toJson(): PolicyJson {
    return {
      format: 'offpolicy-policy',
      formatVersion: 1,
      algo: this.algo,
      kind: this.kind,
      obsDim: this.obsDim,
      actDim: this.actionDim,
      actor: { sizes: [...this.spec.sizes], output: 'tanh' },
      maxAction: [...this.maxAction],
      logStd: this.logStd ? [...this.logStd] : null,
      obsMean: [...this.obsMean],
      obsStd: [...this.obsStd],
      weightsFile: 'actor.bin',
      ...(this.returnConditioning ? { returnConditioning: { ...this.returnConditioning } } : {}),
      ...(this.training ? { training: this.training } : {}),
    };
  }
}

/** Writes policy.json and actor.bin into `dir` (created if needed). */
export async function savePolicy(policy: MlpPolicy, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const bytes = Buffer.alloc(policy.params.length * 4);
  for (let i = 0; i < policy.params.length; i++) bytes.writeFloatLE(policy.params[i]!, i * 4);
  await writeFile(join(dir, 'actor.bin'), bytes);
  await writeFile(join(dir, 'policy.json'), JSON.stringify(policy.toJson(), null, 2) + '\n');
}

/** Loads a policy saved by savePolicy. */
export async function loadPolicy(dir: string): Promise<MlpPolicy> {
  let text: string;
  try {
    text = await readFile(join(dir, 'policy.json'), 'utf8');
  } catch {
    throw new OffpolicyError('E_POLICY_NOT_FOUND', `No policy.json in ${dir}.`, { hint: 'Pass the directory a training run exported its policy to.' });
  }
  let j: PolicyJson;
  try {
    j = JSON.parse(text) as PolicyJson;
  } catch {
    throw new OffpolicyError('E_POLICY_FORMAT', `${join(dir, 'policy.json')} is not valid JSON.`, { hint: 'Export the policy again.' });
  }
  if (j.format !== 'offpolicy-policy' || j.formatVersion !== 1) {
    throw new OffpolicyError('E_POLICY_FORMAT', `${join(dir, 'policy.json')} is not an offpolicy policy (format ${String(j.format)}, version ${String(j.formatVersion)}).`, {
      hint: 'Pass a directory written by offpolicy training (format "offpolicy-policy", version 1).',
    });
  }
  if (j.kind !== 'deterministic' && j.kind !== 'gaussian') {
    throw new OffpolicyError('E_POLICY_FORMAT', `${join(dir, 'policy.json')} holds a ${String(j.kind)} policy; loadPolicy reads continuous (deterministic / gaussian) ones.`, {
      hint: 'Use loadPolicyDir, which reads every kind.',
    });
  }
  const file = join(dir, 'policy.json');
  const sizes = checkSizes(file, j.actor?.sizes);
  const inDim = sizes[0]!;
  const actDim = sizes[sizes.length - 1]!;
  if (j.returnConditioning !== undefined) {
    const rc = j.returnConditioning as unknown as Record<string, unknown>;
    if (typeof rc !== 'object' || rc === null || !Number.isFinite(rc.targetReturn) || !Number.isFinite(rc.scale) || !((rc.scale as number) > 0)) {
      throw policyFormatError(`${file}: returnConditioning needs a finite targetReturn and a positive scale.`);
    }
  }
  const obsDim = inDim - (j.returnConditioning ? 1 : 0);
  checkVector(file, 'maxAction', j.maxAction, actDim, (x) => x > 0, '(each above 0)');
  checkVector(file, 'obsMean', j.obsMean, obsDim);
  checkVector(file, 'obsStd', j.obsStd, obsDim, (x) => x > 0, '(each above 0)');
  if (j.kind === 'gaussian' || j.logStd !== null) checkVector(file, 'logStd', j.logStd, actDim);
  const params = await readPolicyWeights(dir, j.weightsFile);
  return new MlpPolicy({
    algo: j.algo,
    kind: j.kind,
    spec: { sizes: j.actor.sizes, output: 'tanh' },
    params,
    maxAction: Float32Array.from(j.maxAction),
    logStd: j.logStd ? Float32Array.from(j.logStd) : null,
    obsMean: Float32Array.from(j.obsMean),
    obsStd: Float32Array.from(j.obsStd),
    ...(j.returnConditioning ? { returnConditioning: j.returnConditioning } : {}),
    training: j.training,
  });
}
