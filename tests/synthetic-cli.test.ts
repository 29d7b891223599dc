import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from '../src/datasets/workspace.js';
import { runCli } from './support/run-cli.js';

/**
 * Runs `offpolicy ARGS` in process and resolves to its stdout. A run that fails with the CLI's
 * `error [CODE]: message` line (exit 2) rejects with an Error carrying that code and message, as the command threw it;
 * any other failure rejects with the exit code and stderr.
 */
async function run(args: string[]): Promise<string> {
  const r = await runCli(args);
  if (r.code === 0) return r.out;
  const m = r.code === 2 ? /^error \[([A-Z0-9_]+)\]: ([\s\S]*)\n$/.exec(r.err) : null;
  if (!m) throw new Error(`offpolicy ${args.join(' ')} exited ${r.code}: ${r.err}`);
  throw Object.assign(new Error(m[2]), { code: m[1] });
}

describe('offpolicy generate', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-gen-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('bandit, multiclass and trajectories print ref, rows and content hash', async () => {
    const b = JSON.parse(await run(['-w', dir, 'generate', 'bandit', '--name', 'syn', '--rows', '500', '--actions', '4', '--context-dim', '2', '--beta', '-3', '--deficient-support', '1', '--seed', '3', '--json']));
    const ws = await Workspace.open(dir);
    const v = await ws.resolve('syn');
    expect(b).toEqual({ ref: 'syn@1', rows: 500, contentHash: v.metadata.contentHash, loggingTrueValue: v.metadata.extra!.loggingTrueValue });
    expect(v.metadata.extra!.params).toEqual({ rows: 500, actions: 4, contextDim: 2, reward: 'logistic', beta: -3, deficientSupport: 1 });

    const m = await run(['-w', dir, 'generate', 'multiclass', '--name', 'iris', '--dataset', 'iris', '--alpha-b', '0.4', '--rows', '300', '--seed', '0']);
    const mv = await ws.resolve('iris');
    expect(m).toContain('iris@1');
    expect(m).toContain(mv.metadata.contentHash);
    expect(m).toMatch(/rows\s+300\n/);

    const t = await run(['-w', dir, 'generate', 'trajectories', '--name', 'cp', '--env', 'cartpole', '--policy', 'expert', '--episodes', '2', '--seed', '0']);
    const tv = await ws.resolve('cp');
    expect(tv.metadata.rowCount).toBe(1000);
    expect(t).toMatch(/ref\s+cp@1\n/);
    expect(t).toMatch(/episodes\s+2\n/);
    expect(t).toContain(tv.metadata.contentHash);
  });

  it('reports bad flags as OffpolicyErrors', async () => {
    await expect(run(['-w', dir, 'generate', 'bandit', '--name', 'x', '--rows', 'lots'])).rejects.toMatchObject({
      code: 'E_GENERATOR_PARAM',
      message: '--rows takes a number, got "lots". For example --rows 3.',
    });
    await expect(run(['-w', dir, 'generate', 'trajectories', '--name', 'x', '--env', 'hopper'])).rejects.toMatchObject({
      code: 'E_UNKNOWN_ENV',
      message: expect.stringMatching(/^Unknown environment "hopper". Known environments: Pendulum-v1/),
    });
  });
});
