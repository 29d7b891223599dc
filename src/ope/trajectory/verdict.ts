/**
 * The deploy verdict on trajectory data: the candidate is recommended when the
 * lower end of its interval, from the first estimator in the preference order
 * DR, SNDR, PDIS, SNPDIS, DM, TIS, SNTIS that has one, exceeds the behaviour
 * policy's mean discounted return on the same episodes.
 */
import type { Interval } from '../../core/evaluation-result.js';
import type { CandidateScore } from './score.js';

export interface TrajectoryVerdict {
  recommended: boolean;
  /** null when no estimator gave an interval. */
  lowerBound: number | null;
  lowerBoundSource: string;
  baseline: number;
  sentence: string;
}

export const VERDICT_PREFERENCE = ['dr', 'sndr', 'pdis', 'snpdis', 'dm', 'tis', 'sntis'];

export function deployVerdict(score: CandidateScore, behaviour: { value: number }, alpha: number): TrajectoryVerdict {
  const level = `${Math.round((1 - alpha) * 100)}%`;
  let pick: { estimator: string; interval: Interval } | null = null;
  for (const id of VERDICT_PREFERENCE) {
    const e = score.estimates.find((x) => x.estimator === id && x.interval);
    if (e) {
      pick = { estimator: id, interval: e.interval! };
      break;
    }
  }
  const baseline = behaviour.value;
  if (!pick) {
    return { recommended: false, lowerBound: null, lowerBoundSource: 'none', baseline, sentence: `Candidate ${score.name}: no interval, so no verdict.` };
  }
  const lb = pick.interval.lower;
  const src = `${pick.estimator.toUpperCase()} ${pick.interval.method} ${level}`;
  const recommended = lb > baseline;
  const fmt = (v: number): string => v.toPrecision(4);
  const sentence = recommended
    ? `Candidate ${score.name} beats the behaviour policy: lower bound ${fmt(lb)} > ${fmt(baseline)} (discounted return of the logged episodes) at ${level} (${src}).`
    : `Candidate ${score.name} is not shown to beat the behaviour policy: lower bound ${fmt(lb)} <= ${fmt(baseline)} at ${level} (${src}).`;
  return { recommended, lowerBound: lb, lowerBoundSource: src, baseline, sentence };
}
