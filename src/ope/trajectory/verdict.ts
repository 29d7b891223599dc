/**
 * The deploy verdict on trajectory data, by the bandit rule (../verdict.ts): the
 * first estimator in the preference order DR, SNDR, PDIS, SNPDIS, DM, TIS, SNTIS
 * that has an interval decides against the behaviour policy's mean discounted
 * return on the same episodes: better (lower bound above it), worse (upper
 * bound below it) or inconclusive. Caveats: LOW_ESS (the weight warnings
 * LOW_ESS or WEIGHT_DEGENERACY fired), VARIANCE_INTERVAL (DM decided: FQE's bias
 * is not in its interval), SOURCE_FALLBACK (DR could not be used). Unlike the
 * bandit rule, LOW_ESS alone makes a "better" from a weighted estimator
 * inconclusive. ESTIMATED_BEHAVIOR_POLICY (log pi_b was fitted, not logged:
 * the candidate's warning of that code) qualifies a "better" without
 * blocking it, like the bandit side's ESTIMATED_PROPENSITIES.
 */
import type { Interval, VerdictCaveat, VerdictOutcome } from '../../core/evaluation-result.js';
import { applyCaveats, boundOutcome } from '../verdict.js';
import type { CandidateScore } from './score.js';

export interface TrajectoryVerdict {
  outcome: VerdictOutcome;
  recommended: boolean;
  /** null when no estimator gave an interval (then sourceNote says why; the shared Verdict type says the same). */
  lowerBound: number | null;
  upperBound: number | null;
  lowerBoundSource: string;
  decidedBy?: { kind: 'estimator'; id: string };
  sourceNote?: string;
  caveats: VerdictCaveat[];
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
  const first = VERDICT_PREFERENCE.find((id) => score.estimates.some((x) => x.estimator === id));
  const sourceNote = pick && first && first !== pick.estimator ? `${first.toUpperCase()} has no interval here; ${pick.estimator.toUpperCase()} decided instead.` : undefined;
  const caveats: VerdictCaveat[] = [];
  const low = score.warnings.find((w) => w.code === 'LOW_ESS' || w.code === 'WEIGHT_DEGENERACY');
  if (low) caveats.push({ code: 'LOW_ESS', message: low.message });
  if (pick?.estimator === 'dm') caveats.push({ code: 'VARIANCE_INTERVAL', message: "DM's interval covers the fitted-Q estimate's spread, not FQE's bias." });
  if (sourceNote) caveats.push({ code: 'SOURCE_FALLBACK', message: sourceNote });
  if (score.warnings.some((w) => w.code === 'ESTIMATED_BEHAVIOR_POLICY')) {
    caveats.push({ code: 'ESTIMATED_BEHAVIOR_POLICY', message: 'The behaviour log-probabilities were estimated by a fitted behaviour model, not logged: every importance weight inherits that model\'s error.' });
  }
  if (!pick) {
    // As the bandit verdict without a usable source: inconclusive, no bound (null, as JSON writes it), and the reason.
    const ran = score.estimates.map((e) => e.estimator.toUpperCase()).join(', ') || 'none';
    const episodes = score.estimates[0]?.diagnostics.n;
    const undecided = score.estimates.filter((e) => e.interval && !VERDICT_PREFERENCE.includes(e.estimator)).map((e) => e.estimator.toUpperCase());
    const why =
      episodes !== undefined && episodes < 2
        ? `the data has ${episodes} episode, and an interval over episodes needs at least 2`
        : undecided.length > 0
          ? `${undecided.join(' and ')} do not decide a verdict (their intervals treat learned weights as known); add one of DR, PDIS, DM`
          : 'Hoeffding and Bernstein intervals cover only the plain (not self-normalised) estimators; add one of DR, PDIS, TIS, or use --interval t or bootstrap';
    const note = `No estimator interval can be used (estimators run: ${ran}): ${why}.`;
    const listed = caveats.length > 0 ? ` Caveats: ${caveats.map((c) => c.code).join(', ')}.` : '';
    return { outcome: 'inconclusive', recommended: false, lowerBound: null, upperBound: null, lowerBoundSource: 'none', sourceNote: note, caveats, baseline, sentence: `Inconclusive for candidate ${score.name}: ${note}${listed}` };
  }
  const { lower: lb, upper: ub } = pick.interval;
  const src = `${pick.estimator.toUpperCase()} ${pick.interval.method} ${level}`;
  const raw = boundOutcome(lb, ub, baseline, baseline);
  // Degenerate weights block a "better" from a weighted estimator: with a handful of effective
  // episodes the t interval's normal approximation fails and DR leans on FQE's bias, which no
  // interval holds (README: the Pendulum selection study's false "better" verdicts).
  const blocked = raw === 'better' && low !== undefined && pick.estimator !== 'dm';
  const outcome = blocked ? 'inconclusive' : applyCaveats(raw, caveats);
  const fmt = (v: number): string => v.toPrecision(4);
  const listed = caveats.length > 0 ? ` Caveats: ${caveats.map((c) => c.code).join(', ')}.` : '';
  const sentence = blocked
    ? `Inconclusive for candidate ${score.name}: ${src} lower bound ${fmt(lb)} > ${fmt(baseline)}, but the importance weights are degenerate, so the interval cannot be trusted.${listed}`
    : raw === 'better'
      ? `Candidate ${score.name} beats the behaviour policy${outcome === 'better-with-caveats' ? ', with caveats' : ''}: ${src} lower bound ${fmt(lb)} > ${fmt(baseline)} (discounted return of the logged episodes).${listed}`
      : raw === 'worse'
        ? `Candidate ${score.name} is worse than the behaviour policy: ${src} upper bound ${fmt(ub)} < ${fmt(baseline)} (discounted return of the logged episodes).${listed}`
        : `Inconclusive for candidate ${score.name}: ${src} interval [${fmt(lb)}, ${fmt(ub)}] contains the behaviour policy's ${fmt(baseline)}.${listed}`;
  return {
    outcome,
    recommended: outcome === 'better' || outcome === 'better-with-caveats',
    lowerBound: lb,
    upperBound: ub,
    lowerBoundSource: src,
    decidedBy: { kind: 'estimator', id: pick.estimator },
    ...(sourceNote ? { sourceNote } : {}),
    caveats,
    baseline,
    sentence,
  };
}
