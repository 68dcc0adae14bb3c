// The WebAssembly SIMD body of Conv2DBackpropFilter (conv2d_backprop_filter.ts): filterOneChannel, filterFewChannels, transposeChannels, tapColumns, accumulate, assembled into wasm_simd.ts's module.
import {
  add,
  addF32,
  addF32x4,
  and,
  type Code,
  doWhile,
  eq,
  geS,
  get,
  gtS,
  gtU,
  i32,
  ifThen,
  laneF32,
  loadF32,
  loadSplatF32,
  loadV128,
  locals,
  ltS,
  ltU,
  mul,
  mulF32x4,
  select,
  set,
  shl,
  shuffle,
  stepBelow,
  storeF32,
  storeV128,
  sub,
  v128,
} from "./wasm_assembler.js";

/** Taps of one filter row accumulated together (one v128 accumulator each; a wider row takes several passes). */
const TAPS_PER_PASS = 8;

/**
 * filterOneChannel: dW[kh, kw, 0, co] += Σ_{n, oh, ow} x[n, oh + kh, ow + kw] · dy[n, co, oh, ow] for
 * stride 1 over operands laid out by the caller so that every read is in bounds and 16-byte runs are
 * contiguous: x zero-padded to [count, Hp, Wp] (Hp = OH + KH − 1, Wp = OW4 + KW − 1), dy transposed
 * to [count, CO, OH, OW4] with OW4 a multiple of 4 and a zero tail. For each (co, kh) and each pass
 * over up to TAPS_PER_PASS taps kw: per example, one accumulator per tap sums, 4 output columns at a
 * time, dy's 4 lanes (loaded once) times x's at column offset kw (an unaligned load); the example's
 * sums are then added to per-tap totals in the scratch (TAPS_PER_PASS·16 bytes), whose 4 lanes are
 * finally added into dW. (Two levels of summation: the rounding error grows with OH·OW/4 + N, not
 * N·OH·OW/4.) The hot loop exists once per tap count 1..TAPS_PER_PASS, its offsets constants.
 */
export function filterOneChannelBody() {
  const accumulators = Array.from({ length: TAPS_PER_PASS }, (_, k) => `a${k}` as const);
  const L = locals(
    ["x", "dy", "dW", "scratch", "count", "CO", "OH", "OW4", "KH", "KW", "Wp", "Hp"],
    ["co", "kh", "kw0", "t", "n", "oh", "pd", "px", "q", "rowEnd", "k", "a", "rowBytes", "xRowBytes"],
    ["d", "v", ...accumulators],
  );
  const $ = L.index;
  const zero = v128(new Float32Array(4));
  const acc = (k: number) => $[accumulators[k] as (typeof accumulators)[number]];
  /** All examples, for `taps` taps: pd and px are set per example. */
  const pass = (taps: number): Code =>
    ifThen(
      eq(get($.t), i32(taps)),
      set($.n, i32(0)),
      doWhile(
        stepBelow($.n, i32(1), get($.count)),
        ...Array.from({ length: taps }, (_, k) => set(acc(k), zero)),
        // pd: dy[n, co, 0, 0]; px: x[n, kh, kw0].
        set($.pd, add(get($.dy), mul(add(mul(get($.n), get($.CO)), get($.co)), mul(get($.OH), get($.rowBytes))))),
        set(
          $.px,
          add(get($.x), shl(add(mul(add(mul(get($.n), get($.Hp)), get($.kh)), get($.Wp)), get($.kw0)), i32(2))),
        ),
        set($.oh, i32(0)),
        doWhile(
          stepBelow($.oh, i32(1), get($.OH)),
          set($.rowEnd, add(get($.pd), get($.rowBytes))),
          set($.q, get($.px)),
          doWhile(
            stepBelow($.pd, i32(16), get($.rowEnd)),
            set($.d, loadV128(get($.pd))),
            ...Array.from({ length: taps }, (_, k) =>
              set(acc(k), addF32x4(get(acc(k)), mulF32x4(get($.d), loadV128(get($.q), 4 * k)))),
            ),
            set($.q, add(get($.q), i32(16))),
          ),
          set($.px, add(get($.px), get($.xRowBytes))),
        ),
        ...Array.from({ length: taps }, (_, k) =>
          storeV128(get($.scratch), addF32x4(loadV128(get($.scratch), 16 * k), get(acc(k))), 16 * k),
        ),
      ),
    );
  const code = [
    set($.rowBytes, shl(get($.OW4), i32(2))),
    set($.xRowBytes, shl(get($.Wp), i32(2))),
    set($.co, i32(0)),
    doWhile(
      stepBelow($.co, i32(1), get($.CO)),
      set($.kh, i32(0)),
      doWhile(
        stepBelow($.kh, i32(1), get($.KH)),
        set($.kw0, i32(0)),
        doWhile(
          stepBelow($.kw0, i32(TAPS_PER_PASS), get($.KW)),
          set($.t, sub(get($.KW), get($.kw0))),
          set($.t, select(i32(TAPS_PER_PASS), get($.t), gtS(get($.t), i32(TAPS_PER_PASS)))),
          ...Array.from({ length: TAPS_PER_PASS }, (_, k) => storeV128(get($.scratch), zero, 16 * k)),
          ...Array.from({ length: TAPS_PER_PASS }, (_, k) => pass(k + 1)),
          // dW[kh, kw0 + k, 0, co] += the 4 lanes of tap k's total.
          set($.k, i32(0)),
          doWhile(
            stepBelow($.k, i32(1), get($.t)),
            set($.v, loadV128(add(get($.scratch), shl(get($.k), i32(4))))),
            set(
              $.a,
              add(
                get($.dW),
                shl(add(mul(add(add(mul(get($.kh), get($.KW)), get($.kw0)), get($.k)), get($.CO)), get($.co)), i32(2)),
              ),
            ),
            storeF32(
              get($.a),
              addF32(
                loadF32(get($.a)),
                addF32(
                  addF32(laneF32(get($.v), 0), laneF32(get($.v), 1)),
                  addF32(laneF32(get($.v), 2), laneF32(get($.v), 3)),
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  ];
  return { params: L.params, declarations: L.declarations, code: code.flat() };
}

/**
 * Input channels one pass of filterFewChannels accumulates at most (its hot loop exists for each count
 * up to this): 4 × 2 accumulators, 2 vectors of dy, x's splat and a product fit the 15 vector
 * registers V8 allocates on x64; 5 or 6 input channels spill (LeNet's conv2 in one pass of 6 took
 * 5.0 ms, in two of 3 3.3 ms).
 */
export const FEW_CHANNELS_BLOCK = 4;

/**
 * filterFewChannels: dW[kh, kw, ci, co] += Σ_{n, oh, ow} x[n, oh + kh − top, ow + kw − left, ci] ·
 * dy[n, oh, ow, co] for stride 1, vectorized over co: x is read in place (NHWC, any CI), dy as
 * [count, OH, OW, CO4] and dW as [KH, KW, CI, CO4] (CO4 a multiple of 4). For each example, tap
 * (kh, kw), block of 8 output channels (4 in the last block when CO4 mod 8 = 4) and block of up to
 * `channelBlock` input channels: one accumulator per (input channel, 4 output channels) sums, over
 * the output pixels whose input pixel lies inside the image (the padding contributes nothing, so it is
 * skipped rather than stored), x[ci] loaded into 4 lanes times dy's 4 lanes; the example's sums are
 * then added into dW. (Two levels of summation, as in filterOneChannel: the rounding error grows with
 * OH·OW + N, not N·OH·OW.) Every read is in bounds, no operand is copied, and x's values are reused
 * across 8 output channels, dy's across the block of input channels. The hot loop exists once per
 * (input channels 1..FEW_CHANNELS_BLOCK, output vectors 1..2), its offsets constants.
 */
export function filterFewChannelsBody() {
  const accumulators = Array.from({ length: 2 * FEW_CHANNELS_BLOCK }, (_, k) => `a${k}` as const);
  const L = locals(
    ["x", "dy", "dW", "count", "H", "W", "CI", "OH", "OW", "CO4", "KH", "KW", "top", "left", "block"],
    [
      "n",
      "kh",
      "kw",
      "c0",
      "c",
      "co0",
      "v",
      "ohLo",
      "ohHi",
      "owLo",
      "owHi",
      "oh",
      "p",
      "q",
      "pEnd",
      "w",
      "xImage",
      "dyImage",
      "pixBytes",
      "xPixBytes",
      "runBytes",
      "xRowBytes",
      "dyRowBytes",
    ],
    ["d0", "d1", "s", ...accumulators],
  );
  const $ = L.index;
  const zero = v128(new Float32Array(4));
  const acc = (j: number, v: number) => $[accumulators[2 * j + v] as (typeof accumulators)[number]];
  const max = (a: Code, b: Code) => select(a, b, gtS(a, b));
  const min = (a: Code, b: Code) => select(a, b, ltS(a, b));
  /** One (tap, output block, input block) of one example, for `channels` input channels and `vectors` output vectors. */
  const pass = (channels: number, vectors: number): Code => {
    const each = (f: (j: number, v: number) => Code): Code[] =>
      Array.from({ length: channels }, (_, j) => Array.from({ length: vectors }, (_, v) => f(j, v))).flat();
    return ifThen(
      and(eq(get($.c), i32(channels)), eq(get($.v), i32(vectors))),
      ...each((j, v) => set(acc(j, v), zero)),
      // p: dy[n, ohLo, owLo, co0]; q: x[n, ohLo + kh − top, owLo + kw − left, c0].
      set(
        $.p,
        add(
          add(get($.dyImage), mul(get($.ohLo), get($.dyRowBytes))),
          add(mul(get($.owLo), get($.pixBytes)), get($.co0)),
        ),
      ),
      set(
        $.q,
        add(
          add(get($.xImage), mul(sub(add(get($.ohLo), get($.kh)), get($.top)), get($.xRowBytes))),
          add(mul(sub(add(get($.owLo), get($.kw)), get($.left)), get($.xPixBytes)), shl(get($.c0), i32(2))),
        ),
      ),
      set($.oh, get($.ohLo)),
      doWhile(
        stepBelow($.oh, i32(1), get($.ohHi)),
        set($.pEnd, add(get($.p), get($.runBytes))),
        doWhile(
          ltU(get($.p), get($.pEnd)),
          set($.d0, loadV128(get($.p))),
          ...(vectors > 1 ? [set($.d1, loadV128(get($.p), 16))] : []),
          ...Array.from({ length: channels }, (_, j) => [
            set($.s, loadSplatF32(get($.q), 4 * j)),
            ...Array.from({ length: vectors }, (_, v) =>
              set(acc(j, v), addF32x4(get(acc(j, v)), mulF32x4(get($.s), get(v === 0 ? $.d0 : $.d1)))),
            ),
          ]).flat(),
          set($.p, add(get($.p), get($.pixBytes))),
          set($.q, add(get($.q), get($.xPixBytes))),
        ),
        // Next row: p and q are one run past the row's first pixel.
        set($.p, sub(add(get($.p), get($.dyRowBytes)), get($.runBytes))),
        set($.q, sub(add(get($.q), get($.xRowBytes)), mul(sub(get($.owHi), get($.owLo)), get($.xPixBytes)))),
      ),
      // dW[kh, kw, c0 + j, co0 + 4v ..] += the accumulators.
      set(
        $.w,
        add(
          add(
            get($.dW),
            mul(add(mul(add(mul(get($.kh), get($.KW)), get($.kw)), get($.CI)), get($.c0)), get($.pixBytes)),
          ),
          get($.co0),
        ),
      ),
      ...Array.from({ length: channels }, (_, j) => [
        ...Array.from({ length: vectors }, (_, v) =>
          storeV128(get($.w), addF32x4(loadV128(get($.w), 16 * v), get(acc(j, v))), 16 * v),
        ),
        set($.w, add(get($.w), get($.pixBytes))),
      ]).flat(),
    );
  };
  const variants: Code[] = [];
  for (let channels = 1; channels <= FEW_CHANNELS_BLOCK; channels++) {
    for (let vectors = 1; vectors <= 2; vectors++) variants.push(pass(channels, vectors));
  }
  const code = [
    set($.pixBytes, shl(get($.CO4), i32(2))),
    set($.xPixBytes, shl(get($.CI), i32(2))),
    set($.xRowBytes, mul(get($.W), get($.xPixBytes))),
    set($.dyRowBytes, mul(get($.OW), get($.pixBytes))),
    set($.n, i32(0)),
    doWhile(
      stepBelow($.n, i32(1), get($.count)),
      set($.xImage, add(get($.x), mul(mul(get($.n), get($.H)), get($.xRowBytes)))),
      set($.dyImage, add(get($.dy), mul(mul(get($.n), get($.OH)), get($.dyRowBytes)))),
      set($.kh, i32(0)),
      doWhile(
        stepBelow($.kh, i32(1), get($.KH)),
        // Output rows whose input row oh + kh − top is inside the image.
        set($.ohLo, max(sub(get($.top), get($.kh)), i32(0))),
        set($.ohHi, min(sub(add(get($.H), get($.top)), get($.kh)), get($.OH))),
        ifThen(
          ltS(get($.ohLo), get($.ohHi)),
          set($.kw, i32(0)),
          doWhile(
            stepBelow($.kw, i32(1), get($.KW)),
            set($.owLo, max(sub(get($.left), get($.kw)), i32(0))),
            set($.owHi, min(sub(add(get($.W), get($.left)), get($.kw)), get($.OW))),
            ifThen(
              ltS(get($.owLo), get($.owHi)),
              set($.runBytes, mul(sub(get($.owHi), get($.owLo)), get($.pixBytes))),
              set($.co0, i32(0)),
              doWhile(
                stepBelow($.co0, i32(32), get($.pixBytes)),
                set($.v, select(i32(2), i32(1), geS(sub(get($.pixBytes), get($.co0)), i32(32)))),
                set($.c0, i32(0)),
                doWhile(
                  stepBelow($.c0, get($.block), get($.CI)),
                  set($.c, sub(get($.CI), get($.c0))),
                  set($.c, select(get($.block), get($.c), gtS(get($.c), get($.block)))),
                  ...variants,
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  ];
  return { params: L.params, declarations: L.declarations, code: code.flat() };
}

/**
 * transposeChannels: [count, OH, OW, C] → [count, C, OH, OW4] (rows of OW4 ≥ OW floats; the tail is
 * left as it is, zeroed by the caller).
 */
export function transposeChannelsBody() {
  const L = locals(
    ["src", "dst", "count", "OH", "OW", "C", "OW4"],
    ["n", "oh", "ow", "c", "p", "q", "base", "plane"],
    [],
  );
  const $ = L.index;
  const code = [
    set($.plane, shl(mul(get($.OH), get($.OW4)), i32(2))),
    set($.p, get($.src)),
    set($.n, i32(0)),
    doWhile(
      stepBelow($.n, i32(1), get($.count)),
      set($.oh, i32(0)),
      doWhile(
        stepBelow($.oh, i32(1), get($.OH)),
        // base: dst[n, 0, oh, 0].
        set(
          $.base,
          add(get($.dst), add(mul(mul(get($.n), get($.C)), get($.plane)), shl(mul(get($.oh), get($.OW4)), i32(2)))),
        ),
        set($.ow, i32(0)),
        doWhile(
          stepBelow($.ow, i32(1), get($.OW)),
          set($.q, add(get($.base), shl(get($.ow), i32(2)))),
          set($.c, i32(0)),
          doWhile(
            stepBelow($.c, i32(1), get($.C)),
            storeF32(get($.q), loadF32(get($.p))),
            set($.p, add(get($.p), i32(4))),
            set($.q, add(get($.q), get($.plane))),
          ),
        ),
      ),
    ),
  ];
  return { params: L.params, declarations: L.declarations, code: code.flat() };
}

/**
 * tapColumns: dst[n, r, c, p] = src[n, r, p, c] with byte strides (dst: example, row, channel, 4;
 * src: example, row, pixel, 4). Per group of 4 channels: blocks of 4 pixels move as 4 v128 loads, a
 * 4×4 transpose in 8 shuffles and 4 v128 stores; each of the last (pixels mod 4) pixels as one v128
 * load and 4 lane stores, to the same 4 rows (rows of colsᵀ lie a page or more apart: walking all
 * channels for one pixel would touch a page per float). The last (C mod 4) channels one float at a time.
 */
export function tapColumnsBody() {
  const L = locals(
    [
      "src",
      "dst",
      "count",
      "rows",
      "pixels",
      "C",
      "srcPixel",
      "srcRow",
      "srcExample",
      "dstChannel",
      "dstRow",
      "dstExample",
    ],
    ["n", "r", "c", "p", "c4", "p4", "s", "d", "a", "q"],
    ["va", "vb", "vc", "vd", "t0", "t1", "t2", "t3"],
  );
  const $ = L.index;
  /** f32 lanes [i, j, k, l] of the 8 lanes of two vectors, as the 16 bytes of an i8x16.shuffle. */
  const lanes = (...f32: number[]) => f32.flatMap((lane) => [0, 1, 2, 3].map((b) => 4 * lane + b));
  /** q + k·dstChannel: row k of the group. */
  const row = (k: number) =>
    k === 0
      ? get($.q)
      : add(
          get($.q),
          k === 1 ? get($.dstChannel) : k === 2 ? shl(get($.dstChannel), i32(1)) : mul(get($.dstChannel), i32(3)),
        );
  const code = [
    set($.c4, and(get($.C), i32(-4))),
    set($.p4, and(get($.pixels), i32(-4))),
    set($.n, i32(0)),
    doWhile(
      stepBelow($.n, i32(1), get($.count)),
      set($.r, i32(0)),
      doWhile(
        stepBelow($.r, i32(1), get($.rows)),
        set($.s, add(add(get($.src), mul(get($.n), get($.srcExample))), mul(get($.r), get($.srcRow)))),
        set($.d, add(add(get($.dst), mul(get($.n), get($.dstExample))), mul(get($.r), get($.dstRow)))),
        ifThen(
          gtU(get($.c4), i32(0)),
          set($.c, i32(0)),
          doWhile(
            stepBelow($.c, i32(4), get($.c4)),
            set($.a, add(get($.s), shl(get($.c), i32(2)))),
            set($.q, add(get($.d), mul(get($.c), get($.dstChannel)))),
            // 4 pixels at a time.
            ifThen(
              gtU(get($.p4), i32(0)),
              set($.p, i32(0)),
              doWhile(
                stepBelow($.p, i32(4), get($.p4)),
                set($.va, loadV128(get($.a))),
                set($.vb, loadV128(add(get($.a), get($.srcPixel)))),
                set($.vc, loadV128(add(get($.a), shl(get($.srcPixel), i32(1))))),
                set($.vd, loadV128(add(get($.a), mul(get($.srcPixel), i32(3))))),
                set($.t0, shuffle(get($.va), get($.vb), lanes(0, 4, 1, 5))),
                set($.t1, shuffle(get($.va), get($.vb), lanes(2, 6, 3, 7))),
                set($.t2, shuffle(get($.vc), get($.vd), lanes(0, 4, 1, 5))),
                set($.t3, shuffle(get($.vc), get($.vd), lanes(2, 6, 3, 7))),
                storeV128(row(0), shuffle(get($.t0), get($.t2), lanes(0, 1, 4, 5))),
                storeV128(row(1), shuffle(get($.t0), get($.t2), lanes(2, 3, 6, 7))),
                storeV128(row(2), shuffle(get($.t1), get($.t3), lanes(0, 1, 4, 5))),
                storeV128(row(3), shuffle(get($.t1), get($.t3), lanes(2, 3, 6, 7))),
                set($.a, add(get($.a), shl(get($.srcPixel), i32(2)))),
                set($.q, add(get($.q), i32(16))),
              ),
            ),
            // The last pixels, to the same 4 rows.
            ifThen(
              ltU(get($.p4), get($.pixels)),
              set($.p, get($.p4)),
              doWhile(
                stepBelow($.p, i32(1), get($.pixels)),
                set($.va, loadV128(get($.a))),
                ...[0, 1, 2, 3].map((k) => storeF32(row(k), laneF32(get($.va), k))),
                set($.a, add(get($.a), get($.srcPixel))),
                set($.q, add(get($.q), i32(4))),
              ),
            ),
          ),
        ),
        // The last channels, every pixel.
        ifThen(
          ltU(get($.c4), get($.C)),
          set($.c, get($.c4)),
          doWhile(
            stepBelow($.c, i32(1), get($.C)),
            set($.a, add(get($.s), shl(get($.c), i32(2)))),
            set($.q, add(get($.d), mul(get($.c), get($.dstChannel)))),
            set($.p, i32(0)),
            doWhile(
              stepBelow($.p, i32(1), get($.pixels)),
              storeF32(get($.q), loadF32(get($.a))),
              set($.a, add(get($.a), get($.srcPixel))),
              set($.q, add(get($.q), i32(4))),
            ),
          ),
        ),
      ),
    ),
  ];
  return { params: L.params, declarations: L.declarations, code: code.flat() };
}

/** accumulate: dst[i] += src[i], 4 floats at a time, the last (count mod 4) one by one. */
export function accumulateBody() {
  const L = locals(["dst", "src", "count"], ["end", "end4"], []);
  const $ = L.index;
  const code = [
    set($.end, add(get($.dst), shl(get($.count), i32(2)))),
    set($.end4, add(get($.dst), shl(and(get($.count), i32(-4)), i32(2)))),
    ifThen(
      ltU(get($.dst), get($.end4)),
      doWhile(
        ltU(get($.dst), get($.end4)),
        storeV128(get($.dst), addF32x4(loadV128(get($.dst)), loadV128(get($.src)))),
        set($.dst, add(get($.dst), i32(16))),
        set($.src, add(get($.src), i32(16))),
      ),
    ),
    ifThen(
      ltU(get($.dst), get($.end)),
      doWhile(
        ltU(get($.dst), get($.end)),
        storeF32(get($.dst), addF32(loadF32(get($.dst)), loadF32(get($.src)))),
        set($.dst, add(get($.dst), i32(4))),
        set($.src, add(get($.src), i32(4))),
      ),
    ),
  ];
  return { params: L.params, declarations: L.declarations, code: code.flat() };
}
