import { type FileHandle, open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { corruptGzipError, type IdxArray, IdxFormatError, IdxParser, isGzip, notGzipError } from "./idx.js";

/**
 * Reads an IDX file from disk (gzip'd or raw; gzip is recognised by its magic bytes, not by the name).
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
    const gzip = isGzip(magic.subarray(0, bytesRead));
    if (!gzip && file.endsWith(".gz")) throw notGzipError(file);
    const raw = handle.createReadStream({ start: 0, autoClose: true });
    stream = gzip ? raw.pipe(createGunzip()) : raw;
    raw.on("error", (err) => stream.destroy(err));
  } catch (err) {
    await handle.close();
    throw err;
  }
  const reader = new IdxParser(file);
  try {
    for await (const chunk of stream) reader.push(chunk as Buffer);
  } catch (err) {
    if (err instanceof IdxFormatError) throw err;
    throw corruptGzipError(file, err);
  } finally {
    stream.destroy();
  }
  return reader.finish();
}
