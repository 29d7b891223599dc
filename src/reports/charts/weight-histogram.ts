/** Histogram of one candidate's importance weights w_i = pi(a_i|x_i) / p_i, from its diagnostics. */
import type { TopLevelSpec } from 'vega-lite';
import type { CandidateResult } from '../../core/evaluation-result.js';
import { CHART_CONFIG, COLORS } from './theme.js';

export function weightHistogramSpec(candidate: CandidateResult, opts: { width?: number } = {}): TopLevelSpec {
  const d = candidate.diagnostics;
  const bins = d.weightHistogram.map((b) => ({ start: b.start, end: b.end, count: b.count }));
  // Powers of ten for the symlog count axis: rare large weights stay visible beside the bulk.
  const maxCount = Math.max(1, ...bins.map((b) => b.count));
  const ticks = [0];
  for (let t = 1; t <= maxCount * 1.5; t *= 10) ticks.push(t);
  const ess = Number.isFinite(d.ess) ? d.ess.toFixed(1) : String(d.ess);
  const ratio = Number.isFinite(d.essRatio) ? `${(d.essRatio * 100).toFixed(1)}%` : String(d.essRatio);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `Importance weights for ${candidate.name}`,
      subtitle: `ESS ${ess} (${ratio} of ${d.n} rows), max weight ${Number(d.maxWeight.toPrecision(4))}`,
    },
    width: opts.width ?? 360,
    height: 200,
    config: CHART_CONFIG,
    layer: [
      {
        data: { values: bins },
        mark: { type: 'rect', color: COLORS.bars, stroke: 'white', strokeWidth: 0.5 },
        encoding: {
          x: { field: 'start', type: 'quantitative', title: 'weight w = π(a|x) / p', scale: { zero: true, nice: false } },
          x2: { field: 'end' },
          y: { field: 'count', type: 'quantitative', title: 'rows (log scale)', scale: { type: 'symlog' }, axis: { values: ticks, format: ',d' } },
          y2: { datum: 0 },
        },
      },
      {
        data: { values: [{ w: 1 }] },
        mark: { type: 'rule', color: '#111827', strokeDash: [4, 3], strokeWidth: 1.5 },
        encoding: { x: { field: 'w', type: 'quantitative' } },
      },
    ],
  } as TopLevelSpec;
}
