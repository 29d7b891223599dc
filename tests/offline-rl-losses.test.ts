import { describe, expect, it } from 'vitest';
import {
  awrWeights,
  elementMin,
  ensembleQuantile,
  expectileLoss,
  gaussianLogProb,
  gaussianNllLoss,
  tdTargets,
  transformRewards,
  weightedMseActorLoss,
} from '../src/offline-rl/losses.js';
import { huberLoss, mseLoss } from '../src/nn/losses.js';

function close(a: ArrayLike<number>, b: readonly number[], digits = 6): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) expect(a[i]).toBeCloseTo(b[i]!, digits);
}

describe('expectile loss |tau - 1(u<0)| u^2, u = target - pred', () => {
  it('hand-computed, tau = 0.7', () => {
    // u = [1, -2]: weights 0.7 and 0.3 -> (0.7 * 1 + 0.3 * 4) / 2 = 0.95
    const r = expectileLoss([0, 0], [1, -2], 0.7);
    expect(r.loss).toBeCloseTo(0.95, 12);
    // d/dpred = -2 w u / n = [-0.7, 0.6]
    close(r.grad, [-0.7, 0.6]);
  });
  it('tau = 0.5 is half the mean squared error', () => {
    const r = expectileLoss([1, 2, 3], [0, 0, 5], 0.5);
    expect(r.loss).toBeCloseTo(0.5 * ((1 + 4 + 4) / 3), 12);
  });
  it('minimizer is the expectile: tau = 0.9 pulls above the mean', () => {
    const target = [0, 0, 0, 10];
    let best = 0;
    let bestLoss = Infinity;
    for (let v = 0; v <= 10; v += 0.01) {
      const l = expectileLoss(target.map(() => v), target, 0.9).loss;
      if (l < bestLoss) [best, bestLoss] = [v, l];
    }
    // expectile e solves 0.9 (10 - e) = 0.1 * 3 e -> e = 9 / 1.2 = 7.5
    expect(best).toBeCloseTo(7.5, 1);
  });
});

describe('Huber loss (threshold delta)', () => {
  it('hand-computed, delta = 1', () => {
    // d = [0.5, 3, -2]: 0.5 * 0.25 = 0.125; 3 - 0.5 = 2.5; 2 - 0.5 = 1.5 -> mean 4.125 / 3
    const r = huberLoss([0.5, 3, -2], [0, 0, 0], 1);
    expect(r.loss).toBeCloseTo(1.375, 12);
    close(r.grad, [0.5 / 3, 1 / 3, -1 / 3]);
  });
  it('delta scales the quadratic zone: d = 0.5, delta = 2 -> 0.0625; d = 5 -> 4', () => {
    expect(huberLoss([0.5], [0], 2).loss).toBeCloseTo(0.0625, 12);
    expect(huberLoss([5], [0], 2).loss).toBeCloseTo(4, 12);
    // continuous at |d| = delta: both branches give delta / 2
    expect(huberLoss([2], [0], 2).loss).toBeCloseTo(1, 12);
  });
});

describe('ensemble quantile (linear interpolation at position (K - 1) alpha)', () => {
  it('K = 5', () => {
    const row = [5, 1, 3, 2, 4];
    close(ensembleQuantile(row, 1, 5, 0.25), [2]);
    close(ensembleQuantile(row, 1, 5, 0.1), [1.4]);
    close(ensembleQuantile(row, 1, 5, 0), [1]);
    close(ensembleQuantile(row, 1, 5, 1), [5]);
    close(ensembleQuantile(row, 1, 5, 0.5), [3]);
  });
  it('row by row; K = 2, alpha = 0.5 is the mean; alpha = 0 is the twin-Q min', () => {
    close(ensembleQuantile([1, 3, 10, -2], 2, 2, 0.5), [2, 4]);
    close(ensembleQuantile([1, 3, 10, -2], 2, 2, 0), [1, -2]);
    close(elementMin([1, 10], [3, -2]), [1, -2]);
  });
});

describe('AWR weights exp(beta (Q - V)) clipped at 100', () => {
  it('hand-computed, beta = 3', () => {
    close(awrWeights([1, 0, 10, -1], [0, 0, 0, 0], 3), [Math.exp(3), 1, 100, Math.exp(-3)]);
  });
  it('custom clip', () => {
    close(awrWeights([1], [0], 3, 5), [5]);
  });
});

describe('TD targets r + gamma (1 - done) next', () => {
  it('hand-computed, with and without a clip', () => {
    close(tdTargets([1, 2], [0, 1], [10, 10], 0.9), [10, 2]);
    close(tdTargets([1, 2], [0, 1], [10, 10], 0.9, [-100, 5]), [5, 2]);
    close(tdTargets([-50], [0], [-100], 0.99, [-100, 1000]), [-100]);
  });
});

describe('reward transform scale * r + shift (in place)', () => {
  it('hand-computed; scale 1 and shift 0 leave the rewards untouched', () => {
    const a = Float32Array.of(0, 1, 0);
    transformRewards(a, 1, -1);
    close(a, [-1, 0, -1]);
    const b = Float32Array.of(10, -2);
    transformRewards(b, 0.1, 0.5);
    close(b, [1.5, 0.3]);
    const c = Float32Array.of(0.1, -7);
    transformRewards(c, 1, 0);
    expect(Array.from(c)).toEqual([Math.fround(0.1), -7]);
  });
});

describe('regression losses', () => {
  it('MSE', () => {
    const r = mseLoss([1, 3], [0, 0]);
    expect(r.loss).toBeCloseTo(5, 12);
    close(r.grad, [1, 3]);
  });
  it('weighted actor MSE sums over action dimensions and averages over rows', () => {
    // rows: (1,2) vs (0,0) weight 2 -> 2 * 5; (0,0) vs (1,1) weight 1 -> 2; mean = 6
    const r = weightedMseActorLoss([1, 2, 0, 0], [0, 0, 1, 1], 2, [2, 1]);
    expect(r.loss).toBeCloseTo(6, 12);
    close(r.grad, [2, 4, -1, -1]);
    expect(weightedMseActorLoss([1, 2, 0, 0], [0, 0, 1, 1], 2).loss).toBeCloseTo(3.5, 12);
  });
  it('Gaussian log-density and its NLL gradients (finite differences)', () => {
    close(gaussianLogProb([0], [0], [1], 1), [-0.5 - 0.5 * Math.log(2 * Math.PI)], 9);
    // two dims, std e^0.5: sum of the two 1-D densities
    const lp = gaussianLogProb([0, 1], [0.5, 0.5], [1, 1], 2)[0]!;
    const one = (z: number): number => -0.5 * z * z - 0.5 - 0.5 * Math.log(2 * Math.PI);
    expect(lp).toBeCloseTo(one(1 / Math.exp(0.5)) + one(0), 9);
    const mean = [0.3, -0.2, 0.1, 0.4];
    const logStd = [-0.3, 0.2];
    const acts = [0.5, 0.5, -0.5, 0];
    const w = [2, 0.5];
    const r = gaussianNllLoss(mean, logStd, acts, 2, w);
    const h = 1e-6;
    for (let i = 0; i < 4; i++) {
      const p = [...mean];
      const q = [...mean];
      p[i] += h;
      q[i] -= h;
      const fd = (gaussianNllLoss(p, logStd, acts, 2, w).loss - gaussianNllLoss(q, logStd, acts, 2, w).loss) / (2 * h);
      expect(r.gradMean[i]).toBeCloseTo(fd, 5);
    }
    for (let j = 0; j < 2; j++) {
      const p = [...logStd];
      const q = [...logStd];
      p[j] += h;
      q[j] -= h;
      const fd = (gaussianNllLoss(mean, p, acts, 2, w).loss - gaussianNllLoss(mean, q, acts, 2, w).loss) / (2 * h);
      expect(r.gradLogStd[j]).toBeCloseTo(fd, 5);
    }
  });
  it('log-std is clamped to [-20, 2] and gets no gradient outside', () => {
    expect(gaussianLogProb([0], [5], [0], 1)[0]).toBeCloseTo(-2 - 0.5 * Math.log(2 * Math.PI), 9);
    expect(gaussianNllLoss([0], [5], [1], 1).gradLogStd[0]).toBe(0);
  });
});
