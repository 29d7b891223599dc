/**
 * `split`: deterministic train / validation / test splits by a hash of the
 * episode id (trajectories) or row id (bandit logs) and a seed.
 *
 * The assignment uses MD5, which is the same in every DuckDB release and every
 * language: u = int(first 13 hex digits of md5("<id>:<seed>"), 16) / 16^13 is
 * uniform in [0, 1), and an id goes to the first part whose cumulative ratio
 * exceeds u. Whole episodes stay together. Each part becomes a new version of
 * its own dataset with lineage (parent, transform "split", parameters, seed).
 */
import { OffpolicyError } from '../core/errors.js';
import { ident, lit, openMemoryConnection, queryRows } from './duckdb.js';
import type { DatasetMetadata, MetadataInput } from './metadata.js';
import { checkDatasetName, type DatasetVersion, type Workspace } from './workspace.js';

export type SplitBy = 'episode' | 'row';

export interface SplitOptions {
  /** Positive shares summing to 1, e.g. [0.8, 0.1, 0.1]. */
  ratios: number[];
  /** Integer seed; the same seed gives the same assignment. */
  seed: number;
  /** Hash episode_id ("episode", default for trajectories) or row_id ("row", default for bandit logs). */
  by?: SplitBy;
  /** Dataset names of the parts; default NAME-train, NAME-validation, NAME-test (or NAME-train, NAME-test for two). */
  names?: string[];
  onProgress?: (done: number, total: number) => void;
}

export interface SplitPart {
  name: string;
  ratio: number;
  version: DatasetVersion;
}

const RATIO_TOLERANCE = 1e-9;

/** Parses "0.8,0.1,0.1" into numbers (E_SPLIT_RATIOS when a piece is not a number). */
export function parseRatios(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const out = parts.map(Number);
  if (parts.some((p) => p === '') || out.some((x) => !Number.isFinite(x))) {
    throw new OffpolicyError('E_SPLIT_RATIOS', `Split ratios "${text}" are not a comma-separated list of numbers.`, {
      hint: 'Write them like --ratios 0.8,0.1,0.1.',
    });
  }
  return out;
}

function checkRatios(ratios: number[]): void {
  const sum = ratios.reduce((a, b) => a + b, 0);
  if (ratios.length < 2 || ratios.some((r) => !Number.isFinite(r) || r <= 0) || Math.abs(sum - 1) > RATIO_TOLERANCE) {
    throw new OffpolicyError(
      'E_SPLIT_RATIOS',
      `Split ratios ${ratios.join(', ')} are not valid: give at least two positive shares that sum to 1 (they sum to ${Number(sum.toFixed(12))}).`,
      { hint: 'For example --ratios 0.8,0.1,0.1.' },
    );
  }
}

function defaultNames(name: string, k: number): string[] {
  if (k === 3) return ['train', 'validation', 'test'].map((s) => `${name}-${s}`);
  if (k === 2) return ['train', 'test'].map((s) => `${name}-${s}`);
  throw new OffpolicyError('E_SPLIT_NAMES', `There are ${k} split ratios but no names for the parts.`, {
    hint: `Pass --names with ${k} comma-separated dataset names.`,
  });
}

/** The SQL expression giving each row's part index (0-based) for the id column, ratios and seed. */
export function splitAssignmentSql(idColumn: string, ratios: number[], seed: number): string {
  const u = `(('0x' || substr(md5(${ident(idColumn)}::VARCHAR || ${lit(`:${seed}`)}), 1, 13))::BIGINT::DOUBLE / 4503599627370496.0)`;
  let cum = 0;
  const whens = ratios.slice(0, -1).map((r, i) => {
    cum += r;
    return `WHEN ${u} < ${cum} THEN ${i}`;
  });
  return `(CASE ${whens.join(' ')} ELSE ${ratios.length - 1} END)`;
}

/** The metadata a derived version inherits from its parent (everything but counts, files and lineage). */
export function inheritedMetadata(m: DatasetMetadata): Omit<MetadataInput, 'lineage'> {
  const { kind, actionSpace, observationSpace, envId, refMinScore, refMaxScore, rewardNullable, extra } = m;
  const out: Omit<MetadataInput, 'lineage'> = { kind };
  if (actionSpace !== undefined) out.actionSpace = actionSpace;
  if (observationSpace !== undefined) out.observationSpace = observationSpace;
  if (envId !== undefined) out.envId = envId;
  if (refMinScore !== undefined) out.refMinScore = refMinScore;
  if (refMaxScore !== undefined) out.refMaxScore = refMaxScore;
  if (rewardNullable !== undefined) out.rewardNullable = rewardNullable;
  if (extra !== undefined) out.extra = extra;
  return out;
}

/**
 * Splits `ref` into parts written as new dataset versions. Nothing is written
 * when a part would be empty, and the parts are committed together (all or none).
 */
export async function splitDataset(ws: Workspace, ref: string, opts: SplitOptions): Promise<SplitPart[]> {
  checkRatios(opts.ratios);
  if (!Number.isSafeInteger(opts.seed)) {
    throw new OffpolicyError('E_SPLIT_SEED', `Seed ${opts.seed} is not an integer.`, { hint: 'Pass --seed with a whole number, e.g. --seed 7.' });
  }
  const parent = await ws.resolve(ref);
  const m = parent.metadata;
  const by: SplitBy = opts.by ?? (m.kind === 'trajectory' ? 'episode' : 'row');
  if (by !== 'episode' && by !== 'row') {
    throw new OffpolicyError('E_SPLIT_BY', `Cannot split by "${String(by)}".`, { hint: 'Use --by episode or --by row.' });
  }
  if (m.kind === 'trajectory' && by === 'row') {
    throw new OffpolicyError('E_SPLIT_BY', `Dataset ${parent.ref} holds trajectories, which split by whole episodes only.`, {
      hint: 'Use --by episode (the default for trajectories): splitting steps would cut episodes apart.',
    });
  }
  const idColumn = by === 'episode' ? 'episode_id' : 'row_id';
  if (!m.columns.some((c) => c.name === idColumn)) {
    throw new OffpolicyError('E_SPLIT_BY', `Dataset ${parent.ref} has no "${idColumn}" column to split by ${by}.`, {
      hint: m.kind === 'bandit' ? 'Bandit logs split by row (--by row).' : `Columns found: ${m.columns.map((c) => c.name).join(', ')}.`,
    });
  }
  const names = opts.names ?? defaultNames(parent.name, opts.ratios.length);
  if (names.length !== opts.ratios.length) {
    throw new OffpolicyError('E_SPLIT_NAMES', `${names.length} names were given for ${opts.ratios.length} split ratios.`, {
      hint: 'Give exactly one name per ratio, in the same order.',
    });
  }
  names.forEach(checkDatasetName);
  if (new Set(names).size !== names.length || names.includes(parent.name)) {
    throw new OffpolicyError('E_SPLIT_NAMES', `Split names ${names.join(', ')} must be distinct and differ from the source "${parent.name}".`, {
      hint: 'Pass --names with one new name per part.',
    });
  }

  const scan = `read_parquet(${lit(parent.glob)})`;
  const part = splitAssignmentSql(idColumn, opts.ratios, opts.seed);
  const conn = await openMemoryConnection();
  try {
    const counts = new Map<number, number>();
    for (const r of await queryRows(conn, `SELECT ${part} AS part, count(*)::DOUBLE AS n FROM ${scan} GROUP BY part`)) {
      counts.set(Number(r.part), Number(r.n));
    }
    const empty = names.filter((_, i) => !counts.get(i));
    if (empty.length) {
      throw new OffpolicyError(
        'E_SPLIT_EMPTY',
        `Split part${empty.length > 1 ? 's' : ''} ${empty.join(', ')} would be empty: ${parent.ref} has too few ${by === 'episode' ? 'episodes' : 'rows'} for ratios ${opts.ratios.join(', ')}.`,
        { hint: 'Use fewer parts, larger ratios, or another seed. Nothing was written.' },
      );
    }
    // Every part is staged first and committed together: all parts land or none.
    const versions = await ws.createVersions(
      names.map((name, i) => ({
        name,
        conn,
        select: `SELECT * FROM ${scan} WHERE ${part} = ${i}`,
        metadata: {
          ...inheritedMetadata(m),
          lineage: {
            parent: parent.ref,
            transform: 'split',
            params: { ratios: opts.ratios, by, part: i, names, hash: 'md5(id:seed)' },
            seed: opts.seed,
          },
        },
      })),
    );
    opts.onProgress?.(names.length, names.length);
    return versions.map((version, i) => ({ name: names[i]!, ratio: opts.ratios[i]!, version }));
  } finally {
    conn.closeSync();
  }
}
