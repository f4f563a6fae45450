/**
 * A vCPU's architectural state as the monitor shows it: plain data filled from KVM_GET_REGS /
 * KVM_GET_SREGS (and the FPU state), so the monitor never touches the CPU itself.
 */
export interface SegmentSnapshot {
  readonly selector: number;
  readonly base: number;
  readonly limit: number;
  /** Descriptor attribute bits as QEMU keeps them: the descriptor's high dword, bits 8..23. */
  readonly flags: number;
}

export interface CpuSnapshot {
  readonly index: number;
  /** RAX..R15 in x86 order (8 entries for a 32-bit-only view). */
  readonly gprs: readonly number[];
  readonly rip: number;
  readonly rflags: number;
  readonly cpl: number;
  readonly halted: boolean;
  readonly a20: boolean;
  readonly longMode: boolean;
  readonly seg: {
    readonly es: SegmentSnapshot;
    readonly cs: SegmentSnapshot;
    readonly ss: SegmentSnapshot;
    readonly ds: SegmentSnapshot;
    readonly fs: SegmentSnapshot;
    readonly gs: SegmentSnapshot;
    readonly ldt: SegmentSnapshot;
    readonly tr: SegmentSnapshot;
  };
  readonly gdt: { readonly base: number; readonly limit: number };
  readonly idt: { readonly base: number; readonly limit: number };
  readonly cr: { readonly cr0: number; readonly cr2: number; readonly cr3: number; readonly cr4: number };
  readonly dr: readonly number[];
  readonly efer: number;
  readonly fpu: { readonly fcw: number; readonly fsw: number; readonly ftw: number; readonly mxcsr: number };
  /** x87 registers ST(0)..ST(7) as stored: significand low/high 32 bits and the sign+exponent word. */
  readonly fpr: readonly (readonly [lo: number, hi: number, exp: number])[];
  /** XMM registers as four 32-bit lanes, lowest first. */
  readonly xmm: readonly (readonly [number, number, number, number])[];
}
