// The WebAssembly SIMD body of MaxPoolGrad (max_pool_grad.ts), assembled into wasm_simd.ts's module.
import {
  add,
  addF32,
  bitselect,
  doWhile,
  geS,
  get,
  gtF32x4,
  i32,
  ifThen,
  loadF32,
  loadI32,
  loadV128,
  locals,
  ltU,
  mul,
  set,
  shl,
  splatI32x4,
  stepBelow,
  storeF32,
  storeV128,
  sub,
  v128,
} from "./wasm_assembler.js";

/**
 * maxPoolGrad. For each output pixel (b, oh, ow): the scratch holds, per group of 4 channels, the
 * running maximum (16 bytes, from −∞) and the pixel offset where it was found (16 bytes, from −1);
 * for each tap of the window inside the input, row by row, `f32x4.gt` (strict >: ties keep the
 * first, NaN never wins) selects both; then each channel's dy is added to dx at its pixel, unless no
 * input won (−1: a window of NaN or −∞ only, whose gradient is dropped as on the cpu backend). The
 * same comparisons, order and float additions as the JavaScript loop, so the same bits.
 */
export function maxPoolGradBody() {
  const L = locals(
    ["x", "dy", "dx", "scratch", "batch", "inH", "inW", "C", "outH", "outW", "fH", "fW", "sH", "sW", "top", "left"],
    ["b", "oh", "ow", "kh", "kw", "ih", "iw", "c", "off", "end", "g", "i", "p", "q", "a"],
    ["s", "v", "best", "m"],
  );
  const $ = L.index;
  const minusInfinity = v128(new Float32Array(4).fill(Number.NEGATIVE_INFINITY));
  const minusOne = v128(new Int32Array(4).fill(-1));
  /** Adds dy of channel c + lane to dx at the lane's pixel, if any. */
  const scatterLane = (lane: number) => [
    set($.i, loadI32(get($.q), 16 + 4 * lane)),
    ifThen(
      geS(get($.i), i32(0)),
      set($.a, add(get($.dx), shl(add(get($.i), get($.c)), i32(2)))),
      storeF32(get($.a), addF32(loadF32(get($.a), 4 * lane), loadF32(get($.g), 4 * lane)), 4 * lane),
    ),
  ];
  const code = [
    set($.end, add(get($.scratch), shl(get($.C), i32(3)))),
    set($.g, get($.dy)),
    set($.b, i32(0)),
    doWhile(
      stepBelow($.b, i32(1), get($.batch)),
      set($.oh, i32(0)),
      doWhile(
        stepBelow($.oh, i32(1), get($.outH)),
        set($.ow, i32(0)),
        doWhile(
          stepBelow($.ow, i32(1), get($.outW)),
          // Running maximum −∞ and position −1 for every channel.
          set($.q, get($.scratch)),
          doWhile(
            stepBelow($.q, i32(32), get($.end)),
            storeV128(get($.q), minusInfinity),
            storeV128(get($.q), minusOne, 16),
          ),
          // Taps row by row; rows and columns outside the input (padding) are skipped.
          set($.kh, i32(0)),
          doWhile(
            stepBelow($.kh, i32(1), get($.fH)),
            set($.ih, add(sub(mul(get($.oh), get($.sH)), get($.top)), get($.kh))),
            ifThen(
              ltU(get($.ih), get($.inH)),
              set($.kw, i32(0)),
              doWhile(
                stepBelow($.kw, i32(1), get($.fW)),
                set($.iw, add(sub(mul(get($.ow), get($.sW)), get($.left)), get($.kw))),
                ifThen(
                  ltU(get($.iw), get($.inW)),
                  // off: the tap's pixel, in elements; p walks its channels, q the scratch.
                  set($.off, mul(add(mul(add(mul(get($.b), get($.inH)), get($.ih)), get($.inW)), get($.iw)), get($.C))),
                  set($.s, splatI32x4(get($.off))),
                  set($.p, add(get($.x), shl(get($.off), i32(2)))),
                  set($.q, get($.scratch)),
                  doWhile(
                    stepBelow($.q, i32(32), get($.end)),
                    set($.v, loadV128(get($.p))),
                    set($.best, loadV128(get($.q))),
                    set($.m, gtF32x4(get($.v), get($.best))),
                    storeV128(get($.q), bitselect(get($.v), get($.best), get($.m))),
                    storeV128(get($.q), bitselect(get($.s), loadV128(get($.q), 16), get($.m)), 16),
                    set($.p, add(get($.p), i32(16))),
                  ),
                ),
              ),
            ),
          ),
          // dy of this output pixel to the winners.
          set($.q, get($.scratch)),
          set($.c, i32(0)),
          doWhile(
            stepBelow($.q, i32(32), get($.end)),
            ...[0, 1, 2, 3].flatMap(scatterLane),
            set($.g, add(get($.g), i32(16))),
            set($.c, add(get($.c), i32(4))),
          ),
        ),
      ),
    ),
  ];
  return { params: L.params, declarations: L.declarations, code: code.flat() };
}
