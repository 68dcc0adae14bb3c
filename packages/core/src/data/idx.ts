import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";

/** An IDX array of unsigned bytes (the only element type Fashion-MNIST and MNIST use). */
export interface IdxArray {
  /** Sizes of each dimension, outermost first: `[60000, 28, 28]`. */
  dims: number[];
  data: Uint8Array;
}

const UINT8_TYPE = 0x08;
const TYPE_NAMES: Record<number, string> = {
  8: "unsigned byte",
  9: "signed byte",
  11: "short",
  12: "int",
  13: "float",
  14: "double",
};

/** A file that is not a valid IDX file; the message names the file and the problem. */
export class IdxFormatError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = "IdxFormatError";
  }
}

/**
 * Reads an IDX file (gzip'd or raw; gzip is recognised by its magic bytes, not by the name).
 * Validates the magic number, the element type, and that the header's dimensions match the data length.
 */
export async function readIdx(file: string): Promise<IdxArray> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new IdxFormatError(file, code === "ENOENT" ? "file not found" : `cannot read (${code ?? String(err)})`);
  }
  return parseIdx(decompress(file, raw), file);
}

function decompress(file: string, raw: Buffer): Buffer {
  const isGzip = raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b;
  if (!isGzip) {
    if (file.endsWith(".gz")) {
      throw new IdxFormatError(
        file,
        "named .gz but is not gzip data (no gzip magic bytes 1f 8b); the download may be incomplete or an HTML error page — delete it and fetch it again",
      );
    }
    return raw;
  }
  try {
    return gunzipSync(raw);
  } catch (err) {
    throw new IdxFormatError(
      file,
      `gzip data is corrupt or truncated (${(err as Error).message}); delete the file and fetch it again`,
    );
  }
}

/** Parses the bytes of an uncompressed IDX file. `file` is only used in error messages. */
export function parseIdx(bytes: Uint8Array, file = "<buffer>"): IdxArray {
  if (bytes.length < 4) {
    throw new IdxFormatError(file, `only ${bytes.length} bytes; an IDX file starts with a 4-byte magic number`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = Buffer.from(bytes.subarray(0, 4)).toString("hex");
    throw new IdxFormatError(
      file,
      `wrong magic number 0x${magic}: not an IDX file (expected 0x0000080N, e.g. 0x00000803 for images)`,
    );
  }
  const type = bytes[2]!;
  const rank = bytes[3]!;
  if (type !== UINT8_TYPE) {
    throw new IdxFormatError(
      file,
      `element type 0x${type.toString(16)} (${TYPE_NAMES[type] ?? "unknown"}) is not supported; Fashion-MNIST files hold unsigned bytes (0x08)`,
    );
  }
  if (rank < 1) throw new IdxFormatError(file, "header declares 0 dimensions");
  const headerLength = 4 + 4 * rank;
  if (bytes.length < headerLength) {
    throw new IdxFormatError(file, `truncated header: ${rank} dimensions need ${headerLength} bytes, file has ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerLength;
  if (actual !== expected) {
    throw new IdxFormatError(
      file,
      `header says ${dims.join("×")} = ${expected} bytes of data but the file holds ${actual}` +
        (actual < expected ? " (truncated)" : " (trailing data)"),
    );
  }
  return { dims, data: bytes.subarray(headerLength) };
}
