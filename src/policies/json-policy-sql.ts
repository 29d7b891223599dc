/**
 * A JSON policy file (./json-policy.ts) as SQL, so a candidate is scored where
 * the log lives (e.g. on each ClickHouse shard): uniform, epsilon-greedy, and
 * softmax / argmax over linear scores W x + b. The SQL follows the in-memory
 * policies step by step (the same summation order, the same max-shifted
 * softmax, ties of argmax to the lowest action), so both give the same
 * probabilities up to the engine's exp.
 *
 * The result is K scalar expressions over named per-row expressions (`prelude`,
 * aliases prefixed op_), which the caller computes once per row before the
 * scan reads the probabilities (a flat WITH list in ClickHouse).
 */
import { OffpolicyError } from '../core/errors.js';
import { buildJsonPolicy } from './json-policy.js';
import type { SqlVector, VectorSql } from './sql-vector.js';

export interface SqlPolicy {
  probs: SqlVector & { kind: 'list' };
  /** Per-row expressions the probabilities read, in dependency order. */
  prelude: { expr: string; alias: string }[];
  usesContext: boolean;
}

/** A finite number as an SQL DOUBLE literal that both DuckDB and ClickHouse read. */
const num = (x: number): string => `CAST(${String(x)} AS DOUBLE)`;

/**
 * Translates a parsed JSON policy to SQL. `context` gives feature j (0-based) of
 * the row as SQL; it is validated first by buildJsonPolicy (same errors as the
 * in-memory path). Types other than uniform, epsilon-greedy, softmax and argmax
 * fail with E_POLICY_SPEC. The probabilities are one list per row, built from
 * named lists so that every named expression is read once or twice (ClickHouse
 * expands aliases into their readers before it computes them once).
 */
export async function jsonPolicySql(spec: unknown, source: string, k: number, contextDim: number, context: (j: number) => string, d: VectorSql): Promise<SqlPolicy> {
  await buildJsonPolicy(spec, source, { numActions: k, contextDim });
  const prelude: { expr: string; alias: string }[] = [];
  let usesContext = false;
  const def = (expr: string): string => {
    const alias = `op_${prelude.length}`;
    prelude.push({ expr, alias });
    return alias;
  };
  let x: string[] | null = null;
  const features = (): string[] => (x ??= Array.from({ length: contextDim }, (_, j) => def(d.double(context(j)))));
  const build = (s: Record<string, unknown>): string => {
    switch (s.type) {
      case 'uniform':
        return def(d.listOf(Array.from({ length: k }, () => num(1 / k))));
      case 'softmax':
      case 'argmax': {
        usesContext = true;
        const w = s.weights as number[][];
        const b = (s.bias as number[] | undefined) ?? Array.from({ length: k }, () => 0);
        const f = features();
        // s_a = b_a + w_a0 x_0 + w_a1 x_1 + ... (left to right, as linearScores).
        const scores = def(d.listOf(w.map((row, a) => row.reduce((acc, wj, j) => `(${acc} + ${num(wj)} * ${f[j]})`, num(b[a]!)))));
        if (s.type === 'argmax') return oneHot(scores, 1, 0);
        // softmaxRows: exp(beta s_a - max_b beta s_b) / sum, summed in action order.
        const bs = def(d.listMap(scores, (v) => `${num(1 / ((s.temperature as number | undefined) ?? 1))} * ${v}`));
        const max = def(d.listMax(bs));
        const e = def(d.listMap(bs, (v) => `exp(${v} - ${max})`));
        const z = def(d.listSum(e));
        return def(d.listMap(e, (v) => `${v} / ${z}`));
      }
      case 'epsilon-greedy': {
        const eps = s.epsilon as number;
        return oneHot(build(s.base as Record<string, unknown>), 1 - eps + eps / k, eps / k, eps);
      }
      default:
        throw new OffpolicyError('E_POLICY_SPEC', `Policy file ${source}: a ${JSON.stringify(s.type)} policy cannot be computed where the log lives (in SQL).`, {
          hint: 'Use uniform, epsilon-greedy, softmax or argmax, or give the candidate\'s probabilities as columns of the table (column:p_0,...).',
        });
    }
  };
  /**
   * hi on the first largest entry, lo elsewhere (argmaxRows: ties to the lowest
   * action). With eps, the entries are (1 - eps) * onehot + eps / K, as
   * EpsilonGreedyPolicy computes them (so hi / lo are not used then).
   */
  const oneHot = (list: string, hi: number, lo: number, eps?: number): string => {
    const best = def(d.listPosition(list, d.listMax(list)));
    const entry = (a: number): string =>
      eps === undefined
        ? `CASE WHEN ${best} = ${a + 1} THEN ${num(hi)} ELSE ${num(lo)} END`
        : `(${num(1 - eps)} * CASE WHEN ${best} = ${a + 1} THEN ${num(1)} ELSE ${num(0)} END + ${num(eps / k)})`;
    return def(d.listOf(Array.from({ length: k }, (_, a) => entry(a))));
  };
  const probs = build(spec as Record<string, unknown>);
  return { probs: { kind: 'list', expr: probs }, prelude, usesContext };
}
