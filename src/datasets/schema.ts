/**
 * The canonical columns of each dataset kind (DESIGN.md, "Dataset kinds").
 * Ingest, generators and transforms all land data in exactly this order and
 * these types; bandit logs may keep extra named feature columns after them.
 */

export interface CanonicalColumn {
  name: string;
  /** DuckDB type; 'FLOAT[]' for vectors. Trajectory `action` is FLOAT[] (box) or INTEGER (discrete). */
  type: string;
  required: boolean;
}

export const BANDIT_COLUMNS: readonly CanonicalColumn[] = [
  { name: 'row_id', type: 'BIGINT', required: true }, // assigned at ingest if absent
  { name: 'context', type: 'FLOAT[]', required: false }, // or named feature columns kept as-is
  { name: 'action', type: 'INTEGER', required: true },
  { name: 'reward', type: 'DOUBLE', required: true },
  { name: 'propensity', type: 'DOUBLE', required: false }, // absent: estimated at evaluation, with a warning
  { name: 'action_probs', type: 'DOUBLE[]', required: false },
  { name: 'position', type: 'INTEGER', required: false },
  { name: 'timestamp', type: 'TIMESTAMP', required: false },
  { name: 'group', type: 'VARCHAR', required: false },
  { name: 'logging_policy', type: 'VARCHAR', required: false },
];

export const TRAJECTORY_COLUMNS: readonly CanonicalColumn[] = [
  { name: 'episode_id', type: 'BIGINT', required: true },
  { name: 'step', type: 'INTEGER', required: true },
  { name: 'observation', type: 'FLOAT[]', required: true },
  { name: 'next_observation', type: 'FLOAT[]', required: false },
  { name: 'action', type: 'FLOAT[]', required: true },
  { name: 'reward', type: 'DOUBLE', required: true },
  { name: 'terminated', type: 'BOOLEAN', required: true },
  { name: 'truncated', type: 'BOOLEAN', required: true },
  { name: 'behavior_logprob', type: 'DOUBLE', required: false },
  { name: 'corrupted', type: 'SMALLINT', required: false },
];

/** Bits of the trajectory `corrupted` column. */
export const CORRUPTED_BITS = { observation: 1, action: 2, reward: 4, next_observation: 8 } as const;
