/**
 * The trajectory deploy verdict without any interval: inconclusive, no bound
 * (null in memory, as the JSON document writes it and the shared Verdict type
 * says), and the reason in sourceNote and the sentence, as the bandit verdict
 * does when no source can be used.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContinuousPolicy } from '../src/core/contracts.js';
import { Workspace } from '../src/datasets/workspace.js';
import { generateTrajectories, writeTrajectoryDataset } from '../src/envs/trajectories.js';
import { evaluateTrajectories } from '../src/ope/trajectory/result.js';
import { deployVerdict } from '../src/ope/trajectory/verdict.js';
import { deployVerdict as banditVerdict } from '../src/ope/verdict.js';
import type { CandidateScore } from '../src/ope/trajectory/score.js';

// Uniform over Pendulum's [-2, 2]: density 1/4.
const uniform: ContinuousPolicy = {
  actionDim: 1,
  act: () => {
    throw new Error('no mean action');
  },
  logProb: (_o, _a, n) => new Float64Array(n).fill(-Math.log(4)),
};

let dir: string;
let ws: Workspace;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-traj-verdict-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  await writeTrajectoryDataset(ws, 'one', generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 1, seed: 2 }));
  await writeTrajectoryDataset(ws, 'three', generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 3, seed: 2 }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a trajectory verdict without any interval', () => {
  it('is inconclusive with lowerBound null and the reason; the JSON document reads back equal (no NaN)', async () => {
    const res = await evaluateTrajectories(ws, { data: 'one', candidates: [{ name: 'u', spec: uniform }], estimators: ['pdis', 'tis'], interval: 't' });
    const v = res.candidates[0]!.verdict;
    expect(res.candidates[0]!.estimates.every((e) => e.interval === undefined)).toBe(true);
    expect([v.outcome, v.recommended, v.lowerBound, v.upperBound, v.decidedBy]).toEqual(['inconclusive', false, null, undefined, undefined]);
    expect(v.sourceNote).toBe('No estimator interval can be used (estimators run: PDIS, TIS): the data has 1 episode, and an interval over episodes needs at least 2.');
    expect(v.sentence).toMatch(/^Inconclusive for candidate u: No estimator interval can be used \(estimators run: PDIS, TIS\): the data has 1 episode, and an interval over episodes needs at least 2\.( Caveats: [A-Z_, ]+\.)?$/);
    // The document survives JSON unchanged: a NaN would come back as null and differ.
    expect(JSON.parse(JSON.stringify(res.candidates[0]!.verdict))).toEqual(v);
  });

  it('MIS / MDR intervals alone do not decide: the note says why and what to add', () => {
    const est = (estimator: string) => ({ estimator, value: 1, interval: { lower: 0.5, upper: 1.5, level: 0.95, method: 't' }, diagnostics: { n: 20 } });
    const score = { name: 'm', estimates: [est('mis'), est('mdr')], warnings: [] } as unknown as CandidateScore;
    const v = deployVerdict(score, { value: 0 }, 0.05);
    expect([v.outcome, v.lowerBound]).toEqual(['inconclusive', null]);
    expect(v.sourceNote).toBe(
      'No estimator interval can be used (estimators run: MIS, MDR): MIS and MDR do not decide a verdict (their intervals treat learned weights as known); add one of DR, PDIS, DM.',
    );
  });

  it('Hoeffding on a self-normalised estimator alone gives no interval: the note says which intervals exist', async () => {
    const res = await evaluateTrajectories(ws, { data: 'three', candidates: [{ name: 'u', spec: uniform }], estimators: ['snpdis'], interval: 'hoeffding' });
    const v = res.candidates[0]!.verdict;
    expect([v.outcome, v.lowerBound]).toEqual(['inconclusive', null]);
    expect(v.sourceNote).toBe(
      'No estimator interval can be used (estimators run: SNPDIS): Hoeffding and Bernstein intervals cover only the plain (not self-normalised) estimators; add one of DR, PDIS, TIS, or use --interval t or bootstrap.',
    );
  });

  it('deployVerdict itself: no interval -> null bounds; an interval decides with its bounds', () => {
    const score = (withInterval: boolean): CandidateScore => ({
      name: 'c',
      source: 'test',
      kind: 'gaussian',
      estimates: [{ estimator: 'pdis', value: -3, diagnostics: { n: 10 }, ...(withInterval ? { interval: { lower: -2, upper: -1, method: 't' as const, alpha: 0.05 } } : {}) }],
      weights: null,
      warnings: [],
      kernel: null,
      valueRange: [-10, 0],
    });
    const none = deployVerdict(score(false), { value: -4 }, 0.05);
    expect([none.outcome, none.lowerBound, none.upperBound, none.lowerBoundSource]).toEqual(['inconclusive', null, null, 'none']);
    const some = deployVerdict(score(true), { value: -4 }, 0.05);
    expect([some.outcome, some.lowerBound, some.upperBound, some.lowerBoundSource]).toEqual(['better', -2, -1, 'PDIS t 95%']);
    // Degenerate weights (LOW_ESS or WEIGHT_DEGENERACY) block that "better": the bound stays, the outcome is inconclusive.
    const degenerate = deployVerdict({ ...score(true), warnings: [{ code: 'WEIGHT_DEGENERACY', message: 'ESS below 10% from step 3.' }] }, { value: -4 }, 0.05);
    expect([degenerate.outcome, degenerate.recommended, degenerate.lowerBound, degenerate.caveats.map((c) => c.code)]).toEqual(['inconclusive', false, -2, ['LOW_ESS']]);
    expect(degenerate.sentence).toBe('Inconclusive for candidate c: PDIS t 95% lower bound -2.000 > -4.000, but the importance weights are degenerate, so the interval cannot be trusted. Caveats: LOW_ESS.');
    // A "worse" is not blocked.
    expect(deployVerdict({ ...score(true), warnings: [{ code: 'LOW_ESS', message: 'few' }] }, { value: 0 }, 0.05).outcome).toBe('worse');
  });

  it('the bandit verdict without a bound also gives null, not NaN', () => {
    const v = banditVerdict({ candidate: 'B', lowerBound: NaN, lowerBoundSource: 'no usable source', alpha: 0.05, loggingValue: 0.06, sourceNote: 'No estimator interval or certificate can be used.' });
    expect([v.outcome, v.lowerBound]).toEqual(['inconclusive', null]);
    expect(JSON.parse(JSON.stringify(v))).toEqual(v);
  });
});
