/**
 * Filesystem guards shared by the workspace and the loaders: containment
 * (realpath inside a directory, no symlinks followed out), the workspace write
 * lock, cleaning of files left by dead processes, and coded errors for
 * filesystem failures.
 */
import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, open, readdir, readFile, realpath, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { OffpolicyError } from '../core/errors.js';

/** How long a writer waits for the workspace lock before E_WORKSPACE_BUSY (OFFPOLICY_LOCK_TIMEOUT_MS overrides). */
export const LOCK_TIMEOUT_MS = 30_000;

const FS_CODES: Record<string, [string, string]> = {
  EACCES: ['E_PERMISSION', 'permission denied'],
  EPERM: ['E_PERMISSION', 'operation not permitted'],
  ENOTDIR: ['E_NOT_A_DIRECTORY', 'a part of the path is not a directory'],
  EISDIR: ['E_IS_A_DIRECTORY', 'it is a directory, not a file'],
  ENOENT: ['E_FILE_NOT_FOUND', 'no such file or directory'],
  ENOSPC: ['E_DISK_FULL', 'no space left on the device'],
  EROFS: ['E_READ_ONLY_FS', 'the filesystem is read-only'],
  ELOOP: ['E_WORKSPACE_ESCAPE', 'too many symlinks'],
  EMFILE: ['E_FILESYSTEM', 'too many open files'],
  ENAMETOOLONG: ['E_FILESYSTEM', 'the path is too long'],
};

/** A coded error for a failed filesystem call: "Cannot <what>: permission denied (EACCES)." */
export function fsError(e: unknown, what: string): OffpolicyError {
  if (e instanceof OffpolicyError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  const known = code ? FS_CODES[code] : undefined;
  if (!known) {
    return new OffpolicyError('E_FILESYSTEM', `Cannot ${what}: ${(e as Error)?.message ?? String(e)}.`, {
      hint: 'Check the path, its permissions and free space.',
      cause: e,
    });
  }
  return new OffpolicyError(known[0], `Cannot ${what}: ${known[1]} (${code}).`, {
    hint: 'Check the path and its permissions.',
    cause: e,
  });
}

/** Maps an error that escaped a command to a coded one, or null when it is not a known kind. */
export function codedError(e: unknown): OffpolicyError | null {
  if (e instanceof OffpolicyError) return e;
  const errno = e as NodeJS.ErrnoException;
  if (errno?.code && FS_CODES[errno.code]) return fsError(e, `${errno.syscall ?? 'access'} ${errno.path ?? 'a file'}`);
  const msg = (e as Error)?.message ?? '';
  if (/Could not set lock on file|Conflicting lock is held/i.test(msg)) {
    return new OffpolicyError('E_WORKSPACE_BUSY', `Another process holds a lock on a workspace file: ${msg.split('\n')[0]}`, {
      hint: 'Wait for the other offpolicy command to finish and try again.',
      cause: e,
    });
  }
  if (/Permission Error|file system operations are disabled/i.test(msg)) {
    return new OffpolicyError('E_PERMISSION', msg.split('\n')[0]!, { hint: 'Check the path and its permissions.', cause: e });
  }
  return null;
}

export async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await lstat(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw fsError(e, `inspect ${p}`);
  }
}

/** realpath of a directory, with a coded error. */
export async function realDir(dir: string): Promise<string> {
  try {
    return await realpath(dir);
  } catch (e) {
    throw fsError(e, `resolve ${dir}`);
  }
}

function isWithin(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Throws E_WORKSPACE_ESCAPE unless `p` (which must exist) resolves inside `root`. */
export async function assertInside(root: string, p: string): Promise<void> {
  const [r, q] = [await realDir(root), await realDir(p)];
  if (!isWithin(r, q)) {
    throw new OffpolicyError('E_WORKSPACE_ESCAPE', `${p} resolves to ${q}, outside ${r}.`, {
      hint: 'The workspace reads, writes and deletes only inside itself; symlinks out of it are not followed.',
    });
  }
}

/**
 * The file `name` (as written in a policy or checkpoint JSON) inside `dir`:
 * a plain relative name whose real path stays in `dir`, and a regular file.
 */
export async function fileInside(dir: string, name: unknown, code: string, what: string): Promise<string> {
  if (typeof name !== 'string' || name === '' || path.isAbsolute(name) || name.split(/[\\/]/).includes('..') || name.includes('\0')) {
    throw new OffpolicyError(code, `${what} "${String(name)}" must be a file name inside ${dir}.`, {
      hint: 'A policy or checkpoint names its files relative to its own directory; export it again.',
    });
  }
  const file = path.join(dir, name);
  const st = await lstatOrNull(file);
  if (st && !st.isFile()) {
    throw new OffpolicyError(code, `${what} ${file} is ${st.isSymbolicLink() ? 'a symlink' : 'not a regular file'}.`, {
      hint: 'Copy the real file into the directory instead of linking it.',
    });
  }
  return file;
}

/**
 * Refuses an output path inside the workspace (E_OUT_IN_WORKSPACE): stored
 * versions and the catalog change only through the workspace's own writes.
 * Resolves the nearest existing ancestor, so a symlinked directory is seen through.
 */
export async function assertOutsideWorkspace(workspaceRoot: string, out: string): Promise<void> {
  const target = path.resolve(out);
  let probe = target;
  const rest: string[] = [];
  for (;;) {
    const st = await lstatOrNull(probe);
    if (st) break;
    const parent = path.dirname(probe);
    if (parent === probe) break;
    rest.unshift(path.basename(probe));
    probe = parent;
  }
  let real = probe;
  try {
    real = path.join(await realpath(probe), ...rest);
  } catch {
    real = target;
  }
  const root = await realDir(workspaceRoot);
  if (isWithin(root, real) || isWithin(root, target)) {
    throw new OffpolicyError('E_OUT_IN_WORKSPACE', `The output ${out} is inside the workspace ${root}.`, {
      hint: 'Write results outside the workspace; stored versions change only through ingest, generate, split, corrupt, rollout --save and rm.',
    });
  }
}

export async function sha256File(file: string): Promise<{ bytes: number; sha256: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(file)) {
      h.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
  } catch (e) {
    throw fsError(e, `read ${file}`);
  }
  return { bytes, sha256: h.digest('hex') };
}

/** True unless `pid` is a positive integer naming no running process. */
export function isLive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return true;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes entries of `dir` named "<prefix><pid>-..." whose process is dead. */
export async function cleanStaleFiles(dir: string, prefixes: string[]): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const prefix = prefixes.find((p) => e.startsWith(p));
    if (!prefix) continue;
    const pid = Number(/^(\d+)-/.exec(e.slice(prefix.length))?.[1] ?? NaN);
    if (!Number.isSafeInteger(pid) || pid === process.pid || isLive(pid)) continue;
    const p = path.join(dir, e);
    const st = await lstatOrNull(p);
    if (st?.isSymbolicLink()) await unlink(p).catch(() => undefined);
    else await rm(p, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * The workspace write lock: a file ".lock" created exclusively and holding the
 * owner's PID. A lock whose owner is dead is broken; otherwise a writer waits up
 * to LOCK_TIMEOUT_MS, then fails with E_WORKSPACE_BUSY. Within one process,
 * writers queue on a promise chain.
 */
/** The PID a lock file names (0 when it names none) and whether an empty one is older than a second (its creator died before writing). */
async function lockOwner(file: string): Promise<{ pid: number; orphan: boolean }> {
  const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  const orphan = !(pid > 0) && Date.now() - ((await lstatOrNull(file))?.mtimeMs ?? Date.now()) > 1000;
  return { pid: pid > 0 ? pid : 0, orphan };
}

/**
 * Removes a dead owner's lock. Breakers serialise on `<lock>.break`, and the holder removes the lock only
 * if it still names the dead owner it saw: a live writer can create the lock only once the dead one is
 * gone, so no live lock is ever removed. A breaker that died while breaking leaves `.break` behind; it is
 * cleared the same way (its PID dead, or empty for over a second).
 */
async function breakDeadLock(file: string, deadOwner: number): Promise<void> {
  const breaker = `${file}.break`;
  try {
    const h = await open(breaker, 'wx');
    await h.writeFile(`${process.pid}\n`);
    await h.close();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(e, `break a dead process's lock (${breaker})`);
    const b = await lockOwner(breaker);
    if ((b.pid > 0 && !isLive(b.pid)) || b.orphan) await rm(breaker, { force: true });
    return;
  }
  try {
    const now = await lockOwner(file);
    if (now.pid === deadOwner && (now.pid > 0 ? !isLive(now.pid) : now.orphan)) await rm(file, { force: true });
  } finally {
    await rm(breaker, { force: true });
  }
}

export class WriteLock {
  private static local = new Map<string, Promise<void>>();

  private constructor(
    private readonly file: string,
    private readonly releaseLocal: () => void,
  ) {}

  static async acquire(root: string, timeoutMs = Number(process.env.OFFPOLICY_LOCK_TIMEOUT_MS ?? LOCK_TIMEOUT_MS)): Promise<WriteLock> {
    const file = path.join(root, '.lock');
    // In-process queue first (the lock file names a process, not a caller).
    const prev = WriteLock.local.get(file) ?? Promise.resolve();
    let releaseLocal!: () => void;
    const mine = new Promise<void>((r) => (releaseLocal = r));
    const chained = prev.then(() => mine);
    WriteLock.local.set(file, chained);
    const deadline = Date.now() + timeoutMs;
    const timedOut = await Promise.race([
      prev.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), Math.max(0, timeoutMs)).unref()),
    ]);
    const busy = () =>
      new OffpolicyError('E_WORKSPACE_BUSY', `The workspace ${root} is busy: another offpolicy command is writing to it.`, {
        hint: `Waited ${Math.round(timeoutMs / 1000)} s for the lock (${file}). Try again when it finishes; set OFFPOLICY_LOCK_TIMEOUT_MS to wait longer.`,
      });
    if (timedOut) {
      void prev.then(releaseLocal);
      throw busy();
    }
    for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
      try {
        const h = await open(file, 'wx');
        await h.writeFile(`${process.pid}\n`);
        await h.close();
        return new WriteLock(file, () => {
          releaseLocal();
          if (WriteLock.local.get(file) === chained) WriteLock.local.delete(file);
        });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          releaseLocal();
          throw fsError(e, `lock the workspace (${file})`);
        }
      }
      const { pid: owner, orphan } = await lockOwner(file);
      if ((owner > 0 && !isLive(owner)) || orphan) {
        await breakDeadLock(file, owner);
        continue;
      }
      if (Date.now() >= deadline) {
        releaseLocal();
        throw busy();
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  async release(): Promise<void> {
    await rm(this.file, { force: true });
    this.releaseLocal();
  }
}
