/**
 * Offline-RL quality table (issue #6): normalized scores, mean +- std over
 * seeds, for every learner on every dataset level of the built-in continuous
 * tasks, plus IQL and RIQL under 30% random dynamics corruption (scale 1.0)
 * against the same learners on the clean data.
 *
 * Protocol (D4RL / CORL style, shrunk to fit a shared 2-core machine):
 * - one fixed dataset per (task, level) from generateTrajectories (same data
 *   for every training seed), `datasetSteps` transitions;
 * - every learner trains `--steps` updates with 2 x 64 networks, batch 256, on
 *   that dataset; the training seed is the only thing that changes per seed;
 * - the final policy is scored by evaluateInEnv (mean action, `evalEpisodes`
 *   episodes, resets from seed 10000 + training seed, so all learners of one
 *   seed face the same starts); the score is 100 (R - min) / (max - min) with
 *   the reference returns of src/envs/reference-scores.ts. A learning curve
 *   (same evaluation every steps / 5 updates) is kept in the JSON as well;
 * - corruption: corruptTrajectories (src/corruption/trajectories.ts) on a
 *   temporary workspace copy of the dataset, field next_obs, mode random, rate
 *   0.3, scale 1.0, one fixed corruption seed, loaded back with
 *   loadTrajectoryArrays; on the medium-replay and medium datasets. The clean
 *   copy read back is checked to equal the generated arrays, so the clean
 *   cells of the main table are the baseline;
 * - per-task hyperparameters (TASKS below) are fixed per task, the same for
 *   every level, seed and learner that reads them.
 *
 * Results go to bench/results/offline-rl-quality.json after every finished
 * cell; a rerun skips the cells already there with the same configuration
 * (resume), so a partial run is never lost. Every cell records the code it
 * ran with (git HEAD + a hash of the learner / env sources). Prints Markdown
 * tables and the literature's expected shape (checked on the means) at the end.
 *
 * Run:  nice -n 10 npx tsx bench/offline-rl-quality.ts
 * Flags: --task pendulum,point-maze(,mountain-car)  --level random,medium,medium-replay,expert
 *        --learner bc,rcbc,td3bc,prdc,iql,riql  --seeds 0,1,2  --steps 10000
 *        --eval-episodes 10  --corruption include|only|none  --out FILE
 *        --table (print the tables from the JSON, train nothing)
 *        --riql-huber-delta X --riql-quantile Y (sensitivity runs; need their own --out)
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TrajectoryArrays } from '../src/datasets/load-trajectories.js';
import { loadTrajectoryArrays } from '../src/datasets/load-trajectories.js';
import { openMemoryConnection } from '../src/datasets/duckdb.js';
import { normalizedScore } from '../src/datasets/metadata.js';
import { Workspace } from '../src/datasets/workspace.js';
import { corruptTrajectories } from '../src/corruption/trajectories.js';
import { BEHAVIOR_POLICIES, type BehaviorPolicyName } from '../src/envs/behavior-policies.js';
import { referenceScores } from '../src/envs/reference-scores.js';
import { getEnv } from '../src/envs/registry.js';
import { generateTrajectories, writeTrajectoryDataset, type TrajectoryData } from '../src/envs/trajectories.js';
import { evaluateInEnv } from '../src/offline-rl/evaluate-env.js';
import { trajectoryDataToArrays } from '../src/offline-rl/from-generated.js';
import type { RolloutPolicy } from '../src/offline-rl/rollout.js';
import { ALGORITHMS, checkOptionsForAlgo, createContinuousLearner, type AlgorithmName, type TrainOptions } from '../src/offline-rl/train.js';
import { ensureTfBackend } from '../src/util/tf-backend.js';
import { BC_DEFAULTS } from '../src/offline-rl/bc.js';
import { IQL_DEFAULTS, RIQL_DEFAULTS } from '../src/offline-rl/iql.js';
import { PRDC_DEFAULTS, TD3BC_DEFAULTS } from '../src/offline-rl/td3bc.js';

// ---------------------------------------------------------------- configuration

const SCHEMA = 'offpolicy.bench.offline-rl-quality/1';
const HIDDEN = [64, 64] as const;
const BATCH = 256;
const DEFAULT_STEPS = 10_000;
const DEFAULT_SEEDS = [0, 1, 2];
const DEFAULT_EVAL_EPISODES = 10;
const CURVE_POINTS = 5;
const EVAL_SEED_BASE = 10_000;

/** Corruption of the robustness cells: RIQL protocol, random dynamics (next observations). */
const CORRUPTION = { label: 'dyn-random-0.3-1.0', fields: ['next_obs'], mode: 'random', rate: 0.3, scale: 1.0, seed: 7 } as const;
/**
 * Learners and dataset levels of the robustness comparison: medium-replay (the
 * RIQL paper's datasets) and medium (added because on the sparse-reward maze no
 * TD learner scores above 0 on clean medium-replay, which leaves nothing to keep).
 */
const CORRUPTION_LEARNERS: readonly AlgorithmName[] = ['iql', 'riql'];
const CORRUPTION_LEVELS: readonly BehaviorPolicyName[] = ['medium-replay', 'medium'];

/**
 * How Pendulum's RIQL settings were chosen, as the RIQL authors choose theirs
 * per task and corruption (their RIQL_config.py: for random dynamics
 * corruption sigma 3 / 1 / 1 and quantile 0.25 / 0.25 / 0.5 on halfcheetah /
 * walker2d / hopper; sigma s is a Huber threshold of 1 / s^2): the grid
 * threshold {1, 0.1111} x quantile {0.25, 0.5}, RIQL on the corrupted
 * medium-replay data, training seeds 100, 101, 102 (the table reports seeds
 * 0, 1, 2), best mean corrupted score. Rerun one grid point with
 *   npx tsx bench/offline-rl-quality.ts --task pendulum --level medium-replay --learner riql \
 *     --seeds 100,101,102 --riql-huber-delta D --riql-quantile Q \
 *     --out bench/results/riql-selection/pendulum-medium-replay-dD-qQ.json
 * Measured (clean / corrupted, mean over the 3 seeds):
 *   threshold 1,      quantile 0.25: 89.8 / 71.4   (the defaults)
 *   threshold 1,      quantile 0.5:  89.8 / 68.2
 *   threshold 0.1111, quantile 0.25: 83.0 / 82.3   <- selected
 *   threshold 0.1111, quantile 0.5:  74.0 / 77.9
 * The matrix kernel was being rewritten while the grid ran (its final version
 * gives the same bits as before; the versions in between were not checked;
 * each cell records the code hash it ran with).
 */

interface TaskConfig {
  /** Env alias for getEnv. */
  env: string;
  /** Transitions per dataset (generateTrajectories `steps`). */
  datasetSteps: number;
  /** Seed of every dataset of this task (the dataset is the same for all training seeds). */
  datasetSeed: number;
  /** Multiplier of the rewards in the TD learners' targets (IQL, RIQL, TD3+BC, PRDC). */
  rewardScale: number;
  /** RIQL Huber threshold and V-target quantile over the K = 5 heads. */
  riqlHuberDelta: number;
  riqlQuantile: number;
  /** TD3+BC and PRDC: lambda = alpha / mean |Q|. */
  alpha: number;
  /** RCBC target return: undefined = the best episode return in the dataset (the learner's default). */
  rcbcTargetReturn?: number;
  /** Added to the scaled rewards in the TD learners' targets (default 0). */
  rewardShift?: number;
  /** IQL / RIQL expectile and AWR temperature (default 0.7 / 3). */
  iqlExpectile?: number;
  iqlBeta?: number;
  /** PRDC's beta (scale of s in the [beta s, a] keys; default 2). */
  prdcBeta?: number;
  /** PRDC's own reward scale where its authors' setting differs from the other TD learners' (default: rewardScale). */
  prdcRewardScale?: number;
  why: string;
}

const TASKS: Readonly<Record<string, TaskConfig>> = {
  pendulum: {
    env: 'pendulum',
    datasetSteps: 30_000,
    datasetSeed: 7,
    rewardScale: 0.1,
    // selected on training seeds 100-102 (never reported): see the note above TaskConfig
    riqlHuberDelta: 0.1111,
    riqlQuantile: 0.25,
    alpha: 2.5,
    why: 'rewards down to -16.3 per step: rewardScale 0.1 keeps beta (Q - V) of IQL in range (bench/offline-rl-iql.ts); RIQL Huber threshold 0.1111 (the authors\' sigma 3) and quantile 0.25 selected on seeds 100-102 (see the note above TaskConfig); TD3+BC / PRDC at their paper defaults',
  },
  'point-maze': {
    env: 'point-maze',
    datasetSteps: 30_000,
    datasetSeed: 7,
    rewardScale: 1,
    riqlHuberDelta: 1,
    riqlQuantile: 0.25,
    alpha: 2.5,
    why: 'sparse 0/1 goal reward: no reward scaling; RIQL / TD3+BC / PRDC at their paper defaults',
  },
  /**
   * The same maze with the authors' settings for sparse-goal navigation
   * (AntMaze): IQL's official code uses expectile 0.9, beta 10 and reward - 1
   * there; PRDC's code runs AntMaze with alpha 7.5, beta 7.5 and rewards
   * 10000 r - 1 (its README: --scale=10000 --shift=-1; its replay buffer:
   * r = scale * r + shift). Run with --steps 200000 on medium-replay only
   * (bench/results/offline-rl-quality-maze-long.json): value propagation over
   * the ~100-step path takes far more than the table's 10k updates.
   */
  'point-maze-antmaze': {
    env: 'point-maze',
    datasetSteps: 30_000,
    datasetSeed: 7,
    rewardScale: 1,
    rewardShift: -1,
    iqlExpectile: 0.9,
    iqlBeta: 10,
    riqlHuberDelta: 1,
    riqlQuantile: 0.25,
    alpha: 7.5,
    prdcBeta: 7.5,
    prdcRewardScale: 10_000,
    why: 'the point maze with the AntMaze settings of IQL (expectile 0.9, beta 10, reward - 1) and PRDC (alpha 7.5, beta 7.5, reward 10000 r - 1)',
  },
  'mountain-car': {
    env: 'mountain-car',
    datasetSteps: 30_000,
    datasetSeed: 7,
    rewardScale: 0.01,
    riqlHuberDelta: 1,
    riqlQuantile: 0.25,
    alpha: 2.5,
    why: '+100 goal bonus: rewardScale 0.01 brings it to 1; RIQL / TD3+BC / PRDC at their paper defaults',
  },
};

const LEARNERS: readonly AlgorithmName[] = ['bc', 'rcbc', 'td3bc', 'prdc', 'iql', 'riql'];
const DEFAULT_TASKS = ['pendulum', 'point-maze', 'mountain-car'];

// ---------------------------------------------------------------- flags

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function listFlag<T extends string>(name: string, allowed: readonly T[], dflt: readonly T[]): T[] {
  const v = flag(name);
  if (v === undefined) return [...dflt];
  const out = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const x of out) {
    if (!(allowed as readonly string[]).includes(x)) throw new Error(`${name}: unknown value "${x}"; known: ${allowed.join(', ')}`);
  }
  return out as T[];
}

function intFlag(name: string, dflt: number): number {
  const v = flag(name);
  if (v === undefined) return dflt;
  const x = Number(v);
  if (!Number.isInteger(x) || x < 1) throw new Error(`${name} takes a positive integer, got "${v}"`);
  return x;
}

const tasks = listFlag('--task', Object.keys(TASKS), DEFAULT_TASKS);
const levels = listFlag('--level', BEHAVIOR_POLICIES, BEHAVIOR_POLICIES);
const learners = listFlag('--learner', ALGORITHMS, LEARNERS);
const seeds = (flag('--seeds') ?? DEFAULT_SEEDS.join(',')).split(',').map((s) => {
  const x = Number(s);
  if (!Number.isInteger(x) || x < 0) throw new Error(`--seeds takes non-negative integers, got "${s}"`);
  return x;
});
const steps = intFlag('--steps', DEFAULT_STEPS);
const evalEpisodes = intFlag('--eval-episodes', DEFAULT_EVAL_EPISODES);
const corruptionMode = (flag('--corruption') ?? 'include') as 'include' | 'only' | 'none';
if (!['include', 'only', 'none'].includes(corruptionMode)) throw new Error('--corruption takes include, only or none');
const outFile = flag('--out') ?? path.join('bench', 'results', 'offline-rl-quality.json');
const tableOnly = process.argv.includes('--table');

/**
 * Sensitivity runs only (write them to another --out file: the cell keys do
 * not hold these values, so mixing them into the main table would replace its
 * cells): override RIQL's Huber threshold / quantile for every selected task.
 */
function numberFlag(name: string): number | undefined {
  const v = flag(name);
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!(x > 0) || !Number.isFinite(x)) throw new Error(`${name} takes a positive number, got "${v}"`);
  return x;
}
const riqlOverride = { riqlHuberDelta: numberFlag('--riql-huber-delta'), riqlQuantile: numberFlag('--riql-quantile') };
if ((riqlOverride.riqlHuberDelta !== undefined || riqlOverride.riqlQuantile !== undefined) && !flag('--out')) {
  throw new Error('--riql-huber-delta / --riql-quantile change RIQL away from the table configuration: pass --out with a separate results file');
}
const TASK_CONFIG: Readonly<Record<string, TaskConfig>> = Object.fromEntries(
  Object.entries(TASKS).map(([k, t]) => [k, { ...t, ...Object.fromEntries(Object.entries(riqlOverride).filter(([, v]) => v !== undefined)) }]),
);

// ---------------------------------------------------------------- code fingerprint

/**
 * The learners and the engine change while this table is built (other work
 * goes on in the same checkout): every cell records a hash of the sources
 * that decide its score, so cells from different code can be told apart.
 */
function codeFingerprint(): { gitHead: string; sourceHash: string; files: number } {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const f = path.join(dir, e.name);
      if (e.isDirectory()) walk(f);
      else if (f.endsWith('.ts')) files.push(f);
    }
  };
  for (const dir of ['src/offline-rl', 'src/envs']) walk(dir);
  files.push('src/corruption/trajectories.ts', 'src/util/rng.ts', 'src/util/tf-backend.ts');
  const h = createHash('sha256');
  for (const f of files.sort()) h.update(f).update(readFileSync(f));
  let gitHead = 'unknown';
  try {
    gitHead = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  return { gitHead, sourceHash: h.digest('hex').slice(0, 12), files: files.length };
}

// ---------------------------------------------------------------- results file

type Setting = 'clean' | typeof CORRUPTION.label;

interface Cell {
  key: string;
  task: string;
  level: BehaviorPolicyName;
  learner: AlgorithmName;
  setting: Setting;
  seed: number;
  /** Everything that defines the cell; a resumed run reuses the cell only when this matches. */
  signature: string;
  score: number;
  meanReturn: number;
  stdReturn: number;
  /** Normalized score every steps / CURVE_POINTS updates (the last one is `score`). */
  curve: { step: number; score: number }[];
  losses: Record<string, number>;
  wallSeconds: number;
  cpuSeconds: number;
  finishedAt: string;
  /** git HEAD and hash of src/offline-rl, src/envs and the corruption module as loaded when the run started (uncommitted edits included). */
  code: string;
}

interface DatasetInfo {
  task: string;
  level: BehaviorPolicyName;
  envId: string;
  transitions: number;
  episodes: number;
  /** Mean return and normalized score of the complete episodes in the dataset (behaviour policy quality). */
  behaviourMeanReturn: number;
  behaviourScore: number;
  corruption?: { selectedRows: number; changedRows: number; cleanCopyMatches: boolean };
}

interface ResultsFile {
  schema: string;
  description: string;
  config: Record<string, unknown>;
  datasets: Record<string, DatasetInfo>;
  cells: Cell[];
  runs: { startedAt: string; command: string; backend: string; code: ReturnType<typeof codeFingerprint>; cellsRun: number; wallSeconds: number; cpuSeconds: number; loadavgStart: number[]; loadavgEnd: number[] }[];
}

function readResults(): ResultsFile | null {
  if (!existsSync(outFile)) return null;
  return JSON.parse(readFileSync(outFile, 'utf8')) as ResultsFile;
}

function writeResults(r: ResultsFile): void {
  mkdirSync(path.dirname(outFile), { recursive: true });
  const tmp = `${outFile}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(r, null, 1)}\n`);
  renameSync(tmp, outFile);
}

// ---------------------------------------------------------------- cells

function learnerOptions(task: TaskConfig, algo: AlgorithmName, seed: number): TrainOptions {
  const o: TrainOptions = { steps, seed, hidden: [...HIDDEN], batchSize: BATCH };
  if (algo === 'iql' || algo === 'riql' || algo === 'td3bc' || algo === 'prdc') {
    o.rewardScale = task.rewardScale;
    if (task.rewardShift !== undefined) o.rewardShift = task.rewardShift;
  }
  if (algo === 'iql' || algo === 'riql') {
    if (task.iqlExpectile !== undefined) o.expectile = task.iqlExpectile;
    if (task.iqlBeta !== undefined) o.beta = task.iqlBeta;
  }
  if (algo === 'prdc' && task.prdcBeta !== undefined) o.prdcBeta = task.prdcBeta;
  if (algo === 'prdc' && task.prdcRewardScale !== undefined) o.rewardScale = task.prdcRewardScale;
  if (algo === 'riql') {
    o.huberDelta = task.riqlHuberDelta;
    o.quantile = task.riqlQuantile;
  }
  if (algo === 'td3bc' || algo === 'prdc') o.alpha = task.alpha;
  if (algo === 'rcbc' && task.rcbcTargetReturn !== undefined) o.targetReturn = task.rcbcTargetReturn;
  checkOptionsForAlgo(algo, o);
  return o;
}

function cellKey(task: string, level: string, learner: string, setting: string, seed: number): string {
  return `${task}/${level}/${learner}/${setting}/seed${seed}`;
}

function signatureOf(taskName: string, level: string, learner: AlgorithmName, setting: Setting, seed: number): string {
  const task = TASK_CONFIG[taskName]!;
  return JSON.stringify({
    options: learnerOptions(task, learner, seed),
    dataset: { env: task.env, level, steps: task.datasetSteps, seed: task.datasetSeed },
    corruption: setting === 'clean' ? null : CORRUPTION,
    eval: { episodes: evalEpisodes, seed: EVAL_SEED_BASE + seed, curvePoints: CURVE_POINTS },
  });
}

// ---------------------------------------------------------------- datasets

const generated = new Map<string, TrajectoryData>();
const infos = new Map<string, DatasetInfo>();
const corruptedArrays = new Map<string, TrajectoryArrays>();
let tmpWorkspace: { dir: string; ws: Workspace } | null = null;

function dataset(taskName: string, level: BehaviorPolicyName): TrajectoryData {
  const key = `${taskName}/${level}`;
  let d = generated.get(key);
  if (!d) {
    const task = TASK_CONFIG[taskName]!;
    d = generateTrajectories({ env: task.env, policy: level, steps: task.datasetSteps, seed: task.datasetSeed });
    generated.set(key, d);
  }
  return d;
}

function datasetInfo(taskName: string, level: BehaviorPolicyName, d: TrajectoryData): DatasetInfo {
  const env = getEnv(TASK_CONFIG[taskName]!.env);
  // The last episode is cut at datasetSteps unless it happened to end there: keep complete episodes only.
  const last = d.n - 1;
  const lastComplete = d.terminated[last] === 1 || d.episodeLengths[d.episodes - 1] === env.maxEpisodeSteps;
  const k = lastComplete ? d.episodes : d.episodes - 1;
  let sum = 0;
  for (let e = 0; e < k; e++) sum += d.episodeReturns[e]!;
  const mean = sum / k;
  const ref = referenceScores(d.envId)!;
  return {
    task: taskName,
    level,
    envId: d.envId,
    transitions: d.n,
    episodes: d.episodes,
    behaviourMeanReturn: mean,
    behaviourScore: normalizedScore(mean, ref.min, ref.max),
  };
}

function sameArray(a: ArrayLike<number> | null, b: ArrayLike<number> | null): boolean {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The dataset with 30% random dynamics corruption, through the toolkit's own corruption path (workspace, Parquet, DuckDB). */
async function corrupted(taskName: string, level: BehaviorPolicyName, info: DatasetInfo): Promise<TrajectoryArrays> {
  const key = `${taskName}/${level}`;
  const cached = corruptedArrays.get(key);
  if (cached) return cached;
  if (!tmpWorkspace) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-quality-'));
    tmpWorkspace = { dir, ws: await Workspace.open(dir) };
  }
  const { ws } = tmpWorkspace;
  const name = `${taskName}-${level}`;
  const d = dataset(taskName, level);
  const clean = await writeTrajectoryDataset(ws, name, d);
  const res = await corruptTrajectories(ws, {
    data: clean.ref,
    fields: [...CORRUPTION.fields],
    mode: CORRUPTION.mode,
    rate: CORRUPTION.rate,
    scale: CORRUPTION.scale,
    seed: CORRUPTION.seed,
    name: `${name}-dyn`,
  });
  const conn = await openMemoryConnection();
  try {
    const cleanBack = await loadTrajectoryArrays(conn, clean);
    const gen = trajectoryDataToArrays(d);
    const matches =
      cleanBack.n === gen.n &&
      sameArray(cleanBack.observations, gen.observations) &&
      sameArray(cleanBack.nextObservations, gen.nextObservations) &&
      sameArray(cleanBack.actions, gen.actions) &&
      sameArray(cleanBack.rewards, gen.rewards) &&
      sameArray(cleanBack.terminated, gen.terminated) &&
      sameArray(cleanBack.truncated, gen.truncated);
    if (!matches) throw new Error(`${key}: the clean dataset read back from the workspace differs from the generated arrays`);
    const arr = await loadTrajectoryArrays(conn, res.version);
    let changed = 0;
    for (let i = 0; i < arr.n; i++) {
      for (let j = 0; j < arr.obsDim; j++) {
        if (arr.nextObservations![i * arr.obsDim + j] !== gen.nextObservations![i * arr.obsDim + j]) {
          changed++;
          break;
        }
      }
    }
    info.corruption = { selectedRows: res.selected.next_obs ?? 0, changedRows: changed, cleanCopyMatches: matches };
    corruptedArrays.set(key, arr);
    return arr;
  } finally {
    conn.closeSync();
  }
}

// ---------------------------------------------------------------- training one cell

function evaluate(policy: RolloutPolicy, env: string, seed: number): { score: number; meanReturn: number; stdReturn: number } {
  const ev = evaluateInEnv(policy, env, evalEpisodes, EVAL_SEED_BASE + seed);
  return { score: ev.normalizedScore!, meanReturn: ev.meanReturn, stdReturn: ev.stdReturn };
}

function runCell(taskName: string, learner: AlgorithmName, seed: number, data: TrajectoryArrays): Omit<Cell, 'key' | 'task' | 'level' | 'learner' | 'setting' | 'seed' | 'signature' | 'finishedAt' | 'code'> {
  const task = TASK_CONFIG[taskName]!;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const l = createContinuousLearner(learner, data, learnerOptions(task, learner, seed));
  const every = Math.max(1, Math.floor(steps / CURVE_POINTS));
  const curve: { step: number; score: number }[] = [];
  let losses: Record<string, number> = {};
  let last = { score: NaN, meanReturn: NaN, stdReturn: NaN };
  for (let s = 1; s <= steps; s++) {
    losses = l.update();
    if (s % every === 0 || s === steps) {
      last = evaluate(l.policy(), task.env, seed);
      if (curve.at(-1)?.step !== s) curve.push({ step: s, score: round(last.score) });
    }
  }
  const c = process.cpuUsage(c0);
  return {
    score: last.score,
    meanReturn: last.meanReturn,
    stdReturn: last.stdReturn,
    curve,
    losses: Object.fromEntries(Object.entries(losses).map(([k, v]) => [k, round(v, 4)])),
    wallSeconds: round((performance.now() - t0) / 1000),
    cpuSeconds: round((c.user + c.system) / 1e6),
  };
}

// ---------------------------------------------------------------- tables

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function stats(xs: number[]): { mean: number; std: number; n: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  // Sample standard deviation over seeds (n - 1), 0 for a single seed.
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

function fmt(s: { mean: number; std: number; n: number } | null, nWant: number): string {
  if (!s || s.n === 0) return '-';
  return `${s.mean.toFixed(1)} ± ${s.std.toFixed(1)}${s.n < nWant ? ` (n=${s.n})` : ''}`;
}

function select(r: ResultsFile, task: string, level: string, learner: string, setting: Setting): number[] {
  return r.cells
    .filter((c) => c.task === task && c.level === level && c.learner === learner && c.setting === setting && seeds.includes(c.seed) && c.signature === signatureOf(task, level, c.learner, setting, c.seed))
    .map((c) => c.score);
}

function cellStats(r: ResultsFile, task: string, level: string, learner: string, setting: Setting): { mean: number; std: number; n: number } | null {
  const xs = select(r, task, level, learner, setting);
  return xs.length ? stats(xs) : null;
}

function printTables(r: ResultsFile): void {
  const names: Record<string, string> = { bc: 'BC', rcbc: 'RCBC', td3bc: 'TD3+BC', prdc: 'PRDC', iql: 'IQL', riql: 'RIQL' };
  console.log(`\n### Normalized score, mean ± std over ${seeds.length} seeds (${steps} updates, 2x64 nets, batch ${BATCH}, ${evalEpisodes} evaluation episodes)\n`);
  console.log(`| task | dataset | behaviour | ${learners.map((l) => names[l] ?? l).join(' | ')} |`);
  console.log(`|---|---|---:|${learners.map(() => '---:').join('|')}|`);
  for (const t of tasks) {
    for (const lv of levels) {
      const info = r.datasets[`${t}/${lv}`];
      const cols = learners.map((l) => fmt(cellStats(r, t, lv, l, 'clean'), seeds.length));
      if (cols.every((c) => c === '-')) continue;
      console.log(`| ${t} | ${lv} | ${info ? info.behaviourScore.toFixed(1) : '-'} | ${cols.join(' | ')} |`);
    }
  }
  if (corruptionMode !== 'none') {
    console.log(`\n### ${CORRUPTION.rate * 100}% random dynamics corruption (next observations, scale ${CORRUPTION.scale}), mean ± std over ${seeds.length} seeds\n`);
    console.log('| task | dataset | learner | clean | corrupted | corrupted / clean |');
    console.log('|---|---|---|---:|---:|---:|');
    for (const t of tasks) {
      for (const lv of CORRUPTION_LEVELS) {
        for (const l of CORRUPTION_LEARNERS) {
          const clean = cellStats(r, t, lv, l, 'clean');
          const cor = cellStats(r, t, lv, l, CORRUPTION.label);
          if (!cor) continue;
          const ratio = clean && cor && clean.mean > 0 ? (cor.mean / clean.mean).toFixed(2) : '-';
          console.log(`| ${t} | ${lv} | ${names[l]} | ${fmt(clean, seeds.length)} | ${fmt(cor, seeds.length)} | ${ratio} |`);
        }
      }
    }
  }
  printShape(r);
}

/**
 * "a beats b" on the seed means: holds when the difference exceeds twice its
 * standard error (sqrt(sa^2 / na + sb^2 / nb)) and at least 1 point; within
 * that it is a tie, so two learners stuck at the same score (e.g. 27.1 vs
 * 27.0, the do-nothing return) are not reported as one beating the other.
 */
function beats(a: { mean: number; std: number; n: number }, b: { mean: number; std: number; n: number }): string {
  const d = a.mean - b.mean;
  const noise = Math.max(1, 2 * Math.sqrt((a.std * a.std) / a.n + (b.std * b.std) / b.n));
  return d > noise ? 'holds' : Math.abs(d) <= noise ? `tie (difference ${d.toFixed(1)} within ${noise.toFixed(1)})` : 'does not hold';
}

/** The literature's expected shape, checked on the means (printed, not asserted). */
function printShape(r: ResultsFile): void {
  const m = (t: string, lv: string, l: string, s: Setting = 'clean'): number | null => cellStats(r, t, lv, l, s)?.mean ?? null;
  const st = (t: string, lv: string, l: string, s: Setting = 'clean') => cellStats(r, t, lv, l, s);
  const f = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(1));
  console.log('\n### Expected shape (means over seeds)\n');
  for (const t of tasks) {
    const bc = st(t, 'medium-replay', 'bc');
    for (const l of ['iql', 'prdc']) {
      const x = st(t, 'medium-replay', l);
      if (x !== null && bc !== null) console.log(`- ${t}: ${l.toUpperCase()} > BC on medium-replay: ${f(x.mean)} vs ${f(bc.mean)}: ${beats(x, bc)}`);
    }
    const rc = m(t, 'expert', 'rcbc');
    if (rc !== null) {
      const others = learners.filter((l) => l !== 'rcbc').map((l) => [l, m(t, 'expert', l)] as const).filter(([, v]) => v !== null) as [string, number][];
      const best = others.reduce((a, b) => (b[1] > a[1] ? b : a), ['none', -Infinity] as [string, number]);
      const beh = r.datasets[`${t}/expert`]?.behaviourScore ?? null;
      console.log(`- ${t}: RCBC on expert ${f(rc)} (behaviour ${f(beh)}; best other learner ${best[0]} ${f(best[1])}): ${beh !== null && rc >= 0.9 * beh ? 'strong (>= 90% of the behaviour score)' : 'below 90% of the behaviour score'}`);
    }
    for (const lv of CORRUPTION_LEVELS) {
      const rc0 = m(t, lv, 'riql');
      const rc1 = m(t, lv, 'riql', CORRUPTION.label);
      const ic1 = st(t, lv, 'iql', CORRUPTION.label);
      const rs1 = st(t, lv, 'riql', CORRUPTION.label);
      if (rc0 !== null && rc1 !== null) {
        const verdict = rc0 <= 0 ? 'undefined (clean score <= 0)' : rc1 >= 0.8 * rc0 ? 'holds' : 'does not hold';
        console.log(`- ${t} ${lv}: RIQL keeps >= 80% of its clean score under corruption: ${f(rc1)} / ${f(rc0)}${rc0 > 0 ? ` = ${(rc1 / rc0).toFixed(2)}` : ''}: ${verdict}`);
      }
      if (rs1 !== null && ic1 !== null) console.log(`- ${t} ${lv}: RIQL > IQL under corruption: ${f(rs1.mean)} vs ${f(ic1.mean)}: ${beats(rs1, ic1)}`);
    }
  }
}

// ---------------------------------------------------------------- main

function fmtDuration(s: number): string {
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${Math.round(s - 60 * m).toString().padStart(2, '0')}s` : `${s.toFixed(1)}s`;
}

async function main(): Promise<void> {
  const backend = await ensureTfBackend();
  const results: ResultsFile = readResults() ?? {
    schema: SCHEMA,
    description: 'Offline-RL quality table (issue #6): normalized scores per task, dataset level, learner and training seed; see bench/offline-rl-quality.ts.',
    config: {},
    datasets: {},
    cells: [],
    runs: [],
  };
  results.config = {
    hidden: HIDDEN,
    batchSize: BATCH,
    steps,
    seeds,
    evalEpisodes,
    evalSeed: `${EVAL_SEED_BASE} + training seed`,
    curvePoints: CURVE_POINTS,
    learners,
    levels,
    tasks: Object.fromEntries(tasks.map((t) => [t, TASK_CONFIG[t]])),
    learnerOptions: Object.fromEntries(tasks.map((t) => [t, Object.fromEntries(learners.map((l) => [l, { ...learnerOptions(TASK_CONFIG[t]!, l, 0), seed: 'training seed' }]))])),
    learnerDefaults: {
      note: 'options not listed in learnerOptions take these values from the learner modules',
      iql: IQL_DEFAULTS,
      riql: { ...IQL_DEFAULTS, ...RIQL_DEFAULTS },
      td3bc: TD3BC_DEFAULTS,
      prdc: { ...TD3BC_DEFAULTS, ...PRDC_DEFAULTS },
      bc: BC_DEFAULTS,
      rcbc: { batchSize: 256, lr: 3e-4, actor: 'deterministic', targetReturn: 'best episode return in the dataset', returnScale: '1 / largest |episode return| in the dataset' },
    },
    corruption: { ...CORRUPTION, levels: CORRUPTION_LEVELS, learners: CORRUPTION_LEARNERS, path: 'writeTrajectoryDataset -> corruptTrajectories -> loadTrajectoryArrays (temporary workspace)' },
    std: 'sample standard deviation over training seeds (n - 1)',
    score: 'normalized score 100 (R - min) / (max - min) of the final policy, mean action, reference returns from src/envs/reference-scores.ts',
    backend: backend.name,
    backendThreads: backend.threads,
    node: process.version,
    cpus: os.cpus().length,
  };
  if (tableOnly) {
    printTables(results);
    return;
  }

  type Job = { task: string; level: BehaviorPolicyName; learner: AlgorithmName; setting: Setting; seed: number };
  const jobs: Job[] = [];
  for (const seed of seeds) {
    for (const task of tasks) {
      if (corruptionMode !== 'only') {
        for (const level of levels) for (const learner of learners) jobs.push({ task, level, learner, setting: 'clean', seed });
      }
      for (const level of corruptionMode === 'none' ? [] : CORRUPTION_LEVELS.filter((lv) => levels.includes(lv))) {
        for (const learner of CORRUPTION_LEARNERS) {
          if (!learners.includes(learner)) continue;
          if (corruptionMode === 'only') jobs.push({ task, level, learner, setting: 'clean', seed });
          jobs.push({ task, level, learner, setting: CORRUPTION.label, seed });
        }
      }
    }
  }
  const byKey = new Map(results.cells.map((c) => [c.key, c]));
  const todo = jobs.filter((j) => byKey.get(cellKey(j.task, j.level, j.learner, j.setting, j.seed))?.signature !== signatureOf(j.task, j.level, j.learner, j.setting, j.seed));
  console.log(`tfjs backend ${backend.name}; ${jobs.length} cells selected, ${jobs.length - todo.length} already in ${outFile}, ${todo.length} to run (${steps} updates each)`);

  const run = { startedAt: new Date().toISOString(), command: process.argv.slice(2).join(' '), backend: backend.name, code: codeFingerprint(), cellsRun: 0, wallSeconds: 0, cpuSeconds: 0, loadavgStart: os.loadavg().map((x) => round(x)), loadavgEnd: [] as number[] };
  if (todo.length > 0) results.runs.push(run);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    for (const [i, j] of todo.entries()) {
      const d = dataset(j.task, j.level);
      const dkey = `${j.task}/${j.level}`;
      const info = infos.get(dkey) ?? datasetInfo(j.task, j.level, d);
      infos.set(dkey, info);
      results.datasets[dkey] = info;
      const data = j.setting === 'clean' ? trajectoryDataToArrays(d) : await corrupted(j.task, j.level, info);
      const r = runCell(j.task, j.learner, j.seed, data);
      const key = cellKey(j.task, j.level, j.learner, j.setting, j.seed);
      const cell: Cell = { key, task: j.task, level: j.level, learner: j.learner, setting: j.setting, seed: j.seed, signature: signatureOf(j.task, j.level, j.learner, j.setting, j.seed), ...r, score: round(r.score), meanReturn: round(r.meanReturn), stdReturn: round(r.stdReturn), finishedAt: new Date().toISOString(), code: `${run.code.gitHead}+${run.code.sourceHash}` };
      results.cells = results.cells.filter((c) => c.key !== key);
      results.cells.push(cell);
      const c = process.cpuUsage(c0);
      run.cellsRun++;
      run.wallSeconds = round((performance.now() - t0) / 1000);
      run.cpuSeconds = round((c.user + c.system) / 1e6);
      run.loadavgEnd = os.loadavg().map((x) => round(x));
      writeResults(results);
      const curve = cell.curve.map((p) => p.score.toFixed(0)).join(' ');
      console.log(
        `[${i + 1}/${todo.length}] ${key.padEnd(52)} score ${cell.score.toFixed(1).padStart(6)} (curve ${curve}) ` +
          `cell ${r.wallSeconds.toFixed(1)}s wall ${r.cpuSeconds.toFixed(1)}s cpu | elapsed ${fmtDuration(run.wallSeconds)} wall ${fmtDuration(run.cpuSeconds)} cpu, load ${os.loadavg()[0]!.toFixed(2)}, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`,
      );
    }
  } finally {
    if (tmpWorkspace) await rm(tmpWorkspace.dir, { recursive: true, force: true });
  }
  run.loadavgEnd = os.loadavg().map((x) => round(x));
  console.log(`\nran ${run.cellsRun} cells in ${fmtDuration(run.wallSeconds)} wall, ${fmtDuration(run.cpuSeconds)} process CPU; loadavg ${run.loadavgStart.join(' ')} -> ${run.loadavgEnd.join(' ')}`);
  printTables(results);
}

void main();
