import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { angleNormalize, pendulum } from '../src/envs/pendulum.js';
import { mountainCarContinuous } from '../src/envs/mountain-car.js';
import { cartPole } from '../src/envs/cartpole.js';
import { pointMaze } from '../src/envs/point-maze.js';
import { ENVS, getEnv } from '../src/envs/registry.js';
import { levelPolicy, noiseLevel, scriptedContinuousPolicy, scriptedDiscretePolicy } from '../src/envs/behavior-policies.js';
import { generateTrajectories, writeTrajectoryDataset } from '../src/envs/trajectories.js';
import { REFERENCE_SCORES } from '../src/envs/reference-scores.js';
import { measureReferenceScores } from '../src/envs/measure-reference.js';
import type { EnvState } from '../src/envs/types.js';
import { Workspace } from '../src/datasets/workspace.js';
import { queryRows } from '../src/datasets/duckdb.js';
import { OffpolicyError } from '../src/core/errors.js';
import { Rng } from '../src/util/rng.js';

const st = (t: number, ...s: number[]): EnvState => ({ t, s: Float64Array.from(s) });

function expectError(fn: () => unknown, code: string, message: string | RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OffpolicyError);
    expect((e as OffpolicyError).code).toBe(code);
    if (typeof message === 'string') expect((e as OffpolicyError).message).toBe(message);
    else expect((e as OffpolicyError).message).toMatch(message);
    return;
  }
  throw new Error('expected an error');
}

describe('Pendulum-v1 matches Gymnasium', () => {
  it('one step by hand: th 0.5, thdot -0.3, u 1.5', () => {
    const r = pendulum.step(st(0, 0.5, -0.3), [1.5]);
    // cost = 0.5^2 + 0.1 * 0.09 + 0.001 * 2.25
    expect(r.reward).toBeCloseTo(-0.26125, 15);
    // thdot' = -0.3 + (15 sin 0.5 + 3 * 1.5) * 0.05; th' = 0.5 + thdot' * 0.05
    expect(r.state.s[1]).toBeCloseTo(0.2845691539531523, 14);
    expect(r.state.s[0]).toBeCloseTo(0.5142284576976576, 14);
    expect(Array.from(r.observation)).toEqual([Math.cos(r.state.s[0]!), Math.sin(r.state.s[0]!), r.state.s[1]]);
    expect(r.terminated).toBe(false);
    expect(r.truncated).toBe(false);
    expect(r.state.t).toBe(1);
  });

  it('clips torque to 2 and speed to 8, and normalizes the angle in the cost like Python', () => {
    const a = pendulum.step(st(0, Math.PI / 2, 7.9), [5]);
    const b = pendulum.step(st(0, Math.PI / 2, 7.9), [2]);
    expect(a.state.s[1]).toBe(8); // 7.9 + (15 + 6) * 0.05 = 8.95 -> 8
    expect(Array.from(a.state.s)).toEqual(Array.from(b.state.s));
    expect(a.reward).toBe(b.reward); // cost uses the clipped torque
    expect(angleNormalize(4)).toBeCloseTo(4 - 2 * Math.PI, 15);
    expect(angleNormalize(-4)).toBeCloseTo(-4 + 2 * Math.PI, 15);
    const c = pendulum.step(st(0, 4, 0), [0]);
    expect(c.reward).toBeCloseTo(-((4 - 2 * Math.PI) ** 2), 14);
  });

  it('never terminates and truncates at step 200', () => {
    expect(pendulum.step(st(198, 0, 0), [0]).truncated).toBe(false);
    const r = pendulum.step(st(199, 0, 0), [0]);
    expect(r.truncated).toBe(true);
    expect(r.terminated).toBe(false);
  });

  it('resets uniformly in [-pi, pi] x [-1, 1], the same for the same seed', () => {
    const a = pendulum.reset(new Rng(7));
    const b = pendulum.reset(new Rng(7));
    expect(Array.from(a.state.s)).toEqual(Array.from(b.state.s));
    expect(Array.from(a.observation)).toEqual(Array.from(b.observation));
    const rng = new Rng(1);
    for (let i = 0; i < 200; i++) {
      const { state } = pendulum.reset(rng);
      expect(Math.abs(state.s[0]!)).toBeLessThanOrEqual(Math.PI);
      expect(Math.abs(state.s[1]!)).toBeLessThanOrEqual(1);
      expect(state.t).toBe(0);
    }
  });
});

describe('MountainCarContinuous-v0 matches Gymnasium', () => {
  it('one step by hand from (-0.5, 0) with action 1', () => {
    const r = mountainCarContinuous.step(st(0, -0.5, 0), [1]);
    // v' = 0.0015 - 0.0025 cos(-1.5); x' = -0.5 + v'
    expect(r.state.s[1]).toBeCloseTo(0.0013231569958307427, 16);
    expect(r.state.s[0]).toBeCloseTo(-0.4986768430041693, 15);
    expect(r.reward).toBeCloseTo(-0.1, 15);
    expect(r.terminated).toBe(false);
  });

  it('terminates at the goal with +100 minus 0.1 * (unclipped action)^2', () => {
    const r = mountainCarContinuous.step(st(0, 0.44, 0.02), [0]);
    expect(r.state.s[0]).toBeCloseTo(0.44 + 0.02 - 0.0025 * Math.cos(1.32), 15);
    expect(r.terminated).toBe(true);
    expect(r.truncated).toBe(false);
    expect(r.reward).toBe(100);
    const s = mountainCarContinuous.step(st(0, 0.44, 0.02), [2]);
    expect(s.reward).toBeCloseTo(100 - 0.4, 12);
    expect(s.state.s[1]).toBeCloseTo(0.02 + 0.0015 - 0.0025 * Math.cos(1.32), 15); // force clipped to 1
  });

  it('stops at the left wall and clips speed', () => {
    const r = mountainCarContinuous.step(st(0, -1.19, -0.05), [-1]);
    expect(r.state.s[0]).toBe(-1.2);
    expect(r.state.s[1]).toBe(0);
    const f = mountainCarContinuous.step(st(0, Math.PI / 6, 0.0699), [1]); // cos(pi / 2) = 0: 0.0714 -> 0.07
    expect(f.state.s[1]).toBe(0.07);
  });

  it('truncates at 999 steps and resets position in [-0.6, -0.4] with zero speed', () => {
    expect(mountainCarContinuous.step(st(998, -0.5, 0), [0]).truncated).toBe(true);
    const { state } = mountainCarContinuous.reset(new Rng(3));
    expect(state.s[0]).toBeGreaterThanOrEqual(-0.6);
    expect(state.s[0]).toBeLessThan(-0.4);
    expect(state.s[1]).toBe(0);
  });
});

describe('CartPole-v1 matches Gymnasium', () => {
  it('one step by hand from rest pushing right', () => {
    const r = cartPole.step(st(0, 0, 0, 0, 0), 1);
    // theta'' = -600/41, x'' = 400/41; Euler with tau = 0.02
    expect(r.state.s[0]).toBe(0);
    expect(r.state.s[1]).toBeCloseTo(8 / 41, 15);
    expect(r.state.s[2]).toBe(0);
    expect(r.state.s[3]).toBeCloseTo(-12 / 41, 15);
    expect(r.reward).toBe(1);
    const l = cartPole.step(st(0, 0, 0, 0, 0), 0);
    expect(l.state.s[1]).toBeCloseTo(-8 / 41, 15);
    expect(l.state.s[3]).toBeCloseTo(12 / 41, 15);
  });

  it('terminates past 12 degrees or 2.4 m with reward 1 on that step; terminated wins over truncated', () => {
    const r = cartPole.step(st(0, 0, 0, 0.209, 1), 1);
    expect(r.terminated).toBe(true);
    expect(r.reward).toBe(1);
    expect(cartPole.step(st(0, 2.39, 1, 0, 0), 1).terminated).toBe(true);
    const both = cartPole.step(st(499, 0, 0, 0.209, 1), 1);
    expect(both.terminated).toBe(true);
    expect(both.truncated).toBe(false);
    const t = cartPole.step(st(499, 0, 0, 0, 0), 1);
    expect(t.truncated).toBe(true);
    expect(t.terminated).toBe(false);
  });

  it('rejects actions other than 0 and 1', () => {
    expectError(() => cartPole.step(st(0, 0, 0, 0, 0), 2), 'E_ENV_ACTION', 'CartPole-v1 takes action 0 or 1, got 2. Pass 0 to push the cart left or 1 to push it right.');
  });
});

describe('PointMaze-U-v0', () => {
  it('moves by dt * action and stops at the wall, sliding along it', () => {
    const r = pointMaze.step(st(0, 1, 1.6), [0, 1]);
    expect(r.state.s[0]).toBe(1);
    expect(r.state.s[1]).toBeCloseTo(1.7, 15);
    const blocked = pointMaze.step(r.state, [0, 1]);
    expect(blocked.state.s[1]).toBeCloseTo(1.7, 15); // 1.8 is inside the wall
    const slide = pointMaze.step(r.state, [1, 1]);
    expect(slide.state.s[0]).toBeCloseTo(1.1, 15);
    expect(slide.state.s[1]).toBeCloseTo(1.7, 15);
    const out = pointMaze.step(st(0, 0.05, 0.5), [-1, 0]);
    expect(out.state.s[0]).toBe(0.05);
    const clipped = pointMaze.step(st(0, 1, 1), [5, 0]);
    expect(clipped.state.s[0]).toBeCloseTo(1.1, 15);
  });

  it('gives reward 1 and terminates on reaching the goal, 0 otherwise', () => {
    const miss = pointMaze.step(st(0, 0.5, 2.85), [0, 1]);
    expect(miss.reward).toBe(0);
    expect(miss.terminated).toBe(false);
    const hit = pointMaze.step(st(0, 0.5, 2.95), [0, 1]);
    expect(hit.reward).toBe(1);
    expect(hit.terminated).toBe(true);
    expect(pointMaze.step(st(299, 3.5, 0.5), [0, 0]).truncated).toBe(true);
  });
});

describe('registry', () => {
  it('finds envs by id or alias', () => {
    expect(getEnv('pendulum')).toBe(pendulum);
    expect(getEnv('CartPole-v1')).toBe(cartPole);
    expect(getEnv('mountaincarcontinuous-v0')).toBe(mountainCarContinuous);
    expect(getEnv('maze')).toBe(pointMaze);
  });
  it('names the known envs for an unknown id', () => {
    expectError(
      () => getEnv('HalfCheetah-v4'),
      'E_UNKNOWN_ENV',
      'Unknown environment "HalfCheetah-v4". Known environments: Pendulum-v1, MountainCarContinuous-v0, CartPole-v1, PointMaze-U-v0 (aliases: pendulum, mountain-car, mountaincar, cartpole, maze, point-maze).',
    );
  });
});

describe('behaviour policies log exact log-probabilities', () => {
  it('box densities integrate to 1 and sample() logs logProb() of the stored action', () => {
    const obs = Float64Array.of(Math.cos(2), Math.sin(2), 1.5);
    for (const level of [null, noiseLevel(pendulum, 'medium', 0), noiseLevel(pendulum, 'expert', 0)]) {
      const pol = levelPolicy(pendulum, level);
      const N = 200_000;
      let integral = 0;
      for (let k = 0; k < N; k++) integral += Math.exp(pol.logProb(obs, [-2 + (4 * (k + 0.5)) / N])) * (4 / N);
      expect(integral).toBeCloseTo(1, 3);
      const rng = new Rng(11);
      for (let i = 0; i < 50; i++) {
        const { action, logProb } = pol.sample(obs, rng);
        expect(Math.fround(action[0]!)).toBe(action[0]);
        expect(Math.abs(action[0]!)).toBeLessThanOrEqual(2);
        expect(logProb).toBe(pol.logProb(obs, action));
      }
    }
    expect(levelPolicy(pendulum, null).logProb(obs, [0.3])).toBeCloseTo(-Math.log(4), 15);
    expect(levelPolicy(pendulum, null).logProb(obs, [2.5])).toBe(-Infinity);
  });

  it('2-D maze density integrates to 1 and samples follow it', () => {
    const obs = Float64Array.of(1, 0.5);
    const pol = levelPolicy(pointMaze, noiseLevel(pointMaze, 'medium', 0));
    // The controller's mean sits near the bound (vx ~ 1), where the density is
    // steep: integrate in v = atanh(a), da = (1 - tanh(v)^2) dv.
    const V = 10;
    const GV = 1000;
    const dv = (2 * V) / GV;
    let integral = 0;
    for (let i = 0; i < GV; i++) {
      const ax = Math.tanh(-V + (i + 0.5) * dv);
      for (let j = 0; j < GV; j++) {
        const ay = Math.tanh(-V + (j + 0.5) * dv);
        integral += Math.exp(pol.logProb(obs, [ax, ay])) * (1 - ax * ax) * (1 - ay * ay) * dv * dv;
      }
    }
    expect(integral).toBeCloseTo(1, 4);
    // P(vx > 0.5) from samples vs from the density.
    const rng = new Rng(5);
    let hits = 0;
    const S = 20_000;
    for (let i = 0; i < S; i++) if (pol.sample(obs, rng).action[0]! > 0.5) hits++;
    let p = 0;
    for (let i = 0; i < GV; i++) {
      const ax = Math.tanh(-V + (i + 0.5) * dv);
      if (ax <= 0.5) continue;
      for (let j = 0; j < GV; j++) {
        const ay = Math.tanh(-V + (j + 0.5) * dv);
        p += Math.exp(pol.logProb(obs, [ax, ay])) * (1 - ax * ax) * (1 - ay * ay) * dv * dv;
      }
    }
    expect(Math.abs(hits / S - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / S) + 0.005);
  });

  it('CartPole probabilities of both actions sum to 1', () => {
    const obs = Float64Array.of(0.1, -0.2, 0.05, 0.3);
    for (const policy of ['random', 'medium', 'expert'] as const) {
      const pol = levelPolicy(cartPole, noiseLevel(cartPole, policy, 0));
      expect(Math.exp(pol.logProb(obs, [0])) + Math.exp(pol.logProb(obs, [1]))).toBeCloseTo(1, 14);
    }
    expect(levelPolicy(cartPole, null).logProb(obs, [1])).toBe(Math.log(0.5));
    // medium: 0.1 + 0.8 sigmoid(score), score = 10 * 0.05 + 2 * 0.3 + 0.1 * 0.1 + 0.5 * -0.2 = 1.01
    expect(levelPolicy(cartPole, noiseLevel(cartPole, 'medium', 0)).logProb(obs, [1])).toBeCloseTo(Math.log(0.1 + 0.8 / (1 + Math.exp(-1.01))), 14);
  });

  it('medium-replay goes from random to the medium policy', () => {
    expect(noiseLevel(pendulum, 'medium-replay', 0)).toBeNull();
    expect(noiseLevel(pendulum, 'medium-replay', 1)).toEqual(noiseLevel(pendulum, 'medium', 0));
    expect(noiseLevel(pendulum, 'medium-replay', 0.5)!.epsilon).toBeCloseTo(0.75, 15);
  });
});

describe('generateTrajectories', () => {
  it('has Gymnasium episode structure for every env and policy', () => {
    for (const env of ENVS) {
      for (const policy of ['random', 'medium', 'expert', 'medium-replay'] as const) {
        const d = generateTrajectories({ env, policy, episodes: 3, seed: 1 });
        expect(d.episodes).toBe(3);
        let row = 0;
        for (let e = 0; e < 3; e++) {
          const len = d.episodeLengths[e]!;
          let ret = 0;
          for (let t = 0; t < len; t++, row++) {
            expect(d.episodeId[row]).toBe(e);
            expect(d.step[row]).toBe(t);
            ret += d.reward[row]!;
            const last = t === len - 1;
            if (!last) {
              expect(d.terminated[row]).toBe(0);
              expect(d.truncated[row]).toBe(0);
              for (let j = 0; j < d.obsDim; j++) expect(d.nextObservation[row * d.obsDim + j]).toBe(d.observation[(row + 1) * d.obsDim + j]);
            } else {
              expect(d.terminated[row]! + d.truncated[row]!).toBe(1);
              if (d.truncated[row]) expect(len).toBe(env.maxEpisodeSteps);
            }
            expect(Number.isFinite(d.behaviorLogprob[row])).toBe(true);
          }
          expect(d.episodeReturns[e]).toBeCloseTo(ret, 9);
        }
        expect(row).toBe(d.n);
      }
    }
  });

  it('is deterministic by seed', () => {
    const a = generateTrajectories({ env: 'maze', policy: 'medium', episodes: 4, seed: 9 });
    const b = generateTrajectories({ env: 'maze', policy: 'medium', episodes: 4, seed: 9 });
    const c = generateTrajectories({ env: 'maze', policy: 'medium', episodes: 4, seed: 10 });
    expect(Buffer.from(a.observation.buffer).equals(Buffer.from(b.observation.buffer))).toBe(true);
    expect(Array.from(a.behaviorLogprob)).toEqual(Array.from(b.behaviorLogprob));
    expect(Array.from(a.action)).toEqual(Array.from(b.action));
    expect(Array.from(a.observation.subarray(0, 2))).not.toEqual(Array.from(c.observation.subarray(0, 2)));
  });

  it('logs uniform log-density for random and reaches the reference returns for expert', () => {
    const r = generateTrajectories({ env: 'pendulum', policy: 'random', episodes: 2, seed: 0 });
    for (const lp of r.behaviorLogprob) expect(lp).toBeCloseTo(-Math.log(4), 14);
    const ex = generateTrajectories({ env: 'cartpole', policy: 'expert', episodes: 5, seed: 0 });
    expect(Array.from(ex.episodeReturns)).toEqual([500, 500, 500, 500, 500]);
    const pe = generateTrajectories({ env: 'pendulum', policy: 'expert', episodes: 20, seed: 0 });
    const mean = pe.episodeReturns.reduce((a, b) => a + b, 0) / 20;
    expect(mean).toBeGreaterThan(-250); // reference max -139.3 over 200 episodes
    const ref = REFERENCE_SCORES['Pendulum-v1']!;
    expect(ref.min).toBeLessThan(-1000);
  });

  it('cuts the last episode at `steps` and marks it truncated', () => {
    const d = generateTrajectories({ env: 'pendulum', policy: 'medium', steps: 450, seed: 0 });
    expect(d.n).toBe(450);
    expect(d.episodes).toBe(3);
    expect(Array.from(d.episodeLengths)).toEqual([200, 200, 50]);
    expect(d.truncated[449]).toBe(1);
    expect(d.terminated[449]).toBe(0);
  });

  it('rejects bad options with clear errors', () => {
    expectError(() => generateTrajectories({ env: 'pendulum', policy: 'great', episodes: 1, seed: 0 }), 'E_UNKNOWN_POLICY', 'Unknown behaviour policy "great". Use one of: random, medium, expert, medium-replay.');
    expectError(() => generateTrajectories({ env: 'pendulum', policy: 'medium', seed: 0 }), 'E_GENERATOR_PARAM', 'Give exactly one of episodes and steps. For example --episodes 50, or --steps 100000.');
    expectError(() => generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 2, steps: 5, seed: 0 }), 'E_GENERATOR_PARAM', /exactly one of episodes and steps/);
    expectError(() => generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 0, seed: 0 }), 'E_GENERATOR_PARAM', 'episodes must be a positive integer, got 0. Pass --episodes 1 or more.');
    expectError(() => generateTrajectories({ env: 'nope', policy: 'medium', episodes: 1, seed: 0 }), 'E_UNKNOWN_ENV', /^Unknown environment "nope"/);
  });
});

describe('writeTrajectoryDataset', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-envs-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores canonical columns, spaces, reference scores and lineage', async () => {
    const ws = await Workspace.open(path.join(dir, 'ws1'));
    const data = generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 3, seed: 4 });
    const v = await writeTrajectoryDataset(ws, 'pend', data);
    const m = v.metadata;
    expect(m.kind).toBe('trajectory');
    expect(m.rowCount).toBe(600);
    expect(m.episodeCount).toBe(3);
    expect(m.envId).toBe('Pendulum-v1');
    expect(m.refMinScore).toBe(REFERENCE_SCORES['Pendulum-v1']!.min);
    expect(m.refMaxScore).toBe(REFERENCE_SCORES['Pendulum-v1']!.max);
    expect(m.actionSpace).toEqual({ type: 'box', shape: [1], low: [-2], high: [2] });
    expect(m.lineage).toEqual({ transform: 'generate:trajectories', params: { env: 'Pendulum-v1', policy: 'medium', episodes: 3 }, seed: 4 });
    expect(m.columns).toEqual([
      { name: 'episode_id', type: 'BIGINT' },
      { name: 'step', type: 'INTEGER' },
      { name: 'observation', type: 'FLOAT[]' },
      { name: 'next_observation', type: 'FLOAT[]' },
      { name: 'action', type: 'FLOAT[]' },
      { name: 'reward', type: 'DOUBLE' },
      { name: 'terminated', type: 'BOOLEAN' },
      { name: 'truncated', type: 'BOOLEAN' },
      { name: 'behavior_logprob', type: 'DOUBLE' },
    ]);
    const conn = await ws.queryConnection();
    const rows = await queryRows(conn, 'SELECT episode_id, step, action, reward, behavior_logprob, truncated FROM pend WHERE step = 199 ORDER BY episode_id');
    conn.closeSync();
    expect(rows.length).toBe(3);
    const last = 199; // episode 0's last row
    expect(rows[0]).toEqual({
      episode_id: '0',
      step: 199,
      action: [data.action[last]],
      reward: data.reward[last],
      behavior_logprob: data.behaviorLogprob[last],
      truncated: true,
    });
  });

  it('stores discrete actions as INTEGER and gives the same content hash for the same seed', async () => {
    const ws1 = await Workspace.open(path.join(dir, 'a'));
    const ws2 = await Workspace.open(path.join(dir, 'b'));
    const make = (seed: number) => generateTrajectories({ env: 'cartpole', policy: 'medium-replay', episodes: 4, seed });
    const v1 = await writeTrajectoryDataset(ws1, 'cp', make(3));
    const v2 = await writeTrajectoryDataset(ws2, 'cp', make(3));
    const v3 = await writeTrajectoryDataset(ws2, 'cp', make(4));
    expect(v1.metadata.columns.find((c) => c.name === 'action')!.type).toBe('INTEGER');
    expect(v1.metadata.actionSpace).toEqual({ type: 'discrete', n: 2 });
    expect(v1.metadata.contentHash).toBe(v2.metadata.contentHash);
    expect(v3.metadata.contentHash).not.toBe(v1.metadata.contentHash);
  });
});

describe('scripted policies as batched OPE policies', () => {
  it('logProb matches the logged behavior_logprob; act stays in the box', () => {
    const d = generateTrajectories({ env: 'pendulum', policy: 'expert', episodes: 1, seed: 2 });
    const pol = scriptedContinuousPolicy(pendulum, 'expert');
    const lp = pol.logProb(d.observation, d.action as Float32Array, d.n);
    for (let i = 0; i < d.n; i++) expect(lp[i]).toBe(d.behaviorLogprob[i]); // the policy acted on the stored float32 observation
    // upright at rest: PD gives 0; hanging and moving: E = 0.5 - 15 < 15, pump at full torque, pulled inside the box
    const a = pol.act(Float32Array.of(1, 0, 0, -1, 0, 1), 2);
    expect(Array.from(a)).toEqual([0, Math.fround(0.995 * 2)]);
    expect(Array.from(scriptedContinuousPolicy(pendulum, 'random').act(Float32Array.of(1, 0, 0), 1))).toEqual([0]);
  });

  it('discrete action probabilities match the logged ones and sum to 1', () => {
    const d = generateTrajectories({ env: 'cartpole', policy: 'medium', episodes: 1, seed: 2 });
    const pol = scriptedDiscretePolicy(cartPole, 'medium');
    const p = pol.actionProbs(d.observation, d.n);
    for (let i = 0; i < d.n; i++) {
      expect(p[2 * i]! + p[2 * i + 1]!).toBeCloseTo(1, 14);
      expect(Math.log(p[2 * i + d.action[i]!]!)).toBeCloseTo(d.behaviorLogprob[i]!, 14);
    }
  });

  it('refuses the wrong action kind', () => {
    expectError(() => scriptedDiscretePolicy(pendulum, 'medium'), 'E_POLICY_KIND', 'Pendulum-v1 has box actions; a discrete policy needs a discrete action space. Use scriptedContinuousPolicy for box-action environments.');
    expectError(() => scriptedContinuousPolicy(cartPole, 'medium'), 'E_POLICY_KIND', 'CartPole-v1 has discrete actions; a continuous policy needs a box action space. Use scriptedDiscretePolicy for discrete-action environments.');
  });
});

describe('reference scores', () => {
  it('are exactly what the measurement procedure gives (random and expert, 200 seeded episodes)', () => {
    for (const env of ENVS) expect(measureReferenceScores(env)).toEqual(REFERENCE_SCORES[env.id]);
  });
});
