import { VcpuStats } from './run/stats.js';
import { KVM_MAX_CPUID_ENTRIES, KVM_MP_STATE_RUNNABLE } from './uapi/constants.js';
import { StructView } from './uapi/layout.js';
import {
  kvm_cpuid_entry2,
  kvm_debugregs,
  kvm_fpu,
  kvm_guest_debug,
  kvm_regs,
  kvm_segment,
  kvm_sregs,
  kvm_vcpu_events,
} from './uapi/structs.js';

/** KVM_GET_VCPU_MMAP_SIZE on x86: the kvm_run page, the PIO data page and the coalesced-MMIO ring page. */
export const KVM_VCPU_MMAP_SIZE = 3 * 4096;

const REGS_OFFSET = 0;
const SREGS_OFFSET = REGS_OFFSET + kvm_regs.size;
const MP_STATE_OFFSET = SREGS_OFFSET + kvm_sregs.size;
const FPU_OFFSET = MP_STATE_OFFSET + 8;
const EVENTS_OFFSET = FPU_OFFSET + kvm_fpu.size;
const DEBUG_OFFSET = EVENTS_OFFSET + kvm_vcpu_events.size;
const CPUID_COUNT_OFFSET = DEBUG_OFFSET + kvm_guest_debug.size;
const CPUID_OFFSET = CPUID_COUNT_OFFSET + 8;
const DEBUGREGS_OFFSET = CPUID_OFFSET + KVM_MAX_CPUID_ENTRIES * kvm_cpuid_entry2.size;
const XCR0_OFFSET = DEBUGREGS_OFFSET + kvm_debugregs.size;
const YMM_HI_OFFSET = XCR0_OFFSET + 8;
/** YMM0-YMM15 bits 255:128, 16 bytes each: the XSAVE AVX component (YMM_Hi128). */
export const YMM_HI_BYTES = 256;
const STATS_OFFSET = YMM_HI_OFFSET + YMM_HI_BYTES;
const STATE_SIZE = STATS_OFFSET + VcpuStats.WORDS * 8;

/** FCW and MXCSR after FNINIT / reset (SDM Vol. 1 8.1.5, 10.2.3.1). */
const FCW_DEFAULT = 0x37f;
const MXCSR_DEFAULT = 0x1f80;
/** DR6 and DR7 after reset (SDM Vol. 3 Table 10-1). */
const DR6_RESET = 0xffff0ff0;
const DR7_RESET = 0x400;
/** XCR0 after reset: x87 only (SDM Vol. 1 §13.3). */
export const XCR0_RESET = 1n;

/** What the vCPU ioctls need from the vCPU's KVM_RUN machinery. */
export interface VcpuRunnerPort {
  /** Stores registers the guest changed into the shared buffers. */
  flush(): void;
  /** The buffers changed: load them into the CPU before the next entry. */
  invalidate(): void;
  /**
   * Present when KVM_RUN runs in a worker thread (`VcpuWorker`): the VMM thread has no CPU of this
   * vCPU, so its own KVM_RUN and the ioctls that need the CPU (MSRs, KVM_TRANSLATE) are refused, and
   * every ioctl is refused while the worker is inside KVM_RUN (`running`).
   */
  readonly remote?: { readonly running: boolean };
}

/** The buffers of a vCPU that cross threads (postMessage this to a vCPU worker). */
export interface SharedVcpuState {
  readonly id: number;
  readonly run: SharedArrayBuffer;
  readonly state: SharedArrayBuffer;
}

/**
 * The kernel-side state of one vCPU that exists before any instruction runs: the kvm_run mapping and
 * the architectural registers in their KVM byte layouts, all in SharedArrayBuffers so that the CPU
 * integration (in a worker) and the VMM thread see one copy. The CPU integration loads `regs`/`sregs`
 * into the executor before KVM_RUN and stores them back on exit.
 */
export class VcpuState {
  /** The whole vCPU mapping (KVM_VCPU_MMAP_SIZE bytes); kvm_run at offset 0, PIO data at page 1. */
  readonly run: Uint8Array;
  /** struct kvm_regs bytes. */
  readonly regs: Uint8Array;
  /** struct kvm_sregs bytes. */
  readonly sregs: Uint8Array;
  /** struct kvm_fpu bytes (the FXSAVE-format x87/SSE state). */
  readonly fpu: Uint8Array;
  /**
   * struct kvm_vcpu_events bytes holding the pending and injected events: the exception, the
   * external interrupt (KVM_INTERRUPT with a userspace irqchip), the interrupt shadow, NMIs.
   * `interrupt.soft` is kept; `nmi.pending` counts queued NMIs (clamped when read).
   */
  readonly events: Uint8Array;
  /**
   * struct kvm_guest_debug bytes as KVM_SET_GUEST_DEBUG left them: `control` (0 unless
   * KVM_GUESTDBG_ENABLE) and, with KVM_GUESTDBG_USE_HW_BP, the effective DR0..DR3 and DR7.
   */
  readonly guestDebug: Uint8Array;
  /** The guest CPUID (KVM_SET_CPUID2): `cpuidCount` entries of struct kvm_cpuid_entry2. */
  readonly cpuid: Uint8Array;
  /**
   * struct kvm_debugregs bytes: the guest's DR0..DR3, DR6, DR7 (vcpu->arch.db/dr6/dr7), loaded into
   * the CPU's debug registers at entry and stored back after it ran; flags and reserved stay 0.
   */
  readonly debugregs: Uint8Array;
  /** XCR0 (vcpu->arch.xcr0) as a little-endian u64; KVM_GET/SET_XCRS. */
  readonly xcr0: BigUint64Array;
  /**
   * The upper halves of YMM0-YMM15 (bits 255:128, 16 bytes per register), the XSAVE AVX component's
   * layout: what kvm_fpu has no room for. KVM_GET/SET_XSAVE carry it at offset 576; the CPU's
   * register file gets it at entry and gives it back after the guest ran, like kvm_fpu.
   */
  readonly ymmHi: Uint8Array;
  /**
   * The vCPU's statistics (kvm_stat), shared: the runner counts into them on whichever thread runs
   * KVM_RUN, and the VMM thread reads them (`KvmHost.vcpuStats`).
   */
  readonly stats: VcpuStats;
  private readonly mp: Uint32Array;
  private readonly nCpuid: Uint32Array;
  /**
   * The KVM_RUN machinery of this vCPU once it ran (not shared between threads): other ioctls `flush`
   * the CPU's newer state into these buffers before they read them and `invalidate` it after.
   */
  runner: VcpuRunnerPort | null = null;

  constructor(
    readonly id: number,
    shared?: SharedVcpuState,
  ) {
    const run = shared?.run ?? new SharedArrayBuffer(KVM_VCPU_MMAP_SIZE);
    const state = shared?.state ?? new SharedArrayBuffer(STATE_SIZE);
    this.run = new Uint8Array(run);
    this.regs = new Uint8Array(state, REGS_OFFSET, kvm_regs.size);
    this.sregs = new Uint8Array(state, SREGS_OFFSET, kvm_sregs.size);
    this.mp = new Uint32Array(state, MP_STATE_OFFSET, 1);
    this.fpu = new Uint8Array(state, FPU_OFFSET, kvm_fpu.size);
    this.events = new Uint8Array(state, EVENTS_OFFSET, kvm_vcpu_events.size);
    this.guestDebug = new Uint8Array(state, DEBUG_OFFSET, kvm_guest_debug.size);
    this.nCpuid = new Uint32Array(state, CPUID_COUNT_OFFSET, 1);
    this.cpuid = new Uint8Array(state, CPUID_OFFSET, KVM_MAX_CPUID_ENTRIES * kvm_cpuid_entry2.size);
    this.debugregs = new Uint8Array(state, DEBUGREGS_OFFSET, kvm_debugregs.size);
    this.xcr0 = new BigUint64Array(state, XCR0_OFFSET, 1);
    this.ymmHi = new Uint8Array(state, YMM_HI_OFFSET, YMM_HI_BYTES);
    this.stats = new VcpuStats(new Float64Array(state, STATS_OFFSET, VcpuStats.WORDS));
  }

  /** Number of guest CPUID entries set by KVM_SET_CPUID2. */
  get cpuidCount(): number {
    return Atomics.load(this.nCpuid, 0);
  }

  set cpuidCount(n: number) {
    Atomics.store(this.nCpuid, 0, n);
  }

  static fromShared(shared: SharedVcpuState): VcpuState {
    return new VcpuState(shared.id, shared);
  }

  get shared(): SharedVcpuState {
    return {
      id: this.id,
      run: this.run.buffer as SharedArrayBuffer,
      state: this.regs.buffer as SharedArrayBuffer,
    };
  }

  get mpState(): number {
    return Atomics.load(this.mp, 0);
  }

  set mpState(value: number) {
    Atomics.store(this.mp, 0, value);
  }

  /**
   * The power-on state (kvm_vcpu_reset + vmx_vcpu_reset, SDM Vol. 3A Table 10-1): CS.selector 0xf000
   * with base 0xffff0000, RIP 0xfff0, RFLAGS 0x2, CR0 CD|NW|ET, RDX 0x600 (no guest CPUID yet),
   * 64 KiB flat data segments, busy 32-bit TSS and LDT descriptors, the APIC at 0xfee00000 (BSP = vCPU 0).
   */
  reset(bsp: boolean): void {
    this.regs.fill(0);
    this.sregs.fill(0);
    this.fpu.fill(0);
    this.ymmHi.fill(0);
    this.events.fill(0);
    this.guestDebug.fill(0);
    this.debugregs.fill(0);
    const d = new StructView(kvm_debugregs, this.debugregs);
    d.set('dr6', DR6_RESET);
    d.set('dr7', DR7_RESET);
    this.xcr0[0] = XCR0_RESET;
    const f = new StructView(kvm_fpu, this.fpu);
    f.set('fcw', FCW_DEFAULT);
    f.set('mxcsr', MXCSR_DEFAULT);
    const r = new StructView(kvm_regs, this.regs);
    r.set('rip', 0xfff0);
    r.set('rflags', 0x2);
    r.set('rdx', 0x600);
    const s = new StructView(kvm_sregs, this.sregs);
    const seg = (
      name: 'cs' | 'ds' | 'es' | 'fs' | 'gs' | 'ss' | 'tr' | 'ldt',
      type: number,
      sBit: number,
    ) => {
      const v = s.sub(name, kvm_segment);
      v.set('limit', 0xffff);
      v.set('type', type);
      v.set('present', 1);
      v.set('s', sBit);
      return v;
    };
    const cs = seg('cs', 0xb, 1);
    cs.set('selector', 0xf000);
    cs.set('base', 0xffff0000);
    for (const n of ['ds', 'es', 'fs', 'gs', 'ss'] as const) seg(n, 0x3, 1);
    seg('tr', 0xb, 0);
    seg('ldt', 0x2, 0);
    new DataView(this.sregs.buffer, this.sregs.byteOffset).setUint16(
      kvm_sregs.fields.gdt.offset + 8,
      0xffff,
      true,
    );
    new DataView(this.sregs.buffer, this.sregs.byteOffset).setUint16(
      kvm_sregs.fields.idt.offset + 8,
      0xffff,
      true,
    );
    s.set('cr0', 0x60000010);
    s.set('apic_base', (0xfee00000 | 0x800 | (bsp ? 0x100 : 0)) >>> 0);
    this.mpState = KVM_MP_STATE_RUNNABLE;
  }
}
