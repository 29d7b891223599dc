import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSampleData, SAMPLE } from '../scripts/make-sample-data.js';
import { openMemoryConnection, queryRows, lit } from '../src/datasets/duckdb.js';

const hash = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');

describe('sample data', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-sample-'));
    await makeSampleData(path.join(dir, 'a'), 0);
    await makeSampleData(path.join(dir, 'b'), 0);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the same bytes for the same seed, and the shipped data/ matches the script', async () => {
    const files = (await readdir(path.join(dir, 'a'))).sort();
    expect(files).toEqual(['README.md', 'bandit-candidate.csv', 'bandit-sample.csv', 'iris-bandit.parquet', 'pendulum-medium.parquet']);
    for (const f of files) {
      const h = await hash(path.join(dir, 'a', f));
      expect(await hash(path.join(dir, 'b', f))).toBe(h);
      expect(await hash(path.join('data', f)), `data/${f} is stale: rerun npx tsx scripts/make-sample-data.ts`).toBe(h);
    }
  });

  it('stays small (under 2 MB in total)', async () => {
    let total = 0;
    for (const f of await readdir(path.join(dir, 'a'))) total += (await stat(path.join(dir, 'a', f))).size;
    expect(total).toBeLessThan(2 * 1024 * 1024);
  });

  it('has the documented shapes', async () => {
    const K = SAMPLE.bandit.numActions;
    const conn = await openMemoryConnection();
    const csv = (f: string) => `read_csv(${lit(path.join(dir, 'a', f))}, header = true)`;
    const [b] = await queryRows(conn, `SELECT count(*)::INT AS n, min(propensity) AS pmin, max(propensity) AS pmax, count(DISTINCT action)::INT AS k FROM ${csv('bandit-sample.csv')}`);
    expect(b).toEqual({ n: SAMPLE.bandit.n, pmin: expect.any(Number), pmax: expect.any(Number), k: K });
    expect(b!.pmin as number).toBeGreaterThan(0);
    expect(b!.pmax as number).toBeLessThanOrEqual(1);
    const sums = await queryRows(conn, `SELECT max(abs(${Array.from({ length: K }, (_, a) => `p_${a}`).join(' + ')} - 1)) AS err, count(*)::INT AS n FROM ${csv('bandit-candidate.csv')}`);
    expect(sums[0]!.n).toBe(SAMPLE.bandit.n);
    expect(sums[0]!.err as number).toBeLessThan(1e-12);
    const [p] = await queryRows(conn, `SELECT count(*)::INT AS n, count(DISTINCT episode_id)::INT AS e, max(len(observation))::INT AS d FROM read_parquet(${lit(path.join(dir, 'a', 'pendulum-medium.parquet'))})`);
    expect(p).toEqual({ n: 200 * SAMPLE.pendulum.episodes, e: SAMPLE.pendulum.episodes, d: 3 });
    const [i] = await queryRows(conn, `SELECT count(*)::INT AS n, sum(reward) AS r FROM read_parquet(${lit(path.join(dir, 'a', 'iris-bandit.parquet'))})`);
    expect(i!.n).toBe(SAMPLE.iris.n);
    conn.closeSync();
  });
});
