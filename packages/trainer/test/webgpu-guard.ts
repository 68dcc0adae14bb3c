import * as tf from "@tensorflow/tfjs-core";

/**
 * Makes every synchronous read (`dataSync`, `arraySync`, `bufferSync`) throw while `body` runs: on webgpu in
 * Node they fail anyway (no OffscreenCanvas), but only for data still on the GPU; this catches the read on any
 * tensor, so a sync read added on the training, evaluation, save or predict path fails the test at once.
 */
export async function withoutSyncReads<T>(body: () => Promise<T>): Promise<T> {
  const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
  const names = ["dataSync", "arraySync", "bufferSync"] as const;
  const saved = names.map((name) => proto[name]);
  for (const name of names) {
    proto[name] = function (this: tf.Tensor) {
      throw new Error(
        `synchronous read ${name}() of a ${this.shape.join("×") || "scalar"} ${this.dtype} tensor: a GPU engine in Node cannot; use await tensor.data()`,
      );
    };
  }
  try {
    return await body();
  } finally {
    names.forEach((name, i) => {
      proto[name] = saved[i];
    });
  }
}
