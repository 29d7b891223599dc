/** Plain-text tables for terminals: right-aligns numbers, left-aligns text. */

export type Cell = string | number | boolean | null | undefined;

export function formatCell(v: Cell, digits = 4): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e7) ? v.toExponential(digits - 1) : v.toFixed(digits);
  }
  return String(v);
}

export function formatTable(rows: readonly Record<string, Cell>[], columns?: readonly string[], digits = 4): string {
  const cols = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cells = rows.map((r) => cols.map((c) => formatCell(r[c], digits)));
  const numeric = cols.map((c) => rows.length > 0 && rows.every((r) => r[c] === null || r[c] === undefined || typeof r[c] === 'number'));
  const widths = cols.map((c, j) => Math.max(c.length, ...cells.map((row) => row[j]!.length)));
  const line = (vals: readonly string[]) =>
    vals.map((v, j) => (numeric[j] ? v.padStart(widths[j]!) : v.padEnd(widths[j]!))).join('  ').trimEnd();
  return [line(cols), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}
