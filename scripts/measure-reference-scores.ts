/**
 * Measures the reference returns stored in src/envs/reference-scores.ts (random
 * and expert behaviour policies, 200 seeded episodes each; see
 * src/envs/measure-reference.ts), and, for information, the medium and
 * medium-replay policies' normalized scores.
 * Run: npx tsx scripts/measure-reference-scores.ts
 */
import { ENVS } from '../src/envs/registry.js';
import { meanReturn, measureReferenceScores } from '../src/envs/measure-reference.js';
import { normalizedScore } from '../src/datasets/metadata.js';

for (const env of ENVS) {
  const ref = measureReferenceScores(env);
  const medium = meanReturn(env, 'medium');
  const replay = meanReturn(env, 'medium-replay');
  console.log(
    `'${env.id}': { min: ${ref.min}, max: ${ref.max} },  // medium ${medium} (normalized ${normalizedScore(medium, ref.min, ref.max).toFixed(1)}), ` +
      `medium-replay ${replay} (normalized ${normalizedScore(replay, ref.min, ref.max).toFixed(1)})`,
  );
}
