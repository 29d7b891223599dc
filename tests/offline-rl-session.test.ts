import { readFile, readdir, rm, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrajectoryArrays } from '../src/datasets/load-trajectories.js';
import { Workspace } from '../src/datasets/workspace.js';
import { generateTrajectories, writeTrajectoryDataset } from '../src/envs/trajectories.js';
import { expectError, expectRejects } from './support/expect-error.js';
import { listCheckpoints, readCheckpoint, writeCheckpoint } from '../src/offline-rl/checkpoint.js';
import { Adam } from '../src/nn/adam.js';
import { evaluateInEnv } from '../src/offline-rl/evaluate-env.js';
import { trajectoryDataToArrays } from '../src/offline-rl/from-generated.js';
import type { Learner, LearnerState } from '../src/offline-rl/learner.js';
import { readMetrics, type MetricsEvent } from '../src/offline-rl/metrics-log.js';
import { loadPolicy, MlpPolicy } from '../src/offline-rl/policy.js';
import { trainSession, type TrainingSessionOptions } from '../src/offline-rl/session.js';
import { ALGORITHMS, createLearner, trainOffline, type TrainOptions } from '../src/offline-rl/train.js';
import { ensureTfBackend } from '../src/util/tf-backend.js';

let dir: string;
let ws: Workspace;
let pendulum: TrajectoryArrays;
const small = { hidden: [32, 32], batchSize: 32 } as const;

beforeAll(async () => {
  await ensureTfBackend();
  dir = await mkdtemp(join(tmpdir(), 'offline-rl-session-'));
  ws = await Workspace.open(join(dir, 'ws'));
  const gen = generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 4, seed: 1 });
  pendulum = trajectoryDataToArrays(gen);
  await writeTrajectoryDataset(ws, 'pend', gen);
  await writeTrajectoryDataset(ws, 'cart', generateTrajectories({ env: 'cartpole', policy: 'medium', episodes: 6, seed: 1 }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});


/** Every buffer of a state as plain arrays (for exact comparison). */
function plain(s: LearnerState): Record<string, number[]> {
  return Object.fromEntries(Object.entries(s.buffers).map(([k, v]) => [k, Array.from(v)]));
}

function actorBytes(l: Learner): number[] {
  return Array.from((l.policy() as MlpPolicy).params);
}

const OPTS: Record<string, Partial<TrainOptions>> = {
  iql: {},
  riql: {},
  td3bc: {},
  prdc: {},
  bc: { actor: 'gaussian' },
  rcbc: {},
};

describe('the learner contract: getState / setState', () => {
  it.each(ALGORITHMS.map((a) => [a]))('%s: a learner given another one\'s state continues with identical updates', (algo) => {
    const opts: TrainOptions = { steps: 20, seed: 4, ...small, ...OPTS[algo] };
    const a = createLearner(algo, pendulum, opts);
    for (let i = 0; i < 5; i++) a.update();
    const state = a.getState();
    expect(state.algo).toBe(algo);
    expect(state.step).toBe(5);
    // the state is a copy: training on does not change it
    const before = plain(state);
    const b = createLearner(algo, pendulum, opts);
    const control = createLearner(algo, pendulum, opts);
    b.setState(state);
    expect(b.step).toBe(5);
    const lossesA: Record<string, number>[] = [];
    const lossesB: Record<string, number>[] = [];
    for (let i = 0; i < 4; i++) {
      lossesA.push(a.update());
      lossesB.push(b.update());
    }
    expect(plain(state)).toEqual(before);
    expect(lossesB).toEqual(lossesA);
    expect(actorBytes(b)).toEqual(actorBytes(a));
    expect(plain(b.getState())).toEqual(plain(a.getState()));
    expect(b.getState().scalars).toEqual(a.getState().scalars);
    // negative control: without the state, the same number of updates lands elsewhere
    for (let i = 0; i < 4; i++) control.update();
    expect(actorBytes(control)).not.toEqual(actorBytes(a));
  });

  it('holds every piece of IQL and TD3+BC state by name', () => {
    const iql = createLearner('iql', pendulum, { steps: 5, seed: 1, ...small });
    iql.update();
    const s = iql.getState();
    expect(Object.keys(s.buffers).sort()).toEqual(
      ['actor.adam.m', 'actor.adam.v', 'actor.adamLogStd.m', 'actor.adamLogStd.v', 'actor.logStd', 'actor.params', 'q0.adam.m', 'q0.adam.v', 'q0.params', 'q0.target', 'q1.adam.m', 'q1.adam.v', 'q1.params', 'q1.target', 'v.adam.m', 'v.adam.v', 'v.params'].sort(),
    );
    expect(s.scalars['q0.adam.step']).toBe(1);
    expect(s.scalars['actor.adam.step']).toBe(1);
    expect(s.scalars['rng.batches']).toMatchObject({ s: expect.any(Array) });
    const td3 = createLearner('td3bc', pendulum, { steps: 5, seed: 1, ...small });
    td3.update();
    const t = td3.getState();
    expect(Object.keys(t.buffers)).toContain('actor.target');
    // one update: the critic stepped, the actor (every 2nd step) did not; the cached actor loss is NaN, stored as a string
    expect(t.scalars['q0.adam.step']).toBe(1);
    expect(t.scalars['actor.adam.step']).toBe(0);
    expect(t.scalars.lastActorLoss).toBe('NaN');
    expect(Object.keys(t.scalars).sort()).toEqual(['actor.adam.step', 'config', 'lastActorLoss', 'q0.adam.step', 'q1.adam.step', 'rng.batches', 'rng.noise']);
  });

  it('refuses a state that does not fit, with E_CHECKPOINT naming what differs', () => {
    const iql = createLearner('iql', pendulum, { steps: 5, seed: 1, ...small });
    const td3 = createLearner('td3bc', pendulum, { steps: 5, seed: 1, ...small });
    const hint = ' Resume with the same algorithm, dataset and options as the run that wrote the checkpoint, or start over with --force.';
    expectError(() => td3.setState(iql.getState()), 'E_CHECKPOINT', 'The checkpoint was written by a iql learner, not td3bc.' + hint);
    const wide = createLearner('iql', pendulum, { steps: 5, seed: 1, hidden: [16, 16], batchSize: 32 });
    expectError(() => wide.setState(iql.getState()), 'E_CHECKPOINT', 'The iql checkpoint was written with other options (hidden: [32,32] in the checkpoint, [16,16] now).' + hint);
    const s = iql.getState();
    delete s.buffers['v.params'];
    expectError(() => iql.setState(s), 'E_CHECKPOINT', 'The iql checkpoint has no buffer "v.params".' + hint);
    const t = iql.getState();
    t.buffers['q0.params'] = new Float32Array(3);
    expectError(() => iql.setState(t), 'E_CHECKPOINT', /^Checkpoint buffer "q0.params" holds 3 values but this learner's has \d+ \(different network sizes or dataset\?\)\./);
    const adam = new Adam(4, { lr: 1 });
    expectError(
      () => adam.importState({ step: 2, m: new Float32Array(3), v: new Float32Array(3) }),
      'E_CHECKPOINT',
      'Adam state does not fit: 3 / 3 moments and step 2 for an optimizer of 4 parameters. Resume with the same network sizes as the run that wrote the checkpoint.',
    );
  });

  it('trainOffline still trains through createLearner (same bytes as driving the learner by hand)', async () => {
    const r = await trainOffline('td3bc', pendulum, { steps: 6, seed: 2, ...small });
    const l = createLearner('td3bc', pendulum, { steps: 6, seed: 2, ...small });
    for (let i = 0; i < 6; i++) l.update();
    expect(Array.from(r.policy.params)).toEqual(actorBytes(l));
  });
});

describe('checkpoint files', () => {
  it('round-trip a state bit-exactly (float32, float64, NaN, scalars) and write atomically', async () => {
    const root = join(dir, 'ckpt-roundtrip');
    const state: LearnerState = {
      algo: 'test',
      step: 12,
      buffers: { a: Float32Array.of(1.5, -0, NaN, 3.4028234663852886e38), b: Float64Array.of(Math.PI, -1e-300, Infinity) },
      scalars: { 'x.step': 7, rng: { s: [1, 2, 3, 4294967295], spareNormal: -0.123456789012345 }, config: { hidden: [32, 32] } },
    };
    const at = await writeCheckpoint(root, state, { run: 'meta' });
    expect(at).toBe(join(root, 'step-000000012'));
    expect((await readdir(root)).sort()).toEqual(['step-000000012']);
    const back = await readCheckpoint(at);
    expect(back.meta).toEqual({ run: 'meta' });
    expect(back.state.algo).toBe('test');
    expect(back.state.step).toBe(12);
    expect(back.state.scalars).toEqual(state.scalars);
    expect(back.state.buffers.a).toBeInstanceOf(Float32Array);
    expect(back.state.buffers.b).toBeInstanceOf(Float64Array);
    expect(Buffer.from(back.state.buffers.a!.buffer).equals(Buffer.from(state.buffers.a!.buffer))).toBe(true);
    expect(Buffer.from(back.state.buffers.b!.buffer).equals(Buffer.from(state.buffers.b!.buffer))).toBe(true);
    expect(await listCheckpoints(root)).toEqual([{ step: 12, dir: at }]);
  });

  it('a damaged checkpoint fails with E_CHECKPOINT', async () => {
    const root = join(dir, 'ckpt-damaged');
    const at = await writeCheckpoint(root, { algo: 't', step: 1, buffers: { a: Float32Array.of(1, 2) }, scalars: {} });
    await writeFile(join(at, 'state.bin'), Buffer.alloc(5));
    await expectRejects(
      readCheckpoint(at),
      'E_CHECKPOINT',
      new RegExp(`^The checkpoint ${at} is damaged: state\\.bin has 5 bytes \\(SHA-256 [0-9a-f]{12}\\.\\.\\.\\), state\\.json expects 8 \\([0-9a-f]{12}\\.\\.\\.\\)\\. Delete that checkpoint directory to resume from the one before it, or start over with --force\\.$`),
    );
  });
});

/** Metrics lines without the fields that depend on wall time or on the output path. */
function stable(events: MetricsEvent[]): unknown[] {
  return events
    .filter((e) => e.event !== 'resume')
    .map((e) => {
      const { updatesPerSec: _u, elapsedSec: _e, wallSec: _w, cpuSec: _c, path: _p, policy: _pol, ...rest } = e;
      return rest;
    });
}

async function policyBytes(out: string): Promise<{ bin: Buffer; json: string }> {
  return { bin: await readFile(join(out, 'policy', 'actor.bin')), json: await readFile(join(out, 'policy', 'policy.json'), 'utf8') };
}

const session = (out: string, extra: Partial<TrainingSessionOptions> = {}): TrainingSessionOptions => ({
  data: 'pend',
  out: join(dir, out),
  steps: 40,
  seed: 3,
  ...small,
  evalEvery: 20,
  evalEpisodes: 2,
  checkpointEvery: 10,
  logEvery: 10,
  ...extra,
});

describe('training session', () => {
  it('writes the metrics log, checkpoints, the policy and the summary; evaluations match a rollout of the saved policy', async () => {
    const seen: string[] = [];
    const progress: number[] = [];
    const r = await trainSession(ws, 'iql', session('s-metrics', { onEvent: (e) => seen.push(`${e.event}@${e.step}`), onProgress: (d) => progress.push(d) }));
    expect(r).toMatchObject({ algo: 'iql', dataset: 'pend@1', step: 40, steps: 40, completed: true, resumedFrom: null, updates: 40, policyDir: join(dir, 's-metrics', 'policy') });
    const out = join(dir, 's-metrics');
    expect((await readdir(out)).sort()).toEqual(['checkpoints', 'metrics.jsonl', 'policy', 'run.json', 'summary.json']);
    // keepCheckpoints 2: the two newest
    expect((await listCheckpoints(join(out, 'checkpoints'))).map((c) => c.step)).toEqual([30, 40]);
    const events = await readMetrics(join(out, 'metrics.jsonl'));
    const order = ['start@0', 'train@10', 'checkpoint@10', 'train@20', 'eval@20', 'checkpoint@20', 'train@30', 'checkpoint@30', 'train@40', 'eval@40', 'checkpoint@40', 'end@40'];
    expect(events.map((e) => `${e.event}@${e.step}`)).toEqual(order);
    expect(seen).toEqual(order);
    expect(progress).toEqual([10, 20, 30, 40]);
    for (const e of events.filter((x) => x.event === 'train')) {
      expect(Object.keys(e.losses as object).sort()).toEqual(['actor', 'q', 'v']);
      for (const v of Object.values(e.losses as Record<string, number>)) expect(Number.isFinite(v)).toBe(true);
      expect(e.updatesPerSec).toBeGreaterThan(0);
    }
    expect(events[0]).toMatchObject({ algo: 'iql', dataset: 'pend@1', steps: 40, seed: 3, env: 'Pendulum-v1' });
    // the last eval is a deterministic rollout of the exported policy (2 episodes, eval seed 0)
    const policy = await loadPolicy(join(out, 'policy'));
    const check = evaluateInEnv(policy, 'pendulum', 2, 0);
    const last = events.filter((e) => e.event === 'eval').pop()!;
    expect(last).toMatchObject({ envId: 'Pendulum-v1', episodes: 2, returnMean: check.meanReturn, returnStd: check.stdReturn, normalizedScore: check.normalizedScore });
    expect(r.evaluation).toEqual({ step: 40, envId: 'Pendulum-v1', episodes: 2, returnMean: check.meanReturn, returnStd: check.stdReturn, normalizedScore: check.normalizedScore });
    expect(policy.training).toMatchObject({ algo: 'iql', steps: 40, dataset: 'pend@1', env: 'Pendulum-v1' });
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ algo: 'iql', step: 40, completed: true, seed: 3, env: 'Pendulum-v1', evaluation: r.evaluation });
    expect(summary.evaluations.map((e: MetricsEvent) => e.step)).toEqual([20, 40]);
    expect(summary.losses).toEqual(events.filter((e) => e.event === 'train').pop()!.losses);
    expect(summary.cpuSec).toBeGreaterThan(0);
  });

  it('is deterministic by seed (byte-identical policy and metrics) and differs across seeds', async () => {
    await trainSession(ws, 'td3bc', session('s-seed-a'));
    await trainSession(ws, 'td3bc', session('s-seed-b'));
    await trainSession(ws, 'td3bc', session('s-seed-c', { seed: 4 }));
    const a = await policyBytes(join(dir, 's-seed-a'));
    const b = await policyBytes(join(dir, 's-seed-b'));
    const c = await policyBytes(join(dir, 's-seed-c'));
    expect(b.bin.equals(a.bin)).toBe(true);
    expect(b.json).toBe(a.json);
    expect(c.bin.equals(a.bin)).toBe(false);
    expect(stable(await readMetrics(join(dir, 's-seed-b', 'metrics.jsonl')))).toEqual(stable(await readMetrics(join(dir, 's-seed-a', 'metrics.jsonl'))));
  });

  it.each([['iql'], ['td3bc'], ['rcbc']])('%s: an interrupted run resumed from its newest checkpoint ends with the same policy bytes as an uninterrupted one', async (algo) => {
    const full = await trainSession(ws, algo, session(`s-full-${algo}`));
    const cut = await trainSession(ws, algo, session(`s-cut-${algo}`, { stopAfter: 25 }));
    expect(cut).toMatchObject({ completed: false, step: 25, policyDir: null, evaluation: { step: 20 } });
    expect((await listCheckpoints(join(dir, `s-cut-${algo}`, 'checkpoints'))).map((c) => c.step)).toEqual([10, 20]);
    const resumed = await trainSession(ws, algo, session(`s-cut-${algo}`, { resume: true }));
    expect(resumed).toMatchObject({ completed: true, step: 40, resumedFrom: 20, updates: 20 });
    const a = await policyBytes(join(dir, `s-full-${algo}`));
    const b = await policyBytes(join(dir, `s-cut-${algo}`));
    expect(b.bin.equals(a.bin)).toBe(true);
    expect(b.json).toBe(a.json);
    expect(resumed.evaluation).toEqual(full.evaluation);
    expect(resumed.losses).toEqual(full.losses);
    // the log reads like the uninterrupted one (lines after the checkpoint were cut), plus a resume line
    const events = await readMetrics(join(dir, `s-cut-${algo}`, 'metrics.jsonl'));
    expect(events.filter((e) => e.event === 'resume')).toMatchObject([{ step: 20, from: 20 }]);
    expect(stable(events)).toEqual(stable(await readMetrics(join(dir, `s-full-${algo}`, 'metrics.jsonl'))));
  });

  it('discrete actions (CartPole): createLearner picks the discrete variant; resume is exact there too', async () => {
    const opts = (out: string, extra: Partial<TrainingSessionOptions> = {}): TrainingSessionOptions => session(out, { data: 'cart', evalEvery: 20, ...extra });
    const full = await trainSession(ws, 'iql', opts('s-cart-full'));
    await trainSession(ws, 'iql', opts('s-cart-cut', { stopAfter: 15 }));
    const resumed = await trainSession(ws, 'iql', opts('s-cart-cut', { resume: true }));
    expect(resumed).toMatchObject({ completed: true, resumedFrom: 10 });
    const a = await policyBytes(join(dir, 's-cart-full'));
    const b = await policyBytes(join(dir, 's-cart-cut'));
    expect(b.bin.equals(a.bin)).toBe(true);
    expect(b.json).toBe(a.json);
    expect(JSON.parse(a.json)).toMatchObject({ kind: 'categorical', algo: 'iql-discrete', numActions: 2 });
    expect(full.evaluation).toMatchObject({ envId: 'CartPole-v1', episodes: 2 });
    expect(resumed.evaluation).toEqual(full.evaluation);
  });

  it('resuming a finished run re-exports the same policy without updates', async () => {
    const out = 's-full-iql';
    const before = await policyBytes(join(dir, out));
    const again = await trainSession(ws, 'iql', session(out, { resume: true }));
    expect(again).toMatchObject({ completed: true, updates: 0, resumedFrom: 40, step: 40 });
    expect(again.evaluation).toMatchObject({ step: 40 });
    const after = await policyBytes(join(dir, out));
    expect(after.bin.equals(before.bin)).toBe(true);
  });

  it('refuses: non-empty --out, --resume without checkpoint, resume with other options, --resume with --force, bad knobs', async () => {
    const out = join(dir, 's-full-td3bc');
    await expectRejects(
      trainSession(ws, 'td3bc', session('s-full-td3bc')),
      'E_OUT_EXISTS',
      `The output directory ${out} is not empty (it holds checkpoints, metrics.jsonl, policy, run.json, summary.json). Pass --resume to continue its run from the newest checkpoint, --force to start over (removes the previous run's files), or choose another --out.`,
    );
    await expectRejects(
      trainSession(ws, 'td3bc', session('s-none', { resume: true })),
      'E_NO_CHECKPOINT',
      `--resume: there is no checkpoint in ${join(dir, 's-none', 'checkpoints')} to resume from. Run without --resume (add --force to start over in a non-empty --out), or pass the --out of a run that wrote checkpoints (--checkpoint-every).`,
    );
    await expectRejects(
      trainSession(ws, 'td3bc', session('s-full-td3bc', { resume: true, alpha: 5, seed: 9 })),
      'E_CHECKPOINT',
      `Cannot resume from ${join(out, 'checkpoints', 'step-000000040')}: it was written with other settings (alpha: null in the checkpoint, 5 now; seed: 3 in the checkpoint, 9 now). Resume with the same algorithm, dataset version and options (steps, seed, network and learner flags), or start over with --force.`,
    );
    await expectRejects(
      trainSession(ws, 'td3bc', session('s-full-td3bc', { resume: true, force: true })),
      'E_TRAIN_PARAM',
      '--resume and --force contradict each other: one continues the run in --out, the other deletes it. Pass only one of them.',
    );
    await expectRejects(trainSession(ws, 'td3bc', session('s-x', { evalEvery: -1 })), 'E_TRAIN_PARAM', '--eval-every must be a non-negative integer, got -1. Pass --eval-every 0 to turn it off, or a step count such as 1000.');
    await expectRejects(trainSession(ws, 'bc', session('s-x', { expectile: 0.9 })), 'E_TRAIN_PARAM', '--expectile does not apply to bc: it is an option of iql, riql. Drop --expectile, or train one of iql, riql.');
  });

  it('--force starts over, removing only the previous run\'s files', async () => {
    const out = join(dir, 's-seed-c');
    await writeFile(join(out, 'notes.txt'), 'keep me');
    const r = await trainSession(ws, 'bc', session('s-seed-c', { force: true, steps: 10, checkpointEvery: 0, evalEpisodes: 0 }));
    expect(r).toMatchObject({ completed: true, evaluation: null, algo: 'bc' });
    expect((await readdir(out)).sort()).toEqual(['metrics.jsonl', 'notes.txt', 'policy', 'run.json', 'summary.json']);
    expect((await readMetrics(join(out, 'metrics.jsonl')))[0]).toMatchObject({ event: 'start', algo: 'bc' });
  });
});
