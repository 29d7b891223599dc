/**
 * Candidates on trajectory data: what each gives the estimators.
 *
 *   a Policy (discrete)            pi(.|s_t) for every step: log pi(a_t|s_t) for the weights, the
 *                                  full distribution for V(s) = sum_a pi(a|s) Q(s, a)
 *   a ContinuousPolicy, Gaussian   log pi(a_t|s_t) from its density
 *   a ContinuousPolicy, deterministic   a kernel on the action (kernel.ts)
 *   a deterministic discrete policy     (one-hot probabilities) IS is refused: E_DETERMINISTIC_CANDIDATE
 *                                  names DM, which needs no weights
 *   spec strings                   DIR (a trained policy directory, read by the injected loader),
 *                                  FILE.json (a JSON policy, see src/policies/json-policy.ts),
 *                                  FILE.parquet / FILE.csv keyed by (episode_id, step) with
 *                                  p_0..p_{K-1} (discrete) or `logprob` (continuous)
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { OffpolicyError } from '../../core/errors.js';
import { readColumns } from '../../datasets/columns.js';
import { lit, queryRows, type DuckDBConnection } from '../../datasets/duckdb.js';
import type { Space } from '../../datasets/metadata.js';
import type { TrajectoryArrays } from '../../datasets/load-trajectories.js';
import { candidateName } from '../../policies/candidates.js';
import { buildJsonPolicy } from '../../policies/json-policy.js';
import type { ContinuousPolicy, Policy } from '../../core/contracts.js';
import { gaussianLogDensity, logStdNormalMass } from '../../util/truncated-normal.js';
import { actionBox, BANDWIDTH_RULE, checkBandwidth, defaultBandwidth, kernelLogDensity, type ActionBox } from './kernel.js';

/** The logged steps a candidate is scored on (the loader's arrays, or any arrays of the same shape). */
export type LoggedSteps = Pick<TrajectoryArrays, 'n' | 'obsDim' | 'actDim' | 'discreteActions' | 'observations' | 'actions' | 'episodeId' | 'step'>;

export interface ResolvedCandidate {
  name: string;
  source: string;
  kind: 'discrete' | 'gaussian' | 'deterministic' | 'table';
  /** log pi(a_t|s_t) per step (a kernel log-density for deterministic continuous ones); null when IS is refused. */
  targetLogprob: Float64Array | null;
  /** Why importance sampling is refused (a deterministic discrete candidate). */
  refusal: OffpolicyError | null;
  /** n x K action probabilities (discrete candidates). */
  probs: Float64Array | null;
  /** The policy object, for fitted Q evaluation (absent for tables). */
  policy: Policy | ContinuousPolicy | null;
  kernel: { bandwidth: number; rule: string } | null;
}

export type TrajectoryPolicyDirLoader = (dir: string) => Promise<Policy | ContinuousPolicy>;

export interface TrajectoryCandidateInput {
  name?: string;
  spec: string | Policy | ContinuousPolicy;
}

export interface TrajectoryCandidateContext {
  steps: LoggedSteps;
  actionSpace?: Space;
  /** Needed for table candidates. */
  conn?: DuckDBConnection;
  loadPolicyDir?: TrajectoryPolicyDirLoader;
  /** Kernel bandwidth for deterministic continuous candidates (box-scaled units); default BANDWIDTH_RULE. */
  bandwidth?: number;
  actionBox?: ActionBox;
}

const isDiscretePolicy = (p: Policy | ContinuousPolicy): p is Policy => typeof (p as Policy).actionProbs === 'function';

function isDeterministicContinuous(p: ContinuousPolicy): boolean {
  return (p as { kind?: string }).kind === 'deterministic';
}

function checkFits(p: Policy | ContinuousPolicy, who: string, s: LoggedSteps): void {
  const obsDim = (p as { obsDim?: unknown }).obsDim;
  if (typeof obsDim === 'number' && obsDim !== s.obsDim) {
    throw new OffpolicyError('E_OBS_SHAPE', `${who} takes ${obsDim}-dimensional observations, but the data's observations have ${s.obsDim} values.`, {
      hint: 'Evaluate the candidate on data from the environment it was trained on.',
    });
  }
  if (isDiscretePolicy(p)) {
    if (s.discreteActions === undefined) {
      throw new OffpolicyError('E_ACTION_SHAPE', `${who} chooses among ${p.numActions} discrete actions, but the data's actions are ${s.actDim}-dimensional continuous vectors.`, {
        hint: 'Evaluate a discrete policy on discrete-action data.',
      });
    }
    if (p.numActions !== s.discreteActions) {
      throw new OffpolicyError('E_ACTION_SHAPE', `${who} chooses among ${p.numActions} actions, but the data's action space has ${s.discreteActions}.`, {
        hint: 'Evaluate the candidate on data with the same action space.',
      });
    }
    return;
  }
  if (s.discreteActions !== undefined) {
    throw new OffpolicyError('E_ACTION_SHAPE', `${who} outputs ${p.actionDim}-dimensional continuous actions, but the data's actions are discrete (K = ${s.discreteActions}).`, {
      hint: 'Evaluate a continuous policy on continuous-action data.',
    });
  }
  if (p.actionDim !== s.actDim) {
    throw new OffpolicyError('E_ACTION_SHAPE', `${who} outputs ${p.actionDim}-dimensional actions, but the data's actions have ${s.actDim} values.`, {
      hint: 'Evaluate the candidate on data with the same action space.',
    });
  }
}

function refusal(name: string): OffpolicyError {
  return new OffpolicyError('E_DETERMINISTIC_CANDIDATE', `Candidate "${name}" is deterministic on discrete actions (it puts probability 1 on one action in every state), so importance weights are 0 on every episode that leaves its choices once and carry no information otherwise.`, {
    hint: 'Evaluate it with the direct method (--estimators dm, fitted Q evaluation), or give a stochastic version (e.g. epsilon-greedy).',
  });
}

/** A policy object scored on the logged steps. */
export function policyCandidate(p: Policy | ContinuousPolicy, name: string, source: string, ctx: TrajectoryCandidateContext): ResolvedCandidate {
  const s = ctx.steps;
  checkFits(p, `Candidate "${name}"`, s);
  if (isDiscretePolicy(p)) {
    const K = p.numActions;
    const probs = p.actionProbs(s.observations, s.n);
    const acts = s.actions as Int32Array;
    const logp = new Float64Array(s.n);
    let deterministic = true;
    for (let r = 0; r < s.n; r++) {
      let mx = 0;
      for (let a = 0; a < K; a++) if (probs[r * K + a]! > mx) mx = probs[r * K + a]!;
      if (mx < 1 - 1e-12) deterministic = false;
      logp[r] = Math.log(probs[r * K + acts[r]!]!);
    }
    if (deterministic) return { name, source, kind: 'discrete', targetLogprob: null, refusal: refusal(name), probs, policy: p, kernel: null };
    return { name, source, kind: 'discrete', targetLogprob: logp, refusal: null, probs, policy: p, kernel: null };
  }
  const acts = s.actions as Float32Array;
  if (isDeterministicContinuous(p)) {
    const box = ctx.actionBox ?? actionBox(ctx.actionSpace, s.actDim);
    const bw = ctx.bandwidth !== undefined ? checkBandwidth(ctx.bandwidth) : defaultBandwidth(acts, s.n, s.actDim, box);
    const mu = p.act(s.observations, s.n);
    return {
      name,
      source,
      kind: 'deterministic',
      targetLogprob: kernelLogDensity(mu, acts, s.n, s.actDim, box, bw),
      refusal: null,
      probs: null,
      policy: p,
      kernel: { bandwidth: bw, rule: ctx.bandwidth !== undefined ? 'given' : BANDWIDTH_RULE },
    };
  }
  return { name, source, kind: 'gaussian', targetLogprob: gaussianTargetLogprob(p, s, ctx), refusal: null, probs: null, policy: p, kernel: null };
}

/**
 * A Gaussian policy's log-density at the logged actions. A policy that gives
 * its std acts from the Gaussian restricted to the data's action box (the
 * rollout's sampler), so its density is the Gaussian's minus log P(box).
 */
function gaussianTargetLogprob(p: ContinuousPolicy, s: LoggedSteps, ctx: TrajectoryCandidateContext): Float64Array {
  const space = ctx.actionSpace;
  const box = ctx.actionBox ?? (space?.type === 'box' && space.low && space.high ? { low: space.low, high: space.high } : undefined);
  if (!p.actionStd || !box) return p.logProb(s.observations, s.actions as Float32Array, s.n);
  // the contract's Gaussian (mean act(s), std actionStd()): one pass of the policy gives the density and the box mass
  const sd = p.actionStd();
  const mu = p.act(s.observations, s.n);
  const m = s.actDim;
  const logp = gaussianLogDensity(mu, Float64Array.from(sd, Math.log), s.actions as Float32Array, m);
  for (let r = 0; r < s.n; r++) {
    let logMass = 0;
    for (let j = 0; j < m; j++) {
      const lo = Number(box.low[j] ?? -Infinity);
      const hi = Number(box.high[j] ?? Infinity);
      logMass += logStdNormalMass((lo - mu[r * m + j]!) / sd[j]!, (hi - mu[r * m + j]!) / sd[j]!);
    }
    logp[r] = logp[r]! - logMass;
  }
  return logp;
}

const isTableFile = (file: string): boolean => ['.parquet', '.csv'].includes(path.extname(file).toLowerCase());

/** The candidate is a table file keyed by (episode_id, step): it reads no observations. */
export function isTableCandidate(input: TrajectoryCandidateInput): boolean {
  if (typeof input.spec !== 'string') return false;
  const file = path.resolve(input.spec.trim());
  return isTableFile(file) && existsSync(file) && !statSync(file).isDirectory();
}

/** Loads one candidate from a policy object or a spec string. */
export async function loadTrajectoryCandidate(input: TrajectoryCandidateInput, ctx: TrajectoryCandidateContext): Promise<ResolvedCandidate> {
  if (typeof input.spec !== 'string') return policyCandidate(input.spec, candidateName(input), 'api:Policy', ctx);
  const spec = input.spec.trim();
  const file = path.resolve(spec);
  if (!existsSync(file)) {
    throw new OffpolicyError('E_POLICY_NOT_FOUND', `Policy ${spec} does not exist.`, {
      hint: 'Give a trained policy directory, a .json policy file, or a .parquet / .csv table keyed by (episode_id, step).',
    });
  }
  if (statSync(file).isDirectory()) {
    if (!ctx.loadPolicyDir) {
      throw new OffpolicyError('E_POLICY_SPEC', `Policy ${spec} is a directory, and this caller gave no loader for trained policy directories.`, {
        hint: 'Pass loadPolicyDir (offpolicy exports it) in the options.',
      });
    }
    const p = await ctx.loadPolicyDir(file);
    return policyCandidate(p, candidateName(input), `dir:${spec}`, ctx);
  }
  const ext = path.extname(file).toLowerCase();
  if (ext === '.json') {
    if (ctx.steps.discreteActions === undefined) {
      throw new OffpolicyError('E_POLICY_SPEC', `JSON policies choose among discrete actions, but ${spec} is scored on continuous-action data.`, {
        hint: 'Give a trained policy directory or a table with a logprob column.',
      });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (e) {
      throw new OffpolicyError('E_POLICY_SPEC', `Policy file ${spec} is not valid JSON: ${(e as Error).message}`, { hint: 'Fix the JSON syntax.' });
    }
    const p = await buildJsonPolicy(parsed, spec, { numActions: ctx.steps.discreteActions, contextDim: ctx.steps.obsDim });
    return policyCandidate(p, candidateName(input), `json:${(parsed as { type?: string }).type ?? 'policy'}:${spec}`, ctx);
  }
  if (isTableFile(file)) return tableCandidate(file, spec, candidateName(input), ctx);
  throw new OffpolicyError('E_POLICY_SPEC', `Cannot tell what kind of policy "${spec}" is from its extension "${ext}".`, {
    hint: 'Give a trained policy directory, a .json policy file, or a .parquet / .csv table keyed by (episode_id, step).',
  });
}

/** The table's keys are the logged steps' keys, row for row. */
function sameKeys(s: LoggedSteps, ep: Float64Array, st: Int32Array): boolean {
  if (ep.length !== s.n) return false;
  for (let r = 0; r < s.n; r++) if (ep[r] !== s.episodeId[r] || st[r] !== s.step[r]) return false;
  return true;
}

/** A table keyed by (episode_id, step) with p_0..p_{K-1} (discrete) or logprob (continuous), matched to the logged steps. */
async function tableCandidate(file: string, spec: string, name: string, ctx: TrajectoryCandidateContext): Promise<ResolvedCandidate> {
  if (!ctx.conn) throw new OffpolicyError('E_POLICY_SPEC', `Reading the table ${spec} needs a DuckDB connection.`, { hint: 'Pass conn in the options.' });
  const s = ctx.steps;
  const rel = file.toLowerCase().endsWith('.parquet') ? `read_parquet(${lit(file)})` : `read_csv(${lit(file)}, header = true)`;
  let cols: string[];
  try {
    cols = (await queryRows(ctx.conn, `DESCRIBE SELECT * FROM ${rel}`)).map((r) => String(r.column_name));
  } catch (e) {
    throw new OffpolicyError('E_POLICY_READ', `Cannot read the table ${spec}: ${(e as Error).message.split('\n')[0]}`, { hint: 'Check that the file is a valid Parquet or CSV file.' });
  }
  const who = `Candidate "${name}" (${spec})`;
  for (const key of ['episode_id', 'step']) {
    if (!cols.includes(key)) {
      throw new OffpolicyError('E_MISSING_COLUMN', `${who} has no ${key} column.`, { hint: `Key each row by (episode_id, step). Columns found: ${cols.join(', ')}.` });
    }
  }
  const K = s.discreteActions;
  let valueCols: string[];
  if (K !== undefined) {
    const p = cols.filter((c) => /^p_\d+$/.test(c)).map((c) => Number(c.slice(2))).sort((a, b) => a - b);
    if (p.length === 0 && cols.includes('logprob')) {
      throw new OffpolicyError('E_POLICY_SPEC', `${who} gives a logprob column, but the data has discrete actions: give p_0..p_${K - 1}.`, {
        hint: 'The full distribution is needed for V(s) = sum_a pi(a|s) Q(s, a) and to tell deterministic candidates apart.',
      });
    }
    if (p.length !== K || p.some((v, i) => v !== i)) {
      throw new OffpolicyError('E_ACTION_SPACE', `${who} has ${p.length} probability columns (${p.map((v) => `p_${v}`).join(', ') || 'none'}), but the data has K = ${K} actions (p_0..p_${K - 1}).`, {
        hint: 'Give one column p_a per action.',
      });
    }
    valueCols = p.map((a) => `p_${a}`);
  } else {
    if (!cols.includes('logprob')) {
      throw new OffpolicyError('E_MISSING_COLUMN', `${who} has no logprob column (log pi(a_t|s_t) of each logged action).`, { hint: `Columns found: ${cols.join(', ')}.` });
    }
    valueCols = ['logprob'];
  }
  const spec0: Record<string, { type: 'f64' | 'i32' }> = { episode_id: { type: 'f64' }, step: { type: 'i32' } };
  for (const c of valueCols) spec0[c] = { type: 'f64' };
  const select = ['episode_id::DOUBLE AS episode_id', 'step::INTEGER AS step', ...valueCols.map((c) => `${c}::DOUBLE AS ${c}`)];
  const { n: m, columns } = await readColumns(ctx.conn, `SELECT ${select.join(', ')} FROM ${rel}`, spec0);
  const perRow = valueCols.length;
  const ep = columns.episode_id as Float64Array;
  const st = columns.step as Int32Array;
  const dup: string[] = [];
  let extraCount = 0;
  const extra: string[] = [];
  let values: Float64Array;
  let filled: Uint8Array | null = null;
  if (sameKeys(s, ep, st)) {
    // the usual case: the table lists the logged steps in their order (both written in (episode_id, step) order)
    if (perRow === 1) values = columns[valueCols[0]!] as Float64Array;
    else {
      values = new Float64Array(s.n * perRow);
      for (let k = 0; k < perRow; k++) {
        const col = columns[valueCols[k]!] as Float64Array;
        for (let r = 0; r < m; r++) values[r * perRow + k] = col[r]!;
      }
    }
  } else {
    const row = new Map<string, number>();
    for (let r = 0; r < s.n; r++) row.set(`${s.episodeId[r]}:${s.step[r]}`, r);
    filled = new Uint8Array(s.n);
    values = new Float64Array(s.n * perRow);
    for (let j = 0; j < m; j++) {
      const key = `${ep[j]}:${st[j]}`;
      const r = row.get(key);
      if (r === undefined) {
        extraCount++;
        if (extra.length < 5) extra.push(`episode ${ep[j]} step ${st[j]}`);
        continue;
      }
      if (filled[r]) {
        if (dup.length < 5) dup.push(`episode ${ep[j]} step ${st[j]}`);
        continue;
      }
      filled[r] = 1;
      for (let k = 0; k < perRow; k++) values[r * perRow + k] = (columns[valueCols[k]!] as Float64Array)[j]!;
    }
  }
  const missing: string[] = [];
  let missingCount = 0;
  for (let r = 0; filled && r < s.n; r++) {
    if (!filled[r]) {
      missingCount++;
      if (missing.length < 5) missing.push(`episode ${s.episodeId[r]} step ${s.step[r]}`);
    }
  }
  if (missingCount > 0 || extraCount > 0 || dup.length > 0) {
    const parts: string[] = [];
    if (missingCount > 0) parts.push(`${missingCount} logged steps are missing from it (first: ${missing.join(', ')})`);
    if (extraCount > 0) parts.push(`${extraCount} of its rows are not logged steps (first: ${extra.join(', ')})`);
    if (dup.length > 0) parts.push(`some steps appear more than once (first: ${dup.join(', ')})`);
    throw new OffpolicyError('E_POLICY_ROWS', `${who} does not match the logged steps: ${parts.join('; ')}.`, {
      hint: 'Score every logged step exactly once, keyed by (episode_id, step).',
    });
  }
  if (K === undefined) {
    const bad: string[] = [];
    let count = 0;
    for (let r = 0; r < s.n; r++) {
      const v = values[r]!;
      if (Number.isNaN(v) || v === Infinity) {
        count++;
        if (bad.length < 5) bad.push(`episode ${s.episodeId[r]} step ${s.step[r]} (${v})`);
      }
    }
    if (count > 0) {
      throw new OffpolicyError('E_LOGPROB', `${who}: ${count} step(s) have a NaN or +inf logprob (first: ${bad.join(', ')}).`, {
        hint: 'A log-density may be any number or -inf (the candidate never takes the action); NaN and +inf are invalid.',
      });
    }
    return { name, source: spec, kind: 'table', targetLogprob: values, refusal: null, probs: null, policy: null, kernel: null };
  }
  const acts = s.actions as Int32Array;
  const logp = new Float64Array(s.n);
  const bad: string[] = [];
  let badCount = 0;
  let deterministic = true;
  for (let r = 0; r < s.n; r++) {
    let sum = 0;
    let mx = 0;
    let ok = true;
    for (let a = 0; a < K; a++) {
      const v = values[r * K + a]!;
      if (!(v >= 0 && v <= 1)) ok = false;
      sum += v;
      if (v > mx) mx = v;
    }
    if (!ok || Math.abs(sum - 1) > 1e-6) {
      badCount++;
      if (bad.length < 5) bad.push(`episode ${s.episodeId[r]} step ${s.step[r]}`);
    }
    if (mx < 1 - 1e-12) deterministic = false;
    logp[r] = Math.log(values[r * K + acts[r]!]!);
  }
  if (badCount > 0) {
    throw new OffpolicyError('E_POLICY_PROBS', `${who}: ${badCount} step(s) do not give a probability distribution (each p_a in [0, 1], summing to 1; first: ${bad.join(', ')}).`, {
      hint: 'Renormalise the probabilities of every step.',
    });
  }
  return {
    name,
    source: spec,
    kind: 'table',
    targetLogprob: deterministic ? null : logp,
    refusal: deterministic ? refusal(name) : null,
    probs: values,
    policy: null,
    kernel: null,
  };
}
