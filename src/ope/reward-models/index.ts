/**
 * Reward models for DM and the DR family: which ones exist, how a --reward-model
 * spec is read, and the one call the evaluator makes (fit, cross-fit, predict).
 */
import { OffpolicyError } from '../../core/errors.js';
import type { Warning } from '../../core/evaluation-result.js';
import { crossFitPredict } from './cross-fit.js';
import { fitLogistic } from './logistic.js';
import { fitMlp, type MlpOptions } from './mlp.js';
import { fitRidge } from './ridge.js';
import type { RewardData, RewardModel } from '../../core/contracts.js';

export { fitRidge, RidgeRewardModel, type RidgeOptions } from './ridge.js';
export { fitLogistic, LogisticRewardModel, type LogisticOptions } from './logistic.js';
export { fitMlp, MlpRewardModel, type MlpOptions } from './mlp.js';
export { crossFitPredict, foldAssignment } from './cross-fit.js';

export const REWARD_MODEL_KINDS = ['ridge', 'ridge-per-action', 'logistic', 'mlp'] as const;
export type RewardModelKind = (typeof REWARD_MODEL_KINDS)[number];

export type RewardModelSpec =
  | { type: 'fit'; kind: RewardModelKind }
  /** User-supplied predictions: one column per action (q_0..q_{K-1}) or one DOUBLE[K] column. */
  | { type: 'columns'; columns: string[] };

/** Reads "ridge" | "ridge-per-action" | "logistic" | "mlp" | "columns:q_0,q_1,..." | "columns:NAME" (a DOUBLE[K] column). */
export function parseRewardModelSpec(spec: string): RewardModelSpec {
  const s = spec.trim();
  if (s.startsWith('columns:') || s.startsWith('column:')) {
    const columns = s
      .slice(s.indexOf(':') + 1)
      .split(',')
      .map((c) => c.trim())
      .filter((c) => c.length > 0);
    if (columns.length === 0) {
      throw new OffpolicyError('E_REWARD_MODEL_SPEC', `"${spec}" names no columns.`, { hint: 'Write columns:q_0,q_1,... (one per action) or columns:NAME for a DOUBLE[K] column.' });
    }
    return { type: 'columns', columns };
  }
  if ((REWARD_MODEL_KINDS as readonly string[]).includes(s)) return { type: 'fit', kind: s as RewardModelKind };
  throw new OffpolicyError('E_REWARD_MODEL_SPEC', `Unknown reward model "${spec}".`, {
    hint: `Use one of ${REWARD_MODEL_KINDS.join(', ')}, or columns:q_0,...,q_{K-1} for predictions you computed elsewhere.`,
  });
}

export interface FitRewardModelOptions {
  kind: RewardModelKind;
  /** L2 penalty for ridge and logistic (default 1). */
  lambda?: number;
  seed?: number;
  mlp?: MlpOptions;
}

export async function fitRewardModel(data: RewardData, opts: FitRewardModelOptions): Promise<RewardModel> {
  switch (opts.kind) {
    case 'ridge':
      return fitRidge(data, { lambda: opts.lambda });
    case 'ridge-per-action':
      return fitRidge(data, { lambda: opts.lambda, perAction: true });
    case 'logistic':
      return fitLogistic(data, { lambda: opts.lambda });
    case 'mlp':
      return fitMlp(data, { seed: opts.seed, ...opts.mlp });
  }
}

/**
 * q(x_i, a) for every logged row and action (n x K). With folds > 1 each row's
 * prediction comes from a model fitted without its fold.
 */
export async function estimateRewardHat(
  data: RewardData,
  opts: FitRewardModelOptions & { folds?: number; onProgress?: (done: number, total: number) => void },
): Promise<{ rewardHat: Float64Array; warnings: Warning[] }> {
  const seed = opts.seed ?? 0;
  return crossFitPredict(data, (train, fold) => fitRewardModel(train, { ...opts, seed: seed + 7919 * fold }), {
    folds: opts.folds ?? 1,
    seed,
    onFold: opts.onProgress,
  });
}

/**
 * What a fitted reward model reads, in words (evaluate prints it): the context
 * (`context`, from describeFeatures), the action, and item features when given.
 */
export function describeRewardModelInputs(kind: RewardModelKind, context: string, itemFeatures?: { width: number; source: string }): string {
  const ctx = context === 'none' ? undefined : `context (${context})`;
  const items = itemFeatures ? `item features of the action (${itemFeatures.width}, from ${itemFeatures.source})` : undefined;
  const noCtx = ctx ? '' : '; the log gives it no context, so it predicts from the action alone';
  switch (kind) {
    case 'ridge':
    case 'logistic':
      return `${kind} on [${[ctx, 'action one-hot', items].filter(Boolean).join(', ')}]${noCtx}`;
    case 'ridge-per-action':
      return `one ridge model per action on [${ctx ?? 'intercept'}]${noCtx}${items ? '; item features are constant within one action\'s model, so they are not used' : ''}`;
    case 'mlp':
      return `mlp on [${[ctx, 'action one-hot'].filter(Boolean).join(', ')}]${noCtx}${items ? '; the MLP does not read item features' : ''}`;
  }
}
