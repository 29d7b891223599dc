/**
 * Layers import downward only. This file holds the one table of layers and the
 * edges each may take; the test parses every import in src/ with the TypeScript
 * compiler (static imports, `export ... from`, `import type`, dynamic `import()`,
 * `import('...')` types, `require()`) and fails with the offending edges.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

interface LayerRow {
  layer: string;
  /** Paths under src/ the layer holds: a folder (ending in '/') or a file. */
  holds: readonly string[];
  /** Layers it may import (its own is always allowed). */
  mayImport: readonly string[];
  why: string;
}

/**
 * Top to bottom. An edge not listed is refused even when it points down: each
 * list is what the layer legitimately needs, not everything below it (datasets
 * for learning and models: their inputs are loaded arrays).
 */
export const LAYERS: readonly LayerRow[] = [
  {
    layer: 'cli',
    holds: ['cli.ts', 'cli/'],
    mayImport: ['demo', 'reports', 'ope', 'learning', 'offline-rl', 'corruption', 'models', 'policies', 'envs', 'nn', 'datasets', 'util', 'core'],
    why: 'composition root; imports modules directly, never the index barrel (which would load everything)',
  },
  {
    layer: 'index',
    holds: ['index.ts'],
    mayImport: ['demo', 'reports', 'ope', 'learning', 'offline-rl', 'corruption', 'models', 'policies', 'envs', 'nn', 'datasets', 'util', 'core'],
    why: 'the curated public API',
  },
  {
    layer: 'demo',
    holds: ['demo.ts'],
    mayImport: ['reports', 'ope', 'datasets', 'util', 'core'],
    why: 'the demo pipeline: synthetic data -> evaluation -> report',
  },
  { layer: 'reports', holds: ['reports/'], mayImport: ['util', 'core'], why: 'knows result types, never how they were computed' },
  {
    layer: 'ope',
    holds: ['ope/'],
    mayImport: ['models', 'policies', 'envs', 'nn', 'datasets', 'util', 'core'],
    why: 'sees candidates only through the core contracts (trained-policy loaders are injected, so never offline-rl); envs for ground truth',
  },
  {
    layer: 'learning',
    holds: ['learning/'],
    mayImport: ['models', 'policies', 'nn', 'datasets', 'util', 'core'],
    why: 'bandit policy learning; never ope (the bound formulas it minimises are in util)',
  },
  {
    layer: 'offline-rl',
    holds: ['offline-rl/'],
    mayImport: ['models', 'envs', 'nn', 'datasets', 'util', 'core'],
    why: 'learners; never ope (a scorer of checkpoints is injected)',
  },
  {
    layer: 'corruption',
    holds: ['corruption/'],
    mayImport: ['models', 'nn', 'datasets', 'util', 'core'],
    why: 'dataset -> new dataset version; the critic is FQE (models) on nn',
  },
  {
    layer: 'models',
    holds: ['models/'],
    mayImport: ['nn', 'datasets', 'util', 'core'],
    why: 'reward, behaviour and Q models (FQE) on nn; they fit arrays and see policies only as core contracts',
  },
  { layer: 'policies', holds: ['policies/'], mayImport: ['datasets', 'util', 'core'], why: 'concrete Policy formats read from files and tables' },
  { layer: 'envs', holds: ['envs/'], mayImport: ['datasets', 'util', 'core'], why: 'simulators; generate and store data' },
  { layer: 'nn', holds: ['nn/'], mayImport: ['util', 'core'], why: 'the engine knows arrays, not datasets' },
  { layer: 'datasets', holds: ['datasets/'], mayImport: ['util', 'core'], why: 'storage imports nothing above it' },
  { layer: 'util', holds: ['util/'], mayImport: ['core'], why: 'small helpers (rng, text tables, quantiles)' },
  { layer: 'core', holds: ['core/', 'version.ts'], mayImport: [], why: 'contracts, result types, errors, version' },
];

const SRC = fileURLToPath(new URL('../src', import.meta.url));
const PACKAGE_NAME = 'offpolicy';

/** The layer holding a path relative to src/ (forward slashes), or undefined. */
export function layerOf(rel: string, table: readonly LayerRow[] = LAYERS): string | undefined {
  for (const row of table) {
    for (const h of row.holds) if (h.endsWith('/') ? rel.startsWith(h) : rel === h) return row.layer;
  }
  return undefined;
}

/** Every module specifier a file names, with how it names it. */
export function importSpecifiers(fileName: string, text: string): { spec: string | null; kind: string }[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: { spec: string | null; kind: string }[] = [];
  // `const mod = 'pkg'; await import(mod)` names its module through a string constant.
  const constants = new Map<string, string>();
  const collect = (n: ts.Node): void => {
    if (ts.isVariableDeclarationList(n) && n.flags & ts.NodeFlags.Const) {
      for (const d of n.declarations) {
        if (ts.isIdentifier(d.name) && d.initializer && ts.isStringLiteralLike(d.initializer)) constants.set(d.name.text, d.initializer.text);
      }
    }
    ts.forEachChild(n, collect);
  };
  collect(sf);
  const literal = (e: ts.Node | undefined): string | null => {
    if (e && ts.isStringLiteralLike(e)) return e.text;
    if (e && ts.isIdentifier(e)) return constants.get(e.text) ?? null;
    return null;
  };
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n)) out.push({ spec: literal(n.moduleSpecifier), kind: 'import' });
    else if (ts.isExportDeclaration(n) && n.moduleSpecifier) out.push({ spec: literal(n.moduleSpecifier), kind: 'export-from' });
    else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference)) {
      out.push({ spec: literal(n.moduleReference.expression), kind: 'import-equals' });
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument)) out.push({ spec: literal(n.argument.literal), kind: 'import-type' });
    else if (ts.isCallExpression(n)) {
      if (n.expression.kind === ts.SyntaxKind.ImportKeyword) out.push({ spec: literal(n.arguments[0]), kind: 'dynamic-import' });
      else if (ts.isIdentifier(n.expression) && n.expression.text === 'require' && n.arguments.length === 1) {
        out.push({ spec: literal(n.arguments[0]), kind: 'require' });
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/**
 * Checks files (paths relative to src/, forward slashes) against the table.
 * Returns one line per offending edge: "file -> target (kind): why".
 */
export function findViolations(files: ReadonlyMap<string, string>, table: readonly LayerRow[] = LAYERS): string[] {
  const rows = new Map(table.map((r) => [r.layer, r]));
  const bad: string[] = [];
  for (const [rel, text] of files) {
    const from = layerOf(rel, table);
    if (from === undefined) {
      bad.push(`${rel}: in no layer (add its folder to the table in tests/import-boundaries.test.ts)`);
      continue;
    }
    for (const { spec, kind } of importSpecifiers(rel, text)) {
      if (spec === null) {
        bad.push(`${rel} -> ? (${kind}): the specifier is not a string literal, so its layer cannot be checked`);
        continue;
      }
      let target: string;
      if (spec.startsWith('.')) {
        target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec));
        if (target.startsWith('../')) continue; // outside src/ (package.json)
        target = target.replace(/\.js$/, '.ts');
      } else if (spec === PACKAGE_NAME || spec.startsWith(`${PACKAGE_NAME}/`)) {
        target = 'index.ts';
      } else {
        continue; // a package or node: builtin
      }
      const to = layerOf(target, table);
      if (to === from) continue;
      if (to === undefined) bad.push(`${rel} -> ${target} (${kind}): the target is in no layer`);
      else if (!rows.get(from)!.mayImport.includes(to)) bad.push(`${rel} -> ${target} (${kind}): ${from} may not import ${to}`);
    }
  }
  return bad.sort();
}

function sourceFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(c|m)?tsx?$/.test(e.name)) files.set(path.relative(dir, p).split(path.sep).join('/'), readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return files;
}

describe('import boundaries', () => {
  it('the table is a DAG over known layers', () => {
    const names = LAYERS.map((r) => r.layer);
    expect(new Set(names).size).toBe(names.length);
    LAYERS.forEach((row, i) => {
      for (const t of row.mayImport) {
        // Every allowed edge points to a layer listed below it, so no cycle is possible.
        expect(names.indexOf(t), `${row.layer} -> ${t}`).toBeGreaterThan(i);
      }
    });
  });

  it('src/ imports only along the allowed edges', () => {
    const files = sourceFiles(SRC);
    // Guards against checking nothing: the tree and its imports are really there.
    expect(files.size).toBeGreaterThan(100);
    let relative = 0;
    for (const [rel, text] of files) relative += importSpecifiers(rel, text).filter((s) => s.spec?.startsWith('.')).length;
    expect(relative).toBeGreaterThan(500);
    const bad = findViolations(files);
    expect(bad, `upward or unlisted imports:\n${bad.join('\n')}`).toEqual([]);
  });

  it('catches each kind of upward edge', () => {
    const files = new Map<string, string>([
      ['datasets/a.ts', "import { formatTable } from '../reports/text-table.js';"],
      ['datasets/b.ts', "import type { X } from '../ope/x.js';\nexport { y } from '../policies/y.js';"],
      ['util/c.ts', "export async function f() { return import('../cli/x.js'); }"],
      ['core/d.ts', "type T = import('../ope/x.js').T;\nconst m = require('../util/rng.js');"],
      ['offline-rl/e.ts', "import { evaluate } from 'offpolicy';"],
      ['learning/f.ts', "import { z } from '../ope/bounds/index.js';"],
      ['nn/g.ts', "let name = './x.js';\nawait import(name);"],
      ['nn/g2.ts', "const name = '../ope/x.js';\nawait import(name);"],
      ['newlayer/h.ts', "export const h = 1;"],
      // allowed: same layer, downward, packages, outside src
      ['ope/ok.ts', "import { q } from './q.js';\nimport { r } from '../datasets/r.js';\nimport x from 'node:fs';\nimport p from '../../package.json';"],
    ]);
    expect(findViolations(files)).toEqual([
      'core/d.ts -> ope/x.ts (import-type): core may not import ope',
      'core/d.ts -> util/rng.ts (require): core may not import util',
      'datasets/a.ts -> reports/text-table.ts (import): datasets may not import reports',
      'datasets/b.ts -> ope/x.ts (import): datasets may not import ope',
      'datasets/b.ts -> policies/y.ts (export-from): datasets may not import policies',
      'learning/f.ts -> ope/bounds/index.ts (import): learning may not import ope',
      'newlayer/h.ts: in no layer (add its folder to the table in tests/import-boundaries.test.ts)',
      'nn/g.ts -> ? (dynamic-import): the specifier is not a string literal, so its layer cannot be checked',
      'nn/g2.ts -> ope/x.ts (dynamic-import): nn may not import ope',
      'offline-rl/e.ts -> index.ts (import): offline-rl may not import index',
      'util/c.ts -> cli/x.ts (dynamic-import): util may not import cli',
    ]);
  });

  it('catches an upward edge added to the real tree', () => {
    const files = sourceFiles(SRC);
    const describeTs = files.get('datasets/describe.ts');
    expect(describeTs).toBeDefined();
    files.set('datasets/describe.ts', `${describeTs}\nimport { renderReport } from '../reports/render.js';\n`);
    expect(findViolations(files)).toEqual(['datasets/describe.ts -> reports/render.ts (import): datasets may not import reports']);
  });
});
