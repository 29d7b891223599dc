/** One candidate's estimated return CDFs (cumulative-distribution OPE) beside the behaviour policy's empirical CDF, as step lines on the grid, each with its shaded bootstrap band when the result has one. */
import type { TopLevelSpec } from 'vega-lite';
import type { ReturnDistributionEstimate, ReturnDistributionResult } from '../../core/trajectory-evaluation-result.js';
import { CHART_CONFIG, COLORS } from './theme.js';

const LINE_COLORS = ['#1f5fa8', '#b45309', '#7c3aed', '#0e7490'];

export function returnCdfSpec(candidate: string, dist: ReturnDistributionResult, behaviour: ReturnDistributionEstimate | undefined, opts: { width?: number; gamma?: number; bandLabel?: string } = {}): TopLevelSpec {
  const series = [...dist.estimates.map((e) => ({ label: e.estimator.toUpperCase(), e })), ...(behaviour ? [{ label: 'behaviour (logged)', e: behaviour }] : [])];
  // F = 0 left of the smallest return (SCOPE-RL's CD-IS starts at w_(1)/n there): one point a little to the left.
  const g = dist.grid;
  const left = g[0]! - (g.length > 1 ? 0.03 * (g[g.length - 1]! - g[0]!) : 1);
  const values = series.flatMap(({ label, e }) => [{ series: label, m: left, F: 0 }, ...g.map((m, j) => ({ series: label, m, F: e.cdf[j]! }))]);
  const labels = series.map((s) => s.label);
  const colors = series.map((s, i) => (s.e.estimator === 'behaviour' ? COLORS.logging : LINE_COLORS[i % LINE_COLORS.length]!));
  // bootstrap bands (pointwise percentile intervals of F at each grid point), when the result has them
  const band = series.flatMap(({ label, e }) => (e.intervals ? g.map((m, j) => ({ series: label, m, lo: e.intervals!.cdf.lower[j]!, hi: e.intervals!.cdf.upper[j]! })) : []));
  const x = { field: 'm', type: 'quantitative', title: 'discounted return m', scale: { zero: false, nice: false } };
  const color = { field: 'series', type: 'nominal', title: null, scale: { domain: labels, range: colors } };
  const lines = {
    data: { values },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
    encoding: {
      x,
      y: { field: 'F', type: 'quantitative', title: 'F(m) = P(G <= m)', scale: { domain: [0, 1] } },
      color,
      strokeDash: { condition: { test: "datum.series === 'behaviour (logged)'", value: [4, 3] }, value: [1, 0] },
    },
  };
  const bandNote = band.length > 0 && opts.bandLabel ? `; shaded: ${opts.bandLabel}` : '';
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `Return distribution of ${candidate}`, subtitle: `CDF of the discounted return${opts.gamma !== undefined ? ` (gamma ${opts.gamma})` : ''} on ${dist.grid.length} grid points${bandNote}` },
    width: opts.width ?? 420,
    height: 220,
    config: CHART_CONFIG,
    ...(band.length > 0
      ? {
          layer: [
            {
              data: { values: band },
              mark: { type: 'area', interpolate: 'step-after', opacity: 0.15 },
              encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color },
            },
            lines,
          ],
        }
      : lines),
  } as TopLevelSpec;
}
