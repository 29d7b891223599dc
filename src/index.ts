/**
 * The public library API of offpolicy. Everything the CLI does is reachable from here.
 */
export { VERSION } from './version.js';
export * from './core/errors.js';
export { Rng, type RngState } from './util/rng.js';
export { ensureTfBackend, type BackendInfo } from './util/tf-backend.js';

// datasets: storage, catalog, schemas, ingest, validation, query, split, describe, export, generators
export * from './datasets/metadata.js';
export * from './datasets/schema.js';
export { Workspace, resolveWorkspaceDir, parseRef, checkDatasetName, DEFAULT_WORKSPACE, type DatasetVersion, type CreateVersionOptions } from './datasets/workspace.js';
export { openMemoryConnection, queryRows, queryOne, ident, lit } from './datasets/duckdb.js';
export { readColumns, type ColumnSpec } from './datasets/columns.js';
export { arraysToTable, type ArrayColumn } from './datasets/from-arrays.js';
export * from './datasets/ingest/index.js';
export * from './datasets/describe.js';
export * from './datasets/query.js';
export * from './datasets/split.js';
export * from './datasets/export.js';
export * from './datasets/export-hdf5.js';
export * from './datasets/load-trajectories.js';
export * from './datasets/synthetic/bandit-log.js';
export * from './datasets/synthetic/bandit.js';
export * from './datasets/synthetic/multiclass.js';

// environments and behaviour data
export * from './envs/types.js';
export * from './envs/registry.js';
export * from './envs/trajectories.js';
export * from './envs/reference-scores.js';

// corruption: new dataset versions with a per-row corrupted bitmask
export * from './corruption/trajectories.js';
export * from './corruption/bandit.js';
export * from './corruption/critic.js';
export * from './corruption/robustness.js';

// off-policy evaluation
export * from './core/contracts.js';
export * from './core/evaluation-result.js';
export * from './core/robustness-result.js';
export * from './ope/estimators/index.js';
export * from './ope/sums.js';
export * from './ope/intervals/index.js';
export * from './ope/bounds/index.js';
export * from './ope/diagnostics.js';
export * from './ope/verdict.js';
export * from './ope/accuracy.js';
export * from './ope/evaluate.js';
export * from './ope/scorer.js';
export * from './ope/bandit/plan.js';
export * from './ope/bandit/assemble.js';
export * from './ope/bandit/backend-memory.js';
export * from './ope/bandit/backend-duckdb.js';
export * from './ope/bandit/scan-sql.js';
export * from './ope/bandit/sql-dialect.js';
export * from './datasets/load-bandit.js';
export * from './ope/propensity.js';
export * from './ope/reward-models/index.js';
export * from './policies/candidates.js';
export * from './policies/json-policy.js';
export * from './policies/probabilities.js';

// offline RL (in progress: learners and policies work through the API; no train/rollout commands yet)
export * from './offline-rl/train.js';
export * from './offline-rl/train-dataset.js';
export * from './offline-rl/policy.js';
export * from './offline-rl/evaluate-env.js';
export * from './offline-rl/losses.js';
export * from './offline-rl/discrete/index.js';
export * from './offline-rl/learner.js';
export * from './offline-rl/session.js';
export * from './offline-rl/checkpoint.js';
export * from './offline-rl/metrics-log.js';
export { rolloutPolicy, writeRolloutDataset, runRollout, checkPolicyFitsEnv, type Rollout, type RolloutOptions, type RolloutSteps, type RolloutPolicy, type RolloutCommandOptions, type RolloutCommandResult, type RolloutDatasetInfo } from './offline-rl/rollout.js';
export { logStdNormalMass, sampleTruncatedGaussian } from './offline-rl/truncated-normal.js';
export { erfc } from './util/normal.js';

// reports and the demo
export * from './reports/index.js';
export { formatTable } from './util/text-table.js';
export { softmaxRows } from './util/softmax.js';
export * from './demo.js';
