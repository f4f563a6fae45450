/**
 * KVM_RUN for one vCPU: the software CPU runs the guest in (modelled) VMX non-root operation under a
 * VMCS programmed as kvm_intel programs it; the CPU hooks decide with `@typevisor/vmx`'s exit rules
 * which instructions leave non-root operation; `handleExit` is vmx_handle_exit's dispatch, handling
 * exits in the kernel (CPUID, MSRs, CR access, EPT violations on RAM, MMIO of READONLY slots on reads)
 * or filling kvm_run for userspace (I/O, MMIO, HLT, SHUTDOWN, IRQ window, FAIL_ENTRY, INTERNAL_ERROR).
 *
 * The loop is an explicit state machine: `mode` says what the hooks do (run the guest, collect an
 * OUTS's data, feed an INS's data, replay one instruction for MMIO emulation) and `completion` says
 * which userspace exit the next KVM_RUN completes (complete_userspace_io).
 */
import { GuestMemory, type WriteConsumer } from '@typevisor/memory';
import { AccessKind, EptQual, FaultKind, MMU_FAULT, Privilege } from '@typevisor/mmu';
import {
  ExitInfo,
  ExitReason,
  InterruptionType,
  Injection,
  ProcBased,
  VmcsField as F,
  type VmxCapabilities,
  createVmxCapabilities,
  DEFAULT_CR4_FIXED1,
  crAccessQualification,
  CrAccessType,
  exceptionExits,
  interruptWindowExits,
  ioQualification,
  makeInterruptionInfo,
  movToCr3Exits,
  movToCrExits,
  msrExits,
  pendingInjection,
  recordVmExit,
  saveIa32eModeGuest,
} from '@typevisor/vmx';
import {
  Cpu,
  type CpuEvents,
  CpuExit,
  type CpuHooks,
  type CpuidResult,
  DR6,
  EFLAGS,
  EventKind,
  INTERCEPT,
  interceptSoftwareEvent,
  isSoftwareException,
  leaf1EcxWithOsxsave,
  type MsrValue,
  Seg,
  type TscSource,
  xcr0Of,
  xsaveAreaSize,
} from '@typevisor/x86-cpu';
import { cr4ValidFor, type KvmCpuModel } from '../cpu-model.js';
import type { HostClock } from '../kernel/context.js';
import { KernelIrqchip } from '../kernel/irqchip.js';
import {
  KvmClockVcpu,
  MSR_KVM_SYSTEM_TIME,
  MSR_KVM_SYSTEM_TIME_NEW,
  MSR_KVM_WALL_CLOCK,
  MSR_KVM_WALL_CLOCK_NEW,
  PVCLOCK_TSC_STABLE_BIT,
  type TimeScale,
  timeScale,
  writePvclock,
  writeWallClock,
} from '../kernel/kvmclock.js';
import type { Memslots } from '../memslots.js';
import * as C from '../uapi/constants.js';
import { EINTR } from '../uapi/errno.js';
import {
  kvm_cpuid_entry2,
  kvm_regs,
  kvm_run,
  kvm_segment,
  kvm_sregs,
  kvm_vcpu_events,
} from '../uapi/structs.js';
import type { LocalApic } from '@typevisor/devices';
import { IOAPIC_BASE } from '../kernel/irqchip.js';
import type { VcpuRunnerPort, VcpuState } from '../vcpu-state.js';
import { type AddressSpace, ShadowPagedMmu, buildAddressSpace, findSlot } from './memory-map.js';
import { StateViews, loadCpu, saveCpu } from './state-sync.js';
import type { VcpuStats } from './stats.js';
import { VMX_LAYOUT, Vmcs, type VmxOptions, entryFailure, initVmcs, writeGuestState } from './vmcs-setup.js';

/** What the VM (the `struct kvm` side) offers a running vCPU. */
export interface RunVm {
  /** The memslots (a vCPU worker passes its own copy, rebuilt from the shared slot buffers). */
  readonly memslots: Pick<Memslots, 'generation' | 'all'>;
  /** KVM_SET_TSS_ADDR, for the real-mode TSS without unrestricted guest. */
  readonly tssAddr: number | null;
  /** In-kernel PIO/MMIO handlers (ioeventfds): `write` is true when a write was consumed. */
  readonly ioeventfds: { write(bus: 'mmio' | 'pio', addr: number, len: number, lo: number): boolean };
  /** The in-kernel irqchip (KVM_CREATE_IRQCHIP), or null. */
  readonly chip: KernelIrqchip | null;
  /** KVM_CAP_X86_USER_SPACE_MSR's KVM_MSR_EXIT_REASON_* mask (0: MSR faults stay in the kernel). */
  readonly userSpaceMsr: number;
  /** kvmclock = host monotonic ns + this (KVM_SET_CLOCK moves it). */
  readonly kvmclockOffset: bigint;
  /** Counts KVM_SET_CLOCKs: each makes every vCPU rewrite its kvmclock record (KVM_REQ_CLOCK_UPDATE). */
  readonly clockGeneration: number;
}

/** Options of a host's KVM_RUN (kvm_intel module parameters and the run slice). */
export interface RunOptions extends VmxOptions {
  /**
   * Guest instructions after which KVM_RUN returns -EINTR with KVM_EXIT_INTR, as if a signal (a
   * VMM's timer) had arrived; Infinity (the default) runs until an exit needs userspace.
   */
  readonly sliceInstructions: number;
  /** The guest TSC's time base (a constant rate from the host clock), or null to count instructions. */
  readonly tsc: (TscSource & { readonly khz: number }) | null;
  /** The host clock: the LAPIC timer's time base, and what a halted vCPU sleeps on. */
  readonly clock: HostClock;
  /**
   * The longest a KVM_RUN of a halted vCPU (in-kernel irqchip) blocks the host thread waiting for an
   * interrupt before it returns -EINTR (KVM_EXIT_INTR), in ns.
   */
  readonly haltWaitNs: number;
}

/** What the CPU hooks do right now. */
const Mode = { Guest: 0, CollectOuts: 1, FeedIns: 2, MmioReplay: 3 } as const;
type Mode = (typeof Mode)[keyof typeof Mode];

/** The userspace exit the next KVM_RUN completes. */
const Completion = { None: 0, PioIn: 1, PioOut: 2, PioInString: 3, Mmio: 4, Msr: 5 } as const;
type Completion = (typeof Completion)[keyof typeof Completion];

const PIO_OFFSET = C.KVM_PIO_PAGE_OFFSET * 4096;
const RF = kvm_run.fields;
const EV = kvm_vcpu_events.fields;
const SR = kvm_sregs.fields;
const CPUID_E = kvm_cpuid_entry2.fields;
/** Byte offsets read on every entry (plain Uint8Array reads on the hot path). */
const EXC_INJECTED = EV['exception.injected'].offset;
const EXC_PENDING = EV['exception.pending'].offset;
const NMI_PENDING = EV['nmi.pending'].offset;
const IRQ_INJECTED = EV['interrupt.injected'].offset;
const IMMEDIATE_EXIT = RF.immediate_exit.offset;
const REQUEST_IRQ_WINDOW = RF.request_interrupt_window.offset;
/**
 * kvm_run fields written on every exit, as indexes into 8/16/32-bit views of the mapping (the hosts JS
 * runs on are little-endian, as x86 is; typed-array stores are cheaper than DataView ones).
 */
const EXIT_REASON32 = RF.exit_reason.offset >> 2;
const IF_FLAG = RF.if_flag.offset;
const READY_FOR_INJECTION = RF.ready_for_interrupt_injection.offset;
const CR8_32 = RF.cr8.offset >> 2;
const APIC_BASE32 = RF.apic_base.offset >> 2;
const IO_DIRECTION = RF['io.direction'].offset;
const IO_SIZE = RF['io.size'].offset;
const IO_PORT16 = RF['io.port'].offset >> 1;
const IO_COUNT32 = RF['io.count'].offset >> 2;
const IO_DATA_OFFSET32 = RF['io.data_offset'].offset >> 2;
const SR_CR8_32 = SR.cr8.offset >> 2;
const SR_APIC_BASE32 = SR.apic_base.offset >> 2;
const EFLAGS_IF = 1 << 9;
const MAX_MMIO_QUEUE = 64;
const GUEST_BUDGET = 1 << 20;
/** Guest time: of runs shorter than LONG_RUN instructions one in GUEST_TIME_SAMPLE is timed. */
const GUEST_TIME_SAMPLE = 4;
const LONG_RUN = 64;
/** With an in-kernel irqchip the LAPIC timer is polled at least every this many guest instructions. */
const IRQCHIP_BUDGET = 1 << 14;
const MSR_IA32_APIC_BASE = 0x1b;
const MSR_IA32_TSC = 0x10;
/** The rate kvmclock's record claims when the TSC counts instructions (no real rate exists). */
const DEFAULT_PVCLOCK_KHZ = 1_000_000;
const isKvmClockMsr = (index: number): boolean =>
  index === MSR_KVM_SYSTEM_TIME_NEW ||
  index === MSR_KVM_WALL_CLOCK_NEW ||
  index === MSR_KVM_SYSTEM_TIME ||
  index === MSR_KVM_WALL_CLOCK;
const MSR_EFER = 0xc0000080;
const MSR_FS_BASE = 0xc0000100;
const MSR_GS_BASE = 0xc0000101;
const EFER_LMA = 1 << 10;

/**
 * RIP after skipping `length` bytes (kvm_skip_emulated_instruction): IP wraps at 64 KiB in 16-bit code
 * and at 4 GiB in 32-bit code; in 64-bit mode RIP is a signed-form canonical address and just moves on.
 */
function nextIp(cpu: Cpu, length: number): number {
  const ip = cpu.regs.ip + length;
  if (cpu.code64) return ip;
  return cpu.bitness === 16 ? ip & 0xffff : ip >>> 0;
}
const GP_VECTOR = 13;
const DB_VECTOR = 1;
const NMI_VECTOR = 2;
const BP_VECTOR = 3;
const OF_VECTOR = 4;
/** DR6 bit 12 reads as 0 on this CPU (see `DR6.FIXED1`). */
const DR6_RESERVED_ZERO = 0x1000;
/** Exceptions that push an error code (SDM Vol. 3 Table 6-1): #DF, #TS, #NP, #SS, #GP, #PF, #AC. */
const ERROR_CODE_VECTORS = (1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14) | (1 << 17);
/** The exception-bitmap bits guest debugging adds (update_exception_bitmap). */
const DEBUG_EXCEPTIONS = (1 << DB_VECTOR) | (1 << BP_VECTOR);
const STEP_ON = C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_SINGLESTEP;
const HW_BP_ON = C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_USE_HW_BP;
/** kvm_guest_debug.arch.debugreg[n] */
const DEBUGREG = 8;

/** Scratch for the guest CPUID's leaf 1 (ECX, EDX) when a CR4 write is checked. */
const cr4Leaf1 = new Uint32Array(2);

/** What a hook saw of the exit it caused. */
class PendingExit {
  reason = -1;
  qualification = 0;
  length = 0;
  port = 0;
  size: 1 | 2 | 4 = 1;
  value = 0;
  input = false;
  string = false;
  rep = false;
  addr32 = false;
  /** 64-bit address size (64-bit mode without 67h): RCX counts. */
  addr64 = false;
  msr = 0;
  /** The value a MOV to CR0/CR3/CR4 that exits would write. */
  crValue = 0;
  msrLo = 0;
  msrHi = 0;
  /** The software exception (INT3) an ExceptionOrNmi exit intercepted. */
  vector = 0;
}

/** Registers saved before an MMIO replay, restored when the replay needs data it does not have. */
class Snapshot {
  readonly gpr = new Int32Array(32);
  readonly segSelector = new Uint16Array(8);
  /** Bases as the CPU holds them: FS/GS/TR/LDTR may be 64-bit (signed form) in IA-32e mode. */
  readonly segBase = new Float64Array(8);
  readonly segLimit = new Uint32Array(8);
  readonly segAttr = new Uint32Array(8);
  ip = 0;
  eflags = 0;

  take(cpu: Cpu): void {
    this.gpr.set(cpu.regs.r32);
    this.ip = cpu.regs.ip;
    this.eflags = cpu.eflags;
    const s = cpu.segs;
    this.segSelector.set(s.selector);
    this.segBase.set(s.base);
    this.segLimit.set(s.limit);
    this.segAttr.set(s.attr);
  }

  restore(cpu: Cpu): void {
    cpu.regs.r32.set(this.gpr);
    cpu.regs.ip = this.ip;
    cpu.eflags = this.eflags;
    const s = cpu.segs;
    for (let i = 0; i < 8; i++) {
      if (
        s.selector[i] !== this.segSelector[i] ||
        s.attr[i] !== this.segAttr[i] ||
        s.base[i] !== this.segBase[i]
      ) {
        const base = this.segBase[i]!;
        const wide = base < 0 || base > 0xffff_ffff;
        s.set(i, this.segSelector[i]!, wide ? 0 : base, this.segLimit[i]!, this.segAttr[i]!);
        if (wide) s.setBase64(i, base);
      }
    }
  }
}

let lastVpid = 0;
function allocVpid(): number {
  lastVpid = (lastVpid % 0xffff) + 1;
  return lastVpid;
}

export class VcpuRunner implements CpuHooks, CpuEvents, VcpuRunnerPort {
  readonly stats: VcpuStats;
  readonly caps: VmxCapabilities;
  /** The vCPU's VMCS; its VM-exit information fields are written when it is looked at (see `vmcs`). */
  private readonly loaded: Vmcs;
  /** The kernel's own memory for this vCPU's VMX structures (MSR bitmap). */
  readonly vmxMemory = GuestMemory.create(VMX_LAYOUT.size);
  private readonly views: StateViews;
  private readonly runView: DataView;
  private readonly events: DataView;
  private readonly guestDebug: DataView;
  /** 16- and 32-bit views of the kvm_run mapping and of kvm_sregs, KVM_SET_GUEST_DEBUG's control word. */
  private readonly run16: Uint16Array;
  private readonly run32: Uint32Array;
  private readonly sregs32: Uint32Array;
  private readonly debugControlWord: Uint32Array;
  /** ProcBasedControls as last written here (-1: read it from the VMCS). */
  private procControls = -1;
  /** The KVM_SET_CPUID2 table (vcpu.cpuid), read by CPUID exits. */
  private readonly cpuidView: DataView;
  /**
   * The last VM exit's information (`info`, and its RIP) is not in the VMCS yet: `recordVmExit` runs
   * when the VMCS is looked at (the `vmcs` getter, the entry checks, a rebuild), not on every exit,
   * so that an exit the kernel handles costs no VMCS writes. Only the last exit's can be seen anyway.
   */
  private exitInfoPending = false;
  private exitRip = 0;
  /** IA32_EFER at the last VM exit. */
  private exitEfer = 0;
  /** Guest runs left before the next timed one (guest time is sampled, see `guestRun`). */
  private untimedRuns = 0;
  /** The last guest run retired at least LONG_RUN instructions: time the next one exactly. */
  private lastRunLong = true;
  private readonly info = new ExitInfo();
  private readonly injection = new Injection();
  private readonly pend = new PendingExit();
  private readonly snapshot = new Snapshot();
  private cpu: Cpu | null = null;
  private space: AddressSpace | null = null;
  private generation = -1;
  /** This vCPU's share of each slot's host write log (DMA over code), with where the slot lies in it. */
  private hostWrites: { consumer: WriteConsumer; base: number; gpa: number; size: number }[] = [];
  /** VPIDs 1..0xffff (0 is the host's), reused after wrapping as KVM's allocator would once they run out. */
  private readonly vpid = allocVpid();
  /** Guest state changed from userspace: rewrite the VMCS guest area and run the entry checks. */
  private needEntryChecks = true;
  /**
   * The shared buffers hold state newer than the CPU (userspace set it): load it at the next KVM_RUN.
   * Kept apart from `needEntryChecks`, since a KVM_RUN may return (a completed instruction's debug
   * exit, immediate_exit) after the load and before the checks, with the CPU newer than the buffers.
   */
  private needLoad = true;
  /** The CPU holds state newer than the shared buffers. */
  private cpuNewer = false;

  private mode: Mode = Mode.Guest;
  private completion: Completion = Completion.None;
  private completionLength = 0;
  /** The linear RIP of the exit being completed (vcpu->arch.cui_linear_rip). */
  private completionRip = 0;
  private completionSize: 1 | 2 | 4 = 1;
  private completionPort = 0;
  private completionCount = 0;
  private completionWrite = false;
  /** OUTS collection / INS feeding: elements done and the limit. */
  private elements = 0;
  private elementLimit = 0;
  /**
   * The string instruction has more elements than this exit takes (a page's worth): stop it after the
   * last one. Otherwise it ends by itself, and its trap (TF, a data or I/O breakpoint) is taken as usual.
   */
  private elementStop = false;
  private completionStop = false;
  /** One-shot permissions for re-executing an instruction the kernel emulates. */
  private allowCr = false;
  private allowMsr = false;
  /** kvmclock: MSR_KVM_SYSTEM_TIME and when its record needs rewriting. */
  private readonly kvmclock = new KvmClockVcpu();
  /** MSR_KVM_WALL_CLOCK as last written (KVM keeps it per VM; one value per vCPU here). */
  private wallClockLo = 0;
  private wallClockHi = 0;
  private readonly pvclockScale: TimeScale;
  private allowInvlpg = false;
  /** MMIO replay: read data supplied by userspace (per read of the instruction), queued writes. */
  private readonly mmioReadData = new Float64Array(8);
  private readonly mmioReadAddr = new Float64Array(8);
  private mmioReadsKnown = 0;
  private mmioReadsUsed = 0;
  private mmioNeedRead = false;
  private readonly mmioWriteAddr = new Float64Array(MAX_MMIO_QUEUE);
  private readonly mmioWriteSize = new Uint8Array(MAX_MMIO_QUEUE);
  private readonly mmioWriteValue = new Float64Array(MAX_MMIO_QUEUE);
  private mmioWrites = 0;
  private mmioWritesSent = 0;
  private mmioOverflow = false;
  private mmioPendingAddr = 0;
  private mmioPendingSize = 0;
  /** Guest debugging (KVM_SET_GUEST_DEBUG) as the current entry applies it. */
  private debugSingleStep = false;
  private debugHwBp = false;
  /** kvm_guest_debug.control as the last entry applied it (-1: apply whatever it is). */
  private debugControl = -1;
  /** The effective DR0..DR3 (low halves) and DR7 of KVM_GUESTDBG_USE_HW_BP. */
  private readonly hwDr = new Uint32Array(4);
  private hwDr7 = 0;
  /**
   * The kernel completed an instruction by emulating it (kvm_skip_emulated_instruction and the
   * emulator): with KVM_GUESTDBG_SINGLESTEP that is a step, reported before the guest runs on.
   */
  private stepped = false;
  /** VM-exit instruction length of the last #BP exit (vcpu->arch.event_exit_inst_len). */
  private eventExitInstLen = 0;
  /**
   * B0..B3 of KVM_GUESTDBG_USE_HW_BP breakpoints met by an instruction the kernel completed (an I/O
   * breakpoint on an exiting IN/OUT): KVM_EXIT_DEBUG before the guest runs on, as for a single step.
   */
  private debugTrap = 0;
  /**
   * The event whose delivery the CPU started last (`delivered`), with `cpu.instructions` then: when
   * the delivery stops at an EPT violation the exit carries it as IDT-vectoring information and the
   * next entry delivers it again (vmx_complete_interrupts). Kind -1: none.
   */
  private vectoringKind = -1;
  private vectoringVector = 0;
  private vectoringCode = 0;
  private vectoringAt = 0;
  /** VM-entry event injection is delivering an event (no exception-bitmap intercept applies). */
  private injecting = false;
  /**
   * A signal pending for the thread running this vCPU (cell 0 non-zero; a `VcpuWorker`'s kick sets it
   * from another thread): KVM_RUN returns -EINTR with KVM_EXIT_INTR before the next VM entry, checked
   * at entry and after each VM exit (at most GUEST_BUDGET instructions apart), never per instruction.
   * Null when KVM_RUN runs in the VMM's own thread.
   */
  signal: Int32Array | null = null;

  constructor(
    private readonly vm: RunVm,
    readonly vcpu: VcpuState,
    private readonly model: KvmCpuModel,
    readonly options: RunOptions,
  ) {
    this.stats = vcpu.stats;
    this.pvclockScale = timeScale(1e9, (options.tsc?.khz ?? DEFAULT_PVCLOCK_KHZ) * 1000);
    // IA32_VMX_CR4_FIXED1 reports every CR4 bit the model has (SMEP on a Haswell-class model): the
    // guest's own MOV to CR4 sets them, and VM entry checks CR4 against it.
    this.caps = createVmxCapabilities({
      physicalAddressWidth: Math.max(model.maxPhyAddr, 36),
      cr4Fixed1: (DEFAULT_CR4_FIXED1 | model.cr4Valid) >>> 0,
    });
    this.loaded = new Vmcs(this.caps);
    this.cpuidView = new DataView(vcpu.cpuid.buffer, vcpu.cpuid.byteOffset, vcpu.cpuid.byteLength);
    const run = vcpu.run;
    this.run16 = new Uint16Array(run.buffer, run.byteOffset, run.byteLength >> 1);
    this.run32 = new Uint32Array(run.buffer, run.byteOffset, run.byteLength >> 2);
    this.sregs32 = new Uint32Array(vcpu.sregs.buffer, vcpu.sregs.byteOffset, vcpu.sregs.byteLength >> 2);
    this.debugControlWord = new Uint32Array(vcpu.guestDebug.buffer, vcpu.guestDebug.byteOffset, 1);
    this.views = new StateViews(vcpu);
    this.runView = new DataView(vcpu.run.buffer, vcpu.run.byteOffset, vcpu.run.byteLength);
    this.events = new DataView(vcpu.events.buffer, vcpu.events.byteOffset, vcpu.events.byteLength);
    this.guestDebug = new DataView(
      vcpu.guestDebug.buffer,
      vcpu.guestDebug.byteOffset,
      vcpu.guestDebug.byteLength,
    );
  }

  /** The vCPU's VMCS (the last VM exit's information fields written). */
  get vmcs(): Vmcs {
    this.recordExitInfo();
    return this.loaded;
  }

  /** Writes the last VM exit's information into the VMCS if it is not there yet (SDM 28.2). */
  private recordExitInfo(): void {
    if (!this.exitInfoPending) return;
    this.exitInfoPending = false;
    recordVmExit(this.loaded, this.info);
    // RIP as the u64 of the CPU's form (signed canonical in 64-bit mode). With "save IA32_EFER" the
    // exit stores the guest's EFER, and "IA-32e mode guest" takes EFER.LMA (SDM 28.2/28.3).
    const rip = this.exitRip;
    this.loaded.write64(F.GuestRip, rip >>> 0, Math.floor(rip / 2 ** 32) >>> 0);
    this.loaded.write64(F.GuestIa32Efer, this.exitEfer >>> 0, 0);
    saveIa32eModeGuest(this.loaded, (this.exitEfer & EFER_LMA) !== 0);
  }

  /** The shadow MMU's counters (faults fixed, guest faults, zapped ...) when running without EPT. */
  get shadowStats(): ShadowPagedMmu['shadow']['stats'] | null {
    const mmu = this.space?.mmu;
    return mmu instanceof ShadowPagedMmu ? mmu.shadow.stats : null;
  }

  /** Makes the shared buffers current (before any other vCPU ioctl reads or changes them). */
  flush(): void {
    if (this.cpuNewer && this.cpu !== null) saveCpu(this.cpu, this.views);
    this.cpuNewer = false;
  }

  /** Userspace changed the vCPU's state: reload it before the next entry. */
  invalidate(): void {
    this.needEntryChecks = true;
    this.needLoad = true;
  }

  // ---- KVM_RUN ----------------------------------------------------------------------------------------

  /** kvm_arch_vcpu_ioctl_run(): 0 with kvm_run describing the exit, or a negative errno. */
  runIoctl(): number {
    const st = this.stats;
    st.runs++;
    const rv = this.runView;
    if (this.generation !== this.vm.memslots.generation) this.rebuild();
    const cpu = this.cpu!;
    const ownLapic = this.vm.chip?.lapic(this.vcpu.id);
    if (ownLapic !== undefined && !this.acceptApicEvents(ownLapic)) {
      // UNINITIALIZED / INIT_RECEIVED: blocked until INIT / SIPI (kvm_vcpu_block), at most haltWaitNs.
      const clock = this.options.clock;
      if (clock.sleepNs !== undefined && this.options.haltWaitNs > 0) {
        clock.sleepNs(this.options.haltWaitNs);
        this.stats.haltWaits++;
      }
      if (!this.acceptApicEvents(ownLapic)) {
        rv.setUint32(RF.exit_reason.offset, C.KVM_EXIT_INTR, true);
        return this.leave(-EINTR);
      }
    }
    if (this.needLoad) {
      loadCpu(cpu, this.views, this.model);
      this.needLoad = false;
    }
    this.cpuNewer = true;
    const completing = this.completion !== Completion.None;
    let r = this.completeUserspace(cpu);
    if (r <= 0) return this.leave(r);
    if (this.stepped || this.debugTrap !== 0) {
      // kvm_vcpu_do_singlestep() / a debug trap after the completed instruction.
      const bits = this.kernelStepBits();
      if (bits !== 0) {
        this.stepped = false;
        return this.leave(this.kernelStepExit(cpu, bits));
      }
    }
    if (this.vcpu.run[IMMEDIATE_EXIT] !== 0) {
      rv.setUint32(RF.exit_reason.offset, C.KVM_EXIT_INTR, true);
      return this.leave(-EINTR);
    }
    if (this.signal !== null && Atomics.exchange(this.signal, 0, 0) !== 0) {
      rv.setUint32(RF.exit_reason.offset, C.KVM_EXIT_INTR, true);
      return this.leave(-EINTR);
    }
    if (this.needEntryChecks) {
      // The guest-state area comes from the buffers: make them current (a completion moved RIP).
      if (completing) saveCpu(cpu, this.views);
      this.recordExitInfo();
      writeGuestState(this.loaded, this.views, this.options, this.vm.tssAddr ?? 0, 0);
      const failed = entryFailure(this.loaded, this.caps, this.vmxMemory);
      if (failed !== null) {
        rv.setUint32(RF.exit_reason.offset, C.KVM_EXIT_FAIL_ENTRY, true);
        rv.setBigUint64(
          RF['fail_entry.hardware_entry_failure_reason'].offset,
          BigInt(failed.reason >>> 0),
          true,
        );
        rv.setUint32(RF['fail_entry.cpu'].offset, 0, true);
        st.userspaceExits[C.KVM_EXIT_FAIL_ENTRY]!++;
        return this.leave(0);
      }
      this.needEntryChecks = false;
    }
    const slice = this.options.sliceInstructions;
    const chip = this.vm.chip;
    const budget = chip === null ? GUEST_BUDGET : IRQCHIP_BUDGET;
    // Guest time, counted in instructions and VM exits (an exit costs at least an instruction's time).
    const start = cpu.instructions;
    let exits = 0;
    for (;;) {
      if (chip !== null) {
        chip.poll(this.vcpu.id);
        if (this.vcpu.mpState === C.KVM_MP_STATE_HALTED && !this.waitHalted(cpu)) {
          rv.setUint32(RF.exit_reason.offset, C.KVM_EXIT_INTR, true);
          return this.leave(-EINTR);
        }
      }
      const left = slice - (cpu.instructions - start + exits);
      this.dropHostWrittenCode(cpu);
      r = this.enterGuest(cpu, left < budget ? Math.max(1, left) : budget);
      if (r === 0) break;
      st.kernelExits++;
      exits++;
      // vcpu_run: dm_request_for_irq_injection() && kvm_vcpu_ready_for_interrupt_injection().
      if (this.vcpu.run[REQUEST_IRQ_WINDOW] !== 0 && this.readyForInjection(cpu)) {
        this.userExit(C.KVM_EXIT_IRQ_WINDOW_OPEN);
        break;
      }
      if (cpu.instructions - start + exits >= slice) {
        rv.setUint32(RF.exit_reason.offset, C.KVM_EXIT_INTR, true);
        return this.leave(-EINTR);
      }
      // vcpu_run: signal_pending() after a VM exit handled in the kernel.
      if (this.signal !== null && Atomics.load(this.signal, 0) !== 0) {
        Atomics.store(this.signal, 0, 0);
        rv.setUint32(RF.exit_reason.offset, C.KVM_EXIT_INTR, true);
        return this.leave(-EINTR);
      }
    }
    return this.leave(0);
  }

  /**
   * Drops the decoded code of the pages the host wrote since the last entry (devices' DMA, the VMM's
   * loaders: `GuestMemory` regions given the mapping's write log), as a CPU's instruction cache sees
   * DMA; before each entry, so a guest never runs code it has been told (by an interrupt or a status it
   * polls) was replaced.
   */
  private dropHostWrittenCode(cpu: Cpu): void {
    const list = this.hostWrites;
    for (let i = 0; i < list.length; i++) {
      const w = list[i]!;
      if (!w.consumer.pending) continue;
      w.consumer.drain((page) => {
        const off = page * 4096 - w.base;
        if (off >= 0 && off < w.size) cpu.phys.hostWrote(w.gpa + off, 4096);
      });
    }
  }

  /**
   * kvm_vcpu_block() for a halted vCPU: true once an event wakes it (an interrupt it can take now, an
   * NMI), after waiting on the host clock up to the next timer deadline (LAPIC, PIT); false (KVM_RUN returns
   * -EINTR) when nothing woke it within `haltWaitNs`.
   */
  private waitHalted(cpu: Cpu): boolean {
    const lapic = this.vm.chip!.lapic(this.vcpu.id)!;
    const clock = this.options.clock;
    let waited = 0;
    const chip = this.vm.chip!;
    for (;;) {
      chip.poll(this.vcpu.id);
      if (this.hasWakeEvent(cpu, lapic)) {
        this.vcpu.mpState = C.KVM_MP_STATE_RUNNABLE;
        return true;
      }
      const left = this.options.haltWaitNs - waited;
      if (left <= 0 || clock.sleepNs === undefined) return false;
      const deadline = chip.nextDeadlineNs(this.vcpu.id);
      const now = clock.monotonicNs();
      const ns = deadline === null ? left : Math.min(left, Math.max(1, deadline - now));
      clock.sleepNs(ns);
      waited += ns;
      this.stats.haltWaits++;
    }
  }

  /** An NMI from the LAPIC (LINT1, an IPI, a message) is queued like KVM_NMI (kvm_inject_nmi). */
  private takeLapicNmi(lapic: LocalApic): void {
    const e = this.events;
    if (lapic.takeNmi())
      e.setUint8(EV['nmi.pending'].offset, Math.min(2, e.getUint8(EV['nmi.pending'].offset) + 1));
  }

  /** kvm_vcpu_has_events(): an interrupt the guest accepts now (IF set), or an NMI. */
  private hasWakeEvent(cpu: Cpu, lapic: LocalApic): boolean {
    this.takeLapicNmi(lapic);
    // A queued exception (a #DB trap of an I/O breakpoint ...) is delivered at once (kvm_is_exception_pending).
    const ev = this.vcpu.events;
    if (ev[EXC_PENDING] !== 0 || ev[EXC_INJECTED] !== 0) return true;
    // KVM_GUESTDBG_BLOCKIRQ: no NMI or interrupt could be injected, so none wakes the vCPU.
    if (this.blockIrq()) return false;
    if (this.events.getUint8(EV['nmi.pending'].offset) > 0 || cpu.nmiPending) return true;
    return (cpu.eflags & EFLAGS_IF) !== 0 && lapic.hasInterrupt();
  }

  /**
   * kvm_apic_accept_events(): a latched INIT resets the vCPU (kvm_vcpu_reset with init_event: the
   * APIC base is kept) and its LAPIC, leaving an AP INIT_RECEIVED (the BSP RUNNABLE); a start-up IPI
   * then starts an INIT_RECEIVED AP in real mode at vector * 0x1000 (kvm_vcpu_deliver_sipi_vector); a
   * SIPI in any other state is dropped. False while the vCPU waits for them.
   */
  private acceptApicEvents(lapic: LocalApic): boolean {
    const v = this.vcpu;
    if (lapic.takeInit()) {
      const bsp = v.id === 0;
      v.reset(bsp);
      lapic.initReset();
      this.views.sregs.setBigUint64(SR.apic_base.offset, lapic.readApicBase(), true);
      v.mpState = bsp ? C.KVM_MP_STATE_RUNNABLE : C.KVM_MP_STATE_INIT_RECEIVED;
      this.completion = Completion.None;
      this.needEntryChecks = true;
      this.needLoad = true;
    }
    const sipi = lapic.takeSipi();
    if (sipi >= 0 && v.mpState === C.KVM_MP_STATE_INIT_RECEIVED) {
      const cs = SR.cs.offset;
      this.views.sregs.setUint16(cs + kvm_segment.fields.selector.offset, sipi << 8, true);
      this.views.sregs.setBigUint64(cs + kvm_segment.fields.base.offset, BigInt(sipi << 12), true);
      this.views.regs.setBigUint64(kvm_regs.fields.rip.offset, 0n, true);
      v.mpState = C.KVM_MP_STATE_RUNNABLE;
      this.needEntryChecks = true;
      this.needLoad = true;
    }
    return v.mpState !== C.KVM_MP_STATE_UNINITIALIZED && v.mpState !== C.KVM_MP_STATE_INIT_RECEIVED;
  }

  /** post_kvm_run_save(): if_flag, ready_for_interrupt_injection, cr8, apic_base. */
  private leave(r: number): number {
    const cpu = this.cpu!;
    const run = this.vcpu.run;
    run[IF_FLAG] = cpu.flags.bits & EFLAGS_IF ? 1 : 0;
    run[READY_FOR_INJECTION] = this.readyForInjection(cpu) ? 1 : 0;
    const lapic = this.vm.chip?.lapic(this.vcpu.id);
    if (lapic !== undefined) this.views.sregs.setBigUint64(SR.apic_base.offset, lapic.readApicBase(), true);
    const r32 = this.run32;
    const s32 = this.sregs32;
    r32[APIC_BASE32] = s32[SR_APIC_BASE32]!;
    r32[APIC_BASE32 + 1] = s32[SR_APIC_BASE32 + 1]!;
    r32[CR8_32] = s32[SR_CR8_32]!;
    r32[CR8_32 + 1] = 0;
    if (r === 0) this.stats.userspaceReturns++;
    return r;
  }

  private readyForInjection(cpu: Cpu): boolean {
    return (cpu.eflags & EFLAGS_IF) !== 0 && !cpu.shadow && this.vcpu.events[IRQ_INJECTED] === 0;
  }

  private userExit(reason: number): 0 {
    this.run32[EXIT_REASON32] = reason;
    this.stats.userspaceExits[reason]!++;
    return 0;
  }

  /** A new memslot generation: a new CPU and MMU over the new address space (state kept). */
  private rebuild(): void {
    if (this.cpu !== null && this.cpuNewer) saveCpu(this.cpu, this.views);
    // The TSC carries over to the new CPU; it starts at 0 on the vCPU's first KVM_RUN.
    const tsc = this.cpu === null ? 0 : this.cpu.tsc;
    const space = buildAddressSpace(this.vm.memslots.all(), this.options.ept);
    this.space = space;
    const old = this.cpu;
    this.cpu = new Cpu(space.cpuMemory, { hooks: this, events: this, mmu: space.mmu, model: this.model.cpu });
    if (old !== null) {
      // The MSR file and the TSC offset belong to the vCPU, not to the address space.
      this.cpu.msrs.lo.set(old.msrs.lo);
      this.cpu.msrs.hi.set(old.msrs.hi);
      this.cpu.tscOffset = old.tscOffset;
    }
    this.cpu.tscSource = this.options.tsc;
    this.cpu.tscOffset = tsc - this.cpu.tscBase();
    this.cpu.phys.refresh();
    // The new CPU has decoded nothing yet: what the host wrote so far is of no concern to it.
    this.hostWrites = [];
    for (const slot of this.vm.memslots.all()) {
      if (slot.writes === null || slot.region === null) continue;
      const consumer = slot.writes.consumer(this.vcpu.id);
      consumer.drain(() => {});
      this.hostWrites.push({ consumer, base: slot.region.bytes.byteOffset, gpa: slot.gpa, size: slot.size });
    }
    this.generation = this.vm.memslots.generation;
    this.recordExitInfo();
    this.procControls = -1;
    initVmcs(this.loaded, this.caps, this.options, this.vmxMemory, this.vpid, space.ept?.eptp ?? 0);
    // The exception bitmap was rewritten: apply guest debugging to it again at the next entry.
    this.debugControl = -1;
    this.needEntryChecks = true;
    loadCpu(this.cpu, this.views, this.model);
  }

  // ---- complete_userspace_io -------------------------------------------------------------------------

  private completeUserspace(cpu: Cpu): number {
    const kind = this.completion;
    this.completion = Completion.None;
    switch (kind) {
      case Completion.None:
        return 1;
      case Completion.PioIn: {
        // complete_fast_pio_in/out: dropped when userspace moved RIP meanwhile (kvm_is_linear_rip).
        if (this.linearRip(cpu) !== this.completionRip) return 1;
        // complete_fast_pio_in: the data from the PIO page goes to AL/AX/EAX, then RIP moves on.
        const v = this.runView;
        const size = this.completionSize;
        if (size === 1) cpu.regs.r8[0] = v.getUint8(PIO_OFFSET);
        else if (size === 2) cpu.regs.r16[0] = v.getUint16(PIO_OFFSET, true);
        else {
          // IN EAX zero-extends into RAX in 64-bit mode (harmless elsewhere: the high half is 0).
          cpu.regs.r32[0] = v.getUint32(PIO_OFFSET, true);
          cpu.regs.r32[16] = 0;
        }
        this.skip(cpu, this.completionLength);
        this.ioBreakpoints(cpu, this.completionPort, size);
        return 1;
      }
      case Completion.PioOut:
        if (this.linearRip(cpu) !== this.completionRip) return 1;
        this.skip(cpu, this.completionLength);
        this.ioBreakpoints(cpu, this.completionPort, this.completionSize);
        return 1;
      case Completion.PioInString:
        // The emulator finishes the INS with the data userspace put in the PIO page.
        this.mode = Mode.FeedIns;
        this.elements = 0;
        this.elementLimit = this.completionCount;
        this.elementStop = this.completionStop;
        this.pend.reason = -1;
        this.guestRun(cpu, 1);
        // A VMM breakpoint met by an element ends that REP iteration with a trap, reported after this
        // instruction (`debugTrap`): feed the rest of the data userspace gave, so none is read twice.
        while (this.debugTrap !== 0 && this.elements > 0 && this.elements < this.elementLimit) {
          const done = this.elements;
          this.guestRun(cpu, 1);
          if (this.elements === done) break;
        }
        this.mode = Mode.Guest;
        this.pend.reason = -1;
        this.stepped = true;
        return 1;
      case Completion.Mmio:
        return this.completeMmio(cpu);
      case Completion.Msr: {
        // complete_emulated_rdmsr/wrmsr: msr.error != 0 injects #GP; else the read's data to EDX:EAX.
        const v = this.runView;
        if (v.getUint8(RF['msr.error'].offset) !== 0) {
          this.queueException(GP_VECTOR, 0);
          return 1;
        }
        if (!this.completionWrite) {
          // RDMSR writes EAX and EDX, zero-extended into RAX and RDX in 64-bit mode.
          cpu.regs.r32[0] = v.getUint32(RF['msr.data'].offset, true);
          cpu.regs.r32[2] = v.getUint32(RF['msr.data'].offset + 4, true);
          cpu.regs.r32[16] = 0;
          cpu.regs.r32[18] = 0;
        }
        this.skip(cpu, this.completionLength);
        return 1;
      }
    }
  }

  /** kvm_queue_exception_e(): delivered at the next VM entry. */
  private queueException(vector: number, code: number): void {
    const e = this.events;
    e.setUint8(EV['exception.injected'].offset, 1);
    e.setUint8(EV['exception.nr'].offset, vector);
    e.setUint8(EV['exception.has_error_code'].offset, 1);
    e.setUint32(EV['exception.error_code'].offset, code, true);
  }

  // ---- KVM_TRANSLATE -----------------------------------------------------------------------------------

  /**
   * kvm_arch_vcpu_ioctl_translate(): the guest-physical address of `linear` through the guest's page
   * tables as they are now (no accessed/dirty bits set), or -1 when the walk faults. Pages that only
   * MMIO backs translate as invalid (the walk ends in an EPT violation / a slot fault).
   */
  translate(linear: number): number {
    const cpu = this.ensureCpu();
    if (this.needLoad) {
      loadCpu(cpu, this.views, this.model);
      this.needLoad = false;
    }
    const mmu = cpu.pager.mmu instanceof ShadowPagedMmu ? cpu.pager.mmu.shadow.guest : cpu.pager.mmu;
    for (let attempt = 0; attempt < 8; attempt++) {
      const r = mmu.probe(linear, AccessKind.Read, Privilege.Supervisor);
      if (r !== MMU_FAULT) return mmu.walker.guestPhysical;
      const f = mmu.fault;
      // The lazily built EPT: map the RAM page the walk needed and walk again.
      if (f.kind !== FaultKind.EptViolation || !this.mapRam(f.guestPhysical, f.qualification)) return -1;
    }
    return -1;
  }

  // ---- KVM_GET_MSRS / KVM_SET_MSRS (host-initiated) ------------------------------------------------

  /** The CPU over the current memslots (made before the first KVM_RUN when an ioctl needs it). */
  private ensureCpu(): Cpu {
    if (this.generation !== this.vm.memslots.generation || this.cpu === null) this.rebuild();
    return this.cpu!;
  }

  /** do_get_msr(): false when the vCPU has no such MSR (KVM_GET_MSRS stops there). */
  getMsr(index: number, out: MsrValue): boolean {
    const cpu = this.ensureCpu();
    index >>>= 0;
    const lapic = index === MSR_IA32_APIC_BASE ? this.vm.chip?.lapic(this.vcpu.id) : undefined;
    if (lapic !== undefined) {
      const base = lapic.readApicBase();
      out.lo = Number(base & 0xffff_ffffn);
      out.hi = Number(base >> 32n);
      return true;
    }
    if (index === MSR_IA32_TSC) {
      const t = cpu.tsc;
      out.lo = t % 2 ** 32;
      out.hi = Math.floor(t / 2 ** 32);
      return true;
    }
    if (isKvmClockMsr(index)) {
      this.getKvmClockMsr(index, out);
      return true;
    }
    const slot = cpu.msrs.find(index);
    if (slot < 0) return false;
    // EFER: kvm_sregs holds the current value (userspace may have set it since the last entry).
    const sr = this.views.sregs;
    out.lo = index === MSR_EFER ? sr.getUint32(SR.efer.offset, true) : cpu.msrs.lo[slot]!;
    out.hi = index === MSR_EFER ? sr.getUint32(SR.efer.offset + 4, true) : cpu.msrs.hi[slot]!;
    return true;
  }

  /** do_set_msr(): false for an unknown MSR or a value the MSR refuses (KVM_SET_MSRS stops there). */
  setMsr(index: number, lo: number, hi: number): boolean {
    const cpu = this.ensureCpu();
    index >>>= 0;
    const lapic = index === MSR_IA32_APIC_BASE ? this.vm.chip?.lapic(this.vcpu.id) : undefined;
    if (lapic !== undefined) return lapic.writeApicBase((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
    if (index === MSR_IA32_TSC) {
      cpu.tscOffset = hi * 2 ** 32 + (lo >>> 0) - cpu.tscBase();
      this.kvmclock.requestUpdate();
      return true;
    }
    if (isKvmClockMsr(index)) {
      this.setKvmClockMsr(index, lo >>> 0, hi >>> 0);
      return true;
    }
    const slot = cpu.msrs.find(index);
    if (slot < 0 || !cpu.msrs.write(slot, lo >>> 0, hi >>> 0)) return false;
    // EFER also lives in kvm_sregs (the copy the next entry loads): keep the two in step.
    if (index === MSR_EFER) {
      this.views.sregs.setUint32(SR.efer.offset, cpu.msrs.lo[slot]!, true);
      this.views.sregs.setUint32(SR.efer.offset + 4, cpu.msrs.hi[slot]!, true);
    }
    return true;
  }

  // ---- kvmclock (kernel/kvmclock.ts) ------------------------------------------------------------------

  /** RDMSR/WRMSR of a kvmclock MSR: emulated in the kernel, never #GP (KVM does not enforce PV CPUID). */
  private emulateKvmClockMsr(cpu: Cpu, write: boolean): number {
    const p = this.pend;
    if (write) {
      this.setKvmClockMsr(p.msr, p.msrLo, p.msrHi);
    } else {
      const out = { lo: 0, hi: 0 };
      this.getKvmClockMsr(p.msr, out);
      // RDMSR writes EAX and EDX, zero-extended into RAX and RDX in 64-bit mode.
      cpu.regs.r32[0] = out.lo;
      cpu.regs.r32[2] = out.hi;
      cpu.regs.r32[16] = 0;
      cpu.regs.r32[18] = 0;
    }
    this.skip(cpu, p.length);
    return 1;
  }

  private getKvmClockMsr(index: number, out: MsrValue): void {
    const wall = index === MSR_KVM_WALL_CLOCK || index === MSR_KVM_WALL_CLOCK_NEW;
    out.lo = wall ? this.wallClockLo : this.kvmclock.lo;
    out.hi = wall ? this.wallClockHi : this.kvmclock.hi;
  }

  /**
   * MSR_KVM_SYSTEM_TIME(_NEW): the record's address (bit 0 enables it), written at the next entry.
   * MSR_KVM_WALL_CLOCK(_NEW): the boot wall-clock time is written at that address now.
   */
  private setKvmClockMsr(index: number, lo: number, hi: number): void {
    if (index === MSR_KVM_SYSTEM_TIME || index === MSR_KVM_SYSTEM_TIME_NEW) {
      this.kvmclock.lo = lo;
      this.kvmclock.hi = hi;
      this.kvmclock.requestUpdate();
      return;
    }
    this.wallClockLo = lo;
    this.wallClockHi = hi;
    const clock = this.options.clock;
    const kvmclockNs = BigInt(clock.monotonicNs()) + this.vm.kvmclockOffset;
    writeWallClock(this.vm.memslots, hi * 2 ** 32 + lo, clock.realtimeNs(), kvmclockNs);
  }

  /**
   * kvm_guest_time_update(): the TSC and kvmclock at one host instant, and the TSC's scale. The TSC is
   * computed exactly as its source computes it (HostTsc), so the guest's RDTSC and this record agree.
   */
  private updatePvclock(cpu: Cpu): void {
    const m = this.options.clock.monotonicNs();
    const src = this.options.tsc;
    const tsc = src === null ? cpu.tsc : Math.floor((m * src.khz) / 1e6) + cpu.tscOffset;
    const systemTime = BigInt(m) + this.vm.kvmclockOffset;
    const flags = src === null ? 0 : PVCLOCK_TSC_STABLE_BIT;
    writePvclock(this.vm.memslots, this.kvmclock.gpa, BigInt(tsc), systemTime, this.pvclockScale, flags);
    this.kvmclock.updated(this.vm.clockGeneration);
  }

  /** kvm_get_linear_rip(): CS.base + RIP, 32-bit wrapped; in 64-bit mode RIP itself (signed form). */
  private linearRip(cpu: Cpu): number {
    if (cpu.code64) return cpu.regs.ip;
    return (cpu.segs.base[Seg.CS]! + cpu.regs.ip) >>> 0;
  }

  private skip(cpu: Cpu, length: number): void {
    cpu.regs.ip = nextIp(cpu, length);
    cpu.shadow = false;
    // The instruction completed: RF no longer holds off an instruction breakpoint.
    cpu.flags.bits &= ~EFLAGS.RF;
    this.stepped = true;
    // kvm_skip_emulated_instruction -> kvm_vcpu_do_singlestep: the guest's own TF traps after an
    // instruction the kernel completed (its VM exit came before the CPU could), unless the VMM is
    // single-stepping, whose exit reports the step instead.
    if ((cpu.flags.bits & EFLAGS.TF) !== 0 && (this.debugControlWord[0]! & STEP_ON) !== STEP_ON)
      this.queueGuestDebugTrap(cpu, DR6.BS);
  }

  /**
   * A trap-class #DB for the guest after an instruction the kernel completed (kvm_queue_exception_p
   * with a DR6 payload): DR6 takes `bits` (B0..B3 replaced, BS added), delivered at the next entry;
   * a second condition of the same instruction joins the one already queued.
   */
  private queueGuestDebugTrap(cpu: Cpu, bits: number): void {
    const dr = cpu.ctrl.dr;
    const e = this.events;
    const joined = e.getUint8(EXC_PENDING) !== 0 && e.getUint8(EV['exception.nr'].offset) === DB_VECTOR;
    const keep = joined ? dr[6]! : dr[6]! & ~0xf;
    dr[6] = ((keep | DR6.FIXED1 | bits) & ~DR6_RESERVED_ZERO) >>> 0;
    e.setUint8(EXC_PENDING, 1);
    e.setUint8(EV['exception.nr'].offset, DB_VECTOR);
    e.setUint8(EV['exception.has_error_code'].offset, 0);
    e.setUint32(EV['exception.error_code'].offset, 0, true);
  }

  /**
   * The I/O breakpoints (DR7 R/W = 10 under CR4.DE, SDM Vol. 3 §18.2.4) met by an IN/OUT the kernel
   * completed (its VM exit came before the access, so the CPU never saw it complete): a trap after the
   * instruction. The VMM's (KVM_GUESTDBG_USE_HW_BP) exit with KVM_EXIT_DEBUG before the guest runs on;
   * the guest's own set DR6's B bits and queue #DB for the next entry (kvm_queue_exception_p with
   * its DR6 payload).
   */
  private ioBreakpoints(cpu: Cpu, port: number, size: number): void {
    const bp = cpu.bp;
    if (!bp.io) return;
    const before = bp.hits;
    bp.hits = 0;
    bp.port(port, size);
    const hits = bp.hits;
    bp.hits = before;
    if (hits === 0) return;
    if (bp.vmmOwned) this.debugTrap |= hits;
    else this.queueGuestDebugTrap(cpu, hits);
  }

  // ---- entering the guest ----------------------------------------------------------------------------

  /** vcpu_enter_guest(): inject, run until a VM exit, handle it. 1: stay in the kernel; 0: to userspace. */
  private enterGuest(cpu: Cpu, maxBudget: number): number {
    const vmcs = this.loaded;
    if (this.kvmclock.due(this.vm.clockGeneration)) this.updatePvclock(cpu);
    // enable_irq_window when userspace asked for one and cannot inject now (judged before this entry's
    // injection, as userspace saw it), or when the in-kernel LAPIC still has an interrupt after it.
    const userWindow = this.vcpu.run[REQUEST_IRQ_WINDOW] !== 0 && !this.readyForInjection(cpu);
    if (this.stepped || this.debugTrap !== 0) {
      // The kernel just completed an instruction (CPUID, in-kernel I/O, MMIO): a step of its own.
      const bits = this.kernelStepBits();
      this.stepped = false;
      if (bits !== 0) return this.kernelStepExit(cpu, bits);
    }
    if (!this.injectEvents(cpu)) return this.exit(cpu, ExitReason.TripleFault);
    const lapic = this.vm.chip?.lapic(this.vcpu.id);
    const chipWindow = lapic?.hasInterrupt() === true && !this.readyForInjection(cpu) && !this.blockIrq();
    const was = this.procControls >= 0 ? this.procControls : vmcs.read32(F.ProcBasedControls);
    const proc =
      (userWindow || chipWindow
        ? was | ProcBased.InterruptWindowExiting
        : was & ~ProcBased.InterruptWindowExiting) >>> 0;
    if (proc !== was) vmcs.write32(F.ProcBasedControls, proc);
    this.procControls = proc;
    cpu.halted = false;
    this.applyGuestDebug(cpu);
    const singleStep = this.debugSingleStep;
    // KVM_GUESTDBG_SINGLESTEP: one instruction, then KVM_EXIT_DEBUG (the monitor-trap-flag way).
    // KVM_GUESTDBG_USE_HW_BP's breakpoints are the CPU's own while it is in force (see `delivered`).
    if (singleStep) maxBudget = 1;
    for (;;) {
      if (
        (proc & ProcBased.InterruptWindowExiting) !== 0 &&
        interruptWindowExits(vmcs, (cpu.eflags & EFLAGS_IF) !== 0, cpu.shadow ? 1 : 0)
      ) {
        return this.exit(cpu, ExitReason.InterruptWindow);
      }
      this.pend.reason = -1;
      this.vectoringKind = -1;
      // The CPU itself stops at the first boundary where the window opens (no single-stepping).
      cpu.interruptWindowExiting = (proc & ProcBased.InterruptWindowExiting) !== 0;
      const why = this.guestRun(cpu, maxBudget);
      cpu.interruptWindowExiting = false;
      switch (why) {
        case CpuExit.Budget:
          if (singleStep) return this.singleStepExit(cpu);
          // The host's timer tick: an external-interrupt exit, handled in the kernel.
          return this.exit(cpu, ExitReason.ExternalInterrupt);
        case CpuExit.InterruptWindow:
          return this.exit(cpu, ExitReason.InterruptWindow);
        case CpuExit.Shutdown:
          return this.exit(cpu, ExitReason.TripleFault);
        case CpuExit.Hlt:
          return this.exit(cpu, ExitReason.Hlt);
        case CpuExit.Stopped:
          continue;
        default: {
          if (this.pend.reason >= 0) return this.exit(cpu, this.pend.reason);
          const f = cpu.pager.mmu.fault;
          if (f.kind === FaultKind.EptViolation || f.kind === FaultKind.EptMisconfig) {
            return this.exit(
              cpu,
              f.kind === FaultKind.EptViolation ? ExitReason.EptViolation : ExitReason.EptMisconfiguration,
            );
          }
          return this.internalError(C.KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, 0xffff);
        }
      }
    }
  }

  /**
   * One stretch of guest execution. Guest time: a run that follows a long one is timed exactly; of
   * short runs (an exit every few instructions, where two clock reads would be a good part of the
   * cost) every GUEST_TIME_SAMPLE-th is timed and counts GUEST_TIME_SAMPLE times. Which runs are timed
   * never depends on their own length, so the sum is an unbiased estimate (the kernel's guest time is
   * sampled too, by its timer tick).
   */
  private guestRun(cpu: Cpu, budget: number): CpuExit {
    const before = cpu.instructions;
    let why: CpuExit;
    let weight = 0;
    if (this.lastRunLong) weight = 1;
    else if (--this.untimedRuns < 0) {
      this.untimedRuns = GUEST_TIME_SAMPLE - 1;
      weight = GUEST_TIME_SAMPLE;
    }
    if (weight === 0) why = cpu.run(budget);
    else {
      // t0 - ta is what a clock read adds to t1 - t0 (on a loaded host 50-200 ns, a good part of a
      // short run): taken off, so that the weight does not multiply it.
      const ta = performance.now();
      const t0 = performance.now();
      why = cpu.run(budget);
      const t1 = performance.now();
      this.stats.guestMs += Math.max(0, t1 - t0 - (t0 - ta)) * weight;
    }
    const n = cpu.instructions - before;
    this.stats.instructions += n;
    this.lastRunLong = n >= LONG_RUN;
    return why;
  }

  /** inject_pending_event(): a queued exception, an NMI, the KVM_INTERRUPT vector. False: triple fault. */
  private injectEvents(cpu: Cpu): boolean {
    const e = this.events;
    const ev = this.vcpu.events;
    if (ev[EXC_INJECTED] !== 0 || ev[EXC_PENDING] !== 0) {
      const nr = e.getUint8(EV['exception.nr'].offset);
      const code = e.getUint8(EV['exception.has_error_code'].offset)
        ? e.getUint32(EV['exception.error_code'].offset, true)
        : 0;
      e.setUint8(EV['exception.injected'].offset, 0);
      e.setUint8(EV['exception.pending'].offset, 0);
      if (nr === BP_VECTOR || nr === OF_VECTOR) {
        // vmx_inject_exception: a soft exception enters with VM_ENTRY_INSTRUCTION_LEN =
        // event_exit_inst_len, so the guest's handler returns past the INT3 that exited.
        cpu.regs.ip = nextIp(cpu, this.eventExitInstLen);
        this.eventExitInstLen = 0;
      }
      if (!this.deliver(cpu, EventKind.Exception, nr, code)) return false;
    }
    const lapic = this.vm.chip?.lapic(this.vcpu.id);
    if (lapic !== undefined) this.takeLapicNmi(lapic);
    // KVM_GUESTDBG_BLOCKIRQ: no new NMI or interrupt is injected (they stay pending); an interrupt
    // already injected (KVM_INTERRUPT, a re-injection) is delivered as Linux's inject_pending_event does.
    const blockIrq = this.blockIrq();
    const nmis = ev[NMI_PENDING]!;
    if (nmis > 0 && !blockIrq && !cpu.nmiBlocked && !cpu.nmiPending) {
      e.setUint8(EV['nmi.pending'].offset, nmis - 1);
      if (cpu.shadow) {
        // Blocked by the shadow for now: latched in the CPU, taken after the next instruction.
        cpu.raiseNmi();
      } else {
        // vmx_inject_nmi: VM entry delivers it (an EPT violation on the way is fixed and retried).
        cpu.nmiBlocked = true;
        cpu.halted = false;
        if (!this.deliver(cpu, EventKind.External, 2, 0)) return false;
      }
    }
    if (lapic !== undefined && !blockIrq) {
      // kvm_cpu_get_interrupt(): the INTA cycle only when the guest can take the interrupt now.
      if (
        e.getUint8(EV['interrupt.injected'].offset) === 0 &&
        this.readyForInjection(cpu) &&
        lapic.hasInterrupt()
      ) {
        e.setUint8(EV['interrupt.nr'].offset, lapic.acknowledge());
        e.setUint8(EV['interrupt.injected'].offset, 1);
        this.stats.irqInjections++;
      }
    }
    if (ev[IRQ_INJECTED] !== 0) {
      // vmx_inject_irq: the vector goes to the VM-entry interruption-information field; VM entry
      // delivers it through the guest's IVT/IDT.
      const vector = e.getUint8(EV['interrupt.nr'].offset);
      this.loaded.write32(
        F.EntryInterruptionInfo,
        makeInterruptionInfo(vector, InterruptionType.ExternalInterrupt),
      );
      e.setUint8(EV['interrupt.injected'].offset, 0);
      if (pendingInjection(this.loaded, this.injection)) {
        this.loaded.write32(F.EntryInterruptionInfo, 0);
        if (!this.deliver(cpu, EventKind.External, this.injection.vector, 0)) return false;
      }
    }
    return true;
  }

  /** Delivers an event at VM entry; an EPT violation on the way (IVT, stack) is fixed and retried. */
  private deliver(cpu: Cpu, kind: EventKind, vector: number, code: number): boolean {
    for (let attempt = 0; attempt < 8; attempt++) {
      cpu.exitReason = -1;
      this.injecting = true;
      cpu.deliver(kind, vector, code);
      this.injecting = false;
      if (cpu.exitReason === CpuExit.Shutdown) return false;
      if (cpu.exitReason !== CpuExit.Intercept) return true;
      const f = cpu.pager.mmu.fault;
      if (f.kind !== FaultKind.EptViolation || !this.mapRam(f.guestPhysical, f.qualification)) return true;
    }
    return true;
  }

  // ---- VM exits ----------------------------------------------------------------------------------------

  /** Records the VM-exit information (SDM 28.2) and dispatches (vmx_handle_exit). */
  private exit(cpu: Cpu, reason: number): number {
    const info = this.info.reset(reason);
    const p = this.pend;
    info.instructionLength = p.length;
    info.qualificationLo = p.qualification;
    if (reason === ExitReason.ExceptionOrNmi) {
      // #DB is a hardware exception (its conditions in the qualification); INT3/INTO are software ones.
      const type =
        p.vector === DB_VECTOR ? InterruptionType.HardwareException : InterruptionType.SoftwareException;
      info.interruptionInfo = makeInterruptionInfo(p.vector, type);
    }
    let vectoring = false;
    if (reason === ExitReason.EptViolation || reason === ExitReason.EptMisconfiguration) {
      const f = cpu.pager.mmu.fault;
      info.qualificationLo = f.qualification;
      info.guestPhysicalLo = f.guestPhysical % 2 ** 32;
      info.guestPhysicalHi = Math.floor(f.guestPhysical / 2 ** 32);
      info.guestLinearLo = f.address >>> 0;
      // The exit came while the CPU was delivering an event (the IDT/IVT or stack page not mapped
      // yet): SDM 28.2.4's IDT-vectoring information.
      vectoring = this.vectoringKind >= 0 && this.vectoringAt === cpu.instructions;
      if (vectoring) {
        const v = this.vectoringVector;
        const code = this.vectoringKind === EventKind.Exception && ((ERROR_CODE_VECTORS >>> v) & 1) !== 0;
        const type =
          this.vectoringKind === EventKind.Exception
            ? InterruptionType.HardwareException
            : v === NMI_VECTOR
              ? InterruptionType.Nmi
              : InterruptionType.ExternalInterrupt;
        info.idtVectoringInfo = makeInterruptionInfo(v, type, code);
        info.idtVectoringErrorCode = code ? this.vectoringCode : 0;
      }
    }
    this.exitInfoPending = true;
    this.exitRip = cpu.regs.ip;
    this.exitEfer = cpu.pager.mmu.state.efer;
    this.stats.exits[reason]!++;
    switch (reason) {
      case ExitReason.ExternalInterrupt:
      case ExitReason.InterruptWindow:
        return 1;
      case ExitReason.TripleFault:
        // handle_triple_fault
        return this.userExit(C.KVM_EXIT_SHUTDOWN);
      case ExitReason.Hlt:
        this.skip(cpu, p.length);
        // kvm_emulate_halt: with an in-kernel LAPIC the vCPU blocks in the kernel until an interrupt.
        if (this.vm.chip !== null) {
          this.vcpu.mpState = C.KVM_MP_STATE_HALTED;
          return 1;
        }
        return this.userExit(C.KVM_EXIT_HLT);
      case ExitReason.Cpuid:
        return this.handleCpuid(cpu);
      case ExitReason.IoInstruction:
        return this.handleIo(cpu);
      case ExitReason.Rdmsr:
      case ExitReason.Wrmsr: {
        // kvm_emulate_rdmsr/wrmsr: the MSR file of the vCPU answers; an unknown MSR goes to userspace
        // with KVM_MSR_EXIT_REASON_UNKNOWN enabled (kvm_msr_user_space), else #GP.
        const write = reason === ExitReason.Wrmsr;
        if (isKvmClockMsr(p.msr)) return this.emulateKvmClockMsr(cpu, write);
        // FS_BASE and GS_BASE are the segment caches' (the CPU's WRMSR/RDMSR handle them), not table rows.
        const known =
          p.msr === MSR_IA32_TSC ||
          ((p.msr === MSR_FS_BASE || p.msr === MSR_GS_BASE) && cpu.ctrl.lma) ||
          cpu.msrs.find(p.msr) >= 0;
        if (!known && this.vm.userSpaceMsr & C.KVM_MSR_EXIT_REASON_UNKNOWN) {
          const rv = this.runView;
          rv.setUint8(RF['msr.error'].offset, 0);
          for (let i = 0; i < 7; i++) rv.setUint8(RF['msr.pad'].offset + i, 0);
          rv.setUint32(RF['msr.reason'].offset, C.KVM_MSR_EXIT_REASON_UNKNOWN, true);
          rv.setUint32(RF['msr.index'].offset, p.msr, true);
          rv.setUint32(RF['msr.data'].offset, write ? p.msrLo : 0, true);
          rv.setUint32(RF['msr.data'].offset + 4, write ? p.msrHi : 0, true);
          this.completion = Completion.Msr;
          this.completionLength = p.length;
          this.completionWrite = write;
          return this.userExit(write ? C.KVM_EXIT_X86_WRMSR : C.KVM_EXIT_X86_RDMSR);
        }
        this.allowMsr = true;
        return 1;
      }
      case ExitReason.CrAccess:
        // handle_cr: kvm_set_cr4 refuses bits the guest CPUID does not have (cr4_guest_rsvd_bits:
        // OSXSAVE, PCIDE, FSGSBASE, SMEP) with #GP and no RIP advance (kvm_complete_insn_gp).
        if ((p.qualification & 0x3f) === 4 && (p.crValue & ~this.guestCr4Valid()) !== 0) {
          this.queueException(GP_VECTOR, 0);
          return 1;
        }
        // kvm_set_cr0/3/4 update the read shadows and the MMU, then the write happens.
        this.allowCr = true;
        return 1;
      case ExitReason.Invlpg:
        this.allowInvlpg = true;
        return 1;
      case ExitReason.EptViolation: {
        const f = cpu.pager.mmu.fault;
        if (vectoring && this.mapRam(f.guestPhysical, f.qualification)) {
          this.requeueVectoring(cpu);
          return 1;
        }
        return this.handleEptViolation(cpu);
      }
      case ExitReason.ExceptionOrNmi:
        return this.handleException(cpu);
      default:
        return this.internalError(C.KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, reason);
    }
  }

  /**
   * vmx_complete_interrupts(): the event the IDT-vectoring information names is queued again, so that
   * the next entry delivers it (a #DB trap, whose instruction has completed, would otherwise be lost).
   */
  private requeueVectoring(cpu: Cpu): void {
    const e = this.events;
    const v = this.vectoringVector;
    if (this.vectoringKind === EventKind.Exception) {
      const code = ((ERROR_CODE_VECTORS >>> v) & 1) !== 0;
      e.setUint8(EV['exception.injected'].offset, 1);
      e.setUint8(EV['exception.nr'].offset, v);
      e.setUint8(EV['exception.has_error_code'].offset, code ? 1 : 0);
      e.setUint32(EV['exception.error_code'].offset, code ? this.vectoringCode : 0, true);
    } else if (v === NMI_VECTOR) {
      // The NMI was under way: blocking it again waits for its re-delivery.
      cpu.nmiBlocked = false;
      e.setUint8(EV['nmi.pending'].offset, Math.min(2, e.getUint8(EV['nmi.pending'].offset) + 1));
    } else {
      e.setUint8(EV['interrupt.injected'].offset, 1);
      e.setUint8(EV['interrupt.nr'].offset, v);
    }
    this.vectoringKind = -1;
  }

  // ---- guest debugging (KVM_SET_GUEST_DEBUG) --------------------------------------------------------

  /** Whether KVM_GUESTDBG_BLOCKIRQ is in force (KVM_SET_GUEST_DEBUG keeps control only with ENABLE). */
  private blockIrq(): boolean {
    return (this.debugControlWord[0]! & C.KVM_GUESTDBG_BLOCKIRQ) !== 0;
  }

  /**
   * kvm_arch_vcpu_ioctl_set_guest_debug's effect at entry: the exception bitmap intercepts #BP with
   * USE_SW_BP and #DB with SINGLESTEP or USE_HW_BP (update_exception_bitmap); USE_HW_BP's DR0..DR3 and
   * DR7 are the effective breakpoints (eff_db, guest_debug_dr7) instead of the guest's, which stay in
   * `ctrl.dr` for its MOV DR and come back when USE_HW_BP goes (kvm_update_dr7).
   */
  private applyGuestDebug(cpu: Cpu): void {
    const d = this.guestDebug;
    const control = d.getUint32(0, true);
    // The common case: no debugging now and none at the last entry (the bitmap has no debug bits).
    if (control === 0 && this.debugControl === 0) return;
    this.debugControl = control;
    const enabled = (control & C.KVM_GUESTDBG_ENABLE) !== 0;
    const useHw = enabled && (control & C.KVM_GUESTDBG_USE_HW_BP) !== 0;
    this.debugSingleStep = enabled && (control & C.KVM_GUESTDBG_SINGLESTEP) !== 0;
    let bitmap = this.loaded.read32(F.ExceptionBitmap) & ~DEBUG_EXCEPTIONS;
    if (enabled && control & C.KVM_GUESTDBG_USE_SW_BP) bitmap |= 1 << BP_VECTOR;
    if (this.debugSingleStep || useHw) bitmap |= 1 << DB_VECTOR;
    this.loaded.write32(F.ExceptionBitmap, bitmap >>> 0);
    this.hwDr7 = useHw ? d.getUint32(DEBUGREG + 7 * 8, true) : 0;
    for (let i = 0; i < 4; i++) this.hwDr[i] = d.getUint32(DEBUGREG + i * 8, true);
    this.debugHwBp = useHw;
    if (useHw) {
      cpu.bp.own(this.hwDr7, this.hwDr, cpu.ctrl.cr4);
      // Watched pages must leave the RAM-direct TLB (the CPU does so itself for the guest's own).
      if (cpu.bp.data) cpu.pager.dropRam();
    } else if (cpu.bp.vmmOwned) {
      cpu.bp.release();
    }
  }

  /** kvm_run.debug.arch for a #DB exit (handle_exception_nmi: dr6 | DR6_ACTIVE_LOW, GUEST_DR7, the linear RIP). */
  private debugExit(cpu: Cpu, exception: number, dr6: number): number {
    const rv = this.runView;
    rv.setUint32(RF['debug.arch.exception'].offset, exception, true);
    rv.setUint32(RF['debug.arch.pad'].offset, 0, true);
    rv.setBigUint64(RF['debug.arch.pc'].offset, BigInt(this.linearRip(cpu)), true);
    rv.setBigUint64(RF['debug.arch.dr6'].offset, BigInt(dr6 >>> 0), true);
    // GUEST_DR7: the debugger's DR7 with USE_HW_BP, else the guest's own.
    const dr7 = this.debugHwBp ? this.hwDr7 : cpu.ctrl.dr[7]!;
    rv.setBigUint64(RF['debug.arch.dr7'].offset, BigInt(dr7 >>> 0), true);
    return this.userExit(C.KVM_EXIT_DEBUG);
  }

  /** KVM_EXIT_DEBUG after a single step: #DB with DR6.BS, the RIP of the next instruction. */
  private singleStepExit(cpu: Cpu): number {
    this.stats.exits[ExitReason.MonitorTrapFlag]!++;
    return this.debugExit(cpu, DB_VECTOR, DR6.FIXED1 | DR6.BS);
  }

  /**
   * The DR6 bits of the #DB after an instruction the kernel completed, as guest debugging stands now:
   * BS when single-stepping, and the B bits of the VMM's breakpoints it met while USE_HW_BP is still in
   * force (one #DB reports both, as the CPU does). 0: nothing to report.
   */
  private kernelStepBits(): number {
    const control = this.debugControlWord[0]!;
    let bits = 0;
    if (this.stepped && (control & STEP_ON) === STEP_ON) bits |= DR6.BS;
    if (this.debugTrap !== 0 && (control & HW_BP_ON) === HW_BP_ON) bits |= this.debugTrap;
    this.debugTrap = 0;
    return bits;
  }

  /** KVM_EXIT_DEBUG after an instruction the kernel completed: `bits` from kernelStepBits, `pc` the next instruction. */
  private kernelStepExit(cpu: Cpu, bits: number): number {
    this.stats.exits[bits & DR6.BS ? ExitReason.MonitorTrapFlag : ExitReason.ExceptionOrNmi]!++;
    return this.debugExit(cpu, DB_VECTOR, DR6.FIXED1 | bits);
  }

  /**
   * CpuEvents: INT3 (and INTO) are software exceptions, so a set exception-bitmap bit makes them exit
   * before the guest sees them; the CPU rolls the instruction back and run() returns Intercept. A #DB
   * exits the same way when the bitmap has it (SINGLESTEP or USE_HW_BP): its DR6 conditions go to the
   * exit qualification and the guest's DR6 is left alone, as with VT-x.
   */
  delivered(kind: EventKind, vector: number, errorCode: number): void {
    if (this.mode !== Mode.Guest) {
      // The trap after a string I/O instruction the kernel emulates (OUTS collected, INS fed): the VMM's
      // breakpoints are reported to userspace after that exit, not delivered to the guest.
      const cpu = this.cpu!;
      if (
        kind === EventKind.Exception &&
        vector === DB_VECTOR &&
        this.mode !== Mode.MmioReplay &&
        cpu.bp.vmmOwned &&
        (cpu.bp.pending & 0xf) !== 0
      ) {
        this.debugTrap |= cpu.bp.pending & 0xf;
        interceptSoftwareEvent();
      }
      return;
    }
    // VM-entry injection: the event goes to the guest whatever the exception bitmap says.
    if (this.injecting) return;
    if (kind !== EventKind.Software) {
      this.vectoringKind = kind;
      this.vectoringVector = vector;
      this.vectoringCode = errorCode;
      this.vectoringAt = this.cpu!.instructions;
    }
    if (kind === EventKind.Exception && vector === DB_VECTOR) {
      const cpu = this.cpu!;
      if (!exceptionExits(this.loaded, DB_VECTOR)) return;
      const p = this.pend;
      p.reason = ExitReason.ExceptionOrNmi;
      p.length = 0;
      p.qualification = cpu.bp.pending;
      p.vector = DB_VECTOR;
      interceptSoftwareEvent();
    }
    if (kind !== EventKind.Software) return;
    if (vector !== BP_VECTOR && vector !== OF_VECTOR) return;
    const cpu = this.cpu!;
    if (!exceptionExits(this.loaded, vector) || !isSoftwareException(cpu, vector)) return;
    const p = this.pend;
    p.reason = ExitReason.ExceptionOrNmi;
    p.length = this.instructionLength(cpu);
    p.qualification = 0;
    p.vector = vector;
    interceptSoftwareEvent();
  }

  /**
   * handle_exception_nmi() for an intercepted #BP: KVM_EXIT_DEBUG with the exception and the linear
   * RIP of the INT3 (debug.arch.dr6/dr7 are not written, as in Linux); the instruction length is kept
   * for a #BP userspace re-injects (KVM_GUESTDBG_INJECT_BP).
   */
  private handleException(cpu: Cpu): number {
    const p = this.pend;
    // #DB: kvm_run.debug.arch.dr6 = exit qualification | DR6_ACTIVE_LOW, dr7 = GUEST_DR7; pc is the
    // instruction for a fault (instruction breakpoint, general detect), the next one for a trap.
    if (p.vector === DB_VECTOR) return this.debugExit(cpu, DB_VECTOR, DR6.FIXED1 | p.qualification);
    if (p.vector !== BP_VECTOR) return this.internalError(C.KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, 0);
    this.eventExitInstLen = p.length;
    const rv = this.runView;
    rv.setUint32(RF['debug.arch.exception'].offset, BP_VECTOR, true);
    rv.setUint32(RF['debug.arch.pad'].offset, 0, true);
    rv.setBigUint64(RF['debug.arch.pc'].offset, BigInt(this.linearRip(cpu)), true);
    return this.userExit(C.KVM_EXIT_DEBUG);
  }

  private internalError(suberror: number, reason: number): number {
    const rv = this.runView;
    rv.setUint32(RF['internal.suberror'].offset, suberror, true);
    rv.setUint32(RF['internal.ndata'].offset, 2, true);
    rv.setBigUint64(RF['internal.data'].offset, BigInt(reason), true);
    rv.setBigUint64(RF['internal.data'].offset + 8, 0n, true);
    return this.userExit(C.KVM_EXIT_INTERNAL_ERROR);
  }

  /** kvm_emulate_cpuid(): the entry of the vCPU's CPUID2 table (all zeros when there is none). */
  private handleCpuid(cpu: Cpu): number {
    const leaf = cpu.regs.u32[0]!;
    const sub = cpu.regs.u32[1]!;
    const n = this.vcpu.cpuidCount;
    const v = this.cpuidView;
    let found = -1;
    for (let i = 0; i < n; i++) {
      const o = i * kvm_cpuid_entry2.size;
      if (v.getUint32(o + CPUID_E.function.offset, true) !== leaf) continue;
      const significant = v.getUint32(o + CPUID_E.flags.offset, true) & C.KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
      if (significant && v.getUint32(o + CPUID_E.index.offset, true) !== sub) continue;
      found = o;
      break;
    }
    const r = cpu.regs.r32;
    r[0] = found < 0 ? 0 : v.getUint32(found + CPUID_E.eax.offset, true);
    r[3] = found < 0 ? 0 : v.getUint32(found + CPUID_E.ebx.offset, true);
    r[1] = found < 0 ? 0 : v.getUint32(found + CPUID_E.ecx.offset, true);
    r[2] = found < 0 ? 0 : v.getUint32(found + CPUID_E.edx.offset, true);
    // kvm_update_cpuid_runtime(): the entry's CPUID.01H:ECX.OSXSAVE follows the guest's CR4.OSXSAVE.
    if (leaf === 1 && found >= 0) r[1] = leaf1EcxWithOsxsave(cpu, r[1]!);
    // ... and CPUID.(0DH,0):EBX is the XSAVE area size for the guest's XCR0 (xstate_required_size).
    else if (leaf === 0xd && sub === 0 && found >= 0) r[3] = xsaveAreaSize(xcr0Of(cpu));
    r[16] = r[19] = r[17] = r[18] = 0;
    this.skip(cpu, this.pend.length);
    return 1;
  }

  /** handle_io(): in-kernel devices (ioeventfds), else KVM_EXIT_IO with the data in the PIO page. */
  private handleIo(cpu: Cpu): number {
    const p = this.pend;
    const chip = this.vm.chip;
    if (!p.string && chip !== null) {
      // The in-kernel 8259 pair and ELCR (kvm_io_bus_read/write on KVM_PIO_BUS).
      if (p.input) {
        const v = chip.pioRead(p.port, p.size);
        if (v !== null) {
          if (p.size === 1) cpu.regs.r8[0] = v;
          else if (p.size === 2) cpu.regs.r16[0] = v;
          else {
            cpu.regs.r32[0] = v;
            cpu.regs.r32[16] = 0;
          }
          this.skip(cpu, p.length);
          this.ioBreakpoints(cpu, p.port, p.size);
          this.stats.kernelIo++;
          return 1;
        }
      } else if (chip.pioWrite(p.port, p.size, p.value)) {
        this.skip(cpu, p.length);
        this.ioBreakpoints(cpu, p.port, p.size);
        this.stats.kernelIo++;
        return 1;
      }
    }
    if (!p.string) {
      if (!p.input && this.vm.ioeventfds.write('pio', p.port, p.size, p.value)) {
        this.skip(cpu, p.length);
        this.ioBreakpoints(cpu, p.port, p.size);
        return 1;
      }
      this.fillIo(p.input, p.size, p.port, 1);
      if (!p.input) {
        if (p.size === 1) this.vcpu.run[PIO_OFFSET] = p.value;
        else if (p.size === 2) this.run16[PIO_OFFSET >> 1] = p.value;
        else this.run32[PIO_OFFSET >> 2] = p.value;
      }
      this.completion = p.input ? Completion.PioIn : Completion.PioOut;
      this.completionRip = this.linearRip(cpu);
      this.completionSize = p.size;
      this.completionPort = p.port;
      this.completionLength = p.length;
      return this.userExit(C.KVM_EXIT_IO);
    }
    // String I/O (the emulator's em_ins/em_outs): at most a page of data per exit.
    // RCX with a 64-bit address size: a count of 2^32 or more is capped like any count above a page.
    const rcx =
      p.addr64 && cpu.regs.u32[17]! !== 0
        ? 0x1_0000_0000
        : p.addr32 || p.addr64
          ? cpu.regs.u32[1]!
          : cpu.regs.r16[2]!;
    const count = Math.min(p.rep ? rcx : 1, 4096 / p.size);
    if (count === 0) {
      this.skip(cpu, p.length);
      return 1;
    }
    if (p.input) {
      this.fillIo(true, p.size, p.port, count);
      this.completion = Completion.PioInString;
      this.completionCount = count;
      this.completionStop = count < (p.rep ? rcx : 1);
      return this.userExit(C.KVM_EXIT_IO);
    }
    this.mode = Mode.CollectOuts;
    this.elements = 0;
    this.elementLimit = count;
    this.elementStop = count < (p.rep ? rcx : 1);
    p.reason = -1;
    this.guestRun(cpu, 1);
    this.mode = Mode.Guest;
    const done = this.elements;
    p.reason = -1;
    if (done === 0) return 1; // the source faulted: the guest takes the exception
    this.stepped = true;
    this.fillIo(false, p.size, p.port, done);
    return this.userExit(C.KVM_EXIT_IO);
  }

  private fillIo(input: boolean, size: number, port: number, count: number): void {
    const run = this.vcpu.run;
    run[IO_DIRECTION] = input ? C.KVM_EXIT_IO_IN : C.KVM_EXIT_IO_OUT;
    run[IO_SIZE] = size;
    this.run16[IO_PORT16] = port;
    const r32 = this.run32;
    r32[IO_COUNT32] = count;
    r32[IO_DATA_OFFSET32] = PIO_OFFSET;
    r32[IO_DATA_OFFSET32 + 1] = 0;
  }

  // ---- EPT violations and MMIO -------------------------------------------------------------------------

  /** handle_ept_violation(): RAM gets a mapping (in the kernel); anything else is emulated as MMIO. */
  private handleEptViolation(cpu: Cpu): number {
    const f = cpu.pager.mmu.fault;
    const gpa = f.guestPhysical;
    const qual = f.qualification;
    if (this.mapRam(gpa, qual)) return 1;
    if (qual & EptQual.FETCH) {
      // Instruction fetch from MMIO: the emulator cannot (KVM_INTERNAL_ERROR_EMULATION).
      return this.internalError(C.KVM_INTERNAL_ERROR_EMULATION, ExitReason.EptViolation);
    }
    return this.emulateMmio(cpu);
  }

  /** Maps `gpa`'s page in the EPT when a slot backs it for this access; false for MMIO. */
  private mapRam(gpa: number, qual: number): boolean {
    const space = this.space!;
    const ept = space.ept;
    if (ept === null) return false;
    const slot = findSlot(space.ranges, gpa);
    if (slot === undefined || (slot.readonly && qual & EptQual.WRITE)) return false;
    const rights = slot.readonly ? 5 : 7;
    if (!ept.map(gpa, rights)) {
      ept.zap();
      this.cpu!.pager.mmu.flushAll();
      this.cpu!.pager.flush();
      ept.map(gpa, rights);
    }
    this.stats.pfFixed++;
    return true;
  }

  /** x86_emulate_instruction() for MMIO: the faulting instruction runs once with the page reaching the hooks. */
  private emulateMmio(cpu: Cpu): number {
    this.stats.mmioEmulated++;
    this.mmioReadsKnown = 0;
    this.mmioWrites = 0;
    this.mmioWritesSent = 0;
    this.mmioOverflow = false;
    return this.replay(cpu, cpu.pager.mmu.fault.guestPhysical);
  }

  private replay(cpu: Cpu, gpa: number): number {
    const space = this.space!;
    const page = gpa - (gpa % 4096);
    this.snapshot.take(cpu);
    this.mmioReadsUsed = 0;
    this.mmioNeedRead = false;
    this.mmioWrites = 0;
    if (space.ept !== null) space.ept.map(page, 7);
    else space.slotStage!.openPage = page;
    this.mode = Mode.MmioReplay;
    this.pend.reason = -1;
    const why = this.guestRun(cpu, 1);
    this.mode = Mode.Guest;
    if (space.ept !== null) space.ept.unmap(page);
    else space.slotStage!.openPage = -1;
    cpu.pager.mmu.flushAll();
    cpu.pager.flush();
    if (this.mmioNeedRead) {
      // complete_emulated_mmio: ask userspace for the data, then run the instruction again.
      this.snapshot.restore(cpu);
      this.completion = Completion.Mmio;
      this.fillMmio(this.mmioPendingAddr, this.mmioPendingSize, false, 0);
      return this.userExit(C.KVM_EXIT_MMIO);
    }
    if (why === CpuExit.Intercept && this.pend.reason >= 0) {
      // The instruction also did something that exits (an OUT after a read ...): rare; retry normally.
      this.pend.reason = -1;
    }
    if (this.mmioOverflow) return this.internalError(C.KVM_INTERNAL_ERROR_EMULATION, ExitReason.EptViolation);
    if (why === CpuExit.Budget) this.stepped = true;
    return this.sendMmioWrite();
  }

  /** The next queued MMIO write as a KVM_EXIT_MMIO, or 1 (stay in the kernel) when none is left. */
  private sendMmioWrite(): number {
    if (this.mmioWritesSent >= this.mmioWrites) return 1;
    const i = this.mmioWritesSent++;
    this.fillMmio(this.mmioWriteAddr[i]!, this.mmioWriteSize[i]!, true, this.mmioWriteValue[i]!);
    if (this.mmioWritesSent < this.mmioWrites) this.completion = Completion.Mmio;
    return this.userExit(C.KVM_EXIT_MMIO);
  }

  private fillMmio(addr: number, size: number, write: boolean, value: number): void {
    const rv = this.runView;
    rv.setUint32(RF['mmio.phys_addr'].offset, addr % 2 ** 32, true);
    rv.setUint32(RF['mmio.phys_addr'].offset + 4, Math.floor(addr / 2 ** 32), true);
    const d = RF['mmio.data'].offset;
    rv.setUint32(d, write ? value >>> 0 : 0, true);
    rv.setUint32(d + 4, 0, true);
    rv.setUint32(RF['mmio.len'].offset, size, true);
    rv.setUint8(RF['mmio.is_write'].offset, write ? 1 : 0);
  }

  private completeMmio(cpu: Cpu): number {
    if (this.mmioWritesSent < this.mmioWrites) return this.sendMmioWrite() === 1 ? 1 : 0;
    // A read: keep userspace's data and emulate the instruction again.
    const rv = this.runView;
    const size = this.mmioPendingSize;
    const d = RF['mmio.data'].offset;
    const value = size === 1 ? rv.getUint8(d) : size === 2 ? rv.getUint16(d, true) : rv.getUint32(d, true);
    if (this.mmioReadsKnown < this.mmioReadData.length) {
      this.mmioReadAddr[this.mmioReadsKnown] = this.mmioPendingAddr;
      this.mmioReadData[this.mmioReadsKnown++] = value;
    }
    const r = this.replay(cpu, this.mmioPendingAddr);
    return r;
  }

  // ---- CPU hooks (the VMX exit conditions) ----------------------------------------------------------

  private instructionLength(cpu: Cpu): number {
    const n = (cpu.regs.ip - cpu.startIp) >>> 0;
    return n <= 15 ? n : n & 0xffff;
  }

  /** Prefixes and opcode of the I/O instruction being executed, for the exit qualification. */
  private decodeIo(cpu: Cpu, input: boolean, port: number, size: 1 | 2 | 4): void {
    const p = this.pend;
    p.reason = ExitReason.IoInstruction;
    p.length = this.instructionLength(cpu);
    p.port = port;
    p.size = size;
    p.input = input;
    // 64-bit mode: addresses are 64-bit (67h makes them 32-bit), CS.base is 0 and RIP is the
    // linear address (signed form); REX prefixes precede the opcode.
    const code64 = cpu.code64;
    let addr32 = cpu.bitness === 32;
    let addr64 = code64;
    let rep = false;
    let op = 0;
    const base = code64 ? cpu.startIp : cpu.segs.base[Seg.CS]! + cpu.startIp;
    for (let i = 0; i < p.length; i++) {
      const linear = code64 ? base + i : (base + i) >>> 0;
      const phys = cpu.pager.translate(linear, 2, cpu.ctrl.cpl === 3);
      op = cpu.phys.read8(phys);
      if (op === 0x67) {
        if (code64) {
          addr64 = false;
          addr32 = true;
        } else addr32 = !addr32;
      } else if (op === 0xf3 || op === 0xf2) rep = true;
      else if (code64 && op >= 0x40 && op <= 0x4f) continue;
      else if (
        !(
          op === 0x66 ||
          op === 0xf0 ||
          op === 0x26 ||
          op === 0x2e ||
          op === 0x36 ||
          op === 0x3e ||
          op === 0x64 ||
          op === 0x65
        )
      )
        break;
    }
    p.string = op >= 0x6c && op <= 0x6f;
    p.rep = rep && p.string;
    p.addr32 = addr32;
    p.addr64 = addr64;
    p.qualification = ioQualification({
      port,
      size,
      direction: input ? 'in' : 'out',
      string: p.string,
      rep: p.rep,
      immediate: op >= 0xe4 && op <= 0xe7,
    });
  }

  portIn(port: number, size: 1 | 2 | 4): number {
    const cpu = this.cpu!;
    if (this.mode === Mode.FeedIns) {
      if (this.elements >= this.elementLimit) return INTERCEPT;
      const at = PIO_OFFSET + this.elements * size;
      const v = this.runView;
      const value = size === 1 ? v.getUint8(at) : size === 2 ? v.getUint16(at, true) : v.getUint32(at, true);
      if (++this.elements === this.elementLimit && this.elementStop) cpu.requestStop();
      return value;
    }
    this.decodeIo(cpu, true, port, size);
    return INTERCEPT;
  }

  portOut(port: number, size: 1 | 2 | 4, value: number): number {
    const cpu = this.cpu!;
    if (this.mode === Mode.CollectOuts) {
      if (this.elements >= this.elementLimit) return INTERCEPT;
      const at = PIO_OFFSET + this.elements * size;
      const v = this.runView;
      if (size === 1) v.setUint8(at, value);
      else if (size === 2) v.setUint16(at, value, true);
      else v.setUint32(at, value, true);
      if (++this.elements === this.elementLimit && this.elementStop) cpu.requestStop();
      return 0;
    }
    this.decodeIo(cpu, false, port, size);
    this.pend.value = value;
    return INTERCEPT;
  }

  mmioRead(gpa: number, size: 1 | 2 | 4): number {
    const chip = this.vm.chip;
    if (chip !== null) {
      // The LAPIC and I/O APIC windows are handled in the kernel (vcpu_mmio_read: lapic, then the bus).
      const lapic = chip.lapicMmio(this.vcpu.id, gpa);
      if (lapic !== null) {
        this.stats.kernelMmio++;
        return lapic.read(gpa - lapic.mmioBase, size);
      }
      if (KernelIrqchip.isIoapic(gpa)) {
        this.stats.kernelMmio++;
        return chip.ioapic.read(gpa - IOAPIC_BASE, size);
      }
    }
    const slot = findSlot(this.space!.ranges, gpa);
    if (slot !== undefined && gpa + size <= slot.end) {
      // A READONLY slot: the data is there (the EPT maps it readable).
      const o = gpa - slot.start;
      const b = slot.bytes;
      return size === 1
        ? b[o]!
        : size === 2
          ? b[o]! | (b[o + 1]! << 8)
          : (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
    }
    if (this.mode !== Mode.MmioReplay) return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    const i = this.mmioReadsUsed++;
    if (i < this.mmioReadsKnown && this.mmioReadAddr[i] === gpa) return this.mmioReadData[i]!;
    if (!this.mmioNeedRead) {
      this.mmioNeedRead = true;
      this.mmioPendingAddr = gpa;
      this.mmioPendingSize = size;
      this.cpu!.requestStop();
    }
    return 0;
  }

  mmioWrite(gpa: number, size: 1 | 2 | 4, value: number): void {
    if (this.mmioNeedRead) return;
    const chip = this.vm.chip;
    if (chip !== null) {
      const lapic = chip.lapicMmio(this.vcpu.id, gpa);
      if (lapic !== null) {
        this.stats.kernelMmio++;
        lapic.write(gpa - lapic.mmioBase, size, value >>> 0);
        return;
      }
      if (KernelIrqchip.isIoapic(gpa)) {
        this.stats.kernelMmio++;
        chip.ioapic.write(gpa - IOAPIC_BASE, size, value >>> 0);
        return;
      }
    }
    if (this.mmioWrites >= MAX_MMIO_QUEUE) {
      this.mmioOverflow = true;
      return;
    }
    const i = this.mmioWrites++;
    this.mmioWriteAddr[i] = gpa;
    this.mmioWriteSize[i] = size;
    this.mmioWriteValue[i] = value >>> 0;
  }

  cpuid(_leaf: number, _subleaf: number, _out: CpuidResult): number {
    // CPUID exits unconditionally in VMX non-root operation.
    const p = this.pend;
    p.reason = ExitReason.Cpuid;
    p.length = this.instructionLength(this.cpu!);
    p.qualification = 0;
    return INTERCEPT;
  }

  rdmsr(index: number, value: MsrValue): number {
    return this.msrHook(index, false, value);
  }

  wrmsr(index: number, value: MsrValue): number {
    return this.msrHook(index, true, value);
  }

  private msrHook(index: number, write: boolean, value: MsrValue): number {
    if (this.allowMsr) {
      this.allowMsr = false;
      // kvm_synchronize_tsc / KVM_REQ_CLOCK_UPDATE: the guest's TSC moves, so does its kvmclock record.
      if (write && index === MSR_IA32_TSC) this.kvmclock.requestUpdate();
      const lapic = index === MSR_IA32_APIC_BASE ? this.vm.chip?.lapic(this.vcpu.id) : undefined;
      if (lapic !== undefined) {
        // kvm_get/set_apic_base(): IA32_APIC_BASE is the in-kernel LAPIC's (#GP for a bad transition).
        if (!write) {
          const base = lapic.readApicBase();
          value.lo = Number(base & 0xffff_ffffn);
          value.hi = Number(base >> 32n);
          return 0;
        }
        return lapic.writeApicBase((BigInt(value.hi >>> 0) << 32n) | BigInt(value.lo >>> 0)) ? 0 : 13;
      }
      return 0;
    }
    if (!msrExits(this.loaded, this.vmxMemory, index, write)) return 0;
    const p = this.pend;
    p.reason = write ? ExitReason.Wrmsr : ExitReason.Rdmsr;
    p.length = this.instructionLength(this.cpu!);
    p.qualification = 0;
    p.msr = index >>> 0;
    p.msrLo = value.lo >>> 0;
    p.msrHi = value.hi >>> 0;
    return INTERCEPT;
  }

  movToCr(cr: number, value: number): number {
    if (this.allowCr) {
      this.allowCr = false;
      if (cr === 0 || cr === 4)
        this.loaded.write64(cr === 0 ? F.Cr0ReadShadow : F.Cr4ReadShadow, value >>> 0, 0);
      return 0;
    }
    const exits =
      cr === 0 || cr === 4
        ? movToCrExits(this.loaded, cr, value >>> 0, 0)
        : cr === 3
          ? movToCr3Exits(this.loaded, value >>> 0, 0)
          : false;
    if (!exits) return 0;
    const p = this.pend;
    p.reason = ExitReason.CrAccess;
    p.length = this.instructionLength(this.cpu!);
    p.qualification = crAccessQualification(cr, CrAccessType.MovToCr, 0);
    p.crValue = value >>> 0;
    return INTERCEPT;
  }

  /** The CR4 bits the guest may set: the model's, within what its CPUID allows (kvm_is_valid_cr4). */
  private guestCr4Valid(): number {
    this.views.guestLeaf1(cr4Leaf1);
    return (cr4ValidFor(cr4Leaf1[0]!, this.views.guestLeaf7Ebx()) & this.model.cr4Valid) >>> 0;
  }

  hlt(): number {
    const p = this.pend;
    p.reason = ExitReason.Hlt;
    p.length = this.instructionLength(this.cpu!);
    p.qualification = 0;
    return INTERCEPT;
  }

  invlpg(linear: number): number {
    if (this.allowInvlpg || (this.loaded.read32(F.ProcBasedControls) & ProcBased.InvlpgExiting) === 0) {
      this.allowInvlpg = false;
      return 0;
    }
    const p = this.pend;
    p.reason = ExitReason.Invlpg;
    p.length = this.instructionLength(this.cpu!);
    p.qualification = linear >>> 0;
    return INTERCEPT;
  }

  rdtsc(): number {
    return 0;
  }
}
