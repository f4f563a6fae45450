export { Uart16550, type Uart16550Options, type ModemInputs } from './device.js';
export type { Uart16550State } from './state.js';
export * as UartRegs from './registers.js';
