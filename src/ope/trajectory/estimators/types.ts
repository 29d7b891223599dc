/**
 * The contract of a trajectory estimator (REFERENCES.md, "Trajectory off-policy
 * evaluation"). The episode is the unit: each estimator gives one term g_i per
 * episode, the estimate is their mean, and every interval is computed over them.
 *
 * Self-normalised estimators (SNTIS, SNPDIS, SNDR) are ratios of episode means,
 * so their g_i are the linearised terms estimate + influence_i (the influence
 * function of the ratio with the normalisers held at their sample values): their
 * mean is exactly the estimate and their sample variance is the delta-method
 * variance, so a t interval over them is the delta-method interval. The bootstrap
 * re-estimates them on every resample through `resampled`.
 */
import type { TrajectoryOpeData } from '../data.js';
import type { TrajectoryWeights } from '../weights.js';
import type { MarginalWeights } from '../marginal/mwl.js';

export type TrajectoryEstimatorId = 'dm' | 'tis' | 'pdis' | 'sntis' | 'snpdis' | 'dr' | 'sndr' | 'mis' | 'mdr';

export interface TrajectoryTermsInput {
  data: TrajectoryOpeData;
  /** Null only for DM (which reads no weights). */
  weights: TrajectoryWeights | null;
  /** Q(s_t, a_t) per step (DR family). */
  qLogged?: Float64Array;
  /** V(s_t) = E_{a ~ pi} Q(s_t, a) per step (DR family; DM reads step 0 of each episode). */
  vState?: Float64Array;
  /** V(next_observation) per step, read on the last step of episodes that did not terminate (MDR); NaN where unknown. */
  vNext?: Float64Array;
  /** Learned state-action marginal weights w(s_t, a_t) (MIS, MDR; marginal/mwl.ts). */
  marginal?: MarginalWeights;
}

export interface TrajectoryEstimator {
  id: TrajectoryEstimatorId;
  label: string;
  reference: string;
  selfNormalized: boolean;
  /** Reads the importance weights (all but DM). */
  needsWeights: boolean;
  /** Reads Q / V predictions (DM and the DR family). */
  needsQ: boolean;
  /** Reads learned marginal weights (MIS, MDR): the pipeline learns them per candidate. */
  needsMarginal?: boolean;
  /** g_i per episode; the estimate is their mean. */
  episodeTerms(x: TrajectoryTermsInput): Float64Array;
  /**
   * The estimate when episode i counts `counts[i]` times (a bootstrap resample).
   * Absent for plain means, whose resampled estimate is the weighted mean of g_i.
   */
  resampled?(x: TrajectoryTermsInput, counts: Float64Array): number;
}
