/** Number formatting shared by the HTML and Markdown reports. */

/** A value for display: 4 decimals for ordinary magnitudes, exponent for tiny or huge ones. */
export function formatNumber(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined) return '';
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e7)) return v.toExponential(2).replace(/\.?0+e/, 'e');
  return a >= 100 ? v.toFixed(1) : v.toFixed(digits);
}

/** A share in [0, 1] as a percentage, e.g. 0.0813 -> "8.1%". */
export function formatPercent(v: number, digits = 1): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(digits)}%` : String(v);
}

/** "[lower, upper]" or an empty string. */
export function formatInterval(i: { lower: number; upper: number } | undefined): string {
  return i ? `[${formatNumber(i.lower)}, ${formatNumber(i.upper)}]` : '';
}

/** The confidence level of a miscoverage alpha, e.g. 0.05 -> "95%". */
export function formatLevel(alpha: number): string {
  const pct = (1 - alpha) * 100;
  return `${Number.isInteger(Math.round(pct * 1e6) / 1e6) ? Math.round(pct) : pct.toFixed(1)}%`;
}
