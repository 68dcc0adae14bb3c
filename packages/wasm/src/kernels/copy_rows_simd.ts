// The WebAssembly SIMD body of copyRows, the runs copyRuns (wasm.ts) and the filter gradient copy, assembled into wasm_simd.ts's module.
import { add, doWhile, get, i32, locals, memoryCopy, mul, set, stepBelow } from "./wasm_assembler.js";

/**
 * copyRows: `count` blocks of `rows` rows of `rowBytes` bytes each, from src to dst with their own
 * row and block strides in bytes (an image into the interior of a zero-padded one).
 */
export function copyRowsBody() {
  const L = locals(
    ["src", "dst", "count", "rows", "rowBytes", "srcRow", "dstRow", "srcBlock", "dstBlock"],
    ["n", "r", "p", "q"],
    [],
  );
  const $ = L.index;
  const code = [
    set($.n, i32(0)),
    doWhile(
      stepBelow($.n, i32(1), get($.count)),
      set($.p, add(get($.src), mul(get($.n), get($.srcBlock)))),
      set($.q, add(get($.dst), mul(get($.n), get($.dstBlock)))),
      set($.r, i32(0)),
      doWhile(
        stepBelow($.r, i32(1), get($.rows)),
        memoryCopy(get($.q), get($.p), get($.rowBytes)),
        set($.p, add(get($.p), get($.srcRow))),
        set($.q, add(get($.q), get($.dstRow))),
      ),
    ),
  ];
  return { params: L.params, declarations: L.declarations, code: code.flat() };
}
