/**
 * Learns a linear policy from a bandit log by minimising an objective with Adam
 * on minibatches, then certifies it (./certificate.ts).
 *
 * Parameters theta = (W, b), K x (d + 1). Posterior Q = N(mu, sigma^2 I), prior
 * P = N(mu_0, I) with mu_0 the logger's parameters when given (same linear form),
 * else 0; KL(Q || P) = (1/2) [K (d + 1) (sigma^2 - 2 ln sigma - 1) + |mu - mu_0|^2].
 * sigma is learned (through ln sigma) for the Gibbs classes. For the plain softmax
 * class the bound objectives use the posterior N(mu, I), so the KL is the L2 penalty
 * |mu - mu_0|^2 / 2: a training surrogate, its certificate is on held-out rows.
 *
 * Rewards are rescaled to r' = (r - lo) / (hi - lo) in [0, 1] and costs c = -r'.
 * The range is `rewardRange` when given (rewards outside it are an error), else
 * [0, 1] when every reward lies in it, else the observed [min, max].
 *
 * Same inputs and seed, same bytes: every random step (shuffles, Monte Carlo
 * draws, the held-out split) comes from the seeded Rng.
 */
import { dataError, OffpolicyError } from '../core/errors.js';
import type { BanditArrays } from '../datasets/load-bandit.js';
import { linearClassProbs, fixedMixedLogitNoise, LinearGibbsKernel, type LinearParams, type LinearPolicyClass, type MixedLogitNoise } from '../policies/linear-gibbs.js';
import { Adam } from '../nn/adam.js';
import { Rng } from '../util/rng.js';
import { LinearMapWasmF32 } from './linear-f32.js';
import { buildCertificate, CERTIFICATE_BOUNDS, type CertificateBound, type LearnedCertificate } from './certificate.js';
import { BOUND_OBJECTIVES, evaluateObjective, NEEDS_LOGGING_PROBS, objectiveSettings, OBJECTIVES, type ObjectiveBatch, type ObjectiveName, type ObjectiveOutput, type ObjectiveSettings } from './objectives.js';

/** The columns of the bandit log (datasets' one array type) that learning reads. */
export type LearningLog = Pick<BanditArrays, 'n' | 'numActions' | 'contextDim' | 'contexts' | 'actions' | 'rewards' | 'propensities' | 'actionProbs' | 'features'>;

export const POLICY_CLASSES = ['softmax', 'mixed-logit', 'gaussian'] as const;
export type PolicyClassName = (typeof POLICY_CLASSES)[number];

export interface LearnOptions {
  objective: ObjectiveName;
  policyClass: PolicyClassName;
  /** Default 0.05. */
  delta?: number;
  /** Default 20. */
  epochs?: number;
  /** Default 128. */
  batchSize?: number;
  /** Adam step size; default 0.01. */
  learningRate?: number;
  seed?: number;
  /** Exponential-smoothing alpha; default 1 - n^(-1/4). */
  alpha?: number;
  /** Propensity clip; default n^(-1/4). */
  tau?: number;
  rewardRange?: [number, number];
  /** The prior mean mu_0 (the logger's parameters), K x d weights and K biases; default 0. */
  prior?: { weights: Float64Array; bias: Float64Array };
  /** Initial posterior scale (Gibbs classes); default 0.5. */
  initialSigma?: number;
  /** Monte Carlo draws per row in training (mixed-logit); default 8. */
  trainSamples?: number;
  /** Fixed draws of the stored mixed-logit policy (and its certificate); default 128. */
  policySamples?: number;
  /** Gauss-Hermite nodes (probit); default 20. */
  quadratureNodes?: number;
  /** The bound of the certificate; default the objective's own, catoni for the baselines. */
  certificate?: CertificateBound;
  /**
   * Arithmetic of the training products (scores and weight gradient): 'f32' (default) on the
   * wasm SIMD kernel, 'f64' the scalar loops. The certificate is computed in f64 either way.
   */
  precision?: 'f32' | 'f64';
  /** Share of rows held out for the softmax certificate; default 0.25. */
  holdout?: number;
  onProgress?: (done: number, total: number, stage?: string) => void;
}

export type LearnedPolicySpec = Record<string, unknown> & { type: string };

export interface LearnResult {
  policy: LearnedPolicySpec;
  params: LinearParams;
  policyClass: PolicyClassName;
  objective: ObjectiveName;
  kl: number;
  certificate: LearnedCertificate;
  metrics: Record<string, unknown>[];
  settings: Record<string, unknown>;
}

const kernelClass = (c: PolicyClassName): LinearPolicyClass => (c === 'gaussian' ? 'probit' : c);

function fail(code: string, message: string, hint: string): never {
  throw new OffpolicyError(code, message, { hint });
}

/** Checks the log against the objective; returns the reward range. */
export function checkLearningLog(log: LearningLog, objective: ObjectiveName, rewardRange?: [number, number], certificate?: CertificateBound): [number, number] {
  const { n, numActions: k, contextDim: d } = log;
  if (!(n >= 1)) fail('E_TOO_FEW_ROWS', 'The log is empty: learning a policy needs logged rows.', 'Pass a log with rows.');
  if (!(k >= 2)) fail('E_ACTION_SPACE', `The log has a single action (K = ${k}): there is no policy to learn.`, 'Learning needs at least two actions.');
  if (!(d >= 1)) fail('E_CONTEXT_DIM', 'The log has no context features: a linear policy needs contexts.', 'Use a log with a context column, or pick feature columns with --context-columns.');
  if (log.contexts.length !== n * d) fail('E_CONTEXT_DIM', `The contexts hold ${log.contexts.length} values, but n x d = ${n} x ${d} = ${n * d}.`, 'Every row needs d context features.');
  if (log.actions.length !== n || log.rewards.length !== n) fail('E_SHAPE', `actions and rewards need n = ${n} entries, got ${log.actions.length} and ${log.rewards.length}.`, 'Pass one action and one reward per row.');
  const bad = (test: (i: number) => boolean): { count: number; rows: number[] } => {
    let count = 0;
    const rows: number[] = [];
    for (let i = 0; i < n; i++) {
      if (test(i)) {
        count++;
        if (rows.length < 5) rows.push(i);
      }
    }
    return { count, rows };
  };
  const ctx = bad((i) => {
    for (let j = 0; j < d; j++) if (!Number.isFinite(log.contexts[i * d + j]!)) return true;
    return false;
  });
  if (ctx.count > 0) throw dataError('E_NONFINITE_CONTEXT', 'context features are finite', ctx.count, ctx.rows, 'Impute or drop rows with NaN or infinite features before learning.');
  const act = bad((i) => !(log.actions[i]! >= 0 && log.actions[i]! < k) || !Number.isInteger(log.actions[i]!));
  if (act.count > 0) throw dataError('E_ACTION_SPACE', `action in 0..${k - 1}`, act.count, act.rows, 'Actions must index the action space.');
  // Every certificate (and every objective but dm) weighs by the logged propensity.
  if (!log.propensities) fail('E_MISSING_COLUMN', 'The log has no "propensity" column: importance weights and every certificate need the logged propensity pi0(a_i|x_i).', 'Log the propensity of the chosen action.');
  const pr = bad((i) => !(log.propensities![i]! > 0 && log.propensities![i]! <= 1));
  if (pr.count > 0) throw dataError('E_PROPENSITY', 'propensity in (0, 1]', pr.count, pr.rows, 'Fix or drop rows with zero, negative, missing or > 1 propensities.');
  const needsProbs = NEEDS_LOGGING_PROBS.includes(objective) || (certificate !== undefined && NEEDS_LOGGING_PROBS.includes(certificate as ObjectiveName));
  if (needsProbs) {
    if (!log.actionProbs) {
      fail('E_LOGGING_PROBS_REQUIRED', `The ${certificate !== undefined && NEEDS_LOGGING_PROBS.includes(certificate as ObjectiveName) && !NEEDS_LOGGING_PROBS.includes(objective) ? `"${certificate}" certificate` : `"${objective}" objective`} needs the logger's full action distribution, column "action_probs", which this log does not have.`, 'Log action_probs, or use --objective catoni / london (and their certificates), which need only the logged propensity.');
    }
    if (log.actionProbs.length !== n * k) fail('E_ACTION_SPACE', `action_probs holds ${log.actionProbs.length} values, but n x K = ${n} x ${k} = ${n * k}.`, 'The logging distribution needs one probability per action.');
  }
  const nf = bad((i) => !Number.isFinite(log.rewards[i]!));
  if (nf.count > 0) throw dataError('E_REWARD', 'reward is finite', nf.count, nf.rows, 'Drop rows with missing rewards.');
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, log.rewards[i]!);
    hi = Math.max(hi, log.rewards[i]!);
  }
  if (rewardRange) {
    const [a, b] = rewardRange;
    if (!Number.isFinite(a) || !Number.isFinite(b) || !(a < b)) fail('E_RANGE', `The reward range [${a}, ${b}] must be finite with min < max.`, 'Pass --reward-range MIN,MAX (for click data: 0,1).');
    const out = bad((i) => !(log.rewards[i]! >= a && log.rewards[i]! <= b));
    if (out.count > 0) throw dataError('E_REWARD_RANGE', `reward in [${a}, ${b}]`, out.count, out.rows, 'The bounds rescale rewards from this range to [0, 1]: widen --reward-range or fix the rewards.');
    return [a, b];
  }
  if (lo >= 0 && hi <= 1) return [0, 1];
  if (!(lo < hi)) fail('E_RANGE', `Every reward equals ${lo}: the observed range is empty and no reward range was given.`, 'Pass --reward-range MIN,MAX.');
  return [lo, hi];
}

/** Trains and certifies. */
export function learnPolicy(log: LearningLog, opts: LearnOptions): LearnResult {
  if (!OBJECTIVES.includes(opts.objective)) fail('E_CLI_ARG', `Unknown objective "${opts.objective}".`, `Use one of ${OBJECTIVES.join(', ')}.`);
  if (!POLICY_CLASSES.includes(opts.policyClass)) fail('E_CLI_ARG', `Unknown policy class "${opts.policyClass}".`, `Use one of ${POLICY_CLASSES.join(', ')}.`);
  const certBound: CertificateBound = opts.certificate ?? ((CERTIFICATE_BOUNDS as readonly string[]).includes(opts.objective) ? (opts.objective as CertificateBound) : 'catoni');
  if (!CERTIFICATE_BOUNDS.includes(certBound)) fail('E_CLI_ARG', `Unknown certificate bound "${certBound}".`, `Use one of ${CERTIFICATE_BOUNDS.join(', ')}.`);
  const range = checkLearningLog(log, opts.objective, opts.rewardRange, certBound);
  const { numActions: k, contextDim: d } = log;
  const delta = opts.delta ?? 0.05;
  if (!(delta > 0 && delta < 1)) fail('E_DELTA', `delta must lie strictly between 0 and 1, got ${delta}.`, 'Use e.g. 0.05.');
  const epochs = opts.epochs ?? 20;
  const batchSize = opts.batchSize ?? 128;
  const lr = opts.learningRate ?? 0.01;
  for (const [name, v, ok] of [
    ['epochs', epochs, Number.isInteger(epochs) && epochs >= 0],
    ['batch size', batchSize, Number.isInteger(batchSize) && batchSize >= 1],
    ['learning rate', lr, lr > 0 && Number.isFinite(lr)],
  ] as const) if (!ok) fail('E_CLI_ARG', `The ${name} must be a positive number, got ${v}.`, 'See offpolicy learn --help.');
  const seed = opts.seed ?? 0;
  const rng = new Rng(seed);
  const cls = kernelClass(opts.policyClass);
  const gibbs = cls !== 'softmax';
  if (opts.prior) {
    if (opts.prior.weights.length !== k * d || opts.prior.bias.length !== k) {
      fail(opts.prior.bias.length !== k ? 'E_ACTION_SPACE' : 'E_CONTEXT_DIM', `The prior policy has ${opts.prior.bias.length} actions and ${opts.prior.weights.length / Math.max(1, opts.prior.bias.length)} features per action; the log has K = ${k}, d = ${d}.`, 'Give the logging policy of this log (same actions and context features).');
    }
  }

  // Rows: Gibbs classes train and certify on the whole log; softmax holds rows out.
  const holdout = opts.holdout ?? 0.25;
  if (!(holdout > 0 && holdout < 1)) fail('E_CLI_ARG', `holdout must lie strictly between 0 and 1, got ${holdout}.`, 'Use e.g. 0.25.');
  const splitRng = rng.fork('split');
  const order = Int32Array.from({ length: log.n }, (_, i) => i);
  let trainRows = order;
  let certRows = order;
  if (!gibbs) {
    for (let i = log.n - 1; i > 0; i--) {
      const j = splitRng.int(i + 1);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    const nCert = Math.round(log.n * holdout);
    if (nCert < 1 || nCert >= log.n) fail('E_TOO_FEW_ROWS', `The log has ${log.n} rows: too few to hold out ${holdout * 100}% for the softmax policy's certificate.`, 'Use a larger log, or a Gibbs class (mixed-logit, gaussian), certified on the whole log.');
    certRows = order.slice(0, nCert).sort();
    trainRows = order.slice(nCert).sort();
  }
  const N = trainRows.length;
  const alpha = opts.alpha ?? 1 - Math.pow(N, -0.25);
  const tau = opts.tau ?? Math.pow(N, -0.25);
  if (!(alpha >= 0 && alpha <= 1)) fail('E_BOUND_PARAM', `The smoothing alpha must lie in [0, 1], got ${alpha}.`, 'Omit it for 1 - n^(-1/4).');
  if (!(tau > 0 && tau <= 1)) fail('E_BOUND_PARAM', `The propensity clip tau must lie in (0, 1], got ${tau}.`, 'Omit it for n^(-1/4).');

  const [lo, hi] = range;
  const costs = Float64Array.from(log.rewards, (r) => -(r - lo) / (hi - lo));
  const mu0W = opts.prior?.weights ?? new Float64Array(k * d);
  const mu0B = opts.prior?.bias ?? new Float64Array(k);
  const params: LinearParams = { weights: Float64Array.from(mu0W), bias: Float64Array.from(mu0B), sigma: gibbs ? (opts.initialSigma ?? 0.5) : 1 };
  const P = k * (d + 1);
  const klOf = (): number => posteriorKl(params, mu0W, mu0B, gibbs);

  // Reward model for dm: per-action linear regression of r' on x, fitted by Adam.
  const qModel = opts.objective === 'dm' ? fitRewardModel(log, trainRows, costs, epochs, batchSize, lr, rng.fork('reward-model')) : null;

  const st = objectiveSettings(opts.objective, N, delta, alpha, tau);
  const precision = opts.precision ?? 'f32';
  if (precision !== 'f32' && precision !== 'f64') fail('E_CLI_ARG', `Unknown precision "${String(precision)}".`, 'Use f32 or f64.');
  const kern = new LinearGibbsKernel(cls, k, d, {
    ...(opts.quadratureNodes !== undefined ? { quadratureNodes: opts.quadratureNodes } : {}),
    ...(precision === 'f32' ? { linear: new LinearMapWasmF32(k, d) } : {}),
  });
  const trainSamples = opts.trainSamples ?? 8;
  const B = Math.min(batchSize, N);
  const idx = new Int32Array(B);
  const bActions = new Int32Array(B), bProps = new Float64Array(B), bCosts = new Float64Array(B);
  const bPi0 = log.actionProbs ? new Float64Array(B * k) : null;
  const bQ = qModel ? new Float64Array(B * k) : null;
  const grad64 = new Float64Array(P + 1);
  const adam = new Adam(P + 1, { lr });
  const grad = new Float32Array(P + 1);
  const theta = new Float32Array(P + 1);
  const noiseRng = rng.fork('noise');
  const shuffleRng = rng.fork('shuffle');
  const lc: LossContext = { objective: opts.objective, settings: st, kern, contexts: log.contexts, mu0W, mu0B };
  const metrics: Record<string, unknown>[] = [];
  const perm = Int32Array.from(trainRows);
  const steps = Math.floor(N / B) * epochs;
  let step = 0;
  const skipDm = qModel && !gibbs; // softmax + dm: the greedy (argmax) policy, nothing to train
  for (let epoch = 0; epoch < epochs && !skipDm; epoch++) {
    for (let i = N - 1; i > 0; i--) {
      const j = shuffleRng.int(i + 1);
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    let sum = 0, count = 0, lastLambda: number | undefined;
    for (let start = 0; start + B <= N; start += B) {
      for (let r = 0; r < B; r++) {
        const i = perm[start + r]!;
        idx[r] = i;
        bActions[r] = log.actions[i]!;
        bProps[r] = log.propensities![i]!;
        bCosts[r] = costs[i]!;
        if (bPi0) bPi0.set(log.actionProbs!.subarray(i * k, i * k + k), r * k);
      }
      if (qModel && bQ) predictInto(qModel, log.contexts, idx, B, k, d, bQ);
      let noise: MixedLogitNoise | undefined;
      if (cls === 'mixed-logit') {
        const draws = new Float64Array(B * trainSamples * k);
        for (let j = 0; j < draws.length; j++) draws[j] = noiseRng.normal();
        noise = { samples: trainSamples, draws, perRow: true };
      }
      const batch = { B, k, actions: bActions, propensities: bProps, costs: bCosts, pi0: bPi0, qhat: bQ };
      const out = lossAndGradient(lc, params, idx, batch, noise, grad64);
      sum += out.value;
      count++;
      lastLambda = out.lambda;
      grad.set(grad64);
      theta.set(params.weights, 0);
      theta.set(params.bias, k * d);
      theta[P] = Math.log(params.sigma);
      adam.step(theta, grad);
      params.weights.set(theta.subarray(0, k * d));
      params.bias.set(theta.subarray(k * d, P));
      if (gibbs) params.sigma = Math.exp(Math.min(5, Math.max(-12, theta[P]!)));
      step++;
      opts.onProgress?.(step, steps + 1, `epoch ${epoch + 1}/${epochs}`);
    }
    metrics.push({ event: 'epoch', epoch: epoch + 1, objective: count ? sum / count : null, kl: klOf(), sigma: gibbs ? params.sigma : null, ...(lastLambda !== undefined ? { lambda: lastLambda } : {}) });
  }

  // The stored policy and its probabilities on the certificate rows.
  const policySamples = opts.policySamples ?? 128;
  const nodes = opts.quadratureNodes ?? 20;
  let spec: LearnedPolicySpec;
  const W2 = Array.from({ length: k }, (_, a) => Array.from(params.weights.subarray(a * d, a * d + d)));
  const b2 = Array.from(params.bias);
  let finalW = params.weights, finalB = params.bias;
  if (skipDm) {
    finalW = qModel!.weights;
    finalB = qModel!.bias;
    spec = { type: 'argmax', weights: Array.from({ length: k }, (_, a) => Array.from(finalW.subarray(a * d, a * d + d))), bias: Array.from(finalB) };
  } else if (cls === 'softmax') spec = { type: 'softmax', weights: W2, bias: b2 };
  else if (cls === 'mixed-logit') spec = { type: 'mixed-logit', weights: W2, bias: b2, sigma: params.sigma, samples: policySamples, seed };
  else spec = { type: 'probit', weights: W2, bias: b2, sigma: params.sigma, nodes };
  // Named or one-hot context columns travel with the policy, so it reads new logs the way it read this one.
  if (log.features && log.features.columns.length > 0) spec.features = log.features;

  const nc = certRows.length;
  const certCtx = new Float32Array(nc * d);
  for (let r = 0; r < nc; r++) certCtx.set(log.contexts.subarray(certRows[r]! * d, certRows[r]! * d + d), r * d);
  let certPi: Float64Array;
  if (skipDm) {
    certPi = new Float64Array(nc * k);
    const q = new Float64Array(nc * k);
    predictInto(qModel!, certCtx, null, nc, k, d, q);
    for (let r = 0; r < nc; r++) {
      let best = 0;
      for (let a = 1; a < k; a++) if (q[r * k + a]! > q[r * k + best]!) best = a;
      certPi[r * k + best] = 1;
    }
  } else {
    certPi = linearClassProbs(cls, { weights: finalW, bias: finalB, sigma: params.sigma }, k, d, certCtx, nc, {
      ...(cls === 'mixed-logit' ? { noise: fixedMixedLogitNoise(policySamples, k, seed) } : {}),
      quadratureNodes: nodes,
    });
  }
  const kl = gibbs ? klOf() : 0;
  const pick = <T extends Float64Array | Int32Array>(src: T, make: (n: number) => T, w = 1): T => {
    const out = make(nc * w);
    for (let r = 0; r < nc; r++) for (let j = 0; j < w; j++) out[r * w + j] = src[certRows[r]! * w + j]!;
    return out;
  };
  const certBatch: ObjectiveBatch = {
    B: nc,
    k,
    pi: certPi,
    actions: pick(log.actions, (m) => new Int32Array(m)),
    propensities: pick(log.propensities!, (m) => new Float64Array(m)),
    costs: pick(costs, (m) => new Float64Array(m)),
    pi0: log.actionProbs ? pick(log.actionProbs, (m) => new Float64Array(m), k) : null,
    qhat: null,
  };
  const certificate = buildCertificate({
    bound: certBound,
    rows: gibbs ? 'all' : 'held-out',
    batch: certBatch,
    kl,
    delta,
    alpha: gibbs ? alpha : 1 - Math.pow(nc, -0.25),
    tau: gibbs ? tau : Math.pow(nc, -0.25),
    rewardRange: range,
    loggedRewards: pick(log.rewards, (m) => new Float64Array(m)),
  });
  opts.onProgress?.(steps + 1, steps + 1, 'certificate');
  metrics.push({ event: 'certificate', valueLower: certificate.valueLower, verdict: certificate.verdict });
  return {
    policy: spec,
    params: { weights: finalW, bias: finalB, sigma: params.sigma },
    policyClass: opts.policyClass,
    objective: opts.objective,
    kl,
    certificate,
    metrics,
    settings: { objective: opts.objective, policyClass: opts.policyClass, precision, delta, epochs, batchSize: B, learningRate: lr, seed, alpha, tau, trainRows: N, certificateRows: nc, rewardRange: range, prior: opts.prior ? 'given' : 'zero', ...(cls === 'mixed-logit' ? { trainSamples, policySamples } : {}), ...(cls === 'probit' ? { quadratureNodes: nodes } : {}) },
  };
}

/**
 * KL(N(mu, sigma^2 I) || N(mu_0, I)) over the K (d + 1) parameters; for the plain
 * softmax class (gibbs false) the posterior N(mu, I): |mu - mu_0|^2 / 2.
 */
export function posteriorKl(p: LinearParams, mu0W: Float64Array, mu0B: Float64Array, gibbs: boolean): number {
  let sq = 0;
  for (let j = 0; j < mu0W.length; j++) sq += (p.weights[j]! - mu0W[j]!) ** 2;
  for (let a = 0; a < mu0B.length; a++) sq += (p.bias[a]! - mu0B[a]!) ** 2;
  const P = mu0W.length + mu0B.length;
  const s2 = p.sigma * p.sigma;
  return 0.5 * ((gibbs ? P * (s2 - 2 * Math.log(p.sigma) - 1) : 0) + sq);
}

export interface LossContext {
  objective: ObjectiveName;
  settings: ObjectiveSettings;
  kern: LinearGibbsKernel;
  contexts: Float32Array;
  mu0W: Float64Array;
  mu0B: Float64Array;
}

/**
 * The objective on one batch (rows idx) and its gradient with respect to
 * (W, b, ln sigma), packed as K x d weights, K biases, ln sigma into grad.
 * Bound objectives add the KL's gradient; lambda is held fixed (detached).
 */
export function lossAndGradient(
  lc: LossContext,
  params: LinearParams,
  idx: Int32Array,
  batch: Omit<ObjectiveBatch, 'pi'>,
  noise: MixedLogitNoise | undefined,
  grad: Float64Array,
): ObjectiveOutput {
  const { kern, mu0W, mu0B } = lc;
  const { k, d } = kern;
  const gibbs = kern.cls !== 'softmax';
  const pi = kern.forward(params, lc.contexts, idx, batch.B, noise);
  const gp = new Float64Array(batch.B * k);
  const out = evaluateObjective(lc.objective, lc.settings, { ...batch, pi }, posteriorKl(params, mu0W, mu0B, gibbs), gp);
  const gW = new Float64Array(k * d), gB = new Float64Array(k);
  const gLogSigma = kern.backward(params, lc.contexts, idx, batch.B, gp, gW, gB);
  const isBound = BOUND_OBJECTIVES.includes(lc.objective);
  const P = k * (d + 1);
  for (let j = 0; j < k * d; j++) grad[j] = gW[j]! + (isBound ? out.dKl * (params.weights[j]! - mu0W[j]!) : 0);
  for (let a = 0; a < k; a++) grad[k * d + a] = gB[a]! + (isBound ? out.dKl * (params.bias[a]! - mu0B[a]!) : 0);
  grad[P] = gibbs ? gLogSigma + (isBound ? out.dKl * P * (params.sigma * params.sigma - 1) : 0) : 0;
  return out;
}

interface LinearRewardModel {
  weights: Float64Array;
  bias: Float64Array;
}

/** Predicted rescaled rewards q(x, a) = v_a . x + c_a for a batch (idx null: rows 0..B). */
function predictInto(m: LinearRewardModel, x: Float32Array, idx: Int32Array | null, B: number, k: number, d: number, out: Float64Array): void {
  for (let r = 0; r < B; r++) {
    const o = (idx ? idx[r]! : r) * d;
    for (let a = 0; a < k; a++) {
      let s = m.bias[a]!;
      for (let j = 0; j < d; j++) s += m.weights[a * d + j]! * x[o + j]!;
      out[r * k + a] = s;
    }
  }
}

/** Least squares of r' = -c on the logged action's linear score, by Adam over minibatches. */
function fitRewardModel(log: LearningLog, rows: Int32Array, costs: Float64Array, epochs: number, batchSize: number, lr: number, rng: Rng): LinearRewardModel {
  const { numActions: k, contextDim: d } = log;
  const m: LinearRewardModel = { weights: new Float64Array(k * d), bias: new Float64Array(k) };
  const P = k * (d + 1);
  const adam = new Adam(P, { lr });
  const theta = new Float32Array(P);
  const grad = new Float32Array(P);
  const perm = Int32Array.from(rows);
  const B = Math.min(batchSize, rows.length);
  for (let e = 0; e < Math.max(epochs, 1); e++) {
    for (let i = perm.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    for (let start = 0; start + B <= perm.length; start += B) {
      grad.fill(0);
      for (let r = 0; r < B; r++) {
        const i = perm[start + r]!;
        const a = log.actions[i]!;
        let s = m.bias[a]!;
        for (let j = 0; j < d; j++) s += m.weights[a * d + j]! * log.contexts[i * d + j]!;
        const g = (2 * (s + costs[i]!)) / B;
        for (let j = 0; j < d; j++) grad[a * d + j] += g * log.contexts[i * d + j]!;
        grad[k * d + a] += g;
      }
      theta.set(m.weights, 0);
      theta.set(m.bias, k * d);
      adam.step(theta, grad);
      m.weights.set(theta.subarray(0, k * d));
      m.bias.set(theta.subarray(k * d));
    }
  }
  return m;
}
