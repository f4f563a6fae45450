/**
 * System and flag-control instructions: CLC/STC/CMC/CLD/STD/CLI/STI, HLT, CPUID, RDTSC, RDMSR/WRMSR,
 * RDPMC, MOV to/from CR and DR, LGDT/LIDT/SGDT/SIDT, LLDT/SLDT/LTR/STR, LMSW/SMSW, CLTS, INVLPG,
 * INVD/WBINVD, PAUSE, MONITOR/MWAIT, LAR/LSL/VERR/VERW, ARPL, SYSENTER/SYSEXIT, UD0/UD1/UD2 (SDM
 * Vol. 2 and Vol. 3 ch. 2, 5).
 * The sensitive ones consult the hooks first, so a VMX layer can turn them into VM exits.
 */
import { MMU_FAULT } from '@typevisor/mmu';
import { CpuidFeature, type Instruction, OpKind, Register } from '@typevisor/x86-decoder';
import { CR0, CR4, Mode } from '../control.js';
import { Leaf7Ebx, modelCpuid, modelLeaf7Ebx } from '../cpu-model.js';
import { DR6, DR7 } from '../debug-registers.js';
import type { Cpu, Handler } from '../cpu.js';
import { HandlerList } from './table.js';
import {
  DESC,
  dplOf,
  isCodeData,
  loadCacheFromDescriptor,
  presentOf,
  readDescriptor,
  typeOf,
} from '../descriptors.js';
import { interceptInstruction, raise, raiseIntercept, Vector } from '../exceptions.js';
import { CpuExit } from '../exit.js';
import { EFLAGS, getCF, IOPL_SHIFT, materialize, setArith, setCF, writeFlags } from '../flags.js';
import { INTERCEPT } from '../hooks.js';
import {
  isCanonical,
  linearAddress,
  read16,
  read32,
  readLinear8,
  readLinear32,
  TWO_32,
  write16,
  write32,
  writeLinear8,
} from '../memory-access.js';
import { ADDRESS_MSRS, Efer, LONG_MODE_MSRS, Msr } from '../msr.js';
import { getReg, getReg64, joinSigned, locate, readOp0, setReg, setReg64, writeOp0 } from '../operands.js';
import { GPR_HI, GPR_OF, Seg } from '../registers.js';
import { fwait } from './x87.js';
import { CR4_OSXSAVE, leafDEbxWithXcr0, leaf1EcxWithOsxsave, osxsaveAllowed } from './xsave.js';
import { Attr, descriptorAttr, descriptorBase, descriptorLimit, SegType, SysType } from '../segments.js';
import type { VmxSensitive } from '../vmx-port.js';

function iopl(cpu: Cpu): number {
  return (cpu.flags.bits >>> IOPL_SHIFT) & 3;
}

/** #GP(0) unless CPL is 0 (real mode counts as 0; virtual-8086 mode as 3). */
function requireCpl0(cpu: Cpu): void {
  if (cpu.ctrl.mode === Mode.V86 || (cpu.ctrl.mode === Mode.Protected && cpu.ctrl.cpl !== 0))
    raise(Vector.GP, 0);
}

/** #UD outside protected mode (LLDT, LTR, LAR, LSL, VERR, VERW, ARPL, SLDT, STR). */
function requireProtected(cpu: Cpu): void {
  if (cpu.ctrl.mode !== Mode.Protected) raise(Vector.UD);
}

/** VMX non-root operation: "MOV-DR exiting" or "descriptor-table exiting" may make `ins` a VM exit. */
export function vmxSensitive(cpu: Cpu, op: VmxSensitive, ins: Instruction): void {
  const vmx = cpu.hooks.vmx;
  if (vmx !== undefined && vmx.nonRoot === true && vmx.instruction?.(op, ins) === INTERCEPT) raiseIntercept();
}

/**
 * VMX non-root operation: whether the port makes `ins` a VM exit (RDPMC, PAUSE, MONITOR, MWAIT,
 * WBINVD, INVD). Outside non-root operation this is one property check. The caller, which has
 * changed nothing yet, then calls `interceptInstruction` and returns.
 */
function vmxExits(cpu: Cpu, op: VmxSensitive, ins: Instruction): boolean {
  const vmx = cpu.hooks.vmx;
  return vmx !== undefined && vmx.nonRoot === true && vmx.instruction?.(op, ins) === INTERCEPT;
}

// ------------------------------------------------------------------ flags

function flagOp(mask: number, value: number): Handler {
  return (cpu) => {
    materialize(cpu.flags);
    cpu.flags.bits = (cpu.flags.bits & ~mask) | value;
  };
}
const clc: Handler = (cpu) => setCF(cpu.flags, 0);
const stc: Handler = (cpu) => setCF(cpu.flags, 1);
const cmc: Handler = (cpu) => setCF(cpu.flags, getCF(cpu.flags) ^ 1);

function checkIfChange(cpu: Cpu): void {
  const mode = cpu.ctrl.mode;
  if (mode === Mode.V86 ? iopl(cpu) < 3 : mode === Mode.Protected && cpu.ctrl.cpl > iopl(cpu))
    raise(Vector.GP, 0);
}

const cli: Handler = (cpu) => {
  checkIfChange(cpu);
  cpu.flags.bits &= ~EFLAGS.IF;
};

/** STI: interrupts stay inhibited until after the next instruction (SDM "STI"). */
const sti: Handler = (cpu) => {
  checkIfChange(cpu);
  if ((cpu.flags.bits & EFLAGS.IF) === 0) {
    cpu.flags.bits |= EFLAGS.IF;
    cpu.shadow = true;
    cpu.stop = true;
  }
};

// ------------------------------------------------------------------ HLT, CPUID, TSC, MSR

const hlt: Handler = (cpu) => {
  requireCpl0(cpu);
  if (cpu.hooks.hlt() === INTERCEPT) {
    interceptInstruction(cpu);
    return;
  }
  cpu.halted = true;
  cpu.exitReason = CpuExit.Hlt;
  cpu.stop = true;
};

const cpuid: Handler = (cpu) => {
  const r = cpu.regs;
  const out = cpu.cpuidOut;
  const leaf = modelCpuid(cpu.model, r.u32[0]!, r.u32[1]!);
  out.eax = leaf?.eax ?? 0;
  out.ebx = leaf?.ebx ?? 0;
  out.ecx = leaf?.ecx ?? 0;
  out.edx = leaf?.edx ?? 0;
  if (r.u32[0] === 1) out.ecx = leaf1EcxWithOsxsave(cpu, out.ecx);
  else if (r.u32[0] === 0xd && r.u32[1] === 0 && leaf !== undefined && leaf.leaf === 0xd)
    out.ebx = leafDEbxWithXcr0(cpu, out.ebx);
  if (cpu.hooks.cpuid(r.u32[0]!, r.u32[1]!, out) === INTERCEPT) {
    interceptInstruction(cpu);
    return;
  }
  r.r32[0] = out.eax;
  r.r32[3] = out.ebx;
  r.r32[1] = out.ecx;
  r.r32[2] = out.edx;
  // 32-bit results: bits 63:32 of RAX, RBX, RCX, RDX become 0 (harmless outside 64-bit mode).
  r.r32[GPR_HI] = 0;
  r.r32[GPR_HI + 1] = 0;
  r.r32[GPR_HI + 2] = 0;
  r.r32[GPR_HI + 3] = 0;
};

/**
 * RDTSC (and RDTSCP, `long-system.ts`): #GP(0) with CR4.TSD outside CPL 0, then the hook (RDTSC
 * exiting). Returns false when the hook intercepted (the caller returns); else EDX:EAX = TSC, upper
 * halves of RAX and RDX zeroed.
 */
export function readTsc(cpu: Cpu): boolean {
  if (cpu.ctrl.cr4 & CR4.TSD && cpu.ctrl.mode !== Mode.Real && cpu.ctrl.cpl !== 0) raise(Vector.GP, 0);
  if (cpu.hooks.rdtsc() === INTERCEPT) {
    interceptInstruction(cpu);
    return false;
  }
  const t = cpu.tsc;
  const r = cpu.regs.r32;
  r[0] = t % 4294967296;
  r[2] = Math.floor(t / 4294967296);
  r[GPR_HI] = 0;
  r[GPR_HI + 2] = 0;
  return true;
}

const rdtsc: Handler = (cpu) => {
  readTsc(cpu);
};

/**
 * RDPMC: #GP(0) unless CPL 0 or CR4.PCE; then "RDPMC exiting" (the counter-number #GP is not a
 * privilege check, so the VM exit has priority over it, SDM 26.1.1); counters 0 and 1 read 0.
 */
const rdpmc: Handler = (cpu, ins) => {
  if ((cpu.ctrl.cr4 & CR4.PCE) === 0) requireCpl0(cpu);
  if (vmxExits(cpu, 'rdpmc', ins)) {
    interceptInstruction(cpu);
    return;
  }
  if (cpu.regs.u32[1]! > 1) raise(Vector.GP, 0);
  const r = cpu.regs.r32;
  r[0] = 0;
  r[2] = 0;
  r[GPR_HI] = 0;
  r[GPR_HI + 2] = 0;
};

const rdmsr: Handler = (cpu) => {
  requireCpl0(cpu);
  const index = cpu.regs.u32[1]!;
  const v = cpu.msrScratch;
  let known = true;
  if (index === Msr.TSC) {
    const t = cpu.tsc;
    v.lo = t % 4294967296;
    v.hi = Math.floor(t / 4294967296);
  } else if (index === Msr.FS_BASE || index === Msr.GS_BASE) {
    const base = cpu.segs.base[index === Msr.FS_BASE ? Seg.FS : Seg.GS]!;
    v.lo = base >>> 0;
    v.hi = Math.floor(base / TWO_32) >>> 0;
    known = longModeCapable(cpu);
  } else {
    // An unknown MSR reaches the hook too (reading 0), so a VMM can intercept it; otherwise #GP.
    const slot = cpu.msrs.find(index);
    known = slot >= 0 && (longModeCapable(cpu) || !LONG_MODE_MSRS.includes(index));
    v.lo = slot < 0 ? 0 : cpu.msrs.lo[slot]!;
    v.hi = slot < 0 ? 0 : cpu.msrs.hi[slot]!;
  }
  const h = cpu.hooks.rdmsr(index, v);
  if (h === INTERCEPT) {
    interceptInstruction(cpu);
    return;
  }
  if (h === Vector.GP || !known) raise(Vector.GP, 0);
  const r = cpu.regs.r32;
  r[0] = v.lo;
  r[2] = v.hi;
  r[GPR_HI] = 0;
  r[GPR_HI + 2] = 0;
};

const wrmsr: Handler = (cpu) => {
  requireCpl0(cpu);
  const index = cpu.regs.u32[1]!;
  const v = cpu.msrScratch;
  v.lo = cpu.regs.u32[0]!;
  v.hi = cpu.regs.u32[2]!;
  const h = cpu.hooks.wrmsr(index, v);
  if (h === INTERCEPT) {
    interceptInstruction(cpu);
    return;
  }
  if (h === Vector.GP) raise(Vector.GP, 0);
  if (index === Msr.TSC) {
    cpu.tscOffset = v.hi * 4294967296 + v.lo - cpu.tscBase();
    return;
  }
  if (LONG_MODE_MSRS.includes(index) && !longModeCapable(cpu)) raise(Vector.GP, 0);
  if (ADDRESS_MSRS.includes(index) && !isCanonical(joinSigned(v.lo, v.hi))) raise(Vector.GP, 0);
  // SYSENTER_ESP/EIP are 64 bits wide only on a CPU with IA-32e mode.
  if ((index === Msr.SYSENTER_ESP || index === Msr.SYSENTER_EIP) && v.hi !== 0 && !longModeCapable(cpu))
    raise(Vector.GP, 0);
  if (index === Msr.FS_BASE || index === Msr.GS_BASE) {
    cpu.segs.setBase64(index === Msr.FS_BASE ? Seg.FS : Seg.GS, joinSigned(v.lo, v.hi));
    return;
  }
  if (index === Msr.EFER && v.lo & Efer.LME && !longModeCapable(cpu)) raise(Vector.GP, 0);
  const slot = cpu.msrs.find(index);
  // EFER.LME cannot change while paging is on (SDM Vol. 3 §9.8.5); LMA is read-only (writes ignored).
  if (index === Msr.EFER && cpu.ctrl.cr0 & CR0.PG && ((v.lo ^ efer(cpu)) & Efer.LME) !== 0)
    raise(Vector.GP, 0);
  const lo = index === Msr.EFER ? v.lo & ~Efer.LMA : v.lo;
  if (slot < 0 || !cpu.msrs.write(slot, lo, v.hi)) raise(Vector.GP, 0);
  if (index === Msr.EFER) {
    cpu.pager.mmu.writeEfer(cpu.msrs.lo[slot]!);
    cpu.pager.flush();
    cpu.syncLongMode();
  }
};

// ------------------------------------------------------------------ control and debug registers

/**
 * CR4 bits 0-10 (VME ... OSXMMEXCPT); KVM too allows them whatever CPUID says (cr4_guest_rsvd_bits).
 * OSXSAVE, FSGSBASE and PCIDE exist when the model has the feature (see {@link cr4Allowed}).
 */
const CR4_KNOWN =
  CR4.VME |
  CR4.PVI |
  CR4.TSD |
  CR4.DE |
  CR4.PSE |
  CR4.PAE |
  CR4.MCE |
  CR4.PGE |
  CR4.PCE |
  CR4.OSFXSR |
  CR4.OSXMMEXCPT;

/** Whether the model has IA-32e mode (CPUID.80000001H:EDX.LM): its MSRs and EFER.LME exist. */
export function longModeCapable(cpu: Cpu): boolean {
  return cpu.features[CpuidFeature.X64] === 1;
}

/** The EFER MSR's value. */
function efer(cpu: Cpu): number {
  return cpu.pager.mmu.state.efer;
}

/** CPUID.01H:ECX.PCID[bit 17]: process-context identifiers (CR4.PCIDE). */
const CPUID_1_ECX_PCID = 1 << 17;

/** The CR4 bits MOV to CR4 accepts on this CPU: {@link CR4_KNOWN} plus those of the model's features. */
function cr4Allowed(cpu: Cpu): number {
  let bits = osxsaveAllowed(cpu) ? CR4_KNOWN | CR4_OSXSAVE : CR4_KNOWN;
  if (cpu.features[CpuidFeature.FSGSBASE] === 1) bits |= CR4.FSGSBASE;
  // SMEP (CR4 bit 20): the MMU's walkers enforce it; MOV to CR4 accepts it on a model that reports it.
  if ((modelLeaf7Ebx(cpu.model) & Leaf7Ebx.SMEP) !== 0) bits |= CR4.SMEP;
  if (longModeCapable(cpu) && ((modelCpuid(cpu.model, 1, 0)?.ecx ?? 0) & CPUID_1_ECX_PCID) !== 0)
    bits |= CR4.PCIDE;
  return bits;
}

/**
 * Writes CRn with the architectural checks; used by MOV CR, LMSW and CLTS. `hi`: bits 63:32 of the
 * source in 64-bit mode, which only CR2, CR3 and CR8 take (MOV CR checks CR0/CR4 before).
 */
export function writeCr(cpu: Cpu, n: number, value: number, hi = 0): void {
  const c = cpu.ctrl;
  value >>>= 0;
  switch (n) {
    case 0: {
      // Reserved bits 63:32 do not exist here; PG without PE and NW without CD are #GP(0).
      if (value & CR0.PG && (value & CR0.PE) === 0) raise(Vector.GP, 0);
      if (value & CR0.NW && (value & CR0.CD) === 0) raise(Vector.GP, 0);
      // IA-32e: paging with EFER.LME needs CR4.PAE and a CS without L; 64-bit mode cannot turn
      // paging off (compatibility mode can: that is how IA-32e mode is left), SDM Vol. 3 §9.8.5.
      if (value & CR0.PG && (c.cr0 & CR0.PG) === 0 && efer(cpu) & Efer.LME) {
        if ((c.cr4 & CR4.PAE) === 0 || cpu.segs.attr[Seg.CS]! & Attr.L) raise(Vector.GP, 0);
      }
      if ((value & CR0.PG) === 0 && cpu.code64) raise(Vector.GP, 0);
      // Paging cannot be turned off while CR4.PCIDE is set (SDM "MOV-Move to/from Control Registers").
      if ((value & CR0.PG) === 0 && c.cr4 & CR4.PCIDE) raise(Vector.GP, 0);
      if (cpu.hooks.movToCr(0, value) === INTERCEPT) raiseIntercept();
      const old = c.cr0;
      const next = (value | CR0.ET) >>> 0;
      if (cpu.pager.mmu.writeCr0(next) === MMU_FAULT) raise(Vector.GP, 0);
      c.cr0 = next;
      if ((old ^ c.cr0) & (CR0.PG | CR0.PE | CR0.WP | CR0.CD | CR0.NW)) cpu.pager.flush();
      cpu.syncLongMode();
      cpu.updateMode();
      if (c.mode === Mode.Real) c.cpl = 0;
      cpu.stop = true;
      return;
    }
    case 2:
      // A linear address (signed form when canonical, as the #PF delivery stores it).
      c.cr2 = hi === 0 ? value : joinSigned(value, hi);
      return;
    case 3: {
      // With CR4.PCIDE, bit 63 asks not to flush the PCID's translations and is not stored; the
      // other bits above MAXPHYADDR are reserved (SDM Vol. 3 §4.10.4.1, §2.5).
      let h = hi >>> 0;
      let noFlush = false;
      if (c.cr4 & CR4.PCIDE) {
        noFlush = (h & 0x80000000) !== 0;
        h &= 0x7fffffff;
      }
      if ((h & ~cpu.pager.mmu.state.addressHi) !== 0) raise(Vector.GP, 0);
      const cr3 = h * TWO_32 + value;
      if (cpu.hooks.movToCr(3, cr3) === INTERCEPT) raiseIntercept();
      if (cpu.pager.mmu.writeCr3(cr3, noFlush) === MMU_FAULT) raise(Vector.GP, 0);
      c.cr3 = cr3;
      cpu.pager.flush();
      return;
    }
    case 4:
      if (value & ~cr4Allowed(cpu)) raise(Vector.GP, 0);
      // CR4.PAE cannot be cleared in IA-32e mode (SDM Vol. 3 §2.5, MOV CR4 #GP conditions).
      if (c.lma && (value & CR4.PAE) === 0) raise(Vector.GP, 0);
      // PCIDE can be set only in IA-32e mode with PCID 0 in CR3[11:0].
      if (value & CR4.PCIDE && (c.cr4 & CR4.PCIDE) === 0 && (!c.lma || c.cr3 % 4096 !== 0))
        raise(Vector.GP, 0);
      if (cpu.hooks.movToCr(4, value) === INTERCEPT) raiseIntercept();
      if (cpu.pager.mmu.writeCr4(value) === MMU_FAULT) raise(Vector.GP, 0);
      c.cr4 = value;
      cpu.pager.flush();
      // CR4.DE turns R/W=10 into I/O breakpoints.
      cpu.syncBreakpoints();
      cpu.stop = true;
      return;
    case 8:
      // CR8 exists in 64-bit mode only: the TPR in bits 3:0, bits 63:4 reserved.
      if (!cpu.code64) raise(Vector.UD);
      if (hi !== 0 || value > 0xf) raise(Vector.GP, 0);
      c.tpr = value;
      return;
    default:
      raise(Vector.UD);
  }
}

export function readCr(cpu: Cpu, n: number): number {
  const c = cpu.ctrl;
  switch (n) {
    case 0:
      return c.cr0;
    case 2:
      return c.cr2;
    case 3:
      return c.cr3;
    case 4:
      return c.cr4;
    case 8:
      if (!cpu.code64) raise(Vector.UD);
      return c.tpr;
    default:
      return raise(Vector.UD);
  }
}

const movFromCr: Handler = (cpu, ins) => {
  requireCpl0(cpu);
  setReg(cpu, ins.op0Register, 32, readCr(cpu, ins.op1Register - Register.CR0));
};

const movToCr: Handler = (cpu, ins) => {
  requireCpl0(cpu);
  writeCr(cpu, ins.op0Register - Register.CR0, getReg(cpu, ins.op1Register, 32));
};

/**
 * MOV r64, CRn (64-bit mode: the operand is always 64 bits). CR2 and CR3 may hold more than 32 bits;
 * CR0, CR4 and CR8 are zero-extended.
 */
const movFromCr64: Handler = (cpu, ins) => {
  requireCpl0(cpu);
  const n = ins.op1Register - Register.CR0;
  const v = readCr(cpu, n);
  // CR2 (a linear address, signed form in 64-bit mode) and CR3 may exceed 32 bits; the others do not.
  setReg64(cpu, ins.op0Register, v >>> 0, n === 2 || n === 3 ? Math.floor(v / TWO_32) >>> 0 : 0);
};

/** MOV CRn, r64: bits 63:32 of CR0 and CR4 are reserved (#GP(0)). */
const movToCr64: Handler = (cpu, ins) => {
  requireCpl0(cpu);
  const n = ins.op0Register - Register.CR0;
  const lo = getReg64(cpu, ins.op1Register);
  const hi = cpu.hi;
  if ((n === 0 || n === 4) && hi !== 0) raise(Vector.GP, 0);
  writeCr(cpu, n, lo, hi);
};

function drIndex(cpu: Cpu, reg: number): number {
  let n = reg - Register.DR0;
  if (n === 4 || n === 5) {
    if (cpu.ctrl.cr4 & CR4.DE) raise(Vector.UD);
    n += 2;
  }
  if (n > 7) raise(Vector.UD);
  return n;
}

/**
 * DR7.GD: any MOV DR is a #DB fault with DR6.BD (SDM Vol. 3 §18.2.4), after the #UD and #GP checks and
 * after a VM exit for MOV DR, which takes precedence.
 */
function generalDetect(cpu: Cpu): void {
  if ((cpu.bp.dr7 & DR7.GD) === 0) return;
  cpu.bp.pending = DR6.BD;
  raise(Vector.DB);
}

/** MOV r32, DRn and (64-bit mode) MOV r64, DRn: DR0..DR3 with their bits 63:32. */
const movFromDr: Handler = (cpu, ins) => {
  requireCpl0(cpu);
  const n = drIndex(cpu, ins.op1Register);
  vmxSensitive(cpu, 'movFromDr', ins);
  generalDetect(cpu);
  if (ins.operandSize === 64) setReg64(cpu, ins.op0Register, cpu.ctrl.dr[n]!, n < 4 ? cpu.ctrl.drHi[n]! : 0);
  else setReg(cpu, ins.op0Register, 32, cpu.ctrl.dr[n]!);
};

/**
 * MOV DRn, r32 and (64-bit mode) MOV DRn, r64: bits 63:32 of DR6 and DR7 must be 0 (#GP(0)); those
 * of DR0..DR3 are kept (breakpoint matching, `debug-registers.ts`, uses bits 31:0).
 */
const movToDr: Handler = (cpu, ins) => {
  requireCpl0(cpu);
  const n = drIndex(cpu, ins.op0Register);
  vmxSensitive(cpu, 'movToDr', ins);
  generalDetect(cpu);
  let v = getReg(cpu, ins.op1Register, 32);
  if (ins.operandSize === 64) {
    const hi = cpu.regs.u32[GPR_HI + GPR_OF[ins.op1Register]!]!;
    if (n >= 6 && hi !== 0) raise(Vector.GP, 0);
    if (n < 4) cpu.ctrl.drHi[n] = hi;
  } else if (n < 4) cpu.ctrl.drHi[n] = 0;
  if (n === 6) v = (v | 0xffff0ff0) >>> 0;
  if (n === 7) v = ((v | 0x400) & ~0xd000) >>> 0;
  cpu.ctrl.dr[n] = v;
  if (n !== 6) {
    // New breakpoints: decoded now, and the loop re-chooses its path (block or instruction by instruction).
    cpu.syncBreakpoints();
    cpu.stop = true;
  }
};

const clts: Handler = (cpu) => {
  requireCpl0(cpu);
  cpu.ctrl.cr0 = (cpu.ctrl.cr0 & ~CR0.TS) >>> 0;
};

/** LMSW: loads CR0 bits 0-3; can set PE but never clear it. */
const lmsw: Handler = (cpu, ins) => {
  requireCpl0(cpu);
  const v = readOp0(cpu, ins, 16);
  const old = cpu.ctrl.cr0;
  const next = (old & ~0xe) | (v & 0xf) | (old & CR0.PE);
  writeCr(cpu, 0, next);
};

function smsw(size: number): Handler {
  return (cpu, ins) => {
    if (ins.op0Kind === OpKind.Register)
      setReg(cpu, ins.op0Register, size, size === 16 ? cpu.ctrl.cr0 & 0xffff : cpu.ctrl.cr0);
    else writeOp0(cpu, ins, 16, cpu.ctrl.cr0 & 0xffff, false);
  };
}

// ------------------------------------------------------------------ descriptor tables

function loadTable(idt: boolean, size: number): Handler {
  return (cpu, ins) => {
    requireCpl0(cpu);
    if (ins.op0Kind !== OpKind.Memory) raise(Vector.UD);
    vmxSensitive(cpu, idt ? 'lidt' : 'lgdt', ins);
    locate(cpu, ins);
    const limit = read16(cpu, cpu.eaSeg, cpu.eaOff);
    let base = read32(cpu, cpu.eaSeg, (cpu.eaOff + 2) >>> 0);
    if (size === 16) base &= 0xffffff;
    const t = idt ? cpu.ctrl.idtr : cpu.ctrl.gdtr;
    t.base = base >>> 0;
    t.limit = limit;
  };
}

function storeTable(idt: boolean, size: number): Handler {
  return (cpu, ins) => {
    if (ins.op0Kind !== OpKind.Memory) raise(Vector.UD);
    vmxSensitive(cpu, idt ? 'sidt' : 'sgdt', ins);
    locate(cpu, ins);
    const t = idt ? cpu.ctrl.idtr : cpu.ctrl.gdtr;
    write16(cpu, cpu.eaSeg, cpu.eaOff, t.limit);
    // 16-bit operand size stores a 24-bit base with the top byte 0 on 386 and later (SDM "SGDT").
    write32(cpu, cpu.eaSeg, (cpu.eaOff + 2) >>> 0, size === 16 ? t.base & 0xffffff : t.base);
  };
}

/**
 * LLDT/LTR in IA-32e mode (64-bit and compatibility mode): the LDT and TSS descriptors are 16 bytes
 * (SDM Vol. 3 §7.2.3, §3.5.2), in the GDT only. Checks the type (LDT, or available 64-bit TSS), the
 * upper type field (bits 12:8 of the fourth dword, which must be 0), presence and the canonical 64-bit
 * base; marks a TSS busy; loads the cache with the 64-bit base. The errors are those of LLDT/LTR.
 */
function loadSystemSegment64(cpu: Cpu, seg: number, sel: number): void {
  const err = sel & 0xfffc;
  if (sel & 4) raise(Vector.GP, err);
  const index = sel & 0xfff8;
  const g = cpu.ctrl.gdtr;
  if (index + 15 > g.limit) raise(Vector.GP, err);
  const addr = g.base + index;
  const lo = readLinear32(cpu, addr, false);
  const hi = readLinear32(cpu, addr + 4, false);
  const baseHi = readLinear32(cpu, addr + 8, false);
  const upper = readLinear32(cpu, addr + 12, false);
  const type = typeOf(hi);
  const want = seg === Seg.TR ? SysType.TSS32_AVAILABLE : SysType.LDT;
  if (isCodeData(hi) || type !== want || (upper & 0x1f00) !== 0) raise(Vector.GP, err);
  if (!presentOf(hi)) raise(Vector.NP, err);
  const base = joinSigned(descriptorBase(lo, hi), baseHi);
  if (!isCanonical(base)) raise(Vector.GP, err);
  let attr = descriptorAttr(hi);
  if (seg === Seg.TR) {
    writeLinear8(cpu, addr + 5, ((hi >>> 8) & 0xff) | 2, false);
    attr |= 2;
  }
  cpu.segs.set(seg, sel, 0, descriptorLimit(lo, hi), attr);
  cpu.segs.setBase64(seg, base);
}

const lldt: Handler = (cpu, ins) => {
  requireProtected(cpu);
  requireCpl0(cpu);
  vmxSensitive(cpu, 'lldt', ins);
  const sel = readOp0(cpu, ins, 16);
  if ((sel & 0xfffc) === 0) {
    cpu.segs.setNull(Seg.LDTR, sel);
    return;
  }
  if (cpu.ctrl.lma) {
    loadSystemSegment64(cpu, Seg.LDTR, sel);
    return;
  }
  if (sel & 4) raise(Vector.GP, sel & 0xfffc);
  readDescriptor(cpu, sel);
  if (isCodeData(DESC.hi) || typeOf(DESC.hi) !== SysType.LDT) raise(Vector.GP, sel & 0xfffc);
  if (!presentOf(DESC.hi)) raise(Vector.NP, sel & 0xfffc);
  loadCacheFromDescriptor(cpu, Seg.LDTR, sel);
};

const ltr: Handler = (cpu, ins) => {
  requireProtected(cpu);
  requireCpl0(cpu);
  vmxSensitive(cpu, 'ltr', ins);
  const sel = readOp0(cpu, ins, 16);
  if ((sel & 0xfffc) === 0) raise(Vector.GP, 0);
  if (cpu.ctrl.lma) {
    loadSystemSegment64(cpu, Seg.TR, sel);
    return;
  }
  if (sel & 4) raise(Vector.GP, sel & 0xfffc);
  readDescriptor(cpu, sel);
  const t = typeOf(DESC.hi);
  if (isCodeData(DESC.hi) || (t !== SysType.TSS16_AVAILABLE && t !== SysType.TSS32_AVAILABLE)) {
    raise(Vector.GP, sel & 0xfffc);
  }
  if (!presentOf(DESC.hi)) raise(Vector.NP, sel & 0xfffc);
  // Mark the TSS busy in the GDT.
  writeLinear8(cpu, (DESC.address + 5) >>> 0, readLinear8(cpu, (DESC.address + 5) >>> 0, false) | 2, false);
  DESC.hi |= 0x200;
  loadCacheFromDescriptor(cpu, Seg.TR, sel);
};

function storeSel(seg: number, size: number): Handler {
  return (cpu, ins) => {
    requireProtected(cpu);
    vmxSensitive(cpu, seg === Seg.TR ? 'str' : 'sldt', ins);
    const sel = cpu.segs.selector[seg]!;
    if (ins.op0Kind === OpKind.Register) setReg(cpu, ins.op0Register, size, sel);
    else writeOp0(cpu, ins, 16, sel, false);
  };
}

/**
 * Reads the descriptor for LAR/LSL/VERR/VERW; returns false (ZF=0) when the selector is null, outside
 * the table or not visible at the current privilege.
 */
function visibleDescriptor(cpu: Cpu, sel: number, system: (type: number) => boolean): boolean {
  if ((sel & 0xfffc) === 0) return false;
  const index = sel & 0xfff8;
  const limit = sel & 4 ? cpu.segs.limit[Seg.LDTR]! : cpu.ctrl.gdtr.limit;
  if (sel & 4 && (cpu.segs.access[Seg.LDTR]! & 4) === 0) return false;
  if (index + 7 > limit) return false;
  readDescriptor(cpu, sel);
  const hi = DESC.hi;
  const type = typeOf(hi);
  if (!isCodeData(hi)) {
    if (!system(type)) return false;
  } else if (
    (type & (SegType.CODE | SegType.EXPAND_DOWN_OR_CONFORMING)) ===
    (SegType.CODE | SegType.EXPAND_DOWN_OR_CONFORMING)
  ) {
    return true;
  }
  const dpl = dplOf(hi);
  return !(dpl < cpu.ctrl.cpl || dpl < (sel & 3));
}

const larTypes = (t: number): boolean => t !== 0 && t !== 8 && t !== 10 && t !== 13;
const lslTypes = (t: number): boolean => t === 1 || t === 2 || t === 3 || t === 9 || t === 11;

function lar(size: number): Handler {
  return (cpu, ins) => {
    requireProtected(cpu);
    const sel = readOp1Sel(cpu, ins);
    if (!visibleDescriptor(cpu, sel, larTypes)) {
      setArith(cpu.flags, EFLAGS.ZF, 0);
      return;
    }
    setReg(cpu, ins.op0Register, size, size === 16 ? DESC.hi & 0xff00 : DESC.hi & 0xf0ff00);
    setArith(cpu.flags, EFLAGS.ZF, EFLAGS.ZF);
  };
}

function lsl(size: number): Handler {
  return (cpu, ins) => {
    requireProtected(cpu);
    const sel = readOp1Sel(cpu, ins);
    if (!visibleDescriptor(cpu, sel, lslTypes)) {
      setArith(cpu.flags, EFLAGS.ZF, 0);
      return;
    }
    const raw = (DESC.lo & 0xffff) | (DESC.hi & 0xf0000);
    const limit = DESC.hi & 0x800000 ? ((raw << 12) | 0xfff) >>> 0 : raw;
    setReg(cpu, ins.op0Register, size, size === 16 ? limit & 0xffff : limit);
    setArith(cpu.flags, EFLAGS.ZF, EFLAGS.ZF);
  };
}

function readOp1Sel(cpu: Cpu, ins: Instruction): number {
  if (ins.op1Kind === OpKind.Register) return getReg(cpu, ins.op1Register, 16);
  locate(cpu, ins);
  return read16(cpu, cpu.eaSeg, cpu.eaOff);
}

function verify(write: boolean): Handler {
  return (cpu, ins) => {
    requireProtected(cpu);
    const sel = readOp0(cpu, ins, 16);
    let ok = visibleDescriptor(cpu, sel, () => false) && isCodeData(DESC.hi);
    if (ok) {
      const t = typeOf(DESC.hi);
      ok = write
        ? (t & SegType.CODE) === 0 && (t & SegType.WRITABLE_OR_READABLE) !== 0
        : (t & SegType.CODE) === 0 || (t & SegType.WRITABLE_OR_READABLE) !== 0;
    }
    setArith(cpu.flags, EFLAGS.ZF, ok ? EFLAGS.ZF : 0);
  };
}

const arpl: Handler = (cpu, ins) => {
  requireProtected(cpu);
  const dst = readOp0(cpu, ins, 16);
  const src = getReg(cpu, ins.op1Register, 16);
  if ((dst & 3) < (src & 3)) {
    writeOp0(cpu, ins, 16, (dst & ~3) | (src & 3), true);
    setArith(cpu.flags, EFLAGS.ZF, EFLAGS.ZF);
  } else setArith(cpu.flags, EFLAGS.ZF, 0);
};

const invlpg: Handler = (cpu, ins) => {
  requireCpl0(cpu);
  locate(cpu, ins);
  // 64-bit mode: a canonical address in signed form (FS/GS with their 64-bit base).
  const linear = linearAddress(cpu, cpu.eaSeg, cpu.eaOff);
  if (cpu.hooks.invlpg(linear) === INTERCEPT) {
    interceptInstruction(cpu);
    return;
  }
  cpu.pager.invalidate(linear);
};

/** INVD, WBINVD: CPL 0; caches are not modelled, so they do nothing unless they are a VM exit. */
function cacheInvalidate(op: 'invd' | 'wbinvd'): Handler {
  return (cpu, ins) => {
    requireCpl0(cpu);
    if (vmxExits(cpu, op, ins)) interceptInstruction(cpu);
  };
}

/** PAUSE (F3 90): a spin-loop hint, a no-op unless "PAUSE exiting" makes it a VM exit. */
const pause: Handler = (cpu, ins) => {
  if (vmxExits(cpu, 'pause', ins)) interceptInstruction(cpu);
};

/** MONITOR and MWAIT exist only at CPL 0 (#UD elsewhere, virtual-8086 mode included). */
function requireMonitorCpl0(cpu: Cpu): void {
  if (cpu.ctrl.mode === Mode.V86 || (cpu.ctrl.mode === Mode.Protected && cpu.ctrl.cpl !== 0))
    raise(Vector.UD);
}

/**
 * MONITOR (only decoded when the model has CpuidFeature.MONITOR): ECX holds no extensions, so any
 * nonzero ECX is #GP(0). The address range is not monitored (no store wakes an MWAIT), and the DS:EAX
 * address is not checked: reading it to probe could touch MMIO.
 */
const monitor: Handler = (cpu, ins) => {
  requireMonitorCpl0(cpu);
  if (vmxExits(cpu, 'monitor', ins)) {
    interceptInstruction(cpu);
    return;
  }
  if (cpu.regs.u32[1]! !== 0) raise(Vector.GP, 0);
};

/**
 * MWAIT: no extensions (CPUID leaf 5 is absent), so nonzero ECX is #GP(0). It returns at once, as a
 * wake-up event right after entering the optimized state would (the SDM allows it).
 */
const mwait: Handler = (cpu, ins) => {
  requireMonitorCpl0(cpu);
  if (vmxExits(cpu, 'mwait', ins)) {
    interceptInstruction(cpu);
    return;
  }
  if (cpu.regs.u32[1]! !== 0) raise(Vector.GP, 0);
};

const ud: Handler = () => raise(Vector.UD);

// ------------------------------------------------------------------ SYSENTER / SYSEXIT

/** Flat segment attributes SYSENTER/SYSEXIT load (SDM "SYSENTER": fixed values, not the GDT). */
const FLAT_CODE =
  Attr.P | Attr.S | SegType.CODE | SegType.WRITABLE_OR_READABLE | SegType.ACCESSED | Attr.DB | Attr.G;
const FLAT_DATA = Attr.P | Attr.S | SegType.WRITABLE_OR_READABLE | SegType.ACCESSED | Attr.DB | Attr.G;

/** The flat 64-bit code segment of SYSENTER/SYSCALL in IA-32e mode: L = 1, D = 0. */
export const FLAT_CODE64 =
  Attr.P | Attr.S | SegType.CODE | SegType.WRITABLE_OR_READABLE | SegType.ACCESSED | Attr.L | Attr.G;

/**
 * SYSENTER: in IA-32e mode (64-bit or compatibility mode) it enters 64-bit mode with the full 64-bit
 * SYSENTER_ESP/EIP (SDM "SYSENTER", Intel behaviour).
 */
const sysenter: Handler = (cpu) => {
  if (cpu.ctrl.mode === Mode.Real) raise(Vector.GP, 0);
  const cs = cpu.msrs.getLo(Msr.SYSENTER_CS) & 0xfffc;
  if (cs === 0) raise(Vector.GP, 0);
  materialize(cpu.flags);
  writeFlags(cpu.flags, cpu.flags.bits & ~(EFLAGS.VM | EFLAGS.IF | EFLAGS.RF));
  cpu.updateMode();
  const long = cpu.ctrl.lma;
  cpu.segs.set(Seg.CS, cs, 0, 0xffffffff, long ? FLAT_CODE64 : FLAT_CODE);
  cpu.segs.set(Seg.SS, (cs + 8) & 0xfffc, 0, 0xffffffff, FLAT_DATA);
  cpu.ctrl.cpl = 0;
  const r = cpu.regs.r32;
  const m = cpu.msrs;
  const esp = m.find(Msr.SYSENTER_ESP);
  const eip = m.find(Msr.SYSENTER_EIP);
  r[4] = m.lo[esp]!;
  r[GPR_HI + 4] = long ? m.hi[esp]! : 0;
  cpu.regs.ip = long ? joinSigned(m.lo[eip]!, m.hi[eip]!) : m.lo[eip]!;
  cpu.stop = true;
};

/**
 * SYSEXIT: to 32-bit code at CS = SYSENTER_CS + 16; with REX.W (`Sysexitq`, 64-bit mode) to 64-bit
 * code at SYSENTER_CS + 32 with RSP = RCX and RIP = RDX, which must be canonical (#GP(0)).
 */
function sysexit(wide: boolean): Handler {
  return (cpu) => {
    const cs = cpu.msrs.getLo(Msr.SYSENTER_CS) & 0xfffc;
    if (cpu.ctrl.mode !== Mode.Protected || cpu.ctrl.cpl !== 0 || cs === 0) raise(Vector.GP, 0);
    const u = cpu.regs.u32;
    const r = cpu.regs.r32;
    if (wide) {
      const rsp = joinSigned(u[1]!, u[GPR_HI + 1]!);
      const rip = joinSigned(u[2]!, u[GPR_HI + 2]!);
      if (!isCanonical(rsp) || !isCanonical(rip)) raise(Vector.GP, 0);
      cpu.segs.set(Seg.CS, (cs + 32) | 3, 0, 0xffffffff, FLAT_CODE64 | (3 << Attr.DPL_SHIFT));
      cpu.segs.set(Seg.SS, (cs + 40) | 3, 0, 0xffffffff, FLAT_DATA | (3 << Attr.DPL_SHIFT));
      r[4] = r[1]!;
      r[GPR_HI + 4] = r[GPR_HI + 1]!;
      cpu.regs.ip = rip;
    } else {
      cpu.segs.set(Seg.CS, (cs + 16) | 3, 0, 0xffffffff, FLAT_CODE | (3 << Attr.DPL_SHIFT));
      cpu.segs.set(Seg.SS, (cs + 24) | 3, 0, 0xffffffff, FLAT_DATA | (3 << Attr.DPL_SHIFT));
      r[4] = r[1]!;
      r[GPR_HI + 4] = 0;
      cpu.regs.ip = u[2]!;
    }
    cpu.ctrl.cpl = 3;
    cpu.stop = true;
  };
}

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  add('Clc', clc);
  add('Stc', stc);
  add('Cmc', cmc);
  add('Cld', flagOp(EFLAGS.DF, 0));
  add('Std', flagOp(EFLAGS.DF, EFLAGS.DF));
  add('Cli', cli);
  add('Sti', sti);
  add('Hlt', hlt);
  add('Cpuid', cpuid);
  add('Rdtsc', rdtsc);
  add('Rdpmc', rdpmc);
  add('Rdmsr', rdmsr);
  add('Wrmsr', wrmsr);
  add('Mov_r32_cr', movFromCr);
  add('Mov_cr_r32', movToCr);
  add('Mov_r64_cr', movFromCr64);
  add('Mov_cr_r64', movToCr64);
  add('Mov_r32_dr', movFromDr);
  add('Mov_dr_r32', movToDr);
  add('Mov_r64_dr', movFromDr);
  add('Mov_dr_r64', movToDr);
  add('Clts', clts);
  add('Lmsw_rm16', lmsw);
  add('Lmsw_r32m16', lmsw);
  add('Lmsw_r64m16', lmsw);
  add('Smsw_rm16', smsw(16));
  add('Smsw_r32m16', smsw(32));
  // r64 forms: the 32-bit register write zero-extends (CR0 and the selectors have no bits 63:32).
  add('Smsw_r64m16', smsw(32));
  add('Lgdt_m1632_16', loadTable(false, 16));
  add('Lgdt_m1632', loadTable(false, 32));
  add('Lidt_m1632_16', loadTable(true, 16));
  add('Lidt_m1632', loadTable(true, 32));
  add('Sgdt_m1632_16', storeTable(false, 16));
  add('Sgdt_m1632', storeTable(false, 32));
  add('Sidt_m1632_16', storeTable(true, 16));
  add('Sidt_m1632', storeTable(true, 32));
  add('Lldt_rm16', lldt);
  add('Lldt_r32m16', lldt);
  add('Lldt_r64m16', lldt);
  add('Ltr_rm16', ltr);
  add('Ltr_r32m16', ltr);
  add('Ltr_r64m16', ltr);
  add('Sldt_rm16', storeSel(Seg.LDTR, 16));
  add('Sldt_r32m16', storeSel(Seg.LDTR, 32));
  add('Sldt_r64m16', storeSel(Seg.LDTR, 32));
  add('Str_rm16', storeSel(Seg.TR, 16));
  add('Str_r32m16', storeSel(Seg.TR, 32));
  add('Str_r64m16', storeSel(Seg.TR, 32));
  add('Lar_r16_rm16', lar(16));
  add('Lar_r32_r32m16', lar(32));
  add('Lsl_r16_rm16', lsl(16));
  add('Lsl_r32_r32m16', lsl(32));
  add('Verr_rm16', verify(false));
  add('Verr_r32m16', verify(false));
  add('Verw_rm16', verify(true));
  add('Verw_r32m16', verify(true));
  add('Arpl_rm16_r16', arpl);
  add('Arpl_r32m16_r32', arpl);
  add('Invlpg_m', invlpg);
  add('Invd', cacheInvalidate('invd'));
  add('Wbinvd', cacheInvalidate('wbinvd'));
  add('Pause', pause);
  add('Monitorw', monitor);
  add('Monitord', monitor);
  add('Mwait', mwait);
  add('Sysenter', sysenter);
  add('Sysexitd', sysexit(false));
  add('Sysexitq', sysexit(true));
  add('Ud2', ud);
  add('Wait', fwait);
  for (const s of [16, 32]) {
    add(`Ud0_r${s}_rm${s}`, ud);
    add(`Ud1_r${s}_rm${s}`, ud);
  }
  return list.entries;
}

export const SYSTEM_HANDLERS: readonly [number, Handler][] = entries();
