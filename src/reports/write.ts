/** The report directory: created up front (E_REPORT_OUT when it cannot be), then files written into it by relative path. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OffpolicyError } from '../core/errors.js';

export interface ReportWriter {
  /** Writes `text` to outDir/rel (making rel's folders) and records the path. */
  write(rel: string, text: string): Promise<void>;
  /** The absolute paths written so far, in order. */
  files: string[];
}

export async function reportWriter(outDir: string): Promise<ReportWriter> {
  const dir = path.resolve(outDir);
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new OffpolicyError('E_REPORT_OUT', `Cannot create the report directory ${dir} (${(e as NodeJS.ErrnoException).code ?? String(e)}).`, {
      hint: 'Choose a writable directory with --out.',
      cause: e,
    });
  }
  const files: string[] = [];
  return {
    files,
    async write(rel, text) {
      const file = path.join(dir, rel);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, text);
      files.push(file);
    },
  };
}
