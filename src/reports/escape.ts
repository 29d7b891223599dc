/** Escaping of user-provided strings for the HTML and Markdown documents. */

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * Makes text safe inside a Markdown table cell or list item, with backslash
 * escapes (CommonMark), never HTML entities, so the raw file reads as plain
 * text: no pipes, no line breaks, no raw HTML (< and & escaped), no emphasis,
 * code or link syntax from the text.
 */
export function escapeMarkdownCell(text: string): string {
  // An underscore inside a word (LOW_ESS, action_probs) cannot open emphasis in CommonMark: left as is.
  return text
    .replace(/[\\`*[\]<&|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, (c) => `\\${c}`)
    .replace(/\r?\n/g, ' ');
}

/** The length of the longest run of backticks in text: a fence must be longer. */
function longestBacktickRun(text: string): number {
  return Math.max(0, ...(text.match(/`+/g) ?? []).map((m) => m.length));
}

/** Markdown inline code that survives backticks in the text. */
export function markdownCode(text: string): string {
  const fence = '`'.repeat(longestBacktickRun(text) + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** A fenced Markdown code block whose fence is longer than any backtick run in the text (at least three). */
export function markdownCodeBlock(text: string, lang = ''): string {
  const fence = '`'.repeat(Math.max(3, longestBacktickRun(text) + 1));
  return `${fence}${lang}\n${text}\n${fence}`;
}

/** A file-name-safe slug: lower-case letters, digits and "-", never empty; `taken` keeps slugs unique. */
export function slugify(text: string, taken?: Set<string>): string {
  const base =
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 48) || 'candidate';
  let slug = base;
  for (let i = 2; taken?.has(slug); i++) slug = `${base}-${i}`;
  taken?.add(slug);
  return slug;
}
