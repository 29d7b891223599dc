/**
 * Slate evaluation of a stored log: the library entry behind `offpolicy evaluate`
 * on a log with a slate_id column.
 *
 * The log (a bandit dataset) holds one row per (slate, position): slate_id,
 * position (0-based), action, reward, and the logging policy's pscore (or
 * propensity, when ingest mapped it there), pscore_item_position, pscore_cascade,
 * as many as the chosen estimators need. A candidate is a table (.csv / .parquet)
 * keyed by (slate_id, position) with the candidate's probabilities under the same
 * names (or prefixed evaluation_policy_, as OBP names them) and, for Cascade-DR,
 * its next-action distribution `action_dist` and `q_hat`, each one DOUBLE[K] column
 * or K columns NAME_0..NAME_{K-1}. Tables are joined to the log inside DuckDB.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { OffpolicyError } from '../../core/errors.js';
import type { SlateCandidateResult, SlateEvaluationResult } from '../../core/slate-evaluation-result.js';
import type { Warning } from '../../core/evaluation-result.js';
import { ident, lit, openMemoryConnection, queryOne, queryRows, type DuckDBConnection } from '../../datasets/duckdb.js';
import { numActionsOf, readMatrix, requireBandit } from '../../datasets/load-bandit.js';
import type { DatasetVersion, Workspace } from '../../datasets/workspace.js';
import { VERSION } from '../../version.js';
import { tInterval } from '../intervals/t.js';
import { sumsFromTerms } from '../sums.js';
import { slateDataFromRows, type SlateRows } from './data.js';
import type { SlateData } from './types.js';
import { estimateSlates, getSlateEstimator, SLATE_ESTIMATOR_IDS } from './index.js';

export interface SlateEvaluateOptions {
  data: string;
  /** Candidate tables keyed by (slate_id, position). */
  policies: { name?: string; spec: string }[];
  /** sips, iips, rips, cascade-dr (default: every one whose inputs the log and candidate hold). */
  estimators?: string[];
  alpha?: number;
  /** Slate estimators give Student-t intervals over slates; another method is refused. */
  interval?: string;
  command?: string;
}

const PSCORES = [
  { key: 'pscore', rows: 'pscore', evalRows: 'evaluationPscore' },
  { key: 'pscore_item_position', rows: 'pscoreItemPosition', evalRows: 'evaluationPscoreItemPosition' },
  { key: 'pscore_cascade', rows: 'pscoreCascade', evalRows: 'evaluationPscoreCascade' },
] as const;

/** True when a bandit dataset is a slate log (it has a slate_id column). */
export function isSlateLog(v: DatasetVersion): boolean {
  return v.metadata.columns.some((c) => c.name === 'slate_id');
}

interface Col {
  name: string;
  type: string;
}

/** One DOUBLE[K] column or K numbered columns, as K SQL expressions over alias c; null when absent. */
function perAction(cols: Col[], names: string[], k: number, who: string): string[] | null {
  for (const name of names) {
    const list = cols.find((c) => c.name === name);
    if (list) return Array.from({ length: k }, (_, a) => `(c.${ident(name)}::DOUBLE[])[${a + 1}]`);
    const numbered = cols.filter((c) => c.name.startsWith(`${name}_`) && /^\d+$/.test(c.name.slice(name.length + 1)));
    if (numbered.length > 0) {
      if (numbered.length !== k || Array.from({ length: k }, (_, a) => `${name}_${a}`).some((x) => !numbered.some((c) => c.name === x))) {
        throw new OffpolicyError('E_ACTION_SPACE', `${who} has ${numbered.length} columns ${name}_*, but the log has K = ${k} actions (${name}_0..${name}_${k - 1}).`, {
          hint: 'Give one column per action, or one DOUBLE[K] list column.',
        });
      }
      return Array.from({ length: k }, (_, a) => `c.${ident(`${name}_${a}`)}`);
    }
  }
  return null;
}

function relationOf(file: string): string {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.parquet') return `read_parquet(${lit(file)})`;
  if (ext === '.csv') return `read_csv(${lit(file)}, header = true)`;
  throw new OffpolicyError('E_POLICY_SPEC', `A slate candidate must be a .csv or .parquet table keyed by (slate_id, position); got "${file}".`, {
    hint: 'Write the candidate\'s pscore / pscore_item_position / pscore_cascade per logged (slate_id, position).',
  });
}

async function readFloat(conn: DuckDBConnection, from: string, exprs: string[]): Promise<Float64Array> {
  return (await readMatrix(conn, from, exprs, 'l.slate_id, l.position')) as Float64Array;
}

/** Evaluates candidate tables on a stored slate log with the slate estimators. */
export async function evaluateSlates(ws: Workspace, opts: SlateEvaluateOptions): Promise<SlateEvaluationResult> {
  if (!opts.policies || opts.policies.length === 0) throw new OffpolicyError('E_NO_POLICY', 'No candidate policy to evaluate.', { hint: 'Pass at least one --policy TABLE.' });
  const alpha = opts.alpha ?? 0.05;
  if (opts.interval !== undefined && opts.interval !== 't') {
    throw new OffpolicyError('E_INTERVAL_METHOD', `Slate estimators give Student-t intervals over slates; --interval ${opts.interval} is not available for slate logs.`, {
      hint: 'Drop --interval or pass --interval t.',
    });
  }
  const version = await ws.resolve(opts.data);
  requireBandit(version);
  const logCols = version.metadata.columns.map((c) => c.name);
  const missing = ['slate_id', 'position', 'action', 'reward'].filter((c) => !logCols.includes(c));
  if (missing.length > 0) {
    throw new OffpolicyError('E_MISSING_COLUMN', `The slate log ${version.ref} has no column(s) ${missing.join(', ')}.`, {
      hint: `A slate log has one row per (slate_id, position) with action and reward. Columns found: ${logCols.join(', ')}.`,
    });
  }
  const requested = opts.estimators?.map((e) => getSlateEstimator(e.trim()).id);
  const conn = await openMemoryConnection();
  try {
    const k = await numActionsOf(conn, version);
    const logFrom = `read_parquet(${lit(version.glob)}) AS l`;
    const base = {
      slateId: await readFloat(conn, logFrom, ['l.slate_id']),
      position: await readFloat(conn, logFrom, ['l.position']),
      action: Float64Array.from(await readFloat(conn, logFrom, ['l.action'])),
      reward: await readFloat(conn, logFrom, ['l.reward']),
    };
    const behaviour: Partial<SlateRows> = {};
    for (const p of PSCORES) {
      const col = p.key === 'pscore' && !logCols.includes('pscore') && logCols.includes('propensity') ? 'propensity' : p.key;
      if (logCols.includes(col)) behaviour[p.rows] = await readFloat(conn, logFrom, [`l.${ident(col)}`]);
    }
    // The log's own slates (checks lengths and positions) and the logging value: mean over slates of the summed slot rewards.
    const first = slateDataFromRows({ ...base, numActions: k });
    const logging = sumsFromTerms({ num: slateRewardSums(first), den: null, base: null });
    const candidates: SlateCandidateResult[] = [];
    const used = new Set<string>();
    for (const p of opts.policies) {
      const file = path.resolve(p.spec);
      if (!existsSync(file)) throw new OffpolicyError('E_POLICY_NOT_FOUND', `Policy file ${p.spec} does not exist.`, { hint: 'Give a .csv or .parquet table keyed by (slate_id, position).' });
      const name = p.name ?? path.basename(file).replace(/\.[^.]+$/, '');
      const who = `Slate candidate "${name}" (${p.spec})`;
      const relation = relationOf(file);
      const cols = (await queryRows(conn, `DESCRIBE SELECT * FROM ${relation}`)).map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
      const keyMissing = ['slate_id', 'position'].filter((c) => !cols.some((x) => x.name === c));
      if (keyMissing.length > 0) {
        throw new OffpolicyError('E_MISSING_COLUMN', `${who} has no column(s) ${keyMissing.join(', ')}.`, {
          hint: `Key each row by the log's (slate_id, position). Columns found: ${cols.map((c) => c.name).join(', ')}.`,
        });
      }
      await checkCoverage(conn, version, relation, who);
      const from = `${logFrom} LEFT JOIN ${relation} AS c ON l.slate_id = c.slate_id AND l.position = c.position`;
      const rows: SlateRows = { ...base, ...behaviour, numActions: k };
      for (const ps of PSCORES) {
        const col = [ps.key, `evaluation_policy_${ps.key}`].find((x) => cols.some((c) => c.name === x));
        if (col) rows[ps.evalRows] = await readFloat(conn, from, [`c.${ident(col)}`]);
      }
      const dist = perAction(cols, ['action_dist', 'evaluation_policy_action_dist'], k, who);
      const q = perAction(cols, ['q_hat'], k, who);
      if (dist) rows.evaluationActionDist = await readFloat(conn, from, dist);
      if (q) rows.qHat = await readFloat(conn, from, q);
      const data = slateDataFromRows(rows);
      const estimates = estimateSlates(data, { alpha, ...(requested ? { estimators: requested } : {}) });
      estimates.forEach((e) => used.add(e.estimator));
      candidates.push({ name, source: p.spec, estimates, warnings: assumptionWarnings(estimates.map((e) => e.estimator)) });
    }
    const result: SlateEvaluationResult = {
      schema: 'offpolicy.slate-evaluation/1',
      toolkitVersion: VERSION,
      createdAt: new Date().toISOString(),
      ...(opts.command ? { command: opts.command } : {}),
      dataset: {
        ref: version.ref,
        name: version.name,
        version: version.version,
        contentHash: version.metadata.contentHash,
        rowCount: version.metadata.rowCount,
        slates: first.nSlates,
        slateLength: first.slateLength,
        numActions: k,
      },
      logging: { value: logging.sumNum / logging.n, ...(logging.n >= 2 ? { interval: tInterval(logging, alpha) } : {}) },
      settings: { estimators: SLATE_ESTIMATOR_IDS.filter((id) => used.has(id)), interval: 't', alpha },
      candidates,
      warnings: [],
    };
    return result;
  } finally {
    conn.closeSync();
  }
}

/** The sum of slot rewards of each slate. */
function slateRewardSums(d: SlateData): Float64Array {
  const out = new Float64Array(d.nSlates);
  for (let s = 0; s < d.nSlates; s++) for (let l = 0; l < d.slateLength; l++) out[s] += d.rewards[s * d.slateLength + l]!;
  return out;
}

/** What each estimator assumes, so a reader can judge which one to trust. */
function assumptionWarnings(ids: string[]): Warning[] {
  const out: Warning[] = [];
  if (ids.includes('iips')) out.push({ code: 'SLATE_ASSUMPTION', message: 'iips is unbiased only if the reward at a position depends on that position\'s action alone (no interaction between slots).' });
  if (ids.includes('rips') || ids.includes('cascade-dr')) out.push({ code: 'SLATE_ASSUMPTION', message: 'rips and cascade-dr are unbiased only if the reward at a position depends on the actions at and above it (the cascade assumption); sips assumes nothing about the reward.' });
  return out;
}

/** Every logged (slate_id, position) scored exactly once. */
async function checkCoverage(conn: DuckDBConnection, v: DatasetVersion, relation: string, who: string): Promise<void> {
  const r = await queryOne(
    conn,
    `SELECT count(*) FILTER (WHERE c.slate_id IS NULL) AS missing, count(*) FILTER (WHERE l.slate_id IS NULL) AS extra, count(l.slate_id) FILTER (WHERE c.slate_id IS NOT NULL) AS joined
     FROM read_parquet(${lit(v.glob)}) AS l FULL OUTER JOIN ${relation} AS c ON l.slate_id = c.slate_id AND l.position = c.position`,
  );
  const parts: string[] = [];
  if (Number(r.missing) > 0) parts.push(`${r.missing} of the log's ${v.metadata.rowCount} (slate_id, position) rows are missing from it`);
  if (Number(r.extra) > 0) parts.push(`${r.extra} of its rows are not in the log`);
  if (Number(r.joined) > v.metadata.rowCount) parts.push(`${Number(r.joined) - v.metadata.rowCount} rows repeat a (slate_id, position)`);
  if (parts.length > 0) {
    throw new OffpolicyError('E_POLICY_ROWS', `${who} does not match the rows of ${v.ref}: ${parts.join('; ')}.`, {
      hint: 'Give one row per logged (slate_id, position).',
    });
  }
}

/** Writes the result as pretty JSON and returns the absolute path. */
export async function writeSlateEvaluation(result: SlateEvaluationResult, file: string): Promise<string> {
  const abs = path.resolve(file);
  await writeFile(abs, JSON.stringify(result, null, 2) + '\n');
  return abs;
}
