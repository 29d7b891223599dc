/** What a stored dataset version says about itself (its metadata.json). */

export type DatasetKind = 'bandit' | 'trajectory';

export type Space =
  | { type: 'discrete'; n: number }
  | { type: 'box'; shape: number[]; low?: number[]; high?: number[] };

/** Values per row of a space: the product of a box's shape; 1 (the action index) for a discrete space. */
export function spaceWidth(space: Space): number {
  return space.type === 'box' ? space.shape.reduce((a, b) => a * b, 1) : 1;
}

export interface Lineage {
  /** The version this one was derived from, as "name@version"; absent for ingests and generators. */
  parent?: string;
  /** What made this version: "ingest:csv", "generate:bandit", "split", "corrupt", ... */
  transform: string;
  params: Record<string, unknown>;
  seed?: number;
  /** Input file(s) for ingests. */
  source?: string;
}

export interface ColumnInfo {
  name: string;
  type: string;
}

export const SCHEMA_VERSION = 1;
export const CONTENT_HASH_ALGORITHM = 'sha256(schema, rows, sum and xor of duckdb hash(row))';

export interface DatasetMetadata {
  name: string;
  version: number;
  kind: DatasetKind;
  schemaVersion: number;
  createdAt: string;
  rowCount: number;
  /** Trajectory datasets: number of distinct episodes. */
  episodeCount?: number;
  contentHash: string;
  contentHashAlgorithm: string;
  columns: ColumnInfo[];
  /** Bandit: discrete action space {n: K}; trajectory: discrete or box. */
  actionSpace?: Space;
  /** Trajectory observations; bandit contexts (box of shape [d]). */
  observationSpace?: Space;
  envId?: string;
  refMinScore?: number;
  refMaxScore?: number;
  /** Bandit logs: rewards may be NULL (delayed feedback) only when declared. */
  rewardNullable?: boolean;
  /** Free-form facts a generator knows (e.g. true policy values); never used for validation. */
  extra?: Record<string, unknown>;
  lineage: Lineage;
  files: string[];
  /** Size and SHA-256 of each part file, checked when a version is resolved (absent in versions written before it existed). */
  fileDigests?: Record<string, { bytes: number; sha256: string }>;
  /** Present when --drop-invalid rejected rows: the file beside the version and how many. */
  rejected?: { file: string; count: number; reasons: Record<string, number> };
}

/** The parts of the metadata a writer supplies; the workspace fills in the rest. */
export type MetadataInput = Omit<
  DatasetMetadata,
  'name' | 'version' | 'schemaVersion' | 'createdAt' | 'rowCount' | 'episodeCount' | 'contentHash' | 'contentHashAlgorithm' | 'columns' | 'files' | 'fileDigests'
>;

/** Normalized score as D4RL defines it: 100 * (R - min) / (max - min). */
export function normalizedScore(ret: number, refMin: number, refMax: number): number {
  return (100 * (ret - refMin)) / (refMax - refMin);
}
