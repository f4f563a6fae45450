/**
 * Per-vCPU statistics in the manner of kvm_stat / the binary stats fd: VM exits by basic exit reason,
 * how many were handled in the kernel and how many went to userspace (by KVM_EXIT_* reason), KVM_RUN
 * calls, and the time spent running guest code.
 */
export class VcpuStats {
  /** VM exits by basic exit reason (SDM Appendix C numbering; `exitReasonName` names them). */
  readonly exits = new Float64Array(80);
  /** Returns to userspace by kvm_run.exit_reason (KVM_EXIT_*). */
  readonly userspaceExits = new Float64Array(48);
  /** VM exits the kernel handled without returning to userspace. */
  kernelExits = 0;
  /** KVM_RUN calls that returned 0 (an exit for userspace). */
  userspaceReturns = 0;
  /** KVM_RUN calls. */
  runs = 0;
  /** The CPU's instruction counter over guest runs (retired instructions plus intercepted attempts). */
  instructions = 0;
  /** Milliseconds spent inside the CPU's run loop (guest time). */
  guestMs = 0;
  /** EPT leaves / shadow faults fixed (kvm_stat's pf_fixed). */
  pfFixed = 0;
  /** MMIO accesses emulated (kvm_stat's mmio_exits plus in-kernel ones). */
  mmioEmulated = 0;
  /** Interrupts the in-kernel LAPIC delivered into the guest (kvm_stat's irq_injections). */
  irqInjections = 0;
  /** PIO accesses the in-kernel 8259 pair / ELCR handled. */
  kernelIo = 0;
  /** MMIO accesses the in-kernel LAPIC / I/O APIC handled. */
  kernelMmio = 0;
  /** Host sleeps of a halted vCPU waiting for its LAPIC timer (halt_wait). */
  haltWaits = 0;

  /** Total VM exits. */
  get totalExits(): number {
    let n = 0;
    for (const x of this.exits) n += x;
    return n;
  }
}
