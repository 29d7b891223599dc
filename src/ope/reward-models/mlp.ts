/**
 * A small MLP reward model on [standardized x, one-hot(a)] with
 * @tensorflow/tfjs on the wasm backend (falling back to the cpu backend only
 * when wasm cannot start, with a warning). Weights are initialised from the
 * seed and mini-batches are drawn with the toolkit's seeded Rng, so the same
 * seed gives the same model.
 */
import * as tf from '@tensorflow/tfjs';
import { OffpolicyError } from '../../core/errors.js';
import { Rng } from '../../util/rng.js';
import type { Warning } from '../../core/evaluation-result.js';
import type { RewardData, RewardModel } from '../../core/contracts.js';
import { ensureTfBackend } from '../../util/tf-backend.js';

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
    private readonly d: number,
    private readonly model: tf.LayersModel,
    private readonly mean: Float64Array,
    private readonly std: Float64Array,
    readonly warnings: Warning[],
  ) {}

  predict(contexts: Float32Array, n: number): Float64Array {
    const k = this.numActions;
    const out = new Float64Array(n * k);
    const chunk = Math.max(1, Math.floor(65536 / k));
    for (let i0 = 0; i0 < n; i0 += chunk) {
      const rows = Math.min(chunk, n - i0);
      const x = new Float32Array(rows * k * (this.d + k));
      for (let i = 0; i < rows; i++) for (let a = 0; a < k; a++) fillInput(x, (i * k + a) * (this.d + k), contexts, i0 + i, this.d, a, k, this.mean, this.std);
      const pred = tf.tidy(() => (this.model.predict(tf.tensor2d(x, [rows * k, this.d + k])) as tf.Tensor).dataSync());
      for (let j = 0; j < rows * k; j++) out[i0 * k + j] = pred[j]!;
    }
    return out;
  }

  dispose(): void {
    this.model.dispose();
  }
}

function fillInput(out: Float32Array, off: number, contexts: Float32Array, i: number, d: number, a: number, k: number, mean: Float64Array, std: Float64Array): void {
  for (let j = 0; j < d; j++) out[off + j] = (contexts[i * d + j]! - mean[j]!) / std[j]!;
  for (let j = 0; j < k; j++) out[off + d + j] = j === a ? 1 : 0;
}

export async function fitMlp(data: RewardData, opts: MlpOptions = {}): Promise<MlpRewardModel> {
  const warnings: Warning[] = [];
  const backend = await ensureTfBackend();
  if (backend.warning) warnings.push({ code: 'TF_BACKEND_CPU', message: backend.warning });
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
  const model = tf.sequential();
  hidden.forEach((h, l) =>
    model.add(
      tf.layers.dense({
        units: h,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 101 + l + 1 }),
        ...(l === 0 ? { inputShape: [d + k] } : {}),
      }),
    ),
  );
  model.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 101 + 99 }) }));
  model.compile({ optimizer: tf.train.adam(opts.learningRate ?? 1e-3), loss: 'meanSquaredError' });
  const rng = new Rng(seed).fork('mlp-batches');
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const xb = new Float32Array(batchSize * (d + k));
  const yb = new Float32Array(batchSize);
  let lastLoss = NaN;
  for (let e = 0; e < epochs; e++) {
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    for (let b0 = 0; b0 + batchSize <= n; b0 += batchSize) {
      for (let b = 0; b < batchSize; b++) {
        const r = order[b0 + b]!;
        fillInput(xb, b * (d + k), data.contexts, r, d, data.actions[r]!, k, mean, std);
        yb[b] = data.rewards[r]!;
      }
      const xs = tf.tensor2d(xb, [batchSize, d + k]);
      const ys = tf.tensor2d(yb, [batchSize, 1]);
      const loss = (await model.trainOnBatch(xs, ys)) as number;
      xs.dispose();
      ys.dispose();
      lastLoss = loss;
      if (!Number.isFinite(loss)) {
        model.dispose();
        throw new OffpolicyError('E_REWARD_MODEL_FIT', `The MLP reward model failed to fit: the training loss became ${loss} in epoch ${e + 1}.`, {
          hint: 'Lower the learning rate, check the rewards and contexts for extreme values, or use --reward-model ridge.',
        });
      }
    }
  }
  if (!Number.isFinite(lastLoss)) {
    model.dispose();
    throw new OffpolicyError('E_REWARD_MODEL_FIT', 'The MLP reward model failed to fit: no finite training loss.', { hint: 'Use --reward-model ridge.' });
  }
  return new MlpRewardModel(k, d, model, mean, std, warnings);
}
