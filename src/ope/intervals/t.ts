/**
 * Student-t interval: estimate +- t_{1 - alpha/2, n - 1} * se, with se the
 * delta-method standard error from mergeable sums (exactly s / sqrt(n) for plain
 * means), so it runs on sums computed by DuckDB over partitions.
 */
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import type { Interval } from '../../core/evaluation-result.js';
import { sumsStdError, sumsValue, type MergeableSums } from '../sums.js';
import { checkAlpha, checkRows } from './common.js';

export function tInterval(s: MergeableSums, alpha: number): Interval {
  checkAlpha(alpha);
  checkRows(s.n, 2, 'Student-t');
  const v = sumsValue(s);
  const half = tQuantile(1 - alpha / 2, s.n - 1) * sumsStdError(s);
  return { lower: v - half, upper: v + half, method: 't', alpha };
}
