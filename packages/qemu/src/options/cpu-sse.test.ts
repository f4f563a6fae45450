/**
 * `-cpu` decides what SIMD a guest gets through the facade: a 32-bit guest program computes with SSE
 * and SSE2 under `-cpu pentium3,+sse2`, and the VMM reads the XMM registers and MXCSR back with
 * KVM_GET_FPU and KVM_GET_XSAVE; under `-cpu pentium3` (SSE only) and `-cpu pentium2` the instructions
 * the model lacks are #UD; `-cpu qemu32` (pni) gets SSE3.
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '@typevisor/x86-decoder';
import { CODE, cpuGuest as guest, DATA, nextOut } from '../../test/cpu-guest.js';

/** kvm_xsave's legacy region: MXCSR at 24, XMM0 at 160 (SDM Vol. 1 Table 10-2). */
const XSAVE_MXCSR = 24;
const XSAVE_XMM0 = 160;

/** The guest's OS setup: CR4.OSFXSR | CR4.OSXMMEXCPT (SDM Vol. 3 §13.1.3). */
const ENABLE_SSE = 'mov eax, cr4\nor eax, 0x600\nmov cr4, eax\n';

const f64 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset).getFloat64(o, true);
const f32 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset).getFloat32(o, true);
const u32 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset).getUint32(o, true);

describe('-cpu with SSE2 through the facade', () => {
  it('a guest computes with ADDPD, MULPS, CVTSI2SD, DIVSD and PCMPEQD; KVM_GET_FPU and KVM_GET_XSAVE show XMM and MXCSR', () => {
    const { vcpu, ram, warnings } = guest(
      'pentium3,+sse2',
      `${ENABLE_SSE}
      movupd xmm0, [${DATA}]
      addpd xmm0, [${DATA + 0x10}]
      movups xmm2, [${DATA + 0x20}]
      mulps xmm2, xmm2
      mov eax, -7
      cvtsi2sd xmm3, eax
      ldmxcsr [${DATA + 0x30}]
      mov eax, 1
      cvtsi2sd xmm4, eax
      mov eax, 10
      cvtsi2sd xmm1, eax
      divsd xmm4, xmm1
      pcmpeqd xmm7, xmm7
      movd eax, xmm6
      out 0x81, eax
      hlt`,
    );
    // pentium3 asks for features the facade does not have (pae, vme, ...): warned, never SSE/SSE2.
    expect(warnings.filter((w) => /\.(sse|sse2|fxsr)\b/.test(w))).toEqual([]);
    const data = new DataView(ram.buffer, ram.byteOffset + DATA);
    data.setFloat64(0x00, 1.5, true);
    data.setFloat64(0x08, -2.25, true);
    data.setFloat64(0x10, 4, true);
    data.setFloat64(0x18, 0.5, true);
    [1, -2, 3, 0.5].forEach((v, i) => {
      data.setFloat32(0x20 + 4 * i, v, true);
    });
    data.setUint32(0x30, 0x3f80, true); // MXCSR: all masked, RC = round down
    // The VMM puts a value into XMM6 with KVM_SET_XSAVE; the guest reads it with MOVD.
    const before = vcpu.getXsave();
    new DataView(before.buffer).setUint32(XSAVE_XMM0 + 16 * 6, 0x12345678, true);
    vcpu.setXsave(before);

    expect(nextOut(vcpu)).toEqual([0x81, 0x12345678]);
    expect(vcpu.runGuest().kind).toBe('Hlt');

    const fpu = vcpu.getFpu();
    const xmm = fpu.bytesOf('xmm');
    expect([f64(xmm, 0), f64(xmm, 8)]).toEqual([5.5, -1.75]);
    expect([0, 1, 2, 3].map((i) => f32(xmm, 32 + 4 * i))).toEqual([1, 4, 9, 0.25]);
    expect(f64(xmm, 48)).toBe(-7);
    // 1/10 rounded down is the double just below 0.1 (0x3FB999999999999A); inexact, so PE is set.
    expect([u32(xmm, 64), u32(xmm, 68)]).toEqual([0x99999999, 0x3fb99999]);
    expect([0, 1, 2, 3].map((i) => u32(xmm, 112 + 4 * i))).toEqual(Array(4).fill(0xffffffff));
    expect(u32(xmm, 96)).toBe(0x12345678);
    expect(fpu.get('mxcsr')).toBe(0x3f80 | 0x20);

    const x = vcpu.getXsave();
    expect(x.subarray(XSAVE_XMM0, XSAVE_XMM0 + 256)).toEqual(xmm.subarray(0, 256));
    expect(u32(x, XSAVE_MXCSR)).toBe(0x3fa0);
    expect(new DataView(x.buffer).getBigUint64(512, true)).toBe(3n); // XSTATE_BV x87 | SSE
  });

  it('-cpu pentium3 runs SSE but an SSE2 ADDPD is #UD', () => {
    const { vcpu } = guest(
      'pentium3',
      `${ENABLE_SSE}
      xorps xmm0, xmm0
      mulps xmm0, xmm0
      out 0x80, al
      addpd xmm0, xmm0
      hlt`,
    );
    expect(nextOut(vcpu)[0]).toBe(0x80);
    const [port, eip] = nextOut(vcpu);
    expect(port).toBe(0x86);
    // The fault points at ADDPD, right after the OUT.
    const before = `${ENABLE_SSE}xorps xmm0, xmm0\nmulps xmm0, xmm0\nout 0x80, al`;
    expect(eip).toBe(CODE + assemble(before, { bitness: 32, origin: CODE }).length);
  });

  it('-cpu qemu32 (pni = SSE3) runs HADDPD; -cpu pentium3,+sse2 makes it #UD', () => {
    const program = `${ENABLE_SSE}haddpd xmm0, xmm0\nmovd eax, xmm0\nout 0x81, eax\nhlt`;
    const sse3 = guest('qemu32', program);
    expect(sse3.warnings.filter((w) => w.includes('pni'))).toEqual([]);
    expect(nextOut(sse3.vcpu)[0]).toBe(0x81);
    const [port, eip] = nextOut(guest('pentium3,+sse2', program).vcpu);
    expect(port).toBe(0x86);
    expect(eip).toBe(CODE + assemble(ENABLE_SSE, { bitness: 32, origin: CODE }).length);
  });

  it('-cpu qemu32,+ssse3 runs PSHUFB; plain qemu32 (no SSSE3) makes it #UD', () => {
    const program = `${ENABLE_SSE}pshufb xmm0, xmm1\nmovd eax, xmm0\nout 0x81, eax\nhlt`;
    const withSsse3 = guest('qemu32,+ssse3', program);
    expect(withSsse3.warnings.filter((w) => w.includes('ssse3'))).toEqual([]);
    expect(nextOut(withSsse3.vcpu)[0]).toBe(0x81);
    expect(nextOut(guest('qemu32', program).vcpu)[0]).toBe(0x86);
  });

  it('-cpu pentium2 (no SSE) makes MOVUPS #UD even with CR4.OSFXSR set; -cpu pentium3,-sse too', () => {
    for (const model of ['pentium2', 'pentium3,-sse']) {
      const { vcpu } = guest(model, `${ENABLE_SSE}movups xmm1, [${DATA}]\nhlt`);
      const [port, eip] = nextOut(vcpu);
      expect(port).toBe(0x86);
      expect(eip).toBe(CODE + assemble(ENABLE_SSE, { bitness: 32, origin: CODE }).length);
    }
  });
});
