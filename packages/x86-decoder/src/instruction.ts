/**
 * The decoded-instruction value shared by the decoder, formatter, encoder and the CPU interpreter.
 *
 * Everything is a plain number (or boolean) so that the CPU's hot path can decode into one long-lived
 * object with `decodeInto` and never allocate. Field meanings are part of the package's stable API: new
 * fields may be added, existing ones are never renamed or re-purposed.
 */

/** 16, 32 or 64: the code size the decoder assumes (CS.D / CS.L, or real mode). */
export type Bitness = 16 | 32 | 64;

/** Kind of one operand (`op0Kind` ... `op4Kind`). */
export const OpKind = {
  /** No operand in this slot. */
  None: 0,
  /** `opNRegister` holds the register. */
  Register: 1,
  /** A ModRM/SIB/moffs/implicit memory operand: see the `mem*` fields. */
  Memory: 2,
  /** `immediate` holds an unsigned 8-bit value. */
  Immediate8: 3,
  /** `immediate` holds an unsigned 16-bit value. */
  Immediate16: 4,
  /** `immediate` holds an unsigned 32-bit value. */
  Immediate32: 5,
  /** `immediate` holds the low 32 bits (unsigned), `immediateHi` the high 32 bits (unsigned). */
  Immediate64: 6,
  /** imm8 sign-extended to 16 bits: `immediate` holds the signed value (-128..127). */
  Immediate8to16: 7,
  /** imm8 sign-extended to 32 bits: `immediate` holds the signed value (-128..127). */
  Immediate8to32: 8,
  /** imm8 sign-extended to 64 bits: `immediate` holds the signed value (-128..127). */
  Immediate8to64: 9,
  /** imm32 sign-extended to 64 bits: `immediate` holds the signed value. */
  Immediate32to64: 10,
  /** The second immediate of ENTER / EXTRQ / INSERTQ (`immediate2`, unsigned 8-bit). */
  Immediate8_2nd: 11,
  /** Relative branch: `branchDisplacement` (signed) and `nearBranchTarget` (masked to operand size). */
  NearBranch: 12,
  /** Direct far branch `ptr16:16/32`: `farBranchSelector` and `farBranchOffset`. */
  FarBranch: 13,
  /** String source `seg:[rSI]` (segment in `memSegment`, register width from `addressSize`). */
  MemorySegRSI: 14,
  /** String destination `es:[rDI]` (never overridable). */
  MemoryESRDI: 15,
  /** MASKMOVQ / MASKMOVDQU destination `seg:[rDI]`. */
  MemorySegRDI: 16,
} as const;
export type OpKind = (typeof OpKind)[keyof typeof OpKind];

/** Why an instruction is invalid (`Instruction.error`). `None` means the decode succeeded. */
export const DecodeError = {
  None: 0,
  /** Not a valid encoding in this mode (undefined opcode, bad prefix combination, LOCK not allowed...). */
  InvalidInstruction: 1,
  /** The bytes ended before the instruction did. `length` is the number of bytes that were available. */
  NoMoreBytes: 2,
  /** The instruction would be longer than 15 bytes (#GP on hardware). */
  TooLong: 3,
  /** A well-formed EVEX (AVX-512) instruction: `length` is correct, the contents are not decoded. */
  EvexNotSupported: 4,
} as const;
export type DecodeError = (typeof DecodeError)[keyof typeof DecodeError];

/** `Instruction.repPrefix`. */
export const RepPrefix = { None: 0, Rep: 1, Repne: 2 } as const;
export type RepPrefix = (typeof RepPrefix)[keyof typeof RepPrefix];

/** Bits of `Instruction.prefixes`: every prefix byte that was present, whether or not it was meaningful. */
export const Prefix = {
  Es: 0x1,
  Cs: 0x2,
  Ss: 0x4,
  Ds: 0x8,
  Fs: 0x10,
  Gs: 0x20,
  OperandSize: 0x40,
  AddressSize: 0x80,
  Lock: 0x100,
  Rep: 0x200,
  Repne: 0x400,
  /** A REX prefix that took effect (the last prefix before the opcode, 64-bit mode only). */
  Rex: 0x800,
  Vex2: 0x1000,
  Vex3: 0x2000,
  Evex: 0x4000,
  /** The last segment prefix byte was 2E (branch hint "not taken" on Jcc). */
  LastSegCs: 0x8000,
  /** The last segment prefix byte was 3E (branch hint "taken" on Jcc, NOTRACK on indirect branches). */
  LastSegDs: 0x10000,
} as const;

/** Architectural RFLAGS bit values, as used by `flagsRead`, `flagsWritten` and `flagsUndefined`. */
export const Flag = {
  CF: 0x1,
  PF: 0x4,
  AF: 0x10,
  ZF: 0x40,
  SF: 0x80,
  TF: 0x100,
  IF: 0x200,
  DF: 0x400,
  OF: 0x800,
  AC: 0x40000,
} as const;

/** What the instruction does to control flow (same classes as iced-x86's FlowControl). */
export const FlowControl = {
  Next: 0,
  UnconditionalBranch: 1,
  IndirectBranch: 2,
  ConditionalBranch: 3,
  Return: 4,
  Call: 5,
  IndirectCall: 6,
  Interrupt: 7,
  XbeginXabortXend: 8,
  Exception: 9,
} as const;
export type FlowControl = (typeof FlowControl)[keyof typeof FlowControl];

/**
 * One decoded instruction. Create once, reuse with `decodeInto`. All fields are rewritten by every decode.
 *
 * Address-like values (`ip`, `nextIp`, `nearBranchTarget`) are JS numbers. 64-bit addresses use the
 * canonical signed form (0xffff_ffff_8100_0000 is -0x7f00_0000), which is exact for every canonical
 * address; 16/32-bit addresses are unsigned.
 */
export class Instruction {
  // The fields an interpreter reads for the common instructions come first, so that they share the
  // object's first cache lines (V8 lays fields out in declaration order); the order is not API.

  /** Length in bytes (1..15). For errors: bytes consumed before the error was detected (at least 1). */
  length = 0;
  /** Register of operand N when its kind is `OpKind.Register`, else `Register.None`. */
  op0Register = 0;
  /** See `op0Register`. */
  op1Register = 0;
  /** First immediate; see `OpKind` for signedness. */
  immediate = 0;
  /** Signed displacement as encoded (RIP-relative: relative to `nextIp`). moffs64: low 32 bits, see `memDisplacementHi`. */
  memDisplacement = 0;
  /** Memory operand (at most one per instruction). Base register or `Register.None`; RIP-relative uses `Register.RIP`/`EIP`. */
  memBase = 0;
  /** Index register or `Register.None` (VSIB: an XMM/YMM register). */
  memIndex = 0;
  /** 1, 2, 4 or 8. */
  memScale = 1;
  /** Segment the memory operand uses: the override if any, else DS or SS (rBP/rSP base) or ES (string destination). */
  memSegment = 0;
  /** Signed relative displacement of a near branch. */
  branchDisplacement = 0;
  /** Kind of operand N (`OpKind`). */
  op0Kind: OpKind = OpKind.None;
  /** See `op0Kind`. */
  op1Kind: OpKind = OpKind.None;
  /** See `op0Register`. */
  op2Register = 0;
  /** See `op0Kind`. */
  op2Kind: OpKind = OpKind.None;
  /** Effective address size in bits (16, 32 or 64) after the 67 prefix. */
  addressSize = 32;
  /** Effective operand size in bits (16, 32 or 64) after 66/REX.W/default-64 rules. */
  operandSize = 32;
  /** Code size the instruction was decoded with. */
  bitness: Bitness = 64;
  /** Exact encoding form (`Code.Add_rm32_imm8`), a small dense integer: index handler tables with it. 0 = INVALID. */
  code = 0;

  /** Mnemonic (`Mnemonic.Add`), a small dense integer. 0 = INVALID. */
  mnemonic = 0;
  /** `DecodeError.None` when valid. */
  error: DecodeError = DecodeError.None;
  /** Address of the first byte. */
  ip = 0;
  /** `ip + length`, wrapped to the bitness (16/32) or in canonical signed form (64). */
  nextIp = 0;
  /** `Prefix` bits of every prefix byte seen. */
  prefixes = 0;
  /** Segment override prefix that applies (`Register.ES`...`Register.GS`) or `Register.None`. */
  segmentPrefix = 0;
  /** `RepPrefix.Rep` (F3) / `RepPrefix.Repne` (F2) when the prefix is present and not mandatory. */
  repPrefix: RepPrefix = RepPrefix.None;
  /** LOCK prefix present (and valid: the decoder rejects LOCK where it is not allowed). */
  lock = false;
  /** Number of operands (0..5), in Intel order (destination first). */
  opCount = 0;
  /** See `op0Kind`. */
  op3Kind: OpKind = OpKind.None;
  op4Kind: OpKind = OpKind.None;
  /** See `op0Register`. */
  op3Register = 0;
  op4Register = 0;
  /** High 32 bits of a 64-bit moffs displacement (A0-A3 with 64-bit addressing), else the sign extension (0 or -1). */
  memDisplacementHi = 0;
  /** Size in bytes of the encoded displacement: 0, 1, 2, 4 or 8. */
  memDisplSize = 0;
  /** Size in bytes of the memory access (0 when unknown or not a plain access, e.g. LEA, FXSAVE). */
  memSize = 0;
  /** High 32 bits for `Immediate64`, else the sign extension of `immediate` (0 or -1). */
  immediateHi = 0;
  /** Second immediate (ENTER's nesting level, EXTRQ/INSERTQ's index). */
  immediate2 = 0;
  /** Branch target: `nextIp + branchDisplacement`, wrapped to the operand size. */
  nearBranchTarget = 0;
  farBranchSelector = 0;
  farBranchOffset = 0;
  /** CPUID feature the instruction needs (`CpuidFeature.SSE2`...), for #UD per CPU model. */
  cpuidFeature = 0;
  /** Second CPUID feature when two are needed (e.g. AES + AVX for VAESENC), else 0. */
  cpuidFeature2 = 0;
  /** `Flag` bits read. */
  flagsRead = 0;
  /** `Flag` bits written (set, cleared, computed or left undefined). */
  flagsWritten = 0;
  /** `Flag` bits left undefined (a subset of `flagsWritten`). */
  flagsUndefined = 0;
  /** Control-flow class. */
  flowControl: FlowControl = FlowControl.Next;
  /**
   * True when a translation block must end after this instruction: any branch/call/return/interrupt,
   * and instructions that change how later bytes decode or execute (mode, paging, descriptor tables,
   * MSRs, HLT, VMX transitions). See README "Ends a block".
   */
  endsBlock = false;
  /** ModRM byte (-1 when there is none). Useful for group opcodes and for the encoder. */
  modrm = -1;

  /** Operand N's kind (0..4). */
  opKind(n: number): OpKind {
    switch (n) {
      case 0:
        return this.op0Kind;
      case 1:
        return this.op1Kind;
      case 2:
        return this.op2Kind;
      case 3:
        return this.op3Kind;
      case 4:
        return this.op4Kind;
      default:
        return OpKind.None;
    }
  }

  /** Operand N's register (0..4), `Register.None` if it is not a register operand. */
  opRegister(n: number): number {
    switch (n) {
      case 0:
        return this.op0Register;
      case 1:
        return this.op1Register;
      case 2:
        return this.op2Register;
      case 3:
        return this.op3Register;
      case 4:
        return this.op4Register;
      default:
        return 0;
    }
  }

  /** Valid instruction (no `error`). */
  get isValid(): boolean {
    return this.error === DecodeError.None;
  }

  /** Copies every field from `src` (for callers that keep a decoded instruction past the next decode). */
  copyFrom(src: Instruction): this {
    Object.assign(this, src);
    return this;
  }

  /** A fresh copy. */
  clone(): Instruction {
    return new Instruction().copyFrom(this);
  }
}

/*
 * Field representation. V8 keeps a number field that has ever held a value outside the 32-bit Smi range
 * (an unsigned imm32 such as 0xfffff000, a branch target in a 32-bit kernel) as a separate heap number
 * in every instance of the class, read through a second pointer: one more cache miss for each read of a
 * cold decoded instruction, 16 bytes more per field. Storing a non-number in the fields that hold
 * mostly small values, once, here, before any instruction is decoded, makes them tagged instead: a
 * small value sits in the object and only a large one is boxed (allocated when decoded). `ip` and
 * `nextIp` stay as they are: in a 32-bit kernel they are always large, and a decode then overwrites
 * their heap numbers in place rather than allocating new ones. Values and types are unchanged.
 */
const tagged = new Instruction() as unknown as Record<string, unknown>;
for (const k of ['immediate', 'immediateHi', 'nearBranchTarget', 'farBranchOffset']) tagged[k] = null;
