/**
 * Coverage of the Poisson bootstrap of hashed row buckets by simulation on the
 * synthetic generator with a known true value (./poisson-coverage-sim.ts), in two
 * regimes: fewer rows than buckets (nearly the per-row Poisson bootstrap) and many
 * rows per bucket (blocks of ~20 rows, the regime of large logs).
 * bench/poisson-bootstrap-coverage.ts runs more replications next to the in-memory
 * multinomial bootstrap.
 */
import { describe, expect, it } from 'vitest';
import { poissonBootstrapIntervals } from '../src/ope/intervals/poisson-bootstrap.js';
import { coverage, SIM_ESTIMATORS } from './poisson-coverage-sim.js';

const poisson = (buckets: number) => (terms: Parameters<typeof poissonBootstrapIntervals>[0], rowIds: Float64Array, seed: number) =>
  poissonBootstrapIntervals(terms, rowIds, { alpha: 0.05, seed, resamples: 1000, buckets }).intervals;

describe('Poisson bootstrap coverage (synthetic generator, known truth)', () => {
  it('95% intervals cover in >= 93% of 200 logs of 500 rows with 10,000 buckets (nearly per-row weights)', () => {
    const { cover, widthRatio } = coverage(200, 500, poisson(10_000));
    SIM_ESTIMATORS.forEach((id, j) => {
      expect(cover[j], `${id} coverage`).toBeGreaterThanOrEqual(0.93);
      // Not trivially wide: the mean width is the delta-method t interval's to within 10%.
      expect(widthRatio[j], `${id} width / t width`).toBeGreaterThan(0.9);
      expect(widthRatio[j], `${id} width / t width`).toBeLessThan(1.1);
    });
  });

  it('95% intervals cover in >= 93% of 200 logs of 4,000 rows in 200 buckets (blocks of ~20 rows)', () => {
    const { cover, widthRatio } = coverage(200, 4000, poisson(200));
    SIM_ESTIMATORS.forEach((id, j) => {
      expect(cover[j], `${id} coverage`).toBeGreaterThanOrEqual(0.93);
      expect(widthRatio[j], `${id} width / t width`).toBeGreaterThan(0.85);
      expect(widthRatio[j], `${id} width / t width`).toBeLessThan(1.15);
    });
  });
});
