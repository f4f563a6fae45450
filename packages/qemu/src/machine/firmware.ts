/**
 * Firmware boot on `pc` (QEMU's hw/i386/pc_sysfw.c and hw/pci-host/pam.c, as KVM sees them): the BIOS
 * image read-only at the top of the 4-GiB space, its last 128 KiB aliased below 1 MiB, the PAM
 * segments of 0xC0000-0xFFFFF as memory slots that follow the i440FX's PAM registers (SeaBIOS copies
 * itself into RAM there and write-protects it), fw_cfg with what SeaBIOS reads, the boot order in
 * CMOS, and the debug console port 0x402 SeaBIOS logs to.
 */
import {
  e820File,
  FwCfg,
  FwCfgKey,
  FwCfgRegs,
  type I440fxHostBridge,
  type Mc146818,
  PciRegs,
  pcCmosLayout,
  RtcRegs,
} from '@typevisor/devices';
import { KVM_MEM_READONLY, type Mapping, type Regs, type Sregs, type Vcpu, type Vm } from '@typevisor/kvm';
import type { ByteSink, GuestMemory, PioBus } from '@typevisor/memory';
import { DebugConsole } from './debug-console.js';
import { PAM_SEGMENTS, type PamMode, pamMode, segmentBacking } from './pam.js';

/** QEMU's `-bios` default for `pc` (Debian's seabios package installs it here). */
export const DEFAULT_BIOS_PATH = '/usr/share/seabios/bios-256k.bin';
/**
 * The VGA BIOS QEMU gives SeaBIOS for `-vga std` (romfile vgabios-stdvga.bin, in Debian's seabios
 * package next to the BIOS): SeaBIOS runs it from fw_cfg "vgaroms/" at POST, and it sets up text mode
 * through the VGA registers and the Bochs VBE ports, so INT 10h works and SeaBIOS draws on the screen.
 */
export const DEFAULT_VGA_ROM_PATH = '/usr/share/seabios/vgabios-stdvga.bin';
/** A BIOS image is whole 64-KiB blocks, at most 16 MiB (the flash window below 4 GiB). */
export const BIOS_SIZE_UNIT = 64 * 1024;
export const BIOS_MAX_SIZE = 16 * 1024 * 1024;
const FOUR_GIB = 2 ** 32;
const ONE_MIB = 0x100000;
/** Start of the PAM area: RAM below it is always plain RAM. */
const PAM_START = 0xc0000;

/** Memory slots of a firmware-booted `pc`: RAM around the PAM area, the BIOS, one per PAM segment. */
export const FIRMWARE_SLOT = { RAM_LOW: 0, RAM_HIGH: 1, BIOS: 2, PAM_FIRST: 3, RAM_TEXT: 32 } as const;
/** The VGA's graphics window, which a machine with a VGA takes out of RAM (see `vga.ts`). */
const GRAPHICS_WINDOW_BASE = 0xa0000;
const GRAPHICS_WINDOW_END = 0xb0000;

/** QEMU's debug console (isa-debugcon) port, where SeaBIOS writes its log. */
export const DEBUGCON_PORT = 0x402;
/** fw_cfg's x86 ports: selector 0x510, data 0x511, DMA 0x514-0x51B. */
export const FW_CFG_PORT = FwCfgRegs.FW_CFG_IO_BASE;
export const FW_CFG_PORTS = FwCfgRegs.FW_CFG_IO_LENGTH;

/** Why a BIOS image cannot be used, as one line naming the file; undefined when it can. */
export function checkBiosImage(file: string, size: number): string | undefined {
  if (size === 0 || size % BIOS_SIZE_UNIT !== 0)
    return `-bios ${file}: the image is ${size} bytes, not a whole number of 64 KiB blocks`;
  if (size > BIOS_SIZE_UNIT * 256)
    return `-bios ${file}: the image is ${size} bytes, more than the 16 MiB flash window below 4 GiB`;
  return undefined;
}

/** What the firmware memory needs from the machine: the VM (memslots) and the facade's mmap. */
export interface FirmwareMemoryHost {
  readonly vm: Pick<Vm, 'setUserMemoryRegion'>;
  mmap(length: number): Mapping;
}

/**
 * The memory map of a firmware-booted `pc`, kept in KVM memory slots: RAM below 0xC0000 and above
 * 1 MiB, the BIOS image READONLY at 4 GiB - size, and 0xC0000-0xFFFFF per PAM segment (RAM, RAM
 * READONLY, the BIOS's ISA alias, or nothing). Call {@link pamChanged} for each PAM register the guest
 * writes (the i440FX's PamObserver); a change replaces that segment's slot.
 */
export class FirmwareMemory {
  /** Each segment's current mode, in {@link PAM_SEGMENTS} order. */
  readonly modes: PamMode[] = PAM_SEGMENTS.map(() => 'pci');
  private readonly biosAddr: number;
  private readonly mapped: boolean[] = PAM_SEGMENTS.map(() => false);

  constructor(
    private readonly host: FirmwareMemoryHost,
    /** Guest RAM: its host address (from mmap) and size; slot 0 must not be in use. */
    private readonly ram: { readonly addr: number; readonly size: number },
    bios: Uint8Array,
    /**
     * With a VGA, 0xA0000-0xAFFFF is not RAM but the card's graphics window (QEMU's vga-lowmem), where
     * the VGA BIOS loads its font into plane 2; 0xB0000-0xBFFFF (the text window) stays RAM.
     */
    options: { readonly graphicsWindow?: boolean } = {},
  ) {
    if (bios.length === 0 || bios.length % BIOS_SIZE_UNIT !== 0 || bios.length > BIOS_MAX_SIZE)
      throw new RangeError(`a BIOS image of ${bios.length} bytes`);
    if (ram.size + bios.length > FOUR_GIB) throw new RangeError('guest RAM overlaps the BIOS below 4 GiB');
    const rom = host.mmap(bios.length);
    if (rom.addr < 0) throw new RangeError(`cannot allocate ${bios.length} bytes for the BIOS`);
    rom.bytes.set(bios);
    this.biosAddr = rom.addr;
    this.biosSize = bios.length;
    const vm = host.vm;
    const low = Math.min(PAM_START, ram.size);
    const window = options.graphicsWindow === true && low > GRAPHICS_WINDOW_END;
    vm.setUserMemoryRegion({
      slot: FIRMWARE_SLOT.RAM_LOW,
      guestPhysAddr: 0,
      memorySize: window ? GRAPHICS_WINDOW_BASE : low,
      userspaceAddr: ram.addr,
    });
    if (window) {
      vm.setUserMemoryRegion({
        slot: FIRMWARE_SLOT.RAM_TEXT,
        guestPhysAddr: GRAPHICS_WINDOW_END,
        memorySize: low - GRAPHICS_WINDOW_END,
        userspaceAddr: ram.addr + GRAPHICS_WINDOW_END,
      });
    }
    if (ram.size > ONE_MIB) {
      vm.setUserMemoryRegion({
        slot: FIRMWARE_SLOT.RAM_HIGH,
        guestPhysAddr: ONE_MIB,
        memorySize: ram.size - ONE_MIB,
        userspaceAddr: ram.addr + ONE_MIB,
      });
    }
    vm.setUserMemoryRegion({
      slot: FIRMWARE_SLOT.BIOS,
      flags: KVM_MEM_READONLY,
      guestPhysAddr: FOUR_GIB - bios.length,
      memorySize: bios.length,
      userspaceAddr: rom.addr,
    });
    for (let i = 0; i < PAM_SEGMENTS.length; i++) this.mapSegment(i);
  }

  readonly biosSize: number;

  /** PAM register `index` (0-6) now holds `value`: remap the segments whose mode changed. */
  pamChanged(index: number, value: number): void {
    PAM_SEGMENTS.forEach((seg, i) => {
      if (seg.register !== index) return;
      const mode = pamMode(seg, value);
      if (mode === this.modes[i]) return;
      this.modes[i] = mode;
      this.mapSegment(i);
    });
  }

  private mapSegment(i: number): void {
    const seg = PAM_SEGMENTS[i]!;
    const slot = FIRMWARE_SLOT.PAM_FIRST + i;
    const vm = this.host.vm;
    if (this.mapped[i]) {
      vm.setUserMemoryRegion({ slot, guestPhysAddr: seg.start, memorySize: 0, userspaceAddr: 0 });
      this.mapped[i] = false;
    }
    const b = segmentBacking(seg, this.modes[i]!, this.biosSize);
    if (b.kind === 'none') return;
    if (b.kind === 'ram' && seg.start + seg.size > this.ram.size) return;
    vm.setUserMemoryRegion({
      slot,
      flags: b.kind === 'bios' || b.readonly ? KVM_MEM_READONLY : 0,
      guestPhysAddr: seg.start,
      memorySize: seg.size,
      userspaceAddr: b.kind === 'bios' ? this.biosAddr + b.offset : this.ram.addr + seg.start,
    });
    this.mapped[i] = true;
  }
}

/** The `-boot order=` letters as CMOS boot devices (QEMU's boot_device2nibble), or an error. */
export function cmosBootOrder(order: string): RtcRegs.BootDevice[] | string {
  if (order.length > 3) return 'Too many boot devices for PC';
  const out: RtcRegs.BootDevice[] = [];
  for (const c of order) {
    const d =
      c === 'a' || c === 'b'
        ? RtcRegs.BootDevice.Floppy
        : c === 'c'
          ? RtcRegs.BootDevice.Disk
          : c === 'd'
            ? RtcRegs.BootDevice.Cdrom
            : c === 'n'
              ? RtcRegs.BootDevice.Network
              : undefined;
    if (d === undefined) return `Invalid boot device for PC: '${c}'`;
    out.push(d);
  }
  return out;
}

/** The CMOS bytes of a firmware-booted `pc`: the PC layout with `order` as the boot order. */
export function firmwareCmos(
  ramBytes: number,
  cpus: number,
  order: readonly RtcRegs.BootDevice[],
): Array<[number, number]> {
  // The floppy signature check is skipped (bit 0 of 0x38), as QEMU does by default (fd_bootchk).
  return pcCmosLayout({ ramBelow4G: ramBytes, cpus, bootOrder: order, skipFloppySignatureCheck: true });
}

export interface FirmwareFwCfgOptions {
  readonly ramBytes: number;
  readonly cpus: number;
  readonly nographic: boolean;
  /** Guest RAM for the DMA interface. */
  readonly memory: GuestMemory;
  /** The VGA option ROM ("vgaroms/vgabios-stdvga.bin"), when the machine has the `std` VGA. */
  readonly vgaRom?: Uint8Array;
}

/**
 * fw_cfg as QEMU's `pc` fills it for SeaBIOS (fw_cfg_arch_create, pc_memory_init): the signature and
 * feature bits (the device itself), RAM size, CPU counts, -nographic, the boot menu off, and
 * "etc/e820" with the RAM below 4 GiB (SeaBIOS reserves its own areas in the map it builds).
 */
export function firmwareFwCfg(o: FirmwareFwCfgOptions): FwCfg {
  const fw = new FwCfg({ memory: o.memory });
  fw.addU64(FwCfgKey.RamSize, o.ramBytes);
  fw.addU16(FwCfgKey.NbCpus, o.cpus);
  fw.addU16(FwCfgKey.MaxCpus, o.cpus);
  fw.addU16(FwCfgKey.NoGraphic, o.nographic ? 1 : 0);
  fw.addU16(FwCfgKey.BootMenu, 0);
  fw.addFile('etc/e820', e820File([{ address: 0, length: o.ramBytes, type: 1 }]));
  if (o.vgaRom !== undefined) fw.addFile('vgaroms/vgabios-stdvga.bin', o.vgaRom);
  return fw;
}

/** What {@link PcFirmware} wires into: the machine's facade objects, buses and devices. */
export interface PcFirmwareWiring {
  readonly vm: Pick<Vm, 'setUserMemoryRegion'>;
  readonly vcpu: Pick<Vcpu, 'getRegs' | 'setRegs' | 'getSregs' | 'setSregs'>;
  mmap(length: number): Mapping;
  /** Guest RAM's host address and size (slot 0 holds all of it; it is replaced). */
  readonly ram: { readonly addr: number; readonly size: number };
  readonly memory: GuestMemory;
  readonly pio: PioBus;
  readonly rtc: Pick<Mc146818, 'setCmos'>;
  /** The i440FX, whose PAM registers a reset clears. */
  readonly hostBridge: Pick<I440fxHostBridge, 'configWrite'>;
  readonly cpus: number;
  readonly nographic: boolean;
  /** CMOS boot order (`-boot order=`). */
  readonly bootOrder: readonly RtcRegs.BootDevice[];
  /** Where the debug console's bytes go (SeaBIOS's log); dropped without it. */
  readonly debugcon?: ByteSink;
  /** The VGA BIOS for SeaBIOS to run (`DEFAULT_VGA_ROM_PATH`), when the machine has a VGA. */
  readonly vgaRom?: Uint8Array;
  /** The machine has a VGA: 0xA0000-0xAFFFF is its graphics window, not RAM. */
  readonly graphicsWindow?: boolean;
}

/**
 * Everything firmware boot adds to `pc`: the memory map ({@link FirmwareMemory}), fw_cfg at 0x510,
 * the debug console at 0x402, the CMOS boot order, and the vCPU's power-on state (CS base
 * 0xFFFF0000, RIP 0xFFF0, as KVM_CREATE_VCPU leaves it) restored by {@link PcFirmware.reset}.
 */
export class PcFirmware {
  readonly memory: FirmwareMemory;
  readonly fwCfg: FwCfg;
  private readonly resetRegs: Regs;
  private readonly resetSregs: Sregs;

  constructor(
    private readonly w: PcFirmwareWiring,
    bios: Uint8Array,
  ) {
    this.resetRegs = w.vcpu.getRegs();
    this.resetSregs = w.vcpu.getSregs();
    w.vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0, userspaceAddr: 0 });
    this.memory = new FirmwareMemory(w, w.ram, bios, { graphicsWindow: w.graphicsWindow === true });
    this.fwCfg = firmwareFwCfg({
      ramBytes: w.ram.size,
      cpus: w.cpus,
      nographic: w.nographic,
      memory: w.memory,
      ...(w.vgaRom ? { vgaRom: w.vgaRom } : {}),
    });
    w.pio.insert(FW_CFG_PORT, FW_CFG_PORTS, this.fwCfg, 'fwcfg');
    w.pio.insert(DEBUGCON_PORT, 1, new DebugConsole(w.debugcon), 'isa-debugcon');
    for (const [index, value] of firmwareCmos(w.ram.size, w.cpus, w.bootOrder)) w.rtc.setCmos(index, value);
  }

  /** Power-on (and system reset): PAM registers cleared (BIOS ROM at 0xE0000-0xFFFFF), the vCPU at F000:FFF0. */
  reset(): void {
    for (let i = 0; i < PciRegs.I440FX_PAM_COUNT; i++)
      this.w.hostBridge.configWrite(PciRegs.I440FX_PAM0 + i, 1, 0);
    this.w.vcpu.setSregs(this.resetSregs);
    this.w.vcpu.setRegs(this.resetRegs);
  }
}
