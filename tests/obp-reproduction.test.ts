/**
 * Reproduces the relative-error tables of Open Bandit Pipeline (REFERENCES.md):
 *  - synthetic: 10,000 rounds, 30 actions, context dim 5, logistic reward, linear
 *    behaviour with beta = -3, logistic-regression reward model (3-fold
 *    cross-fitting), OBP's evaluation policy (IPWLearner over logistic regression,
 *    trained on a separate 10,000-round log, deterministic);
 *  - multiclass-to-bandit on iris: behaviour alpha_b = 0.4, evaluation alpha_e = 0.9.
 * Over a few seeds; asserts the robust parts of OBP's ordering and prints the table.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arraysToTable } from '../src/datasets/from-arrays.js';
import { lit, openMemoryConnection, type DuckDBConnection } from '../src/datasets/duckdb.js';
import { Workspace } from '../src/datasets/workspace.js';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { trueValue, writeBanditDataset, type BanditLog } from '../src/datasets/synthetic/bandit-log.js';
import { fitMultinomialLogistic, propensityProbs, type PropensityModel } from '../src/ope/propensity.js';
import { multiclassToBandit } from '../src/datasets/synthetic/multiclass.js';
import { evaluate } from '../src/ope/evaluate.js';
import type { Policy } from '../src/ope/types.js';

const SEEDS = [1, 2, 3, 4, 5];
const ESTIMATORS = ['dm', 'ips', 'snips', 'dr', 'sndr', 'switch-dr', 'dr-os'];

let dir: string;
let ws: Workspace;
let conn: DuckDBConnection;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-obp-'));
  ws = await Workspace.open(dir);
  conn = await openMemoryConnection();
});
afterAll(async () => {
  conn.closeSync();
  await rm(dir, { recursive: true, force: true });
});

/**
 * OBP's evaluation policy: IPWLearner with a logistic-regression base model,
 * i.e. a multinomial logistic classifier of the logged action weighted by
 * r_i / p_i, trained on a separate log; deterministic (argmax of its logits).
 */
class IpwLearnerPolicy implements Policy {
  readonly numActions: number;
  private readonly model: PropensityModel;
  constructor(train: BanditLog) {
    const weights = Float64Array.from(train.rewards, (r, i) => r / train.propensities[i]!);
    this.model = fitMultinomialLogistic(train.contexts, train.actions, train.n, train.contextDim, train.numActions, { weights });
    this.numActions = train.numActions;
  }
  actionProbs(contexts: Float32Array, n: number): Float64Array {
    const p = propensityProbs(this.model, contexts, n);
    const k = this.numActions;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let a = 1; a < k; a++) if (p[i * k + a]! > p[i * k + best]!) best = a;
      for (let a = 0; a < k; a++) p[i * k + a] = a === best ? 1 : 0;
    }
    return p;
  }
}

/** Rows [from, to) of a generated log (the same reward function and behaviour policy). */
function slice(log: BanditLog, from: number, to: number): BanditLog {
  const { contextDim: d, numActions: k } = log;
  const part = {
    ...log,
    n: to - from,
    contexts: log.contexts.slice(from * d, to * d),
    actions: log.actions.slice(from, to),
    rewards: log.rewards.slice(from, to),
    propensities: log.propensities.slice(from, to),
    actionProbs: log.actionProbs.slice(from * k, to * k),
    expectedRewards: log.expectedRewards.slice(from * k, to * k),
    scores: log.scores.slice(from * k, to * k),
  };
  return { ...part, loggingValue: trueValue(part.expectedRewards, part.actionProbs, part.n, k) };
}

function mean(xs: number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

function table(title: string, errors: Record<string, number[]>, obp: Record<string, number>): string {
  const rows = Object.entries(errors).map(([e, v]) => `| ${e} | ${mean(v).toFixed(4)} | ${obp[e] !== undefined ? obp[e]!.toFixed(4) : '-'} |`);
  return [`${title}`, '| estimator | ours (mean rel. error) | OBP |', '|---|---|---|', ...rows].join('\n');
}

describe('OBP reproduction', () => {
  // What reproduces here: the DR family beats IPS and beats DM. What does not (see the
  // report): OBP's absolute errors (ours are ~10x larger for the importance-weighted
  // estimators) and "DM clearly worst": with this generator IPS is as bad as DM.
  it('synthetic: the DR family below IPS and below DM', async () => {
    const errors: Record<string, number[]> = Object.fromEntries(ESTIMATORS.map((e) => [e, []]));
    for (const seed of SEEDS) {
      // 10,000 rounds to train the evaluation policy, 10,000 logged rounds to evaluate it on.
      const all = generateBanditLog({ n: 20_000, numActions: 30, contextDim: 5, reward: 'logistic', beta: -3, seed });
      await writeBanditDataset(ws, `syn${seed}`, slice(all, 10_000, 20_000));
      const r = await evaluate(ws, {
        data: `syn${seed}`,
        policies: [{ name: 'ipw-learner', spec: new IpwLearnerPolicy(slice(all, 0, 10_000)) }],
        estimators: ESTIMATORS,
        interval: 't',
        rewardModel: 'logistic',
        folds: 3,
        clip: 100,
        seed,
      });
      const c = r.candidates[0]!;
      for (const e of c.estimates) errors[e.estimator]!.push(Math.abs(e.value - c.trueValue!) / c.trueValue!);
    }
    console.log(table('Synthetic (10,000 rounds, 30 actions, d = 5, beta = -3, 5 seeds)', errors, { dm: 0.074, ips: 0.0095, snips: 0.0067, dr: 0.0062, sndr: 0.0061, 'switch-dr': 0.0062, 'dr-os': 0.022 }));
    const m = Object.fromEntries(Object.entries(errors).map(([e, v]) => [e, mean(v)]));
    const drFamily = mean([m.dr!, m.sndr!, m['switch-dr']!]);
    expect(drFamily).toBeLessThan(m.ips!);
    expect(drFamily).toBeLessThan(m.dm!);
    expect(m.snips!).toBeLessThan(m.ips!);
  }, 120_000);

  it('multiclass (iris): DM worst, DR and IPW small', async () => {
    const errors: Record<string, number[]> = Object.fromEntries(['dm', 'ips', 'snips', 'dr', 'sndr'].map((e) => [e, []]));
    for (const seed of SEEDS) {
      const log = multiclassToBandit({ dataset: 'iris', alphaB: 0.4, seed, n: 1000 });
      await writeBanditDataset(ws, `iris${seed}`, log);
      // The evaluation policy as a probability table keyed by row_id (the usual hand-off).
      const rowId = Float64Array.from({ length: log.n }, (_, i) => i);
      await arraysToTable(conn, 'cand', log.n, [
        { name: 'row_id', type: 'BIGINT', data: rowId },
        { name: 'probs', type: 'DOUBLE', data: log.policyProbs(0.9), width: log.numActions },
      ]);
      const file = path.join(dir, `iris${seed}.parquet`);
      await conn.run(`COPY cand TO ${lit(file)} (FORMAT parquet)`);
      const r = await evaluate(ws, {
        data: `iris${seed}`,
        policies: [{ name: 'alpha_e=0.9', spec: file }],
        estimators: Object.keys(errors),
        interval: 't',
        rewardModel: 'logistic',
        folds: 3,
        seed,
      });
      const c = r.candidates[0]!;
      for (const e of c.estimates) errors[e.estimator]!.push(Math.abs(e.value - c.trueValue!) / c.trueValue!);
    }
    console.log(table('Multiclass iris (alpha_b = 0.4, alpha_e = 0.9, n = 1000 resampled, 5 seeds)', errors, { dm: 0.437, ips: 0.03, snips: 0.023, dr: 0.016, sndr: 0.022 }));
    const m = Object.fromEntries(Object.entries(errors).map(([e, v]) => [e, mean(v)]));
    for (const e of ['ips', 'snips', 'dr', 'sndr']) expect(m.dm!).toBeGreaterThan(2 * m[e]!);
    expect(m.dr!).toBeLessThan(0.1);
    expect(m.ips!).toBeLessThan(0.1);
  }, 120_000);
});
