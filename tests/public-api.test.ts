import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const INDEX = new URL('../src/index.ts', import.meta.url);

describe('the public API (src/index.ts)', () => {
  it('is curated: `export *` only of the core contracts and of barrels that name each export', () => {
    const stars = [...readFileSync(INDEX, 'utf8').matchAll(/^export \* from '(.+)';$/gm)].map((m) => m[1]!);
    const barrels = ['./reports/index.js', './learning/index.js'];
    expect(stars.filter((s) => !s.startsWith('./core/') && !barrels.includes(s))).toEqual([]);
    for (const b of barrels) {
      const text = readFileSync(new URL(`../src/${b.slice(2).replace(/\.js$/, '.ts')}`, import.meta.url), 'utf8');
      expect(text, b).not.toMatch(/^export \*/m);
    }
    expect(stars).toEqual(expect.arrayContaining(['./core/contracts.js', './core/evaluation-result.js', './core/robustness-result.js', './core/errors.js']));
  });

  it("exports every entry point the README's Library API section names, and the core contracts' values", async () => {
    const api = (await import('../src/index.js')) as Record<string, unknown>;
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Library API'), readme.indexOf('\n## ', readme.indexOf('## Library API') + 1));
    const named = [...section.matchAll(/`([A-Za-z][A-Za-z0-9]*)`/g)].map((m) => m[1]!);
    // Methods and words the section quotes that are not exports.
    const notExports = new Set(['rowTerms', 'sqlTerms', 'update', 'getState', 'setState', 'train', 'tslab', 'tsc']);
    const expected = [...new Set(named.filter((n) => !notExports.has(n)))];
    expect(expected.length).toBeGreaterThan(20);
    const missing = expected.filter((n) => api[n] === undefined);
    expect(missing).toEqual([]);
    for (const n of ['Workspace', 'ingest', 'evaluate', 'renderReport', 'OffpolicyError', 'dataError', 'evaluationSetting', 'ROBUSTNESS_SCHEMA']) expect(api[n], n).toBeDefined();
    // Internals stay out.
    for (const n of ['pushdownSql', 'putBuffer', 'sqlSumBad', 'checkInt']) expect(api[n], n).toBeUndefined();
  });
});
