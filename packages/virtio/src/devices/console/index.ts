export {
  ConsoleConfig,
  ConsoleDevice,
  ConsoleFeature,
  type ConsoleOptions,
  ConsoleQueue,
  type ConsoleSink,
} from './device.js';
