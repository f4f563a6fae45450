/**
 * Builders for the VM-exit information that is more than a number: exit qualifications (SDM Vol. 3C
 * 28.2.1) and the VM-exit instruction-information field (28.2.5). Each returns the 32-bit value the
 * VMCS field receives; bits the SDM calls "undefined" are written as 0.
 */

// ---- exit qualification: debug exceptions (Table 28-1) ----

export interface DebugQualification {
  /** B3..B0 as a 4-bit mask: which breakpoint conditions were met. */
  readonly breakpoints?: number;
  /** BD: a debug-register access was detected (DR7.GD). */
  readonly bd?: boolean;
  /** BS: single-step (RFLAGS.TF) or branch trace. */
  readonly bs?: boolean;
  /** RTM: the #DB was inside an RTM region. */
  readonly rtm?: boolean;
}

export function debugExceptionQualification(q: DebugQualification): number {
  return (
    ((q.breakpoints ?? 0) & 0xf) |
    (q.bd === true ? 1 << 13 : 0) |
    (q.bs === true ? 1 << 14 : 0) |
    (q.rtm === true ? 1 << 16 : 0)
  );
}

// ---- exit qualification: task switch (Table 28-2) ----

export const TaskSwitchSource = { Call: 0, Iret: 1, Jmp: 2, IdtTaskGate: 3 } as const;
export type TaskSwitchSource = (typeof TaskSwitchSource)[keyof typeof TaskSwitchSource];

export function taskSwitchQualification(selector: number, source: TaskSwitchSource): number {
  return ((selector & 0xffff) | (source << 30)) >>> 0;
}

// ---- exit qualification: control-register accesses (Table 28-3) ----

export const CrAccessType = { MovToCr: 0, MovFromCr: 1, Clts: 2, Lmsw: 3 } as const;
export type CrAccessType = (typeof CrAccessType)[keyof typeof CrAccessType];

/** MOV to/from CR0, CR3, CR4 or CR8 with general-purpose register `gpr` (0 = RAX ... 15 = R15). */
export function crAccessQualification(
  cr: number,
  type: typeof CrAccessType.MovToCr | typeof CrAccessType.MovFromCr,
  gpr: number,
): number {
  return (cr & 0xf) | (type << 4) | ((gpr & 0xf) << 8);
}

/** CLTS (always CR0). */
export function cltsQualification(): number {
  return CrAccessType.Clts << 4;
}

/**
 * LMSW with source data `value` (16 bits). A memory operand sets bit 6; its linear address goes to
 * the guest-linear-address field.
 */
export function lmswQualification(value: number, memoryOperand: boolean): number {
  return ((CrAccessType.Lmsw << 4) | (memoryOperand ? 1 << 6 : 0) | ((value & 0xffff) << 16)) >>> 0;
}

// ---- exit qualification: MOV DR (Table 28-4) ----

export const DrDirection = { MovToDr: 0, MovFromDr: 1 } as const;
export type DrDirection = (typeof DrDirection)[keyof typeof DrDirection];

export function movDrQualification(dr: number, direction: DrDirection, gpr: number): number {
  return (dr & 7) | (direction << 4) | ((gpr & 0xf) << 8);
}

// ---- exit qualification: I/O instructions (Table 28-5) ----

export interface IoQualification {
  readonly port: number;
  /** Access size in bytes. */
  readonly size: 1 | 2 | 4;
  readonly direction: 'in' | 'out';
  /** INS/OUTS. */
  readonly string?: boolean;
  /** REP prefix. */
  readonly rep?: boolean;
  /** The port came from an immediate (IN/OUT imm8) rather than DX. */
  readonly immediate?: boolean;
}

export function ioQualification(q: IoQualification): number {
  return (
    ((q.size - 1) |
      (q.direction === 'in' ? 1 << 3 : 0) |
      (q.string === true ? 1 << 4 : 0) |
      (q.rep === true ? 1 << 5 : 0) |
      (q.immediate === true ? 1 << 6 : 0) |
      ((q.port & 0xffff) << 16)) >>>
    0
  );
}

/** The fields of an I/O exit qualification, for the handler side. */
export function decodeIoQualification(qual: number): Required<IoQualification> {
  return {
    port: qual >>> 16,
    size: ((qual & 7) + 1) as 1 | 2 | 4,
    direction: (qual & 8) !== 0 ? 'in' : 'out',
    string: (qual & 0x10) !== 0,
    rep: (qual & 0x20) !== 0,
    immediate: (qual & 0x40) !== 0,
  };
}

// ---- exit qualification: EPT violations (Table 28-7) ----

export interface EptViolationQualification {
  readonly read?: boolean;
  readonly write?: boolean;
  readonly fetch?: boolean;
  /** The effective read/write/execute permissions of the guest-physical address (AND over the walk). */
  readonly readable?: boolean;
  readonly writable?: boolean;
  readonly executable?: boolean;
  /** The guest-linear-address field is valid. */
  readonly linearAddressValid?: boolean;
  /**
   * With `linearAddressValid`: true when the access was to the translation of the linear address,
   * false when it was to a guest paging-structure entry.
   */
  readonly translatedAccess?: boolean;
  /** NMI unblocking due to IRET (SDM 28.2.3). */
  readonly nmiUnblockingDueToIret?: boolean;
}

export const EptViolationBits = {
  Read: 1 << 0,
  Write: 1 << 1,
  Fetch: 1 << 2,
  Readable: 1 << 3,
  Writable: 1 << 4,
  Executable: 1 << 5,
  LinearAddressValid: 1 << 7,
  TranslatedAccess: 1 << 8,
  NmiUnblockingDueToIret: 1 << 12,
} as const;

export function eptViolationQualification(q: EptViolationQualification): number {
  const b = EptViolationBits;
  let v = 0;
  if (q.read === true) v |= b.Read;
  if (q.write === true) v |= b.Write;
  if (q.fetch === true) v |= b.Fetch;
  if (q.readable === true) v |= b.Readable;
  if (q.writable === true) v |= b.Writable;
  if (q.executable === true) v |= b.Executable;
  if (q.linearAddressValid === true) {
    v |= b.LinearAddressValid;
    if (q.translatedAccess === true) v |= b.TranslatedAccess;
  }
  if (q.nmiUnblockingDueToIret === true) v |= b.NmiUnblockingDueToIret;
  return v;
}

// ---- instruction information (SDM 28.2.5, Tables 28-8 .. 28-14) ----

/** Segment register numbers as the instruction-information field encodes them. */
export const SegmentReg = { ES: 0, CS: 1, SS: 2, DS: 3, FS: 4, GS: 5 } as const;
export type SegmentReg = (typeof SegmentReg)[keyof typeof SegmentReg];

export type AddressSize = 16 | 32 | 64;

const ADDRESS_SIZE_CODE: Record<AddressSize, number> = { 16: 0, 32: 1, 64: 2 };
const SCALE_CODE: Record<1 | 2 | 4 | 8, number> = { 1: 0, 2: 1, 4: 2, 8: 3 };

/** A memory operand: `segment:[base + index*scale + disp]` (the displacement goes to the qualification). */
export interface MemoryOperand {
  readonly kind: 'memory';
  readonly segment: SegmentReg;
  readonly addressSize: AddressSize;
  /** General-purpose register number 0..15, or null when there is none. */
  readonly base: number | null;
  readonly index: number | null;
  readonly scale: 1 | 2 | 4 | 8;
}

/** A register operand: general-purpose register number 0..15. */
export interface RegisterOperand {
  readonly kind: 'register';
  readonly reg: number;
}

export type Operand = MemoryOperand | RegisterOperand;

/** Scaling, address size, segment, index and base bits shared by the memory-operand formats. */
function memoryBits(m: MemoryOperand): number {
  return (
    SCALE_CODE[m.scale] |
    (ADDRESS_SIZE_CODE[m.addressSize] << 7) |
    (m.segment << 15) |
    (m.index === null ? 1 << 22 : (m.index & 0xf) << 18) |
    (m.base === null ? 1 << 27 : (m.base & 0xf) << 23)
  );
}

/** INS/OUTS (Table 28-8): address size, and for OUTS the source segment (INS always uses ES). */
export function insOutsInstructionInfo(addressSize: AddressSize, segment: SegmentReg): number {
  return (ADDRESS_SIZE_CODE[addressSize] << 7) | (segment << 15);
}

/** INVEPT, INVPCID, INVVPID (Table 28-9): memory operand plus the register operand (type) in Reg2. */
export function invInstructionInfo(m: MemoryOperand, reg2: number): number {
  return (memoryBits(m) | ((reg2 & 0xf) << 28)) >>> 0;
}

export const DescriptorTableInstruction = { Sgdt: 0, Sidt: 1, Lgdt: 2, Lidt: 3 } as const;
export type DescriptorTableInstruction =
  (typeof DescriptorTableInstruction)[keyof typeof DescriptorTableInstruction];

/** LGDT, LIDT, SGDT, SIDT (Table 28-10). `operandSize` is 16 or 32 (64-bit mode reports 32). */
export function descriptorTableInstructionInfo(
  m: MemoryOperand,
  operandSize: 16 | 32,
  instruction: DescriptorTableInstruction,
): number {
  return (memoryBits(m) | (operandSize === 32 ? 1 << 11 : 0) | (instruction << 28)) >>> 0;
}

export const SegmentTableInstruction = { Sldt: 0, Str: 1, Lldt: 2, Ltr: 3 } as const;
export type SegmentTableInstruction = (typeof SegmentTableInstruction)[keyof typeof SegmentTableInstruction];

/** LLDT, LTR, SLDT, STR (Table 28-11): a register or memory operand. */
export function segmentTableInstructionInfo(op: Operand, instruction: SegmentTableInstruction): number {
  const opBits = op.kind === 'register' ? ((op.reg & 0xf) << 3) | (1 << 10) : memoryBits(op);
  return (opBits | (instruction << 28)) >>> 0;
}

/** RDRAND, RDSEED, TPAUSE, UMWAIT (Table 28-12): destination/source register and operand size. */
export function registerInstructionInfo(reg: number, operandSize: 16 | 32 | 64): number {
  return ((reg & 0xf) << 3) | ((operandSize === 16 ? 0 : operandSize === 32 ? 1 : 2) << 11);
}

/** VMCLEAR, VMPTRLD, VMPTRST, VMXON, XRSTORS, XSAVES (Table 28-13): the memory operand. */
export function memoryInstructionInfo(m: MemoryOperand): number {
  return memoryBits(m) >>> 0;
}

/**
 * VMREAD, VMWRITE (Table 28-14): Reg1/memory is the VMREAD destination or VMWRITE source; Reg2 is
 * the register holding the field encoding.
 */
export function vmreadVmwriteInstructionInfo(op: Operand, reg2: number): number {
  const opBits = op.kind === 'register' ? ((op.reg & 0xf) << 3) | (1 << 10) : memoryBits(op);
  return (opBits | ((reg2 & 0xf) << 28)) >>> 0;
}
