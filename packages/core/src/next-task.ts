/**
 * Resolves in a new task of the event loop, so that what waits there runs between two batches: a signal
 * handler (Ctrl-C) in Node, clicks and painting in a page. `setImmediate` where it exists (Node); elsewhere
 * a MessageChannel message, which unlike `setTimeout(0)` is not clamped to 4 ms (235 batches an epoch).
 */
export function nextTask(): Promise<void> {
  if (typeof setImmediate === "function") return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(undefined);
  });
}
