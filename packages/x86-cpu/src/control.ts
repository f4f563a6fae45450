/**
 * Control registers, debug registers, descriptor-table registers and the privilege/mode state derived
 * from them (SDM Vol. 3 §2.5).
 */
import { TableRegister } from './segments.js';

/** CR0 bits (SDM Vol. 3 §2.5). */
export const CR0 = {
  PE: 0x1,
  MP: 0x2,
  EM: 0x4,
  TS: 0x8,
  ET: 0x10,
  NE: 0x20,
  WP: 0x10000,
  AM: 0x40000,
  NW: 0x20000000,
  CD: 0x40000000,
  PG: 0x80000000,
} as const;

/** CR4 bits this CPU knows. */
export const CR4 = {
  VME: 0x1,
  PVI: 0x2,
  TSD: 0x4,
  DE: 0x8,
  PSE: 0x10,
  PAE: 0x20,
  MCE: 0x40,
  PGE: 0x80,
  PCE: 0x100,
  OSFXSR: 0x200,
  OSXMMEXCPT: 0x400,
  FSGSBASE: 0x10000,
  PCIDE: 0x20000,
  SMEP: 0x100000,
} as const;

/** CR0 after RESET/INIT: CD, NW, ET (SDM Vol. 3 Table 9-1). */
export const CR0_RESET = CR0.CD | CR0.NW | CR0.ET;

/** Operating mode, derived from CR0.PE and EFLAGS.VM. 64-bit modes slot in later. */
export const Mode = { Real: 0, Protected: 1, V86: 2 } as const;
export type Mode = (typeof Mode)[keyof typeof Mode];

export class ControlState {
  cr0 = CR0_RESET;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  /** XCR0 (bits 31:0; bits 63:32 are always 0 here): 1 after RESET (SDM Vol. 1 §13.3). */
  xcr0 = 1;
  /**
   * The XCR0 bits XSETBV may set (a VMM's guest CPUID leaf 0DH narrows them; x87 always), within
   * those the model has state for (`modelXcr0` in handlers/xsave.ts).
   */
  xcr0Supported = 7;
  readonly dr = new Uint32Array(8);
  /** Bits 63:32 of DR0..DR3 (64-bit linear addresses written by MOV DRn, r64 in 64-bit mode). */
  readonly drHi = new Uint32Array(4);
  /**
   * CR8 (64-bit mode only): the task-priority register, bits 3:0 (SDM Vol. 3 §10.8.6). A plain
   * register here: it reads back what was written; no local APIC is told.
   */
  tpr = 0;
  readonly gdtr = new TableRegister();
  readonly idtr = new TableRegister();
  /** Current privilege level. */
  cpl = 0;
  mode: Mode = Mode.Real;
  /**
   * IA-32e mode is active (EFER.LMA): paging is on with EFER.LME. The sub-mode follows CS.L: 64-bit
   * mode with L = 1, compatibility mode (`mode` Protected, legacy segmentation) with L = 0.
   */
  lma = false;

  constructor() {
    this.idtr.limit = 0x3ff;
    this.gdtr.limit = 0xffff;
    this.dr[6] = 0xffff0ff0;
    this.dr[7] = 0x400;
  }
}
