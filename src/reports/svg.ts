/**
 * Renders a vega-lite spec to an SVG string in Node: vega-lite compiles it to vega,
 * a headless vega View (renderer 'none', no canvas needed) produces the SVG.
 * vega and vega-lite load on the first chart, not with the library.
 */
import type { TopLevelSpec } from 'vega-lite';

/**
 * The SVG markup of a chart. `idPrefix` makes element ids (clip paths, gradients)
 * unique so several charts can be inlined in one HTML page.
 */
export async function renderChartSvg(spec: TopLevelSpec, idPrefix?: string): Promise<string> {
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Warn });
  try {
    let svg = await view.toSVG();
    if (idPrefix) {
      svg = svg
        .replace(/\bid="([^"]+)"/g, (_m, id: string) => `id="${idPrefix}-${id}"`)
        .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${idPrefix}-${id})`)
        .replace(/href="#([^"]+)"/g, (_m, id: string) => `href="#${idPrefix}-${id}"`);
    }
    return svg;
  } finally {
    view.finalize();
  }
}

/** Counts an SVG's drawn marks (paths, rects, lines, circles, text): a rendered chart has some. */
export function countSvgMarks(svg: string): number {
  return (svg.match(/<(path|rect|line|circle|polygon|text)\b/g) ?? []).length;
}
