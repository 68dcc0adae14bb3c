import { Writable } from "node:stream";
import type { OutputStream } from "../context.js";

/** Writes to `target` with `prefix` before every line: several runs' lines stay readable in one log. */
export class Prefixed extends Writable {
  isTTY = false;
  private atLineStart = true;
  constructor(
    private readonly target: OutputStream,
    private readonly prefix: string,
  ) {
    super();
  }
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    let text = "";
    for (const char of chunk.toString()) {
      if (this.atLineStart) text += this.prefix;
      text += char;
      this.atLineStart = char === "\n";
    }
    this.target.write(text, () => done());
  }
}
