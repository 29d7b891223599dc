import { beforeAll, describe, expect, it } from 'vitest';
import type { TrajectoryArrays } from '../src/datasets/load-trajectories.js';
import { generateTrajectories } from '../src/envs/trajectories.js';
import { ensureTfBackend } from '../src/util/tf-backend.js';
import { computeNormStats } from '../src/nn/normalization.js';
import { evaluateInEnv } from '../src/offline-rl/evaluate-env.js';
import { trajectoryDataToArrays } from '../src/offline-rl/from-generated.js';
import { IqlLearner, RIQL_DEFAULTS, trainRiql } from '../src/offline-rl/iql.js';

const tiny = { hidden: [16, 16], batchSize: 32 } as const;
let pendulum: TrajectoryArrays;

beforeAll(async () => {
  await ensureTfBackend();
  pendulum = trajectoryDataToArrays(generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 10, seed: 3 }));
});

describe('RIQL', () => {
  it('defaults: K = 5, alpha = 0.25, Huber delta 1, TD clip [-100, 1000], stats over obs and next obs', async () => {
    expect(RIQL_DEFAULTS).toEqual({ ensembleSize: 5, quantile: 0.25, huberDelta: 1, tdClip: [-100, 1000], normalizeWithNext: true });
    const { learner, policy } = await trainRiql(pendulum, { steps: 3, seed: 1, ...tiny });
    expect(learner.q.length).toBe(5);
    expect(policy.algo).toBe('riql');
    const both = computeNormStats([pendulum.observations, pendulum.nextObservations!], 3);
    const obsOnly = computeNormStats([pendulum.observations], 3);
    expect([...learner.stats.mean]).toEqual([...both.mean]);
    expect([...learner.stats.mean]).not.toEqual([...obsOnly.mean]);
    const iql = new IqlLearner(pendulum, { steps: 3, seed: 1, ...tiny });
    expect(iql.q.length).toBe(2);
    expect([...iql.stats.mean]).toEqual([...obsOnly.mean]);
  });
  it('is deterministic by seed and rejects bad knobs', async () => {
    const a = (await trainRiql(pendulum, { steps: 10, seed: 3, ...tiny })).policy;
    const b = (await trainRiql(pendulum, { steps: 10, seed: 3, ...tiny })).policy;
    expect(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer))).toBe(true);
    await expect(trainRiql(pendulum, { steps: 1, seed: 1, quantile: 1.5 })).rejects.toMatchObject({ code: 'E_TRAIN_PARAM', message: expect.stringContaining('quantile must be in [0, 1], got 1.5.') });
    await expect(trainRiql(pendulum, { steps: 1, seed: 1, ensembleSize: 0 })).rejects.toMatchObject({ code: 'E_TRAIN_PARAM', message: expect.stringContaining('ensembleSize must be a positive integer, got 0.') });
    await expect(trainRiql(pendulum, { steps: 1, seed: 1, huberDelta: 0 })).rejects.toMatchObject({ code: 'E_TRAIN_PARAM', message: expect.stringContaining('huberDelta must be a positive number, got 0.') });
  });
  it('clearly beats the random policy on Pendulum medium within 2000 steps', async () => {
    const data = trajectoryDataToArrays(generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 50, seed: 7 }));
    const riql = await trainRiql(data, { hidden: [64, 64], batchSize: 256, seed: 1, steps: 2000, rewardScale: 0.1 });
    const score = evaluateInEnv(riql.policy, 'pendulum', 10, 5).normalizedScore!;
    console.log(`RIQL normalized score ${score.toFixed(1)}`);
    expect(score).toBeGreaterThan(40);
  }, 60_000);
});
