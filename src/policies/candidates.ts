/**
 * Candidate policies as the evaluator sees them, and the loader behind
 * `--policy SPEC`:
 *
 *   FILE.parquet | FILE.csv   a table of action probabilities keyed by row_id:
 *                             one DOUBLE[K] column, or p_0..p_{K-1}, or the
 *                             columns named by probColumns (--prob-columns);
 *                             joined to the log by row_id inside DuckDB. A
 *                             `position` column (equal to the log's on every
 *                             row) says the rows carry the distribution at
 *                             the row's position: the candidate is position-aware
 *   column:NAME               a DOUBLE[K] column of the log (or column:c0,c1,...)
 *   FILE.json                 a JSON policy file (see json-policy.ts)
 *   DIR                       a trained policy directory (policy.json + weights,
 *                             from offline-RL training), read by the injected
 *                             ctx.loadPolicyDir (this layer never imports a learner);
 *                             or a learned bandit policy (offpolicy learn), whose
 *                             policy.json is a JSON policy file
 *   a Policy object           (API) e.g. a learned policy from the offline-RL learners
 *
 * "name=SPEC" names the candidate; otherwise the file or column name does.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { dataError, OffpolicyError } from '../core/errors.js';
import { ident, lit, queryOne, queryRows, type DuckDBConnection } from '../datasets/duckdb.js';
import { rowIdsLeftOut, versionScan } from '../datasets/load-bandit.js';
import type { DatasetVersion } from '../datasets/workspace.js';
import type { ContinuousPolicy, Policy, RewardModel } from '../core/contracts.js';
import { buildJsonPolicy, FixedByPositionPolicy, FixedPolicy } from './json-policy.js';
import { PROB_SUM_TOLERANCE, RULE_RANGE, RULE_SUM, sqlSumBad } from './probabilities.js';
import { byPositionVector, constantVector, DUCKDB_VECTORS, vecMin, vecRangeBad, vecSum, vecSumFast, vecWidthBad, type SqlVector, type VectorSql } from './sql-vector.js';

export interface PolicyInput {
  /** Display name; defaults to the file or column name. */
  name?: string;
  /** A spec string (see module comment) or a Policy object. */
  spec: string | Policy;
  /** Per-action probability columns of a table file, in action order. */
  probColumns?: string[];
}

export type Candidate =
  | {
      type: 'sql';
      name: string;
      source: string;
      /** SQL relation joined to the log (alias c) by row_id; absent when the probabilities are log columns (alias l). */
      relation?: string;
      probs: SqlVector;
      /** The table has a position column matching the log's: its rows are the distribution at each row's position. */
      positionAware?: boolean;
    }
  | { type: 'policy'; name: string; source: string; policy: Policy };

export interface CandidateContext {
  conn: DuckDBConnection;
  log: DatasetVersion;
  numActions: number;
  contextDim: number;
  /** Positions of the log (max position + 1), when it has a position column. */
  numPositions?: number;
  fitRewardModel?: (kind: 'logistic' | 'ridge' | 'mlp') => Promise<RewardModel>;
  /**
   * Skip the separate validation scan of column candidates: the caller folds
   * candidateRowChecks into its own scan and calls checkSqlCandidate on failure.
   */
  deferColumnChecks?: boolean;
  /** Reads a trained policy directory (offline-RL's loadPolicyDir); without it a directory SPEC fails with E_POLICY_SPEC. */
  loadPolicyDir?: PolicyDirLoader;
}

/** Reads a policy directory written by training: a discrete Policy, or a continuous one (refused here). */
export type PolicyDirLoader = (dir: string) => Promise<Policy | ContinuousPolicy>;

/** A directory from `offpolicy learn`: its policy.json is a JSON policy file (a "type", no offline-RL "format"). */
function isJsonPolicyDir(dir: string): boolean {
  const f = path.join(dir, 'policy.json');
  if (!existsSync(f)) return false;
  try {
    const j = JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
    return typeof j === 'object' && j !== null && typeof j.type === 'string' && j.format === undefined;
  } catch {
    return false;
  }
}

/**
 * The name a candidate goes by: its NAME= part, else its columns (column:a,b ->
 * a+b), else the file's name without its extension, or the directory's name; a
 * trained policy's `policy/` folder goes by its run directory
 * (runs/robot-iql/policy and runs/robot-iql are both robot-iql).
 */
export function candidateName(input: { name?: string; spec: unknown }): string {
  if (input.name !== undefined) return input.name;
  if (typeof input.spec !== 'string') return 'policy';
  const spec = input.spec.trim();
  if (spec.startsWith('column:')) return spec.slice('column:'.length).split(',').map((c) => c.trim()).filter(Boolean).join('+');
  const file = path.resolve(spec);
  const isDir = existsSync(file) && statSync(file).isDirectory();
  if (!isDir) return path.basename(file).replace(/\.[^.]+$/, '');
  return path.basename(file) === 'policy' ? path.basename(path.dirname(file)) : path.basename(file);
}

/** Refuses candidates that share a name (every kind: tables, columns, JSON, policy directories, trajectory candidates), naming each shared name. */
export function checkCandidateNames(names: readonly string[]): void {
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  const dups = [...counts].filter(([, c]) => c > 1);
  if (dups.length === 0) return;
  throw new OffpolicyError('E_POLICY_NAME', `Candidate names must differ, but ${dups.map(([n, c]) => `"${n}" names ${c} candidates`).join(', ')}.`, {
    hint: 'Name them apart with --policy NAME=SPEC (library: the name of each policy); a trained policy is named after its run directory by default.',
  });
}

/** Splits "name=SPEC" into its parts (a bare SPEC has no name). */
export function parsePolicyArg(arg: string): PolicyInput {
  const m = /^([A-Za-z][A-Za-z0-9_.-]*)=(.+)$/.exec(arg);
  return m ? { name: m[1]!, spec: m[2]! } : { spec: arg };
}

const LIST_TYPE = /\[\d*\]$/;

async function describeRelation(conn: DuckDBConnection, relation: string): Promise<{ name: string; type: string }[]> {
  const rows = await queryRows(conn, `DESCRIBE SELECT * FROM ${relation}`);
  return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
}

function tableRelation(file: string): string {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.parquet') return `read_parquet(${lit(file)})`;
  if (ext === '.csv') return `read_csv(${lit(file)}, header = true)`;
  throw new OffpolicyError('E_POLICY_SPEC', `Cannot tell what kind of policy "${file}" is from its extension "${ext}".`, {
    hint: 'Use a .parquet or .csv table of probabilities keyed by row_id, a .json policy file, or column:NAME.',
  });
}

/** Picks the probability columns of a table or the log: explicit list, one list column, or p_0..p_{K-1}. */
function pickProbColumns(
  columns: { name: string; type: string }[],
  alias: string,
  k: number,
  where: string,
  explicit: string[] | undefined,
  exclude: Set<string>,
): SqlVector {
  const names = new Set(columns.map((c) => c.name));
  if (explicit && explicit.length > 0) {
    const missing = explicit.filter((c) => !names.has(c));
    if (missing.length > 0) {
      throw new OffpolicyError('E_MISSING_COLUMN', `${where} has no column(s) ${missing.join(', ')}.`, {
        hint: `Columns found: ${columns.map((c) => c.name).join(', ')}.`,
      });
    }
    if (explicit.length === 1) {
      const col = columns.find((c) => c.name === explicit[0])!;
      if (LIST_TYPE.test(col.type)) return { kind: 'list', expr: `${alias}.${ident(col.name)}` };
    }
    if (explicit.length !== k) {
      throw new OffpolicyError('E_ACTION_SPACE', `${where}: ${explicit.length} probability columns were given, but the log's action space has K = ${k} actions.`, {
        hint: 'Give one probability column per action, in action order.',
      });
    }
    return { kind: 'scalars', exprs: explicit.map((c) => `${alias}.${ident(c)}`) };
  }
  const lists = columns.filter((c) => LIST_TYPE.test(c.type) && !exclude.has(c.name));
  if (lists.length === 1) return { kind: 'list', expr: `${alias}.${ident(lists[0]!.name)}` };
  const pCols = columns.map((c) => /^p_(\d+)$/.exec(c.name)).filter((m): m is RegExpExecArray => m !== null);
  if (pCols.length > 0) {
    const idx = pCols.map((m) => Number(m[1])).sort((a, b) => a - b);
    if (idx.length !== k || idx.some((v, i) => v !== i)) {
      throw new OffpolicyError(
        'E_ACTION_SPACE',
        `${where} has ${idx.length} per-action probability columns (p_${idx[0]}..p_${idx[idx.length - 1]}), but the log's action space has K = ${k} actions (p_0..p_${k - 1}).`,
        { hint: 'Score every action of the log\'s action space, one column p_a per action.' },
      );
    }
    return { kind: 'scalars', exprs: idx.map((a) => `${alias}.${ident(`p_${a}`)}`) };
  }
  throw new OffpolicyError('E_POLICY_SPEC', `${where} holds no action probabilities.`, {
    hint: `Give one DOUBLE[K] column, columns p_0..p_${k - 1}, or name the columns with --prob-columns. Columns found: ${columns.map((c) => c.name).join(', ')}.`,
  });
}

/** Loads one candidate; table and column candidates are checked against the log in DuckDB. */
export async function loadCandidate(input: PolicyInput, ctx: CandidateContext): Promise<Candidate> {
  const k = ctx.numActions;
  if (typeof input.spec !== 'string') {
    const policy = input.spec;
    checkPolicyFitsLog(policy, `Policy "${candidateName(input)}"`, ctx);
    return { type: 'policy', name: candidateName(input), source: 'api:Policy', policy };
  }
  const spec = input.spec.trim();
  if (spec.startsWith('column:')) {
    const cols = spec
      .slice('column:'.length)
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean);
    const where = `Dataset ${ctx.log.ref}`;
    const probs = pickProbColumns(ctx.log.metadata.columns, 'l', k, where, cols, new Set());
    const cand: Candidate = { type: 'sql', name: candidateName(input), source: spec, probs };
    if (!ctx.deferColumnChecks) await checkSqlCandidate(ctx.conn, ctx.log, cand, k);
    return cand;
  }
  const file = path.resolve(spec);
  if (!existsSync(file)) {
    throw new OffpolicyError('E_POLICY_NOT_FOUND', `Policy file ${spec} does not exist.`, {
      hint: 'Give a .parquet/.csv probability table, a .json policy file, or column:NAME for a column of the log.',
    });
  }
  const name = candidateName(input);
  const learnedDir = statSync(file).isDirectory() && isJsonPolicyDir(file);
  if (statSync(file).isDirectory() && !learnedDir) return loadPolicyDirCandidate(file, spec, name, ctx);
  if (learnedDir || path.extname(file).toLowerCase() === '.json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(learnedDir ? path.join(file, 'policy.json') : file, 'utf8'));
    } catch (e) {
      throw new OffpolicyError('E_POLICY_SPEC', `Policy file ${spec} is not valid JSON: ${(e as Error).message}`, { hint: 'Fix the JSON syntax.' });
    }
    const policy = await buildJsonPolicy(parsed, spec, ctx);
    const type = (parsed as { type?: string }).type ?? 'policy';
    // Fixed distributions are SQL constants, so they run in the DuckDB scan like column candidates.
    if (policy instanceof FixedPolicy) return { type: 'sql', name, source: `json:${type}:${spec}`, probs: constantVector(policy.probs) };
    if (policy instanceof FixedByPositionPolicy) {
      const k = policy.numActions;
      const rows = Array.from({ length: policy.numPositions }, (_, pos) => policy.probs.subarray(pos * k, pos * k + k));
      return { type: 'sql', name, source: `json:${type}:${spec}`, probs: byPositionVector(rows, 'l.position'), positionAware: true };
    }
    return { type: 'policy', name, source: `json:${type}:${spec}`, policy };
  }
  const relation = tableRelation(file);
  let columns: { name: string; type: string }[];
  try {
    columns = await describeRelation(ctx.conn, relation);
  } catch (e) {
    throw new OffpolicyError('E_POLICY_READ', `Cannot read the probability table ${spec}: ${(e as Error).message.split('\n')[0]}`, {
      hint: 'Check that the file is a valid Parquet or CSV file.',
    });
  }
  if (!columns.some((c) => c.name === 'row_id')) {
    throw new OffpolicyError('E_MISSING_COLUMN', `The probability table ${spec} has no row_id column.`, {
      hint: `Key each row by the log's row_id. Columns found: ${columns.map((c) => c.name).join(', ')}.`,
    });
  }
  const probs = pickProbColumns(columns, 'c', k, `The probability table ${spec}`, input.probColumns, new Set(['row_id', 'position']));
  const positionAware = columns.some((c) => c.name === 'position');
  const cand: Candidate = { type: 'sql', name, source: spec, relation, probs, ...(positionAware ? { positionAware } : {}) };
  await checkSqlCandidate(ctx.conn, ctx.log, cand, k);
  if (positionAware) await checkCandidatePositions(ctx.conn, ctx.log, cand);
  return cand;
}

/** True when the candidate gives each row the distribution at that row's position. */
export function isPositionAware(cand: Candidate): boolean {
  return cand.type === 'sql' ? cand.positionAware === true : typeof cand.policy.actionProbsAtPositions === 'function';
}

/** A table's position column must repeat the log's position on every row_id. */
async function checkCandidatePositions(conn: DuckDBConnection, log: DatasetVersion, cand: Candidate & { type: 'sql' }): Promise<void> {
  const who = `Candidate "${cand.name}" (${cand.source})`;
  if (!log.metadata.columns.some((c) => c.name === 'position')) {
    throw new OffpolicyError('E_POLICY_POSITION', `${who} has a position column, but the log ${log.ref} has none.`, {
      hint: 'Drop the position column from the table, or evaluate on a log that records positions.',
    });
  }
  const from = candidateFrom(log, cand);
  const bad = 'l.position IS DISTINCT FROM c.position';
  const r = await queryOne(conn, `SELECT count(*) FILTER (WHERE ${bad}) AS n FROM ${from}`);
  if (Number(r.n) > 0) {
    const ids = await firstRowIds(conn, from, bad, 'l.row_id');
    throw dataError('E_POLICY_POSITION', "the table's position equals the log's position on the same row_id", Number(r.n), ids, `${who} must give each row the distribution at the position the row was logged at (positions as stored: 0-based for Open Bandit Dataset ingests). Row numbers here are row_id values.`);
  }
}

/**
 * The policy fits the log: K actions, and (for policies that declare it, as
 * learned ones do with obsDim) one input per context feature.
 */
function checkPolicyFitsLog(policy: Policy, who: string, ctx: CandidateContext): void {
  const k = ctx.numActions;
  if (policy.numActions !== k) {
    throw new OffpolicyError('E_ACTION_SPACE', `${who} has ${policy.numActions} actions, but the log's action space has K = ${k}.`, {
      hint: 'Evaluate the policy on a log with the same action space.',
    });
  }
  const obsDim = (policy as { obsDim?: unknown }).obsDim;
  // A policy with its own feature spec reads the log through it (checked when its contexts are built).
  if (typeof obsDim === 'number' && obsDim !== ctx.contextDim && !policy.features) {
    throw new OffpolicyError('E_CONTEXT_DIM', `${who} takes ${obsDim}-dimensional inputs, but the contexts of ${ctx.log.ref} have ${ctx.contextDim} features.`, {
      hint: 'Evaluate the policy on a log with the same context features as its training data (or pick them with --context-columns).',
    });
  }
}

/** A trained policy directory, read by ctx.loadPolicyDir and checked against the log. */
async function loadPolicyDirCandidate(dir: string, spec: string, name: string, ctx: CandidateContext): Promise<Candidate> {
  if (!ctx.loadPolicyDir) {
    throw new OffpolicyError('E_POLICY_SPEC', `Policy ${spec} is a directory, and this caller gave no loader for trained policy directories.`, {
      hint: 'Pass loadPolicyDir (offpolicy exports it) in the evaluate options, or give a .parquet/.csv probability table, a .json policy file or column:NAME.',
    });
  }
  const loaded = await ctx.loadPolicyDir(dir);
  if (typeof (loaded as Policy).actionProbs !== 'function') {
    throw new OffpolicyError('E_POLICY_KIND', `Policy ${spec} outputs ${(loaded as ContinuousPolicy).actionDim}-dimensional continuous actions, not probabilities over the log's actions.`, {
      hint: 'A bandit log needs a policy trained on discrete actions (e.g. offpolicy train bc on a bandit log).',
    });
  }
  const policy = loaded as Policy;
  checkPolicyFitsLog(policy, `Policy "${name}" (${spec})`, ctx);
  return { type: 'policy', name, source: `dir:${spec}`, policy };
}

/** FROM clause joining the log (alias l) and, for table candidates, the table (alias c). */
export function candidateFrom(log: DatasetVersion, cand: Candidate & { type: 'sql' }, join: 'INNER' | 'FULL OUTER' = 'INNER'): string {
  const l = `${versionScan(log)} AS l`;
  if (!cand.relation) return l;
  // A view of the log (e.g. its rows with rewards) leaves rows out: the table's rows for them are not extra rows.
  const leftOut = rowIdsLeftOut(log);
  const rel = leftOut ? `(SELECT * FROM ${cand.relation} WHERE row_id NOT IN (${leftOut}))` : cand.relation;
  return `${l} ${join} JOIN ${rel} AS c ON l.row_id = c.row_id`;
}

/**
 * The per-row checks of a column candidate as SQL booleans (TRUE = bad row; the
 * caller wraps each in coalesce(..., TRUE) so NULL counts as bad), for folding
 * into another scan. Any positive count means the caller runs checkSqlCandidate,
 * which finds the rows and throws; a query that fails outright (a NULL entry makes
 * the list dot product raise) is explained the same way. Cheap on purpose, since
 * they run on every row of the fast path:
 *   chk_sum       the sum is not within PROB_SUM_TOLERANCE of 1: also catches NaN,
 *                 infinite and NULL entries and a NULL list. For lists the sum is a
 *                 dot product with K ones, which raises on a list of another length
 *                 (and on a NULL entry): the width check comes with it;
 *   chk_negative  a negative entry: omitted when `nonNegative` says the Parquet
 *                 footer statistics already prove every entry >= 0 (candidateLeafPaths).
 */
export function candidateRowChecks(cand: Candidate & { type: 'sql' }, k: number, opts: { nonNegative?: boolean } = {}, d: VectorSql = DUCKDB_VECTORS): Record<string, string> {
  return {
    chk_sum: `NOT (abs(${vecSumFast(cand.probs, k, d)} - 1.0) <= ${PROB_SUM_TOLERANCE})`,
    ...(opts.nonNegative ? {} : { chk_negative: `${vecMin(cand.probs, d)} < 0` }),
  };
}

/**
 * The Parquet leaf columns (path_in_schema, as DuckDB writes them) holding a column
 * candidate's probabilities, so footer min/max statistics can bound them (e.g. to
 * skip the negativity check, see candidateRowChecks); null for table candidates
 * and expressions that are not plain log columns.
 */
export function candidateLeafPaths(cand: Candidate & { type: 'sql' }): string[] | null {
  if (cand.relation) return null;
  const exprs = cand.probs.kind === 'list' ? [cand.probs.expr] : cand.probs.exprs;
  const names = exprs.map((e) => /^l\."((?:[^"]|"")*)"$/.exec(e)?.[1]?.replaceAll('""', '"'));
  if (names.some((n) => n === undefined)) return null;
  return (names as string[]).map((n) => (cand.probs.kind === 'list' ? `${n}, list, element` : n));
}

async function firstRowIds(conn: DuckDBConnection, from: string, where: string, idExpr: string): Promise<number[]> {
  const rows = await queryRows(conn, `SELECT ${idExpr} AS id FROM ${from} WHERE ${where} ORDER BY 1 LIMIT 5`);
  return rows.map((r) => Number(r.id));
}

/**
 * Checks a table or column candidate against the log in one DuckDB scan: every
 * logged row_id scored exactly once, K probabilities per row, finite and
 * non-negative, summing to 1 (PROB_SUM_TOLERANCE). Row numbers in errors are row_ids.
 */
export async function checkSqlCandidate(conn: DuckDBConnection, log: DatasetVersion, cand: Candidate & { type: 'sql' }, k: number): Promise<void> {
  const from = candidateFrom(log, cand, 'FULL OUTER');
  const both = cand.relation ? 'l.row_id IS NOT NULL AND c.row_id IS NOT NULL' : 'TRUE';
  const widthBad = vecWidthBad(cand.probs, k) ?? 'FALSE';
  const rangeBad = `(${both}) AND NOT (${widthBad}) AND ${vecRangeBad(cand.probs)}`;
  const sumBad = `(${both}) AND NOT (${widthBad}) AND NOT ${vecRangeBad(cand.probs)} AND ${sqlSumBad(vecSum(cand.probs))}`;
  const r = await queryOne(
    conn,
    `SELECT
      ${cand.relation ? 'count(*) FILTER (WHERE l.row_id IS NULL)' : '0'} AS extra,
      ${cand.relation ? 'count(*) FILTER (WHERE c.row_id IS NULL)' : '0'} AS missing,
      count(l.row_id) AS joined,
      count(*) FILTER (WHERE (${both}) AND ${widthBad}) AS width,
      count(*) FILTER (WHERE ${rangeBad}) AS range,
      count(*) FILTER (WHERE ${sumBad}) AS sum
    FROM ${from}`,
  );
  const extra = Number(r.extra);
  const missing = Number(r.missing);
  const dup = Number(r.joined) - log.metadata.rowCount - 0;
  const who = `Candidate "${cand.name}" (${cand.source})`;
  if (extra > 0 || missing > 0) {
    const parts: string[] = [];
    if (missing > 0) {
      const ids = await firstRowIds(conn, from, 'c.row_id IS NULL', 'l.row_id');
      parts.push(`${missing} of the log's ${log.metadata.rowCount} row_ids are missing from it (first: ${ids.join(', ')})`);
    }
    if (extra > 0) {
      const ids = await firstRowIds(conn, from, 'l.row_id IS NULL', 'c.row_id');
      parts.push(`${extra} of its row_ids are not in the log (first: ${ids.join(', ')})`);
    }
    throw new OffpolicyError('E_POLICY_ROWS', `${who} does not match the rows of ${log.ref}: ${parts.join('; ')}.`, {
      hint: 'Score every logged row exactly once, keyed by the log\'s row_id.',
    });
  }
  if (dup > 0 && cand.relation) {
    const rows = await queryRows(conn, `SELECT row_id FROM ${cand.relation} GROUP BY row_id HAVING count(*) > 1 ORDER BY row_id LIMIT 5`);
    throw new OffpolicyError(
      'E_POLICY_ROWS',
      `${who} scores some rows more than once: ${dup} extra rows (duplicated row_ids, first: ${rows.map((x) => Number(x.row_id)).join(', ')}).`,
      { hint: 'Score every logged row exactly once, keyed by the log\'s row_id.' },
    );
  }
  const hintRows = 'Row numbers here are row_id values.';
  if (Number(r.width) > 0) {
    const ids = await firstRowIds(conn, from, `(${both}) AND ${widthBad}`, 'l.row_id');
    throw dataError('E_ACTION_SPACE', `candidate gives K = ${k} probabilities per row (the log's action space)`, Number(r.width), ids, `${who} must give one probability per action. ${hintRows}`);
  }
  if (Number(r.range) > 0) {
    const ids = await firstRowIds(conn, from, rangeBad, 'l.row_id');
    throw dataError('E_POLICY_PROBS', RULE_RANGE, Number(r.range), ids, `${who} gives negative, NaN or missing probabilities. ${hintRows}`);
  }
  if (Number(r.sum) > 0) {
    const ids = await firstRowIds(conn, from, sumBad, 'l.row_id');
    throw dataError('E_POLICY_PROBS', RULE_SUM, Number(r.sum), ids, `${who} must give a distribution over the actions on every row; renormalize. ${hintRows}`);
  }
}
