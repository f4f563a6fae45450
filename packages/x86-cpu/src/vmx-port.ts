/**
 * The CPU's side of VMX: the port a VT-x model (`@typevisor/vmx`) implements so that software running
 * on this CPU can execute VMXON ... INVVPID, and the operand access those instructions need. The CPU
 * decodes the instruction and hands the port its operands; the port applies the SDM's rules, loads
 * guest or host state into the CPU, and answers with the hook convention (0, INTERCEPT, or a vector).
 *
 * The port is reached through `CpuHooks.vmx`: with no port attached every VMX instruction is #UD and
 * CR4.VMXE cannot be set, as on a processor without VMX.
 */
import { CpuidFeature, type Instruction, OpKind } from '@typevisor/x86-decoder';
import type { CpuModel } from './cpu-model.js';
import type { Cpu } from './cpu.js';
import type { EventKind } from './interrupts.js';
import { read32, readLinear8, probeWrite, write32 } from './memory-access.js';
import { locate, readOp1, writeOp0 } from './operands.js';
import { Seg } from './registers.js';

/** The VMX instructions, as the port sees them. */
export const VmxInstruction = {
  Vmxon: 0,
  Vmxoff: 1,
  Vmclear: 2,
  Vmptrld: 3,
  Vmptrst: 4,
  Vmread: 5,
  Vmwrite: 6,
  Vmlaunch: 7,
  Vmresume: 8,
  Vmcall: 9,
  Invept: 10,
  Invvpid: 11,
} as const;
export type VmxInstruction = (typeof VmxInstruction)[keyof typeof VmxInstruction];

/**
 * The instructions other than VMX instructions whose VM exit the CPU asks the port about in non-root
 * operation ({@link VmxPort.instruction}): MOV DR ("MOV-DR exiting"), the descriptor-table
 * instructions ("descriptor-table exiting"), RDPMC, PAUSE, MONITOR, MWAIT (their primary controls),
 * WBINVD ("WBINVD exiting") and INVD (always exits, SDM 26.1.2).
 */
export type VmxSensitive =
  | 'movToDr'
  | 'movFromDr'
  | 'sgdt'
  | 'sidt'
  | 'lgdt'
  | 'lidt'
  | 'sldt'
  | 'str'
  | 'lldt'
  | 'ltr'
  | 'rdpmc'
  | 'pause'
  | 'monitor'
  | 'mwait'
  | 'wbinvd'
  | 'invd'
  | 'xsetbv';

/** CR4.VMXE (bit 13): VMX operation may be entered. */
export const CR4_VMXE = 1 << 13;

/** CPUID.01H:ECX.VMX (bit 5). */
export const CPUID_1_ECX_VMX = 1 << 5;

/**
 * The operands of the VMX instruction being executed. Memory operands are read only when the port
 * asks, after its #UD / VM-exit / #GP(0) checks, so the SDM's order of checks holds; a fault while
 * reading one unwinds the instruction like any other memory fault.
 */
export class VmxOperands {
  cpu!: Cpu;
  ins!: Instruction;
  /** The register operand (VMREAD/VMWRITE: the field encoding; INVEPT/INVVPID: the type), bits 31:0. */
  register = 0;

  /** Instruction length in bytes (the VM-exit instruction-length field). */
  get length(): number {
    return this.ins.length;
  }

  /** The r/m operand is in memory (VMREAD destination, VMWRITE source). */
  get rmIsMemory(): boolean {
    return this.rmSlot() === OpKind.Memory;
  }

  /** Reads the 64-bit memory operand (VMXON, VMCLEAR, VMPTRLD) into `out[0]` (bits 31:0), `out[1]`. */
  readMemory64(out: Uint32Array): void {
    const cpu = this.cpu;
    locate(cpu, this.ins);
    out[0] = read32(cpu, cpu.eaSeg, cpu.eaOff);
    out[1] = read32(cpu, cpu.eaSeg, (cpu.eaOff + 4) >>> 0);
  }

  /** Reads the 128-bit memory operand (INVEPT/INVVPID descriptor) into `out[0..3]`. */
  readMemory128(out: Uint32Array): void {
    const cpu = this.cpu;
    locate(cpu, this.ins);
    for (let i = 0; i < 4; i++) out[i] = read32(cpu, cpu.eaSeg, (cpu.eaOff + i * 4) >>> 0);
  }

  /** Writes the 64-bit memory operand (VMPTRST); nothing is written when any byte would fault. */
  writeMemory64(lo: number, hi: number): void {
    const cpu = this.cpu;
    locate(cpu, this.ins);
    probeWrite(cpu, cpu.eaSeg, cpu.eaOff, 8);
    write32(cpu, cpu.eaSeg, cpu.eaOff, lo);
    write32(cpu, cpu.eaSeg, (cpu.eaOff + 4) >>> 0, hi);
  }

  /** VMWRITE's source (register or memory), 32 bits. */
  readRm(): number {
    return readOp1(this.cpu, this.ins, 32) >>> 0;
  }

  /** VMREAD's destination (register or memory), 32 bits. */
  writeRm(value: number): void {
    writeOp0(this.cpu, this.ins, 32, value, false);
  }

  private rmSlot(): number {
    return this.ins.op0Kind === OpKind.Memory || this.ins.op1Kind === OpKind.Memory
      ? OpKind.Memory
      : OpKind.Register;
  }
}

/** What a VT-x model attached to the CPU (through `CpuHooks.vmx`) provides. */
export interface VmxPort {
  /**
   * Executes a VMX instruction. Returns 0 when it completed (flags, registers, memory and, for VM
   * entry or a failed entry, the loaded guest or host state are in place), INTERCEPT when it causes a
   * VM exit (nothing of it took effect), or the vector to raise (6 for #UD, 13 for #GP(0)).
   */
  execute(op: VmxInstruction, operands: VmxOperands): number;
  /**
   * MOV to CR0 or CR4 (`cr`), before the CPU's own checks: 0 and the value to load in {@link crValue}
   * (with non-root operation's guest/host masks applied; it may hold CR4.VMXE), INTERCEPT for a VM
   * exit, or 13 for #GP(0) (a fixed bit of VMX operation, or CR4.VMXE without VMX).
   */
  writeCr(cr: 0 | 4, value: number): number;
  /** The value for the CPU to load after {@link writeCr} returned 0. */
  readonly crValue: number;
  /** MOV from CR0 or CR4: the value software sees (the read shadows in non-root operation). */
  readCr(cr: 0 | 4, actual: number): number;
  /**
   * True while software runs in VMX non-root operation. Only then does the CPU call {@link event} and
   * {@link instruction}; outside it they cost the CPU this one check. Absent: never.
   */
  readonly nonRoot?: boolean;
  /**
   * An event is about to be delivered through the IDT in non-root operation (the exception bitmap,
   * NMI exiting): 0 to deliver it, INTERCEPT for a VM exit (nothing was delivered; EIP is at the
   * faulting instruction, or after a trap or INT3/INTO, as the event would have pushed it). With
   * `nested` the event is a fault raised while delivering the last event passed here (a #DF the two
   * make is passed as vector 8, nested too); `vector` is then -1 when the delivery stopped for the
   * VMM (an EPT violation on the IDT or stack), and the answer is ignored.
   */
  event?(kind: EventKind, vector: number, errorCode: number, nested: boolean): number;
  /**
   * A {@link VmxSensitive} instruction in non-root operation, after its #UD and privilege checks
   * (SDM 26.1.1: those have priority over the VM exit) and before it reads or writes anything or
   * checks its other operands: 0 to execute it, or INTERCEPT for a VM exit.
   */
  instruction?(op: VmxSensitive, ins: Instruction): number;
}

/** Adds VMX to a CPU model: the decoder's VMX, INVEPT and INVVPID forms execute and CPUID.01H:ECX.VMX is 1. */
export function withVmx(model: CpuModel): CpuModel {
  return {
    ...model,
    name: `${model.name} + VMX`,
    cpuid: model.cpuid.map((l) => (l.leaf === 1 ? { ...l, ecx: (l.ecx | CPUID_1_ECX_VMX) >>> 0 } : l)),
    features: [...model.features, CpuidFeature.VMX, CpuidFeature.INVEPT, CpuidFeature.INVVPID],
  };
}

/**
 * Copies up to `out.length` bytes of the instruction being executed (at CS:`cpu.startIp`) into `out`,
 * stopping early at a byte that cannot be read; returns how many were copied. For a VMX layer that
 * needs more than a hook's arguments (the I/O exit qualification's operand encoding, the register of
 * a MOV CR). Never throws.
 */
export function currentInstructionBytes(cpu: Cpu, out: Uint8Array): number {
  const base = cpu.segs.base[Seg.CS]!;
  const wrap = cpu.bitness === 16 ? 0xffff : 0xffffffff;
  for (let i = 0; i < out.length; i++) {
    try {
      out[i] = readLinear8(cpu, (base + ((cpu.startIp + i) & wrap)) >>> 0, false);
    } catch {
      return i;
    }
  }
  return out.length;
}
