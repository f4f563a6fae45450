/**
 * The architectural state of a CPU as plain JSON-able data, for snapshots, migration and the KVM
 * facade's GET/SET REGS/SREGS/FPU/MSRS: general registers, EIP, EFLAGS, segment caches, descriptor
 * tables, control and debug registers, MSRs, the x87 unit and the event state. Decoded blocks and TLB
 * contents are caches and are not part of it.
 */
import type { Cpu } from './cpu.js';
import { MSR_TABLE } from './msr.js';
import { Seg } from './registers.js';
import type { SseStateData } from './sse/state.js';
import type { X87State } from './x87/index.js';

export interface SegmentState {
  selector: number;
  base: number;
  limit: number;
  /** Cache attributes: descriptor bits 40..55 shifted down by 8 (type, S, DPL, P, AVL, L, D/B, G). */
  attr: number;
}

export interface CpuState {
  /** Low 32 bits of RAX..R15 (R8-R15 are 0 outside 64-bit mode), unsigned. */
  gpr: number[];
  eip: number;
  eflags: number;
  /** ES, CS, SS, DS, FS, GS, LDTR, TR. */
  segments: SegmentState[];
  gdtr: { base: number; limit: number };
  idtr: { base: number; limit: number };
  cr0: number;
  cr2: number;
  cr3: number;
  cr4: number;
  dr: number[];
  cpl: number;
  /** Every implemented MSR except the TSC, as [index, low, high]. */
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
    eip: cpu.regs.ip,
    eflags: cpu.eflags,
    segments,
    gdtr: { base: c.gdtr.base, limit: c.gdtr.limit },
    idtr: { base: c.idtr.base, limit: c.idtr.limit },
    cr0: c.cr0,
    cr2: c.cr2,
    cr3: c.cr3,
    cr4: c.cr4,
    dr: Array.from(c.dr),
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
  cpu.regs.ip = st.eip >>> 0;
  st.segments.forEach((g, i) => {
    cpu.segs.set(i, g.selector, g.base, g.limit, g.attr);
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
  for (const [index, lo, hi] of st.msrs) {
    const slot = cpu.msrs.find(index);
    if (slot >= 0) {
      cpu.msrs.lo[slot] = lo;
      cpu.msrs.hi[slot] = hi;
    }
  }
  const efer = cpu.msrs.find(0xc0000080);
  cpu.setControlRegisters(st.cr0, st.cr3, st.cr4, efer >= 0 ? cpu.msrs.lo[efer]! : 0);
  cpu.eflags = st.eflags;
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
