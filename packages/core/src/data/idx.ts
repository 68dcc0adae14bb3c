import { type FileHandle, open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";

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
 * Streams the file into one buffer of exactly the data's size: no compressed copy, no intermediate chunks
 * kept (the training images are 47 MB; holding the .gz and a concatenated copy would double that).
 */
export async function readIdx(file: string): Promise<IdxArray> {
  let handle: FileHandle;
  try {
    handle = await open(file, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new IdxFormatError(file, code === "ENOENT" ? "file not found" : `cannot read (${code ?? String(err)})`);
  }
  const magic = Buffer.alloc(2);
  let stream: Readable;
  try {
    const { bytesRead } = await handle.read(magic, 0, 2, 0);
    const isGzip = bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
    if (!isGzip && file.endsWith(".gz")) {
      throw new IdxFormatError(
        file,
        "named .gz but is not gzip data (no gzip magic bytes 1f 8b); the download may be incomplete or an HTML error page — delete it and fetch it again",
      );
    }
    const raw = handle.createReadStream({ start: 0, autoClose: true });
    stream = isGzip ? raw.pipe(createGunzip()) : raw;
    raw.on("error", (err) => stream.destroy(err));
  } catch (err) {
    await handle.close();
    throw err;
  }
  const reader = new IdxReader(file);
  try {
    for await (const chunk of stream) reader.push(chunk as Buffer);
  } catch (err) {
    if (err instanceof IdxFormatError) throw err;
    throw new IdxFormatError(
      file,
      `gzip data is corrupt or truncated (${(err as Error).message}); delete the file and fetch it again`,
    );
  } finally {
    stream.destroy();
  }
  return reader.finish();
}

/** Incremental parser: validates the header as soon as it has arrived, then fills an exactly-sized array. */
class IdxReader {
  private header = Buffer.alloc(0);
  private dims: number[] | undefined;
  private data: Uint8Array | undefined;
  private received = 0;

  constructor(private readonly file: string) {}

  push(chunk: Buffer): void {
    if (!this.dims) {
      this.header = Buffer.concat([this.header, chunk]);
      const parsed = parseHeader(this.header, this.file, false);
      if (!parsed) return;
      this.dims = parsed.dims;
      this.data = new Uint8Array(parsed.dims.reduce((a, b) => a * b, 1));
      chunk = this.header.subarray(parsed.headerLength);
      this.header = Buffer.alloc(0);
    }
    const room = this.data!.length - this.received;
    if (room > 0) this.data!.set(chunk.subarray(0, room), this.received);
    this.received += chunk.length;
  }

  finish(): IdxArray {
    if (!this.dims) {
      parseHeader(this.header, this.file, true);
      throw new IdxFormatError(this.file, "incomplete header");
    }
    checkLength(this.dims, this.received, this.file);
    return { dims: this.dims, data: this.data! };
  }
}

/** Validates an IDX header; returns undefined when more bytes are needed and `complete` is false. */
function parseHeader(
  bytes: Uint8Array,
  file: string,
  complete: boolean,
): { dims: number[]; headerLength: number } | undefined {
  if (bytes.length < 4) {
    if (!complete) return undefined;
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
    if (!complete) return undefined;
    throw new IdxFormatError(file, `truncated header: ${rank} dimensions need ${headerLength} bytes, file has ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  return { dims, headerLength };
}

function checkLength(dims: number[], actual: number, file: string): void {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (actual !== expected) {
    throw new IdxFormatError(
      file,
      `header says ${dims.join("×")} = ${expected} bytes of data but the file holds ${actual}` +
        (actual < expected ? " (truncated)" : " (trailing data)"),
    );
  }
}

/** Parses the bytes of an uncompressed IDX file. `file` is only used in error messages. */
export function parseIdx(bytes: Uint8Array, file = "<buffer>"): IdxArray {
  const { dims, headerLength } = parseHeader(bytes, file, true)!;
  checkLength(dims, bytes.length - headerLength, file);
  return { dims, data: bytes.subarray(headerLength) };
}
