/**
 * Estimator parameters: validation and documented defaults.
 */
import { OffpolicyError } from '../../core/errors.js';
import type { EstimatorId, EstimatorParams, ResolvedParams } from './types.js';

/**
 * Default L for clipped IPS, Switch-DR and DR-OS when none is given. OBP's default is
 * "no clipping" (lambda = inf), which makes clipped IPS equal IPS and Switch-DR equal
 * DR; a finite default keeps the three estimators distinct. Pass `clip` to match a
 * particular OBP run (clip = Infinity is accepted and reproduces OBP's default).
 */
export const DEFAULT_CLIP = 10;

/**
 * Estimators whose L acts only on weights above L: clipped IPS clips w at L and
 * Switch-DR falls back to DM where w > L, so when every weight is <= L they equal
 * IPS and DR row by row (their SQL terms with L = Infinity are IPS's and DR's).
 * DR-OS shrinks every weight, so it is not one of them.
 */
export const CLIP_BINDS_ABOVE_L: ReadonlySet<EstimatorId> = new Set<EstimatorId>(['clipped-ips', 'switch-dr']);

/** Aouali et al. (2023) use alpha = 1 - n^(-1/4) in their experiments. */
export function defaultSmoothingAlpha(n: number): number {
  return n > 0 ? 1 - Math.pow(n, -0.25) : 1;
}

export function checkClip(clip: number): number {
  if (!(clip > 0) || Number.isNaN(clip)) {
    throw new OffpolicyError('E_ESTIMATOR_PARAM', `The clip / switch / shrinkage parameter L must be a positive number, got ${clip}.`, {
      hint: 'Pass a value such as --clip 10 (Infinity disables clipping).',
    });
  }
  return clip;
}

export function checkSmoothingAlpha(alpha: number): number {
  if (!(alpha >= 0 && alpha <= 1)) {
    throw new OffpolicyError('E_ESTIMATOR_PARAM', `The smoothing exponent alpha of ES-IPS must lie in [0, 1], got ${alpha}.`, {
      hint: 'alpha = 1 is plain IPS; the paper uses 1 - n^(-1/4).',
    });
  }
  return alpha;
}

/** Fills in defaults (clip = DEFAULT_CLIP, alpha = 1 - n^(-1/4)) and validates. */
export function resolveParams(p: EstimatorParams, n: number): ResolvedParams {
  return {
    clip: checkClip(p.clip ?? DEFAULT_CLIP),
    smoothingAlpha: checkSmoothingAlpha(p.smoothingAlpha ?? defaultSmoothingAlpha(n)),
  };
}

/** A number as an SQL DOUBLE literal (DuckDB reads bare 0.1 as DECIMAL); the CAST reads the same in DuckDB and ClickHouse. */
export function sqlNumber(x: number): string {
  if (x === Infinity) return `CAST('inf' AS DOUBLE)`;
  if (x === -Infinity) return `CAST('-inf' AS DOUBLE)`;
  if (!Number.isFinite(x)) throw new Error(`not a finite number: ${x}`);
  return `CAST(${String(x)} AS DOUBLE)`;
}
