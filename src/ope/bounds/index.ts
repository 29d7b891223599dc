/** The PAC-Bayes certificates, on the value scale. */
export { catoniClippedIpsBound, catoniValue, minimizeCatoni, type ClippedBoundOptions } from './catoni.js';
export type { BoundOptions } from './common.js';
export { exponentialSmoothingBound, type ExponentialSmoothingOptions } from './exponential-smoothing.js';
export { londonSandlerBound } from './london-sandler.js';
