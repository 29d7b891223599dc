/** Shared look of the report's charts (fonts and colours match the HTML page). */
import type { Config } from 'vega-lite';

export const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';

export const COLORS = {
  estimate: '#1f5fa8',
  logging: '#6b7280',
  truth: '#15803d',
  bars: '#4f7cb8',
  recommended: '#15803d',
  rejected: '#b45309',
};

export const CHART_CONFIG: Config = {
  font: FONT,
  background: 'white',
  view: { stroke: '#e5e7eb' },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 600, gridColor: '#eef0f3', domainColor: '#9ca3af', tickColor: '#9ca3af', labelColor: '#374151', titleColor: '#111827' },
  legend: { labelLimit: 400, symbolStrokeWidth: 2, labelFontSize: 11, titleFontSize: 11, orient: 'bottom', labelColor: '#374151' },
  title: { fontSize: 13, fontWeight: 600, anchor: 'start', color: '#111827', subtitleColor: '#4b5563', subtitleFontSize: 11 },
};
