/**
 * The end of every ingest: run the kind's row rules over the staged table,
 * then either refuse (nothing written), or store the valid rows and write the
 * rejected ones, with their reasons, as rejected.parquet inside the new version.
 */
import path from 'node:path';
import { dataError, OffpolicyError } from '../../core/errors.js';
import { ident, lit, queryOne, queryRows, type DuckDBConnection } from '../duckdb.js';
import type { DatasetKind, MetadataInput } from '../metadata.js';
import { prepareBanditChecks } from '../validate-bandit.js';
import { prepareTrajectoryChecks } from '../validate-trajectory.js';
import { badRowsSql, findViolations, violationsError, type RowRule } from '../validation.js';
import type { Workspace } from '../workspace.js';
import type { IngestResult } from './types.js';

export const REJECTED_FILE = 'rejected.parquet';
/** Reason given to the other rows of a trajectory episode that had a bad row. */
export const EPISODE_DROPPED = 'episode dropped: another step of this episode broke a rule';

export interface FinishIngestOptions {
  /** Staged table or view: output columns, plus `_row` and any internal `_...` columns (left out of the stored version). */
  table: string;
  name: string;
  kind: DatasetKind;
  metadata: MetadataInput;
  dropInvalid?: boolean;
  /** Table or view with `_row` and the input's original columns, written beside rejected rows; default `table`. */
  sourceTable?: string;
  /** Rules beyond the kind's own (e.g. E_BAD_VALUE conversions). */
  extraRules?: RowRule[];
  /** Bandit: check row_id for duplicates (false when ids were assigned at ingest). Default true. */
  checkRowIds?: boolean;
  warnings?: string[];
  onProgress?: (done: number, total: number) => void;
}

async function kindChecks(conn: DuckDBConnection, opts: FinishIngestOptions): Promise<{ checkTable: string; rules: RowRule[] }> {
  if (opts.kind === 'bandit') {
    const space = opts.metadata.actionSpace;
    if (!space || space.type !== 'discrete') {
      throw new Error('finishIngest: a bandit dataset needs metadata.actionSpace {type: "discrete", n: K}');
    }
    const obs = opts.metadata.observationSpace;
    return prepareBanditChecks(conn, opts.table, {
      numActions: space.n,
      ...(obs && obs.type === 'box' ? { contextDim: obs.shape[0] } : {}),
      rewardNullable: opts.metadata.rewardNullable === true,
      checkRowIds: opts.checkRowIds !== false,
    });
  }
  return prepareTrajectoryChecks(conn, opts.table, {
    ...(opts.metadata.actionSpace ? { actionSpace: opts.metadata.actionSpace } : {}),
    ...(opts.metadata.observationSpace ? { observationSpace: opts.metadata.observationSpace } : {}),
  });
}

/** Validates the staged table and stores it as a new version (see the module comment). */
export async function finishIngest(ws: Workspace, conn: DuckDBConnection, opts: FinishIngestOptions): Promise<IngestResult> {
  const progress = opts.onProgress ?? (() => {});
  const total = Number((await queryOne(conn, `SELECT count(*) AS n FROM ${ident(opts.table)}`)).n);
  if (total === 0) {
    throw new OffpolicyError('E_EMPTY_INPUT', 'The input has no rows, so there is nothing to store.', {
      hint: 'Check the file (a header alone is not enough) and try again.',
    });
  }
  const { checkTable, rules: kindRules } = await kindChecks(conn, opts);
  // Extra rules read columns of the staged table itself, which may differ from the kind's check table.
  const extraRules = opts.extraRules ?? [];
  const violations = [
    ...(await findViolations(conn, checkTable, kindRules)),
    ...(await findViolations(conn, opts.table, extraRules)),
  ];
  progress(1, 2);
  const outCols = (await queryRows(conn, `DESCRIBE SELECT * FROM ${ident(opts.table)}`))
    .map((r) => String(r.column_name))
    .filter((c) => !c.startsWith('_'));
  const colList = outCols.map(ident).join(', ');
  const warnings = [...(opts.warnings ?? [])];

  if (violations.length > 0 && !opts.dropInvalid) throw violationsError(violations);

  let result: IngestResult;
  if (violations.length === 0) {
    const version = await ws.createVersion({
      name: opts.name,
      conn,
      select: `SELECT ${colList} FROM ${ident(opts.table)}`,
      metadata: opts.metadata,
      validated: true,
    });
    result = { version, rejectedCount: 0, warnings };
  } else {
    const rejected = `${opts.table}__rejected`;
    const parts: string[] = [];
    if (kindRules.length) parts.push(badRowsSql(checkTable, kindRules));
    if (extraRules.length) parts.push(badRowsSql(opts.table, extraRules));
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE ${ident(rejected)} AS SELECT _row, string_agg(reason, '; ' ORDER BY reason) AS reason FROM (${parts.join(' UNION ALL ')}) GROUP BY _row`,
    );
    if (opts.kind === 'trajectory') {
      // Trajectories are dropped an episode at a time: a kept episode must stay contiguous.
      await conn.run(
        `INSERT INTO ${ident(rejected)} SELECT s._row, ${lit(EPISODE_DROPPED)} FROM ${ident(opts.table)} s
         WHERE s.episode_id IN (SELECT t.episode_id FROM ${ident(opts.table)} t WHERE t._row IN (SELECT _row FROM ${ident(rejected)}))
           AND s._row NOT IN (SELECT _row FROM ${ident(rejected)})`,
      );
    }
    const rejectedCount = Number((await queryOne(conn, `SELECT count(*) AS n FROM ${ident(rejected)}`)).n);
    if (rejectedCount === total) {
      const lines = violations.map((v) => dataError(v.code, v.rule, v.count, v.rows, v.hint).message);
      throw new OffpolicyError(
        'E_ALL_ROWS_INVALID',
        `Every one of the ${total} rows broke a validation rule, so nothing is left to store.${lines.length === 1 ? ` ${lines[0]}` : `\n  - ${lines.join('\n  - ')}`}`,
      );
    }
    const reasons: Record<string, number> = {};
    for (const v of violations) reasons[`${v.code}: ${v.rule}`] = v.count;
    if (opts.kind === 'trajectory') {
      const dropped = Number((await queryOne(conn, `SELECT count(*) AS n FROM ${ident(rejected)} WHERE reason = ${lit(EPISODE_DROPPED)}`)).n);
      if (dropped > 0) reasons[EPISODE_DROPPED] = dropped;
    }
    const source = opts.sourceTable ?? opts.table;
    const version = await ws.createVersion({
      name: opts.name,
      conn,
      select: `SELECT ${colList} FROM ${ident(opts.table)} WHERE _row NOT IN (SELECT _row FROM ${ident(rejected)}) ORDER BY _row`,
      metadata: { ...opts.metadata, rejected: { file: REJECTED_FILE, count: rejectedCount, reasons } },
      validated: true,
      extraFiles: async (dir) => {
        await conn.run(
          `COPY (SELECT r._row, r.reason, s.* EXCLUDE (_row) FROM ${ident(rejected)} r JOIN ${ident(source)} s ON s._row = r._row ORDER BY r._row) TO ${lit(path.join(dir, REJECTED_FILE))} (FORMAT parquet, COMPRESSION zstd)`,
        );
      },
    });
    warnings.push(`${rejectedCount} of ${total} rows broke validation rules and were left out; they are in ${REJECTED_FILE} with the reasons.`);
    result = { version, rejectedCount, rejectedFile: path.join(version.dir, REJECTED_FILE), warnings };
  }
  progress(2, 2);
  return result;
}
