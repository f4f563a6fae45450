export { IsaDebugExit, DEBUG_EXIT_BASE, DEBUG_EXIT_LENGTH } from './device.js';
