/**
 * Q(s, a) as one MLP on [standardized s, action input] -> 1, on the wasm engine
 * (src/nn/). The action input is the action vector for box actions and the
 * one-hot vector of width K for discrete actions, so one network shape serves
 * both spaces (d3rlpy's discrete Q has K outputs instead; with one-hot inputs
 * the same class also gives input gradients, which the corruption critic needs).
 *
 * It implements the core contracts QFunction (q of given state-action pairs)
 * and, for discrete actions, DiscreteQFunction (qAll: every action), plus the
 * per-row input gradients of Q an adversarial attack follows.
 */
import type { QFunction } from '../core/contracts.js';
import { OffpolicyError } from '../core/errors.js';
import { layerOffsets, parameterCount, type MlpSpec } from '../nn/mlp.js';
import { WasmMlp } from '../nn/wasm-mlp.js';

/** Rows per engine call when predicting: bounds the engine's activation buffers (rows x 256 floats per layer). */
const CHUNK = 4096;

export interface QNetworkShape {
  obsDim: number;
  /** Discrete action spaces: K (actions enter one-hot, actDim = K). */
  numActions?: number;
  /** Box actions: the action dimension. Ignored when numActions is given. */
  actDim?: number;
  hidden: readonly number[];
}

/** The action input of n actions: box actions as they are, discrete actions one-hot (n x K). */
export function actionInput(actions: Float32Array | Int32Array, n: number, numActions?: number): Float32Array {
  if (numActions === undefined) return actions as Float32Array;
  const out = new Float32Array(n * numActions);
  for (let i = 0; i < n; i++) out[i * numActions + actions[i]!] = 1;
  return out;
}

export class MlpQFunction implements QFunction {
  readonly obsDim: number;
  /** Width of the action input (box: the action dimension; discrete: K). */
  readonly actDim: number;
  readonly numActions: number | undefined;
  readonly hidden: readonly number[];
  readonly spec: MlpSpec;
  private engine: WasmMlp | null = null;

  constructor(
    shape: QNetworkShape,
    /** Flat parameters in the layout of src/nn/mlp.ts (owned: training updates them in place). */
    readonly params: Float32Array,
    readonly obsMean: Float32Array,
    readonly obsStd: Float32Array,
  ) {
    this.obsDim = shape.obsDim;
    this.numActions = shape.numActions;
    this.actDim = shape.numActions ?? shape.actDim ?? 0;
    this.hidden = [...shape.hidden];
    if (!(this.actDim > 0) || !(this.obsDim >= 0)) {
      throw new OffpolicyError('E_Q_SHAPE', `A Q network needs a positive action width and a non-negative observation width; got obs ${this.obsDim}, actions ${this.actDim}.`, {
        hint: 'Give numActions (discrete) or actDim (box actions).',
      });
    }
    this.spec = { sizes: [this.obsDim + this.actDim, ...this.hidden, 1], output: 'linear' };
    if (params.length !== parameterCount(this.spec) || obsMean.length !== this.obsDim || obsStd.length !== this.obsDim) {
      throw new OffpolicyError('E_Q_SHAPE', `Q network parameters do not fit the shape [${this.spec.sizes.join(', ')}]: ${params.length} parameters (need ${parameterCount(this.spec)}), ${obsMean.length} means and ${obsStd.length} stds (need ${this.obsDim}).`, {
        hint: 'Build the network with the shape its parameters were trained for.',
      });
    }
  }

  /** The wasm engine of this network's shape (created on first use). */
  get net(): WasmMlp {
    this.engine ??= new WasmMlp(this.spec);
    return this.engine;
  }

  /** Writes the network input [(s - mean) / std, a] of n rows into `out` (n x (obsDim + actDim)). */
  inputs(obs: Float32Array, act: Float32Array, n: number, out: Float32Array = new Float32Array(n * (this.obsDim + this.actDim))): Float32Array {
    const d = this.obsDim;
    const m = this.actDim;
    const w = d + m;
    const mean = this.obsMean;
    const std = this.obsStd;
    for (let i = 0; i < n; i++) {
      const o = i * w;
      for (let j = 0; j < d; j++) out[o + j] = (obs[i * d + j]! - mean[j]!) / std[j]!;
      for (let j = 0; j < m; j++) out[o + d + j] = act[i * m + j]!;
    }
    return out;
  }

  /**
   * The network inputs of rows idx[0..n-1]: [(obs_i - mean) / std, action_i] with actions
   * as discrete indices (one-hot) or rows of actDim floats, gathered straight into `out`.
   */
  gatherInputs(obs: Float32Array, actions: Float32Array | Int32Array, idx: ArrayLike<number>, n: number, out: Float32Array): Float32Array {
    const d = this.obsDim;
    const m = this.actDim;
    const w = d + m;
    const mean = this.obsMean;
    const std = this.obsStd;
    const oneHot = actions instanceof Int32Array;
    for (let r = 0; r < n; r++) {
      const i = idx[r]!;
      const o = r * w;
      for (let j = 0; j < d; j++) out[o + j] = (obs[i * d + j]! - mean[j]!) / std[j]!;
      if (oneHot) {
        out.fill(0, o + d, o + w);
        out[o + d + actions[i]!] = 1;
      } else for (let j = 0; j < m; j++) out[o + d + j] = actions[i * m + j]!;
    }
    return out;
  }

  /** Q of n rows of network inputs with the given parameters (default: this network's), in chunks; reuseWeights as WasmMlp.infer. */
  predictInputs(x: Float32Array, n: number, params = this.params, reuseWeights = false): Float64Array {
    const w = this.obsDim + this.actDim;
    const out = new Float64Array(n);
    for (let i0 = 0; i0 < n; i0 += CHUNK) {
      const rows = Math.min(CHUNK, n - i0);
      const y = this.net.infer(params, x.subarray(i0 * w, (i0 + rows) * w), rows, reuseWeights || i0 > 0);
      for (let i = 0; i < rows; i++) out[i0 + i] = y[i]!;
    }
    return out;
  }

  /** Q(s_i, a_i) for n rows: obs n x obsDim, actions n x actDim (discrete: one-hot). */
  q(obs: Float32Array, actions: Float32Array, n: number): Float64Array {
    if (n === 0) return new Float64Array(0);
    const out = new Float64Array(n);
    for (let i0 = 0; i0 < n; i0 += CHUNK) {
      const rows = Math.min(CHUNK, n - i0);
      const x = this.inputs(obs.subarray(i0 * this.obsDim, (i0 + rows) * this.obsDim), actions.subarray(i0 * this.actDim, (i0 + rows) * this.actDim), rows);
      out.set(this.predictInputs(x, rows), i0);
    }
    return out;
  }

  /** Discrete actions: Q(s_i, a) for every action a, n x K row-major. */
  qAll(obs: Float32Array, n: number): Float64Array {
    const K = this.numActions;
    if (K === undefined) {
      throw new OffpolicyError('E_Q_SHAPE', 'qAll needs a discrete action space; this Q network takes box actions.', { hint: 'Call q(obs, actions, n) with the actions to evaluate.' });
    }
    const out = new Float64Array(n * K);
    const rowsPer = Math.max(1, Math.floor(CHUNK / K));
    const d = this.obsDim;
    for (let i0 = 0; i0 < n; i0 += rowsPer) {
      const rows = Math.min(rowsPer, n - i0);
      const x = this.allActionInputs(obs.subarray(i0 * d, (i0 + rows) * d), rows);
      out.set(this.predictInputs(x, rows * K), i0 * K);
    }
    return out;
  }

  /** Discrete: the inputs of every (row, action) pair, row-major (row i, action a at i * K + a). */
  allActionInputs(obs: Float32Array, n: number, out: Float32Array = new Float32Array(n * (this.numActions ?? 0) * (this.obsDim + this.actDim))): Float32Array {
    const K = this.numActions!;
    const d = this.obsDim;
    const w = d + K;
    for (let i = 0; i < n; i++) {
      const base = i * K * w;
      for (let j = 0; j < d; j++) out[base + j] = (obs[i * d + j]! - this.obsMean[j]!) / this.obsStd[j]!;
      for (let a = 0; a < K; a++) {
        const o = base + a * w;
        if (a > 0) out.copyWithin(o, base, base + d);
        out.fill(0, o + d, o + w);
        out[o + d + a] = 1;
      }
    }
    return out;
  }

  /** Per-row gradients of Q(s_i, a_i) w.r.t. s_i and a_i (each row's Q depends only on its own inputs). */
  grad(obs: Float32Array, act: Float32Array, n: number): { obs: Float32Array; act: Float32Array } {
    const d = this.obsDim;
    const m = this.actDim;
    const go = new Float32Array(n * d);
    const ga = new Float32Array(n * m);
    for (let i0 = 0; i0 < n; i0 += CHUNK) {
      const rows = Math.min(CHUNK, n - i0);
      const x = this.inputs(obs.subarray(i0 * d, (i0 + rows) * d), act.subarray(i0 * m, (i0 + rows) * m), rows);
      this.net.forward(this.params, x, rows);
      const dx = this.net.backward(new Float32Array(rows).fill(1), null, true)!;
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < d; j++) go[(i0 + i) * d + j] = dx[i * (d + m) + j]! / this.obsStd[j]!;
        for (let j = 0; j < m; j++) ga[(i0 + i) * m + j] = dx[i * (d + m) + d + j]!;
      }
    }
    return { obs: go, act: ga };
  }

  /** The weights of layer l as (W fanIn x fanOut row-major, b) views. */
  layers(): { w: Float32Array; b: Float32Array }[] {
    return layerOffsets(this.spec).map((l) => ({ w: this.params.subarray(l.w, l.w + l.fanIn * l.fanOut), b: this.params.subarray(l.b, l.b + l.fanOut) }));
  }

  /** A copy with its own parameters (and engine). */
  clone(): MlpQFunction {
    return new MlpQFunction({ obsDim: this.obsDim, actDim: this.actDim, ...(this.numActions !== undefined ? { numActions: this.numActions } : {}), hidden: this.hidden }, Float32Array.from(this.params), this.obsMean, this.obsStd);
  }
}
