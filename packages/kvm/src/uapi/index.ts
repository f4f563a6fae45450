/**
 * The KVM user-space ABI by its Linux names: every module below holds only public constants and
 * layouts, so they are re-exported whole.
 */
export * from './constants.js';
export * from './errno.js';
export * from './ioctl.js';
export * from './ioctls.js';
export * from './layout.js';
export * from './structs.js';
