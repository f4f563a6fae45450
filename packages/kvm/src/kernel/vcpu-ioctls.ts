import type { LocalApic } from '@typevisor/devices';
import { cr4ValidFor, type KvmCpuModel } from '../cpu-model.js';
import { type RemoteLapicAccess, readLapicPage, writeLapicPage } from './irqchip.js';
import type { IrqchipMode } from '../irqfd.js';
import type { VcpuState } from '../vcpu-state.js';
import {
  KVM_GUESTDBG_BLOCKIRQ,
  KVM_GUESTDBG_ENABLE,
  KVM_GUESTDBG_INJECT_BP,
  KVM_GUESTDBG_INJECT_DB,
  KVM_GUESTDBG_SINGLESTEP,
  KVM_GUESTDBG_USE_HW_BP,
  KVM_GUESTDBG_USE_SW_BP,
  KVM_MAX_CPUID_ENTRIES,
  KVM_MP_STATE_HALTED,
  KVM_MP_STATE_INIT_RECEIVED,
  KVM_MP_STATE_RUNNABLE,
  KVM_MP_STATE_UNINITIALIZED,
  KVM_VCPUEVENT_VALID_NMI_PENDING,
  KVM_VCPUEVENT_VALID_PAYLOAD,
  KVM_VCPUEVENT_VALID_SHADOW,
  KVM_VCPUEVENT_VALID_SIPI_VECTOR,
  KVM_VCPUEVENT_VALID_SMM,
  KVM_VCPUEVENT_VALID_TRIPLE_FAULT,
  KVM_X86_SHADOW_INT_MOV_SS,
  KVM_X86_SHADOW_INT_STI,
} from '../uapi/constants.js';
import { E2BIG, EBUSY, EINVAL, EIO, ENXIO } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { StructView } from '../uapi/layout.js';
import {
  KVM_NR_INTERRUPTS,
  kvm_cpuid_entry2,
  kvm_cpuid2,
  kvm_fpu,
  kvm_guest_debug,
  kvm_interrupt,
  kvm_lapic_state,
  kvm_msr_entry,
  kvm_msrs,
  kvm_translation,
  kvm_mp_state,
  kvm_regs,
  kvm_segment,
  kvm_sregs,
  kvm_vcpu_events,
} from '../uapi/structs.js';
import { dv, FAULT, type IoctlArg, structArg } from './args.js';
import { guestCpuidReg, XSTATE_IOCTLS } from './xstate-ioctls.js';

/** What a vCPU ioctl handler sees. */
export interface VcpuContext {
  readonly vcpu: VcpuState;
  readonly model: KvmCpuModel;
  /** The VM's in-kernel interrupt controller. */
  readonly irqchip: IrqchipMode;
  /** The guest TSC rate (KVM_GET_TSC_KHZ); 0 when the TSC counts instructions. */
  readonly tscKhz: number;
  /** The vCPU's in-kernel local APIC (with KVM_CREATE_IRQCHIP), else null. */
  readonly lapic: LocalApic | null;
  /** The host's monotonic clock, in ns (the LAPIC timer's time base). */
  readonly nowNs: number;
  /** The vCPU's MSRs (its CPU's MSR file; made on first use). */
  msrs(): VcpuMsrs;
}

/**
 * The LAPIC of a vCPU that runs in a worker thread with the in-kernel irqchip (`VcpuWorker` offers it
 * on its runner port's `remote`), or null: the ioctls below reach it through the worker.
 */
function remoteLapic(c: VcpuContext): RemoteLapicAccess | null {
  if (c.lapic !== null) return null;
  const remote = c.vcpu.runner?.remote as { readonly lapic?: RemoteLapicAccess | null } | undefined;
  return remote?.lapic ?? null;
}

/** Host-initiated MSR access (do_get_msr / do_set_msr, `out` receives two dwords) and KVM_TRANSLATE. */
export interface VcpuMsrs {
  getMsr(index: number, out: { lo: number; hi: number }): boolean;
  setMsr(index: number, lo: number, hi: number): boolean;
  /** The guest-physical address of a linear address, or -1. */
  translate(linear: number): number;
}

/**
 * KVM_TRANSLATE (kvm_arch_vcpu_ioctl_translate): physical_address and valid from the guest's page walk;
 * writeable is always 1 and usermode 0, as the kernel fills them.
 */
function translate(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_translation.size);
  if (b === null) return FAULT;
  const v = dv(b);
  const f = kvm_translation.fields;
  const la = v.getBigUint64(f.linear_address.offset, true);
  // A canonical address (4-level paging: bits 63:47 equal) goes to the MMU in the signed form the
  // CPU uses (|a| < 2^47, exact); a non-canonical one does not translate.
  const signed = BigInt.asIntN(64, la);
  const canonical = signed >= -(1n << 47n) && signed < 1n << 47n;
  const gpa = canonical ? c.msrs().translate(Number(signed)) : -1;
  v.setBigUint64(f.physical_address.offset, gpa < 0 ? 0xffff_ffff_ffff_ffffn : BigInt(gpa), true);
  v.setUint8(f.valid.offset, gpa < 0 ? 0 : 1);
  v.setUint8(f.writeable.offset, 1);
  v.setUint8(f.usermode.offset, 0);
  return 0;
}

/** MAX_IO_MSRS: KVM_GET/SET_MSRS handle fewer entries than this per call (-E2BIG). */
const MAX_IO_MSRS = 256;

/**
 * msr_io(): -E2BIG for nmsrs >= MAX_IO_MSRS, -EFAULT when the entries are not all there; otherwise the
 * number of entries done, stopping at the first MSR the vCPU does not have (or refuses, for SET).
 */
function msrIo(set: boolean): VcpuIoctl {
  return (c, arg) => {
    const b = structArg(arg, kvm_msrs.size);
    if (b === null) return FAULT;
    const v = dv(b);
    const n = v.getUint32(kvm_msrs.fields.nmsrs.offset, true);
    if (n >= MAX_IO_MSRS) return -E2BIG;
    const E = kvm_msr_entry;
    if (b.byteLength < kvm_msrs.size + n * E.size) return FAULT;
    const msrs = c.msrs();
    const value = { lo: 0, hi: 0 };
    for (let i = 0; i < n; i++) {
      const o = kvm_msrs.size + i * E.size;
      const index = v.getUint32(o + E.fields.index.offset, true);
      const d = o + E.fields.data.offset;
      if (set) {
        if (!msrs.setMsr(index, v.getUint32(d, true), v.getUint32(d + 4, true))) return i;
      } else {
        if (!msrs.getMsr(index, value)) return i;
        v.setUint32(d, value.lo >>> 0, true);
        v.setUint32(d + 4, value.hi >>> 0, true);
      }
    }
    return n;
  };
}

type VcpuIoctl = (c: VcpuContext, arg: IoctlArg) => number;

const X86_EFLAGS_FIXED = 0x2n;
const X86_CR0_PE = 1n << 0n;
const X86_CR0_NW = 1n << 29n;
const X86_CR0_CD = 1n << 30n;
const X86_CR0_PG = 1n << 31n;
const X86_CR4_PAE = 1n << 5n;
const EFER_LME = 1n << 8n;
const EFER_LMA = 1n << 10n;
/** IA32_APIC_BASE bits 0..7 and 9 are reserved; bit 10 (x2APIC enable) too without x2APIC in CPUID. */
const APIC_BASE_RSVD = 0x2ffn | 0x400n;
const CR8_RESERVED_BITS = ~0xfn;

function getRegs(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_regs.size);
  if (b === null) return FAULT;
  b.set(c.vcpu.regs);
  return 0;
}

/** __set_regs(): RFLAGS bit 1 is forced on (kvm_set_rflags(regs->rflags | X86_EFLAGS_FIXED)). */
function setRegs(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_regs.size);
  if (b === null) return FAULT;
  c.vcpu.regs.set(b.subarray(0, kvm_regs.size));
  const v = dv(c.vcpu.regs);
  const o = kvm_regs.fields.rflags.offset;
  v.setBigUint64(o, v.getBigUint64(o, true) | X86_EFLAGS_FIXED, true);
  return 0;
}

/**
 * __get_sregs(): the interrupt bitmap is not stored state; it shows the injected external interrupt
 * (vcpu->arch.interrupt, shared with KVM_INTERRUPT and KVM_GET_VCPU_EVENTS) unless it is a soft one.
 */
function getSregs(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_sregs.size);
  if (b === null) return FAULT;
  b.set(c.vcpu.sregs);
  const lapic = c.lapic ?? remoteLapic(c);
  if (lapic !== null) dv(b).setBigUint64(kvm_sregs.fields.apic_base.offset, lapic.readApicBase(), true);
  const bitmap = kvm_sregs.fields.interrupt_bitmap.offset;
  b.fill(0, bitmap, bitmap + kvm_sregs.fields.interrupt_bitmap.size);
  const e = new StructView(kvm_vcpu_events, c.vcpu.events);
  if (e.get('interrupt.injected') && !e.get('interrupt.soft')) {
    const nr = e.get('interrupt.nr');
    b[bitmap + (nr >> 3)]! |= 1 << (nr & 7);
  }
  return 0;
}

/**
 * kvm_is_valid_sregs() with kvm_is_valid_cr0/cr4 and the legal-CR3 check, against the CPU model
 * (cr4_reserved_bits) and the CR4 bits the guest CPUID allows (`guestCr4`, cr4_guest_rsvd_bits).
 */
function validSregs(model: KvmCpuModel, v: DataView, guestCr4: number): boolean {
  const f = kvm_sregs.fields;
  const cr0 = v.getBigUint64(f.cr0.offset, true);
  const cr3 = v.getBigUint64(f.cr3.offset, true);
  const cr4 = v.getBigUint64(f.cr4.offset, true);
  const efer = v.getBigUint64(f.efer.offset, true);
  const csL = v.getUint8(f.cs.offset + kvm_segment.fields.l.offset);
  const physRsvd = ~((1n << BigInt(model.maxPhyAddr)) - 1n) & 0xffff_ffff_ffff_ffffn;
  if (efer & EFER_LME && cr0 & X86_CR0_PG) {
    // 64-bit mode: CR4.PAE and EFER.LMA must be set and CR3 must not set bits above MAXPHYADDR.
    if (!(cr4 & X86_CR4_PAE) || !(efer & EFER_LMA)) return false;
    if (cr3 & physRsvd) return false;
  } else if (efer & EFER_LMA || csL !== 0) {
    // Not in 64-bit mode: EFER.LMA is clear and the code segment cannot be 64-bit.
    return false;
  }
  if (cr4 & ~BigInt(model.cr4Valid) & 0xffff_ffff_ffff_ffffn) return false;
  // cr4_guest_rsvd_bits: OSXSAVE, PCIDE, FSGSBASE, SMEP are reserved unless the guest CPUID has
  // XSAVE, PCID, FSGSBASE, SMEP.
  if (cr4 & ~BigInt(guestCr4) & 0xffff_ffff_ffff_ffffn) return false;
  if (cr0 >> 32n !== 0n) return false;
  if (cr0 & X86_CR0_NW && !(cr0 & X86_CR0_CD)) return false;
  if (cr0 & X86_CR0_PG && !(cr0 & X86_CR0_PE)) return false;
  return true;
}

/**
 * __set_sregs_common(): -EINVAL for an impossible mode or a reserved APIC-base bit; CR8 with reserved
 * bits is ignored (kvm_set_cr8's error is dropped); the lowest vector of the interrupt bitmap, if any,
 * becomes the injected external interrupt (kvm_queue_interrupt), an empty bitmap changes nothing.
 */
function setSregs(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_sregs.size);
  if (b === null) return FAULT;
  const v = dv(b);
  const f = kvm_sregs.fields;
  const guestCr4 = cr4ValidFor(guestCpuidReg(c.vcpu, 1, 0, 'ecx'), guestCpuidReg(c.vcpu, 7, 0, 'ebx'));
  if (!validSregs(c.model, v, guestCr4)) return -EINVAL;
  const physRsvd = ~((1n << BigInt(c.model.maxPhyAddr)) - 1n) & 0xffff_ffff_ffff_ffffn;
  const apicBase = v.getBigUint64(f.apic_base.offset, true);
  if (apicBase & (physRsvd | APIC_BASE_RSVD)) return -EINVAL;
  // kvm_set_apic_base() -> kvm_lapic_set_base(): an impossible mode transition is -EINVAL.
  if (c.lapic !== null && apicBase !== c.lapic.readApicBase() && !c.lapic.writeApicBase(apicBase))
    return -EINVAL;
  const remote = remoteLapic(c);
  if (remote !== null && apicBase !== remote.readApicBase()) {
    const r = remote.writeApicBase(apicBase);
    if (r !== 0) return r;
  }
  const s = dv(c.vcpu.sregs);
  const oldCr8 = s.getBigUint64(f.cr8.offset, true);
  c.vcpu.sregs.set(b.subarray(0, kvm_sregs.size));
  if (v.getBigUint64(f.cr8.offset, true) & CR8_RESERVED_BITS) s.setBigUint64(f.cr8.offset, oldCr8, true);
  const bitmap = c.vcpu.sregs.subarray(f.interrupt_bitmap.offset, f.interrupt_bitmap.offset + 32);
  const first = bitmap.findIndex((x) => x !== 0);
  if (first >= 0) {
    const byte = bitmap[first]!;
    const e = new StructView(kvm_vcpu_events, c.vcpu.events);
    e.set('interrupt.injected', 1);
    e.set('interrupt.nr', first * 8 + Math.log2(byte & -byte));
    e.set('interrupt.soft', 0);
  }
  bitmap.fill(0);
  return 0;
}

/** KVM_GET_TSC_KHZ: the vCPU's TSC frequency, or -EIO when it has none (kvm_arch_vcpu_ioctl). */
function getTscKhz(c: VcpuContext, arg: IoctlArg): number {
  if (arg !== undefined && arg !== 0) return -EINVAL;
  return c.tscKhz > 0 ? c.tscKhz : -EIO;
}

function getMpState(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_mp_state.size);
  if (b === null) return FAULT;
  dv(b).setUint32(0, c.vcpu.mpState, true);
  return 0;
}

/**
 * kvm_arch_vcpu_ioctl_set_mpstate(): RUNNABLE always; HALTED, UNINITIALIZED and INIT_RECEIVED only with
 * an in-kernel LAPIC (KVM_RUN then waits for an interrupt, INIT or SIPI). SIPI_RECEIVED (a pending SIPI
 * vector carried in the vCPU events) is not modelled: -EINVAL.
 */
function setMpState(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_mp_state.size);
  if (b === null) return FAULT;
  const state = dv(b).getUint32(0, true);
  const withLapic =
    state === KVM_MP_STATE_HALTED ||
    state === KVM_MP_STATE_UNINITIALIZED ||
    state === KVM_MP_STATE_INIT_RECEIVED;
  if (state !== KVM_MP_STATE_RUNNABLE && !(withLapic && (c.lapic !== null || remoteLapic(c) !== null)))
    return -EINVAL;
  c.vcpu.mpState = state;
  return 0;
}

/** KVM_GET_LAPIC: the register page (a worker vCPU's from its worker); -EINVAL without an in-kernel LAPIC. */
function getLapic(c: VcpuContext, arg: IoctlArg): number {
  const remote = remoteLapic(c);
  if (c.lapic === null && remote === null) return -EINVAL;
  const b = structArg(arg, kvm_lapic_state.size);
  if (b === null) return FAULT;
  if (c.lapic !== null) writeLapicPage(c.lapic, dv(b));
  else if (remote !== null) return remote.getPage(b.subarray(0, kvm_lapic_state.size));
  return 0;
}

/** KVM_SET_LAPIC (kvm_apic_set_state; a worker vCPU's in its worker): -EINVAL without an in-kernel LAPIC. */
function setLapic(c: VcpuContext, arg: IoctlArg): number {
  const remote = remoteLapic(c);
  if (c.lapic === null && remote === null) return -EINVAL;
  const b = structArg(arg, kvm_lapic_state.size);
  if (b === null) return FAULT;
  if (c.lapic !== null) c.lapic.loadState(readLapicPage(c.lapic, dv(b), c.nowNs));
  else if (remote !== null) return remote.setPage(b.subarray(0, kvm_lapic_state.size));
  return 0;
}

function getFpu(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_fpu.size);
  if (b === null) return FAULT;
  b.set(c.vcpu.fpu);
  return 0;
}

/** kvm_arch_vcpu_ioctl_set_fpu(): every field is taken as is (MXCSR too); the padding reads back as 0. */
function setFpu(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_fpu.size);
  if (b === null) return FAULT;
  c.vcpu.fpu.set(b.subarray(0, kvm_fpu.size));
  const f = new StructView(kvm_fpu, c.vcpu.fpu);
  f.set('pad1', 0);
  f.set('pad2', 0);
  return 0;
}

/**
 * kvm_vcpu_ioctl_set_cpuid2(): -E2BIG past KVM_MAX_CPUID_ENTRIES, -EFAULT if the entries are not all
 * there, -EINVAL for a CPUID.80000008H virtual-address width other than 0, 48 or 57 (kvm_check_cpuid).
 */
function setCpuid2(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_cpuid2.size);
  if (b === null) return FAULT;
  const n = dv(b).getUint32(0, true);
  if (n > KVM_MAX_CPUID_ENTRIES) return -E2BIG;
  const bytes = n * kvm_cpuid_entry2.size;
  if (b.byteLength < kvm_cpuid2.size + bytes) return FAULT;
  const entries = b.subarray(kvm_cpuid2.size, kvm_cpuid2.size + bytes);
  const v = dv(entries);
  const f = kvm_cpuid_entry2.fields;
  for (let i = 0; i < n; i++) {
    const o = i * kvm_cpuid_entry2.size;
    if (v.getUint32(o + f.function.offset, true) !== 0x80000008) continue;
    const vaddrBits = (v.getUint32(o + f.eax.offset, true) >>> 8) & 0xff;
    if (vaddrBits !== 0 && vaddrBits !== 48 && vaddrBits !== 57) return -EINVAL;
    break;
  }
  c.vcpu.cpuid.fill(0);
  c.vcpu.cpuid.set(entries);
  c.vcpu.cpuidCount = n;
  return 0;
}

/** kvm_vcpu_ioctl_get_cpuid2(): -E2BIG (nent untouched) when the caller has room for fewer entries. */
function getCpuid2(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_cpuid2.size);
  if (b === null) return FAULT;
  const v = dv(b);
  const n = c.vcpu.cpuidCount;
  if (v.getUint32(0, true) < n) return -E2BIG;
  const bytes = n * kvm_cpuid_entry2.size;
  if (b.byteLength < kvm_cpuid2.size + bytes) return FAULT;
  b.set(c.vcpu.cpuid.subarray(0, bytes), kvm_cpuid2.size);
  v.setUint32(0, n, true);
  return 0;
}

type Events = StructView<keyof typeof kvm_vcpu_events.fields>;
const NMI_VECTOR = 2;
const EVENT_FLAGS =
  KVM_VCPUEVENT_VALID_NMI_PENDING |
  KVM_VCPUEVENT_VALID_SIPI_VECTOR |
  KVM_VCPUEVENT_VALID_SHADOW |
  KVM_VCPUEVENT_VALID_SMM |
  KVM_VCPUEVENT_VALID_PAYLOAD |
  KVM_VCPUEVENT_VALID_TRIPLE_FAULT;

/** process_nmi(): at most two NMIs pending, one if NMIs are masked or one is being injected. */
function processNmi(e: Events): void {
  const limit = e.get('nmi.masked') || e.get('nmi.injected') ? 1 : 2;
  e.set('nmi.pending', Math.min(e.get('nmi.pending'), limit));
}

/**
 * kvm_vcpu_ioctl_x86_get_vcpu_events() without exception payloads, SMM or triple-fault events
 * (none of them enabled): a pending exception reads as injected, a soft interrupt as none.
 */
function getVcpuEvents(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_vcpu_events.size);
  if (b === null) return FAULT;
  const s = new StructView(kvm_vcpu_events, c.vcpu.events);
  processNmi(s);
  b.fill(0, 0, kvm_vcpu_events.size);
  const o = new StructView(kvm_vcpu_events, b);
  o.set('exception.injected', s.get('exception.injected') | s.get('exception.pending') ? 1 : 0);
  o.set('exception.nr', s.get('exception.nr'));
  o.set('exception.has_error_code', s.get('exception.has_error_code'));
  o.set('exception.error_code', s.get('exception.error_code'));
  o.set('interrupt.injected', s.get('interrupt.injected') && !s.get('interrupt.soft') ? 1 : 0);
  o.set('interrupt.nr', s.get('interrupt.nr'));
  o.set('interrupt.shadow', s.get('interrupt.shadow'));
  o.set('nmi.injected', s.get('nmi.injected'));
  o.set('nmi.pending', s.get('nmi.pending'));
  o.set('nmi.masked', s.get('nmi.masked'));
  o.set('flags', KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM);
  return 0;
}

/**
 * kvm_vcpu_ioctl_x86_set_vcpu_events(), in the kernel's order. Payloads and triple-fault events are
 * not enabled (-EINVAL with their flags); there is no SMM, so an SMM state is -EINVAL (after the
 * other fields took effect, as in a kernel built without CONFIG_KVM_SMM).
 */
function setVcpuEvents(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_vcpu_events.size);
  if (b === null) return FAULT;
  const e = new StructView(kvm_vcpu_events, b);
  const flags = e.get('flags');
  if (flags & ~EVENT_FLAGS) return -EINVAL;
  if (flags & KVM_VCPUEVENT_VALID_PAYLOAD) return -EINVAL;
  // Without VALID_PAYLOAD the kernel zeroes exception.pending and the payload fields.
  const nr = e.get('exception.nr');
  if (e.get('exception.injected') && (nr > 31 || nr === NMI_VECTOR)) return -EINVAL;
  const s = new StructView(kvm_vcpu_events, c.vcpu.events);
  processNmi(s);
  s.set('exception.injected', e.get('exception.injected'));
  s.set('exception.pending', 0);
  s.set('exception.nr', nr);
  s.set('exception.has_error_code', e.get('exception.has_error_code'));
  s.set('exception.error_code', e.get('exception.error_code'));
  s.set('interrupt.injected', e.get('interrupt.injected'));
  s.set('interrupt.nr', e.get('interrupt.nr'));
  s.set('interrupt.soft', e.get('interrupt.soft'));
  if (flags & KVM_VCPUEVENT_VALID_SHADOW) {
    s.set(
      'interrupt.shadow',
      e.get('interrupt.shadow') & (KVM_X86_SHADOW_INT_MOV_SS | KVM_X86_SHADOW_INT_STI),
    );
  }
  s.set('nmi.injected', e.get('nmi.injected'));
  if (flags & KVM_VCPUEVENT_VALID_NMI_PENDING) s.set('nmi.pending', e.get('nmi.pending'));
  s.set('nmi.masked', e.get('nmi.masked') ? 1 : 0);
  if (flags & KVM_VCPUEVENT_VALID_SMM) {
    if (e.get('smi.smm') || e.get('smi.pending') || e.get('smi.smm_inside_nmi')) return -EINVAL;
  }
  if (flags & KVM_VCPUEVENT_VALID_TRIPLE_FAULT) return -EINVAL;
  return 0;
}

/**
 * kvm_vcpu_ioctl_interrupt(): with the irqchip in userspace the vector is queued as the injected
 * external interrupt (kvm_queue_interrupt); with the in-kernel 8259 the ioctl is refused (-ENXIO).
 */
function interrupt(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_interrupt.size);
  if (b === null) return FAULT;
  const irq = dv(b).getUint32(0, true);
  if (irq >= KVM_NR_INTERRUPTS) return -EINVAL;
  if (c.irqchip !== 'none') return -ENXIO;
  const s = new StructView(kvm_vcpu_events, c.vcpu.events);
  s.set('interrupt.injected', 1);
  s.set('interrupt.nr', irq);
  s.set('interrupt.soft', 0);
  return 0;
}

/** kvm_vcpu_ioctl_nmi(): queues an NMI (kvm_inject_nmi); the count is clamped by process_nmi(). */
function nmi(c: VcpuContext): number {
  const s = new StructView(kvm_vcpu_events, c.vcpu.events);
  s.set('nmi.pending', Math.min(s.get('nmi.pending') + 1, 0xff));
  return 0;
}

/** KVM_GUESTDBG_VALID_MASK on x86 (also what KVM_CHECK_EXTENSION(KVM_CAP_SET_GUEST_DEBUG2) answers). */
export const GUESTDBG_VALID_MASK =
  KVM_GUESTDBG_ENABLE |
  KVM_GUESTDBG_SINGLESTEP |
  KVM_GUESTDBG_USE_HW_BP |
  KVM_GUESTDBG_USE_SW_BP |
  KVM_GUESTDBG_INJECT_BP |
  KVM_GUESTDBG_INJECT_DB |
  KVM_GUESTDBG_BLOCKIRQ;
const DB_VECTOR = 1;
const BP_VECTOR = 3;

/**
 * kvm_arch_vcpu_ioctl_set_guest_debug(): unknown control bits are -EINVAL; INJECT_DB / INJECT_BP queue
 * #DB / #BP, or fail with -EBUSY while another queued exception is pending; without KVM_GUESTDBG_ENABLE the
 * debug state is cleared; with USE_HW_BP the caller's DR0..DR3 and DR7 become the effective ones. The
 * stored control word is what KVM_RUN applies (SINGLESTEP, USE_SW_BP, USE_HW_BP, BLOCKIRQ).
 */
function setGuestDebug(c: VcpuContext, arg: IoctlArg): number {
  const b = structArg(arg, kvm_guest_debug.size);
  if (b === null) return FAULT;
  const control = dv(b).getUint32(0, true);
  if (control & ~GUESTDBG_VALID_MASK) return -EINVAL;
  if (control & (KVM_GUESTDBG_INJECT_DB | KVM_GUESTDBG_INJECT_BP)) {
    const e = new StructView(kvm_vcpu_events, c.vcpu.events);
    // kvm_is_exception_pending(): a queued (not yet delivered) exception; an injected one does not count.
    if (e.get('exception.pending')) return -EBUSY;
    e.set('exception.pending', 1);
    e.set('exception.nr', control & KVM_GUESTDBG_INJECT_DB ? DB_VECTOR : BP_VECTOR);
    e.set('exception.has_error_code', 0);
    e.set('exception.error_code', 0);
  }
  const d = c.vcpu.guestDebug;
  d.fill(0);
  if (!(control & KVM_GUESTDBG_ENABLE)) return 0;
  dv(d).setUint32(0, control, true);
  if (control & KVM_GUESTDBG_USE_HW_BP) d.set(b.subarray(8, kvm_guest_debug.size), 8);
  return 0;
}

/** The vCPU ioctls this model implements; every other request is -EINVAL (kvm_arch_vcpu_ioctl default). */
export const VCPU_IOCTLS: ReadonlyMap<number, VcpuIoctl> = new Map<number, VcpuIoctl>([
  [I.KVM_GET_FPU, getFpu],
  [I.KVM_SET_FPU, setFpu],
  [I.KVM_SET_CPUID2, setCpuid2],
  [I.KVM_GET_CPUID2, getCpuid2],
  [I.KVM_GET_VCPU_EVENTS, getVcpuEvents],
  [I.KVM_SET_VCPU_EVENTS, setVcpuEvents],
  [I.KVM_INTERRUPT, interrupt],
  [I.KVM_NMI, nmi],
  [I.KVM_SET_GUEST_DEBUG, setGuestDebug],
  [I.KVM_GET_REGS, getRegs],
  [I.KVM_SET_REGS, setRegs],
  [I.KVM_GET_SREGS, getSregs],
  [I.KVM_SET_SREGS, setSregs],
  [I.KVM_GET_MP_STATE, getMpState],
  [I.KVM_SET_MP_STATE, setMpState],
  [I.KVM_GET_TSC_KHZ, getTscKhz],
  [I.KVM_GET_LAPIC, getLapic],
  [I.KVM_GET_MSRS, msrIo(false)],
  [I.KVM_TRANSLATE, translate],
  [I.KVM_SET_MSRS, msrIo(true)],
  [I.KVM_SET_LAPIC, setLapic],
  ...XSTATE_IOCTLS,
]);
