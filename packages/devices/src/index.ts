/**
 * @typevisor/devices: legacy PC devices, each usable alone. Register constants live in per-device
 * namespaces (`UartRegs`, `PicRegs`, ...).
 */

export { DevicesError, type DevicesErrorKind } from './errors.js';
export {
  type A20Line,
  type ResetLine,
  type PowerControl,
  type ExitHandler,
  NO_A20,
  NO_RESET,
} from './signals.js';

export {
  Uart16550,
  type Uart16550Options,
  type ModemInputs,
  type Uart16550State,
  UartRegs,
} from './uart/index.js';
export {
  Pic8259,
  PicPair,
  type Pic8259Options,
  type PicPairOptions,
  type Pic8259State,
  type PicPairState,
  PicRegs,
} from './pic/index.js';
export {
  Pit8254,
  type Pit8254Options,
  type SpeakerTimer,
  type Pit8254State,
  type PitChannelState,
  PitRegs,
} from './pit/index.js';
export {
  SystemControlPortA,
  SystemControlPortB,
  type SystemControlPortAOptions,
  type SystemControlPortBOptions,
  type SpeakerSink,
  type PortAState,
  type PortBState,
  SystemPortRegs,
} from './system-ports/index.js';
export {
  Mc146818,
  type Mc146818Options,
  type Mc146818State,
  periodicTicks,
  pcCmosLayout,
  type PcCmosOptions,
  RtcRegs,
} from './rtc/index.js';
export {
  I8042,
  type I8042Options,
  Ps2Keyboard,
  Ps2Mouse,
  MouseButton,
  KEYS,
  type KeyName,
  type KeyCodes,
  scancodes,
  translateSet2Byte,
  type I8042State,
  type Ps2KeyboardState,
  type Ps2MouseState,
  I8042Regs,
} from './i8042/index.js';
export {
  AcpiPm,
  ApmControl,
  type AcpiPmOptions,
  type AcpiPmState,
  type ApmHandler,
  AcpiPmRegs,
} from './acpi-pm/index.js';
export { IsaDebugExit, DEBUG_EXIT_BASE, DEBUG_EXIT_LENGTH } from './debug-exit/index.js';
export {
  PciHost,
  type PciHostOptions,
  type PciHostState,
  devfn,
  PciConfigSpace,
  type PciDevice,
  type PciBarDefinition,
  type PciBarKind,
  type PciBarMapping,
  type PciBarObserver,
  type PciConfigSpaceOptions,
  type PciConfigSpaceState,
  I440fxHostBridge,
  type PamObserver,
  Piix3IsaBridge,
  Piix4PowerManagement,
  type Piix3Options,
  type PmIoObserver,
  PciRegs,
} from './pci/index.js';
export {
  FwCfg,
  type FwCfgOptions,
  type FwCfgState,
  type E820Entry,
  e820File,
  bootOrderFile,
  FwCfgKey,
  E820,
  FwCfgRegs,
} from './fw-cfg/index.js';
export {
  IdeController,
  type IdeControllerOptions,
  type IdeDrives,
  IdeChannel,
  type IdeChannelState,
  IdeDrive,
  type IdeDriveOptions,
  type DriveKind,
  type AtapiResult,
  type AtapiData,
  type BlockBackend,
  MemoryBlockBackend,
  type IdeControllerState,
  IdeRegs,
} from './ide/index.js';
export {
  Vga,
  type VgaOptions,
  type VgaState,
  type TextScreen,
  type Framebuffer,
  type RenderedFrame,
  type RenderTarget,
  type VgaDisplayKind,
  type VgaDisplayMode,
  VgaRegs,
} from './vga/index.js';
export {
  LocalApic,
  type LocalApicOptions,
  type LapicIpi,
  type LapicIpiSink,
  type LapicEoiBroadcast,
  type ExtIntController,
  type TscSource,
  type LapicKick,
  type LocalApicState,
  LapicRegs,
} from './lapic/index.js';
export {
  IoApic,
  type IoApicOptions,
  type IoApicDelivery,
  type IoApicState,
  IoApicRegs,
} from './ioapic/index.js';
export {
  Hpet,
  type HpetOptions,
  type HpetLegacyObserver,
  type HpetState,
  type HpetTimerState,
  type U64String,
  HpetRegs,
} from './hpet/index.js';
