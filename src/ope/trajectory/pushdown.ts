/**
 * Trajectory off-policy evaluation pushed down to DuckDB: when every candidate
 * is a table keyed by (episode_id, step) (p_0..p_{K-1} or logprob) and Q comes
 * from columns of the dataset (`rewardModel: "columns:q_0,..."`, discrete
 * actions), TIS, PDIS, SNTIS, SNPDIS, DR, SNDR and DM are computed from sums the
 * database returns (./scan-sql.ts): per-step sums (H rows) and sums over episodes,
 * never the steps themselves. Values and t / Hoeffding / Bernstein intervals
 * equal the in-memory path's (tests/trajectory-ope-pushdown.test.ts).
 *
 * It holds no step in memory, so it scales past memory; the lean load
 * (evaluate.ts) is faster when the steps fit. evaluateTrajectoryDataset runs it
 * on `pushdown: 'duckdb'`, or on 'auto' when the steps would exceed the memory
 * budget.
 *
 * Anything else is declined with its reason ({ declined, hint, cause }) and the
 * caller loads the steps (or refuses, evaluate.ts). cause 'unsupported': other
 * candidates (policies need the observations), fitted Q, other estimators (MIS /
 * MDR learn marginal weights from the observations), the bootstrap and betting
 * intervals (they need the per-episode terms), return distributions, a fitted
 * behaviour model, a dataset without behavior_logprob. cause 'data': data the
 * checks in the SQL reject (step gaps, an end flag before the last step, invalid
 * log-probabilities or rewards, table rows that do not match the logged steps,
 * deterministic discrete candidates, fewer than 2 episodes): the in-memory path
 * then raises the coded error naming the episodes.
 */
import path from 'node:path';
import { candidateName, checkCandidateNames } from '../../policies/candidates.js';
import { ident, lit, queryOne, queryRows, type DuckDBConnection } from '../../datasets/duckdb.js';
import { spaceWidth } from '../../datasets/metadata.js';
import { trajectoryRowsSql } from '../../datasets/load-trajectories.js';
import type { DatasetVersion } from '../../datasets/workspace.js';
import { tInterval } from '../intervals/t.js';
import { emptySums, type MergeableSums } from '../sums.js';
import { DEFAULT_GAMMA, checkGamma } from './data.js';
import { isTableCandidate } from './candidates.js';
import { qColumnNames } from './q-columns.js';
import { getTrajectoryEstimator, type TrajectoryEstimator, type TrajectoryEstimatorId } from './estimators/index.js';
import { influenceCoefficients, stepRatioSum } from './estimators/self-normalized.js';
import type { BehaviourValue, TrajectoryCandidateResult, TrajectoryEvaluateOptions, TrajectoryEvaluation } from './evaluate.js';
import { feasibleValueRange, intervalFromSums } from './intervals.js';
import { rowsSql, stepsSql, episodesSql, influenceSql, TRAJECTORY_DUCKDB, type TrajectorySqlDialect } from './scan-sql.js';
import { DEFAULT_TRAJECTORY_ESTIMATORS, finishScore } from './score.js';
import { deployVerdict } from './verdict.js';
import { checkClip, weightSummaryFromSums } from './weights.js';

interface TableCandidate {
  name: string;
  source: string;
  relation: string;
}

interface Plan {
  K?: number;
  probColumns: string[];
  qColumns: string[];
  candidates: TableCandidate[];
  data: string;
}

/** Why the pushdown did not run, and what would let it; 'unsupported': the options or candidates, 'data': its SQL checks failed. */
export interface PushdownDeclined {
  declined: string;
  hint: string;
  cause: 'unsupported' | 'data';
}

const unsupported = (declined: string, hint: string): PushdownDeclined => ({ declined, hint, cause: 'unsupported' });
const dataCheck = (declined: string, hint = 'correct the data or the candidate tables (the in-memory checks name the steps at fault)'): PushdownDeclined => ({ declined, hint, cause: 'data' });

const num = (x: unknown): number => (x === null || x === undefined ? NaN : Number(x));

/** The estimators whose sums the SQL computes. */
const PUSHED: ReadonlySet<TrajectoryEstimatorId> = new Set(['tis', 'pdis', 'sntis', 'snpdis', 'dr', 'sndr', 'dm']);

/** The plain-mean sums of per-episode terms from n, sum g and sum g^2. */
function termSums(n: number, s: number, s2: number): MergeableSums {
  return { ...emptySums(), n, sumNum: s, sumNum2: s2, sumDen: n, sumDen2: n, sumNumDen: s };
}

/** Carried denominators from per-step sums: B_t = S_t + sum_{u < t} L_u, S_t the weights of the episodes running at t, L_u those of the episodes whose last step is u. */
function carriedFromSteps(running: Float64Array, lastAt: Float64Array): Float64Array {
  const B = new Float64Array(running.length);
  let acc = 0;
  for (let t = 0; t < running.length; t++) {
    B[t] = running[t]! + acc;
    acc += lastAt[t]!;
  }
  return B;
}

/** The pushdown plan, or why a candidate or an option needs the in-memory path. */
async function plan(conn: DuckDBConnection, version: DatasetVersion, opts: TrajectoryEvaluateOptions): Promise<Plan | PushdownDeclined> {
  if (opts.qProvider) return unsupported('Q comes from a fitted model (fitted Q evaluation), which reads the observations', 'give Q as dataset columns (--reward-model columns:q_0,...,q_{K-1}) or drop DR, SNDR and DM');
  const interval = opts.interval ?? 't';
  if (!['t', 'hoeffding', 'bernstein'].includes(interval)) return unsupported(`${interval} intervals need every episode's term in memory`, 'use t, Hoeffding or Bernstein intervals (--interval t)');
  if (opts.candidates.length === 0) return unsupported('there are no candidates', 'name at least one candidate table');
  // cumulative-distribution OPE reads the per-episode returns and weights in memory
  if (opts.distribution !== undefined) return unsupported('return distributions (cumulative-distribution OPE) are computed from the loaded steps', 'leave out --distribution');
  if (opts.behaviorModel?.mode === 'fit') return unsupported('a fitted behaviour model (behaviour model fit) learns from the observations', 'use the stored behavior_logprob (--behavior-model auto)');
  const meta = version.metadata;
  const types = new Map(meta.columns.map((c) => [c.name, c.type]));
  for (const c of ['episode_id', 'step', 'action', 'reward', 'terminated', 'truncated', 'behavior_logprob']) {
    if (types.has(c)) continue;
    return c === 'behavior_logprob'
      ? unsupported('the dataset has no behavior_logprob column, so the behaviour policy is fitted from the observations', 'store the behaviour log-probabilities as behavior_logprob')
      : dataCheck(`the dataset has no ${c} column`);
  }
  const discrete = !(types.get('action') ?? '').endsWith('[]');
  const K = discrete ? (meta.actionSpace?.type === 'discrete' ? meta.actionSpace.n : undefined) : undefined;
  if (discrete && K === undefined) return dataCheck("the dataset's metadata does not give the number of discrete actions");
  let qColumns: string[] = [];
  if (opts.rewardModel !== undefined) {
    const named = qColumnNames(opts.rewardModel);
    if (!named) return unsupported(`reward model "${opts.rewardModel}" is not Q columns of the dataset`, 'give Q as columns (--reward-model columns:q_0,...,q_{K-1})');
    if (!discrete) return unsupported('Q columns are summed for discrete actions only', 'leave out --reward-model and DR, SNDR and DM on continuous actions');
    qColumns = named;
    if (qColumns.length !== K || qColumns.some((c) => !types.has(c))) return dataCheck(`the Q columns ${qColumns.join(', ')} are not ${K} columns of the dataset`);
  }
  const ids = opts.estimators ?? DEFAULT_TRAJECTORY_ESTIMATORS;
  const specs = ids.map((id) => getTrajectoryEstimator(id));
  // MIS / MDR (needsMarginal) and any estimator not written in SQL load the steps
  const notSummed = specs.filter((e) => e.needsMarginal || !PUSHED.has(e.id));
  if (notSummed.length > 0) {
    return unsupported(
      `${notSummed.map((e) => e.label).join(', ')} cannot be summed in SQL${notSummed.some((e) => e.needsMarginal) ? ' (marginal weights are learned from the observations)' : ''}`,
      `drop ${notSummed.map((e) => e.id).join(', ')} from --estimators (the pushdown sums ${[...PUSHED].join(', ')})`,
    );
  }
  if (specs.some((e) => e.needsQ) && qColumns.length === 0) return unsupported(`${specs.filter((e) => e.needsQ).map((e) => e.label).join(', ')} need Q, and no Q columns were given`, 'give Q as columns (--reward-model columns:q_0,...,q_{K-1})');
  const probColumns = K !== undefined ? Array.from({ length: K }, (_, a) => `p_${a}`) : ['logprob'];
  const candidates: TableCandidate[] = [];
  for (const input of opts.candidates) {
    if (typeof input.spec !== 'string' || !isTableCandidate(input)) return unsupported(`candidate "${candidateName(input)}" is a policy, whose actions need the observations`, 'give every candidate as a table keyed by (episode_id, step)');
    const spec = input.spec.trim();
    const file = path.resolve(spec);
    const ext = path.extname(file).toLowerCase();
    const rel = ext === '.parquet' ? `read_parquet(${lit(file)})` : `read_csv(${lit(file)}, header = true)`;
    let cols: string[];
    try {
      cols = (await queryRows(conn, `DESCRIBE SELECT * FROM ${rel}`)).map((r) => String(r.column_name));
    } catch {
      return dataCheck(`candidate table ${spec} cannot be read`);
    }
    const pcols = cols.filter((c) => /^p_\d+$/.test(c));
    const fits = K !== undefined ? pcols.length === K && probColumns.every((c) => cols.includes(c)) : cols.includes('logprob');
    if (!fits || !cols.includes('episode_id') || !cols.includes('step')) return dataCheck(`candidate table ${spec} does not have episode_id, step and ${probColumns.length > 1 ? `${probColumns[0]}..${probColumns.at(-1)}` : probColumns[0]}`);
    candidates.push({
      name: candidateName(input),
      source: spec,
      relation: `(SELECT ${['episode_id', 'step', ...probColumns].map(ident).join(', ')} FROM ${rel})`,
    });
  }
  const keep = ['episode_id', 'step', 'action', 'reward', 'terminated', 'truncated', 'behavior_logprob', ...qColumns];
  const data = `(SELECT ${keep.map(ident).join(', ')} FROM ${trajectoryRowsSql(version, opts.where)})`;
  return { ...(K !== undefined ? { K } : {}), probColumns, qColumns, candidates, data };
}

async function datasetWidths(conn: DuckDBConnection, version: DatasetVersion, K: number | undefined): Promise<{ obsDim: number; actDim: number }> {
  const m = version.metadata;
  let obsDim = m.observationSpace?.type === 'box' ? spaceWidth(m.observationSpace) : 0;
  let actDim = K !== undefined ? 1 : m.actionSpace?.type === 'box' ? spaceWidth(m.actionSpace) : 0;
  if (obsDim === 0 || actDim === 0) {
    const w = await queryOne(conn, `SELECT max(len(observation)) AS o, ${K !== undefined ? '1' : 'max(len(action))'} AS a FROM read_parquet(${lit(version.glob)})`);
    if (obsDim === 0) obsDim = num(w.o);
    if (actDim === 0) actDim = num(w.a);
  }
  return { obsDim, actDim };
}

/**
 * Evaluates on a stored dataset in DuckDB, or says why it declined when the
 * in-memory path is needed (see the file comment). `conn` runs the queries (it gets
 * temporary tables, dropped before returning).
 */
export async function trajectoryPushdown(
  conn: DuckDBConnection,
  version: DatasetVersion,
  opts: TrajectoryEvaluateOptions,
  dialect: TrajectorySqlDialect = TRAJECTORY_DUCKDB,
): Promise<TrajectoryEvaluation | PushdownDeclined> {
  if (version.metadata.kind !== 'trajectory') return dataCheck(`dataset ${version.ref} is a ${version.metadata.kind} log, not trajectory data`);
  checkCandidateNames(opts.candidates.map(candidateName));
  const p = await plan(conn, version, opts);
  if ('declined' in p) return p;
  const gamma = checkGamma(opts.gamma ?? DEFAULT_GAMMA);
  const clip = checkClip(opts.clip);
  const alpha = opts.alpha ?? 0.05;
  const method = opts.interval ?? 't';
  const hasQ = p.qColumns.length > 0;
  const ids = opts.estimators ?? (hasQ ? [...DEFAULT_TRAJECTORY_ESTIMATORS, 'dr', 'sndr', 'dm'] : DEFAULT_TRAJECTORY_ESTIMATORS);
  const specs: TrajectoryEstimator[] = ids.map((id) => getTrajectoryEstimator(id));
  const table = 'offpolicy_traj_rows';
  const dl = dialect;
  let behaviour: BehaviourValue | null = null;
  let datasetInfo: TrajectoryEvaluation['dataset'] | null = null;
  let observedRange: [number, number] = [0, 0];
  const candidates: TrajectoryCandidateResult[] = [];
  try {
    for (let j = 0; j < p.candidates.length; j++) {
      opts.onProgress?.('candidates', j, p.candidates.length);
      const cand = p.candidates[j]!;
      await conn.run(dl.createTemp(table, rowsSql(dl, { data: p.data, candidate: cand.relation, ...(p.K !== undefined ? { numActions: p.K } : {}), probColumns: p.probColumns, qColumns: p.qColumns })));
      const steps = await queryRows(conn, stepsSql(dl, table, gamma, clip));
      const H = steps.length;
      const col = (k: string): Float64Array => Float64Array.from(steps, (r) => num(r[k]));
      const bad = col('bad').reduce((a, b) => a + b, 0);
      const stoch = col('stoch').reduce((a, b) => a + b, 0);
      const matched = col('matched').reduce((a, b) => a + b, 0);
      const tableRows = num((await queryOne(conn, `SELECT ${dl.double('count(*)')} AS n FROM ${cand.relation}`)).n);
      const contiguous = steps.every((r, t) => num(r.step) === t);
      const needW = specs.some((e) => e.needsWeights);
      const failed =
        H === 0 ? 'there are no steps to evaluate'
        : bad > 0 ? `${bad} logged step(s) fail its row checks (a step missing from candidate ${cand.name}'s table, invalid probabilities or log-probabilities, non-finite rewards or Q, step gaps, an end flag before an episode's last step)`
        : matched !== tableRows ? `candidate ${cand.name}'s table has ${tableRows} rows, of which ${matched} match logged steps`
        : !contiguous ? 'episodes have step gaps'
        : p.K !== undefined && stoch === 0 && needW ? `candidate ${cand.name} is deterministic on discrete actions`
        : null;
      if (failed) return H === 0 ? dataCheck(failed, 'select some steps (check the where condition)') : dataCheck(failed);
      const tot = await queryOne(conn, episodesSql(dl, table, gamma, clip));
      const n = num(tot.n);
      if (n < 2) return dataCheck(`there is ${n} episode, and its intervals need at least 2`, 'evaluate at least 2 episodes');
      const count = col('cnt');
      const s1 = col('s1');
      const lastw = col('lastw');
      if (!behaviour) {
        const sb = termSums(n, num(tot.sg), num(tot.sg2));
        behaviour = { value: num(tot.sg) / n, interval: tInterval(sb, alpha) };
        observedRange = [Math.min(...col('rmin')), Math.max(...col('rmax'))];
        datasetInfo = { ref: version.ref, episodes: n, steps: count.reduce((a, b) => a + b, 0), horizon: H, ...(await datasetWidths(conn, version, p.K)), ...(p.K !== undefined ? { discreteActions: p.K } : {}) };
      }
      const valueRange = feasibleValueRange(opts.rewardRange ?? observedRange, gamma, H);
      // self-normalised parts
      const B = carriedFromSteps(s1, lastw);
      const P = new Float64Array(H);
      if (H > 0) P[0] = n;
      for (let t = 1; t < H; t++) P[t] = B[t - 1]!;
      const A = col('a');
      const N1 = col('n1');
      const N2 = col('n2');
      const f1 = num(tot.f1);
      // self-normalised terms g_i = value + e_i: the sums are of e_i, shifted by value (no cancellation in the variance)
      const sums = new Map<string, { value: number; sums: MergeableSums; shift?: number }>();
      const plain = (id: string, s: string, s2: string): void => {
        sums.set(id, { value: num(tot[s]) / n, sums: termSums(n, num(tot[s]), num(tot[s2])) });
      };
      plain('tis', 'stis', 'stis2');
      plain('pdis', 'spd', 'spd2');
      plain('dr', 'sdr', 'sdr2');
      plain('dm', 'sdm', 'sdm2');
      const wantSn = specs.some((e) => e.selfNormalized);
      if (wantSn) {
        const vC = f1 === 0 ? 0 : num(tot.stis) / f1;
        const a = influenceCoefficients(gamma, n, A, B);
        const b1 = influenceCoefficients(gamma, n, N1, B);
        const b2 = influenceCoefficients(gamma, n, N2, P);
        const rows: number[][] = [];
        for (let t = 0; t <= H; t++) {
          const at = (x: Float64Array): number => (t < H ? x[t]! : 0);
          rows.push([t, at(a.kk), at(a.k), at(b1.kk), at(b1.k), at(b2.kk), at(b2.k), a.suffix[t]!, b1.suffix[t]! + b2.suffix[t]!]);
        }
        const coef = dl.values(['t', 'kka', 'ka', 'kk1', 'k1', 'kk2', 'k2', 'sufa', 'sufb'], rows);
        const inf = await queryOne(conn, influenceSql(dl, table, coef, gamma, clip, { value: vC, meanWeight: f1 / n }));
        sums.set('sntis', { value: vC, sums: termSums(n, num(inf.sc), num(inf.sc2)), shift: vC });
        const vA = stepRatioSum(gamma, A, B);
        sums.set('snpdis', { value: vA, sums: termSums(n, num(inf.sa), num(inf.sa2)), shift: vA });
        const vB = stepRatioSum(gamma, N1, B, N2, P);
        sums.set('sndr', { value: vB, sums: termSums(n, num(inf.sb), num(inf.sb2)), shift: vB });
      }
      const summary = needW
        ? weightSummaryFromSums({ s1, s2: col('s2'), max: col('mx'), count, maxRaw: Math.max(...col('mraw')), f1, f2: num(tot.f2), fMax: num(tot.fmax) })
        : null;
      const ivOpts = { method, alpha, seed: opts.seed ?? 0, ...(opts.termRange ? { termRange: opts.termRange } : {}), valueRange };
      const score = finishScore(
        { name: cand.name, source: cand.source, kind: 'table', kernel: null },
        {
          estimators: specs,
          values: specs.map((e) => sums.get(e.id)!.value),
          intervals: specs.map((e) => intervalFromSums(e, sums.get(e.id)!.sums, ivOpts, sums.get(e.id)!.shift ?? 0)),
          summary,
          clip: needW ? clip : null,
          episodes: n,
          steps: datasetInfo!.steps,
          gamma,
          valueRange,
        },
      );
      candidates.push({ ...score, verdict: deployVerdict(score, behaviour, alpha), q: hasQ ? { source: `columns:${p.qColumns.join(',')}` } : null });
    }
  } finally {
    await conn.run(dl.dropTemp(table));
  }
  opts.onProgress?.('candidates', p.candidates.length, p.candidates.length);
  return { setting: 'trajectory', dataset: datasetInfo!, gamma, behaviour: behaviour!, candidates, warnings: [], backend: 'duckdb' };
}
