/**
 * Runs every notebook's code cells, in order, as one TypeScript module (npx tsx),
 * so the notebooks can never rot. Notebooks: tests/fixtures/notebooks/*.ipynb (the
 * runner's own example) and notebooks/*.ipynb (the project's notebooks).
 *
 * The module is written beside the notebook (a hidden, unique file removed afterwards)
 * and run with the notebook's folder as working directory, so relative imports and
 * data paths mean what they mean in Jupyter. `import ... from 'tslab'` is served by a
 * small stand-in (display.* print a one-line note) since tslab itself is a kernel,
 * not a dependency. A cell whose metadata.tags holds "skip-test" is left out.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = process.cwd();
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const FIXTURE_DIR = path.join(ROOT, 'tests', 'fixtures', 'notebooks');
const NOTEBOOK_DIR = path.join(ROOT, 'notebooks');

interface NotebookCell {
  cell_type: string;
  source: string | string[];
  metadata?: { tags?: string[] };
}

const TSLAB_SHIM = `// Stand-in for the tslab kernel's module when notebooks run outside Jupyter.
const note = (kind: string) => (value: unknown) => { console.log(\`[display.\${kind}] \${String(value).length} chars\`); };
export const display = { html: note('html'), markdown: note('markdown'), text: note('text'), svg: note('svg'), png: note('png'), jpeg: note('jpeg'), gif: note('gif'), pdf: note('pdf'), javascript: note('javascript'), latex: note('latex'), raw: (_mime: string, value: unknown) => note('raw')(value) };
export const newDisplay = () => display;
export const versions = { tslab: 'shim', typescript: '', node: process.version };
export const isNode = true;
export const isBrowser = false;
export default { display, newDisplay, versions, isNode, isBrowser };
`;

function listNotebooks(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ipynb') && !f.startsWith('.'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** The notebook's code cells joined into one module; `starts[i]` is the module line where cell i begins. */
export function notebookToModule(nb: { nbformat?: number; cells?: NotebookCell[] }, shimImport: string): { code: string; cells: number[]; starts: number[] } {
  if (nb.nbformat !== 4 || !Array.isArray(nb.cells)) throw new Error('not an nbformat 4 notebook');
  const lines: string[] = [];
  const cells: number[] = [];
  const starts: number[] = [];
  nb.cells.forEach((cell, index) => {
    if (cell.cell_type !== 'code' || cell.metadata?.tags?.includes('skip-test')) return;
    const src = (Array.isArray(cell.source) ? cell.source.join('') : cell.source).replace(/(from\s+|import\s+)(['"])tslab\2/g, `$1'${shimImport}'`);
    lines.push(`// ---- cell ${index + 1} ----`);
    cells.push(index + 1);
    starts.push(lines.length + 1);
    lines.push(...src.split(/\r?\n/));
  });
  lines.push('export {};');
  return { code: lines.join('\n') + '\n', cells, starts };
}

/** Runs a notebook; rejects with the failing cell's number and the error output. */
async function runNotebook(file: string): Promise<{ stdout: string; cells: number }> {
  const dir = path.dirname(file);
  const base = path.basename(file, '.ipynb');
  const tag = `${process.pid}-${Date.now()}`;
  const modFile = path.join(dir, `.${base}.nbrun-${tag}.ts`);
  const shimFile = path.join(dir, `.tslab-shim-${tag}.ts`);
  const nb = JSON.parse(await readFile(file, 'utf8')) as { nbformat?: number; cells?: NotebookCell[] };
  const { code, cells, starts } = notebookToModule(nb, `./${path.basename(shimFile, '.ts')}.js`);
  await writeFile(modFile, code);
  await writeFile(shimFile, TSLAB_SHIM);
  try {
    const { stdout } = await run(TSX, [modFile], { cwd: dir, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
    return { stdout, cells: cells.length };
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    const output = `${err.stderr ?? ''}${err.stdout ?? ''}` || err.message;
    const escaped = path.basename(modFile).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const m = output.match(new RegExp(`${escaped}:(\\d+)`));
    let where = '';
    if (m) {
      const line = Number(m[1]);
      let k = -1;
      for (let i = 0; i < starts.length; i++) if (starts[i]! <= line) k = i;
      if (k >= 0) where = ` in code cell ${cells[k]} (line ${line - starts[k]! + 1} of the cell)`;
    }
    throw new Error(`Notebook ${path.relative(ROOT, file)} failed${where}:\n${output}`);
  } finally {
    await rm(modFile, { force: true });
    await rm(shimFile, { force: true });
  }
}

describe('notebook runner', () => {
  it('joins code cells in order, skips markdown and skip-test cells, maps tslab to the stand-in', () => {
    const { code, cells, starts } = notebookToModule(
      {
        nbformat: 4,
        cells: [
          { cell_type: 'markdown', source: '# title' },
          { cell_type: 'code', source: ["import * as tslab from 'tslab';\n", 'const a = 1;'] },
          { cell_type: 'code', source: 'throw 1', metadata: { tags: ['skip-test'] } },
          { cell_type: 'code', source: 'console.log(a + 1);' },
        ],
      },
      './shim.js',
    );
    expect(cells).toEqual([2, 4]);
    expect(code).toBe("// ---- cell 2 ----\nimport * as tslab from './shim.js';\nconst a = 1;\n// ---- cell 4 ----\nconsole.log(a + 1);\nexport {};\n");
    expect(starts).toEqual([2, 5]);
    expect(() => notebookToModule({ nbformat: 3, cells: [] }, 'x')).toThrow('not an nbformat 4 notebook');
  });

  it('fails on an error and names the failing cell', async () => {
    const file = path.join(FIXTURE_DIR, `.failing-${process.pid}.ipynb`);
    await writeFile(
      file,
      JSON.stringify({
        nbformat: 4,
        nbformat_minor: 5,
        metadata: { kernelspec: { name: 'tslab', language: 'typescript', display_name: 'TypeScript' } },
        cells: [
          { cell_type: 'code', source: 'const x: number = 2;\nconsole.log(x);', metadata: {}, outputs: [], execution_count: null },
          { cell_type: 'markdown', source: 'text', metadata: {} },
          { cell_type: 'code', source: "console.log('ok');\nthrow new Error('boom in the third cell');", metadata: {}, outputs: [], execution_count: null },
        ],
      }),
    );
    try {
      await expect(runNotebook(file)).rejects.toThrow(/failed in code cell 3 \(line 2 of the cell\):[\s\S]*boom in the third cell/);
    } finally {
      await rm(file, { force: true });
    }
    // The temporary module files are gone.
    expect(readdirSync(FIXTURE_DIR).filter((f) => f.includes('.nbrun-') || f.startsWith('.tslab-shim-'))).toEqual([]);
  });
});

describe('notebooks run top to bottom', () => {
  const fixtures = listNotebooks(FIXTURE_DIR);
  const project = listNotebooks(NOTEBOOK_DIR);

  it('the runner has its example notebook', () => {
    expect(fixtures.map((f) => path.basename(f))).toContain('example.ipynb');
  });

  for (const file of [...fixtures, ...project]) {
    it(`runs ${path.relative(ROOT, file)}`, async () => {
      const nb = JSON.parse(await readFile(file, 'utf8')) as { metadata?: { kernelspec?: { name?: string; language?: string } } };
      expect(nb.metadata?.kernelspec?.language ?? nb.metadata?.kernelspec?.name, 'a TypeScript kernel (tslab)').toMatch(/typescript|tslab/);
      const { cells } = await runNotebook(file);
      expect(cells).toBeGreaterThan(0);
    });
  }

  // The project's notebooks are written separately; until the first lands there is
  // nothing to run in notebooks/ and this shows as a todo rather than passing silently.
  if (project.length === 0) it.todo('notebooks/ holds at least one notebook (none yet)');
  else {
    it('notebooks/ holds at least one notebook', () => {
      expect(project.length).toBeGreaterThanOrEqual(1);
    });
  }
});
