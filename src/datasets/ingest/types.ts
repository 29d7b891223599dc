/** Options and results of `ingest` (src/datasets/ingest/index.ts) and `finishIngest`. */
import type { DatasetVersion } from '../workspace.js';

export type IngestFormat = 'csv' | 'jsonl' | 'parquet' | 'arrow' | 'obd' | 'd4rl' | 'minari';
export const INGEST_FORMATS: readonly IngestFormat[] = ['csv', 'jsonl', 'parquet', 'arrow', 'obd', 'd4rl', 'minari'];

export interface IngestOptions {
  /** Dataset name; the new version is NAME@N. */
  name: string;
  /** Input format; default: from the extension or directory layout (always checked against the file's magic bytes). */
  format?: IngestFormat;
  /** Dataset kind; default: trajectory when episode_id / step / observation are present, else bandit. */
  kind?: 'bandit' | 'trajectory';
  /** canonical column -> source column; vector columns may list several: { context: 'x1,x2,x3' }. */
  map?: Record<string, string>;
  /** Number of actions K of a bandit log (default: action_probs length, else max(action) + 1). */
  numActions?: number;
  /** Store the valid rows and write the rejected ones (with reasons) to rejected.parquet beside the version. */
  dropInvalid?: boolean;
  /** Bandit logs: allow NULL rewards (delayed feedback). */
  rewardNullable?: boolean;
  /** Called as stages complete: (done, total). */
  onProgress?: (done: number, total: number) => void;
}

export interface IngestResult {
  version: DatasetVersion;
  /** Rows rejected by validation (only with dropInvalid). */
  rejectedCount: number;
  /** Absolute path of rejected.parquet when rows were rejected. */
  rejectedFile?: string;
  /** Things the user should know (e.g. no propensity column; a column that was dropped). */
  warnings: string[];
}
