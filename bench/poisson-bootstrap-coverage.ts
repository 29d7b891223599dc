/**
 * Coverage of 95% intervals on the synthetic generator with a known true value
 * (tests/poisson-coverage-sim.ts): the Poisson bootstrap of hashed row buckets
 * next to the in-memory multinomial bootstrap (bootstrapIntervals) and the t
 * interval, for IPS, SNIPS and DR, in the two regimes of the coverage test with
 * more replications (the generated log grows to reps x 4,000 rows).
 * Run: npx tsx bench/poisson-bootstrap-coverage.ts [reps=1000]
 */
import { execFileSync } from 'node:child_process';
import { bootstrapIntervals } from '../src/ope/intervals/bootstrap.js';
import { poissonBootstrapIntervals } from '../src/ope/intervals/poisson-bootstrap.js';
import { tInterval } from '../src/ope/intervals/t.js';
import { sumsFromTerms } from '../src/ope/sums.js';
import type { CoverageRow } from '../tests/poisson-coverage-sim.js';

const REPS = Number(process.argv[2] ?? 1000);
process.env.POISSON_SIM_ROWS = String(REPS * 4000);
const { coverage, SIM_ESTIMATORS, SIM_ROWS, SIM_TRUTH } = await import('../tests/poisson-coverage-sim.js');
console.log(`uptime: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
console.log(`true value ${SIM_TRUTH.toFixed(5)} (over ${SIM_ROWS} generated contexts); ${REPS} logs per regime; 1,000 resamples; 95% intervals`);
const show = (label: string, c: CoverageRow): void =>
  console.log(`| ${label} | ${SIM_ESTIMATORS.map((_, j) => `${(100 * c.cover[j]!).toFixed(1)}% (${c.width[j]!.toFixed(4)})`).join(' | ')} |`);
console.log(`| method | ${SIM_ESTIMATORS.map((id) => `${id} coverage (mean width)`).join(' | ')} |`);
console.log(`|---|${SIM_ESTIMATORS.map(() => '---').join('|')}|`);
for (const [m, buckets] of [[500, 10_000], [4000, 200]] as const) {
  const reps = REPS;
  const t0 = performance.now();
  show(`${m} rows: Poisson bootstrap, ${buckets} buckets`, coverage(reps, m, (terms, ids, seed) => poissonBootstrapIntervals(terms, ids, { alpha: 0.05, seed, resamples: 1000, buckets }).intervals));
  const t1 = performance.now();
  show(`${m} rows: in-memory bootstrap (multinomial, ${m <= 10_000 ? 'rows' : 'blocks'})`, coverage(reps, m, (terms, _ids, seed) => bootstrapIntervals(terms, { alpha: 0.05, seed, resamples: 1000 }).intervals));
  const t2 = performance.now();
  show(`${m} rows: t (delta method)`, coverage(reps, m, (terms) => terms.map((t) => tInterval(sumsFromTerms(t), 0.05))));
  console.log(`  (${reps} logs of ${m} rows; Poisson ${((t1 - t0) / 1000).toFixed(1)} s, multinomial ${((t2 - t1) / 1000).toFixed(1)} s)`);
}
