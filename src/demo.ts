/**
 * The main job in one call: a synthetic logged-bandit dataset with known ground
 * truth, three candidate policies (one better than the logger, one worse, one close
 * to it), the full estimator suite with bootstrap intervals and PAC-Bayes
 * certificates, and a report (HTML, Markdown, JSON) in outDir.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OffpolicyError } from './core/errors.js';
import { ident, lit, openMemoryConnection } from './datasets/duckdb.js';
import { arraysToTable } from './datasets/from-arrays.js';
import { trueValue, writeBanditDataset, type BanditLog } from './datasets/synthetic/bandit-log.js';
import { softmaxRows } from './util/softmax.js';
import { generateBanditLog } from './datasets/synthetic/bandit.js';
import { Workspace } from './datasets/workspace.js';
import { evaluate } from './ope/evaluate.js';
import { VERDICT_LABELS, verdictOutcomeOf, type EvaluationResult, type VerdictOutcome } from './core/evaluation-result.js';
import { formatInterval, formatLevel } from './reports/format.js';
import { headlineEstimate } from './reports/tables.js';
import type { Cell } from './util/text-table.js';
import { renderReport } from './reports/render.js';

/** The embedded default setting: K = 10 actions, 5 context features, logistic rewards, a softmax logger. */
export const DEMO_SETTING = {
  rows: 20_000,
  numActions: 10,
  contextDim: 5,
  reward: 'logistic' as const,
  /** Inverse temperature of the logger's softmax over its scores (OBP's beta). */
  beta: -1,
  resamples: 1000,
  alpha: 0.05,
  dataset: 'demo-bandit',
};

export interface DemoOptions {
  /** Where the report goes (default ./offpolicy-report). */
  outDir?: string;
  seed?: number;
  /** A workspace directory to keep the dataset in; default: a temporary one, removed afterwards. */
  workspace?: string;
  /** Rows of the synthetic log (default 20,000). */
  rows?: number;
  /** Bootstrap resamples (default 1,000). */
  resamples?: number;
  /** The command line recorded in the report (default "offpolicy demo --seed S"). */
  command?: string;
  /** Progress in percent (done of 100) with the current stage. */
  onProgress?: (done: number, total: number, stage: string) => void;
}

export interface DemoCandidateSummary {
  name: string;
  /** How the candidate was built. */
  description: string;
  trueValue: number;
  /** The headline (DR) estimate and its interval. */
  estimator: string;
  estimate: number;
  lower?: number;
  upper?: number;
  recommended: boolean;
  /** better, better-with-caveats, worse or inconclusive. */
  outcome: VerdictOutcome;
  sentence: string;
}

export interface DemoSummary {
  outDir: string;
  /** The HTML report. */
  reportPath: string;
  files: string[];
  dataset: string;
  rows: number;
  numActions: number;
  logging: { estimate: number; trueValue: number };
  candidates: DemoCandidateSummary[];
  result: EvaluationResult;
  seconds: number;
}

interface DemoCandidate {
  name: string;
  description: string;
  probs: Float64Array;
}

/** Row-wise mixture m * a + (1 - m) * b of two n x K probability matrices. */
function mixture(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = m * a[i]! + (1 - m) * b[i]!;
  return out;
}

/**
 * The three candidates, from what the generator knows: q(x, a) (expectedRewards)
 * and the logger's scores. Mixing with the logger keeps importance weights bounded.
 */
export function demoCandidates(log: BanditLog, beta: number): DemoCandidate[] {
  const { n, numActions: K } = log;
  const greedy = new Float64Array(n * K);
  softmaxRows(log.expectedRewards, 10, n, K, greedy);
  const contrarian = new Float64Array(n * K);
  softmaxRows(log.expectedRewards, -10, n, K, contrarian);
  const close = new Float64Array(n * K);
  softmaxRows(log.scores, beta * 0.8, n, K, close);
  return [
    { name: 'reward-greedy', description: '0.6 x softmax(10 q(x, a)) + 0.4 x logger: leans towards the best action', probs: mixture(greedy, log.actionProbs, 0.6) },
    { name: 'reward-averse', description: '0.6 x softmax(-10 q(x, a)) + 0.4 x logger: leans towards the worst action', probs: mixture(contrarian, log.actionProbs, 0.6) },
    { name: 'softer-logger', description: `softmax(${beta * 0.8} x logger scores): the logger at a higher temperature`, probs: close },
  ];
}

/** Writes n x K probabilities keyed by row_id 0..n-1 as a Parquet policy table. */
async function writePolicyTable(file: string, probs: Float64Array, n: number, K: number): Promise<void> {
  const conn = await openMemoryConnection();
  try {
    const rowId = new Float64Array(n);
    for (let i = 0; i < n; i++) rowId[i] = i;
    await arraysToTable(conn, 'policy', n, [
      { name: 'row_id', type: 'BIGINT', data: rowId },
      { name: 'probs', type: 'DOUBLE', data: probs, width: K },
    ]);
    await conn.run(`COPY (SELECT row_id, probs FROM ${ident('policy')} ORDER BY row_id) TO ${lit(file)} (FORMAT parquet, COMPRESSION zstd)`);
  } finally {
    conn.closeSync();
  }
}

/** Runs the demo end to end; see the module comment. */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoSummary> {
  const started = Date.now();
  const seed = opts.seed ?? 0;
  const rows = opts.rows ?? DEMO_SETTING.rows;
  const outDir = path.resolve(opts.outDir ?? 'offpolicy-report');
  // Percent done, never going back: evaluate() restarts its count at each stage.
  let percent = 0;
  const progress = (done: number, total: number, stage: string): void => {
    percent = Math.max(percent, Math.round((100 * done) / Math.max(1, total)));
    opts.onProgress?.(percent, 100, stage);
  };
  /** evaluate()'s stages mapped into 15-90%: scoring candidates up to 45%, the bootstrap 45-88%. */
  const evaluateProgress = (done: number, total: number, stage: string): number => {
    const f = Math.min(1, done / Math.max(1, total));
    if (stage === 'bootstrap') return 45 + Math.round(43 * f);
    if (stage === 'summarizing') return 88;
    return 15 + Math.round(30 * f);
  };
  if (!Number.isInteger(seed) || seed < 0) {
    throw new OffpolicyError('E_DEMO_PARAM', `The demo's seed must be a non-negative integer, got ${seed}.`, { hint: 'Pass --seed 0 (any non-negative integer).' });
  }
  if (!Number.isInteger(rows) || rows < 100) {
    throw new OffpolicyError('E_DEMO_PARAM', `The demo needs an integer number of rows of at least 100, got ${rows}.`, { hint: 'Pass rows: 20000 (the default) or more than 100.' });
  }
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-demo-'));
  try {
    progress(0, 100, 'generating the logged data');
    const log = generateBanditLog({
      n: rows,
      numActions: DEMO_SETTING.numActions,
      contextDim: DEMO_SETTING.contextDim,
      reward: DEMO_SETTING.reward,
      beta: DEMO_SETTING.beta,
      seed,
    });
    const ws = await Workspace.open(opts.workspace ?? path.join(tmp, 'workspace'));
    progress(5, 100, 'storing the dataset');
    const version = await writeBanditDataset(ws, DEMO_SETTING.dataset, log);
    progress(10, 100, 'writing the candidate policies');
    const candidates = demoCandidates(log, DEMO_SETTING.beta);
    const policyDir = path.join(tmp, 'policies');
    await mkdir(policyDir, { recursive: true });
    for (const c of candidates) await writePolicyTable(path.join(policyDir, `${c.name}.parquet`), c.probs, log.n, log.numActions);
    progress(15, 100, 'evaluating');
    const result = await evaluate(ws, {
      data: version.ref,
      policies: candidates.map((c) => ({ name: c.name, spec: path.join(policyDir, `${c.name}.parquet`) })),
      interval: 'bootstrap',
      alpha: DEMO_SETTING.alpha,
      resamples: opts.resamples ?? DEMO_SETTING.resamples,
      seed,
      command: opts.command ?? `offpolicy demo --seed ${seed}`,
      onProgress: (done, total, stage) => progress(evaluateProgress(done, total, stage), 100, stage),
    });
    // Sources name temporary files; say what each candidate is instead.
    for (const c of result.candidates) {
      const d = candidates.find((x) => x.name === c.name);
      if (d) c.source = `demo: ${d.description}`;
    }
    progress(90, 100, 'writing the report');
    const { files } = await renderReport(result, { formats: ['html', 'md', 'json'], outDir, command: opts.command ?? `offpolicy demo --seed ${seed}` });
    progress(100, 100, 'done');
    const summaries: DemoCandidateSummary[] = result.candidates.map((c) => {
      const h = headlineEstimate(c);
      const d = candidates.find((x) => x.name === c.name)!;
      return {
        name: c.name,
        description: d.description,
        trueValue: c.trueValue ?? trueValue(log.expectedRewards, d.probs, log.n, log.numActions),
        estimator: h?.estimator ?? '',
        estimate: h?.value ?? Number.NaN,
        ...(h?.interval ? { lower: h.interval.lower, upper: h.interval.upper } : {}),
        recommended: c.verdict.recommended,
        outcome: verdictOutcomeOf(c.verdict),
        sentence: c.verdict.sentence,
      };
    });
    return {
      outDir,
      reportPath: path.join(outDir, 'report.html'),
      files,
      dataset: version.ref,
      rows: log.n,
      numActions: log.numActions,
      logging: { estimate: result.logging.value, trueValue: result.logging.trueValue ?? log.loggingValue },
      candidates: summaries,
      result,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The summary table the CLI prints: the logging policy, then each candidate. */
export function demoSummaryRows(s: DemoSummary): { rows: Record<string, Cell>[]; columns: string[] } {
  const est = s.candidates[0]?.estimator.toUpperCase() || 'DR';
  const columns = ['policy', 'true value', `${est} estimate`, `${formatLevel(s.result.settings.alpha)} interval`, 'verdict'];
  const li = s.result.logging.interval;
  const rows: Record<string, Cell>[] = [
    { policy: 'logging policy (mean reward)', 'true value': s.logging.trueValue, [`${est} estimate`]: s.logging.estimate, [`${formatLevel(s.result.settings.alpha)} interval`]: li ? formatInterval(li) : '', verdict: '(baseline)' },
    ...s.candidates.map((c) => ({
      policy: c.name,
      'true value': c.trueValue,
      [`${est} estimate`]: c.estimate,
      [`${formatLevel(s.result.settings.alpha)} interval`]: c.lower !== undefined ? formatInterval({ lower: c.lower, upper: c.upper! }) : '',
      verdict: VERDICT_LABELS[c.outcome].toLowerCase(),
    })),
  ];
  return { rows, columns };
}
