import { readFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lit, openMemoryConnection } from '../src/datasets/duckdb.js';
import { inheritedMetadata } from '../src/datasets/split.js';
import { Workspace } from '../src/datasets/workspace.js';
import { generateTrajectories, writeTrajectoryDataset } from '../src/envs/trajectories.js';
import { evaluateInEnv } from '../src/offline-rl/evaluate-env.js';
import { readMetrics } from '../src/offline-rl/metrics-log.js';
import { loadPolicy } from '../src/offline-rl/policy.js';
import { ensureTfBackend } from '../src/util/tf-backend.js';
import { runCli } from './support/run-cli.js';

let dir: string;
let ws: string;

const run = (args: string[]): ReturnType<typeof runCli> => runCli(['-w', ws, ...args]);

async function fails(args: string[], code: string, message: string | RegExp): Promise<void> {
  const r = await run(args);
  expect(r.code).toBe(2);
  expect(r.out).toBe('');
  const line = r.err.trim();
  expect(line.slice(0, `error [${code}]: `.length)).toBe(`error [${code}]: `);
  const text = line.slice(`error [${code}]: `.length);
  if (typeof message === 'string') expect(text).toBe(message);
  else expect(text).toMatch(message);
}

const tiny = ['--hidden', '32,32', '--batch-size', '32'];

beforeAll(async () => {
  await ensureTfBackend();
  dir = await mkdtemp(join(tmpdir(), 'offline-rl-cli-'));
  ws = join(dir, 'ws');
  const w = await Workspace.open(ws);
  const gen = generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 4, seed: 1 });
  const pend = await writeTrajectoryDataset(w, 'pend', gen);
  // A dataset with NaN rewards on rows 5 and 17, as an older release could store: every write now checks
  // the rows, so this one vouches for them (`validated`) to exercise training's own check.
  const conn = await openMemoryConnection();
  await w.createVersion({
    name: 'pendnan',
    conn,
    select: `SELECT * EXCLUDE (rn) REPLACE (CASE WHEN rn IN (5, 17) THEN 'nan'::DOUBLE ELSE reward END AS reward)
             FROM (SELECT *, row_number() OVER (ORDER BY episode_id, step) - 1 AS rn FROM read_parquet(${lit(pend.glob)})) ORDER BY episode_id, step`,
    metadata: { ...inheritedMetadata(pend.metadata), lineage: { transform: 'test', params: {} } },
    validated: true,
  });
  conn.closeSync();
  await writeTrajectoryDataset(w, 'cart', generateTrajectories({ env: 'cartpole', policy: 'medium', episodes: 6, seed: 1 }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('offpolicy train', () => {
  it('trains, evaluates, checkpoints, exports; --resume after losing the last checkpoint gives the same policy bytes', async () => {
    const out = join(dir, 'run-iql');
    const args = ['train', 'iql', '--data', 'pend', '--steps', '30', '--seed', '1', '--out', out, ...tiny, '--eval-every', '10', '--eval-episodes', '2', '--checkpoint-every', '10', '--keep-checkpoints', '3', '--log-every', '10'];
    const r = await run([...args, '--json']);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out);
    expect(res).toMatchObject({ algo: 'iql', dataset: 'pend@1', step: 30, completed: true, policyDir: join(out, 'policy'), evaluation: { step: 30, envId: 'Pendulum-v1', episodes: 2 } });
    const policy = await loadPolicy(join(out, 'policy'));
    const check = evaluateInEnv(policy, 'pendulum', 2, 0);
    expect(res.evaluation.returnMean).toBe(check.meanReturn);
    expect(res.evaluation.normalizedScore).toBe(check.normalizedScore);
    const events = await readMetrics(join(out, 'metrics.jsonl'));
    expect(events.filter((e) => e.event === 'eval').map((e) => e.step)).toEqual([10, 20, 30]);
    expect(events.filter((e) => e.event === 'checkpoint').map((e) => e.step)).toEqual([10, 20, 30]);

    // the process "died" after step 20's checkpoint: drop what came later and resume
    const bin = await readFile(join(out, 'policy', 'actor.bin'));
    const json = await readFile(join(out, 'policy', 'policy.json'), 'utf8');
    await rm(join(out, 'checkpoints', 'step-000000030'), { recursive: true });
    await rm(join(out, 'policy'), { recursive: true });
    const again = await run([...args, '--resume']);
    expect(again.code).toBe(0);
    expect(again.out).toContain('steps             30 (resumed from step 20)');
    expect(again.out).toMatch(new RegExp(`normalized score  ${check.normalizedScore!.toFixed(1).replace('.', '\\.')}\\n`));
    expect(again.out).toContain(`policy            ${join(out, 'policy')}\n`);
    expect((await readFile(join(out, 'policy', 'actor.bin'))).equals(bin)).toBe(true);
    expect(await readFile(join(out, 'policy', 'policy.json'), 'utf8')).toBe(json);
  });

  it('is deterministic by seed through the CLI', async () => {
    const a = join(dir, 'det-a');
    const b = join(dir, 'det-b');
    const base = ['train', 'td3bc', '--data', 'pend', '--steps', '12', '--seed', '5', ...tiny, '--eval-episodes', '0', '--alpha', '2', '--json'];
    expect((await run([...base, '--out', a])).code).toBe(0);
    expect((await run([...base, '--out', b])).code).toBe(0);
    expect((await readFile(join(a, 'policy', 'actor.bin'))).equals(await readFile(join(b, 'policy', 'actor.bin')))).toBe(true);
    expect(JSON.parse(await readFile(join(a, 'policy', 'policy.json'), 'utf8')).training.config.alpha).toBe(2);
  });

  it('clear errors: unknown algorithm, no next observations, action shape, NaN data, divergence, --out exists, --resume without checkpoint, unknown env, bad flags', async () => {
    const out = join(dir, 'err');
    const common = ['--steps', '5', '--out', out, ...tiny, '--eval-episodes', '0'];
    await fails(['train', 'dqn', '--data', 'pend', ...common], 'E_UNKNOWN_ALGO', 'Unknown algorithm "dqn". Known algorithms: iql, riql, td3bc, prdc, rcbc, bc. Pick one of those names (e.g. offpolicy train iql ...).');

    // a dataset stored without the next_observation column, made and ingested through the CLI
    const file = join(dir, 'nonext.parquet');
    expect((await run(['datasets', 'query', 'SELECT * EXCLUDE (next_observation) FROM pend', '--format', 'parquet', '--out', file])).code).toBe(0);
    expect((await run(['datasets', 'ingest', file, '--name', 'nonext', '--kind', 'trajectory'])).code).toBe(0);
    await fails(
      ['train', 'iql', '--data', 'nonext', ...common],
      'E_NO_NEXT_OBS',
      'IQL bootstraps from next observations, but the dataset has no next_observation column. Ingest the data with next observations (D4RL next_observations or Minari N+1 observations), or train bc, which does not need them.',
    );
    await fails(
      ['train', 'iql', '--data', 'pend', '--env', 'maze', ...common],
      'E_ACTION_SHAPE',
      "Dataset pend@1 has 1-dimensional actions but PointMaze-U-v0 takes 2-dimensional actions. Pass the --env the data was logged in (or drop --env to use the dataset's env_id).",
    );
    await fails(
      ['train', 'iql', '--data', 'pend', '--env', 'cartpole', ...common],
      'E_ACTION_SHAPE',
      "Dataset pend@1 has 1-dimensional continuous actions but CartPole-v1 has 2 discrete actions. Pass the --env the data was logged in (or drop --env to use the dataset's env_id).",
    );
    await fails(
      ['train', 'td3bc', '--data', 'pendnan', ...common],
      'E_NON_FINITE',
      'Rule "finite observation, action, reward and next observation in training data (pendnan@1; rows in episode / step order)" failed for 2 rows (first: 5, 17). Repair or drop those rows (re-ingest with --drop-invalid, or filter them out with a where condition): a NaN in a batch would corrupt every network.',
    );
    // the where filter drops the bad rows' episode: training runs
    expect((await run(['train', 'bc', '--data', 'pendnan', '--where', 'episode_id > 0', ...common, '--json'])).code).toBe(0);
    await fails(
      ['train', 'iql', '--data', 'pend', ...common, '--force', '--lr', '1e30'],
      'E_DIVERGED',
      /^Training diverged at step \d+: the \w+ loss is (NaN|Infinity|-Infinity)\. Lower the learning rate, keep observation normalization on, or check the rewards for extreme values\.$/,
    );
    const diverged = await readMetrics(join(out, 'metrics.jsonl'));
    expect(diverged[diverged.length - 1]).toMatchObject({ event: 'error', code: 'E_DIVERGED' });
    await fails(
      ['train', 'iql', '--data', 'pend', ...common],
      'E_OUT_EXISTS',
      `The output directory ${out} is not empty (it holds metrics.jsonl, run.json). Pass --resume to continue its run from the newest checkpoint, --force to start over (removes the previous run's files), or choose another --out.`,
    );
    await fails(
      ['train', 'iql', '--data', 'pend', ...common, '--resume'],
      'E_NO_CHECKPOINT',
      `--resume: there is no checkpoint in ${join(out, 'checkpoints')} to resume from. Run without --resume (add --force to start over in a non-empty --out), or pass the --out of a run that wrote checkpoints (--checkpoint-every).`,
    );
    await fails(
      ['train', 'iql', '--data', 'pend', '--env', 'moon', ...common, '--force'],
      'E_UNKNOWN_ENV',
      'Unknown environment "moon". Known environments: Pendulum-v1, MountainCarContinuous-v0, CartPole-v1, PointMaze-U-v0 (aliases: pendulum, mountain-car, mountaincar, cartpole, maze, point-maze).',
    );
    await fails(['train', 'iql', '--data', 'pend', ...common, '--force', '--lr', 'fast'], 'E_TRAIN_PARAM', '--lr takes a number, got "fast". For example --lr 0.0003.');
    await fails(['train', 'iql', '--data', 'pend', ...common, '--force', '--hidden', '32,,32'], 'E_TRAIN_PARAM', '--hidden takes comma-separated numbers, got "32,,32". For example --hidden 256,256.');
    await fails(['train', 'bc', '--data', 'pend', ...common, '--force', '--alpha', '2'], 'E_TRAIN_PARAM', '--alpha does not apply to bc: it is an option of td3bc, prdc. Drop --alpha, or train one of td3bc, prdc.');
    await fails(['train', 'rcbc', '--data', 'pend', ...common, '--force', '--reward-shift', '-1'], 'E_TRAIN_PARAM', '--reward-shift does not apply to rcbc: it is an option of iql, riql, td3bc, prdc. Drop --reward-shift, or train one of iql, riql, td3bc, prdc.');
    await fails(['train', 'iql', '--data', 'pend', ...common, '--force', '--reward-shift', 'minus'], 'E_TRAIN_PARAM', '--reward-shift takes a number, got "minus". For example --reward-shift 1.');
    await fails(['train', 'iql', '--data', 'nope', ...common, '--force'], 'E_DATASET_NOT_FOUND', /^No dataset named "nope"/);
  });
});

describe('offpolicy rollout', () => {
  it('prints returns and the normalized score, and --save writes a dataset that validates and holds the printed returns', async () => {
    const out = join(dir, 'run-roll');
    expect((await run(['train', 'iql', '--data', 'pend', '--steps', '10', '--seed', '2', '--out', out, ...tiny, '--eval-episodes', '0', '--json'])).code).toBe(0);
    const r = await run(['rollout', '--policy', join(out, 'policy'), '--episodes', '2', '--seed', '3', '--stochastic', '--save', 'collected', '--json']);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out);
    // --env defaults to the environment recorded at training
    expect(res).toMatchObject({ algo: 'iql', env: 'Pendulum-v1', episodes: 2, stochastic: true, saved: 'collected@1', lengths: [200, 200] });
    expect(res.meanReturn).toBeCloseTo((res.returns[0] + res.returns[1]) / 2, 10);
    expect(res.stdReturn).toBeCloseTo(Math.abs(res.returns[0] - res.returns[1]) / 2, 10);
    expect(res.normalizedScore).toBeCloseTo((100 * (res.meanReturn + 1202.4943069450517)) / (-139.29990807968537 + 1202.4943069450517), 9);
    // the stored rewards sum to the printed returns
    const q = await run(['datasets', 'query', 'SELECT episode_id, sum(reward) AS ret, count(*) AS n, count(behavior_logprob) AS lp FROM collected GROUP BY episode_id ORDER BY episode_id', '--format', 'json']);
    const rows = JSON.parse(q.out) as { episode_id: number; ret: number; n: number; lp: number }[];
    expect(rows.map((x) => Number(x.n))).toEqual([200, 200]);
    expect(rows.map((x) => Number(x.lp))).toEqual([200, 200]);
    rows.forEach((x, i) => expect(x.ret).toBeCloseTo(res.returns[i], 8));
    // export -> ingest: the rollouts pass validation (finite values, step order, terminal flags)
    const file = join(dir, 'collected.parquet');
    expect((await run(['datasets', 'export', 'collected', '--format', 'parquet', '--out', file])).code).toBe(0);
    const ing = await run(['datasets', 'ingest', file, '--name', 'collected-again', '--kind', 'trajectory']);
    expect(ing.code).toBe(0);
    expect(ing.out).toContain('rows:         400 (2 episodes)');
    expect(ing.out).toContain('rejected:     0');
    // same seed -> same returns; the text output
    const text = await run(['rollout', '--policy', join(out, 'policy'), '--env', 'pendulum', '--episodes', '2', '--seed', '3', '--stochastic']);
    expect(text.code).toBe(0);
    expect(text.out).toContain(`return            ${res.meanReturn.toFixed(4)} +- ${res.stdReturn.toFixed(4)} (mean +- std)\n`);
    expect(text.out).toContain(`normalized score  ${res.normalizedScore.toFixed(2)}\n`);
  });

  it('discrete: trains the categorical variant on CartPole data and rolls it out, sampling and logging log p(a | s)', async () => {
    const out = join(dir, 'run-cart');
    const t = await run(['train', 'bc', '--data', 'cart', '--steps', '20', '--seed', '1', '--out', out, ...tiny, '--eval-episodes', '1', '--json']);
    expect(t.code).toBe(0);
    expect(JSON.parse(t.out)).toMatchObject({ algo: 'bc', evaluation: { envId: 'CartPole-v1', episodes: 1 } });
    const r = await run(['rollout', '--policy', join(out, 'policy'), '--episodes', '2', '--seed', '1', '--stochastic', '--save', 'cartroll', '--json']);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out);
    expect(res).toMatchObject({ env: 'CartPole-v1', stochastic: true, saved: 'cartroll@1' });
    const q = await run(['datasets', 'query', 'SELECT episode_id, sum(reward) AS ret, max(behavior_logprob) AS hi, min(action) AS lo_a, max(action) AS hi_a, typeof(any_value(action)) AS t FROM cartroll GROUP BY episode_id ORDER BY episode_id', '--format', 'json']);
    const rows = JSON.parse(q.out) as { ret: number; hi: number; lo_a: number; hi_a: number; t: string }[];
    rows.forEach((x, i) => {
      expect(x.ret).toBeCloseTo(res.returns[i], 9);
      expect(x.t).toBe('INTEGER');
      expect(x.hi).toBeLessThanOrEqual(0);
      expect(x.lo_a >= 0 && x.hi_a <= 1).toBe(true);
    });
  });

  it('errors: missing policy, --stochastic on a deterministic policy, env of another shape, unknown env', async () => {
    await fails(['rollout', '--policy', join(dir, 'none'), '--env', 'pendulum'], 'E_POLICY_NOT_FOUND', new RegExp(`^No policy\\.json in ${join(dir, 'none')}\\. Nor in ${join(dir, 'none', 'policy')}: pass a training run directory`));
    const det = join(dir, 'det-a', 'policy');
    await fails(
      ['rollout', '--policy', det, '--stochastic'],
      'E_NO_LOGPROB',
      'This td3bc policy has a deterministic actor, so it cannot sample actions. Roll it out without --stochastic, or train it with the Gaussian actor (actor: "gaussian"; IQL uses it by default).',
    );
    await fails(['rollout', '--policy', det, '--env', 'mountain-car'], 'E_OBS_SHAPE', 'MountainCarContinuous-v0 gives 2-dimensional observations but the policy takes 3. Roll the policy out in the environment its training data came from.');
    await fails(['rollout', '--policy', det, '--env', 'moon'], 'E_UNKNOWN_ENV', /^Unknown environment "moon"\./);
    await fails(['rollout', '--policy', det, '--episodes', 'ten'], 'E_ROLLOUT_PARAM', '--episodes takes a number, got "ten". For example --episodes 10.');
  });
});
