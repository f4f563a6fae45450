/**
 * Node backends for the virtio devices: raw image files with fsync, `-snapshot` overlays, host
 * randomness and QEMU's `-netdev socket`. Import from `@typevisor/virtio/node`; the main entry point
 * stays free of Node modules so the devices run in a browser.
 */
export { type DriveOptions, FileBlockBackend, type OpenDrive, openDrive } from './file-backend.js';
export { nodeCryptoEntropy } from './entropy.js';
export {
  type HostPort,
  openSocketNetdev,
  parseHostPort,
  type SocketNetBackend,
  type SocketNetdevOptions,
  TcpNetBackend,
  UdpNetBackend,
} from './socket-netdev.js';
