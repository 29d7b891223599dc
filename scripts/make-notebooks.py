"""Writes notebooks/*.ipynb from the cell lists below (kept as code so diffs stay readable).

Cells run in tslab (scripts/notebooks.sh). tslab 1.0 does not rewrite a shorthand property naming an
earlier cell's variable in a cell with top-level await (`{ policies }` is undefined there): spell them out.

Run: python3 scripts/make-notebooks.py
"""
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent / 'notebooks'


def nb(cells):
    out = []
    for i, (kind, src) in enumerate(cells):
        lines = src.strip('\n').split('\n')
        source = [l + '\n' for l in lines[:-1]] + [lines[-1]]
        c = {"cell_type": kind, "id": f"cell-{i + 1}", "metadata": {}, "source": source}
        if kind == 'code':
            c.update({"execution_count": None, "outputs": []})
        out.append(c)
    return {"nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"display_name": "TypeScript", "language": "typescript", "name": "tslab"},
                         "language_info": {"name": "typescript", "file_extension": ".ts", "mimetype": "text/typescript"}},
            "cells": out}


NB1 = nb([
    ('markdown', """# Evaluate a candidate policy from a CSV log

You hold a log of past decisions (context, action taken, reward observed, and the probability
the logging policy gave that action) and a candidate policy scored elsewhere as a table of action
probabilities per row. This notebook ingests the log, evaluates the candidate with the whole
estimator suite, and writes a report a reviewer can read.

Run it in Jupyter with the TypeScript kernel (`tslab`) from this folder; `npm run notebooks:setup` in the
repository installs the kernel and makes `import ... from 'offpolicy'` resolve to the toolkit. The data
ships in `../data/`."""),
    ('code', """import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Workspace, ingest, evaluate, renderReport, formatTable } from 'offpolicy';"""),
    ('markdown', """## 1. A workspace and the log

Datasets live in a workspace: immutable, versioned Parquet files plus a DuckDB catalog. We use a
temporary one here; on the command line it is `./.offpolicy` by default.

The CSV has the context as five named columns `x0..x4`; `map` gathers them into the canonical
`context` vector."""),
    ('code', """const dir = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-notebook-'));
const ws = await Workspace.open(dir);
const ingested = await ingest(ws, '../data/bandit-sample.csv', {
  name: 'clicks',
  map: { context: 'x0,x1,x2,x3,x4' },
});
const meta = ingested.version.metadata;
const K = meta.actionSpace?.type === 'discrete' ? meta.actionSpace.n : NaN;
console.log(`${ingested.version.ref}: ${meta.rowCount} rows, ${K} actions, content hash ${meta.contentHash.slice(0, 12)}`);"""),
    ('markdown', """## 2. Evaluate the candidate

`../data/bandit-candidate.csv` gives the candidate's probability of each action (`p_0..p_4`) per
`row_id`. We ask for percentile-bootstrap intervals at 95%; the toolkit fits a logistic reward
model for DM and the doubly robust family."""),
    ('code', """const result = await evaluate(ws, {
  data: 'clicks',
  policies: [{ name: 'candidate', spec: '../data/bandit-candidate.csv' }],
  interval: 'bootstrap',
  alpha: 0.05,
  resamples: 500,
  seed: 0,
});
const candidate = result.candidates[0]!;
console.log(formatTable(candidate.estimates.map((e) => ({
  estimator: e.estimator,
  value: e.value,
  lower: e.interval?.lower,
  upper: e.interval?.upper,
}))));
console.log(`logging policy value (mean logged reward): ${result.logging.value.toFixed(4)}`);
console.log(candidate.verdict.sentence);"""),
    ('markdown', """The data is synthetic, so the truth is known (see `../data/README.md`): the logging policy is
worth 0.4754 and the candidate 0.6252. A 95% interval should cover 0.6252 about 19 times in 20."""),
    ('code', """const TRUE_CANDIDATE_VALUE = 0.625201821004709;
const dr = candidate.estimates.find((e) => e.estimator === 'dr')!;
const covered = dr.interval!.lower <= TRUE_CANDIDATE_VALUE && TRUE_CANDIDATE_VALUE <= dr.interval!.upper;
console.log(`DR ${dr.value.toFixed(4)} [${dr.interval!.lower.toFixed(4)}, ${dr.interval!.upper.toFixed(4)}] ${covered ? 'covers' : 'misses'} the true value`);
console.log(`ESS ${candidate.diagnostics.ess.toFixed(0)} of ${candidate.diagnostics.n} rows; max weight ${candidate.diagnostics.maxWeight.toFixed(2)}`);"""),
    ('markdown', """## 3. The report

HTML (self-contained: open it from disk), Markdown with SVG charts, and JSON, written to
`offpolicy-report/` beside this notebook. The temporary workspace goes; the report stays."""),
    ('code', """const { files } = await renderReport(result, { formats: ['html', 'md', 'json'], outDir: 'offpolicy-report' });
console.log(files.map((f) => path.relative(process.cwd(), f)).join('\\n'));
await rm(dir, { recursive: true, force: true });"""),
])

NB2 = nb([
    ('markdown', """# Compare estimators on synthetic data with ground truth

Off-policy estimators trade bias for variance. On synthetic data the true value of every policy is
known, so we can measure each estimator's error directly, along with rank-based selection metrics
over many candidates (Spearman correlation, regret@k), as SCOPE-RL does.

The setting follows Open Bandit Pipeline's synthetic benchmark: contexts N(0, I), logistic
expected reward, a softmax logging policy over linear scores with inverse temperature beta = -3."""),
    ('code', """import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  Workspace, generateBanditLog, writeBanditDataset, softmaxPolicy, trueValue,
  evaluate, accuracyMetrics, formatTable,
} from 'offpolicy';"""),
    ('markdown', """## 1. A logged dataset with known expected rewards"""),
    ('code', """const dir = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-notebook-'));
const ws = await Workspace.open(dir);
const log = generateBanditLog({ n: 5000, numActions: 10, contextDim: 5, reward: 'logistic', beta: -3, seed: 1 });
await writeBanditDataset(ws, 'synthetic', log);
console.log(`logging policy true value: ${log.loggingValue.toFixed(4)}`);"""),
    ('markdown', """## 2. Candidates of varying quality

`softmaxPolicy(log, betaE)` is softmax(betaE x the behaviour's scores): betaE = -3 is the logger
itself, other values move away from it. Each candidate is written as a probability table keyed by
`row_id`, the format teams usually hand over."""),
    ('code', """const betas = [-6, -3, -1, 0, 1, 3];
const K = log.numActions;
const policies: { name: string; spec: string }[] = [];
const truth: number[] = [];
for (const b of betas) {
  const probs = softmaxPolicy(log, b);
  truth.push(trueValue(log.expectedRewards, probs, log.n, K));
  const lines = [['row_id', ...Array.from({ length: K }, (_, a) => `p_${a}`)].join(',')];
  for (let i = 0; i < log.n; i++) lines.push([i, ...Array.from(probs.subarray(i * K, (i + 1) * K))].join(','));
  const file = path.join(dir, `beta_${b}.csv`);
  await writeFile(file, lines.join('\\n') + '\\n');
  policies.push({ name: `beta=${b}`, spec: file });
}
console.log(formatTable(betas.map((b, i) => ({ candidate: `beta=${b}`, true_value: truth[i] }))));"""),
    ('markdown', """## 3. Every estimator on every candidate"""),
    ('code', """const result = await evaluate(ws, { data: 'synthetic', policies: policies, interval: 't', seed: 0 });
const estimators = result.candidates[0]!.estimates.map((e) => e.estimator);
const rows = estimators.map((id) => {
  const est = result.candidates.map((c) => c.estimates.find((e) => e.estimator === id)!.value);
  const m = accuracyMetrics(id, est, truth, log.loggingValue, 3);
  return { estimator: id, relative_error: m.relativeError, spearman: m.spearman, regret_at_3: m.regretAtK };
});
console.log(formatTable(rows));"""),
    ('markdown', """How to read it: candidates far from the logger (large positive beta) get heavy importance
weights and a small effective sample size, so plain IPS and its clipped and smoothed variants are
noisy and, on a typical draw, biased low for them, which can even invert their ranking.
Self-normalization (SNIPS) and the doubly robust family (DR, SNDR, Switch-DR, DR-OS) hold up much
better. DM is only as good as its reward model: here the logistic model matches the logistic reward
well, so DM is accurate; on OBP's setting, with a misspecified model, it is the worst."""),
    ('code', """console.log(formatTable(result.candidates.map((c, i) => ({
  candidate: c.name,
  true_value: truth[i],
  ess: c.diagnostics.ess,
  max_weight: c.diagnostics.maxWeight,
}))));"""),
    ('code', """await rm(dir, { recursive: true, force: true });"""),
])

ROOT.mkdir(exist_ok=True)
for name, book in [('01-evaluate-from-csv.ipynb', NB1), ('02-compare-estimators-synthetic.ipynb', NB2)]:
    (ROOT / name).write_text(json.dumps(book, indent=1) + '\n')
