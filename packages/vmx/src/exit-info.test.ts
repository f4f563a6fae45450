import { describe, expect, it } from 'vitest';
import {
  CrAccessType,
  DescriptorTableInstruction,
  DrDirection,
  SegmentReg,
  SegmentTableInstruction,
  TaskSwitchSource,
  cltsQualification,
  crAccessQualification,
  debugExceptionQualification,
  decodeIoQualification,
  descriptorTableInstructionInfo,
  eptViolationQualification,
  insOutsInstructionInfo,
  invInstructionInfo,
  ioQualification,
  lmswQualification,
  memoryInstructionInfo,
  movDrQualification,
  registerInstructionInfo,
  segmentTableInstructionInfo,
  taskSwitchQualification,
  vmreadVmwriteInstructionInfo,
} from './exit-info.js';
import {
  ExitReason,
  InterruptionType,
  VmInstructionError,
  entryFailureExitReason,
  exceptionHasErrorCode,
  exitReasonName,
  interruptionHasErrorCode,
  interruptionType,
  interruptionValid,
  interruptionVector,
  makeInterruptionInfo,
} from './exit-reasons.js';

describe('exit reasons and error numbers', () => {
  it('number the basic exit reasons as SDM Appendix C does', () => {
    expect(ExitReason.ExceptionOrNmi).toBe(0);
    expect(ExitReason.TripleFault).toBe(2);
    expect(ExitReason.Cpuid).toBe(10);
    expect(ExitReason.Hlt).toBe(12);
    expect(ExitReason.Vmcall).toBe(18);
    expect(ExitReason.CrAccess).toBe(28);
    expect(ExitReason.IoInstruction).toBe(30);
    expect(ExitReason.EntryFailureGuestState).toBe(33);
    expect(ExitReason.Mwait).toBe(36);
    expect(ExitReason.EptViolation).toBe(48);
    expect(ExitReason.PreemptionTimerExpired).toBe(52);
    expect(ExitReason.Xsaves).toBe(63);
    expect(ExitReason.Wrmsrlist).toBe(79);
    const values = Object.values(ExitReason);
    expect(new Set(values).size).toBe(values.length);
    for (const gap of [35, 38, 42]) expect(values).not.toContain(gap);
    expect(values.length).toBe(77);
  });

  it('name exit reasons and flag VM-entry failures in bit 31', () => {
    expect(exitReasonName(12)).toBe('Hlt');
    expect(exitReasonName(35)).toBe('reserved(35)');
    expect(entryFailureExitReason(33)).toBe(0x8000_0021);
  });

  it('number VM-instruction errors as SDM Table 31-1 does', () => {
    expect(VmInstructionError.VmcallInRoot).toBe(1);
    expect(VmInstructionError.EntryInvalidControlFields).toBe(7);
    expect(VmInstructionError.EntryInvalidHostStateFields).toBe(8);
    expect(VmInstructionError.UnsupportedVmcsComponent).toBe(12);
    expect(VmInstructionError.VmwriteReadOnlyComponent).toBe(13);
    expect(VmInstructionError.VmxonInRoot).toBe(15);
    expect(VmInstructionError.EntryEventsBlockedByMovSs).toBe(26);
    expect(VmInstructionError.InvalidInveptInvvpidOperand).toBe(28);
  });
});

describe('interruption information', () => {
  it('packs vector, type, error-code and valid bits', () => {
    const pf = makeInterruptionInfo(14, InterruptionType.HardwareException, true);
    expect(pf).toBe(0x8000_0b0e);
    expect(interruptionValid(pf)).toBe(true);
    expect(interruptionVector(pf)).toBe(14);
    expect(interruptionType(pf)).toBe(3);
    expect(interruptionHasErrorCode(pf)).toBe(true);
    expect(makeInterruptionInfo(2, InterruptionType.Nmi, false, true)).toBe(0x8000_1202);
    expect(makeInterruptionInfo(0x80, InterruptionType.SoftwareInterrupt)).toBe(0x8000_0480);
  });

  it('knows which exceptions push an error code', () => {
    expect([...Array(32).keys()].filter(exceptionHasErrorCode)).toEqual([8, 10, 11, 12, 13, 14, 17]);
  });
});

describe('exit qualifications', () => {
  it('debug exceptions: B0-B3, BD, BS, RTM', () => {
    expect(debugExceptionQualification({ breakpoints: 0b0101, bs: true })).toBe(0x4005);
    expect(debugExceptionQualification({ bd: true, rtm: true })).toBe(0x1_2000);
  });

  it('task switch: selector and source in bits 31:30', () => {
    expect(taskSwitchQualification(0x28, TaskSwitchSource.IdtTaskGate)).toBe(0xc000_0028);
    expect(taskSwitchQualification(0x30, TaskSwitchSource.Iret)).toBe(0x4000_0030);
  });

  it('CR access: MOV to CR3 from RBX, MOV from CR8 to R9, CLTS, LMSW', () => {
    expect(crAccessQualification(3, CrAccessType.MovToCr, 3)).toBe(0x303);
    expect(crAccessQualification(8, CrAccessType.MovFromCr, 9)).toBe(0x918);
    expect(cltsQualification()).toBe(0x20);
    expect(lmswQualification(0x000f, true)).toBe(0x000f_0070);
    expect(lmswQualification(0xfff1, false)).toBe(0xfff1_0030);
  });

  it('MOV DR: MOV DR7 <- RAX, MOV RCX <- DR6', () => {
    expect(movDrQualification(7, DrDirection.MovToDr, 0)).toBe(0x7);
    expect(movDrQualification(6, DrDirection.MovFromDr, 1)).toBe(0x116);
  });

  it('I/O: OUT DX, AL to 0x3f8; REP INSW from port 0x1f0; IN EAX, 0x71', () => {
    expect(ioQualification({ port: 0x3f8, size: 1, direction: 'out' })).toBe(0x03f8_0000);
    expect(ioQualification({ port: 0x1f0, size: 2, direction: 'in', string: true, rep: true })).toBe(
      0x01f0_0039,
    );
    const q = ioQualification({ port: 0x71, size: 4, direction: 'in', immediate: true });
    expect(q).toBe(0x0071_004b);
    expect(decodeIoQualification(q)).toEqual({
      port: 0x71,
      size: 4,
      direction: 'in',
      string: false,
      rep: false,
      immediate: true,
    });
  });

  it('EPT violation: a write to a read-only page through a linear-address translation', () => {
    expect(
      eptViolationQualification({
        write: true,
        readable: true,
        executable: true,
        linearAddressValid: true,
        translatedAccess: true,
      }),
    ).toBe(0x1aa);
    // bit 8 only has meaning when bit 7 is set
    expect(eptViolationQualification({ fetch: true, translatedAccess: true })).toBe(0x4);
    expect(eptViolationQualification({ read: true, nmiUnblockingDueToIret: true })).toBe(0x1001);
  });
});

describe('instruction information', () => {
  const mem64 = {
    kind: 'memory',
    segment: SegmentReg.DS,
    addressSize: 64,
    base: 3,
    index: 6,
    scale: 4,
  } as const;
  const noIndex = {
    kind: 'memory',
    segment: SegmentReg.SS,
    addressSize: 32,
    base: 5,
    index: null,
    scale: 1,
  } as const;

  it('INS/OUTS: address size and segment', () => {
    expect(insOutsInstructionInfo(64, SegmentReg.FS)).toBe((2 << 7) | (4 << 15));
  });

  it('VMCLEAR-style memory operands: scale, address size, segment, index, base and the invalid flags', () => {
    expect(memoryInstructionInfo(mem64)).toBe(2 | (2 << 7) | (3 << 15) | (6 << 18) | (3 << 23));
    expect(memoryInstructionInfo(noIndex)).toBe((1 << 7) | (2 << 15) | (1 << 22) | (5 << 23));
  });

  it('INVEPT/INVVPID/INVPCID: Reg2 holds the type register', () => {
    expect(invInstructionInfo(mem64, 12) >>> 28).toBe(12);
  });

  it('LGDT/SIDT: operand size and instruction identity', () => {
    const v = descriptorTableInstructionInfo(noIndex, 32, DescriptorTableInstruction.Lidt);
    expect((v >>> 11) & 1).toBe(1);
    expect((v >>> 28) & 3).toBe(3);
  });

  it('LLDT/STR: register operand in Reg1 with bit 10 set', () => {
    const v = segmentTableInstructionInfo({ kind: 'register', reg: 2 }, SegmentTableInstruction.Str);
    expect(v).toBe((2 << 3) | (1 << 10) | (1 << 28));
  });

  it('RDRAND/RDSEED: destination register and operand size', () => {
    expect(registerInstructionInfo(9, 64)).toBe((9 << 3) | (2 << 11));
    expect(registerInstructionInfo(0, 16)).toBe(0);
  });

  it('VMREAD/VMWRITE: Reg1 or memory, and Reg2 with the field encoding', () => {
    expect(vmreadVmwriteInstructionInfo({ kind: 'register', reg: 1 }, 0)).toBe((1 << 3) | (1 << 10));
    expect(vmreadVmwriteInstructionInfo(mem64, 15) >>> 0).toBe(
      (memoryInstructionInfo(mem64) | (15 << 28)) >>> 0,
    );
  });
});
