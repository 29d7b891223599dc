/**
 * The critic an adversarial corruption attacks: Q(s, a) with gradients w.r.t.
 * its inputs. Any object implementing `Critic` can be supplied (the offline-RL
 * learners can hand over their trained Q); this module also provides one, an
 * MLP (2 x 64 ReLU) on [standardized s, a] fitted by fitted-Q evaluation of the
 * behaviour data with @tensorflow/tfjs (wasm backend, cpu fallback with a
 * warning), seeded, and saved / loaded as JSON weights.
 *
 * Actions enter the critic as vectors of width `actDim`: box actions as they are,
 * discrete actions as one-hot vectors of width K (see `actionInput`).
 */
import * as tf from '@tensorflow/tfjs';
import { readFile, writeFile } from 'node:fs/promises';
import { OffpolicyError } from '../core/errors.js';
import type { TrajectoryArrays } from '../datasets/load-trajectories.js';
import { Rng } from '../util/rng.js';
import { ensureTfBackend } from '../util/tf-backend.js';

/** Q(s, a) and its input gradients; rows are row-major (n x obsDim, n x actDim). */
export interface Critic {
  readonly obsDim: number;
  /** Width of the action input (box: action dimension; discrete: K, one-hot). */
  readonly actDim: number;
  q(obs: Float32Array, act: Float32Array, n: number): Float64Array;
  /** Per-row gradients of Q(s_i, a_i) w.r.t. s_i and a_i (each row's Q depends only on its own inputs). */
  grad(obs: Float32Array, act: Float32Array, n: number): { obs: Float32Array; act: Float32Array };
}

const LAYERS = ['w1', 'b1', 'w2', 'b2', 'w3', 'b3'] as const;
type LayerName = (typeof LAYERS)[number];

export interface CriticJson {
  format: 'offpolicy-critic';
  formatVersion: 1;
  obsDim: number;
  actDim: number;
  /** Discrete action spaces: K (actions enter one-hot). */
  discreteActions?: number;
  hidden: number;
  obsMean: number[];
  obsStd: number[];
  weights: Record<LayerName, number[]>;
  /** How it was trained (free-form, recorded for the lineage). */
  training?: Record<string, unknown>;
}

/** An MLP critic Q(s, a) = W3 relu(W2 relu(W1 [(s - mean) / std, a] + b1) + b2) + b3. */
export class MlpCritic implements Critic {
  readonly vars: Record<LayerName, tf.Variable>;

  constructor(
    readonly obsDim: number,
    readonly actDim: number,
    readonly hidden: number,
    readonly obsMean: Float32Array,
    readonly obsStd: Float32Array,
    weights: Record<LayerName, Float32Array>,
    readonly discreteActions?: number,
    readonly training?: Record<string, unknown>,
  ) {
    const shapes = this.shapes();
    this.vars = Object.fromEntries(LAYERS.map((k) => [k, tf.variable(tf.tensor(weights[k], shapes[k]))])) as Record<LayerName, tf.Variable>;
  }

  private shapes(): Record<LayerName, number[]> {
    const inp = this.obsDim + this.actDim;
    const h = this.hidden;
    return { w1: [inp, h], b1: [h], w2: [h, h], b2: [h], w3: [h, 1], b3: [1] };
  }

  /** Fresh Glorot-uniform weights from `seed`, zero biases. */
  static init(obsDim: number, actDim: number, obsMean: Float32Array, obsStd: Float32Array, seed: number, hidden = 64, discreteActions?: number): MlpCritic {
    const rng = new Rng(seed).fork('critic-init');
    const inp = obsDim + actDim;
    const glorot = (fanIn: number, fanOut: number): Float32Array => {
      const lim = Math.sqrt(6 / (fanIn + fanOut));
      const w = new Float32Array(fanIn * fanOut);
      for (let i = 0; i < w.length; i++) w[i] = rng.range(-lim, lim);
      return w;
    };
    return new MlpCritic(obsDim, actDim, hidden, obsMean, obsStd, {
      w1: glorot(inp, hidden),
      b1: new Float32Array(hidden),
      w2: glorot(hidden, hidden),
      b2: new Float32Array(hidden),
      w3: glorot(hidden, 1),
      b3: new Float32Array(1),
    }, discreteActions);
  }

  /** Q as a tensor [n] from raw observation and action tensors. */
  forward(obs: tf.Tensor2D, act: tf.Tensor2D, vars: Record<LayerName, tf.Tensor> = this.vars): tf.Tensor1D {
    const s = obs.sub(tf.tensor1d(this.obsMean)).div(tf.tensor1d(this.obsStd));
    const x = tf.concat([s, act], 1);
    const h1 = tf.relu(x.matMul(vars.w1 as tf.Tensor2D).add(vars.b1));
    const h2 = tf.relu(h1.matMul(vars.w2 as tf.Tensor2D).add(vars.b2));
    return h2.matMul(vars.w3 as tf.Tensor2D).add(vars.b3).reshape([-1]) as tf.Tensor1D;
  }

  q(obs: Float32Array, act: Float32Array, n: number): Float64Array {
    if (n === 0) return new Float64Array(0);
    const out = tf.tidy(() => this.forward(tf.tensor2d(obs, [n, this.obsDim]), tf.tensor2d(act, [n, this.actDim])).dataSync());
    return Float64Array.from(out);
  }

  grad(obs: Float32Array, act: Float32Array, n: number): { obs: Float32Array; act: Float32Array } {
    if (n === 0) return { obs: new Float32Array(0), act: new Float32Array(0) };
    // Backpropagation written out (4 matrix products): dQ/dx = W1 (m1 * (W2 (m2 * w3))),
    // with m1, m2 the ReLU masks; then d/ds = (dQ/dx)_s / std, d/da = (dQ/dx)_a.
    return tf.tidy(() => {
      const v = this.vars;
      const s = tf.tensor2d(obs, [n, this.obsDim]).sub(tf.tensor1d(this.obsMean)).div(tf.tensor1d(this.obsStd));
      const x = tf.concat([s, tf.tensor2d(act, [n, this.actDim])], 1);
      const z1 = x.matMul(v.w1 as tf.Tensor2D).add(v.b1);
      const z2 = tf.relu(z1).matMul(v.w2 as tf.Tensor2D).add(v.b2);
      const g2 = tf.step(z2).mul(v.w3.reshape([1, this.hidden]));
      const g1 = g2.matMul((v.w2 as tf.Tensor2D).transpose()).mul(tf.step(z1));
      const gx = g1.matMul((v.w1 as tf.Tensor2D).transpose());
      const [gs, ga] = tf.split(gx, [this.obsDim, this.actDim], 1);
      return { obs: gs!.div(tf.tensor1d(this.obsStd)).dataSync() as Float32Array, act: ga!.dataSync() as Float32Array };
    });
  }

  toJSON(): CriticJson {
    const weights = Object.fromEntries(LAYERS.map((k) => [k, Array.from(this.vars[k].dataSync())])) as Record<LayerName, number[]>;
    return {
      format: 'offpolicy-critic',
      formatVersion: 1,
      obsDim: this.obsDim,
      actDim: this.actDim,
      ...(this.discreteActions !== undefined ? { discreteActions: this.discreteActions } : {}),
      hidden: this.hidden,
      obsMean: Array.from(this.obsMean),
      obsStd: Array.from(this.obsStd),
      weights,
      ...(this.training ? { training: this.training } : {}),
    };
  }

  static fromJSON(j: CriticJson, source = 'the critic JSON'): MlpCritic {
    const bad = (what: string): OffpolicyError =>
      new OffpolicyError('E_CRITIC_FORMAT', `${source} is not a valid critic: ${what}.`, {
        hint: 'Pass a file written by saveCritic (offpolicy corrupt --train-critic --save-critic FILE).',
      });
    if (!j || j.format !== 'offpolicy-critic' || j.formatVersion !== 1) throw bad('format must be "offpolicy-critic", formatVersion 1');
    const { obsDim, actDim, hidden } = j;
    if (![obsDim, actDim, hidden].every((v) => Number.isInteger(v) && v > 0)) throw bad('obsDim, actDim and hidden must be positive integers');
    const sizes: Record<LayerName, number> = { w1: (obsDim + actDim) * hidden, b1: hidden, w2: hidden * hidden, b2: hidden, w3: hidden, b3: 1 };
    const weights = {} as Record<LayerName, Float32Array>;
    for (const k of LAYERS) {
      const w = j.weights?.[k];
      if (!Array.isArray(w) || w.length !== sizes[k] || !w.every(Number.isFinite)) throw bad(`weights.${k} must hold ${sizes[k]} finite numbers`);
      weights[k] = Float32Array.from(w);
    }
    if (j.obsMean?.length !== obsDim || j.obsStd?.length !== obsDim) throw bad(`obsMean and obsStd must hold ${obsDim} numbers`);
    return new MlpCritic(obsDim, actDim, hidden, Float32Array.from(j.obsMean), Float32Array.from(j.obsStd), weights, j.discreteActions, j.training);
  }

  dispose(): void {
    for (const k of LAYERS) this.vars[k].dispose();
  }
}

export async function saveCritic(critic: MlpCritic, file: string): Promise<void> {
  await writeFile(file, JSON.stringify(critic.toJSON()) + '\n');
}

export async function loadCritic(file: string): Promise<MlpCritic> {
  await ensureTfBackend();
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

/** The critic's action input: box actions as they are, discrete actions one-hot (n x K). */
export function actionInput(actions: Float32Array | Int32Array, n: number, discreteActions?: number): Float32Array {
  if (discreteActions === undefined) return actions as Float32Array;
  const out = new Float32Array(n * discreteActions);
  for (let i = 0; i < n; i++) out[i * discreteActions + actions[i]!] = 1;
  return out;
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
  hidden?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Fits Q(s, a) by fitted-Q evaluation of the behaviour policy:
 * target r + gamma (1 - terminated) Q_target(s', a'), with a' the next logged
 * action of the same episode. Rows whose successor is unknown (no
 * next_observation, or a truncated last step with no next action) are left out;
 * terminated rows use the target r.
 */
export async function trainFqeCritic(data: TrajectoryArrays, opts: TrainCriticOptions): Promise<{ critic: MlpCritic; warnings: string[] }> {
  const warnings: string[] = [];
  const { warning } = await ensureTfBackend();
  if (warning) warnings.push(warning);
  if (!data.nextObservations) {
    throw new OffpolicyError('E_FIELD_MISSING', 'Training a critic needs next_observation, which this dataset lacks.', {
      hint: 'Supply a trained critic instead (critic option / --critic FILE).',
    });
  }
  const { n, obsDim } = data;
  const K = data.discreteActions;
  const actDim = K ?? data.actDim;
  const steps = opts.steps ?? 3000;
  const gamma = opts.gamma ?? 0.99;
  const targetEvery = opts.targetEvery ?? 100;
  const hidden = opts.hidden ?? 64;
  const lr = opts.learningRate ?? 1e-3;
  const stats = columnStats(data.observations, n, obsDim);
  const std = Float32Array.from(stats.std, (s) => s || 1);
  const critic = MlpCritic.init(obsDim, actDim, Float32Array.from(stats.mean), std, opts.seed, hidden, K);
  const act = actionInput(data.actions, n, K);
  // Usable rows and their successors.
  const usable: number[] = [];
  const nextRow = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const sameEp = i + 1 < n && data.episodeId[i + 1] === data.episodeId[i] && data.step[i + 1] === data.step[i]! + 1;
    if (sameEp) nextRow[i] = i + 1;
    if (data.terminated[i]) usable.push(i);
    else if (sameEp && !data.nextObservationMissing?.[i]) usable.push(i);
  }
  if (usable.length === 0) {
    throw new OffpolicyError('E_CRITIC_TRAIN', 'No transition in this dataset has a known successor, so no critic can be fitted.', {
      hint: 'Supply a trained critic instead.',
    });
  }
  const batch = Math.min(opts.batchSize ?? 256, usable.length);
  const rng = new Rng(opts.seed).fork('critic-batches');
  const optimizer = tf.train.adam(lr);
  let target = LAYERS.map((k) => critic.vars[k].clone());
  const ob = new Float32Array(batch * obsDim);
  const ab = new Float32Array(batch * actDim);
  const nob = new Float32Array(batch * obsDim);
  const nab = new Float32Array(batch * actDim);
  const rb = new Float32Array(batch);
  const cont = new Float32Array(batch);
  const varList = LAYERS.map((k) => critic.vars[k]);
  let lastLoss = NaN;
  for (let step = 0; step < steps; step++) {
    if (step % targetEvery === 0 && step > 0) {
      target.forEach((t) => t.dispose());
      target = LAYERS.map((k) => critic.vars[k].clone());
    }
    for (let b = 0; b < batch; b++) {
      const i = usable[rng.int(usable.length)]!;
      ob.set(data.observations.subarray(i * obsDim, (i + 1) * obsDim), b * obsDim);
      ab.set(act.subarray(i * actDim, (i + 1) * actDim), b * actDim);
      rb[b] = data.rewards[i]!;
      const j = nextRow[i]!;
      if (data.terminated[i] || j < 0) {
        cont[b] = 0;
        nob.fill(0, b * obsDim, (b + 1) * obsDim);
        nab.fill(0, b * actDim, (b + 1) * actDim);
      } else {
        cont[b] = 1;
        nob.set(data.nextObservations.subarray(i * obsDim, (i + 1) * obsDim), b * obsDim);
        nab.set(act.subarray(j * actDim, (j + 1) * actDim), b * actDim);
      }
    }
    const tv = Object.fromEntries(LAYERS.map((k, idx) => [k, target[idx]!])) as unknown as Record<LayerName, tf.Tensor>;
    const y = tf.tidy(() => {
      const qn = critic.forward(tf.tensor2d(nob, [batch, obsDim]), tf.tensor2d(nab, [batch, actDim]), tv);
      return tf.tensor1d(rb).add(qn.mul(tf.tensor1d(cont)).mul(gamma));
    });
    const o = tf.tensor2d(ob, [batch, obsDim]);
    const a = tf.tensor2d(ab, [batch, actDim]);
    const loss = optimizer.minimize(() => tf.losses.meanSquaredError(y, critic.forward(o, a)) as tf.Scalar, true, varList);
    if (step === steps - 1) lastLoss = loss!.dataSync()[0]!;
    loss?.dispose();
    y.dispose();
    o.dispose();
    a.dispose();
    if (opts.onProgress && (step % 100 === 99 || step === steps - 1)) opts.onProgress(step + 1, steps);
  }
  target.forEach((t) => t.dispose());
  optimizer.dispose();
  const trained = new MlpCritic(
    obsDim,
    actDim,
    hidden,
    critic.obsMean,
    critic.obsStd,
    Object.fromEntries(LAYERS.map((k) => [k, critic.vars[k].dataSync() as Float32Array])) as Record<LayerName, Float32Array>,
    K,
    { method: 'fitted-Q evaluation of the behaviour data', steps, batchSize: batch, learningRate: lr, gamma, targetEvery, hidden, seed: opts.seed, finalLoss: lastLoss },
  );
  critic.dispose();
  return { critic: trained, warnings };
}
