/**
 * Issue 15 items 1, 2 and 5: three-outcome verdicts with caveats, intervals
 * clipped to the value range and labelled when they do not cover the value,
 * DM intervals with the reward model's error, and the reviewer's report.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvaluationResult } from '../src/core/evaluation-result.js';
import { runDemo } from '../src/demo.js';
import { ingest } from '../src/datasets/ingest/index.js';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { writeBanditDataset } from '../src/datasets/synthetic/bandit-log.js';
import { Workspace } from '../src/datasets/workspace.js';
import { sumsInterval } from '../src/ope/bandit/assemble.js';
import { candidateWarnings, LOW_ESS_RATIO } from '../src/ope/diagnostics.js';
import { evaluate } from '../src/ope/evaluate.js';
import { tInterval } from '../src/ope/intervals/t.js';
import { fitRidge } from '../src/ope/reward-models/index.js';
import { dmUncertainty } from '../src/ope/reward-models/uncertainty.js';
import { sumsFromTerms } from '../src/ope/sums.js';
import { renderReport } from '../src/reports/render.js';
import { Rng } from '../src/util/rng.js';
import { runCli } from './support/run-cli.js';

const SAMPLE = path.resolve('data/bandit-sample.csv');
const CANDIDATE = path.resolve('data/bandit-candidate.csv');

let dir: string;
let ws: Workspace;
/** The README walk-through: data/bandit-sample.csv and its candidate, bootstrap at 95%. */
let walk: EvaluationResult;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-verdict-'));
  ws = await Workspace.open(path.join(dir, 'ws'));
  await ingest(ws, SAMPLE, { name: 'clicks', map: { context: 'x0,x1,x2,x3,x4' } });
  walk = await evaluate(ws, { data: 'clicks', policies: [{ name: 'candidate', spec: CANDIDATE }], interval: 'bootstrap', alpha: 0.05, seed: 0 });
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('verdicts', () => {
  it("the demo's reward-averse candidate is worse, the reward-greedy one better (demo data path, 5,000 rows)", async () => {
    const s = await runDemo({ outDir: path.join(dir, 'demo'), rows: 5000, resamples: 200, seed: 0 });
    const [greedy, averse, softer] = s.candidates;
    expect(averse!.trueValue).toBeLessThan(s.logging.trueValue);
    expect(averse!.outcome).toBe('worse');
    expect(averse!.sentence).toMatch(/^Candidate reward-averse is worse than the logging policy: dr \(bootstrap\) upper bound 0\.\d+ < logging value 0\.\d+ at 95%\./);
    const v = s.result.candidates[1]!.verdict;
    expect(v.upperBound!).toBeLessThan(s.result.logging.value);
    expect(v.decidedBy).toEqual({ kind: 'estimator', id: 'dr' });
    expect(greedy!.recommended).toBe(true);
    expect(softer!.outcome).toBe('inconclusive');
  }, 60_000);

  it('the README walk-through candidate (ESS 113 of 2,000 rows, max weight 39) is not a plain "better": LOW_ESS and inconclusive', () => {
    const c = walk.candidates[0]!;
    // The case of the issue, exactly: ESS 5.7% of n, max weight 39, estimates 0.30-0.60, certificates 0.154 and 0.
    expect(c.diagnostics.ess).toBeCloseTo(113.1, 1);
    expect(c.diagnostics.essRatio).toBeCloseTo(0.0566, 4);
    expect(c.diagnostics.maxWeight).toBeCloseTo(38.96, 2);
    expect(Math.min(...c.estimates.map((e) => e.value))).toBeCloseTo(0.3025, 4);
    expect(Math.max(...c.estimates.map((e) => e.value))).toBeCloseTo(0.6018, 4);
    expect(c.certificates.map((k) => [k.kind, Number(k.lower.toFixed(3))])).toEqual([
      ['catoni-clipped-ips', 0.154],
      ['london-sandler', 0],
    ]);
    expect(c.warnings.map((w) => w.code)).toContain('LOW_ESS');
    // DR's lower bound alone would say better; the evidence against it makes the verdict inconclusive.
    expect(c.verdict.lowerBound).toBeGreaterThan(walk.logging.value);
    expect(c.verdict.outcome).toBe('inconclusive');
    expect(c.verdict.recommended).toBe(false);
    expect(c.verdict.caveats!.map((k) => k.code)).toEqual(['LOW_ESS', 'ESTIMATOR_DISAGREEMENT', 'CERTIFICATE_BELOW_LOGGING']);
    expect(c.verdict.caveats![1]!.message).toMatch(/^ips gives 0\.450, at or below the logging value 0\.478/);
    expect(c.verdict.sentence).toBe(
      'Inconclusive for candidate candidate: dr (bootstrap) lower bound 0.508 > logging value 0.478 at 95%, but LOW_ESS, ESTIMATOR_DISAGREEMENT, CERTIFICATE_BELOW_LOGGING undermine it.',
    );
  });

  it('LOW_ESS fires below 10% of n: at 5.7% (the case above), not at 12%', () => {
    expect(LOW_ESS_RATIO).toBe(0.1);
    const diag = (essRatio: number) => ({ n: 2000, ess: 2000 * essRatio, essRatio, maxWeight: 5, meanWeight: 1, weightQuantiles: [], supportDeficiency: 0, weightHistogram: [] });
    expect(candidateWarnings(diag(0.057), []).map((w) => w.code)).toEqual(['LOW_ESS']);
    expect(candidateWarnings(diag(0.12), [])).toEqual([]);
  });

  it('a verdict source that cannot be used says so: the default falls back with a caveat, a chosen one gives an inconclusive verdict', async () => {
    // K = 5 with 2 actions the logger never takes; a uniform candidate puts 40% of its mass there.
    const log = generateBanditLog({ n: 1500, numActions: 5, contextDim: 3, reward: 'logistic', beta: 1, seed: 3, deficientSupport: 2 });
    const v = await writeBanditDataset(ws, 'deficient', log);
    const uniformFile = path.join(dir, 'uniform.json');
    await writeFile(uniformFile, '{"type":"uniform"}');
    const policies = [{ name: 'uniform', spec: uniformFile }];
    const fallback = await evaluate(ws, { data: v.ref, policies, interval: 't', seed: 0 });
    const f = fallback.candidates[0]!;
    expect(f.estimates.map((e) => e.estimator)).toEqual(['dm']);
    expect(f.verdict.decidedBy).toEqual({ kind: 'estimator', id: 'dm' });
    expect(f.verdict.sourceNote).toMatch(/^The default verdict source dr cannot be used \(dr was refused: the candidate leaves the logger's support \(--allow-deficient computes it anyway\)\); dm decided instead\.$/);
    expect(f.verdict.caveats!.map((k) => k.code)).toEqual(expect.arrayContaining(['SUPPORT_DEFICIENT', 'VARIANCE_INTERVAL', 'SOURCE_FALLBACK']));
    expect(f.verdict.outcome).not.toBe('better');
    expect(f.verdict.sentence).toContain('The default verdict source dr cannot be used');

    const chosen = await evaluate(ws, { data: v.ref, policies, interval: 't', seed: 0, verdictSource: 'dr' });
    const c = chosen.candidates[0]!.verdict;
    expect([c.outcome, c.recommended, c.decidedBy]).toEqual(['inconclusive', false, undefined]);
    expect(c.lowerBound).toBeNull();
    expect(c.sentence).toBe(
      "Inconclusive for candidate uniform: The chosen verdict source cannot be used: dr was refused: the candidate leaves the logger's support (--allow-deficient computes it anyway). Caveats: SUPPORT_DEFICIENT.",
    );
    // The CLI prints the same sentence, and the label on the candidate's first row (no row decided).
    const cli = await runCli(['-w', path.join(dir, 'ws'), 'evaluate', '--data', v.ref, '--policy', `uniform=${uniformFile}`, '--interval', 't', '--verdict-source', 'dr', '--out', path.join(dir, 'deficient.json')]);
    expect(cli.code, cli.err).toBe(0);
    expect(cli.out).toContain(`INCONCLUSIVE: ${c.sentence}`);
    expect(cli.out).toMatch(/\nuniform\s+dm\s+\S+\s+\[[^\]]+\]\s+variance only\s+INCONCLUSIVE\n/);
  }, 60_000);
});

describe('intervals', () => {
  it('Hoeffding and Bernstein intervals are clipped to the reward range and say so; the verdict never prints a bound outside it', async () => {
    for (const method of ['hoeffding', 'bernstein'] as const) {
      const r = await evaluate(ws, { data: 'clicks', policies: [{ name: 'candidate', spec: CANDIDATE }], interval: method, alpha: 0.05, seed: 0 });
      const c = r.candidates[0]!;
      const dr = c.estimates.find((e) => e.estimator === 'dr')!;
      expect(dr.interval).toMatchObject({ lower: 0, upper: 1, method, clippedTo: [0, 1], covers: 'value' });
      for (const e of c.estimates) if (e.interval) expect(e.interval.lower >= 0 && e.interval.upper <= 1, `${method} ${e.estimator}`).toBe(true);
      expect(c.verdict.lowerBound).toBe(0);
      expect(c.verdict.sentence).not.toMatch(/-\d/);
      expect(c.verdict.outcome).toBe('inconclusive');
    }
  }, 60_000);

  it('clips exactly: DR terms in [-W D, 1 + W D] give mean -+ half-width, cut at [0, 1]', () => {
    // 4 rows of DR terms; the term range for W = 10, rewards in [0, 1] is [-10, 11].
    const terms = { num: Float64Array.from([0.9, 0.2, 1.4, -0.3]), den: null, base: null };
    const s = sumsFromTerms(terms);
    const params = { clip: 10, smoothingAlpha: 0.5 };
    const hoeff = sumsInterval('dr', s, 'hoeffding', 0.05, [0, 1], 10, params, []);
    const half = 21 * Math.sqrt(Math.log(2 / 0.05) / 8);
    expect(0.55 - half).toBeLessThan(0);
    expect(hoeff).toEqual({ lower: 0, upper: 1, method: 'hoeffding', alpha: 0.05, clippedTo: [0, 1] });
    const bern = sumsInterval('dr', s, 'bernstein', 0.05, [0, 1], 10, params, []);
    expect(bern).toEqual({ lower: 0, upper: 1, method: 'bernstein', alpha: 0.05, clippedTo: [0, 1] });
    // An interval inside the range is left as it is, with no clippedTo.
    const inside = sumsInterval('dm', sumsFromTerms({ num: Float64Array.from([0.4, 0.5, 0.6, 0.5]), den: null, base: null }), 't', 0.05, [0, 1], 10, params, []);
    expect(inside!.clippedTo).toBeUndefined();
    expect(inside!.lower).toBeGreaterThan(0);
  });

  it('labels the intervals of estimators biased by design as variance intervals in the JSON and the CLI', async () => {
    const out = path.join(dir, 'labels.json');
    const { code, out: text, err } = await runCli(['-w', path.join(dir, 'ws'), 'evaluate', '--data', 'clicks', '--policy', `candidate=${CANDIDATE}`, '--interval', 't', '--out', out]);
    expect(code, err).toBe(0);
    const r = JSON.parse(await readFile(out, 'utf8')) as EvaluationResult;
    const covers = Object.fromEntries(r.candidates[0]!.estimates.map((e) => [e.estimator, e.interval!.covers]));
    expect(covers).toEqual({ ips: 'value', 'clipped-ips': 'variance', snips: 'value', 'es-ips': 'variance', dm: 'variance', dr: 'value', sndr: 'value', 'switch-dr': 'variance', 'dr-os': 'variance' });
    expect(r.candidates[0]!.estimates.find((e) => e.estimator === 'dm')!.interval!.rewardModelUncertainty).toBe(true);
    expect(text).toMatch(/\n\s+clipped-ips\s+0\.3271\s+\[[^\]]+\]\s+variance only/);
    expect(text).toMatch(/\n\s+dr\s+0\.5742\s+\[[^\]]+\]\s+value\s+INCONCLUSIVE\n/);
    expect(text).toContain('"variance only": the interval of an estimator biased by design');
    // Without a clip, clipped IPS is IPS and its interval covers the value.
    const r2 = await evaluate(ws, { data: 'clicks', policies: [{ name: 'candidate', spec: CANDIDATE }], interval: 't', clip: Infinity, estimators: ['clipped-ips', 'switch-dr'] });
    expect(r2.candidates[0]!.estimates.map((e) => e.interval!.covers)).toEqual(['value', 'value']);
  }, 60_000);

  it("DM's t interval with the reward model's error covers the value (ridge, 200 replications); without it, it does not", () => {
    // K = 3, rewards 0.5 + 0.1 x_1 + e_a + N(0, 1); the logger rarely takes the action the candidate favours.
    const K = 3, d = 2, n = 400, reps = 200;
    const pi = [0.1, 0.2, 0.7], logger = [0.6, 0.3, 0.1], eff = [0, 0.2, -0.1];
    const truth = 0.5 + pi.reduce((s, p, a) => s + p * eff[a]!, 0);
    let covered = 0, coveredWithout = 0;
    for (let r = 0; r < reps; r++) {
      const rng = new Rng(`dm-uncertainty:${r}`);
      const contexts = new Float32Array(n * d), actions = new Int32Array(n), rewards = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < d; j++) contexts[i * d + j] = rng.normal();
        actions[i] = rng.categorical(logger);
        rewards[i] = 0.5 + 0.1 * contexts[i * d]! + eff[actions[i]!]! + rng.normal();
      }
      const data = { n, d, numActions: K, contexts, actions, rewards };
      const model = fitRidge(data);
      const q = model.predict(contexts, n);
      const probs = new Float64Array(n * K);
      const dm = new Float64Array(n);
      for (let i = 0; i < n; i++) for (let a = 0; a < K; a++) (probs[i * K + a] = pi[a]!), (dm[i] = dm[i]! + pi[a]! * q[i * K + a]!);
      const corr = dmUncertainty(model, data)!.correction(probs);
      const without = tInterval(sumsFromTerms({ num: dm, den: null, base: null }), 0.05);
      const withErr = tInterval(sumsFromTerms({ num: Float64Array.from(dm, (v, i) => v + corr[i]!), den: null, base: null }), 0.05);
      // The correction has mean 0: the point estimate is unchanged.
      expect((withErr.lower + withErr.upper) / 2).toBeCloseTo((without.lower + without.upper) / 2, 10);
      if (withErr.lower <= truth && truth <= withErr.upper) covered++;
      if (without.lower <= truth && truth <= without.upper) coveredWithout++;
    }
    expect(covered / reps).toBeGreaterThanOrEqual(0.92);
    expect(coveredWithout / reps).toBeLessThan(0.5);
  });
});

describe('report', () => {
  it('has a glossary, reward-model fit, human labels, collapsed certificate internals, no HTML entities in Markdown, the ingest command and candidate hashes, and each warning once', async () => {
    const r = await evaluate(ws, {
      data: 'clicks',
      policies: [
        { name: 'candidate', spec: CANDIDATE },
        { name: 'again', spec: CANDIDATE },
      ],
      interval: 't',
      seed: 0,
    });
    const out = path.join(dir, 'report');
    await renderReport(r, { formats: ['html', 'md', 'json'], outDir: out });
    const html = await readFile(path.join(out, 'report.html'), 'utf8');
    const md = await readFile(path.join(out, 'report.md'), 'utf8');
    const sha = createHash('sha256').update(await readFile(CANDIDATE)).digest('hex');
    expect(r.candidates[0]!.sha256).toBe(sha);
    for (const [doc, skipped] of [[html, 'CERTIFICATE_SKIPPED'], [md, 'CERTIFICATE_SKIPPED']] as const) {
      expect(doc).toContain('Glossary');
      for (const term of ['ESS', 'certificate', 'verdict', 'variance interval', 'dr']) expect(doc).toMatch(new RegExp(`${term}`));
      for (const raw of ['rewardMean', 'propensityQ01', 'propensityMin', 'rewardStd', 'clippedRisk']) expect(doc, raw).not.toContain(raw);
      expect(doc).toContain('logged propensity, 1st percentile');
      expect(doc).toContain('Reward model fit');
      expect(doc).toMatch(/log-loss/);
      expect(doc).toContain(`offpolicy datasets ingest ${SAMPLE} --name clicks --format csv --map context=x0,x1,x2,x3,x4`);
      expect(doc).toContain(`${sha}  ${CANDIDATE}`);
      // CERTIFICATE_SKIPPED is the same for both candidates: shown once, at the top.
      expect(doc.split(skipped).length - 1).toBe(1);
    }
    expect(md).not.toMatch(/&(amp|lt|gt|quot|#\d+);/);
    expect(html).toMatch(/<details class="internals"><summary>Certificate internals<\/summary>[\s\S]*?clipped risk[\s\S]*?<\/details>/);
    // The verdict label sits on the deciding estimator's row.
    expect(html).toMatch(/<td>dr<\/td>(<td[^>]*>[^<]*<\/td>){5}<td class="label">INCONCLUSIVE<\/td>/);
    // Two candidates: the accuracy table is not there (no truth), and no note claims one.
    expect(html).not.toContain('Estimator accuracy');
  }, 60_000);
});
