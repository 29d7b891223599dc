/**
 * The workspace: a directory holding catalog.duckdb and datasets/<name>/<version>/.
 *
 * A version is immutable: Parquet part files (zstd) plus metadata.json. It is
 * built in a staging directory beside its final place, checked, and renamed into
 * place in one step, so a failed write leaves every existing version and the
 * catalog untouched. The version directories are the source of truth; the
 * catalog is an index over them, rebuilt by every write.
 *
 * Containment: every ref and name passes checkDatasetName; a dataset or version
 * directory that is a symlink, or whose real path leaves datasets/, is refused
 * (E_WORKSPACE_ESCAPE), and a version's part files must be exactly the regular
 * files its metadata lists, with the recorded sizes and SHA-256 digests
 * (E_DATASET_DAMAGED otherwise). Globs given to DuckDB escape the workspace path.
 *
 * Concurrency: reads take no lock and never open the catalog. Writes stage
 * their files without a lock, then take the workspace lock (bounded wait,
 * E_WORKSPACE_BUSY) for the rename and the catalog rebuild. A commit of several
 * versions (split) writes a journal first, so a kill mid-commit is rolled
 * forward by the next writer: all parts land or none.
 */
import { createHash, randomBytes } from 'node:crypto';
import { OffpolicyError } from '../core/errors.js';
import { globEscape, ident, lit, loadDuckDB, openLockedConnection, queryOne, queryRows, type DuckDBConnection } from './duckdb.js';
import {
  assertInside,
  cleanStaleFiles,
  fsError,
  isLive,
  lstatOrNull,
  realDir,
  WriteLock,
  sha256File,
} from './fs-guard.js';
import { mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
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
const PART_PATTERN = /^part-\d+\.parquet$/;
const STAGING_PREFIX = '.staging-';
const DELETING_PREFIX = '.deleting-';
const JOURNAL_PREFIX = '.commit-';

export interface DatasetVersion {
  name: string;
  version: number;
  /** "name@version" */
  ref: string;
  dir: string;
  /** Glob over the version's Parquet part files (the directory part escaped, so it matches only this version). */
  glob: string;
  metadata: DatasetMetadata;
  /**
   * A row restriction (SQL condition over the stored columns) that versionScan
   * applies: set only on in-memory views such as observedRewardsView
   * (load-bandit.ts); a stored version has none.
   */
  rowFilter?: string;
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
  /** The caller already ran the kind's row rules over exactly these rows (ingest does); skips the stored-data check. */
  validated?: boolean;
}

/** A version written to its staging directory, not yet visible. */
interface StagedVersion {
  name: string;
  staging: string;
  metadata: Omit<DatasetMetadata, 'version' | 'createdAt'>;
}

/** Resolves the workspace directory: explicit flag, then OFFPOLICY_HOME, then ./.offpolicy. An empty value is an error. */
export function resolveWorkspaceDir(explicit?: string): string {
  if (explicit !== undefined && explicit.trim() === '') {
    throw new OffpolicyError('E_WORKSPACE_PATH', 'The workspace directory given is empty.', {
      hint: 'Pass --workspace DIR with a directory, or leave it out to use $OFFPOLICY_HOME or ./.offpolicy.',
    });
  }
  const env = process.env.OFFPOLICY_HOME;
  if (explicit === undefined && env !== undefined && env.trim() === '') {
    throw new OffpolicyError('E_WORKSPACE_PATH', 'OFFPOLICY_HOME is set but empty.', {
      hint: 'Set it to a directory, or unset it to use ./.offpolicy.',
    });
  }
  return path.resolve(explicit ?? env ?? DEFAULT_WORKSPACE);
}

export function checkDatasetName(name: string): void {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new OffpolicyError(
      'E_DATASET_NAME',
      `Dataset name "${name}" is not allowed.`,
      { hint: 'Use a letter first, then letters, digits, "_", "-" or "." (at most 128 characters).' },
    );
  }
}

/** Parses "name" or "name@3"; the name passes checkDatasetName, so a ref never names a path. */
export function parseRef(ref: string): { name: string; version?: number } {
  const at = ref.lastIndexOf('@');
  const name = at < 0 ? ref : ref.slice(0, at);
  const v = at < 0 ? undefined : ref.slice(at + 1);
  if ((v !== undefined && !/^\d{1,9}$/.test(v)) || !NAME_PATTERN.test(name)) {
    throw new OffpolicyError('E_DATASET_REF', `"${ref}" is not a dataset reference.`, {
      hint: 'Write NAME for the latest version or NAME@VERSION (e.g. logs@2); a name starts with a letter, then letters, digits, "_", "-" or ".".',
    });
  }
  return v === undefined ? { name } : { name, version: Number(v) };
}

function damaged(ref: string, what: string): OffpolicyError {
  return new OffpolicyError('E_DATASET_DAMAGED', `Stored version ${ref} is damaged: ${what}.`, {
    hint: `Remove it (offpolicy datasets rm ${ref} --yes) and write it again; other datasets are not affected.`,
  });
}

/** A stored version whose files fail their recorded sizes or hashes, and what is wrong with it. */
export interface DamagedVersion {
  ref: string;
  problem: string;
}

export class Workspace {
  readonly root: string;
  readonly datasetsDir: string;

  private constructor(root: string) {
    this.root = root;
    this.datasetsDir = path.join(root, 'datasets');
  }

  /**
   * Opens (creating if needed) the workspace at `dir`. Files left by dead
   * processes (staging directories, half-deleted versions, ingest spill
   * directories) are removed, and an interrupted multi-version commit is
   * completed. The catalog is not touched.
   */
  static async open(dir?: string): Promise<Workspace> {
    const wanted = resolveWorkspaceDir(dir);
    try {
      await mkdir(path.join(wanted, 'datasets'), { recursive: true });
    } catch (e) {
      throw fsError(e, `open the workspace ${wanted}`);
    }
    const ws = new Workspace(await realDir(wanted));
    const d = await lstatOrNull(ws.datasetsDir);
    if (!d?.isDirectory()) {
      throw new OffpolicyError('E_WORKSPACE_ESCAPE', `${ws.datasetsDir} is not a directory inside the workspace (a symlink?).`, {
        hint: 'Point --workspace at a workspace whose datasets/ directory is a real directory.',
      });
    }
    await ws.recover();
    return ws;
  }

  /** Every stored version, sorted by name then version, and apart the versions whose files do not match their metadata. */
  async scan(): Promise<{ versions: DatasetVersion[]; damaged: DamagedVersion[] }> {
    const versions: DatasetVersion[] = [];
    const damaged: DamagedVersion[] = [];
    for (const name of await this.names()) {
      for (const v of await this.versionNumbers(name)) {
        try {
          versions.push(await this.load(name, v, { verifyContent: false }));
        } catch (e) {
          if (!(e instanceof OffpolicyError && e.code === 'E_DATASET_DAMAGED')) throw e;
          damaged.push({ ref: `${name}@${v}`, problem: e.message });
        }
      }
    }
    return { versions, damaged };
  }

  /** Every stored version, sorted by name then version. Damaged versions are left out (see `damagedVersions`). */
  async versions(): Promise<DatasetVersion[]> {
    return (await this.scan()).versions;
  }

  /** Refs of versions whose files do not match their metadata. */
  async damagedVersions(): Promise<DamagedVersion[]> {
    return (await this.scan()).damaged;
  }

  /** The latest version of each dataset. */
  async latest(): Promise<DatasetVersion[]> {
    const byName = new Map<string, DatasetVersion>();
    for (const v of await this.versions()) byName.set(v.name, v);
    return [...byName.values()];
  }

  /**
   * Finds "name" (latest) or "name@v"; a clear error names what exists when it
   * is missing. The version's part files are checked against their recorded
   * sizes and digests (E_DATASET_DAMAGED).
   */
  async resolve(ref: string): Promise<DatasetVersion> {
    const { name, version } = parseRef(ref);
    const versions = await this.versionNumbers(name);
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
    return this.load(name, v, { verifyContent: true });
  }

  /**
   * Writes the result of `select` as a new immutable version of `name`:
   * staged, hashed, then renamed into place. Returns the new version.
   */
  async createVersion(opts: CreateVersionOptions): Promise<DatasetVersion> {
    const [v] = await this.createVersions([opts]);
    return v!;
  }

  /**
   * Writes several new versions, all or none: each is staged (and checked)
   * first; then, under the workspace lock, a journal lists the renames, which
   * the next writer completes if this process dies half-way.
   */
  async createVersions(all: CreateVersionOptions[]): Promise<DatasetVersion[]> {
    all.forEach((o) => checkDatasetName(o.name));
    const staged: StagedVersion[] = [];
    const fresh: string[] = [];
    for (const o of all) if (!(await lstatOrNull(path.join(this.datasetsDir, o.name)))) fresh.push(path.join(this.datasetsDir, o.name));
    try {
      for (const opts of all) staged.push(await this.stage(opts));
      return await this.commit(staged);
    } catch (e) {
      for (const s of staged) await rm(s.staging, { recursive: true, force: true });
      // A dataset directory this call created stays only if something else now lives in it.
      for (const d of fresh) await rmdir(d).catch(() => undefined);
      throw e;
    }
  }

  private async stage(opts: CreateVersionOptions): Promise<StagedVersion> {
    const nameDir = await this.nameDir(opts.name, { create: true });
    const staging = path.join(nameDir, `${STAGING_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      await mkdir(staging);
    } catch (e) {
      throw fsError(e, `create ${staging}`);
    }
    try {
      const part = path.join(staging, PART_FILE);
      await opts.conn.run(
        `COPY (${opts.select}) TO ${lit(part)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`,
      );
      const stats = await describeParts(opts.conn, globEscape(part), opts.metadata.kind);
      if (stats.rowCount === 0) {
        throw new OffpolicyError('E_EMPTY_INPUT', 'The input has no rows, so there is nothing to store.', {
          hint: 'Check the file (or the filter that produced it) and try again.',
        });
      }
      // Whatever wrote it (ingest, generate, corrupt, rollout, split), a stored version passes the same checks.
      const { validateStoredVersion } = await import('./validate-stored.js');
      if (!opts.validated) await validateStoredVersion(opts.conn, globEscape(part), opts.metadata, stats.columns);
      if (opts.extraFiles) await opts.extraFiles(staging);
      const files = (await readdir(staging)).sort();
      const fileDigests: Record<string, { bytes: number; sha256: string }> = {};
      for (const f of files.filter((f) => PART_PATTERN.test(f))) fileDigests[f] = await sha256File(path.join(staging, f));
      return {
        name: opts.name,
        staging,
        metadata: {
          ...opts.metadata,
          name: opts.name,
          schemaVersion: SCHEMA_VERSION,
          rowCount: stats.rowCount,
          ...(stats.episodeCount === undefined ? {} : { episodeCount: stats.episodeCount }),
          contentHash: stats.contentHash,
          contentHashAlgorithm: CONTENT_HASH_ALGORITHM,
          columns: stats.columns,
          files: [...files, 'metadata.json'].sort(),
          fileDigests,
        },
      };
    } catch (e) {
      await rm(staging, { recursive: true, force: true });
      throw e;
    }
  }

  private async commit(staged: StagedVersion[]): Promise<DatasetVersion[]> {
    const lock = await WriteLock.acquire(this.root);
    const done: { name: string; version: number }[] = [];
    try {
      const plan: { staging: string; final: string; name: string; version: number }[] = [];
      const next = new Map<string, number>();
      for (const s of staged) {
        const existing = await this.versionNumbers(s.name);
        const version = next.get(s.name) ?? (existing[existing.length - 1] ?? 0) + 1;
        next.set(s.name, version + 1);
        const metadata: DatasetMetadata = { ...s.metadata, version, createdAt: new Date().toISOString() } as DatasetMetadata;
        await writeFile(path.join(s.staging, 'metadata.json'), JSON.stringify(metadata, null, 2) + '\n');
        plan.push({ staging: s.staging, final: path.join(path.dirname(s.staging), String(version)), name: s.name, version });
      }
      const journal = path.join(this.datasetsDir, `${JOURNAL_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}.json`);
      if (plan.length > 1) await writeFile(journal, JSON.stringify(plan.map(({ staging, final }) => ({ staging, final }))));
      for (const p of plan) {
        try {
          await rename(p.staging, p.final);
        } catch (e) {
          // Nothing but this process writes under the lock: a failure here is a filesystem fault.
          // Roll back the renames already done so the commit stays all-or-nothing.
          for (const q of plan.slice(0, done.length)) await rename(q.final, q.staging).catch(() => undefined);
          await rm(journal, { force: true });
          throw fsError(e, `store ${p.final}`);
        }
        done.push(p);
      }
      await rm(journal, { force: true });
      // The versions are stored: a catalog failure must not report the write as failed (the next write rebuilds it).
      await this.syncCatalog().catch(() => undefined);
    } finally {
      await lock.release();
    }
    const out: DatasetVersion[] = [];
    for (const d of done) out.push(await this.load(d.name, d.version, { verifyContent: false }));
    return out;
  }

  /** Removes one version, or every version of a dataset. */
  async remove(ref: string): Promise<DatasetVersion[]> {
    const { name, version } = parseRef(ref);
    const lock = await WriteLock.acquire(this.root);
    const removed: DatasetVersion[] = [];
    try {
      const numbers = await this.versionNumbers(name);
      if (numbers.length === 0 || (version !== undefined && !numbers.includes(version))) await this.resolve(ref); // throws not-found
      const targets = version === undefined ? numbers : [version];
      const nameDir = await this.nameDir(name, { create: false });
      for (const v of targets) {
        const dir = path.join(nameDir, String(v));
        await this.checkVersionDir(`${name}@${v}`, dir);
        let entry: DatasetVersion;
        try {
          entry = await this.load(name, v, { verifyContent: false });
        } catch {
          // a damaged version can still be removed
          entry = { name, version: v, ref: `${name}@${v}`, dir, glob: '', metadata: {} as DatasetMetadata };
        }
        // Rename first so a half-deleted directory is never seen as a version.
        const trash = path.join(nameDir, `${DELETING_PREFIX}${process.pid}-${v}-${randomBytes(4).toString('hex')}`);
        try {
          await rename(dir, trash);
        } catch (e) {
          throw fsError(e, `remove ${dir}`);
        }
        await rm(trash, { recursive: true, force: true });
        removed.push(entry);
      }
      if ((await this.versionNumbers(name)).length === 0) {
        // Only our own and dead processes' leftovers go; a live writer's staging directory stays.
        await cleanStaleFiles(nameDir, [STAGING_PREFIX, DELETING_PREFIX]);
        await rmdir(nameDir).catch(() => undefined);
      }
      await this.syncCatalog().catch(() => undefined);
    } finally {
      await lock.release();
    }
    return removed;
  }

  async versionsOf(name: string): Promise<DatasetVersion[]> {
    checkDatasetName(name);
    const out: DatasetVersion[] = [];
    for (const v of await this.versionNumbers(name)) out.push(await this.load(name, v, { verifyContent: false }));
    return out;
  }

  /**
   * An in-memory DuckDB connection with one view per dataset ("name" is the
   * latest version, "name@v" each stored version) that can read nothing else:
   * external access off except for the version directories, extension loading
   * off, configuration locked. `writable` names extra files it may write (a
   * query's output). Damaged versions get no view.
   */
  async queryConnection(opts: { writable?: string[]; versions?: DatasetVersion[] } = {}): Promise<DuckDBConnection> {
    const all = opts.versions ?? (await this.versions());
    const damagedRefs = opts.versions ? [] : (await this.damagedVersions()).map((d) => d.ref);
    const conn = await openLockedConnection({
      directories: all.map((v) => v.dir),
      files: opts.writable ?? [],
      tempDirectory: path.join(this.root, '.tmp'),
      setup: async (c) => skippedViews.set(c, [...damagedRefs, ...(await this.registerViews(c, all, damagedRefs))]),
    });
    return conn;
  }

  /** Creates the views (on a connection that can read the version directories). */
  async registerViews(conn: DuckDBConnection, versions?: DatasetVersion[], damagedRefs: string[] = []): Promise<string[]> {
    const all = versions ?? (await this.versions());
    // "name" is the latest version: when that one is damaged, "name" gets no view (never an older one silently).
    const newestDamaged = new Map<string, number>();
    for (const r of damagedRefs) {
      const { name, version } = parseRef(r);
      newestDamaged.set(name, Math.max(newestDamaged.get(name) ?? 0, version ?? 0));
    }
    const latest = new Map<string, DatasetVersion>();
    const skipped: string[] = [];
    const ok = new Set<string>();
    for (const v of all) {
      latest.set(v.name, v);
      try {
        const n = await queryOne(conn, `SELECT coalesce(sum(num_rows), 0)::BIGINT AS n FROM parquet_file_metadata(${lit(v.glob)})`);
        if (Number(n.n) !== v.metadata.rowCount) throw damaged(v.ref, `its files hold ${Number(n.n)} rows, its metadata says ${v.metadata.rowCount}`);
        await conn.run(`CREATE OR REPLACE VIEW ${ident(v.ref)} AS SELECT * FROM read_parquet(${lit(v.glob)})`);
        ok.add(v.ref);
      } catch {
        skipped.push(v.ref);
      }
    }
    for (const v of latest.values()) {
      if (ok.has(v.ref) && !((newestDamaged.get(v.name) ?? 0) > v.version)) await conn.run(`CREATE OR REPLACE VIEW ${ident(v.name)} AS SELECT * FROM read_parquet(${lit(v.glob)})`);
    }
    return skipped;
  }

  /** Dataset directory names (real directories only; a symlinked one is never followed). */
  private async names(): Promise<string[]> {
    const out: string[] = [];
    for (const e of (await readdir(this.datasetsDir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.isDirectory() && NAME_PATTERN.test(e.name)) out.push(e.name);
    }
    return out;
  }

  /** The dataset directory of `name`, refusing a symlink or anything that resolves outside datasets/. */
  private async nameDir(name: string, opts: { create: boolean }): Promise<string> {
    checkDatasetName(name);
    const dir = path.join(this.datasetsDir, name);
    let st = await lstatOrNull(dir);
    if (!st && opts.create) {
      try {
        await mkdir(dir, { recursive: true });
      } catch (e) {
        throw fsError(e, `create ${dir}`);
      }
      st = await lstatOrNull(dir);
    }
    if (st && !st.isDirectory()) {
      throw new OffpolicyError('E_WORKSPACE_ESCAPE', `${dir} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}; the workspace does not follow it.`, {
        hint: 'Datasets live in real directories under the workspace; remove the link by hand if it is not wanted.',
      });
    }
    if (st) await assertInside(this.datasetsDir, dir);
    return dir;
  }

  private async checkVersionDir(ref: string, dir: string): Promise<void> {
    const st = await lstatOrNull(dir);
    if (!st) throw damaged(ref, `${dir} is missing`);
    if (!st.isDirectory()) {
      throw new OffpolicyError('E_WORKSPACE_ESCAPE', `${dir} is a ${st.isSymbolicLink() ? 'symlink' : 'file'}; the workspace does not follow it.`, {
        hint: 'Versions live in real directories under the workspace; remove the link by hand if it is not wanted.',
      });
    }
    await assertInside(this.datasetsDir, dir);
  }

  private async versionNumbers(name: string): Promise<number[]> {
    const dir = path.join(this.datasetsDir, name);
    const st = await lstatOrNull(dir);
    if (!st?.isDirectory()) return [];
    const out: number[] = [];
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (/^\d{1,9}$/.test(e.name) && (e.isDirectory() || e.isSymbolicLink()) && (await lstatOrNull(path.join(dir, e.name, 'metadata.json')))) {
        out.push(Number(e.name));
      }
    }
    return out.sort((a, b) => a - b);
  }

  private async load(name: string, version: number, opts: { verifyContent: boolean }): Promise<DatasetVersion> {
    await this.nameDir(name, { create: false });
    const ref = `${name}@${version}`;
    const dir = path.join(this.datasetsDir, name, String(version));
    await this.checkVersionDir(ref, dir);
    const metaFile = path.join(dir, 'metadata.json');
    const metaStat = await lstatOrNull(metaFile);
    if (!metaStat?.isFile()) throw damaged(ref, 'metadata.json is not a regular file');
    let metadata: DatasetMetadata;
    try {
      metadata = JSON.parse(await readFile(metaFile, 'utf8')) as DatasetMetadata;
    } catch (e) {
      if (e instanceof SyntaxError) throw damaged(ref, 'metadata.json is not valid JSON');
      throw fsError(e, `read ${metaFile}`);
    }
    if (typeof metadata !== 'object' || metadata === null || metadata.name !== name || metadata.version !== version || !Array.isArray(metadata.files)) {
      throw damaged(ref, 'metadata.json does not describe this version');
    }
    const listed = metadata.files.filter((f) => PART_PATTERN.test(f)).sort();
    const present: string[] = [];
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (!PART_PATTERN.test(e.name)) continue;
      if (!e.isFile()) throw damaged(ref, `${e.name} is not a regular file`);
      present.push(e.name);
    }
    present.sort();
    if (listed.length === 0 || listed.join('\n') !== present.join('\n')) {
      throw damaged(ref, `its part files (${present.join(', ') || 'none'}) are not the ones its metadata lists (${listed.join(', ') || 'none'})`);
    }
    const digests = metadata.fileDigests;
    if (digests) {
      for (const f of listed) {
        const want = digests[f];
        if (!want) throw damaged(ref, `${f} has no recorded digest`);
        const got = opts.verifyContent ? await sha256File(path.join(dir, f)) : { bytes: (await lstatOrNull(path.join(dir, f)))!.size, sha256: want.sha256 };
        if (got.bytes !== want.bytes || got.sha256 !== want.sha256) {
          throw damaged(ref, `${f} has ${got.bytes} bytes${got.sha256 !== want.sha256 ? ' and another SHA-256' : ''}, its metadata records ${want.bytes}`);
        }
      }
    }
    return { name, version, ref, dir, glob: path.join(globEscape(dir), 'part-*.parquet'), metadata };
  }

  /**
   * Completes a multi-version commit a dead process left half-done (its journal
   * lists staging -> final renames), then removes dead processes' staging and
   * deleting directories and ingest/query temp files.
   */
  private async recover(): Promise<void> {
    let entries: string[];
    try {
      entries = await readdir(this.datasetsDir);
    } catch (e) {
      throw fsError(e, `read ${this.datasetsDir}`);
    }
    const journals = entries.filter((e) => e.startsWith(JOURNAL_PREFIX) && !isLive(pidOf(e, JOURNAL_PREFIX)));
    if (journals.length) {
      const lock = await WriteLock.acquire(this.root);
      try {
        for (const j of journals) {
          const file = path.join(this.datasetsDir, j);
          let plan: { staging: string; final: string }[] = [];
          try {
            plan = JSON.parse(await readFile(file, 'utf8')) as typeof plan;
          } catch {
            plan = [];
          }
          for (const p of plan) {
            const inside = (f: string) => path.dirname(path.dirname(f)) === this.datasetsDir;
            if (!inside(p.staging) || !inside(p.final)) continue;
            if ((await lstatOrNull(p.staging))?.isDirectory() && !(await lstatOrNull(p.final))) await rename(p.staging, p.final).catch(() => undefined);
          }
          await rm(file, { force: true });
        }
        await this.syncCatalog().catch(() => undefined);
      } finally {
        await lock.release();
      }
    }
    for (const name of await this.names()) await cleanStaleFiles(path.join(this.datasetsDir, name), [STAGING_PREFIX, DELETING_PREFIX]);
    const { tmpdir } = await import('node:os');
    await cleanStaleFiles(tmpdir(), ['offpolicy-ingest-', 'offpolicy-query-']);
  }

  /** Rebuilds the catalog table from the version directories (the source of truth). Called under the lock. */
  private async syncCatalog(): Promise<void> {
    const versions = await this.versions();
    const { DuckDBInstance } = await loadDuckDB();
    const instance = await DuckDBInstance.create(path.join(this.root, 'catalog.duckdb'), {
      autoload_known_extensions: 'false',
      autoinstall_known_extensions: 'false',
    });
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

/** Refs whose view a query connection left out because the version is damaged. */
export const skippedViews = new WeakMap<DuckDBConnection, string[]>();

/** The PID in a temp name "<prefix><pid>-...". */
export function pidOf(name: string, prefix: string): number {
  return Number(/^(\d+)/.exec(name.slice(prefix.length))?.[1] ?? NaN);
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
