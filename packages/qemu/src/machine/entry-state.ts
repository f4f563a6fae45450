import type { CpuidEntry, Regs, Segment, Sregs } from '@typevisor/kvm';
import type { Entry32 } from '../loaders/linux.js';

/** A flat 4 GiB ring-0 segment as KVM_SET_SREGS wants it (code: execute/read; data: read/write). */
export function flatSegment(selector: number, code: boolean): Segment {
  return {
    base: 0n,
    limit: 0xffffffff,
    selector,
    type: code ? 0xb : 0x3, // accessed
    present: 1,
    dpl: 0,
    db: 1,
    s: 1,
    l: 0,
    g: 1,
    avl: 0,
    unusable: 0,
  };
}

const CR0_PE = 1n;
const CR0_PG = 0x8000_0000n;
const CPUID_EXT1_EDX_LM = 1 << 29;

/** Whether a vCPU's CPUID (KVM_GET_CPUID2) has long mode: CPUID.80000001H:EDX.LM. */
export function cpuidHasLongMode(entries: readonly CpuidEntry[]): boolean {
  const e = entries.find((x) => x.function === 0x8000_0001);
  return e !== undefined && (e.edx & CPUID_EXT1_EDX_LM) !== 0;
}

/**
 * Applies a loader's entry state to KVM_GET_SREGS output: flat protected mode with paging off (the
 * 32-bit entry), or with `e.long` IA-32e mode: CS a 64-bit code segment (L=1, D=0), CR0.PG, CR3 at the
 * identity page tables, CR4.PAE, EFER.LME|LMA (the 64-bit entry).
 */
export function applyEntrySregs(s: Sregs, e: Entry32): Sregs {
  const code = flatSegment(e.codeSelector, true);
  const data = flatSegment(e.dataSelector, false);
  const long = e.long;
  return {
    ...s,
    cs: long === undefined ? code : { ...code, l: 1, db: 0 },
    ds: data,
    es: data,
    fs: data,
    gs: data,
    ss: data,
    gdt: { ...s.gdt, base: BigInt(e.gdt.base), limit: e.gdt.limit },
    cr0: (s.cr0 & ~CR0_PG) | CR0_PE | BigInt(e.cr0),
    ...(long === undefined
      ? {}
      : { cr3: BigInt(long.cr3), cr4: s.cr4 | BigInt(long.cr4), efer: s.efer | BigInt(long.efer) }),
  };
}

/** Applies the entry registers (RIP/EIP, RSI/ESI, EFLAGS; the rest zero, as the boot protocols want). */
export function applyEntryRegs(r: Regs, e: Entry32 & { readonly eax?: number; readonly ebx?: number }): Regs {
  const out = { ...r };
  for (const k of Object.keys(out) as (keyof Regs)[]) out[k] = 0n;
  out.rip = BigInt(e.eip);
  out.rsi = BigInt(e.esi);
  out.rflags = BigInt(e.eflags);
  out.rax = BigInt(e.eax ?? 0);
  out.rbx = BigInt(e.ebx ?? 0);
  return out;
}
