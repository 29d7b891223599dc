/**
 * Robustness chart: for each metric (candidate/estimator), the clean value and
 * the value under each corruption setting, side by side.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { RobustnessStudyResult } from '../../core/robustness-result.js';
import { CHART_CONFIG } from './theme.js';

export const CLEAN_LABEL = 'clean';

export function robustnessChartSpec(study: RobustnessStudyResult): TopLevelSpec {
  const values: { metric: string; version: string; value: number }[] = [];
  for (const [metric, v] of Object.entries(study.clean.scores)) if (Number.isFinite(v)) values.push({ metric, version: CLEAN_LABEL, value: v });
  for (const r of study.rows) if (Number.isFinite(r.corrupted)) values.push({ metric: r.metric, version: r.setting, value: r.corrupted });
  const order = [CLEAN_LABEL, ...study.settings.filter((s) => !s.error).map((s) => s.label)];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CHART_CONFIG,
    title: { text: 'Clean vs corrupted', subtitle: 'each metric on the clean log and on every corrupted version' },
    width: { step: 14 * order.length },
    height: 220,
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'metric', type: 'nominal', title: null, axis: { labelAngle: -40, labelLimit: 180 } },
      xOffset: { field: 'version', type: 'nominal', sort: order },
      y: { field: 'value', type: 'quantitative', title: 'value' },
      color: { field: 'version', type: 'nominal', sort: order, title: null, legend: { orient: 'bottom', columns: 1 } },
      tooltip: [
        { field: 'metric', type: 'nominal' },
        { field: 'version', type: 'nominal' },
        { field: 'value', type: 'quantitative', format: '.4f' },
      ],
    },
  };
}
