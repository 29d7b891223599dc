/**
 * Reference returns for normalized scores (D4RL convention:
 * 100 * (R - min) / (max - min)): `min` is the mean undiscounted return of the
 * uniformly random policy, `max` that of the expert behaviour policy.
 *
 * Measured by scripts/measure-reference-scores.ts (measureReferenceScores in
 * measure-reference.ts): 200 episodes each, seeds 1000 (random) and 2000
 * (expert). Rerun it after changing an environment or a policy and paste the
 * printed numbers here; tests/envs.test.ts checks they still match.
 */
export interface ReferenceScores {
  min: number;
  max: number;
}

export const REFERENCE_SCORES: Readonly<Record<string, ReferenceScores>> = {
  'Pendulum-v1': { min: -1202.4943069450517, max: -139.29990807968537 },
  'MountainCarContinuous-v0': { min: -33.41262311388925, max: 89.46918044849508 },
  'CartPole-v1': { min: 23.055, max: 500 },
  // Sparse 0/1 reward: the random policy never reached the goal in 200 episodes, the expert always did.
  'PointMaze-U-v0': { min: 0, max: 1 },
};

export function referenceScores(envId: string): ReferenceScores | undefined {
  return REFERENCE_SCORES[envId];
}
