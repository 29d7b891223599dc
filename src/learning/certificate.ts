/**
 * The certificate of a learned policy: "its value is >= X with probability >= 1 - delta".
 *
 * Which rows. A PAC-Bayes bound holds with probability 1 - delta simultaneously for
 * every posterior Q, so for the Gibbs classes (mixed-logit, probit) the posterior
 * learned from the log is certified on the whole log with KL(Q || P) != 0 (P fixed
 * before the data: the prior mean is the logger's parameters or 0). A plain softmax
 * policy is a point mass (KL infinite against a Gaussian prior): it is certified on
 * held-out rows it was not trained on, as a fixed candidate (KL = 0).
 *
 * Which lambda. Catoni: valid for every lambda at once (a relaxation of one kl
 * inequality), so it is minimised freely. London-Sandler: none. Bernstein: the
 * authors' grid of 200 values with the ln(2 n_lambda / delta) union-bound term.
 * Exponential smoothing: the bound is stated for a fixed lambda, so we take a grid
 * of m = 100 values log-spaced in [1/n, 10] (fixed by n alone) and run the bound at
 * delta / m for each (a union bound), keeping the smallest.
 *
 * Verdict. The logger's value is bounded above by Hoeffding on its own logged
 * rewards, (mean) + (hi - lo) sqrt(ln(1/delta) / 2n); "deploy" when the learned
 * policy's lower bound exceeds it (both hold together with probability >= 1 - 2 delta).
 */
import { smoothingDeviation } from '../util/pac-bayes.js';
import { evaluateObjective, objectiveSettings, type ObjectiveBatch, type ObjectiveName } from './objectives.js';

export type CertificateBound = 'es' | 'catoni' | 'bernstein' | 'bernstein-cv' | 'london';
export const CERTIFICATE_BOUNDS: readonly CertificateBound[] = ['es', 'catoni', 'bernstein', 'bernstein-cv', 'london'];

export const ES_LAMBDA_GRID_SIZE = 100;

export interface LearnedCertificate {
  bound: CertificateBound;
  /** "all" (PAC-Bayes over the whole log) or "held-out" (a fixed policy on rows not used for training). */
  rows: 'all' | 'held-out';
  n: number;
  delta: number;
  kl: number;
  /** Upper bound on the risk (cost scale [-1, 0]). */
  riskBound: number;
  /** The value lower bound on the reward scale. */
  valueLower: number;
  lambda: number | null;
  rewardRange: [number, number];
  logging: { mean: number; upper: number; n: number };
  verdict: 'deploy' | 'do-not-deploy';
  statement: string;
}

/** The risk upper bound of one certificate bound on a full batch (n = batch size). */
export function certificateRiskBound(bound: CertificateBound, batch: ObjectiveBatch, kl: number, delta: number, alpha: number, tau: number): { risk: number; lambda: number | null } {
  const n = batch.B;
  const grad = new Float64Array(batch.B * batch.k);
  if (bound !== 'es') {
    const out = evaluateObjective(bound as ObjectiveName, objectiveSettings(bound, n, delta, alpha, tau), batch, kl, grad);
    return { risk: out.value, lambda: out.lambda ?? null };
  }
  const { B, k, pi, actions, propensities: p, costs: c } = batch;
  const pi0 = batch.pi0!;
  let R = 0, mass = 0, V1 = 0, V2 = 0;
  for (let i = 0; i < B; i++) {
    const a = actions[i]!;
    const pa = Math.pow(p[i]!, alpha);
    R += (c[i]! * pi[i * k + a]!) / pa;
    V2 += (c[i]! * c[i]! * pi[i * k + a]!) / (pa * pa);
    for (let x = 0; x < k; x++) {
      const q = pi0[i * k + x]!;
      if (q > 0 && pi[i * k + x]! > 0) {
        mass += pi[i * k + x]! * Math.pow(q, 1 - alpha);
        V1 += pi[i * k + x]! * Math.pow(q, 1 - 2 * alpha);
      }
    }
  }
  R /= B;
  const bias = Math.max(0, 1 - mass / B);
  const M = (V1 + V2) / B;
  const m = ES_LAMBDA_GRID_SIZE;
  const lo = Math.log(1 / n), hi = Math.log(10);
  let best = Infinity;
  let bestLambda = 0;
  for (let j = 0; j < m; j++) {
    const lambda = Math.exp(lo + ((hi - lo) * j) / (m - 1));
    const { epsilon } = smoothingDeviation({ n, kl, delta: delta / m, bias, secondMoment: M, lambda });
    if (epsilon < best) {
      best = epsilon;
      bestLambda = lambda;
    }
  }
  return { risk: R + best, lambda: bestLambda };
}

/** The full certificate: risk bound -> value lower bound, the logger's Hoeffding upper bound, the verdict. */
export function buildCertificate(args: {
  bound: CertificateBound;
  rows: 'all' | 'held-out';
  batch: ObjectiveBatch;
  kl: number;
  delta: number;
  alpha: number;
  tau: number;
  rewardRange: [number, number];
  /** Logged rewards of the rows the logger's value is estimated on. */
  loggedRewards: Float64Array;
}): LearnedCertificate {
  const { bound, batch, kl, delta, rewardRange } = args;
  const [lo, hi] = rewardRange;
  const D = hi - lo;
  const { risk, lambda } = certificateRiskBound(bound, batch, kl, delta, args.alpha, args.tau);
  const valueLower = Math.min(hi, Math.max(lo, lo + D * -risk));
  const nl = args.loggedRewards.length;
  let mean = 0;
  for (let i = 0; i < nl; i++) mean += args.loggedRewards[i]!;
  mean /= nl;
  const upper = Math.min(hi, mean + D * Math.sqrt(Math.log(1 / delta) / (2 * nl)));
  const verdict = valueLower > upper ? 'deploy' : 'do-not-deploy';
  const pct = (100 * (1 - delta)).toFixed(1).replace(/\.0$/, '');
  const statement =
    `With probability >= ${pct}%, the learned policy's value is >= ${fmt(valueLower)} (${bound} bound on ${args.rows === 'all' ? 'the whole log' : 'held-out rows'}, n = ${batch.B}, KL = ${fmt(kl)}). ` +
    `The logging policy's value is <= ${fmt(upper)} (mean logged reward ${fmt(mean)}, Hoeffding). ` +
    (verdict === 'deploy' ? `Deploy: the learned policy is better with probability >= ${(100 * (1 - 2 * delta)).toFixed(1).replace(/\.0$/, '')}%.` : 'Do not deploy: the certificate does not show the learned policy is better than the logger.');
  return { bound, rows: args.rows, n: batch.B, delta, kl, riskBound: risk, valueLower, lambda, rewardRange, logging: { mean, upper, n: nl }, verdict, statement };
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toPrecision(4) : String(v);
}
