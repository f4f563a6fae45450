/** The script of a Node vCPU worker (`spawnVcpuWorker`): the transport-neutral vCPU thread on parentPort. */
import { parentPort } from 'node:worker_threads';
import { serveVcpuThread } from '../worker/vcpu-thread.js';

if (parentPort === null) throw new Error('vcpu-worker-entry runs only as a worker_threads Worker');
const port = parentPort;
serveVcpuThread({
  postMessage: (m) => port.postMessage(m),
  addEventListener: (_type, listener) => port.on('message', (data: unknown) => listener({ data })),
});
