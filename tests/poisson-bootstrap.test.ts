/**
 * The Poisson bootstrap of hashed row buckets: the hash and the Poisson(1)
 * thresholds against values computed independently (Python, 60-digit decimals),
 * the SQL path (DuckDB) against the in-memory counterpart to 1e-10 for every
 * estimator, reproducibility, and every bad input's error.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OffpolicyError } from '../src/core/errors.js';
import type { EvaluationResult } from '../src/core/evaluation-result.js';
import { openMemoryConnection, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { Workspace } from '../src/datasets/workspace.js';
import { poissonBootstrapSql } from '../src/ope/bandit/poisson-bootstrap-sql.js';
import { DUCKDB, type SqlDialect } from '../src/ope/bandit/sql-dialect.js';
import { ESTIMATOR_IDS, resolveParams } from '../src/ope/estimators/index.js';
import { evaluate, type EvaluateOptions } from '../src/ope/evaluate.js';
import { intervalsForTerms } from '../src/ope/intervals/index.js';
import { poissonBootstrapIntervals, poissonBucket, poissonKeys, poissonWeight, POISSON_THRESHOLDS } from '../src/ope/intervals/poisson-bootstrap.js';
import { trajectoryIntervals } from '../src/ope/trajectory/intervals.js';
import { fmix32, Rng } from '../src/util/rng.js';
import { expectNear, storeFastLog } from './ope-fastpath-helpers.js';
import { runCli } from './support/run-cli.js';

let dir: string;
let ws: Workspace;
let conn: DuckDBConnection;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-poisson-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  conn = await openMemoryConnection();
  await storeFastLog(ws, conn, 'fast', { n: 3000, k: 4, seed: 11 });
  // Sparse row ids with both 32-bit halves in use (up to 2^53 - 1), in no particular order of the data.
  await ws.createVersion({
    name: 'sparse',
    conn,
    select: `SELECT (CASE WHEN i = 0 THEN 9007199254740991 ELSE i * 8589934597 + (i % 7) END)::BIGINT AS row_id, (hash(i) % 3)::INTEGER AS action,
                    CASE WHEN hash(i * 7 + 1) % 10 < 4 THEN 1.0 ELSE 0.0 END::DOUBLE AS reward, (1 / 3)::DOUBLE AS propensity,
                    [0.6, 0.3, 0.1]::DOUBLE[] AS cand, [0.3, 0.5, 0.4]::DOUBLE[] AS q
             FROM range(1500) t(i)`,
    metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: 3 }, lineage: { transform: 'test', params: {} } },
  });
  await ws.createVersion({
    name: 'negative',
    conn,
    select: `SELECT (i - 5)::BIGINT AS row_id, 0::INTEGER AS action, (i % 2)::DOUBLE AS reward, 0.5::DOUBLE AS propensity, [0.5, 0.5]::DOUBLE[] AS cand FROM range(50) t(i)`,
    metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: 2 }, lineage: { transform: 'test', params: {} } },
  });
});
afterAll(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (e instanceof OffpolicyError) return e.code;
    throw e;
  }
  return undefined;
};
const codeAsync = async (p: Promise<unknown>): Promise<string | undefined> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof OffpolicyError) return e.code;
    throw e;
  }
  return undefined;
};

describe('hash and weights', () => {
  it('fmix32, the seed keys and the buckets match an independent implementation', () => {
    // Python: MurmurHash3 fmix32 over arbitrary-precision ints masked to 32 bits.
    expect([0, 1, 2, 0xdeadbeef, 0xffffffff].map(fmix32)).toEqual([0, 1364076727, 821347078, 233162409, 2180083513]);
    const keys = poissonKeys(0);
    expect(keys).toEqual({ bucket: 964909817, weight: 1959162634 });
    expect([0, 1, 2 ** 40 + 5, 2 ** 53 - 1].map((r) => poissonBucket(r, keys, 10_000))).toEqual([9017, 885, 315, 4136]);
    // Seeds beyond 32 bits and negative seeds are their own keys.
    expect(poissonKeys(2 ** 32)).not.toEqual(poissonKeys(0));
    expect(poissonKeys(-1)).not.toEqual(poissonKeys(2 ** 32 - 1));
  });

  it('thresholds are floor(F(k) 2^32) of the Poisson(1) CDF (60-digit decimals)', () => {
    expect(POISSON_THRESHOLDS).toEqual([1580030168, 3160060337, 3950075421, 4213413783, 4279248373, 4292415291, 4294609777, 4294923276, 4294962463, 4294966817, 4294967252, 4294967292, 4294967295]);
  });

  it('weights are Poisson(1): mean, variance, P(0), P(1), and no correlation between resamples or buckets', () => {
    const keys = poissonKeys(123);
    const G = 400, B = 500;
    const w = new Float64Array(G * B);
    for (let g = 0; g < G; g++) for (let b = 0; b < B; b++) w[g * B + b] = poissonWeight(keys, g, b);
    const m = w.reduce((s, x) => s + x, 0) / w.length;
    const v = w.reduce((s, x) => s + (x - m) ** 2, 0) / (w.length - 1);
    const p0 = w.filter((x) => x === 0).length / w.length;
    const p1 = w.filter((x) => x === 1).length / w.length;
    // 200,000 draws: standard errors about 0.0022 (mean), 0.005 (variance), 0.0011 (P(0), P(1)).
    expect(Math.abs(m - 1)).toBeLessThan(0.01);
    expect(Math.abs(v - 1)).toBeLessThan(0.025);
    expect(Math.abs(p0 - Math.exp(-1))).toBeLessThan(0.005);
    expect(Math.abs(p1 - Math.exp(-1))).toBeLessThan(0.005);
    const corr = (x: (i: number) => number, y: (i: number) => number, len: number): number => {
      let sx = 0, sy = 0, sxy = 0, sxx = 0, syy = 0;
      for (let i = 0; i < len; i++) {
        const a = x(i), b = y(i);
        sx += a; sy += b; sxy += a * b; sxx += a * a; syy += b * b;
      }
      return (sxy - (sx * sy) / len) / Math.sqrt((sxx - (sx * sx) / len) * (syy - (sy * sy) / len));
    };
    // Neighbouring resamples of one bucket, and neighbouring buckets in one resample (sd ~ 0.0022).
    expect(Math.abs(corr((i) => w[i * 2]!, (i) => w[i * 2 + 1]!, (G * B) / 2))).toBeLessThan(0.012);
    expect(Math.abs(corr((i) => w[(i % (G - 1)) * B + Math.floor(i / (G - 1))]!, (i) => w[((i % (G - 1)) + 1) * B + Math.floor(i / (G - 1))]!, (G - 1) * B))).toBeLessThan(0.012);
  });
});

describe('in memory', () => {
  const rng = new Rng(5);
  const n = 400;
  const num = Float64Array.from({ length: n }, () => rng.uniform());
  const den = Float64Array.from({ length: n }, () => 0.5 + rng.uniform());

  it('resamples units of the hash buckets: G buckets give at most G units; a bucket resample weights its rows together', () => {
    const one = poissonBootstrapIntervals([{ num, den: null, base: null }], null, { alpha: 0.1, seed: 1, buckets: 2, resamples: 50 });
    expect(one.units).toBe(2);
    // Ratio of sums: with two buckets, each replicate is one of a few weighted combinations of the two bucket means.
    const keys = poissonKeys(1);
    const sums = [0, 0], counts = [0, 0];
    for (let i = 0; i < n; i++) {
      const g = poissonBucket(i, keys, 2);
      sums[g]! += num[i]!;
      counts[g]! += 1;
    }
    for (let b = 0; b < 50; b++) {
      const w = [poissonWeight(keys, 0, b), poissonWeight(keys, 1, b)];
      const want = (w[0]! * sums[0]! + w[1]! * sums[1]!) / (w[0]! * counts[0]! + w[1]! * counts[1]!);
      const got = one.replicates[0]![b]!;
      if (Number.isNaN(want)) expect(got).toBeNaN();
      else expect(got).toBeCloseTo(want, 12);
    }
    const many = poissonBootstrapIntervals([{ num, den: null, base: null }], null, { alpha: 0.1, seed: 1 });
    expect(many.units).toBeGreaterThan(380); // 400 rows in 10,000 buckets: about 392 non-empty
  });

  it('self-normalised terms resample numerator and denominator together; intervalsForTerms gives the same', () => {
    const terms = [{ num, den, base: null }];
    const a = poissonBootstrapIntervals(terms, null, { alpha: 0.05, seed: 3, resamples: 300 });
    const b = intervalsForTerms(terms, { method: 'poisson-bootstrap', alpha: 0.05, seed: 3, resamples: 300 });
    expect(b[0]).toEqual(a.intervals[0]);
    const point = num.reduce((s, x) => s + x, 0) / den.reduce((s, x) => s + x, 0);
    expect(a.intervals[0]!.lower).toBeLessThan(point);
    expect(a.intervals[0]!.upper).toBeGreaterThan(point);
    expect(a.intervals[0]!.method).toBe('poisson-bootstrap');
    // Row ids decide the buckets: the same rows under other ids give other resamples.
    const shifted = poissonBootstrapIntervals(terms, Float64Array.from({ length: n }, (_, i) => i + 1_000_000), { alpha: 0.05, seed: 3, resamples: 300 });
    expect(shifted.intervals[0]).not.toEqual(a.intervals[0]);
  });

  it('reports progress', () => {
    const seen: number[] = [];
    poissonBootstrapIntervals([{ num, den: null, base: null }], null, { alpha: 0.05, seed: 0, resamples: 200, onProgress: (d) => seen.push(d) });
    expect(seen.length).toBe(100);
    expect(seen[seen.length - 1]).toBe(200);
  });

  it('refuses bad options and inputs with typed errors', () => {
    const t = [{ num, den: null, base: null }];
    expect(code(() => poissonBootstrapIntervals(t, null, { alpha: 0.05, seed: 0, resamples: 1 }))).toBe('E_BOOTSTRAP_RESAMPLES');
    expect(code(() => poissonBootstrapIntervals(t, null, { alpha: 0.05, seed: 0, buckets: 1 }))).toBe('E_BOOTSTRAP_UNITS');
    expect(code(() => poissonBootstrapIntervals(t, null, { alpha: 0.05, seed: 0, buckets: 2_000_000 }))).toBe('E_BOOTSTRAP_UNITS');
    expect(code(() => poissonBootstrapIntervals(t, null, { alpha: 0.05, seed: 0.5 }))).toBe('E_SEED');
    expect(code(() => poissonBootstrapIntervals(t, null, { alpha: 1.5, seed: 0 }))).toBe('E_ALPHA');
    expect(code(() => poissonBootstrapIntervals(t, Float64Array.from({ length: n }, (_, i) => i - 1), { alpha: 0.05, seed: 0 }))).toBe('E_ROW_ID');
    expect(code(() => poissonBootstrapIntervals(t, Float64Array.from({ length: n }, (_, i) => i + 2 ** 53), { alpha: 0.05, seed: 0 }))).toBe('E_ROW_ID');
    expect(code(() => poissonBootstrapIntervals(t, new Float64Array(3), { alpha: 0.05, seed: 0 }))).toBe('E_BOOTSTRAP_SHAPE');
    expect(code(() => poissonBootstrapIntervals([t[0]!, { num: new Float64Array(3), den: null, base: null }], null, { alpha: 0.05, seed: 0 }))).toBe('E_BOOTSTRAP_SHAPE');
    expect(code(() => poissonBootstrapIntervals([{ num: new Float64Array(1), den: null, base: null }], null, { alpha: 0.05, seed: 0 }))).toBe('E_TOO_FEW_ROWS');
    expect(code(() => intervalsForTerms(t, { method: 'poisson-bootstrap', alpha: 0.05 }))).toBe('E_SEED_REQUIRED');
    expect(code(() => trajectoryIntervals([{ estimator: { id: 'tis', label: 'TIS', selfNormalized: false }, terms: num } as never], { method: 'poisson-bootstrap', alpha: 0.05, seed: 0 }))).toBe('E_INTERVAL_METHOD');
  });
});

const byEstimator = (r: EvaluationResult): Map<string, { lower: number; upper: number; method: string }> =>
  new Map(r.candidates[0]!.estimates.map((e) => [e.estimator, e.interval! as { lower: number; upper: number; method: string }]));

describe('SQL (DuckDB) equals the in-memory counterpart', () => {
  const cases: { label: string; opts: Omit<EvaluateOptions, 'pushdown'> }[] = [
    { label: 'continuous logger, all nine estimators', opts: { data: 'fast', policies: [{ name: 'far', spec: 'column:far' }], rewardModel: 'columns:q', interval: 'poisson-bootstrap', seed: 4, resamples: 400 } },
    { label: 'a binding clip, few buckets (blocks of ~100 rows)', opts: { data: 'fast', policies: [{ name: 'far', spec: 'column:far' }], rewardModel: 'columns:q', interval: 'poisson-bootstrap', seed: 9, resamples: 300, clip: 2, bootstrapBuckets: 30 } },
    { label: 'sparse row ids up to 2^53 - 1', opts: { data: 'sparse', policies: [{ name: 'cand', spec: 'column:cand' }], rewardModel: 'columns:q', interval: 'poisson-bootstrap', seed: -7, resamples: 300, bootstrapBuckets: 1000 } },
  ];
  for (const { label, opts } of cases) {
    it(label, async () => {
      const sql = await evaluate(ws, { ...opts, pushdown: 'auto' });
      const mem = await evaluate(ws, { ...opts, pushdown: 'never' });
      const a = byEstimator(sql), b = byEstimator(mem);
      expect([...a.keys()].sort()).toEqual([...ESTIMATOR_IDS].sort());
      for (const [id, iv] of a) {
        expect(iv.method).toBe('poisson-bootstrap');
        expect(iv.lower).toBeLessThan(iv.upper);
        expectNear(iv.lower, b.get(id)!.lower, `${label} ${id} lower`);
        expectNear(iv.upper, b.get(id)!.upper, `${label} ${id} upper`);
      }
      expectNear(sql.logging.interval!.lower, mem.logging.interval!.lower, `${label} logging lower`);
      expectNear(sql.logging.interval!.upper, mem.logging.interval!.upper, `${label} logging upper`);
      expect(sql.settings.bootstrapResamples).toBe(opts.resamples);
      expect(sql.settings.bootstrapBuckets).toBe(opts.bootstrapBuckets ?? 10_000);
    });
  }

  it('the same seed gives the same bytes; another seed other intervals', async () => {
    const opts: EvaluateOptions = { data: 'fast', policies: [{ name: 'far', spec: 'column:far' }], rewardModel: 'columns:q', interval: 'poisson-bootstrap', seed: 21, resamples: 200 };
    const strip = (r: EvaluationResult): string => JSON.stringify({ ...r, createdAt: '' });
    const one = await evaluate(ws, opts);
    expect(strip(await evaluate(ws, opts))).toBe(strip(one));
    const other = await evaluate(ws, { ...opts, seed: 22 });
    expect(byEstimator(other).get('ips')).not.toEqual(byEstimator(one).get('ips'));
  });

  it('refuses row ids outside [0, 2^53) on both paths, and a dialect without the integer primitives', async () => {
    const opts: EvaluateOptions = { data: 'negative', policies: [{ name: 'cand', spec: 'column:cand' }], estimators: ['ips'], interval: 'poisson-bootstrap', seed: 0 };
    expect(await codeAsync(evaluate(ws, opts))).toBe('E_ROW_ID');
    expect(await codeAsync(evaluate(ws, { ...opts, pushdown: 'never' }))).toBe('E_ROW_ID');
    const { int64: _i, xor: _x, shiftRight: _s, mod: _m, intDiv: _d, mulMod32: _u, countAtMost: _c, crossRange: _r, ...bare } = DUCKDB as SqlDialect & Record<string, unknown>;
    const log = await ws.resolve('negative');
    const params = resolveParams({}, 50);
    const input = {
      log,
      candidate: { type: 'sql' as const, name: 'cand', source: 'column:cand', probs: { kind: 'list' as const, expr: 'l.cand' } },
      numActions: 2,
      plan: { estimators: ['ips' as const], params, tau: 0.1, quantiles: [0.5], rewardsMayBeNull: false, rewardShift: 0 },
      estimators: ['ips' as const],
    };
    expect(code(() => poissonBootstrapSql(bare, input, { seed: 0 }))).toBe('E_DIALECT');
    expect(poissonBootstrapSql(DUCKDB, input, { seed: 0 }).sql).toContain('CROSS JOIN range(1000)');
  });

  it('evaluate refuses bad resamples and bucket counts', async () => {
    const opts: EvaluateOptions = { data: 'fast', policies: [{ name: 'far', spec: 'column:far' }], estimators: ['ips'], interval: 'poisson-bootstrap', seed: 0 };
    expect(await codeAsync(evaluate(ws, { ...opts, resamples: 0 }))).toBe('E_LIMIT_RESAMPLES');
    expect(await codeAsync(evaluate(ws, { ...opts, bootstrapBuckets: 1 }))).toBe('E_BOOTSTRAP_UNITS');
  });

  it('runs as `offpolicy evaluate --interval poisson-bootstrap --buckets G` and equals the library call', async () => {
    const file = path.join(dir, 'cli.json');
    const args = ['-w', path.join(dir, 'ws'), 'evaluate', '--data', 'fast', '--policy', 'far=column:far', '--estimators', 'ips,snips,dr', '--reward-model', 'columns:q'];
    const { err, code: exit } = await runCli([...args, '--interval', 'poisson-bootstrap', '--resamples', '200', '--buckets', '500', '--seed', '3', '--out', file]);
    expect(exit, err).toBe(0);
    const cli = JSON.parse(await readFile(file, 'utf8')) as EvaluationResult;
    expect(cli.settings).toMatchObject({ interval: 'poisson-bootstrap', bootstrapResamples: 200, bootstrapBuckets: 500 });
    const lib = await evaluate(ws, { data: 'fast', policies: [{ name: 'far', spec: 'column:far' }], estimators: ['ips', 'snips', 'dr'], rewardModel: 'columns:q', interval: 'poisson-bootstrap', resamples: 200, bootstrapBuckets: 500, seed: 3 });
    expect(cli.candidates[0]!.estimates).toEqual(lib.candidates[0]!.estimates);
    const bad = await runCli([...args, '--interval', 'poisson-bootstrap', '--buckets', '1', '--out', path.join(dir, 'bad.json')]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain('E_BOOTSTRAP_UNITS');
  });
});
