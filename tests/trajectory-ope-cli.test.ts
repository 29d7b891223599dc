/** `offpolicy evaluate` on a trajectory dataset (dispatch on the dataset kind) and `offpolicy report` of its result. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from '../src/datasets/workspace.js';
import { generateTrajectories, writeTrajectoryDataset } from '../src/envs/trajectories.js';
import type { TrajectoryEvaluationResult } from '../src/core/trajectory-evaluation-result.js';
import { runCli } from './support/run-cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-traj-cli-'));
  const ws = await Workspace.open(path.join(dir, 'ws'));
  await writeTrajectoryDataset(ws, 'cart', generateTrajectories({ env: 'cartpole', policy: 'medium', episodes: 20, seed: 3 }));
  await writeFile(path.join(dir, 'uniform.json'), '{"type":"uniform"}');
  await writeFile(path.join(dir, 'greedy.json'), '{"type":"argmax","weights":[[0,0,-1,-1],[0,0,1,1]]}');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('offpolicy evaluate / report on trajectory data', () => {
  it('scores JSON candidates with IS and FQE-based estimators, writes a trajectory result, and renders the report', async () => {
    const out = path.join(dir, 'res.json');
    const r = await runCli(['--workspace', path.join(dir, 'ws'), 'evaluate', '--data', 'cart', '--policy', `uniform=${path.join(dir, 'uniform.json')}`,
      '--estimators', 'tis,pdis,snpdis,dr,dm', '--interval', 't', '--gamma', '0.95', '--fqe-steps', '300', '--fqe-hidden', '16', '--out', out]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\(behaviour\)\s+discounted return/);
    const res = JSON.parse(await readFile(out, 'utf8')) as TrajectoryEvaluationResult;
    expect(res.setting).toBe('trajectory');
    expect(res.settings.gamma).toBe(0.95);
    expect(res.candidates[0]!.estimates.map((e) => e.estimator)).toEqual(['tis', 'pdis', 'snpdis', 'dr', 'dm']);
    expect(res.candidates[0]!.q!.curve!.length).toBeGreaterThan(3);
    expect(res.candidates[0]!.weights!.perStep.ess.length).toBe(res.dataset.horizon);
    expect(res.selection!.rows.length).toBeGreaterThan(0);
    const rep = await runCli(['report', '--results', out, '--out', path.join(dir, 'report')]);
    expect(rep.code).toBe(0);
    const md = await readFile(path.join(dir, 'report', 'report.md'), 'utf8');
    expect(md).toMatch(/## Per-step effective sample size: uniform/);
    expect(md).toMatch(/## Fitted Q evaluation learning curve: uniform/);
    expect(md).toMatch(/## Off-policy selection/);
    const html = await readFile(path.join(dir, 'report', 'report.html'), 'utf8');
    expect(html).toMatch(/<h2>Deploy verdicts<\/h2>/);
  });
  it('a deterministic candidate with IS estimators fails with E_DETERMINISTIC_CANDIDATE; gamma out of range with E_GAMMA', async () => {
    const ws = ['--workspace', path.join(dir, 'ws'), 'evaluate', '--data', 'cart', '--out', path.join(dir, 'x.json')];
    const r = await runCli([...ws, '--policy', path.join(dir, 'greedy.json'), '--estimators', 'pdis', '--interval', 't']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/E_DETERMINISTIC_CANDIDATE.*--estimators dm/s);
    const g = await runCli([...ws, '--policy', path.join(dir, 'uniform.json'), '--estimators', 'pdis', '--gamma', '1.5']);
    expect(g.code).toBe(2);
    expect(g.err).toMatch(/E_GAMMA/);
  });
});
