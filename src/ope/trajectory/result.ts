/**
 * `offpolicy evaluate` on a trajectory dataset: the library entry point that
 * returns the shared result document (setting 'trajectory'). It fits Q by FQE
 * when DM / DR / SNDR are asked for (or reads Q columns), scores every
 * candidate, ranks them (off-policy selection, with rollout ground truth when
 * given) and compares each with the behaviour policy.
 */
import type { TrajectoryCandidateResult, TrajectoryEvaluationResult } from '../../core/trajectory-evaluation-result.js';
import type { Workspace } from '../../datasets/workspace.js';
import { VERSION } from '../../version.js';
import { getTrajectoryEstimator } from './estimators/index.js';
import { evaluateTrajectoryDataset, type TrajectoryEvaluateOptions } from './evaluate.js';
import { fqeProvider, type FqeFitSummary, type FqeSettings } from './fqe-q.js';
import { offPolicySelection } from './selection.js';
import { DEFAULT_TRAJECTORY_ESTIMATORS } from './score.js';
import type { TrajectoryEstimatorId } from './estimators/types.js';
import { distributionNeedsModel } from './distribution/index.js';

export interface EvaluateTrajectoriesOptions extends Omit<TrajectoryEvaluateOptions, 'estimators' | 'qProvider'> {
  data: string;
  /** Estimator ids (default TIS, PDIS, SNTIS, SNPDIS, DR, SNDR, DM). */
  estimators?: readonly string[];
  /** FQE settings for DM / DR / SNDR (unless rewardModel is "columns:..."). */
  fqe?: Partial<Omit<FqeSettings, 'seed'>>;
  /** On-policy values by candidate name (e.g. from rollouts), for the selection metrics. */
  trueValues?: Record<string, number>;
  /** Selection: top-k and safety threshold (default: the behaviour value). */
  topK?: number;
  threshold?: number;
  command?: string;
}

export const DEFAULT_TRAJECTORY_SUITE: TrajectoryEstimatorId[] = [...DEFAULT_TRAJECTORY_ESTIMATORS, 'dr', 'sndr', 'dm'];

export async function evaluateTrajectories(ws: Workspace, opts: EvaluateTrajectoriesOptions): Promise<TrajectoryEvaluationResult> {
  const estimators = (opts.estimators ?? DEFAULT_TRAJECTORY_SUITE).map((id) => getTrajectoryEstimator(id).id);
  const needsQ = estimators.some((id) => getTrajectoryEstimator(id).needsQ) || (opts.distribution !== undefined && distributionNeedsModel(opts.distribution.estimators));
  const fits = new Map<string, FqeFitSummary>();
  const seed = opts.seed ?? 0;
  const qProvider = needsQ && !opts.rewardModel?.startsWith('columns:') ? fqeProvider({ seed, ...opts.fqe }, fits) : undefined;
  const alpha = opts.alpha ?? 0.05;
  const ev = await evaluateTrajectoryDataset(ws, opts.data, { ...opts, estimators, ...(qProvider ? { qProvider } : {}) });
  const candidates: TrajectoryCandidateResult[] = ev.candidates.map((c) => {
    const fit = fits.get(c.name);
    const trueValue = opts.trueValues?.[c.name];
    return {
      name: c.name,
      source: c.source,
      kind: c.kind,
      estimates: c.estimates.map(({ terms: _t, ...e }) => e),
      weights: c.weights
        ? { ess: c.weights.trajectoryEss, maxShare: c.weights.trajectoryMaxShare, maxWeight: c.weights.maxWeight, perStep: { episodes: c.weights.perStep.episodes, ess: c.weights.perStep.ess, maxShare: c.weights.perStep.maxShare } }
        : null,
      ...(c.kernel ? { kernel: c.kernel } : {}),
      ...(c.q ? { q: { source: c.q.source, ...(fit ? { curve: fit.curve, heldOutTdError: fit.heldOutTdError } : {}) } } : {}),
      ...(c.marginal ? { marginal: c.marginal } : {}),
      warnings: c.warnings,
      verdict: {
        outcome: c.verdict.outcome,
        recommended: c.verdict.recommended,
        lowerBound: c.verdict.lowerBound,
        lowerBoundSource: c.verdict.lowerBoundSource,
        ...(c.verdict.upperBound !== null ? { upperBound: c.verdict.upperBound } : {}),
        ...(c.verdict.decidedBy ? { decidedBy: c.verdict.decidedBy } : {}),
        ...(c.verdict.sourceNote ? { sourceNote: c.verdict.sourceNote } : {}),
        caveats: c.verdict.caveats,
        baseline: c.verdict.baseline,
        strict: false,
        sentence: c.verdict.sentence,
      },
      valueRange: c.valueRange,
      ...(trueValue !== undefined ? { trueValue } : {}),
      ...(c.distribution ? { distribution: c.distribution } : {}),
    };
  });
  const selection =
    candidates.length > 0
      ? offPolicySelection(
          candidates.map((c) => ({ name: c.name, estimates: c.estimates, ...(c.trueValue !== undefined ? { trueValue: c.trueValue } : {}) })),
          { behaviourValue: ev.behaviour.value, ...(opts.threshold !== undefined ? { threshold: opts.threshold } : {}), ...(opts.topK !== undefined ? { k: opts.topK } : {}) },
        )
      : null;
  return {
    setting: 'trajectory',
    schema: 'offpolicy.evaluation/1',
    toolkitVersion: VERSION,
    createdAt: new Date().toISOString(),
    ...(opts.command ? { command: opts.command } : {}),
    seed,
    dataset: ev.dataset,
    behaviour: { value: ev.behaviour.value, ...(ev.behaviour.interval ? { interval: ev.behaviour.interval } : {}) },
    settings: {
      estimators,
      interval: opts.interval ?? 't',
      alpha,
      gamma: ev.gamma,
      ...(opts.interval === 'bootstrap' ? { bootstrapResamples: opts.resamples ?? 1000 } : {}),
      ...(opts.clip !== undefined ? { clip: opts.clip } : {}),
      ...(needsQ ? { rewardModel: opts.rewardModel ?? 'fqe' } : {}),
      backend: ev.backend,
    },
    candidates,
    selection,
    ...(ev.returnDistribution ? { returnDistribution: ev.returnDistribution } : {}),
    ...(ev.behaviorModel ? { behaviorModel: ev.behaviorModel } : {}),
    warnings: ev.warnings,
  };
}
