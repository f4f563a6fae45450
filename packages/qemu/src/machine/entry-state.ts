import type { Regs, Segment, Sregs } from '@typevisor/kvm';
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

/** Applies a loader's 32-bit entry state to KVM_GET_SREGS output (flat protected mode, paging off). */
export function applyEntrySregs(s: Sregs, e: Entry32): Sregs {
  const code = flatSegment(e.codeSelector, true);
  const data = flatSegment(e.dataSelector, false);
  return {
    ...s,
    cs: code,
    ds: data,
    es: data,
    fs: data,
    gs: data,
    ss: data,
    gdt: { ...s.gdt, base: BigInt(e.gdt.base), limit: e.gdt.limit },
    cr0: (s.cr0 & ~0x80000000n) | CR0_PE | BigInt(e.cr0),
  };
}

/** Applies the entry registers (EIP, ESI, EFLAGS; the rest zero, as the boot protocols want). */
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
