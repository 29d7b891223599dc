/**
 * The categorical actor shared by the discrete learners: logits = MLP(x) over K
 * actions, trained by (weighted) softmax cross-entropy on dataset actions:
 * plain for BC and RCBC, advantage-weighted for IQL.
 */
import type { Rng } from '../../util/rng.js';
import { Adam } from '../../nn/adam.js';
import { initMlp, type MlpSpec } from '../../nn/mlp.js';
import { WasmMlp } from '../../nn/wasm-mlp.js';
import type { NormStats } from '../../nn/normalization.js';
import { putAdam, putBuffer, takeAdam, takeBuffer, type LearnerState } from '../learner.js';
import { softmaxCrossEntropyLoss } from '../losses.js';
import type { ReturnConditioning } from '../policy.js';
import { CategoricalMlpPolicy } from './categorical-policy.js';

export class CategoricalActor {
  readonly spec: MlpSpec;
  readonly params: Float32Array;
  readonly grad: Float32Array;
  readonly adam: Adam;
  private net: WasmMlp | null = null;

  constructor(
    inDim: number,
    readonly numActions: number,
    hidden: readonly number[],
    lr: number,
    rng: Rng,
  ) {
    this.spec = { sizes: [inDim, ...hidden, numActions], output: 'linear' };
    this.params = initMlp(this.spec, rng);
    this.grad = new Float32Array(this.params.length);
    this.adam = new Adam(this.params.length, { lr });
  }

  /** The wasm engine running this actor's forward / backward passes (created on first use). */
  get engine(): WasmMlp {
    this.net ??= new WasmMlp(this.spec);
    return this.net;
  }

  /**
   * One cross-entropy step on (inputs, action indices) with optional per-row
   * weights; returns the loss. Inputs are rows of a Float32Array; the passes
   * run on the wasm engine.
   */
  step(rows: Float32Array, actions: Int32Array, weights: ArrayLike<number> | undefined, lr: number): number {
    const k = this.numActions;
    const n = rows.length / this.spec.sizes[0]!;
    const net = this.engine;
    const logits = net.forward(this.params, rows, n);
    const r = softmaxCrossEntropyLoss(logits, actions, k, weights);
    net.backward(r.grad, this.grad);
    this.adam.step(this.params, this.grad, lr);
    return r.loss;
  }

  /** Checkpoint: weights and optimizer under `prefix` (see learner.ts). */
  putState(s: LearnerState, prefix = 'actor'): void {
    putBuffer(s, `${prefix}.params`, this.params);
    putAdam(s, `${prefix}.adam`, this.adam);
  }

  takeState(s: LearnerState, prefix = 'actor'): void {
    takeBuffer(s, `${prefix}.params`, this.params);
    takeAdam(s, `${prefix}.adam`, this.adam);
  }

  /** A snapshot of the current weights as a policy. */
  toPolicy(algo: string, stats: NormStats, training: Record<string, unknown>, returnConditioning?: ReturnConditioning): CategoricalMlpPolicy {
    return new CategoricalMlpPolicy({
      algo,
      spec: this.spec,
      params: this.params,
      obsMean: stats.mean,
      obsStd: stats.std,
      ...(returnConditioning ? { returnConditioning } : {}),
      training,
    });
  }
}
