import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Workspace } from '../src/datasets/workspace.js';
import { FIXTURES, removeDir, tempDir } from './ingest-helpers.js';
import { runCli } from './support/run-cli.js';

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

const run = (...args: string[]): ReturnType<typeof runCli> => runCli(['--workspace', path.join(dir, 'ws'), ...args]);

describe('offpolicy datasets ingest', () => {
  it('prints the new ref, rows, content hash and rejected count', async () => {
    const { out, code } = await run('datasets', 'ingest', path.join(FIXTURES, 'mapped.csv'), '--name', 'm', '--map', 'action=item', '--map', 'reward=click', '--map', 'propensity=pscore', '--map', 'context=x1,x2,x3', '--num-actions', '4');
    expect(code).toBe(0);
    const v = await (await Workspace.open(path.join(dir, 'ws'))).resolve('m');
    expect(v.metadata.actionSpace).toEqual({ type: 'discrete', n: 4 });
    expect(v.metadata.columns.map((c) => c.name)).toEqual(['row_id', 'context', 'action', 'reward', 'propensity', 'id']);
    expect(out).toBe(
      [
        'ingested m@1',
        '  kind:         bandit',
        '  rows:         2',
        `  content hash: ${v.metadata.contentHash}`,
        '  rejected:     0',
        '',
      ].join('\n'),
    );
  });

  it('--drop-invalid reports the rejected rows and their file; warnings go to stderr', async () => {
    const { out, err, code } = await run('datasets', 'ingest', path.join(FIXTURES, 'bandit.csv'), '--name', 'n', '--num-actions', '2', '--drop-invalid');
    const v = await (await Workspace.open(path.join(dir, 'ws'))).resolve('n');
    expect(v.metadata.rowCount).toBe(2);
    expect(out).toContain(`  rejected:     1 (${path.join(v.dir, 'rejected.parquet')})`);
    expect(err).toBe('warning: 1 of 3 rows broke validation rules and were left out; they are in rejected.parquet with the reasons.\n');
    expect(code).toBe(0);
  });

  it('prints "error [CODE]: message" and exits 2 on bad input', async () => {
    const a = await run('datasets', 'ingest', path.join(FIXTURES, 'bandit.csv'), '--name', 'x', '--num-actions', 'two');
    expect(a.code).toBe(2);
    expect(a.err).toBe('error [E_NUM_ACTIONS]: --num-actions must be a positive integer, got "two". Pass the number of actions K (actions are 0..K-1).\n');
    const b = await run('datasets', 'ingest', path.join(FIXTURES, 'bandit.csv'), '--name', 'x', '--map', 'reward');
    expect(b.err).toBe('error [E_MAP_FLAG]: --map reward is not CANONICAL=SOURCE. Write e.g. --map reward=click, or --map context=x1,x2,x3 for a vector assembled from columns.\n');
    const c = await run('datasets', 'ingest', path.join(FIXTURES, 'bandit.csv'), '--name', 'x', '--kind', 'tabular');
    expect(c.err).toBe('error [E_KIND]: --kind must be bandit or trajectory, got "tabular".\n');
  });
});
