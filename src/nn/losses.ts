/**
 * Regression losses as pure functions on typed arrays (the Q losses of the
 * learners and of fitted Q evaluation). Each returns the mean loss over the
 * batch and its gradient with respect to the predictions (already divided by
 * the batch size), which feeds the network's backward pass.
 */

export interface LossResult {
  loss: number;
  /** dLoss / dPrediction, one entry per prediction. */
  grad: Float32Array;
}

/** Mean squared error mean (pred - target)^2; the gradient is written into `grad` (n values) when given. */
export function mseLoss(pred: ArrayLike<number>, target: ArrayLike<number>, grad: Float32Array = new Float32Array(pred.length)): LossResult {
  const n = pred.length;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const d = pred[i]! - target[i]!;
    loss += d * d;
    grad[i] = (2 * d) / n;
  }
  return { loss: loss / n, grad };
}

/**
 * Huber loss with threshold delta on d = pred - target (RIQL's Q loss; the
 * form of the authors' code):
 *   0.5 d^2 / delta          if |d| <= delta
 *   |d| - 0.5 delta          otherwise
 * i.e. torch's smooth_l1_loss with beta = delta: quadratic near zero, slope 1
 * in the tails, continuous with a continuous derivative at |d| = delta.
 * The gradient is written into `grad` (n values) when given.
 */
export function huberLoss(pred: ArrayLike<number>, target: ArrayLike<number>, delta: number, grad: Float32Array = new Float32Array(pred.length)): LossResult {
  const n = pred.length;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const d = pred[i]! - target[i]!;
    const a = Math.abs(d);
    if (a <= delta) {
      loss += (0.5 * d * d) / delta;
      grad[i] = d / delta / n;
    } else {
      loss += a - 0.5 * delta;
      grad[i] = Math.sign(d) / n;
    }
  }
  return { loss: loss / n, grad };
}
