/**
 * The critic an adversarial corruption attacks: Q(s, a) with gradients w.r.t.
 * its inputs. Any object implementing `Critic` can be supplied (the offline-RL
 * learners can hand over their trained Q); this module also provides one: fitted
 * Q evaluation of the behaviour policy (src/models/fqe.ts, target 'logged': the
 * next logged action), an MLP (2 x 64 ReLU) Q network on [standardized s, a] on
 * the wasm engine, seeded, saved / loaded as JSON.
 *
 * Actions enter the critic as vectors of width `actDim`: box actions as they are,
 * discrete actions as one-hot vectors of width K (see `actionInput` in
 * src/models/q-network.ts).
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { QFunction } from '../core/contracts.js';
import { OffpolicyError } from '../core/errors.js';
import type { TrajectoryArrays } from '../datasets/load-trajectories.js';
import { fitFqe } from '../models/fqe.js';
import { MlpQFunction } from '../models/q-network.js';
import { initMlp, layerOffsets, parameterCount } from '../nn/mlp.js';
import { Rng } from '../util/rng.js';

/** Q(s, a) (the QFunction contract) and its input gradients; rows are row-major (n x obsDim, n x actDim). */
export interface Critic extends QFunction {
  /** Per-row gradients of Q(s_i, a_i) w.r.t. s_i and a_i (each row's Q depends only on its own inputs). */
  grad(obs: Float32Array, act: Float32Array, n: number): { obs: Float32Array; act: Float32Array };
}

/** Version 1 (tfjs critics): exactly two hidden layers of width `hidden`, weights per layer. */
const LAYERS_V1 = ['w1', 'b1', 'w2', 'b2', 'w3', 'b3'] as const;

export interface CriticJson {
  format: 'offpolicy-critic';
  /** 2: `hidden` is the list of widths and `params` the flat parameters (src/nn/mlp.ts layout). 1 is still read. */
  formatVersion: 1 | 2;
  obsDim: number;
  actDim: number;
  /** Discrete action spaces: K (actions enter one-hot). */
  discreteActions?: number;
  hidden: number | number[];
  obsMean: number[];
  obsStd: number[];
  params?: number[];
  /** Version 1 only. */
  weights?: Record<(typeof LAYERS_V1)[number], number[]>;
  /** How it was trained (free-form, recorded for the lineage). */
  training?: Record<string, unknown>;
}

/** An MLP critic: the Q network of src/models/q-network.ts plus its training record and JSON form. */
export class MlpCritic extends MlpQFunction implements Critic {
  constructor(
    obsDim: number,
    actDim: number,
    hidden: readonly number[],
    obsMean: Float32Array,
    obsStd: Float32Array,
    params: Float32Array,
    readonly discreteActions?: number,
    readonly training?: Record<string, unknown>,
  ) {
    super({ obsDim, hidden, ...(discreteActions !== undefined ? { numActions: discreteActions } : { actDim }) }, params, obsMean, obsStd);
  }

  /** Fresh weights from `seed` (PyTorch's nn.Linear initialisation), 2 hidden layers of width `hidden`. */
  static init(obsDim: number, actDim: number, obsMean: Float32Array, obsStd: Float32Array, seed: number, hidden = 64, discreteActions?: number): MlpCritic {
    const widths = [hidden, hidden];
    const params = initMlp({ sizes: [obsDim + actDim, ...widths, 1], output: 'linear' }, new Rng(seed).fork('critic-init'));
    return new MlpCritic(obsDim, actDim, widths, obsMean, obsStd, params, discreteActions);
  }

  /** Wraps a fitted Q network as a critic. */
  static of(net: MlpQFunction, training?: Record<string, unknown>): MlpCritic {
    return new MlpCritic(net.obsDim, net.actDim, net.hidden, net.obsMean, net.obsStd, net.params, net.numActions, training);
  }

  toJSON(): CriticJson {
    return {
      format: 'offpolicy-critic',
      formatVersion: 2,
      obsDim: this.obsDim,
      actDim: this.actDim,
      ...(this.discreteActions !== undefined ? { discreteActions: this.discreteActions } : {}),
      hidden: [...this.hidden],
      obsMean: Array.from(this.obsMean),
      obsStd: Array.from(this.obsStd),
      params: Array.from(this.params),
      ...(this.training ? { training: this.training } : {}),
    };
  }

  static fromJSON(j: CriticJson, source = 'the critic JSON'): MlpCritic {
    const bad = (what: string): OffpolicyError =>
      new OffpolicyError('E_CRITIC_FORMAT', `${source} is not a valid critic: ${what}.`, {
        hint: 'Pass a file written by saveCritic (offpolicy corrupt --train-critic --save-critic FILE).',
      });
    if (!j || j.format !== 'offpolicy-critic' || (j.formatVersion !== 1 && j.formatVersion !== 2)) throw bad('format must be "offpolicy-critic", formatVersion 1 or 2');
    const { obsDim, actDim } = j;
    const hidden = j.formatVersion === 1 ? (Number.isInteger(j.hidden) ? [j.hidden as number, j.hidden as number] : []) : Array.isArray(j.hidden) ? j.hidden : [];
    if (![obsDim, actDim].every((v) => Number.isInteger(v) && v > 0) || hidden.length === 0 || !hidden.every((v) => Number.isInteger(v) && v > 0)) {
      throw bad(`obsDim, actDim and hidden must be positive integers${j.formatVersion === 2 ? ' (hidden: a list)' : ''}`);
    }
    const spec = { sizes: [obsDim + actDim, ...hidden, 1], output: 'linear' as const };
    const params = new Float32Array(parameterCount(spec));
    if (j.formatVersion === 1) {
      // the v1 layers are the same row-major W (fanIn x fanOut) then b, in order
      const offs = layerOffsets(spec);
      LAYERS_V1.forEach((k, idx) => {
        const l = offs[idx >> 1]!;
        const size = idx % 2 === 0 ? l.fanIn * l.fanOut : l.fanOut;
        const w = j.weights?.[k];
        if (!Array.isArray(w) || w.length !== size || !w.every(Number.isFinite)) throw bad(`weights.${k} must hold ${size} finite numbers`);
        params.set(w, idx % 2 === 0 ? l.w : l.b);
      });
    } else {
      const p = j.params;
      if (!Array.isArray(p) || p.length !== params.length || !p.every(Number.isFinite)) throw bad(`params must hold ${params.length} finite numbers`);
      params.set(p);
    }
    if (j.obsMean?.length !== obsDim || j.obsStd?.length !== obsDim) throw bad(`obsMean and obsStd must hold ${obsDim} numbers`);
    return new MlpCritic(obsDim, actDim, hidden, Float32Array.from(j.obsMean), Float32Array.from(j.obsStd), params, j.discreteActions, j.training);
  }
}

export async function saveCritic(critic: MlpCritic, file: string): Promise<void> {
  await writeFile(file, JSON.stringify(critic.toJSON()) + '\n');
}

export async function loadCritic(file: string): Promise<MlpCritic> {
  let j: CriticJson;
  try {
    j = JSON.parse(await readFile(file, 'utf8')) as CriticJson;
  } catch (e) {
    throw new OffpolicyError('E_CRITIC_FORMAT', `Cannot read the critic file ${file}: ${(e as Error).message}.`, {
      hint: 'Pass a JSON file written by saveCritic.',
    });
  }
  return MlpCritic.fromJSON(j, `The file ${file}`);
}

/** Per-dimension mean and population standard deviation of an n x d array (std 1 where it is 0). */
export function columnStats(x: Float32Array, n: number, d: number, skip?: Uint8Array | null): { mean: Float64Array; std: Float64Array; count: number } {
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (skip?.[i]) continue;
    count++;
    for (let j = 0; j < d; j++) {
      const v = x[i * d + j]!;
      const delta = v - mean[j]!;
      mean[j] = mean[j]! + delta / count;
      sq[j] = sq[j]! + delta * (v - mean[j]!);
    }
  }
  const std = new Float64Array(d);
  for (let j = 0; j < d; j++) std[j] = count > 0 ? Math.sqrt(sq[j]! / count) : 0;
  return { mean, std, count };
}

export interface TrainCriticOptions {
  seed: number;
  /** Gradient steps (default 3000). */
  steps?: number;
  batchSize?: number;
  learningRate?: number;
  gamma?: number;
  /** Hard target-network update every this many steps (default 100). */
  targetEvery?: number;
  /** Width of each of the 2 hidden layers (default 64). */
  hidden?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Fits Q(s, a) by fitted Q evaluation of the behaviour policy (src/models/fqe.ts,
 * target 'logged'): target r + gamma (1 - terminated) Q_target(s', a'), with a'
 * the next logged action of the same episode, MSE loss. Rows whose successor is
 * unknown (no next_observation, or a truncated last step with no next action)
 * are left out; terminated rows use the target r.
 */
export async function trainFqeCritic(data: TrajectoryArrays, opts: TrainCriticOptions): Promise<{ critic: MlpCritic; warnings: string[] }> {
  if (!data.nextObservations) {
    throw new OffpolicyError('E_FIELD_MISSING', 'Training a critic needs next_observation, which this dataset lacks.', {
      hint: 'Supply a trained critic instead (critic option / --critic FILE).',
    });
  }
  const { n, obsDim } = data;
  const K = data.discreteActions;
  const m = K === undefined ? data.actDim : 1;
  const steps = opts.steps ?? 3000;
  const gamma = opts.gamma ?? 0.99;
  const targetEvery = opts.targetEvery ?? 100;
  const hidden = opts.hidden ?? 64;
  const lr = opts.learningRate ?? 1e-3;
  // Usable rows and their successors' logged actions.
  const usable: number[] = [];
  const nextActions = K === undefined ? new Float32Array(n * m) : new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const sameEp = i + 1 < n && data.episodeId[i + 1] === data.episodeId[i] && data.step[i + 1] === data.step[i]! + 1;
    if (data.terminated[i]) usable.push(i);
    else if (sameEp && !data.nextObservationMissing?.[i]) {
      usable.push(i);
      for (let j = 0; j < m; j++) nextActions[i * m + j] = data.actions[(i + 1) * m + j]!;
    }
  }
  if (usable.length === 0) {
    throw new OffpolicyError('E_CRITIC_TRAIN', 'No transition in this dataset has a known successor, so no critic can be fitted.', {
      hint: 'Supply a trained critic instead.',
    });
  }
  const batch = Math.min(opts.batchSize ?? 256, usable.length);
  const actions = K === undefined ? (data.actions as Float32Array) : Int32Array.from(data.actions);
  const res = fitFqe(
    { n, obsDim, obs: data.observations, actions, rewards: data.rewards, nextObs: data.nextObservations, terminated: data.terminated, nextActions, rows: Int32Array.from(usable) },
    K === undefined ? { kind: 'box', actDim: m } : { kind: 'discrete', numActions: K },
    { kind: 'logged' },
    { seed: opts.seed, steps, batchSize: batch, lr, hidden: [hidden, hidden], gamma, targetEvery, loss: 'mse', evalEvery: steps, ...(opts.onProgress ? { onProgress: (done: number, total: number) => opts.onProgress!(done, total) } : {}) },
  );
  const finalLoss = res.curve.at(-1)!.tdLoss;
  const training = { method: 'fitted-Q evaluation of the behaviour data', steps, batchSize: batch, learningRate: lr, gamma, targetEvery, hidden, seed: opts.seed, finalLoss };
  return { critic: MlpCritic.of(res.model.net, training), warnings: [] };
}
