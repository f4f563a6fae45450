/**
 * The operands of a block's instructions in a compact form: {@link OPS_STRIDE} int32 per instruction,
 * one typed array per block (`Block.ops`), written when the block is built. The fast handlers of
 * `fast-paths.ts` and the interpreter's loop read these instead of the decoded `Instruction` objects:
 * about 400 bytes each, which a boot's cold blocks reach with a cache miss or two per instruction
 * (x86-cpu README, "Eighth round"), where a block's records are a few consecutive cache lines.
 * Handlers that are not fast paths still read the `Instruction`; for the fast ones the block keeps none
 * (`RECORD_ONLY` in `block-cache.ts`; x86-cpu README, "Ninth round").
 */
import type { Instruction } from '@typevisor/x86-decoder';

/**
 * The EIP after an instruction of `length` bytes (its record's `Rec.Length`) at `ip` in code of `bits`,
 * wrapped as the decoder wraps `nextIp`: the interpreter's loop, `runOne` and `Block.instruction` form
 * EIPs from the records instead of reading the decoded instruction.
 */
export function nextEip(ip: number, length: number, bits: number): number {
  return bits === 32 ? (ip + length) >>> 0 : bits === 64 ? ip + length : (ip + length) & 0xffff;
}

/** Int32 slots per instruction. */
export const OPS_STRIDE = 8;

/** Slot of each field in an instruction's record. */
export const Rec = {
  /** `length`. */
  Length: 0,
  /** `op0Register`. */
  Reg0: 1,
  /** `op1Register`. */
  Reg1: 2,
  /** `op1Kind`. */
  Kind1: 3,
  /** `immediate | 0` (an unsigned imm32 as its int32 bits). */
  Imm: 4,
  /** `memDisplacement | 0` (its int32 bits: the unsigned moffs32 form too; addresses wrap to 32 bits). */
  Disp: 5,
  /** `memBase | memIndex << 8 | memScale << 16 | memSegment << 24` (register numbers are below 256). */
  Mem: 6,
  /** `branchDisplacement`. */
  Branch: 7,
} as const;

/** Writes the record of `ins` at `at` (a multiple of {@link OPS_STRIDE}). */
export function writeRecord(ops: Int32Array, at: number, ins: Instruction): void {
  ops[at + Rec.Length] = ins.length;
  ops[at + Rec.Reg0] = ins.op0Register;
  ops[at + Rec.Reg1] = ins.op1Register;
  ops[at + Rec.Kind1] = ins.op1Kind;
  ops[at + Rec.Imm] = ins.immediate | 0;
  ops[at + Rec.Disp] = ins.memDisplacement | 0;
  ops[at + Rec.Mem] = ins.memBase | (ins.memIndex << 8) | (ins.memScale << 16) | (ins.memSegment << 24);
  ops[at + Rec.Branch] = ins.branchDisplacement | 0;
}
