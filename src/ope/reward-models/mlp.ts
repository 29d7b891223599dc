/**
 * A small MLP reward model q(x, a) on [standardized x, one-hot(a)]: the Q
 * network of src/models/q-network.ts (the horizon-1 Q function of a bandit) on
 * the wasm engine, trained by Adam on the mean squared error in shuffled
 * mini-batches (epochs; a last partial batch is dropped). Weights are
 * initialised from the seed and batches drawn with the toolkit's seeded Rng, so
 * the same seed gives the same bytes.
 */
import type { RewardData, RewardModel } from '../../core/contracts.js';
import { OffpolicyError } from '../../core/errors.js';
import type { Warning } from '../../core/evaluation-result.js';
import { MlpQFunction } from '../../models/q-network.js';
import { Adam } from '../../nn/adam.js';
import { mseLoss } from '../../nn/losses.js';
import { initMlp } from '../../nn/mlp.js';
import { Rng } from '../../util/rng.js';

export interface MlpOptions {
  hidden?: number[];
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
}

export class MlpRewardModel implements RewardModel {
  readonly kind = 'mlp';
  constructor(
    readonly numActions: number,
    readonly net: MlpQFunction,
    readonly warnings: Warning[],
  ) {}

  predict(contexts: Float32Array, n: number): Float64Array {
    return this.net.qAll(contexts, n);
  }
}

export async function fitMlp(data: RewardData, opts: MlpOptions = {}): Promise<MlpRewardModel> {
  const { n, d, numActions: k } = data;
  if (n === 0) throw new OffpolicyError('E_REWARD_MODEL_FIT', 'The MLP reward model cannot be fitted on zero rows.', { hint: 'Evaluate on a non-empty dataset.' });
  const seed = opts.seed ?? 0;
  const hidden = opts.hidden ?? [32, 32];
  const epochs = opts.epochs ?? 20;
  const batchSize = Math.min(opts.batchSize ?? 256, n);
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] = mean[j]! + data.contexts[i * d + j]! / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) std[j] = std[j]! + (data.contexts[i * d + j]! - mean[j]!) ** 2 / n;
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]!) || 1;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(data.rewards[i]!)) {
      throw new OffpolicyError('E_REWARD_MODEL_FIT', `The MLP reward model cannot be fitted: reward on row ${i} is not a finite number.`, {
        hint: 'Drop or fix rows with missing rewards before evaluating.',
      });
    }
  }
  const rng = new Rng(seed);
  const spec = { sizes: [d + k, ...hidden, 1], output: 'linear' as const };
  const net = new MlpQFunction({ obsDim: d, numActions: k, hidden }, initMlp(spec, rng.fork('mlp-init')), Float32Array.from(mean), Float32Array.from(std));
  const adam = new Adam(net.params.length, { lr: opts.learningRate ?? 1e-3 });
  const grad = new Float32Array(net.params.length);
  const batchRng = rng.fork('mlp-batches');
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const xb = new Float32Array(batchSize * d);
  const ab = new Float32Array(batchSize * k);
  const yb = new Float64Array(batchSize);
  const input = new Float32Array(batchSize * (d + k));
  let lastLoss = NaN;
  for (let e = 0; e < epochs; e++) {
    for (let i = n - 1; i > 0; i--) {
      const j = batchRng.int(i + 1);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    for (let b0 = 0; b0 + batchSize <= n; b0 += batchSize) {
      ab.fill(0);
      for (let b = 0; b < batchSize; b++) {
        const r = order[b0 + b]!;
        xb.set(data.contexts.subarray(r * d, (r + 1) * d), b * d);
        ab[b * k + data.actions[r]!] = 1;
        yb[b] = data.rewards[r]!;
      }
      const pred = net.net.forward(net.params, net.inputs(xb, ab, batchSize, input), batchSize);
      const l = mseLoss(pred, yb);
      lastLoss = l.loss;
      if (!Number.isFinite(l.loss)) {
        throw new OffpolicyError('E_REWARD_MODEL_FIT', `The MLP reward model failed to fit: the training loss became ${l.loss} in epoch ${e + 1}.`, {
          hint: 'Lower the learning rate, check the rewards and contexts for extreme values, or use --reward-model ridge.',
        });
      }
      net.net.backward(l.grad, grad);
      adam.step(net.params, grad);
    }
  }
  if (!Number.isFinite(lastLoss)) {
    throw new OffpolicyError('E_REWARD_MODEL_FIT', 'The MLP reward model failed to fit: no finite training loss.', { hint: 'Use --reward-model ridge.' });
  }
  return new MlpRewardModel(k, net, []);
}
