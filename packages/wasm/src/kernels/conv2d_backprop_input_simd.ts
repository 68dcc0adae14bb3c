// The WebAssembly SIMD body of Conv2DBackpropInput (conv2d_backprop_input.ts): col2im, assembled into wasm_simd.ts's module.
import {
  add,
  addF32,
  addF32x4,
  and,
  doWhile,
  get,
  gtS,
  i32,
  ifThen,
  loadF32,
  loadV128,
  locals,
  ltU,
  mul,
  select,
  set,
  shl,
  stepBelow,
  storeF32,
  storeV128,
  sub,
} from "./wasm_assembler.js";

/**
 * col2im: dx[n, oh·sH + fh − top, ow·sW + fw − left, :] += cols[n, oh, ow, fh, fw, :] for the taps
 * inside the input, dx [count, inH, inW, C] NHWC, cols one row of KH·KW·C per output pixel. The taps
 * of one filter row that fall inside the input land on neighbouring pixels (whatever the stride), so
 * each adds one contiguous run of (taps)·C floats, 4 at a time, the last (taps·C mod 4) one by one. Per dx element the same additions in the same
 * order as the JavaScript loop (row by row, taps in order), so the same bits.
 */
export function col2imBody() {
  const L = locals(
    ["cols", "dx", "count", "inH", "inW", "C", "outH", "outW", "KH", "KW", "sH", "sW", "top", "left"],
    ["n", "oh", "ow", "fh", "ih", "iw0", "lo", "hi", "row", "runBytes", "p", "q", "e", "e4", "image", "cBytes"],
    [],
  );
  const $ = L.index;
  const code = [
    set($.cBytes, shl(get($.C), i32(2))),
    set($.row, get($.cols)),
    set($.n, i32(0)),
    doWhile(
      stepBelow($.n, i32(1), get($.count)),
      set($.image, add(get($.dx), mul(mul(mul(get($.n), get($.inH)), get($.inW)), get($.cBytes)))),
      set($.oh, i32(0)),
      doWhile(
        stepBelow($.oh, i32(1), get($.outH)),
        set($.ow, i32(0)),
        doWhile(
          stepBelow($.ow, i32(1), get($.outW)),
          set($.iw0, sub(mul(get($.ow), get($.sW)), get($.left))),
          // Taps lo ≤ fw < hi land inside the row: 0 ≤ iw0 + fw < inW.
          set($.lo, select(sub(i32(0), get($.iw0)), i32(0), gtS(sub(i32(0), get($.iw0)), i32(0)))),
          set($.hi, sub(get($.inW), get($.iw0))),
          set($.hi, select(get($.KW), get($.hi), gtS(get($.hi), get($.KW)))),
          ifThen(
            gtS(get($.hi), get($.lo)),
            set($.runBytes, mul(sub(get($.hi), get($.lo)), get($.cBytes))),
            set($.fh, i32(0)),
            doWhile(
              stepBelow($.fh, i32(1), get($.KH)),
              set($.ih, sub(add(mul(get($.oh), get($.sH)), get($.fh)), get($.top))),
              ifThen(
                ltU(get($.ih), get($.inH)),
                // Taps lo..hi − 1 of this filter row: one run, contiguous in cols and in dx.
                set($.p, add(get($.row), mul(add(mul(get($.fh), get($.KW)), get($.lo)), get($.cBytes)))),
                set(
                  $.q,
                  add(get($.image), mul(add(mul(get($.ih), get($.inW)), add(get($.iw0), get($.lo))), get($.cBytes))),
                ),
                set($.e, add(get($.p), get($.runBytes))),
                set($.e4, add(get($.p), and(get($.runBytes), i32(-16)))),
                ifThen(
                  ltU(get($.p), get($.e4)),
                  doWhile(
                    ltU(get($.p), get($.e4)),
                    storeV128(get($.q), addF32x4(loadV128(get($.q)), loadV128(get($.p)))),
                    set($.p, add(get($.p), i32(16))),
                    set($.q, add(get($.q), i32(16))),
                  ),
                ),
                ifThen(
                  ltU(get($.p), get($.e)),
                  doWhile(
                    ltU(get($.p), get($.e)),
                    storeF32(get($.q), addF32(loadF32(get($.q)), loadF32(get($.p)))),
                    set($.p, add(get($.p), i32(4))),
                    set($.q, add(get($.q), i32(4))),
                  ),
                ),
              ),
            ),
          ),
          set($.row, add(get($.row), mul(mul(get($.KH), get($.KW)), get($.cBytes)))),
        ),
      ),
    ),
  ];
  return { params: L.params, declarations: L.declarations, code: code.flat() };
}
