/**
 * KVM_GET/SET_XSAVE, KVM_GET_XSAVE2, KVM_GET/SET_XCRS and KVM_GET/SET_DEBUGREGS (arch/x86/kvm/x86.c).
 *
 * The CPU model has an x87 unit and FXSR but no XSAVE and no SSE state, so these follow the kernel's
 * paths for a host without XSAVE (fpu_copy_guest_fpstate_to_uabi / fpu_copy_uabi_to_guest_fpstate
 * without X86_FEATURE_XSAVE): the 4096-byte kvm_xsave is the 512-byte FXSAVE image plus an XSAVE
 * header whose XSTATE_BV is x87|SSE; the state is the vCPU's kvm_fpu (KVM_GET_FPU's), whose x87 part
 * the CPU's x87 unit keeps current. XCR0 can only be x87 (1).
 */
import type { KvmCpuModel } from '../cpu-model.js';
import { EINVAL } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { StructView } from '../uapi/layout.js';
import { KVM_MAX_XCRS, kvm_debugregs, kvm_fpu, kvm_xcr, kvm_xcrs, kvm_xsave } from '../uapi/structs.js';
import { dv, FAULT, type IoctlArg, structArg } from './args.js';
import type { VcpuContext } from './vcpu-ioctls.js';

/** XSAVE state components (SDM Vol. 1 §13.1): bit 0 x87, bit 1 SSE. */
export const XFEATURE_MASK_FP = 1n;
export const XFEATURE_MASK_SSE = 2n;
const XFEATURE_MASK_FPSSE = XFEATURE_MASK_FP | XFEATURE_MASK_SSE;
/** XCR_XFEATURE_ENABLED_MASK: the index of XCR0. */
const XCR_XFEATURE_ENABLED_MASK = 0;

/** The legacy region (FXSAVE image, SDM Vol. 1 Table 10-2) and the XSAVE header (§13.4.2) of kvm_xsave. */
export const XSAVE = {
  FCW: 0,
  FSW: 2,
  FTW: 4,
  FOP: 6,
  /** FIP (and FCS at 12) as one u64, as fxregs_state.rip. */
  FIP: 8,
  /** FDP (and FDS at 20) as one u64, as fxregs_state.rdp. */
  FDP: 16,
  MXCSR: 24,
  MXCSR_MASK: 28,
  ST0: 32,
  XMM0: 160,
  /** 16 XMM slots of 16 bytes (the FXSAVE64 image). */
  XMM_BYTES: 256,
  HEADER: 512,
  XSTATE_BV: 512,
  XCOMP_BV: 520,
  /** Bytes 528..575: reserved, must be 0. */
  HEADER_RESERVED: 528,
  HEADER_END: 576,
} as const;

/**
 * mxcsr_feature_mask: MXCSR bits that may be set. The model's FXSAVE writes MXCSR_MASK 0, which
 * fpu__init_system_mxcsr() reads as the default 0xffbf (no DAZ).
 */
export const MXCSR_FEATURE_MASK = 0xffbf;

/** KVM_CAP_XSAVE2: the buffer KVM_GET_XSAVE2 fills (never less than sizeof(struct kvm_xsave)). */
export const XSAVE2_SIZE = kvm_xsave.size;

/**
 * The XCR0 bits the guest may enable (kvm_caps.supported_xcr0 within the guest CPUID): CPUID.0DH.0
 * EDX:EAX when the model has XSAVE (CPUID.01H:ECX[26]), else x87 only.
 */
export function supportedXcr0(model: KvmCpuModel): bigint {
  const leaf1 = model.cpuid.find((e) => e.function === 1);
  const leafD = model.cpuid.find((e) => e.function === 0xd && e.index === 0);
  if (leaf1 === undefined || ((leaf1.ecx >>> 26) & 1) === 0 || leafD === undefined) return XFEATURE_MASK_FP;
  return (BigInt(leafD.edx >>> 0) << 32n) | BigInt(leafD.eax >>> 0) | XFEATURE_MASK_FP;
}

const FP = kvm_fpu.fields;

/** kvm_fpu -> kvm_xsave (fpu_copy_guest_fpstate_to_uabi without XSAVE: the FXSAVE image, XSTATE_BV x87|SSE). */
function getXsave(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_xsave.size);
  if (b === null) return FAULT;
  const f = dv(c.vcpu.fpu);
  const x = dv(b);
  b.fill(0, 0, kvm_xsave.size);
  x.setUint16(XSAVE.FCW, f.getUint16(FP.fcw.offset, true), true);
  x.setUint16(XSAVE.FSW, f.getUint16(FP.fsw.offset, true), true);
  x.setUint8(XSAVE.FTW, f.getUint8(FP.ftwx.offset));
  x.setUint16(XSAVE.FOP, f.getUint16(FP.last_opcode.offset, true), true);
  x.setBigUint64(XSAVE.FIP, f.getBigUint64(FP.last_ip.offset, true), true);
  x.setBigUint64(XSAVE.FDP, f.getBigUint64(FP.last_dp.offset, true), true);
  x.setUint32(XSAVE.MXCSR, f.getUint32(FP.mxcsr.offset, true), true);
  x.setUint32(XSAVE.MXCSR_MASK, MXCSR_FEATURE_MASK, true);
  b.set(c.vcpu.fpu.subarray(FP.fpr.offset, FP.fpr.offset + 128), XSAVE.ST0);
  b.set(c.vcpu.fpu.subarray(FP.xmm.offset, FP.xmm.offset + XSAVE.XMM_BYTES), XSAVE.XMM0);
  x.setBigUint64(XSAVE.XSTATE_BV, XFEATURE_MASK_FPSSE, true);
  return 0;
}

/**
 * fpu_copy_uabi_to_guest_fpstate() without XSAVE: -EINVAL for XSTATE_BV bits beyond x87|SSE or MXCSR
 * bits outside mxcsr_feature_mask; otherwise the FXSAVE image is taken as is (the header's other
 * fields are not looked at on this path).
 */
function setXsave(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_xsave.size);
  if (b === null) return FAULT;
  const x = dv(b);
  if (x.getBigUint64(XSAVE.XSTATE_BV, true) & ~XFEATURE_MASK_FPSSE) return -EINVAL;
  const mxcsr = x.getUint32(XSAVE.MXCSR, true);
  if (mxcsr & ~MXCSR_FEATURE_MASK) return -EINVAL;
  const f = dv(c.vcpu.fpu);
  f.setUint16(FP.fcw.offset, x.getUint16(XSAVE.FCW, true), true);
  f.setUint16(FP.fsw.offset, x.getUint16(XSAVE.FSW, true), true);
  f.setUint8(FP.ftwx.offset, x.getUint8(XSAVE.FTW));
  f.setUint8(FP.pad1.offset, 0);
  f.setUint16(FP.last_opcode.offset, x.getUint16(XSAVE.FOP, true), true);
  f.setBigUint64(FP.last_ip.offset, x.getBigUint64(XSAVE.FIP, true), true);
  f.setBigUint64(FP.last_dp.offset, x.getBigUint64(XSAVE.FDP, true), true);
  f.setUint32(FP.mxcsr.offset, mxcsr, true);
  f.setUint32(FP.pad2.offset, 0, true);
  c.vcpu.fpu.set(b.subarray(XSAVE.ST0, XSAVE.ST0 + 128), FP.fpr.offset);
  c.vcpu.fpu.set(b.subarray(XSAVE.XMM0, XSAVE.XMM0 + XSAVE.XMM_BYTES), FP.xmm.offset);
  return 0;
}

/** KVM_GET_XSAVE2: KVM_GET_XSAVE into a buffer of KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) bytes. */
function getXsave2(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, XSAVE2_SIZE);
  if (b === null) return FAULT;
  return getXsave(c, b);
}

/** kvm_vcpu_ioctl_x86_get_xcrs(): one XCR, XCR0; the rest of the struct zeroed. */
function getXcrs(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_xcrs.size);
  if (b === null) return FAULT;
  b.fill(0, 0, kvm_xcrs.size);
  const v = new StructView(kvm_xcrs, b);
  v.set('nr_xcrs', 1);
  const xcr = new StructView(kvm_xcr, v.bytesOf('xcrs'));
  xcr.set('xcr', XCR_XFEATURE_ENABLED_MASK);
  xcr.set('value', c.vcpu.xcr0[0]!);
  return 0;
}

/**
 * __kvm_set_xcr() for XCR0: x87 must be enabled, YMM needs SSE, and only bits the vCPU supports may
 * be set. True when `xcr0` is acceptable.
 */
function validXcr0(model: KvmCpuModel, xcr0: bigint): boolean {
  if (!(xcr0 & XFEATURE_MASK_FP)) return false;
  if (xcr0 & 4n && !(xcr0 & XFEATURE_MASK_SSE)) return false;
  return (xcr0 & ~supportedXcr0(model)) === 0n;
}

/**
 * kvm_vcpu_ioctl_x86_set_xcrs(): -EINVAL for nr_xcrs > KVM_MAX_XCRS, non-zero flags or an XCR0 value
 * __kvm_set_xcr refuses; the first XCR0 entry is taken, entries for other XCRs are ignored.
 */
function setXcrs(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_xcrs.size);
  if (b === null) return FAULT;
  const v = new StructView(kvm_xcrs, b);
  const n = v.get('nr_xcrs');
  if (n > KVM_MAX_XCRS || v.get('flags') !== 0) return -EINVAL;
  const list = v.bytesOf('xcrs');
  for (let i = 0; i < n; i++) {
    const xcr = new StructView(kvm_xcr, list.subarray(i * kvm_xcr.size, (i + 1) * kvm_xcr.size));
    if (xcr.get('xcr') !== XCR_XFEATURE_ENABLED_MASK) continue;
    const value = xcr.getBigInt('value');
    if (!validXcr0(c.model, value)) return -EINVAL;
    c.vcpu.xcr0[0] = value;
    break;
  }
  return 0;
}

/** kvm_vcpu_ioctl_x86_get_debugregs(): DR0..DR3, DR6, DR7; flags and reserved 0. */
function getDebugregs(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_debugregs.size);
  if (b === null) return FAULT;
  b.set(c.vcpu.debugregs);
  return 0;
}

/**
 * kvm_vcpu_ioctl_x86_set_debugregs(): -EINVAL for non-zero flags or DR6/DR7 with bits above 31
 * (kvm_dr6_valid / kvm_dr7_valid); the values are taken as they are (the reserved words ignored).
 */
function setDebugregs(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_debugregs.size);
  if (b === null) return FAULT;
  const v = new StructView(kvm_debugregs, b);
  if (v.getBigInt('flags') !== 0n) return -EINVAL;
  if (v.getBigInt('dr6') >> 32n || v.getBigInt('dr7') >> 32n) return -EINVAL;
  const d = c.vcpu.debugregs;
  d.fill(0);
  d.set(b.subarray(0, kvm_debugregs.fields.flags.offset));
  return 0;
}

type VcpuIoctl = (c: VcpuContext, arg: IoctlArg) => number;

/** The extended-state and debug-register ioctls (merged into VCPU_IOCTLS). */
export const XSTATE_IOCTLS: readonly (readonly [number, VcpuIoctl])[] = [
  [I.KVM_GET_XSAVE, getXsave],
  [I.KVM_SET_XSAVE, setXsave],
  [I.KVM_GET_XSAVE2, getXsave2],
  [I.KVM_GET_XCRS, getXcrs],
  [I.KVM_SET_XCRS, setXcrs],
  [I.KVM_GET_DEBUGREGS, getDebugregs],
  [I.KVM_SET_DEBUGREGS, setDebugregs],
];
