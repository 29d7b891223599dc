/**
 * JSON policy files: small, explicit policies a reviewer can read.
 *
 *   {"type": "uniform"}
 *   {"type": "epsilon-greedy", "epsilon": 0.1, "base": {...}}      (1 - eps) on base's most likely action + eps / K on each
 *   {"type": "softmax", "weights": K x d, "bias": K, "temperature": t}   softmax((W x + b) / t)
 *   {"type": "argmax", "weights": K x d, "bias": K}                 argmax_a (W x + b)_a (ties: lowest action)
 *   {"type": "reward-model", "model": "logistic"|"ridge"|"mlp", "mode": "argmax"|"softmax", "temperature": t}
 *       argmax or softmax over q(x, .) of a reward model fitted on the log
 *   {"type": "mixed-logit", "weights", "bias", "sigma": s, "samples": S, "seed": n}
 *       E softmax(W x + b + s |[x, 1]| eps), eps ~ N(0, I_K): S fixed draws from the seed (linear-gibbs.ts)
 *   {"type": "probit", "weights", "bias", "sigma": s, "nodes": m}
 *       P(argmax of theta [x, 1]) under theta ~ N([W b], s^2 I): m-node Gauss-Hermite (linear-gibbs.ts)
 *   {"type": "fixed", "probs": [p_0, ..., p_{K-1}]}      the same distribution on every row
 *   {"type": "fixed", "byPosition": [[...], ...]}        one distribution per position 0..P-1 of a log
 *       with a `position` column (P = the log's max position + 1): row i gets byPosition[position_i]
 */
import { OffpolicyError } from '../core/errors.js';
import type { FeatureSpec, Policy, RewardModel } from '../core/contracts.js';
import { parseFeatureSpec } from '../datasets/features.js';
import { softmaxRows } from '../util/softmax.js';
import { PROB_SUM_TOLERANCE } from './probabilities.js';
import { fixedMixedLogitNoise, linearClassProbs, type LinearParams, type MixedLogitNoise } from './linear-gibbs.js';

export type JsonPolicySpec =
  | { type: 'uniform' }
  | { type: 'epsilon-greedy'; epsilon: number; base: JsonPolicySpec }
  | { type: 'softmax'; weights: number[][]; bias?: number[]; temperature?: number }
  | { type: 'argmax'; weights: number[][]; bias?: number[] }
  | { type: 'reward-model'; model: 'logistic' | 'ridge' | 'mlp'; mode?: 'argmax' | 'softmax'; temperature?: number }
  | { type: 'mixed-logit'; weights: number[][]; bias?: number[]; sigma: number; samples: number; seed: number }
  | { type: 'probit'; weights: number[][]; bias?: number[]; sigma: number; nodes?: number }
  | { type: 'fixed'; probs: number[] }
  | { type: 'fixed'; byPosition: number[][] };

function specError(source: string, what: string, hint: string): OffpolicyError {
  return new OffpolicyError('E_POLICY_SPEC', `Policy file ${source}: ${what}`, { hint });
}

export class UniformPolicy implements Policy {
  readonly usesContext = false;
  constructor(readonly numActions: number) {}
  actionProbs(_contexts: Float32Array, n: number): Float64Array {
    return new Float64Array(n * this.numActions).fill(1 / this.numActions);
  }
}

/** The same distribution on every row, whatever the context. */
export class FixedPolicy implements Policy {
  readonly usesContext = false;
  readonly numActions: number;
  constructor(readonly probs: Float64Array) {
    this.numActions = probs.length;
  }
  actionProbs(_contexts: Float32Array, n: number): Float64Array {
    const out = new Float64Array(n * this.numActions);
    for (let i = 0; i < n; i++) out.set(this.probs, i * this.numActions);
    return out;
  }
}

/** One distribution per position (0-based), the same for every context. */
export class FixedByPositionPolicy implements Policy {
  readonly usesContext = false;
  readonly numActions: number;
  constructor(
    /** P x K, row-major. */
    readonly probs: Float64Array,
    readonly numPositions: number,
  ) {
    this.numActions = probs.length / numPositions;
  }
  actionProbs(): Float64Array {
    throw new OffpolicyError('E_POLICY_POSITION', `This fixed policy gives one distribution per position (${this.numPositions}), and the rows were given without positions.`, {
      hint: 'Evaluate it on a log with a position column.',
    });
  }
  actionProbsAtPositions(_contexts: Float32Array, positions: Int32Array, n: number): Float64Array {
    const k = this.numActions;
    const out = new Float64Array(n * k);
    for (let i = 0; i < n; i++) {
      const pos = positions[i]!;
      out.set(this.probs.subarray(pos * k, pos * k + k), i * k);
    }
    return out;
  }
}

/** A distribution given in a policy file: K finite non-negative numbers summing to 1. */
function distribution(source: string, value: unknown, k: number, field: string): Float64Array {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'number')) {
    throw specError(source, `"${field}" must be an array of K = ${k} probabilities, got ${JSON.stringify(value)?.slice(0, 80)}.`, 'Give one probability per action, in action order.');
  }
  if (value.length !== k) {
    throw new OffpolicyError('E_ACTION_SPACE', `Policy file ${source}: "${field}" has ${value.length} probabilities, but the log's action space has K = ${k} actions.`, {
      hint: 'Give one probability per action of the log, in action order.',
    });
  }
  const p = Float64Array.from(value as number[]);
  const bad = p.findIndex((v) => !(v >= 0) || !Number.isFinite(v));
  if (bad >= 0) {
    throw new OffpolicyError('E_POLICY_PROBS', `Policy file ${source}: "${field}"[${bad}] = ${p[bad]} is not a probability (negative, NaN or infinite).`, {
      hint: 'Every probability must be a finite number >= 0.',
    });
  }
  const sum = p.reduce((a, b) => a + b, 0);
  if (!(Math.abs(sum - 1) <= PROB_SUM_TOLERANCE)) {
    throw new OffpolicyError('E_POLICY_PROBS', `Policy file ${source}: "${field}" sums to ${sum}, not 1 (tolerance ${PROB_SUM_TOLERANCE}).`, {
      hint: 'Renormalize the probabilities so they sum to 1.',
    });
  }
  return p;
}

function fixedPolicy(source: string, s: Record<string, unknown>, ctx: JsonPolicyContext): Policy {
  const k = ctx.numActions;
  if ((s.probs === undefined) === (s.byPosition === undefined)) {
    throw specError(source, 'a fixed policy takes exactly one of "probs" (one distribution) and "byPosition" (one per position).', 'E.g. {"type": "fixed", "probs": [0.5, 0.5]}.');
  }
  if (s.probs !== undefined) return new FixedPolicy(distribution(source, s.probs, k, 'probs'));
  const rows = s.byPosition;
  if (!Array.isArray(rows) || rows.length === 0) throw specError(source, '"byPosition" must be a non-empty array of distributions, one per position.', 'E.g. "byPosition": [[0.7, 0.3], [0.4, 0.6]].');
  if (ctx.numPositions === undefined) {
    throw new OffpolicyError('E_POLICY_POSITION', `Policy file ${source}: "byPosition" gives one distribution per position, but the log has no position column.`, {
      hint: 'Use "probs" for a log without positions, or ingest the position column.',
    });
  }
  if (rows.length !== ctx.numPositions) {
    throw new OffpolicyError('E_POLICY_POSITION', `Policy file ${source}: "byPosition" has ${rows.length} distributions, but the log has ${ctx.numPositions} positions (0..${ctx.numPositions - 1}).`, {
      hint: 'Give one distribution per position of the log, top position first.',
    });
  }
  const out = new Float64Array(rows.length * k);
  rows.forEach((r, pos) => out.set(distribution(source, r, k, `byPosition[${pos}]`), pos * k));
  return new FixedByPositionPolicy(out, rows.length);
}

/** Scores W x + b for every row (K x d weights). */
function linearScores(weights: Float64Array, bias: Float64Array, k: number, d: number, contexts: Float32Array, n: number): Float64Array {
  const out = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < k; a++) {
      let s = bias[a]!;
      for (let j = 0; j < d; j++) s += weights[a * d + j]! * contexts[i * d + j]!;
      out[i * k + a] = s;
    }
  }
  return out;
}

/** Softmax of each row at a temperature, in place. */
function softmaxInPlace(scores: Float64Array, n: number, k: number, temperature: number): Float64Array {
  softmaxRows(scores, 1 / temperature, n, k, scores);
  return scores;
}

/** One-hot on each row's highest score (ties: lowest action), in place. */
export function argmaxRows(scores: Float64Array, n: number, k: number): Float64Array {
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let a = 1; a < k; a++) if (scores[i * k + a]! > scores[i * k + best]!) best = a;
    for (let a = 0; a < k; a++) scores[i * k + a] = a === best ? 1 : 0;
  }
  return scores;
}

export class LinearPolicy implements Policy {
  constructor(
    readonly numActions: number,
    readonly contextDim: number,
    private readonly weights: Float64Array,
    private readonly bias: Float64Array,
    /** null = argmax */
    private readonly temperature: number | null,
  ) {}
  actionProbs(contexts: Float32Array, n: number): Float64Array {
    const s = linearScores(this.weights, this.bias, this.numActions, this.contextDim, contexts, n);
    return this.temperature === null ? argmaxRows(s, n, this.numActions) : softmaxInPlace(s, n, this.numActions, this.temperature);
  }
}

/** The Gibbs policy of a Gaussian posterior over a linear score (mixed logit or probit; see linear-gibbs.ts). */
export class LinearGibbsPolicy implements Policy {
  private readonly noise: MixedLogitNoise | undefined;
  constructor(
    readonly numActions: number,
    readonly contextDim: number,
    readonly kind: 'mixed-logit' | 'probit',
    readonly params: LinearParams,
    /** mixed-logit: draws S and their seed; probit: quadrature nodes. */
    readonly expectation: { samples: number; seed: number } | { nodes: number },
  ) {
    this.noise = 'samples' in expectation ? fixedMixedLogitNoise(expectation.samples, numActions, expectation.seed) : undefined;
  }
  actionProbs(contexts: Float32Array, n: number): Float64Array {
    return linearClassProbs(this.kind, this.params, this.numActions, this.contextDim, contexts, n, {
      ...(this.noise ? { noise: this.noise } : {}),
      ...('nodes' in this.expectation ? { quadratureNodes: this.expectation.nodes } : {}),
    });
  }
}

export class EpsilonGreedyPolicy implements Policy {
  readonly numActions: number;
  constructor(
    private readonly base: Policy,
    private readonly epsilon: number,
  ) {
    this.numActions = base.numActions;
  }
  actionProbs(contexts: Float32Array, n: number): Float64Array {
    const k = this.numActions;
    const p = argmaxRows(Float64Array.from(this.base.actionProbs(contexts, n)), n, k);
    for (let j = 0; j < n * k; j++) p[j] = (1 - this.epsilon) * p[j]! + this.epsilon / k;
    return p;
  }
}

/** Argmax or softmax over a reward model's predictions. */
export class RewardModelPolicy implements Policy {
  readonly numActions: number;
  constructor(
    readonly model: RewardModel,
    private readonly mode: 'argmax' | 'softmax',
    private readonly temperature: number,
  ) {
    this.numActions = model.numActions;
  }
  /** Probabilities from already computed predictions q (n x K). */
  fromPredictions(q: Float64Array, n: number): Float64Array {
    const s = Float64Array.from(q);
    return this.mode === 'argmax' ? argmaxRows(s, n, this.numActions) : softmaxInPlace(s, n, this.numActions, this.temperature);
  }
  actionProbs(contexts: Float32Array, n: number): Float64Array {
    return this.fromPredictions(this.model.predict(contexts, n), n);
  }
}

function matrix(source: string, value: unknown, rows: number, cols: number, field: string): Float64Array {
  if (!Array.isArray(value) || value.length !== rows || value.some((r) => !Array.isArray(r) || r.length !== cols)) {
    const got = Array.isArray(value) ? `${value.length} x ${Array.isArray(value[0]) ? (value[0] as unknown[]).length : '?'}` : typeof value;
    throw new OffpolicyError(
      rows !== (Array.isArray(value) ? value.length : rows) ? 'E_ACTION_SPACE' : 'E_POLICY_SPEC',
      `Policy file ${source}: "${field}" must be a K x d = ${rows} x ${cols} matrix (one row per action of the log, one column per context feature), got ${got}.`,
      { hint: 'Match the weights to the dataset\'s action space and context dimension.' },
    );
  }
  const out = new Float64Array(rows * cols);
  (value as number[][]).forEach((r, a) =>
    r.forEach((v, j) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw specError(source, `"${field}"[${a}][${j}] is not a finite number.`, 'Weights must be numbers.');
      out[a * cols + j] = v;
    }),
  );
  return out;
}

function vector(source: string, value: unknown, k: number, field: string): Float64Array {
  if (value === undefined) return new Float64Array(k);
  if (!Array.isArray(value) || value.length !== k || value.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
    throw new OffpolicyError(
      Array.isArray(value) && value.length !== k ? 'E_ACTION_SPACE' : 'E_POLICY_SPEC',
      `Policy file ${source}: "${field}" must hold K = ${k} finite numbers (one per action), got ${Array.isArray(value) ? value.length + ' values' : typeof value}.`,
      { hint: 'Match the bias to the dataset\'s action space.' },
    );
  }
  return Float64Array.from(value as number[]);
}

export interface JsonPolicyContext {
  numActions: number;
  contextDim: number;
  /** Positions of the log (max position + 1), when it has a position column. */
  numPositions?: number;
  /** Fits a reward model on the log, for {"type": "reward-model"}. */
  fitRewardModel?: (kind: 'logistic' | 'ridge' | 'mlp') => Promise<RewardModel>;
}

/** The policy with the feature spec an evaluator builds its contexts with. */
function withFeatures(p: Policy, features: FeatureSpec): Policy {
  return { numActions: p.numActions, actionProbs: (contexts, n) => p.actionProbs(contexts, n), features, ...(p.usesContext !== undefined ? { usesContext: p.usesContext } : {}) };
}

/** Builds the Policy a parsed JSON policy file describes, checked against the log's K and d. */
export async function buildJsonPolicy(spec: unknown, source: string, ctx: JsonPolicyContext): Promise<Policy> {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw specError(source, 'the file must hold a JSON object with a "type".', 'See the README for the policy file formats.');
  }
  const s = spec as Record<string, unknown>;
  if (s.features !== undefined) {
    // A learned policy's own context (columns, one-hot levels): its weights are checked against that width.
    const features = parseFeatureSpec(s.features, source);
    const { features: _, ...rest } = s;
    return withFeatures(await buildJsonPolicy(rest, source, { ...ctx, contextDim: features.width }), features);
  }
  const k = ctx.numActions;
  const d = ctx.contextDim;
  const temperature = (): number => {
    const t = s.temperature ?? 1;
    if (typeof t !== 'number' || !(t > 0) || !Number.isFinite(t)) throw specError(source, `"temperature" must be a positive number, got ${JSON.stringify(t)}.`, 'Use e.g. "temperature": 1.');
    return t;
  };
  switch (s.type) {
    case 'uniform':
      return new UniformPolicy(k);
    case 'epsilon-greedy': {
      const eps = s.epsilon;
      if (typeof eps !== 'number' || !(eps >= 0 && eps <= 1)) throw specError(source, `"epsilon" must be a number in [0, 1], got ${JSON.stringify(eps)}.`, 'Use e.g. "epsilon": 0.1.');
      if (s.base === undefined) throw specError(source, 'epsilon-greedy needs a "base" policy.', 'Add "base": {"type": "argmax", "weights": ...}.');
      return new EpsilonGreedyPolicy(await buildJsonPolicy(s.base, source, ctx), eps);
    }
    case 'softmax':
    case 'argmax': {
      if (d === 0) throw specError(source, `a ${s.type} policy over a linear score needs contexts, but the log has none.`, 'Use a log with a context column, or a uniform / table policy.');
      const w = matrix(source, s.weights, k, d, 'weights');
      const b = vector(source, s.bias, k, 'bias');
      return new LinearPolicy(k, d, w, b, s.type === 'argmax' ? null : temperature());
    }
    case 'mixed-logit':
    case 'probit': {
      if (d === 0) throw specError(source, `a ${s.type} policy over a linear score needs contexts, but the log has none.`, 'Use a log with a context column.');
      const int = (field: string, lo: number, hi: number, fallback?: number): number => {
        const v = s[field] ?? fallback;
        if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw specError(source, `"${field}" must be an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}.`, `Use e.g. "${field}": ${fallback ?? lo}.`);
        return v;
      };
      const sigma = s.sigma;
      if (typeof sigma !== 'number' || !(sigma > 0) || !Number.isFinite(sigma)) throw specError(source, `"sigma" must be a positive number, got ${JSON.stringify(sigma)}.`, 'Use e.g. "sigma": 0.5.');
      const params = { weights: matrix(source, s.weights, k, d, 'weights'), bias: vector(source, s.bias, k, 'bias'), sigma };
      const expectation = s.type === 'mixed-logit' ? { samples: int('samples', 1, 100000), seed: int('seed', 0, 2 ** 32 - 1) } : { nodes: int('nodes', 1, 200, 20) };
      return new LinearGibbsPolicy(k, d, s.type, params, expectation);
    }
    case 'fixed':
      return fixedPolicy(source, s, ctx);
    case 'reward-model': {
      const model = s.model;
      if (model !== 'logistic' && model !== 'ridge' && model !== 'mlp') throw specError(source, `"model" must be "logistic", "ridge" or "mlp", got ${JSON.stringify(model)}.`, 'Pick one of the three.');
      const mode = s.mode ?? 'argmax';
      if (mode !== 'argmax' && mode !== 'softmax') throw specError(source, `"mode" must be "argmax" or "softmax", got ${JSON.stringify(mode)}.`, 'Pick one of the two.');
      if (!ctx.fitRewardModel) throw specError(source, 'a reward-model policy needs the log to fit on.', 'Load it through evaluate().');
      const t = temperature();
      return new RewardModelPolicy(await ctx.fitRewardModel(model), mode, t);
    }
    default:
      throw specError(
        source,
        `unknown policy type ${JSON.stringify(s.type)}.`,
        'Use "uniform", "fixed", "epsilon-greedy", "softmax", "argmax", "mixed-logit", "probit" or "reward-model".',
      );
  }
}
