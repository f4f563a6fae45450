/**
 * `info exits`: per-exit statistics in the manner of kvm_stat. The VMM's side (exits it handled, by
 * kind) and the facade's side (VM exits by VMX basic exit reason, handled in the kernel or passed
 * to userspace) come in as plain numbers.
 */

/** The facade runner's counters (`@typevisor/kvm`'s VcpuStats has these fields). */
export interface ExitStatsView {
  /** VM exits by VMX basic exit reason. */
  readonly exits: ArrayLike<number>;
  readonly kernelExits: number;
  readonly userspaceReturns: number;
  readonly runs: number;
  readonly instructions: number;
}

/** Names of the VMX basic exit reasons (SDM Vol. 3D Appendix C) a PC guest meets. */
const VMX_REASONS: Readonly<Record<number, string>> = {
  0: 'exception_nmi',
  1: 'external_interrupt',
  2: 'triple_fault',
  7: 'interrupt_window',
  8: 'nmi_window',
  9: 'task_switch',
  10: 'cpuid',
  12: 'hlt',
  13: 'invd',
  14: 'invlpg',
  15: 'rdpmc',
  16: 'rdtsc',
  18: 'vmcall',
  28: 'cr_access',
  29: 'dr_access',
  30: 'io_instruction',
  31: 'msr_read',
  32: 'msr_write',
  33: 'invalid_guest_state',
  37: 'monitor_trap_flag',
  40: 'pause',
  43: 'tpr_below_threshold',
  44: 'apic_access',
  46: 'gdtr_idtr',
  47: 'ldtr_tr',
  48: 'ept_violation',
  49: 'ept_misconfig',
  52: 'preemption_timer',
  54: 'wbinvd',
  55: 'xsetbv',
};

const row = (name: string, n: number): string => `  ${name.padEnd(22)} ${String(n).padStart(12)}`;

/**
 * The `info exits` text: the exits this VMM handled by kind (most first), then, when the facade's
 * runner exists (after the first KVM_RUN), its VM exits by reason.
 */
export function formatExits(vmm: ReadonlyMap<string, number>, kernel: ExitStatsView | undefined): string {
  let total = 0;
  for (const n of vmm.values()) total += n;
  const lines = [`exits handled by the VMM: ${total}`];
  for (const [kind, n] of [...vmm].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
    lines.push(row(kind, n));
  }
  if (kernel === undefined) return lines.join('\n');
  let vmExits = 0;
  for (let i = 0; i < kernel.exits.length; i++) vmExits += kernel.exits[i] ?? 0;
  lines.push(
    `KVM_RUN calls: ${kernel.runs}, guest instructions: ${kernel.instructions}`,
    `VM exits: ${vmExits} (in the kernel: ${kernel.kernelExits}, to userspace: ${kernel.userspaceReturns})`,
  );
  const byReason: [string, number][] = [];
  for (let i = 0; i < kernel.exits.length; i++) {
    const n = kernel.exits[i] ?? 0;
    if (n > 0) byReason.push([VMX_REASONS[i] ?? `reason_${i}`, n]);
  }
  byReason.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  for (const [name, n] of byReason) lines.push(row(name, n));
  return lines.join('\n');
}
