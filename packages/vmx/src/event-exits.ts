/**
 * The VM-exit information of the exits the CPU reports with a decoded instruction or an event: the
 * exit qualification and VM-exit instruction information of MOV DR, the descriptor-table
 * instructions and the VMX instructions (SDM Vol. 3C 28.2.1, 28.2.5), the exit qualification of an
 * exception exit (#PF: the linear address; #DB: the DR6 bits, Table 28-1), and the interruption
 * information of an event being delivered (for IDT-vectoring information, 28.2.4).
 *
 * The CPU's decoded instruction is read through {@link DecodedInstruction}, a structural view of
 * `@typevisor/x86-decoder`'s `Instruction`, so this package needs the decoder only in its tests.
 */
import {
  type AddressSize,
  DescriptorTableInstruction,
  DrDirection,
  type MemoryOperand,
  type Operand,
  type SegmentReg,
  SegmentTableInstruction,
  descriptorTableInstructionInfo,
  invInstructionInfo,
  memoryInstructionInfo,
  movDrQualification,
  segmentTableInstructionInfo,
  vmreadVmwriteInstructionInfo,
} from './exit-info.js';
import { ExitReason, InterruptionType, exceptionHasErrorCode, makeInterruptionInfo } from './exit-reasons.js';

/** The fields of a decoded instruction the exit information needs. */
export interface DecodedInstruction {
  readonly length: number;
  readonly addressSize: number;
  readonly operandSize: number;
  readonly op0Kind: number;
  readonly op1Kind: number;
  readonly op0Register: number;
  readonly op1Register: number;
  readonly memBase: number;
  readonly memIndex: number;
  readonly memScale: number;
  readonly memSegment: number;
  readonly memDisplacement: number;
}

/**
 * Register numbers of `@typevisor/x86-decoder` (`Register`): classes are consecutive in encoding
 * order (AX..R15W, EAX..R15D, RAX..R15, ES..GS, DR0..DR15). `event-exits.test.ts` checks them.
 */
export const DecoderRegister = { AX: 21, EAX: 37, RAX: 53, ES: 71, DR0: 141 } as const;
/** `OpKind.Register` and `OpKind.Memory` of the decoder. */
export const DecoderOpKind = { Register: 1, Memory: 2 } as const;

/** General-purpose register number 0..15 of a decoder register (16, 32 or 64 bits); null for none. */
export function gprNumber(reg: number): number | null {
  if (reg >= DecoderRegister.AX && reg < DecoderRegister.AX + 16) return reg - DecoderRegister.AX;
  if (reg >= DecoderRegister.EAX && reg < DecoderRegister.EAX + 16) return reg - DecoderRegister.EAX;
  if (reg >= DecoderRegister.RAX && reg < DecoderRegister.RAX + 16) return reg - DecoderRegister.RAX;
  return null;
}

/** The memory operand of `ins` in the instruction-information form. */
export function memoryOperandOf(ins: DecodedInstruction): MemoryOperand {
  const scale = ins.memScale === 2 || ins.memScale === 4 || ins.memScale === 8 ? ins.memScale : 1;
  return {
    kind: 'memory',
    segment: ((ins.memSegment - DecoderRegister.ES) & 7) as SegmentReg,
    addressSize: (ins.addressSize === 16 || ins.addressSize === 64 ? ins.addressSize : 32) as AddressSize,
    base: gprNumber(ins.memBase),
    index: gprNumber(ins.memIndex),
    scale,
  };
}

/** Operand `slot` (0 or 1) of `ins`: memory, or a general-purpose register. */
export function operandOf(ins: DecodedInstruction, slot: 0 | 1): Operand {
  const kind = slot === 0 ? ins.op0Kind : ins.op1Kind;
  if (kind === DecoderOpKind.Memory) return memoryOperandOf(ins);
  return { kind: 'register', reg: gprNumber(slot === 0 ? ins.op0Register : ins.op1Register) ?? 0 };
}

/**
 * The exit qualification of the instructions whose operand is described by instruction information
 * (INVEPT ... VMXON, LGDT ... STR): the displacement, sign-extended to 64 bits, or 0 without a memory
 * operand. Writes bits 31:0 and 63:32 to `out`.
 */
export function displacementQualification(ins: DecodedInstruction, out: Uint32Array): void {
  const memory = ins.op0Kind === DecoderOpKind.Memory || ins.op1Kind === DecoderOpKind.Memory;
  const d = memory ? ins.memDisplacement | 0 : 0;
  out[0] = d >>> 0;
  out[1] = d < 0 ? 0xffff_ffff : 0;
}

/** The instructions of "descriptor-table exiting", as the CPU names them. */
export type DescriptorTableOperation = 'sgdt' | 'sidt' | 'lgdt' | 'lidt' | 'sldt' | 'str' | 'lldt' | 'ltr';

/**
 * The instructions whose exit has no instruction information: RDPMC, PAUSE, MONITOR, MWAIT (primary
 * controls), WBINVD (secondary), INVD and XSETBV (unconditional), by their `INSTRUCTION_RULES` names.
 */
export type PlainSensitiveOperation = 'rdpmc' | 'pause' | 'monitor' | 'mwait' | 'wbinvd' | 'invd' | 'xsetbv';

/** The instructions the CPU asks about in non-root operation (its `VmxSensitive`), as it names them. */
export type SensitiveOperation = 'movToDr' | 'movFromDr' | DescriptorTableOperation | PlainSensitiveOperation;

/** Exit reason of a sensitive instruction (SDM Appendix C). */
export function sensitiveExitReason(op: SensitiveOperation): ExitReason {
  switch (op) {
    case 'movToDr':
    case 'movFromDr':
      return ExitReason.MovDr;
    case 'sgdt':
    case 'sidt':
    case 'lgdt':
    case 'lidt':
      return ExitReason.GdtrIdtrAccess;
    case 'sldt':
    case 'str':
    case 'lldt':
    case 'ltr':
      return ExitReason.LdtrTrAccess;
    case 'rdpmc':
      return ExitReason.Rdpmc;
    case 'pause':
      return ExitReason.Pause;
    case 'monitor':
      return ExitReason.Monitor;
    case 'mwait':
      return ExitReason.Mwait;
    case 'wbinvd':
      return ExitReason.Wbinvd;
    case 'invd':
      return ExitReason.Invd;
    case 'xsetbv':
      return ExitReason.Xsetbv;
  }
}

/** MOV DR's exit qualification (Table 28-4): the debug register as encoded, direction, the GPR. */
export function movDrExitQualification(op: 'movToDr' | 'movFromDr', ins: DecodedInstruction): number {
  const toDr = op === 'movToDr';
  const dr = (toDr ? ins.op0Register : ins.op1Register) - DecoderRegister.DR0;
  const gpr = gprNumber(toDr ? ins.op1Register : ins.op0Register) ?? 0;
  return movDrQualification(dr, toDr ? DrDirection.MovToDr : DrDirection.MovFromDr, gpr);
}

const TABLE_INSTRUCTION: Record<'sgdt' | 'sidt' | 'lgdt' | 'lidt', DescriptorTableInstruction> = {
  sgdt: DescriptorTableInstruction.Sgdt,
  sidt: DescriptorTableInstruction.Sidt,
  lgdt: DescriptorTableInstruction.Lgdt,
  lidt: DescriptorTableInstruction.Lidt,
};
const SEGMENT_TABLE_INSTRUCTION: Record<'sldt' | 'str' | 'lldt' | 'ltr', SegmentTableInstruction> = {
  sldt: SegmentTableInstruction.Sldt,
  str: SegmentTableInstruction.Str,
  lldt: SegmentTableInstruction.Lldt,
  ltr: SegmentTableInstruction.Ltr,
};

/** VM-exit instruction information of a descriptor-table instruction (Tables 28-10, 28-11). */
export function descriptorTableExitInfo(op: DescriptorTableOperation, ins: DecodedInstruction): number {
  switch (op) {
    case 'sgdt':
    case 'sidt':
    case 'lgdt':
    case 'lidt':
      return descriptorTableInstructionInfo(
        memoryOperandOf(ins),
        ins.operandSize === 16 ? 16 : 32,
        TABLE_INSTRUCTION[op],
      );
    default:
      return segmentTableInstructionInfo(operandOf(ins, 0), SEGMENT_TABLE_INSTRUCTION[op]);
  }
}

/** The VMX instructions with instruction information, by the names of `VMX_INSTRUCTION_EXIT_REASON`. */
export type VmxInstructionName =
  | 'vmxon'
  | 'vmxoff'
  | 'vmclear'
  | 'vmptrld'
  | 'vmptrst'
  | 'vmread'
  | 'vmwrite'
  | 'vmlaunch'
  | 'vmresume'
  | 'vmcall'
  | 'invept'
  | 'invvpid';

/**
 * VM-exit instruction information of a VMX instruction (Tables 28-9, 28-13, 28-14); 0 for those
 * without (VMLAUNCH, VMRESUME, VMXOFF, VMCALL). VMREAD r/m, r: Reg2 is the field register; VMWRITE
 * r, r/m likewise; INVEPT/INVVPID r, m128: Reg2 is the type register.
 */
export function vmxInstructionInfo(name: VmxInstructionName, ins: DecodedInstruction): number {
  switch (name) {
    case 'vmxon':
    case 'vmclear':
    case 'vmptrld':
    case 'vmptrst':
      return memoryInstructionInfo(memoryOperandOf(ins));
    case 'vmread':
      return vmreadVmwriteInstructionInfo(operandOf(ins, 0), gprNumber(ins.op1Register) ?? 0);
    case 'vmwrite':
      return vmreadVmwriteInstructionInfo(operandOf(ins, 1), gprNumber(ins.op0Register) ?? 0);
    case 'invept':
    case 'invvpid':
      return invInstructionInfo(memoryOperandOf(ins), gprNumber(ins.op0Register) ?? 0);
    default:
      return 0;
  }
}

/** The DR6 bits a #DB exit reports (B3-B0, BD, BS; Table 28-1). */
export const DB_QUALIFICATION_BITS = 0xf | (1 << 13) | (1 << 14);

/** Exit qualification of an exception exit: the linear address for #PF, the DR6 bits for #DB, else 0. */
export function exceptionQualification(vector: number, cr2: number, dr6: number): number {
  if (vector === 14) return cr2 >>> 0;
  if (vector === 1) return dr6 & DB_QUALIFICATION_BITS;
  return 0;
}

/**
 * Interruption information of a hardware exception (type 3, or 2 for NMI) as an exit or
 * IDT-vectoring field reports it: the error code is valid when the vector has one and the processor
 * is in protected mode (real-mode delivery pushes none).
 */
export function exceptionInterruptionInfo(
  vector: number,
  protectedMode: boolean,
  nmiUnblockingDueToIret = false,
): number {
  if (vector === 2) return makeInterruptionInfo(2, InterruptionType.Nmi, false, nmiUnblockingDueToIret);
  return makeInterruptionInfo(
    vector,
    InterruptionType.HardwareException,
    protectedMode && exceptionHasErrorCode(vector),
    nmiUnblockingDueToIret,
  );
}
