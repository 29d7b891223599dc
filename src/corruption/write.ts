/**
 * Writes a corrupted child version from its parent plus a small "patch" table
 * holding only the changed rows. The child is the parent's Parquet scan LEFT
 * JOINed to the patch: a column takes the patch's value only where the patch
 * row's bit for that column is set, so every unchanged row (and every unchanged
 * field of a changed row) is copied from the parent's file as it is, byte for
 * byte. The `corrupted` bitmask ORs the parent's bits with the new ones.
 */
import { ident, lit, type DuckDBConnection } from '../datasets/duckdb.js';
import type { DatasetMetadata, Lineage, MetadataInput } from '../datasets/metadata.js';
import type { DatasetVersion, Workspace } from '../datasets/workspace.js';

/** The parent's metadata without the fields the workspace fills in for the child. */
export function inheritMetadata(parent: DatasetMetadata, lineage: Lineage, overrides: Partial<MetadataInput> = {}): MetadataInput {
  const {
    name: _n,
    version: _v,
    schemaVersion: _s,
    createdAt: _c,
    rowCount: _r,
    episodeCount: _e,
    contentHash: _h,
    contentHashAlgorithm: _a,
    columns: _cols,
    files: _f,
    rejected: _rej,
    fileDigests: _fd,
    ...rest
  } = parent;
  return { ...rest, ...overrides, lineage };
}

export interface PatchedColumn {
  /** Bit of the patch's `_bits` column that says this column changed on a row. */
  bit: number;
  /** The patch table's column holding the new value. */
  patchColumn: string;
  /** The patch column holds one-value vectors as scalars (arraysToTable with width 1): wrap it back into a list. */
  wrapScalar?: boolean;
  /** Write NULL instead of the patch value (dropped rewards). */
  toNull?: boolean;
}

export interface WritePatchedOptions {
  ws: Workspace;
  conn: DuckDBConnection;
  parent: DatasetVersion;
  /** Patch table on `conn`: key columns, `_bits` SMALLINT, and the patch columns. */
  patchTable: string;
  /** Join keys (e.g. ['episode_id', 'step'] or ['row_id']). */
  keys: string[];
  columns: Record<string, PatchedColumn>;
  /** Optional extra rows (already in the child's column order) appended with UNION ALL. */
  appendSelect?: (columnOrder: string[]) => string;
  name: string;
  metadata: MetadataInput;
}

/** The child's column order: the parent's, plus `corrupted` at the end when the parent has none. */
export function childColumns(parent: DatasetVersion): string[] {
  const cols = parent.metadata.columns.map((c) => c.name);
  return cols.includes('corrupted') ? cols : [...cols, 'corrupted'];
}

export async function writePatched(o: WritePatchedOptions): Promise<DatasetVersion> {
  const types = new Map(o.parent.metadata.columns.map((c) => [c.name, c.type]));
  const order = childColumns(o.parent);
  const exprs = order.map((c) => {
    if (c === 'corrupted') {
      const old = types.has('corrupted') ? 'coalesce(t.corrupted, 0)' : '0';
      return `(${old} | coalesce(p._bits, 0))::SMALLINT AS corrupted`;
    }
    const pc = o.columns[c];
    if (!pc) return `t.${ident(c)}`;
    const type = types.get(c)!;
    const value = pc.toNull ? 'NULL' : pc.wrapScalar ? `[p.${ident(pc.patchColumn)}]` : `p.${ident(pc.patchColumn)}`;
    return `CASE WHEN coalesce(p._bits, 0) & ${pc.bit} <> 0 THEN (${value})::${type} ELSE t.${ident(c)} END AS ${ident(c)}`;
  });
  const on = o.keys.map((k) => `t.${ident(k)} = p.${ident(k)}`).join(' AND ');
  const base = `SELECT ${exprs.join(', ')} FROM read_parquet(${lit(o.parent.glob)}) t LEFT JOIN ${ident(o.patchTable)} p ON ${on}`;
  const all = o.appendSelect ? `${base} UNION ALL ${o.appendSelect(order)}` : base;
  const select = `SELECT * FROM (${all}) ORDER BY ${o.keys.map(ident).join(', ')}`;
  return o.ws.createVersion({ name: o.name, conn: o.conn, select, metadata: o.metadata });
}
