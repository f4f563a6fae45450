import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, decodeAll, decodeInto } from './decoder.js';
import { formatInstruction } from './formatter.js';
import { DecodeError, Flag, FlowControl, Instruction, OpKind, Prefix, RepPrefix } from './instruction.js';
import { Register } from './registers.js';
import { Code, CpuidFeature, Mnemonic } from './table.gen.js';

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((x) => Number.parseInt(x, 16)));
const d = (bits: 16 | 32 | 64, s: string, ip = 0) => decode(hex(s), 0, { bitness: bits, ip });

describe('decoder', () => {
  it('decodes ADD r/m32, imm8 with its Code, operands, flags and feature', () => {
    const i = d(32, '83c0ff');
    expect(i.code).toBe(Code.Add_rm32_imm8);
    expect(i.mnemonic).toBe(Mnemonic.Add);
    expect(i.length).toBe(3);
    expect(i.op0Kind).toBe(OpKind.Register);
    expect(i.op0Register).toBe(Register.EAX);
    expect(i.op1Kind).toBe(OpKind.Immediate8to32);
    expect(i.immediate).toBe(-1);
    expect(i.flagsWritten & (Flag.CF | Flag.ZF | Flag.OF)).toBe(Flag.CF | Flag.ZF | Flag.OF);
    expect(i.cpuidFeature).toBe(CpuidFeature.INTEL386);
    expect(i.endsBlock).toBe(false);
  });

  it('one reused Instruction holds large and small values exactly, and a new one starts at its defaults', () => {
    // The immediate and branch-target fields are tagged (instruction.ts, "Field representation"): values
    // past 2^31 and small ones alternate in the same object without changing what reads see.
    const ins = new Instruction();
    decodeInto(ins, hex('2500f0ffff'), 0, 32, 0xc1000000); // and eax, 0xfffff000 at a kernel EIP
    expect([ins.immediate, ins.ip, ins.nextIp]).toEqual([0xfffff000, 0xc1000000, 0xc1000005]);
    decodeInto(ins, hex('83c005'), 0, 32, 0x1000); // add eax, 5
    expect([ins.immediate, ins.ip, ins.nextIp]).toEqual([5, 0x1000, 0x1003]);
    decodeInto(ins, hex('e9fbffffff'), 0, 32, 0xfffffff0); // jmp to itself, EIP near the top
    expect([ins.nearBranchTarget, ins.nextIp]).toEqual([0xfffffff0, 0xfffffff5]);
    const fresh = new Instruction();
    for (const [k, v] of Object.entries(fresh)) expect([k, v]).not.toContain(null);
    expect([fresh.immediate, fresh.ip, fresh.nextIp, fresh.nearBranchTarget, fresh.farBranchOffset]).toEqual([
      0, 0, 0, 0, 0,
    ]);
  });

  it('decoding into a reused Instruction gives what a new one gets, also for invalid encodings (fast-check)', () => {
    // The x86-cpu block cache decodes into reused objects and compares them with fresh decodes of the
    // same bytes; an invalid encoding once kept the operand and address size of the previous decode.
    const bytes = fc.uint8Array({ minLength: 1, maxLength: 16 });
    fc.assert(
      fc.property(
        bytes,
        bytes,
        fc.constantFrom(16, 32, 64),
        fc.constantFrom(16, 32, 64),
        (a, b, bitsA, bitsB) => {
          const reused = new Instruction();
          decodeInto(reused, a, 0, bitsA as 16 | 32 | 64, 0x1000);
          decodeInto(reused, b, 0, bitsB as 16 | 32 | 64, 0x2000);
          const fresh = new Instruction();
          decodeInto(fresh, b, 0, bitsB as 16 | 32 | 64, 0x2000);
          expect(reused).toEqual(fresh);
        },
      ),
      { numRuns: 5000 },
    );
    // The case that found it: 67 B8 (MOV EAX, imm32 with 16-bit addressing), then VEX C4 E4 (invalid).
    const ins = new Instruction();
    decodeInto(ins, hex('67b800000000'), 0, 32, 0);
    decodeInto(ins, hex('c4e4feac40b7'), 0, 32, 6);
    expect([ins.error, ins.addressSize, ins.operandSize]).toEqual([DecodeError.InvalidInstruction, 32, 32]);
  });

  it('REX turns AH..BH encodings into SPL..DIL', () => {
    expect(d(64, '88e0').op1Register).toBe(Register.AH);
    expect(d(64, '4088e0').op1Register).toBe(Register.SPL);
    expect(d(64, '4488c0').op1Register).toBe(Register.R8L);
  });

  it('a REX prefix followed by a legacy prefix is ignored', () => {
    const i = d(64, '486601c0');
    expect(i.code).toBe(Code.Add_rm16_r16);
    expect(i.prefixes & Prefix.Rex).toBe(0);
  });

  it('66 selects 16-bit operands and 67 16-bit addressing in 32-bit mode', () => {
    const i = d(32, '66678b00');
    expect(i.code).toBe(Code.Mov_r16_rm16);
    expect(i.operandSize).toBe(16);
    expect(i.addressSize).toBe(16);
    expect(i.memBase).toBe(Register.BX);
    expect(i.memIndex).toBe(Register.SI);
  });

  it('decodes SIB, displacement and segment override', () => {
    const i = d(64, '64488b84c810000000');
    expect(i.memBase).toBe(Register.RAX);
    expect(i.memIndex).toBe(Register.RCX);
    expect(i.memScale).toBe(8);
    expect(i.memDisplacement).toBe(0x10);
    expect(i.memSegment).toBe(Register.FS);
    expect(formatInstruction(i)).toBe('mov rax,fs:[rax+rcx*8+10h]');
  });

  it('RIP-relative operands keep the raw displacement', () => {
    const i = d(64, '488b0510000000', 0x1000);
    expect(i.memBase).toBe(Register.RIP);
    expect(i.memDisplacement).toBe(0x10);
    expect(formatInstruction(i)).toBe('mov rax,[1017h]');
  });

  it('computes branch targets and marks them as block ends', () => {
    const i = d(64, 'e8fbffffff', 0x401000);
    expect(i.flowControl).toBe(FlowControl.Call);
    expect(i.nearBranchTarget).toBe(0x401000);
    expect(i.endsBlock).toBe(true);
    expect(d(16, 'ebfe', 0x7c00).nearBranchTarget).toBe(0x7c00);
  });

  it('uses canonical signed numbers for high-half 64-bit addresses', () => {
    const i = d(64, 'ebfe', -0x7f000000);
    expect(i.nearBranchTarget).toBe(-0x7f000000);
    expect(formatInstruction(i)).toBe('jmp short 0FFFFFFFF81000000h');
  });

  it('rejects LOCK on a register destination and on non-lockable instructions', () => {
    expect(d(64, 'f001ce').error).toBe(DecodeError.InvalidInstruction);
    expect(d(64, 'f08b00').error).toBe(DecodeError.InvalidInstruction);
    const ok = d(64, 'f00100');
    expect(ok.lock).toBe(true);
    expect(formatInstruction(ok)).toBe('lock add [rax],eax');
  });

  it('rejects opcodes that do not exist in 64-bit mode', () => {
    for (const op of ['06', '27', '60', '9a0000000000', 'c40000', 'd6']) {
      const i = d(64, `${op}00000000`);
      if (op === 'c40000') continue; // C4 is VEX in 64-bit mode
      expect(i.error, op).toBe(DecodeError.InvalidInstruction);
    }
    expect(d(32, '06').code).toBe(Code.Pushd_ES);
  });

  it('enforces the 15-byte limit with a typed error', () => {
    const i = d(64, '66666666666666666666666666666690');
    expect(i.error).toBe(DecodeError.TooLong);
    expect(i.length).toBe(15);
  });

  it('reports truncated input as NoMoreBytes', () => {
    expect(d(64, 'b8010000').error).toBe(DecodeError.NoMoreBytes);
    expect(d(64, '0f').error).toBe(DecodeError.NoMoreBytes);
  });

  it('decodes VEX and rejects VEX after a 66/F2/F3/REX prefix', () => {
    const i = d(64, 'c5f828c1');
    expect(i.code).toBe(Code.VEX_Vmovaps_xmm_xmmm128);
    expect(i.cpuidFeature).toBe(CpuidFeature.AVX);
    expect(d(64, 'c4e27d1804c0').code).toBe(Code.VEX_Vbroadcastss_ymm_m32);
    expect(d(64, '66c5f828c1').error).toBe(DecodeError.InvalidInstruction);
    // C5 with mod != 11 is LDS outside 64-bit mode
    expect(d(32, 'c50600000000').code).toBe(Code.Lds_r32_m1632);
  });

  it('gives EVEX a correct length and a distinct "not supported" error', () => {
    const i = d(64, '62f17c4828c1');
    expect(i.error).toBe(DecodeError.EvexNotSupported);
    expect(i.length).toBe(6);
  });

  it('decodes system and VMX instructions with their features', () => {
    expect(d(64, '0f01c1').code).toBe(Code.Vmcall);
    expect(d(64, '0f01c2').code).toBe(Code.Vmlaunch);
    expect(d(64, '0f01c3').code).toBe(Code.Vmresume);
    expect(d(64, '0f01c4').code).toBe(Code.Vmxoff);
    expect(d(64, 'f30fc730').code).toBe(Code.Vmxon_m64);
    expect(d(64, '660fc730').code).toBe(Code.Vmclear_m64);
    expect(d(64, '0fc730').code).toBe(Code.Vmptrld_m64);
    expect(d(64, '0fc738').code).toBe(Code.Vmptrst_m64);
    expect(d(64, '0f78c8').code).toBe(Code.Vmread_rm64_r64);
    expect(d(64, '0f79c8').code).toBe(Code.Vmwrite_r64_rm64);
    expect(d(64, '660f388000').code).toBe(Code.Invept_r64_m128);
    expect(d(64, '660f388100').code).toBe(Code.Invvpid_r64_m128);
    expect(d(64, '0f01d4').code).toBe(Code.Vmfunc);
    expect(d(64, '0f01f9').code).toBe(Code.Rdtscp);
    expect(d(64, '0f05').code).toBe(Code.Syscall);
    expect(d(32, '0f34').code).toBe(Code.Sysenter);
    expect(d(64, '0fae20').code).toBe(Code.Xsave_mem);
    expect(d(64, '0f22d8').code).toBe(Code.Mov_cr_r64);
    expect(d(64, '0f22d8').endsBlock).toBe(true);
    expect(d(64, '0f01c1').cpuidFeature).toBe(CpuidFeature.VMX);
  });

  it('rejects control registers that do not exist', () => {
    expect(d(64, '0f20c8').error).toBe(DecodeError.InvalidInstruction);
    expect(d(64, '440f20c0').op1Register).toBe(Register.CR8);
  });

  it('reports REP prefixes of string instructions', () => {
    const i = d(32, 'f3a4');
    expect(i.code).toBe(Code.Movsb_m8_m8);
    expect(i.repPrefix).toBe(RepPrefix.Rep);
    expect(formatInstruction(i)).toBe('rep movsb [edi],[esi]');
  });

  it('decodeInto reuses the caller-owned object and clears stale fields', () => {
    const insn = new Instruction();
    const bytes = hex('c70001000000' + '90');
    expect(decodeInto(insn, bytes, 0, 64, 0)).toBe(6);
    expect(insn.immediate).toBe(1);
    expect(decodeInto(insn, bytes, 6, 64, 6)).toBe(1);
    expect(insn.code).toBe(Code.Nopd);
    expect(insn.immediate).toBe(0);
    expect(insn.opCount).toBe(0);
  });

  it('decodeAll walks a buffer, never throwing on garbage', () => {
    const bytes = new Uint8Array(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    let total = 0;
    for (const i of decodeAll(bytes, { bitness: 64 })) total += i.length;
    expect(total).toBe(bytes.length);
  });
});
