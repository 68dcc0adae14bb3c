import * as tf from "@tensorflow/tfjs-core";

/** A recorded kernel call, as tfjs-core's tape holds it (tape.ts; not part of tfjs's typings). */
interface TapeNode {
  kernelName: string;
  inputs: tf.NamedTensorMap;
  outputs: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

/** The parts of tfjs-core's Engine (engine.ts, 4.22) that `engine.gradients` uses and this module reuses. */
interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T>(name: string, f: () => T): T;
  tidy<T>(f: () => T): T;
}

/**
 * Tensors that a gradient function made for several of its node's input gradients, freed by lossGradients
 * once that node's input gradients have all been computed; null when no lossGradients is walking a tape.
 */
let nodeTensors: tf.Tensor[] | null = null;

/**
 * For a gradient function whose input gradients all start from the same tensor (a fused convolution's
 * masked dy): `make()` once, freed as soon as every input gradient of the node has been computed, when
 * lossGradients is running the backward pass; undefined otherwise (tfjs's own `engine.gradients` keeps
 * whatever a gradient function makes until its whole backward pass ends, so there each input gradient
 * should make its own inside its tidy).
 */
export function shareAcrossInputGradients<T extends tf.Tensor>(make: () => T): T | undefined {
  if (!nodeTensors) return undefined;
  const t = make();
  nodeTensors.push(t);
  return t;
}

/** The loss and the gradient of each variable (null where the loss does not depend on it). */
export interface LossGradients {
  value: tf.Scalar;
  grads: (tf.Tensor | null)[];
}

/**
 * The gradients of the scalar `f()` with respect to `variables`, as `tf.variableGrads` computes them,
 * but freeing memory as the backward pass goes.
 *
 * tfjs-core's `engine.gradients` keeps every tensor the forward pass saved for its gradient and every
 * intermediate gradient until the whole backward pass ends, so a training step's peak is about all the
 * activations plus all their gradients (ResNet-18 at 96×96, batch 128: a 2.6 GB wasm heap). Walking the
 * tape backwards, a kernel's saved tensors are no longer needed once its gradient has run, and the
 * gradient of a tensor is complete, and no longer needed, once the kernel that produced it has run
 * (every consumer ran after it, so came before it in the walk). Freeing both there leaves the peak at
 * about the activations alone. Same kernels, same order, same sums: the results are bit-identical.
 *
 * Runs inside another gradient computation (higher-order gradients) fall back to tfjs's own, which
 * must keep the tape, as do engines without the internals this reads (a tfjs-core other than 4.x).
 */
export function lossGradients(f: () => tf.Scalar, variables: readonly tf.Variable[]): LossGradients {
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.state.gradientDepth > 0 || !hasTapeInternals(engine)) {
    const { value, grads } = tf.engine().gradients(f, [...variables], undefined, true);
    return { value: value as tf.Scalar, grads };
  }
  const y = engine.scopedRun(
    () => engine.startTape(),
    () => engine.endTape(),
    () => engine.tidy("forward", f),
  );
  if (!(y instanceof tf.Tensor) || y.rank !== 0) {
    throw new Error(
      `lossGradients: f must return a scalar tensor, got ${y instanceof tf.Tensor ? `rank ${y.rank}` : typeof y}`,
    );
  }
  const tape = engine.state.activeTape ?? [];
  const path = nodesFromTo(tape, variables, y);
  const outerNodeTensors = nodeTensors;
  const shared: tf.Tensor[] = [];
  nodeTensors = shared;
  let result: (tf.Tensor | null)[];
  try {
    result = engine.tidy("backward", () => {
      const grads = new GradientMap(variables);
      grads.add(y, tf.onesLike(y));
      for (let i = path.length - 1; i >= 0; i--) {
        const node = path[i]!;
        if (node.gradient == null)
          throw new Error(`Cannot compute gradient: no gradient registered for ${node.kernelName}.`);
        const dys = node.outputs.map((o) => grads.get(o));
        const thunks = node.gradient(dys);
        const merged: tf.Tensor[] = [];
        for (const name in node.inputs) {
          const thunk = thunks[name];
          if (!thunk) throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}.`);
          const x = node.inputs[name]!;
          const dx = engine.tidy(thunk);
          if (!tf.util.arraysEqual(dx.shape, x.shape) || dx.dtype !== "float32") {
            throw new Error(
              `The gradient of ${node.kernelName}'s input ${name} is ${dx.dtype} [${dx.shape}]; expected float32 [${x.shape}].`,
            );
          }
          const previous = grads.add(x, dx);
          if (previous) merged.push(previous, dx);
        }
        // Everything this node needed is spent: its saved tensors, what its gradient function shared, its
        // outputs' gradients, the addends.
        for (const t of node.saved ?? []) t.dispose();
        for (const t of shared.splice(0)) t.dispose();
        grads.release([...node.outputs.map((o) => grads.take(o)), ...merged]);
      }
      return variables.map((v) => grads.get(v));
    });
  } finally {
    nodeTensors = outerNodeTensors;
  }
  for (const node of tape) for (const t of node.saved ?? []) t.dispose();
  engine.state.activeTape = null;
  return { value: y as tf.Scalar, grads: result };
}

/** Whether the engine has the tape internals of tfjs-core 4.x's `engine.gradients` that this module reuses. */
function hasTapeInternals(engine: EngineInternals): boolean {
  return (
    typeof engine.startTape === "function" &&
    typeof engine.endTape === "function" &&
    typeof engine.scopedRun === "function" &&
    typeof engine.state?.gradientDepth === "number"
  );
}

/**
 * Tensor id → accumulated gradient. A gradient function may hand back the very tensor it got (or one
 * object may be the gradient of two tensors), so a tensor object is disposed only once no entry holds it.
 */
class GradientMap {
  private readonly byId = new Map<number, tf.Tensor>();
  private readonly holders = new Map<tf.Tensor, number>();
  private readonly kept: Set<number>;

  constructor(variables: readonly tf.Variable[]) {
    this.kept = new Set(variables.map((v) => v.id));
  }

  get(x: tf.Tensor): tf.Tensor | null {
    return this.byId.get(x.id) ?? null;
  }

  /** Adds `dx` to x's gradient; returns the previous gradient if there was one (the caller frees it and dx). */
  add(x: tf.Tensor, dx: tf.Tensor): tf.Tensor | undefined {
    const previous = this.byId.get(x.id);
    if (previous) this.holders.set(previous, this.holders.get(previous)! - 1);
    this.put(x, previous ? tf.add(previous, dx) : dx);
    return previous;
  }

  /** Removes x's gradient from the map (variables' gradients stay: they are the result). */
  take(x: tf.Tensor): tf.Tensor | undefined {
    const g = this.byId.get(x.id);
    if (!g || this.kept.has(x.id)) return undefined;
    this.byId.delete(x.id);
    this.holders.set(g, this.holders.get(g)! - 1);
    return g;
  }

  /** Disposes the tensors no entry holds any more. */
  release(tensors: (tf.Tensor | undefined)[]): void {
    for (const t of tensors) {
      if (t && !this.holders.get(t)) {
        this.holders.delete(t);
        t.dispose();
      }
    }
  }

  private put(x: tf.Tensor, g: tf.Tensor): void {
    this.byId.set(x.id, g);
    this.holders.set(g, (this.holders.get(g) ?? 0) + 1);
  }
}

/** The tape's nodes on a path from a variable to y, each with only the inputs that depend on a variable. */
function nodesFromTo(tape: TapeNode[], variables: readonly tf.Variable[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set(variables.map((v) => v.id));
  const onPathFromX = tape.map((node) => {
    const hit = Object.values(node.inputs).some((t) => fromX.has(t.id));
    if (hit) for (const o of node.outputs) fromX.add(o.id);
    return hit;
  });
  const toY = new Set([y.id]);
  const onPathToY = new Array<boolean>(tape.length).fill(false);
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (!node.outputs.some((o) => toY.has(o.id))) continue;
    onPathToY[i] = true;
    for (const t of Object.values(node.inputs)) toY.add(t.id);
  }
  const path: TapeNode[] = [];
  tape.forEach((node, i) => {
    if (!onPathFromX[i] || !onPathToY[i]) return;
    const inputs: tf.NamedTensorMap = {};
    for (const [name, t] of Object.entries(node.inputs)) if (fromX.has(t.id)) inputs[name] = t;
    path.push({ ...node, inputs });
  });
  return path;
}
