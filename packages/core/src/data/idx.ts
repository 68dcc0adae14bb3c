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
 * Incremental parser: validates the header as soon as it has arrived, then fills an exactly-sized array.
 * `file` names the input in errors (a path, a URL, a dropped file's name).
 */
export class IdxParser {
  private header: Uint8Array = new Uint8Array(0);
  private dims: number[] | undefined;
  private data: Uint8Array | undefined;
  private received = 0;

  constructor(private readonly file: string) {}

  push(chunk: Uint8Array): void {
    if (!this.dims) {
      this.header = concat(this.header, chunk);
      const parsed = parseHeader(this.header, this.file, false);
      if (!parsed) return;
      this.dims = parsed.dims;
      this.data = new Uint8Array(parsed.dims.reduce((a, b) => a * b, 1));
      chunk = this.header.subarray(parsed.headerLength);
      this.header = new Uint8Array(0);
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
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join("");
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
    throw new IdxFormatError(
      file,
      `truncated header: ${rank} dimensions need ${headerLength} bytes, file has ${bytes.length}`,
    );
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

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

/** True when the bytes start with gzip's magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** The error for a file named `.gz` whose bytes are not gzip. */
export function notGzipError(file: string): IdxFormatError {
  return new IdxFormatError(
    file,
    "named .gz but is not gzip data (no gzip magic bytes 1f 8b); the download may be incomplete or an HTML error page — delete it and fetch it again",
  );
}

/** The error for gzip data that does not unzip. */
export function corruptGzipError(file: string, cause: unknown): IdxFormatError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new IdxFormatError(file, `gzip data is corrupt or truncated (${reason}); delete the file and fetch it again`);
}

/**
 * Reads an IDX file from a stream of its bytes, gzip'd or raw (gzip is recognised by its magic bytes), e.g. a
 * `fetch` response's body or a dropped `File`'s `stream()`. Unzips with the web's `DecompressionStream`, so it
 * runs in browsers and in Node alike. `file` names the input in errors, which are the same as `readIdx`'s.
 */
export async function readIdxStream(stream: ReadableStream<Uint8Array>, file: string): Promise<IdxArray> {
  const [head, rest] = await peek(stream.getReader());
  const gzip = isGzip(head);
  if (!gzip && file.endsWith(".gz")) {
    await rest.cancel();
    throw notGzipError(file);
  }
  const bytes = gzip
    ? rest.pipeThrough(new DecompressionStream("gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>)
    : rest;
  const parser = new IdxParser(file);
  const reader = bytes.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.push(value);
    }
  } catch (err) {
    if (err instanceof IdxFormatError) throw err;
    throw gzip ? corruptGzipError(file, err) : err;
  } finally {
    await reader.cancel().catch(() => {});
  }
  return parser.finish();
}

/** Reads until at least 2 bytes have arrived; returns them and a stream of all the bytes, those included. */
async function peek(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<[Uint8Array, ReadableStream<Uint8Array>]> {
  const seen: Uint8Array[] = [];
  let length = 0;
  let done = false;
  while (length < 2 && !done) {
    const next = await reader.read();
    done = next.done;
    if (next.value) {
      seen.push(next.value);
      length += next.value.length;
    }
  }
  const head = seen.reduce(concat, new Uint8Array(0));
  const rest = new ReadableStream<Uint8Array>({
    start(controller) {
      if (head.length > 0) controller.enqueue(head);
      if (done) controller.close();
    },
    async pull(controller) {
      const next = await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return [head.subarray(0, 2), rest];
}
