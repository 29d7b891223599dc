/**
 * Learned policies as OPE candidates: a discrete learner trained on one part of
 * a synthetic bandit log (read as one-step episodes) is scored by evaluate() on
 * the other parts, where the log's expected_reward column gives its true value.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMemoryConnection, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { splitDataset } from '../src/datasets/split.js';
import { trueValue, writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import type { DatasetVersion } from '../src/datasets/workspace.js';
import { Workspace } from '../src/datasets/workspace.js';
import { generateTrajectories, writeTrajectoryDataset } from '../src/envs/trajectories.js';
import { expectRejects } from './support/expect-error.js';
import { trainBc } from '../src/offline-rl/bc.js';
import { banditLogToTrajectoryArrays, loadBanditTrainingArrays } from '../src/offline-rl/discrete/bandit.js';
import type { CategoricalMlpPolicy } from '../src/offline-rl/discrete/categorical-policy.js';
import { trainDiscrete } from '../src/offline-rl/discrete/learners.js';
import { loadDiscretePolicyDir, loadPolicyDir } from '../src/offline-rl/discrete/policy-dir.js';
import { trajectoryDataToArrays } from '../src/offline-rl/from-generated.js';
import { evaluate } from '../src/ope/evaluate.js';
import { loadBanditArrays } from '../src/datasets/load-bandit.js';
import { loadCandidate, type CandidateContext } from '../src/policies/candidates.js';
import { ensureTfBackend } from '../src/util/tf-backend.js';

const K = 5;
const D = 5;
const EVAL_PARTS = ['clicks-e1', 'clicks-e2', 'clicks-e3', 'clicks-e4'];
let dir: string;
let ws: Workspace;
let conn: DuckDBConnection;
let train: DatasetVersion;
let iql: CategoricalMlpPolicy;
let bc: CategoricalMlpPolicy;
let iqlDir: string;

beforeAll(async () => {
  await ensureTfBackend();
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-learned-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  conn = await openMemoryConnection();
  // one logger and one reward function (seed 11), 12,000 rows split by row_id into a training part and four evaluation parts
  await writeBanditDataset(ws, 'clicks', generateBanditLog({ n: 12000, numActions: K, contextDim: D, reward: 'logistic', beta: -1, seed: 11 }));
  const parts = await splitDataset(ws, 'clicks', { ratios: [0.4, 0.15, 0.15, 0.15, 0.15], seed: 1, names: ['clicks-train', ...EVAL_PARTS] });
  train = parts[0]!.version;
  const data = await loadBanditTrainingArrays(conn, train);
  const opts = { seed: 0, hidden: [32, 32], batchSize: 128, lr: 1e-3 };
  iql = (await trainDiscrete('iql', data, { ...opts, steps: 1500 })).policy;
  bc = (await trainDiscrete('bc', data, { ...opts, steps: 500 })).policy;
  iqlDir = path.join(dir, 'iql-policy');
  await iql.save(iqlDir);
  // mismatched logs: 3 actions, or 3 context features
  await writeBanditDataset(ws, 'k3', generateBanditLog({ n: 200, numActions: 3, contextDim: D, reward: 'logistic', beta: -1, seed: 2 }));
  await writeBanditDataset(ws, 'd3', generateBanditLog({ n: 200, numActions: K, contextDim: 3, reward: 'logistic', beta: -1, seed: 2 }));
}, 60_000);
afterAll(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

async function context(ref: string, loader?: CandidateContext['loadPolicyDir']): Promise<CandidateContext> {
  const log = await ws.resolve(ref);
  const space = log.metadata.actionSpace;
  const obs = log.metadata.observationSpace;
  return {
    conn,
    log,
    numActions: space?.type === 'discrete' ? space.n : 0,
    contextDim: obs?.type === 'box' ? obs.shape[0]! : 0,
    ...(loader ? { loadPolicyDir: loader } : {}),
  };
}


describe('a bandit log as training data', () => {
  it('every row is a terminated one-step episode: context -> observation, log propensity -> behavior_logprob', async () => {
    const data = await loadBanditTrainingArrays(conn, train);
    const log = await loadBanditArrays(conn, train);
    expect(data.n).toBe(train.metadata.rowCount);
    expect(data.n).toBe(log.n);
    expect(data).toMatchObject({ obsDim: D, actDim: 1, discreteActions: K });
    expect([...data.observations]).toEqual([...log.contexts]);
    expect([...data.actions]).toEqual([...log.actions]);
    expect([...data.rewards]).toEqual([...log.rewards]);
    expect([...data.episodeId]).toEqual([...log.rowIds]);
    expect(data.terminated.every((t) => t === 1)).toBe(true);
    expect(data.nextObservationMissing!.every((m) => m === 1)).toBe(true);
    expect(data.step.every((s) => s === 0)).toBe(true);
    for (const i of [0, 17, data.n - 1]) expect(data.behaviorLogprob![i]).toBe(Math.log(log.propensities![i]!));
    const some = await loadBanditTrainingArrays(conn, train, { where: 'row_id < 1000' });
    expect(some.n).toBeGreaterThan(300);
    expect(some.n).toBeLessThan(500);
    expect(Math.max(...some.episodeId)).toBeLessThan(1000);
  });
  it('errors: a missing context column, a trajectory dataset', async () => {
    await expectRejects(loadBanditTrainingArrays(conn, train, { contextColumns: ['x0', 'context'] }), 'E_MISSING_COLUMN', /^Context column\(s\) x0 are not in clicks-train@1\. Columns found: row_id, context, action/);
    const traj = await writeTrajectoryDataset(ws, 'cart', generateTrajectories({ env: 'cartpole', policy: 'random', episodes: 2, seed: 1 }));
    await expectRejects(loadBanditTrainingArrays(conn, traj), 'E_DATASET_KIND', "Dataset cart@1 is a trajectory dataset, not a bandit log. Pick a bandit log (offpolicy datasets list shows each dataset's kind); trajectory data loads with loadTrajectoryArrays.");
  });
});

describe('learned policies as OPE candidates', () => {
  it('IQL trained on one part beats the logger on the others; BC matches the logger', async () => {
    const e = await loadBanditArrays(conn, await ws.resolve(EVAL_PARTS[0]!));
    const logger = trueValue(e.expectedRewards!, e.actionProbs!, e.n, K);
    const iqlTrue = trueValue(e.expectedRewards!, iql.actionProbs(e.contexts, e.n), e.n, K);
    const bcTrue = trueValue(e.expectedRewards!, bc.actionProbs(e.contexts, e.n), e.n, K);
    console.log(`true values on ${EVAL_PARTS[0]}: logger ${logger.toFixed(4)}, bc ${bcTrue.toFixed(4)}, iql ${iqlTrue.toFixed(4)}`);
    expect(iqlTrue - logger).toBeGreaterThan(0.03);
    expect(Math.abs(bcTrue - logger)).toBeLessThan(0.01);
  });

  it('a policy directory loads as a candidate through the injected loader and scores like the trained policy', async () => {
    const ctx = await context(EVAL_PARTS[0]!, loadDiscretePolicyDir);
    const cand = await loadCandidate({ spec: iqlDir }, ctx);
    expect(cand).toMatchObject({ type: 'policy', name: 'iql-policy', source: `dir:${iqlDir}` });
    const named = await loadCandidate({ name: 'learned', spec: iqlDir }, ctx);
    expect(named.name).toBe('learned');
    const e = await loadBanditArrays(conn, await ws.resolve(EVAL_PARTS[0]!));
    if (cand.type !== 'policy') throw new Error('expected a policy candidate');
    expect([...cand.policy.actionProbs(e.contexts, e.n)]).toEqual([...iql.actionProbs(e.contexts, e.n)]);
  });

  it('evaluate() estimates are consistent with the true value on four independent evaluation logs', async () => {
    const loaded = await loadDiscretePolicyDir(iqlDir);
    let covered = 0;
    let sumErr = 0;
    const rows: string[] = [];
    for (const part of EVAL_PARTS) {
      const r = await evaluate(ws, { data: part, policies: [{ name: 'iql', spec: loaded }, { name: 'bc', spec: bc }], estimators: ['ips', 'snips', 'dr'], interval: 't', seed: 0 });
      const [c, b] = r.candidates;
      const e = await loadBanditArrays(conn, await ws.resolve(part));
      // evaluate() scored the policy on this log's contexts: its true value is the one computed here
      expect(c!.trueValue).toBeCloseTo(trueValue(e.expectedRewards!, iql.actionProbs(e.contexts, e.n), e.n, K), 10);
      expect(b!.trueValue).toBeCloseTo(trueValue(e.expectedRewards!, bc.actionProbs(e.contexts, e.n), e.n, K), 10);
      const dr = c!.estimates.find((x) => x.estimator === 'dr')!;
      if (dr.interval!.lower <= c!.trueValue! && c!.trueValue! <= dr.interval!.upper) covered++;
      sumErr += dr.value - c!.trueValue!;
      for (const est of c!.estimates) expect(Math.abs(est.value - c!.trueValue!)).toBeLessThan(0.06);
      expect(c!.diagnostics.ess).toBeGreaterThan(0.3 * e.n);
      rows.push(`${part}: true ${c!.trueValue!.toFixed(4)}, DR ${dr.value.toFixed(4)} [${dr.interval!.lower.toFixed(4)}, ${dr.interval!.upper.toFixed(4)}]`);
    }
    console.log(rows.join('\n'));
    // 95% intervals: all four cover here (a miss would have probability about 0.05 each)
    expect(covered).toBeGreaterThanOrEqual(3);
    expect(Math.abs(sumErr / EVAL_PARTS.length)).toBeLessThan(0.015);
  }, 30_000);

  it('errors: K mismatch, context-dimension mismatch, no loader, a continuous policy, an empty directory', async () => {
    await expectRejects(
      loadCandidate({ spec: iqlDir }, await context('k3', loadDiscretePolicyDir)),
      'E_ACTION_SPACE',
      `Policy "iql-policy" (${iqlDir}) has 5 actions, but the log's action space has K = 3. Evaluate the policy on a log with the same action space.`,
    );
    await expectRejects(
      loadCandidate({ spec: iqlDir }, await context('d3', loadDiscretePolicyDir)),
      'E_CONTEXT_DIM',
      `Policy "iql-policy" (${iqlDir}) takes 5-dimensional inputs, but the contexts of d3@1 have 3 features. Evaluate the policy on a log with the same context features as its training data (or pick them with --context-columns).`,
    );
    // the API path (a Policy object) checks the same through evaluate()
    await expectRejects(evaluate(ws, { data: 'd3', policies: [{ name: 'learned', spec: iql }], interval: 't' }), 'E_CONTEXT_DIM', /^Policy "learned" takes 5-dimensional inputs, but the contexts of d3@1 have 3 features\./);
    await expectRejects(evaluate(ws, { data: 'k3', policies: [{ name: 'learned', spec: iql }], interval: 't' }), 'E_ACTION_SPACE', /^Policy "learned" has 5 actions, but the log's action space has K = 3\./);
    await expectRejects(
      loadCandidate({ spec: iqlDir }, await context(EVAL_PARTS[0]!)),
      'E_POLICY_SPEC',
      `Policy ${iqlDir} is a directory, and this caller gave no loader for trained policy directories. Pass loadPolicyDir (offpolicy exports it) in the evaluate options, or give a .parquet/.csv probability table, a .json policy file or column:NAME.`,
    );
    const pendulum = trajectoryDataToArrays(generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 1, seed: 3 }));
    const contDir = path.join(dir, 'continuous');
    await (await trainBc(pendulum, { steps: 2, seed: 1, hidden: [8], batchSize: 16 })).policy.save(contDir);
    await expectRejects(
      loadCandidate({ spec: contDir }, await context(EVAL_PARTS[0]!, loadPolicyDir)),
      'E_POLICY_KIND',
      `Policy ${contDir} outputs 1-dimensional continuous actions, not probabilities over the log's actions. A bandit log needs a policy trained on discrete actions (e.g. offpolicy train bc on a bandit log).`,
    );
    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    await expectRejects(loadCandidate({ spec: empty }, await context(EVAL_PARTS[0]!, loadDiscretePolicyDir)), 'E_POLICY_NOT_FOUND', /^No policy\.json in .*empty\./);
  });

  it('a log without contexts cannot train a policy', () => {
    expect(() =>
      banditLogToTrajectoryArrays({ n: 1, numActions: 2, contextDim: 0, contexts: new Float32Array(0), actions: Int32Array.of(1), rewards: Float64Array.of(0) }),
    ).toThrow(/no context features/);
  });
});
