/**
 * Evaluation of a bandit log that lives in ClickHouse (a local or Distributed
 * table): the same plan -> backend -> assemble as ./evaluate.ts, with the
 * ClickHouse backend (./bandit/backend-clickhouse.ts). One flat aggregate per
 * candidate runs on every shard; only per-weight-bin sums come back.
 *
 * The table follows the bandit column conventions: row_id, action (0..K-1),
 * reward, propensity, and optionally action_probs / expected_reward
 * (Array(Float64) of K) and context (Array(Float32|Float64) of d). Candidates are
 * columns of the table (column:NAME for an Array column of K, column:p_0,...,p_{K-1})
 * or JSON policy files translated to SQL (uniform, epsilon-greedy, softmax,
 * argmax). Reward predictions are columns (rewardModel "columns:q_0,...").
 * Intervals are sum-based (t, hoeffding, bernstein) or the Poisson bootstrap,
 * whose resamples are sums too (./bandit/poisson-bootstrap-sql.ts: per hash bucket
 * of row_id on the shards, then per resample).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { OffpolicyError } from '../core/errors.js';
import { ClickhouseConnection, parseClickhouseUrl, type ClickhouseOptions, type ClickhouseSource } from '../datasets/clickhouse.js';
import { describeFeatures } from '../datasets/features.js';
import { checkNumActions } from '../datasets/limits.js';
import type { Candidate, PolicyInput } from '../policies/candidates.js';
import { candidateRowChecks } from '../policies/candidates.js';
import { jsonPolicySql } from '../policies/json-policy-sql.js';
import { vecWidthBad, type SqlVector } from '../policies/sql-vector.js';
import { VERSION } from '../version.js';
import { admitted, banditPlan, deficiencyOf, sumsInterval } from './bandit/assemble.js';
import { runPoissonBootstrap } from './bandit/poisson-bootstrap-sql.js';
import { DEFAULT_POISSON_BUCKETS } from './intervals/poisson-bootstrap.js';
import type { EstimatorId } from './estimators/types.js';
import { clickhouseCandidateSums, clickhouseExplain, clickhouseLogRules } from './bandit/backend-clickhouse.js';
import { exactColumnQuantiles } from './bandit/backend-sql.js';
import type { CandidateSums } from './bandit/plan.js';
import type { RowExpr } from './bandit/sql-dialect.js';
import { CLICKHOUSE } from './bandit/sql-dialect.js';
import { getEstimator, resolveParams } from './estimators/index.js';
import { accuracyTable, assembleCandidates, checkEstimators, checkOptions, dedupe, type EvaluateOptions } from './evaluate.js';
import { SUMMARY_SAMPLE_ABOVE, type LogSummary } from './log-summary.js';
import { parseRewardModelSpec } from './reward-models/index.js';
import { sumsValue } from './sums.js';
import type { EvaluationResult, Interval, Warning } from '../core/evaluation-result.js';
import type { RowRule } from '../datasets/validation.js';

export interface ClickhouseEvaluateOptions
  extends Pick<
      EvaluateOptions,
      'policies' | 'estimators' | 'alpha' | 'clip' | 'smoothingAlpha' | 'rewardModel' | 'allowDeficient' | 'strict' | 'rewardRange' | 'contextColumns' | 'verdictSource' | 'command' | 'onProgress' | 'resamples' | 'seed' | 'bootstrapBuckets'
    >,
    ClickhouseOptions {
  /** clickhouse://HOST:PORT/DB.TABLE (the HTTP interface), or the parsed source. */
  source: string | ClickhouseSource;
  /** t (default), hoeffding, bernstein or poisson-bootstrap (the multinomial bootstrap needs the rows in memory). */
  interval?: 't' | 'hoeffding' | 'bernstein' | 'poisson-bootstrap';
  /** K; default: the length of action_probs, else max(action) + 1. */
  numActions?: number;
  /** Extra settings for every query (e.g. prefer_localhost_replica: 0). */
  settings?: Record<string, string | number>;
}

const INT = /^(Nullable\()?U?Int(8|16|32|64)\)?$/;
const NUMERIC = /^(Nullable\()?(U?Int(8|16|32|64)|Float(32|64)|Decimal.*)\)?$/;
const NUM_ARRAY = /^Array\((Nullable\()?(U?Int(8|16|32|64)|Float(32|64))\)?\)$/;

const qid = (c: string): string => {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(c)) throw new OffpolicyError('E_MISSING_COLUMN', `"${c}" is not a column name this source reads (letters, digits and _).`, { hint: 'Rename the column.' });
  return `l.${c}`;
};

function typeError(ref: string, column: string, type: string, want: string): OffpolicyError {
  return new OffpolicyError('E_COLUMN_TYPE', `Column ${column} of ${ref} has type ${type}; ${want} is needed.`, { hint: `Store ${column} as ${want} (ALTER TABLE ... MODIFY COLUMN, or re-export the dataset).` });
}

export async function evaluateClickhouse(opts: ClickhouseEvaluateOptions): Promise<EvaluationResult> {
  const interval = opts.interval ?? 't';
  if (!['t', 'hoeffding', 'bernstein', 'poisson-bootstrap'].includes(interval)) {
    checkOptions({ ...opts, interval });
    throw new OffpolicyError('E_INTERVAL_METHOD', `The ${interval} interval needs the rows in memory; a ClickHouse source gives sum-based intervals or the Poisson bootstrap (computed as sums on the shards).`, {
      hint: 'Use --interval t, hoeffding, bernstein or poisson-bootstrap.',
    });
  }
  const poisson = { seed: opts.seed ?? 0, ...(opts.resamples !== undefined ? { resamples: opts.resamples } : {}), ...(opts.bootstrapBuckets !== undefined ? { buckets: opts.bootstrapBuckets } : {}) };
  checkOptions({ ...opts, interval });
  const alpha = opts.alpha ?? 0.05;
  const strict = opts.strict ?? false;
  const allowDeficient = opts.allowDeficient ?? false;
  const progress = opts.onProgress ?? (() => {});
  const source = typeof opts.source === 'string' ? parseClickhouseUrl(opts.source) : opts.source;
  const conn = ClickhouseConnection.open(source, opts);
  const qo = opts.settings ? { settings: opts.settings } : {};
  const ref = conn.ref;
  try {
    // ---- the table: columns, types, K, n --------------------------------------------------
    const columns = await conn.columns();
    const typeOf = new Map(columns.map((c) => [c.name, c.type]));
    const missing = ['row_id', 'action', 'reward', 'propensity'].filter((c) => !typeOf.has(c));
    if (missing.length > 0) {
      throw new OffpolicyError('E_MISSING_COLUMN', `${ref} has no column(s) ${missing.join(', ')}.`, {
        hint: `A bandit table has row_id, action, reward and propensity. Columns found: ${columns.map((c) => c.name).join(', ')}.`,
      });
    }
    const want = (col: string, re: RegExp, what: string): void => {
      const t = typeOf.get(col);
      if (t !== undefined && !re.test(t)) throw typeError(ref, col, t, what);
    };
    want('row_id', INT, 'an integer type');
    want('action', INT, 'an integer type');
    want('reward', NUMERIC, 'a number type (Float64, Nullable(Float64), Int...)');
    want('propensity', NUMERIC, 'a number type (Float64)');
    for (const c of ['action_probs', 'expected_reward', 'context']) want(c, NUM_ARRAY, 'Array(Float64) or Array(Float32)');
    const rewardNullable = typeOf.get('reward')!.startsWith('Nullable(');
    const from = `${conn.tableSql} AS l`;
    const contextColumns = opts.contextColumns ?? [];
    for (const c of contextColumns) {
      if (!typeOf.has(c)) throw new OffpolicyError('E_MISSING_COLUMN', `${ref} has no context column ${c}.`, { hint: `Columns found: ${columns.map((x) => x.name).join(', ')}.` });
      want(c, NUMERIC, 'a number type');
    }
    const shape = await conn.query(
      `SELECT count() AS n, max(l.action) AS amax, min(toFloat64(l.reward)) AS rmin${typeOf.has('action_probs') ? ', max(length(l.action_probs)) AS kp' : ''}${typeOf.has('context') && contextColumns.length === 0 ? ', max(length(l.context)) AS dctx' : ''} FROM ${from}`,
      qo,
    );
    const n = Number(shape[0]!.n);
    const k = opts.numActions ?? (typeOf.has('action_probs') ? Number(shape[0]!.kp) : Number(shape[0]!.amax) + 1);
    if (!(Number.isInteger(k) && k >= 1)) {
      throw new OffpolicyError('E_NUM_ACTIONS', `Cannot tell the number of actions of ${ref} (got ${k}).`, { hint: 'Pass numActions (--num-actions K).' });
    }
    checkNumActions(k, 'K');
    if (n === 0) throw new OffpolicyError('E_EMPTY', `${ref} has no rows.`, { hint: 'Point the source at a table with logged rows.' });
    const contextDim = contextColumns.length > 0 ? contextColumns.length : typeOf.has('context') ? Number(shape[0]!.dctx ?? 0) : 0;
    const context = (j: number): string => (contextColumns.length > 0 ? qid(contextColumns[j]!) : CLICKHOUSE.listAt('l.context', String(j + 1)));

    // ---- estimators, reward predictions -------------------------------------------------
    const rewardSpec = opts.rewardModel !== undefined ? parseRewardModelSpec(opts.rewardModel) : null;
    if (rewardSpec && rewardSpec.type !== 'columns') {
      throw new OffpolicyError('E_REWARD_MODEL', `A fitted reward model (${opts.rewardModel}) needs the rows in memory; a ClickHouse source reads predictions from columns.`, {
        hint: 'Store the predictions as columns and pass --reward-model columns:q_0,...,q_{K-1} (or one Array column).',
      });
    }
    const estimators = opts.estimators && opts.estimators.length > 0 ? checkEstimators(opts.estimators) : checkEstimators(undefined).filter((e) => rewardSpec !== null || !getEstimator(e).needsRewardModel);
    const needModel = estimators.filter((e) => getEstimator(e).needsRewardModel);
    if (needModel.length > 0 && !rewardSpec) {
      throw new OffpolicyError('E_REWARD_MODEL_REQUIRED', `${needModel.join(', ')} need reward predictions, and a ClickHouse source reads them from columns.`, {
        hint: 'Pass --reward-model columns:q_0,...,q_{K-1} (or one Array column), or leave those estimators out.',
      });
    }
    const vectorOf = (cols: string[], what: string): SqlVector => {
      for (const c of cols) if (!typeOf.has(c)) throw new OffpolicyError('E_MISSING_COLUMN', `${what}: ${ref} has no column ${c}.`, { hint: `Columns found: ${columns.map((x) => x.name).join(', ')}.` });
      if (cols.length === 1 && NUM_ARRAY.test(typeOf.get(cols[0]!)!)) return { kind: 'list', expr: qid(cols[0]!) };
      for (const c of cols) want(c, NUMERIC, 'a number type (or one Array(Float64) column of K)');
      if (cols.length !== k) {
        throw new OffpolicyError('E_ACTION_SPACE', `${what}: ${cols.length} columns were given, but the log's action space has K = ${k} actions.`, {
          hint: 'Give one column per action, in action order, or one Array(Float64) column of K.',
        });
      }
      return { kind: 'scalars', exprs: cols.map((c) => `toFloat64(${qid(c)})`) };
    };
    const rewardHat = rewardSpec?.type === 'columns' ? vectorOf(rewardSpec.columns, 'Reward predictions') : undefined;
    const loggingProbs: SqlVector | undefined = typeOf.has('action_probs') ? { kind: 'list', expr: 'l.action_probs' } : undefined;
    const expectedReward: SqlVector | undefined = typeOf.has('expected_reward') ? { kind: 'list', expr: 'l.expected_reward' } : undefined;

    // ---- candidates --------------------------------------------------------------------
    progress(0, opts.policies.length, 'loading candidates');
    const candidates: { cand: Candidate & { type: 'sql' }; prelude: RowExpr[]; usesContext: boolean }[] = [];
    for (const [i, p] of opts.policies.entries()) candidates.push(await sqlCandidate(p, i, ref, k, contextDim, context, vectorOf));
    if (candidates.some((c) => c.usesContext) && contextDim === 0) {
      throw new OffpolicyError('E_POLICY_SPEC', `A policy over a linear score needs contexts, but ${ref} has no context column.`, { hint: 'Add a context Array column or pass contextColumns.' });
    }

    // ---- plan, rules, scans ------------------------------------------------------------
    const params = resolveParams({ clip: opts.clip, smoothingAlpha: opts.smoothingAlpha }, n);
    const plan = banditPlan(estimators, params, {
      rewardRange: opts.rewardRange,
      rewardsMayBeNull: rewardNullable,
      // A constant near the smallest reward (precision only), as the DuckDB path takes it from the footer.
      rewardShift: opts.rewardRange?.[0] ?? (Number.isFinite(Number(shape[0]!.rmin)) ? Number(shape[0]!.rmin) : 0),
    });
    const rules: RowRule[] = clickhouseLogRules(k, {
      rewardNullable,
      actionProbs: loggingProbs !== undefined,
      expectedReward: expectedReward !== undefined,
      ...(typeOf.has('context') && contextColumns.length === 0 && candidates.some((c) => c.usesContext) ? { contextDim } : {}),
    });
    // A NULL reward is never a 0 (a stored log is refused the same way, ../datasets/load-bandit.ts: E_NULL_REWARDS).
    if (rewardNullable) {
      rules.unshift({
        code: 'E_NULL_REWARDS',
        rule: 'reward is not NULL',
        bad: 'l.reward IS NULL',
        hint: 'A missing reward is not a 0. To score only the rows with rewards (assuming rewards are missing at random), point --source at a view of them (CREATE VIEW ... AS SELECT * FROM ... WHERE reward IS NOT NULL).',
      });
    }
    if (rewardHat) {
      const width = vecWidthBad(rewardHat, k, CLICKHOUSE);
      rules.push({
        code: 'E_REWARD_PREDICTIONS',
        rule: `reward predictions are ${k} finite numbers per row`,
        bad: `${width ? `${width} OR ` : ''}NOT isFinite(${rewardHat.kind === 'list' ? CLICKHOUSE.listSum(rewardHat.expr) : rewardHat.exprs.join(' + ')})`,
        hint: 'Fill every prediction with a finite number, one per action.',
      });
    }
    const ruleChecks = Object.fromEntries(rules.map((r, i) => [`chk_log${i}`, r.bad]));
    const records: CandidateSums[] = [];
    const bootstrap: Map<EstimatorId, Interval | undefined>[] = candidates.map(() => new Map());
    let loggingInterval: Interval | undefined;
    let logging: LogSummary | undefined;
    for (const [ci, { cand, prelude }] of candidates.entries()) {
      progress(ci, candidates.length, `evaluating ${cand.name}`);
      const width = vecWidthBad(cand.probs, k, CLICKHOUSE);
      const candRules: RowRule[] = [
        ...(width ? [{ code: 'E_ACTION_SPACE', rule: `candidate gives K = ${k} probabilities per row`, bad: width, hint: `Candidate "${cand.name}" must give one probability per action.` }] : []),
        {
          code: 'E_POLICY_PROBS',
          rule: 'candidate probabilities are finite, non-negative and sum to 1',
          bad: Object.values(candidateRowChecks(cand, k, {}, CLICKHOUSE)).join(' OR '),
          hint: `Candidate "${cand.name}" must give a distribution over the actions on every row.`,
        },
      ];
      const checks = { ...ruleChecks, ...Object.fromEntries(candRules.map((r, i) => [`chk_cand${i}`, r.bad])) };
      const res = await clickhouseCandidateSums(
        conn,
        {
          table: { from, rowCount: n },
          candidate: cand,
          numActions: k,
          plan,
          ...(rewardHat ? { rewardHat } : {}),
          ...(loggingProbs ? { loggingProbs } : {}),
          ...(expectedReward ? { expectedReward } : {}),
          checks,
          summary: ci === 0,
          prelude,
        },
        qo,
      );
      if (res.badRows > 0) {
        await clickhouseExplain(conn, from, [...rules, ...candRules], qo);
        throw new OffpolicyError('E_CLICKHOUSE_QUERY', `${ref}: ${res.badRows} rows failed a check of candidate "${cand.name}", and no single rule explains them.`);
      }
      if (res.record.n !== n) {
        throw new OffpolicyError('E_CLICKHOUSE_PARTIAL', `${ref}: the scan of candidate "${cand.name}" saw ${res.record.n} rows, but the table holds ${n}; no partial result is reported.`, {
          hint: 'The table changed during the evaluation or a shard answered for part of its rows; evaluate again once it is stable.',
        });
      }
      if (res.logging) logging = res.logging;
      records.push(res.record);
      if (interval === 'poisson-bootstrap') {
        // The resamples as sums: buckets of row_id on the shards, then B resample cells (the first candidate's also carry the logged reward).
        progress(ci, candidates.length, `poisson bootstrap: ${cand.name}`);
        const ids = admitted(estimators, deficiencyOf(res.record), allowDeficient, cand.name, []);
        const boot = await runPoissonBootstrap(
          CLICKHOUSE,
          (sql) => conn.query(sql, qo),
          { table: { from, rowCount: n }, prelude, candidate: cand, numActions: k, plan, ...(rewardHat ? { rewardHat } : {}), estimators: ids, loggedReward: ci === 0 },
          { ...poisson, alpha },
        );
        ids.forEach((id, j) => bootstrap[ci]!.set(id, boot.intervals[j]));
        if (ci === 0) loggingInterval = boot.intervals[ids.length];
      }
    }
    progress(candidates.length, candidates.length, 'summarizing');

    // ---- assemble (the same step as the other backends) ---------------------------------
    const globalWarnings: Warning[] = [];
    const log = logging!;
    if (log.summary.propensityMin !== undefined) {
      // The propensity quantiles of the summary, exact and on the same rows as the DuckDB path's (every 64th row_id above SUMMARY_SAMPLE_ABOVE rows), without the propensities leaving the shards.
      progress(candidates.length, candidates.length, 'propensity quantiles');
      const sample = n > SUMMARY_SAMPLE_ABOVE ? ' AND l.row_id % 64 = 0' : '';
      const [q01, median] = await exactColumnQuantiles((sql) => conn.query(sql, qo), CLICKHOUSE, from, CLICKHOUSE.double('l.propensity'), `v IS NOT NULL${sample}`, [0.01, 0.5]);
      if (!Number.isNaN(q01!.value)) Object.assign(log.summary, { propensityQ01: q01!.value, propensityMedian: median!.value });
    }
    const loggingValue = sumsValue(log.sums);
    const rewardRange: [number, number] = opts.rewardRange ?? (log.minReward < log.maxReward ? [log.minReward, log.maxReward] : [log.minReward - 0.5, log.maxReward + 0.5]);
    if (interval !== 'poisson-bootstrap') loggingInterval = sumsInterval('dm', log.sums, interval, alpha, rewardRange, 1, params, globalWarnings);
    const loggingTrue = log.truthSum !== undefined ? log.truthSum / log.sums.n : undefined;
    const candidateResults = await assembleCandidates(
      records,
      candidates.map(({ cand }) => cand),
      opts.policies,
      { plan, interval, alpha, rewardRange, allowDeficient, ref, loggingValue, loggingInterval, strict, verdictSource: opts.verdictSource },
      (c) => (interval === 'poisson-bootstrap' ? { bootstrap: bootstrap[c]! } : {}),
    );
    const accuracy = candidateResults.every((c) => c.trueValue !== undefined) ? accuracyTable(candidateResults, estimators, loggingTrue ?? loggingValue, globalWarnings) : undefined;
    return {
      schema: 'offpolicy.evaluation/1',
      toolkitVersion: VERSION,
      createdAt: new Date().toISOString(),
      ...(opts.command ? { command: opts.command } : {}),
      seed: opts.seed ?? 0,
      dataset: {
        ref,
        name: `${source.database}.${source.table}`,
        version: 0,
        // A ClickHouse table is read where it lives, not hashed.
        contentHash: '',
        rowCount: n,
        numActions: k,
        ...(contextDim > 0 ? { contextDim } : {}),
        context: describeFeatures({
          vectorWidth: contextColumns.length > 0 ? 0 : contextDim,
          columns: contextColumns.map((name) => ({ name, kind: 'numeric' as const })),
          maxLevels: 0,
          width: contextDim,
        }),
        summary: log.summary,
      },
      logging: { value: loggingValue, ...(loggingInterval ? { interval: loggingInterval } : {}), ...(loggingTrue !== undefined ? { trueValue: loggingTrue } : {}) },
      settings: {
        estimators,
        interval,
        alpha,
        ...(interval === 'poisson-bootstrap' ? { bootstrapResamples: opts.resamples ?? 1000, bootstrapBuckets: opts.bootstrapBuckets ?? DEFAULT_POISSON_BUCKETS } : {}),
        ...(rewardSpec && rewardSpec.type === 'columns' ? { rewardModel: `columns:${rewardSpec.columns.join(',')}` } : {}),
        ...(Number.isFinite(params.clip) ? { clip: params.clip } : {}),
        strict,
        rewardRange,
      },
      propensitiesEstimated: false,
      candidates: candidateResults,
      ...(accuracy ? { accuracy } : {}),
      warnings: dedupe(globalWarnings),
    };
  } finally {
    await conn.close();
  }
}

/** A candidate as SQL over the table: column:NAME / column:c0,c1,... or a JSON policy file. */
async function sqlCandidate(
  p: PolicyInput,
  i: number,
  ref: string,
  k: number,
  contextDim: number,
  context: (j: number) => string,
  vectorOf: (cols: string[], what: string) => SqlVector,
): Promise<{ cand: Candidate & { type: 'sql' }; prelude: RowExpr[]; usesContext: boolean }> {
  if (typeof p.spec !== 'string') {
    throw new OffpolicyError('E_POLICY_SPEC', `Candidate ${p.name ?? i}: a Policy object scores rows in JS; with a ClickHouse source candidates are columns or JSON policy files.`, {
      hint: 'Give column:NAME (probabilities stored in the table) or a .json policy (uniform, epsilon-greedy, softmax, argmax).',
    });
  }
  const spec = p.spec.trim();
  if (spec.startsWith('column:')) {
    const cols = spec.slice('column:'.length).split(',').map((c) => c.trim()).filter(Boolean);
    const probs = vectorOf(cols, `Candidate ${spec}`);
    return { cand: { type: 'sql', name: p.name ?? cols.join('+'), source: spec, probs }, prelude: [], usesContext: false };
  }
  if (path.extname(spec).toLowerCase() === '.json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(spec, 'utf8'));
    } catch (e) {
      const code = (e as { code?: string }).code === 'ENOENT' ? 'E_POLICY_NOT_FOUND' : 'E_POLICY_SPEC';
      throw new OffpolicyError(code, `Policy file ${spec} cannot be read: ${(e as Error).message}`, { hint: 'Give an existing JSON policy file.' });
    }
    const sql = await jsonPolicySql(parsed, spec, k, contextDim, context, CLICKHOUSE);
    const type = (parsed as { type?: string }).type ?? 'policy';
    return { cand: { type: 'sql', name: p.name ?? path.basename(spec).replace(/\.[^.]+$/, ''), source: `json:${type}:${spec}`, probs: sql.probs }, prelude: sql.prelude, usesContext: sql.usesContext };
  }
  throw new OffpolicyError('E_POLICY_SPEC', `Candidate ${spec}: with a ClickHouse source (${ref}) candidates are columns of the table or JSON policy files.`, {
    hint: 'Give column:NAME (one Array column of K), column:p_0,...,p_{K-1}, or a .json policy (uniform, epsilon-greedy, softmax, argmax).',
  });
}

