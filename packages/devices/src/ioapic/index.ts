export { IoApic, type IoApicDelivery, type IoApicOptions } from './device.js';
export type { IoApicState } from './state.js';
export * as IoApicRegs from './registers.js';
