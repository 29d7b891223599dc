/**
 * Writes the small sample files shipped in data/ so the README's examples run
 * without generating anything first (see data/README.md). The same seed writes
 * the same bytes.
 *
 * Run: npx tsx scripts/make-sample-data.ts [outDir] [seed]   (default: data/ and seed 0)
 *
 * This lives in scripts/ rather than src/datasets/synthetic/ because it uses
 * both the dataset generators and the environments (src/envs/), and
 * src/datasets/ may not import the layers above it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { lit, openMemoryConnection } from '../src/datasets/duckdb.js';
import { generateTrajectories, loadTrajectoryTable } from '../src/envs/trajectories.js';
import { generateBanditLog } from '../src/datasets/synthetic/bandit.js';
import { loadBanditTable, trueValue } from '../src/datasets/synthetic/bandit-log.js';
import { multiclassToBandit } from '../src/datasets/synthetic/multiclass.js';

export interface SampleDataSummary {
  files: string[];
  banditLoggingValue: number;
  candidateTrueValue: number;
  pendulumMeanReturn: number;
  irisLoggingValue: number;
  irisEvalTrueValue: number;
}

export const SAMPLE = {
  bandit: { n: 2000, numActions: 5, contextDim: 5, reward: 'logistic', beta: -3 },
  candidateEpsilon: 0.2,
  pendulum: { env: 'Pendulum-v1', policy: 'medium', episodes: 15 },
  iris: { alphaB: 0.4, n: 1000, evalAlpha: 0.9 },
} as const;

/** Writes bandit-sample.csv, bandit-candidate.csv, pendulum-medium.parquet, iris-bandit.parquet and README.md into `outDir`. */
export async function makeSampleData(outDir: string, seed = 0): Promise<SampleDataSummary> {
  await mkdir(outDir, { recursive: true });
  const b = SAMPLE.bandit;
  const log = generateBanditLog({ ...b, seed });
  const { n, numActions: K, contextDim: d } = log;

  const lines = [['row_id', ...Array.from({ length: d }, (_, j) => `x${j}`), 'action', 'reward', 'propensity'].join(',')];
  for (let i = 0; i < n; i++) {
    const x = Array.from(log.contexts.subarray(i * d, (i + 1) * d), (v) => v.toPrecision(7));
    lines.push([i, ...x, log.actions[i], log.rewards[i], log.propensities[i]].join(','));
  }
  await writeFile(path.join(outDir, 'bandit-sample.csv'), lines.join('\n') + '\n');

  // Candidate: epsilon-greedy on the true expected reward (an oracle-informed policy, so it should beat the logger).
  const eps = SAMPLE.candidateEpsilon;
  const cand = new Float64Array(n * K).fill(eps / K);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let a = 1; a < K; a++) if (log.expectedRewards[i * K + a]! > log.expectedRewards[i * K + best]!) best = a;
    cand[i * K + best]! += 1 - eps;
  }
  const candLines = [['row_id', ...Array.from({ length: K }, (_, a) => `p_${a}`)].join(',')];
  for (let i = 0; i < n; i++) candLines.push([i, ...cand.subarray(i * K, (i + 1) * K)].join(','));
  await writeFile(path.join(outDir, 'bandit-candidate.csv'), candLines.join('\n') + '\n');
  const candidateTrueValue = trueValue(log.expectedRewards, cand, n, K);

  const conn = await openMemoryConnection();
  let pendulumMeanReturn: number;
  let iris: ReturnType<typeof multiclassToBandit>;
  try {
    const p = SAMPLE.pendulum;
    const traj = generateTrajectories({ env: p.env, policy: p.policy, episodes: p.episodes, seed });
    pendulumMeanReturn = traj.episodeReturns.reduce((a, r) => a + r, 0) / traj.episodes;
    const trajSelect = await loadTrajectoryTable(conn, 'pendulum', traj);
    await conn.run(`COPY (${trajSelect}) TO ${lit(path.join(outDir, 'pendulum-medium.parquet'))} (FORMAT parquet, COMPRESSION zstd)`);

    iris = multiclassToBandit({ dataset: 'iris', alphaB: SAMPLE.iris.alphaB, n: SAMPLE.iris.n, evalAlphas: [SAMPLE.iris.evalAlpha], seed });
    const irisSelect = await loadBanditTable(conn, 'iris', iris);
    await conn.run(`COPY (${irisSelect}) TO ${lit(path.join(outDir, 'iris-bandit.parquet'))} (FORMAT parquet, COMPRESSION zstd)`);
  } finally {
    conn.closeSync();
  }

  const summary: SampleDataSummary = {
    files: ['bandit-sample.csv', 'bandit-candidate.csv', 'pendulum-medium.parquet', 'iris-bandit.parquet', 'README.md'],
    banditLoggingValue: log.loggingValue,
    candidateTrueValue,
    pendulumMeanReturn,
    irisLoggingValue: iris.loggingValue,
    irisEvalTrueValue: iris.evalTrueValues[0]!.value,
  };
  await writeFile(path.join(outDir, 'README.md'), sampleReadme(summary, seed));
  return summary;
}

function sampleReadme(s: SampleDataSummary, seed: number): string {
  const b = SAMPLE.bandit;
  return `# Sample data

Small generated files so the README's examples run without generating anything.
Made by \`npx tsx scripts/make-sample-data.ts\` (seed ${seed}); rerunning it writes
the same bytes. True values below are exact for these files (ground truth is
known because the data is synthetic).

| file | what | true values |
|---|---|---|
| \`bandit-sample.csv\` | ${b.n} logged rounds, columns row_id, x0..x${b.contextDim - 1}, action (0..${b.numActions - 1}), reward (0/1), propensity. OBP-style synthetic log: contexts N(0, I), logistic reward, linear softmax behaviour with beta = ${b.beta}. | logging policy: ${s.banditLoggingValue} |
| \`bandit-candidate.csv\` | a candidate policy's action probabilities per row_id, columns p_0..p_${b.numActions - 1}: epsilon-greedy (epsilon ${SAMPLE.candidateEpsilon}) on the true expected reward. | candidate: ${s.candidateTrueValue} |
| \`pendulum-medium.parquet\` | ${SAMPLE.pendulum.episodes} episodes of Pendulum-v1 under the medium behaviour policy, canonical trajectory columns (episode_id, step, observation FLOAT[3], next_observation, action FLOAT[1], reward, terminated, truncated, behavior_logprob). | mean return ${s.pendulumMeanReturn} |
| \`iris-bandit.parquet\` | multiclass-to-bandit reduction of iris: behaviour alpha_b = ${SAMPLE.iris.alphaB}, ${SAMPLE.iris.n} rows resampled with replacement from the 105 evaluation rows; bandit columns plus action_probs and expected_reward (one-hot label). | logging policy: ${s.irisLoggingValue}; alpha_e = ${SAMPLE.iris.evalAlpha}: ${s.irisEvalTrueValue} |

The contexts in the CSV are rounded to 7 significant digits.
`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const outDir = path.resolve(process.argv[2] ?? path.join(root, 'data'));
  const seed = Number(process.argv[3] ?? 0);
  const summary = await makeSampleData(outDir, seed);
  console.log(`wrote ${summary.files.map((f) => path.join(outDir, f)).join(', ')}`);
  console.log(JSON.stringify(summary, null, 2));
}
