/** Input checks shared by the trajectory estimators. */
import { OffpolicyError } from '../../../core/errors.js';
import type { TrajectoryWeights } from '../weights.js';
import type { MarginalWeights } from '../marginal/mwl.js';
import type { TrajectoryTermsInput } from './types.js';

export function requireWeights(x: TrajectoryTermsInput, id: string): TrajectoryWeights {
  if (!x.weights) {
    throw new OffpolicyError('E_NO_WEIGHTS', `${id} needs importance weights, but none were computed for this candidate.`, {
      hint: 'Give the candidate\'s action probabilities (or log-densities) and the data\'s behavior_logprob, or use --estimators dm.',
    });
  }
  return x.weights;
}

export function requireQ(x: TrajectoryTermsInput, id: string, needQLogged: boolean): { q: Float64Array; v: Float64Array } {
  if (!x.vState || (needQLogged && !x.qLogged)) {
    throw new OffpolicyError('E_NO_Q', `${id} needs Q predictions (fitted Q evaluation or --reward-model columns:...), but none were given.`, {
      hint: 'Fit FQE for this candidate, or drop DM / DR / SNDR from --estimators.',
    });
  }
  return { q: x.qLogged ?? new Float64Array(0), v: x.vState };
}

export function requireMarginal(x: TrajectoryTermsInput, id: string): MarginalWeights {
  if (!x.marginal) {
    throw new OffpolicyError('E_NO_WEIGHTS', `${id} needs learned marginal weights w(s, a), but none were learned for this candidate.`, {
      hint: 'Evaluate through evaluate() (which learns them by minimax weight learning), or pass them as `marginal` (learnMarginalWeights).',
    });
  }
  if (x.marginal.w.length !== x.data.n) {
    throw new OffpolicyError('E_SHAPE', `${id}: the marginal weights cover ${x.marginal.w.length} steps, but the data has ${x.data.n}.`, { hint: 'Learn the weights on the same steps.' });
  }
  return x.marginal;
}
