/**
 * The CPU's window to the outside: port I/O, MMIO, and the sensitive operations that a VMX layer turns
 * into VM exits. Every hook is synchronous. A hook that wants the CPU to stop *before* the instruction
 * takes effect returns {@link INTERCEPT}; `run()` then returns `CpuExit.Intercept` with EIP and all
 * other state at the start of that instruction, and the caller decides what happens next.
 */

import type { VmxPort } from './vmx-port.js';

/** Returned by a hook to stop the CPU before the instruction executes. */
export const INTERCEPT = -1;

/** CPUID result registers, filled by `CpuHooks.cpuid`. */
export class CpuidResult {
  eax = 0;
  ebx = 0;
  ecx = 0;
  edx = 0;
}

/** 64-bit MSR value as two halves. */
export class MsrValue {
  lo = 0;
  hi = 0;
}

export interface CpuHooks {
  /** IN: the value read (`size` bytes), or INTERCEPT. */
  portIn(port: number, size: 1 | 2 | 4): number;
  /** OUT: 0, or INTERCEPT. */
  portOut(port: number, size: 1 | 2 | 4, value: number): number;
  /** A read of guest-physical memory outside RAM. */
  mmioRead(gpa: number, size: 1 | 2 | 4): number;
  mmioWrite(gpa: number, size: 1 | 2 | 4, value: number): void;
  /**
   * CPUID: `out` already holds the CPU model's answer; the hook may edit it. Returns 0 or INTERCEPT.
   */
  cpuid(leaf: number, subleaf: number, out: CpuidResult): number;
  /** RDMSR: `value` holds the model's answer; return 0, INTERCEPT, or `Vector.GP` (13) to fault. */
  rdmsr(index: number, value: MsrValue): number;
  /** WRMSR before the model applies it: 0, INTERCEPT, or 13 for #GP. */
  wrmsr(index: number, value: MsrValue): number;
  /** MOV to CR0/CR3/CR4 (and CLTS/LMSW as CR0 writes) before it takes effect: 0 or INTERCEPT. */
  movToCr(cr: number, value: number): number;
  /** HLT: 0 to halt (run() returns CpuExit.Hlt) or INTERCEPT. */
  hlt(): number;
  /** INVLPG of `linear`: 0 or INTERCEPT. */
  invlpg(linear: number): number;
  /** RDTSC: 0 or INTERCEPT. */
  rdtsc(): number;
  /**
   * The VT-x model that executes VMXON ... INVVPID and owns CR4.VMXE (see `vmx-port.ts`); absent on a
   * CPU without VMX, where those instructions are #UD.
   */
  readonly vmx?: VmxPort;
}

/** Hooks with nothing attached: ports read all-ones, writes vanish, nothing is intercepted. */
export class NullHooks implements CpuHooks {
  portIn(_port: number, size: 1 | 2 | 4): number {
    return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
  }
  portOut(_port: number, _size: 1 | 2 | 4, _value: number): number {
    return 0;
  }
  mmioRead(_gpa: number, size: 1 | 2 | 4): number {
    return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
  }
  mmioWrite(_gpa: number, _size: 1 | 2 | 4, _value: number): void {}
  cpuid(_leaf: number, _subleaf: number, _out: CpuidResult): number {
    return 0;
  }
  rdmsr(_index: number, _value: MsrValue): number {
    return 0;
  }
  wrmsr(_index: number, _value: MsrValue): number {
    return 0;
  }
  movToCr(_cr: number, _value: number): number {
    return 0;
  }
  hlt(): number {
    return 0;
  }
  invlpg(_linear: number): number {
    return 0;
  }
  rdtsc(): number {
    return 0;
  }
}
