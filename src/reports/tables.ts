/**
 * The report's derived tables: everything the HTML and Markdown documents show,
 * computed once from an EvaluationResult (and written into the JSON report).
 */
import type { CandidateResult, Estimate, EvaluationResult, Warning } from '../core/evaluation-result.js';
import { formatInterval, formatLevel } from './format.js';

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
  stdError?: number;
  /** Distance from the true value, when it is known. */
  error?: number;
}

export interface CertificateRow {
  kind: string;
  lower: number;
  upper?: number;
  level: string;
  params: string;
}

export interface OverviewRow {
  candidate: string;
  recommended: boolean;
  headlineEstimator: string;
  estimate: number;
  lower?: number;
  upper?: number;
  lowerBound: number;
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
  trueValue?: number;
  estimates: EstimateRow[];
  certificates: CertificateRow[];
  diagnostics: KeyValueRow[];
  weightQuantiles: { q: number; value: number }[];
  warnings: WarningRow[];
}

export interface Reproduction {
  command?: string;
  reportCommand?: string;
  toolkitVersion: string;
  datasetRef: string;
  contentHash: string;
  seed: number;
  createdAt?: string;
}

export interface ReportTables {
  dataset: KeyValueRow[];
  logging: KeyValueRow[];
  settings: KeyValueRow[];
  overview: OverviewRow[];
  candidates: CandidateTables[];
  warnings: WarningRow[];
  accuracy?: EvaluationResult['accuracy'];
  reproduction: Reproduction;
}

/** The estimator a candidate's headline number comes from: DR when present, else the first. */
export function headlineEstimate(c: CandidateResult): Estimate | undefined {
  return c.estimates.find((e) => e.estimator === 'dr') ?? c.estimates[0];
}

/** Every warning in the result: the evaluation's own first, then each candidate's. */
export function allWarnings(result: EvaluationResult): WarningRow[] {
  const rows: WarningRow[] = (result.warnings ?? []).map((w: Warning) => ({ scope: 'evaluation', code: w.code, message: w.message }));
  for (const c of result.candidates) for (const w of c.warnings) rows.push({ scope: c.name, code: w.code, message: w.message });
  return rows;
}

function paramsText(params: Record<string, number>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : Number(v.toPrecision(4))}`)
    .join(', ');
}

function candidateTables(c: CandidateResult): CandidateTables {
  const d = c.diagnostics;
  return {
    name: c.name,
    source: c.source,
    verdict: c.verdict,
    trueValue: c.trueValue,
    estimates: c.estimates.map((e) => {
      const row: EstimateRow = { estimator: e.estimator, value: e.value };
      if (e.interval) {
        row.lower = e.interval.lower;
        row.upper = e.interval.upper;
        row.method = e.interval.method;
        row.level = formatLevel(e.interval.alpha);
      }
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
    warnings: c.warnings.map((w) => ({ scope: c.name, code: w.code, message: w.message })),
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
  for (const [k, v] of Object.entries(ds.summary ?? {})) dataset.push({ key: k, value: v });
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
  settings.push({ key: 'deploy rule', value: s.strict ? 'strict: lower bound > upper bound of the logging value' : 'lower bound > logging value estimate' });

  const overview: OverviewRow[] = result.candidates.map((c) => {
    const h = headlineEstimate(c);
    return {
      candidate: c.name,
      recommended: c.verdict.recommended,
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

  return {
    dataset,
    logging,
    settings,
    overview,
    candidates: result.candidates.map(candidateTables),
    warnings: allWarnings(result),
    accuracy: result.accuracy,
    reproduction: {
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
