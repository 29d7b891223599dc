/**
 * Discrete-action Implicit Q-Learning (Kostrikov et al. 2022) with Robust IQL's
 * knobs (Yang et al. 2024), the discrete form of ../iql.ts:
 *   Q_k:   one network per head with K outputs Q_k(s, .); the loss uses the
 *          logged action's output, Q_k(s, a), against
 *          y = r + gamma (1 - terminated) V(s') (MSE, or Huber for RIQL)
 *   V:     expectile loss (tau = 0.7) of u = Q'(s, a) - V(s), with Q'(s, a) the
 *          min over the target heads (IQL) or their alpha-quantile (RIQL)
 *   actor: a categorical policy fit by advantage-weighted cross-entropy,
 *          weights min(exp(beta (Q'(s, a) - V(s))), 100), beta = 3, actor lr on a
 *          cosine schedule
 *   targets: Polyak averaging (tau = 0.005) after every step.
 * Defaults are IQL_DEFAULTS / RIQL_DEFAULTS of ../iql.ts.
 */
import type { TrajectoryArrays } from '../../datasets/load-trajectories.js';
import { Rng } from '../../util/rng.js';
import { checkFiniteLoss, checkSteps } from '../config.js';
import { Adam, cosineLr, polyakUpdate } from '../../nn/adam.js';
import { initMlp, type MlpSpec } from '../../nn/mlp.js';
import { WasmMlp } from '../../nn/wasm-mlp.js';
import { computeNormStats, identityStats, type NormStats } from '../../nn/normalization.js';
import { IQL_ROBUST_DEFAULTS, RIQL_DEFAULTS, iqlHeadLoss, iqlTdTargets, iqlValueStep, resolveIqlConfig, type IqlLosses, type IqlOptions, type RobustIqlOptions, type ValueNet } from '../iql.js';
import { checkConfig, checkStateAlgo, newState, putConfig, putNet, putRng, takeNet, takeRng, type LearnerState } from '../learner.js';
import { awrWeights, ensembleQuantile } from '../losses.js';
import { runUpdates } from '../train-loop.js';
import { sampleBatch } from '../transitions.js';
import { CategoricalActor } from './categorical-actor.js';
import type { CategoricalMlpPolicy } from './categorical-policy.js';
import { checkDiscreteOptions, discreteConfig, type DiscreteCommonOptions } from './config.js';
import { batchActionIndices, buildDiscreteTransitions, gatherActions, scatterActions, type DiscreteTransitionSet } from './transitions.js';

export type DiscreteIqlOptions = DiscreteCommonOptions & Pick<IqlOptions, 'gamma' | 'tau' | 'expectile' | 'beta' | 'actorLr' | 'rewardScale' | 'rewardShift'> & RobustIqlOptions;

interface QNet {
  params: Float32Array;
  target: Float32Array;
  grad: Float32Array;
  adam: Adam;
}

type Config = Required<Omit<DiscreteIqlOptions, 'onProgress' | 'progressEvery'>>;

export class DiscreteIqlLearner {
  readonly algo: string;
  readonly cfg: Config;
  readonly stats: NormStats;
  readonly transitions: DiscreteTransitionSet;
  readonly numActions: number;
  readonly qSpec: MlpSpec;
  readonly vSpec: MlpSpec;
  readonly q: QNet[];
  readonly v: ValueNet;
  readonly actor: CategoricalActor;
  private readonly rng: Rng;
  private qNet: WasmMlp | null = null;
  private vNet: WasmMlp | null = null;
  step = 0;

  /** `variant` 'riql' starts from RIQL_DEFAULTS (5 heads, 0.25-quantile, Huber 1, TD clip, normalization with next observations). */
  constructor(data: TrajectoryArrays, opts: DiscreteIqlOptions, variant: 'iql' | 'riql' = 'iql') {
    checkSteps(opts.steps);
    checkDiscreteOptions(opts, variant);
    this.algo = `${variant}-discrete`;
    this.cfg = resolveIqlConfig(opts, variant === 'riql' ? RIQL_DEFAULTS : IQL_ROBUST_DEFAULTS);
    const c = this.cfg;
    const d = data.obsDim;
    const sources = c.normalizeWithNext && data.nextObservations ? [data.observations, data.nextObservations] : [data.observations];
    this.stats = c.normalize ? computeNormStats(sources, d) : identityStats(d);
    this.transitions = buildDiscreteTransitions(data, this.stats, { needNext: true, algo: variant });
    const K = (this.numActions = this.transitions.numActions);
    const rng = new Rng(`${this.algo}:${opts.seed}`);
    this.qSpec = { sizes: [d, ...c.hidden, K], output: 'linear' };
    this.vSpec = { sizes: [d, ...c.hidden, 1], output: 'linear' };
    const makeQ = (label: string): QNet => {
      const params = initMlp(this.qSpec, rng.fork(label));
      return { params, target: Float32Array.from(params), grad: new Float32Array(params.length), adam: new Adam(params.length, { lr: c.lr }) };
    };
    this.q = Array.from({ length: c.ensembleSize }, (_, k) => makeQ(`q${k + 1}`));
    const vParams = initMlp(this.vSpec, rng.fork('v'));
    this.v = { params: vParams, grad: new Float32Array(vParams.length), adam: new Adam(vParams.length, { lr: c.lr }) };
    this.actor = new CategoricalActor(d, K, c.hidden, c.actorLr, rng.fork('actor'));
    this.rng = rng.fork('batches');
  }

  /** One update: V, then every Q head, then the actor, then the targets. */
  update(): IqlLosses {
    const c = this.cfg;
    const B = c.batchSize;
    const K = this.numActions;
    const b = sampleBatch(this.transitions, B, this.rng);
    const actions = batchActionIndices(b);
    // One engine per network shape: the Q heads and their targets run one after the other.
    this.qNet ??= new WasmMlp(this.qSpec);
    this.vNet ??= new WasmMlp(this.vSpec);
    const qNet = this.qNet;
    const vNet = this.vNet;
    const xs = b.obs;
    const E = this.q.length;
    const heads = new Float32Array(B * E);
    this.q.forEach((head, k) => {
      const qa = gatherActions(qNet.infer(head.target, xs, B), actions, K);
      for (let i = 0; i < B; i++) heads[i * E + k] = qa[i]!;
    });
    // quantile 0 is the min over the heads (IQL's min of two)
    const qTarget = ensembleQuantile(heads, B, E, c.quantile);

    const V = iqlValueStep(vNet, this.v, xs, b.nextObs!, B, qTarget, c.expectile);
    const y = iqlTdTargets(b, V.nextV, c);
    let qLoss = 0;
    for (const head of this.q) {
      const l = iqlHeadLoss(gatherActions(qNet.forward(head.params, xs, B), actions, K), y, c, E);
      qLoss += l.loss;
      qNet.backward(scatterActions(l.grad, actions, K), head.grad);
      head.adam.step(head.params, head.grad);
    }

    const w = awrWeights(qTarget, V.v, c.beta);
    const actorLoss = this.actor.step(xs, actions, w, cosineLr(c.actorLr, this.step, c.steps));
    const losses: IqlLosses = { v: V.loss, q: qLoss, actor: actorLoss };
    for (const head of this.q) polyakUpdate(head.target, head.params, c.tau);
    this.step++;
    checkFiniteLoss(losses, this.step);
    return losses;
  }

  policy(): CategoricalMlpPolicy {
    return this.actor.toPolicy(this.algo, this.stats, { algo: this.algo, steps: this.step, config: { ...this.cfg } });
  }

  /** Q(s, .) of the first online head for n observations (raw, unnormalized), n x K: for inspection and tests. */
  qValues(obs: Float32Array, n: number, head = 0): Float32Array {
    const d = this.transitions.obsDim;
    const x = new Float32Array(n * d);
    for (let i = 0; i < x.length; i++) x[i] = (obs[i]! - this.stats.mean[i % d]!) / this.stats.std[i % d]!;
    this.qNet ??= new WasmMlp(this.qSpec);
    return this.qNet.infer(this.q[head]!.params, x, n);
  }

  private config(): object {
    return discreteConfig(this.cfg);
  }

  /** Checkpoint (learner.ts): every Q head (params, target, Adam), V, the actor and the batch rng. */
  getState(): LearnerState {
    const s = newState(this.algo, this.step);
    putConfig(s, this.config());
    this.q.forEach((head, k) => putNet(s, `q${k}`, head));
    putNet(s, 'v', this.v);
    this.actor.putState(s);
    putRng(s, 'rng.batches', this.rng);
    return s;
  }

  setState(s: LearnerState): void {
    checkStateAlgo(s, this.algo);
    checkConfig(s, this.config());
    this.q.forEach((head, k) => takeNet(s, `q${k}`, head));
    takeNet(s, 'v', this.v);
    this.actor.takeState(s);
    takeRng(s, 'rng.batches', this.rng);
    this.step = s.step;
  }
}

/** Trains discrete IQL (or, with variant 'riql', discrete Robust IQL) for `opts.steps` updates. */
export async function trainDiscreteIql(
  data: TrajectoryArrays,
  opts: DiscreteIqlOptions,
  variant: 'iql' | 'riql' = 'iql',
): Promise<{ policy: CategoricalMlpPolicy; losses: IqlLosses; learner: DiscreteIqlLearner }> {
  return runUpdates(new DiscreteIqlLearner(data, opts, variant), { v: NaN, q: NaN, actor: NaN } as IqlLosses, opts);
}
