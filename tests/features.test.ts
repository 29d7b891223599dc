/**
 * Features (issue 16, item 2): one-hot categorical columns with a level cap and
 * an "other" bucket, item features joined by action into reward models, learned
 * policies that carry their encoding, and describe / evaluate agreeing on what
 * the context is.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMemoryConnection, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { describeDataset, type BanditDescription } from '../src/datasets/describe.js';
import { actionFeaturesOf, describeFeatures, featureNames, fitLevels, levelIndex, resolveFeatures } from '../src/datasets/features.js';
import { ingest } from '../src/datasets/ingest/index.js';
import { loadBanditArrays, loadBanditRef, versionScan } from '../src/datasets/load-bandit.js';
import { Workspace } from '../src/datasets/workspace.js';
import { learnPolicy, writeLearnedPolicy } from '../src/learning/index.js';
import { loadPolicyDir } from '../src/offline-rl/discrete/policy-dir.js';
import { evaluate } from '../src/ope/evaluate.js';
import { fitLogistic } from '../src/ope/reward-models/index.js';
import { Rng } from '../src/util/rng.js';
import { obdLikeCsv, removeDir, tempDir } from './ingest-helpers.js';
import { runCli } from './support/run-cli.js';

let dir: string;
let ws: Workspace;
let conn: DuckDBConnection;
beforeAll(async () => {
  dir = await tempDir('offpolicy-features-test-');
  ws = await Workspace.open(path.join(dir, 'ws'));
  conn = await openMemoryConnection();
  // city: b x3, a x2, c, d, NULL; x numeric.
  await ws.createVersion({
    name: 'tiny',
    conn,
    select: `SELECT * FROM (VALUES
      (0::BIGINT, 0, 1.0::DOUBLE, 0.5::DOUBLE, 'b', 1.5::DOUBLE), (1, 1, 0.0, 0.5, 'a', 2.0), (2, 0, 1.0, 0.5, 'b', 0.0),
      (3, 1, 0.0, 0.5, 'c', -1.0), (4, 0, 0.0, 0.5, 'a', 3.0), (5, 1, 1.0, 0.5, 'b', 0.5), (6, 0, 1.0, 0.5, NULL, 1.0), (7, 1, 0.0, 0.5, 'd', 2.5)
    ) t(row_id, action, reward, propensity, city, x)`,
    metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: 2 }, lineage: { transform: 'test', params: {} } },
  });
});
afterAll(async () => {
  conn.closeSync();
  await removeDir(dir);
});

describe('one-hot encoding with a cap and an "other" bucket', () => {
  it('levels: most frequent first, ties by value, at most the cap; unseen values and NULL are other', () => {
    expect(fitLevels([['c', 1], ['b', 3], ['d', 1], ['a', 2]], 3)).toEqual(['b', 'a', 'c']);
    expect(fitLevels([['c', 1], ['b', 3]], 5)).toEqual(['b', 'c']);
    expect(levelIndex(['b', 'a'], 'a')).toBe(1);
    expect(levelIndex(['b', 'a'], 'zzz')).toBe(2);
    expect(levelIndex(['b', 'a'], null)).toBe(2);
    expect(levelIndex(['1', '2'], 2)).toBe(1);
  });

  it('exact encoding of a tiny table: [x, city=b, city=a, city=(other)] with --max-levels 2', async () => {
    const v = await ws.resolve('tiny');
    const d = await loadBanditArrays(conn, v, { contextColumns: ['x', 'city'], categorical: ['city'], maxLevels: 2 });
    expect(d.features).toEqual({ vectorWidth: 0, columns: [{ name: 'x', kind: 'numeric' }, { name: 'city', kind: 'categorical', levels: ['b', 'a'] }], maxLevels: 2, width: 4 });
    expect(featureNames(d.features!)).toEqual(['x', 'city=b', 'city=a', 'city=(other)']);
    expect(describeFeatures(d.features!)).toBe('column x, one-hot city (2 levels + other): 4 features');
    expect(d.contextDim).toBe(4);
    expect(Array.from(d.contexts)).toEqual([
      1.5, 1, 0, 0,
      2, 0, 1, 0,
      0, 1, 0, 0,
      -1, 0, 0, 1, // c: beyond the cap
      3, 0, 1, 0,
      0.5, 1, 0, 0,
      1, 0, 0, 1, // NULL
      2.5, 0, 0, 1, // d: beyond the cap
    ]);
  });

  it('a spec fitted on some rows applies to others: levels come from the fitting rows only, unseen levels go to other', async () => {
    const v = await ws.resolve('tiny');
    const spec = await resolveFeatures(conn, v, { categorical: ['city'], maxLevels: 5 }, `(SELECT * FROM ${versionScan(v)} WHERE row_id < 3)`);
    expect(spec.columns).toEqual([{ name: 'city', kind: 'categorical', levels: ['b', 'a'] }]);
    const later = await loadBanditArrays(conn, v, { features: spec, where: 'row_id >= 3' });
    expect(Array.from(later.contexts)).toEqual([0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1]);
  });

  it('a bad cap is E_MAX_LEVELS; a list column cannot be categorical', async () => {
    const v = await ws.resolve('tiny');
    await expect(resolveFeatures(conn, v, { categorical: ['city'], maxLevels: 0 })).rejects.toMatchObject({
      code: 'E_MAX_LEVELS',
      message: 'The cap on one-hot levels must be an integer between 1 and 10000, got 0. Pass e.g. --max-levels 32.',
    });
    await expect(resolveFeatures(conn, v, { categorical: ['nope', 'city'] })).rejects.toMatchObject({ code: 'E_MISSING_COLUMN', message: expect.stringMatching(/^Context column\(s\) nope are not in tiny@1\./) });
  });
});

/**
 * An OBD-layout log where clicks depend on a hashed user feature and on item
 * features (a category and a number) of many items (K = 200, 15 rows each):
 * the joint logistic model should predict held-out clicks better with them.
 */
async function syntheticItemLog(root: string): Promise<string> {
  const K = 200;
  const N = 3000;
  const rng = new Rng(5);
  const cats = ['x', 'y', 'z'];
  const items = Array.from({ length: K }, (_, a) => ({ cat: cats[a % 3]!, f: ((a * 7) % 5) / 2 - 1 }));
  const users = ['u0', 'u1', 'u2', 'u3'];
  const lines = [',timestamp,item_id,position,click,propensity_score,user_feature_0'];
  for (let i = 0; i < N; i++) {
    const u = users[rng.int(4)]!;
    const a = rng.int(K);
    const it = items[a]!;
    const z = -1 + (u === 'u0' ? 1.5 : u === 'u1' ? -1 : 0) + (it.cat === 'x' ? 1.2 : it.cat === 'z' ? -0.8 : 0) + 0.8 * it.f;
    lines.push(`${i},2019-11-24 00:00:00+00:00,${a},1,${rng.uniform() < 1 / (1 + Math.exp(-z)) ? 1 : 0},${1 / K},${u}`);
  }
  await mkdir(root, { recursive: true });
  await writeFile(path.join(root, 'log.csv'), lines.join('\n') + '\n');
  await writeFile(path.join(root, 'item_context.csv'), [',item_id,item_feature_0,item_feature_1', ...items.map((it, a) => `${a},${a},${it.cat},${it.f}`)].join('\n') + '\n');
  return path.join(root, 'log.csv');
}

describe('reward models with categorical and item features', () => {
  it('item features are encoded K x m from the recorded item table (numbers as they are, text one-hot)', async () => {
    await ingest(ws, await syntheticItemLog(path.join(dir, 'syn')), { name: 'syn' });
    const v = await ws.resolve('syn');
    const z = actionFeaturesOf(v, 200)!;
    expect(z.width).toBe(5);
    expect(z.names).toEqual(['item_feature_0=x', 'item_feature_0=y', 'item_feature_0=z', 'item_feature_0=(other)', 'item_feature_1']);
    // Items 0, 1, 2: categories x, y, z; f = 0/2 - 1, 7 % 5 / 2 - 1, 14 % 5 / 2 - 1.
    expect(Array.from(z.values.subarray(0, 15))).toEqual([1, 0, 0, 0, -1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1]);
    expect(z.missingActions).toEqual([]);
  });

  it('held-out log-loss: categorical + item features < categorical alone < nothing, and item features alone < nothing', async () => {
    const v = await ws.resolve('syn');
    const K = 200;
    const loss = async (categorical: boolean, items: boolean): Promise<number> => {
      const spec = await resolveFeatures(conn, v, categorical ? { categorical: ['user_feature_0'] } : {}, `(SELECT * FROM ${versionScan(v)} WHERE row_id < 2000)`);
      const train = await loadBanditArrays(conn, v, { features: spec, where: 'row_id < 2000' });
      const test = await loadBanditArrays(conn, v, { features: spec, where: 'row_id >= 2000' });
      const z = items ? actionFeaturesOf(v, K) : undefined;
      const model = fitLogistic({
        n: train.n, d: train.contextDim, numActions: K, contexts: train.contexts, actions: train.actions, rewards: train.rewards,
        ...(z ? { actionFeatures: { width: z.width, values: z.values } } : {}),
      });
      const q = model.predict(test.contexts, test.n);
      let s = 0;
      for (let i = 0; i < test.n; i++) {
        const p = q[i * K + test.actions[i]!]!;
        s -= test.rewards[i]! ? Math.log(p) : Math.log(1 - p);
      }
      return s / test.n;
    };
    const none = await loss(false, false);
    const cat = await loss(true, false);
    const items = await loss(false, true);
    const both = await loss(true, true);
    expect(cat).toBeLessThan(none - 0.03);
    expect(items).toBeLessThan(none - 0.005);
    expect(both).toBeLessThan(cat - 0.005);
  });

  it('evaluate says what the context is and what the reward model read', async () => {
    const r = await evaluate(ws, { data: 'syn', policies: [{ name: 'u', spec: await uniformFile() }], estimators: ['dm'], interval: 't', categorical: ['user_feature_0'] });
    expect(r.dataset.context).toBe('one-hot user_feature_0 (4 levels + other): 5 features');
    expect(r.settings.rewardModelInputs).toBe(
      'logistic on [context (one-hot user_feature_0 (4 levels + other): 5 features), action one-hot, item features of the action (5, from item_context.csv)] (the default: rewards lie in [0, 1]; choose with --reward-model)',
    );
    const plain = await evaluate(ws, { data: 'syn', policies: [{ name: 'u', spec: await uniformFile() }], estimators: ['dm'], interval: 't', rewardModel: 'ridge-per-action' });
    expect(plain.dataset.context).toBe('none');
    expect(plain.settings.rewardModelInputs).toBe(
      "one ridge model per action on [intercept]; the log gives it no context, so it predicts from the action alone; item features are constant within one action's model, so they are not used",
    );
  });
});

describe('propensity models read the one-hot context', () => {
  it('a log without propensities whose logger depends on a text column: the estimate recovers P(a | city)', async () => {
    // city a: action 0 on 3 of 4 rows; city b: action 1 on 3 of 4 rows (400 rows).
    await ws.createVersion({
      name: 'nolog',
      conn,
      select: `SELECT i::BIGINT AS row_id, CASE WHEN i % 2 = 0 THEN (CASE WHEN i % 8 = 6 THEN 1 ELSE 0 END) ELSE (CASE WHEN i % 8 = 7 THEN 0 ELSE 1 END) END::INTEGER AS action,
                      (i % 3 = 0)::INTEGER::DOUBLE AS reward, CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END AS city FROM range(400) t(i)`,
      metadata: { kind: 'bandit', actionSpace: { type: 'discrete', n: 2 }, lineage: { transform: 'test', params: {} }, extra: { categoricalColumns: ['city'] } },
    });
    const d = await loadBanditArrays(conn, await ws.resolve('nolog'), { contextColumns: ['city'] });
    const { estimatePropensities } = await import('../src/ope/propensity.js');
    const est = estimatePropensities(d.contexts, d.actions, d.n, d.contextDim, 2);
    // Row 0 is city a, row 1 city b: P(0 | a) and P(1 | b) near 0.75 (the L2 penalty pulls them slightly in).
    expect(est.actionProbs[0]!).toBeGreaterThan(0.72);
    expect(est.actionProbs[0]!).toBeLessThan(0.76);
    expect(est.actionProbs[3]!).toBeGreaterThan(0.72);
    const flat = estimatePropensities(new Float32Array(0), d.actions, d.n, 0, 2);
    expect(flat.actionProbs[0]!).toBeCloseTo(0.5, 2);
  });
});

async function uniformFile(): Promise<string> {
  const f = path.join(dir, 'uniform.json');
  await writeFile(f, JSON.stringify({ type: 'uniform' }));
  return f;
}

describe('learned policies carry their encoding', () => {
  it('a policy file with "features" reads its own columns from the log it is scored on; unseen levels are other (IPS by hand)', async () => {
    // argmax: city=b -> action 0, city=a -> action 1, anything else -> action 0 (bias breaks the tie of other).
    const f = path.join(dir, 'city-policy.json');
    await writeFile(
      f,
      JSON.stringify({
        type: 'argmax',
        weights: [[1, 0, 0.5], [0, 1, 0]],
        bias: [0, 0],
        features: { vectorWidth: 0, columns: [{ name: 'city', kind: 'categorical', levels: ['b', 'a'] }], maxLevels: 2, width: 3 },
      }),
    );
    const r = await evaluate(ws, { data: 'tiny', policies: [{ name: 'city', spec: f }], estimators: ['ips'], interval: 't' });
    // Rows (action, reward, city): (0,1,b) (1,0,a) (0,1,b) (1,0,c) (0,0,a) (1,1,b) (0,1,NULL) (1,0,d); pi picks 0,1,0,0,1,0,0,0.
    // Matches: rows 0, 1, 2, 6 with rewards 1, 0, 1, 1 -> IPS = (1 + 0 + 1 + 1) / 0.5 / 8 = 0.75.
    expect(r.candidates[0]!.estimates[0]!.value).toBeCloseTo(0.75, 12);
    expect(r.warnings.some((w) => w.code === 'NO_CONTEXT')).toBe(false);
  });

  it('learn with a categorical column stores the fitted levels in policy.json', async () => {
    const data = await loadBanditRef(ws, 'tiny', { contextColumns: ['x'], categorical: ['city'], maxLevels: 2 });
    const res = learnPolicy(data, { objective: 'ips', policyClass: 'softmax', epochs: 2, batchSize: 4, seed: 0, holdout: 0.25 });
    expect(res.policy.features).toEqual(data.features);
    const out = await writeLearnedPolicy(path.join(dir, 'learned'), res, { data: 'tiny@1' });
    const scored = await evaluate(ws, { data: 'tiny', policies: [{ name: 'learned', spec: out }], estimators: ['ips'], interval: 't' });
    expect(Number.isFinite(scored.candidates[0]!.estimates[0]!.value)).toBe(true);
  });

  it('train bc on a bandit log with --categorical stores the encoding in policy/policy.json, and evaluate applies it', async () => {
    const w = ['--workspace', path.join(dir, 'ws')];
    const out = path.join(dir, 'bc');
    const r = await runCli([...w, 'train', 'bc', '--data', 'tiny', '--context-columns', 'x', '--categorical', 'city', '--max-levels', '2', '--steps', '5', '--hidden', '8', '--eval-episodes', '0', '--checkpoint-every', '0', '--out', out]);
    expect(r.code).toBe(0);
    const policy = JSON.parse(await readFile(path.join(out, 'policy', 'policy.json'), 'utf8')) as Record<string, unknown>;
    expect(policy.features).toEqual({ vectorWidth: 0, columns: [{ name: 'x', kind: 'numeric' }, { name: 'city', kind: 'categorical', levels: ['b', 'a'] }], maxLevels: 2, width: 4 });
    expect(policy.obsDim).toBe(4);
    // The log has no context of its own: the policy reads x and city through its spec.
    const scored = await evaluate(ws, { data: 'tiny', policies: [{ name: 'bc', spec: path.join(out, 'policy') }], estimators: ['ips'], interval: 't', loadPolicyDir });
    expect(Number.isFinite(scored.candidates[0]!.estimates[0]!.value)).toBe(true);
  });
});

describe('describe and evaluate agree on an OBD-like file', () => {
  it('both say the context is none by default, list the other columns, and agree once columns are named', async () => {
    const src = path.join(dir, 'obd', 'men.csv');
    await mkdir(path.dirname(src), { recursive: true });
    const rows = Array.from({ length: 12 }, (_, i) => ({ item: i % 4, pos: 1 + (i % 3), click: i % 5 === 0 ? 1 : 0, p: 0.25, u: i % 3 === 0 ? 'aa11' : 'bb22', aff: [i % 2, 0, 1, 0] }));
    await writeFile(src, obdLikeCsv(rows));
    const w = ['--workspace', path.join(dir, 'ws')];
    expect((await runCli([...w, 'datasets', 'ingest', src, '--name', 'men', '--no-progress'])).code).toBe(0);
    const desc = (await describeDataset(ws, 'men')) as BanditDescription;
    expect(desc.contextDim).toBe(0);
    expect(desc.context).toBe('none');
    expect(desc.featureColumns).toEqual(['user_feature_0', 'user-item_affinity_0', 'user-item_affinity_1', 'user-item_affinity_2', 'user-item_affinity_3']);
    expect(desc.categoricalColumns).toEqual(['user_feature_0']);
    const shown = await runCli([...w, 'datasets', 'describe', 'men']);
    expect(shown.out).toMatch(/context dim\s+0/);
    expect(shown.out).toMatch(/context\s+none/);
    expect(shown.out).toMatch(/other columns \(--context-columns\)\s+5 \(1 categorical\): user_feature_0, user-item_affinity_0/);

    const out = path.join(dir, 'r1.json');
    const ev = await runCli([...w, 'evaluate', '--data', 'men', '--policy', `u=${await uniformFile()}`, '--estimators', 'dm', '--interval', 't', '--out', out]);
    expect(ev.code).toBe(0);
    expect(ev.out).toContain('context: none\n');
    expect(ev.out).toContain('reward model: logistic on [action one-hot]; the log gives it no context, so it predicts from the action alone (the default: rewards lie in [0, 1]; choose with --reward-model)\n');

    const out2 = path.join(dir, 'r2.json');
    const ev2 = await runCli([...w, 'evaluate', '--data', 'men', '--policy', `u=${await uniformFile()}`, '--estimators', 'dm', '--interval', 't', '--context-columns', 'user_feature_0,user-item_affinity_0', '--out', out2]);
    expect(ev2.code).toBe(0);
    expect(ev2.out).toContain('context: column user-item_affinity_0, one-hot user_feature_0 (2 levels + other): 4 features\n');
  });
});
