export { AcpiPm, ApmControl, type AcpiPmOptions, type AcpiPmState, type ApmHandler } from './device.js';
export * as AcpiPmRegs from './registers.js';
