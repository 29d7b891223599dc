/**
 * Options shared by the learners, with the reference defaults of
 * ../shared/REFERENCES.md (CORL / official code).
 */
import { OffpolicyError } from '../core/errors.js';
import type { ActorKind } from './policy.js';

export interface CommonTrainOptions {
  /** Gradient steps. */
  steps: number;
  seed: number;
  batchSize?: number;
  /** Hidden layer widths of every network (default [256, 256]). */
  hidden?: readonly number[];
  lr?: number;
  /** Normalize observations by dataset mean / std (default true). */
  normalize?: boolean;
  /** Action bound per dimension (default: the largest |action| in the data). */
  maxAction?: number | readonly number[];
  /** Expected action dimension (e.g. the evaluation env's); a mismatch fails with E_ACTION_SHAPE. */
  expectedActDim?: number;
  actor?: ActorKind;
  /** Called every `progressEvery` steps and at the end: (done, total, latest losses). */
  onProgress?: (done: number, total: number, losses: Record<string, number>) => void;
  progressEvery?: number;
}

export function checkSteps(steps: number): void {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new OffpolicyError('E_TRAIN_PARAM', `steps must be a positive integer, got ${steps}.`, { hint: 'Pass --steps 1000 or more.' });
  }
}

export function checkPositive(name: string, v: number): void {
  if (!(v > 0) || !Number.isFinite(v)) {
    throw new OffpolicyError('E_TRAIN_PARAM', `${name} must be a positive number, got ${v}.`, { hint: `Give ${name} > 0 or leave it at its default.` });
  }
}

export function checkDiscount(gamma: number): void {
  if (!(gamma >= 0 && gamma <= 1)) {
    throw new OffpolicyError('E_TRAIN_PARAM', `gamma must be in [0, 1], got ${gamma}.`, { hint: 'The reference value is 0.99.' });
  }
}

export function checkFinite(name: string, v: number): void {
  if (!Number.isFinite(v)) {
    throw new OffpolicyError('E_TRAIN_PARAM', `${name} must be a finite number, got ${v}.`, { hint: `Give a finite ${name} or leave it at its default.` });
  }
}

export function checkFiniteLoss(losses: Record<string, number>, step: number): void {
  for (const [k, v] of Object.entries(losses)) {
    if (!Number.isFinite(v)) {
      throw new OffpolicyError('E_DIVERGED', `Training diverged at step ${step}: the ${k} loss is ${v}.`, {
        hint: 'Lower the learning rate, keep observation normalization on, or check the rewards for extreme values.',
      });
    }
  }
}
