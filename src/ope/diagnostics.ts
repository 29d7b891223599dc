/**
 * Importance-weight diagnostics and the warnings that flag unreliable estimates.
 *
 * Warning codes (stable) and thresholds:
 *   LOW_ESS                ESS = (sum w)^2 / sum w^2 below LOW_ESS_RATIO * n or below MIN_ESS rows.
 *                          10% of n: below it, fewer than one row in ten effectively counts and
 *                          t / bootstrap intervals of IPS and DR under-cover (a candidate with
 *                          ESS 113 of 2,000 rows, 5.7%, max weight 39, had estimators spread
 *                          from 0.30 to 0.60). A deterministic policy against a uniform logger
 *                          over K actions has ESS n / K, so K > 10 actions trigger it.
 *   HEAVY_WEIGHTS          the largest weight exceeds HEAVY_WEIGHT_MAX, or one row carries more
 *                          than HEAVY_WEIGHT_SHARE of the total weight.
 *   SUPPORT_DEFICIENT      the candidate puts mass (> SUPPORT_TOLERANCE on average) on actions the
 *                          logger never takes (needs the logger's full distribution).
 *   ESTIMATOR_DISAGREEMENT the two most distant point estimates disagree beyond their intervals
 *                          (when both have one), or by more than DISAGREEMENT_RELATIVE of the
 *                          largest |estimate| (when not). Only estimators that aim at the value
 *                          itself take part (DISAGREEMENT_ESTIMATORS): clipped IPS, exponentially
 *                          smoothed IPS, Switch-DR and DR-OS trade bias for variance on purpose, so
 *                          their distance from the others is expected, not a symptom.
 */
import type { BanditBatch } from './estimators/types.js';
import { loggedInputs } from './estimators/inputs.js';
import type { Estimate, Warning, WeightDiagnostics } from '../core/evaluation-result.js';
import { sortedQuantile } from './intervals/bootstrap.js';

export const LOW_ESS_RATIO = 0.1;
export const MIN_ESS = 100;
export const HEAVY_WEIGHT_MAX = 100;
export const HEAVY_WEIGHT_SHARE = 0.05;
export const SUPPORT_TOLERANCE = 1e-9;
export const DISAGREEMENT_RELATIVE = 0.1;
/** Estimators compared by the disagreement check (unbiased, self-normalized, or model-based). */
export const DISAGREEMENT_ESTIMATORS: ReadonlySet<string> = new Set(['ips', 'snips', 'dm', 'dr', 'sndr']);
export const DEFAULT_WEIGHT_QUANTILES: readonly number[] = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99];

export interface WeightDiagnosticsOptions {
  quantiles?: readonly number[];
}

/**
 * Mean over rows of the candidate's mass on actions the logger gives probability 0:
 * (1/n) sum_i sum_{a: pi0(a|x_i) <= 0} pi(a|x_i). NaN when the logger's full
 * distribution (loggingProbs) is unknown.
 */
export function supportDeficiency(b: BanditBatch): number {
  const mass = deficientMass(b);
  return mass === null || b.n === 0 ? NaN : mass / b.n;
}

/** sum_i sum_{a: pi0(a|x_i) <= 0} pi(a|x_i) (the SQL scan sums the same predicate); null without loggingProbs. */
export function deficientMass(b: BanditBatch): number | null {
  const pi0 = b.loggingProbs;
  if (!pi0) return null;
  const { n, numActions: k, targetProbs } = b;
  let s = 0;
  for (let j = 0; j < n * k; j++) if (pi0[j]! <= 0) s += targetProbs[j]!;
  return s;
}

/**
 * The weight histogram: one bin per octave [2^o, 2^(o+1)) and a bin [0, 0] for
 * zero weights. The edges are fixed powers of two, so a SQL engine counts the
 * bins exactly (./backend-duckdb.ts) and the in-memory backend agrees row by row.
 */
export const ZERO_WEIGHT_BIN = Number.NEGATIVE_INFINITY;

/** The histogram bin of weight w >= 0: floor(log2 w), exactly (Math.log2 corrected at the edges). */
export function octaveOf(w: number): number {
  if (!(w > 0)) return ZERO_WEIGHT_BIN;
  let o = Math.floor(Math.log2(w));
  if (2 ** o > w) o -= 1;
  else if (2 ** (o + 1) <= w) o += 1;
  return o;
}

/** The histogram's bins in order: [2^o, 2^(o+1)) with the last one ending at the largest weight; [0, 0] for zero weights. */
export function weightHistogram(counts: ReadonlyMap<number, number>, maxWeight: number): { start: number; end: number; count: number }[] {
  return [...counts.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([o, count]) => (o === ZERO_WEIGHT_BIN ? { start: 0, end: 0, count } : { start: 2 ** o, end: Math.min(2 ** (o + 1), Math.max(maxWeight, 2 ** o)), count }));
}

/** What the weight diagnostics are computed from: sums, order statistics and histogram counts, as any backend gives them. */
export interface WeightStats {
  n: number;
  sumWeight: number;
  sumWeight2: number;
  maxWeight: number;
  /** Exact quantiles (quantile_cont's definition). */
  quantiles: { q: number; value: number }[];
  /** Rows per histogram bin (octaveOf) */
  histogram: Map<number, number>;
}

/** The weight statistics of a batch (in memory). */
export function weightStats(b: BanditBatch, quantiles: readonly number[] = DEFAULT_WEIGHT_QUANTILES): WeightStats {
  const { weights } = loggedInputs(b);
  const n = b.n;
  let s = 0, s2 = 0, max = 0;
  const histogram = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const w = weights[i]!;
    s += w;
    s2 += w * w;
    if (w > max) max = w;
    const o = octaveOf(w);
    histogram.set(o, (histogram.get(o) ?? 0) + 1);
  }
  const sorted = Float64Array.from(weights).sort();
  return { n, sumWeight: s, sumWeight2: s2, maxWeight: max, quantiles: quantiles.map((q) => ({ q, value: sortedQuantile(sorted, q) })), histogram };
}

/** The diagnostics from weight statistics and the support deficiency (NaN, i.e. unknown, is reported as 0). */
export function diagnosticsFromStats(w: WeightStats, deficiency: number): WeightDiagnostics {
  const { n } = w;
  const ess = w.sumWeight2 > 0 ? (w.sumWeight * w.sumWeight) / w.sumWeight2 : 0;
  return {
    n,
    ess,
    essRatio: n > 0 ? ess / n : 0,
    maxWeight: w.maxWeight,
    meanWeight: n > 0 ? w.sumWeight / n : NaN,
    weightQuantiles: w.quantiles,
    supportDeficiency: Number.isNaN(deficiency) ? 0 : deficiency,
    weightHistogram: weightHistogram(w.histogram, w.maxWeight),
  };
}

/** Diagnostics of w_i = pi(a_i|x_i) / p_i. supportDeficiency is NaN without loggingProbs. */
export function weightDiagnostics(b: BanditBatch, opts: WeightDiagnosticsOptions = {}): WeightDiagnostics {
  return { ...diagnosticsFromStats(weightStats(b, opts.quantiles), 0), supportDeficiency: supportDeficiency(b) };
}

/** Spread (max - min) of the point estimates, with the two extremes. */
export function estimatorDisagreement(estimates: readonly Estimate[]): { spread: number; min?: Estimate; max?: Estimate } {
  const finite = estimates.filter((e) => Number.isFinite(e.value));
  if (finite.length === 0) return { spread: 0 };
  let min = finite[0]!, max = finite[0]!;
  for (const e of finite) {
    if (e.value < min.value) min = e;
    if (e.value > max.value) max = e;
  }
  return { spread: max.value - min.value, min, max };
}

const fmt = (x: number): string => (Math.abs(x) >= 1000 || (Math.abs(x) < 0.001 && x !== 0) ? x.toPrecision(3) : x.toFixed(3));
const pct = (x: number): string => `${(100 * x).toFixed(x < 0.001 ? 3 : 1)}%`;

/** Warnings for one candidate, from its weight diagnostics and its point estimates (with intervals when present). */
export function candidateWarnings(d: WeightDiagnostics, estimates: readonly Estimate[]): Warning[] {
  const out: Warning[] = [];
  if (d.n > 0 && (d.essRatio < LOW_ESS_RATIO || d.ess < MIN_ESS)) {
    out.push({
      code: 'LOW_ESS',
      message: `Effective sample size is ${d.ess.toFixed(1)} of ${d.n} rows (${pct(d.essRatio)}): importance-weighted estimates rest on a few rows and their intervals may be too narrow (threshold: ${pct(LOW_ESS_RATIO)} of n or ${MIN_ESS} rows).`,
    });
  }
  const share = d.meanWeight > 0 ? d.maxWeight / (d.meanWeight * d.n) : 0;
  if (d.maxWeight > HEAVY_WEIGHT_MAX || share > HEAVY_WEIGHT_SHARE) {
    out.push({
      code: 'HEAVY_WEIGHTS',
      message: `The largest importance weight is ${fmt(d.maxWeight)} (one row carries ${pct(share)} of the total weight): IPS, SNIPS and DR are dominated by a few rows; prefer clipped or shrunk estimators and check the certificates.`,
    });
  }
  if (d.supportDeficiency > SUPPORT_TOLERANCE) {
    out.push({
      code: 'SUPPORT_DEFICIENT',
      message: `The candidate puts ${pct(d.supportDeficiency)} of its probability mass on actions the logging policy never takes: IPS-family estimates cannot see those actions and are biased; only the reward model (DM) speaks for them.`,
    });
  }
  const dis = estimatorDisagreement(estimates.filter((e) => DISAGREEMENT_ESTIMATORS.has(e.estimator)));
  if (dis.min && dis.max && dis.spread > 0) {
    const a = dis.min, b = dis.max;
    let disagree: boolean;
    let why: string;
    if (a.interval && b.interval) {
      disagree = a.interval.upper < b.interval.lower;
      why = `their ${Math.round(100 * (1 - b.interval.alpha))}% intervals do not overlap`;
    } else {
      const scale = Math.max(Math.abs(a.value), Math.abs(b.value));
      disagree = dis.spread > DISAGREEMENT_RELATIVE * scale;
      why = `they differ by ${pct(scale > 0 ? dis.spread / scale : 0)}`;
    }
    if (disagree) {
      out.push({
        code: 'ESTIMATOR_DISAGREEMENT',
        message: `Estimators disagree: ${a.estimator} gives ${fmt(a.value)} and ${b.estimator} gives ${fmt(b.value)}, and ${why}; the reward model or the weights are unreliable for this candidate.`,
      });
    }
  }
  return out;
}
