/**
 * Reads an evaluation result (the JSON `offpolicy evaluate --out` writes) and checks
 * that it has the shape the report layer needs before anything is rendered.
 */
import { readFile } from 'node:fs/promises';
import { OffpolicyError } from '../core/errors.js';
import type { AnyEvaluationResult } from '../core/trajectory-evaluation-result.js';
import type { EvaluationResult } from '../core/evaluation-result.js';
import type { SlateEvaluationResult } from '../core/slate-evaluation-result.js';
import { ROBUSTNESS_SCHEMA, type RobustnessStudyResult } from '../core/robustness-result.js';

export const RESULT_SCHEMA = 'offpolicy.evaluation/1';
export const SLATE_RESULT_SCHEMA = 'offpolicy.slate-evaluation/1';

/** Any result `offpolicy report --results` renders: bandit, trajectory or slate. */
export type ReportableResult = AnyEvaluationResult | SlateEvaluationResult;

export function isSlateEvaluationResult(r: ReportableResult): r is SlateEvaluationResult {
  return (r as { schema?: unknown }).schema === SLATE_RESULT_SCHEMA;
}

/** Reads and parses a JSON input of the report layer; unreadable or not JSON -> E_RESULTS_FILE. */
async function readJsonFile(file: string, what: string, hint: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? String(e)})`;
    throw new OffpolicyError('E_RESULTS_FILE', `${what} ${file} ${why}.`, { hint, cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new OffpolicyError('E_RESULTS_FILE', `${what} ${file} is not valid JSON (${(e as Error).message}).`, { hint, cause: e });
  }
}

/** Loads and checks a results file; failures are E_RESULTS_FILE (unreadable, not JSON) or E_RESULTS_SCHEMA. */
export async function loadEvaluationResult(file: string): Promise<EvaluationResult> {
  const value = await readJsonFile(file, 'Results file', 'Pass the JSON written by `offpolicy evaluate --out results.json`.');
  return checkEvaluationResult(value, file);
}

/** Loads and checks a robustness study (`offpolicy robustness --out study.json`). */
export async function loadRobustnessStudy(file: string): Promise<RobustnessStudyResult> {
  const value = await readJsonFile(file, 'Study file', 'Pass the JSON written by `offpolicy robustness --out study.json`.');
  return checkRobustnessStudy(value, file);
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number';

/** Reads a bandit, trajectory or slate evaluation result (trajectory results are told apart by setting, slate ones by schema). */
export async function loadAnyEvaluationResult(file: string): Promise<ReportableResult> {
  const hint = 'Pass the JSON written by `offpolicy evaluate --out results.json`.';
  const value = await readJsonFile(file, 'Results file', hint);
  if (isObj(value) && value.schema === SLATE_RESULT_SCHEMA) return checkSlateEvaluationResult(value, file);
  if (isObj(value) && value.setting === 'trajectory') {
    if (value.schema !== RESULT_SCHEMA || !Array.isArray(value.candidates) || !isObj(value.behaviour) || !isObj(value.settings)) {
      throw new OffpolicyError('E_RESULTS_SCHEMA', `${file} is not an offpolicy trajectory evaluation result.`, { hint });
    }
    return value as unknown as AnyEvaluationResult;
  }
  return checkEvaluationResult(value, file);
}

/**
 * Checks an already-parsed value against the parts of EvaluationResult the report
 * reads. `source` names the input in messages.
 */
export function checkEvaluationResult(value: unknown, source = 'the results'): EvaluationResult {
  const fail = (what: string): never => {
    throw new OffpolicyError('E_RESULTS_SCHEMA', `${source} is not an offpolicy evaluation result: ${what}.`, {
      hint: `Expected schema "${RESULT_SCHEMA}" as written by \`offpolicy evaluate --out\`; re-run the evaluation with this toolkit version.`,
    });
  };
  if (!isObj(value)) return fail('the top level is not a JSON object');
  if (value.schema !== RESULT_SCHEMA) {
    return fail(value.schema === undefined ? 'it has no "schema" field' : `its schema is ${JSON.stringify(value.schema)}, not "${RESULT_SCHEMA}"`);
  }
  const need = (obj: Obj, key: string, test: (v: unknown) => boolean, path: string, kind: string): void => {
    if (!test(obj[key])) fail(`"${path}" is missing or not ${kind}`);
  };
  const isStr = (v: unknown) => typeof v === 'string';
  need(value, 'toolkitVersion', isStr, 'toolkitVersion', 'a string');
  need(value, 'seed', isNum, 'seed', 'a number');
  need(value, 'dataset', isObj, 'dataset', 'an object');
  const ds = value.dataset as Obj;
  need(ds, 'ref', isStr, 'dataset.ref', 'a string');
  need(ds, 'contentHash', isStr, 'dataset.contentHash', 'a string');
  need(ds, 'rowCount', isNum, 'dataset.rowCount', 'a number');
  need(ds, 'numActions', isNum, 'dataset.numActions', 'a number');
  need(value, 'logging', isObj, 'logging', 'an object');
  need(value.logging as Obj, 'value', isNum, 'logging.value', 'a number');
  need(value, 'settings', isObj, 'settings', 'an object');
  need(value.settings as Obj, 'alpha', isNum, 'settings.alpha', 'a number');
  need(value, 'candidates', Array.isArray, 'candidates', 'an array');
  const candidates = value.candidates as unknown[];
  candidates.forEach((c, i) => {
    const at = `candidates[${i}]`;
    if (!isObj(c)) return fail(`"${at}" is not an object`);
    need(c, 'name', isStr, `${at}.name`, 'a string');
    need(c, 'estimates', Array.isArray, `${at}.estimates`, 'an array');
    (c.estimates as unknown[]).forEach((e, j) => {
      if (!isObj(e) || typeof e.estimator !== 'string' || !isNum(e.value)) {
        fail(`"${at}.estimates[${j}]" needs a string "estimator" and a numeric "value"`);
      }
    });
    need(c, 'certificates', Array.isArray, `${at}.certificates`, 'an array');
    need(c, 'diagnostics', isObj, `${at}.diagnostics`, 'an object');
    need(c.diagnostics as Obj, 'weightHistogram', Array.isArray, `${at}.diagnostics.weightHistogram`, 'an array');
    need(c, 'warnings', Array.isArray, `${at}.warnings`, 'an array');
    need(c, 'verdict', isObj, `${at}.verdict`, 'an object');
    need(c.verdict as Obj, 'sentence', isStr, `${at}.verdict.sentence`, 'a string');
    need(c.verdict as Obj, 'recommended', (v) => typeof v === 'boolean', `${at}.verdict.recommended`, 'a boolean');
  });
  if (value.warnings !== undefined && !Array.isArray(value.warnings)) fail('"warnings" is not an array');
  return value as unknown as EvaluationResult;
}

/** Checks an already-parsed slate evaluation result against the parts the slate report reads. */
export function checkSlateEvaluationResult(value: unknown, source = 'the results'): SlateEvaluationResult {
  const fail = (what: string): never => {
    throw new OffpolicyError('E_RESULTS_SCHEMA', `${source} is not an offpolicy slate evaluation result: ${what}.`, {
      hint: `Expected schema "${SLATE_RESULT_SCHEMA}" as written by \`offpolicy evaluate --out\` on a slate log; re-run the evaluation with this toolkit version.`,
    });
  };
  if (!isObj(value)) return fail('the top level is not a JSON object');
  if (value.schema !== SLATE_RESULT_SCHEMA) fail(`its schema is ${JSON.stringify(value.schema)}, not "${SLATE_RESULT_SCHEMA}"`);
  const ds = value.dataset;
  if (!isObj(ds) || typeof ds.ref !== 'string' || typeof ds.contentHash !== 'string' || !['rowCount', 'slates', 'slateLength', 'numActions'].every((k) => isNum(ds[k]))) {
    fail('"dataset" needs a string "ref" and "contentHash" and numeric "rowCount", "slates", "slateLength", "numActions"');
  }
  if (!isObj(value.logging) || !isNum(value.logging.value)) fail('"logging.value" is missing or not a number');
  if (!isObj(value.settings) || !isNum(value.settings.alpha) || !Array.isArray(value.settings.estimators)) fail('"settings" needs a numeric "alpha" and an "estimators" array');
  if (!Array.isArray(value.candidates)) fail('"candidates" is missing or not an array');
  (value.candidates as unknown[]).forEach((c, i) => {
    const at = `candidates[${i}]`;
    if (!isObj(c) || typeof c.name !== 'string' || typeof c.source !== 'string') return fail(`"${at}" needs a string "name" and "source"`);
    if (!Array.isArray(c.estimates) || !Array.isArray(c.warnings)) fail(`"${at}" needs "estimates" and "warnings" arrays`);
    (c.estimates as unknown[]).forEach((e, j) => {
      if (!isObj(e) || typeof e.estimator !== 'string' || !isNum(e.value) || !isObj(e.diagnostics)) {
        fail(`"${at}.estimates[${j}]" needs a string "estimator", a numeric "value" and a "diagnostics" object`);
      }
    });
  });
  if (!Array.isArray(value.warnings)) fail('"warnings" is missing or not an array');
  return value as unknown as SlateEvaluationResult;
}

/** Checks an already-parsed robustness study against the parts the report reads. */
export function checkRobustnessStudy(value: unknown, source = 'the study'): RobustnessStudyResult {
  const fail = (what: string): never => {
    throw new OffpolicyError('E_RESULTS_SCHEMA', `${source} is not an offpolicy robustness study: ${what}.`, {
      hint: `Expected schema "${ROBUSTNESS_SCHEMA}" as written by \`offpolicy robustness --out\`; re-run the study with this toolkit version.`,
    });
  };
  if (!isObj(value)) return fail('the top level is not a JSON object');
  if (value.schema !== ROBUSTNESS_SCHEMA) {
    return fail(value.schema === undefined ? 'it has no "schema" field' : `its schema is ${JSON.stringify(value.schema)}, not "${ROBUSTNESS_SCHEMA}"`);
  }
  if (!isObj(value.dataset) || typeof value.dataset.ref !== 'string' || typeof value.dataset.contentHash !== 'string') {
    fail('"dataset" needs a string "ref" and "contentHash"');
  }
  if (!isObj(value.clean) || !isObj(value.clean.scores)) fail('"clean.scores" is missing or not an object');
  if (!Array.isArray(value.settings)) fail('"settings" is missing or not an array');
  (value.settings as unknown[]).forEach((st, i) => {
    if (!isObj(st) || typeof st.label !== 'string') fail(`"settings[${i}]" needs a string "label"`);
  });
  if (!Array.isArray(value.rows)) fail('"rows" is missing or not an array');
  (value.rows as unknown[]).forEach((r, i) => {
    if (!isObj(r) || typeof r.setting !== 'string' || typeof r.metric !== 'string' || !isNum(r.clean)) {
      fail(`"rows[${i}]" needs a string "setting" and "metric" and a numeric "clean"`);
    }
  });
  return value as unknown as RobustnessStudyResult;
}
