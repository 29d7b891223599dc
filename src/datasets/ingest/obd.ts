/**
 * The Open Bandit Dataset CSV layout (ZOZOTOWN; as shipped in
 * open_bandit_dataset/<policy>/<campaign>/<campaign>.csv):
 *
 *   (unnamed pandas index), timestamp, item_id, position, click, propensity_score,
 *   user_feature_0..3, user-item_affinity_0..K-1
 *
 * Decisions (documented in the README):
 * - item_id -> action, click -> reward, propensity_score -> propensity.
 * - position is stored 0-based (position - 1), as Open Bandit Pipeline does
 *   (it ranks the 1..3 slots densely and subtracts one).
 * - the unnamed index column is dropped; row_id is the input order (which is
 *   what that index holds).
 * - user_feature_* and user-item_affinity_* stay as named columns.
 * - item_context.csv beside the file (item_id, item_feature_0..3) describes the
 *   ACTIONS, not the rows, so it is not joined onto every row: it is kept in
 *   metadata.extra.itemContext ({ file, columns, rows }, rows ordered by item_id),
 *   and sets K = max(item_id) + 1 unless --num-actions says otherwise.
 * User --map flags override these defaults.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ident, queryRows, type DuckDBConnection } from '../duckdb.js';
import type { PlanOptions } from './canonical.js';
import { readError, scanSql } from './read-tabular.js';

export const OBD_COLUMNS = ['item_id', 'click', 'propensity_score'];

export interface ObdLayout {
  plan: PlanOptions;
  itemContext?: { file: string; columns: string[]; rows: Record<string, unknown>[] };
  /** K from item_context.csv. */
  numActions?: number;
}

/** True when a column list looks like an Open Bandit Dataset file. */
export function looksLikeObd(columns: readonly string[]): boolean {
  return OBD_COLUMNS.every((c) => columns.includes(c));
}

/**
 * The unnamed first column pandas writes (DataFrame.to_csv with its index): an
 * empty header, which DuckDB names column0, column00, ... (zero-padded to the
 * column count's digits), or "Unnamed: 0" after a pandas round trip.
 */
export function isIndexColumn(name: string, i: number): boolean {
  return i === 0 && (name === '' || /^column0+$/.test(name) || name === 'Unnamed: 0');
}

/** Plan options for an OBD file already staged in `rawTable`, plus its item context. */
export async function obdLayout(conn: DuckDBConnection, file: string, rawTable: string, map: Record<string, string> = {}): Promise<ObdLayout> {
  const cols = (await queryRows(conn, `DESCRIBE SELECT * FROM ${ident(rawTable)}`)).map((r) => String(r.column_name));
  const drop = cols.filter(isIndexColumn);
  const fixed: PlanOptions['fixed'] = {};
  if (cols.includes('position') && map.position === undefined) {
    fixed.position = { sql: `try_cast("position" AS INTEGER) - 1`, consumes: ['position'] };
  }
  const plan: PlanOptions = {
    kind: 'bandit',
    map: { action: 'item_id', reward: 'click', propensity: 'propensity_score', ...map },
    drop,
    fixed,
  };
  const ctxFile = path.join(path.dirname(file), 'item_context.csv');
  if (!existsSync(ctxFile)) return { plan };
  let rows: Record<string, unknown>[];
  let keep: string[];
  try {
    const ctxCols = await queryRows(conn, `DESCRIBE SELECT * FROM ${scanSql('csv', ctxFile)}`);
    keep = ctxCols.map((r) => String(r.column_name)).filter((c, i) => !isIndexColumn(c, i));
    // Integers as JSON numbers (item counts and ids are far below 2^53).
    const select = ctxCols
      .filter((r) => keep.includes(String(r.column_name)))
      .map((r) => (/INT/.test(String(r.column_type)) ? `${ident(String(r.column_name))}::DOUBLE AS ${ident(String(r.column_name))}` : ident(String(r.column_name))));
    rows = await queryRows(conn, `SELECT ${select.join(', ')} FROM ${scanSql('csv', ctxFile)}${keep.includes('item_id') ? ' ORDER BY item_id' : ''}`);
  } catch (e) {
    throw readError('csv', ctxFile, e);
  }
  const trimmed = rows;
  const maxItem = trimmed.reduce((m, r) => Math.max(m, Number(r.item_id)), -1);
  return {
    plan,
    itemContext: { file: 'item_context.csv', columns: keep, rows: trimmed },
    ...(maxItem >= 0 ? { numActions: maxItem + 1 } : {}),
  };
}
