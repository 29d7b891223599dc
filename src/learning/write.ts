/**
 * The policy directory `offpolicy learn` writes, which `offpolicy evaluate --policy DIR`
 * reads as a candidate:
 *   policy.json       the learned policy in the JSON policy format (policies/json-policy.ts)
 *   certificate.json  the certificate, the verdict, the settings and the data reference
 *   metrics.jsonl     one line per epoch (objective, KL, sigma, lambda), then the certificate
 * No timings are stored, so the same inputs and seed give the same bytes. The
 * directory is built next to its destination and renamed into place.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OffpolicyError } from '../core/errors.js';
import type { LearnResult } from './train.js';

export async function writeLearnedPolicy(dir: string, result: LearnResult, meta: { data?: string; command?: string; force?: boolean } = {}): Promise<string> {
  const out = path.resolve(dir);
  if (existsSync(out) && readdirSync(out).length > 0 && !meta.force) {
    throw new OffpolicyError('E_OUT_EXISTS', `The output directory ${dir} exists and is not empty.`, { hint: 'Pick a new --out directory, or pass --force to replace it.' });
  }
  const tmp = `${out}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const json = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';
  await writeFile(path.join(tmp, 'policy.json'), json(result.policy));
  await writeFile(
    path.join(tmp, 'certificate.json'),
    json({ format: 'offpolicy-learned-policy', formatVersion: 1, ...(meta.data !== undefined ? { data: meta.data } : {}), ...(meta.command !== undefined ? { command: meta.command } : {}), settings: result.settings, kl: result.kl, certificate: result.certificate }),
  );
  await writeFile(path.join(tmp, 'metrics.jsonl'), result.metrics.map((m) => JSON.stringify(m)).join('\n') + '\n');
  await rm(out, { recursive: true, force: true });
  await mkdir(path.dirname(out), { recursive: true });
  await rename(tmp, out);
  return out;
}
