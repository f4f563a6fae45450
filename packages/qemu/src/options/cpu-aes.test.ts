/**
 * `-cpu ...,+aes,+pclmulqdq`: the facade's CPU executes AES-NI and PCLMULQDQ, so QEMU's flags now
 * reach the guest CPUID (no "host doesn't support" warning) and the instructions run; `-cpu host`/`max`
 * report both; a model without them (qemu32, like QEMU's) makes them #UD.
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '@typevisor/x86-decoder';
import { CODE, cpuGuest, DATA, nextOut, resolvedCpu as resolved } from '../../test/cpu-guest.js';

const ECX_PCLMULQDQ = 1 << 1;
const ECX_AES = 1 << 25;
const BOTH = (ECX_AES | ECX_PCLMULQDQ) >>> 0;

/** A vCPU in flat 32-bit protected mode with CR4.OSFXSR | OSXMMEXCPT set (test/cpu-guest.ts). */
const guest = (cpuArg: string, program: string) => cpuGuest(cpuArg, program, 0x600);

const leaf1Ecx = (cpuid: readonly { function: number; ecx: number }[]) =>
  cpuid.find((e) => e.function === 1)!.ecx >>> 0;

describe('-cpu aes and pclmulqdq', () => {
  it('+aes,+pclmulqdq are kept without warnings; host and max report both; qemu32 alone has neither', () => {
    const r = resolved('qemu32,+aes,+pclmulqdq');
    expect(r.warnings.filter((w) => /ECX\.(aes|pclmulqdq)/.test(w))).toEqual([]);
    expect(leaf1Ecx(r.cpuid) & BOTH).toBe(BOTH);
    for (const model of ['host', 'max']) expect(leaf1Ecx(resolved(model).cpuid) & BOTH).toBe(BOTH);
    expect(leaf1Ecx(resolved('qemu32').cpuid) & BOTH).toBe(0);
    expect(leaf1Ecx(resolved('max,-aes').cpuid) & BOTH).toBe(ECX_PCLMULQDQ);
  });

  it('a guest under -cpu qemu32,+aes,+pclmulqdq sees both CPUID bits and runs AESENC and PCLMULQDQ', () => {
    const { vcpu, ram, warnings } = guest(
      'qemu32,+aes,+pclmulqdq',
      `mov eax, 1
      cpuid
      mov eax, ecx
      out 0x81, eax
      movdqa xmm0, [${DATA}]
      aesenclast xmm0, [${DATA + 16}]
      movd eax, xmm0
      out 0x82, eax
      movdqa xmm1, [${DATA}]
      pclmulqdq xmm1, [${DATA + 16}], 0x00
      movd eax, xmm1
      out 0x83, eax
      hlt`,
    );
    expect(warnings.filter((w) => /aes|pclmulqdq/.test(w))).toEqual([]);
    // State 03H then zeros: ShiftRows keeps byte 0 in place, S(03H) = 7BH and S(0) = 63H; the round
    // key is 1. As polynomials, (x + 1) * 1 = x + 1.
    ram.fill(0, DATA, DATA + 32);
    ram[DATA] = 0x03;
    ram[DATA + 16] = 1;
    const [port, ecx] = nextOut(vcpu);
    expect(port).toBe(0x81);
    expect(ecx & BOTH).toBe(BOTH);
    expect(nextOut(vcpu)).toEqual([0x82, 0x6363637a]);
    expect(nextOut(vcpu)).toEqual([0x83, 3]);
    expect(vcpu.runGuest().kind).toBe('Hlt');
  });

  it('-cpu qemu32 (no aes) makes AESENC #UD; -cpu max,-pclmulqdq makes PCLMULQDQ #UD but runs AESENC', () => {
    const ud = guest('qemu32', 'aesenc xmm0, xmm1\nhlt');
    expect(nextOut(ud.vcpu)).toEqual([0x86, CODE]);
    const program = 'aesenc xmm0, xmm1\nout 0x80, al\npclmulqdq xmm0, xmm1, 0\nhlt';
    const noPcl = guest('max,-pclmulqdq', program);
    expect(nextOut(noPcl.vcpu)[0]).toBe(0x80);
    const at = CODE + assemble('aesenc xmm0, xmm1\nout 0x80, al', { bitness: 32, origin: CODE }).length;
    expect(nextOut(noPcl.vcpu)).toEqual([0x86, at]);
  });
});
