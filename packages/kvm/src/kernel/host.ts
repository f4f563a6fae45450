import { HostAddressSpace, type WriteLog } from '@typevisor/memory';
import { DEFAULT_MODEL, type KvmCpuModel } from '../cpu-model.js';
import { EventFd } from '../eventfd.js';
import type { VcpuState } from '../vcpu-state.js';
import { KVM_VCPU_MMAP_SIZE } from '../vcpu-state.js';
import { EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE } from '../uapi/constants.js';
import { EBADF, EBUSY, EINVAL, EMFILE, ENODEV, ENOENT, ENOMEM, ENOTTY } from '../uapi/errno.js';
import { _IOC_TYPE, KVMIO } from '../uapi/ioctl.js';
import type { IoctlArg } from './args.js';
import { capabilityTable, DEFAULT_LIMITS, type KvmLimits } from './capabilities.js';
import { type FdEntry, type HostClock, HostTsc, type KernelContext, SYSTEM_CLOCK } from './context.js';
import { SYSTEM_IOCTLS } from './system-ioctls.js';
import { VCPU_IOCTLS } from './vcpu-ioctls.js';
import { VmState } from './vm-state.js';
import { type RunOptions, VcpuRunner } from '../run/runner.js';
import type { VcpuStats } from '../run/stats.js';
import { DEFAULT_VMX_OPTIONS, type VmxOptions } from '../run/vmcs-setup.js';
import { KVM_GET_MSRS, KVM_RUN, KVM_SET_MSRS, KVM_TRANSLATE } from '../uapi/ioctls.js';

/** The vCPU ioctls that need the vCPU's CPU itself, which a worker-run vCPU keeps in its worker. */
const REMOTE_REFUSED: ReadonlySet<number> = new Set([KVM_RUN, KVM_GET_MSRS, KVM_SET_MSRS, KVM_TRANSLATE]);

/** The path of the KVM device. */
export const KVM_DEVICE_PATH = '/dev/kvm';
/** RLIMIT_NOFILE's usual soft limit: fds are 0..1023. */
export const FD_LIMIT = 1024;
/** 0, 1 and 2 are stdin, stdout and stderr, so the first fd handed out is 3, as in a fresh process. */
const FIRST_FD = 3;

/** The guest TSC rate when the host options give none: 1 GHz. */
export const DEFAULT_TSC_KHZ = 1_000_000;

/** KvmHostOptions.haltWaitNs's default: 10 ms, a VMM's usual timer-signal period. */
export const DEFAULT_HALT_WAIT_NS = 10_000_000;

/** A TSC ticking at `khz` from the host's monotonic clock, or null to count instructions. */
function tscSource(clock: HostClock, khz: number | 'instructions'): HostTsc | null {
  if (khz === 'instructions') return null;
  if (!Number.isInteger(khz) || khz <= 0 || khz > 100_000_000)
    throw new RangeError(`tscKhz: ${khz} is not a rate in kHz`);
  return new HostTsc(clock, khz);
}

export interface KvmHostOptions {
  readonly addressSpace?: HostAddressSpace;
  /**
   * kvm_intel's module parameters: `ept` (default true; false runs the shadow-paging MMU),
   * `unrestrictedGuest` (default true; needs `ept`), `vpid` (default true).
   */
  readonly vmx?: Partial<VmxOptions>;
  /** KVM_RUN returns -EINTR (KVM_EXIT_INTR) after this many guest instructions, like a timer signal; default Infinity. */
  readonly sliceInstructions?: number;
  /** The host clock kvmclock, the guest TSC and KVM_GET_CLOCK read; default: `performance.now()`. */
  readonly clock?: HostClock;
  /**
   * The guest TSC's constant rate in kHz (KVM_GET_TSC_KHZ), counted from `clock`; default 1 GHz.
   * `'instructions'` makes the TSC count retired guest instructions instead (deterministic runs).
   */
  readonly tscKhz?: number | 'instructions';
  readonly limits?: KvmLimits;
  readonly model?: KvmCpuModel;
  /**
   * How long KVM_RUN of a halted vCPU (in-kernel irqchip, nothing to wake it) blocks the thread on
   * `clock.sleepNs` waiting for its LAPIC timer before returning -EINTR (KVM_EXIT_INTR); default 10 ms.
   */
  readonly haltWaitNs?: number;
}

/** A mapping returned by {@link KvmHost.mmap}; on failure `addr` is a negative errno and `bytes` empty. */
export interface Mapping {
  readonly addr: number;
  readonly bytes: Uint8Array;
  /**
   * For anonymous memory: where the VMM's writes to it must be logged, for the vCPUs' decoded-code
   * caches (DMA over code, as a CPU's instruction cache sees it). Give it to the VMM's view of guest
   * RAM: `memory.addRegion(gpa, bytes, { writes })`. Null for vCPU mappings and failures.
   */
  readonly writes: WriteLog | null;
}

const EMPTY = new Uint8Array(0);
const failed = (errno: number): Mapping => ({ addr: -errno, bytes: EMPTY, writes: null });

/**
 * One "process" talking to the KVM model: its file-descriptor table (/dev/kvm, VM, vCPU and eventfd
 * files), its host address space (what `mmap` hands out and memslots point into), and the raw
 * system-call face — `open`, `close`, `mmap`, `ioctl`, `eventfd`, `read`, `write` — with Linux's
 * return conventions: a non-negative result or a negative errno, never an exception for bad input.
 */
export class KvmHost implements KernelContext<VmState> {
  readonly addressSpace: HostAddressSpace;
  readonly clock: HostClock;
  readonly limits: KvmLimits;
  readonly model: KvmCpuModel;
  readonly capabilities: ReadonlyMap<number, number>;
  readonly runOptions: RunOptions;
  private readonly fds = new Map<number, FdEntry<VmState>>();
  /** Host address of each vCPU's kvm_run mapping, made on first mmap. */
  private readonly runMappings = new WeakMap<VcpuState, number>();

  constructor(options: KvmHostOptions = {}) {
    this.addressSpace = options.addressSpace ?? new HostAddressSpace();
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.model = options.model ?? DEFAULT_MODEL;
    this.capabilities = capabilityTable(this.limits);
    const ept = options.vmx?.ept ?? DEFAULT_VMX_OPTIONS.ept;
    this.runOptions = {
      ept,
      unrestrictedGuest: ept && (options.vmx?.unrestrictedGuest ?? DEFAULT_VMX_OPTIONS.unrestrictedGuest),
      vpid: options.vmx?.vpid ?? DEFAULT_VMX_OPTIONS.vpid,
      sliceInstructions: options.sliceInstructions ?? Number.POSITIVE_INFINITY,
      tsc: tscSource(this.clock, options.tscKhz ?? DEFAULT_TSC_KHZ),
      clock: this.clock,
      haltWaitNs: options.haltWaitNs ?? DEFAULT_HALT_WAIT_NS,
    };
    if (!Number.isSafeInteger(this.runOptions.haltWaitNs) || this.runOptions.haltWaitNs < 0) {
      throw new RangeError(`haltWaitNs: ${options.haltWaitNs} is not a non-negative integer of ns`);
    }
  }

  // ---- system calls -----------------------------------------------------------------------------------

  /**
   * open(2) of `/dev/kvm`: a new fd, or -ENOENT for any other path. The flags (O_RDWR, O_CLOEXEC) change
   * nothing here: there is no exec and no permission model.
   */
  open(path: string, _flags = 0): number {
    if (path !== KVM_DEVICE_PATH) return -ENOENT;
    return this.allocFd({ kind: 'system' });
  }

  close(fd: number): number {
    return this.fds.delete(fd) ? 0 : -EBADF;
  }

  /** eventfd(2): a new eventfd with counter `initval`; EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC flags. */
  eventfd(initval = 0, flags = 0): number {
    if (flags & ~(EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE)) return -EINVAL;
    return this.allocFd({ kind: 'eventfd', eventfd: new EventFd(initval, flags) });
  }

  /** read(2): only eventfds are readable; KVM files have no read method (-EINVAL). */
  read(fd: number, buf: Uint8Array): number {
    const e = this.fds.get(fd);
    if (e === undefined) return -EBADF;
    return e.kind === 'eventfd' ? e.eventfd.read(buf) : -EINVAL;
  }

  /** write(2): only eventfds are writable; KVM files have no write method (-EINVAL). */
  write(fd: number, buf: Uint8Array): number {
    const e = this.fds.get(fd);
    if (e === undefined) return -EBADF;
    return e.kind === 'eventfd' ? e.eventfd.write(buf) : -EINVAL;
  }

  /**
   * mmap(2). Without an fd (or with -1): anonymous shared memory, whose `addr` goes into
   * kvm_userspace_memory_region.userspace_addr. With a vCPU fd: that vCPU's mapping (kvm_run at offset
   * 0, the PIO data page at KVM_PIO_PAGE_OFFSET), `length` at most KVM_GET_VCPU_MMAP_SIZE - offset.
   * Unlike Linux, a vCPU mapping past its end fails at once (-EINVAL) instead of faulting on access.
   */
  mmap(length: number, fd = -1, offset = 0): Mapping {
    if (!Number.isSafeInteger(length) || length <= 0) return failed(EINVAL);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % 4096 !== 0) return failed(EINVAL);
    if (fd === -1) {
      const m = this.addressSpace.mmap(length);
      return m === undefined
        ? failed(ENOMEM)
        : { addr: m.addr, bytes: m.bytes.subarray(0, length), writes: m.writes };
    }
    const e = this.fds.get(fd);
    if (e === undefined) return failed(EBADF);
    if (e.kind !== 'vcpu') return failed(ENODEV);
    if (offset + length > KVM_VCPU_MMAP_SIZE) return failed(EINVAL);
    let base = this.runMappings.get(e.vcpu);
    if (base === undefined) {
      base = this.addressSpace.mapBytes(e.vcpu.run).addr;
      this.runMappings.set(e.vcpu, base);
    }
    return { addr: base + offset, bytes: e.vcpu.run.subarray(offset, offset + length), writes: null };
  }

  /**
   * ioctl(2) with the Linux x86_64 request number. A struct argument is a Uint8Array holding the
   * struct's bytes, read and written in place. Returns >= 0 on success or a negative errno.
   */
  ioctl(fd: number, request: number, arg?: IoctlArg): number {
    const e = this.fds.get(fd);
    if (e === undefined) return -EBADF;
    const req = Number.isFinite(request) ? request >>> 0 : 0;
    switch (e.kind) {
      case 'system': {
        const h = SYSTEM_IOCTLS.get(req);
        return h === undefined ? -EINVAL : h(this, arg);
      }
      case 'vm':
        return e.vm.ioctl(req, arg);
      case 'vcpu': {
        const remote = e.vcpu.runner?.remote;
        // A vCPU running in a worker: Linux would make these wait on vcpu->mutex; here they are -EBUSY.
        if (remote !== undefined && (remote.running || REMOTE_REFUSED.has(req))) return -EBUSY;
        if (req === KVM_RUN) return this.run(e.vm, e.vcpu, arg);
        if (_IOC_TYPE(req) !== KVMIO) return -EINVAL;
        const h = VCPU_IOCTLS.get(req);
        if (h === undefined) return -EINVAL;
        const runner = e.vcpu.runner;
        runner?.flush();
        const r = h(
          {
            vcpu: e.vcpu,
            model: this.model,
            irqchip: e.vm.irqchip,
            tscKhz: this.runOptions.tsc?.khz ?? 0,
            lapic: e.vm.chip?.lapic(e.vcpu.id) ?? null,
            nowNs: this.clock.monotonicNs(),
            msrs: () => this.runnerOf(e.vm, e.vcpu),
          },
          arg,
        );
        runner?.invalidate();
        return r;
      }
      case 'eventfd':
        return -ENOTTY;
    }
  }

  /** KVM_RUN (the argument must be 0): the vCPU's runner is made on first use. */
  private run(vm: VmState, vcpu: VcpuState, arg: IoctlArg): number {
    if (arg !== undefined && arg !== 0) return -EINVAL;
    return this.runnerOf(vm, vcpu).runIoctl();
  }

  private runnerOf(vm: VmState, vcpu: VcpuState): VcpuRunner {
    let runner = vcpu.runner as VcpuRunner | null;
    if (runner === null) {
      runner = new VcpuRunner(vm, vcpu, this.model, this.runOptions);
      vcpu.runner = runner;
    }
    return runner;
  }

  /** The KVM_RUN machinery of a vCPU fd once it ran (statistics, VMCS), for tests and tools. */
  vcpuRunner(fd: number): VcpuRunner | undefined {
    const e = this.fds.get(fd);
    // A vCPU in a worker (VcpuWorker) has its runner there, not here.
    const runner = e?.kind === 'vcpu' ? e.vcpu.runner : null;
    return runner instanceof VcpuRunner ? runner : undefined;
  }

  /**
   * A vCPU fd's statistics (kvm_stat's per-vCPU figures), wherever its KVM_RUN runs: in this thread or
   * in a vCPU worker, which counts into the same shared memory. Undefined for a fd that is no vCPU.
   */
  vcpuStats(fd: number): VcpuStats | undefined {
    const e = this.fds.get(fd);
    return e?.kind === 'vcpu' ? e.vcpu.stats : undefined;
  }

  // ---- kernel services --------------------------------------------------------------------------------

  allocFd(entry: FdEntry<VmState>): number {
    for (let fd = FIRST_FD; fd < FD_LIMIT; fd++) {
      if (!this.fds.has(fd)) {
        this.fds.set(fd, entry);
        return fd;
      }
    }
    return -EMFILE;
  }

  eventfdOf(fd: number): EventFd | number {
    const e = this.fds.get(fd);
    if (e === undefined) return -EBADF;
    return e.kind === 'eventfd' ? e.eventfd : -EINVAL;
  }

  /** The VM behind a VM or vCPU fd (for the CPU integration and tests). */
  vmState(fd: number): VmState | undefined {
    const e = this.fds.get(fd);
    return e?.kind === 'vm' || e?.kind === 'vcpu' ? e.vm : undefined;
  }

  /** The vCPU behind a vCPU fd (for the CPU integration and tests). */
  vcpuState(fd: number): VcpuState | undefined {
    const e = this.fds.get(fd);
    return e?.kind === 'vcpu' ? e.vcpu : undefined;
  }

  /** The eventfd behind an eventfd fd. */
  eventfdState(fd: number): EventFd | undefined {
    const e = this.fds.get(fd);
    return e?.kind === 'eventfd' ? e.eventfd : undefined;
  }

  /** Open fds, ascending. */
  openFds(): number[] {
    return [...this.fds.keys()].sort((a, b) => a - b);
  }

  /** KVM_CREATE_VM after its argument checks: a new VM and its fd. */
  createVm(): number {
    return this.allocFd({ kind: 'vm', vm: new VmState(this) });
  }
}
