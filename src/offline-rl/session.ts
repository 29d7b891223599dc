/**
 * A training session (what `offpolicy train` runs): N updates of a learner on a
 * stored dataset with
 *   - progress callbacks with the latest losses (every `logEvery` steps),
 *   - evaluation every `evalEvery` steps and at the end in the matching
 *     built-in environment (the dataset's env_id, or `env`), with the
 *     normalized score from the reference scores,
 *   - a JSONL metrics log (metrics-log.ts),
 *   - checkpoints every `checkpointEvery` steps (checkpoint.ts), and `resume`
 *     from the newest one: the resumed run's policy is byte-identical to an
 *     uninterrupted run's, because the checkpoint holds the learner's complete
 *     state (learner.ts) and evaluation draws from its own seeded generators,
 *   - on completion the policy directory (<out>/policy, loadable by loadPolicy
 *     and `offpolicy rollout`) and <out>/summary.json.
 *
 * Output directory layout:
 *   <out>/run.json        what is being trained (algo, dataset + content hash, options)
 *   <out>/metrics.jsonl   one JSON line per event
 *   <out>/checkpoints/step-NNNNNNNNN/{state.json,state.bin}
 *   <out>/policy/         policy.json + weights
 *   <out>/summary.json    final losses, evaluation, timings
 * A non-empty <out> is refused unless `resume` (continue) or `force` (remove
 * the previous run's files, leaving anything else in the directory alone).
 */
import { engineName } from '../nn/wasm-kernels.js';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Workspace } from '../datasets/workspace.js';
import { OffpolicyError, isOffpolicyError } from '../core/errors.js';
import { CHECKPOINT_DIR, listCheckpoints, pruneCheckpoints, readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { checkSteps } from './config.js';
import { evaluateInEnv } from './evaluate-env.js';
import { checkpointError, configJson, type JsonValue, type Learner, type TrainedPolicy } from './learner.js';
import { METRICS_FILE, MetricsLog, readMetrics, type MetricsEvent } from './metrics-log.js';
import type { OfflinePolicyScorer } from '../core/offline-scorer.js';
import { checkAlgorithm, checkOptionsForAlgo, createLearner, type TrainOptions } from './train.js';
import { checkFiniteTrainingData, loadTrainingData } from './train-dataset.js';
import type { ContextOptions, FeatureSpec } from '../datasets/features.js';

export interface TrainingSessionOptions extends TrainOptions {
  /** Dataset reference "name" or "name@version". */
  data: string;
  /** Output directory. */
  out: string;
  /** SQL condition over the stored columns (e.g. "episode_id < 100"). */
  where?: string;
  /** Bandit logs: what the context is (named and one-hot categorical columns; stored with the policy). */
  context?: ContextOptions;
  /** Evaluation environment (id or alias); default: the dataset's env_id when it is a built-in environment. */
  env?: string;
  /** Evaluate every this many steps (default 5000; 0: only at the end). */
  evalEvery?: number;
  /** Episodes per evaluation (default 10; 0: never evaluate). */
  evalEpisodes?: number;
  /** Seed of the evaluation rollouts (default 0): every evaluation uses the same starts. */
  evalSeed?: number;
  /** Checkpoint every this many steps (default 5000; 0: never). */
  checkpointEvery?: number;
  /** Checkpoints kept on disk (default 2; the newest ones). */
  keepCheckpoints?: number;
  /** Log losses (metrics.jsonl and onProgress) every this many steps (default 100) and at the end. */
  logEvery?: number;
  /** Continue from the newest checkpoint in `out`. */
  resume?: boolean;
  /** Start over in a non-empty `out`, removing the previous run's files. */
  force?: boolean;
  /** Every metrics event as it is logged (the CLI shows evaluations with it). */
  onEvent?: (e: MetricsEvent) => void;
  /** Stop after this many updates in this call, without finishing (an interruption, for tests and time-boxed jobs). */
  stopAfter?: number;
  /**
   * Scores each checkpoint's policy without a simulator (e.g. fitted Q
   * evaluation, injected by the caller: offline-rl never imports ope), logged as
   * `offline-score` events at every checkpoint and at the end.
   */
  offlineScorer?: OfflinePolicyScorer;
  /** When to use offlineScorer: 'auto' (default) only when there is no evaluation environment, 'always'. */
  offlineScore?: 'auto' | 'always';
}

export interface SessionEvaluation {
  step: number;
  envId: string;
  episodes: number;
  returnMean: number;
  returnStd: number;
  normalizedScore: number | null;
}

export interface TrainingSessionResult {
  algo: string;
  /** "name@version" trained on. */
  dataset: string;
  datasetHash: string;
  out: string;
  /** Steps completed (equals `steps` unless stopped by stopAfter). */
  step: number;
  steps: number;
  completed: boolean;
  /** The checkpoint step this call resumed from, or null. */
  resumedFrom: number | null;
  /** Losses of the last update of this call (empty when it ran none). */
  losses: Record<string, number>;
  /** The latest evaluation (at `steps` when completed); null without an env, with evalEpisodes 0, or when this call ran none. */
  evaluation: SessionEvaluation | null;
  /** <out>/policy when completed, else null. */
  policyDir: string | null;
  backend: string;
  /** Updates run in this call, their wall time, updates per second (update time only), and this call's wall / CPU seconds. */
  updates: number;
  updatesPerSec: number;
  wallSec: number;
  cpuSec: number;
}

const SESSION_KEYS = [
  'data',
  'out',
  'where',
  'context',
  'env',
  'evalEvery',
  'evalEpisodes',
  'evalSeed',
  'checkpointEvery',
  'keepCheckpoints',
  'logEvery',
  'resume',
  'force',
  'onEvent',
  'stopAfter',
  'onProgress',
  'progressEvery',
  'offlineScorer',
  'offlineScore',
] as const;

/** Files and directories a session writes in <out> (what --force removes). */
const RUN_ENTRIES = ['run.json', METRICS_FILE, 'summary.json', 'policy', CHECKPOINT_DIR];

function checkCount(name: string, v: number, allowZero: boolean): void {
  if (!Number.isInteger(v) || v < (allowZero ? 0 : 1)) {
    throw new OffpolicyError('E_TRAIN_PARAM', `${name} must be ${allowZero ? 'a non-negative' : 'a positive'} integer, got ${v}.`, {
      hint: allowZero ? `Pass ${name} 0 to turn it off, or a step count such as 1000.` : `Pass ${name} 1 or more.`,
    });
  }
}

async function entriesOf(dir: string): Promise<string[] | null> {
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) {
      throw new OffpolicyError('E_OUT_EXISTS', `--out ${dir} is a file, not a directory.`, { hint: 'Choose a directory path for the training output.' });
    }
  } catch (e) {
    if (isOffpolicyError(e)) throw e;
    return null;
  }
  return (await readdir(dir)).sort();
}

/** Runs (or resumes) a training session; see the module comment. */
export async function trainSession(ws: Workspace, algoName: string, opts: TrainingSessionOptions): Promise<TrainingSessionResult> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const algo = checkAlgorithm(algoName);
  checkSteps(opts.steps);
  checkOptionsForAlgo(algo, opts);
  const evalEvery = opts.evalEvery ?? 5000;
  const evalEpisodes = opts.evalEpisodes ?? 10;
  const evalSeed = opts.evalSeed ?? 0;
  const checkpointEvery = opts.checkpointEvery ?? 5000;
  const keep = opts.keepCheckpoints ?? 2;
  const logEvery = opts.logEvery ?? opts.progressEvery ?? 100;
  checkCount('--eval-every', evalEvery, true);
  checkCount('--eval-episodes', evalEpisodes, true);
  checkCount('--checkpoint-every', checkpointEvery, true);
  checkCount('--keep-checkpoints', keep, false);
  checkCount('--log-every', logEvery, false);
  if (opts.stopAfter !== undefined) checkCount('stopAfter', opts.stopAfter, true);
  if (opts.resume && opts.force) {
    throw new OffpolicyError('E_TRAIN_PARAM', '--resume and --force contradict each other: one continues the run in --out, the other deletes it.', {
      hint: 'Pass only one of them.',
    });
  }

  // The output directory first: refusing costs nothing, loading the data may take a while.
  const out = opts.out;
  const ckptRoot = join(out, CHECKPOINT_DIR);
  const existing = await entriesOf(out);
  let resumeFrom: { step: number; dir: string } | null = null;
  if (opts.resume) {
    const all = await listCheckpoints(ckptRoot);
    if (all.length === 0) {
      throw new OffpolicyError('E_NO_CHECKPOINT', `--resume: there is no checkpoint in ${ckptRoot} to resume from.`, {
        hint: 'Run without --resume (add --force to start over in a non-empty --out), or pass the --out of a run that wrote checkpoints (--checkpoint-every).',
      });
    }
    resumeFrom = all[all.length - 1]!;
  } else if (existing && existing.length > 0) {
    if (!opts.force) {
      const shown = existing.slice(0, 5).join(', ') + (existing.length > 5 ? ', ...' : '');
      throw new OffpolicyError('E_OUT_EXISTS', `The output directory ${out} is not empty (it holds ${shown}).`, {
        hint: 'Pass --resume to continue its run from the newest checkpoint, --force to start over (removes the previous run\'s files), or choose another --out.',
      });
    }
  }

  const learnerInput = Object.fromEntries(Object.entries(opts).filter(([k]) => !(SESSION_KEYS as readonly string[]).includes(k))) as TrainOptions;
  const td = await loadTrainingData(ws, opts.data, { ...learnerInput, ...(opts.where ? { where: opts.where } : {}), ...(opts.env ? { env: opts.env } : {}), ...(opts.context ? { context: opts.context } : {}) });
  checkFiniteTrainingData(td.data, td.version.ref);
  const meta = td.version.metadata;
  const fingerprint = {
    algo,
    dataset: td.version.ref,
    datasetHash: meta.contentHash,
    where: opts.where ?? null,
    ...(td.data.features ? { features: JSON.parse(JSON.stringify(td.data.features)) as JsonValue } : {}),
    learner: configJson(td.opts),
  } satisfies Record<string, JsonValue>;
  const backend = { name: engineName() };
  const learner: Learner = createLearner(algo, td.data, td.opts);

  let log: MetricsLog;
  const metricsPath = join(out, METRICS_FILE);
  let lastEvalStep = -1;
  if (resumeFrom) {
    const { state, meta: written } = await readCheckpoint(resumeFrom.dir);
    checkFingerprint(written, fingerprint, resumeFrom.dir);
    learner.setState(state);
    log = await MetricsLog.resume(metricsPath, state.step);
    for (const e of await readMetrics(metricsPath)) if (e.event === 'eval') lastEvalStep = Math.max(lastEvalStep, e.step);
  } else {
    if (existing && existing.length > 0) for (const name of RUN_ENTRIES) await rm(join(out, name), { recursive: true, force: true });
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'run.json'), JSON.stringify({ format: 'offpolicy-train-run', formatVersion: 1, ...fingerprint, steps: opts.steps, seed: opts.seed }, null, 2) + '\n');
    log = await MetricsLog.create(metricsPath);
  }
  const emit = async (e: MetricsEvent): Promise<void> => {
    await log.write(e);
    opts.onEvent?.(e);
  };
  if (resumeFrom) await emit({ event: 'resume', step: learner.step, from: learner.step, checkpoint: resumeFrom.dir });
  else await emit({ event: 'start', step: 0, algo, dataset: td.version.ref, datasetHash: meta.contentHash, steps: opts.steps, seed: opts.seed, env: td.env?.id ?? null, backend: backend.name });

  const env = evalEpisodes > 0 ? td.env : null;
  const scorer = opts.offlineScorer && ((opts.offlineScore ?? 'auto') === 'always' || !env) ? opts.offlineScorer : null;
  let lastScoreStep = -1;
  if (resumeFrom && scorer) for (const e of await readMetrics(metricsPath)) if (e.event === 'offline-score') lastScoreStep = Math.max(lastScoreStep, e.step);
  const offlineScore = async (): Promise<void> => {
    if (!scorer || lastScoreStep === learner.step) return;
    const sc = await scorer.score(learner.policy());
    lastScoreStep = learner.step;
    await emit({ event: 'offline-score', step: learner.step, scorer: scorer.name, initialValue: sc.initialValue, tdError: sc.tdError });
  };
  const evaluate = async (): Promise<SessionEvaluation> => {
    const r = evaluateInEnv(learner.policy(), env!, evalEpisodes, evalSeed);
    const ev: SessionEvaluation = { step: learner.step, envId: r.envId, episodes: evalEpisodes, returnMean: r.meanReturn, returnStd: r.stdReturn, normalizedScore: r.normalizedScore };
    lastEvalStep = learner.step;
    await emit({ event: 'eval', ...ev });
    return ev;
  };

  const total = opts.steps;
  let losses: Record<string, number> = {};
  let updates = 0;
  let updateNs = 0n;
  let windowNs = 0n;
  let windowUpdates = 0;
  let evaluation: SessionEvaluation | null = null;
  let stopped = false;
  while (learner.step < total) {
    if (opts.stopAfter !== undefined && updates >= opts.stopAfter) {
      stopped = true;
      break;
    }
    const u0 = process.hrtime.bigint();
    try {
      losses = learner.update();
    } catch (e) {
      if (isOffpolicyError(e)) await emit({ event: 'error', step: learner.step, code: e.code, message: e.message });
      throw e;
    }
    const dt = process.hrtime.bigint() - u0;
    updateNs += dt;
    windowNs += dt;
    windowUpdates++;
    updates++;
    const s = learner.step;
    if (s % logEvery === 0 || s === total) {
      const ups = windowNs > 0n ? windowUpdates / (Number(windowNs) / 1e9) : 0;
      await emit({ event: 'train', step: s, losses: { ...losses }, updatesPerSec: ups, elapsedSec: (performance.now() - t0) / 1000 });
      opts.onProgress?.(s, total, losses);
      windowNs = 0n;
      windowUpdates = 0;
    }
    if (env && ((evalEvery > 0 && s % evalEvery === 0) || s === total)) evaluation = await evaluate();
    if (checkpointEvery > 0 && s % checkpointEvery === 0) {
      const dir = await writeCheckpoint(ckptRoot, learner.getState(), fingerprint);
      await pruneCheckpoints(ckptRoot, keep);
      await emit({ event: 'checkpoint', step: s, path: dir });
      await offlineScore();
    }
  }

  let policyDir: string | null = null;
  if (!stopped) {
    if (env && lastEvalStep !== learner.step) evaluation = await evaluate();
    await offlineScore();
    if (!evaluation && env) {
      // resumed from the final checkpoint with its evaluation already logged: read it back
      const last = (await readMetrics(metricsPath)).filter((e) => e.event === 'eval' && e.step === learner.step).pop();
      if (last) evaluation = { step: last.step, envId: String(last.envId), episodes: Number(last.episodes), returnMean: Number(last.returnMean), returnStd: Number(last.returnStd), normalizedScore: last.normalizedScore === null ? null : Number(last.normalizedScore) };
    }
    const policy = learner.policy();
    // A bandit log's named / one-hot context columns travel with the policy, so it reads new logs the same way.
    if (td.data.features && td.data.features.columns.length > 0) (policy as { features?: FeatureSpec }).features = td.data.features;
    annotate(policy, { dataset: td.version.ref, datasetHash: meta.contentHash, ...(td.env ? { env: td.env.id } : {}) });
    policyDir = join(out, 'policy');
    await savePolicyAtomically(policy, out, policyDir);
  }
  const wallSec = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const cpuSec = (c.user + c.system) / 1e6;
  const result: TrainingSessionResult = {
    algo,
    dataset: td.version.ref,
    datasetHash: meta.contentHash,
    out,
    step: learner.step,
    steps: total,
    completed: !stopped,
    resumedFrom: resumeFrom ? resumeFrom.step : null,
    losses,
    evaluation,
    policyDir,
    backend: backend.name,
    updates,
    updatesPerSec: updateNs > 0n ? updates / (Number(updateNs) / 1e9) : 0,
    wallSec,
    cpuSec,
  };
  if (!stopped) {
    const events = await readMetrics(metricsPath);
    const evaluations = events.filter((e) => e.event === 'eval');
    const offlineScores = events.filter((e) => e.event === 'offline-score');
    await writeFile(join(out, 'summary.json'), JSON.stringify({ ...result, seed: opts.seed, env: td.env?.id ?? null, evaluations, ...(offlineScores.length > 0 ? { offlineScores } : {}) }, nonFinite, 2) + '\n');
    await emit({ event: 'end', step: learner.step, policy: policyDir, evaluation, wallSec, cpuSec, updatesPerSec: result.updatesPerSec });
  }
  return result;
}

function nonFinite(_k: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? null : v;
}

/** Records the dataset in the policy's training info (policy.json). */
function annotate(policy: TrainedPolicy, info: Record<string, string>): void {
  const training = (policy as { training?: Record<string, unknown> }).training;
  if (training) Object.assign(training, info);
}

async function savePolicyAtomically(policy: TrainedPolicy, out: string, dir: string): Promise<void> {
  const tmp = join(out, `.policy-tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await policy.save(tmp);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** The checkpoint was written for the same algorithm, dataset version and learner options. */
function checkFingerprint(written: JsonValue, now: Record<string, JsonValue>, dir: string): void {
  const w = (written ?? {}) as Record<string, JsonValue>;
  const diffs: string[] = [];
  for (const k of ['algo', 'datasetHash', 'where', 'learner']) {
    if (JSON.stringify(w[k] ?? null) === JSON.stringify(now[k] ?? null)) continue;
    if (k === 'datasetHash') diffs.push(`dataset: ${String(w.dataset)} (hash ${String(w.datasetHash).slice(0, 12)}) in the checkpoint, ${String(now.dataset)} (hash ${String(now.datasetHash).slice(0, 12)}) now`);
    else if (k === 'learner') {
      const a = (w.learner ?? {}) as Record<string, JsonValue>;
      const b = (now.learner ?? {}) as Record<string, JsonValue>;
      for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
        if (JSON.stringify(a[key] ?? null) !== JSON.stringify(b[key] ?? null)) diffs.push(`${key}: ${JSON.stringify(a[key] ?? null)} in the checkpoint, ${JSON.stringify(b[key] ?? null)} now`);
      }
    } else diffs.push(`${k}: ${JSON.stringify(w[k] ?? null)} in the checkpoint, ${JSON.stringify(now[k] ?? null)} now`);
  }
  if (diffs.length > 0) {
    throw checkpointError(
      `Cannot resume from ${dir}: it was written with other settings (${diffs.join('; ')}).`,
      'Resume with the same algorithm, dataset version and options (steps, seed, network and learner flags), or start over with --force.',
    );
  }
}
