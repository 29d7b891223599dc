/** `offpolicy evaluate`: flags in, evaluate() from the library, a table and the JSON path out. */
import type { Command } from 'commander';
import { OffpolicyError } from '../core/errors.js';
import type { DispatchEvaluateOptions, TrajectoryEvaluateSettings } from '../ope/evaluate.js';
import type { TrajectoryEvaluationResult } from '../core/trajectory-evaluation-result.js';
import { VERDICT_LABELS, verdictOutcomeOf, type EvaluationResult, type Interval, type IntervalMethod } from '../core/evaluation-result.js';
import { formatCell, formatTable, type Cell } from '../util/text-table.js';
import { collect, openWorkspace, numberFlag, rewardRangeFlag } from './context.js';
import { progressBar } from './progress.js';
import { assertFiniteEstimates, checkResultsFile } from '../datasets/limits.js';
import { DEFAULT_QUANTILE_LEVELS } from '../ope/trajectory/distribution/statistics.js';

// Infinity is allowed: --clip Infinity disables clipping.
const num = (flag: string, value: string): number => numberFlag(flag, value, { code: 'E_CLI_ARG', example: '0.05', allowInfinity: true });

function list(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean);
}

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description('estimate the value of candidate policies from a logged bandit dataset or trajectory data')
    .option('--data <ref>', 'dataset NAME or NAME@VERSION')
    .option('--source <url>', 'a bandit table in ClickHouse instead of --data: clickhouse://HOST:PORT/DB.TABLE (HTTP port; credentials from OFFPOLICY_CLICKHOUSE_USER / _PASSWORD)')
    .option('--num-actions <k>', 'with --source: K (default: length of action_probs, else max(action) + 1)')
    .option('--timeout <seconds>', 'with --source: per-query time limit (the query is killed on the server)')
    .requiredOption('--policy <spec>', 'candidate: FILE.parquet|FILE.csv (probabilities by row_id), FILE.json, column:NAME, DIR (a policy trained by offpolicy train); NAME=SPEC names it (repeatable)', collect)
    .option('--prob-columns <cols>', 'per-action probability columns of table policies, comma-separated')
    .option('--estimators <ids>', 'comma-separated: ips,clipped-ips,snips,es-ips,dm,dr,sndr,switch-dr,dr-os (default: all); slate logs (a slate_id column): sips,iips,rips,cascade-dr; trajectory data: tis,pdis,sntis,snpdis,dr,sndr,dm,mis,mdr')
    .option('--interval <method>', 'bootstrap | t | hoeffding | bernstein | poisson-bootstrap (bandit: resamples as SQL sums, on the DuckDB path too) | betting | empirical-likelihood', 'bootstrap')
    .option('--alpha <alpha>', 'miscoverage of intervals and certificates', '0.05')
    .option('--resamples <n>', 'bootstrap resamples', '1000')
    .option('--seed <seed>', 'random seed (bootstrap, betting row order, cross-fitting, MLP)', '0')
    .option('--buckets <G>', 'poisson-bootstrap: hash buckets of row_id resampled as units (default 10000)')
    .option('--clip <L>', 'weight clip L of clipped IPS / Switch-DR / DR-OS (Infinity disables)')
    .option('--smoothing-alpha <a>', 'ES-IPS exponent in [0, 1] (default 1 - n^-1/4)')
    .option('--reward-model <model>', 'ridge | ridge-per-action | logistic | mlp | columns:q_0,...,q_{K-1}')
    .option('--folds <k>', 'cross-fitting folds for fitted reward models', '1')
    .option('--reward-range <min,max>', 'reward bounds for Hoeffding, Bernstein, betting, empirical likelihood and certificates (default: observed)')
    .option('--context-columns <cols>', 'named feature columns to use as the context')
    .option('--categorical <cols>', 'columns to one-hot encode (added to the context; text columns detected at ingest are encoded when named)')
    .option('--max-levels <n>', 'levels kept per categorical column; the rest share "other"', '32')
    .option('--no-item-features', 'do not join the log\'s item table (e.g. OBD item_context.csv) into fitted reward models')
    .option('--verdict-source <id>', 'estimator or certificate whose lower bound decides the verdict')
    .option('--allow-deficient', 'compute importance-weighted estimates even where the candidate leaves the logger\'s support')
    .option('--strict', 'compare against the upper end of the logging policy\'s interval')
    .option('--observed-rewards-only', 'score only the rows with a reward (a log with NULL rewards is refused otherwise); assumes rewards are missing at random')
    .option('--out <file>', 'write the JSON result here', 'results.json')
    .option('--gamma <g>', 'trajectory data: discount in [0, 1] (default 0.99)')
    .option('--fqe-steps <n>', 'trajectory data: fitted Q evaluation updates for DM / DR / SNDR (default 10000)')
    .option('--fqe-hidden <widths>', 'trajectory data: FQE hidden layer widths (default 256,256)')
    .option('--bandwidth <h>', 'trajectory data: action-kernel bandwidth for deterministic continuous candidates (box-scaled; default Scott\'s rule)')
    .option('--top-k <k>', 'trajectory data: k of regret@k and SharpeRatio@k in the selection table')
    .option('--distribution <ids>', 'trajectory data: cumulative-distribution OPE of the return, comma-separated: cd-is,cd-snis,cd-dr,cd-dm or all (CDF, mean, variance, CVaR, quantiles)')
    .option('--cdf-bins <n>', 'with --distribution: grid points when the returns have more distinct values (quantiles of the returns; default 100)')
    .option('--cvar-alpha <a>', 'with --distribution: lower-tail CVaR level in (0, 1) (default 0.1)')
    .option('--cdf-quantiles <levels>', 'with --distribution: quantile levels in (0, 1), comma-separated (default 0.1,0.25,0.5,0.75,0.9)')
    .option('--cdf-intervals', 'with --distribution: bootstrap intervals (episodes resampled, --resamples, --seed, --alpha) of mean, variance, CVaR, quantiles and a CDF band; on by default when --interval is bootstrap (the default), this asks for them with any --interval')
    .option('--no-cdf-intervals', 'with --distribution: leave the bootstrap intervals of the distribution\'s statistics out')
    .option('--mwl-features <kind>', 'trajectory data, MIS / MDR: minimax weight learning state features, linear | rbf (default linear)')
    .option('--pushdown <mode>', 'trajectory data: auto (lean load; DuckDB window sums beyond --memory-budget, or a PUSHDOWN_DECLINED warning when they cannot serve the options) | duckdb (sum in DuckDB, no steps in memory; t intervals unless --interval says otherwise; E_PUSHDOWN when it cannot) | never (load every column)')
    .option('--memory-budget <bytes>', 'trajectory data: memory the lean load may take (125 bytes per step) before auto switches to DuckDB (default 6.25e9: 50M steps)')
    .option('--mwl-ridge <r>', 'trajectory data, MIS / MDR: relative ridge of the minimax weight learning solve (default 1e-9)')
    .option('--behavior-model <mode>', 'trajectory data: auto (fit pi_b when behavior_logprob is absent; default), fit (always fit), none (never fit)')
    .option('--behavior-folds <k>', 'trajectory data: cross-fitting folds of the fitted behaviour model (default 5)')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const [{ evaluate, writeEvaluation }, { parsePolicyArg }, { loadPolicyDir }] = await Promise.all([
        import('../ope/evaluate.js'),
        import('../policies/candidates.js'),
        import('../offline-rl/discrete/policy-dir.js'),
      ]);
      const source = o.source !== undefined ? String(o.source) : undefined;
      if ((source === undefined) === (o.data === undefined)) {
        throw new OffpolicyError('E_CLI_ARG', 'Give exactly one of --data NAME (a stored dataset) and --source clickhouse://HOST:PORT/DB.TABLE.', { hint: 'For example --data mylog or --source clickhouse://127.0.0.1:8123/logs.bandit.' });
      }
      const ws = source === undefined ? await openWorkspace(cmd) : null;
      if (ws) await checkResultsFile(ws.root, String(o.out), cmd.getOptionValueSource('out') === 'default');
      const target = ws ? await ws.resolve(String(o.data)) : null;
      if (ws && target && target.metadata.kind === 'bandit' && target.metadata.columns.some((c) => c.name === 'slate_id')) {
        const { runSlateEvaluate } = await import('./evaluate-slate.js');
        return runSlateEvaluate(ws, o, list, cmd.getOptionValueSource('interval') !== 'default');
      }
      const probColumns = list(o.probColumns as string | undefined);
      const range = o.rewardRange !== undefined ? rewardRangeFlag(String(o.rewardRange)) : undefined;
      // the flags only trajectory data reads, when given
      const trajectory: TrajectoryEvaluateSettings = {
        ...(o.gamma !== undefined ? { gamma: num('--gamma', String(o.gamma)) } : {}),
        ...(o.fqeSteps !== undefined || o.fqeHidden !== undefined
          ? {
              fqe: {
                ...(o.fqeSteps !== undefined ? { steps: num('--fqe-steps', String(o.fqeSteps)) } : {}),
                ...(o.fqeHidden !== undefined ? { hidden: String(o.fqeHidden).split(',').map((h) => num('--fqe-hidden', h)) } : {}),
              },
            }
          : {}),
        ...(o.bandwidth !== undefined ? { bandwidth: num('--bandwidth', String(o.bandwidth)) } : {}),
        ...(o.topK !== undefined ? { topK: num('--top-k', String(o.topK)) } : {}),
        ...(o.pushdown !== undefined ? { pushdown: String(o.pushdown) as 'duckdb' } : {}),
        ...(o.memoryBudget !== undefined ? { memoryBudgetBytes: num('--memory-budget', String(o.memoryBudget)) } : {}),
        ...distributionFlags(o),
        ...(o.mwlFeatures !== undefined || o.mwlRidge !== undefined
          ? {
              marginal: {
                ...(o.mwlFeatures !== undefined ? { features: String(o.mwlFeatures) as 'linear' } : {}),
                ...(o.mwlRidge !== undefined ? { ridge: num('--mwl-ridge', String(o.mwlRidge)) } : {}),
              },
            }
          : {}),
        ...(o.behaviorModel !== undefined || o.behaviorFolds !== undefined
          ? {
              behaviorModel: {
                ...(o.behaviorModel !== undefined ? { mode: String(o.behaviorModel) as 'auto' } : {}),
                ...(o.behaviorFolds !== undefined ? { folds: num('--behavior-folds', String(o.behaviorFolds)) } : {}),
              },
            }
          : {}),
      };
      const bar = progressBar('evaluate');
      const opts: DispatchEvaluateOptions = {
        setting: 'auto',
        data: String(o.data),
        loadPolicyDir,
        policies: (o.policy as string[]).map((p) => ({ ...parsePolicyArg(p), ...(probColumns ? { probColumns } : {}) })),
        estimators: list(o.estimators as string | undefined),
        // the DuckDB sums (asked for with --pushdown duckdb) cannot resample episodes: t unless asked otherwise, as for ClickHouse
        interval: (o.pushdown === 'duckdb' && cmd.getOptionValueSource('interval') === 'default' ? 't' : String(o.interval)) as IntervalMethod,
        alpha: num('--alpha', String(o.alpha)),
        resamples: num('--resamples', String(o.resamples)),
        seed: num('--seed', String(o.seed)),
        ...(o.buckets !== undefined ? { bootstrapBuckets: num('--buckets', String(o.buckets)) } : {}),
        ...(o.clip !== undefined ? { clip: num('--clip', String(o.clip)) } : {}),
        ...(o.smoothingAlpha !== undefined ? { smoothingAlpha: num('--smoothing-alpha', String(o.smoothingAlpha)) } : {}),
        ...(o.rewardModel !== undefined ? { rewardModel: String(o.rewardModel) } : {}),
        folds: num('--folds', String(o.folds)),
        ...(range ? { rewardRange: range } : {}),
        ...(o.contextColumns !== undefined ? { contextColumns: list(String(o.contextColumns)) } : {}),
        ...(o.categorical !== undefined ? { categorical: list(String(o.categorical)) } : {}),
        maxLevels: num('--max-levels', String(o.maxLevels)),
        ...(o.itemFeatures === false ? { itemFeatures: false } : {}),
        ...(o.verdictSource !== undefined ? { verdictSource: String(o.verdictSource) } : {}),
        allowDeficient: Boolean(o.allowDeficient),
        strict: Boolean(o.strict),
        observedRewardsOnly: Boolean(o.observedRewardsOnly),
        ...(Object.keys(trajectory).length > 0 ? { trajectory } : {}),
        command: ['offpolicy', ...process.argv.slice(2)].join(' '),
        onProgress: bar.onProgress,
      };
      let result;
      try {
        if (source !== undefined) {
          const { evaluateClickhouse } = await import('../ope/evaluate-clickhouse.js');
          const { data: _d, loadPolicyDir: _l, folds: _f, pushdown: _p, setting: _st, trajectory: _t, interval, ...rest } = opts;
          result = await evaluateClickhouse({
            ...rest,
            source,
            // The bootstrap needs the rows in memory: t unless asked otherwise.
            interval: (cmd.getOptionValueSource('interval') === 'default' ? 't' : interval) as 't',
            ...(o.numActions !== undefined ? { numActions: num('--num-actions', String(o.numActions)) } : {}),
            ...(o.timeout !== undefined ? { timeoutMs: 1000 * num('--timeout', String(o.timeout)) } : {}),
          });
        } else result = await evaluate(ws!, opts);
      } finally {
        bar.stop();
      }
      assertFiniteEstimates(result.candidates.flatMap((c) => c.estimates.map((e) => ({ label: `${c.name} ${e.estimator}`, value: e.value }))));
      const file = await writeEvaluation(result, String(o.out));
      if (result.setting === 'trajectory') {
        process.stdout.write(trajectoryTable(result));
      } else {
        process.stdout.write(`context: ${result.dataset.context ?? 'none'}\n`);
        if (result.settings.rewardModelInputs) process.stdout.write(`reward model: ${result.settings.rewardModelInputs}\n`);
        process.stdout.write(banditTable(result) + '\n');
      }
      process.stdout.write(`\nResults written to ${file}\n`);
    });
}

const DISTRIBUTION_FLAGS = { cdfBins: '--cdf-bins', cvarAlpha: '--cvar-alpha', cdfQuantiles: '--cdf-quantiles', cdfIntervals: '--cdf-intervals' } as const;

/** --distribution, --cdf-bins, --cvar-alpha, --cdf-quantiles, --[no-]cdf-intervals as the library's distribution option (the library checks the values). */
function distributionFlags(o: Record<string, unknown>): Pick<TrajectoryEvaluateSettings, 'distribution'> {
  if (o.distribution === undefined) {
    const stray = (Object.keys(DISTRIBUTION_FLAGS) as (keyof typeof DISTRIBUTION_FLAGS)[]).filter((k) => o[k] !== undefined);
    if (stray.length > 0) {
      throw new OffpolicyError('E_CLI_ARG', `${stray.map((k) => (k === 'cdfIntervals' && o[k] === false ? '--no-cdf-intervals' : DISTRIBUTION_FLAGS[k])).join(' and ')} apply to cumulative-distribution OPE only.`, { hint: 'Add --distribution cd-is,cd-snis (or all), or drop them.' });
    }
    return {};
  }
  return {
    distribution: {
      estimators: list(String(o.distribution)) ?? [],
      ...(o.cdfBins !== undefined ? { bins: num('--cdf-bins', String(o.cdfBins)) } : {}),
      ...(o.cvarAlpha !== undefined ? { cvarAlpha: num('--cvar-alpha', String(o.cvarAlpha)) } : {}),
      ...(o.cdfQuantiles !== undefined ? { quantileLevels: (list(String(o.cdfQuantiles)) ?? []).map((q) => num('--cdf-quantiles', q)) } : {}),
      ...(o.cdfIntervals !== undefined ? { intervals: Boolean(o.cdfIntervals) } : {}),
    },
  };
}

/** What an interval covers, for the table: the value, or (biased-by-design estimators) only the estimator's spread; and whether it was clipped. */
function coversCell(iv: Interval | undefined): string {
  if (!iv) return '';
  const what = iv.covers === 'variance' ? 'variance only' : 'value';
  return iv.clippedTo ? `${what}; clipped to [${iv.clippedTo[0]}, ${iv.clippedTo[1]}]` : what;
}

/**
 * The printed result: one row per estimator and certificate, the verdict's label
 * on the row of the estimator or certificate that decided it, then each
 * candidate's verdict sentence, caveats and warnings (result-wide warnings once).
 */
function banditTable(result: EvaluationResult): string {
  const pct = Math.round(100 * (1 - result.settings.alpha));
  const ivCol = `${pct}% interval`;
  const fmt = (iv: { lower: number; upper?: number } | undefined): string =>
    iv ? (iv.upper === undefined || !Number.isFinite(iv.upper) ? `>= ${iv.lower.toFixed(4)}` : `[${iv.lower.toFixed(4)}, ${iv.upper.toFixed(4)}]`) : '';
  const rows: Record<string, Cell>[] = [
    { candidate: '(logging)', estimator: 'mean reward', value: result.logging.value, [ivCol]: fmt(result.logging.interval), covers: coversCell(result.logging.interval), verdict: '' },
  ];
  for (const c of result.candidates) {
    const label = VERDICT_LABELS[verdictOutcomeOf(c.verdict)];
    const by = c.verdict.decidedBy;
    let placed = false;
    const put = (kind: 'estimator' | 'certificate', id: string): string => (by && by.kind === kind && by.id === id ? ((placed = true), label) : '');
    const first = rows.length;
    for (const e of c.estimates) {
      rows.push({ candidate: '', estimator: e.estimator, value: e.value, [ivCol]: fmt(e.interval), covers: coversCell(e.interval), verdict: put('estimator', e.estimator) });
    }
    for (const k of c.certificates) {
      rows.push({ candidate: '', estimator: `certificate: ${k.kind}`, value: '', [ivCol]: fmt({ lower: k.lower, ...(k.upper !== undefined ? { upper: k.upper } : {}) }), covers: 'value (lower bound)', verdict: put('certificate', k.kind) });
    }
    if (rows.length === first) rows.push({ candidate: '', estimator: '', value: '', [ivCol]: '', covers: '', verdict: '' });
    rows[first]!.candidate = c.name;
    // No usable source: the label goes on the candidate's first row.
    if (!placed) rows[first]!.verdict = label;
  }
  const out = [formatTable(rows), ''];
  if (rows.some((r) => String(r.covers).startsWith('variance'))) {
    out.push('"variance only": the interval of an estimator biased by design (clipped IPS, ES-IPS, Switch-DR, DR-OS, DM); it shows the estimate\'s spread and does not cover the policy value.', '');
  }
  // Each warning once: those of the evaluation and those every candidate carries at the end; a
  // candidate's warning whose code is one of its verdict's caveats is said by the caveat.
  const key = (w: { code: string; message: string }): string => `${w.code}\u0000${w.message}`;
  const shared = result.candidates.length >= 2 ? result.candidates[0]!.warnings.filter((w) => result.candidates.every((c) => c.warnings.some((x) => key(x) === key(w)))) : [];
  const global = [...result.warnings, ...shared.filter((w) => !result.warnings.some((x) => key(x) === key(w)))];
  const globalKeys = new Set(global.map(key));
  for (const c of result.candidates) {
    out.push(`${VERDICT_LABELS[verdictOutcomeOf(c.verdict)]}: ${c.verdict.sentence}`);
    const caveats = c.verdict.caveats ?? [];
    for (const k of caveats) out.push(`  caveat [${k.code}] ${k.message}`);
    for (const w of c.warnings) if (!globalKeys.has(key(w)) && !caveats.some((k) => k.code === w.code)) out.push(`  warning [${w.code}] ${w.message}`);
  }
  for (const w of global) out.push(`warning [${w.code}] ${w.message}`);
  return out.join('\n');
}

/** The printed trajectory result: the verdict label on the deciding estimator's row, then each candidate's verdict and warnings. */
function trajectoryTable(tr: TrajectoryEvaluationResult): string {
  const out: string[] = [];
  const pct = Math.round(100 * (1 - tr.settings.alpha));
  const rows: Record<string, Cell>[] = [{ candidate: '(behaviour)', estimator: 'discounted return', value: tr.behaviour.value, [`${pct}% interval`]: tr.behaviour.interval ? `[${tr.behaviour.interval.lower.toFixed(4)}, ${tr.behaviour.interval.upper.toFixed(4)}]` : '', verdict: '' }];
  for (const c of tr.candidates) {
    const label = VERDICT_LABELS[verdictOutcomeOf(c.verdict)];
    const by = c.verdict.decidedBy?.id;
    c.estimates.forEach((e, i) =>
      rows.push({
        candidate: i === 0 ? c.name : '',
        estimator: e.estimator,
        value: e.value,
        [`${pct}% interval`]: e.interval ? `[${e.interval.lower.toFixed(4)}, ${e.interval.upper.toFixed(4)}]` : '',
        verdict: e.estimator === by || (by === undefined && i === 0) ? label : '',
      }),
    );
  }
  out.push(formatTable(rows) + '\n\n');
  const bm = tr.behaviorModel;
  if (bm) out.push(`Behaviour policy estimated (no logged behavior_logprob${bm.reason === 'forced' ? ' used' : ''}): ${bm.description}, ${bm.folds}-fold cross-fitted by episode, held-out log-likelihood ${bm.heldOutLogLik.toFixed(3)} per step.\n`);
  for (const w of tr.warnings) if (w.code !== 'ESTIMATED_BEHAVIOR_POLICY') out.push(`warning [${w.code}] ${w.message}\n`);
  if (bm || tr.warnings.length > 0) out.push('\n');
  const rd = tr.returnDistribution;
  if (rd) {
    // The return's distribution: mean, standard deviation, lower-tail CVaR and the median (or the --cdf-quantiles levels) per CD estimator, the behaviour's first.
    const asked = rd.quantileLevels.join() !== DEFAULT_QUANTILE_LEVELS.join();
    // "value [lower, upper]" when the statistics have bootstrap intervals
    const cell = (v: number | null, b?: { lower: number; upper: number }): Cell => (v === null ? '' : b ? `${formatCell(v)} [${formatCell(b.lower)}, ${formatCell(b.upper)}]` : v);
    const sqrtOf = (b?: { lower: number; upper: number }) => (b ? { lower: Math.sqrt(b.lower), upper: Math.sqrt(b.upper) } : undefined);
    const drow = (candidate: string, e: typeof rd.behaviour): Record<string, Cell> => ({
      candidate,
      distribution: e.estimator,
      mean: cell(e.mean, e.intervals?.mean),
      sd: cell(e.variance === null ? null : Math.sqrt(e.variance), sqrtOf(e.intervals?.variance)),
      [`CVaR ${rd.cvarAlpha}`]: cell(e.cvar, e.intervals?.cvar),
      ...Object.fromEntries(
        (asked ? rd.quantileLevels : [0.5]).map((l) => [asked ? `q${l}` : 'median', cell(e.quantiles.find((q) => q.level === l)?.value ?? null, e.intervals?.quantiles.find((q) => q.level === l))]),
      ),
    });
    const drows = [drow('(behaviour)', rd.behaviour)];
    for (const c of tr.candidates) c.distribution?.estimates.forEach((e, i) => drows.push(drow(i === 0 ? c.name : '', e)));
    const ivNote = rd.intervals ? `; ${Math.round(100 * (1 - rd.intervals.alpha))}% percentile-bootstrap intervals over episodes, ${rd.intervals.resamples} resamples` : '';
    out.push(`Return distribution (${rd.gridRule}${ivNote}):\n${formatTable(drows)}\n\n`);
  }
  for (const c of tr.candidates) {
    out.push(`${VERDICT_LABELS[verdictOutcomeOf(c.verdict)]}: ${c.verdict.sentence}\n`);
    for (const w of c.warnings) out.push(`  warning [${w.code}] ${w.message}\n`);
  }
  return out.join('');
}
