/**
 * Moving the architectural state between the vCPU's shared KVM-format buffers (kvm_regs, kvm_sregs,
 * kvm_fpu with its x87, XMM and MXCSR parts, the YMM upper halves, kvm_debugregs, XCR0) and the software CPU's register file, as
 * vmx_vcpu_load / vmx_get_segment do between vcpu->arch and the VMCS and the FPU switch does with the
 * guest fpstate; and the guest CPUID's say over which SSE-family instructions execute.
 * Plain DataView accesses on preallocated views: no allocation.
 */
import {
  applyGuestCpuid,
  CR0,
  type Cpu,
  FXSAVE_SIZE,
  fxrstor,
  fxsave,
  Mode,
  Msr,
  MXCSR_WRITABLE,
  Seg,
  setXcr0,
  setXcr0Supported,
  xcr0Of,
  YMM_HI_BYTE,
} from '@typevisor/x86-cpu';
import type { KvmCpuModel } from '../cpu-model.js';
import { guestSupportedXcr0 } from '../kernel/xstate-ioctls.js';
import {
  kvm_cpuid_entry2,
  kvm_debugregs,
  kvm_fpu,
  kvm_regs,
  kvm_segment,
  kvm_sregs,
} from '../uapi/structs.js';
import { type VcpuState, YMM_HI_BYTES } from '../vcpu-state.js';

const R = kvm_regs.fields;
const S = kvm_sregs.fields;
const G = kvm_segment.fields;
const FP = kvm_fpu.fields;
const DB = kvm_debugregs.fields;
const CE = kvm_cpuid_entry2.fields;
/** kvm_fpu.xmm: XMM0..XMM15, 16 bytes each. */
const XMM_BYTES = 256;
/** KVM_CPUID_FLAG_SIGNIFCANT_INDEX. */
const SIGNIFICANT_INDEX = 1;
/** FXSAVE image offsets (SDM Vol. 1 Table 10-2) of what kvm_fpu holds apart: FIP+FCS and FDP+FDS as u64s. */
const FX_FCW = 0;
const FX_FSW = 2;
const FX_FTW = 4;
const FX_FOP = 6;
const FX_FIP = 8;
const FX_FDP = 16;
const FX_ST0 = 32;

/**
 * kvm_regs order (rax rbx rcx rdx rsi rdi rsp rbp r8..r15) to the CPU's GPR numbers (rax rcx rdx rbx
 * rsp rbp rsi rdi r8..r15); each u64 is the low half (`u32[n]`) and the high half (`u32[16 + n]`).
 */
const GPR_OFFSETS: readonly [number, number][] = [
  [R.rax.offset, 0],
  [R.rbx.offset, 3],
  [R.rcx.offset, 1],
  [R.rdx.offset, 2],
  [R.rsi.offset, 6],
  [R.rdi.offset, 7],
  [R.rsp.offset, 4],
  [R.rbp.offset, 5],
  [R.r8.offset, 8],
  [R.r9.offset, 9],
  [R.r10.offset, 10],
  [R.r11.offset, 11],
  [R.r12.offset, 12],
  [R.r13.offset, 13],
  [R.r14.offset, 14],
  [R.r15.offset, 15],
];

/** kvm_sregs segment fields to the CPU's segment numbers. */
const SEGMENTS: readonly [number, number][] = [
  [S.cs.offset, Seg.CS],
  [S.ds.offset, Seg.DS],
  [S.es.offset, Seg.ES],
  [S.fs.offset, Seg.FS],
  [S.gs.offset, Seg.GS],
  [S.ss.offset, Seg.SS],
  [S.tr.offset, Seg.TR],
  [S.ldt.offset, Seg.LDTR],
];

const TWO_32 = 0x1_0000_0000;
const lo64 = (v: DataView, o: number): number => v.getUint32(o, true);
const hi64 = (v: DataView, o: number): number => v.getUint32(o + 4, true);
/**
 * A u64 field as the CPU holds a 64-bit address: a canonical address in signed form (bits 63:32 all
 * ones read as a negative number, exact because |a| < 2^47), an unsigned value otherwise (a
 * non-canonical value is approximate: VM entry refuses it before the CPU uses it).
 */
const signed64 = (v: DataView, o: number): number => {
  const hi = hi64(v, o);
  return (hi >= 0x8000_0000 ? hi - TWO_32 : hi) * TWO_32 + lo64(v, o);
};
/** A u64 field as an unsigned number (CR3: physical addresses below 2^52, exact). */
const unsigned64 = (v: DataView, o: number): number => hi64(v, o) * TWO_32 + lo64(v, o);
/** Stores a 32-bit register (CR0, CR4, RFLAGS, EFER, DR6/DR7; signed or unsigned) as a u64. */
const set64 = (v: DataView, o: number, value: number): void => {
  v.setUint32(o, value >>> 0, true);
  v.setUint32(o + 4, 0, true);
};
/**
 * Stores an address as a u64: with `wide` (IA-32e mode) a 64-bit value in signed (canonical) or
 * unsigned form, both halves; otherwise a 32-bit value (which the CPU may hold as a signed int32).
 */
const setAddr = (v: DataView, o: number, value: number, wide: boolean): void => {
  v.setUint32(o, value >>> 0, true);
  v.setUint32(o + 4, wide ? Math.floor(value / TWO_32) >>> 0 : 0, true);
};

/** Views over one vCPU's state buffers, made once per vCPU. */
export class StateViews {
  readonly regs: DataView;
  readonly sregs: DataView;
  readonly fpu: DataView;
  readonly debugregs: DataView;
  /** The guest CPUID table (KVM_SET_CPUID2's entries). */
  readonly cpuid: DataView;
  /** XCR0 (vcpu->arch.xcr0) as two 32-bit halves, so that moving it allocates no bigint. */
  readonly xcr0: Uint32Array;
  /** Scratch FXSAVE image between kvm_fpu and the CPU's x87 unit. */
  readonly image = new Uint8Array(FXSAVE_SIZE);
  private readonly imageView = new DataView(this.image.buffer);

  constructor(readonly state: VcpuState) {
    const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.regs = view(state.regs);
    this.sregs = view(state.sregs);
    this.fpu = view(state.fpu);
    this.debugregs = view(state.debugregs);
    this.cpuid = view(state.cpuid);
    this.xcr0 = new Uint32Array(state.xcr0.buffer, state.xcr0.byteOffset, 2);
  }

  /**
   * kvm_fpu -> x87 unit and SSE state. kvm_fpu keeps the FXSAVE image's pointers as u64s (last_ip =
   * FIP | FCS << 32, last_dp = FDP | FDS << 32, as the kernel copies fxregs_state.rip/rdp). All 16 XMM
   * slots are loaded (the CPU's file has 16); MXCSR bits the CPU does not have are dropped, as
   * KVM_SET_XSAVE refuses them.
   */
  loadFpu(cpu: Cpu): void {
    const f = this.fpu;
    const x = this.imageView;
    x.setUint16(FX_FCW, f.getUint16(FP.fcw.offset, true), true);
    x.setUint16(FX_FSW, f.getUint16(FP.fsw.offset, true), true);
    x.setUint8(FX_FTW, f.getUint8(FP.ftwx.offset));
    x.setUint16(FX_FOP, f.getUint16(FP.last_opcode.offset, true), true);
    x.setBigUint64(FX_FIP, f.getBigUint64(FP.last_ip.offset, true), true);
    x.setBigUint64(FX_FDP, f.getBigUint64(FP.last_dp.offset, true), true);
    this.image.set(this.state.fpu.subarray(FP.fpr.offset, FP.fpr.offset + 128), FX_ST0);
    fxrstor(cpu.fpu, this.image, 0, false);
    const sse = cpu.fpu.sse;
    sse.u8.set(this.state.fpu.subarray(FP.xmm.offset, FP.xmm.offset + XMM_BYTES));
    // The upper halves of YMM0-YMM15, which kvm_fpu has no room for.
    sse.u8.set(this.state.ymmHi, YMM_HI_BYTE);
    sse.mxcsr = (f.getUint32(FP.mxcsr.offset, true) & MXCSR_WRITABLE) >>> 0;
  }

  /** x87 unit and SSE state -> kvm_fpu (the 6 reserved bytes of each ST slot read 0). */
  saveFpu(cpu: Cpu): void {
    const f = this.fpu;
    const x = this.imageView;
    fxsave(cpu.fpu, this.image, 0, false);
    f.setUint16(FP.fcw.offset, x.getUint16(FX_FCW, true), true);
    f.setUint16(FP.fsw.offset, x.getUint16(FX_FSW, true), true);
    f.setUint8(FP.ftwx.offset, x.getUint8(FX_FTW));
    f.setUint16(FP.last_opcode.offset, x.getUint16(FX_FOP, true), true);
    f.setBigUint64(FP.last_ip.offset, x.getBigUint64(FX_FIP, true), true);
    f.setBigUint64(FP.last_dp.offset, x.getBigUint64(FX_FDP, true), true);
    const fpr = this.state.fpu;
    for (let i = 0; i < 8; i++) {
      const o = FP.fpr.offset + 16 * i;
      fpr.set(this.image.subarray(FX_ST0 + 16 * i, FX_ST0 + 16 * i + 10), o);
      fpr.fill(0, o + 10, o + 16);
    }
    const sse = cpu.fpu.sse;
    fpr.set(sse.u8.subarray(0, XMM_BYTES), FP.xmm.offset);
    this.state.ymmHi.set(sse.u8.subarray(YMM_HI_BYTE, YMM_HI_BYTE + YMM_HI_BYTES));
    f.setUint32(FP.mxcsr.offset, sse.mxcsr, true);
  }

  /**
   * CPUID.(EAX=07H,ECX=0):EBX of the guest CPUID (structured extended features), 0 when the table
   * has no such entry.
   */
  guestLeaf7Ebx(): number {
    const n = this.state.cpuidCount;
    const v = this.cpuid;
    for (let i = 0; i < n; i++) {
      const o = i * kvm_cpuid_entry2.size;
      if (v.getUint32(o + CE.function.offset, true) !== 7) continue;
      if (
        v.getUint32(o + CE.flags.offset, true) & SIGNIFICANT_INDEX &&
        v.getUint32(o + CE.index.offset, true) !== 0
      )
        continue;
      return v.getUint32(o + CE.ebx.offset, true);
    }
    return 0;
  }

  /**
   * CPUID.01H:ECX and EDX (or those of `leaf`, e.g. 80000001H) of the guest CPUID (KVM_SET_CPUID2),
   * into `leaf1`; zeros when the table has no such leaf (a vCPU without KVM_SET_CPUID2 reports no
   * features).
   */
  guestLeaf1(leaf1: Uint32Array, leaf = 1): void {
    const n = this.state.cpuidCount;
    const v = this.cpuid;
    leaf1[0] = 0;
    leaf1[1] = 0;
    for (let i = 0; i < n; i++) {
      const o = i * kvm_cpuid_entry2.size;
      if (v.getUint32(o + CE.function.offset, true) !== leaf) continue;
      leaf1[0] = v.getUint32(o + CE.ecx.offset, true);
      leaf1[1] = v.getUint32(o + CE.edx.offset, true);
      return;
    }
  }

  get rip(): number {
    return lo64(this.regs, R.rip.offset);
  }
  get rflags(): number {
    return lo64(this.regs, R.rflags.offset);
  }
  get cr0(): number {
    return lo64(this.sregs, S.cr0.offset);
  }
  get efer(): number {
    return lo64(this.sregs, S.efer.offset);
  }
}

/** The VMCS access-rights word of a kvm_segment at `o` (vmx_segment_access_rights). */
export function segmentAr(v: DataView, o: number): number {
  if (v.getUint8(o + G.unusable.offset)) return 0x1_0000;
  return (
    (v.getUint8(o + G.type.offset) & 15) |
    ((v.getUint8(o + G.s.offset) & 1) << 4) |
    ((v.getUint8(o + G.dpl.offset) & 3) << 5) |
    ((v.getUint8(o + G.present.offset) & 1) << 7) |
    ((v.getUint8(o + G.avl.offset) & 1) << 12) |
    ((v.getUint8(o + G.l.offset) & 1) << 13) |
    ((v.getUint8(o + G.db.offset) & 1) << 14) |
    ((v.getUint8(o + G.g.offset) & 1) << 15)
  );
}

/** KVM_SET_REGS/SREGS took effect: loads the buffers into the CPU (vcpu_load + the VMCS writes). */
export function loadCpu(cpu: Cpu, v: StateViews, model: KvmCpuModel): void {
  const r = v.regs;
  const gpr = cpu.regs.r32;
  for (const [o, n] of GPR_OFFSETS) {
    gpr[n] = r.getUint32(o, true);
    gpr[16 + n] = r.getUint32(o + 4, true);
  }
  const s = v.sregs;
  const c = cpu.ctrl;
  c.cr0 = (lo64(s, S.cr0.offset) | CR0.ET) >>> 0;
  // CR2 holds a linear address (signed form in IA-32e mode); CR3 a physical one (up to 52 bits).
  c.cr2 = signed64(s, S.cr2.offset);
  c.cr3 = unsigned64(s, S.cr3.offset);
  c.cr4 = lo64(s, S.cr4.offset);
  // CR8 is the TPR's bits 7:4 (kvm_set_cr8; KVM_SET_SREGS already dropped a value with reserved bits).
  c.tpr = lo64(s, S.cr8.offset) & 15;
  for (const [o, seg] of SEGMENTS) {
    const ar = segmentAr(s, o);
    const selector = s.getUint16(o + G.selector.offset, true);
    if (ar & 0x1_0000 && seg !== Seg.CS) {
      cpu.segs.setNull(seg, selector);
      // A null FS/GS in 64-bit mode still has its base (WRMSR FS_BASE, ARCH_SET_FS): keep it.
      const base = signed64(s, o + G.base.offset);
      if (base !== 0) cpu.segs.setBase64(seg, base);
    } else {
      cpu.segs.set(
        seg,
        selector,
        lo64(s, o + G.base.offset),
        s.getUint32(o + G.limit.offset, true),
        ar & 0xffff,
      );
      // A 64-bit base (FS, GS, TR, LDTR in IA-32e mode): the canonical address in signed form.
      if (hi64(s, o + G.base.offset) !== 0) cpu.segs.setBase64(seg, signed64(s, o + G.base.offset));
    }
  }
  c.gdtr.base = signed64(s, S.gdt.offset);
  c.gdtr.limit = s.getUint16(S.gdt.offset + 8, true);
  c.idtr.base = signed64(s, S.idt.offset);
  c.idtr.limit = s.getUint16(S.idt.offset + 8, true);
  const efer = lo64(s, S.efer.offset);
  const slot = cpu.msrs.find(Msr.EFER);
  if (slot >= 0) cpu.msrs.lo[slot] = efer;
  cpu.eflags = lo64(r, R.rflags.offset) | 2; // also recomputes the mode from CR0.PE and EFLAGS.VM
  cpu.updateMode();
  c.cpl = c.mode === Mode.Real ? 0 : c.mode === Mode.V86 ? 3 : (cpu.segs.attr[Seg.SS]! >>> 5) & 3;
  cpu.pager.mmu.loadContext(c.cr0, c.cr3, c.cr4, efer, 0);
  // EFER.LMA (KVM_SET_SREGS checked it against LME and CR0.PG) into ctrl.lma: IA-32e mode or not.
  cpu.syncLongMode();
  cpu.pager.flush();
  // RIP: in 64-bit mode the CPU holds a canonical address in signed form, else EIP.
  cpu.regs.ip = cpu.code64 ? signed64(r, R.rip.offset) : lo64(r, R.rip.offset);
  cpu.halted = false;
  // Debug registers: DR0..DR3 are linear addresses, their high halves kept apart (drHi).
  const d = v.debugregs;
  for (let i = 0; i < 4; i++) {
    c.dr[i] = lo64(d, DB.db.offset + 8 * i);
    c.drHi[i] = hi64(d, DB.db.offset + 8 * i);
  }
  c.dr[6] = lo64(d, DB.dr6.offset);
  c.dr[7] = lo64(d, DB.dr7.offset);
  v.loadFpu(cpu);
  // XCR0's upper half is 0 for every value KVM_SET_XCRS accepts here.
  setXcr0(cpu, v.xcr0[0]!);
  applyCpuid(cpu, v, model);
}

const leaf1 = new Uint32Array(2);
const ext1 = new Uint32Array(2);

/**
 * The guest CPUID decides which SSE-family, AVX-family and BMI instructions the software CPU executes
 * (within what the host's model implements): without CPUID.01H:EDX.SSE2 an SSE2 instruction is #UD,
 * without CPUID.01H:ECX.AVX a VEX instruction is, as under QEMU's TCG (hardware would run them);
 * without CPUID.80000001H:EDX.LM there is no IA-32e mode. Decoded blocks
 * are dropped when that changes.
 */
function applyCpuid(cpu: Cpu, v: StateViews, model: KvmCpuModel): void {
  v.guestLeaf1(leaf1);
  // CPUID.80000001H gates IA-32e mode (LM: EFER.LME, 64-bit-only instructions), SYSCALL and RDTSCP.
  v.guestLeaf1(ext1, 0x8000_0001);
  // CPUID.(07H,0):EBX gates FSGSBASE, BMI1/2, AVX2, INVPCID, ADX, RDSEED.
  const leaf7Ebx = v.guestLeaf7Ebx();
  if (applyGuestCpuid(cpu.features, model.cpu, leaf1[0]!, leaf1[1]!, ext1[0]!, ext1[1]!, leaf7Ebx))
    cpu.blocks.flush();
  // handle_xsetbv checks the guest's XCR0 against guest_supported_xcr0 (the guest CPUID's leaf 0DH).
  setXcr0Supported(cpu, guestSupportedXcr0(v.state, model));
}

/** The guest ran: stores the CPU's registers into the buffers (what KVM_GET_REGS/SREGS then read). */
export function saveCpu(cpu: Cpu, v: StateViews): void {
  const r = v.regs;
  const gpr = cpu.regs.u32;
  for (const [o, n] of GPR_OFFSETS) {
    r.setUint32(o, gpr[n]!, true);
    r.setUint32(o + 4, gpr[16 + n]!, true);
  }
  // RIP: signed form in 64-bit mode (the u64 of a canonical address), EIP elsewhere.
  setAddr(r, R.rip.offset, cpu.regs.ip, cpu.code64);
  set64(r, R.rflags.offset, cpu.eflags);
  const s = v.sregs;
  const c = cpu.ctrl;
  set64(s, S.cr0.offset, c.cr0);
  const wide = c.lma;
  setAddr(s, S.cr2.offset, c.cr2, wide);
  // CR3: up to 52 bits, unsigned (a negative value is a 32-bit register held signed).
  setAddr(s, S.cr3.offset, c.cr3, c.cr3 > 0xffff_ffff);
  set64(s, S.cr4.offset, c.cr4);
  set64(s, S.cr8.offset, c.tpr & 15);
  const segs = cpu.segs;
  for (const [o, seg] of SEGMENTS) {
    const ar = segs.attr[seg]!;
    // CS, DS, ES, SS bases are 32 bits; FS, GS, TR, LDTR hold 64-bit bases in IA-32e mode.
    setAddr(s, o + G.base.offset, segs.base[seg]!, wide && seg >= Seg.FS);
    s.setUint32(o + G.limit.offset, segs.limit[seg]!, true);
    s.setUint16(o + G.selector.offset, segs.selector[seg]!, true);
    s.setUint8(o + G.type.offset, ar & 15);
    s.setUint8(o + G.s.offset, (ar >>> 4) & 1);
    s.setUint8(o + G.dpl.offset, (ar >>> 5) & 3);
    s.setUint8(o + G.present.offset, (ar >>> 7) & 1);
    s.setUint8(o + G.avl.offset, (ar >>> 12) & 1);
    s.setUint8(o + G.l.offset, (ar >>> 13) & 1);
    s.setUint8(o + G.db.offset, (ar >>> 14) & 1);
    // A limit above 1 MiB is page-granular in the descriptor cache; the CPU model's real-mode CS load
    // keeps such a limit (SeaBIOS leaves big real mode with CS.limit 4 GiB) but drops G, which VM
    // entry rejects (SDM 26.3.1.2: limit bits 31:20 set require G=1), e.g. after a memslot change.
    s.setUint8(o + G.g.offset, (ar >>> 15) & 1 || segs.limit[seg]! > 0xf_ffff ? 1 : 0);
    s.setUint8(o + G.unusable.offset, (ar & 0x80) === 0 ? 1 : 0);
  }
  setAddr(s, S.gdt.offset, c.gdtr.base, wide);
  s.setUint16(S.gdt.offset + 8, c.gdtr.limit, true);
  setAddr(s, S.idt.offset, c.idtr.base, wide);
  s.setUint16(S.idt.offset + 8, c.idtr.limit, true);
  const slot = cpu.msrs.find(Msr.EFER);
  if (slot >= 0) set64(s, S.efer.offset, cpu.msrs.lo[slot]!);
  const d = v.debugregs;
  for (let i = 0; i < 4; i++) {
    d.setUint32(DB.db.offset + 8 * i, c.dr[i]!, true);
    d.setUint32(DB.db.offset + 8 * i + 4, c.drHi[i]!, true);
  }
  set64(d, DB.dr6.offset, c.dr[6]!);
  set64(d, DB.dr7.offset, c.dr[7]!);
  v.saveFpu(cpu);
  // The guest's XSETBV ran on the CPU (handle_xsetbv's effect): vcpu->arch.xcr0 follows.
  v.xcr0[0] = xcr0Of(cpu);
  v.xcr0[1] = 0;
}
