export {
  MAX_FRAME,
  NET_HEADER_SIZE,
  NET_S_LINK_UP,
  NetConfig,
  NetDevice,
  NetFeature,
  type NetOptions,
  NetQueue,
  parseMac,
} from './device.js';
export { LoopbackNetBackend, type NetBackend, NetHub } from './backend.js';
