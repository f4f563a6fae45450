/** Node-only parts of the frontend (sockets, files); the browser build never imports this subpath. */
export { nodeOpenChardev } from './chardev.js';
export { monitorBanner, serveMonitor } from './monitor-socket.js';
export { nodeVirtioBackends } from './virtio-backends.js';
export { nodeVcpuThreads } from './vcpu-threads.js';
