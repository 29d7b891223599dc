/** Bandit policy learning by PAC-Bayes bound minimisation, with a certificate. */
export { learnPolicy, checkLearningLog, lossAndGradient, posteriorKl, POLICY_CLASSES, type LearningLog, type LearnOptions, type LearnResult, type LearnedPolicySpec, type PolicyClassName, type LossContext } from './train.js';
export { evaluateObjective, objectiveSettings, OBJECTIVES, BOUND_OBJECTIVES, NEEDS_LOGGING_PROBS, type ObjectiveName, type ObjectiveBatch, type ObjectiveOutput, type ObjectiveSettings } from './objectives.js';
export { buildCertificate, certificateRiskBound, CERTIFICATE_BOUNDS, type CertificateBound, type LearnedCertificate } from './certificate.js';
export { writeLearnedPolicy } from './write.js';
export { priorFromJsonPolicy } from './prior.js';
