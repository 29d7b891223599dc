/**
 * The one progress bar every long CLI command shows on stderr (cli-progress).
 * It draws only when stderr is a terminal, so piped and CI output stays clean;
 * progress is shown as a percentage of the current stage. cli-progress loads
 * when a bar first draws, not at start-up.
 */
import { createRequire } from 'node:module';
import type { SingleBar } from 'cli-progress';

const requireCjs = createRequire(import.meta.url);

export interface Progress {
  /** Pass as the library's onProgress callback. */
  onProgress: (done: number, total: number, stage?: string) => void;
  stop: () => void;
}

export function progressBar(label: string, enabled = true): Progress {
  const active = enabled && Boolean(process.stderr.isTTY);
  let bar: SingleBar | null = null;
  return {
    onProgress: (done, total, stage) => {
      if (!active) return;
      const pct = Math.min(100, Math.round((100 * done) / Math.max(1, total)));
      if (!bar) {
        const { Presets, SingleBar } = requireCjs('cli-progress') as typeof import('cli-progress');
        bar = new SingleBar(
          { format: `${label} [{bar}] {percentage}% {stage}`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
          Presets.shades_classic,
        );
        bar.start(100, pct, { stage: stage ?? '' });
        return;
      }
      bar.update(pct, { stage: stage ?? '' });
    },
    stop: () => bar?.stop(),
  };
}
