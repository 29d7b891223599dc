/**
 * The in-memory backend: a candidate's record of sums (./plan.ts) from typed
 * arrays (the log loaded by ../../datasets/load-bandit.ts, the candidate's
 * probabilities, fitted or supplied reward predictions, estimated propensities).
 * It also hands back each estimator's per-row terms, which the bootstrap needs.
 */
import { clippedRiskSums } from '../bounds/catoni.js';
import { smoothingSums } from '../bounds/exponential-smoothing.js';
import { deficientMass, weightStats } from '../diagnostics.js';
import { getEstimator } from '../estimators/index.js';
import type { BanditBatch, EstimatorId, RowTerms } from '../estimators/types.js';
import { sumsFromTerms } from '../sums.js';
import { countsRewardsOutside, type BanditPlan, type CandidateSums } from './plan.js';

export function memoryCandidateSums(b: BanditBatch, expectedRewards: Float64Array | null, plan: BanditPlan): { record: CandidateSums; terms: Map<EstimatorId, RowTerms> } {
  const { n, numActions: k } = b;
  const terms = new Map<EstimatorId, RowTerms>();
  for (const id of plan.estimators) terms.set(id, getEstimator(id).rowTerms(b, { clip: plan.params.clip, smoothingAlpha: plan.params.smoothingAlpha }));
  let minPropensity = Infinity;
  for (let i = 0; i < n; i++) minPropensity = Math.min(minPropensity, b.propensities[i]!);
  let truthSum: number | null = null;
  if (expectedRewards) {
    let s = 0;
    for (let j = 0; j < n * k; j++) s += b.targetProbs[j]! * expectedRewards[j]!;
    truthSum = s;
  }
  const range = plan.declaredRewardRange;
  const outside = { count: 0, rows: [] as number[] };
  if (countsRewardsOutside(plan)) {
    for (let i = 0; i < n; i++) {
      const r = b.rewards[i]!;
      if (range ? !(r >= range[0] && r <= range[1]) : Number.isNaN(r)) {
        outside.count++;
        if (outside.rows.length < 5) outside.rows.push(i);
      }
    }
  }
  const record: CandidateSums = {
    n,
    estimators: new Map([...terms].map(([id, t]) => [id, sumsFromTerms(t)])),
    weights: weightStats(b, plan.quantiles),
    minPropensity,
    deficientMass: deficientMass(b),
    truthSum,
    clippedRisk: clippedRiskSums(b, plan.tau, plan.rewardShift),
    smoothing: b.loggingProbs ? smoothingSums(b, plan.params.smoothingAlpha, plan.rewardShift) : null,
    rewardsOutside: outside,
  };
  return { record, terms };
}
