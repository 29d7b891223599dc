/** The PAC-Bayes certificates, on the value scale (each from mergeable sums: see ./common.ts). */
export { catoniClippedIpsBound, catoniFromSums, clippedRiskSqlTerms, clippedRiskSums, type ClippedBoundOptions, type ClippedRiskSums } from './catoni.js';
export { catoniValue, minimizeCatoni } from '../../util/pac-bayes.js';
export type { BoundOptions } from './common.js';
export { exponentialSmoothingBound, exponentialSmoothingFromSums, smoothingActionMaps, smoothingSqlTerms, smoothingSums, type ExponentialSmoothingOptions, type SmoothingSums } from './exponential-smoothing.js';
export { londonSandlerBound, londonSandlerFromSums } from './london-sandler.js';
