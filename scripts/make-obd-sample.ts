/**
 * Writes the Open Bandit Dataset-format sample shipped in data/obd-sample/
 * (random/all/all.csv, random/all/item_context.csv, README.md with the true
 * values). The same seed writes the same bytes; tests/obd-sample.test.ts checks
 * that the shipped files are what this writes.
 *
 * Run: npx tsx scripts/make-obd-sample.ts [outDir] [seed]   (default: data/obd-sample and seed 0)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { generateObdSample, OBD_SLOTS, type ObdSample } from '../src/datasets/synthetic/obd-sample.js';

export const OBD_SAMPLE = { impressions: 1000, items: 10, simulations: 100_000 } as const;

export function obdSample(seed = 0): ObdSample {
  return generateObdSample({ ...OBD_SAMPLE, seed });
}

export function obdSampleReadme(s: ObdSample, seed: number): string {
  const k = OBD_SAMPLE.items;
  const rows = Array.from({ length: OBD_SLOTS }, (_, l) => `| ${l} | ${Array.from(s.candidate.subarray(l * k, l * k + k)).map((p) => p.toFixed(5)).join(', ')} |`);
  return `# Open Bandit Dataset-format sample

Made by \`npx tsx scripts/make-obd-sample.ts\` (seed ${seed}; rerunning it writes the same bytes) with
\`src/datasets/synthetic/obd-sample.ts\`. The layout is the Open Bandit Dataset's
(\`open_bandit_dataset/random/all/all.csv\` and \`item_context.csv\`): an unnamed pandas index,
timestamp, item_id, position (1..3), click, propensity_score, user_feature_0..3 (hashed categories),
user-item_affinity_0..${k - 1}. ${OBD_SAMPLE.impressions} impressions of ${OBD_SLOTS} slots (${s.rows} rows), ${k} items,
logged by the Random policy (propensity 1/${k}). Clicks follow a position-based model with no
interaction between slots, so the click rate of a policy is the mean over positions of
sum_a pi(a | position) q(x, a, position).

| policy | click rate per row (exact) |
|---|---|
| Random (the logger) | ${s.randomValue} |
| Bernoulli Thompson sampling (the candidate) | ${s.candidateValue} |

The candidate's probability of each item at each (0-based) position (share of ${OBD_SAMPLE.simulations} posterior draws):

| position | p_0 .. p_${k - 1} |
|---|---|
${rows.join('\n')}

To evaluate it as in the classic OBD experiment, give it per row and position as a table keyed by
row_id with a position column (row i of all.csv is row_id i after ingest; positions as stored, 0-based):

\`\`\`sh
npx offpolicy datasets ingest data/obd-sample/random/all/all.csv --name obd-random
npx offpolicy evaluate --data obd-random --policy bts=bts-by-row.csv --estimators ips,snips --interval t
\`\`\`
`;
}

export async function makeObdSample(outDir: string, seed = 0): Promise<ObdSample> {
  const s = obdSample(seed);
  const dir = path.join(outDir, 'random', 'all');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'all.csv'), s.csv);
  await writeFile(path.join(dir, 'item_context.csv'), s.itemContextCsv);
  await writeFile(path.join(outDir, 'README.md'), obdSampleReadme(s, seed));
  return s;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const out = process.argv[2] ?? path.join(root, 'data', 'obd-sample');
  const seed = Number(process.argv[3] ?? 0);
  const s = await makeObdSample(out, seed);
  console.log(`wrote ${out}: ${s.rows} rows; Random ${s.randomValue}, Thompson sampling ${s.candidateValue}`);
}
