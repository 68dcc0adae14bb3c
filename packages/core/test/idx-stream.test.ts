import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { IdxFormatError, readIdxStream } from "../src/browser.js";
import { readIdx } from "../src/index.js";
import { gz, idxBytes, REAL_DIR } from "./helpers.js";

/** A stream of the bytes in small chunks, as a fetch body or a dropped File delivers them. */
function streamOf(bytes: Uint8Array, chunk = 1000): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunk));
      offset += chunk;
    },
  });
}

describe("readIdxStream (the browser's reader: DecompressionStream, no node: module)", () => {
  it("reads the real test images, byte for byte what readIdx reads from disk", async () => {
    const path = join(REAL_DIR, "t10k-images-idx3-ubyte.gz");
    const fromStream = await readIdxStream(streamOf(readFileSync(path), 65536), "t10k-images-idx3-ubyte.gz");
    const fromDisk = await readIdx(path);
    expect(fromStream.dims).toEqual([10000, 28, 28]);
    expect(Buffer.from(fromStream.data).equals(Buffer.from(fromDisk.data))).toBe(true);
  });

  it("reads raw and gzip'd bytes alike, even when the first chunk holds 1 byte", async () => {
    const raw = await readIdxStream(streamOf(idxBytes([5]), 1), "labels");
    const zipped = await readIdxStream(streamOf(gz(idxBytes([5])), 1), "labels.gz");
    expect(raw.dims).toEqual([5]);
    expect(Array.from(zipped.data)).toEqual(Array.from(raw.data));
  });

  it("refuses a wrong magic number, naming the file", async () => {
    const bytes = idxBytes([3, 2, 2]);
    bytes[0] = 0x50;
    const read = readIdxStream(streamOf(gz(bytes)), "magic.gz");
    await expect(read).rejects.toThrow(IdxFormatError);
    await expect(readIdxStream(streamOf(gz(bytes)), "magic.gz")).rejects.toThrow(
      "magic.gz: wrong magic number 0x50000803",
    );
  });

  it("refuses truncated data, saying how many bytes are missing", async () => {
    const bytes = idxBytes([10, 28, 28]).subarray(0, 4 + 12 + 7000);
    await expect(readIdxStream(streamOf(gz(bytes)), "t.gz")).rejects.toThrow(
      "t.gz: header says 10×28×28 = 7840 bytes of data but the file holds 7000 (truncated)",
    );
  });

  it("refuses a .gz that is not gzip (an HTML error page)", async () => {
    const page = new TextEncoder().encode("<!doctype html><title>404</title>");
    await expect(readIdxStream(streamOf(page), "train-labels-idx1-ubyte.gz")).rejects.toThrow(
      "train-labels-idx1-ubyte.gz: named .gz but is not gzip data",
    );
  });

  it("refuses a cut-off gzip file as corrupt or truncated", async () => {
    const zipped = gz(idxBytes([100, 28, 28]));
    await expect(readIdxStream(streamOf(zipped.subarray(0, zipped.length >> 1)), "cut.gz")).rejects.toThrow(
      /^cut\.gz: gzip data is corrupt or truncated/,
    );
  });

  it("refuses an empty file", async () => {
    await expect(readIdxStream(streamOf(new Uint8Array(0)), "empty")).rejects.toThrow(
      "empty: only 0 bytes; an IDX file starts with a 4-byte magic number",
    );
  });
});
