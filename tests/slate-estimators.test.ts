/**
 * Slate estimators (src/ope/slate/): a hand-computed case to 1e-12, unbiasedness on
 * the synthetic slate generator under the reward structure each one needs, and the
 * coded errors for bad inputs.
 */
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import { describe, expect, it } from 'vitest';
import { estimateSlates, slateDataFromRows, type SlateRows } from '../src/ope/slate/index.js';
import { generateSlateLog, type SlateGeneratorOptions } from '../src/datasets/synthetic/slate.js';
import { OffpolicyError } from '../src/core/errors.js';

/**
 * Two slates of L = 2 positions over K = 3 actions, rows deliberately out of order.
 *   slate 0: actions (0, 1), rewards (1, 0)     slate 1: actions (2, 0), rewards (0, 1)
 * logging:   pscore 0.2 | 0.1;   item-position (0.5, 0.4) | (0.25, 0.5);  cascade (0.5, 0.2) | (0.25, 0.1)
 * candidate: pscore 0.3 | 0.05;  item-position (0.6, 0.3) | (0.1, 0.5);   cascade (0.6, 0.3) | (0.1, 0.05)
 * Cascade-DR inputs per row (K values):
 *   slate 0, l=0: q (0.4, 0.2, 0.1), pi_e (0.6, 0.3, 0.1)   slate 0, l=1: q (0, 0.3, 0.5), pi_e (0, 0.5, 0.5)
 *   slate 1, l=0: q (0.4, 0.2, 0.1), pi_e (0.6, 0.3, 0.1)   slate 1, l=1: q (0.5, 0.3, 0), pi_e (0.5, 0.5, 0)
 */
function handRows(): SlateRows {
  // Row order: (1,1), (0,0), (1,0), (0,1).
  return {
    slateId: [1, 0, 1, 0],
    position: [1, 0, 0, 1],
    action: [0, 0, 2, 1],
    reward: [1, 1, 0, 0],
    pscore: [0.1, 0.2, 0.1, 0.2],
    pscoreItemPosition: [0.5, 0.5, 0.25, 0.4],
    pscoreCascade: [0.1, 0.5, 0.25, 0.2],
    evaluationPscore: [0.05, 0.3, 0.05, 0.3],
    evaluationPscoreItemPosition: [0.5, 0.6, 0.1, 0.3],
    evaluationPscoreCascade: [0.05, 0.6, 0.1, 0.3],
    qHat: [0.5, 0.3, 0, 0.4, 0.2, 0.1, 0.4, 0.2, 0.1, 0, 0.3, 0.5],
    evaluationActionDist: [0.5, 0.5, 0, 0.6, 0.3, 0.1, 0.6, 0.3, 0.1, 0, 0.5, 0.5],
    numActions: 3,
  };
}

describe('slate estimators on a hand-computed case', () => {
  const est = estimateSlates(slateDataFromRows(handRows()), { alpha: 0.05 });
  const value = (id: string): number => est.find((e) => e.estimator === id)!.value;

  it('SIPS: slate weight times the slate reward', () => {
    // slate 0: (0.3 / 0.2) * (1 + 0) = 1.5; slate 1: (0.05 / 0.1) * (0 + 1) = 0.5; mean 1.0
    expect(Math.abs(value('sips') - 1.0)).toBeLessThan(1e-12);
  });
  it('IIPS: item-position weights per slot', () => {
    // slate 0: 1 * 0.6 / 0.5 + 0 = 1.2; slate 1: 0 + 1 * 0.5 / 0.5 = 1; mean 1.1
    expect(Math.abs(value('iips') - 1.1)).toBeLessThan(1e-12);
  });
  it('RIPS: top-l weights per slot', () => {
    // slate 0: 1 * 0.6 / 0.5 + 0 = 1.2; slate 1: 0 + 1 * 0.05 / 0.1 = 0.5; mean 0.85
    expect(Math.abs(value('rips') - 0.85)).toBeLessThan(1e-12);
  });
  it('Cascade-DR: w_1:l (r - q(a)) + w_1:l-1 E_pi_e q', () => {
    // slate 0, l=0: w = 0.6/0.5 = 1.2: 1.2 (1 - 0.4) + 1 (0.6*0.4 + 0.3*0.2 + 0.1*0.1 = 0.31) = 1.03
    // slate 0, l=1: w = 0.3/0.2 = 1.5: 1.5 (0 - 0.3) + 1.2 (0.5*0.3 + 0.5*0.5 = 0.4) = 0.03      -> slate 0: 1.06
    // slate 1, l=0: w = 0.1/0.25 = 0.4: 0.4 (0 - 0.1) + 1 * 0.31 = 0.27
    // slate 1, l=1: w = 0.05/0.1 = 0.5: 0.5 (1 - 0.5) + 0.4 (0.5*0.5 + 0.5*0.3 = 0.4) = 0.41     -> slate 1: 0.68
    // mean (1.06 + 0.68) / 2 = 0.87
    expect(Math.abs(value('cascade-dr') - 0.87)).toBeLessThan(1e-12);
  });
  it('t interval over slates: mean +- t_{0.975, 1} s / sqrt(2)', () => {
    const e = est.find((x) => x.estimator === 'cascade-dr')!;
    // terms 1.06, 0.68: s = |1.06 - 0.68| / sqrt(2), se = s / sqrt(2) = 0.19
    const half = tQuantile(0.975, 1) * 0.19;
    expect(Math.abs(e.interval!.lower - (0.87 - half))).toBeLessThan(1e-12);
    expect(Math.abs(e.interval!.upper - (0.87 + half))).toBeLessThan(1e-12);
    expect(e.interval!.method).toBe('t');
    expect(e.diagnostics.slates).toBe(2);
  });
});

/** Mean of (estimate - truth on the replication's contexts) over seeds, and its standard error. */
function simulate(opts: Omit<SlateGeneratorOptions, 'seed'>, reps: number, estimators: string[], qHat: 'true' | 'biased' = 'true'): Map<string, { mean: number; se: number; truth: number }> {
  const diffs = new Map<string, number[]>(estimators.map((e) => [e, []]));
  let truth = 0;
  for (let r = 0; r < reps; r++) {
    const log = generateSlateLog({ ...opts, seed: 1000 + r });
    truth += log.trueValue / reps;
    // A deliberately wrong Q-hat: twice the truth plus 0.3 (unbiasedness must not depend on it).
    const q = qHat === 'true' ? log.trueQ : log.trueQ.map((v) => 2 * v + 0.3);
    const est = estimateSlates(slateDataFromRows({ ...log, qHat: q, numActions: log.numActions }), { estimators });
    for (const e of est) diffs.get(e.estimator)!.push(e.value - log.trueValue);
  }
  const out = new Map<string, { mean: number; se: number; truth: number }>();
  for (const [id, v] of diffs) {
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1));
    out.set(id, { mean, se: sd / Math.sqrt(v.length), truth });
  }
  return out;
}

describe('unbiasedness on the synthetic slate generator', () => {
  const base = { slates: 200, actions: 4, slateLength: 3, contextDim: 2, interactionScale: 1, behaviourBeta: 0.3, evaluationBeta: 1 } as const;
  const REPS = 150;
  // Within 4 standard errors of zero (a false alarm has probability ~6e-5 per check).
  const within = (r: { mean: number; se: number }): void => {
    expect(r.se).toBeGreaterThan(0);
    expect(Math.abs(r.mean)).toBeLessThan(4 * r.se);
  };

  it('standard additive rewards (every slot interacts with every other): SIPS is unbiased', () => {
    within(simulate({ ...base, rewardStructure: 'standard_additive' }, REPS, ['sips']).get('sips')!);
  });
  it('independent rewards: IIPS (and SIPS, RIPS, Cascade-DR) are unbiased', () => {
    const r = simulate({ ...base, rewardStructure: 'independent' }, REPS, ['sips', 'iips', 'rips', 'cascade-dr']);
    for (const id of ['sips', 'iips', 'rips', 'cascade-dr']) within(r.get(id)!);
    // IIPS has the smallest spread of the three IPS forms when its assumption holds.
    expect(r.get('iips')!.se).toBeLessThan(r.get('rips')!.se);
    expect(r.get('rips')!.se).toBeLessThan(r.get('sips')!.se);
  });
  it('cascade additive rewards: RIPS and Cascade-DR (with the true or a wrong Q-hat) are unbiased', () => {
    const r = simulate({ ...base, rewardStructure: 'cascade_additive' }, REPS, ['sips', 'rips', 'cascade-dr']);
    within(r.get('rips')!);
    within(r.get('cascade-dr')!);
    within(r.get('sips')!);
    // The exact Q makes Cascade-DR's spread smaller than RIPS's.
    expect(r.get('cascade-dr')!.se).toBeLessThan(r.get('rips')!.se);
    const wrong = simulate({ ...base, rewardStructure: 'cascade_additive' }, REPS, ['cascade-dr'], 'biased');
    within(wrong.get('cascade-dr')!);
  });
});

describe('the synthetic slate generator', () => {
  it('is deterministic: the same seed gives the same bytes, another seed other data', () => {
    const opts = { slates: 50, actions: 5, slateLength: 3, seed: 7 };
    const a = generateSlateLog(opts);
    const b = generateSlateLog(opts);
    const c = generateSlateLog({ ...opts, seed: 8 });
    for (const key of ['contexts', 'action', 'reward', 'pscore', 'pscoreItemPosition', 'pscoreCascade', 'evaluationActionDist', 'trueQ'] as const) {
      expect(Buffer.from(a[key].buffer).equals(Buffer.from(b[key].buffer))).toBe(true);
    }
    expect(a.trueValue).toBe(b.trueValue);
    expect(Buffer.from(a.action.buffer).equals(Buffer.from(c.action.buffer))).toBe(false);
  });
  it('gives consistent propensities: marginals over slates, cascades ending at the slate probability', () => {
    const g = generateSlateLog({ slates: 20, actions: 4, slateLength: 3, seed: 1 });
    const L = 3;
    for (let s = 0; s < 20; s++) {
      expect(Math.abs(g.pscoreCascade[s * L + L - 1]! - g.pscore[s * L]!)).toBeLessThan(1e-15);
      expect(Math.abs(g.pscoreItemPosition[s * L]! - g.pscoreCascade[s * L]!)).toBeLessThan(1e-15);
      // pi_e(logged a_1 | x) is the candidate's cascade at the top.
      expect(Math.abs(g.evaluationActionDist[s * L * 4 + g.action[s * L]!]! - g.evaluationPscoreCascade[s * L]!)).toBeLessThan(1e-15);
    }
  });
  it('refuses bad parameters with E_GENERATOR_PARAM', () => {
    expect(() => generateSlateLog({ slates: 10, actions: 3, slateLength: 4, seed: 0 })).toThrow(/slate length must be an integer between 2 and 3/);
    expect(() => generateSlateLog({ slates: 10, actions: 40, slateLength: 4, seed: 0 })).toThrowError(expect.objectContaining({ code: 'E_GENERATOR_PARAM' }));
  });
});

describe('bad slate inputs', () => {
  const code = (f: () => unknown): { code: string; message: string } => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(OffpolicyError);
      return { code: (e as OffpolicyError).code, message: (e as OffpolicyError).message };
    }
    throw new Error('no error');
  };
  it('a missing pscore column names the column and the estimator', () => {
    const { pscoreItemPosition: _, ...rows } = handRows();
    const e = code(() => estimateSlates(slateDataFromRows(rows), { estimators: ['iips'] }));
    expect(e.code).toBe('E_MISSING_COLUMN');
    expect(e.message).toContain('Slate estimator iips needs');
    expect(e.message).toContain('pscore_item_position');
  });
  it('slates of different lengths', () => {
    const r = handRows();
    const e = code(() => slateDataFromRows({ ...r, slateId: [1, 0, 1, 0, 2], position: [1, 0, 0, 1, 0], reward: [1, 1, 0, 0, 1], action: undefined, pscore: undefined, pscoreItemPosition: undefined, pscoreCascade: undefined, evaluationPscore: undefined, evaluationPscoreItemPosition: undefined, evaluationPscoreCascade: undefined, qHat: undefined, evaluationActionDist: undefined }));
    expect(e.code).toBe('E_SLATE_LENGTH');
    expect(e.message).toContain('Rule "every slate has the same number of rows (L = 2, as slate 0)" failed for 1 row (first: 2)');
  });
  it('a repeated position within a slate', () => {
    const r = handRows();
    const e = code(() => slateDataFromRows({ ...r, position: [1, 0, 1, 1] }));
    expect(e.code).toBe('E_SLATE_POSITION');
    expect(e.message).toContain('each slate holds positions 0..1 once each');
  });
  it('pscores outside (0, 1]', () => {
    const r = handRows();
    for (const bad of [0, 1.5, NaN]) {
      const e = code(() => estimateSlates(slateDataFromRows({ ...r, pscoreItemPosition: [0.5, bad, 0.25, 0.4] }), { estimators: ['iips'] }));
      expect(e.code).toBe('E_SLATE_PSCORE');
      expect(e.message).toContain('Rule "pscore_item_position in (0, 1]" failed for 1 row (first: 0)');
    }
    const e = code(() => estimateSlates(slateDataFromRows({ ...r, evaluationPscoreCascade: [0.05, 0.6, -0.1, 0.3] }), { estimators: ['rips'] }));
    expect(e.message).toContain('evaluation_policy_pscore_cascade in [0, 1]');
  });
  it('a slate pscore that differs within its slate, a cascade that grows', () => {
    const r = handRows();
    expect(code(() => estimateSlates(slateDataFromRows({ ...r, pscore: [0.1, 0.2, 0.15, 0.2] }), { estimators: ['sips'] })).message).toContain('pscore is the same on every row of a slate');
    expect(code(() => estimateSlates(slateDataFromRows({ ...r, pscoreCascade: [0.3, 0.5, 0.25, 0.2] }), { estimators: ['rips'] })).message).toContain('pscore_cascade does not increase down a slate');
  });
  it('Cascade-DR: an action distribution that does not sum to 1, wrong input widths', () => {
    const r = handRows();
    const dist = [...(r.evaluationActionDist as number[])];
    dist[0] = 0.9;
    const e = code(() => estimateSlates(slateDataFromRows({ ...r, evaluationActionDist: dist }), { estimators: ['cascade-dr'] }));
    expect(e.code).toBe('E_SLATE_ACTION_DIST');
    expect(code(() => slateDataFromRows({ ...r, qHat: [1, 2, 3] })).code).toBe('E_SLATE_SHAPE');
    // Without numActions, K comes from the actions or the width of qHat, which must be whole rows.
    const { numActions: _k, action: _a, ...noK } = r;
    expect(code(() => slateDataFromRows({ ...noK, qHat: [1, 2, 3, 4, 5, 6], evaluationActionDist: undefined })).message).toContain('Slate input qHat has 6 entries, expected 8');
    expect(code(() => estimateSlates(slateDataFromRows(r), { estimators: ['nope'] })).code).toBe('E_UNKNOWN_ESTIMATOR');
  });
});
