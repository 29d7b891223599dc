/** One candidate's estimated return CDFs (cumulative-distribution OPE) beside the behaviour policy's empirical CDF, as step lines on the grid. */
import type { TopLevelSpec } from 'vega-lite';
import type { ReturnDistributionEstimate, ReturnDistributionResult } from '../../core/trajectory-evaluation-result.js';
import { CHART_CONFIG, COLORS } from './theme.js';

const LINE_COLORS = ['#1f5fa8', '#b45309', '#7c3aed', '#0e7490'];

export function returnCdfSpec(candidate: string, dist: ReturnDistributionResult, behaviour: ReturnDistributionEstimate | undefined, opts: { width?: number; gamma?: number } = {}): TopLevelSpec {
  const series = [...dist.estimates.map((e) => ({ label: e.estimator.toUpperCase(), e })), ...(behaviour ? [{ label: 'behaviour (logged)', e: behaviour }] : [])];
  // F = 0 left of the smallest return (SCOPE-RL's CD-IS starts at w_(1)/n there): one point a little to the left.
  const g = dist.grid;
  const left = g[0]! - (g.length > 1 ? 0.03 * (g[g.length - 1]! - g[0]!) : 1);
  const values = series.flatMap(({ label, e }) => [{ series: label, m: left, F: 0 }, ...g.map((m, j) => ({ series: label, m, F: e.cdf[j]! }))]);
  const labels = series.map((s) => s.label);
  const colors = series.map((s, i) => (s.e.estimator === 'behaviour' ? COLORS.logging : LINE_COLORS[i % LINE_COLORS.length]!));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `Return distribution of ${candidate}`, subtitle: `CDF of the discounted return${opts.gamma !== undefined ? ` (gamma ${opts.gamma})` : ''} on ${dist.grid.length} grid points` },
    width: opts.width ?? 420,
    height: 220,
    config: CHART_CONFIG,
    data: { values },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
    encoding: {
      x: { field: 'm', type: 'quantitative', title: 'discounted return m', scale: { zero: false, nice: false } },
      y: { field: 'F', type: 'quantitative', title: 'F(m) = P(G <= m)', scale: { domain: [0, 1] } },
      color: { field: 'series', type: 'nominal', title: null, scale: { domain: labels, range: colors } },
      strokeDash: { condition: { test: "datum.series === 'behaviour (logged)'", value: [4, 3] }, value: [1, 0] },
    },
  } as TopLevelSpec;
}
