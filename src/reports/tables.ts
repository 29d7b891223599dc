/**
 * The report's derived tables: everything the HTML and Markdown documents show,
 * computed once from an EvaluationResult (and written into the JSON report).
 */
import { intervalCaption, VERDICT_LABELS, verdictOutcomeOf, type CandidateResult, type Estimate, type EvaluationResult, type VerdictCaveat, type VerdictOutcome, type Warning } from '../core/evaluation-result.js';
import { ingestCommand } from './command-line.js';
import { formatInterval, formatLevel, formatNumber, formatPercent } from './format.js';

export interface KeyValueRow {
  key: string;
  value: string | number;
}

export interface EstimateRow {
  estimator: string;
  value: number;
  lower?: number;
  upper?: number;
  method?: string;
  level?: string;
  /** "95% interval", or "95% variance interval" (biased by design: does not cover the value). */
  caption?: string;
  covers?: 'value' | 'variance';
  /** The feasible range the interval was clipped to, when that moved an end. */
  clippedTo?: [number, number];
  /** DM: whether its interval includes the reward model's error. */
  rewardModelUncertainty?: boolean;
  /** This estimator decided the verdict. */
  decided?: boolean;
  stdError?: number;
  /** Distance from the true value, when it is known. */
  error?: number;
}

export interface CertificateRow {
  kind: string;
  lower: number;
  upper?: number;
  level: string;
  /** The bound's tuning (alpha, tau, lambda, KL...): shown collapsed. */
  params: string;
  decided?: boolean;
}

export interface OverviewRow {
  candidate: string;
  recommended: boolean;
  outcome: VerdictOutcome;
  /** BETTER, BETTER, WITH CAVEATS, WORSE, INCONCLUSIVE */
  label: string;
  headlineEstimator: string;
  estimate: number;
  lower?: number;
  upper?: number;
  /** null: no bound decided (inconclusive). */
  lowerBound: number | null;
  lowerBoundSource: string;
  baseline: number;
  ess: number;
  essRatio: number;
  maxWeight: number;
  trueValue?: number;
  warnings: number;
}

export interface WarningRow {
  /** "evaluation" for result-wide warnings, otherwise the candidate's name. */
  scope: string;
  code: string;
  message: string;
}

export interface CandidateTables {
  name: string;
  source: string;
  verdict: CandidateResult['verdict'];
  label: string;
  caveats: VerdictCaveat[];
  trueValue?: number;
  estimates: EstimateRow[];
  certificates: CertificateRow[];
  diagnostics: KeyValueRow[];
  weightQuantiles: { q: number; value: number }[];
  warnings: WarningRow[];
}

export interface Reproduction {
  /** The command that stored the dataset, rebuilt from its lineage (or a note on how it was made). */
  ingestCommand?: string;
  /** sha256 of each candidate's file. */
  candidateHashes: { name: string; source: string; sha256: string }[];
  command?: string;
  reportCommand?: string;
  toolkitVersion: string;
  datasetRef: string;
  contentHash: string;
  seed: number;
  createdAt?: string;
}

export interface GlossaryEntry {
  term: string;
  text: string;
}

export interface ReportTables {
  glossary: GlossaryEntry[];
  /** Held-out quality of the fitted reward model (empty when predictions were supplied). */
  rewardModel: KeyValueRow[];
  /** Why the accuracy table is shown as it is (or left out). */
  accuracyNote?: string;
  /** Accuracy columns that tell something with this many candidates. */
  accuracyColumns: ('relativeError' | 'squaredError' | 'spearman' | 'regretAtK' | 'sharpeAtK')[];
  dataset: KeyValueRow[];
  logging: KeyValueRow[];
  settings: KeyValueRow[];
  overview: OverviewRow[];
  candidates: CandidateTables[];
  warnings: WarningRow[];
  accuracy?: EvaluationResult['accuracy'];
  reproduction: Reproduction;
}

/** The estimator a candidate's headline number comes from: the one that decided its verdict, else DR, else the first. */
export function headlineEstimate(c: CandidateResult): Estimate | undefined {
  const by = c.verdict.decidedBy;
  return (by?.kind === 'estimator' ? c.estimates.find((e) => e.estimator === by.id) : undefined) ?? c.estimates.find((e) => e.estimator === 'dr') ?? c.estimates[0];
}

const warningKey = (w: Warning): string => `${w.code}\u0000${w.message}`;

/**
 * Every warning once: the evaluation's own and those every candidate carries
 * (scope "evaluation"), then each candidate's remaining ones.
 */
export function allWarnings(result: EvaluationResult): WarningRow[] {
  const shared = sharedWarningKeys(result);
  const seen = new Set<string>();
  const rows: WarningRow[] = [];
  const top = [...(result.warnings ?? []), ...result.candidates.flatMap((c) => c.warnings.filter((w) => shared.has(warningKey(w))))];
  for (const w of top) if (!seen.has(warningKey(w))) (seen.add(warningKey(w)), rows.push({ scope: 'evaluation', code: w.code, message: w.message }));
  for (const c of result.candidates) for (const w of c.warnings) if (!seen.has(warningKey(w))) rows.push({ scope: c.name, code: w.code, message: w.message });
  return rows;
}

/** Warnings shown at the top: the evaluation's, and those every candidate (of two or more) carries. */
function sharedWarningKeys(result: EvaluationResult): Set<string> {
  const keys = new Set((result.warnings ?? []).map(warningKey));
  const cands = result.candidates;
  if (cands.length >= 2) for (const w of cands[0]!.warnings) if (cands.every((c) => c.warnings.some((x) => warningKey(x) === warningKey(w)))) keys.add(warningKey(w));
  return keys;
}

/** Human labels for the dataset summary's keys (unknown keys are spelled out from camelCase). */
export const SUMMARY_LABELS: Readonly<Record<string, string>> = {
  rewardMean: 'mean reward',
  rewardStd: 'reward standard deviation',
  rewardMin: 'smallest reward',
  rewardMax: 'largest reward',
  actionsSeen: 'actions that occur in the log',
  propensityMin: 'smallest logged propensity',
  propensityQ01: 'logged propensity, 1st percentile',
  propensityMedian: 'median logged propensity',
};

export function humanLabel(key: string): string {
  return SUMMARY_LABELS[key] ?? key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/Q(\d\d)/, 'quantile $1%').toLowerCase();
}

/** The report's glossary: what each number means and the verdict rule. */
export const GLOSSARY: readonly GlossaryEntry[] = [
  { term: 'logging value', text: "The logging policy's value estimated on-policy: the mean logged reward. Candidates are compared with it." },
  { term: 'ips', text: 'Inverse propensity scoring: the mean of w r, w = pi(a|x) / p the importance weight. Unbiased when the propensities are right; high variance when weights are large.' },
  { term: 'snips', text: 'Self-normalized IPS: sum w r / sum w. Slightly biased, usually less variable than IPS.' },
  { term: 'clipped-ips', text: 'IPS with every weight capped at L. Biased by design (downwards for non-negative rewards).' },
  { term: 'es-ips', text: 'Exponentially smoothed IPS: pi / p^alpha with alpha < 1. Biased by design.' },
  { term: 'dm', text: "Direct method: the reward model's prediction averaged over the candidate's actions. Biased when the model is wrong (see the reward model's held-out fit)." },
  { term: 'dr', text: 'Doubly robust: DM plus an IPS correction of the model\'s residuals. Unbiased when the propensities are right, whatever the model. The default verdict source.' },
  { term: 'sndr', text: 'Self-normalized DR.' },
  { term: 'switch-dr, dr-os', text: 'DR variants that switch to the model or shrink weights above L. Biased by design.' },
  { term: 'variance interval', text: 'The interval of an estimator biased by design: it shows how much the estimate would vary over new logs, not where the policy value lies, and does not cover it.' },
  { term: 'clipped interval', text: 'An interval whose end was moved into the feasible value range (the reward range), where the value lies; coverage is unchanged.' },
  { term: 'ESS', text: 'Effective sample size (sum w)^2 / sum w^2: how many logged rows the weighted estimates effectively rest on. Below 10% of n (or 100 rows) the LOW_ESS warning fires.' },
  { term: 'certificate', text: 'A PAC-Bayes lower bound (Catoni, London-Sandler, exponential smoothing) that holds with the stated probability without large-sample approximations; usually looser than the intervals.' },
  {
    term: 'verdict',
    text: 'BETTER when the deciding lower bound (DR\'s interval by default) exceeds the logging value; WORSE when its upper bound is below it; INCONCLUSIVE otherwise. A BETTER becomes BETTER, WITH CAVEATS when evidence weakens it (low ESS, an unbiased estimator at or below the logging value, no certificate above it, estimated propensities, a variance interval deciding, a fallback source), and INCONCLUSIVE when two of LOW_ESS, ESTIMATOR_DISAGREEMENT and CERTIFICATE_BELOW_LOGGING hold, or an importance-weighted estimator decided on deficient support.',
  },
];

function paramsText(params: Record<string, number>): string {
  return Object.entries(params)
    .map(([k, v]) => `${humanLabel(k)} = ${Number.isInteger(v) ? v : Number(v.toPrecision(4))}`)
    .join(', ');
}

function candidateTables(c: CandidateResult, shown: Set<string>): CandidateTables {
  const d = c.diagnostics;
  const by = c.verdict.decidedBy;
  return {
    name: c.name,
    source: c.source,
    verdict: c.verdict,
    label: VERDICT_LABELS[verdictOutcomeOf(c.verdict)],
    caveats: c.verdict.caveats ?? [],
    trueValue: c.trueValue,
    estimates: c.estimates.map((e) => {
      const row: EstimateRow = { estimator: e.estimator, value: e.value };
      if (e.interval) {
        row.lower = e.interval.lower;
        row.upper = e.interval.upper;
        row.method = e.interval.method;
        row.level = formatLevel(e.interval.alpha);
        row.caption = intervalCaption(e.interval);
        row.covers = e.interval.covers ?? 'value';
        if (e.interval.clippedTo) row.clippedTo = e.interval.clippedTo;
        if (e.interval.rewardModelUncertainty !== undefined) row.rewardModelUncertainty = e.interval.rewardModelUncertainty;
      }
      if (by?.kind === 'estimator' && by.id === e.estimator) row.decided = true;
      if (e.diagnostics?.stdError !== undefined) row.stdError = e.diagnostics.stdError;
      if (c.trueValue !== undefined) row.error = e.value - c.trueValue;
      return row;
    }),
    certificates: c.certificates.map((k) => ({
      kind: k.kind,
      lower: k.lower,
      upper: k.upper,
      level: formatLevel(k.delta),
      params: paramsText(k.params ?? {}),
      ...(by?.kind === 'certificate' && by.id === k.kind ? { decided: true } : {}),
    })),
    diagnostics: [
      { key: 'rows (n)', value: d.n },
      { key: 'effective sample size', value: d.ess },
      { key: 'ESS / n', value: d.essRatio },
      { key: 'max weight', value: d.maxWeight },
      { key: 'mean weight', value: d.meanWeight },
      { key: 'support deficiency', value: d.supportDeficiency },
      { key: 'estimator disagreement (max - min)', value: c.disagreement },
    ],
    weightQuantiles: d.weightQuantiles ?? [],
    // Shown at the top, or said by a verdict caveat of the same code: not repeated here.
    warnings: c.warnings.filter((w) => !shown.has(warningKey(w)) && !(c.verdict.caveats ?? []).some((k) => k.code === w.code)).map((w) => ({ scope: c.name, code: w.code, message: w.message })),
  };
}

/**
 * The accuracy table across candidates tells little with few of them: with
 * fewer than 3 candidates it is left out; regret@k and SharpeRatio@k are left
 * out when k covers every candidate (regret is then 0 by construction).
 */
function accuracyView(result: EvaluationResult): Pick<ReportTables, 'accuracyNote' | 'accuracyColumns'> & { show: boolean } {
  const acc = result.accuracy ?? [];
  const n = result.candidates.length;
  if (acc.length === 0) return { show: false, accuracyColumns: [] };
  if (n < 3) {
    return { show: false, accuracyColumns: [], accuracyNote: `Estimator accuracy against the true values is left out: with ${n} candidate${n === 1 ? '' : 's'} its rank metrics say nothing (each candidate's error vs truth is in its estimator table).` };
  }
  const k = acc[0]!.k;
  const cols: ReportTables['accuracyColumns'] = ['relativeError', 'squaredError', 'spearman'];
  if (k < n) cols.push('regretAtK', 'sharpeAtK');
  return {
    show: true,
    accuracyColumns: cols,
    accuracyNote: `How close each estimator came to the true values (synthetic data), over the ${n} candidates: relative error = mean |estimate - truth| / |truth|; squared error = mean (estimate - truth)^2; Spearman = rank correlation of the estimates with the truths (1: the estimator orders the candidates correctly)${k < n ? `; regret@${k} = how much worse the best of the top ${k} by this estimator is than the truly best; Sharpe@${k} = the top ${k}'s mean gain over the logging policy divided by their spread` : `; regret@k and Sharpe@k are left out (k = ${k} covers every candidate)`}.`,
  };
}

/** Computes every table the report shows. `reportCommand` is the command that rendered the report. */
export function buildReportTables(result: EvaluationResult, reportCommand?: string): ReportTables {
  const ds = result.dataset;
  const dataset: KeyValueRow[] = [
    { key: 'dataset', value: ds.ref },
    { key: 'content hash', value: ds.contentHash },
    { key: 'rows', value: ds.rowCount },
    { key: 'actions (K)', value: ds.numActions },
  ];
  if (ds.contextDim !== undefined) dataset.push({ key: 'context dimension', value: ds.contextDim });
  for (const [k, v] of Object.entries(ds.summary ?? {})) dataset.push({ key: humanLabel(k), value: v });
  dataset.push({ key: 'propensities', value: result.propensitiesEstimated ? 'estimated (multinomial logistic)' : 'logged' });

  const logging: KeyValueRow[] = [{ key: 'value (mean logged reward)', value: result.logging.value }];
  if (result.logging.interval) {
    logging.push({ key: `${formatLevel(result.logging.interval.alpha)} interval (${result.logging.interval.method})`, value: formatInterval(result.logging.interval) });
  }
  if (result.logging.trueValue !== undefined) logging.push({ key: 'true value', value: result.logging.trueValue });

  const s = result.settings;
  const settings: KeyValueRow[] = [
    { key: 'estimators', value: (s.estimators ?? []).join(', ') },
    { key: 'interval', value: `${s.interval} at ${formatLevel(s.alpha)}` },
  ];
  if (s.bootstrapResamples !== undefined) settings.push({ key: 'bootstrap resamples', value: s.bootstrapResamples });
  if (s.rewardModel !== undefined) settings.push({ key: 'reward model', value: s.rewardModel });
  if (s.clip !== undefined) settings.push({ key: 'weight clip', value: s.clip });
  if (s.rewardRange) settings.push({ key: 'reward range', value: `[${s.rewardRange[0]}, ${s.rewardRange[1]}]` });
  settings.push({
    key: 'deploy rule',
    value: s.strict
      ? 'strict: better when the lower bound > the upper end of the logging interval, worse when the upper bound < its lower end (then caveats; see the glossary)'
      : 'better when the lower bound > the logging value, worse when the upper bound < it (then caveats; see the glossary)',
  });

  const overview: OverviewRow[] = result.candidates.map((c) => {
    const h = headlineEstimate(c);
    return {
      candidate: c.name,
      recommended: c.verdict.recommended,
      outcome: verdictOutcomeOf(c.verdict),
      label: VERDICT_LABELS[verdictOutcomeOf(c.verdict)],
      headlineEstimator: h?.estimator ?? '',
      estimate: h?.value ?? Number.NaN,
      lower: h?.interval?.lower,
      upper: h?.interval?.upper,
      lowerBound: c.verdict.lowerBound,
      lowerBoundSource: c.verdict.lowerBoundSource,
      baseline: c.verdict.baseline,
      ess: c.diagnostics.ess,
      essRatio: c.diagnostics.essRatio,
      maxWeight: c.diagnostics.maxWeight,
      trueValue: c.trueValue,
      warnings: c.warnings.length,
    };
  });

  const rewardModel: KeyValueRow[] = [];
  const f = result.rewardModelFit;
  if (f) {
    rewardModel.push({ key: 'model', value: f.model }, { key: 'held out', value: `${f.heldOut}: ${f.rows} rows` });
    rewardModel.push({ key: 'R² at the logged actions', value: Number.isFinite(f.r2) ? formatNumber(f.r2) : 'undefined (constant rewards)' });
    if (f.logLoss !== undefined && f.baselineLogLoss !== undefined) {
      rewardModel.push({ key: 'log-loss (constant mean reward)', value: `${formatNumber(f.logLoss)} (${formatNumber(f.baselineLogLoss)}; ${formatPercent(f.baselineLogLoss > 0 ? 1 - f.logLoss / f.baselineLogLoss : 0)} better)` });
    }
  }
  const shown = new Set(allWarnings(result).filter((w) => w.scope === 'evaluation').map((w) => warningKey(w)));
  const acc = accuracyView(result);
  const hashes = result.candidates.filter((c) => c.sha256).map((c) => ({ name: c.name, source: c.source, sha256: c.sha256! }));
  const ingest = ds.lineage ? ingestCommand(ds.name, ds.lineage) : undefined;
  return {
    glossary: [...GLOSSARY],
    rewardModel,
    ...(acc.accuracyNote ? { accuracyNote: acc.accuracyNote } : {}),
    accuracyColumns: acc.accuracyColumns,
    dataset,
    logging,
    settings,
    overview,
    candidates: result.candidates.map((c) => candidateTables(c, shown)),
    warnings: allWarnings(result),
    accuracy: acc.show ? result.accuracy : undefined,
    reproduction: {
      ...(ingest ? { ingestCommand: ingest } : {}),
      candidateHashes: hashes,
      command: result.command,
      reportCommand,
      toolkitVersion: result.toolkitVersion,
      datasetRef: ds.ref,
      contentHash: ds.contentHash,
      seed: result.seed,
      createdAt: result.createdAt,
    },
  };
}

export const ACCURACY_HEADERS = { relativeError: 'relative error', squaredError: 'squared error', spearman: 'Spearman', regretAtK: 'regret@k', sharpeAtK: 'Sharpe@k' } as const;

/** "bootstrap, 95% interval" / "bootstrap, 95% variance interval", with clipping and DM's model error noted. */
export function intervalText(r: EstimateRow): string {
  if (!r.method) return '';
  const notes = [r.clippedTo ? `clipped to [${r.clippedTo[0]}, ${r.clippedTo[1]}]` : '', r.rewardModelUncertainty === false ? 'without reward-model error' : ''].filter(Boolean);
  return `${r.method}, ${r.caption ?? `${r.level} interval`}${notes.length ? ` (${notes.join('; ')})` : ''}`;
}
