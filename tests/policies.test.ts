import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lit, openMemoryConnection, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { Workspace, type DatasetVersion } from '../src/datasets/workspace.js';
import { OffpolicyError } from '../src/core/errors.js';
import { evaluate } from '../src/ope/evaluate.js';
import { loadCandidate, parsePolicyArg, type PolicyInput } from '../src/policies/candidates.js';
import { buildJsonPolicy, EpsilonGreedyPolicy, LinearPolicy, UniformPolicy } from '../src/policies/json-policy.js';
import { checkProbabilityMatrix } from '../src/policies/probabilities.js';

// A hand-made log: 6 rows, K = 3, contexts in R^2, the logger's full distribution.
const LOG = [
  { ctx: [1, 0], a: 0, r: 1, pi0: [0.5, 0.3, 0.2] },
  { ctx: [0, 1], a: 1, r: 0, pi0: [0.2, 0.5, 0.3] },
  { ctx: [1, 1], a: 2, r: 1, pi0: [0.4, 0.4, 0.2] },
  { ctx: [0, 0], a: 0, r: 0, pi0: [0.6, 0.2, 0.2] },
  { ctx: [2, 1], a: 1, r: 1, pi0: [0.1, 0.8, 0.1] },
  { ctx: [1, 2], a: 2, r: 0, pi0: [0.3, 0.3, 0.4] },
];
const PI = [
  [0.2, 0.5, 0.3],
  [0.1, 0.1, 0.8],
  [0.5, 0.25, 0.25],
  [1, 0, 0],
  [0, 0.5, 0.5],
  [0.3, 0.3, 0.4],
];

let dir: string;
let ws: Workspace;
let log: DatasetVersion;
let conn: DuckDBConnection;

const num = (x: number): string => (Number.isNaN(x) ? `'nan'::DOUBLE` : `${x}::DOUBLE`);
const arr = (v: number[]): string => `[${v.map(num).join(', ')}]`;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-policies-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  conn = await openMemoryConnection();
  const rows = LOG.map(
    (r, i) =>
      `(${i}::BIGINT, [${r.ctx.join(', ')}]::FLOAT[], ${r.a}::INTEGER, ${r.r}::DOUBLE, ${r.pi0[r.a]}::DOUBLE, ${arr(r.pi0)}, ${arr(PI[i]!)})`,
  );
  log = await ws.createVersion({
    name: 'tiny',
    conn,
    select: `SELECT * FROM (VALUES ${rows.join(', ')}) t(row_id, context, action, reward, propensity, action_probs, cand) ORDER BY row_id`,
    metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: 3 }, lineage: { transform: 'test', params: {} } },
  });
});
afterAll(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

/** Writes a probability table (rows of [row_id, p_0, p_1, p_2]) as Parquet (DOUBLE[3] `probs`) or CSV (p_0..p_2). */
async function table(name: string, rows: [number, ...number[]][], format: 'parquet' | 'csv'): Promise<string> {
  const file = path.join(dir, `${name}.${format}`);
  const values = rows.map(([id, ...p]) => (format === 'parquet' ? `(${id}::BIGINT, ${arr(p)})` : `(${id}::BIGINT, ${p.map((x) => `${x}::DOUBLE`).join(', ')})`));
  const cols = format === 'parquet' ? 'row_id, probs' : `row_id, ${rows[0]!.slice(1).map((_, a) => `p_${a}`).join(', ')}`;
  await conn.run(`COPY (SELECT * FROM (VALUES ${values.join(', ')}) t(${cols})) TO ${lit(file)} (FORMAT ${format}${format === 'csv' ? ', HEADER true' : ''})`);
  return file;
}

const goodRows = (): [number, ...number[]][] => PI.map((p, i) => [i, ...p] as [number, ...number[]]);

async function expectError(p: Promise<unknown>, code: string, message: RegExp): Promise<OffpolicyError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OffpolicyError);
  expect((e as OffpolicyError).code).toBe(code);
  expect((e as Error).message).toMatch(message);
  return e as OffpolicyError;
}

const ctx = () => ({ conn, log, numActions: 3, contextDim: 2 });
const ipsByHand = 2.275 / 6; // rows 0, 2, 4 have reward 1: 0.2/0.5 + 0.25/0.2 + 0.5/0.8

async function ips(policy: PolicyInput, interval: 't' | 'bootstrap' = 't'): Promise<number> {
  const r = await evaluate(ws, { data: 'tiny', policies: [policy], estimators: ['ips'], interval, resamples: 50 });
  return r.candidates[0]!.estimates[0]!.value;
}

describe('probability tables and columns', () => {
  it('joins a Parquet DOUBLE[K] table by row_id (in any order) and gives the hand-computed IPS', async () => {
    const rows = goodRows().reverse();
    const file = await table('good', rows, 'parquet');
    expect(await ips({ spec: file })).toBeCloseTo(ipsByHand, 12);
    expect(await ips({ spec: file }, 'bootstrap')).toBeCloseTo(ipsByHand, 12);
  });

  it('reads CSV tables with p_0..p_{K-1} or named columns, and log columns', async () => {
    const file = await table('good', goodRows(), 'csv');
    expect(await ips({ spec: file })).toBeCloseTo(ipsByHand, 12);
    expect(await ips({ spec: file, probColumns: ['p_0', 'p_1', 'p_2'] })).toBeCloseTo(ipsByHand, 12);
    expect(await ips({ spec: 'column:cand' })).toBeCloseTo(ipsByHand, 12);
    expect(await ips({ spec: 'column:cand' }, 'bootstrap')).toBeCloseTo(ipsByHand, 12);
  });

  it('parses NAME=SPEC', () => {
    expect(parsePolicyArg('b=out/p.parquet')).toEqual({ name: 'b', spec: 'out/p.parquet' });
    expect(parsePolicyArg('column:cand')).toEqual({ spec: 'column:cand' });
  });

  it('refuses rows whose probabilities do not sum to 1, stating the tolerance', async () => {
    const rows = goodRows();
    rows[2] = [2, 0.5, 0.25, 0.2500011];
    rows[4] = [4, 0.3, 0.3, 0.3];
    const e = await expectError(
      loadCandidate({ spec: await table('sum', rows, 'parquet') }, ctx()),
      'E_POLICY_PROBS',
      /Rule "probabilities sum to 1 \(tolerance 1e-6\)" failed for 2 rows \(first: 2, 4\)\./,
    );
    expect(e.details).toEqual({ rule: 'probabilities sum to 1 (tolerance 1e-6)', count: 2, rows: [2, 4] });
    // Within the tolerance is fine.
    rows[2] = [2, 0.5, 0.25, 0.2500004];
    rows[4] = [4, 0, 0.5, 0.5];
    await expect(loadCandidate({ spec: await table('sum2', rows, 'parquet') }, ctx())).resolves.toMatchObject({ type: 'sql' });
  });

  it('refuses negative and NaN probabilities', async () => {
    const rows = goodRows();
    rows[1] = [1, -0.1, 0.3, 0.8];
    rows[5] = [5, NaN, 0.5, 0.5];
    await expectError(
      loadCandidate({ spec: await table('neg', rows, 'parquet') }, ctx()),
      'E_POLICY_PROBS',
      /Rule "probabilities are finite and non-negative" failed for 2 rows \(first: 1, 5\)\..*row_id values/,
    );
  });

  it('names missing and extra row_ids', async () => {
    const rows = goodRows().filter(([id]) => id !== 3 && id !== 5);
    rows.push([100, 1, 0, 0], [101, 1, 0, 0], [102, 1, 0, 0]);
    await expectError(
      loadCandidate({ spec: await table('rows', rows, 'parquet') }, ctx()),
      'E_POLICY_ROWS',
      /does not match the rows of tiny@1: 2 of the log's 6 row_ids are missing from it \(first: 3, 5\); 3 of its row_ids are not in the log \(first: 100, 101, 102\)\./,
    );
    const dup = [...goodRows(), [4, 0, 0.5, 0.5] as [number, ...number[]]];
    await expectError(loadCandidate({ spec: await table('dup', dup, 'parquet') }, ctx()), 'E_POLICY_ROWS', /scores some rows more than once: 1 extra rows \(duplicated row_ids, first: 4\)/);
  });

  it('refuses a K that does not match the action space', async () => {
    const wide = goodRows().map(([id, ...p]) => [id, ...p.map((x) => x * 0.5), 0.5] as [number, ...number[]]);
    await expectError(
      loadCandidate({ spec: await table('wide', wide, 'parquet') }, ctx()),
      'E_ACTION_SPACE',
      /Rule "candidate gives K = 3 probabilities per row \(the log's action space\)" failed for 6 rows \(first: 0, 1, 2, 3, 4\)/,
    );
    const narrow = goodRows().map(([id, a, b, c]) => [id, a!, b! + c!] as [number, ...number[]]);
    await expectError(
      loadCandidate({ spec: await table('narrow', narrow, 'csv') }, ctx()),
      'E_ACTION_SPACE',
      /has 2 per-action probability columns \(p_0..p_1\), but the log's action space has K = 3 actions/,
    );
    await expectError(loadCandidate({ spec: await table('n2', narrow, 'csv'), probColumns: ['p_0', 'p_1'] }, ctx()), 'E_ACTION_SPACE', /2 probability columns were given, but the log's action space has K = 3/);
  });

  it('explains missing files, columns and unknown formats', async () => {
    await expectError(loadCandidate({ spec: path.join(dir, 'nope.parquet') }, ctx()), 'E_POLICY_NOT_FOUND', /nope.parquet does not exist/);
    const txt = path.join(dir, 'p.txt');
    await writeFile(txt, 'x');
    await expectError(loadCandidate({ spec: txt }, ctx()), 'E_POLICY_SPEC', /from its extension "\.txt"/);
    await expectError(loadCandidate({ spec: 'column:nope' }, ctx()), 'E_MISSING_COLUMN', /Dataset tiny@1 has no column\(s\) nope/);
    const noId = path.join(dir, 'noid.csv');
    await writeFile(noId, 'p_0,p_1,p_2\n1,0,0\n');
    await expectError(loadCandidate({ spec: noId }, ctx()), 'E_MISSING_COLUMN', /has no row_id column/);
  });
});

describe('JSON policies', () => {
  const contexts = Float32Array.from(LOG.flatMap((r) => r.ctx));

  it('uniform, softmax, argmax and epsilon-greedy give the defined probabilities', async () => {
    expect(Array.from(new UniformPolicy(4).actionProbs(contexts, 1))).toEqual([0.25, 0.25, 0.25, 0.25]);
    const spec = { type: 'softmax', weights: [[1, 0], [0, 1], [0, 0]], bias: [0, 0, 1], temperature: 2 };
    const soft = await buildJsonPolicy(spec, 'soft.json', { numActions: 3, contextDim: 2 });
    expect(soft).toBeInstanceOf(LinearPolicy);
    const p = soft.actionProbs(contexts, 6);
    // Row 0: x = (1, 0): scores (1, 0, 1) / 2.
    const z = 2 * Math.exp(0.5) + 1;
    expect(p[0]).toBeCloseTo(Math.exp(0.5) / z, 14);
    expect(p[1]).toBeCloseTo(1 / z, 14);
    const arg = await buildJsonPolicy({ ...spec, type: 'argmax' }, 'a.json', { numActions: 3, contextDim: 2 });
    // Row 4: x = (2, 1): scores (2, 1, 1) -> action 0. Row 0: tie (1, 0, 1) -> lowest action 0. Row 3: (0, 0, 1) -> 2.
    expect(Array.from(arg.actionProbs(contexts, 6).slice(12, 15))).toEqual([1, 0, 0]);
    expect(Array.from(arg.actionProbs(contexts, 6).slice(0, 3))).toEqual([1, 0, 0]);
    expect(Array.from(arg.actionProbs(contexts, 6).slice(9, 12))).toEqual([0, 0, 1]);
    const eg = await buildJsonPolicy({ type: 'epsilon-greedy', epsilon: 0.3, base: { ...spec, type: 'argmax' } }, 'e.json', { numActions: 3, contextDim: 2 });
    expect(eg).toBeInstanceOf(EpsilonGreedyPolicy);
    const e = eg.actionProbs(contexts, 6);
    expect(e[9]).toBeCloseTo(0.1, 14);
    expect(e[11]).toBeCloseTo(0.8, 14);
  });

  it('evaluates a JSON file through evaluate()', async () => {
    const file = path.join(dir, 'uniform.json');
    await writeFile(file, JSON.stringify({ type: 'uniform' }));
    // IPS of uniform: (1/6) (1/3)(1/0.5 + 1/0.2 + 1/0.8).
    expect(await ips({ spec: file })).toBeCloseTo(((1 / 3) * (2 + 5 + 1.25)) / 6, 12);
  });

  it('fits a reward model on the log for {"type": "reward-model"}', async () => {
    const file = path.join(dir, 'rm.json');
    await writeFile(file, JSON.stringify({ type: 'reward-model', model: 'ridge', mode: 'argmax' }));
    const r = await evaluate(ws, { data: 'tiny', policies: [{ spec: file }], estimators: ['dm'], interval: 't', rewardModel: 'ridge' });
    expect(r.candidates[0]!.source).toBe(`json:reward-model:${file}`);
    expect(r.candidates[0]!.estimates[0]!.value).toBeGreaterThan(0.5); // picks the best predicted action on every row
  });

  it('refuses malformed policy files', async () => {
    const c = { numActions: 3, contextDim: 2 };
    await expectError(buildJsonPolicy({ type: 'softmax', weights: [[1, 0], [0, 1]] }, 's.json', c), 'E_ACTION_SPACE', /"weights" must be a K x d = 3 x 2 matrix .* got 2 x 2/);
    await expectError(buildJsonPolicy({ type: 'softmax', weights: [[1], [0], [0]] }, 's.json', c), 'E_POLICY_SPEC', /"weights" must be a K x d = 3 x 2 matrix/);
    await expectError(buildJsonPolicy({ type: 'argmax', weights: [[1, 0], [0, 1], [0, 0]], bias: [1, 2] }, 's.json', c), 'E_ACTION_SPACE', /"bias" must hold K = 3 finite numbers/);
    await expectError(buildJsonPolicy({ type: 'greedy' }, 's.json', c), 'E_POLICY_SPEC', /unknown policy type "greedy"/);
    await expectError(buildJsonPolicy({ type: 'epsilon-greedy', epsilon: 2, base: { type: 'uniform' } }, 's.json', c), 'E_POLICY_SPEC', /"epsilon" must be a number in \[0, 1\], got 2/);
    await expectError(buildJsonPolicy({ type: 'softmax', weights: [[1, 0], [0, 1], [0, 0]], temperature: 0 }, 's.json', c), 'E_POLICY_SPEC', /"temperature" must be a positive number, got 0/);
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, '{"type": ');
    await expectError(loadCandidate({ spec: bad }, ctx()), 'E_POLICY_SPEC', /is not valid JSON/);
  });

  it('checks the probabilities a Policy object returns', () => {
    const p = Float64Array.from([0.5, 0.5, 0, NaN, 0.5, 0.5, 0.2, 0.2, 0.2]);
    expect(() => checkProbabilityMatrix(p, 3, 3, '"x"')).toThrow(/Rule "probabilities are finite and non-negative" failed for 1 row \(first: 1\)/);
    p[3] = 0;
    try {
      checkProbabilityMatrix(p, 3, 3, '"x"');
      throw new Error('no error');
    } catch (e) {
      expect((e as OffpolicyError).code).toBe('E_POLICY_PROBS');
      expect((e as Error).message).toMatch(/Rule "probabilities sum to 1 \(tolerance 1e-6\)" failed for 1 row \(first: 2\)/);
    }
  });
});

describe('support deficiency', () => {
  // Row 3's logger gives action 1 probability 0.2; make a log copy where pi0 = 0 on actions the candidate uses.
  let defLog: string;
  beforeAll(async () => {
    const rows = LOG.map((r, i) => {
      const pi0 = i === 0 ? [0.5, 0.5, 0] : r.pi0; // the candidate puts 0.3 on action 2 in row 0
      return `(${i}::BIGINT, [${r.ctx.join(', ')}]::FLOAT[], ${r.a}::INTEGER, ${r.r}::DOUBLE, ${pi0[r.a]}::DOUBLE, ${arr(pi0)}, ${arr(PI[i]!)}, ${arr([0.6, 0.4, 0.2])})`;
    });
    await ws.createVersion({
      name: 'deficient',
      conn,
      select: `SELECT * FROM (VALUES ${rows.join(', ')}) t(row_id, context, action, reward, propensity, action_probs, cand, q) ORDER BY row_id`,
      metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: 3 }, lineage: { transform: 'test', params: {} } },
    });
    defLog = 'deficient';
  });

  it('reports it, refuses IPS-family estimates, and still runs DM', async () => {
    for (const interval of ['t', 'bootstrap'] as const) {
      const r = await evaluate(ws, { data: defLog, policies: [{ spec: 'column:cand' }], estimators: ['ips', 'dm', 'dr'], interval, rewardModel: 'columns:q', resamples: 50 });
      const c = r.candidates[0]!;
      expect(c.estimates.map((e) => e.estimator)).toEqual(['dm']);
      expect(c.diagnostics.supportDeficiency).toBeCloseTo(0.3 / 6, 12);
      expect(c.warnings.map((w) => w.code)).toContain('SUPPORT_DEFICIENT');
      const refused = c.warnings.find((w) => w.code === 'IPS_REFUSED')!;
      expect(refused.message).toMatch(/puts 5\.00% of its mass .* IPS-family estimates \(ips, dr\) are refused .* --allow-deficient/);
    }
  });

  it('checks column candidates on the fast path and when mixed with JSON policies', async () => {
    const uni = path.join(dir, 'uni2.json');
    await writeFile(uni, JSON.stringify({ type: 'uniform' }));
    const sumRule = /Rule "probabilities sum to 1 \(tolerance 1e-6\)" failed for 6 rows \(first: 0, 1, 2, 3, 4\)/;
    // q = [0.6, 0.4, 0.2] on every row sums to 1.2.
    await expectError(evaluate(ws, { data: defLog, policies: [{ spec: 'column:q' }], estimators: ['dm'], interval: 't', rewardModel: 'columns:q' }), 'E_POLICY_PROBS', sumRule);
    await expectError(evaluate(ws, { data: defLog, policies: [{ spec: uni }, { spec: 'column:q' }], estimators: ['dm'], interval: 't', rewardModel: 'columns:q' }), 'E_POLICY_PROBS', sumRule);
  });

  it('fails when only IPS-family estimators were asked for, and computes them with allowDeficient', async () => {
    await expectError(
      evaluate(ws, { data: defLog, policies: [{ spec: 'column:cand' }], estimators: ['ips', 'snips'], interval: 't' }),
      'E_SUPPORT_DEFICIENT',
      /every requested estimator \(ips, snips\) is importance-weighted/,
    );
    const r = await evaluate(ws, { data: defLog, policies: [{ spec: 'column:cand' }], estimators: ['ips'], interval: 't', allowDeficient: true });
    expect(r.candidates[0]!.estimates[0]!.estimator).toBe('ips');
    expect(r.candidates[0]!.warnings.map((w) => w.code)).toContain('SUPPORT_DEFICIENT');
  });
});
