/**
 * The notebooks run in real Jupyter: scripts/notebooks.sh executes every notebooks/*.ipynb with
 * nbconvert and the tslab kernel, failing on any cell error. The notebooks import 'offpolicy' as a
 * user would (notebooks/node_modules/offpolicy links this checkout, so it is the built dist/).
 *
 * Needs Jupyter (Debian: jupyter-nbconvert, jupyter-client, python3-ipykernel) and
 * `scripts/notebooks.sh setup`; .ci/run installs both. Under CI (CI set) a missing piece fails the
 * suite; elsewhere these tests are skipped with the command that sets them up.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = process.cwd();
const NOTEBOOK_DIR = path.join(ROOT, 'notebooks');
const SCRIPT = path.join(ROOT, 'scripts', 'notebooks.sh');

interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: { output_type: string; name?: string; text?: string | string[] }[];
}

function missingPieces(): string[] {
  const missing: string[] = [];
  try {
    execFileSync('jupyter', ['nbconvert', '--version'], { stdio: 'ignore' });
  } catch {
    missing.push('jupyter nbconvert (apt-get install jupyter-nbconvert jupyter-client python3-ipykernel)');
  }
  if (!existsSync(path.join(NOTEBOOK_DIR, 'node_modules', '.bin', 'tslab')) || !existsSync(path.join(NOTEBOOK_DIR, 'node_modules', 'offpolicy'))) {
    missing.push('the tslab kernel (scripts/notebooks.sh setup)');
  }
  if (!existsSync(path.join(ROOT, 'dist', 'index.js'))) missing.push('the built package (npm run build)');
  return missing;
}

const missing = missingPieces();
const notebooks = readdirSync(NOTEBOOK_DIR).filter((f) => f.endsWith('.ipynb') && !f.startsWith('.')).sort();
const text = (s: string | string[] | undefined): string => (Array.isArray(s) ? s.join('') : (s ?? ''));

describe('notebooks in Jupyter', () => {
  it('has what it needs (under CI every piece is required)', () => {
    if (missing.length > 0 && !process.env.CI) {
      console.warn(`notebook tests skipped; missing: ${missing.join('; ')}`);
      return;
    }
    expect(missing).toEqual([]);
  });

  it('the project has notebooks, each for the TypeScript kernel', async () => {
    expect(notebooks).toEqual(['01-evaluate-from-csv.ipynb', '02-compare-estimators-synthetic.ipynb']);
    for (const f of notebooks) {
      const nb = JSON.parse(await readFile(path.join(NOTEBOOK_DIR, f), 'utf8')) as { metadata: { kernelspec: { name: string } }; cells: Cell[] };
      expect(nb.metadata.kernelspec.name).toBe('tslab');
      // Imported as a user would: from the package, never from the sources.
      const code = nb.cells.filter((c) => c.cell_type === 'code').map((c) => text(c.source)).join('\n');
      expect(code).toMatch(/from 'offpolicy'/);
      expect(code).not.toMatch(/src\//);
    }
  });

  it.skipIf(missing.length > 0)('executes every notebook top to bottom; the first keeps its report', { timeout: 900_000 }, async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-notebooks-'));
    const reportDir = path.join(NOTEBOOK_DIR, 'offpolicy-report');
    await rm(reportDir, { recursive: true, force: true });
    try {
      await run('bash', [SCRIPT, 'run', out], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
      for (const f of notebooks) {
        const nb = JSON.parse(await readFile(path.join(out, f), 'utf8')) as { cells: Cell[] };
        const code = nb.cells.filter((c) => c.cell_type === 'code');
        expect(code.length).toBeGreaterThan(0);
        for (const c of code) expect(c.outputs?.filter((o) => o.output_type === 'error' || (o.output_type === 'stream' && o.name === 'stderr')) ?? []).toEqual([]);
        const printed = code.flatMap((c) => c.outputs ?? []).map((o) => text(o.text)).join('');
        if (f.startsWith('01')) {
          expect(printed).toMatch(/clicks@1: 2000 rows, 5 actions/);
          expect(printed).toMatch(/DR 0\.\d{4} \[0\.\d{4}, 0\.\d{4}\] (covers|misses) the true value/);
        } else {
          expect(printed).toMatch(/logging policy true value: 0\.\d{4}/);
          expect(printed).toMatch(/spearman/);
        }
      }
      // The report the first notebook writes stays beside it.
      for (const f of ['report.html', 'report.md', 'report.json']) expect((await stat(path.join(reportDir, f))).size).toBeGreaterThan(0);
      const report = JSON.parse(await readFile(path.join(reportDir, 'report.json'), 'utf8')) as { result: { dataset: { ref: string }; candidates: { name: string }[] } };
      expect(report.result.dataset.ref).toBe('clicks@1');
      expect(report.result.candidates.map((c) => c.name)).toEqual(['candidate']);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it.skipIf(missing.length > 0)('fails on a cell error and shows the failing cell and its error', { timeout: 300_000 }, async () => {
    const file = path.join(NOTEBOOK_DIR, `.failing-${process.pid}.ipynb`);
    const out = await mkdtemp(path.join(os.tmpdir(), 'offpolicy-notebooks-'));
    const cell = (id: string, source: string) => ({ cell_type: 'code', id, source, metadata: {}, outputs: [], execution_count: null });
    await writeFile(
      file,
      JSON.stringify({
        nbformat: 4,
        nbformat_minor: 5,
        metadata: { kernelspec: { name: 'tslab', language: 'typescript', display_name: 'TypeScript' } },
        cells: [cell('a', "import { VERSION } from 'offpolicy';\nconsole.log(VERSION);"), cell('b', "throw new Error('boom in the second cell');"), cell('c', "console.log('never');")],
      }),
    );
    try {
      const err = await run('bash', [SCRIPT, 'run', out, file], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }).then(
        () => null,
        (e: { code?: number; stderr?: string }) => e,
      );
      expect(err, 'the run must fail').not.toBeNull();
      expect(err!.code).not.toBe(0);
      expect(err!.stderr).toContain("throw new Error('boom in the second cell');");
      expect(err!.stderr).not.toContain("console.log('never')");
      // ... and what the failing cell wrote to stderr (tslab's error message), which nbconvert leaves out.
      expect(err!.stderr).toMatch(/cell 2 wrote to stderr:\n[\s\S]*\nError: boom in the second cell\n/);
    } finally {
      await rm(file, { force: true });
      await rm(out, { recursive: true, force: true });
    }
  });
});
