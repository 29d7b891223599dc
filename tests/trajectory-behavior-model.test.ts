/**
 * The fitted behaviour policy (src/ope/trajectory/behavior-model.ts): on data
 * generated with a known behaviour policy, drop behavior_logprob and check the
 * cross-fitted log-probabilities against the true ones, that each episode is
 * scored by a model not trained on it, determinism by seed, the OPE estimate
 * with fitted against true log-probabilities, the result field and caveat, the
 * CLI end to end, and the bad-input errors.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrajectoryArrays } from '../src/datasets/load-trajectories.js';
import { Workspace } from '../src/datasets/workspace.js';
import { scriptedDiscretePolicy } from '../src/envs/behavior-policies.js';
import { getEnv } from '../src/envs/registry.js';
import { generateTrajectories, writeTrajectoryDataset, type TrajectoryData } from '../src/envs/trajectories.js';
import { trajectoryDataToArrays } from '../src/offline-rl/from-generated.js';
import { behaviorFolds, fitBehaviorFold, fitBehaviorModel, resolveBehaviorLogprob } from '../src/ope/trajectory/behavior-model.js';
import { evaluateTrajectoryArrays, evaluateTrajectoryDataset } from '../src/ope/trajectory/evaluate.js';
import type { TrajectoryEvaluationResult } from '../src/core/trajectory-evaluation-result.js';
import { normalCdf } from '../src/util/normal.js';
import { Rng } from '../src/util/rng.js';
import { runCli } from './support/run-cli.js';

const dropLogprob = (a: TrajectoryArrays): TrajectoryArrays => ({ ...a, behaviorLogprob: null });
const meanAbsDiff = (x: ArrayLike<number>, y: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.abs(x[i]! - y[i]!);
  return s / x.length;
};
const mean = (x: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s / x.length;
};

let cart: TrajectoryData;
let cartA: TrajectoryArrays;
let pend: TrajectoryData;
let pendA: TrajectoryArrays;
let dir: string;
beforeAll(async () => {
  cart = generateTrajectories({ env: 'cartpole', policy: 'medium', episodes: 60, seed: 1 });
  cartA = trajectoryDataToArrays(cart);
  pend = generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 20, seed: 1 });
  pendA = trajectoryDataToArrays(pend);
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-behavior-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fitted behaviour policy: discrete actions (multinomial logistic)', () => {
  it('recovers CartPole medium log-probabilities: mean |error| < 0.05 nats, held-out log-likelihood within 0.02 of the true one', () => {
    const f = fitBehaviorModel(dropLogprob(cartA), { folds: 5 }, { seed: 0 });
    expect(f.summary.kind).toBe('categorical-logistic');
    expect(f.summary.folds).toBe(5);
    expect(f.summary.foldLogLik).toHaveLength(5);
    expect(meanAbsDiff(f.logprob, cart.behaviorLogprob)).toBeLessThan(0.05);
    expect(Math.abs(f.summary.heldOutLogLik - mean(cart.behaviorLogprob))).toBeLessThan(0.02);
    expect(f.warnings[0]!.code).toBe('ESTIMATED_BEHAVIOR_POLICY');
  });

  it("cross-fitting holds each episode out: flipping a fold's logged actions gives exactly log(1 - p) there, and changes the other folds' models", () => {
    const seed = 7;
    const base = fitBehaviorModel(dropLogprob(cartA), { folds: 4 }, { seed });
    const ep = cartA.episodeId;
    const epIndex = new Map<number, number>();
    for (let r = 0; r < cartA.n; r++) if (!epIndex.has(ep[r]!)) epIndex.set(ep[r]!, epIndex.size);
    const foldOf = behaviorFolds(epIndex.size, 4, seed);
    const k = 2;
    const flipped = Int32Array.from(cartA.actions as Int32Array);
    for (let r = 0; r < cartA.n; r++) if (foldOf[epIndex.get(ep[r]!)!] === k) flipped[r] = 1 - flipped[r]!;
    const g = fitBehaviorModel({ ...dropLogprob(cartA), actions: flipped }, { folds: 4 }, { seed });
    let inFold = 0;
    let changedOutside = 0;
    for (let r = 0; r < cartA.n; r++) {
      if (foldOf[epIndex.get(ep[r]!)!] === k) {
        inFold++;
        // the model of fold k never saw fold k: the flipped action's probability is 1 - p
        expect(g.logprob[r]!).toBeCloseTo(Math.log1p(-Math.exp(base.logprob[r]!)), 9);
      } else if (Math.abs(g.logprob[r]! - base.logprob[r]!) > 1e-6) changedOutside++;
    }
    expect(inFold).toBeGreaterThan(0);
    expect(changedOutside).toBeGreaterThan(0.5 * (cartA.n - inFold));
  });

  it('estimates with fitted log-probabilities are close to those with the true ones (PDIS and SNPDIS, gamma 0.9, uniform candidate)', async () => {
    const uniform = { numActions: 2, usesContext: false, actionProbs: (_c: Float32Array, n: number) => new Float64Array(2 * n).fill(0.5) };
    const opts = { candidates: [{ name: 'uniform', spec: uniform }], estimators: ['pdis', 'snpdis'] as const, gamma: 0.9, interval: 't' as const, seed: 0 };
    const truth = await evaluateTrajectoryArrays(cartA, { ...opts, estimators: [...opts.estimators] });
    const fitted = await evaluateTrajectoryArrays(dropLogprob(cartA), { ...opts, estimators: [...opts.estimators] });
    for (const id of ['pdis', 'snpdis']) {
      const t = truth.candidates[0]!.estimates.find((e) => e.estimator === id)!;
      const f = fitted.candidates[0]!.estimates.find((e) => e.estimator === id)!;
      const half = (t.interval!.upper - t.interval!.lower) / 2;
      // within half the true-weight estimate's 95% half-width (the logistic model cannot represent the policy's epsilon floor exactly)
      expect(Math.abs(f.value - t.value)).toBeLessThan(0.5 * half);
    }
    expect(truth.behaviorModel).toBeUndefined();
    expect(fitted.behaviorModel!.kind).toBe('categorical-logistic');
    expect(fitted.behaviorModel!.reason).toBe('absent');
    expect(fitted.warnings.map((w) => w.code)).toContain('ESTIMATED_BEHAVIOR_POLICY');
    const c = fitted.candidates[0]!;
    expect(c.warnings.map((w) => w.code)).toContain('ESTIMATED_BEHAVIOR_POLICY');
    expect(c.verdict.caveats.map((x) => x.code)).toContain('ESTIMATED_BEHAVIOR_POLICY');
    expect(c.verdict.sentence).toMatch(/ESTIMATED_BEHAVIOR_POLICY/);
    expect(truth.candidates[0]!.verdict.caveats.map((x) => x.code)).not.toContain('ESTIMATED_BEHAVIOR_POLICY');
  });

  it("mode 'fit' refits over a stored column (reason forced); auto and none keep the column", async () => {
    const r = resolveBehaviorLogprob(cartA, { mode: 'fit', folds: 3 }, { seed: 0 });
    expect(r!.summary.reason).toBe('forced');
    expect(r!.warnings[0]!.message).toMatch(/As asked/);
    expect(resolveBehaviorLogprob(cartA, { mode: 'auto' })).toBeNull();
    expect(resolveBehaviorLogprob(cartA, { mode: 'none' })).toBeNull();
  });
});

describe('fitted behaviour policy: box actions (Gaussian MLP)', () => {
  const opts = { folds: 3, steps: 1000 };
  let fit: ReturnType<typeof fitBehaviorModel>;
  beforeAll(() => {
    fit = fitBehaviorModel(dropLogprob(pendA), opts, { seed: 3, actionSpace: pend.actionSpace });
  });

  it('Pendulum medium (uniform share 0.5 + squashed Gaussian): squashed model, held-out log-likelihood within 0.2 nats of the true, mean |error| < 0.45', () => {
    expect(fit.summary.kind).toBe('squashed-gaussian-mlp');
    expect(fit.summary.description).toMatch(/tanh-squashed/);
    const trueLL = mean(pend.behaviorLogprob);
    expect(fit.summary.heldOutLogLik).toBeGreaterThan(trueLL - 0.2);
    expect(meanAbsDiff(fit.logprob, pend.behaviorLogprob)).toBeLessThan(0.45);
    for (const e of fit.summary.uniformShare!) expect(e).toBeGreaterThan(0.15);
    // a global-variance Gaussian on the raw action would be far worse: the check can fail
    expect(fit.logprob.every((v) => Number.isFinite(v))).toBe(true);
  });

  it('the same seed gives the same bytes; another seed gives other values', () => {
    const short = { folds: 2, steps: 100 };
    const once = fitBehaviorModel(dropLogprob(pendA), short, { seed: 3, actionSpace: pend.actionSpace });
    const again = fitBehaviorModel(dropLogprob(pendA), short, { seed: 3, actionSpace: pend.actionSpace });
    expect(Buffer.from(again.logprob.buffer).equals(Buffer.from(once.logprob.buffer))).toBe(true);
    const other = fitBehaviorModel(dropLogprob(pendA), short, { seed: 4, actionSpace: pend.actionSpace });
    expect(meanAbsDiff(other.logprob, once.logprob)).toBeGreaterThan(1e-4);
  });

  it('reports progress through the folds: done rises to total', () => {
    const calls: [number, number][] = [];
    fitBehaviorModel(dropLogprob(pendA), { folds: 2, steps: 100 }, { seed: 1, actionSpace: pend.actionSpace, onProgress: (done, total) => calls.push([done, total]) });
    expect(calls.length).toBeGreaterThan(10);
    expect(calls.every(([, t]) => t === 200)).toBe(true);
    for (let i = 1; i < calls.length; i++) expect(calls[i]![0]).toBeGreaterThan(calls[i - 1]![0]);
    expect(calls[calls.length - 1]![0]).toBe(200);
  });

  it("each fold's values are those of the model fitted on the other folds' rows only", () => {
    const foldOf = behaviorFolds(20, 3, 3);
    const epOfRow = (r: number): number => pendA.episodeId[r]! - pendA.episodeId[0]!;
    for (const k of [2]) {
      const train: number[] = [];
      const held: number[] = [];
      for (let r = 0; r < pendA.n; r++) (foldOf[epOfRow(r)] === k ? held : train).push(r);
      const pred = fitBehaviorFold(dropLogprob(pendA), Int32Array.from(train), opts, { seed: 3, actionSpace: pend.actionSpace }, k);
      const lp = pred.logprob(Int32Array.from(held));
      for (let i = 0; i < held.length; i++) expect(lp[i]).toBe(fit.logprob[held[i]!]);
    }
  });
});

/** Steps of a one-dimensional clipped-Gaussian behaviour: a = clip(0.8 s + 0.5 z, -1, 1), s ~ U(-1.5, 1.5). */
function clippedGaussianData(episodes: number, T: number, seed: number): { a: TrajectoryArrays; trueLogprob: Float64Array; atBound: number } {
  const rng = new Rng(seed);
  const n = episodes * T;
  const obs = new Float32Array(n);
  const act = new Float32Array(n);
  const lp = new Float64Array(n);
  let atBound = 0;
  for (let r = 0; r < n; r++) {
    const s = Math.fround(rng.range(-1.5, 1.5));
    const mu = 0.8 * s;
    const u = mu + 0.5 * rng.normal();
    const a = Math.fround(Math.max(-1, Math.min(1, u)));
    obs[r] = s;
    act[r] = a;
    if (a >= 1) lp[r] = Math.log(1 - normalCdf((1 - mu) / 0.5));
    else if (a <= -1) lp[r] = Math.log(normalCdf((-1 - mu) / 0.5));
    else lp[r] = -0.5 * ((a - mu) / 0.5) ** 2 - Math.log(0.5) - 0.5 * Math.log(2 * Math.PI);
    if (Math.abs(a) >= 1) atBound++;
  }
  const episodeId = new Float64Array(n);
  const step = new Int32Array(n);
  const terminated = new Uint8Array(n);
  const truncated = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    episodeId[r] = Math.floor(r / T);
    step[r] = r % T;
    if (r % T === T - 1) truncated[r] = 1;
  }
  const a: TrajectoryArrays = {
    n, obsDim: 1, actDim: 1, observations: obs, actions: act, rewards: new Float64Array(n).fill(1), nextObservations: null, nextObservationMissing: null,
    terminated, truncated, episodeId, step, behaviorLogprob: null, corrupted: null,
  };
  return { a, trueLogprob: lp, atBound };
}

/** Steps of a well-specified squashed policy: a = tanh(u), u ~ N(1.5 s, 0.5^2), with a uniform share 0.3 over [-1, 1]; s ~ U(-1, 1). */
function squashedMixtureData(episodes: number, T: number, seed: number): { a: TrajectoryArrays; trueLogprob: Float64Array } {
  const base = clippedGaussianData(episodes, T, seed).a;
  const rng = new Rng(seed + 100);
  const obs = new Float32Array(base.n);
  const act = new Float32Array(base.n);
  const lp = new Float64Array(base.n);
  for (let r = 0; r < base.n; r++) {
    const s = Math.fround(rng.range(-1, 1));
    const mu = 1.5 * s;
    const a = rng.uniform() < 0.3 ? Math.fround(rng.range(-1, 1)) : Math.fround(Math.tanh(mu + 0.5 * rng.normal()));
    obs[r] = s;
    act[r] = a;
    const z = (Math.atanh(a) - mu) / 0.5;
    lp[r] = Math.log(0.3 * 0.5 + 0.7 * Math.exp(-0.5 * z * z - Math.log(0.5) - 0.5 * Math.log(2 * Math.PI) - Math.log(1 - a * a)));
  }
  return { a: { ...base, observations: obs, actions: act }, trueLogprob: lp };
}

describe('fitted behaviour policy: a well-specified squashed policy with a uniform share', () => {
  it('recovers the density (held-out log-likelihood within 0.03 of the true) and the uniform share (mean over folds within 0.1 of 0.3)', () => {
    const { a, trueLogprob } = squashedMixtureData(50, 40, 9);
    const f = fitBehaviorModel(a, { folds: 3, steps: 1500, hidden: [16] }, { seed: 0, actionBox: { low: [-1], high: [1] } });
    expect(f.summary.kind).toBe('squashed-gaussian-mlp');
    expect(Math.abs(f.summary.heldOutLogLik - mean(trueLogprob))).toBeLessThan(0.03);
    expect(Math.abs(mean(f.summary.uniformShare!) - 0.3)).toBeLessThan(0.1);
    expect(meanAbsDiff(f.logprob, trueLogprob)).toBeLessThan(0.15);
  });
});

describe('fitted behaviour policy: actions on the box bound', () => {
  it('a clipped Gaussian is fitted as a censored Gaussian: bound actions get a probability mass close to the true one, and the result says so', () => {
    const { a, trueLogprob, atBound } = clippedGaussianData(30, 40, 5);
    expect(atBound).toBeGreaterThan(100);
    // 1,200 steps of a 1-d linear policy: a 16-unit network (the default 64x64 overfits this little data)
    const f = fitBehaviorModel(a, { folds: 3, steps: 1500, hidden: [16] }, { seed: 0, actionBox: { low: [-1], high: [1] } });
    expect(f.summary.kind).toBe('censored-gaussian-mlp');
    expect(f.summary.boundarySteps).toBe(atBound);
    expect(f.warnings.map((w) => w.code)).toContain('BEHAVIOR_BOUNDARY_MASS');
    let errBound = 0;
    let errInside = 0;
    for (let r = 0; r < a.n; r++) {
      const e = Math.abs(f.logprob[r]! - trueLogprob[r]!);
      if (Math.abs((a.actions as Float32Array)[r]!) >= 1) errBound += e / atBound;
      else errInside += e / (a.n - atBound);
    }
    expect(errBound).toBeLessThan(0.15);
    expect(errInside).toBeLessThan(0.15);
    // the held-out log-likelihood is that of the true mixed (mass + density) model, within 0.03
    expect(Math.abs(f.summary.heldOutLogLik - mean(trueLogprob))).toBeLessThan(0.03);
  });
});

describe('fitted behaviour policy: bad input', () => {
  it('no behavior_logprob and fitting switched off: E_NO_BEHAVIOR_LOGPROB naming the reason and the fix', async () => {
    const run = (): unknown => resolveBehaviorLogprob(dropLogprob(cartA), { mode: 'none' });
    expect(run).toThrow(/E_NO_BEHAVIOR_LOGPROB|no behaviour model can be fitted: behaviour-model fitting is switched off \(--behavior-model none\)/);
    try {
      run();
    } catch (e) {
      expect((e as { code: string }).code).toBe('E_NO_BEHAVIOR_LOGPROB');
      expect((e as Error).message).toMatch(/Use --behavior-model auto.*store behavior_logprob.*--estimators dm/s);
    }
    await expect(
      evaluateTrajectoryArrays(dropLogprob(cartA), { candidates: [{ spec: scriptedDiscretePolicy(getEnv('cartpole'), 'expert') }], estimators: ['pdis'], behaviorModel: { mode: 'none' } }),
    ).rejects.toMatchObject({ code: 'E_NO_BEHAVIOR_LOGPROB' });
  });

  it('too few episodes for the folds: E_NO_BEHAVIOR_LOGPROB with the count and a fold number that works', () => {
    const few = generateTrajectories({ env: 'cartpole', policy: 'medium', episodes: 3, seed: 2 });
    const run = (): unknown => fitBehaviorModel(dropLogprob(trajectoryDataToArrays(few)), { folds: 5 });
    expect(run).toThrow(expect.objectContaining({ code: 'E_NO_BEHAVIOR_LOGPROB' }) as Error);
    expect(run).toThrow(/3 episode\(s\) are too few for 5-fold cross-fitting.*--behavior-folds 3/s);
  });

  it('non-finite observations: E_NO_BEHAVIOR_LOGPROB naming the episode and step', () => {
    const obs = Float32Array.from(cartA.observations);
    obs[cartA.obsDim * 5 + 1] = NaN;
    expect(() => fitBehaviorModel({ ...dropLogprob(cartA), observations: obs })).toThrow(/E_NO_BEHAVIOR_LOGPROB|observation of episode \d+ step 5 is not finite/);
    expect(() => fitBehaviorModel({ ...dropLogprob(cartA), observations: obs })).toThrow(/observation of episode \d+ step 5 is not finite \(NaN\)/);
  });

  it('actions no model handles: E_NO_BEHAVIOR_LOGPROB naming the reason', () => {
    const one = { ...dropLogprob(cartA), discreteActions: 1, actions: new Int32Array(cartA.n) };
    expect(() => fitBehaviorModel(one)).toThrow(/E_NO_BEHAVIOR_LOGPROB|the action space has 1 action\(s\); a categorical model needs at least 2/);
    expect(() => fitBehaviorModel(one)).toThrow(/the action space has 1 action\(s\); a categorical model needs at least 2/);
    const acts = Float32Array.from(pendA.actions as Float32Array);
    acts[3] = Infinity;
    expect(() => fitBehaviorModel({ ...dropLogprob(pendA), actions: acts }, {}, { actionSpace: pend.actionSpace })).toThrow(/action of episode \d+ step 3 is not finite \(Infinity\)/);
  });

  it('bad settings: E_BEHAVIOR_MODEL for an unknown mode or fewer than 2 folds', () => {
    expect(() => resolveBehaviorLogprob(dropLogprob(cartA), { mode: 'sometimes' as 'auto' })).toThrow(expect.objectContaining({ code: 'E_BEHAVIOR_MODEL', message: expect.stringMatching(/Unknown behaviour-model mode "sometimes".*auto.*fit.*none/s) as string }) as Error);
    expect(() => fitBehaviorModel(dropLogprob(cartA), { folds: 1 })).toThrow(expect.objectContaining({ code: 'E_BEHAVIOR_MODEL', message: expect.stringMatching(/folds >= 2, got 1/) as string }) as Error);
  });
});

describe('offpolicy evaluate on trajectory data without behavior_logprob', () => {
  it('fits the behaviour model (result field, caveat, table line), and --behavior-model none refuses with E_NO_BEHAVIOR_LOGPROB', async () => {
    const ws = await Workspace.open(path.join(dir, 'ws'));
    const data = generateTrajectories({ env: 'cartpole', policy: 'medium', episodes: 20, seed: 4 });
    // the generator's columns without behavior_logprob (loadTrajectoryTable stores no such column for null)
    await writeTrajectoryDataset(ws, 'nolog', { ...data, behaviorLogprob: null } as unknown as TrajectoryData);
    await writeFile(path.join(dir, 'uniform.json'), '{"type":"uniform"}');
    const out = path.join(dir, 'res.json');
    const base = ['--workspace', path.join(dir, 'ws'), 'evaluate', '--data', 'nolog', '--policy', `uniform=${path.join(dir, 'uniform.json')}`, '--estimators', 'pdis,snpdis', '--interval', 't', '--gamma', '0.9'];
    const r = await runCli([...base, '--behavior-folds', '4', '--out', out]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Behaviour policy estimated \(no logged behavior_logprob\): multinomial logistic regression.*4-fold cross-fitted by episode/);
    expect(r.out).toMatch(/warning \[ESTIMATED_BEHAVIOR_POLICY\]/);
    const res = JSON.parse(await readFile(out, 'utf8')) as TrajectoryEvaluationResult;
    expect(res.behaviorModel!.kind).toBe('categorical-logistic');
    expect(res.behaviorModel!.folds).toBe(4);
    expect(res.settings.backend).toBe('memory');
    expect((res.candidates[0]!.verdict.caveats ?? []).map((c) => c.code)).toContain('ESTIMATED_BEHAVIOR_POLICY');
    const rep = await runCli(['report', '--results', out, '--out', path.join(dir, 'report')]);
    expect(rep.code).toBe(0);
    expect(await readFile(path.join(dir, 'report', 'report.md'), 'utf8')).toMatch(/## Behaviour model/);
    const none = await runCli([...base, '--behavior-model', 'none', '--out', path.join(dir, 'x.json')]);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/E_NO_BEHAVIOR_LOGPROB.*--behavior-model none.*--behavior-model auto/s);
  });

  it('the lean load (no observations) runs with the stored column; a fitted behaviour model (absent column, or mode fit) loads every column', async () => {
    const ws = await Workspace.open(path.join(dir, 'ws'));
    const data = generateTrajectories({ env: 'cartpole', policy: 'medium', episodes: 12, seed: 6 });
    await writeTrajectoryDataset(ws, 'withlog', data);
    const rows = ['episode_id,step,p_0,p_1'];
    for (let r = 0; r < data.n; r++) rows.push(`${data.episodeId[r]},${data.step[r]},0.5,0.5`);
    const table = path.join(dir, 'uniform-table.csv');
    await writeFile(table, rows.join('\n') + '\n');
    const opts = { candidates: [{ name: 'u', spec: table }], estimators: ['pdis' as const], interval: 't' as const, gamma: 0.9 };
    const pushed = await evaluateTrajectoryDataset(ws, 'withlog', opts);
    expect(pushed.backend).toBe('scan');
    expect(pushed.behaviorModel).toBeUndefined();
    const forced = await evaluateTrajectoryDataset(ws, 'withlog', { ...opts, behaviorModel: { mode: 'fit', folds: 3 } });
    expect(forced.backend).toBe('memory');
    expect(forced.behaviorModel!.reason).toBe('forced');
    await writeTrajectoryDataset(ws, 'withoutlog', { ...data, behaviorLogprob: null } as unknown as TrajectoryData);
    const absent = await evaluateTrajectoryDataset(ws, 'withoutlog', { ...opts, behaviorModel: { folds: 3 } });
    expect(absent.backend).toBe('memory');
    expect(absent.behaviorModel!.reason).toBe('absent');
    // same data, same folds and seed: the same fitted log-probabilities whether forced or absent
    expect(absent.candidates[0]!.estimates[0]!.value).toBe(forced.candidates[0]!.estimates[0]!.value);
  });
});
