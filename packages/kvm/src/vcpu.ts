import type { CpuidEntry } from './cpu-model.js';
import { check } from './errors.js';
import { EIO } from './uapi/errno.js';
import { decodeExit, type VcpuExit } from './exit.js';
import type { KvmHost } from './kernel/host.js';
import * as I from './uapi/ioctls.js';
import { allocStruct, arrayEntry, type StructView } from './uapi/layout.js';
import {
  kvm_cpuid_entry2,
  kvm_cpuid2,
  kvm_debugregs,
  kvm_dtable,
  kvm_fpu,
  kvm_guest_debug,
  kvm_interrupt,
  kvm_mp_state,
  kvm_regs,
  kvm_segment,
  kvm_sregs,
  kvm_vcpu_events,
  kvm_xcr,
  kvm_xcrs,
  kvm_xsave,
} from './uapi/structs.js';

/** struct kvm_fpu, through its accessors. */
export type Fpu = StructView<keyof typeof kvm_fpu.fields>;
/** struct kvm_vcpu_events, through its accessors. */
export type VcpuEvents = StructView<keyof typeof kvm_vcpu_events.fields>;

/** struct kvm_debugregs: DR0..DR3, DR6, DR7. */
export interface DebugRegs {
  db: [bigint, bigint, bigint, bigint];
  dr6: bigint;
  dr7: bigint;
}

/** One entry of struct kvm_xcrs. */
export interface Xcr {
  xcr: number;
  value: bigint;
}

export type RegName = keyof typeof kvm_regs.fields;
/** struct kvm_regs, every register exact. */
export type Regs = Record<RegName, bigint>;

/** struct kvm_segment. */
export interface Segment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  avl: number;
  unusable: number;
}

/** struct kvm_dtable. */
export interface Dtable {
  base: bigint;
  limit: number;
}

const SEGMENTS = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const;
const CONTROL = ['cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer', 'apic_base'] as const;
const SEGMENT_BYTES = ['type', 'present', 'dpl', 'db', 's', 'l', 'g', 'avl', 'unusable'] as const;

/** struct kvm_sregs. */
export type Sregs = Record<(typeof SEGMENTS)[number], Segment> &
  Record<'gdt' | 'idt', Dtable> &
  Record<(typeof CONTROL)[number], bigint> & {
    /** KVM_NR_INTERRUPTS bits as four u64 words: the pending external interrupt, if any. */
    interrupt_bitmap: [bigint, bigint, bigint, bigint];
  };

function readSegment(v: StructView<keyof typeof kvm_segment.fields>): Segment {
  const seg = { base: v.getBigInt('base'), limit: v.get('limit'), selector: v.get('selector') } as Segment;
  for (const k of SEGMENT_BYTES) seg[k] = v.get(k);
  return seg;
}

function writeSegment(v: StructView<keyof typeof kvm_segment.fields>, seg: Segment): void {
  v.set('base', seg.base);
  v.set('limit', seg.limit);
  v.set('selector', seg.selector);
  for (const k of SEGMENT_BYTES) v.set(k, seg[k]);
}

/**
 * A vCPU (rust-vmm kvm-ioctls' `VcpuFd`): typed wrappers over the vCPU ioctls that work today and the
 * kvm_run mapping. Errors throw {@link KvmError}.
 */
export class Vcpu {
  /** The vCPU mapping (KVM_GET_VCPU_MMAP_SIZE bytes, kvm_run first), shared with the vCPU thread. */
  readonly run: Uint8Array;

  constructor(
    readonly fd: number,
    readonly id: number,
    readonly host: KvmHost,
    mmapSize: number,
  ) {
    const m = host.mmap(mmapSize, fd, 0);
    check(m.addr, 'mmap(vcpu)');
    this.run = m.bytes;
  }

  getRegs(): Regs {
    const v = allocStruct(kvm_regs);
    check(this.host.ioctl(this.fd, I.KVM_GET_REGS, v.bytes), 'KVM_GET_REGS');
    const regs = {} as Regs;
    for (const k of Object.keys(kvm_regs.fields) as RegName[]) regs[k] = v.getBigInt(k);
    return regs;
  }

  setRegs(regs: Regs): void {
    const v = allocStruct(kvm_regs);
    for (const k of Object.keys(kvm_regs.fields) as RegName[]) v.set(k, regs[k]);
    check(this.host.ioctl(this.fd, I.KVM_SET_REGS, v.bytes), 'KVM_SET_REGS');
  }

  getSregs(): Sregs {
    const v = allocStruct(kvm_sregs);
    check(this.host.ioctl(this.fd, I.KVM_GET_SREGS, v.bytes), 'KVM_GET_SREGS');
    const s = {} as Sregs;
    for (const k of SEGMENTS) s[k] = readSegment(v.sub(k, kvm_segment));
    for (const k of ['gdt', 'idt'] as const) {
      const d = v.sub(k, kvm_dtable);
      s[k] = { base: d.getBigInt('base'), limit: d.get('limit') };
    }
    for (const k of CONTROL) s[k] = v.getBigInt(k);
    const bm = v.bytesOf('interrupt_bitmap');
    const dv = new DataView(bm.buffer, bm.byteOffset, bm.byteLength);
    s.interrupt_bitmap = [0, 1, 2, 3].map((i) => dv.getBigUint64(i * 8, true)) as Sregs['interrupt_bitmap'];
    return s;
  }

  setSregs(s: Sregs): void {
    const v = allocStruct(kvm_sregs);
    for (const k of SEGMENTS) writeSegment(v.sub(k, kvm_segment), s[k]);
    for (const k of ['gdt', 'idt'] as const) {
      const d = v.sub(k, kvm_dtable);
      d.set('base', s[k].base);
      d.set('limit', s[k].limit);
    }
    for (const k of CONTROL) v.set(k, s[k]);
    const bm = v.bytesOf('interrupt_bitmap');
    const dv = new DataView(bm.buffer, bm.byteOffset, bm.byteLength);
    s.interrupt_bitmap.forEach((w, i) => {
      dv.setBigUint64(i * 8, BigInt.asUintN(64, w), true);
    });
    check(this.host.ioctl(this.fd, I.KVM_SET_SREGS, v.bytes), 'KVM_SET_SREGS');
  }

  /** KVM_GET_TSC_KHZ: the guest TSC's rate, or null when the TSC has none (it counts instructions). */
  getTscKhz(): number | null {
    const r = this.host.ioctl(this.fd, I.KVM_GET_TSC_KHZ, 0);
    if (r === -EIO) return null;
    return check(r, 'KVM_GET_TSC_KHZ');
  }

  getMpState(): number {
    const v = allocStruct(kvm_mp_state);
    check(this.host.ioctl(this.fd, I.KVM_GET_MP_STATE, v.bytes), 'KVM_GET_MP_STATE');
    return v.get('mp_state');
  }

  setMpState(state: number): void {
    const v = allocStruct(kvm_mp_state);
    v.set('mp_state', state);
    check(this.host.ioctl(this.fd, I.KVM_SET_MP_STATE, v.bytes), 'KVM_SET_MP_STATE');
  }

  getFpu(): Fpu {
    const v = allocStruct(kvm_fpu);
    check(this.host.ioctl(this.fd, I.KVM_GET_FPU, v.bytes), 'KVM_GET_FPU');
    return v;
  }

  setFpu(fpu: Fpu): void {
    check(this.host.ioctl(this.fd, I.KVM_SET_FPU, fpu.bytes), 'KVM_SET_FPU');
  }

  setCpuid2(entries: readonly CpuidEntry[]): void {
    const bytes = new Uint8Array(kvm_cpuid2.size + entries.length * kvm_cpuid_entry2.size);
    new DataView(bytes.buffer).setUint32(0, entries.length, true);
    entries.forEach((e, i) => {
      const v = arrayEntry(kvm_cpuid_entry2, bytes, kvm_cpuid2.size, i);
      for (const k of ['function', 'index', 'flags', 'eax', 'ebx', 'ecx', 'edx'] as const) v.set(k, e[k]);
    });
    check(this.host.ioctl(this.fd, I.KVM_SET_CPUID2, bytes), 'KVM_SET_CPUID2');
  }

  getCpuid2(maxEntries = 256): CpuidEntry[] {
    const bytes = new Uint8Array(kvm_cpuid2.size + maxEntries * kvm_cpuid_entry2.size);
    new DataView(bytes.buffer).setUint32(0, maxEntries, true);
    check(this.host.ioctl(this.fd, I.KVM_GET_CPUID2, bytes), 'KVM_GET_CPUID2');
    const n = new DataView(bytes.buffer).getUint32(0, true);
    return Array.from({ length: n }, (_, i) => {
      const v = arrayEntry(kvm_cpuid_entry2, bytes, kvm_cpuid2.size, i);
      return {
        function: v.get('function'),
        index: v.get('index'),
        flags: v.get('flags'),
        eax: v.get('eax'),
        ebx: v.get('ebx'),
        ecx: v.get('ecx'),
        edx: v.get('edx'),
      };
    });
  }

  getVcpuEvents(): VcpuEvents {
    const v = allocStruct(kvm_vcpu_events);
    check(this.host.ioctl(this.fd, I.KVM_GET_VCPU_EVENTS, v.bytes), 'KVM_GET_VCPU_EVENTS');
    return v;
  }

  setVcpuEvents(events: VcpuEvents): void {
    check(this.host.ioctl(this.fd, I.KVM_SET_VCPU_EVENTS, events.bytes), 'KVM_SET_VCPU_EVENTS');
  }

  /** KVM_INTERRUPT: queue external interrupt `vector` (irqchip in userspace). */
  interrupt(vector: number): void {
    const v = allocStruct(kvm_interrupt);
    v.set('irq', vector);
    check(this.host.ioctl(this.fd, I.KVM_INTERRUPT, v.bytes), 'KVM_INTERRUPT');
  }

  /** KVM_NMI: queue an NMI. */
  nmi(): void {
    check(this.host.ioctl(this.fd, I.KVM_NMI), 'KVM_NMI');
  }

  /** KVM_GET_XSAVE: the 4096-byte struct kvm_xsave (FXSAVE image + XSAVE header). */
  getXsave(): Uint8Array {
    const b = new Uint8Array(kvm_xsave.size);
    check(this.host.ioctl(this.fd, I.KVM_GET_XSAVE, b), 'KVM_GET_XSAVE');
    return b;
  }

  setXsave(xsave: Uint8Array): void {
    check(this.host.ioctl(this.fd, I.KVM_SET_XSAVE, xsave), 'KVM_SET_XSAVE');
  }

  /** KVM_GET_XCRS: the extended control registers (XCR0). */
  getXcrs(): Xcr[] {
    const v = allocStruct(kvm_xcrs);
    check(this.host.ioctl(this.fd, I.KVM_GET_XCRS, v.bytes), 'KVM_GET_XCRS');
    return Array.from({ length: v.get('nr_xcrs') }, (_, i) => {
      const e = arrayEntry(kvm_xcr, v.bytes, kvm_xcrs.fields.xcrs.offset, i);
      return { xcr: e.get('xcr'), value: e.getBigInt('value') };
    });
  }

  setXcrs(xcrs: readonly Xcr[]): void {
    const v = allocStruct(kvm_xcrs);
    v.set('nr_xcrs', xcrs.length);
    xcrs.slice(0, 16).forEach((x, i) => {
      const e = arrayEntry(kvm_xcr, v.bytes, kvm_xcrs.fields.xcrs.offset, i);
      e.set('xcr', x.xcr);
      e.set('value', BigInt.asUintN(64, x.value));
    });
    check(this.host.ioctl(this.fd, I.KVM_SET_XCRS, v.bytes), 'KVM_SET_XCRS');
  }

  /** KVM_GET_DEBUGREGS: the guest's own debug registers. */
  getDebugRegs(): DebugRegs {
    const v = allocStruct(kvm_debugregs);
    check(this.host.ioctl(this.fd, I.KVM_GET_DEBUGREGS, v.bytes), 'KVM_GET_DEBUGREGS');
    const d = v.bytesOf('db');
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const db = (i: number): bigint => dv.getBigUint64(i * 8, true);
    return { db: [db(0), db(1), db(2), db(3)], dr6: v.getBigInt('dr6'), dr7: v.getBigInt('dr7') };
  }

  setDebugRegs(regs: DebugRegs): void {
    const v = allocStruct(kvm_debugregs);
    const d = v.bytesOf('db');
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    regs.db.forEach((r, i) => {
      dv.setBigUint64(i * 8, BigInt.asUintN(64, r), true);
    });
    v.set('dr6', BigInt.asUintN(64, regs.dr6));
    v.set('dr7', BigInt.asUintN(64, regs.dr7));
    check(this.host.ioctl(this.fd, I.KVM_SET_DEBUGREGS, v.bytes), 'KVM_SET_DEBUGREGS');
  }

  /** KVM_SET_GUEST_DEBUG: `control` is KVM_GUESTDBG_*; `debugreg` DR0..DR7 (used with USE_HW_BP). */
  setGuestDebug(control: number, debugreg: readonly bigint[] = []): void {
    const v = allocStruct(kvm_guest_debug);
    v.set('control', control);
    const d = v.bytesOf('debugreg');
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    debugreg.slice(0, 8).forEach((r, i) => {
      dv.setBigUint64(i * 8, BigInt.asUintN(64, r), true);
    });
    check(this.host.ioctl(this.fd, I.KVM_SET_GUEST_DEBUG, v.bytes), 'KVM_SET_GUEST_DEBUG');
  }

  /**
   * KVM_RUN: runs the guest until an exit userspace must handle and returns it. Fill the data of an
   * `IoIn` / `MmioRead` exit in place before the next `run()`, which completes the access.
   * -EINTR (immediate_exit, or the host's run slice) throws a KvmError with errno EINTR. (rust-vmm
   * calls this `run()`; here `run` is the kvm_run mapping, which `@typevisor/qemu` reads.)
   */
  runGuest(): VcpuExit {
    check(this.host.ioctl(this.fd, I.KVM_RUN, 0), 'KVM_RUN');
    return decodeExit(this.run);
  }

  /** The exit described by the kvm_run mapping right now (after a KVM_RUN returned). */
  exit(): VcpuExit {
    return decodeExit(this.run);
  }

  close(): void {
    check(this.host.close(this.fd), 'close');
  }
}
