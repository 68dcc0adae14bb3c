// The WebAssembly SIMD body of BatchNormTrainingForward and BatchNormTrainingBackward (batch_norm.ts): the passes, assembled into wasm_simd.ts's module.
import {
  add,
  addF32x4,
  addF64x2,
  type Code,
  doWhile,
  get,
  gtU,
  highHalf,
  i32,
  ifThen,
  leU,
  loadV128,
  locals,
  ltU,
  mul,
  mulF32x4,
  promoteLowF32x4,
  select,
  set,
  shl,
  stepBelow,
  storeV128,
  sub,
  subF32x4,
  tee,
  v128,
} from "./wasm_assembler.js";

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
    ifThen(
      leU(i32(64), get($.rowBytes!)),
      doWhile(leU(add(tee($.g!, add(get($.g!), i32(64))), i32(64)), get($.rowBytes!)), ...group(4)),
    ),
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
    const perAccumulator = (body: (i: number) => Code[]): Code[] =>
      Array.from({ length: pass.accumulators }, (_, i) => body(i)).flat();
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
                ...upTo(vectors).flatMap((k) => [
                  set($.temp!, loadV128(accAddress(i), 16 * k)),
                  ...flush(() => get($.temp!), k),
                ]),
              ]),
            )
          : []),
      ]),
    ];
  }
  return {
    name: rowOrder ? `${pass.name}Rows` : pass.name,
    params: L.params,
    declarations: L.declarations,
    code: code.flat(),
  };
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
        addF32x4(
          addF32x4(mulF32x4(op.load("dy"), op.column("a")), mulF32x4(op.load("centered"), op.column("b"))),
          op.column("c"),
        ),
      ),
    ],
  },
];

export function batchNormPasses() {
  return BATCH_NORM_PASSES.flatMap((pass) => [batchNormPass(pass, "column"), batchNormPass(pass, "row")]);
}
