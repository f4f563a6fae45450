import { OpKind, Register, assemble, decode } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DB_QUALIFICATION_BITS,
  DecoderOpKind,
  DecoderRegister,
  descriptorTableExitInfo,
  displacementQualification,
  exceptionInterruptionInfo,
  exceptionQualification,
  gprNumber,
  movDrExitQualification,
  vmxInstructionInfo,
} from './event-exits.js';

const decode32 = (source: string) => decode(assemble(source, { bitness: 32 }), 0, { bitness: 32 });

describe('the decoder view', () => {
  it('register and operand-kind numbers agree with @typevisor/x86-decoder', () => {
    expect(DecoderRegister).toEqual({
      AX: Register.AX,
      EAX: Register.EAX,
      RAX: Register.RAX,
      ES: Register.ES,
      DR0: Register.DR0,
    });
    expect(DecoderOpKind).toEqual({ Register: OpKind.Register, Memory: OpKind.Memory });
    expect(gprNumber(Register.EDI)).toBe(7);
    expect(gprNumber(Register.BX)).toBe(3);
    expect(gprNumber(Register.None)).toBeNull();
  });
});

const GPRS = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const;

describe('descriptor-table instruction information', () => {
  it('encodes any 32-bit memory operand so that its fields decode back (Table 28-10)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 7 }).filter((i) => i !== 4),
        fc.constantFrom(1, 2, 4, 8),
        fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
        fc.constantFrom('sgdt', 'sidt', 'lgdt', 'lidt'),
        (base, index, scale, disp, op) => {
          const sign = disp < 0 ? '-' : '+';
          const ins = decode32(`${op} [${GPRS[base]}+${GPRS[index]}*${scale}${sign}${Math.abs(disp)}]`);
          const info = descriptorTableExitInfo(op, ins);
          expect(info & 3).toBe(Math.log2(scale));
          expect((info >>> 7) & 7).toBe(1); // 32-bit address size
          expect((info >>> 15) & 7).toBe(base === 4 || base === 5 ? 2 : 3); // SS for ESP/EBP bases, else DS
          expect((info >>> 18) & 0xf).toBe(index);
          expect((info >>> 22) & 1).toBe(0);
          expect((info >>> 23) & 0xf).toBe(base);
          expect((info >>> 27) & 1).toBe(0);
          expect(info >>> 28).toBe(['sgdt', 'sidt', 'lgdt', 'lidt'].indexOf(op));
          const q = new Uint32Array(2);
          displacementQualification(ins, q);
          expect(q[0]).toBe(disp >>> 0);
          expect(q[1]).toBe(disp < 0 ? 0xffff_ffff : 0);
        },
      ),
    );
  });

  it('LLDT/LTR with a register operand set bit 10 and Reg1 (Table 28-11)', () => {
    expect(descriptorTableExitInfo('ltr', decode32('ltr si'))).toBe((6 << 3) | (1 << 10) | (3 << 28));
    expect(descriptorTableExitInfo('lldt', decode32('lldt word [0x1234]'))).toBe(
      (1 << 7) | (3 << 15) | (1 << 22) | (1 << 27) | (2 << 28),
    );
  });
});

describe('MOV DR and VMX instruction information', () => {
  it('MOV DR qualifications name the DR as encoded, the direction and the GPR (Table 28-4)', () => {
    expect(movDrExitQualification('movToDr', decode32('mov dr3, edi'))).toBe(3 | (7 << 8));
    expect(movDrExitQualification('movFromDr', decode32('mov ebx, dr7'))).toBe(7 | (1 << 4) | (3 << 8));
  });

  it('INVEPT reports its memory operand and the type register in Reg2 (Table 28-9); VMLAUNCH has none', () => {
    expect(vmxInstructionInfo('invept', decode32('invept edx, [eax+ebx*2]'))).toBe(
      1 | (1 << 7) | (3 << 15) | (3 << 18) | (0 << 23) | (2 << 28),
    );
    expect(vmxInstructionInfo('vmlaunch', decode32('vmlaunch'))).toBe(0);
  });
});

describe('exception exit fields', () => {
  it('#PF reports CR2, #DB the DR6 breakpoint/BD/BS bits, others 0', () => {
    expect(exceptionQualification(14, 0xdead_b000, 0)).toBe(0xdead_b000);
    expect(exceptionQualification(1, 0, 0xffff_4ff3)).toBe(0xffff_4ff3 & DB_QUALIFICATION_BITS);
    expect(exceptionQualification(13, 0x1234, 0xffff)).toBe(0);
  });

  it('error-code-valid follows the vector in protected mode only; NMI is type 2', () => {
    expect(exceptionInterruptionInfo(13, true)).toBe(0x8000_0b0d);
    expect(exceptionInterruptionInfo(13, false)).toBe(0x8000_030d);
    expect(exceptionInterruptionInfo(6, true, true)).toBe(0x8000_1306);
    expect(exceptionInterruptionInfo(2, true)).toBe(0x8000_0202);
  });
});
