import type { WasmBackend } from "./wasm.js";

/**
 * Kernels written directly in WebAssembly (with 128-bit SIMD) that run on the wasm backend's own
 * memory: a small module, assembled here at first use from the instructions below, imports the
 * backend's `WebAssembly.Memory`, so its functions read and write tensors in place given their heap
 * offsets. It is for loops that neither XNNPACK nor the backend offer and that JavaScript runs
 * several times slower: MaxPoolGrad's running argmax (a compare and two selects per input, 4 lanes
 * at a time here), the filter gradient of a stride-1 convolution with one or a few input channels
 * (which XNNPACK's convolution, given CI images of N channels, runs poorly), the transposed columns
 * (colsᵀ) the other filter gradients multiply with dy, col2im for Conv2DBackpropInput (bench/kernels.ts), and the passes of training-mode batch normalisation
 * (batch_norm.ts, bench/batch_norm.ts).
 *
 * Not available (`wasmSimdKernels` returns undefined, callers use their JavaScript loops) where the
 * engine lacks WebAssembly SIMD or the backend's memory cannot be found. On the multi-threaded build
 * the module imports the backend's shared memory. `wasmSimd.enabled = false` forces the JavaScript loops (tests, benchmarks).
 */
export const wasmSimd = { enabled: true };

export interface WasmSimdKernels {
  /**
   * dx of max pooling, NHWC, channels a multiple of 4, dx zeroed by the caller. All pointers are byte
   * offsets in the heap; `scratch` holds 8·C bytes. See maxPoolGradBody.
   */
  maxPoolGrad(
    x: number,
    dy: number,
    dx: number,
    scratch: number,
    batch: number,
    inHeight: number,
    inWidth: number,
    channels: number,
    outHeight: number,
    outWidth: number,
    filterHeight: number,
    filterWidth: number,
    strideHeight: number,
    strideWidth: number,
    padTop: number,
    padLeft: number,
  ): void;
  /**
   * dW += the stride-1 filter gradient of a one-channel convolution, from x zero-padded to
   * [count, Hp, Wp] and dy transposed to [count, CO, OH, OW4] (OW4 a multiple of 4, zero tail,
   * Wp = OW4 + KW − 1, Hp = OH + KH − 1); dW [KH, KW, 1, CO]; `scratch` holds 128 bytes, 16-aligned.
   * See filterOneChannelBody.
   */
  filterOneChannel(
    x: number,
    dy: number,
    dW: number,
    scratch: number,
    count: number,
    outChannels: number,
    outHeight: number,
    paddedOutWidth: number,
    filterHeight: number,
    filterWidth: number,
    paddedWidth: number,
    paddedHeight: number,
  ): void;
  /**
   * dW += the stride-1 filter gradient of a convolution with few input channels, vectorized over the
   * output channels: x [count, H, W, CI] as it is, dy [count, OH, OW, CO4] and dW [KH, KW, CI, CO4]
   * with CO4 a multiple of 4; input channels taken `channelBlock` (1..FEW_CHANNELS_BLOCK) at a time.
   * See filterFewChannelsBody.
   */
  filterFewChannels(
    x: number,
    dy: number,
    dW: number,
    count: number,
    inHeight: number,
    inWidth: number,
    inChannels: number,
    outHeight: number,
    outWidth: number,
    paddedOutChannels: number,
    filterHeight: number,
    filterWidth: number,
    padTop: number,
    padLeft: number,
    channelBlock: number,
  ): void;
  /** [count, OH, OW, C] → [count, C, OH, OW4], OW4 ≥ OW (tail untouched). */
  transposeChannels(src: number, dst: number, count: number, outHeight: number, outWidth: number, channels: number, paddedOutWidth: number): void;
  /**
   * dx [count, inH, inW, C] += col2im of cols [count·outH·outW, KH·KW·C] (the rows of dy·Wᵀ), any
   * stride and padding. See col2imBody.
   */
  col2im(
    cols: number,
    dx: number,
    count: number,
    inHeight: number,
    inWidth: number,
    channels: number,
    outHeight: number,
    outWidth: number,
    filterHeight: number,
    filterWidth: number,
    strideHeight: number,
    strideWidth: number,
    padTop: number,
    padLeft: number,
  ): void;
  /**
   * Batch normalisation's passes (batch_norm.ts) over row-major operands seen as [rows, W], W a
   * multiple of 4 floats, `rowBytes` = 4·W; per-column operands (`mean`, `scale`, …) hold W floats and
   * `sums` W float64 (2·W for bnGradSums: Σdy, then Σdy·centered), added to. Column sums are taken in
   * float32 over blocks of `blockRows` rows (≤ BATCH_NORM_MAX_BLOCK_ROWS), each block's then added into
   * the float64 sums. Each pass exists in two loop orders (see batchNormPass): by columns (these) and
   * by rows (the `…Rows` functions, which take an `acc` area of W floats per column sum).
   * bnSums: sums += Σ_rows x.
   */
  bnSums(x: number, sums: number, rows: number, rowBytes: number, blockRows: number): void;
  bnSumsRows(x: number, sums: number, acc: number, rows: number, rowBytes: number, blockRows: number): void;
  /** centered = x − mean; sums += Σ_rows centered². */
  bnCenter(x: number, centered: number, mean: number, sums: number, rows: number, rowBytes: number, blockRows: number): void;
  bnCenterRows(x: number, centered: number, mean: number, sums: number, acc: number, rows: number, rowBytes: number, blockRows: number): void;
  /** y = centered · scale + shift. */
  bnAffine(centered: number, y: number, scale: number, shift: number, rows: number, rowBytes: number, blockRows: number): void;
  bnAffineRows(centered: number, y: number, scale: number, shift: number, rows: number, rowBytes: number, blockRows: number): void;
  /** sums[0, W) += Σ_rows dy; sums[W, 2W) += Σ_rows dy · centered. */
  bnGradSums(dy: number, centered: number, sums: number, rows: number, rowBytes: number, blockRows: number): void;
  bnGradSumsRows(dy: number, centered: number, sums: number, acc: number, rows: number, rowBytes: number, blockRows: number): void;
  /** dx = (dy · a + centered · b) + c. */
  bnGradInput(dy: number, centered: number, dx: number, a: number, b: number, c: number, rows: number, rowBytes: number, blockRows: number): void;
  bnGradInputRows(
    dy: number,
    centered: number,
    dx: number,
    a: number,
    b: number,
    c: number,
    rows: number,
    rowBytes: number,
    blockRows: number,
  ): void;
  /**
   * What one filter tap sees, transposed: for each of `count` examples and `rows` output rows, `pixels`
   * input pixels of C floats each (`srcPixel` bytes apart) become C runs of `pixels` floats
   * (`dstChannel` bytes apart); src and dst advance by their own row and example strides (bytes).
   * The rows of colsᵀ that Conv2DBackpropFilter multiplies with dy. See tapColumnsBody.
   */
  tapColumns(
    src: number,
    dst: number,
    count: number,
    rows: number,
    pixels: number,
    channels: number,
    srcPixel: number,
    srcRow: number,
    srcExample: number,
    dstChannel: number,
    dstRow: number,
    dstExample: number,
  ): void;
  /** dst[i] += src[i] for `count` floats (the same bits as a JavaScript loop on Float32Arrays). */
  accumulate(dst: number, src: number, count: number): void;
  /**
   * dx[i] = dy[i] · step(y[i]) for the first `count` floats rounded down to a multiple of 4 (the caller
   * does the rest): step is 1 where y > 0, NaN where y is NaN, else 0, so the same bits as tfjs's
   * Step then Multiply. See reluGradBody.
   */
  reluGrad(dy: number, y: number, dx: number, count: number): void;
  /** `count` blocks of `rows` rows of `rowBytes` bytes, each side with its own row and block strides (bytes). */
  copyRows(
    src: number,
    dst: number,
    count: number,
    rows: number,
    rowBytes: number,
    srcRowBytes: number,
    dstRowBytes: number,
    srcBlockBytes: number,
    dstBlockBytes: number,
  ): void;
}

/** The backend's memory (shared in its multi-threaded build), or undefined where it cannot be found. */
function backendMemory(backend: WasmBackend): WebAssembly.Memory | undefined {
  const module = backend.wasm as unknown as { asm?: { memory?: unknown }; wasmMemory?: unknown; HEAPU8?: Uint8Array };
  const memory = module.asm?.memory ?? module.wasmMemory;
  if (!(memory instanceof WebAssembly.Memory)) return undefined;
  if (!isShared(memory) && memory.buffer !== module.HEAPU8?.buffer) return undefined;
  return memory;
}

const isShared = (memory: WebAssembly.Memory) =>
  typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;

/** The assembled module for a plain memory and for a shared one (the threaded build's: 4 GiB at most); null where this engine cannot compile it. */
const compiled: { plain?: WebAssembly.Module | null; shared?: WebAssembly.Module | null } = {};
const instances = new WeakMap<WebAssembly.Memory, WasmSimdKernels>();

/** The assembled module, or null where this engine cannot compile it (no WebAssembly SIMD, or no shared memory). */
function compiledModule(shared = false): WebAssembly.Module | null {
  const kind = shared ? "shared" : "plain";
  if (compiled[kind] === undefined) {
    const bytes = assembleModule(shared);
    compiled[kind] = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled[kind];
}

/**
 * Whether the kernels can run, whatever `wasmSimd.enabled` says: this engine compiles the module and,
 * given an initialised backend, its memory can be found (given none, only the first is known).
 */
export function wasmSimdSupported(backend: WasmBackend | undefined): boolean {
  if (backend === undefined) return compiledModule() !== null;
  const memory = backendMemory(backend);
  return memory !== undefined && compiledModule(isShared(memory)) !== null;
}

/** The kernels bound to this backend's memory, or undefined (see wasmSimd). */
export function wasmSimdKernels(backend: WasmBackend): WasmSimdKernels | undefined {
  if (!wasmSimd.enabled) return undefined;
  const memory = backendMemory(backend);
  if (!memory) return undefined;
  const known = instances.get(memory);
  if (known) return known;
  const module = compiledModule(isShared(memory));
  if (module === null) return undefined;
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const kernels = instance.exports as unknown as WasmSimdKernels;
  instances.set(memory, kernels);
  return kernels;
}

// ---- A minimal WebAssembly assembler: each helper returns the bytes of one folded instruction ----

type Code = number[];

function uleb(value: number): number[] {
  const out: number[] = [];
  let n = value >>> 0;
  do {
    const byte = n & 0x7f;
    n >>>= 7;
    out.push(n === 0 ? byte : byte | 0x80);
  } while (n !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let n = value | 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

const I32 = 0x7f;
const V128 = 0x7b;
const SIMD = 0xfd;

const get = (local: number): Code => [0x20, ...uleb(local)];
const set = (local: number, value: Code): Code => [...value, 0x21, ...uleb(local)];
const tee = (local: number, value: Code): Code => [...value, 0x22, ...uleb(local)];
const i32 = (n: number): Code => [0x41, ...sleb(n)];
const binary =
  (opcode: number) =>
  (a: Code, b: Code): Code => [...a, ...b, opcode];
const add = binary(0x6a);
const sub = binary(0x6b);
const mul = binary(0x6c);
const shl = binary(0x74);
const and = binary(0x71);
const ltU = binary(0x49);
const gtU = binary(0x4b);
const leU = binary(0x4d);
const geS = binary(0x4e);
const addF32 = binary(0x92);
const eq = binary(0x46);
const gtS = binary(0x4a);
const ltS = binary(0x48);
/** `ifTrue` if `condition` is non-zero, else `ifFalse` (both evaluated; i32). */
const select = (ifTrue: Code, ifFalse: Code, condition: Code): Code => [...ifTrue, ...ifFalse, ...condition, 0x1b];
/** Copies `length` bytes (bulk memory). */
const memoryCopy = (to: Code, from: Code, length: Code): Code => [...to, ...from, ...length, 0xfc, ...uleb(10), 0, 0];
/** Memory access: natural alignment (log2 of the size), constant byte offset. */
const memarg = (align: number, offset: number) => [...uleb(align), ...uleb(offset)];
const loadI32 = (address: Code, offset = 0): Code => [...address, 0x28, ...memarg(2, offset)];
const loadF32 = (address: Code, offset = 0): Code => [...address, 0x2a, ...memarg(2, offset)];
const storeF32 = (address: Code, value: Code, offset = 0): Code => [...address, ...value, 0x38, ...memarg(2, offset)];
const loadV128 = (address: Code, offset = 0): Code => [...address, SIMD, 0x00, ...memarg(4, offset)];
/** One f32 loaded into all 4 lanes (v128.load32_splat). */
const loadSplatF32 = (address: Code, offset = 0): Code => [...address, SIMD, 0x09, ...memarg(2, offset)];
const storeV128 = (address: Code, value: Code, offset = 0): Code => [...address, ...value, SIMD, 0x0b, ...memarg(4, offset)];
const v128 = (bytes: ArrayBufferView): Code => [SIMD, 0x0c, ...new Uint8Array(bytes.buffer, bytes.byteOffset, 16)];
const splatI32x4 = (a: Code): Code => [...a, SIMD, 0x11];
const addF32x4 = (a: Code, b: Code): Code => [...a, ...b, SIMD, ...uleb(0xe4)];
const mulF32x4 = (a: Code, b: Code): Code => [...a, ...b, SIMD, ...uleb(0xe6)];
const subF32x4 = (a: Code, b: Code): Code => [...a, ...b, SIMD, ...uleb(0xe5)];
const addF64x2 = (a: Code, b: Code): Code => [...a, ...b, SIMD, ...uleb(0xf0)];
/** Lanes 0 and 1 of an f32x4 as an f64x2 (f64x2.promote_low_f32x4). */
const promoteLowF32x4 = (a: Code): Code => [...a, SIMD, ...uleb(0x5f)];
/** Bytes of `a` then `b` (i8x16.shuffle; `lanes` index 0–31 into their 32 bytes). */
const shuffle = (a: Code, b: Code, lanes: number[]): Code => [...a, ...b, SIMD, 0x0d, ...lanes];
/** Lanes 2 and 3 of an f32x4 moved to lanes 0 and 1 (and kept in 2 and 3). */
const highHalf = (a: Code): Code => shuffle(a, a, [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
const laneF32 = (a: Code, lane: number): Code => [...a, SIMD, 0x1f, lane];
const gtF32x4 = (a: Code, b: Code): Code => [...a, ...b, SIMD, 0x44];
const neF32x4 = (a: Code, b: Code): Code => [...a, ...b, SIMD, 0x42];
const andV128 = (a: Code, b: Code): Code => [...a, ...b, SIMD, 0x4e];
/** Lanes of `ifSet` where `mask` is set, of `ifClear` elsewhere. */
const bitselect = (ifSet: Code, ifClear: Code, mask: Code): Code => [...ifSet, ...ifClear, ...mask, SIMD, 0x52];
const ifThen = (condition: Code, ...body: Code[]): Code => [...condition, 0x04, 0x40, ...body.flat(), 0x0b];
/** `do { body } while (condition)`: the body runs at least once. */
const doWhile = (condition: Code, ...body: Code[]): Code => [0x03, 0x40, ...body.flat(), ...condition, 0x0d, 0, 0x0b];
/** `local += step; local <u end` (the usual loop condition). */
const stepBelow = (local: number, step: Code, end: Code): Code => ltU(tee(local, add(get(local), step)), end);

/** Names → local indices: the parameters (i32) first, then the i32 and v128 locals. */
function locals<P extends string, I extends string, V extends string>(params: P[], ints: I[], vectors: V[]) {
  const index = Object.fromEntries([...params, ...ints, ...vectors].map((name, i) => [name, i])) as Record<P | I | V, number>;
  return { index, params: params.length, declarations: [[ints.length, I32] as const, [vectors.length, V128] as const] };
}

/**
 * maxPoolGrad. For each output pixel (b, oh, ow): the scratch holds, per group of 4 channels, the
 * running maximum (16 bytes, from −∞) and the pixel offset where it was found (16 bytes, from −1);
 * for each tap of the window inside the input, row by row, `f32x4.gt` (strict >: ties keep the
 * first, NaN never wins) selects both; then each channel's dy is added to dx at its pixel, unless no
 * input won (−1: a window of NaN or −∞ only, whose gradient is dropped as on the cpu backend). The
 * same comparisons, order and float additions as the JavaScript loop, so the same bits.
 */
function maxPoolGradBody() {
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
function filterOneChannelBody() {
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
        set($.px, add(get($.x), shl(add(mul(add(mul(get($.n), get($.Hp)), get($.kh)), get($.Wp)), get($.kw0)), i32(2)))),
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
              add(get($.dW), shl(add(mul(add(add(mul(get($.kh), get($.KW)), get($.kw0)), get($.k)), get($.CO)), get($.co)), i32(2))),
            ),
            storeF32(
              get($.a),
              addF32(
                loadF32(get($.a)),
                addF32(addF32(laneF32(get($.v), 0), laneF32(get($.v), 1)), addF32(laneF32(get($.v), 2), laneF32(get($.v), 3))),
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
function filterFewChannelsBody() {
  const accumulators = Array.from({ length: 2 * FEW_CHANNELS_BLOCK }, (_, k) => `a${k}` as const);
  const L = locals(
    ["x", "dy", "dW", "count", "H", "W", "CI", "OH", "OW", "CO4", "KH", "KW", "top", "left", "block"],
    [
      "n", "kh", "kw", "c0", "c", "co0", "v", "ohLo", "ohHi", "owLo", "owHi", "oh", "p", "q", "pEnd", "w",
      "xImage", "dyImage", "pixBytes", "xPixBytes", "runBytes", "xRowBytes", "dyRowBytes",
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
      set($.p, add(add(get($.dyImage), mul(get($.ohLo), get($.dyRowBytes))), add(mul(get($.owLo), get($.pixBytes)), get($.co0)))),
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
      set($.w, add(add(get($.dW), mul(add(mul(add(mul(get($.kh), get($.KW)), get($.kw)), get($.CI)), get($.c0)), get($.pixBytes))), get($.co0))),
      ...Array.from({ length: channels }, (_, j) => [
        ...Array.from({ length: vectors }, (_, v) => storeV128(get($.w), addF32x4(loadV128(get($.w), 16 * v), get(acc(j, v))), 16 * v)),
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
function transposeChannelsBody() {
  const L = locals(["src", "dst", "count", "OH", "OW", "C", "OW4"], ["n", "oh", "ow", "c", "p", "q", "base", "plane"], []);
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
        set($.base, add(get($.dst), add(mul(mul(get($.n), get($.C)), get($.plane)), shl(mul(get($.oh), get($.OW4)), i32(2))))),
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
function tapColumnsBody() {
  const L = locals(
    ["src", "dst", "count", "rows", "pixels", "C", "srcPixel", "srcRow", "srcExample", "dstChannel", "dstRow", "dstExample"],
    ["n", "r", "c", "p", "c4", "p4", "s", "d", "a", "q"],
    ["va", "vb", "vc", "vd", "t0", "t1", "t2", "t3"],
  );
  const $ = L.index;
  /** f32 lanes [i, j, k, l] of the 8 lanes of two vectors, as the 16 bytes of an i8x16.shuffle. */
  const lanes = (...f32: number[]) => f32.flatMap((lane) => [0, 1, 2, 3].map((b) => 4 * lane + b));
  /** q + k·dstChannel: row k of the group. */
  const row = (k: number) => (k === 0 ? get($.q) : add(get($.q), k === 1 ? get($.dstChannel) : k === 2 ? shl(get($.dstChannel), i32(1)) : mul(get($.dstChannel), i32(3))));
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
function accumulateBody() {
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

/**
 * reluGrad: dx = dy · s, 4 floats at a time, with s = (y > 0 ? 1 : 0) where y is a number and s = y where
 * it is NaN (`f32x4.gt` is false for NaN, `f32x4.ne(y, y)` true only for NaN): the values of tfjs's Step
 * (alpha 0), so dy · s rounds, signs zeros and propagates NaN exactly as Step then Multiply do.
 */
function reluGradBody() {
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
          mulF32x4(loadV128(get($.dy)), bitselect(get($.v), andV128(gtF32x4(get($.v), zero), one), neF32x4(get($.v), get($.v)))),
        ),
        set($.dy, add(get($.dy), i32(16))),
        set($.y, add(get($.y), i32(16))),
        set($.dx, add(get($.dx), i32(16))),
      ),
    ),
  ];
  return { params: L.params, declarations: L.declarations, code: code.flat() };
}

/**
 * copyRows: `count` blocks of `rows` rows of `rowBytes` bytes each, from src to dst with their own
 * row and block strides in bytes (an image into the interior of a zero-padded one).
 */
function copyRowsBody() {
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

/**
 * col2im: dx[n, oh·sH + fh − top, ow·sW + fw − left, :] += cols[n, oh, ow, fh, fw, :] for the taps
 * inside the input, dx [count, inH, inW, C] NHWC, cols one row of KH·KW·C per output pixel. The taps
 * of one filter row that fall inside the input land on neighbouring pixels (whatever the stride), so
 * each adds one contiguous run of (taps)·C floats, 4 at a time, the last (taps·C mod 4) one by one. Per dx element the same additions in the same
 * order as the JavaScript loop (row by row, taps in order), so the same bits.
 */
function col2imBody() {
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
                set($.q, add(get($.image), mul(add(mul(get($.ih), get($.inW)), add(get($.iw0), get($.lo))), get($.cBytes)))),
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

/** Rows of a float32 column sum before it is added into the float64 sums (bounds its rounding error). */
export const BATCH_NORM_MAX_BLOCK_ROWS = 128;

/**
 * One batch-norm pass over operands seen as [rows, W] (row-major, `rowBytes` = 4·W a multiple of 16),
 * described once and generated in two loop orders (batchNormPass). `vector(k, op)` is the work on the
 * k-th vector of a group of columns in one row: `op.load`/`op.store` a row-major operand, `op.column` a
 * per-column operand (W floats), `op.accumulate(i, v)` adds v into column sum i (float32 over a block
 * of rows, then into the float64 sums), `op.temp` a v128 local for intermediate values.
 */
interface BatchNormPass {
  name: string;
  /** Row-major operands, read or written ([rows, W]). */
  streams: string[];
  /** Per-column operands (W floats). */
  columns: string[];
  /** Column sums taken (each W float64 in `sums`, one after the other); 0: no `sums` parameter. */
  accumulators: number;
  vector(k: number, op: PassOps): Code[];
}

interface PassOps {
  load(stream: string): Code;
  store(stream: string, value: Code): Code;
  column(name: string): Code;
  accumulate(i: number, value: Code): Code;
  temp: number;
}

/** Local names of the loops below; the parameters rows, rowBytes and blockRows come last. */
const PASS_INTS = ["r0", "n", "g", "off", "bytes", "end", "s"] as const;
const LAST_PARAMS = ["rows", "rowBytes", "blockRows"] as const;

/**
 * `column` order (the name as given): for each block of at most `blockRows` rows, the columns in
 * groups of 4 vectors (16 columns) while they fit, then one vector at a time; for each group, its
 * per-column operands are loaded and its float32 accumulators zeroed in v128 locals, the block's rows
 * are walked with a stride of rowBytes, and the accumulators are added into the float64 sums (the
 * caller sizes a block to stay in cache). `row` order (name + "Rows"): for each block, the rows one
 * after the other (a sequential stream), each row's columns in the same groups, per-column operands
 * read from memory and accumulators in an `acc` area (accumulators·W floats, a parameter after
 * `sums`), zeroed before the block and added into the float64 sums after it. Column order keeps
 * everything in registers but walks memory with a stride; row order streams: the better one depends
 * on W (batch_norm.ts picks).
 */
function batchNormPass(pass: BatchNormPass, order: "column" | "row") {
  const rowOrder = order === "row";
  const sums = pass.accumulators > 0 ? ["sums"] : [];
  const acc = rowOrder && pass.accumulators > 0 ? ["acc"] : [];
  const params = [...pass.streams, ...pass.columns, ...sums, ...acc, ...LAST_PARAMS];
  const pointers = pass.streams.map((name) => `p_${name}`);
  const vectorLocals = rowOrder
    ? ["temp"]
    : [
        "temp",
        ...pass.columns.flatMap((name) => [0, 1, 2, 3].map((k) => `c_${name}${k}`)),
        ...Array.from({ length: pass.accumulators }, (_, i) => [0, 1, 2, 3].map((k) => `a${i}_${k}`)).flat(),
      ];
  // Row order: per group, the addresses of its per-column operands and accumulators.
  const groupAddresses = rowOrder
    ? [...pass.columns.map((name) => `q_${name}`), ...Array.from({ length: pass.accumulators }, (_, i) => `q_acc${i}`)]
    : [];
  const L = locals(params, [...PASS_INTS, ...pointers, ...groupAddresses], vectorLocals);
  const $ = L.index as Record<string, number>;
  const zero = v128(new Float32Array(4));
  const pointer = (stream: string) => $[`p_${stream}`]!;

  /** The float64 sums of accumulator i, columns from byte offset g of a row: sums + i·2·rowBytes + 2·g. */
  const setSums = (i: number) =>
    set($.s!, add(add(get($.sums!), mul(i32(2 * i), get($.rowBytes!))), shl(get($.g!), i32(1))));
  /** float64 sums at s (+ 32·k) += the 4 lanes of `value`. */
  const flush = (value: () => Code, k: number): Code[] => [
    storeV128(get($.s!), addF64x2(loadV128(get($.s!), 32 * k), promoteLowF32x4(value())), 32 * k),
    storeV128(get($.s!), addF64x2(loadV128(get($.s!), 32 * k + 16), promoteLowF32x4(highHalf(value()))), 32 * k + 16),
  ];
  const upTo = (vectors: number) => [0, 1, 2, 3].slice(0, vectors);
  /** Groups of 4 vectors from column byte g = 0 while they fit, then single vectors. */
  const groups = (group: (vectors: number) => Code[]): Code[] => [
    set($.g!, i32(0)),
    ifThen(leU(i32(64), get($.rowBytes!)), doWhile(leU(add(tee($.g!, add(get($.g!), i32(64))), i32(64)), get($.rowBytes!)), ...group(4))),
    ifThen(ltU(get($.g!), get($.rowBytes!)), doWhile(stepBelow($.g!, i32(16), get($.rowBytes!)), ...group(1))),
  ];
  const blockLoop = (body: Code[]): Code[] => [
    set($.r0!, i32(0)),
    doWhile(
      stepBelow($.r0!, get($.blockRows!), get($.rows!)),
      set($.n!, sub(get($.rows!), get($.r0!))),
      set($.n!, select(get($.blockRows!), get($.n!), gtU(get($.n!), get($.blockRows!)))),
      set($.off!, mul(get($.r0!), get($.rowBytes!))),
      set($.bytes!, mul(get($.n!), get($.rowBytes!))),
      ...body,
    ),
  ];
  const first = pointer(pass.streams[0]!);

  let code: Code[];
  if (!rowOrder) {
    const columnLocal = (name: string, k: number) => $[`c_${name}${k}`]!;
    const accLocal = (i: number, k: number) => $[`a${i}_${k}`]!;
    const group = (vectors: number): Code[] => [
      ...upTo(vectors).flatMap((k) => [
        ...pass.columns.map((name) => set(columnLocal(name, k), loadV128(add(get($[name]!), get($.g!)), 16 * k))),
        ...Array.from({ length: pass.accumulators }, (_, i) => set(accLocal(i, k), zero)),
      ]),
      ...pass.streams.map((name) => set(pointer(name), add(add(get($[name]!), get($.off!)), get($.g!)))),
      set($.end!, add(get(first), get($.bytes!))),
      doWhile(
        ltU(get(first), get($.end!)),
        ...upTo(vectors).flatMap((k) =>
          pass.vector(k, {
            load: (stream) => loadV128(get(pointer(stream)), 16 * k),
            store: (stream, value) => storeV128(get(pointer(stream)), value, 16 * k),
            column: (name) => get(columnLocal(name, k)),
            accumulate: (i, value) => set(accLocal(i, k), addF32x4(get(accLocal(i, k)), value)),
            temp: $.temp!,
          }),
        ),
        ...pass.streams.map((name) => set(pointer(name), add(get(pointer(name)), get($.rowBytes!)))),
      ),
      ...Array.from({ length: pass.accumulators }, (_, i) => [
        setSums(i),
        ...upTo(vectors).flatMap((k) => flush(() => get(accLocal(i, k)), k)),
      ]).flat(),
    ];
    code = blockLoop(groups(group));
  } else {
    /** Accumulator i of columns from byte g: acc + i·rowBytes + g. */
    const accAddress = (i: number) => add(add(get($.acc!), mul(i32(i), get($.rowBytes!))), get($.g!));
    const group = (vectors: number): Code[] => [
      ...pass.columns.map((name) => set($[`q_${name}`]!, add(get($[name]!), get($.g!)))),
      ...Array.from({ length: pass.accumulators }, (_, i) => set($[`q_acc${i}`]!, accAddress(i))),
      ...upTo(vectors).flatMap((k) =>
        pass.vector(k, {
          load: (stream) => loadV128(get(pointer(stream)), 16 * k),
          store: (stream, value) => storeV128(get(pointer(stream)), value, 16 * k),
          column: (name) => loadV128(get($[`q_${name}`]!), 16 * k),
          accumulate: (i, value) => {
            const address = $[`q_acc${i}`]!;
            return storeV128(get(address), addF32x4(loadV128(get(address), 16 * k), value), 16 * k);
          },
          temp: $.temp!,
        }),
      ),
      ...pass.streams.map((name) => set(pointer(name), add(get(pointer(name)), i32(16 * vectors)))),
    ];
    const perAccumulator = (body: (i: number) => Code[]): Code[] => Array.from({ length: pass.accumulators }, (_, i) => body(i)).flat();
    code = [
      ...pass.streams.map((name) => set(pointer(name), get($[name]!))),
      ...blockLoop([
        // Accumulators to 0.
        ...(pass.accumulators > 0
          ? groups((vectors) => perAccumulator((i) => upTo(vectors).map((k) => storeV128(accAddress(i), zero, 16 * k))))
          : []),
        set($.end!, add(get(first), get($.bytes!))),
        doWhile(ltU(get(first), get($.end!)), ...groups(group)),
        // Into the float64 sums.
        ...(pass.accumulators > 0
          ? groups((vectors) =>
              perAccumulator((i) => [
                setSums(i),
                ...upTo(vectors).flatMap((k) => [set($.temp!, loadV128(accAddress(i), 16 * k)), ...flush(() => get($.temp!), k)]),
              ]),
            )
          : []),
      ]),
    ];
  }
  return { name: rowOrder ? `${pass.name}Rows` : pass.name, params: L.params, declarations: L.declarations, code: code.flat() };
}

/**
 * The five batch-norm passes (see WasmSimdKernels.bnSums…), each in both loop orders. Per element the
 * same float32 operations, in the same order, as the tfjs ops they replace (x − mean;
 * centered · scale + shift; (dy · a + centered · b) + c), without fused multiply-adds; column sums in
 * float32 over at most a block of rows, then in float64 (f64x2.promote_low_f32x4, f64x2.add).
 */
const BATCH_NORM_PASSES: BatchNormPass[] = [
  {
    name: "bnSums",
    streams: ["x"],
    columns: [],
    accumulators: 1,
    vector: (_, op) => [op.accumulate(0, op.load("x"))],
  },
  {
    name: "bnCenter",
    streams: ["x", "centered"],
    columns: ["mean"],
    accumulators: 1,
    vector: (_, op) => [
      set(op.temp, subF32x4(op.load("x"), op.column("mean"))),
      op.store("centered", get(op.temp)),
      op.accumulate(0, mulF32x4(get(op.temp), get(op.temp))),
    ],
  },
  {
    name: "bnAffine",
    streams: ["centered", "y"],
    columns: ["scale", "shift"],
    accumulators: 0,
    vector: (_, op) => [op.store("y", addF32x4(mulF32x4(op.load("centered"), op.column("scale")), op.column("shift")))],
  },
  {
    name: "bnGradSums",
    streams: ["dy", "centered"],
    columns: [],
    accumulators: 2,
    vector: (_, op) => [
      set(op.temp, op.load("dy")),
      op.accumulate(0, get(op.temp)),
      op.accumulate(1, mulF32x4(get(op.temp), op.load("centered"))),
    ],
  },
  {
    name: "bnGradInput",
    streams: ["dy", "centered", "dx"],
    columns: ["a", "b", "c"],
    accumulators: 0,
    vector: (_, op) => [
      op.store(
        "dx",
        addF32x4(addF32x4(mulF32x4(op.load("dy"), op.column("a")), mulF32x4(op.load("centered"), op.column("b"))), op.column("c")),
      ),
    ],
  },
];

function batchNormPasses() {
  return BATCH_NORM_PASSES.flatMap((pass) => [batchNormPass(pass, "column"), batchNormPass(pass, "row")]);
}

/**
 * The module: memory imported from env.memory (shared, at most 65,536 pages = 4 GiB, as the threaded
 * build declares its own, when `shared`), the functions exported by name.
 */
function assembleModule(shared = false): Uint8Array<ArrayBuffer> {
  const functions = [
    { name: "maxPoolGrad", ...maxPoolGradBody() },
    { name: "filterOneChannel", ...filterOneChannelBody() },
    { name: "filterFewChannels", ...filterFewChannelsBody() },
    { name: "transposeChannels", ...transposeChannelsBody() },
    { name: "copyRows", ...copyRowsBody() },
    { name: "tapColumns", ...tapColumnsBody() },
    { name: "accumulate", ...accumulateBody() },
    { name: "reluGrad", ...reluGradBody() },
    { name: "col2im", ...col2imBody() },
    ...batchNormPasses(),
  ];
  const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
  const name = (text: string) => vec([...new TextEncoder().encode(text)].map((c) => [c]));
  const section = (id: number, content: number[]) => [id, ...uleb(content.length), ...content];
  const types = functions.map((f) => [0x60, ...vec(Array.from({ length: f.params }, () => [I32])), ...vec([])]);
  const bodies = functions.map((f) => {
    const declared = f.declarations.filter(([count]) => count > 0).map(([count, type]) => [...uleb(count), type]);
    const body = [...vec(declared), ...f.code, 0x0b];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(2, vec([[...name("env"), ...name("memory"), 0x02, ...(shared ? [0x03, 0x01, ...uleb(65536)] : [0x00, 0x01])]])),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(bodies)),
  ]);
}

/** For tests: the assembled module's bytes. */
export const assembledModuleForTests = (): Uint8Array<ArrayBuffer> => assembleModule();
