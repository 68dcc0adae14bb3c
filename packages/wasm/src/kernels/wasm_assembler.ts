/**
 * A minimal WebAssembly assembler for the SIMD kernels (wasm_simd.ts): each helper returns the bytes of one folded
 * instruction; `locals` names a function's parameters and locals; `assembleModule` puts functions into a module.
 * The kernel bodies live beside their kernels (`*_simd.ts`) and import only this file.
 */

export type Code = number[];

export function uleb(value: number): number[] {
  const out: number[] = [];
  let n = value >>> 0;
  do {
    const byte = n & 0x7f;
    n >>>= 7;
    out.push(n === 0 ? byte : byte | 0x80);
  } while (n !== 0);
  return out;
}

export function sleb(value: number): number[] {
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

export const I32 = 0x7f;
export const V128 = 0x7b;
export const SIMD = 0xfd;

export const get = (local: number): Code => [0x20, ...uleb(local)];
export const set = (local: number, value: Code): Code => [...value, 0x21, ...uleb(local)];
export const tee = (local: number, value: Code): Code => [...value, 0x22, ...uleb(local)];
export const i32 = (n: number): Code => [0x41, ...sleb(n)];
export const binary =
  (opcode: number) =>
  (a: Code, b: Code): Code => [...a, ...b, opcode];
export const add = binary(0x6a);
export const sub = binary(0x6b);
export const mul = binary(0x6c);
export const shl = binary(0x74);
export const and = binary(0x71);
export const ltU = binary(0x49);
export const gtU = binary(0x4b);
export const leU = binary(0x4d);
export const geS = binary(0x4e);
export const addF32 = binary(0x92);
export const eq = binary(0x46);
export const gtS = binary(0x4a);
export const ltS = binary(0x48);
/** `ifTrue` if `condition` is non-zero, else `ifFalse` (both evaluated; i32). */
export const select = (ifTrue: Code, ifFalse: Code, condition: Code): Code => [
  ...ifTrue,
  ...ifFalse,
  ...condition,
  0x1b,
];
/** Copies `length` bytes (bulk memory). */
export const memoryCopy = (to: Code, from: Code, length: Code): Code => [
  ...to,
  ...from,
  ...length,
  0xfc,
  ...uleb(10),
  0,
  0,
];
/** Memory access: natural alignment (log2 of the size), constant byte offset. */
export const memarg = (align: number, offset: number) => [...uleb(align), ...uleb(offset)];
export const loadI32 = (address: Code, offset = 0): Code => [...address, 0x28, ...memarg(2, offset)];
export const loadF32 = (address: Code, offset = 0): Code => [...address, 0x2a, ...memarg(2, offset)];
export const storeF32 = (address: Code, value: Code, offset = 0): Code => [
  ...address,
  ...value,
  0x38,
  ...memarg(2, offset),
];
export const loadV128 = (address: Code, offset = 0): Code => [...address, SIMD, 0x00, ...memarg(4, offset)];
/** One f32 loaded into all 4 lanes (v128.load32_splat). */
export const loadSplatF32 = (address: Code, offset = 0): Code => [...address, SIMD, 0x09, ...memarg(2, offset)];
export const storeV128 = (address: Code, value: Code, offset = 0): Code => [
  ...address,
  ...value,
  SIMD,
  0x0b,
  ...memarg(4, offset),
];
export const v128 = (bytes: ArrayBufferView): Code => [
  SIMD,
  0x0c,
  ...new Uint8Array(bytes.buffer, bytes.byteOffset, 16),
];
export const splatI32x4 = (a: Code): Code => [...a, SIMD, 0x11];
export const addF32x4 = (a: Code, b: Code): Code => [...a, ...b, SIMD, ...uleb(0xe4)];
export const mulF32x4 = (a: Code, b: Code): Code => [...a, ...b, SIMD, ...uleb(0xe6)];
export const subF32x4 = (a: Code, b: Code): Code => [...a, ...b, SIMD, ...uleb(0xe5)];
export const addF64x2 = (a: Code, b: Code): Code => [...a, ...b, SIMD, ...uleb(0xf0)];
/** Lanes 0 and 1 of an f32x4 as an f64x2 (f64x2.promote_low_f32x4). */
export const promoteLowF32x4 = (a: Code): Code => [...a, SIMD, ...uleb(0x5f)];
/** Bytes of `a` then `b` (i8x16.shuffle; `lanes` index 0–31 into their 32 bytes). */
export const shuffle = (a: Code, b: Code, lanes: number[]): Code => [...a, ...b, SIMD, 0x0d, ...lanes];
/** Lanes 2 and 3 of an f32x4 moved to lanes 0 and 1 (and kept in 2 and 3). */
export const highHalf = (a: Code): Code => shuffle(a, a, [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
export const laneF32 = (a: Code, lane: number): Code => [...a, SIMD, 0x1f, lane];
export const gtF32x4 = (a: Code, b: Code): Code => [...a, ...b, SIMD, 0x44];
export const neF32x4 = (a: Code, b: Code): Code => [...a, ...b, SIMD, 0x42];
export const andV128 = (a: Code, b: Code): Code => [...a, ...b, SIMD, 0x4e];
/** Lanes of `ifSet` where `mask` is set, of `ifClear` elsewhere. */
export const bitselect = (ifSet: Code, ifClear: Code, mask: Code): Code => [...ifSet, ...ifClear, ...mask, SIMD, 0x52];
export const ifThen = (condition: Code, ...body: Code[]): Code => [...condition, 0x04, 0x40, ...body.flat(), 0x0b];
/** `do { body } while (condition)`: the body runs at least once. */
export const doWhile = (condition: Code, ...body: Code[]): Code => [
  0x03,
  0x40,
  ...body.flat(),
  ...condition,
  0x0d,
  0,
  0x0b,
];
/** `local += step; local <u end` (the usual loop condition). */
export const stepBelow = (local: number, step: Code, end: Code): Code => ltU(tee(local, add(get(local), step)), end);

/** Names → local indices: the parameters (i32) first, then the i32 and v128 locals. */
export function locals<P extends string, I extends string, V extends string>(params: P[], ints: I[], vectors: V[]) {
  const index = Object.fromEntries([...params, ...ints, ...vectors].map((name, i) => [name, i])) as Record<
    P | I | V,
    number
  >;
  return { index, params: params.length, declarations: [[ints.length, I32] as const, [vectors.length, V128] as const] };
}

/** A function of the module: its name, parameter count (all i32), local declarations and code. */
export interface AssembledFunction {
  name: string;
  params: number;
  declarations: readonly (readonly [number, number])[];
  code: Code;
}

/**
 * The module: memory imported from env.memory (shared, at most 65,536 pages = 4 GiB, as the threaded
 * build declares its own, when `shared`), the functions exported by name.
 */
export function assembleModule(functions: AssembledFunction[], shared = false): Uint8Array<ArrayBuffer> {
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
    ...section(
      2,
      vec([[...name("env"), ...name("memory"), 0x02, ...(shared ? [0x03, 0x01, ...uleb(65536)] : [0x00, 0x01])]]),
    ),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(bodies)),
  ]);
}
