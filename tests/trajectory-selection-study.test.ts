/**
 * A small version of the Pendulum selection study (bench/trajectory-selection-study.ts;
 * the full one is bench/trajectory-selection.ts, results in README "Off-policy
 * evaluation on trajectories"): 100 episodes of 20 steps, gamma 0.9, random, BC,
 * TD3+BC and IQL (plus BC's and IQL's mean actions) after 500 updates of 2 x 32
 * networks, FQE 1,000 updates, truth from 1,000 rollouts per candidate.
 *
 * What it asserts held on every one of seeds 0-5 of this setting (the test runs
 * seed 0). It does not assert a ranking: at this size the candidates' true values
 * lie within 0.3-0.7 of each other (uniform random was the truly best candidate on
 * 4 of the 6 seeds), so no estimator's Spearman or regret@1 held a bound there.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runSelectionStudy, type StudyResult } from '../bench/trajectory-selection-study.js';

let r: StudyResult;
beforeAll(async () => {
  r = await runSelectionStudy({ seed: 0, episodes: 100, horizon: 20, gamma: 0.9, updates: 500, hidden: [32, 32], fqeSteps: 1000, fqeHidden: [32, 32], fqeLr: 1e-3, truthEpisodes: 1000 });
}, 120_000);

const est = (c: StudyResult['candidates'][number], id: string): { value: number; lower: number; upper: number } => c.estimates.find((e) => e.estimator === id)!;
const nmse = (id: string): number => r.selection.rows.find((x) => x.estimator === id && x.by === 'estimate')!.metrics!.nmse;

describe('Pendulum selection study (small: 100 episodes x 20 steps)', () => {
  it('scores all six candidates with six estimators and ranks them against rollouts', () => {
    expect(r.candidates.map((c) => c.name)).toEqual(['random', 'bc', 'bc-mean', 'td3bc', 'iql', 'iql-mean']);
    expect([...r.trueRanking].sort()).toEqual(['bc', 'bc-mean', 'iql', 'iql-mean', 'random', 'td3bc']);
    expect(r.selection.rows.filter((x) => x.by === 'estimate').map((x) => x.estimator)).toEqual(['tis', 'pdis', 'snpdis', 'dr', 'sndr', 'dm']);
    for (const row of r.selection.rows) expect(row.metrics!.k).toBe(1);
  });

  it('the importance weights degenerate over 20 steps for every candidate, uniform and exact densities included', () => {
    for (const c of r.candidates) {
      expect(c.trajectoryEss!).toBeLessThan(0.05 * 100);
      expect(c.warnings).toEqual(expect.arrayContaining(['WEIGHT_DEGENERACY', 'LOW_ESS']));
      expect(c.warnings.includes('KERNEL_WEIGHTS')).toBe(c.kind === 'deterministic (kernel)');
    }
  });

  it('TIS collapses towards 0 (most trajectory weights vanish); DM from 1,000 FQE updates is optimistic by more than 10', () => {
    for (const c of r.candidates) {
      expect(Math.abs(est(c, 'tis').value)).toBeLessThan(Math.abs(c.truth.value) / 2);
      expect(est(c, 'dm').value).toBeGreaterThan(c.truth.value + 10);
    }
  });

  it('squared error: self-normalising helps (SNPDIS < PDIS, SNDR < DR) and so does the control variate (DR < PDIS)', () => {
    expect(nmse('snpdis')).toBeLessThan(nmse('pdis'));
    expect(nmse('sndr')).toBeLessThan(nmse('dr'));
    expect(nmse('dr')).toBeLessThan(nmse('pdis'));
  });

  it('every verdict is inconclusive: DR decides, its weights are degenerate (LOW_ESS), and a "better" from it is blocked', () => {
    // Before the block, DR's t lower bound put 22 of the 36 candidates of seeds 0-5 above the behaviour policy
    // ("better, with caveats"), every one of them truly worse than it; here seed 0 had 3 such.
    for (const c of r.candidates) {
      expect([c.verdict.outcome, c.verdict.decidedBy]).toEqual(['inconclusive', 'dr']);
      expect(c.verdict.sentence).toContain('LOW_ESS');
    }
    const blocked = r.candidates.filter((c) => c.verdict.sentence.includes('the importance weights are degenerate, so the interval cannot be trusted'));
    expect(blocked.map((c) => c.name)).toEqual(['bc-mean', 'td3bc', 'iql-mean']);
    for (const c of blocked) expect(c.truth.value).toBeLessThan(r.behaviour.truth.value);
  });
});
