/**
 * Checks on a tabular input before DuckDB loads it: no NUL byte anywhere in a
 * text file (the format sniff only reads its head), at most MAX_INPUT_COLUMNS
 * columns, no repeated column name (DuckDB would silently rename "a, a" to
 * "a, a_1"), and, when a CSV fails to parse, the first line whose field count
 * differs from the header's.
 */
import { createReadStream } from 'node:fs';
import { OffpolicyError } from '../../core/errors.js';
import { MAX_INPUT_COLUMNS } from '../limits.js';

/** Throws E_BINARY_CONTENT at the first NUL byte of a text file (one streaming pass). */
export async function assertNoNulByte(file: string): Promise<void> {
  let offset = 0;
  let line = 1;
  for await (const chunk of createReadStream(file)) {
    const b = chunk as Buffer;
    const at = b.indexOf(0);
    if (at >= 0) {
      for (let i = 0; i < at; i++) if (b[i] === 10) line++;
      throw new OffpolicyError('E_BINARY_CONTENT', `"${file}" holds a NUL byte at byte ${offset + at} (line ${line}): it is not a text file.`, {
        hint: 'Text inputs (CSV, JSON Lines) may not contain NUL bytes; check the export that wrote the file, or convert it to Parquet.',
      });
    }
    for (let i = 0; i < b.length; i++) if (b[i] === 10) line++;
    offset += b.length;
  }
}

/** Splits CSV text into records (quote-aware: "" escapes a quote, newlines inside quotes stay in the field). */
function* csvRecords(text: string, delim: string): Generator<{ fields: string[]; line: number }> {
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"') quoted = true;
    else if (c === delim) {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      if (!(fields.length === 1 && fields[0] === '')) yield { fields, line: start };
      fields = [];
      field = '';
      line++;
      start = line;
    } else field += c;
  }
  if (field !== '' || fields.length) {
    fields.push(field);
    yield { fields, line: start };
  }
}

/** The header names of a CSV file: its first record, read up to the first newline outside quotes. */
async function csvHeader(file: string, delim: string): Promise<string[]> {
  let text = '';
  let quoted = false;
  let end = -1;
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 16 })) {
    const from = text.length;
    text += chunk as string;
    for (let i = from; i < text.length && end < 0; i++) {
      if (text[i] === '"') quoted = !quoted;
      else if (!quoted && (text[i] === '\n' || text[i] === '\r')) end = i;
    }
    if (end >= 0 || text.length > 64 << 20) break;
  }
  const rec = csvRecords(text.slice(0, end < 0 ? text.length : end).replace(/^\uFEFF/, ''), delim).next().value;
  return rec?.fields ?? [];
}

/** Refuses more than MAX_INPUT_COLUMNS columns (E_TOO_MANY_COLUMNS) or a repeated name (E_DUPLICATE_COLUMN). */
export function checkColumnNames(file: string, names: string[]): void {
  if (names.length > MAX_INPUT_COLUMNS) {
    throw new OffpolicyError('E_TOO_MANY_COLUMNS', `"${file}" has ${names.length} columns; at most ${MAX_INPUT_COLUMNS} are allowed.`, {
      hint: 'Store wide features as one vector column (a list), or select the columns you need before ingesting.',
    });
  }
  const seen = new Map<string, number>();
  for (const [i, n] of names.entries()) {
    const key = n.trim();
    if (seen.has(key)) {
      throw new OffpolicyError('E_DUPLICATE_COLUMN', `"${file}" has two columns named "${key}" (columns ${seen.get(key)! + 1} and ${i + 1}).`, {
        hint: 'Give every column its own name; the ingest never renames columns silently.',
      });
    }
    seen.set(key, i);
  }
}

/** Header checks of a CSV file (see checkColumnNames). */
export async function checkCsvHeader(file: string, delim: string): Promise<void> {
  const header = await csvHeader(file, delim);
  checkColumnNames(file, header.map((h) => h.replace(/^\uFEFF/, '')));
}

/** The first record whose field count differs from the header's, or undefined. */
export async function firstRaggedCsvLine(file: string, delim: string): Promise<{ line: number; fields: number; expected: number } | undefined> {
  let text = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8' })) {
    text += chunk as string;
    if (text.length > 256 << 20) return undefined;
  }
  let expected: number | undefined;
  for (const rec of csvRecords(text.replace(/^\uFEFF/, ''), delim)) {
    if (expected === undefined) expected = rec.fields.length;
    else if (rec.fields.length !== expected) return { line: rec.line, fields: rec.fields.length, expected };
  }
  return undefined;
}
