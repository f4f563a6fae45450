/**
 * KVM_GET/SET_XSAVE, KVM_GET_XSAVE2, KVM_GET/SET_XCRS and KVM_GET/SET_DEBUGREGS (arch/x86/kvm/x86.c).
 *
 * The software CPU's extended state is x87 and SSE (XMM0-XMM15, MXCSR), both in the 512-byte legacy
 * region, and on a model with AVX the AVX component (YMM_Hi128: the upper halves of YMM0-YMM15) at
 * offset 576, 256 bytes (CPUID.(EAX=0DH,ECX=2)), within the 4096-byte kvm_xsave. The state itself is
 * the vCPU's kvm_fpu (KVM_GET_FPU's) and its `ymmHi`, which the CPU keeps current
 * (`run/state-sync.ts`), and XCR0 is vcpu->arch.xcr0, which the guest sets with XSETBV.
 *
 * With a model that has XSAVE (CPUID.01H:ECX[26], leaf 0DH) these follow the kernel's XSAVE paths
 * (copy_xstate_to_uabi_buf / copy_uabi_to_xstate): KVM_GET_XSAVE reports every component in use (the
 * CPU does not track the init state: XINUSE taken as all ones) within x87|SSE and the guest CPUID's
 * XCR0 bits (KVM_GET_XSAVE masks with guest_supported_xcr0 | FP|SSE); KVM_SET_XSAVE validates the
 * header as validate_user_xstate_header does (against everything KVM supports, user_xfeatures) and puts
 * components whose XSTATE_BV bit is clear in their initial configuration (the AVX one: zeros). Without
 * XSAVE they follow the no-XSAVE paths: the header is not looked at beyond XSTATE_BV's x87|SSE limit,
 * and XCR0 can only be x87.
 */
import { MXCSR_WRITABLE } from '@typevisor/x86-cpu';
import type { KvmCpuModel } from '../cpu-model.js';
import { EINVAL } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { StructView } from '../uapi/layout.js';
import {
  KVM_MAX_XCRS,
  kvm_cpuid_entry2,
  kvm_debugregs,
  kvm_fpu,
  kvm_xcr,
  kvm_xcrs,
  kvm_xsave,
} from '../uapi/structs.js';
import type { VcpuState } from '../vcpu-state.js';
import { dv, FAULT, type IoctlArg, structArg } from './args.js';
import type { VcpuContext } from './vcpu-ioctls.js';

/** XSAVE state components (SDM Vol. 1 §13.1): bit 0 x87, bit 1 SSE. */
export const XFEATURE_MASK_FP = 1n;
export const XFEATURE_MASK_SSE = 2n;
export const XFEATURE_MASK_YMM = 4n;
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
  /** The AVX component (YMM_Hi128 of YMM0-YMM15): CPUID.(EAX=0DH,ECX=2):EBX. */
  YMM: 576,
  /** Its size: CPUID.(EAX=0DH,ECX=2):EAX. */
  YMM_BYTES: 256,
} as const;

/**
 * mxcsr_feature_mask: MXCSR bits that may be set, the MXCSR_MASK the software CPU's FXSAVE stores
 * (0xffff: DAZ supported), as fpu__init_system_mxcsr() reads it from the host's FXSAVE.
 */
export const MXCSR_FEATURE_MASK = MXCSR_WRITABLE;

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
const CE = kvm_cpuid_entry2.fields;
/** KVM_CPUID_FLAG_SIGNIFCANT_INDEX. */
const SIGNIFICANT_INDEX = 1;

/** Offset of the guest CPUID entry for (`fn`, `index`) in vcpu.cpuid, or -1 (kvm_find_cpuid_entry_index). */
function guestCpuidEntry(vcpu: VcpuState, fn: number, index: number): number {
  const v = dv(vcpu.cpuid);
  for (let i = 0; i < vcpu.cpuidCount; i++) {
    const o = i * kvm_cpuid_entry2.size;
    if (v.getUint32(o + CE.function.offset, true) !== fn) continue;
    if (
      v.getUint32(o + CE.flags.offset, true) & SIGNIFICANT_INDEX &&
      v.getUint32(o + CE.index.offset, true) !== index
    )
      continue;
    return o;
  }
  return -1;
}

/** Register `reg` of the guest CPUID entry (`fn`, `index`), 0 without such an entry. */
export function guestCpuidReg(
  vcpu: VcpuState,
  fn: number,
  index: number,
  reg: 'eax' | 'ebx' | 'ecx' | 'edx',
): number {
  const o = guestCpuidEntry(vcpu, fn, index);
  return o < 0 ? 0 : dv(vcpu.cpuid).getUint32(o + CE[reg].offset, true);
}

/**
 * vcpu->arch.guest_supported_xcr0 | x87: the XCR0 bits the guest CPUID's leaf 0DH enables within what
 * the model supports (cpuid_get_supported_xcr0); x87 only without that leaf. XSETBV and KVM_SET_XCRS
 * both check against it. A number: every supported bit is in the low half.
 */
export function guestSupportedXcr0(vcpu: VcpuState, model: KvmCpuModel): number {
  const o = guestCpuidEntry(vcpu, 0xd, 0);
  const eax = o < 0 ? 0 : dv(vcpu.cpuid).getUint32(o + CE.eax.offset, true);
  return ((eax & Number(supportedXcr0(model) & 0xffff_ffffn)) | Number(XFEATURE_MASK_FP)) >>> 0;
}

/**
 * kvm_fpu and the YMM upper halves -> kvm_xsave (fpu_copy_guest_fpstate_to_uabi): the FXSAVE image
 * and XSTATE_BV x87|SSE, both in use (the no-XSAVE path's fixed value, and with XSAVE what XINUSE
 * taken as all ones gives), plus the AVX component and XSTATE_BV[2] when the guest CPUID lets XCR0
 * enable it (guest_supported_xcr0). A component outside XSTATE_BV reads as zeros.
 */
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
  let bv = XFEATURE_MASK_FPSSE;
  if (hasXsave(c.model) && guestSupportedXcr0(c.vcpu, c.model) & Number(XFEATURE_MASK_YMM)) {
    bv |= XFEATURE_MASK_YMM;
    b.set(c.vcpu.ymmHi, XSAVE.YMM);
  }
  x.setBigUint64(XSAVE.XSTATE_BV, bv, true);
  return 0;
}

/** Whether the model has XSAVE (CPUID.01H:ECX[26]): the kernel's XSAVE paths apply. */
function hasXsave(model: KvmCpuModel): boolean {
  const leaf1 = model.cpuid.find((e) => e.function === 1);
  return leaf1 !== undefined && ((leaf1.ecx >>> 26) & 1) === 1;
}

/** The x87 fields of the legacy region (bytes 0-23 but MXCSR, and the ST slots) -> kvm_fpu. */
function loadX87(fpu: Uint8Array, b: Uint8Array): void {
  const f = dv(fpu);
  const x = dv(b);
  f.setUint16(FP.fcw.offset, x.getUint16(XSAVE.FCW, true), true);
  f.setUint16(FP.fsw.offset, x.getUint16(XSAVE.FSW, true), true);
  f.setUint8(FP.ftwx.offset, x.getUint8(XSAVE.FTW));
  f.setUint8(FP.pad1.offset, 0);
  f.setUint16(FP.last_opcode.offset, x.getUint16(XSAVE.FOP, true), true);
  f.setBigUint64(FP.last_ip.offset, x.getBigUint64(XSAVE.FIP, true), true);
  f.setBigUint64(FP.last_dp.offset, x.getBigUint64(XSAVE.FDP, true), true);
  fpu.set(b.subarray(XSAVE.ST0, XSAVE.ST0 + 128), FP.fpr.offset);
}

/** The x87 initial configuration (SDM Vol. 1 §13.6): FCW 037FH, FSW 0, all tags empty, pointers and ST(i) 0. */
const X87_INIT = (() => {
  const b = new Uint8Array(512);
  dv(b).setUint16(XSAVE.FCW, 0x037f, true);
  return b;
})();

/**
 * fpu_copy_uabi_to_guest_fpstate(). With XSAVE (copy_uabi_to_xstate): -EINVAL for XSTATE_BV bits the
 * vCPU cannot enable, a non-zero XCOMP_BV (userspace uses the standard format) or a non-zero reserved
 * header byte, and, when x87, SSE or AVX is in XSTATE_BV, for MXCSR bits outside mxcsr_feature_mask.
 * x87 state (bytes 0-159, MXCSR included) is taken when XSTATE_BV[0] is set, else the x87 state is
 * initialized; XMM0-XMM15 when XSTATE_BV[1] is set, else zeroed; MXCSR with SSE or AVX alone too; the
 * YMM upper halves (bytes 576-831) when XSTATE_BV[2] is set, else zeroed. Without
 * XSAVE: -EINVAL for XSTATE_BV bits beyond x87|SSE or a bad MXCSR, then the FXSAVE image as is.
 */
function setXsave(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_xsave.size);
  if (b === null) return FAULT;
  const x = dv(b);
  const bv = x.getBigUint64(XSAVE.XSTATE_BV, true);
  const mxcsr = x.getUint32(XSAVE.MXCSR, true);
  const fpu = c.vcpu.fpu;
  const f = dv(fpu);
  if (!hasXsave(c.model)) {
    if (bv & ~XFEATURE_MASK_FPSSE) return -EINVAL;
    if (mxcsr & ~MXCSR_FEATURE_MASK) return -EINVAL;
    loadX87(fpu, b);
    f.setUint32(FP.mxcsr.offset, mxcsr, true);
    f.setUint32(FP.pad2.offset, 0, true);
    fpu.set(b.subarray(XSAVE.XMM0, XSAVE.XMM0 + XSAVE.XMM_BYTES), FP.xmm.offset);
    return 0;
  }
  if (bv & ~supportedXcr0(c.model)) return -EINVAL;
  if (x.getBigUint64(XSAVE.XCOMP_BV, true) !== 0n) return -EINVAL;
  for (let i = XSAVE.HEADER_RESERVED; i < XSAVE.HEADER_END; i++) if (b[i] !== 0) return -EINVAL;
  if (bv & (XFEATURE_MASK_FPSSE | XFEATURE_MASK_YMM) && mxcsr & ~MXCSR_FEATURE_MASK) return -EINVAL;
  loadX87(fpu, bv & XFEATURE_MASK_FP ? b : X87_INIT);
  // MXCSR: part of the x87 bytes 0-159, and copied for SSE or AVX alone (copy_uabi_to_xstate).
  if (bv & (XFEATURE_MASK_FPSSE | XFEATURE_MASK_YMM)) f.setUint32(FP.mxcsr.offset, mxcsr, true);
  f.setUint32(FP.pad2.offset, 0, true);
  if (bv & XFEATURE_MASK_SSE) fpu.set(b.subarray(XSAVE.XMM0, XSAVE.XMM0 + XSAVE.XMM_BYTES), FP.xmm.offset);
  else fpu.fill(0, FP.xmm.offset, FP.xmm.offset + XSAVE.XMM_BYTES);
  // The AVX component (only in XSTATE_BV when the model supports it: checked above).
  if (bv & XFEATURE_MASK_YMM) c.vcpu.ymmHi.set(b.subarray(XSAVE.YMM, XSAVE.YMM + XSAVE.YMM_BYTES));
  else c.vcpu.ymmHi.fill(0);
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
 * __kvm_set_xcr() for XCR0: x87 must be enabled, YMM needs SSE, and only bits in `valid` (the guest
 * CPUID's, {@link guestSupportedXcr0}) may be set. True when `xcr0` is acceptable.
 */
function validXcr0(valid: bigint, xcr0: bigint): boolean {
  if (!(xcr0 & XFEATURE_MASK_FP)) return false;
  if (xcr0 & XFEATURE_MASK_YMM && !(xcr0 & XFEATURE_MASK_SSE)) return false;
  return (xcr0 & ~valid) === 0n;
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
    if (!validXcr0(BigInt(guestSupportedXcr0(c.vcpu, c.model)), value)) return -EINVAL;
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
