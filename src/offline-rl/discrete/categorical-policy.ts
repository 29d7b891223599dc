/**
 * A trained categorical policy over K discrete actions:
 *   pi(. | s) = softmax(MLP((s - mean) / std))
 * It implements the Policy interface of src/core/contracts.ts (actionProbs, n x K,
 * rows summing to 1), so the OPE layer can score it on a bandit log and
 * rollouts can act with it; `logProb` gives log pi(a | s) of given actions and
 * `act` the greedy (argmax) action. A return-conditioned policy (discrete RCBC)
 * takes one more input, the scaled return-to-go, with the same reset /
 * observeReward hooks as the continuous MlpPolicy.
 *
 * Saved as a policy directory of the same family as MlpPolicy: policy.json
 * (format "offpolicy-policy", version 1, kind "categorical", layer sizes,
 * normalization) + actor.bin (little-endian float32 weights). loadPolicyDir
 * (policy-dir.ts) reads either kind.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dataError, OffpolicyError } from '../../core/errors.js';
import { checkVector, readPolicyWeights } from '../policy-guard.js';
import type { FeatureSpec, Policy } from '../../core/contracts.js';
import { parseFeatureSpec } from '../../datasets/features.js';
import { softmaxRows } from '../../util/softmax.js';
import { checkSpec, parameterCount, type MlpSpec } from '../../nn/mlp.js';
import { policyNetworkOutput, type ReturnConditioning } from '../policy.js';

export const CATEGORICAL_WEIGHTS_FILE = 'actor.bin';

export interface CategoricalPolicyJson {
  format: 'offpolicy-policy';
  formatVersion: 1;
  algo: string;
  kind: 'categorical';
  obsDim: number;
  numActions: number;
  /** Layer widths [obsDim (+1 when return-conditioned), hidden..., numActions]; linear output (logits). */
  actor: { sizes: number[]; output: 'linear' };
  obsMean: number[];
  obsStd: number[];
  weightsFile: string;
  returnConditioning?: ReturnConditioning;
  training?: Record<string, unknown>;
  /** Trained on a bandit log's named / one-hot columns: how to build its contexts from a log (datasets/features.ts). */
  features?: FeatureSpec;
}

export interface CategoricalPolicyInit {
  algo: string;
  spec: MlpSpec;
  params: Float32Array;
  obsMean: Float32Array;
  obsStd: Float32Array;
  returnConditioning?: ReturnConditioning;
  training?: Record<string, unknown>;
}

function formatError(message: string): OffpolicyError {
  return new OffpolicyError('E_POLICY_FORMAT', message, { hint: 'The policy directory is damaged or was edited by hand; export the policy again.' });
}

export class CategoricalMlpPolicy implements Policy {
  readonly kind = 'categorical' as const;
  readonly algo: string;
  readonly spec: MlpSpec;
  readonly params: Float32Array;
  readonly obsMean: Float32Array;
  readonly obsStd: Float32Array;
  readonly training?: Record<string, unknown>;
  readonly obsDim: number;
  readonly numActions: number;
  readonly returnConditioning: ReturnConditioning | null;
  /** Set after training on a bandit log's named / one-hot columns; evaluators build its contexts with it. */
  features?: FeatureSpec;
  /** Return still to collect in the current episode (return-conditioned policies). */
  returnToGo = 0;

  constructor(init: CategoricalPolicyInit) {
    checkSpec(init.spec);
    if (init.spec.output !== 'linear') throw formatError(`A categorical policy's network outputs logits (linear), not ${init.spec.output}.`);
    this.algo = init.algo;
    this.spec = { sizes: [...init.spec.sizes], output: 'linear' };
    this.params = Float32Array.from(init.params);
    this.obsMean = Float32Array.from(init.obsMean);
    this.obsStd = Float32Array.from(init.obsStd);
    this.training = init.training;
    this.returnConditioning = init.returnConditioning ?? null;
    this.returnToGo = this.returnConditioning?.targetReturn ?? 0;
    this.obsDim = this.spec.sizes[0]! - (this.returnConditioning ? 1 : 0);
    this.numActions = this.spec.sizes[this.spec.sizes.length - 1]!;
    if (this.obsDim < 1) throw formatError(`The network's input width ${this.spec.sizes[0]} leaves no room for an observation.`);
    if (this.numActions < 2) throw formatError(`A categorical policy needs at least 2 actions, this one has ${this.numActions}.`);
    if (this.params.length !== parameterCount(this.spec)) {
      throw formatError(`The actor has ${this.params.length} weights but its layer sizes [${this.spec.sizes.join(', ')}] need ${parameterCount(this.spec)}.`);
    }
    if (this.obsMean.length !== this.obsDim || this.obsStd.length !== this.obsDim) {
      throw formatError(`The normalization statistics have ${this.obsMean.length} means and ${this.obsStd.length} stds for ${this.obsDim}-dimensional observations.`);
    }
    if (this.obsStd.some((s) => !(s > 0) || !Number.isFinite(s))) throw formatError('Every observation std must be a positive finite number.');
    if (this.returnConditioning && !(Number.isFinite(this.returnConditioning.targetReturn) && this.returnConditioning.scale > 0)) {
      throw formatError('A return-conditioned policy needs a finite target return and a positive scale.');
    }
  }

  private checkObs(obs: Float32Array, n: number): void {
    if (!Number.isInteger(n) || n < 0 || obs.length !== n * this.obsDim) {
      throw new OffpolicyError('E_OBS_SHAPE', `Expected ${n} observations of ${this.obsDim} values (${n * this.obsDim}), got ${obs.length} values.`, {
        hint: `This policy was trained on ${this.obsDim}-dimensional observations (or contexts).`,
      });
    }
  }

  /** Unnormalized log-probabilities (the network's output), n x K. */
  logits(obs: Float32Array, n: number): Float32Array {
    this.checkObs(obs, n);
    return policyNetworkOutput(this, obs, n);
  }

  /** pi(a | s) for every action, n x K (rows sum to 1). */
  actionProbs(contexts: Float32Array, n: number): Float64Array {
    const out = Float64Array.from(this.logits(contexts, n));
    softmaxRows(out, 1, n, this.numActions, out);
    return out;
  }

  /** log pi(a_i | s_i) per row; actions are indices 0..K-1 (E_ACTION_RANGE otherwise). */
  logProb(obs: Float32Array, actions: ArrayLike<number>, n: number): Float64Array {
    const k = this.numActions;
    if (actions.length !== n) {
      throw new OffpolicyError('E_ACTION_SHAPE', `Expected ${n} action indices, got ${actions.length}.`, { hint: 'Pass one action index (0..K-1) per observation.' });
    }
    const bad: number[] = [];
    let count = 0;
    for (let i = 0; i < n; i++) {
      const a = actions[i]!;
      if (!Number.isInteger(a) || a < 0 || a >= k) {
        count++;
        if (bad.length < 5) bad.push(i);
      }
    }
    if (count > 0) throw dataError('E_ACTION_RANGE', `action index in 0..${k - 1}`, count, bad, `This policy chooses among ${k} actions.`);
    const z = this.logits(obs, n);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let j = 0; j < k; j++) max = Math.max(max, z[i * k + j]!);
      let sum = 0;
      for (let j = 0; j < k; j++) sum += Math.exp(z[i * k + j]! - max);
      out[i] = z[i * k + actions[i]!]! - max - Math.log(sum);
    }
    return out;
  }

  /** The greedy action per row (the most probable; ties go to the lowest index). */
  act(obs: Float32Array, n: number): Int32Array {
    const k = this.numActions;
    const z = this.logits(obs, n);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (z[i * k + j]! > z[i * k + best]!) best = j;
      out[i] = best;
    }
    return out;
  }

  /** Starts an episode: the return-to-go goes back to the target return. */
  reset(): void {
    if (this.returnConditioning) this.returnToGo = this.returnConditioning.targetReturn;
  }

  /** Records a reward received in the current episode (return-conditioned policies subtract it). */
  observeReward(reward: number): void {
    if (this.returnConditioning) this.returnToGo -= reward;
  }

  toJson(): CategoricalPolicyJson {
    return {
      format: 'offpolicy-policy',
      formatVersion: 1,
      algo: this.algo,
      kind: 'categorical',
      obsDim: this.obsDim,
      numActions: this.numActions,
      actor: { sizes: [...this.spec.sizes], output: 'linear' },
      obsMean: [...this.obsMean],
      obsStd: [...this.obsStd],
      weightsFile: CATEGORICAL_WEIGHTS_FILE,
      ...(this.returnConditioning ? { returnConditioning: { ...this.returnConditioning } } : {}),
      ...(this.training ? { training: this.training } : {}),
      ...(this.features ? { features: this.features } : {}),
    };
  }

  /** Writes the policy directory: policy.json + actor.bin (created if needed). */
  async save(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const bytes = Buffer.alloc(this.params.length * 4);
    for (let i = 0; i < this.params.length; i++) bytes.writeFloatLE(this.params[i]!, i * 4);
    await writeFile(join(dir, CATEGORICAL_WEIGHTS_FILE), bytes);
    await writeFile(join(dir, 'policy.json'), JSON.stringify(this.toJson(), null, 2) + '\n');
  }
}

const isIntArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => Number.isInteger(x) && x > 0);
const isNumArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** Builds the policy from a parsed policy.json of kind "categorical" (`dir` for messages and the weights file). */
export async function categoricalFromJson(j: CategoricalPolicyJson, dir: string): Promise<CategoricalMlpPolicy> {
  const file = join(dir, 'policy.json');
  if (!j.actor || !isIntArray(j.actor.sizes) || j.actor.sizes.length < 2) throw formatError(`${file}: actor.sizes must list at least two positive integer layer widths.`);
  if (!isNumArray(j.obsMean) || !isNumArray(j.obsStd)) throw formatError(`${file}: obsMean and obsStd must be arrays of finite numbers.`);
  if (typeof j.weightsFile !== 'string' || j.weightsFile.length === 0) throw formatError(`${file}: weightsFile must name the weights file.`);
  if (j.numActions !== j.actor.sizes[j.actor.sizes.length - 1]) {
    throw formatError(`${file}: numActions is ${String(j.numActions)} but the network outputs ${j.actor.sizes[j.actor.sizes.length - 1]} logits.`);
  }
  const obsDim = j.actor.sizes[0]! - (j.returnConditioning ? 1 : 0);
  checkVector(file, 'obsMean', j.obsMean, obsDim);
  checkVector(file, 'obsStd', j.obsStd, obsDim, (x) => x > 0, '(each above 0)');
  const params = await readPolicyWeights(dir, j.weightsFile);
  const policy = new CategoricalMlpPolicy({
    algo: String(j.algo),
    spec: { sizes: j.actor.sizes, output: 'linear' },
    params,
    obsMean: Float32Array.from(j.obsMean),
    obsStd: Float32Array.from(j.obsStd),
    ...(j.returnConditioning ? { returnConditioning: j.returnConditioning } : {}),
    ...(j.training ? { training: j.training } : {}),
  });
  if (j.obsDim !== policy.obsDim) throw formatError(`${file}: obsDim is ${String(j.obsDim)} but the network takes ${policy.obsDim}-dimensional observations.`);
  if (j.features !== undefined) {
    const features = parseFeatureSpec(j.features, file);
    if (features.width !== policy.obsDim) throw formatError(`${file}: features give ${features.width} context values but the network takes ${policy.obsDim}.`);
    policy.features = features;
  }
  return policy;
}
