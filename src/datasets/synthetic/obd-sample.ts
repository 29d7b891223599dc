/**
 * A small log in the Open Bandit Dataset's CSV layout (ZOZOTOWN,
 * open_bandit_dataset/<policy>/<campaign>/<campaign>.csv and item_context.csv),
 * generated with known click probabilities, for the classic OBD experiment:
 * a log of the Random policy, a Bernoulli Thompson-sampling candidate given per
 * position, and the candidate's on-policy value to compare estimates against.
 *
 * - Each impression shows L = 3 distinct items of K; one CSV row per (impression,
 *   position), positions 1..3 as OBD writes them (ingest stores them 0-based).
 * - Random logging: the three items are drawn uniformly without replacement, so the
 *   probability of the row's item at the row's position is 1 / K (propensity_score).
 * - Users: four categorical features user_feature_0..3 (hex hashes, as OBD's), drawn
 *   from fixed category frequencies; user-item_affinity_0..K-1 are small integers
 *   (noise columns in OBD's shape).
 * - Clicks follow a position-based model without interaction between slots:
 *   P(click | x, a, l) = sigmoid(b_a + sum_f u[f, x_f, a] + e_l), so the click rate
 *   of a policy is the mean over positions of sum_a pi(a | l) q(x, a, l), exactly
 *   the quantity position-based (OBP len_list) estimators estimate.
 * - The candidate: Bernoulli Thompson sampling over items with Beta(1 + clicks,
 *   1 + non-clicks) posteriors from a seeded "previous campaign"; its probability
 *   of item a at position l is the share of `simulations` posterior draws whose
 *   rank-l item is a (as OBP's BernoulliTS.compute_batch_action_dist). It ignores
 *   the user; its on-policy value is exact, by enumerating the user categories.
 */
import { Rng } from '../../util/rng.js';
import { checkInt } from './bandit-log.js';

export interface ObdSampleOptions {
  impressions: number;
  /** K items. */
  items: number;
  /** Posterior draws behind the candidate's per-position probabilities. */
  simulations?: number;
  seed: number;
}

export const OBD_SLOTS = 3;
/** Categories per user feature. */
const CATEGORIES = [4, 3, 3, 2];

export interface ObdSample {
  /** The log, OBD's columns (pandas index column first, unnamed). */
  csv: string;
  itemContextCsv: string;
  rows: number;
  /** The 0-based position of each CSV row (row i is row_id i after ingest). */
  positions: Int32Array;
  /** The candidate's probabilities, OBD_SLOTS x K: candidate[l * K + a] = pi(a at position l). */
  candidate: Float64Array;
  /** The candidate's click rate per row under the click model, over the user distribution. */
  candidateValue: number;
  /** The Random policy's click rate (the logging policy). */
  randomValue: number;
}

/** A 16-character hex string from the stream (OBD hashes categories to 32; half keeps the sample small). */
function hexHash(rng: Rng): string {
  let s = '';
  for (let i = 0; i < 2; i++) s += rng.nextUint32().toString(16).padStart(8, '0');
  return s;
}

/** Gamma(shape, 1) by Marsaglia-Tsang (shape >= 1; shape < 1 through the U^(1/shape) boost). */
function gamma(rng: Rng, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * Math.pow(rng.uniform() || Number.MIN_VALUE, 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.uniform();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Generates the sample; the same options give the same bytes. */
export function generateObdSample(opts: ObdSampleOptions): ObdSample {
  const n = opts.impressions;
  const k = opts.items;
  const sims = opts.simulations ?? 100_000;
  checkInt('impressions', n, 1, 1_000_000, '--impressions');
  checkInt('items', k, OBD_SLOTS, 1000, '--items');
  checkInt('simulations', sims, 1, 10_000_000, '--simulations');
  const L = OBD_SLOTS;
  const model = new Rng(`obd-model:${opts.seed}`);
  // Categories: hashes and frequencies; click model coefficients.
  const hashes = CATEGORIES.map((c) => Array.from({ length: c }, () => hexHash(model)));
  const freq = CATEGORIES.map((c) => {
    const w = Array.from({ length: c }, () => 0.5 + model.uniform());
    const t = w.reduce((a, b) => a + b, 0);
    return w.map((x) => x / t);
  });
  const itemBase = Float64Array.from({ length: k }, () => -2 + 0.8 * model.normal());
  const userItem = CATEGORIES.map((c) => Float64Array.from({ length: c * k }, () => 0.5 * model.normal()));
  const posEffect = [0, -0.4, -0.8];
  const q = (cats: number[], a: number, l: number): number => {
    let z = itemBase[a]! + posEffect[l]!;
    cats.forEach((c, f) => (z += userItem[f]![c * k + a]!));
    return sigmoid(z);
  };

  // The candidate: Thompson sampling on a previous campaign's clicks (2000 random impressions' worth per item).
  const prev = new Rng(`obd-previous:${opts.seed}`);
  const alpha = new Float64Array(k);
  const beta = new Float64Array(k);
  for (let a = 0; a < k; a++) {
    // Expected click rate of the item over users and positions, then binomial counts.
    let ctr = 0;
    forEachUser(freq, (cats, p) => {
      for (let l = 0; l < L; l++) ctr += (p * q(cats, a, l)) / L;
    });
    const shown = 60;
    let clicks = 0;
    for (let j = 0; j < shown; j++) if (prev.uniform() < ctr) clicks++;
    alpha[a] = 1 + clicks;
    beta[a] = 1 + shown - clicks;
  }
  const ts = new Rng(`obd-ts:${opts.seed}`);
  const counts = new Float64Array(L * k);
  const theta = new Float64Array(k);
  const order = Array.from({ length: k }, (_, a) => a);
  for (let s = 0; s < sims; s++) {
    for (let a = 0; a < k; a++) {
      const x = gamma(ts, alpha[a]!);
      theta[a] = x / (x + gamma(ts, beta[a]!));
    }
    order.sort((a, b) => theta[b]! - theta[a]! || a - b);
    for (let l = 0; l < L; l++) counts[l * k + order[l]!]! += 1;
  }
  const candidate = counts.map((c) => c / sims);
  let candidateValue = 0;
  let randomValue = 0;
  forEachUser(freq, (cats, p) => {
    for (let l = 0; l < L; l++) {
      for (let a = 0; a < k; a++) {
        candidateValue += (p * candidate[l * k + a]! * q(cats, a, l)) / L;
        randomValue += (p * q(cats, a, l)) / (L * k);
      }
    }
  });

  // The log.
  const rng = new Rng(`obd-log:${opts.seed}`);
  const header = ['', 'timestamp', 'item_id', 'position', 'click', 'propensity_score', ...CATEGORIES.map((_, f) => `user_feature_${f}`), ...Array.from({ length: k }, (_, a) => `user-item_affinity_${a}`)];
  const lines = [header.join(',')];
  const positions = new Int32Array(n * L);
  let t = Date.UTC(2019, 10, 24);
  const propensity = String(1 / k);
  for (let i = 0; i < n; i++) {
    const cats = freq.map((f) => rng.categorical(f));
    const affinity = Array.from({ length: k }, () => String(rng.int(4)));
    const avail = Array.from({ length: k }, (_, a) => a);
    t += 1 + rng.int(20_000);
    const stamp = new Date(t).toISOString().replace('T', ' ').replace('Z', '000+00:00');
    for (let l = 0; l < L; l++) {
      const a = avail.splice(rng.int(avail.length), 1)[0]!;
      const click = rng.uniform() < q(cats, a, l) ? 1 : 0;
      const row = i * L + l;
      positions[row] = l;
      lines.push([String(row), stamp, String(a), String(l + 1), String(click), propensity, ...cats.map((c, f) => hashes[f]![c]!), ...affinity].join(','));
    }
  }
  const items = new Rng(`obd-items:${opts.seed}`);
  const itemHashes = [3, 4, 5].map((c) => Array.from({ length: c }, () => hexHash(items)));
  const ctxLines = [',item_id,item_feature_0,item_feature_1,item_feature_2,item_feature_3'];
  for (let a = 0; a < k; a++) {
    ctxLines.push([String(a), String(a), (-0.7 + 1.4 * items.uniform()).toFixed(6), ...itemHashes.map((h) => h[items.int(h.length)]!)].join(','));
  }
  return { csv: lines.join('\n') + '\n', itemContextCsv: ctxLines.join('\n') + '\n', rows: n * L, positions, candidate, candidateValue, randomValue };
}

/** Calls f for every combination of user categories with its probability. */
function forEachUser(freq: number[][], f: (cats: number[], p: number) => void): void {
  const rec = (j: number, cats: number[], p: number): void => {
    if (j === freq.length) return f(cats, p);
    freq[j]!.forEach((pf, c) => rec(j + 1, [...cats, c], p * pf));
  };
  rec(0, [], 1);
}
