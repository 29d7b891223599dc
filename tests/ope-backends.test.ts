/**
 * The two bandit backends (in memory, DuckDB) through evaluate(): on every case
 * the whole result JSON agrees, numbers to 1e-12 (relative above 1), everything
 * else exactly (createdAt aside). Cases: deficient support with allowDeficient and
 * without, ground truth from a synthetic log, a binding clip, the three
 * certificates, exact weight quantiles (with their second query), a declared
 * reward range that rewards break, a log without the logger's distribution.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lit, openMemoryConnection, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { Workspace } from '../src/datasets/workspace.js';
import { evaluate, type EvaluateOptions } from '../src/ope/evaluate.js';
import type { EvaluationResult } from '../src/core/evaluation-result.js';
import { Rng } from '../src/util/rng.js';
import { storeFastLog } from './ope-fastpath-helpers.js';
import { differences } from './support/differences.js';

let dir: string;
let ws: Workspace;
let conn: DuckDBConnection;
let synCandidate: string;

/** Both backends on the same options; returns the DuckDB result. */
async function bothBackends(opts: EvaluateOptions): Promise<EvaluationResult> {
  const viaDuckdb = JSON.parse(JSON.stringify(await evaluate(ws, opts))) as EvaluationResult;
  const inMemory = JSON.parse(JSON.stringify(await evaluate(ws, { ...opts, pushdown: 'never' }))) as EvaluationResult;
  for (const r of [viaDuckdb, inMemory]) r.createdAt = '';
  // Catoni's lambda is the argmin of a function flat at its minimum: a 1e-16 change in the risk moves it by ~1e-8 (the bound itself does not move).
  const lambdas = (r: EvaluationResult): number[] => r.candidates.flatMap((c) => c.certificates.filter((x) => x.kind === 'catoni-clipped-ips').map((x) => x.params.lambda!));
  expect(differences(lambdas(viaDuckdb), lambdas(inMemory), 1e-6)).toEqual([]);
  for (const r of [viaDuckdb, inMemory]) for (const c of r.candidates) for (const x of c.certificates) if (x.kind === 'catoni-clipped-ips') x.params.lambda = 0;
  expect(differences(viaDuckdb, inMemory, 1e-12)).toEqual([]);
  return viaDuckdb;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-backends-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  conn = await openMemoryConnection();
  // Deficient support: 1,200 rows, K = 4; on every third row the logger never takes action 3.
  const rng = new Rng(17);
  const rows: string[] = [];
  const arr = (v: number[]): string => `[${v.map((x) => `${x}::DOUBLE`).join(', ')}]`;
  const softmax = (s: number[]): number[] => {
    const e = s.map((v) => Math.exp(v));
    const z = e.reduce((x, y) => x + y, 0);
    return e.map((v) => v / z);
  };
  for (let i = 0; i < 1200; i++) {
    let pi0 = softmax([0, 1, 2, 3].map(() => rng.normal()));
    if (i % 3 === 0) pi0 = [pi0[0]! / (1 - pi0[3]!), pi0[1]! / (1 - pi0[3]!), pi0[2]! / (1 - pi0[3]!), 0];
    const a = rng.categorical(pi0);
    const er = [0, 1, 2, 3].map(() => rng.uniform());
    const r = rng.uniform() < er[a]! ? 1 : 0;
    const cand = softmax([0, 1, 2, 3].map(() => 1.5 * rng.normal()));
    const q = [0, 1, 2, 3].map(() => Math.round(1000 * rng.uniform()) / 1000);
    rows.push(`(${i}::BIGINT, ${a}::INTEGER, ${r}::DOUBLE, ${pi0[a]}::DOUBLE, ${arr(pi0)}, ${arr(er)}, ${arr(cand)}, ${arr(q)})`);
  }
  await ws.createVersion({
    name: 'deficient',
    conn,
    select: `SELECT * FROM (VALUES ${rows.join(', ')}) t(row_id, action, reward, propensity, action_probs, expected_reward, cand, q) ORDER BY row_id`,
    metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: 4 }, lineage: { transform: 'test', params: {} } },
  });
  // A synthetic log with ground truth, and a candidate table keyed by row_id (a tempered copy of the logger).
  await writeBanditDataset(ws, 'syn', generateBanditLog({ n: 1500, numActions: 5, contextDim: 3, reward: 'logistic', beta: -1, seed: 23 }));
  const syn = await ws.resolve('syn');
  synCandidate = path.join(dir, 'syn-candidate.parquet');
  await conn.run(
    `COPY (SELECT row_id, list_transform(action_probs, x -> (x * x) / list_dot_product(action_probs, action_probs)) AS p FROM read_parquet(${lit(syn.glob)}) ORDER BY row_id)
     TO ${lit(synCandidate)} (FORMAT parquet)`,
  );
  await storeFastLog(ws, conn, 'noprobs', { n: 800, k: 3, seed: 8, withLoggingProbs: false });
});
afterAll(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

describe('the in-memory and DuckDB backends give the same result JSON', () => {
  it('on deficient support with allowDeficient: every estimator, the three certificates, truth and the deficiency', async () => {
    const r = await bothBackends({ data: 'deficient', policies: [{ spec: 'column:cand' }], interval: 't', rewardModel: 'columns:q', clip: 4, allowDeficient: true });
    const c = r.candidates[0]!;
    expect(c.estimates).toHaveLength(9);
    expect(c.certificates.map((x) => x.kind)).toEqual(['catoni-clipped-ips', 'london-sandler', 'exponential-smoothing']);
    expect(c.diagnostics.supportDeficiency).toBeGreaterThan(0.01);
    expect(c.warnings.map((w) => w.code)).toContain('SUPPORT_DEFICIENT');
    expect(c.trueValue).toBeTypeOf('number');
    expect(r.logging.trueValue).toBeTypeOf('number');
  });

  it('on deficient support without it: the importance-weighted estimators and the certificates are refused alike', async () => {
    const r = await bothBackends({ data: 'deficient', policies: [{ spec: 'column:cand' }], interval: 'hoeffding', rewardModel: 'columns:q', estimators: ['ips', 'dm', 'dr'] });
    const c = r.candidates[0]!;
    expect(c.estimates.map((e) => e.estimator)).toEqual(['dm']);
    expect(c.certificates).toEqual([]);
    expect(c.warnings.map((w) => w.code)).toContain('IPS_REFUSED');
  });

  it('on a synthetic log with ground truth, a candidate table and a binding clip (Bernstein): truth, accuracy, quantiles', async () => {
    const r = await bothBackends({ data: 'syn', policies: [{ name: 'sharp', spec: synCandidate }, { name: 'logger', spec: 'column:action_probs' }], interval: 'bernstein', clip: 1.5, estimators: ['ips', 'clipped-ips', 'snips', 'es-ips'] });
    for (const c of r.candidates) expect(c.trueValue).toBeTypeOf('number');
    expect(r.accuracy!.length).toBeGreaterThan(0);
    const sharp = r.candidates[0]!;
    expect(sharp.estimates.find((e) => e.estimator === 'clipped-ips')!.value).not.toBe(sharp.estimates.find((e) => e.estimator === 'ips')!.value);
    expect(sharp.diagnostics.weightHistogram.length).toBeGreaterThan(2);
    // The logger as a candidate: every weight is exactly 1, one histogram bin [1, 1].
    expect(r.candidates[1]!.diagnostics.weightHistogram).toEqual([{ start: 1, end: 1, count: 1500 }]);
  });

  it('without the logger distribution, and with rewards outside a declared range (the certificates fail alike)', async () => {
    const skipped = await bothBackends({ data: 'noprobs', policies: [{ spec: 'column:far' }, { spec: 'column:near' }], interval: 't', rewardModel: 'columns:q' });
    expect(skipped.candidates[0]!.warnings.map((w) => w.code)).toContain('CERTIFICATE_SKIPPED');
    const outside = await bothBackends({ data: 'noprobs', policies: [{ spec: 'column:far' }], interval: 't', rewardModel: 'columns:q', rewardRange: [0, 0.5] });
    expect(outside.candidates[0]!.certificates).toEqual([]);
    expect(outside.candidates[0]!.warnings.filter((w) => w.code === 'CERTIFICATE_FAILED')).toHaveLength(2);
  });
});
