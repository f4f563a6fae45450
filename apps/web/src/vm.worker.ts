/**
 * The VM's thread: one dedicated Web Worker per VM (the `pc` machine has one vCPU, so this is the
 * vCPU thread too). Guest RAM is allocated here by the KVM facade, in SharedArrayBuffers.
 */
import type { PageMessage, WorkerMessage } from './protocol.js';
import { VmSession } from './session.js';

/** The parts of DedicatedWorkerGlobalScope used here (the workspace compiles with the DOM lib). */
interface WorkerScope {
  postMessage(msg: WorkerMessage, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<PageMessage>) => void) | null;
}
const scope = self as unknown as WorkerScope;

// setTimeout(0) is clamped to 4 ms when nested; a MessageChannel runs the next slice at once.
const queue: (() => void)[] = [];
const channel = new MessageChannel();
channel.port1.onmessage = () => {
  const fn = queue.shift();
  fn?.();
};

const session = new VmSession({
  post: (msg: WorkerMessage, transfer: Transferable[] = []) => scope.postMessage(msg, transfer),
  now: () => performance.now(),
  defer: (fn) => {
    queue.push(fn);
    channel.port2.postMessage(0);
  },
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  threadId: 1,
});

scope.onmessage = (e: MessageEvent<PageMessage>) => {
  try {
    session.handle(e.data);
  } catch (err) {
    scope.postMessage({
      type: 'error',
      message: `typevisor: internal error: ${err instanceof Error ? err.message : String(err)}`,
    });
  }
};
