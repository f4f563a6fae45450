/**
 * AVX through the facade: the YMM upper halves travel between KVM_GET/SET_XSAVE (offset 576,
 * XSTATE_BV[2]) and the software CPU's register file across runs; the guest CPUID (leaf 1's AVX,
 * leaf 7's BMI1, leaf 0DH's XCR0 bits) decides whether VEX instructions execute and whether XSETBV
 * may enable YMM; CPUID.(0DH,0):EBX follows the guest's XCR0; KVM_SET_SREGS takes CR4.FSGSBASE,
 * PCIDE and SMEP only when the guest CPUID (and the model) has them.
 */
import { describe, expect, it } from 'vitest';
import { X86_64_KVM_MODEL } from '../cpu-model.js';
import { XSAVE } from '../kernel/xstate-ioctls.js';
import { Kvm } from '../kvm.js';
import type { KvmHost } from '../kernel/host.js';
import type { CpuidEntry } from '../cpu-model.js';
import * as C from '../uapi/constants.js';
import { EINVAL } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct } from '../uapi/layout.js';
import { kvm_cpuid2, kvm_cpuid_entry2, kvm_sregs, kvm_xcrs, kvm_xsave } from '../uapi/structs.js';
import { setXcr0 } from '../../test/xcrs.js';
import { flatProtectedMode, realModeGuest, type TestGuest } from './guest.test-support.js';

const HLT = 0xf4;
const LEAF1_ECX_AVX = 1 << 28;
const LEAF7_EBX_BMI1 = 1 << 3;
const CR4_OSFXSR_OSXMMEXCPT_OSXSAVE = 0x600 | (1 << 18);

/** The facade's supported CPUID, changed by `edit` (entries copied). */
function supportedWith(host: KvmHost, edit: (e: CpuidEntry) => CpuidEntry = (e) => e): CpuidEntry[] {
  return Kvm.open(host)
    .getSupportedCpuid()
    .map((e) => edit({ ...e }));
}

function setCpuid(g: TestGuest, entries: readonly CpuidEntry[]): void {
  const b = new Uint8Array(kvm_cpuid2.size + entries.length * kvm_cpuid_entry2.size);
  const v = new DataView(b.buffer);
  const E = kvm_cpuid_entry2.fields;
  v.setUint32(0, entries.length, true);
  entries.forEach((e, i) => {
    const o = kvm_cpuid2.size + i * kvm_cpuid_entry2.size;
    v.setUint32(o + E.function.offset, e.function, true);
    v.setUint32(o + E.index.offset, e.index, true);
    v.setUint32(o + E.flags.offset, e.flags, true);
    v.setUint32(o + E.eax.offset, e.eax >>> 0, true);
    v.setUint32(o + E.ebx.offset, e.ebx >>> 0, true);
    v.setUint32(o + E.ecx.offset, e.ecx >>> 0, true);
    v.setUint32(o + E.edx.offset, e.edx >>> 0, true);
  });
  expect(g.host.ioctl(g.vcpufd, I.KVM_SET_CPUID2, b)).toBe(0);
}

function orCr4(g: TestGuest, bits: number): number {
  const s = allocStruct(kvm_sregs);
  expect(g.host.ioctl(g.vcpufd, I.KVM_GET_SREGS, s.bytes)).toBe(0);
  s.set('cr4', (Number(s.getBigInt('cr4')) | bits) >>> 0);
  return g.host.ioctl(g.vcpufd, I.KVM_SET_SREGS, s.bytes);
}

function getXsave(g: TestGuest): Uint8Array {
  const b = new Uint8Array(kvm_xsave.size);
  expect(g.host.ioctl(g.vcpufd, I.KVM_GET_XSAVE, b)).toBe(0);
  return b;
}

/** A flat 32-bit guest with `code` at 0x1000 whose #UD (6) and #GP (13) handlers do `out 0x80, al`
 * with AL = the vector (mov al, 6 / 13 through two IDT entries), the supported CPUID (edited),
 * CR4.OSFXSR|OSXMMEXCPT|OSXSAVE. */
function protectedGuest(code: readonly number[], edit?: (e: CpuidEntry) => CpuidEntry): TestGuest {
  const g = realModeGuest(code, { ramSize: 0x4000 });
  setCpuid(g, supportedWith(g.host, edit));
  // 0x1400: mov al, 6; out 0x80, al; hlt. 0x1410: mov al, 13; out 0x80, al; hlt.
  g.ram.set([0xb0, 6, 0xe6, 0x80, HLT], 0x1400);
  g.ram.set([0xb0, 13, 0xe6, 0x80, HLT], 0x1410);
  flatProtectedMode(g, 0x1400, [6]);
  flatProtectedMode(g, 0x1410, [13]);
  expect(orCr4(g, CR4_OSFXSR_OSXMMEXCPT_OSXSAVE)).toBe(0);
  return g;
}

/** The port-0x80 byte the guest wrote at its KVM_EXIT_IO. */
function outByte(g: TestGuest): number {
  expect(g.runOnce()).toBe(0);
  expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
  expect(g.run.get('io.port')).toBe(0x80);
  return g.map[g.run.get('io.data_offset')]!;
}

// vpshufd xmm0, xmm1, 0x1b (VEX.128.66.0F 70 /r ib, AVX); mov al, 1; out 0x80, al.
const VPSHUFD = [0xc5, 0xf9, 0x70, 0xc1, 0x1b];
// andn eax, ebx, ecx (VEX.LZ.0F38.W0 F2 /r, BMI1): eax = ~ebx & ecx.
const ANDN = [0xc4, 0xe2, 0x60, 0xf2, 0xc1];
const OUT_1 = [0xb0, 1, 0xe6, 0x80];
// mov eax, 7; xor ecx, ecx; xor edx, edx; xsetbv.
const XSETBV_7 = [0xb8, 7, 0, 0, 0, 0x31, 0xc9, 0x31, 0xd2, 0x0f, 0x01, 0xd1];

const withoutAvx = (e: CpuidEntry): CpuidEntry =>
  e.function === 1
    ? { ...e, ecx: e.ecx & ~LEAF1_ECX_AVX }
    : e.function === 0xd && e.index === 0
      ? { ...e, eax: e.eax & ~4, ebx: 576, ecx: 576 }
      : e;

describe('YMM state through KVM_GET/SET_XSAVE and runs', () => {
  it("YMM upper halves set with KVM_SET_XSAVE reach the guest's XSAVE, and what its XRSTOR loads comes back", () => {
    // mov eax, 7; xor edx, edx; xsave [0x2000]; xrstor [0x3000]; hlt (32-bit code).
    const code = [0xb8, 7, 0, 0, 0, 0x31, 0xd2, 0x0f, 0xae, 0x25, 0, 0x20, 0, 0];
    code.push(0x0f, 0xae, 0x2d, 0, 0x30, 0, 0, HLT);
    const g = protectedGuest(code);
    expect(setXcr0(g, 7n)).toBe(0);
    const x = getXsave(g);
    expect(new DataView(x.buffer).getBigUint64(XSAVE.XSTATE_BV, true)).toBe(7n);
    for (let i = 0; i < 256; i++) x[XSAVE.YMM + i] = (i * 3 + 1) & 0xff;
    expect(g.host.ioctl(g.vcpufd, I.KVM_SET_XSAVE, x)).toBe(0);
    // The XRSTOR image: the FXSAVE part of the current state, XSTATE_BV 7, other upper halves.
    const img = x.slice(0, 832);
    for (let i = 0; i < 256; i++) img[XSAVE.YMM + i] = (0xa0 + i) & 0xff;
    g.ram.set(img, 0x3000);
    expect(g.runOnce()).toBe(0);
    expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
    // The guest's XSAVE (32-bit code: YMM0-YMM7) stored what KVM_SET_XSAVE gave.
    expect(g.ram[0x2000 + 512]! & 4).toBe(4);
    expect(g.ram.subarray(0x2000 + 576, 0x2000 + 576 + 128)).toEqual(x.subarray(XSAVE.YMM, XSAVE.YMM + 128));
    // KVM_GET_XSAVE: YMM0-7 from the XRSTOR image, YMM8-15 still KVM_SET_XSAVE's (32-bit XRSTOR
    // does not touch them).
    const back = getXsave(g);
    expect(back.subarray(XSAVE.YMM, XSAVE.YMM + 128)).toEqual(img.subarray(XSAVE.YMM, XSAVE.YMM + 128));
    expect(back.subarray(XSAVE.YMM + 128, XSAVE.YMM + 256)).toEqual(
      x.subarray(XSAVE.YMM + 128, XSAVE.YMM + 256),
    );
    // And again after another KVM_SET_REGS (a reload of the CPU from the buffers).
    g.setRegs({ rip: 0x1000 + code.length - 1 });
    expect(g.runOnce()).toBe(0);
    expect(getXsave(g).subarray(XSAVE.YMM, XSAVE.YMM + 256)).toEqual(
      back.subarray(XSAVE.YMM, XSAVE.YMM + 256),
    );
  });

  it('a VEX.128 instruction run by the guest zeroes the upper half that KVM_SET_XSAVE set', () => {
    const g = protectedGuest([...VPSHUFD, ...OUT_1]);
    expect(setXcr0(g, 7n)).toBe(0);
    const x = getXsave(g);
    x.fill(0x77, XSAVE.YMM, XSAVE.YMM + 256);
    x.fill(0x12, XSAVE.XMM0 + 16, XSAVE.XMM0 + 32); // XMM1
    expect(g.host.ioctl(g.vcpufd, I.KVM_SET_XSAVE, x)).toBe(0);
    expect(outByte(g)).toBe(1);
    const back = getXsave(g);
    expect(back.subarray(XSAVE.XMM0, XSAVE.XMM0 + 16).every((v) => v === 0x12)).toBe(true);
    expect(back.subarray(XSAVE.YMM, XSAVE.YMM + 16).every((v) => v === 0)).toBe(true); // YMM0 upper
    expect(back.subarray(XSAVE.YMM + 16, XSAVE.YMM + 256).every((v) => v === 0x77)).toBe(true);
  });
});

describe('the guest CPUID gates AVX and BMI over the facade model', () => {
  it('with AVX and BMI1 in the guest CPUID, VPSHUFD and ANDN run', () => {
    const g = protectedGuest([...VPSHUFD, ...ANDN, ...OUT_1]);
    expect(setXcr0(g, 7n)).toBe(0);
    g.setRegs({ rbx: 0xff00ff00, rcx: 0x0ff00ff0 });
    expect(outByte(g)).toBe(1);
    expect(g.regs().get('rax') & 0xffffff00).toBe(0x00f000f0 & 0xffffff00);
  });

  it('without CPUID.01H:ECX.AVX a VEX instruction is #UD, even with XCR0 = 7', () => {
    const g = protectedGuest([...VPSHUFD, ...OUT_1], (e) =>
      e.function === 1 ? { ...e, ecx: e.ecx & ~LEAF1_ECX_AVX } : e,
    );
    expect(setXcr0(g, 7n)).toBe(0);
    expect(outByte(g)).toBe(6);
  });

  it('without CPUID.(07H,0):EBX.BMI1, ANDN is #UD', () => {
    const g = protectedGuest([...ANDN, ...OUT_1], (e) =>
      e.function === 7 ? { ...e, ebx: e.ebx & ~LEAF7_EBX_BMI1 } : e,
    );
    expect(outByte(g)).toBe(6);
  });

  it('a guest CPUID without AVX (leaf 1, leaf 0DH) makes XSETBV with XCR0 = 7 #GP; with it XSETBV takes 7', () => {
    const g = protectedGuest([...XSETBV_7, ...OUT_1], withoutAvx);
    expect(outByte(g)).toBe(13);
    expect(setXcr0(g, 7n)).toBe(-EINVAL);
    const h = protectedGuest([...XSETBV_7, ...OUT_1]);
    expect(outByte(h)).toBe(1);
    const s = allocStruct(kvm_xcrs);
    expect(h.host.ioctl(h.vcpufd, I.KVM_GET_XCRS, s.bytes)).toBe(0);
    expect(s.bytesOf('xcrs')[8]).toBe(7);
  });
});

describe('CPUID exits and CR4 against the guest CPUID', () => {
  it('CPUID.(0DH,0):EBX is the XSAVE area size for the XCR0 in force (576, then 832 with YMM)', () => {
    // mov eax, 0xd; xor ecx, ecx; cpuid; hlt (16-bit code).
    const g = realModeGuest([0x66, 0xb8, 0xd, 0, 0, 0, 0x66, 0x31, 0xc9, 0x0f, 0xa2, HLT]);
    setCpuid(g, supportedWith(g.host));
    expect(setXcr0(g, 3n)).toBe(0);
    expect(g.runOnce()).toBe(0);
    expect(g.regs().get('rbx')).toBe(576);
    expect(g.regs().get('rax')).toBe(7);
    expect(g.regs().get('rcx')).toBe(832);
    expect(setXcr0(g, 7n)).toBe(0);
    g.setRegs({ rip: 0x1000 });
    expect(g.runOnce()).toBe(0);
    expect(g.regs().get('rbx')).toBe(832);
  });

  it("the guest's own MOV to CR4 may set SMEP, FSGSBASE and OSXSAVE, and a checked VM entry takes that CR4 (IA32_VMX_CR4_FIXED1)", () => {
    // mov eax, cr4; or eax, SMEP|OSXSAVE|FSGSBASE; mov cr4, eax; mov al, 1; out 0x80, al; mov al, 2; out 0x80, al.
    const code = [0x0f, 0x20, 0xe0, 0x0d, 0x00, 0x00, 0x15, 0x00, 0x0f, 0x22, 0xe0, ...OUT_1];
    const g = protectedGuest([...code, 0xb0, 2, 0xe6, 0x80]);
    expect(outByte(g)).toBe(1);
    // A state ioctl in between makes the next KVM_RUN check the guest state (VM entry's CR4 checks).
    g.setRegs({});
    expect(outByte(g)).toBe(2);
    const s = allocStruct(kvm_sregs);
    expect(g.host.ioctl(g.vcpufd, I.KVM_GET_SREGS, s.bytes)).toBe(0);
    expect(Number(s.getBigInt('cr4')) & 0x15_0000).toBe(0x15_0000);
  });

  it("the guest's MOV to CR4 setting SMEP without CPUID.(07H,0):EBX.SMEP is #GP (kvm_set_cr4), CR4 unchanged", () => {
    // mov eax, cr4; or eax, SMEP; mov cr4, eax; mov al, 1; out 0x80, al.
    const code = [0x0f, 0x20, 0xe0, 0x0d, 0x00, 0x00, 0x10, 0x00, 0x0f, 0x22, 0xe0, ...OUT_1];
    const g = protectedGuest(code, (e) => (e.function === 7 ? { ...e, ebx: e.ebx & ~(1 << 7) } : e));
    expect(outByte(g)).toBe(13);
    const s = allocStruct(kvm_sregs);
    expect(g.host.ioctl(g.vcpufd, I.KVM_GET_SREGS, s.bytes)).toBe(0);
    expect(Number(s.getBigInt('cr4')) & (1 << 20)).toBe(0);
    const h = protectedGuest(code);
    expect(outByte(h)).toBe(1);
  });

  it('KVM_SET_SREGS refuses CR4.FSGSBASE, PCIDE and SMEP unless the guest CPUID has them', () => {
    const FSGSBASE = 1 << 16;
    const PCIDE = 1 << 17;
    const SMEP = 1 << 20;
    const g = realModeGuest([HLT]);
    // No guest CPUID: all three reserved (cr4_guest_rsvd_bits).
    for (const bit of [FSGSBASE, PCIDE, SMEP]) expect(orCr4(g, bit)).toBe(-EINVAL);
    setCpuid(
      g,
      supportedWith(g.host, (e) =>
        e.function === 1
          ? { ...e, ecx: e.ecx & ~(1 << 17) }
          : e.function === 7
            ? { ...e, ebx: e.ebx & ~((1 << 0) | (1 << 7)) }
            : e,
      ),
    );
    for (const bit of [FSGSBASE, PCIDE, SMEP]) expect(orCr4(g, bit)).toBe(-EINVAL);
    setCpuid(g, supportedWith(g.host));
    for (const bit of [FSGSBASE, PCIDE, SMEP]) expect(orCr4(g, bit)).toBe(0);
  });

  it('on a model without them (the x86-64 model) CR4.FSGSBASE/PCIDE/SMEP stay reserved whatever the guest CPUID says', () => {
    const g = realModeGuest([HLT], { model: X86_64_KVM_MODEL });
    setCpuid(g, [
      ...supportedWith(g.host, (e) => (e.function === 1 ? { ...e, ecx: e.ecx | (1 << 17) } : e)),
      { function: 7, index: 0, flags: 1, eax: 0, ebx: (1 << 0) | (1 << 7), ecx: 0, edx: 0 },
    ]);
    for (const bit of [1 << 16, 1 << 17, 1 << 20]) expect(orCr4(g, bit)).toBe(-EINVAL);
  });
});
