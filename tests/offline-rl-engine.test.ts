import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, cosineLr, polyakUpdate } from '../src/offline-rl/engine/adam.js';
import { ensureTfBackend } from '../src/util/tf-backend.js';
import { backwardTf, forwardJs, forwardTf, initMlp, layerOffsets, parameterCount, predictTf, uploadMlp, type MlpSpec } from '../src/offline-rl/engine/mlp.js';
import { computeNormStats, normalizeRows } from '../src/offline-rl/engine/normalization.js';
import { OffpolicyError } from '../src/errors.js';
import { Rng } from '../src/util/rng.js';

beforeAll(async () => {
  const b = await ensureTfBackend();
  expect(b.name).toBe('wasm');
});

function randomArray(n: number, rng: Rng, scale = 1): Float32Array {
  return new Float32Array(n).map(() => scale * rng.normal());
}

/** L(params, x) = sum(out * R): its gradient w.r.t. out is R. */
function lossJs(spec: MlpSpec, p: Float32Array, x: Float32Array, n: number, r: Float32Array): number {
  const out = forwardJs(spec, p, x, n);
  let s = 0;
  for (let i = 0; i < out.length; i++) s += out[i]! * r[i]!;
  return s;
}

function analytic(spec: MlpSpec, p: Float32Array, x: Float32Array, n: number, r: Float32Array): { grad: Float32Array; dx: Float32Array } {
  const grad = new Float32Array(p.length);
  const dx = tf.tidy(() => {
    const net = uploadMlp(spec, p);
    const cache = forwardTf(net, tf.tensor2d(x, [n, spec.sizes[0]!]));
    return backwardTf(net, cache, tf.tensor2d(r, [n, spec.sizes[spec.sizes.length - 1]!]), grad, true)!.dataSync() as Float32Array;
  });
  return { grad, dx };
}

describe('MLP initialisation', () => {
  const spec: MlpSpec = { sizes: [3, 5, 4, 2], output: 'linear' };
  it('lays out W (fanIn x fanOut) then b per layer', () => {
    expect(layerOffsets(spec)).toEqual([
      { fanIn: 3, fanOut: 5, w: 0, b: 15 },
      { fanIn: 5, fanOut: 4, w: 20, b: 40 },
      { fanIn: 4, fanOut: 2, w: 44, b: 52 },
    ]);
    expect(parameterCount(spec)).toBe(54);
  });
  it('is seeded: same seed, same bytes; another seed, other weights; within +-1/sqrt(fanIn)', () => {
    const a = initMlp(spec, new Rng(5));
    const b = initMlp(spec, new Rng(5));
    const c = initMlp(spec, new Rng(6));
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
    for (const l of layerOffsets(spec)) {
      const bound = 1 / Math.sqrt(l.fanIn);
      const slice = a.subarray(l.w, l.b + l.fanOut);
      expect(Math.max(...slice.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.max(...slice.map(Math.abs))).toBeGreaterThan(bound / 2);
    }
  });
  it('rejects a spec without layers', () => {
    try {
      initMlp({ sizes: [3], output: 'linear' }, new Rng(1));
      expect.unreachable();
    } catch (e) {
      expect((e as OffpolicyError).code).toBe('E_MLP_SPEC');
      expect((e as Error).message).toContain('at least an input and an output width');
    }
  });
});

describe('forward pass', () => {
  it('matches a hand-computed 2-1-1 network', () => {
    // h = relu(1*x0 - 1*x1 + 0.5); y = tanh(2 h - 1)
    const spec: MlpSpec = { sizes: [2, 1, 1], output: 'tanh' };
    const p = Float32Array.of(1, -1, 0.5, 2, -1);
    const x = Float32Array.of(1, 0, 0, 3); // rows: h = 1.5 -> tanh(2); h = relu(-2.5) = 0 -> tanh(-1)
    const y = forwardJs(spec, p, x, 2);
    expect(y[0]).toBeCloseTo(Math.tanh(2), 6);
    expect(y[1]).toBeCloseTo(Math.tanh(-1), 6);
    const yt = predictTf(spec, p, x, 2);
    expect(yt[0]).toBeCloseTo(Math.tanh(2), 6);
    expect(yt[1]).toBeCloseTo(Math.tanh(-1), 6);
  });
  it('tfjs and JS forward agree on a random network', () => {
    const rng = new Rng(11);
    const spec: MlpSpec = { sizes: [7, 16, 16, 3], output: 'linear' };
    const p = initMlp(spec, rng);
    const x = randomArray(9 * 7, rng);
    const a = forwardJs(spec, p, x, 9);
    const b = predictTf(spec, p, x, 9);
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i]!, 5);
  });
});

describe('hand-written backward pass vs finite differences', () => {
  // width 1 takes the reshape path of the backward pass (Q and V heads)
  for (const [output, width, seed] of [['linear', 3, 21], ['tanh', 3, 22], ['linear', 1, 24], ['tanh', 1, 25]] as const) {
    it(`parameter and input gradients (${output} output, width ${width})`, () => {
      const rng = new Rng(seed);
      const spec: MlpSpec = { sizes: [4, 6, 5, width], output };
      const p = initMlp(spec, rng);
      const n = 5;
      const x = randomArray(n * 4, rng);
      const r = randomArray(n * width, rng);
      const { grad, dx } = analytic(spec, p, x, n, r);
      // Central differences in float64 (forwardJs) around float32 parameters. A ReLU
      // kink inside [p - h, p + h] makes the one-sided slopes disagree: such
      // coordinates are skipped (and counted; they must stay rare).
      const h = 1e-3;
      const check = (base: Float32Array, analyticGrad: Float32Array, f: (v: Float32Array) => number): { checked: number; skipped: number } => {
        let checked = 0;
        let skipped = 0;
        const f0 = f(base);
        for (let i = 0; i < base.length; i++) {
          const plus = Float32Array.from(base);
          const minus = Float32Array.from(base);
          plus[i] = base[i]! + h;
          minus[i] = base[i]! - h;
          const fp = f(plus);
          const fm = f(minus);
          const right = (fp - f0) / (plus[i]! - base[i]!);
          const left = (f0 - fm) / (base[i]! - minus[i]!);
          if (Math.abs(right - left) > 5e-3 * (1 + Math.abs(right))) {
            skipped++;
            continue;
          }
          const fd = (fp - fm) / (plus[i]! - minus[i]!);
          expect(Math.abs(fd - analyticGrad[i]!)).toBeLessThan(1e-3 + 1e-3 * Math.abs(fd));
          checked++;
        }
        return { checked, skipped };
      };
      const pc = check(p, grad, (v) => lossJs(spec, v, x, n, r));
      expect(pc.checked + pc.skipped).toBe(parameterCount(spec));
      expect(pc.skipped).toBeLessThanOrEqual(3);
      const xc = check(x, dx, (v) => lossJs(spec, p, v, n, r));
      expect(xc.skipped).toBeLessThanOrEqual(2);
    });
  }
  it('the output bias gradient is exactly the sum of dLoss/dOut', () => {
    const rng = new Rng(23);
    const spec: MlpSpec = { sizes: [3, 4, 1], output: 'linear' };
    const p = initMlp(spec, rng);
    const x = randomArray(6, rng);
    const r = Float32Array.of(1, 1);
    const { grad } = analytic(spec, p, x, 2, r);
    const bOut = layerOffsets(spec)[1]!.b;
    expect(grad[bOut]).toBeCloseTo(2, 6);
  });
});

describe('Adam, Polyak, cosine schedule', () => {
  it('Adam matches torch.optim.Adam on hand-computed steps', () => {
    const p = Float32Array.of(1);
    const adam = new Adam(1, { lr: 0.1 });
    adam.step(p, Float32Array.of(0.5));
    expect(p[0]).toBeCloseTo(0.900000002, 6);
    adam.step(p, Float32Array.of(-1));
    expect(p[0]).toBeCloseTo(0.9366103542405654, 6);
    adam.step(p, Float32Array.of(0.25));
    expect(p[0]).toBeCloseTo(0.9502794203389762, 6);
    expect(adam.state.step).toBe(3);
  });
  it('Polyak averaging moves the target by tau', () => {
    const target = Float32Array.of(0, 10);
    polyakUpdate(target, Float32Array.of(1, 0), 0.005);
    expect(target[0]).toBeCloseTo(0.005, 7);
    expect(target[1]).toBeCloseTo(9.95, 5);
  });
  it('cosine learning rate goes from lr to 0', () => {
    expect(cosineLr(3e-4, 0, 100)).toBeCloseTo(3e-4, 12);
    expect(cosineLr(3e-4, 50, 100)).toBeCloseTo(1.5e-4, 12);
    expect(cosineLr(3e-4, 100, 100)).toBeCloseTo(0, 12);
  });
});

describe('observation normalization', () => {
  it('mean / population std + eps, skipping rows with NaN', () => {
    const x = Float32Array.of(1, 10, 3, 10, NaN, 0);
    const s = computeNormStats([x], 2, 1e-3);
    expect(s.mean[0]).toBeCloseTo(2, 6);
    expect(s.mean[1]).toBeCloseTo(10, 6);
    expect(s.std[0]).toBeCloseTo(1.001, 6);
    expect(s.std[1]).toBeCloseTo(0.001, 6);
    const z = normalizeRows(Float32Array.of(3, 10), s);
    expect(z[0]).toBeCloseTo(1 / 1.001, 5);
    expect(z[1]).toBeCloseTo(0, 6);
  });
  it('pools several sources (observations and next observations)', () => {
    const s = computeNormStats([Float32Array.of(0, 2), Float32Array.of(4)], 1, 0);
    expect(s.mean[0]).toBeCloseTo(2, 6);
    expect(s.std[0]).toBeCloseTo(Math.sqrt(8 / 3), 5);
  });
});
