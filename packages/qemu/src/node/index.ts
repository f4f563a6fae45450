/** Node-only parts of the frontend (sockets, files); the browser build never imports this subpath. */
export { monitorBanner, serveMonitor } from './monitor-socket.js';
export { nodeVirtioBackends } from './virtio-backends.js';
