/**
 * Implicit Q-Learning (Kostrikov, Nair, Levine, ICLR 2022), following the CORL
 * single-file implementation:
 *   V:     expectile loss (tau = 0.7) of u = min(Q1', Q2')(s, a) - V(s)
 *   Q1,Q2: mean of the two MSEs to y = r + gamma (1 - terminated) V(s')
 *          (V(s') from V before this step's update)
 *   actor: advantage-weighted regression, weights min(exp(beta (Q' - V)), 100),
 *          beta = 3, actor lr on a cosine schedule over the run
 *   targets: Polyak averaging with tau = 0.005 after every step.
 */
import type { TrajectoryArrays } from '../datasets/load-trajectories.js';
import { OffpolicyError } from '../core/errors.js';
import { Rng } from '../util/rng.js';
import { Actor, actionScale } from './actor.js';
import { checkDiscount, checkFinite, checkFiniteLoss, checkPositive, checkSteps, type CommonTrainOptions } from './config.js';
import { Adam, cosineLr, polyakUpdate } from '../nn/adam.js';
import { concatRows, initMlp, type MlpSpec } from '../nn/mlp.js';
import { WasmMlp } from '../nn/wasm-mlp.js';
import { computeNormStats, identityStats, type NormStats } from '../nn/normalization.js';
import { huberLoss, mseLoss, type LossResult } from '../nn/losses.js';
import { awrWeights, ensembleQuantile, expectileLoss, tdTargets, transformRewards } from './losses.js';
import type { ActorKind, MlpPolicy } from './policy.js';
import { buildTransitions, sampleBatch, type Batch, type TransitionSet } from './transitions.js';
import { runUpdates } from './train-loop.js';
import { checkConfig, checkStateAlgo, newState, putConfig, putNet, putRng, takeNet, takeRng, type LearnerState } from './learner.js';

export interface IqlOptions extends CommonTrainOptions {
  gamma?: number;
  /** Polyak rate of the target Q networks. */
  tau?: number;
  /** Expectile of the V loss. */
  expectile?: number;
  /** AWR inverse temperature. */
  beta?: number;
  /** Actor learning rate (cosine-annealed to 0 over `steps`). */
  actorLr?: number;
  /**
   * Rewards are multiplied by this before the TD targets (default 1). CORL
   * rescales locomotion rewards by 1000 / (max return - min return) so that
   * Q - V, and with it exp(beta (Q - V)), has a sensible scale.
   */
  rewardScale?: number;
  /**
   * Added to the scaled rewards before the TD targets (default 0). IQL's
   * official antmaze setting is -1: a sparse 0/1 goal reward becomes a cost of
   * 1 per step, so the value measures the distance to the goal.
   */
  rewardShift?: number;
}

/**
 * The RIQL variant's knobs (Yang et al., ICLR 2024). IQL is the special case
 * K = 2, quantile 0 (the min of the two heads), MSE Q loss, no TD clip,
 * normalization over observations only.
 */
export interface RobustIqlOptions {
  /** Number of Q heads K. */
  ensembleSize?: number;
  /** The V target is this alpha-quantile over the K target heads (0 = min). */
  quantile?: number;
  /**
   * Huber threshold of the Q loss; null for the squared error. The authors'
   * code takes `sigma` instead, with threshold 1 / sigma^2: their default
   * sigma 1 is threshold 1, their per-task sigma 0.1 / 0.5 / 3 are thresholds
   * 100 / 4 / 0.111.
   */
  huberDelta?: number | null;
  /** Clip of the TD targets; null for none. */
  tdClip?: readonly [number, number] | null;
  /** Normalization statistics over observations and next observations. */
  normalizeWithNext?: boolean;
}

export const IQL_DEFAULTS = {
  batchSize: 256,
  hidden: [256, 256] as readonly number[],
  lr: 3e-4,
  actorLr: 3e-4,
  gamma: 0.99,
  tau: 0.005,
  expectile: 0.7,
  beta: 3,
  normalize: true,
  actor: 'gaussian' as const,
};

/** IQL as a special case of the RIQL knobs: 2 heads, their min, squared error, no TD clip, observations only. */
export const IQL_ROBUST_DEFAULTS: Required<RobustIqlOptions> = {
  ensembleSize: 2,
  quantile: 0,
  huberDelta: null,
  tdClip: null,
  normalizeWithNext: false,
};

/** Resolved IQL / RIQL settings shared by the continuous and discrete learners (the actor kind is the continuous learner's own). */
export type IqlConfig = Required<Omit<IqlOptions, 'onProgress' | 'maxAction' | 'expectedActDim' | 'progressEvery' | 'actor'>> & Required<RobustIqlOptions>;

/**
 * Fills IQL / RIQL options from IQL_DEFAULTS and `robust` (the RIQL knobs' defaults: IQL_ROBUST_DEFAULTS or
 * RIQL_DEFAULTS; an option left undefined takes the default, an explicit null keeps null) and checks them.
 */
export function resolveIqlConfig(opts: IqlOptions & RobustIqlOptions, robust: Required<RobustIqlOptions>): IqlConfig {
  const pick = <K extends keyof RobustIqlOptions>(k: K): Required<RobustIqlOptions>[K] => (opts[k] === undefined ? robust[k] : (opts[k] as Required<RobustIqlOptions>[K]));
  const c: IqlConfig = {
    steps: opts.steps,
    seed: opts.seed,
    batchSize: opts.batchSize ?? IQL_DEFAULTS.batchSize,
    hidden: opts.hidden ?? IQL_DEFAULTS.hidden,
    lr: opts.lr ?? IQL_DEFAULTS.lr,
    actorLr: opts.actorLr ?? opts.lr ?? IQL_DEFAULTS.actorLr,
    gamma: opts.gamma ?? IQL_DEFAULTS.gamma,
    tau: opts.tau ?? IQL_DEFAULTS.tau,
    expectile: opts.expectile ?? IQL_DEFAULTS.expectile,
    beta: opts.beta ?? IQL_DEFAULTS.beta,
    normalize: opts.normalize ?? IQL_DEFAULTS.normalize,
    rewardScale: opts.rewardScale ?? 1,
    rewardShift: opts.rewardShift ?? 0,
    ensembleSize: pick('ensembleSize'),
    quantile: pick('quantile'),
    huberDelta: pick('huberDelta'),
    tdClip: pick('tdClip'),
    normalizeWithNext: pick('normalizeWithNext'),
  };
  if (!Number.isInteger(c.ensembleSize) || c.ensembleSize < 1) {
    throw new OffpolicyError('E_TRAIN_PARAM', `ensembleSize must be a positive integer, got ${c.ensembleSize}.`, { hint: 'RIQL uses 5 Q heads.' });
  }
  if (!(c.quantile >= 0 && c.quantile <= 1)) {
    throw new OffpolicyError('E_TRAIN_PARAM', `quantile must be in [0, 1], got ${c.quantile}.`, { hint: 'RIQL uses 0.25 (0.1 to 0.5 per task).' });
  }
  if (c.huberDelta !== null) checkPositive('huberDelta', c.huberDelta);
  if (!(c.expectile > 0 && c.expectile < 1)) {
    throw new OffpolicyError('E_TRAIN_PARAM', `expectile must be strictly between 0 and 1, got ${c.expectile}.`, { hint: 'IQL uses 0.7.' });
  }
  checkDiscount(c.gamma);
  for (const k of ['batchSize', 'lr', 'actorLr', 'tau', 'beta', 'rewardScale'] as const) checkPositive(k, c[k]);
  checkFinite('rewardShift', c.rewardShift);
  return c;
}

/** The V network's parameters, gradient buffer and optimizer. */
export interface ValueNet {
  params: Float32Array;
  grad: Float32Array;
  adam: Adam;
}

/**
 * IQL's V step, shared by the continuous and discrete learners: V(s) moves
 * towards the expectile of `qTarget`; V(s') is read before the step (the TD
 * targets bootstrap from V as it was). Returns V(s) (for the AWR weights),
 * V(s') and the loss.
 */
export function iqlValueStep(vNet: WasmMlp, v: ValueNet, obs: Float32Array, nextObs: Float32Array, n: number, qTarget: ArrayLike<number>, expectile: number): { v: Float32Array; nextV: Float32Array; loss: number } {
  const out = vNet.forward(v.params, obs, n);
  const nextV = vNet.infer(v.params, nextObs, n);
  const l = expectileLoss(out, qTarget, expectile);
  vNet.backward(l.grad, v.grad);
  v.adam.step(v.params, v.grad);
  return { v: out, nextV, loss: l.loss };
}

/** The Q heads' TD targets: the batch's rewards transformed in place (scale, shift), bootstrapped from V(s'), clipped when tdClip is set. */
export function iqlTdTargets(b: Batch, nextV: ArrayLike<number>, c: IqlConfig): Float32Array {
  transformRewards(b.rewards, c.rewardScale, c.rewardShift);
  return tdTargets(b.rewards, b.done, nextV, c.gamma, c.tdClip ?? undefined);
}

/** One Q head's loss against the TD targets (squared error, or RIQL's Huber), divided by the number of heads: the Q loss is their mean. */
export function iqlHeadLoss(pred: ArrayLike<number>, y: ArrayLike<number>, c: IqlConfig, heads: number): LossResult {
  const l = c.huberDelta === null ? mseLoss(pred, y) : huberLoss(pred, y, c.huberDelta);
  for (let i = 0; i < l.grad.length; i++) l.grad[i] = l.grad[i]! / heads;
  return { loss: l.loss / heads, grad: l.grad };
}

export interface IqlLosses extends Record<string, number> {
  v: number;
  q: number;
  actor: number;
}

interface QNet {
  params: Float32Array;
  target: Float32Array;
  grad: Float32Array;
  adam: Adam;
}

/** The IQL learner: holds every network and optimizer state; `update()` does one gradient step. */
export class IqlLearner {
  readonly cfg: IqlConfig & { actor: ActorKind };
  readonly algo: string;
  readonly stats: NormStats;
  readonly transitions: TransitionSet;
  readonly qSpec: MlpSpec;
  readonly vSpec: MlpSpec;
  readonly q: QNet[];
  readonly v: ValueNet;
  readonly actor: Actor;
  private readonly rng: Rng;
  private qNet: WasmMlp | null = null;
  private vNet: WasmMlp | null = null;
  step = 0;

  constructor(data: TrajectoryArrays, opts: IqlOptions & RobustIqlOptions, algo = 'iql') {
    checkSteps(opts.steps);
    this.algo = algo;
    this.cfg = { ...resolveIqlConfig(opts, IQL_ROBUST_DEFAULTS), actor: opts.actor ?? IQL_DEFAULTS.actor };
    const d = data.obsDim;
    const sources = this.cfg.normalizeWithNext && data.nextObservations ? [data.observations, data.nextObservations] : [data.observations];
    this.stats = this.cfg.normalize ? computeNormStats(sources, d) : identityStats(d);
    this.transitions = buildTransitions(data, this.stats, { needNext: true, algo, expectedActDim: opts.expectedActDim });
    const m = data.actDim;
    const rng = new Rng(`${algo}:${opts.seed}`);
    this.qSpec = { sizes: [d + m, ...this.cfg.hidden, 1], output: 'linear' };
    this.vSpec = { sizes: [d, ...this.cfg.hidden, 1], output: 'linear' };
    const makeQ = (label: string): QNet => {
      const params = initMlp(this.qSpec, rng.fork(label));
      return { params, target: Float32Array.from(params), grad: new Float32Array(params.length), adam: new Adam(params.length, { lr: this.cfg.lr }) };
    };
    this.q = Array.from({ length: this.cfg.ensembleSize }, (_, k) => makeQ(`q${k + 1}`));
    const vParams = initMlp(this.vSpec, rng.fork('v'));
    this.v = { params: vParams, grad: new Float32Array(vParams.length), adam: new Adam(vParams.length, { lr: this.cfg.lr }) };
    const scale = actionScale(this.transitions.actions, m, opts.maxAction);
    this.actor = new Actor(d, m, this.cfg.hidden, this.cfg.actor, scale, this.cfg.actorLr, rng.fork('actor'));
    this.rng = rng.fork('batches');
  }

  /** One IQL update (V, then every Q head, then the actor, then the targets). */
  update(): IqlLosses {
    const c = this.cfg;
    const B = c.batchSize;
    const t = this.transitions;
    const d = t.obsDim;
    const m = t.actDim;
    const b = sampleBatch(t, B, this.rng);
    const sa = concatRows(b.obs, d, b.actions, m, B);
    // One engine per network shape: the Q heads and their targets run one after the other.
    this.qNet ??= new WasmMlp(this.qSpec);
    this.vNet ??= new WasmMlp(this.vSpec);
    const qNet = this.qNet;
    const vNet = this.vNet;
    const K = this.q.length;
    const heads = new Float32Array(B * K);
    this.q.forEach((head, k) => {
      const qk = qNet.infer(head.target, sa, B);
      for (let i = 0; i < B; i++) heads[i * K + k] = qk[i]!;
    });
    // quantile 0 is the min over the heads (IQL's min of two)
    const qTarget = ensembleQuantile(heads, B, K, c.quantile);

    const V = iqlValueStep(vNet, this.v, b.obs, b.nextObs!, B, qTarget, c.expectile);
    const y = iqlTdTargets(b, V.nextV, c);
    let qLoss = 0;
    for (const head of this.q) {
      const l = iqlHeadLoss(qNet.forward(head.params, sa, B), y, c, K);
      qLoss += l.loss;
      qNet.backward(l.grad, head.grad);
      head.adam.step(head.params, head.grad);
    }

    const w = awrWeights(qTarget, V.v, c.beta);
    const actorLoss = this.actor.step(b.obs, b.actions, w, cosineLr(c.actorLr, this.step, c.steps));
    const losses: IqlLosses = { v: V.loss, q: qLoss, actor: actorLoss };
    for (const head of this.q) polyakUpdate(head.target, head.params, c.tau);
    this.step++;
    checkFiniteLoss(losses, this.step);
    return losses;
  }

  policy(training?: Record<string, unknown>): MlpPolicy {
    return this.actor.toPolicy(this.algo, this.stats, training ?? { algo: this.algo, steps: this.step, config: { ...this.cfg } });
  }

  /** Checkpoint (learner.ts): every Q head (params, target, Adam), V, the actor and the batch rng. */
  getState(): LearnerState {
    const s = newState(this.algo, this.step);
    putConfig(s, this.cfg);
    this.q.forEach((head, k) => putNet(s, `q${k}`, head));
    putNet(s, 'v', this.v);
    this.actor.putState(s);
    putRng(s, 'rng.batches', this.rng);
    return s;
  }

  setState(s: LearnerState): void {
    checkStateAlgo(s, this.algo);
    checkConfig(s, this.cfg);
    this.q.forEach((head, k) => takeNet(s, `q${k}`, head));
    takeNet(s, 'v', this.v);
    this.actor.takeState(s);
    takeRng(s, 'rng.batches', this.rng);
    this.step = s.step;
  }
}

export const RIQL_DEFAULTS: Required<RobustIqlOptions> = {
  ensembleSize: 5,
  quantile: 0.25,
  huberDelta: 1,
  tdClip: [-100, 1000],
  normalizeWithNext: true,
};

/** Trains IQL for `opts.steps` updates and returns the policy and the last losses. */
export async function trainIql(data: TrajectoryArrays, opts: IqlOptions): Promise<{ policy: MlpPolicy; losses: IqlLosses; learner: IqlLearner }> {
  return runIql(data, opts, 'iql');
}

/**
 * Robust IQL (Yang et al., ICLR 2024): IQL with K = 5 Q heads, the V target the
 * alpha = 0.25 quantile over the target heads, Huber Q loss (delta 1), TD
 * targets clipped to [-100, 1000], normalization over observations and next
 * observations. Every RIQL knob can be overridden.
 */
export async function trainRiql(data: TrajectoryArrays, opts: IqlOptions & RobustIqlOptions): Promise<{ policy: MlpPolicy; losses: IqlLosses; learner: IqlLearner }> {
  return runIql(data, { ...RIQL_DEFAULTS, ...definedOnly(opts), steps: opts.steps, seed: opts.seed }, 'riql');
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

async function runIql(data: TrajectoryArrays, opts: IqlOptions & RobustIqlOptions, algo: string): Promise<{ policy: MlpPolicy; losses: IqlLosses; learner: IqlLearner }> {
  return runUpdates(new IqlLearner(data, opts, algo), { v: NaN, q: NaN, actor: NaN } as IqlLosses, opts);
}
