/**
 * Generated trajectories (envs/trajectories.ts) as the TrajectoryArrays the
 * learners train on, without a round trip through a workspace: for tests,
 * benchmarks and quick experiments.
 */
import type { TrajectoryArrays } from '../datasets/load-trajectories.js';
import type { TrajectoryData } from '../envs/trajectories.js';

export function trajectoryDataToArrays(t: TrajectoryData): TrajectoryArrays {
  return {
    n: t.n,
    obsDim: t.obsDim,
    actDim: t.actionDim,
    ...(t.discrete ? { discreteActions: t.actionSpace.type === 'discrete' ? t.actionSpace.n : undefined } : {}),
    observations: t.observation,
    actions: t.action,
    rewards: t.reward,
    nextObservations: t.nextObservation,
    nextObservationMissing: new Uint8Array(t.n),
    terminated: t.terminated,
    truncated: t.truncated,
    episodeId: t.episodeId,
    step: t.step,
    behaviorLogprob: t.behaviorLogprob,
    corrupted: null,
  };
}
