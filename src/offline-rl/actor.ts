/**
 * The actor shared by BC and IQL: mean = maxAction * tanh(MLP(s)), trained by
 * (weighted) regression on dataset actions. Deterministic: squared error;
 * Gaussian: negative log-likelihood with a state-independent log-std vector.
 */
import { Adam } from '../nn/adam.js';
import { initMlp, type MlpSpec } from '../nn/mlp.js';
import { WasmMlp } from '../nn/wasm-mlp.js';
import { gaussianNllLoss, weightedMseActorLoss } from './losses.js';
import { MlpPolicy, type ActorKind } from './policy.js';
import type { NormStats } from '../nn/normalization.js';
import type { Rng } from '../util/rng.js';
import { putAdam, putBuffer, takeAdam, takeBuffer, type LearnerState } from './learner.js';

export class Actor {
  readonly spec: MlpSpec;
  readonly params: Float32Array;
  readonly grad: Float32Array;
  readonly logStd: Float32Array | null;
  private readonly gradLogStd: Float32Array | null;
  readonly adam: Adam;
  readonly adamLogStd: Adam | null;
  private net: WasmMlp | null = null;

  constructor(
    obsDim: number,
    readonly actDim: number,
    hidden: readonly number[],
    readonly kind: ActorKind,
    readonly maxAction: Float32Array,
    lr: number,
    rng: Rng,
  ) {
    this.spec = { sizes: [obsDim, ...hidden, actDim], output: 'tanh' };
    this.params = initMlp(this.spec, rng);
    this.grad = new Float32Array(this.params.length);
    this.adam = new Adam(this.params.length, { lr });
    this.logStd = kind === 'gaussian' ? new Float32Array(actDim) : null;
    this.gradLogStd = kind === 'gaussian' ? new Float32Array(actDim) : null;
    this.adamLogStd = kind === 'gaussian' ? new Adam(actDim, { lr }) : null;
  }

  /** The wasm engine running this actor's forward / backward passes (created on first use). */
  get engine(): WasmMlp {
    this.net ??= new WasmMlp(this.spec);
    return this.net;
  }

  /**
   * One regression step on (observations, actions) with optional per-row
   * weights; returns the loss. Observations are rows of a Float32Array; the
   * passes run on the wasm engine.
   */
  step(x: Float32Array, actions: Float32Array, weights: ArrayLike<number> | undefined, lr: number): number {
    const m = this.actDim;
    const n = x.length / this.spec.sizes[0]!;
    const net = this.engine;
    const y = net.forward(this.params, x, n);
    const mean = new Float32Array(y.length);
    for (let i = 0; i < y.length; i++) mean[i] = y[i]! * this.maxAction[i % m]!;
    let loss: number;
    let gradMean: Float32Array;
    if (this.kind === 'gaussian') {
      const r = gaussianNllLoss(mean, this.logStd!, actions, m, weights);
      loss = r.loss;
      gradMean = r.gradMean;
      this.gradLogStd!.set(r.gradLogStd);
    } else {
      const r = weightedMseActorLoss(mean, actions, m, weights);
      loss = r.loss;
      gradMean = r.grad;
    }
    for (let i = 0; i < gradMean.length; i++) gradMean[i] = gradMean[i]! * this.maxAction[i % m]!;
    net.backward(gradMean, this.grad);
    this.adam.step(this.params, this.grad, lr);
    if (this.adamLogStd) this.adamLogStd.step(this.logStd!, this.gradLogStd!, lr);
    return loss;
  }

  /** Checkpoint: weights, log-std and both optimizers under `prefix` (see learner.ts). */
  putState(s: LearnerState, prefix = 'actor'): void {
    putBuffer(s, `${prefix}.params`, this.params);
    putAdam(s, `${prefix}.adam`, this.adam);
    if (this.logStd && this.adamLogStd) {
      putBuffer(s, `${prefix}.logStd`, this.logStd);
      putAdam(s, `${prefix}.adamLogStd`, this.adamLogStd);
    }
  }

  takeState(s: LearnerState, prefix = 'actor'): void {
    takeBuffer(s, `${prefix}.params`, this.params);
    takeAdam(s, `${prefix}.adam`, this.adam);
    if (this.logStd && this.adamLogStd) {
      takeBuffer(s, `${prefix}.logStd`, this.logStd);
      takeAdam(s, `${prefix}.adamLogStd`, this.adamLogStd);
    }
  }

  toPolicy(algo: string, stats: NormStats, training?: Record<string, unknown>): MlpPolicy {
    return new MlpPolicy({
      algo,
      kind: this.kind,
      spec: this.spec,
      params: this.params,
      maxAction: this.maxAction,
      logStd: this.logStd,
      obsMean: stats.mean,
      obsStd: stats.std,
      training,
    });
  }
}

/** Per-dimension action scale: the given bound, else the largest |a| in the data (at least 1e-6). */
export function actionScale(actions: Float32Array, m: number, given?: number | readonly number[]): Float32Array {
  const out = new Float32Array(m);
  if (given !== undefined) {
    for (let j = 0; j < m; j++) out[j] = typeof given === 'number' ? given : given[j]!;
    return out;
  }
  for (let i = 0; i < actions.length; i++) out[i % m] = Math.max(out[i % m]!, Math.abs(actions[i]!));
  for (let j = 0; j < m; j++) out[j] = Math.max(out[j]!, 1e-6);
  return out;
}
