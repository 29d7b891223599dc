/**
 * TD3+BC (Fujimoto and Gu, NeurIPS 2021), following CORL's td3_bc.py:
 *   critics: twin Q, y = r + gamma (1 - terminated) min(Q1', Q2')(s', a'),
 *            a' = clip(pi'(s') + clip(0.2 maxAction N(0, 1), +-0.5 maxAction), +-maxAction);
 *            loss = MSE(Q1, y) + MSE(Q2, y)
 *   actor (every 2nd step): -lambda mean Q1(s, pi(s)) + mean (pi(s) - a)^2,
 *            lambda = alpha / mean |Q1(s, pi(s))| (not differentiated), alpha = 2.5;
 *            then Polyak updates (tau 0.005) of the actor and both critics' targets.
 *
 * PRDC (Ran et al., ICML 2023) is the same learner with the BC target replaced
 * by a dataset constraint: the action a_hat of the nearest neighbour of
 * [beta s, pi(s)] among all dataset keys [beta s_j, a_j] (KD-tree, k = 1,
 * beta = 2, s normalized), i.e. actor loss -lambda Q1 + mean (pi(s) - a_hat)^2.
 */
import type { TrajectoryArrays } from '../datasets/load-trajectories.js';
import { Rng } from '../util/rng.js';
import { Actor, actionScale } from './actor.js';
import { checkDiscount, checkFinite, checkFiniteLoss, checkPositive, checkSteps, type CommonTrainOptions } from './config.js';
import { Adam, polyakUpdate } from '../nn/adam.js';
import { concatRows, initMlp, type MlpSpec } from '../nn/mlp.js';
import { WasmMlp } from '../nn/wasm-mlp.js';
import { computeNormStats, identityStats, type NormStats } from '../nn/normalization.js';
import { mseLoss } from '../nn/losses.js';
import { elementMin, tdTargets, transformRewards } from './losses.js';
import type { MlpPolicy } from './policy.js';
import { KdTree } from './kdtree.js';
import { buildTransitions, sampleBatch, type TransitionSet } from './transitions.js';
import { runUpdates } from './train-loop.js';
import {
  checkConfig,
  checkStateAlgo,
  newState,
  numberFromJson,
  numberToJson,
  putBuffer,
  putConfig,
  putNet,
  putRng,
  takeBuffer,
  takeNet,
  takeRng,
  takeScalar,
  type LearnerState,
} from './learner.js';

export interface Td3BcOptions extends Omit<CommonTrainOptions, 'actor'> {
  gamma?: number;
  tau?: number;
  /** BC trade-off alpha (lambda = alpha / mean |Q|). */
  alpha?: number;
  /** Target policy noise std, as a fraction of maxAction. */
  policyNoise?: number;
  /** Clip of the target policy noise, as a fraction of maxAction. */
  noiseClip?: number;
  /** Actor (and target) update every this many critic steps. */
  policyFreq?: number;
  rewardScale?: number;
  /** Added to the scaled rewards before the TD targets (default 0; see IqlOptions.rewardShift). */
  rewardShift?: number;
}

export interface PrdcOptions extends Td3BcOptions {
  /** Weight of the state in the nearest-neighbour keys [beta s, a]. */
  prdcBeta?: number;
}

export const PRDC_DEFAULTS = { prdcBeta: 2, alpha: 2.5 };

export const TD3BC_DEFAULTS = {
  batchSize: 256,
  hidden: [256, 256] as readonly number[],
  lr: 3e-4,
  gamma: 0.99,
  tau: 0.005,
  alpha: 2.5,
  policyNoise: 0.2,
  noiseClip: 0.5,
  policyFreq: 2,
  normalize: true,
};

interface Critic {
  params: Float32Array;
  target: Float32Array;
  grad: Float32Array;
  adam: Adam;
}

export class Td3BcLearner {
  readonly cfg: Required<Omit<Td3BcOptions, 'onProgress' | 'maxAction' | 'expectedActDim' | 'progressEvery'>>;
  readonly stats: NormStats;
  readonly transitions: TransitionSet;
  readonly qSpec: MlpSpec;
  readonly q: Critic[];
  readonly actor: Actor;
  readonly actorTarget: Float32Array;
  private readonly scratch: Float32Array;
  private readonly rng: Rng;
  private readonly noiseRng: Rng;
  private qNet: WasmMlp | null = null;
  private lastActorLoss = NaN;
  /** PRDC: the KD-tree over [beta s_j, a_j] of every transition (null for TD3+BC). */
  readonly constraint: { tree: KdTree; beta: number } | null = null;
  readonly algo: 'td3bc' | 'prdc';
  step = 0;

  constructor(data: TrajectoryArrays, opts: PrdcOptions, algo: 'td3bc' | 'prdc' = 'td3bc') {
    checkSteps(opts.steps);
    this.algo = algo;
    this.cfg = {
      steps: opts.steps,
      seed: opts.seed,
      batchSize: opts.batchSize ?? TD3BC_DEFAULTS.batchSize,
      hidden: opts.hidden ?? TD3BC_DEFAULTS.hidden,
      lr: opts.lr ?? TD3BC_DEFAULTS.lr,
      gamma: opts.gamma ?? TD3BC_DEFAULTS.gamma,
      tau: opts.tau ?? TD3BC_DEFAULTS.tau,
      alpha: opts.alpha ?? TD3BC_DEFAULTS.alpha,
      policyNoise: opts.policyNoise ?? TD3BC_DEFAULTS.policyNoise,
      noiseClip: opts.noiseClip ?? TD3BC_DEFAULTS.noiseClip,
      policyFreq: opts.policyFreq ?? TD3BC_DEFAULTS.policyFreq,
      normalize: opts.normalize ?? TD3BC_DEFAULTS.normalize,
      rewardScale: opts.rewardScale ?? 1,
      rewardShift: opts.rewardShift ?? 0,
    };
    for (const k of ['batchSize', 'lr', 'tau', 'alpha', 'policyFreq', 'rewardScale'] as const) checkPositive(k, this.cfg[k]);
    checkFinite('rewardShift', this.cfg.rewardShift);
    checkDiscount(this.cfg.gamma);
    const d = data.obsDim;
    const m = data.actDim;
    this.stats = this.cfg.normalize ? computeNormStats([data.observations], d) : identityStats(d);
    this.transitions = buildTransitions(data, this.stats, { needNext: true, algo, expectedActDim: opts.expectedActDim });
    const rng = new Rng(`${algo}:${opts.seed}`);
    if (algo === 'prdc') {
      const beta = opts.prdcBeta ?? PRDC_DEFAULTS.prdcBeta;
      checkPositive('prdcBeta', beta);
      const t = this.transitions;
      const keys = new Float32Array(t.rows.length * (d + m));
      for (let k = 0; k < t.rows.length; k++) {
        const r = t.rows[k]!;
        for (let j = 0; j < d; j++) keys[k * (d + m) + j] = beta * t.obs[r * d + j]!;
        for (let j = 0; j < m; j++) keys[k * (d + m) + d + j] = t.actions[r * m + j]!;
      }
      this.constraint = { tree: new KdTree(keys, d + m), beta };
    }
    this.qSpec = { sizes: [d + m, ...this.cfg.hidden, 1], output: 'linear' };
    const makeQ = (label: string): Critic => {
      const params = initMlp(this.qSpec, rng.fork(label));
      return { params, target: Float32Array.from(params), grad: new Float32Array(params.length), adam: new Adam(params.length, { lr: this.cfg.lr }) };
    };
    this.q = [makeQ('q1'), makeQ('q2')];
    this.scratch = new Float32Array(this.q[0]!.params.length);
    this.actor = new Actor(d, m, this.cfg.hidden, 'deterministic', actionScale(this.transitions.actions, m, opts.maxAction), this.cfg.lr, rng.fork('actor'));
    this.actorTarget = Float32Array.from(this.actor.params);
    this.rng = rng.fork('batches');
    this.noiseRng = rng.fork('noise');
  }

  update(): { q: number; actor: number } {
    const c = this.cfg;
    const B = c.batchSize;
    const d = this.transitions.obsDim;
    const m = this.transitions.actDim;
    const maxA = this.actor.maxAction;
    const b = sampleBatch(this.transitions, B, this.rng);
    const policyStep = (this.step + 1) % c.policyFreq === 0;
    // One engine for both critics and their targets (they run one after the other); the actor's own for the actor and its target.
    this.qNet ??= new WasmMlp(this.qSpec);
    const qNet = this.qNet;
    const aNet = this.actor.engine;
    const nextPi = aNet.infer(this.actorTarget, b.nextObs!, B);
    const nextA = new Float32Array(B * m);
    for (let k = 0; k < B * m; k++) {
      const j = k % m;
      const lim = c.noiseClip * maxA[j]!;
      const noise = Math.min(lim, Math.max(-lim, c.policyNoise * maxA[j]! * this.noiseRng.normal()));
      nextA[k] = Math.min(maxA[j]!, Math.max(-maxA[j]!, nextPi[k]! * maxA[j]! + noise));
    }
    const xna = concatRows(b.nextObs!, d, nextA, m, B);
    const qt1 = qNet.infer(this.q[0]!.target, xna, B);
    const qt2 = qNet.infer(this.q[1]!.target, xna, B);
    transformRewards(b.rewards, c.rewardScale, c.rewardShift);
    const y = tdTargets(b.rewards, b.done, elementMin(qt1, qt2), c.gamma);
    const xsa = concatRows(b.obs, d, b.actions, m, B);
    let qLoss = 0;
    for (const head of this.q) {
      const l = mseLoss(qNet.forward(head.params, xsa, B), y);
      qLoss += l.loss;
      qNet.backward(l.grad, head.grad);
      head.adam.step(head.params, head.grad);
    }
    let losses: { q: number; actor: number };
    if (!policyStep) losses = { q: qLoss, actor: this.lastActorLoss };
    else {
      const y01 = aNet.forward(this.actor.params, b.obs, B);
      const pi = new Float32Array(B * m);
      for (let k = 0; k < B * m; k++) pi[k] = y01[k]! * maxA[k % m]!;
      const qPi = qNet.forward(this.q[0]!.params, concatRows(b.obs, d, pi, m, B), B);
      let meanAbs = 0;
      let meanQ = 0;
      for (let i = 0; i < B; i++) {
        meanAbs += Math.abs(qPi[i]!) / B;
        meanQ += qPi[i]! / B;
      }
      const lambda = c.alpha / meanAbs;
      const dQ = new Float32Array(B).fill(-lambda / B);
      const dInput = qNet.backward(dQ, this.scratch, true)!;
      // BC target: the logged action (TD3+BC) or the nearest dataset action to [beta s, pi(s)] (PRDC)
      let target: Float32Array = b.actions;
      if (this.constraint) {
        const { tree, beta } = this.constraint;
        target = new Float32Array(B * m);
        const q = new Float32Array(d + m);
        for (let i = 0; i < B; i++) {
          for (let j = 0; j < d; j++) q[j] = beta * b.obs[i * d + j]!;
          for (let j = 0; j < m; j++) q[d + j] = pi[i * m + j]!;
          const r = this.transitions.rows[tree.nearest(q).index]!;
          target.set(this.transitions.actions.subarray(r * m, (r + 1) * m), i * m);
        }
      }
      let bc = 0;
      const gradPi = new Float32Array(B * m);
      for (let i = 0; i < B; i++) {
        for (let j = 0; j < m; j++) {
          const k = i * m + j;
          const diff = pi[k]! - target[k]!;
          bc += (diff * diff) / (B * m);
          // dLoss/dpi, then through the maxAction scale to the tanh output
          gradPi[k] = (dInput[i * (d + m) + d + j]! + (2 * diff) / (B * m)) * maxA[j]!;
        }
      }
      aNet.backward(gradPi, this.actor.grad);
      this.actor.adam.step(this.actor.params, this.actor.grad);
      losses = { q: qLoss, actor: -lambda * meanQ + bc };
    }
    if (policyStep) {
      this.lastActorLoss = losses.actor;
      polyakUpdate(this.actorTarget, this.actor.params, c.tau);
      for (const head of this.q) polyakUpdate(head.target, head.params, c.tau);
    }
    this.step++;
    checkFiniteLoss({ q: losses.q }, this.step);
    return losses;
  }

  policy(): MlpPolicy {
    return this.actor.toPolicy(this.algo, this.stats, {
      algo: this.algo,
      steps: this.step,
      config: { ...this.cfg, ...(this.constraint ? { prdcBeta: this.constraint.beta } : {}) },
    });
  }

  /** Checkpoint (learner.ts): both critics (params, target, Adam), actor and its target, both rngs, the cached actor loss. */
  getState(): LearnerState {
    const s = newState(this.algo, this.step);
    putConfig(s, { ...this.cfg, ...(this.constraint ? { prdcBeta: this.constraint.beta } : {}) });
    this.q.forEach((head, k) => putNet(s, `q${k}`, head));
    this.actor.putState(s);
    putBuffer(s, 'actor.target', this.actorTarget);
    putRng(s, 'rng.batches', this.rng);
    putRng(s, 'rng.noise', this.noiseRng);
    s.scalars.lastActorLoss = numberToJson(this.lastActorLoss);
    return s;
  }

  setState(s: LearnerState): void {
    checkStateAlgo(s, this.algo);
    checkConfig(s, { ...this.cfg, ...(this.constraint ? { prdcBeta: this.constraint.beta } : {}) });
    this.q.forEach((head, k) => takeNet(s, `q${k}`, head));
    this.actor.takeState(s);
    takeBuffer(s, 'actor.target', this.actorTarget);
    takeRng(s, 'rng.batches', this.rng);
    takeRng(s, 'rng.noise', this.noiseRng);
    this.lastActorLoss = numberFromJson(takeScalar(s, 'lastActorLoss'));
    this.step = s.step;
  }
}

type TrainOutput = { policy: MlpPolicy; losses: { q: number; actor: number }; learner: Td3BcLearner };

export async function trainTd3Bc(data: TrajectoryArrays, opts: Td3BcOptions): Promise<TrainOutput> {
  return runTd3(data, opts, 'td3bc');
}

/** PRDC: TD3 with the nearest-neighbour dataset constraint (beta 2, alpha 2.5 by default). */
export async function trainPrdc(data: TrajectoryArrays, opts: PrdcOptions): Promise<TrainOutput> {
  return runTd3(data, opts, 'prdc');
}

async function runTd3(data: TrajectoryArrays, opts: PrdcOptions, algo: 'td3bc' | 'prdc'): Promise<TrainOutput> {
  return runUpdates(new Td3BcLearner(data, opts, algo), { q: NaN, actor: NaN }, opts);
}
