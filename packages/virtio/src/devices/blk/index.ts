export {
  BlkConfig,
  BlkDevice,
  BlkFeature,
  type BlkOptions,
  BlkRequest,
  BlkStatus,
  SECTOR_SIZE,
} from './device.js';
export { type BlockBackend, MemoryBlockBackend, OverlayBlockBackend } from './backend.js';
