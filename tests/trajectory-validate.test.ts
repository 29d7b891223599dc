import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openMemoryConnection, queryRows, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { episodeRowsSql, prepareTrajectoryChecks, type TrajectoryCheckContext } from '../src/datasets/validate-trajectory.js';
import { badRowsSql, findViolations, violationsError } from '../src/datasets/validation.js';
import { OffpolicyError } from '../src/core/errors.js';

let conn: DuckDBConnection;
beforeEach(async () => {
  conn = await openMemoryConnection();
});
afterEach(() => {
  conn.closeSync();
});

interface Step {
  ep: number;
  step: number | null;
  obs?: string;
  next?: string;
  act?: string;
  reward?: string;
  term?: boolean;
  trunc?: boolean;
}

/** Two clean episodes: ep 0 (3 steps, terminated), ep 1 (2 steps, truncated). */
function clean(): Step[] {
  return [
    { ep: 0, step: 0 },
    { ep: 0, step: 1 },
    { ep: 0, step: 2, term: true },
    { ep: 1, step: 0 },
    { ep: 1, step: 1, trunc: true },
  ];
}

/** Stages rows (with _row = position) as the ingest layer would. */
async function stage(steps: Step[], opts: { discrete?: boolean } = {}): Promise<void> {
  const values = steps.map(
    (s, i) =>
      `(${s.ep}, ${s.step ?? 'NULL'}, ${s.obs ?? `[${i}, ${i + 0.5}]`}, ${s.next ?? `[${i + 1}, ${i + 1.5}]`}, ${
        s.act ?? (opts.discrete ? '1' : '[0.5, -0.5]')
      }, ${s.reward ?? '1.0'}, ${s.term ?? false}, ${s.trunc ?? false}, ${i})`,
  );
  await conn.run(`CREATE OR REPLACE TABLE staged AS SELECT
      e::BIGINT AS episode_id, s::INTEGER AS step, o::FLOAT[] AS observation, n::FLOAT[] AS next_observation,
      a::${opts.discrete ? 'INTEGER' : 'FLOAT[]'} AS action, r::DOUBLE AS reward, te AS terminated, tr AS truncated, rw::BIGINT AS _row
    FROM (VALUES ${values.join(', ')}) v(e, s, o, n, a, r, te, tr, rw)`);
}

async function violations(ctx: TrajectoryCheckContext = {}) {
  const checks = await prepareTrajectoryChecks(conn, 'staged', ctx);
  return { checks, found: await findViolations(conn, checks.checkTable, checks.rules) };
}

async function onlyError(ctx: TrajectoryCheckContext = {}): Promise<OffpolicyError> {
  const { found } = await violations(ctx);
  expect(found).toHaveLength(1);
  return violationsError(found);
}

describe('prepareTrajectoryChecks', () => {
  it('passes clean episodes, including a NULL next_observation on a last step', async () => {
    const steps = clean();
    steps[2]!.next = 'NULL';
    await stage(steps);
    const { checks, found } = await violations({ actionSpace: { type: 'box', shape: [2], low: [-1, -1], high: [1, 1] } });
    expect(found).toEqual([]);
    expect(checks.widths).toEqual({ observation: 2, action: 2 });
  });

  it('E_STEP_GAP: a gap marks every row of the episode', async () => {
    const steps = clean();
    steps[2]!.step = 3;
    await stage(steps);
    const err = await onlyError();
    expect(err.code).toBe('E_STEP_GAP');
    expect(err.message).toBe(
      'Rule "steps of each episode run 0..T-1 without gaps or repeats" failed for 3 rows (first: 0, 1, 2). Every row of an episode with missing, repeated or out-of-order steps is counted. Renumber the steps 0..T-1, or pass --drop-invalid to drop those episodes.',
    );
    expect(err.details).toEqual({ rule: 'steps of each episode run 0..T-1 without gaps or repeats', count: 3, rows: [0, 1, 2] });
  });

  it('E_STEP_GAP: repeated steps, steps not starting at 0, and missing steps', async () => {
    for (const [label, mutate] of [
      ['repeat', (s: Step[]) => void (s[4]!.step = 0)],
      ['offset', (s: Step[]) => void ((s[3]!.step = 1), (s[4]!.step = 2))],
      ['null', (s: Step[]) => void (s[4]!.step = null)],
    ] as const) {
      const steps = clean();
      mutate(steps);
      await stage(steps);
      const { found } = await violations();
      expect(found.map((v) => [v.code, v.count, v.rows]), label).toEqual([['E_STEP_GAP', 2, [3, 4]]]);
    }
  });

  it('E_TERMINAL_FLAGS: a terminal flag before the last step', async () => {
    const steps = clean();
    steps[0]!.term = true;
    await stage(steps);
    const err = await onlyError();
    expect(err.code).toBe('E_TERMINAL_FLAGS');
    expect(err.message).toBe(
      'Rule "terminated/truncated set only on the last step of an episode, never both" failed for 3 rows (first: 0, 1, 2). Every row of an episode whose flags are misplaced is counted. Set the flag on the episode\'s last step only, or split the episode there.',
    );
  });

  it('E_TERMINAL_FLAGS: both flags on the last step', async () => {
    const steps = clean();
    steps[4]!.term = true;
    await stage(steps);
    const { found } = await violations();
    expect(found.map((v) => [v.code, v.count, v.rows])).toEqual([['E_TERMINAL_FLAGS', 2, [3, 4]]]);
  });

  it('E_RAGGED_VECTOR: an observation of another length', async () => {
    const steps = clean();
    steps[3]!.obs = '[1, 2, 3]';
    await stage(steps);
    const err = await onlyError();
    expect(err.code).toBe('E_RAGGED_VECTOR');
    expect(err.message).toBe(
      'Rule "every row has observation and next_observation of length 2, action of length 2" failed for 1 row (first: 3). Vector columns must have the same length on every row; fix or remove the short or long rows.',
    );
  });

  it('E_RAGGED_VECTOR: a short action against the declared box shape', async () => {
    const steps = clean();
    steps[1]!.act = '[0.5]';
    steps[2]!.act = '[0.5]';
    await stage(steps);
    // The most common action length is 2 here; a declared shape of [1] flags the others instead.
    expect((await violations()).found.map((v) => [v.code, v.rows])).toEqual([['E_RAGGED_VECTOR', [1, 2]]]);
    expect((await violations({ actionSpace: { type: 'box', shape: [1] } })).found.map((v) => [v.code, v.rows])).toEqual([
      ['E_RAGGED_VECTOR', [0, 3, 4]],
    ]);
  });

  it('E_NON_FINITE: NaN, infinity, NULL values and a missing next_observation mid-episode', async () => {
    const steps = clean();
    steps[0]!.obs = "[1, 'nan'::FLOAT]";
    steps[1]!.reward = "'inf'::DOUBLE";
    steps[3]!.act = '[NULL, 1]';
    steps[4]!.reward = 'NULL';
    steps[3]!.next = 'NULL';
    await stage(steps);
    const err = await onlyError();
    expect(err.code).toBe('E_NON_FINITE');
    expect(err.message).toBe(
      "Rule \"observation, action, reward, next_observation are finite numbers (no NaN, infinity or missing value; next_observation may be missing on an episode's last step only)\" failed for 4 rows (first: 0, 1, 3, 4). Replace or remove the rows with NaN, infinite or missing values.",
    );
  });

  it('E_ACTION_RANGE: discrete actions outside 0..n-1', async () => {
    const steps = clean();
    steps[1]!.act = '3';
    steps[4]!.act = '-1';
    await stage(steps, { discrete: true });
    const err = await onlyError({ actionSpace: { type: 'discrete', n: 3 } });
    expect(err.code).toBe('E_ACTION_RANGE');
    expect(err.message).toBe(
      'Rule "action in 0..2" failed for 2 rows (first: 1, 4). Actions must lie in the declared action space; check the action encoding (0-based) or the declared space.',
    );
  });

  it('E_ACTION_RANGE: box actions outside their bounds (a NaN action is only non-finite)', async () => {
    const steps = clean();
    steps[2]!.act = '[1.5, 0]';
    steps[3]!.act = "['nan'::FLOAT, 0]";
    await stage(steps);
    const { found } = await violations({ actionSpace: { type: 'box', shape: [2], low: [-1, -1], high: [1, 1] } });
    expect(found.map((v) => [v.code, v.rows])).toEqual([
      ['E_NON_FINITE', [3]],
      ['E_ACTION_RANGE', [2]],
    ]);
    const err = violationsError(found.slice(1));
    expect(err.code).toBe('E_ACTION_RANGE');
    expect(err.message).toBe(
      'Rule "action within the action space bounds [-1, -1] .. [1, 1]" failed for 1 row (first: 2). Actions must lie in the declared action space; check the action encoding (0-based) or the declared space.',
    );
  });

  it('lists every broken rule, and widens bad rows to whole episodes for dropping', async () => {
    const steps = [...clean(), { ep: 2, step: 0 }, { ep: 2, step: 1, term: true }];
    steps[3]!.obs = "['inf'::FLOAT, 0]";
    steps[5]!.term = true;
    await stage(steps);
    const { checks, found } = await violations();
    const err = violationsError(found);
    expect(err.code).toBe('E_TERMINAL_FLAGS');
    expect(err.message).toBe(
      '2 validation rules failed:\n' +
        '  - Rule "terminated/truncated set only on the last step of an episode, never both" failed for 2 rows (first: 5, 6). Every row of an episode whose flags are misplaced is counted. Set the flag on the episode\'s last step only, or split the episode there.\n' +
        '  - Rule "observation, action, reward, next_observation are finite numbers (no NaN, infinity or missing value; next_observation may be missing on an episode\'s last step only)" failed for 1 row (first: 3). Replace or remove the rows with NaN, infinite or missing values. ' +
        'Fix the input, or pass --drop-invalid to store only the valid rows and write the rejected ones beside the new version.',
    );
    const bad = await queryRows(conn, `SELECT DISTINCT _row::INT AS r FROM (${badRowsSql(checks.checkTable, checks.rules)}) ORDER BY r`);
    expect(bad.map((r) => r.r)).toEqual([3, 5, 6]);
    const widened = await queryRows(conn, `SELECT _row::INT AS r FROM (${episodeRowsSql(checks.checkTable, checks.rules)}) ORDER BY r`);
    expect(widened.map((r) => r.r)).toEqual([3, 4, 5, 6]);
  });

  it('refuses a staged table without a required column', async () => {
    await conn.run('CREATE TABLE staged AS SELECT 0::BIGINT AS episode_id, 0 AS step, 0::BIGINT AS _row');
    const err = (await prepareTrajectoryChecks(conn, 'staged').catch((e: unknown) => e)) as OffpolicyError;
    expect(err.code).toBe('E_MISSING_COLUMN');
    expect(err.message).toBe(
      'The staged trajectory table has no "observation" column. Columns found: episode_id, step, _row. Map it with --map observation=SOURCE_COLUMN.',
    );
  });
});
