import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluationSetting, type EvaluationResult } from '../src/core/evaluation-result.js';
import { openMemoryConnection, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { Workspace } from '../src/datasets/workspace.js';
import { evaluate } from '../src/ope/evaluate.js';
import { buildJsonPolicy, UniformPolicy } from '../src/policies/json-policy.js';

let dir: string;
let ws: Workspace;
let conn: DuckDBConnection;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-core-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  conn = await openMemoryConnection();
  // A log with no context column: 8 rows, K = 2, logged uniformly.
  await ws.createVersion({
    name: 'nocontext',
    conn,
    select: `SELECT i::BIGINT AS row_id, (i % 2)::INTEGER AS action, (i % 3 = 0)::DOUBLE AS reward, 0.5::DOUBLE AS propensity FROM range(8) t(i)`,
    metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: 2 }, lineage: { transform: 'test', params: {} } },
  });
});
afterAll(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

describe('the Policy contract', () => {
  it('the uniform policy says it reads no contexts; others leave the flag out', async () => {
    expect(new UniformPolicy(3).usesContext).toBe(false);
    const soft = await buildJsonPolicy({ type: 'softmax', weights: [[1], [0]] }, 'soft.json', { numActions: 2, contextDim: 1 });
    expect(soft.usesContext).toBeUndefined();
  });

  it('evaluation warns NO_CONTEXT for a candidate that may read contexts, not for the uniform one', async () => {
    const uni = path.join(dir, 'uni.json');
    await writeFile(uni, JSON.stringify({ type: 'uniform' }));
    const eps = path.join(dir, 'eps.json');
    await writeFile(eps, JSON.stringify({ type: 'epsilon-greedy', epsilon: 0.5, base: { type: 'uniform' } }));
    const opts = { data: 'nocontext', interval: 't' as const, estimators: ['ips'] };
    const onlyUniform = await evaluate(ws, { ...opts, policies: [{ spec: uni, name: 'u' }] });
    expect(onlyUniform.warnings.filter((w) => w.code === 'NO_CONTEXT')).toEqual([]);
    // IPS of the uniform policy: mean of 0.5 / 0.5 * r = 3 / 8 (rows 0, 3, 6 have reward 1).
    expect(onlyUniform.candidates[0]!.estimates[0]!.value).toBeCloseTo(3 / 8, 14);
    const both = await evaluate(ws, { ...opts, policies: [{ spec: uni, name: 'u' }, { spec: eps, name: 'e' }] });
    expect(both.warnings.filter((w) => w.code === 'NO_CONTEXT').map((w) => w.message)).toEqual(['Candidate "e" was scored without contexts (the log has none).']);
  });
});

describe('the evaluation result tag', () => {
  it('bandit results carry no tag in their JSON, and an absent tag reads as bandit', async () => {
    const uni = path.join(dir, 'uni2.json');
    await writeFile(uni, JSON.stringify({ type: 'uniform' }));
    const r: EvaluationResult = await evaluate(ws, { data: 'nocontext', interval: 't', estimators: ['ips'], policies: [{ spec: uni }] });
    expect('setting' in JSON.parse(JSON.stringify(r))).toBe(false);
    expect(evaluationSetting(r)).toBe('bandit');
    expect(evaluationSetting({ setting: 'trajectory' })).toBe('trajectory');
  });
});
