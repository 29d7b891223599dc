/**
 * Q predictions supplied as columns of the trajectory dataset
 * (`--reward-model columns:q_0,...,q_{K-1}`, as for bandit logs): Q(s_t, a) for
 * every discrete action a. Then Q(s_t, a_t) is the logged action's column and
 * V(s_t) = sum_a pi(a|s_t) Q(s_t, a) under each candidate's probabilities.
 */
import { OffpolicyError } from '../../core/errors.js';
import type { ColumnSpec } from '../../datasets/columns.js';
import { ident } from '../../datasets/duckdb.js';
import type { TrajectoryArrays } from '../../datasets/load-trajectories.js';
import type { DatasetVersion } from '../../datasets/workspace.js';
import type { QProvider } from './evaluate.js';

/** The Q column names of a "columns:q_0,...,q_{K-1}" reward model, or null for any other. */
export function qColumnNames(rewardModel: string | undefined): string[] | null {
  if (!rewardModel?.startsWith('columns:')) return null;
  return rewardModel.slice('columns:'.length).split(',').map((c) => c.trim()).filter(Boolean);
}

/** The Q columns as extra columns of loadTrajectoryArrays (named q0, q1, ...: read in the loader's scan and row order). */
export function qColumnsExtra(version: DatasetVersion, columns: readonly string[]): Record<string, { sql: string; spec: ColumnSpec }> {
  const have = new Set(version.metadata.columns.map((c) => c.name));
  const missing = columns.filter((c) => !have.has(c));
  if (missing.length > 0) {
    throw new OffpolicyError('E_MISSING_COLUMN', `Dataset ${version.ref} has no column(s) ${missing.join(', ')} for the Q predictions.`, {
      hint: `Columns found: ${[...have].join(', ')}.`,
    });
  }
  return Object.fromEntries(columns.map((c, a) => [`q${a}`, { sql: `${ident(c)}::DOUBLE`, spec: { type: 'f64' } }]));
}

/** A provider from Q(s_t, a) already read: `q[a]` is column a, rows in the loader's episode / step order. */
export function qColumnsFromValues(ref: string, columns: readonly string[], q: readonly Float64Array[]): QProvider {
  const K = columns.length;
  const label = `columns:${columns.join(',')}`;
  return async (cand, steps: TrajectoryArrays) => {
    if (steps.discreteActions === undefined) {
      throw new OffpolicyError('E_Q_COLUMNS', `${label} gives Q for each of K discrete actions, but ${ref} has continuous actions.`, {
        hint: 'Fit Q by fitted Q evaluation for continuous actions.',
      });
    }
    if (K !== steps.discreteActions) {
      throw new OffpolicyError('E_ACTION_SPACE', `${label} names ${K} Q columns, but the data has K = ${steps.discreteActions} actions.`, { hint: 'Name one column per action, in action order.' });
    }
    if (!cand.probs) {
      throw new OffpolicyError('E_Q_COLUMNS', `Candidate "${cand.name}" gives no action probabilities, so V(s) = sum_a pi(a|s) Q(s, a) cannot be formed.`, { hint: 'Give the candidate as a policy or a p_0..p_{K-1} table.' });
    }
    const acts = steps.actions as Int32Array;
    const qLogged = new Float64Array(steps.n);
    const vState = new Float64Array(steps.n);
    const bad: number[] = [];
    for (let r = 0; r < steps.n; r++) {
      qLogged[r] = q[acts[r]!]![r]!;
      let v = 0;
      for (let a = 0; a < K; a++) v += cand.probs[r * K + a]! * q[a]![r]!;
      vState[r] = v;
      if (!Number.isFinite(v) || !Number.isFinite(qLogged[r]!)) bad.push(r);
    }
    if (bad.length > 0) {
      throw new OffpolicyError('E_Q_COLUMNS', `${label}: ${bad.length} step(s) have a missing or non-finite Q value (first rows in episode / step order: ${bad.slice(0, 5).join(', ')}).`, {
        hint: 'Fill every Q column with finite numbers.',
      });
    }
    return { qLogged, vState, source: label };
  };
}
