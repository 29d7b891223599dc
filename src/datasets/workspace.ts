/**
 * The workspace: a directory holding catalog.duckdb and datasets/<name>/<version>/.
 *
 * A version is immutable: Parquet part files (zstd) plus metadata.json. It is
 * built in a staging directory beside its final place, checked, and renamed into
 * place in one step, so a failed write leaves every existing version and the
 * catalog untouched. The version directories are the source of truth; the
 * catalog is an index over them, reconciled each time the workspace opens.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { OffpolicyError } from '../core/errors.js';
import { ident, lit, openMemoryConnection, queryOne, queryRows, type DuckDBConnection } from './duckdb.js';
import {
  CONTENT_HASH_ALGORITHM,
  SCHEMA_VERSION,
  type ColumnInfo,
  type DatasetMetadata,
  type MetadataInput,
} from './metadata.js';

export const DEFAULT_WORKSPACE = '.offpolicy';
const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;
const PART_FILE = 'part-0.parquet';

export interface DatasetVersion {
  name: string;
  version: number;
  /** "name@version" */
  ref: string;
  dir: string;
  /** Glob over the version's Parquet part files. */
  glob: string;
  metadata: DatasetMetadata;
}

export interface CreateVersionOptions {
  name: string;
  /** A connection on which `select` runs; the workspace writes its result as the new version. */
  conn: DuckDBConnection;
  /** SELECT producing the canonical columns, in order. */
  select: string;
  metadata: MetadataInput;
  /** Writes extra files (e.g. rejected rows) into the staging directory before the rename. */
  extraFiles?: (stagingDir: string) => Promise<void>;
}

/** Resolves the workspace directory: explicit flag, then OFFPOLICY_HOME, then ./.offpolicy. */
export function resolveWorkspaceDir(explicit?: string): string {
  return path.resolve(explicit ?? process.env.OFFPOLICY_HOME ?? DEFAULT_WORKSPACE);
}

export function checkDatasetName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new OffpolicyError(
      'E_DATASET_NAME',
      `Dataset name "${name}" is not allowed.`,
      { hint: 'Use a letter first, then letters, digits, "_", "-" or "." (at most 128 characters).' },
    );
  }
}

/** Parses "name" or "name@3". */
export function parseRef(ref: string): { name: string; version?: number } {
  const at = ref.lastIndexOf('@');
  if (at < 0) return { name: ref };
  const name = ref.slice(0, at);
  const v = ref.slice(at + 1);
  if (!/^\d+$/.test(v)) {
    throw new OffpolicyError('E_DATASET_REF', `"${ref}" is not a dataset reference.`, {
      hint: 'Write NAME for the latest version or NAME@VERSION (e.g. logs@2).',
    });
  }
  return { name, version: Number(v) };
}

export class Workspace {
  readonly root: string;
  readonly datasetsDir: string;

  private constructor(root: string) {
    this.root = root;
    this.datasetsDir = path.join(root, 'datasets');
  }

  /** Opens (creating if needed) the workspace at `dir` and reconciles its catalog. */
  static async open(dir?: string): Promise<Workspace> {
    const ws = new Workspace(resolveWorkspaceDir(dir));
    await mkdir(ws.datasetsDir, { recursive: true });
    await ws.syncCatalog();
    return ws;
  }

  /** Every stored version, sorted by name then version. */
  async versions(): Promise<DatasetVersion[]> {
    const out: DatasetVersion[] = [];
    for (const name of (await readdir(this.datasetsDir)).sort()) {
      if (!NAME_PATTERN.test(name)) continue;
      for (const v of await this.versionNumbers(name)) out.push(await this.load(name, v));
    }
    return out;
  }

  /** The latest version of each dataset. */
  async latest(): Promise<DatasetVersion[]> {
    const byName = new Map<string, DatasetVersion>();
    for (const v of await this.versions()) byName.set(v.name, v);
    return [...byName.values()];
  }

  /** Finds "name" (latest) or "name@v"; a clear error names what exists when it is missing. */
  async resolve(ref: string): Promise<DatasetVersion> {
    const { name, version } = parseRef(ref);
    const versions = existsSync(path.join(this.datasetsDir, name)) ? await this.versionNumbers(name) : [];
    if (versions.length === 0) {
      const known = (await this.latest()).map((v) => v.name);
      throw new OffpolicyError('E_DATASET_NOT_FOUND', `No dataset named "${name}" in workspace ${this.root}.`, {
        hint: known.length
          ? `Datasets here: ${known.join(', ')}.`
          : 'The workspace is empty: ingest or generate a dataset first (offpolicy datasets ingest FILE --name NAME).',
      });
    }
    const v = version ?? versions[versions.length - 1]!;
    if (!versions.includes(v)) {
      throw new OffpolicyError('E_DATASET_NOT_FOUND', `Dataset "${name}" has no version ${v}.`, {
        hint: `Versions: ${versions.join(', ')}.`,
      });
    }
    return this.load(name, v);
  }

  /**
   * Writes the result of `select` as a new immutable version of `name`:
   * staged, hashed, then renamed into place. Returns the new version.
   */
  async createVersion(opts: CreateVersionOptions): Promise<DatasetVersion> {
    checkDatasetName(opts.name);
    const nameDir = path.join(this.datasetsDir, opts.name);
    await mkdir(nameDir, { recursive: true });
    const staging = path.join(nameDir, `.staging-${process.pid}-${randomBytes(6).toString('hex')}`);
    await mkdir(staging);
    try {
      const part = path.join(staging, PART_FILE);
      await opts.conn.run(
        `COPY (${opts.select}) TO ${lit(part)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`,
      );
      const stats = await describeParts(opts.conn, part, opts.metadata.kind);
      if (stats.rowCount === 0) {
        throw new OffpolicyError('E_EMPTY_INPUT', 'The input has no rows, so there is nothing to store.', {
          hint: 'Check the file (or the filter that produced it) and try again.',
        });
      }
      if (opts.extraFiles) await opts.extraFiles(staging);
      const files = (await readdir(staging)).sort();
      for (let attempt = 0; ; attempt++) {
        const existing = await this.versionNumbers(opts.name);
        const version = (existing[existing.length - 1] ?? 0) + 1;
        const metadata: DatasetMetadata = {
          ...opts.metadata,
          name: opts.name,
          version,
          schemaVersion: SCHEMA_VERSION,
          createdAt: new Date().toISOString(),
          rowCount: stats.rowCount,
          ...(stats.episodeCount === undefined ? {} : { episodeCount: stats.episodeCount }),
          contentHash: stats.contentHash,
          contentHashAlgorithm: CONTENT_HASH_ALGORITHM,
          columns: stats.columns,
          files: [...files, 'metadata.json'].sort(),
        };
        await writeFile(path.join(staging, 'metadata.json'), JSON.stringify(metadata, null, 2) + '\n');
        try {
          await rename(staging, path.join(nameDir, String(version)));
        } catch (e) {
          // Another writer took this version number first: try the next one.
          const code = (e as NodeJS.ErrnoException).code;
          if ((code === 'ENOTEMPTY' || code === 'EEXIST') && attempt < 20) continue;
          throw e;
        }
        await this.syncCatalog();
        return this.load(opts.name, version);
      }
    } catch (e) {
      await rm(staging, { recursive: true, force: true });
      throw e;
    }
  }

  /** Removes one version, or every version of a dataset. */
  async remove(ref: string): Promise<DatasetVersion[]> {
    const { name, version } = parseRef(ref);
    const targets = version === undefined ? await this.versionsOf(name) : [await this.resolve(ref)];
    if (targets.length === 0) await this.resolve(name); // throws the not-found error
    for (const t of targets) {
      // Rename first so a half-deleted directory is never seen as a version.
      const trash = path.join(path.dirname(t.dir), `.deleting-${t.version}-${randomBytes(4).toString('hex')}`);
      await rename(t.dir, trash);
      await rm(trash, { recursive: true, force: true });
    }
    if ((await this.versionNumbers(name)).length === 0) {
      await rm(path.join(this.datasetsDir, name), { recursive: true, force: true });
    }
    await this.syncCatalog();
    return targets;
  }

  async versionsOf(name: string): Promise<DatasetVersion[]> {
    if (!existsSync(path.join(this.datasetsDir, name))) return [];
    return Promise.all((await this.versionNumbers(name)).map((v) => this.load(name, v)));
  }

  /**
   * An in-memory DuckDB connection with one view per dataset: "name" is the
   * latest version, "name@v" each stored version.
   */
  async queryConnection(): Promise<DuckDBConnection> {
    const conn = await openMemoryConnection();
    await this.registerViews(conn);
    return conn;
  }

  async registerViews(conn: DuckDBConnection): Promise<void> {
    const all = await this.versions();
    const latest = new Map<string, DatasetVersion>();
    for (const v of all) {
      latest.set(v.name, v);
      await conn.run(`CREATE OR REPLACE VIEW ${ident(v.ref)} AS SELECT * FROM read_parquet(${lit(v.glob)})`);
    }
    for (const v of latest.values()) {
      await conn.run(`CREATE OR REPLACE VIEW ${ident(v.name)} AS SELECT * FROM read_parquet(${lit(v.glob)})`);
    }
  }

  private async versionNumbers(name: string): Promise<number[]> {
    const dir = path.join(this.datasetsDir, name);
    if (!existsSync(dir)) return [];
    return (await readdir(dir))
      .filter((d) => /^\d+$/.test(d) && existsSync(path.join(dir, d, 'metadata.json')))
      .map(Number)
      .sort((a, b) => a - b);
  }

  private async load(name: string, version: number): Promise<DatasetVersion> {
    const dir = path.join(this.datasetsDir, name, String(version));
    const metadata = JSON.parse(await readFile(path.join(dir, 'metadata.json'), 'utf8')) as DatasetMetadata;
    return { name, version, ref: `${name}@${version}`, dir, glob: path.join(dir, 'part-*.parquet'), metadata };
  }

  /** Rebuilds the catalog table from the version directories (the source of truth). */
  private async syncCatalog(): Promise<void> {
    const versions = await this.versions();
    const instance = await DuckDBInstance.create(path.join(this.root, 'catalog.duckdb'));
    const conn = await instance.connect();
    try {
      await conn.run(`CREATE TABLE IF NOT EXISTS datasets (
        name VARCHAR, version INTEGER, kind VARCHAR, rows BIGINT, episodes BIGINT,
        content_hash VARCHAR, created_at TIMESTAMP, parent VARCHAR, transform VARCHAR, path VARCHAR,
        PRIMARY KEY (name, version))`);
      await conn.run('BEGIN TRANSACTION');
      await conn.run('DELETE FROM datasets');
      for (const v of versions) {
        const m = v.metadata;
        await conn.run(
          `INSERT INTO datasets VALUES (${lit(v.name)}, ${v.version}, ${lit(m.kind)}, ${m.rowCount}, ${m.episodeCount ?? 'NULL'},
           ${lit(m.contentHash)}, ${lit(m.createdAt)}::TIMESTAMP, ${m.lineage.parent ? lit(m.lineage.parent) : 'NULL'},
           ${lit(m.lineage.transform)}, ${lit(v.dir)})`,
        );
      }
      await conn.run('COMMIT');
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
  }
}

/** Row count, episode count and content hash of staged Parquet files. */
export async function describeParts(
  conn: DuckDBConnection,
  glob: string,
  kind: DatasetMetadata['kind'],
): Promise<{ rowCount: number; episodeCount?: number; contentHash: string; columns: ColumnInfo[] }> {
  const scan = `read_parquet(${lit(glob)})`;
  const columns = (await queryRows(conn, `DESCRIBE SELECT * FROM ${scan}`)).map((r) => ({
    name: String(r.column_name),
    type: String(r.column_type),
  }));
  const episodes = kind === 'trajectory' && columns.some((c) => c.name === 'episode_id') ? ', count(DISTINCT episode_id) AS e' : '';
  const row = await queryOne(
    conn,
    `SELECT count(*) AS n, coalesce(sum(hash(t)::HUGEINT), 0)::VARCHAR AS s, coalesce(bit_xor(hash(t)), 0)::VARCHAR AS x ${episodes} FROM ${scan} t`,
  );
  const rowCount = Number(row.n);
  const h = createHash('sha256');
  h.update(JSON.stringify({ kind, columns, rowCount, sum: row.s, xor: row.x }));
  return {
    rowCount,
    ...(episodes ? { episodeCount: Number(row.e) } : {}),
    contentHash: h.digest('hex'),
    columns,
  };
}
