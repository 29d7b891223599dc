/**
 * The contract every off-policy estimator implements.
 *
 * Notation (REFERENCES.md): n logged rounds (x_i, a_i, r_i, p_i = pi0(a_i|x_i)),
 * candidate pi, importance weight w_i = pi(a_i|x_i) / p_i, reward model q(x, a),
 * K actions, dm_i = sum_a pi(a|x_i) q(x_i, a).
 *
 * Every estimator is written ONCE as per-row terms (base_i, num_i, den_i) and
 *
 *     estimate = (1/n) sum_i base_i  +  sum_i num_i / (den ? sum_i den_i : n)
 *
 * so a point estimate only needs mergeable sums (src/ope/sums.ts): it runs as
 * SQL aggregates over Parquet partitions (sqlTerms) or in JS over typed arrays
 * (rowTerms), and the two are tested to agree. `base` is non-null for SNDR
 * (DM part + self-normalized correction) and, in SQL only, for DR (DM part +
 * w (r - q), sharing SNDR's columns; with no den, mean(base) + mean(num) is a
 * plain mean of base + num: see foldBase in ../sums.ts); `den` is non-null for
 * the self-normalized estimators (SNIPS, SNDR).
 */

import type { BanditArrays } from '../../datasets/load-bandit.js';

export type EstimatorId = 'ips' | 'clipped-ips' | 'snips' | 'es-ips' | 'dm' | 'dr' | 'sndr' | 'switch-dr' | 'dr-os';

/**
 * The logged data (fields of the one bandit array type, BanditArrays, with the
 * propensities known or estimated) and the candidate's probabilities, as typed
 * arrays (all length n or n*K, row-major).
 */
export type BanditBatch = Pick<BanditArrays, 'n' | 'numActions' | 'actions' | 'rewards'> & {
  /** p_i = pi0(a_i|x_i), in (0, 1] */
  propensities: Float64Array;
  /** n*K: the candidate's pi(a|x_i) */
  targetProbs: Float64Array;
  /** n*K: reward-model predictions q(x_i, a); needed by DM and the DR family */
  rewardHat?: Float64Array;
  /** n*K: the logger's full distribution pi0(a|x_i) (BanditArrays.actionProbs, or estimated), when known (support diagnostics, certificates) */
  loggingProbs?: Float64Array;
};

export interface EstimatorParams {
  /** L: the weight clip of clipped IPS, the switch threshold of Switch-DR, the shrinkage lambda of DR-OS. */
  clip?: number;
  /** ES-IPS alpha in [0, 1]; alpha = 1 is IPS. Default 1 - n^(-1/4) (Aouali et al. 2023). */
  smoothingAlpha?: number;
}

/** Parameters after defaults are filled in (see resolveParams in ./params.ts). */
export interface ResolvedParams {
  clip: number;
  smoothingAlpha: number;
}

/** Per-row contributions: estimate = mean(base) + sum(num) / (den ? sum(den) : n). */
export interface RowTerms {
  num: Float64Array;
  den: Float64Array | null;
  /** Per-row additive part averaged over n (SNDR's DM part); null for all other estimators. */
  base: Float64Array | null;
}

/** SQL expressions (over one row) for the inputs the estimators read. */
export interface SqlColumns {
  reward: string;
  propensity: string;
  /** pi(a_i|x_i): the candidate's probability of the logged action */
  piLogged: string;
  /**
   * Optional: an expression (typically a column of a subquery) already holding
   * w_i = piLogged / propensity, so a scan computing many estimators divides once.
   * It must equal (piLogged) / (propensity) exactly.
   */
  weight?: string;
  /**
   * Optional: an expression holding pi(a_i|x_i) / p_i^alpha for the smoothing
   * exponent passed in EstimatorParams (ES-IPS reads it instead of calling power()).
   */
  smoothedWeight?: string;
  /** q(x_i, a_i): the reward model at the logged action */
  qLogged?: string;
  /** sum_a pi(a|x_i) q(x_i, a) */
  dm?: string;
}

/** SQL expressions for the row terms; null parts are absent (see RowTerms). */
export interface SqlTerms {
  num: string;
  den: string | null;
  base: string | null;
}

export interface EstimatorSpec {
  id: EstimatorId;
  label: string;
  /** Paper / library the formula follows. */
  reference: string;
  /** DM and the DR family need q(x, a). */
  needsRewardModel: boolean;
  /** A ratio of sums (SNIPS, SNDR): concentration intervals (Hoeffding, Bernstein) do not apply to its row terms. */
  selfNormalized: boolean;
  /** Which parameters the estimator reads (for reporting). */
  uses: ReadonlyArray<keyof ResolvedParams>;
  rowTerms(b: BanditBatch, p: EstimatorParams): RowTerms;
  sqlTerms(c: SqlColumns, p: EstimatorParams): SqlTerms;
}
