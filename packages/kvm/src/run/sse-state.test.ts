/**
 * The software CPU's SSE state through the facade (state-sync.ts): KVM_SET_FPU / KVM_SET_XSAVE load
 * XMM0-XMM15 and MXCSR into the CPU, KVM_GET_FPU / KVM_GET_XSAVE read what the guest left there, and
 * the guest CPUID (KVM_SET_CPUID2) decides whether SSE2 instructions execute or are #UD.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as C from '../uapi/constants.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct } from '../uapi/layout.js';
import { kvm_cpuid2, kvm_cpuid_entry2, kvm_fpu, kvm_xsave } from '../uapi/structs.js';
import { XSAVE } from '../kernel/xstate-ioctls.js';
import { realModeGuest, type TestGuest } from './guest.test-support.js';

/** mov eax, cr4; or eax, 0x600; mov cr4, eax: CR4.OSFXSR | CR4.OSXMMEXCPT (16-bit code). */
const ENABLE_SSE = [0x0f, 0x20, 0xe0, 0x66, 0x0d, 0x00, 0x06, 0x00, 0x00, 0x0f, 0x22, 0xe0];
/** pcmpeqd xmm7, xmm7 (SSE2). */
const PCMPEQD_XMM7 = [0x66, 0x0f, 0x76, 0xff];
/** paddd xmm0, xmm1 (SSE2). */
const PADDD_XMM0_XMM1 = [0x66, 0x0f, 0xfe, 0xc1];
/** stmxcsr [0x1800]. */
const STMXCSR = [0x0f, 0xae, 0x1e, 0x00, 0x18];
const HLT = 0xf4;
/** IVT[6] -> 0000:1100: out 0x86, al; hlt. */
function udHandler(g: TestGuest): void {
  g.ram.set([0x00, 0x11, 0x00, 0x00], 6 * 4);
  g.ram.set([0xe6, 0x86, HLT], 0x1100);
}

/** KVM_SET_CPUID2 with one leaf-1 entry whose EDX is `edx`. */
function setLeaf1(g: TestGuest, edx: number): void {
  const b = new Uint8Array(kvm_cpuid2.size + kvm_cpuid_entry2.size);
  const v = new DataView(b.buffer);
  v.setUint32(0, 1, true);
  const o = kvm_cpuid2.size;
  v.setUint32(o + kvm_cpuid_entry2.fields.function.offset, 1, true);
  v.setUint32(o + kvm_cpuid_entry2.fields.edx.offset, edx >>> 0, true);
  expect(g.host.ioctl(g.vcpufd, I.KVM_SET_CPUID2, b)).toBe(0);
}

const SSE = 1 << 25;
const SSE2 = 1 << 26;

function getFpu(g: TestGuest) {
  const f = allocStruct(kvm_fpu);
  expect(g.host.ioctl(g.vcpufd, I.KVM_GET_FPU, f.bytes)).toBe(0);
  return f;
}

describe('SSE state through KVM_GET/SET_FPU and KVM_GET/SET_XSAVE', () => {
  it('XMM registers and MXCSR set with KVM_SET_FPU reach the guest, and its results come back', () => {
    const g = realModeGuest([...ENABLE_SSE, ...PADDD_XMM0_XMM1, ...PCMPEQD_XMM7, ...STMXCSR, HLT]);
    setLeaf1(g, SSE | SSE2);
    const f = getFpu(g);
    const xmm = new DataView(f.bytesOf('xmm').buffer, f.bytesOf('xmm').byteOffset, 256);
    [1, 2, 3, 0xffffffff].forEach((v, i) => {
      xmm.setUint32(4 * i, v, true);
    }); // XMM0
    [10, 20, 30, 1].forEach((v, i) => {
      xmm.setUint32(16 + 4 * i, v, true);
    }); // XMM1
    xmm.setUint32(16 * 15, 0xdeadbeef, true); // XMM15: kept although 32-bit code cannot reach it
    f.set('mxcsr', 0x9fc0); // FZ | DAZ | all masked
    expect(g.host.ioctl(g.vcpufd, I.KVM_SET_FPU, f.bytes)).toBe(0);
    expect(g.runOnce()).toBe(0);
    expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
    const back = getFpu(g);
    const r = new DataView(back.bytesOf('xmm').buffer, back.bytesOf('xmm').byteOffset, 256);
    expect([0, 1, 2, 3].map((i) => r.getUint32(4 * i, true))).toEqual([11, 22, 33, 0]);
    expect([0, 1, 2, 3].map((i) => r.getUint32(16 * 7 + 4 * i, true))).toEqual(Array(4).fill(0xffffffff));
    expect(r.getUint32(16 * 15, true)).toBe(0xdeadbeef);
    expect(back.get('mxcsr')).toBe(0x9fc0);
    expect(new DataView(g.ram.buffer, g.ram.byteOffset).getUint32(0x1800, true)).toBe(0x9fc0); // STMXCSR
    const x = new Uint8Array(kvm_xsave.size);
    expect(g.host.ioctl(g.vcpufd, I.KVM_GET_XSAVE, x)).toBe(0);
    expect(x.subarray(XSAVE.XMM0, XSAVE.XMM0 + 256)).toEqual(back.bytesOf('xmm').subarray(0, 256));
    expect(new DataView(x.buffer).getUint32(XSAVE.MXCSR, true)).toBe(0x9fc0);
    expect(new DataView(x.buffer).getUint32(XSAVE.MXCSR_MASK, true)).toBe(0xffff);
  });

  it('property: any XMM file and valid MXCSR set with KVM_SET_XSAVE survives a guest run unchanged', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 256, maxLength: 256 }),
        fc.integer({ min: 0, max: 0xffff }),
        (regs, mxcsr) => {
          const g = realModeGuest([0x90, HLT]);
          const x = new Uint8Array(kvm_xsave.size);
          expect(g.host.ioctl(g.vcpufd, I.KVM_GET_XSAVE, x)).toBe(0);
          x.set(regs, XSAVE.XMM0);
          new DataView(x.buffer).setUint32(XSAVE.MXCSR, mxcsr, true);
          expect(g.host.ioctl(g.vcpufd, I.KVM_SET_XSAVE, x)).toBe(0);
          expect(g.runOnce()).toBe(0);
          const y = new Uint8Array(kvm_xsave.size);
          expect(g.host.ioctl(g.vcpufd, I.KVM_GET_XSAVE, y)).toBe(0);
          expect(y.subarray(XSAVE.XMM0, XSAVE.XMM0 + 256)).toEqual(regs);
          expect(new DataView(y.buffer).getUint32(XSAVE.MXCSR, true)).toBe(mxcsr);
        },
      ),
      { numRuns: 20 },
    );
  });
});

describe('the guest CPUID gates SSE/SSE2 in the software CPU', () => {
  it('without KVM_SET_CPUID2 (no features) PCMPEQD is #UD even with CR4.OSFXSR', () => {
    const g = realModeGuest([...ENABLE_SSE, ...PCMPEQD_XMM7, HLT]);
    udHandler(g);
    expect(g.runOnce()).toBe(0);
    expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
    expect(g.run.get('io.port')).toBe(0x86);
  });

  it('CPUID with SSE but not SSE2 makes PCMPEQD #UD; setting SSE2 afterwards lets the same code run', () => {
    const g = realModeGuest([...ENABLE_SSE, ...PCMPEQD_XMM7, HLT]);
    udHandler(g);
    setLeaf1(g, SSE);
    expect(g.runOnce()).toBe(0);
    expect(g.run.get('io.port')).toBe(0x86);
    // Again from the start, now with SSE2: the decoded block's #UD must not be reused.
    setLeaf1(g, SSE | SSE2);
    g.setRegs({ rip: 0x1000 + ENABLE_SSE.length, rsp: 0x1ff0, rflags: 2 });
    expect(g.runOnce()).toBe(0);
    expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
    const r = getFpu(g).bytesOf('xmm');
    expect(Array.from(r.subarray(16 * 7, 16 * 8))).toEqual(Array(16).fill(0xff));
  });
});
