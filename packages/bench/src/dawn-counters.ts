/**
 * Host-side counts of what tfjs's webgpu backend asks of Dawn: compute dispatches, queue submits, buffers
 * created (and their bytes; of them the staging buffers of uploads from the CPU), bind groups, pipelines, bytes
 * written by `queue.writeBuffer` (uniforms) and bytes mapped for reading (read back to the CPU). Counted by
 * wrapping the WebGPU classes' methods, which Dawn's Node binding defines as ordinary prototype functions;
 * counting only while `counting` is on.
 */
export interface DawnCounts {
  dispatches: number;
  submits: number;
  buffersCreated: number;
  bytesCreated: number;
  /** Of the buffers created, staging buffers for uploads from the CPU (usage MAP_WRITE), and their bytes. */
  uploads: number;
  bytesUploaded: number;
  bindGroups: number;
  pipelines: number;
  bytesWritten: number;
  readBacks: number;
  bytesReadBack: number;
}

export const zeroCounts = (): DawnCounts => ({
  dispatches: 0,
  submits: 0,
  buffersCreated: 0,
  bytesCreated: 0,
  uploads: 0,
  bytesUploaded: 0,
  bindGroups: 0,
  pipelines: 0,
  bytesWritten: 0,
  readBacks: 0,
  bytesReadBack: 0,
});

const counts = zeroCounts();
let counting = false;
let installed = false;

type Proto = Record<string, (...args: never[]) => unknown>;

function wrap(className: string, method: string, count: (self: never, args: never[]) => void): void {
  const cls = (globalThis as Record<string, unknown>)[className] as { prototype: Proto } | undefined;
  const original = cls?.prototype[method];
  if (!cls || typeof original !== "function")
    throw new Error(`dawn-counters: ${className}.${method} not found; is the webgpu engine set up?`);
  cls.prototype[method] = function (this: never, ...args: never[]) {
    if (counting) count(this, args);
    return original.apply(this, args);
  };
}

/** Wraps the WebGPU methods once; call after the webgpu engine is set up (its globals are then defined). */
export function installDawnCounters(): void {
  if (installed) return;
  installed = true;
  const MAP_READ = (globalThis as { GPUMapMode?: { READ: number } }).GPUMapMode?.READ ?? 1;
  const MAP_WRITE = (globalThis as { GPUBufferUsage?: { MAP_WRITE: number } }).GPUBufferUsage?.MAP_WRITE ?? 2;
  wrap("GPUComputePassEncoder", "dispatchWorkgroups", () => counts.dispatches++);
  wrap("GPUQueue", "submit", () => counts.submits++);
  wrap("GPUQueue", "writeBuffer", (_self, args) => {
    const [, , data, , size] = args as unknown as [unknown, number, ArrayBufferView | ArrayBuffer, number?, number?];
    const elementBytes = ArrayBuffer.isView(data)
      ? ((data as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1)
      : 1;
    counts.bytesWritten += size !== undefined ? size * elementBytes : data.byteLength;
  });
  wrap("GPUDevice", "createBuffer", (_self, args) => {
    const { size, usage } = args[0] as unknown as { size: number; usage: number };
    counts.buffersCreated++;
    counts.bytesCreated += size;
    if (usage & MAP_WRITE) {
      counts.uploads++;
      counts.bytesUploaded += size;
    }
  });
  wrap("GPUDevice", "createBindGroup", () => counts.bindGroups++);
  wrap("GPUDevice", "createComputePipeline", () => counts.pipelines++);
  wrap("GPUDevice", "createComputePipelineAsync", () => counts.pipelines++);
  wrap("GPUBuffer", "mapAsync", (self, args) => {
    if (((args[0] as unknown as number) & MAP_READ) !== 0) {
      counts.readBacks++;
      counts.bytesReadBack += (self as unknown as { size: number }).size;
    }
  });
}

/** Counts what `fn` asks of Dawn (awaited). */
export async function countDawnCalls(fn: () => Promise<void>): Promise<DawnCounts> {
  const before = { ...counts };
  counting = true;
  try {
    await fn();
  } finally {
    counting = false;
  }
  const after = { ...counts };
  for (const key of Object.keys(after) as (keyof DawnCounts)[]) after[key] -= before[key];
  return after;
}
