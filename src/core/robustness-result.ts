/**
 * The result of a robustness study, kept apart from the study's code so the
 * report layer can read it without loading the corruption machinery.
 */

/** Written into every study; the report layer checks it. */
export const ROBUSTNESS_SCHEMA = 'offpolicy.robustness/1';

export interface RobustnessRow {
  setting: string;
  /** The corrupted version scored ("" when corrupting failed). */
  ref: string;
  metric: string;
  clean: number;
  corrupted: number;
  /** corrupted - clean */
  delta: number;
  /** (corrupted - clean) / |clean| (NaN when clean is 0). */
  relativeChange: number;
}

/** What robustnessStudy returns and `offpolicy robustness --out` writes. */
export interface RobustnessStudyResult {
  schema: typeof ROBUSTNESS_SCHEMA;
  toolkitVersion: string;
  seed: number;
  /** The clean dataset version and its content hash, for reproduction. */
  dataset: { ref: string; contentHash: string };
  clean: { ref: string; scores: Record<string, number> };
  settings: { label: string; ref?: string; error?: { code: string; message: string } }[];
  rows: RobustnessRow[];
}
