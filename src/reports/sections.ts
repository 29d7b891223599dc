/**
 * A report as a list of titled sections (paragraphs, a table, figures), rendered
 * to Markdown or self-contained HTML in the bandit report's style. Reports whose
 * content is tables and sentences (the slate report) are built on it.
 */
import { escapeHtml, escapeMarkdownCell, markdownCodeBlock } from './escape.js';
import { REPORT_CSS } from './html-style.js';

export interface ReportSection {
  title: string;
  /** Paragraphs of plain text. */
  text?: string[];
  table?: { headers: string[]; rows: string[][]; /** Right-aligned (numeric) columns. */ numeric?: boolean[] };
  /** Charts of the section: inline SVG in HTML, linked files in Markdown. */
  figures?: { id: string; title: string; svg: string; file: string }[];
}

export interface SectionsDocument {
  title: string;
  /** One line under the title. */
  subtitle: string;
  sections: ReportSection[];
  /** The command that reproduces the result, shown last. */
  command?: string;
}

export function renderSectionsMarkdown(doc: SectionsDocument): string {
  const out = [`# ${doc.title}`, '', escapeMarkdownCell(doc.subtitle), ''];
  for (const s of doc.sections) {
    out.push(`## ${escapeMarkdownCell(s.title)}`, '');
    for (const p of s.text ?? []) out.push(escapeMarkdownCell(p), '');
    for (const f of s.figures ?? []) out.push(`![${escapeMarkdownCell(f.title)}](${f.file})`, '');
    if (s.table) {
      const align = s.table.headers.map((_, j) => (s.table!.numeric?.[j] ? '---:' : '---'));
      out.push(`| ${s.table.headers.map(escapeMarkdownCell).join(' | ')} |`, `| ${align.join(' | ')} |`);
      for (const row of s.table.rows) out.push(`| ${row.map(escapeMarkdownCell).join(' | ')} |`);
      out.push('');
    }
  }
  if (doc.command) out.push('## Reproduce', '', markdownCodeBlock(doc.command, 'sh'), '');
  return out.join('\n');
}

export function renderSectionsHtml(doc: SectionsDocument): string {
  const e = escapeHtml;
  const parts = [`<header><h1>${e(doc.title)}</h1><p class="sub">${e(doc.subtitle)}</p></header>`];
  for (const s of doc.sections) {
    parts.push(`<h2>${e(s.title)}</h2>`);
    for (const p of s.text ?? []) parts.push(`<p>${e(p)}</p>`);
    for (const f of s.figures ?? []) parts.push(`<figure class="chart" data-chart="${e(f.id)}">${f.svg}<figcaption>${e(f.title)}</figcaption></figure>`);
    if (s.table) {
      const head = s.table.headers.map((h) => `<th scope="col">${e(h)}</th>`).join('');
      const body = s.table.rows.map((row) => `<tr>${row.map((c, j) => `<td${s.table!.numeric?.[j] ? ' class="num"' : ''}>${e(c)}</td>`).join('')}</tr>`).join('');
      parts.push(`<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`);
    }
  }
  if (doc.command) parts.push(`<h2>Reproduce</h2><pre><code>${e(doc.command)}</code></pre>`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${e(doc.title)}</title><style>${REPORT_CSS}</style></head><body><main>${parts.join('\n')}</main></body></html>\n`;
}
