/** `offpolicy evaluate` on a slate log (a slate_id column): evaluateSlates() and its table. */
import type { Workspace } from '../datasets/workspace.js';
import { formatTable, type Cell } from '../util/text-table.js';
import { numberFlag } from './context.js';

export async function runSlateEvaluate(ws: Workspace, o: Record<string, unknown>, list: (v: string | undefined) => string[] | undefined, intervalGiven: boolean): Promise<void> {
  const { evaluateSlates, writeSlateEvaluation } = await import('../ope/slate/evaluate.js');
  const { parsePolicyArg } = await import('../policies/candidates.js');
  const result = await evaluateSlates(ws, {
    data: String(o.data),
    policies: (o.policy as string[]).map((p) => parsePolicyArg(p) as { name?: string; spec: string }),
    ...(o.estimators !== undefined ? { estimators: list(String(o.estimators)) } : {}),
    ...(intervalGiven ? { interval: String(o.interval) } : {}),
    alpha: numberFlag('--alpha', String(o.alpha), { code: 'E_CLI_ARG', example: '0.05' }),
    command: ['offpolicy', ...process.argv.slice(2)].join(' '),
  });
  const file = await writeSlateEvaluation(result, String(o.out));
  const pct = Math.round(100 * (1 - result.settings.alpha));
  const iv = (i?: { lower: number; upper: number }): string => (i ? `[${i.lower.toFixed(4)}, ${i.upper.toFixed(4)}]` : '');
  const rows: Record<string, Cell>[] = [{ candidate: '(logging)', estimator: 'mean slate reward', value: result.logging.value, [`${pct}% interval`]: iv(result.logging.interval) }];
  for (const c of result.candidates) c.estimates.forEach((e, i) => rows.push({ candidate: i === 0 ? c.name : '', estimator: e.estimator, value: e.value, [`${pct}% interval`]: iv(e.interval) }));
  const d = result.dataset;
  process.stdout.write(`slate log ${d.ref}: ${d.slates} slates of ${d.slateLength} positions, K = ${d.numActions}; values are per slate (sum of slot rewards)\n\n`);
  process.stdout.write(formatTable(rows) + '\n\n');
  for (const c of result.candidates) for (const w of c.warnings) process.stdout.write(`${c.name}: warning [${w.code}] ${w.message}\n`);
  process.stdout.write(`\nResults written to ${file}\n`);
}
