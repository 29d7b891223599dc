/**
 * Which format a source is: the --format flag, else the extension or directory
 * layout, and in every case a check of the file's first and last bytes, so a
 * file that is not what its name says is refused before anything reads it.
 *
 * Magic bytes: Parquet "PAR1" at both ends (a head without the tail is a
 * truncated file); Arrow IPC file "ARROW1"; Arrow IPC stream: the continuation
 * marker 0xFFFFFFFF; HDF5 "\x89HDF\r\n\x1a\n"; CSV and JSON Lines: text (no NUL
 * bytes), JSON Lines (or a JSON array of records) starting with "{" (or "[").
 */
import { existsSync } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { OffpolicyError } from '../../core/errors.js';
import { INGEST_FORMATS, type IngestFormat } from './types.js';

/** What the bytes of a file look like. */
export type Sniffed =
  | 'parquet'
  | 'parquet-truncated'
  | 'arrow-file'
  | 'arrow-truncated'
  | 'arrow-stream'
  | 'hdf5'
  | 'hdf5-truncated'
  | 'jsonl'
  | 'csv'
  | 'binary'
  | 'empty';

const HDF5_MAGIC = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
const SNIFF_BYTES = 64 * 1024;

const DESCRIPTIONS: Record<Sniffed, string> = {
  parquet: 'a Parquet file',
  'parquet-truncated': 'a truncated Parquet file',
  'arrow-truncated': 'a truncated Arrow IPC file',
  'hdf5-truncated': 'a truncated HDF5 file',
  'arrow-file': 'an Arrow IPC file',
  'arrow-stream': 'an Arrow IPC stream',
  hdf5: 'an HDF5 file',
  jsonl: 'a JSON text file',
  csv: 'a CSV text file',
  binary: 'a binary file of unknown format',
  empty: 'an empty file',
};

/** Reads a file's head and tail and says what it looks like. */
export async function sniffFile(file: string): Promise<Sniffed> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    if (size === 0) return 'empty';
    const head = Buffer.alloc(Math.min(SNIFF_BYTES, size));
    await fh.read(head, 0, head.length, 0);
    if (head.length >= 4 && head.subarray(0, 4).toString('latin1') === 'PAR1') {
      const tail = Buffer.alloc(4);
      if (size >= 12) await fh.read(tail, 0, 4, size - 4);
      return size >= 12 && tail.toString('latin1') === 'PAR1' ? 'parquet' : 'parquet-truncated';
    }
    if (head.length >= 6 && head.subarray(0, 6).toString('latin1') === 'ARROW1') {
      // An Arrow IPC file ends with the magic too (after its footer).
      const tail = Buffer.alloc(6);
      if (size >= 12) await fh.read(tail, 0, 6, size - 6);
      return size >= 12 && tail.toString('latin1') === 'ARROW1' ? 'arrow-file' : 'arrow-truncated';
    }
    if (head.length >= 8 && head.readUInt32LE(0) === 0xffffffff) return 'arrow-stream';
    if (head.length >= 8 && head.subarray(0, 8).equals(HDF5_MAGIC)) {
      const eof = hdf5EndOfFile(head);
      return eof !== undefined && eof > size ? 'hdf5-truncated' : 'hdf5';
    }
    if (head.includes(0)) return 'binary';
    const text = head.toString('utf8').replace(/^\uFEFF/, '').trimStart();
    if (text.startsWith('{') || text.startsWith('[')) return 'jsonl';
    return 'csv';
  } finally {
    await fh.close();
  }
}

/**
 * The end-of-file address an HDF5 superblock (at offset 0) records, or
 * undefined when it cannot be read. Superblock versions 0/1: signature (8),
 * eight 1-byte fields (sizes of offsets and lengths at 13 and 14), two 2-byte
 * K values, 4-byte flags, [v1: 4 more bytes], then base, free-space, EOF
 * addresses. Versions 2/3: signature, version, offset size (9), length size,
 * flags, then base, extension, EOF addresses.
 */
function hdf5EndOfFile(head: Buffer): number | undefined {
  if (head.length < 16) return undefined;
  const version = head[8]!;
  let sizeOfOffsets: number;
  let at: number;
  if (version === 0 || version === 1) {
    sizeOfOffsets = head[13]!;
    at = 24 + (version === 1 ? 4 : 0) + 2 * sizeOfOffsets;
  } else if (version === 2 || version === 3) {
    sizeOfOffsets = head[9]!;
    at = 12 + 2 * sizeOfOffsets;
  } else return undefined;
  if (sizeOfOffsets !== 8 && sizeOfOffsets !== 4) return undefined;
  if (head.length < at + sizeOfOffsets) return undefined;
  const eof = sizeOfOffsets === 8 ? Number(head.readBigUInt64LE(at)) : head.readUInt32LE(at);
  // The undefined address (all ones) means unknown.
  return eof >= 2 ** 53 || (sizeOfOffsets === 4 && eof === 0xffffffff) ? undefined : eof;
}

function fromExtension(file: string): IngestFormat | undefined {
  const ext = path.extname(file).toLowerCase();
  switch (ext) {
    case '.csv':
    case '.tsv':
      return 'csv';
    case '.jsonl':
    case '.ndjson':
    case '.json':
      return 'jsonl';
    case '.parquet':
    case '.pq':
      return 'parquet';
    case '.arrow':
    case '.arrows':
    case '.ipc':
    case '.feather':
      return 'arrow';
    case '.hdf5':
    case '.h5':
      return 'd4rl';
    default:
      return undefined;
  }
}

/** The sniffed kinds each format accepts. */
const ACCEPTS: Record<Exclude<IngestFormat, 'minari'>, Sniffed[]> = {
  csv: ['csv'],
  obd: ['csv'],
  jsonl: ['jsonl'],
  parquet: ['parquet'],
  arrow: ['arrow-file', 'arrow-stream'],
  d4rl: ['hdf5'],
};

function formatFor(sniffed: Sniffed): IngestFormat | undefined {
  switch (sniffed) {
    case 'parquet':
      return 'parquet';
    case 'arrow-file':
    case 'arrow-stream':
      return 'arrow';
    case 'hdf5':
      return 'd4rl';
    case 'jsonl':
      return 'jsonl';
    case 'csv':
      return 'csv';
    default:
      return undefined;
  }
}

export interface DetectedSource {
  format: IngestFormat;
  /** What the bytes look like (files only). */
  sniffed?: Sniffed;
  isDirectory: boolean;
}

/**
 * Decides the format of `source`. Throws E_SOURCE_NOT_FOUND, E_FORMAT (unknown
 * flag or extension), E_EMPTY_INPUT (zero-byte file), E_TRUNCATED_FILE (Parquet
 * head without footer) or E_FORMAT_MISMATCH (bytes disagree with the name or flag).
 */
export async function detectFormat(source: string, flag?: string): Promise<DetectedSource> {
  if (flag !== undefined && !(INGEST_FORMATS as readonly string[]).includes(flag)) {
    throw new OffpolicyError('E_FORMAT', `Unknown format "${flag}".`, { hint: `Use one of: ${INGEST_FORMATS.join(', ')}.` });
  }
  if (!existsSync(source)) {
    throw new OffpolicyError('E_SOURCE_NOT_FOUND', `Input "${source}" does not exist.`, { hint: 'Check the path.' });
  }
  const info = await stat(source);
  if (info.isDirectory()) {
    if (flag !== undefined && flag !== 'minari') {
      throw new OffpolicyError('E_FORMAT_MISMATCH', `"${source}" is a directory, not a ${flag} file.`, {
        hint: 'Pass a file, or --format minari for a Minari dataset directory.',
      });
    }
    const entries = await readdir(source);
    if (!entries.includes('metadata.json') && !entries.includes('data')) {
      throw new OffpolicyError('E_FORMAT_MISMATCH', `Directory "${source}" is not a Minari dataset (no metadata.json or data/ inside).`, {
        hint: 'Pass a data file (CSV, JSON Lines, Parquet, Arrow, HDF5) or a Minari dataset directory.',
      });
    }
    return { format: 'minari', isDirectory: true };
  }
  const sniffed = await sniffFile(source);
  if (sniffed === 'empty') {
    throw new OffpolicyError('E_EMPTY_INPUT', `"${source}" is empty (0 bytes), so there is nothing to ingest.`, {
      hint: 'Check that the export that wrote it finished.',
    });
  }
  if (sniffed === 'parquet-truncated') {
    throw new OffpolicyError('E_TRUNCATED_FILE', `"${source}" starts like a Parquet file but has no footer: it is truncated.`, {
      hint: 'Copy or export the file again in full.',
    });
  }
  if (sniffed === 'arrow-truncated') {
    throw new OffpolicyError('E_TRUNCATED_FILE', `"${source}" starts like an Arrow IPC file but does not end like one: it is truncated.`, {
      hint: 'Copy or export the file again in full.',
    });
  }
  if (sniffed === 'hdf5-truncated') {
    throw new OffpolicyError('E_TRUNCATED_FILE', `"${source}" is an HDF5 file shorter than its superblock says: it is truncated.`, {
      hint: 'Copy or download the file again in full.',
    });
  }
  const claimed = (flag as IngestFormat | undefined) ?? fromExtension(source);
  if (claimed === 'minari') {
    throw new OffpolicyError('E_FORMAT_MISMATCH', `"${source}" is a file; --format minari expects a Minari dataset directory.`, {
      hint: `The file looks like ${DESCRIPTIONS[sniffed]}.`,
    });
  }
  if (claimed === undefined) {
    const guess = formatFor(sniffed);
    if (guess === undefined || guess === 'csv' || guess === 'jsonl') {
      // Text without a telling extension is ambiguous; binary formats are identified by their magic bytes.
      throw new OffpolicyError('E_FORMAT', `Cannot tell the format of "${source}" from its name; it looks like ${DESCRIPTIONS[sniffed]}.`, {
        hint: `Pass --format (one of: ${INGEST_FORMATS.join(', ')}).`,
      });
    }
    return { format: guess, sniffed, isDirectory: false };
  }
  if (!ACCEPTS[claimed].includes(sniffed)) {
    const said = flag !== undefined ? `--format ${flag}` : `its extension (${path.extname(source)})`;
    throw new OffpolicyError('E_FORMAT_MISMATCH', `"${source}" is not ${claimed} as ${said} says: it looks like ${DESCRIPTIONS[sniffed]}.`, {
      hint: formatFor(sniffed) ? `Pass --format ${formatFor(sniffed)} or rename the file.` : 'Check that the file is the one you meant.',
    });
  }
  return { format: claimed, sniffed, isDirectory: false };
}
