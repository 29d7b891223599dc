/**
 * Betting (WSR 2024; WWRKM 2022) and empirical-likelihood (KLM 2020) intervals:
 * values checked by hand or by an independent brute-force solve, row order and
 * determinism, every bad input with its error code and message, and the
 * evaluate pipeline (library and CLI) selecting them.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OffpolicyError } from '../src/core/errors.js';
import { Workspace } from '../src/datasets/workspace.js';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { evaluate } from '../src/ope/evaluate.js';
import { bettingIpsInterval, bettingMeanInterval, maxLogCapital, plugInBets } from '../src/ope/intervals/betting.js';
import { elCritical, elDual, empiricalLikelihoodInterval, empiricalLikelihoodMeanInterval } from '../src/ope/intervals/empirical-likelihood.js';
import { intervalsForTerms } from '../src/ope/intervals/index.js';
import { TRAJECTORY_ESTIMATORS, type TrajectoryTermsInput } from '../src/ope/trajectory/estimators/index.js';
import { trajectoryIntervals } from '../src/ope/trajectory/intervals.js';
import { Rng } from '../src/util/rng.js';
import { runCli } from './support/run-cli.js';

function codeOf(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (e) {
    if (e instanceof OffpolicyError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected an OffpolicyError');
}

describe('betting intervals: values by hand', () => {
  it('four ones at alpha = 0.9: every bet is the cap c = 1/2, so L solves (1 + (1 - L) / 2)^4 = 2 / alpha', () => {
    const iv = bettingMeanInterval([1, 1, 1, 1], [0, 1], { alpha: 0.9, order: 'log' });
    expect(iv.lower).toBeCloseTo(3 - 2 * (2 / 0.9) ** 0.25, 10);
    expect(iv.upper).toBe(1);
    expect(iv.method).toBe('betting');
    // The same on the scale [2, 6].
    const scaled = bettingMeanInterval([6, 6, 6, 6], [2, 6], { alpha: 0.9, order: 'log' });
    expect(scaled.lower).toBeCloseTo(2 + 4 * (3 - 2 * (2 / 0.9) ** 0.25), 9);
  });

  it('predictable plug-in bets: lambda_1 from the prior variance 1/4, lambda_2 after one observation', () => {
    const y = new Float64Array(40).fill(0.5);
    y[0] = 1;
    const alpha = 0.95;
    const lam = plugInBets(y, alpha, 'fixed', 0.5);
    const two = 2 * Math.log(2 / alpha);
    expect(lam[0]).toBeCloseTo(Math.sqrt(two / (40 * 0.25)), 14); // 0.386, below the cap
    // mu_1 = (1/2 + 1) / 2 = 0.75, s2_1 = (1/4 + 0.25^2) / 2 = 0.15625
    expect(lam[1]).toBeCloseTo(Math.sqrt(two / (40 * 0.15625)), 14); // 0.488
    // anytime bets: sqrt(2 ln(2/alpha) / (s2_{t-1} t ln(t + 1)))
    const any = plugInBets(y, alpha, 'anytime', 0.5);
    expect(any[1]).toBeCloseTo(Math.min(0.5, Math.sqrt(two / (0.15625 * 2 * Math.log(3)))), 14);
    // the capital of a tiny sequence, by hand: bets 0.5 and 0.25 at m = 0.5
    expect(maxLogCapital([1, 0.9], [0.5, 0.25], 0.5, 0.5)).toBeCloseTo(Math.log(1.25 * 1.1), 14);
    // the running maximum, not the final capital: 1.25, then 1.25 * 0.875
    expect(maxLogCapital([1, 0], [0.5, 0.25], 0.5, 0.5)).toBeCloseTo(Math.log(1.25), 14);
  });

  it('IPS form with all weights 1 is the bounded-mean interval of the rewards; no weight bound is needed', () => {
    const r = Array.from({ length: 300 }, (_, i) => ((i * 7919) % 13) / 12);
    const w = r.map(() => 1);
    expect(bettingIpsInterval(w, r, [0, 1], { alpha: 0.05, seed: 4 })).toEqual(bettingMeanInterval(r, [0, 1], { alpha: 0.05, seed: 4 }));
    // A weight of 1e6 on a zero reward is allowed (no bound on w); the interval stays inside [0, 1].
    const heavy = bettingIpsInterval([...w.slice(1), 1e6], [...r.slice(1), 0], [0, 1], { alpha: 0.05 });
    expect(heavy.lower).toBeGreaterThanOrEqual(0);
    expect(heavy.upper).toBeLessThanOrEqual(1);
  });

  it('row order: same seed, same bytes; another seed or the log order gives another interval', () => {
    const x = Array.from({ length: 400 }, (_, i) => (i < 200 ? 0.9 : 0.1)); // a sorted log
    const a = bettingMeanInterval(x, [0, 1], { alpha: 0.05, seed: 1 });
    expect(bettingMeanInterval(x, [0, 1], { alpha: 0.05, seed: 1 })).toEqual(a);
    expect(bettingMeanInterval(x, [0, 1], { alpha: 0.05, seed: 2 })).not.toEqual(a);
    const logOrder = bettingMeanInterval(x, [0, 1], { alpha: 0.05, order: 'log' });
    expect(logOrder).not.toEqual(a);
    expect(a.lower).toBeLessThan(0.5);
    expect(a.upper).toBeGreaterThan(0.5);
    // The anytime (confidence-sequence) bets pay for validity at every t with a wider interval at n.
    const any = bettingMeanInterval(x, [0, 1], { alpha: 0.05, seed: 1, horizon: 'anytime' });
    expect(any.upper - any.lower).toBeGreaterThan(a.upper - a.lower);
  });
});

describe('empirical likelihood: values checked independently', () => {
  it('plain mean of 0/1 values: the ends solve the closed-form binomial EL ratio', () => {
    const n = 50;
    const k = 18;
    const x = Array.from({ length: n }, (_, i) => (i < k ? 1 : 0));
    const alpha = 0.05;
    const crit = elCritical(alpha, n, 'chi-square');
    expect(crit).toBeCloseTo(3.841458820694124, 9);
    // -2 log R(v) = 2 [k ln(k / (n v)) + (n - k) ln((n - k) / (n (1 - v)))]
    const stat = (v: number): number => 2 * (k * Math.log(k / (n * v)) + (n - k) * Math.log((n - k) / (n * (1 - v))));
    const root = (lo: number, hi: number): number => {
      for (let i = 0; i < 200; i++) {
        const mid = (lo + hi) / 2;
        if (stat(mid) - crit > 0 === stat(lo) - crit > 0) lo = mid;
        else hi = mid;
      }
      return (lo + hi) / 2;
    };
    const iv = empiricalLikelihoodMeanInterval(x, [0, 1], alpha, 'chi-square');
    expect(iv.lower).toBeCloseTo(root(1e-9, k / n), 8);
    expect(iv.upper).toBeCloseTo(root(k / n, 1 - 1e-9), 8);
    // F(1, n) calibration = t_n(0.975)^2 (n = 50: 2.008559^2), slightly wider
    expect(elCritical(alpha, n, 'f')).toBeCloseTo(2.0085591121007611 ** 2, 8);
    const f = empiricalLikelihoodMeanInterval(x, [0, 1], alpha);
    expect(f.lower).toBeLessThan(iv.lower);
    expect(f.upper).toBeGreaterThan(iv.upper);
  });

  it('weighted EL with E[w] = 1 and the extra mass on the weight box: dual = brute-force primal, and the ends sit at the critical value', () => {
    // Two logged rows (w, r) = (0.5, 1), (2.5, 0.2); weights in [0, 3]; rewards in [0, 1].
    const w = [0.5, 2.5];
    const r = [1, 0.2];
    const W = 3;
    // Primal: max log(2 q1) + log(2 q2) with the rest of the mass anywhere in the box
    // [0, W] x [0, 1]; feasible iff -(q1 g1 + q2 g2) lies in (1 - q1 - q2) conv(corners).
    // Brute force: a grid over (q1, q2), zoomed 6 times around the best point.
    const cross = (p: number[], a: number[], b: number[]): number => (a[0]! - p[0]!) * (b[1]! - p[1]!) - (b[0]! - p[0]!) * (a[1]! - p[1]!);
    const inTriangle = (p: number[], a: number[], b: number[], c: number[]): boolean => {
      const d = [cross(p, a, b), cross(p, b, c), cross(p, c, a)];
      return !(d.some((x) => x < -1e-15) && d.some((x) => x > 1e-15));
    };
    const primal = (v: number | null): number => {
      let best = -Infinity;
      let c1 = 0.5;
      let c2 = 0.5;
      let span = 0.5;
      for (let zoom = 0; zoom < 6; zoom++) {
        let b1 = c1;
        let b2 = c2;
        const G = 240;
        for (let i = 0; i <= G; i++) {
          for (let j = 0; j <= G; j++) {
            const q1 = c1 - span + (2 * span * i) / G;
            const q2 = c2 - span + (2 * span * j) / G;
            if (!(q1 > 0 && q2 > 0 && q1 + q2 <= 1)) continue;
            const rest = 1 - q1 - q2;
            const p0 = -(q1 * (w[0]! - 1) + q2 * (w[1]! - 1));
            let ok: boolean;
            if (v === null) ok = p0 >= -rest - 1e-12 && p0 <= rest * (W - 1) + 1e-12;
            else {
              const p = [p0, -(q1 * (w[0]! * r[0]! - v) + q2 * (w[1]! * r[1]! - v))];
              ok = rest < 1e-12 ? Math.hypot(p[0]!, p[1]!) < 1e-9 : inTriangle(p, [-rest, -rest * v], [rest * (W - 1), -rest * v], [rest * (W - 1), rest * (W - v)]);
            }
            if (!ok) continue;
            const f = Math.log(2 * q1) + Math.log(2 * q2);
            if (f > best) {
              best = f;
              b1 = q1;
              b2 = q2;
            }
          }
        }
        c1 = b1;
        c2 = b2;
        span /= 6;
      }
      return best;
    };
    const gw = Float64Array.from(w, (x) => x - 1);
    // g(w, r) = (w - 1, w r - v) at the corners (0, 0), (0, 1), (W, 0), (W, 1)
    const corners = (v: number): number[][] => [[-1, -v], [-1, -v], [W - 1, -v], [W - 1, W - v]];
    const L0 = elDual([gw], [[-1], [W - 1]]).value;
    const l0 = primal(null);
    expect(L0).toBeCloseTo(-l0, 6);
    for (const v of [0.3, 0.7, 0.9]) {
      const gv = Float64Array.from(w, (x, i) => x * r[i]! - v);
      expect(elDual([gw, gv], corners(v)).value).toBeCloseTo(-primal(v), 5);
    }
    const alpha = 0.5;
    const crit = elCritical(alpha, 2); // t_2(0.75)^2 = 2/3
    expect(crit).toBeCloseTo(2 / 3, 10);
    const { interval } = empiricalLikelihoodInterval(w, r, { alpha, rewardRange: [0, 1], maxWeight: W });
    expect(2 * (l0 - primal(interval.lower))).toBeCloseTo(crit, 5);
    expect(2 * (l0 - primal(interval.upper))).toBeCloseTo(crit, 5);
    expect(interval.lower).toBeCloseTo(0.370827, 5);
    expect(interval.upper).toBeCloseTo(0.648699, 5);
    // Rewards on another scale map affinely.
    const scaled = empiricalLikelihoodInterval(w, r.map((x) => 10 + 5 * x), { alpha, rewardRange: [10, 15], maxWeight: W }).interval;
    expect(scaled.lower).toBeCloseTo(10 + 5 * interval.lower, 6);
    expect(scaled.upper).toBeCloseTo(10 + 5 * interval.upper, 6);
  });
});

describe('bad inputs', () => {
  const r = [0, 1, 1, 0];
  const w = [1, 1, 1, 1];
  it('alpha outside (0, 1)', () => {
    for (const alpha of [0, 1, -0.1, NaN]) {
      const msg = `The miscoverage level alpha must lie strictly between 0 and 1, got ${alpha}. Use e.g. --alpha 0.05 for a 95% interval.`;
      expect(codeOf(() => bettingMeanInterval(r, [0, 1], { alpha }))).toEqual({ code: 'E_ALPHA', message: msg });
      expect(codeOf(() => bettingIpsInterval(w, r, [0, 1], { alpha }))).toEqual({ code: 'E_ALPHA', message: msg });
      expect(codeOf(() => empiricalLikelihoodInterval(w, r, { alpha, rewardRange: [0, 1], maxWeight: 2 }))).toEqual({ code: 'E_ALPHA', message: msg });
      expect(codeOf(() => empiricalLikelihoodMeanInterval(r, [0, 1], alpha))).toEqual({ code: 'E_ALPHA', message: msg });
    }
  });

  it('unbounded or out-of-range terms, weights and rewards', () => {
    expect(codeOf(() => bettingMeanInterval([0.5, 0.2, 1.5, Infinity], [0, 1], { alpha: 0.05 }))).toEqual({
      code: 'E_TERM_RANGE',
      message: 'Rule "row term in [0, 1]" failed for 2 rows (first: 2, 3). Betting intervals need values inside a known range: widen --reward-range, or check the weights behind the range.',
    });
    expect(codeOf(() => bettingMeanInterval([0.5], [0, Infinity], { alpha: 0.05 })).code).toBe('E_RANGE');
    expect(codeOf(() => bettingIpsInterval([1, Infinity, -1, 1], r, [0, 1], { alpha: 0.05 }))).toEqual({
      code: 'E_WEIGHT',
      message: 'Rule "importance weight finite and >= 0" failed for 2 rows (first: 1, 2). Betting intervals need pi(a|x) / pi0(a|x) >= 0 on every row; check the propensities.',
    });
    expect(codeOf(() => bettingIpsInterval(w, [0, 2, 1, 0], [0, 1], { alpha: 0.05 })).message).toBe(
      'Rule "reward in [0, 1]" failed for 1 row (first: 1). Betting intervals need values inside a known range: widen --reward-range, or check the weights behind the range.',
    );
    expect(codeOf(() => empiricalLikelihoodInterval([1, 5, 1, 1], r, { alpha: 0.05, rewardRange: [0, 1], maxWeight: 4 }))).toEqual({
      code: 'E_TERM_RANGE',
      message: 'Rule "importance weight in [0, 4]" failed for 1 row (first: 1). Empirical-likelihood intervals need values inside a known range: widen --reward-range, or check the weights behind the range.',
    });
    expect(codeOf(() => empiricalLikelihoodInterval(w, r, { alpha: 0.05, rewardRange: [0, 1], maxWeight: 1 }))).toEqual({
      code: 'E_WEIGHT_BOUND',
      message: 'Empirical-likelihood intervals need weight bounds 0 <= minWeight < 1 < maxWeight < Infinity, got [0, 1]. Pass maxWeight = 1 / (smallest logging propensity).',
    });
    expect(codeOf(() => empiricalLikelihoodInterval(w, r, { alpha: 0.05, rewardRange: [0, 1], maxWeight: Infinity })).code).toBe('E_WEIGHT_BOUND');
    expect(codeOf(() => bettingIpsInterval([1, 2], [1], [0, 1], { alpha: 0.05 }))).toEqual({
      code: 'E_INTERVAL_SHAPE',
      message: 'Betting intervals need one weight per reward, got 2 weights and 1 rewards.',
    });
  });

  it('empty input, and options out of range', () => {
    expect(codeOf(() => bettingMeanInterval([], [0, 1], { alpha: 0.05 }))).toEqual({ code: 'E_TOO_FEW_ROWS', message: 'A betting interval needs at least 1 rows, got 0. Evaluate on a larger log.' });
    expect(codeOf(() => bettingIpsInterval([], [], [0, 1], { alpha: 0.05 })).code).toBe('E_TOO_FEW_ROWS');
    expect(codeOf(() => empiricalLikelihoodInterval([], [], { alpha: 0.05, rewardRange: [0, 1], maxWeight: 2 }))).toEqual({
      code: 'E_TOO_FEW_ROWS',
      message: 'A empirical-likelihood interval needs at least 2 rows, got 0. Evaluate on a larger log.',
    });
    expect(codeOf(() => empiricalLikelihoodMeanInterval([1], [0, 1], 0.05)).code).toBe('E_TOO_FEW_ROWS');
    expect(codeOf(() => bettingMeanInterval(r, [0, 1], { alpha: 0.05, maxBet: 1 }))).toEqual({
      code: 'E_BETTING_BET',
      message: 'The largest bet c must lie strictly between 0 and 1, got 1. Leave it at the default 1/2.',
    });
    expect(codeOf(() => bettingMeanInterval(r, [0, 1], { alpha: 0.05, order: 'sorted' as 'log' }))).toEqual({
      code: 'E_ROW_ORDER',
      message: 'Unknown row order "sorted". Use "shuffle" (a seeded permutation) or "log" (the log\'s own order).',
    });
    expect(codeOf(() => bettingMeanInterval(r, [0, 1], { alpha: 0.05, horizon: 'never' as 'fixed' })).code).toBe('E_BETTING_HORIZON');
    expect(codeOf(() => elCritical(0.05, 10, 'bartlett' as 'f')).code).toBe('E_EL_CALIBRATION');
  });

  it('intervalsForTerms: null with a reason where a method does not apply', () => {
    const num = Float64Array.from(r);
    const terms = [
      { num, den: null, base: null },
      { num, den: Float64Array.from(w), base: null },
      { num, den: null, base: null },
    ];
    const reasons: string[] = [];
    const common = { alpha: 0.05, estimators: ['ips', 'snips', 'dr'], weights: Float64Array.from(w), rewards: Float64Array.from(r), rewardRange: [0, 1] as [number, number], maxWeight: 2 };
    const el = intervalsForTerms(terms, { ...common, method: 'empirical-likelihood', onUnsupported: (j, why) => reasons.push(`${j}: ${why}`) });
    expect(el[0]).not.toBeNull();
    expect(el[1]).toEqual(el[0]);
    expect(el[2]).toBeNull();
    expect(reasons).toEqual(['2: empirical-likelihood intervals (with E[w] = 1) apply to ips and snips only.']);
    reasons.length = 0;
    const bet = intervalsForTerms(terms, { ...common, method: 'betting', ranges: [[0, 2], null, null], onUnsupported: (j, why) => reasons.push(`${j}: ${why}`) });
    expect(bet[0]!.method).toBe('betting');
    expect(bet[1]).toBeNull();
    expect(bet[2]).toBeNull();
    expect(reasons).toEqual([
      '1: betting intervals bound a mean of row terms, and a self-normalized estimator is a ratio of sums (use t or bootstrap for it).',
      '2: betting intervals need a known range of the row terms, and none was given.',
    ]);
  });
});

describe('trajectory intervals', () => {
  it('betting on per-episode terms needs a range, skips SN estimators and is narrower than Hoeffding; EL is refused', () => {
    const rng = new Rng(9);
    const terms = Float64Array.from({ length: 2000 }, () => rng.range(0, 2) * rng.range(0, 2));
    const input = {} as TrajectoryTermsInput; // betting reads only the terms
    const items = (['pdis', 'snpdis'] as const).map((id) => ({ estimator: TRAJECTORY_ESTIMATORS[id], input, terms }));
    expect(codeOf(() => trajectoryIntervals(items, { method: 'betting', alpha: 0.05 })).message).toMatch(/^Betting intervals need the range \[a, b\] of PDIS/);
    const [bet, sn] = trajectoryIntervals(items, { method: 'betting', alpha: 0.05, termRange: [0, 4] });
    const [hoef] = trajectoryIntervals(items, { method: 'hoeffding', alpha: 0.05, termRange: [0, 4] });
    expect(sn).toBeNull();
    expect(bet!.method).toBe('betting');
    expect(bet!.lower).toBeGreaterThan(0.9);
    expect(bet!.upper).toBeLessThan(1.1);
    expect(bet!.lower).toBeLessThan(bet!.upper);
    expect(bet!.upper - bet!.lower).toBeLessThan(hoef!.upper - hoef!.lower);
    expect(codeOf(() => trajectoryIntervals(items, { method: 'empirical-likelihood', alpha: 0.05 }))).toEqual({
      code: 'E_INTERVAL_UNSUPPORTED',
      message: 'Empirical-likelihood intervals are for bandit IPS / SNIPS (they use the constraint E[w] = 1 on single-step weights), not for trajectory estimators. Use --interval t, bootstrap or betting (with a term range).',
    });
  });
});

describe('evaluate --interval betting | empirical-likelihood', () => {
  let dir: string;
  let ws: Workspace;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-betting-el-'));
    ws = await Workspace.open(path.join(dir, 'ws'));
    await writeBanditDataset(ws, 'syn', generateBanditLog({ n: 1500, numActions: 4, contextDim: 3, reward: 'logistic', beta: -1, seed: 7 }));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('library: betting on every bounded estimator and the logging value; EL on ips and snips, the others named in one warning', async () => {
    const bet = await evaluate(ws, { data: 'syn', policies: [{ name: 'logger', spec: 'column:action_probs' }], estimators: ['ips', 'snips', 'dr'], interval: 'betting', seed: 3 });
    expect(bet.settings.interval).toBe('betting');
    expect(bet.logging.interval!.method).toBe('betting');
    const [ips, snips, dr] = bet.candidates[0]!.estimates;
    expect(ips!.interval!.method).toBe('betting');
    expect(ips!.interval!.lower).toBeLessThan(ips!.value);
    expect(ips!.interval!.upper).toBeGreaterThan(ips!.value);
    expect(snips!.interval).toBeUndefined();
    expect(dr!.interval!.method).toBe('betting');
    expect(bet.candidates[0]!.warnings.filter((w) => w.code === 'INTERVAL_UNSUPPORTED').map((w) => w.message)).toEqual([
      'No betting interval for snips: betting intervals bound a mean of row terms, and a self-normalized estimator is a ratio of sums (use t or bootstrap for it).',
    ]);
    const again = await evaluate(ws, { data: 'syn', policies: [{ name: 'logger', spec: 'column:action_probs' }], estimators: ['ips', 'snips', 'dr'], interval: 'betting', seed: 3 });
    expect(again.candidates[0]!.estimates).toEqual(bet.candidates[0]!.estimates);

    const el = await evaluate(ws, { data: 'syn', policies: [{ name: 'logger', spec: 'column:action_probs' }], estimators: ['ips', 'snips', 'dr'], interval: 'empirical-likelihood' });
    const [eIps, eSnips, eDr] = el.candidates[0]!.estimates;
    expect(eIps!.interval!.method).toBe('empirical-likelihood');
    expect(eSnips!.interval).toEqual(eIps!.interval);
    expect(eDr!.interval).toBeUndefined();
    expect(el.candidates[0]!.warnings.filter((w) => w.code === 'INTERVAL_UNSUPPORTED').map((w) => w.message)).toEqual([
      'No empirical-likelihood interval for dr: empirical-likelihood intervals (with E[w] = 1) apply to ips and snips only.',
    ]);
    expect(el.logging.interval!.method).toBe('empirical-likelihood');
    expect(el.logging.interval!.lower).toBeLessThan(el.logging.value);
  });

  it('CLI: --interval empirical-likelihood writes the method into the JSON; an unknown method names the new ones', async () => {
    const file = path.join(dir, 'el.json');
    const { code, out } = await runCli(['-w', path.join(dir, 'ws'), 'evaluate', '--data', 'syn', '--policy', 'logger=column:action_probs', '--estimators', 'ips,snips', '--interval', 'empirical-likelihood', '--out', file]);
    expect(code).toBe(0);
    expect(out).toContain('ips');
    const json = JSON.parse(await readFile(file, 'utf8')) as { settings: { interval: string }; candidates: { estimates: { interval?: { method: string } }[] }[] };
    expect(json.settings.interval).toBe('empirical-likelihood');
    expect(json.candidates[0]!.estimates.map((e) => e.interval?.method)).toEqual(['empirical-likelihood', 'empirical-likelihood']);
    await expect(evaluate(ws, { data: 'syn', policies: [{ spec: 'column:action_probs' }], interval: 'wald' as 'betting' })).rejects.toMatchObject({
      code: 'E_INTERVAL_METHOD',
      message: 'Unknown interval method "wald". Use bootstrap, t, hoeffding, bernstein, poisson-bootstrap, betting or empirical-likelihood.',
    });
  });
});
