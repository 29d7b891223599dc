/**
 * The checks every stored version passes, whatever wrote it (generate, corrupt,
 * rollout --save, split; ingest runs the same rules on its staged table first):
 * the bandit or trajectory row rules of validate-bandit.ts / validate-trajectory.ts
 * over the staged Parquet file, before it becomes visible.
 */
import { ident, lit, type DuckDBConnection } from './duckdb.js';
import type { ColumnInfo, MetadataInput } from './metadata.js';
import { banditShape, prepareBanditChecks } from './validate-bandit.js';
import { prepareTrajectoryChecks } from './validate-trajectory.js';
import { findViolations, violationsError } from './validation.js';

const VIEW = '_stored_check';

export async function validateStoredVersion(
  conn: DuckDBConnection,
  glob: string,
  metadata: MetadataInput,
  columns: ColumnInfo[],
): Promise<void> {
  const rowCol = columns.some((c) => c.name === '_row') ? '_row_check' : '_row';
  await conn.run(
    `CREATE OR REPLACE TEMP VIEW ${ident(VIEW)} AS SELECT * EXCLUDE (file_row_number), file_row_number AS ${ident(rowCol)} FROM read_parquet(${lit(glob)}, file_row_number = true)`,
  );
  try {
    let checkTable = VIEW;
    let rules;
    if (metadata.kind === 'bandit') {
      const k = metadata.actionSpace?.type === 'discrete' ? metadata.actionSpace.n : undefined;
      const shape = await banditShape(conn, VIEW, k);
      ({ checkTable, rules } = await prepareBanditChecks(conn, VIEW, {
        numActions: shape.numActions,
        ...(shape.contextDim !== undefined ? { contextDim: shape.contextDim } : {}),
        ...(metadata.rewardNullable ? { rewardNullable: true } : {}),
      }));
    } else {
      ({ checkTable, rules } = await prepareTrajectoryChecks(conn, VIEW, {
        ...(metadata.actionSpace ? { actionSpace: metadata.actionSpace } : {}),
        ...(metadata.observationSpace ? { observationSpace: metadata.observationSpace } : {}),
      }));
    }
    const violations = await findViolations(conn, checkTable, rules);
    if (violations.length) {
      const e = violationsError(violations);
      e.message = `The data to store breaks the dataset rules, so nothing was written. ${e.message}`;
      throw e;
    }
  } finally {
    await conn.run(`DROP VIEW IF EXISTS ${ident(VIEW)}`);
  }
}
