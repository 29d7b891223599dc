/**
 * Parameter hashes of every learner after N updates: one line per learner,
 * sha256 over its training state (every buffer, bit for bit, in name order,
 * plus the scalars as JSON). Refactors of the engine or the learners must
 * leave every line unchanged; compare the output before and after.
 * Run: npx tsx scripts/learner-hashes.ts [updates=50]
 */
import { createHash } from 'node:crypto';
import { generateTrajectories } from '../src/envs/trajectories.js';
import { trajectoryDataToArrays } from '../src/offline-rl/from-generated.js';
import { createLearner } from '../src/offline-rl/train.js';
import { ensureTfBackend } from '../src/util/tf-backend.js';

const sorted = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(sorted) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])])) : v;
const updates = Number(process.argv[2] ?? 50);
await ensureTfBackend();
const pendulum = trajectoryDataToArrays(generateTrajectories({ env: 'pendulum', policy: 'medium', episodes: 10, seed: 3 }));
const cartpole = trajectoryDataToArrays(generateTrajectories({ env: 'cartpole', policy: 'medium', episodes: 10, seed: 3 }));
const base = { steps: updates, seed: 7, hidden: [64, 64], batchSize: 64 };
const cases: [string, string, typeof pendulum, object][] = [
  ['iql', 'iql', pendulum, {}],
  ['iql deterministic actor', 'iql', pendulum, { actor: 'deterministic' }],
  ['riql', 'riql', pendulum, {}],
  ['td3bc', 'td3bc', pendulum, {}],
  ['prdc', 'prdc', pendulum, {}],
  ['bc', 'bc', pendulum, {}],
  ['bc deterministic actor', 'bc', pendulum, { actor: 'deterministic' }],
  ['rcbc', 'rcbc', pendulum, {}],
  ['bc-discrete', 'bc', cartpole, {}],
  ['iql-discrete', 'iql', cartpole, {}],
  ['riql-discrete', 'riql', cartpole, {}],
  ['rcbc-discrete', 'rcbc', cartpole, {}],
];
for (const [label, algo, data, extra] of cases) {
  const learner = createLearner(algo, data, { ...base, ...extra });
  let losses: Record<string, number> = {};
  for (let i = 0; i < updates; i++) losses = learner.update();
  const state = learner.getState();
  const h = createHash('sha256');
  for (const name of Object.keys(state.buffers).sort()) {
    const b = state.buffers[name]!;
    h.update(name);
    h.update(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  }
  h.update(JSON.stringify(sorted(state.scalars)));
  const loss = Object.entries(losses).map(([k, v]) => `${k}=${v}`).join(' ');
  console.log(`${label.padEnd(24)} ${h.digest('hex').slice(0, 16)}  ${loss}`);
}
