/**
 * The public library API of offpolicy: curated named exports (what a user
 * calls and the types of its arguments and results), not every helper of the
 * modules behind them. Everything the CLI does is reachable from here.
 */
export { VERSION } from './version.js';

// contracts, result types and errors: every layer meets at these
export * from './core/contracts.js';
export * from './core/evaluation-result.js';
export * from './core/robustness-result.js';
export * from './core/errors.js';

export { Rng, type RngState } from './util/rng.js';
export { ensureTfBackend, type BackendInfo } from './util/tf-backend.js';

// datasets: storage, catalog, schemas, ingest, validation, query, split, describe, export, generators
export { spaceWidth, normalizedScore, type DatasetKind, type Space, type Lineage, type ColumnInfo, SCHEMA_VERSION, CONTENT_HASH_ALGORITHM, type DatasetMetadata, type MetadataInput } from './datasets/metadata.js';
export { type CanonicalColumn, BANDIT_COLUMNS, TRAJECTORY_COLUMNS, CORRUPTED_BITS } from './datasets/schema.js';
export { Workspace, resolveWorkspaceDir, parseRef, checkDatasetName, DEFAULT_WORKSPACE, type DatasetVersion, type CreateVersionOptions } from './datasets/workspace.js';
export { openMemoryConnection, queryRows, queryOne, ident, lit } from './datasets/duckdb.js';
export { readColumns, type ColumnSpec } from './datasets/columns.js';
export { arraysToTable, type ArrayColumn } from './datasets/from-arrays.js';
export { ingest, type IngestFormat, type IngestOptions, type IngestResult, INGEST_FORMATS, REJECTED_FILE, detectFormat } from './datasets/ingest/index.js';
export { listDatasets, formatListing, showDataset, formatShow, describeDataset, formatDescription, type SummaryStats, type Distribution, type BanditActionRow, type BanditDescription, type TrajectoryDescription, type DatasetDescription, type DatasetListing, type LineageStep, type DatasetShow } from './datasets/describe.js';
export { queryDatasets, queryToFile, queryToText, type QueryFormat, QUERY_FORMATS, type QueryResult } from './datasets/query.js';
export { splitDataset, type SplitBy, type SplitOptions, type SplitPart } from './datasets/split.js';
export { exportDataset, type ExportFormat, EXPORT_FORMATS, type ExportOptions, type ExportResult } from './datasets/export.js';
export { ClickhouseConnection, parseClickhouseUrl, clickhouseRef, CLICKHOUSE_USER_ENV, CLICKHOUSE_PASSWORD_ENV, type ClickhouseSource, type ClickhouseOptions } from './datasets/clickhouse.js';
export { exportToClickhouse, type ClickhouseExportResult, type ClickhouseExportOptions } from './datasets/clickhouse-export.js';
export { exportD4rlHdf5 } from './datasets/export-hdf5.js';
export { loadTrajectoryArrays, type TrajectoryArrays, type LoadTrajectoryOptions } from './datasets/load-trajectories.js';
export { trueValue, sliceBanditLog, loadBanditTable, writeBanditDataset, type BanditLog } from './datasets/synthetic/bandit-log.js';
export { banditModel, obpRewardModel, generateBanditLog, softmaxPolicy, type RewardShape, type RewardFunction, type BehaviourLogits, REWARD_FUNCTIONS, BEHAVIOUR_LOGITS, type GenerateBanditOptions, type BanditModel, type ObpRewardModel } from './datasets/synthetic/bandit.js';
export { multiclassToBandit, MULTICLASS_DATASETS, type MulticlassDatasetName, type MulticlassOptions, type MulticlassBanditLog } from './datasets/synthetic/multiclass.js';

// environments and behaviour data
export { type EnvState, type ResetResult, type StepResult, type EnvAction, type Env } from './envs/types.js';
export { envIds, getEnv, ENVS, ENV_ALIASES } from './envs/registry.js';
export { generateTrajectories, loadTrajectoryTable, writeTrajectoryDataset, type GenerateTrajectoriesOptions, type TrajectoryData, type TrajectoryColumns } from './envs/trajectories.js';
export { referenceScores, type ReferenceScores, REFERENCE_SCORES } from './envs/reference-scores.js';

// corruption: new dataset versions with a per-row corrupted bitmask
export { corruptTrajectories, TRAJECTORY_FIELDS, type TrajectoryField, type CorruptionMode, RANDOM_REWARD_RANGE, type CorruptTrajectoriesOptions, type TrajectoryCorruptionResult } from './corruption/trajectories.js';
export { corruptBanditLog, BANDIT_CORRUPTED_BITS, BANDIT_CORRUPTION_KINDS, type BanditCorruptionKind, type CorruptBanditOptions, type BanditCorruptionResult } from './corruption/bandit.js';
export { fitFqe, crossFitFqe, FqeModel, FQE_DEFAULTS, type FqeTransitions, type FqeActionSpace, type FqeTargetPolicy, type ActionSampler, type FqeOptions, type FqeCurvePoint, type FqeResult } from './models/fqe.js';
export { MlpQFunction, actionInput, type QNetworkShape } from './models/q-network.js';
export { saveCritic, loadCritic, trainFqeCritic, type Critic, type CriticJson, MlpCritic, type TrainCriticOptions } from './corruption/critic.js';
export { parseSetting, robustnessStudy, type CorruptionSetting, type Scorer, type RobustnessStudyOptions } from './corruption/robustness.js';

// off-policy evaluation
export { isEstimatorId, getEstimator, estimateFromTerms, rowTermsFor, DEFAULT_CLIP, defaultSmoothingAlpha, resolveParams, ESTIMATORS, ESTIMATOR_IDS, type EstimatorId, type BanditBatch, type EstimatorParams, type ResolvedParams, type RowTerms, type SqlColumns, type SqlTerms, type EstimatorSpec } from './ope/estimators/index.js';
export { emptySums, sumsFromTerms, mergeSums, sumsValue, sumsStdError, type MergeableSums } from './ope/sums.js';
export { intervalsForTerms, bernsteinHalfWidth, bernsteinInterval, bootstrapIntervals, DEFAULT_MAX_UNITS, DEFAULT_RESAMPLES, sortedQuantile, type BootstrapOptions, type BootstrapResult, hoeffdingHalfWidth, hoeffdingInterval, tInterval, type IntervalRequest } from './ope/intervals/index.js';
export { bettingIpsInterval, bettingMeanInterval, empiricalLikelihoodInterval, empiricalLikelihoodMeanInterval, elCritical, rowMethodIntervals, type BettingOptions, type BettingHorizon, type EmpiricalLikelihoodOptions, type EmpiricalLikelihoodResult, type ElCalibration, type RowMethodRequest, type RowOrder } from './ope/intervals/index.js';
export { catoniClippedIpsBound, catoniFromSums, clippedRiskSums, type ClippedBoundOptions, type ClippedRiskSums, catoniValue, minimizeCatoni, type BoundOptions, exponentialSmoothingBound, exponentialSmoothingFromSums, smoothingSums, type ExponentialSmoothingOptions, type SmoothingSums, londonSandlerBound, londonSandlerFromSums } from './ope/bounds/index.js';
export { supportDeficiency, deficientMass, octaveOf, weightHistogram, weightStats, diagnosticsFromStats, ZERO_WEIGHT_BIN, type WeightStats, weightDiagnostics, estimatorDisagreement, candidateWarnings, LOW_ESS_RATIO, MIN_ESS, HEAVY_WEIGHT_MAX, HEAVY_WEIGHT_SHARE, SUPPORT_TOLERANCE, DISAGREEMENT_RELATIVE, DISAGREEMENT_ESTIMATORS, DEFAULT_WEIGHT_QUANTILES, type WeightDiagnosticsOptions } from './ope/diagnostics.js';
export { deployVerdict, pickLowerBound, verdictCaveats, type VerdictInput, type LowerBoundSource } from './ope/verdict.js';
export { relativeError, squaredError, spearman, regretAtK, sharpeRatioAtK, accuracyMetrics } from './ope/accuracy.js';
export { evaluate, writeEvaluation, type EvaluateOptions, type DispatchEvaluateOptions, type TrajectoryEvaluateSettings } from './ope/evaluate.js';
export { evaluateClickhouse, type ClickhouseEvaluateOptions } from './ope/evaluate-clickhouse.js';
export { estimateScorer, type EstimateScorer } from './ope/scorer.js';
export { loadBanditArrays, loadBanditRef, readContexts, type BanditArrays, type LoadBanditOptions } from './datasets/load-bandit.js';
export { resolveFeatures, actionFeaturesOf, describeFeatures, featureNames, fitLevels, DEFAULT_MAX_LEVELS, type ContextOptions, type ActionFeatures } from './datasets/features.js';
export { type BanditPlan, type CandidateSums, countsRewardsOutside } from './ope/bandit/plan.js';
export { assembleCandidate, admitted, sumsInterval, certificateTau, deficiencyOf, IPS_FAMILY, VERDICT_PREFERENCE, type AssembleContext } from './ope/bandit/assemble.js';
export { memoryCandidateSums } from './ope/bandit/backend-memory.js';
export { duckdbCandidateSums, footerStats, type DuckdbScanResult } from './ope/bandit/backend-duckdb.js';
export { sqlCandidateSums, type SqlRunner, type SqlScanResult } from './ope/bandit/backend-sql.js';
export { clickhouseCandidateSums } from './ope/bandit/backend-clickhouse.js';
export { buildScan, WEIGHT_BINS_PER_OCTAVE, type ScanInput, type RowChecks } from './ope/bandit/scan-sql.js';
export { DUCKDB, CLICKHOUSE, type SqlDialect, type RowExpr } from './ope/bandit/sql-dialect.js';
export { poissonBootstrapSql, runPoissonBootstrap, type PoissonScan, type PoissonScanInput } from './ope/bandit/poisson-bootstrap-sql.js';
export { poissonBootstrapIntervals, poissonBucket, poissonWeight, poissonKeys, DEFAULT_POISSON_BUCKETS, type PoissonBootstrapOptions, type PoissonBootstrapResult } from './ope/intervals/poisson-bootstrap.js';
export { fitMultinomialLogistic, estimatePropensities, type PropensityModel, type EstimatedPropensities, ESTIMATED_PROPENSITIES_WARNING } from './ope/propensity.js';
export { parseRewardModelSpec, fitRewardModel, estimateRewardHat, fitRidge, RidgeRewardModel, type RidgeOptions, fitLogistic, LogisticRewardModel, type LogisticOptions, fitMlp, MlpRewardModel, type MlpOptions, crossFitPredict, foldAssignment, REWARD_MODEL_KINDS, type RewardModelKind, type RewardModelSpec, type FitRewardModelOptions } from './ope/reward-models/index.js';
export { parsePolicyArg, loadCandidate, type PolicyInput, type Candidate, type CandidateContext, type PolicyDirLoader } from './policies/candidates.js';
export { buildJsonPolicy, type JsonPolicySpec, UniformPolicy, LinearPolicy, EpsilonGreedyPolicy, RewardModelPolicy, type JsonPolicyContext } from './policies/json-policy.js';
export { checkProbabilityMatrix, PROB_SUM_TOLERANCE } from './policies/probabilities.js';
export { fixedMixedLogitNoise, LinearGibbsKernel, linearClassProbs, type LinearPolicyClass, type LinearParams, type MixedLogitNoise } from './policies/linear-gibbs.js';

// bandit policy learning by bound minimisation
export * from './learning/index.js';

// offline RL: learners, training sessions and checkpoints, trained policies, rollouts (the train and rollout commands)
export { createLearner, createContinuousLearner, trainOffline, ALGORITHMS, type AlgorithmName, type TrainOptions, type TrainResult, type ContinuousLearner } from './offline-rl/train.js';
export { loadTrainingData, trainOnDataset, type DatasetTrainOptions, type DatasetTrainResult, type TrainingData } from './offline-rl/train-dataset.js';
export { savePolicy, loadPolicy, type ActorKind, ENGINE_MIN_ROWS, type PolicyNetwork, type PolicyJson, type ReturnConditioning, type MlpPolicyInit, MlpPolicy } from './offline-rl/policy.js';
export { evaluateInEnv } from './offline-rl/evaluate-env.js';
export { huberLoss, mseLoss, type LossResult } from './nn/losses.js';
export { banditLogToTrajectoryArrays, loadBanditTrainingArrays, trainDiscreteBc, type DiscreteBcOptions, DISCRETE_BC_DEFAULTS, DiscreteBcLearner, categoricalFromJson, type CategoricalPolicyJson, type CategoricalPolicyInit, CategoricalMlpPolicy, type DiscreteCommonOptions, trainDiscreteIql, type DiscreteIqlOptions, DiscreteIqlLearner, hasDiscreteActions, createDiscreteLearner, trainDiscrete, DISCRETE_ALGORITHMS, type DiscreteAlgorithmName, type DiscreteTrainOptions, type DiscreteLearner, readPolicyJson, loadPolicyDir, loadDiscretePolicyDir, type LoadedPolicy, trainDiscreteRcbc, type DiscreteRcbcOptions, DiscreteRcbcLearner } from './offline-rl/discrete/index.js';
export { type JsonValue, type StateBuffer, type LearnerState, type TrainedPolicy, type Learner } from './offline-rl/learner.js';
export { trainSession, type TrainingSessionOptions, type SessionEvaluation, type TrainingSessionResult } from './offline-rl/session.js';
export { writeCheckpoint, listCheckpoints, readCheckpoint, CHECKPOINT_DIR, type CheckpointInfo } from './offline-rl/checkpoint.js';
export { readMetrics, type MetricsEvent, METRICS_FILE, MetricsLog } from './offline-rl/metrics-log.js';
export { rolloutPolicy, writeRolloutDataset, runRollout, checkPolicyFitsEnv, type Rollout, type RolloutOptions, type RolloutSteps, type RolloutPolicy, type RolloutCommandOptions, type RolloutCommandResult, type RolloutDatasetInfo, type EnvEvaluation, type EpisodicHooks } from './offline-rl/rollout.js';
export { logStdNormalMass, sampleTruncatedGaussian } from './util/truncated-normal.js';
export { erfc } from './util/normal.js';

// reports and the demo
export * from './reports/index.js';
export { formatTable } from './util/text-table.js';
export { softmaxRows } from './util/softmax.js';
export { runDemo, type DemoOptions, type DemoCandidateSummary, type DemoSummary } from './demo.js';


// off-policy evaluation on trajectory data and off-policy selection
export { evaluateTrajectories, DEFAULT_TRAJECTORY_SUITE, type EvaluateTrajectoriesOptions } from './ope/trajectory/result.js';
export { evaluateTrajectoryArrays, evaluateTrajectoryDataset, behaviourValue, type TrajectoryEvaluation, type TrajectoryEvaluateOptions, type QProvider } from './ope/trajectory/evaluate.js';
export { trajectoryOpeData, checkGamma, indexEpisodes, discountedReturns, DEFAULT_GAMMA, type TrajectoryOpeData, type EpisodeIndex } from './ope/trajectory/data.js';
export { trajectoryWeights, weightSummary, weightWarnings, type TrajectoryWeights, type WeightSummary } from './ope/trajectory/weights.js';
export { TRAJECTORY_ESTIMATORS, TRAJECTORY_ESTIMATOR_IDS, getTrajectoryEstimator, type TrajectoryEstimator, type TrajectoryEstimatorId } from './ope/trajectory/estimators/index.js';
export { trajectoryIntervals, feasibleValueRange } from './ope/trajectory/intervals.js';
export { scoreCandidate, type QPredictions, type CandidateScore } from './ope/trajectory/score.js';
export { loadTrajectoryCandidate, policyCandidate, type ResolvedCandidate } from './ope/trajectory/candidates.js';
export { kernelLogDensity, defaultBandwidth, BANDWIDTH_RULE } from './ope/trajectory/kernel.js';
export { fitBehaviorModel, resolveBehaviorLogprob, behaviorFolds, type BehaviorModelOptions, type BehaviorModelMode, type FittedBehavior } from './ope/trajectory/behavior-model.js';
export { fqeProvider, fqeModelProvider, fitCandidateFqe, type FqeSettings, type FqeFitSummary } from './ope/trajectory/fqe-q.js';
export { offPolicySelection, type SelectionResult } from './ope/trajectory/selection.js';
export { learnMarginalWeights, MWL_REFERENCE, DEFAULT_MWL_RIDGE, type MwlSettings, type MarginalWeights, type MarginalWeightInfo } from './ope/trajectory/marginal/mwl.js';
export { onPolicyValue, simulateTrajectories, withTimeLimit, asContinuousPolicy, asDiscretePolicy, type SamplingPolicy } from './ope/trajectory/ground-truth.js';
export type { TrajectoryEvaluationResult, AnyEvaluationResult, TrajectoryMarginalWeights, ReturnDistributionEstimate, ReturnDistributionResult, ReturnDistributionSettings, ReturnDistributionIntervals, StatisticBounds } from './core/trajectory-evaluation-result.js';
export {
  DISTRIBUTION_ESTIMATORS,
  DISTRIBUTION_ESTIMATOR_IDS,
  checkDistributionOptions,
  distributionGrid,
  behaviourDistribution,
  candidateDistributions,
  returnGrid,
  cdIsRaw,
  cdSnisRaw,
  cdDrRaw,
  cdDmRaw,
  empiricalRaw,
  locationShiftModel,
  zeroReturnModel,
  projectCdf,
  distributionStatistics,
  distributionIntervals,
  wantsDistributionIntervals,
  DEFAULT_CDF_BINS,
  DEFAULT_CVAR_ALPHA,
  type DistributionOptions,
  type DistributionEstimatorId,
  type ReturnToGoModel,
  type DistributionIntervalOptions,
} from './ope/trajectory/distribution/index.js';

// slate (ranking) logs: Open Bandit Pipeline's slate estimators, the synthetic slate generator, the OBD-format sample generator
export { estimateSlates, slateDataFromRows, checkSlateData, availableSlateEstimators, getSlateEstimator, SLATE_ESTIMATORS, SLATE_ESTIMATOR_IDS, type SlateRows, type SlateData, type SlateEstimatorId, type SlateEstimatorSpec, type SlatePscores, type SlateEstimateOptions } from './ope/slate/index.js';
export { evaluateSlates, writeSlateEvaluation, isSlateLog, type SlateEvaluateOptions } from './ope/slate/evaluate.js';
export type { SlateEvaluationResult, SlateCandidateResult } from './core/slate-evaluation-result.js';
export { generateSlateLog, enumerateSlates, SLATE_REWARD_STRUCTURES, MAX_ENUMERATED_SLATES, type SlateGeneratorOptions, type SyntheticSlateLog, type SlateRewardStructure } from './datasets/synthetic/slate.js';
export { generateObdSample, OBD_SLOTS, type ObdSampleOptions, type ObdSample } from './datasets/synthetic/obd-sample.js';
export { FixedPolicy, FixedByPositionPolicy } from './policies/json-policy.js';
export { isPositionAware } from './policies/candidates.js';
export { trajectoryPushdown, type PushdownDeclined } from './ope/trajectory/pushdown.js';
export { TRAJECTORY_DUCKDB, type TrajectorySqlDialect } from './ope/trajectory/scan-sql.js';
export { fqeCheckpointScorer, CHECKPOINT_FQE_DEFAULTS, type CheckpointScorerOptions } from './ope/trajectory/checkpoint-scorer.js';
export type { OfflinePolicyScorer, OfflineScore } from './core/offline-scorer.js';
