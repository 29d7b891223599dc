/** The report's charts: one forest plot and one weight histogram per candidate, rendered to SVG. */
import type { EvaluationResult } from '../../core/evaluation-result.js';
import { slugify } from '../escape.js';
import { renderChartSvg } from '../svg.js';
import { forestDomain, forestPlotSpec } from './forest-plot.js';
import { weightHistogramSpec } from './weight-histogram.js';

export interface RenderedChart {
  /** Unique id, also the SVG's file name without extension: forest-<slug> or weights-<slug>. */
  id: string;
  kind: 'forest' | 'weights';
  candidate: string;
  title: string;
  svg: string;
}

/** Renders every chart of the report, in page order. */
export async function renderCharts(result: EvaluationResult): Promise<RenderedChart[]> {
  const domain = forestDomain(result);
  const taken = new Set<string>();
  const out: RenderedChart[] = [];
  for (const c of result.candidates) {
    const slug = slugify(c.name, taken);
    const forestId = `forest-${slug}`;
    const weightsId = `weights-${slug}`;
    out.push({
      id: forestId,
      kind: 'forest',
      candidate: c.name,
      title: `Estimates and intervals for ${c.name}`,
      svg: await renderChartSvg(forestPlotSpec(result, c, { domain }), forestId),
    });
    out.push({
      id: weightsId,
      kind: 'weights',
      candidate: c.name,
      title: `Importance weights for ${c.name}`,
      svg: await renderChartSvg(weightHistogramSpec(c), weightsId),
    });
  }
  return out;
}
