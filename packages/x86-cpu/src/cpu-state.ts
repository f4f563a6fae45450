/**
 * The architectural state of a CPU as plain JSON-able data, for snapshots, migration and the KVM
 * facade's GET/SET REGS/SREGS/FPU/MSRS: general registers, EIP, EFLAGS, segment caches, descriptor
 * tables, control and debug registers, MSRs, the x87 unit and the event state. Decoded blocks and TLB
 * contents are caches and are not part of it.
 */
import type { Cpu } from './cpu.js';
import { MSR_TABLE, Msr } from './msr.js';
import { Seg } from './registers.js';
import type { SseStateData } from './sse/state.js';
import type { X87State } from './x87/index.js';

export interface SegmentState {
  selector: number;
  /** Unsigned 32-bit, or (FS, GS, TR, LDTR in IA-32e mode) a canonical 64-bit address in signed form. */
  base: number;
  limit: number;
  /** Cache attributes: descriptor bits 40..55 shifted down by 8 (type, S, DPL, P, AVL, L, D/B, G). */
  attr: number;
}

export interface CpuState {
  /** Low 32 bits of RAX..R15 (R8-R15 are 0 outside 64-bit mode), unsigned. */
  gpr: number[];
  /** High 32 bits of RAX..R15, unsigned (absent in states saved before IA-32e mode: then 0). */
  gprHi?: number[];
  /**
   * RIP as the CPU holds it: in 64-bit mode a canonical address in signed form (0xFFFF_FFFF_8100_0000
   * is -0x7f00_0000), else EIP (unsigned 32-bit).
   */
  eip: number;
  eflags: number;
  /** ES, CS, SS, DS, FS, GS, LDTR, TR. */
  segments: SegmentState[];
  /** Bases as the CPU holds them: signed form for a canonical 64-bit address. */
  gdtr: { base: number; limit: number };
  idtr: { base: number; limit: number };
  cr0: number;
  cr2: number;
  /** Up to 52 bits (4-level paging), unsigned. */
  cr3: number;
  cr4: number;
  /** CR8 (the task priority, 64-bit mode); absent in older states: then 0. */
  cr8?: number;
  dr: number[];
  /** Bits 63:32 of DR0..DR3 (absent in older states: then 0). */
  drHi?: number[];
  cpl: number;
  /**
   * Every implemented MSR except the TSC, as [index, low, high]. IA32_EFER carries LMA: loading it
   * puts the CPU in IA-32e mode (with CR0.PG), as `syncLongMode` keeps it.
   */
  msrs: [number, number, number][];
  tsc: number;
  fpu: X87State;
  /** XMM registers and MXCSR (absent in states saved before SSE existed: then left unchanged). */
  sse?: SseStateData;
  halted: boolean;
  nmiPending: boolean;
  nmiBlocked: boolean;
  /** Interrupt shadow (STI / MOV SS) still in effect for the next instruction. */
  shadow: boolean;
}

export function saveState(cpu: Cpu): CpuState {
  const s = cpu.segs;
  const c = cpu.ctrl;
  const segments: SegmentState[] = [];
  for (let i = Seg.ES; i <= Seg.TR; i++) {
    segments.push({ selector: s.selector[i]!, base: s.base[i]!, limit: s.limit[i]!, attr: s.attr[i]! });
  }
  return {
    gpr: Array.from(cpu.regs.u32.subarray(0, 16)),
    gprHi: Array.from(cpu.regs.u32.subarray(16, 32)),
    eip: cpu.regs.ip,
    eflags: cpu.eflags,
    segments,
    gdtr: { base: c.gdtr.base, limit: c.gdtr.limit },
    idtr: { base: c.idtr.base, limit: c.idtr.limit },
    cr0: c.cr0,
    cr2: c.cr2,
    cr3: c.cr3,
    cr4: c.cr4,
    cr8: c.tpr,
    dr: Array.from(c.dr),
    drHi: Array.from(c.drHi),
    cpl: c.cpl,
    msrs: MSR_TABLE.map((r, i) => [r.index, cpu.msrs.lo[i]!, cpu.msrs.hi[i]!]),
    tsc: cpu.tsc,
    fpu: cpu.fpu.getState(),
    sse: cpu.fpu.sse.getState(),
    halted: cpu.halted,
    nmiPending: cpu.nmiPending,
    nmiBlocked: cpu.nmiBlocked,
    shadow: cpu.shadow,
  };
}

/** Loads a state saved by {@link saveState} (decoded blocks and TLB entries are dropped). */
export function loadState(cpu: Cpu, st: CpuState): void {
  st.gpr.forEach((v, i) => {
    cpu.regs.r32[i] = v;
  });
  for (let i = 0; i < 16; i++) cpu.regs.r32[16 + i] = st.gprHi?.[i] ?? 0;
  st.segments.forEach((g, i) => {
    cpu.segs.set(i, g.selector, g.base, g.limit, g.attr);
    // A 64-bit base (signed form, or above 4 GiB) that `set` would truncate.
    if (g.base < 0 || g.base > 0xffff_ffff) cpu.segs.setBase64(i, g.base);
  });
  const c = cpu.ctrl;
  c.gdtr.base = st.gdtr.base;
  c.gdtr.limit = st.gdtr.limit;
  c.idtr.base = st.idtr.base;
  c.idtr.limit = st.idtr.limit;
  c.cr2 = st.cr2;
  st.dr.forEach((v, i) => {
    c.dr[i] = v;
  });
  for (let i = 0; i < 4; i++) c.drHi[i] = st.drHi?.[i] ?? 0;
  c.tpr = (st.cr8 ?? 0) & 15;
  for (const [index, lo, hi] of st.msrs) {
    const slot = cpu.msrs.find(index);
    if (slot >= 0) {
      cpu.msrs.lo[slot] = lo;
      cpu.msrs.hi[slot] = hi;
    }
  }
  const slot = cpu.msrs.find(Msr.EFER);
  const efer = slot >= 0 ? cpu.msrs.lo[slot]! : 0;
  // EFER.LMA (with CR0.PG) puts the CPU in IA-32e mode: setControlRegisters syncs ctrl.lma.
  cpu.setControlRegisters(st.cr0, st.cr3, st.cr4, efer);
  if (st.cr3 > 0xffff_ffff) {
    // A 4-level CR3 above 4 GiB, which setControlRegisters keeps to 32 bits.
    c.cr3 = st.cr3;
    cpu.pager.mmu.loadContext(c.cr0, c.cr3, c.cr4, efer, 0);
    cpu.pager.flush();
  }
  cpu.eflags = st.eflags;
  // RIP after the mode is known: signed form in 64-bit mode, EIP otherwise.
  cpu.regs.ip = cpu.code64 ? st.eip : st.eip >>> 0;
  c.cpl = st.cpl;
  cpu.tscOffset = st.tsc - cpu.tscBase();
  cpu.fpu.setState(st.fpu);
  if (st.sse !== undefined) cpu.fpu.sse.setState(st.sse);
  cpu.halted = st.halted;
  cpu.nmiPending = st.nmiPending;
  cpu.nmiBlocked = st.nmiBlocked;
  cpu.shadow = st.shadow;
  cpu.blocks.flush();
}
