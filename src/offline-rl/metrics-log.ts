/**
 * The training metrics log: one JSON object per line (metrics.jsonl), appended
 * as events happen. Every line has `event` and `step`:
 *   start      algo, dataset, steps, seed (a fresh run)
 *   resume     from (the checkpoint step), checkpoint (its directory)
 *   train      losses {name: value}, updatesPerSec, elapsedSec (every logEvery steps and at the end)
 *   eval       env, episodes, returnMean, returnStd, normalizedScore (null without reference scores)
 *   checkpoint path
 *   offline-score  scorer (e.g. "fqe"), initialValue, tdError: the checkpoint's policy scored without a simulator
 *   end        policy (directory), evaluation summary, wallSec, cpuSec
 *   error      code, message (a run that stopped on an error)
 * On resume the log is cut back to the checkpoint's step (lines of later steps,
 * and end / error lines, are dropped) so the log of an interrupted and resumed
 * run reads like an uninterrupted one, plus a resume line.
 */
import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';

export type MetricsEvent = { event: string; step: number } & Record<string, unknown>;

export const METRICS_FILE = 'metrics.jsonl';

/** Reads a metrics log (missing file: no events). */
export async function readMetrics(path: string): Promise<MetricsEvent[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return [];
  }
  const out: MetricsEvent[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as MetricsEvent);
    } catch {
      // a line cut by a crash mid-write: skip it
    }
  }
  return out;
}

/** JSON with NaN / Infinity written as null (JSON has neither). */
function line(e: MetricsEvent): string {
  return JSON.stringify(e, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)) + '\n';
}

export class MetricsLog {
  private constructor(readonly path: string) {}

  /** Starts a new log (truncating any old one). */
  static async create(path: string): Promise<MetricsLog> {
    await writeFile(path, '');
    return new MetricsLog(path);
  }

  /** Reopens a log for a run resumed at `step`: keeps the lines up to that step (except end / error), atomically. */
  static async resume(path: string, step: number): Promise<MetricsLog> {
    const kept = (await readMetrics(path)).filter((e) => e.step <= step && e.event !== 'end' && e.event !== 'error');
    const tmp = `${path}.tmp-${process.pid}`;
    await writeFile(tmp, kept.map(line).join(''));
    await rename(tmp, path);
    return new MetricsLog(path);
  }

  async write(e: MetricsEvent): Promise<void> {
    await appendFile(this.path, line(e));
  }
}
