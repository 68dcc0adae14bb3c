// The WebAssembly SIMD body of ReluGrad (relu_grad.ts), assembled into wasm_simd.ts's module.
import {
  add,
  and,
  andV128,
  bitselect,
  doWhile,
  get,
  gtF32x4,
  i32,
  ifThen,
  loadV128,
  locals,
  ltU,
  mulF32x4,
  neF32x4,
  set,
  shl,
  storeV128,
  v128,
} from "./wasm_assembler.js";

/**
 * reluGrad: dx = dy · s, 4 floats at a time, with s = (y > 0 ? 1 : 0) where y is a number and s = y where
 * it is NaN (`f32x4.gt` is false for NaN, `f32x4.ne(y, y)` true only for NaN): the values of tfjs's Step
 * (alpha 0), so dy · s rounds, signs zeros and propagates NaN exactly as Step then Multiply do.
 */
export function reluGradBody() {
  const L = locals(["dy", "y", "dx", "count"], ["end"], ["v"]);
  const $ = L.index;
  const one = v128(new Float32Array(4).fill(1));
  const zero = v128(new Float32Array(4));
  const code = [
    set($.end, add(get($.dx), shl(and(get($.count), i32(-4)), i32(2)))),
    ifThen(
      ltU(get($.dx), get($.end)),
      doWhile(
        ltU(get($.dx), get($.end)),
        set($.v, loadV128(get($.y))),
        storeV128(
          get($.dx),
          mulF32x4(
            loadV128(get($.dy)),
            bitselect(get($.v), andV128(gtF32x4(get($.v), zero), one), neF32x4(get($.v), get($.v))),
          ),
        ),
        set($.dy, add(get($.dy), i32(16))),
        set($.y, add(get($.y), i32(16))),
        set($.dx, add(get($.dx), i32(16))),
      ),
    ),
  ];
  return { params: L.params, declarations: L.declarations, code: code.flat() };
}
