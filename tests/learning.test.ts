import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { sliceBanditLog, trueValue } from '../src/datasets/synthetic/bandit-log.js';
import { multiclassToBandit } from '../src/datasets/synthetic/multiclass.js';
import { writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { Workspace } from '../src/datasets/workspace.js';
import { evaluate } from '../src/ope/evaluate.js';
import { loadBanditRef } from '../src/datasets/load-bandit.js';
import { certificateRiskBound } from '../src/learning/certificate.js';
import { evaluateObjective, objectiveSettings, type ObjectiveBatch, type ObjectiveName } from '../src/learning/objectives.js';
import { learnPolicy, lossAndGradient, posteriorKl, type LearningLog } from '../src/learning/train.js';
import { priorFromJsonPolicy } from '../src/learning/prior.js';
import { writeLearnedPolicy } from '../src/learning/write.js';
import { buildJsonPolicy } from '../src/policies/json-policy.js';
import { fixedMixedLogitNoise, LinearGibbsKernel, LinearMapF64, linearClassProbs, type LinearParams, type MixedLogitNoise } from '../src/policies/linear-gibbs.js';
import { LinearMapWasmF32 } from '../src/learning/linear-f32.js';
import { gaussHermiteNormal, normalCdf } from '../src/util/normal.js';
import { Rng } from '../src/util/rng.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'offpolicy-learn-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// A two-row batch: pi, logged actions 0 and 1, propensities 0.5 and 0.25, costs -1 and -0.5.
const small: ObjectiveBatch = {
  B: 2,
  k: 2,
  pi: Float64Array.from([0.6, 0.4, 0.3, 0.7]),
  actions: Int32Array.from([0, 1]),
  propensities: Float64Array.from([0.5, 0.25]),
  costs: Float64Array.from([-1, -0.5]),
  pi0: Float64Array.from([0.5, 0.5, 0.75, 0.25]),
  qhat: Float64Array.from([0.2, 0.8, 0.5, 0.1]),
};
const value = (name: ObjectiveName, kl = 1, n = 4, delta = 0.1, alpha = 0.5, tau = 0.4): number =>
  evaluateObjective(name, objectiveSettings(name, n, delta, alpha, tau), small, kl, new Float64Array(4)).value;

describe('objectives on a hand-computed case', () => {
  it('IPS, clipped IPS, SNIPS, DM', () => {
    expect(value('ips')).toBeCloseTo((-1 * 0.6) / 0.5 / 2 + (-0.5 * 0.7) / 0.25 / 2, 14); // -1.3
    expect(value('ips')).toBeCloseTo(-1.3, 14);
    expect(value('clipped-ips')).toBeCloseTo((-1.2 - 0.875) / 2, 14);
    expect(value('snips')).toBeCloseTo(-2.6 / 4, 14);
    expect(value('dm')).toBeCloseTo(-(0.12 + 0.32 + 0.15 + 0.07) / 2, 14);
  });

  it('London-Sandler', () => {
    const R = -1.0375;
    const C = (1 + Math.log(40)) / 4; // (KL + ln(2 sqrt(4) / 0.1)) / 4
    expect(value('london')).toBeCloseTo(R + (2 * C) / 0.4 + Math.sqrt((2 * (R + 2.5) * C) / 0.4), 12);
  });

  it('Catoni: the minimum over lambda of the Catoni expression', () => {
    const R = -1.0375;
    const C = (1 + Math.log(40)) / 4;
    let best = Infinity;
    for (let l = 1e-4; l < 60; l *= 1.0001) best = Math.min(best, (1 - Math.exp(-0.4 * l * R - C)) / (0.4 * (Math.exp(l) - 1)));
    expect(value('catoni')).toBeLessThanOrEqual(best + 1e-12);
    expect(value('catoni')).toBeGreaterThan(best - 1e-7);
  });

  it('exponential smoothing with the closed-form lambda', () => {
    const R = (-0.6 / Math.sqrt(0.5) - 0.7) / 2;
    const bias = 1 - (0.6 * Math.sqrt(0.5) + 0.4 * Math.sqrt(0.5) + 0.3 * Math.sqrt(0.75) + 0.7 * 0.5) / 2;
    const M = 1 + (0.6 / 0.5 + (0.25 * 0.7) / 0.25) / 2; // V1 = mean sum_a pi = 1 at alpha 1/2; V2 = 0.95
    const c1 = 1 + Math.log(80), c2 = 1 + Math.log(40);
    const lambda = Math.sqrt((2 * c2) / (4 * M));
    expect(value('es')).toBeCloseTo(R + Math.sqrt(c1 / 8) + bias + c2 / (4 * lambda) + (lambda / 2) * M, 12);
  });

  it('Bernstein, plain (xi = 0) and with the control variate (xi = -0.5)', () => {
    const tau = 0.4, n = 4, delta = 0.1;
    const g = (u: number): number => (Math.exp(u) - 1 - u) / (u * u);
    for (const xi of [0, -0.5]) {
      const tauXi = (1 + xi) / tau - xi;
      const cXi = Math.max(xi * xi, (1 + xi) ** 2);
      const R = ((-1 - xi) * 0.6) / 0.5 / 2 + ((-0.5 - xi) * 0.7) / 0.4 / 2 + xi;
      // pi0 < tau only at (row 1, action 1): pi0 = 0.25
      const b = (0.7 * (1 - 0.25 / 0.4)) / 2;
      const M = (0.5 * 0.6 / 0.25 + 0.5 * 0.4 / 0.25 + 0.75 * 0.3 / 0.5625 + 0.25 * 0.7 / 0.16) / 2;
      const lo = Math.sqrt((2 * tau * Math.log(1 / delta)) / (5 * n * cXi)), hi = 2 / tauXi;
      let best = Infinity;
      for (let j = 0; j < 200; j++) {
        const l = lo + ((hi - lo) * j) / 199;
        best = Math.min(best, (1 + Math.log(400 / delta)) / (l * n) + cXi * l * g(l * tauXi) * M);
      }
      const expected = R - xi * b + Math.sqrt((1 + Math.log((4 * 2) / delta)) / (2 * n)) + best;
      expect(value(xi === 0 ? 'bernstein' : 'bernstein-cv', 1, n, delta, 0.5, tau)).toBeCloseTo(expected, 12);
    }
  });

  it('the ES certificate takes the best lambda of a fixed grid at delta / 100', () => {
    const { risk, lambda } = certificateRiskBound('es', small, 1, 0.1, 0.5, 0.4);
    const R = (-0.6 / Math.sqrt(0.5) - 0.7) / 2;
    const bias = 1 - (0.6 * Math.sqrt(0.5) + 0.4 * Math.sqrt(0.5) + 0.3 * Math.sqrt(0.75) + 0.7 * 0.5) / 2;
    const M = 1.95;
    const d = 0.001;
    const c1 = 1 + Math.log((4 * Math.sqrt(2)) / d), c2 = 1 + Math.log(4 / d);
    const at = (l: number): number => R + Math.sqrt(c1 / 4) + bias + c2 / (2 * l) + (l / 2) * M;
    let best = Infinity;
    for (let j = 0; j < 100; j++) best = Math.min(best, at(Math.exp(Math.log(0.5) + ((Math.log(10) - Math.log(0.5)) * j) / 99)));
    expect(risk).toBeCloseTo(best, 12);
    expect(risk).toBeCloseTo(at(lambda!), 12);
  });
});

describe('policy classes', () => {
  it('Gauss-Hermite nodes integrate normal moments exactly', () => {
    const { nodes, weights } = gaussHermiteNormal(10);
    const m = (p: number): number => nodes.reduce((s, z, g) => s + weights[g]! * z ** p, 0);
    expect(m(0)).toBeCloseTo(1, 14);
    expect(m(2)).toBeCloseTo(1, 12);
    expect(m(4)).toBeCloseTo(3, 11);
    expect(m(6)).toBeCloseTo(15, 9);
    expect(Math.abs(m(3))).toBeLessThan(1e-12);
  });

  it('probit probabilities match a Monte Carlo estimate of P(argmax theta x = a)', () => {
    const p: LinearParams = { weights: Float64Array.from([0.5, -0.3, 0.1, 0.8, -0.6, 0.2]), bias: Float64Array.from([0.1, 0, -0.2]), sigma: 0.7 };
    const x = Float32Array.from([0.4, -1.2]);
    const probs = linearClassProbs('probit', p, 3, 2, x, 1, { quadratureNodes: 40 });
    const rng = new Rng(5);
    const counts = [0, 0, 0];
    const T = 200000;
    for (let t = 0; t < T; t++) {
      let best = -1, bestS = -Infinity;
      for (let a = 0; a < 3; a++) {
        const s = (p.weights[a * 2]! + p.sigma * rng.normal()) * x[0]! + (p.weights[a * 2 + 1]! + p.sigma * rng.normal()) * x[1]! + p.bias[a]! + p.sigma * rng.normal();
        if (s > bestS) { bestS = s; best = a; }
      }
      counts[best]!++;
    }
    for (let a = 0; a < 3; a++) expect(Math.abs(probs[a]! - counts[a]! / T)).toBeLessThan(0.004);
  });

  it('mixed logit with independent noise differs from the plain softmax; the JSON types reproduce the kernel', async () => {
    const p: LinearParams = { weights: Float64Array.from([1, 0, 0, 1]), bias: Float64Array.from([0, 0.5]), sigma: 1.5 };
    const x = Float32Array.from([2, -1, 0.5, 0.5]);
    const soft = linearClassProbs('softmax', p, 2, 2, x, 2);
    const noise = fixedMixedLogitNoise(256, 2, 3);
    const mixed = linearClassProbs('mixed-logit', p, 2, 2, x, 2, { noise });
    expect(Math.abs(mixed[0]! - soft[0]!)).toBeGreaterThan(0.02); // noise flattens the distribution
    expect(mixed[0]! + mixed[1]!).toBeCloseTo(1, 14);
    const W = [[1, 0], [0, 1]];
    const jm = await buildJsonPolicy({ type: 'mixed-logit', weights: W, bias: [0, 0.5], sigma: 1.5, samples: 256, seed: 3 }, 't', { numActions: 2, contextDim: 2 });
    expect(Array.from(jm.actionProbs(x, 2))).toEqual(Array.from(mixed));
    const jp = await buildJsonPolicy({ type: 'probit', weights: W, bias: [0, 0.5], sigma: 1.5, nodes: 20 }, 't', { numActions: 2, contextDim: 2 });
    expect(Array.from(jp.actionProbs(x, 2))).toEqual(Array.from(linearClassProbs('probit', p, 2, 2, x, 2)));
    // K = 2 probit is exact: P(s_0 - s_1 + sigma |x~| (e0 - e1) > 0) = Phi((s_0 - s_1) / (sigma |x~| sqrt 2))
    const s0 = 2, s1 = -1 + 0.5, nrm = Math.sqrt(4 + 1 + 1);
    expect(jp.actionProbs(x, 2)[0]!).toBeCloseTo(normalCdf((s0 - s1) / (1.5 * nrm * Math.SQRT2)), 6);
    await expect(buildJsonPolicy({ type: 'probit', weights: W, sigma: -1 }, 't', { numActions: 2, contextDim: 2 })).rejects.toMatchObject({ code: 'E_POLICY_SPEC' });
    await expect(buildJsonPolicy({ type: 'mixed-logit', weights: [[1, 0]], sigma: 1, samples: 4, seed: 0 }, 't', { numActions: 2, contextDim: 2 })).rejects.toMatchObject({ code: 'E_ACTION_SPACE' });
  });

  it('KL(N(mu, sigma^2 I) || N(mu0, I)) in closed form', () => {
    const p: LinearParams = { weights: Float64Array.from([1, 2]), bias: Float64Array.from([0, 1]), sigma: 0.5 };
    const kl = posteriorKl(p, Float64Array.from([0, 2]), Float64Array.from([0, 0]), true);
    expect(kl).toBeCloseTo(0.5 * (4 * (0.25 - 2 * Math.log(0.5) - 1) + 1 + 1), 14);
    expect(posteriorKl(p, Float64Array.from([0, 2]), Float64Array.from([0, 0]), false)).toBeCloseTo(1, 14);
  });
});

describe('gradients against finite differences', () => {
  const k = 3, d = 2, B = 6;
  const rng = new Rng(11);
  const contexts = Float32Array.from({ length: B * d }, () => rng.normal());
  const idx = Int32Array.from({ length: B }, (_, i) => i);
  const pi0 = new Float64Array(B * k);
  for (let i = 0; i < B; i++) {
    const raw = [0.2 + rng.uniform(), 0.2 + rng.uniform(), 0.05 + 0.1 * rng.uniform()];
    const t = raw[0]! + raw[1]! + raw[2]!;
    raw.forEach((v, a) => (pi0[i * k + a] = v / t));
  }
  const actions = Int32Array.from({ length: B }, (_, i) => i % k);
  const batch = {
    B,
    k,
    actions,
    propensities: Float64Array.from({ length: B }, (_, i) => pi0[i * k + actions[i]!]!),
    costs: Float64Array.from({ length: B }, () => -rng.uniform()),
    pi0,
    qhat: Float64Array.from({ length: B * k }, () => rng.uniform()),
  };
  const mu0W = Float64Array.from({ length: k * d }, () => 0.3 * rng.normal());
  const mu0B = new Float64Array(k);
  const noise: MixedLogitNoise = { samples: 5, draws: Float64Array.from({ length: B * 5 * k }, () => rng.normal()), perRow: true };
  const objectives: ObjectiveName[] = ['es', 'catoni', 'bernstein', 'bernstein-cv', 'london', 'ips', 'clipped-ips', 'snips', 'dm'];
  for (const cls of ['softmax', 'mixed-logit', 'probit'] as const) {
    for (const obj of objectives) {
      it(`${cls} / ${obj}`, () => {
        const kern = new LinearGibbsKernel(cls, k, d, { quadratureNodes: 12 });
        const lc = { objective: obj, settings: objectiveSettings(obj, 50, 0.05, 0.7, 0.3), kern, contexts, mu0W, mu0B };
        const base: LinearParams = { weights: Float64Array.from({ length: k * d }, (_, j) => 0.5 * Math.sin(j + 1)), bias: Float64Array.from([0.1, -0.2, 0.05]), sigma: 0.8 };
        const P = k * (d + 1);
        const grad = new Float64Array(P + 1);
        lossAndGradient(lc, base, idx, batch, noise, grad);
        const f = (j: number, h: number): number => {
          const p: LinearParams = { weights: Float64Array.from(base.weights), bias: Float64Array.from(base.bias), sigma: base.sigma };
          if (j < k * d) p.weights[j]! += h;
          else if (j < P) p.bias[j - k * d]! += h;
          else p.sigma = Math.exp(Math.log(p.sigma) + h);
          return lossAndGradient(lc, p, idx, batch, noise, new Float64Array(P + 1)).value;
        };
        const h = 1e-6;
        for (let j = 0; j <= P; j++) {
          if (j === P && cls === 'softmax') continue;
          const fd = (f(j, h) - f(j, -h)) / (2 * h);
          expect(Math.abs(grad[j]! - fd)).toBeLessThan(2e-6 + 1e-5 * Math.abs(fd));
        }
      });
    }
  }
});

describe('the f32 wasm products training uses', () => {
  it('give the f64 scores and weight gradient to f32 accuracy, for K not a multiple of 4 and rows by index', () => {
    const k = 5, d = 37, n = 40, B = 13;
    const rng = new Rng(5);
    const x = Float32Array.from({ length: n * d }, () => rng.normal());
    const idx = Int32Array.from({ length: B }, (_, r) => (7 * r + 3) % n);
    const p: LinearParams = { weights: Float64Array.from({ length: k * d }, () => rng.normal()), bias: Float64Array.from({ length: k }, () => rng.normal()), sigma: 1 };
    const gs = Float64Array.from({ length: B * k }, () => rng.normal());
    const f64 = new LinearMapF64(k, d), f32 = new LinearMapWasmF32(k, d);
    const s64 = new Float64Array(B * k), s32 = new Float64Array(B * k);
    f64.scores(p, x, idx, B, s64);
    f32.scores(p, x, idx, B, s32);
    const gw64 = new Float64Array(k * d), gb64 = new Float64Array(k), gw32 = new Float64Array(k * d).fill(1), gb32 = new Float64Array(k).fill(1);
    f64.accumulate(x, idx, B, gs, gw64, gb64);
    f32.accumulate(x, idx, B, gs, gw32, gb32); // adds to what is there
    for (let j = 0; j < B * k; j++) expect(Math.abs(s32[j]! - s64[j]!)).toBeLessThan(1e-4 * (1 + Math.abs(s64[j]!)));
    for (let j = 0; j < k * d; j++) expect(Math.abs(gw32[j]! - 1 - gw64[j]!)).toBeLessThan(1e-4 * (1 + Math.abs(gw64[j]!)));
    for (let a = 0; a < k; a++) expect(gb32[a]! - 1).toBeCloseTo(gb64[a]!, 12);
    // a direct check of one score and one gradient entry
    let s = p.bias[2]!;
    for (let j = 0; j < d; j++) s += p.weights[2 * d + j]! * x[idx[4]! * d + j]!;
    expect(s64[4 * k + 2]!).toBeCloseTo(s, 10);
    let g = 0;
    for (let r = 0; r < B; r++) g += gs[r * k + 3]! * x[idx[r]! * d + 8]!;
    expect(gw64[3 * d + 8]!).toBeCloseTo(g, 10);
  });

  it('learnPolicy in f32 (the default) lands on the f64 run to ~1e-6, and its certificate is computed in f64', () => {
    const log = multiclassToBandit({ dataset: 'iris', alphaB: 0.5, seed: 2, n: 600 });
    const opts = { objective: 'es', policyClass: 'mixed-logit', epochs: 3, seed: 4, policySamples: 16 } as const;
    const a = learnPolicy(log, opts), b = learnPolicy(log, { ...opts, precision: 'f64' });
    expect(a.settings.precision).toBe('f32');
    expect(b.settings.precision).toBe('f64');
    for (let j = 0; j < a.params.weights.length; j++) expect(Math.abs(a.params.weights[j]! - b.params.weights[j]!)).toBeLessThan(1e-5);
    expect(a.certificate.valueLower).toBeCloseTo(b.certificate.valueLower, 5);
    expect(a.params.weights).not.toEqual(b.params.weights); // they do run different arithmetic
    expect(() => learnPolicy(log, { ...opts, precision: 'f16' as 'f32' })).toThrow(expect.objectContaining({ code: 'E_CLI_ARG', message: 'Unknown precision "f16". Use f32 or f64.' }));
  });
});

function asLearningLog(l: { n: number; numActions: number; contextDim: number; contexts: Float32Array; actions: Int32Array; rewards: Float64Array; propensities: Float64Array; actionProbs: Float64Array }): LearningLog {
  return { n: l.n, numActions: l.numActions, contextDim: l.contextDim, contexts: l.contexts, actions: l.actions, rewards: l.rewards, propensities: l.propensities, actionProbs: l.actionProbs };
}

describe('certificates by simulation', () => {
  // 200 replications each: learn from a log of n rows, certify, compare with the true value on
  // 2,000 fresh contexts. Sizes where each bound is informative (mean lower bound well above 0):
  // Catoni ~0.26 at n = 400, Bernstein-cv ~0.31 at n = 2,000 (held-out 500), ES ~0.2 at n = 8,000
  // (held-out 2,000), against true values ~0.52-0.6. London-Sandler is vacuous at these sizes.
  const cases = [
    { policyClass: 'mixed-logit', objective: 'catoni', n: 400, epochs: 2 },
    { policyClass: 'softmax', objective: 'bernstein-cv', n: 2000, epochs: 2 },
    { policyClass: 'softmax', objective: 'es', n: 8000, epochs: 1 },
  ] as const;
  for (const c of cases) {
    it(`${c.policyClass} / ${c.objective}: the certificate holds in >= 95% of 200 replications, and is informative`, () => {
      let holds = 0;
      let meanLower = 0;
      const R = 200;
      for (let rep = 0; rep < R; rep++) {
        const full = generateBanditLog({ n: c.n + 2000, numActions: 3, contextDim: 3, reward: 'logistic', beta: 1, seed: 1000 + rep });
        const log = sliceBanditLog(full, 0, c.n);
        const test = sliceBanditLog(full, c.n, c.n + 2000);
        const r = learnPolicy(asLearningLog(log), { policyClass: c.policyClass, objective: c.objective, epochs: c.epochs, learningRate: 0.05, seed: rep, policySamples: 32 });
        const probs = linearClassProbs(c.policyClass, r.params, 3, 3, test.contexts, test.n, { noise: fixedMixedLogitNoise(32, 3, rep) });
        if (r.certificate.valueLower <= trueValue(test.expectedRewards, probs, test.n, 3)) holds++;
        meanLower += r.certificate.valueLower / R;
      }
      expect(holds / R).toBeGreaterThanOrEqual(0.95);
      expect(meanLower).toBeGreaterThan(0.1);
    }, 300_000);
  }

  it('with a uniform logger on iris, the learned policy is much better and its certificate says so', () => {
    const log = multiclassToBandit({ dataset: 'iris', alphaB: 0, seed: 0, n: 3000 });
    const r = learnPolicy(log, { objective: 'catoni', policyClass: 'mixed-logit', epochs: 20, seed: 0 });
    const probs = linearClassProbs('mixed-logit', r.params, 3, 4, log.contexts, log.n, { noise: fixedMixedLogitNoise(128, 3, 0) });
    const learned = trueValue(log.expectedRewards, probs, log.n, 3);
    expect(log.loggingValue).toBeCloseTo(1 / 3, 12);
    expect(learned).toBeGreaterThan(0.6);
    expect(r.certificate.valueLower).toBeLessThanOrEqual(learned);
    expect(r.certificate.valueLower).toBeGreaterThan(r.certificate.logging.upper);
    expect(r.certificate.verdict).toBe('deploy');
    expect(r.certificate.rows).toBe('all');
    expect(r.kl).toBeGreaterThan(0);
    expect(r.certificate.statement).toMatch(/^With probability >= 95%, the learned policy's value is >= 0\.\d+ \(catoni bound on the whole log, n = 3000, KL = /);
  }, 60_000);
});

describe('outputs', () => {
  const log = asLearningLog(generateBanditLog({ n: 600, numActions: 3, contextDim: 2, reward: 'logistic', beta: 0, seed: 4 }));

  it('same seed, same bytes; a policy directory the JSON policy loader reads', async () => {
    const a = await writeLearnedPolicy(path.join(tmp, 'a'), learnPolicy(log, { objective: 'es', policyClass: 'mixed-logit', epochs: 2, seed: 7 }));
    const b = await writeLearnedPolicy(path.join(tmp, 'a2'), learnPolicy(log, { objective: 'es', policyClass: 'mixed-logit', epochs: 2, seed: 7 }));
    for (const f of ['policy.json', 'certificate.json', 'metrics.jsonl']) expect(readFileSync(path.join(a, f))).toEqual(readFileSync(path.join(b, f)));
    const c = learnPolicy(log, { objective: 'es', policyClass: 'mixed-logit', epochs: 2, seed: 8 });
    expect(JSON.stringify(c.policy)).not.toEqual(readFileSync(path.join(a, 'policy.json'), 'utf8').trim().replace(/\s+/g, ''));
    const spec = JSON.parse(readFileSync(path.join(a, 'policy.json'), 'utf8'));
    const pol = await buildJsonPolicy(spec, 'a', { numActions: 3, contextDim: 2 });
    const cert = JSON.parse(readFileSync(path.join(a, 'certificate.json'), 'utf8'));
    expect(cert.certificate.bound).toBe('es');
    expect(pol.actionProbs(log.contexts, 1).length).toBe(3);
    await expect(writeLearnedPolicy(a, c)).rejects.toMatchObject({ code: 'E_OUT_EXISTS' });
  });

  it('evaluate accepts the written policy directory as a candidate, with the same probabilities', async () => {
    const ws = await Workspace.open(path.join(tmp, 'ws'));
    const gen = generateBanditLog({ n: 600, numActions: 3, contextDim: 2, reward: 'logistic', beta: 0, seed: 4 });
    await writeBanditDataset(ws, 'syn', gen);
    const data = await loadBanditRef(ws, 'syn');
    const r = learnPolicy(data, { objective: 'catoni', policyClass: 'mixed-logit', epochs: 2, seed: 3, policySamples: 16 });
    const dir = await writeLearnedPolicy(path.join(tmp, 'learned'), r);
    const res = await evaluate(ws, { data: 'syn', policies: [{ spec: dir }], estimators: ['ips'], interval: 't', alpha: 0.05, seed: 0 });
    const cand = res.candidates[0]!;
    expect(cand.name).toBe('learned');
    const probs = linearClassProbs('mixed-logit', r.params, 3, 2, data.contexts, data.n, { noise: fixedMixedLogitNoise(16, 3, 3) });
    let ips = 0;
    for (let i = 0; i < data.n; i++) ips += (probs[i * 3 + data.actions[i]!]! * data.rewards[i]!) / data.propensities![i]! / data.n;
    expect(cand.estimates.find((e) => e.estimator === 'ips')!.value).toBeCloseTo(ips, 10);
  });

  it('softmax is certified on held-out rows with KL 0; dm with softmax writes the greedy argmax policy', () => {
    const r = learnPolicy(log, { objective: 'catoni', policyClass: 'softmax', epochs: 2, seed: 1 });
    expect(r.certificate.rows).toBe('held-out');
    expect(r.certificate.n).toBe(150);
    expect(r.kl).toBe(0);
    const dm = learnPolicy(log, { objective: 'dm', policyClass: 'softmax', epochs: 3, seed: 1 });
    expect(dm.policy.type).toBe('argmax');
    expect(dm.certificate.bound).toBe('catoni');
  });

  it('the prior mean comes from the logging policy file', () => {
    const prior = priorFromJsonPolicy({ type: 'softmax', weights: [[2, 0], [0, 2], [1, 1]], bias: [0, 1, 0], temperature: 2 }, 'p.json', 3, 2);
    expect(Array.from(prior.weights)).toEqual([1, 0, 0, 1, 0.5, 0.5]);
    expect(Array.from(prior.bias)).toEqual([0, 0.5, 0]);
    expect(() => priorFromJsonPolicy({ type: 'softmax', weights: [[1, 0]] }, 'p.json', 3, 2)).toThrow(expect.objectContaining({ code: 'E_ACTION_SPACE', message: expect.stringContaining('Prior policy p.json has 1 weight rows, but the log has K = 3 actions.') }));
    expect(() => priorFromJsonPolicy({ type: 'softmax', weights: [[1], [1], [1]] }, 'p.json', 3, 2)).toThrow(expect.objectContaining({ code: 'E_CONTEXT_DIM', message: expect.stringContaining("Prior policy p.json takes 1 context features, but the log's contexts have d = 2.") }));
    const r = learnPolicy(log, { objective: 'catoni', policyClass: 'mixed-logit', epochs: 0, seed: 1, prior, initialSigma: 1 });
    expect(r.kl).toBe(0); // no training: the posterior is the prior
  });
});

describe('bad input', () => {
  const base = asLearningLog(generateBanditLog({ n: 50, numActions: 3, contextDim: 2, reward: 'logistic', beta: 0, seed: 2 }));
  const run = (log: LearningLog, opts: Partial<Parameters<typeof learnPolicy>[1]> = {}): unknown => learnPolicy(log, { objective: 'catoni', policyClass: 'mixed-logit', epochs: 1, ...opts });

  it('rewards outside the given range: coded error listing the rows; without a range they are rescaled from the observed range', () => {
    const rewards = Float64Array.from(base.rewards);
    rewards[3] = 5;
    rewards[7] = -2;
    expect(() => run({ ...base, rewards }, { rewardRange: [0, 1] })).toThrow(expect.objectContaining({ code: 'E_REWARD_RANGE', message: expect.stringContaining('Rule "reward in [0, 1]" failed for 2 rows (first: 3, 7)') }));
    const r = run({ ...base, rewards }) as { certificate: { rewardRange: [number, number] } };
    expect(r.certificate.rewardRange).toEqual([-2, 5]);
    expect(() => run({ ...base, rewards: new Float64Array(50).fill(3) })).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
  });

  it('a bound needing the full logging distribution on a log without action_probs names the column', () => {
    for (const objective of ['es', 'bernstein', 'bernstein-cv'] as const) {
      expect(() => run({ ...base, actionProbs: null }, { objective })).toThrow(expect.objectContaining({ code: 'E_LOGGING_PROBS_REQUIRED', message: expect.stringContaining('"action_probs"') }));
    }
    expect(() => run({ ...base, actionProbs: null }, { objective: 'catoni', certificate: 'es' })).toThrow(expect.objectContaining({ code: 'E_LOGGING_PROBS_REQUIRED', message: expect.stringContaining('"es" certificate') }));
    expect(() => run({ ...base, actionProbs: null }, { objective: 'catoni' })).not.toThrow();
    expect(() => run({ ...base, propensities: null })).toThrow(expect.objectContaining({ code: 'E_MISSING_COLUMN', message: expect.stringContaining('"propensity"') }));
  });

  it('K or context width mismatch', () => {
    expect(() => run({ ...base, actionProbs: base.actionProbs!.subarray(0, 100) }, { objective: 'es' })).toThrow(expect.objectContaining({ code: 'E_ACTION_SPACE', message: 'action_probs holds 100 values, but n x K = 50 x 3 = 150. The logging distribution needs one probability per action.' }));
    expect(() => run({ ...base, contexts: base.contexts.subarray(0, 99) })).toThrow(expect.objectContaining({ code: 'E_CONTEXT_DIM', message: 'The contexts hold 99 values, but n x d = 50 x 2 = 100. Every row needs d context features.' }));
    const actions = Int32Array.from(base.actions);
    actions[4] = 3;
    expect(() => run({ ...base, actions })).toThrow(expect.objectContaining({ code: 'E_ACTION_SPACE', message: expect.stringMatching(/^Rule "action in 0\.\.2" failed for 1 rows? \(first: 4\)/) }));
    expect(() => run(base, { prior: { weights: new Float64Array(6), bias: new Float64Array(2) } })).toThrow(expect.objectContaining({ code: 'E_ACTION_SPACE', message: expect.stringContaining('The prior policy has 2 actions and 3 features per action; the log has K = 3, d = 2.') }));
    expect(() => run(base, { prior: { weights: new Float64Array(9), bias: new Float64Array(3) } })).toThrow(expect.objectContaining({ code: 'E_CONTEXT_DIM', message: expect.stringContaining('The prior policy has 3 actions and 3 features per action; the log has K = 3, d = 2.') }));
  });

  it('non-finite contexts', () => {
    const contexts = Float32Array.from(base.contexts);
    contexts[2 * 2 + 1] = NaN;
    contexts[9 * 2] = Infinity;
    expect(() => run({ ...base, contexts })).toThrow(expect.objectContaining({ code: 'E_NONFINITE_CONTEXT', message: expect.stringContaining('failed for 2 rows (first: 2, 9)') }));
  });

  it('empty or single-action log', () => {
    expect(() => run({ ...base, n: 0, contexts: new Float32Array(0), actions: new Int32Array(0), rewards: new Float64Array(0), propensities: new Float64Array(0), actionProbs: new Float64Array(0) })).toThrow(expect.objectContaining({ code: 'E_TOO_FEW_ROWS', message: expect.stringContaining('The log is empty: learning a policy needs logged rows.') }));
    expect(() => run({ ...base, numActions: 1, actions: new Int32Array(50), actionProbs: new Float64Array(50).fill(1) })).toThrow(expect.objectContaining({ code: 'E_ACTION_SPACE', message: expect.stringContaining('single action') }));
  });

  it('bad propensities and options', () => {
    const propensities = Float64Array.from(base.propensities!);
    propensities[6] = 0;
    expect(() => run({ ...base, propensities })).toThrow(expect.objectContaining({ code: 'E_PROPENSITY', message: expect.stringContaining('"propensity in (0, 1]" failed for 1 row') }));
    expect(() => run(base, { delta: 1 })).toThrow(expect.objectContaining({ code: 'E_DELTA' }));
    expect(() => run(base, { objective: 'nope' as ObjectiveName })).toThrow(expect.objectContaining({ code: 'E_CLI_ARG' }));
  });
});
