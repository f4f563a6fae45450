/**
 * Per-vCPU statistics in the manner of kvm_stat / the binary stats fd: VM exits by basic exit reason,
 * how many were handled in the kernel and how many went to userspace (by KVM_EXIT_* reason), KVM_RUN
 * calls, and the time spent running guest code.
 *
 * The counters are one Float64Array (the vCPU's shared state, see `VcpuState.stats`), so that the VMM
 * thread reads them while KVM_RUN runs in a vCPU worker, as kvm_stat reads a vCPU's stats fd.
 */
const EXITS = 0;
const EXIT_SLOTS = 80;
const USERSPACE = EXITS + EXIT_SLOTS;
const USERSPACE_SLOTS = 48;
const SCALARS = USERSPACE + USERSPACE_SLOTS;
const S = {
  kernelExits: SCALARS,
  userspaceReturns: SCALARS + 1,
  runs: SCALARS + 2,
  instructions: SCALARS + 3,
  guestMs: SCALARS + 4,
  pfFixed: SCALARS + 5,
  mmioEmulated: SCALARS + 6,
  irqInjections: SCALARS + 7,
  kernelIo: SCALARS + 8,
  kernelMmio: SCALARS + 9,
  haltWaits: SCALARS + 10,
} as const;

export class VcpuStats {
  /** Doubles a VcpuStats occupies in its backing array. */
  static readonly WORDS = SCALARS + 11;

  /** VM exits by basic exit reason (SDM Appendix C numbering; `exitReasonName` names them). */
  readonly exits: Float64Array;
  /** Returns to userspace by kvm_run.exit_reason (KVM_EXIT_*). */
  readonly userspaceExits: Float64Array;

  /** Over `words` (VcpuStats.WORDS doubles, e.g. in shared memory), or over a fresh array. */
  constructor(private readonly words: Float64Array = new Float64Array(VcpuStats.WORDS)) {
    this.exits = words.subarray(EXITS, EXITS + EXIT_SLOTS);
    this.userspaceExits = words.subarray(USERSPACE, USERSPACE + USERSPACE_SLOTS);
  }

  /** VM exits the kernel handled without returning to userspace. */
  get kernelExits(): number {
    return this.words[S.kernelExits]!;
  }
  set kernelExits(v: number) {
    this.words[S.kernelExits] = v;
  }
  /** KVM_RUN calls that returned 0 (an exit for userspace). */
  get userspaceReturns(): number {
    return this.words[S.userspaceReturns]!;
  }
  set userspaceReturns(v: number) {
    this.words[S.userspaceReturns] = v;
  }
  /** KVM_RUN calls. */
  get runs(): number {
    return this.words[S.runs]!;
  }
  set runs(v: number) {
    this.words[S.runs] = v;
  }
  /** The CPU's instruction counter over guest runs (retired instructions plus intercepted attempts). */
  get instructions(): number {
    return this.words[S.instructions]!;
  }
  set instructions(v: number) {
    this.words[S.instructions] = v;
  }
  /**
   * Milliseconds spent inside the CPU's run loop (guest time): runs after a long one are timed, short
   * ones sampled (every 4th counted 4 times; see `VcpuRunner.guestRun`), so an unbiased estimate.
   */
  get guestMs(): number {
    return this.words[S.guestMs]!;
  }
  set guestMs(v: number) {
    this.words[S.guestMs] = v;
  }
  /** EPT leaves / shadow faults fixed (kvm_stat's pf_fixed). */
  get pfFixed(): number {
    return this.words[S.pfFixed]!;
  }
  set pfFixed(v: number) {
    this.words[S.pfFixed] = v;
  }
  /** MMIO accesses emulated (kvm_stat's mmio_exits plus in-kernel ones). */
  get mmioEmulated(): number {
    return this.words[S.mmioEmulated]!;
  }
  set mmioEmulated(v: number) {
    this.words[S.mmioEmulated] = v;
  }
  /** Interrupts the in-kernel LAPIC delivered into the guest (kvm_stat's irq_injections). */
  get irqInjections(): number {
    return this.words[S.irqInjections]!;
  }
  set irqInjections(v: number) {
    this.words[S.irqInjections] = v;
  }
  /** PIO accesses the in-kernel 8259 pair / ELCR handled. */
  get kernelIo(): number {
    return this.words[S.kernelIo]!;
  }
  set kernelIo(v: number) {
    this.words[S.kernelIo] = v;
  }
  /** MMIO accesses the in-kernel LAPIC / I/O APIC handled. */
  get kernelMmio(): number {
    return this.words[S.kernelMmio]!;
  }
  set kernelMmio(v: number) {
    this.words[S.kernelMmio] = v;
  }
  /** Host sleeps of a halted vCPU waiting for its LAPIC timer (halt_wait). */
  get haltWaits(): number {
    return this.words[S.haltWaits]!;
  }
  set haltWaits(v: number) {
    this.words[S.haltWaits] = v;
  }

  /** Total VM exits. */
  get totalExits(): number {
    let n = 0;
    for (const x of this.exits) n += x;
    return n;
  }
}
