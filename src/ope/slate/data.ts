/**
 * Slate logs from flat rows (one per slate and position, in any order, as Open
 * Bandit Pipeline passes them) into the slate-major SlateData, and the checks
 * every slate estimator relies on. Errors name slate ids, not row numbers.
 */
import { dataError, OffpolicyError } from '../../core/errors.js';
import { PROB_SUM_TOLERANCE } from '../../policies/probabilities.js';
import type { SlateData, SlateEstimatorId, SlatePscores } from './types.js';

/** One entry per logged (slate, position) row; per-action inputs are rows x K, row-major. */
export interface SlateRows {
  slateId: ArrayLike<number>;
  /** 0-based: 0 is the top of the slate. */
  position: ArrayLike<number>;
  reward: ArrayLike<number>;
  action?: ArrayLike<number>;
  pscore?: ArrayLike<number>;
  pscoreItemPosition?: ArrayLike<number>;
  pscoreCascade?: ArrayLike<number>;
  evaluationPscore?: ArrayLike<number>;
  evaluationPscoreItemPosition?: ArrayLike<number>;
  evaluationPscoreCascade?: ArrayLike<number>;
  /** rows x K: Q-hat of every action at the row's position given the logged prefix. */
  qHat?: ArrayLike<number>;
  /** rows x K: the candidate's distribution of the row's action given the logged prefix. */
  evaluationActionDist?: ArrayLike<number>;
  /** K; default max(action) + 1, or the width of qHat. */
  numActions?: number;
}

const SLATE_HINT = 'Row numbers here are slate ids.';

function shapeError(what: string, got: number, want: number): OffpolicyError {
  return new OffpolicyError('E_SLATE_SHAPE', `Slate input ${what} has ${got} entries, expected ${want}.`, {
    hint: 'Give one entry per logged (slate, position) row (K per row for qHat and evaluationActionDist).',
  });
}

/** Groups flat rows into slates ordered by slate id, positions 0..L-1 within each. */
export function slateDataFromRows(rows: SlateRows): SlateData {
  const m = rows.slateId.length;
  if (m === 0) throw new OffpolicyError('E_EMPTY_INPUT', 'The slate log has no rows.', { hint: 'Evaluate on a log with at least one slate.' });
  const flat: [keyof SlateRows, ArrayLike<number> | undefined][] = [
    ['position', rows.position],
    ['reward', rows.reward],
    ['action', rows.action],
    ['pscore', rows.pscore],
    ['pscoreItemPosition', rows.pscoreItemPosition],
    ['pscoreCascade', rows.pscoreCascade],
    ['evaluationPscore', rows.evaluationPscore],
    ['evaluationPscoreItemPosition', rows.evaluationPscoreItemPosition],
    ['evaluationPscoreCascade', rows.evaluationPscoreCascade],
  ];
  for (const [name, arr] of flat) if (arr !== undefined && arr.length !== m) throw shapeError(name, arr.length, m);
  let k = rows.numActions ?? 0;
  if (!rows.numActions) {
    if (rows.action) for (let i = 0; i < m; i++) k = Math.max(k, rows.action[i]! + 1);
    if (rows.qHat) k = Math.max(k, rows.qHat.length / m);
    if (!Number.isInteger(k)) throw shapeError('qHat', rows.qHat!.length, m * Math.ceil(k));
  }
  for (const [name, arr] of [['qHat', rows.qHat], ['evaluationActionDist', rows.evaluationActionDist]] as const) {
    if (arr !== undefined && arr.length !== m * k) throw shapeError(name, arr.length, m * k);
  }
  const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => rows.slateId[a]! - rows.slateId[b]! || rows.position[a]! - rows.position[b]!);
  // Slates and their lengths.
  const starts: number[] = [];
  for (let r = 0; r < m; r++) if (r === 0 || rows.slateId[order[r]!] !== rows.slateId[order[r - 1]!]) starts.push(r);
  const nSlates = starts.length;
  const L = (nSlates > 1 ? starts[1]! : m) - starts[0]!;
  const badLen: number[] = [];
  const badPos: number[] = [];
  for (let s = 0; s < nSlates; s++) {
    const len = (s + 1 < nSlates ? starts[s + 1]! : m) - starts[s]!;
    const id = rows.slateId[order[starts[s]!]!]!;
    if (len !== L) {
      badLen.push(id);
      continue;
    }
    for (let l = 0; l < L; l++) {
      if (rows.position[order[starts[s]! + l]!] !== l) {
        badPos.push(id);
        break;
      }
    }
  }
  if (badLen.length > 0) {
    throw dataError('E_SLATE_LENGTH', `every slate has the same number of rows (L = ${L}, as slate ${rows.slateId[order[0]!]})`, badLen.length, badLen, `Give each slate one row per position, 0..L-1. ${SLATE_HINT}`);
  }
  if (badPos.length > 0) {
    throw dataError('E_SLATE_POSITION', `each slate holds positions 0..${L - 1} once each`, badPos.length, badPos, `Positions are 0-based (0 is the top) and may not repeat within a slate. ${SLATE_HINT}`);
  }
  const pick = (arr: ArrayLike<number> | undefined): Float64Array | undefined => (arr === undefined ? undefined : Float64Array.from(order, (i) => arr[i]!));
  const pickK = (arr: ArrayLike<number> | undefined): Float64Array | undefined => {
    if (arr === undefined) return undefined;
    const out = new Float64Array(m * k);
    order.forEach((i, r) => {
      for (let a = 0; a < k; a++) out[r * k + a] = arr[i * k + a]!;
    });
    return out;
  };
  const compact = (p: SlatePscores): SlatePscores => Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as SlatePscores;
  const qHat = pickK(rows.qHat);
  const dist = pickK(rows.evaluationActionDist);
  return {
    nSlates,
    slateLength: L,
    numActions: k,
    slateIds: Float64Array.from(starts, (r) => rows.slateId[order[r]!]!),
    ...(rows.action ? { actions: Int32Array.from(order, (i) => rows.action![i]!) } : {}),
    rewards: pick(rows.reward)!,
    behaviour: compact({ pscore: pick(rows.pscore), itemPosition: pick(rows.pscoreItemPosition), cascade: pick(rows.pscoreCascade) }),
    evaluation: compact({ pscore: pick(rows.evaluationPscore), itemPosition: pick(rows.evaluationPscoreItemPosition), cascade: pick(rows.evaluationPscoreCascade) }),
    ...(qHat ? { qHat } : {}),
    ...(dist ? { evaluationActionDist: dist } : {}),
  };
}

/** Slate ids of slates with some entry failing `bad` (count and the first few). */
function badSlates(d: SlateData, bad: (s: number) => boolean): { count: number; ids: number[] } {
  const ids: number[] = [];
  let count = 0;
  for (let s = 0; s < d.nSlates; s++) {
    if (bad(s)) {
      count++;
      if (ids.length < 5) ids.push(d.slateIds[s]!);
    }
  }
  return { count, ids };
}

const NAMES: Record<keyof SlatePscores, string> = { pscore: 'pscore', itemPosition: 'pscore_item_position', cascade: 'pscore_cascade' };

/** Checks the inputs the requested estimators read (missing inputs fail in the estimators themselves). */
export function checkSlateData(d: SlateData, estimators: readonly SlateEstimatorId[]): void {
  const L = d.slateLength;
  const anyRow = (s: number, f: (j: number) => boolean): boolean => {
    for (let l = 0; l < L; l++) if (f(s * L + l)) return true;
    return false;
  };
  const fail = (code: string, rule: string, bad: { count: number; ids: number[] }, hint: string): void => {
    if (bad.count > 0) throw dataError(code, rule, bad.count, bad.ids, `${hint} ${SLATE_HINT}`);
  };
  fail('E_NON_FINITE', 'rewards are finite', badSlates(d, (s) => anyRow(s, (j) => !Number.isFinite(d.rewards[j]!))), 'Fill every slot reward with a number.');
  const used = new Set<keyof SlatePscores>();
  if (estimators.includes('sips')) used.add('pscore');
  if (estimators.includes('iips')) used.add('itemPosition');
  if (estimators.includes('rips') || estimators.includes('cascade-dr')) used.add('cascade');
  for (const key of used) {
    const b = d.behaviour[key];
    const e = d.evaluation[key];
    if (b) fail('E_SLATE_PSCORE', `${NAMES[key]} in (0, 1]`, badSlates(d, (s) => anyRow(s, (j) => !(b[j]! > 0 && b[j]! <= 1))), "The logging policy's probabilities must be positive and at most 1.");
    if (e) fail('E_SLATE_PSCORE', `evaluation_policy_${NAMES[key]} in [0, 1]`, badSlates(d, (s) => anyRow(s, (j) => !(e[j]! >= 0 && e[j]! <= 1))), "The candidate's probabilities must lie in [0, 1].");
  }
  for (const [who, p] of [['', d.behaviour], ['evaluation_policy_', d.evaluation]] as const) {
    if (used.has('pscore') && p.pscore) {
      const x = p.pscore;
      fail('E_SLATE_PSCORE', `${who}pscore is the same on every row of a slate`, badSlates(d, (s) => anyRow(s, (j) => x[j] !== x[s * L])), 'pscore is the probability of the whole slate; repeat it on each of its rows.');
    }
    if (used.has('cascade') && p.cascade) {
      const x = p.cascade;
      // A product of factors <= 1 never grows; allow rounding at 1e-12 relative.
      fail('E_SLATE_PSCORE', `${who}pscore_cascade does not increase down a slate`, badSlates(d, (s) => anyRow(s, (j) => j % L > 0 && x[j]! > x[j - 1]! * (1 + 1e-12))), 'pscore_cascade at position l is the probability of the top l + 1 actions: a running product.');
    }
  }
  if (estimators.includes('cascade-dr')) {
    const K = d.numActions;
    if (d.actions) {
      const acts = d.actions;
      fail('E_ACTION_RANGE', `actions in 0..${K - 1}`, badSlates(d, (s) => anyRow(s, (j) => !(acts[j]! >= 0 && acts[j]! < K && Number.isInteger(acts[j]!)))), 'Actions index the K entries of q_hat and evaluation_policy_action_dist.');
    }
    if (d.qHat) {
      const q = d.qHat;
      fail('E_SLATE_Q_HAT', 'q_hat is finite', badSlates(d, (s) => anyRow(s, (j) => { for (let a = 0; a < K; a++) if (!Number.isFinite(q[j * K + a]!)) return true; return false; })), 'Give a finite Q-hat for every action at every position.');
    }
    if (d.evaluationActionDist) {
      const p = d.evaluationActionDist;
      fail('E_SLATE_ACTION_DIST', `evaluation_policy_action_dist is a distribution (entries >= 0, sum 1 within ${PROB_SUM_TOLERANCE})`, badSlates(d, (s) => anyRow(s, (j) => {
        let sum = 0;
        for (let a = 0; a < K; a++) {
          const v = p[j * K + a]!;
          if (!(v >= 0)) return true;
          sum += v;
        }
        return !(Math.abs(sum - 1) <= PROB_SUM_TOLERANCE);
      })), "Each row's K probabilities are the candidate's choice at that position given the logged actions above it.");
    }
  }
}
