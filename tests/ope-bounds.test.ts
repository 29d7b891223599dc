import { describe, expect, it } from 'vitest';
import { catoniClippedIpsBound, catoniFromSums, clippedRiskSums } from '../src/ope/bounds/catoni.js';
import { catoniValue } from '../src/util/pac-bayes.js';
import { exponentialSmoothingBound, exponentialSmoothingFromSums, smoothingSums } from '../src/ope/bounds/exponential-smoothing.js';
import { londonSandlerBound, londonSandlerFromSums } from '../src/ope/bounds/london-sandler.js';
import type { BanditBatch } from '../src/ope/estimators/types.js';
import type { Certificate } from '../src/core/evaluation-result.js';
import { deployVerdict, pickLowerBound } from '../src/ope/verdict.js';
import { Rng } from '../src/util/rng.js';
import { expectError } from './support/expect-error.js';

/**
 * Two distinct rows, each repeated m times (K = 2):
 *   row A: a = 0, r = 1, p = 0.5,  pi = [0.8, 0.2], pi0 = [0.5, 0.5]
 *   row B: a = 1, r = 0, p = 0.25, pi = [0.5, 0.5], pi0 = [0.75, 0.25]
 */
function twoRows(m: number, rewards: [number, number] = [1, 0]): BanditBatch {
  const n = 2 * m;
  const b: BanditBatch = {
    n,
    numActions: 2,
    actions: new Int32Array(n),
    rewards: new Float64Array(n),
    propensities: new Float64Array(n),
    targetProbs: new Float64Array(2 * n),
    loggingProbs: new Float64Array(2 * n),
  };
  for (let i = 0; i < n; i++) {
    const A = i % 2 === 0;
    b.actions[i] = A ? 0 : 1;
    b.rewards[i] = A ? rewards[0] : rewards[1];
    b.propensities[i] = A ? 0.5 : 0.25;
    b.targetProbs.set(A ? [0.8, 0.2] : [0.5, 0.5], 2 * i);
    b.loggingProbs!.set(A ? [0.5, 0.5] : [0.75, 0.25], 2 * i);
  }
  return b;
}

describe('hand-checked values', () => {
  const n = 1000;
  const b = twoRows(500);
  const delta = 0.1;

  it('London-Sandler: R_hat + 2C/(n tau) + sqrt(2 (R_hat + 1/tau) C / (n tau))', () => {
    // clipped risk with tau = 0.3: row A: -1 * 0.8 / max(0.5, 0.3) = -1.6, row B: 0 -> mean -0.8
    const C = Math.log((2 * Math.sqrt(n)) / delta) / n;
    const bound = -0.8 + (2 * C) / 0.3 + Math.sqrt((2 * (-0.8 + 1 / 0.3) * C) / 0.3);
    const c = londonSandlerBound(b, { delta, rewardRange: [0, 1], tau: 0.3 });
    expect(c.kind).toBe('london-sandler');
    expect(c.params.clippedRisk).toBeCloseTo(-0.8, 12);
    expect(c.lower).toBeCloseTo(-bound, 12);
    expect(c.upper).toBeUndefined();
    // on the value scale of rewards in [10, 20]: 10 + 10 * (-bound)
    const scaled = londonSandlerBound(twoRows(500, [20, 10]), { delta, rewardRange: [10, 20], tau: 0.3 });
    expect(scaled.lower).toBeCloseTo(10 + 10 * -bound, 10);
  });

  it('Catoni: the minimum over lambda of (1 - exp(-tau lambda R_hat - C)) / (tau (e^lambda - 1))', () => {
    const tau = 0.3;
    const C = Math.log((2 * Math.sqrt(n)) / delta) / n;
    const f = (l: number): number => (1 - Math.exp(-tau * l * -0.8 - C)) / (tau * (Math.exp(l) - 1));
    expect(catoniValue(-0.8, tau, 1, C)).toBeCloseTo(f(1), 14);
    let best = Infinity;
    for (let l = 0.001; l < 30; l += 0.001) best = Math.min(best, f(l));
    const c = catoniClippedIpsBound(b, { delta, rewardRange: [0, 1], tau });
    expect(c.lower).toBeCloseTo(-best, 6);
    expect(-c.lower).toBeLessThanOrEqual(best + 1e-12);
    expect(c.lower).toBeLessThan(0.8); // weaker than the clipped estimate itself
    expect(c.params.lambda).toBeGreaterThan(0);
  });

  it('exponential smoothing: |R - R_hat| <= sqrt(C1/2n) + B + sqrt(2 C2 (M1 + M2) / n), alpha = 0.5', () => {
    // row A: c = -1: risk term -0.8 / 0.5^0.5, M2 term 0.8 / 0.5 = 1.6, bias mass 0.8 sqrt(.5) + 0.2 sqrt(.5), M1 term 0.8 + 0.2 = 1
    // row B: c = 0:  risk 0, M2 0, bias mass 0.5 sqrt(.75) + 0.5 sqrt(.25), M1 term 1
    const risk = -0.8 / Math.sqrt(0.5) / 2;
    const m2 = 1.6 / 2;
    const m1 = 1;
    const bias = 1 - (Math.sqrt(0.5) + 0.5 * Math.sqrt(0.75) + 0.25) / 2;
    const eps = Math.sqrt(Math.log((4 * Math.sqrt(n)) / delta) / (2 * n)) + bias + Math.sqrt((2 * Math.log(4 / delta) * (m1 + m2)) / n);
    const c = exponentialSmoothingBound(b, { delta, rewardRange: [0, 1], alpha: 0.5 });
    expect(c.params.smoothedRisk).toBeCloseTo(risk, 12);
    expect(c.params.bias).toBeCloseTo(bias, 12);
    expect(c.params.secondMoment).toBeCloseTo(m1, 12);
    expect(c.params.empiricalSecondMoment).toBeCloseTo(m2, 12);
    expect(c.lower).toBeCloseTo(Math.max(0, -risk - eps), 12);
    expect(c.upper!).toBeCloseTo(Math.min(1, -risk + eps), 12);
  });

  it('exponential smoothing: mass on actions the logger never takes lands in the bias term', () => {
    const b1 = twoRows(50);
    for (let i = 0; i < b1.n; i++) b1.loggingProbs!.set(i % 2 === 0 ? [1, 0] : [0.75, 0.25], 2 * i);
    for (let i = 0; i < b1.n; i += 2) b1.propensities[i] = 1;
    const c = exponentialSmoothingBound(b1, { delta: 0.05, rewardRange: [0, 1], alpha: 1 });
    // row A puts 0.2 on the unsupported action: B = (0.2 + 0) / 2 with alpha = 1
    expect(c.params.bias).toBeCloseTo(0.1, 14);
  });
});

// A small generator: 4 contexts, K = 3, Bernoulli rewards, softmax logger, a different candidate.
const mu = [
  [0.2, 0.5, 0.7],
  [0.6, 0.3, 0.1],
  [0.4, 0.4, 0.9],
  [0.8, 0.2, 0.5],
];
const sm = (s: number[]): number[] => {
  const e = s.map(Math.exp);
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
};
const logger = mu.map((m) => sm(m.map((v) => -v)));
const cand = mu.map((m) => sm(m.map((v) => 4 * v)));
const truth = mu.reduce((s, m, x) => s + m.reduce((t, v, a) => t + cand[x]![a]! * v, 0), 0) / mu.length;
function gen(rng: Rng, n: number): BanditBatch {
  const K = 3;
  const b: BanditBatch = { n, numActions: K, actions: new Int32Array(n), rewards: new Float64Array(n), propensities: new Float64Array(n), targetProbs: new Float64Array(n * K), loggingProbs: new Float64Array(n * K) };
  for (let i = 0; i < n; i++) {
    const x = rng.int(mu.length);
    const a = rng.categorical(logger[x]!);
    b.actions[i] = a;
    b.propensities[i] = logger[x]![a]!;
    b.rewards[i] = rng.uniform() < mu[x]![a]! ? 1 : 0;
    b.targetProbs.set(cand[x]!, i * K);
    b.loggingProbs!.set(logger[x]!, i * K);
  }
  return b;
}

const bounds: [string, (b: BanditBatch) => Certificate][] = [
  ['exponential-smoothing', (b) => exponentialSmoothingBound(b, { delta: 0.05, rewardRange: [0, 1] })],
  ['exponential-smoothing alpha=1 (IPS)', (b) => exponentialSmoothingBound(b, { delta: 0.05, rewardRange: [0, 1], alpha: 1 })],
  ['catoni', (b) => catoniClippedIpsBound(b, { delta: 0.05, rewardRange: [0, 1], tau: 0.2 })],
  ['london-sandler', (b) => londonSandlerBound(b, { delta: 0.05, rewardRange: [0, 1], tau: 0.2 })],
];

describe('certificates by simulation', () => {
  it('each bound holds in at least 1 - delta of 200 replications', () => {
    const rng = new Rng(99);
    const holds = bounds.map(() => 0);
    for (let r = 0; r < 200; r++) {
      const b = gen(rng, 300);
      bounds.forEach(([, f], j) => {
        const c = f(b);
        if (c.lower <= truth && (c.upper === undefined || truth <= c.upper)) holds[j]! += 1;
      });
    }
    bounds.forEach(([name], j) => expect(holds[j]! / 200, name).toBeGreaterThanOrEqual(0.95));
  });

  it('each bound is tighter with more data', () => {
    const rng = new Rng(5);
    const meanLower = (f: (b: BanditBatch) => Certificate, n: number): number => {
      let s = 0;
      for (let r = 0; r < 10; r++) s += f(gen(rng, n)).lower;
      return s / 10;
    };
    for (const [name, f] of bounds) {
      const small = meanLower(f, 300);
      const large = meanLower(f, 5000);
      expect(large, name).toBeGreaterThan(small + 0.02);
      expect(large, name).toBeLessThanOrEqual(truth);
    }
  });
});

describe('certificates from mergeable sums', () => {
  // Rewards in [10, 20]: far from 0, so a poor shift would show up as cancellation.
  const b = twoRows(500, [20, 10]);
  const opts = { delta: 0.1, rewardRange: [10, 20] as [number, number], tau: 0.3 };
  const same = (x: Certificate, y: Certificate, tol: number): void => {
    expect(x.kind).toBe(y.kind);
    expect(Math.abs(x.lower - y.lower)).toBeLessThanOrEqual(tol);
    if (y.upper !== undefined) expect(Math.abs(x.upper! - y.upper)).toBeLessThanOrEqual(tol);
  };

  it('give the batch certificate for any reward shift, exactly when the shift is the range minimum', () => {
    for (const shift of [10, 0, 15, -3]) {
      const s = clippedRiskSums(b, 0.3, shift);
      same(catoniFromSums(s, opts), catoniClippedIpsBound(b, opts), shift === 10 ? 0 : 1e-12);
      same(londonSandlerFromSums(s, opts), londonSandlerBound(b, opts), shift === 10 ? 0 : 1e-12);
      const e = smoothingSums(b, 0.5, shift);
      same(exponentialSmoothingFromSums(e, { ...opts, alpha: 0.5 }), exponentialSmoothingBound(b, { ...opts, alpha: 0.5 }), shift === 10 ? 0 : 1e-12);
    }
  });

  it('merge by addition: sums over two halves give the certificate of the whole', () => {
    const half = twoRows(250, [20, 10]);
    const s1 = clippedRiskSums(half, 0.3, 10);
    const whole = { n: 2 * s1.n, shift: 10, sumV: 2 * s1.sumV, sumShiftedRewardV: 2 * s1.sumShiftedRewardV };
    same(catoniFromSums(whole, opts), catoniClippedIpsBound(b, opts), 1e-12);
    const e1 = smoothingSums(half, 0.7, 10);
    const e = { ...e1, n: 2 * e1.n, sumE: 2 * e1.sumE, sumShiftedRewardE: 2 * e1.sumShiftedRewardE, sumF: 2 * e1.sumF, sumShiftedRewardF: 2 * e1.sumShiftedRewardF, sumShiftedReward2F: 2 * e1.sumShiftedReward2F, biasMass: 2 * e1.biasMass, secondMoment: 2 * e1.secondMoment };
    same(exponentialSmoothingFromSums(e, opts), exponentialSmoothingBound(b, { ...opts, alpha: 0.7 }), 1e-12);
  });

  it('hold the parameters they were summed with (the sums carry alpha)', () => {
    const e = smoothingSums(b, 0.7, 10);
    expect(exponentialSmoothingFromSums(e, { ...opts, alpha: 0.2 }).params.alpha).toBe(0.7);
  });
});

describe('certificate errors', () => {
  const b = twoRows(5);
  it('rejects bad delta, KL and tau', () => {
    expectError(() => londonSandlerBound(b, { delta: 0, rewardRange: [0, 1] }), 'E_DELTA', /delta must lie strictly between 0 and 1, got 0/);
    expectError(() => catoniClippedIpsBound(b, { delta: 0.05, rewardRange: [0, 1], kl: -1 }), 'E_KL', /KL\(Q \|\| P\) must be a finite number >= 0, got -1/);
    expectError(() => catoniClippedIpsBound(b, { delta: 0.05, rewardRange: [0, 1], tau: 2 }), 'E_BOUND_PARAM', /tau must lie in \(0, 1\], got 2/);
  });
  it('the exponential-smoothing bound needs the logger distribution', () => {
    expectError(() => exponentialSmoothingBound({ ...b, loggingProbs: undefined }, { delta: 0.05, rewardRange: [0, 1] }), 'E_LOGGING_PROBS_REQUIRED', /needs the logger's full action distribution/);
  });
  it('rewards outside the declared range are a data error naming the rows', () => {
    const bad = twoRows(3, [1, 0]);
    bad.rewards[0] = 1.5;
    bad.rewards[3] = -2;
    expectError(() => londonSandlerBound(bad, { delta: 0.05, rewardRange: [0, 1] }), 'E_REWARD_RANGE', /Rule "reward in \[0, 1\]" failed for 2 rows \(first: 0, 3\)\. Certificates need bounded rewards/);
    expectError(() => londonSandlerBound(b, { delta: 0.05, rewardRange: [1, 1] }), 'E_RANGE', /reward range \[1, 1\] must be finite with min < max/);
  });
});

describe('deploy verdict', () => {
  const base = { candidate: 'B', lowerBoundSource: 'dr (bootstrap)', alpha: 0.05, loggingValue: 0.064 };
  it('better when the lower bound exceeds the logging value, worse when the upper bound is below it, else inconclusive', () => {
    const yes = deployVerdict({ ...base, lowerBound: 0.071, upperBound: 0.09 });
    expect([yes.outcome, yes.recommended]).toEqual(['better', true]);
    expect(yes.sentence).toBe('Candidate B beats the logging policy: dr (bootstrap) lower bound 0.071 > logging value 0.064 at 95%.');
    const no = deployVerdict({ ...base, lowerBound: 0.051, upperBound: 0.07 });
    expect([no.outcome, no.recommended]).toEqual(['inconclusive', false]);
    expect(no.sentence).toBe('Inconclusive for candidate B: dr (bootstrap) lower bound 0.051 <= logging value 0.064; upper bound 0.070 >= 0.064 at 95%.');
    const worse = deployVerdict({ ...base, lowerBound: 0.04, upperBound: 0.0601 });
    expect([worse.outcome, worse.recommended]).toEqual(['worse', false]);
    expect(worse.sentence).toBe('Candidate B is worse than the logging policy: dr (bootstrap) upper bound 0.060 < logging value 0.064 at 95%.');
    expect(deployVerdict({ ...base, lowerBound: 0.064 }).outcome).toBe('inconclusive');
    expect(deployVerdict({ ...base, lowerBound: 0.01, upperBound: 0.064 }).outcome).toBe('inconclusive');
  });
  it('caveats: one makes "better, with caveats"; a blocking one or two undermining ones make it inconclusive; worse stays worse', () => {
    const c = (code: string) => ({ code, message: code });
    const one = deployVerdict({ ...base, lowerBound: 0.071, caveats: [c('ESTIMATED_PROPENSITIES')] });
    expect([one.outcome, one.recommended]).toEqual(['better-with-caveats', true]);
    expect(one.sentence).toBe('Candidate B beats the logging policy, with caveats: dr (bootstrap) lower bound 0.071 > logging value 0.064 at 95%. Caveats: ESTIMATED_PROPENSITIES.');
    expect(deployVerdict({ ...base, lowerBound: 0.071, caveats: [c('LOW_ESS')] }).outcome).toBe('better-with-caveats');
    const two = deployVerdict({ ...base, lowerBound: 0.071, caveats: [c('LOW_ESS'), c('CERTIFICATE_BELOW_LOGGING')] });
    expect([two.outcome, two.recommended]).toEqual(['inconclusive', false]);
    expect(two.sentence).toBe('Inconclusive for candidate B: dr (bootstrap) lower bound 0.071 > logging value 0.064 at 95%, but LOW_ESS, CERTIFICATE_BELOW_LOGGING undermine it.');
    expect(deployVerdict({ ...base, lowerBound: 0.071, caveats: [c('SUPPORT_DEFICIENT_SOURCE')] }).outcome).toBe('inconclusive');
    expect(deployVerdict({ ...base, lowerBound: 0.01, upperBound: 0.02, caveats: [c('LOW_ESS'), c('ESTIMATOR_DISAGREEMENT')] }).outcome).toBe('worse');
  });
  it('strict mode compares with the ends of the logging interval', () => {
    const v = deployVerdict({ ...base, lowerBound: 0.071, loggingUpper: 0.075, strict: true });
    expect(v.recommended).toBe(false);
    expect(v.baseline).toBe(0.075);
    expect(v.sentence).toBe('Inconclusive for candidate B: dr (bootstrap) lower bound 0.071 <= logging upper bound 0.075 at 95%.');
    expect(deployVerdict({ ...base, lowerBound: 0.08, loggingUpper: 0.075, strict: true }).sentence).toBe(
      'Candidate B beats the logging policy: dr (bootstrap) lower bound 0.080 > logging upper bound 0.075 at 95%.',
    );
    // Worse, strictly: below the lower end of the logging interval, not just below its value.
    expect(deployVerdict({ ...base, lowerBound: 0.05, upperBound: 0.062, loggingUpper: 0.075, loggingLower: 0.06, strict: true }).outcome).toBe('inconclusive');
    expect(deployVerdict({ ...base, lowerBound: 0.05, upperBound: 0.058, loggingUpper: 0.075, loggingLower: 0.06, strict: true }).sentence).toBe(
      'Candidate B is worse than the logging policy: dr (bootstrap) upper bound 0.058 < logging lower bound 0.060 at 95%.',
    );
    expectError(() => deployVerdict({ ...base, lowerBound: 0.08, strict: true }), 'E_VERDICT_STRICT', /upper end of the logging policy's interval, but none was given/);
  });
  it('shows enough digits to tell close numbers apart, and handles a missing bound', () => {
    expect(deployVerdict({ ...base, lowerBound: 0.06441, loggingValue: 0.06438 }).sentence).toBe('Candidate B beats the logging policy: dr (bootstrap) lower bound 0.06441 > logging value 0.06438 at 95%.');
    const none = deployVerdict({ ...base, lowerBound: NaN, sourceNote: 'The chosen verdict source cannot be used: dr was refused.' });
    expect([none.outcome, none.recommended]).toEqual(['inconclusive', false]);
    expect(none.sentence).toBe('Inconclusive for candidate B: The chosen verdict source cannot be used: dr was refused.');
    expect(deployVerdict({ ...base, lowerBound: 0.5, alpha: 0.1 }).sentence).toMatch(/at 90%\.$/);
  });
  it('takes the lower bound from a named estimator interval or a certificate', () => {
    const estimates = [{ estimator: 'dr', value: 0.08, interval: { lower: 0.07, upper: 0.09, method: 'bootstrap' as const, alpha: 0.05 }, diagnostics: {} }, { estimator: 'dm', value: 0.1, diagnostics: {} }];
    const certs: Certificate[] = [{ kind: 'london-sandler', lower: 0.05, delta: 0.05, params: {} }];
    expect(pickLowerBound(estimates, certs, { estimator: 'dr' })).toEqual({ lowerBound: 0.07, upperBound: 0.09, lowerBoundSource: 'dr (bootstrap)', alpha: 0.05, decidedBy: { kind: 'estimator', id: 'dr' }, covers: 'value' });
    expect(pickLowerBound(estimates, certs, { certificate: 'london-sandler' })).toEqual({ lowerBound: 0.05, upperBound: Infinity, lowerBoundSource: 'certificate: london-sandler', alpha: 0.05, decidedBy: { kind: 'certificate', id: 'london-sandler' }, covers: 'value' });
    // a one-sided certificate's verdict has no upper bound: absent, not Infinity (which JSON would write as null)
    const picked = pickLowerBound(estimates, certs, { certificate: 'london-sandler' });
    const oneSided = deployVerdict({ ...base, lowerBound: picked.lowerBound, upperBound: picked.upperBound });
    expect('upperBound' in oneSided).toBe(false);
    expect(JSON.parse(JSON.stringify(oneSided))).toEqual(oneSided);
    expectError(() => pickLowerBound(estimates, certs, { estimator: 'dm' }), 'E_VERDICT_SOURCE', /estimator "dm", but it has no interval\. Run it with an interval, or choose another source from: dr\./);
    expectError(() => pickLowerBound(estimates, certs, { estimator: 'ips' }), 'E_VERDICT_SOURCE', /estimator "ips", but that estimator was not run/);
    expectError(() => pickLowerBound(estimates, certs, { certificate: 'catoni-clipped-ips' }), 'E_VERDICT_SOURCE', /"catoni-clipped-ips" certificate, but it was not computed\. Choose from: london-sandler\./);
  });
});
