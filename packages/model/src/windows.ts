/** A square sliding window (convolution or pooling) as PyTorch describes it. */
export interface Window {
  kernel: number;
  stride: number;
  /** Zero padding on every side. */
  padding: number;
}

/**
 * Output side of a window over an input side, PyTorch's `floor((n + 2p - k) / s) + 1`, or 0 when
 * the window no longer fits (a 0 stays 0 through later windows).
 */
export function windowOutputSize(inputSize: number, { kernel, stride, padding }: Window): number {
  const padded = inputSize + 2 * padding;
  if (inputSize < 1 || padded < kernel) return 0;
  return Math.floor((padded - kernel) / stride) + 1;
}

/**
 * Smallest input side for which `featureSize` is at least 1, by walking up from 1: the
 * architecture's own arithmetic decides, so changing a window changes the minimum with it.
 */
export function smallestInputSize(featureSize: (inputSize: number) => number, limit = 4096): number {
  for (let n = 1; n <= limit; n++) {
    if (featureSize(n) >= 1) return n;
  }
  throw new Error(`no input side up to ${limit} gives a feature map of at least 1×1`);
}
