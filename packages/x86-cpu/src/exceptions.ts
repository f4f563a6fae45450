/**
 * Exception vectors (SDM Vol. 3 Table 6-1), their classes for double-fault detection (Table 6-5), and
 * the preallocated fault signal that unwinds a faulting instruction.
 *
 * A guest fault is not a host error: handlers call {@link raise}, which records the vector and error code
 * in the one {@link FaultSignal} object and throws it. The interpreter loop catches it, rolls the
 * instruction back and delivers the exception. Nothing is allocated; ordinary control flow never throws.
 */
import type { Cpu } from './cpu.js';

export const Vector = {
  DE: 0,
  DB: 1,
  NMI: 2,
  BP: 3,
  OF: 4,
  BR: 5,
  UD: 6,
  NM: 7,
  DF: 8,
  TS: 10,
  NP: 11,
  SS: 12,
  GP: 13,
  PF: 14,
  MF: 16,
  AC: 17,
  MC: 18,
  XM: 19,
} as const;

/** Exception class for the double-fault rules (SDM Vol. 3 Table 6-4). */
export const FaultClass = { Benign: 0, Contributory: 1, PageFault: 2 } as const;

/** Class of each vector 0..31. */
export function faultClass(vector: number): number {
  switch (vector) {
    case Vector.DE:
    case Vector.TS:
    case Vector.NP:
    case Vector.SS:
    case Vector.GP:
      return FaultClass.Contributory;
    case Vector.PF:
      return FaultClass.PageFault;
    default:
      return FaultClass.Benign;
  }
}

/** Vectors that push an error code (SDM Vol. 3 §6.13). */
export function hasErrorCode(vector: number): boolean {
  return vector === Vector.DF || (vector >= Vector.TS && vector <= Vector.PF) || vector === Vector.AC;
}

/** The one object thrown for a guest fault. Never allocate another. */
export class FaultSignal {
  vector = 0;
  errorCode = 0;
  /** Faulting linear address for #PF (becomes CR2). */
  address = 0;
}

export const FAULT = new FaultSignal();

/** Raises guest exception `vector` with an error code (ignored for vectors that push none). */
export function raise(vector: number, errorCode = 0): never {
  FAULT.vector = vector;
  FAULT.errorCode = errorCode;
  throw FAULT;
}

/** Raises #PF with `address` and the page-fault error code. */
export function raisePageFault(address: number, errorCode: number): never {
  FAULT.vector = Vector.PF;
  FAULT.errorCode = errorCode;
  // Unsigned 32-bit outside 64-bit mode, a canonical address in signed form in it: kept as given.
  FAULT.address = address;
  throw FAULT;
}

/** Error code for a selector-related fault: index + TI, with EXT and IDT bits as given. */
export function selectorError(selector: number): number {
  return selector & 0xfffc;
}

/** Pseudo-vector thrown when a hook intercepts an instruction: roll back and exit, deliver nothing. */
export const INTERCEPTED = -1;

/**
 * Rolls the current instruction back and makes `run()` return `CpuExit.Intercept`, by throwing: for code
 * deep inside an instruction (a translation that needs the VMM, string I/O). A handler that can simply
 * return uses {@link interceptInstruction}, which does the same without the cost of a throw.
 */
export function raiseIntercept(): never {
  FAULT.vector = INTERCEPTED;
  FAULT.errorCode = 0;
  throw FAULT;
}

/**
 * A hook took the current instruction (a VM exit such as OUT, CPUID or HLT): rolls it back (EIP and ESP
 * as they were before it) and makes `run()` return `CpuExit.Intercept` (`Cpu.exitToVmm`), as {@link raiseIntercept} does
 * but without a throw: a VM exit is ordinary control flow and a throw costs about a microsecond. For
 * handlers that have changed nothing yet and return at once after this call.
 */
export function interceptInstruction(cpu: Cpu): void {
  cpu.regs.ip = cpu.startIp;
  cpu.regs.r32[4] = cpu.startSp;
  cpu.exitToVmm();
}
