import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { IdxFormatError, readIdx } from "../src/index.js";
import { gz, idxBytes, REAL_DIR, tempDir } from "./helpers.js";

describe("readIdx on the real Fashion-MNIST files", () => {
  it("reads the training images: 60,000 × 28 × 28 bytes", async () => {
    const { dims, data } = await readIdx(join(REAL_DIR, "train-images-idx3-ubyte.gz"));
    expect(dims).toEqual([60000, 28, 28]);
    expect(data.length).toBe(60000 * 28 * 28);
  });

  it("reads the test labels: 10,000 labels, 1,000 of each class", async () => {
    const { dims, data } = await readIdx(join(REAL_DIR, "t10k-labels-idx1-ubyte.gz"));
    expect(dims).toEqual([10000]);
    const counts = new Array(10).fill(0);
    for (const l of data) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(1000));
  });
});

describe("readIdx on bad files", () => {
  const dir = tempDir();
  const write = (name: string, bytes: Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };

  it("reads a raw (uncompressed) file and a gzip'd one alike", async () => {
    const raw = await readIdx(write("ok-idx1-ubyte", idxBytes([5])));
    const zipped = await readIdx(write("ok-idx1-ubyte.gz", gz(idxBytes([5]))));
    expect(raw.dims).toEqual([5]);
    expect(Array.from(zipped.data)).toEqual(Array.from(raw.data));
  });

  it("refuses a wrong magic number, naming the file", async () => {
    const bytes = idxBytes([3, 2, 2]);
    bytes[0] = 0x50;
    const path = write("magic.gz", gz(bytes));
    await expect(readIdx(path)).rejects.toThrow(IdxFormatError);
    await expect(readIdx(path)).rejects.toThrow(`${path}: wrong magic number 0x50000803`);
  });

  it("refuses an element type other than unsigned byte", async () => {
    const path = write("float.gz", gz(idxBytes([2], undefined, 0x0d)));
    await expect(readIdx(path)).rejects.toThrow(/element type 0xd \(float\) is not supported/);
  });

  it("refuses truncated data, saying how many bytes are missing", async () => {
    const bytes = idxBytes([10, 28, 28]).subarray(0, 4 + 12 + 7000);
    const path = write("truncated.gz", gz(bytes));
    await expect(readIdx(path)).rejects.toThrow(
      `${path}: header says 10×28×28 = 7840 bytes of data but the file holds 7000 (truncated)`,
    );
  });

  it("refuses a header whose counts disagree with the length (trailing data)", async () => {
    const bytes = Buffer.concat([idxBytes([4]), Buffer.from([1, 2])]);
    await expect(readIdx(write("long", bytes))).rejects.toThrow(
      /header says 4 = 4 bytes of data but the file holds 6 \(trailing data\)/,
    );
  });

  it("refuses a truncated header", async () => {
    const bytes = idxBytes([10, 28, 28]).subarray(0, 9);
    await expect(readIdx(write("short-header", bytes))).rejects.toThrow(
      /truncated header: 3 dimensions need 16 bytes, file has 9/,
    );
  });

  it("refuses a file named .gz that is not gzip", async () => {
    const path = write("not-gzip.gz", Buffer.from("<html>404 Not Found</html>"));
    await expect(readIdx(path)).rejects.toThrow(`${path}: named .gz but is not gzip data`);
  });

  it("refuses truncated gzip data with a message, not a zlib stack", async () => {
    const full = gz(idxBytes([100, 28, 28]));
    const path = write("cut.gz", full.subarray(0, full.length >> 1));
    await expect(readIdx(path)).rejects.toThrow(
      new RegExp(`^${path.replace(/[.]/g, "\\.")}: gzip data is corrupt or truncated`),
    );
  });

  it("reports a missing file by name", async () => {
    const path = join(dir, "nope.gz");
    await expect(readIdx(path)).rejects.toThrow(`${path}: file not found`);
  });
});
