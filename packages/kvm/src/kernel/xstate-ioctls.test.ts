/** KVM_GET/SET_XSAVE, KVM_GET_XSAVE2, KVM_GET/SET_XCRS, KVM_GET/SET_DEBUGREGS on the stored vCPU state. */
import { beforeEach, describe, expect, it } from 'vitest';
import { EFAULT, EINVAL } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct } from '../uapi/layout.js';
import {
  kvm_cpuid2,
  kvm_cpuid_entry2,
  kvm_debugregs,
  kvm_fpu,
  kvm_xcr,
  kvm_xcrs,
  kvm_xsave,
} from '../uapi/structs.js';
import { X86_64_KVM_MODEL } from '../cpu-model.js';
import { KvmHost } from './host.js';
import { XSAVE } from './xstate-ioctls.js';

let host: KvmHost;
let vcpu: number;

beforeEach(() => {
  host = new KvmHost();
  const vm = host.ioctl(host.open('/dev/kvm'), I.KVM_CREATE_VM, 0);
  vcpu = host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
});

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

const getXsave = (): Uint8Array => {
  const b = new Uint8Array(kvm_xsave.size).fill(0xee);
  expect(host.ioctl(vcpu, I.KVM_GET_XSAVE, b)).toBe(0);
  return b;
};

/** KVM_SET_CPUID2 with leaf 0DH sub-leaf 0 whose EAX (the XCR0 bits the guest may enable) is `eax`. */
const setLeafD = (eax: number) => {
  const b = new Uint8Array(kvm_cpuid2.size + kvm_cpuid_entry2.size);
  const v = view(b);
  v.setUint32(0, 1, true);
  const e = kvm_cpuid_entry2.fields;
  v.setUint32(kvm_cpuid2.size + e.function.offset, 0xd, true);
  v.setUint32(kvm_cpuid2.size + e.flags.offset, 1, true); // KVM_CPUID_FLAG_SIGNIFCANT_INDEX
  v.setUint32(kvm_cpuid2.size + e.eax.offset, eax, true);
  expect(host.ioctl(vcpu, I.KVM_SET_CPUID2, b)).toBe(0);
};

describe('KVM_GET_XSAVE / KVM_SET_XSAVE', () => {
  it('gives the reset FPU as an FXSAVE image with XSTATE_BV x87|SSE and zeroes the rest', () => {
    const b = getXsave();
    const x = view(b);
    expect(x.getUint16(XSAVE.FCW, true)).toBe(0x37f);
    expect(x.getUint16(XSAVE.FSW, true)).toBe(0);
    expect(x.getUint32(XSAVE.MXCSR, true)).toBe(0x1f80);
    expect(x.getUint32(XSAVE.MXCSR_MASK, true)).toBe(0xffff);
    expect(x.getBigUint64(XSAVE.XSTATE_BV, true)).toBe(3n);
    expect(x.getBigUint64(XSAVE.XCOMP_BV, true)).toBe(0n);
    expect(b.subarray(XSAVE.HEADER_END).every((v) => v === 0)).toBe(true);
    expect(b.subarray(XSAVE.ST0, XSAVE.ST0 + 128).every((v) => v === 0)).toBe(true);
  });

  it('round-trips the legacy region and shows it through KVM_GET_FPU', () => {
    const b = new Uint8Array(kvm_xsave.size);
    const x = view(b);
    x.setUint16(XSAVE.FCW, 0x027f, true);
    x.setUint16(XSAVE.FSW, 0x3800, true); // TOP = 7
    x.setUint8(XSAVE.FTW, 0x80); // ST(0) = physical register 7 valid
    x.setUint16(XSAVE.FOP, 0x1e8, true);
    x.setBigUint64(XSAVE.FIP, 0x0008_0000_1234n, true); // FIP 0x1234, FCS 8
    x.setBigUint64(XSAVE.FDP, 0x0010_0000_5678n, true); // FDP 0x5678, FDS 0x10
    x.setUint32(XSAVE.MXCSR, 0x1f80, true);
    // ST(7) slot: 1.0 as an 80-bit extended real (exponent 0x3fff, explicit integer bit).
    x.setBigUint64(XSAVE.ST0 + 16 * 7, 0x8000_0000_0000_0000n, true);
    x.setUint16(XSAVE.ST0 + 16 * 7 + 8, 0x3fff, true);
    b.fill(0x5a, XSAVE.XMM0 + 16 * 15, XSAVE.XMM0 + 16 * 16);
    x.setBigUint64(XSAVE.XSTATE_BV, 3n, true);
    expect(host.ioctl(vcpu, I.KVM_SET_XSAVE, b)).toBe(0);
    const back = getXsave();
    expect(back.subarray(0, 512)).toEqual(
      (() => {
        const e = b.slice(0, 512);
        view(e).setUint32(XSAVE.MXCSR_MASK, 0xffff, true);
        return e;
      })(),
    );
    const f = allocStruct(kvm_fpu);
    expect(host.ioctl(vcpu, I.KVM_GET_FPU, f.bytes)).toBe(0);
    expect(f.get('fcw')).toBe(0x027f);
    expect(f.get('ftwx')).toBe(0x80);
    expect(f.get('last_opcode')).toBe(0x1e8);
    expect(f.getBigInt('last_ip')).toBe(0x0008_0000_1234n);
    expect(f.getBigInt('last_dp')).toBe(0x0010_0000_5678n);
    expect(f.bytesOf('fpr')[7 * 16 + 9]).toBe(0x3f);
    expect(f.bytesOf('xmm')[15 * 16]).toBe(0x5a);
  });

  it('refuses XSTATE_BV beyond x87|SSE|AVX and reserved MXCSR bits with -EINVAL, changing nothing', () => {
    const b = getXsave();
    const x = view(b);
    x.setUint16(XSAVE.FCW, 0x0040, true);
    x.setBigUint64(XSAVE.XSTATE_BV, 0xfn, true); // + BNDREGS (MPX), which no model has
    expect(host.ioctl(vcpu, I.KVM_SET_XSAVE, b)).toBe(-EINVAL);
    x.setBigUint64(XSAVE.XSTATE_BV, 3n, true);
    x.setUint32(XSAVE.MXCSR, 0x1_1f80, true); // bit 16: above mxcsr_feature_mask (0xffff, DAZ included)
    expect(host.ioctl(vcpu, I.KVM_SET_XSAVE, b)).toBe(-EINVAL);
    expect(view(getXsave()).getUint16(XSAVE.FCW, true)).toBe(0x37f);
    x.setUint32(XSAVE.MXCSR, 0x1f80 | 0x40, true); // DAZ: the software CPU has it
    expect(host.ioctl(vcpu, I.KVM_SET_XSAVE, b)).toBe(0);
    expect(view(getXsave()).getUint32(XSAVE.MXCSR, true)).toBe(0x1fc0);
  });

  it('puts components whose XSTATE_BV bit is clear in their initial configuration', () => {
    const b = getXsave();
    const x = view(b);
    x.setUint16(XSAVE.FCW, 0x027f, true);
    x.setUint16(XSAVE.FSW, 0x3800, true);
    x.setUint32(XSAVE.MXCSR, 0x1fc0, true);
    b.fill(0x5a, XSAVE.ST0, XSAVE.ST0 + 128);
    b.fill(0x5a, XSAVE.XMM0, XSAVE.XMM0 + 256);
    // SSE only: x87 initialized, MXCSR (SSE's) and XMM taken.
    x.setBigUint64(XSAVE.XSTATE_BV, 2n, true);
    expect(host.ioctl(vcpu, I.KVM_SET_XSAVE, b)).toBe(0);
    let back = view(getXsave());
    expect(back.getUint16(XSAVE.FCW, true)).toBe(0x37f);
    expect(back.getUint16(XSAVE.FSW, true)).toBe(0);
    expect(back.getUint8(XSAVE.ST0)).toBe(0);
    expect(back.getUint32(XSAVE.MXCSR, true)).toBe(0x1fc0);
    expect(back.getUint8(XSAVE.XMM0 + 255)).toBe(0x5a);
    // x87 only: XMM0-XMM15 zeroed, x87 taken (with MXCSR, which lies in its bytes 0-159).
    x.setBigUint64(XSAVE.XSTATE_BV, 1n, true);
    x.setUint32(XSAVE.MXCSR, 0x1f80, true);
    expect(host.ioctl(vcpu, I.KVM_SET_XSAVE, b)).toBe(0);
    back = view(getXsave());
    expect(back.getUint16(XSAVE.FCW, true)).toBe(0x027f);
    expect(back.getUint8(XSAVE.ST0)).toBe(0x5a);
    expect(back.getUint32(XSAVE.MXCSR, true)).toBe(0x1f80);
    expect(new Uint8Array(back.buffer, XSAVE.XMM0, 256).every((v) => v === 0)).toBe(true);
    expect(back.getBigUint64(XSAVE.XSTATE_BV, true)).toBe(3n);
  });

  it('on a model without AVX (the x86-64 model) refuses XSTATE_BV with AVX', () => {
    host = new KvmHost({ model: X86_64_KVM_MODEL });
    vcpu = host.ioctl(host.ioctl(host.open('/dev/kvm'), I.KVM_CREATE_VM, 0), I.KVM_CREATE_VCPU, 0);
    const b = getXsave();
    view(b).setBigUint64(XSAVE.XSTATE_BV, 7n, true);
    expect(host.ioctl(vcpu, I.KVM_SET_XSAVE, b)).toBe(-EINVAL);
    view(b).setBigUint64(XSAVE.XSTATE_BV, 3n, true);
    expect(host.ioctl(vcpu, I.KVM_SET_XSAVE, b)).toBe(0);
  });

  it('round-trips the YMM upper halves at offset 576 with XSTATE_BV[2] once the guest CPUID allows XCR0.YMM', () => {
    setLeafD(7);
    const b = getXsave();
    const x = view(b);
    expect(x.getBigUint64(XSAVE.XSTATE_BV, true)).toBe(7n);
    expect(b.subarray(XSAVE.YMM, XSAVE.YMM + 256).every((v) => v === 0)).toBe(true);
    for (let i = 0; i < 256; i++) b[XSAVE.YMM + i] = (i * 7 + 1) & 0xff;
    b.fill(0x11, XSAVE.XMM0, XSAVE.XMM0 + 256);
    expect(host.ioctl(vcpu, I.KVM_SET_XSAVE, b)).toBe(0);
    const back = getXsave();
    expect(back.subarray(XSAVE.YMM, XSAVE.YMM + 256)).toEqual(b.subarray(XSAVE.YMM, XSAVE.YMM + 256));
    expect(back.subarray(XSAVE.XMM0, XSAVE.XMM0 + 256).every((v) => v === 0x11)).toBe(true);
    // Nothing beyond the AVX component.
    expect(back.subarray(XSAVE.YMM + 256).every((v) => v === 0)).toBe(true);
    // A guest CPUID whose leaf 0DH lacks YMM: KVM_GET_XSAVE masks the component out (it reads 0).
    setLeafD(3);
    const masked = getXsave();
    expect(view(masked).getBigUint64(XSAVE.XSTATE_BV, true)).toBe(3n);
    expect(masked.subarray(XSAVE.YMM, XSAVE.YMM + 256).every((v) => v === 0)).toBe(true);
    // ... but the state is still there (KVM_SET_XSAVE checks against what KVM supports).
    setLeafD(7);
    expect(getXsave().subarray(XSAVE.YMM, XSAVE.YMM + 256)).toEqual(b.subarray(XSAVE.YMM, XSAVE.YMM + 256));
  });

  it('puts the AVX component in its initial configuration (zeros) when XSTATE_BV[2] is clear', () => {
    setLeafD(7);
    const b = getXsave();
    b.fill(0x5a, XSAVE.YMM, XSAVE.YMM + 256);
    expect(host.ioctl(vcpu, I.KVM_SET_XSAVE, b)).toBe(0);
    expect(getXsave()[XSAVE.YMM + 255]).toBe(0x5a);
    view(b).setBigUint64(XSAVE.XSTATE_BV, 3n, true);
    expect(host.ioctl(vcpu, I.KVM_SET_XSAVE, b)).toBe(0);
    expect(
      getXsave()
        .subarray(XSAVE.YMM, XSAVE.YMM + 256)
        .every((v) => v === 0),
    ).toBe(true);
    // AVX alone: MXCSR is taken (copy_uabi_to_xstate copies it for SSE or YMM), x87/XMM initialized.
    view(b).setBigUint64(XSAVE.XSTATE_BV, 4n, true);
    view(b).setUint32(XSAVE.MXCSR, 0x1fc0, true);
    b.fill(0x33, XSAVE.XMM0, XSAVE.XMM0 + 256);
    expect(host.ioctl(vcpu, I.KVM_SET_XSAVE, b)).toBe(0);
    const back = view(getXsave());
    expect(back.getUint32(XSAVE.MXCSR, true)).toBe(0x1fc0);
    expect(back.getUint8(XSAVE.XMM0)).toBe(0);
    expect(back.getUint8(XSAVE.YMM)).toBe(0x5a);
  });

  it('refuses a non-zero XCOMP_BV or reserved header byte (standard format only) with -EINVAL', () => {
    const b = getXsave();
    const x = view(b);
    x.setUint16(XSAVE.FCW, 0x0040, true);
    x.setBigUint64(XSAVE.XCOMP_BV, 1n << 63n, true);
    expect(host.ioctl(vcpu, I.KVM_SET_XSAVE, b)).toBe(-EINVAL);
    x.setBigUint64(XSAVE.XCOMP_BV, 0n, true);
    b[XSAVE.HEADER_END - 1] = 1;
    expect(host.ioctl(vcpu, I.KVM_SET_XSAVE, b)).toBe(-EINVAL);
    expect(view(getXsave()).getUint16(XSAVE.FCW, true)).toBe(0x37f);
    b[XSAVE.HEADER_END - 1] = 0;
    // Bytes past the header (the extended region) are not looked at: no component lives there.
    b[XSAVE.HEADER_END] = 1;
    expect(host.ioctl(vcpu, I.KVM_SET_XSAVE, b)).toBe(0);
  });

  it('gives -EFAULT for a missing or short buffer', () => {
    expect(host.ioctl(vcpu, I.KVM_GET_XSAVE, 0)).toBe(-EFAULT);
    expect(host.ioctl(vcpu, I.KVM_GET_XSAVE, new Uint8Array(512))).toBe(-EFAULT);
    expect(host.ioctl(vcpu, I.KVM_SET_XSAVE, new Uint8Array(4095))).toBe(-EFAULT);
  });

  it('KVM_GET_XSAVE2 fills the KVM_CAP_XSAVE2-sized buffer like KVM_GET_XSAVE', () => {
    const b = new Uint8Array(4096);
    expect(host.ioctl(vcpu, I.KVM_GET_XSAVE2, b)).toBe(0);
    expect(b).toEqual(getXsave());
    expect(host.ioctl(vcpu, I.KVM_GET_XSAVE2, new Uint8Array(1024))).toBe(-EFAULT);
  });
});

describe('KVM_GET_XCRS / KVM_SET_XCRS', () => {
  const xcrs = (entries: readonly [number, bigint][], flags = 0) => {
    const s = allocStruct(kvm_xcrs);
    s.set('nr_xcrs', entries.length);
    s.set('flags', flags);
    entries.forEach(([xcr, value], i) => {
      const e = allocStruct(kvm_xcr);
      e.set('xcr', xcr);
      e.set('value', value);
      s.bytesOf('xcrs').set(e.bytes, i * kvm_xcr.size);
    });
    return s;
  };
  const xcr0 = (): bigint => {
    const s = allocStruct(kvm_xcrs);
    s.bytes.fill(0xee);
    expect(host.ioctl(vcpu, I.KVM_GET_XCRS, s.bytes)).toBe(0);
    expect(s.get('nr_xcrs')).toBe(1);
    expect(s.get('flags')).toBe(0);
    expect(s.bytes.subarray(8 + kvm_xcr.size).every((v) => v === 0)).toBe(true);
    const e = allocStruct(kvm_xcr);
    e.bytes.set(s.bytesOf('xcrs').subarray(0, kvm_xcr.size));
    expect(e.get('xcr')).toBe(0);
    return e.getBigInt('value');
  };

  it('XCR0 may enable only what the guest CPUID leaf 0DH allows (guest_supported_xcr0), x87 always', () => {
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, xcrs([[0, 3n]]).bytes)).toBe(-EINVAL);
    setLeafD(1);
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, xcrs([[0, 3n]]).bytes)).toBe(-EINVAL);
    // YMM only when the guest CPUID's leaf 0DH has it.
    setLeafD(3);
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, xcrs([[0, 7n]]).bytes)).toBe(-EINVAL);
    setLeafD(7);
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, xcrs([[0, 7n]]).bytes)).toBe(0);
    expect(xcr0()).toBe(7n);
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, xcrs([[0, 3n]]).bytes)).toBe(0);
    expect(xcr0()).toBe(3n);
  });

  it('on a model without AVX, YMM in the guest CPUID is not enough: XCR0 7 is refused', () => {
    host = new KvmHost({ model: X86_64_KVM_MODEL });
    vcpu = host.ioctl(host.ioctl(host.open('/dev/kvm'), I.KVM_CREATE_VM, 0), I.KVM_CREATE_VCPU, 0);
    setLeafD(7);
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, xcrs([[0, 7n]]).bytes)).toBe(-EINVAL);
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, xcrs([[0, 3n]]).bytes)).toBe(0);
  });

  it('reports XCR0 = x87 (1) after reset and accepts x87 (1) and x87|SSE (3)', () => {
    expect(xcr0()).toBe(1n);
    setLeafD(3);
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, xcrs([[0, 3n]]).bytes)).toBe(0);
    expect(xcr0()).toBe(3n);
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, xcrs([[0, 1n]]).bytes)).toBe(0);
    // Entries for other XCRs are skipped; no entry at all changes nothing.
    expect(
      host.ioctl(
        vcpu,
        I.KVM_SET_XCRS,
        xcrs([
          [1, 0xffn],
          [0, 1n],
        ]).bytes,
      ),
    ).toBe(0);
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, xcrs([]).bytes)).toBe(0);
    expect(xcr0()).toBe(1n);
  });

  it('refuses XCR0 without x87, SSE without x87, AVX without SSE, AVX the guest CPUID lacks, flags or too many entries (-EINVAL)', () => {
    setLeafD(3);
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, xcrs([[0, 0n]]).bytes)).toBe(-EINVAL);
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, xcrs([[0, 2n]]).bytes)).toBe(-EINVAL);
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, xcrs([[0, 7n]]).bytes)).toBe(-EINVAL);
    setLeafD(7);
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, xcrs([[0, 5n]]).bytes)).toBe(-EINVAL);
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, xcrs([[0, 1n | (1n << 32n)]]).bytes)).toBe(-EINVAL);
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, xcrs([[0, 1n]], 1).bytes)).toBe(-EINVAL);
    const many = xcrs([[0, 1n]]);
    many.set('nr_xcrs', 17);
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, many.bytes)).toBe(-EINVAL);
    expect(host.ioctl(vcpu, I.KVM_SET_XCRS, new Uint8Array(8))).toBe(-EFAULT);
    expect(xcr0()).toBe(1n);
  });
});

describe('KVM_GET_DEBUGREGS / KVM_SET_DEBUGREGS', () => {
  it('reads the reset values DR6 0xffff0ff0 and DR7 0x400', () => {
    const d = allocStruct(kvm_debugregs);
    d.bytes.fill(0xee);
    expect(host.ioctl(vcpu, I.KVM_GET_DEBUGREGS, d.bytes)).toBe(0);
    expect(d.bytesOf('db').every((v) => v === 0)).toBe(true);
    expect(d.get('dr6')).toBe(0xffff0ff0);
    expect(d.get('dr7')).toBe(0x400);
    expect(d.getBigInt('flags')).toBe(0n);
    expect(d.bytesOf('reserved').every((v) => v === 0)).toBe(true);
  });

  it('round-trips DR0..DR3, DR6 and DR7 (the reserved words are not kept)', () => {
    const d = allocStruct(kvm_debugregs);
    const db = view(d.bytesOf('db'));
    for (const [i, v] of [0x1000n, 0x2000n, 0xffff_fff0n, 0x1234_5678_9abcn].entries())
      db.setBigUint64(i * 8, v, true);
    d.set('dr6', 0xffff4ff1);
    d.set('dr7', 0x0001_0403);
    d.bytesOf('reserved').fill(0x77);
    expect(host.ioctl(vcpu, I.KVM_SET_DEBUGREGS, d.bytes)).toBe(0);
    const back = allocStruct(kvm_debugregs);
    expect(host.ioctl(vcpu, I.KVM_GET_DEBUGREGS, back.bytes)).toBe(0);
    expect(back.bytesOf('db')).toEqual(d.bytesOf('db'));
    expect(back.get('dr6')).toBe(0xffff4ff1);
    expect(back.get('dr7')).toBe(0x0001_0403);
    expect(back.bytesOf('reserved').every((v) => v === 0)).toBe(true);
  });

  it('refuses flags and DR6/DR7 bits above 31 with -EINVAL, changing nothing', () => {
    const d = allocStruct(kvm_debugregs);
    d.set('dr6', 0xffff0ff0);
    d.set('dr7', 0x401);
    d.set('flags', 1);
    expect(host.ioctl(vcpu, I.KVM_SET_DEBUGREGS, d.bytes)).toBe(-EINVAL);
    d.set('flags', 0);
    d.set('dr6', 0x1_ffff_0ff0n);
    expect(host.ioctl(vcpu, I.KVM_SET_DEBUGREGS, d.bytes)).toBe(-EINVAL);
    d.set('dr6', 0xffff0ff0);
    d.set('dr7', 0x1_0000_0401n);
    expect(host.ioctl(vcpu, I.KVM_SET_DEBUGREGS, d.bytes)).toBe(-EINVAL);
    expect(host.ioctl(vcpu, I.KVM_SET_DEBUGREGS, new Uint8Array(64))).toBe(-EFAULT);
    const back = allocStruct(kvm_debugregs);
    host.ioctl(vcpu, I.KVM_GET_DEBUGREGS, back.bytes);
    expect(back.get('dr7')).toBe(0x400);
  });
});
