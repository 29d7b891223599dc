/**
 * Options of the discrete learners: the continuous learners' common options
 * without the action-box ones (a categorical policy has no action bound and no
 * actor kind), checked so a flag that would be ignored fails loudly.
 */
import { OffpolicyError } from '../../core/errors.js';
import type { CommonTrainOptions } from '../config.js';

export type DiscreteCommonOptions = Omit<CommonTrainOptions, 'maxAction' | 'expectedActDim' | 'actor'>;

/** Options of the continuous learners that a discrete learner refuses (expectedActDim is set by loaders and ignored). */
const BOX_ONLY = ['actor', 'maxAction'] as const;

export function checkDiscreteOptions(opts: object, algo: string): void {
  for (const k of BOX_ONLY) {
    if ((opts as Record<string, unknown>)[k] === undefined) continue;
    const flag = k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    throw new OffpolicyError('E_TRAIN_PARAM', `--${flag} does not apply to the discrete ${algo} learner: it trains a categorical policy over the dataset's actions.`, {
      hint: `Drop --${flag}; it is an option of the continuous-action learners.`,
    });
  }
}

/** The options as stored in a checkpoint's config (the box-only keys, which are always unset here, dropped). */
export function discreteConfig<T extends object>(opts: T): Omit<T, 'expectedActDim'> {
  const { expectedActDim: _e, ...rest } = opts as T & { expectedActDim?: number };
  return rest;
}
