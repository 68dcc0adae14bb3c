import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

export const REAL_DIR = process.env.FASHION_MNIST_DIR ?? "/usr/share/datasets/fashion-mnist";

export function tempDir(prefix = "convnets-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Bytes of a uint8 IDX file with the given dimensions; `data` defaults to the right length of a ramp. */
export function idxBytes(dims: number[], data?: Uint8Array, magicType = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = magicType;
  header[3] = dims.length;
  for (const [i, d] of dims.entries()) header.writeUInt32BE(d, 4 + 4 * i);
  const n = dims.reduce((a, b) => a * b, 1);
  const body = data ?? Uint8Array.from({ length: n }, (_, i) => i % 10);
  return Buffer.concat([header, Buffer.from(body)]);
}

export const gz = (b: Buffer) => gzipSync(b);
