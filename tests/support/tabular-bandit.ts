/**
 * The tabular bandit the simulation tests draw from: 5 contexts x 3 actions
 * with Bernoulli reward means mu(x, a), a softmax logger that prefers low
 * rewards, a candidate that prefers high ones (both with full support), and
 * the candidate's true value under uniform contexts.
 */
export const K = 3;
export const X = 5;
export const mu = [
  [0.2, 0.5, 0.7],
  [0.6, 0.3, 0.1],
  [0.4, 0.4, 0.9],
  [0.8, 0.2, 0.5],
  [0.1, 0.6, 0.3],
];
const softmax = (s: number[]): number[] => {
  const e = s.map(Math.exp);
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
};
export const logger = mu.map((m) => softmax(m.map((v) => -1.5 * v)));
export const candidate = mu.map((m) => softmax(m.map((v) => 3 * v)));
export const trueValue = mu.reduce((s, m, x) => s + m.reduce((t, v, a) => t + candidate[x]![a]! * v, 0), 0) / X;
