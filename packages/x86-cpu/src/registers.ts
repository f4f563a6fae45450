/**
 * The general-purpose register file.
 *
 * Sixteen 64-bit registers (RAX..R15) stored as two 32-bit halves so that 64-bit mode slots in without a
 * rewrite: the low halves are elements 0..15 of {@link RegisterFile.r32}, the high halves elements 16..31.
 * Byte and word views alias the same buffer (little-endian host), so `AX`, `AL` and `AH` are plain loads.
 */
import { Register } from '@typevisor/x86-decoder';

/** GPR numbers in encoding order. */
export const Gpr = {
  EAX: 0,
  ECX: 1,
  EDX: 2,
  EBX: 3,
  ESP: 4,
  EBP: 5,
  ESI: 6,
  EDI: 7,
} as const;

export const GPR_COUNT = 16;
/** Element of the high half of GPR `n` in `r32`. */
export const GPR_HI = 16;

export class RegisterFile {
  readonly buffer = new ArrayBuffer(GPR_COUNT * 8);
  /** Low 32 bits of GPR n at [n] (signed view); high halves at [16 + n]. */
  readonly r32 = new Int32Array(this.buffer);
  /** Unsigned view of the same words. */
  readonly u32 = new Uint32Array(this.buffer);
  /** Low 16 bits of GPR n at [n * 2]. */
  readonly r16 = new Uint16Array(this.buffer);
  /** Byte view: low byte of GPR n at [n * 4], AH..BH at [n * 4 + 1]. */
  readonly r8 = new Uint8Array(this.buffer);
  /** Instruction pointer (EIP; unsigned). */
  ip = 0;
}

/** For each decoder `Register`: its GPR number (0..15) for 16/32/64-bit registers, else -1. */
export const GPR_OF: Int8Array = new Int8Array(256).fill(-1);
/** For each 8-bit decoder `Register`: its byte index in `RegisterFile.r8`, else -1. */
export const BYTE_OFFSET_OF: Int16Array = new Int16Array(256).fill(-1);

for (let i = 0; i < 16; i++) {
  GPR_OF[Register.AX + i] = i;
  GPR_OF[Register.EAX + i] = i;
  GPR_OF[Register.RAX + i] = i;
}
for (let i = 0; i < 4; i++) {
  BYTE_OFFSET_OF[Register.AL + i] = i * 4;
  BYTE_OFFSET_OF[Register.AH + i] = i * 4 + 1;
}
for (let i = 4; i < 16; i++) BYTE_OFFSET_OF[Register.SPL + (i - 4)] = i * 4;

/** Segment register numbers (the `sreg` field of ModRM), plus the two system segments. */
export const Seg = {
  ES: 0,
  CS: 1,
  SS: 2,
  DS: 3,
  FS: 4,
  GS: 5,
  LDTR: 6,
  TR: 7,
} as const;

/** Decoder segment `Register` to {@link Seg}; -1 when not a segment register. */
export function segOf(reg: number): number {
  return reg >= Register.ES && reg <= Register.GS ? reg - Register.ES : -1;
}
