// The Pendulum off-policy selection study (bench/trajectory-selection-study.ts): random, BC, TD3+BC and IQL trained on one
// dataset, scored by TIS, PDIS, SNPDIS, DR, SNDR and DM (FQE) with t intervals, against on-policy rollouts.
//   nice -n 10 npx tsx bench/trajectory-selection.ts [--seeds 0,1,2] [--episodes 200] [--horizon 20] [--gamma 0.9]
//     [--updates 3000] [--hidden 64,64] [--fqe-steps 3000] [--fqe-hidden 64,64] [--fqe-lr 0.001] [--truth 4000] [--out FILE]
// Prints per seed the candidates' truths, estimates and verdicts, then per estimator Spearman, regret@1 and nMSE
// (by estimate and by lower bound), and writes bench/results/trajectory-selection.json.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { runSelectionStudy, STUDY_ESTIMATORS, type StudyResult, type StudySettings } from './trajectory-selection-study.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}
const list = (v: string): number[] => v.split(',').map(Number);
const seeds = list(arg('seeds', '0,1,2'));
const base: Omit<StudySettings, 'seed'> = {
  episodes: Number(arg('episodes', '200')),
  horizon: Number(arg('horizon', '20')),
  gamma: Number(arg('gamma', '0.9')),
  updates: Number(arg('updates', '3000')),
  hidden: list(arg('hidden', '64,64')),
  fqeSteps: Number(arg('fqe-steps', '3000')),
  fqeHidden: list(arg('fqe-hidden', '64,64')),
  fqeLr: Number(arg('fqe-lr', '0.001')),
  truthEpisodes: Number(arg('truth', '4000')),
};
const f = (x: number | null | undefined, d = 3): string => (x === null || x === undefined || !Number.isFinite(x) ? String(x) : x.toFixed(d));
const load0 = loadavg();
const cpu0 = process.cpuUsage();
const wall0 = performance.now();
console.log(`settings ${JSON.stringify(base)} seeds ${seeds.join(',')}; load average ${load0.map((x) => x.toFixed(2)).join(' ')}`);
const results: StudyResult[] = [];
for (const seed of seeds) {
  console.log(`seed ${seed}`);
  const r = await runSelectionStudy({ ...base, seed }, (line) => console.log(line));
  results.push(r);
  console.log(`  behaviour: logged ${f(r.behaviour.loggedValue)}, rollouts ${f(r.behaviour.truth.value)} ± ${f(r.behaviour.truth.stdError)}; true ranking ${r.trueRanking.join(' > ')}`);
  console.log(`  seconds: train ${f(r.seconds.train, 1)}, truth ${f(r.seconds.truth, 1)}, ope ${f(r.seconds.ope, 1)}`);
  for (const c of r.candidates) {
    console.log(`  ${c.name.padEnd(9)} ${c.kind.padEnd(22)} truth ${f(c.truth.value)} ± ${f(c.truth.stdError)}  ESS ${f(c.trajectoryEss, 1)}  TD ${f(c.fqeHeldOutTdError, 4)}  warnings ${c.warnings.join(',') || '-'}`);
    console.log(`    ${c.estimates.map((e) => `${e.estimator} ${f(e.value, 2)} [${f(e.lower, 2)}, ${f(e.upper, 2)}]`).join('  ')}`);
    console.log(`    verdict ${c.verdict.outcome} (${c.verdict.decidedBy}): ${c.verdict.sentence}`);
  }
  for (const row of r.selection.rows) {
    const m = row.metrics!;
    console.log(`  ${row.estimator.padEnd(7)} ${row.by.padEnd(11)} spearman ${f(m.spearman, 2)} regret@1 ${f(m.regretAtK, 3)} nmse ${f(m.nmse, 3)}  ${row.ranking.join(' > ')}`);
  }
}

// Across seeds: mean (min..max) of each metric per estimator and ranking kind.
const summary: { estimator: string; by: string; spearman: number[]; regret: number[]; nmse: number[] }[] = [];
for (const est of STUDY_ESTIMATORS) {
  for (const by of ['estimate', 'lower-bound'] as const) {
    const rows = results.map((r) => r.selection.rows.find((x) => x.estimator === est && x.by === by)!).filter(Boolean);
    if (rows.length === 0) continue;
    summary.push({ estimator: est, by, spearman: rows.map((x) => x.metrics!.spearman), regret: rows.map((x) => x.metrics!.regretAtK), nmse: rows.map((x) => x.metrics!.nmse) });
  }
}
const mean = (x: number[]): number => x.reduce((a, b) => a + b, 0) / x.length;
const span = (x: number[], d: number): string => `${f(mean(x), d)} (${x.map((v) => f(v, d)).join(', ')})`;
console.log(`\n| estimator | ranked by | Spearman mean (per seed) | regret@1 mean (per seed) | nMSE mean (per seed) |`);
console.log(`|---|---|---|---|---|`);
for (const s of summary) console.log(`| ${s.estimator.toUpperCase()} | ${s.by} | ${span(s.spearman, 2)} | ${span(s.regret, 2)} | ${s.by === 'estimate' ? span(s.nmse, 2) : ''} |`);
const cpu = process.cpuUsage(cpu0);
const load1 = loadavg();
console.log(`\nwall ${f((performance.now() - wall0) / 1000, 1)} s, CPU ${f((cpu.user + cpu.system) / 1e6, 1)} s; load average at the end ${load1.map((x) => x.toFixed(2)).join(' ')}`);

await mkdir('bench/results', { recursive: true });
const out = arg('out', 'bench/results/trajectory-selection.json');
await writeFile(`${out}.tmp`, JSON.stringify({ settings: base, seeds, loadStart: load0, loadEnd: load1, wallSeconds: (performance.now() - wall0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, summary, results }, null, 2) + '\n');
await rename(`${out}.tmp`, out);
console.log(`wrote ${out}`);
