/**
 * Forest plot of one candidate: every estimator's point estimate and interval,
 * with the logging policy's value (and the true values, when known) as reference lines.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Estimate, Interval } from '../../core/evaluation-result.js';
import { CHART_CONFIG, COLORS } from './theme.js';

/** What a forest plot reads of a result: bandit and slate evaluation results both have it. */
export interface ForestCandidate {
  name: string;
  estimates: Estimate[];
  trueValue?: number;
}
export interface ForestResult {
  logging: { value: number; interval?: Interval; trueValue?: number };
  candidates: ForestCandidate[];
}

/** An x range covering every estimate, interval and reference value of the result, padded 5%. */
export function forestDomain(result: ForestResult): [number, number] {
  const xs: number[] = [result.logging.value];
  if (result.logging.interval) xs.push(result.logging.interval.lower, result.logging.interval.upper);
  if (result.logging.trueValue !== undefined) xs.push(result.logging.trueValue);
  for (const c of result.candidates) {
    if (c.trueValue !== undefined) xs.push(c.trueValue);
    for (const e of c.estimates) {
      xs.push(e.value);
      if (e.interval) xs.push(e.interval.lower, e.interval.upper);
    }
  }
  const finite = xs.filter(Number.isFinite);
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

export interface ForestPlotOptions {
  /** Shared x range so the candidates' plots compare at a glance (see forestDomain). */
  domain?: [number, number];
  width?: number;
}

/** The vega-lite spec of a candidate's forest plot. */
export function forestPlotSpec(result: ForestResult, candidate: ForestCandidate, opts: ForestPlotOptions = {}): TopLevelSpec {
  const rows = candidate.estimates.map((e) => ({
    estimator: e.estimator,
    value: e.value,
    lower: e.interval?.lower ?? e.value,
    upper: e.interval?.upper ?? e.value,
  }));
  const refs: { reference: string; x: number }[] = [{ reference: 'logging policy (estimate)', x: result.logging.value }];
  if (candidate.trueValue !== undefined) refs.push({ reference: 'candidate true value', x: candidate.trueValue });
  if (result.logging.trueValue !== undefined) refs.push({ reference: 'logging policy true value', x: result.logging.trueValue });
  const refDomain = refs.map((r) => r.reference);
  const refColor: Record<string, string> = {
    'logging policy (estimate)': COLORS.logging,
    'candidate true value': COLORS.truth,
    'logging policy true value': '#9ca3af',
  };
  const refDash: Record<string, number[]> = {
    'logging policy (estimate)': [1, 0],
    'candidate true value': [6, 3],
    'logging policy true value': [2, 2],
  };
  const x = { scale: { domain: opts.domain ?? forestDomain(result), zero: false, nice: false } };
  const y = { field: 'estimator', type: 'nominal' as const, sort: null, title: null };
  const layers: unknown[] = [];
  if (result.logging.interval) {
    layers.push({
      data: { values: [{ lower: result.logging.interval.lower, upper: result.logging.interval.upper }] },
      mark: { type: 'rect', color: COLORS.logging, opacity: 0.12 },
      encoding: { x: { field: 'lower', type: 'quantitative', ...x }, x2: { field: 'upper' } },
    });
  }
  layers.push(
    {
      data: { values: refs },
      mark: { type: 'rule', strokeWidth: 2 },
      encoding: {
        x: { field: 'x', type: 'quantitative', ...x },
        color: {
          field: 'reference',
          type: 'nominal',
          title: null,
          scale: { domain: refDomain, range: refDomain.map((r) => refColor[r]!) },
        },
        strokeDash: {
          field: 'reference',
          type: 'nominal',
          title: null,
          scale: { domain: refDomain, range: refDomain.map((r) => refDash[r]!) },
        },
      },
    },
    {
      data: { values: rows },
      mark: { type: 'rule', color: COLORS.estimate, strokeWidth: 2 },
      encoding: { y, x: { field: 'lower', type: 'quantitative', title: 'estimated value', ...x }, x2: { field: 'upper' } },
    },
    {
      data: { values: rows },
      mark: { type: 'point', filled: true, size: 70, color: COLORS.estimate, opacity: 1 },
      encoding: { y, x: { field: 'value', type: 'quantitative', ...x } },
    },
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `Estimates for ${candidate.name}`, subtitle: 'points: estimates; bars: intervals' },
    width: opts.width ?? 600,
    height: { step: 22 },
    config: CHART_CONFIG,
    layer: layers,
    resolve: { scale: { x: 'shared' } },
  } as TopLevelSpec;
}
