export { PciHost, type PciHostOptions, type PciHostState, devfn } from './device.js';
export {
  PciConfigSpace,
  type PciDevice,
  type PciBarDefinition,
  type PciBarKind,
  type PciBarMapping,
  type PciBarObserver,
  type PciConfigSpaceOptions,
  type PciConfigSpaceState,
} from './config-space.js';
export { I440fxHostBridge, type PamObserver } from './i440fx.js';
export { Piix3IsaBridge, Piix4PowerManagement, type Piix3Options, type PmIoObserver } from './piix.js';
export * as PciRegs from './registers.js';
