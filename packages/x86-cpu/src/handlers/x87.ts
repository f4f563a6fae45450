/**
 * x87 FPU instructions (D8-DF escapes, FXSAVE/FXRSTOR): the interpreter side. Decoding, memory
 * operands, CR0.EM/TS (#NM), pending-exception checks (#MF) and EFLAGS live here; the FPU state and
 * arithmetic live in `../x87/` (the `X87` unit on `cpu.fpu`).
 *
 * Memory destinations are probed for writability before the FPU state changes, so a #PF or #GP on the
 * store leaves the FPU exactly as it was and the instruction restarts cleanly.
 */
import { type Instruction, OpKind, Register } from '@typevisor/x86-decoder';
import { CR0, Mode } from '../control.js';
import type { Cpu, Handler } from '../cpu.js';
import { HandlerList } from './table.js';
import { restoreSse, SSE_IMAGE_REGS, saveSse, sseImageValid } from '../sse/image.js';
import { XMM_COUNT } from '../sse/state.js';
import { offsetPlus } from './sse-core.js';
import { raise, Vector } from '../exceptions.js';
import { getCF, getPF, getZF, setArith } from '../flags.js';
import {
  linearAddress,
  probeWrite,
  read16,
  read32,
  read8,
  write16,
  write32,
  write8,
} from '../memory-access.js';
import { locate } from '../operands.js';
import { Seg } from '../registers.js';
import {
  ENV_PROT16,
  ENV_PROT32,
  ENV_REAL16,
  ENV_REAL32,
  EFLAGS_FCOMI_MASK,
  envSize,
  FXSAVE_SIZE,
  fldenv,
  frstor,
  fsave,
  fstenv,
  fxrstor,
  fxsave,
  high32,
  PENDING_MF,
  saveSize,
  type X87,
} from '../x87/index.js';

/** Scratch image for FSTENV/FSAVE/FXSAVE and their loads. */
const image = new Uint8Array(FXSAVE_SIZE);

/**
 * Common entry: #NM when CR0.EM or CR0.TS is set (SDM Vol. 3 Table 2-2), then for waiting forms #MF
 * when an unmasked exception is pending and CR0.NE is set. With CR0.NE clear the PC routes FERR# to
 * IRQ 13; this CPU has no FERR# output yet, so the instruction goes on.
 */
function enter(cpu: Cpu, waiting: boolean): X87 {
  if (cpu.ctrl.cr0 & (CR0.EM | CR0.TS)) raise(Vector.NM);
  const fpu = cpu.fpu;
  if (waiting && fpu.checkPending((cpu.ctrl.cr0 & CR0.NE) !== 0) === PENDING_MF) raise(Vector.MF);
  return fpu;
}

/** Records FCS:FIP, FOP and (for memory forms) FDS:FDP, as non-control instructions do. */
function record(cpu: Cpu, ins: Instruction, fpu: X87, esc: number): void {
  fpu.recordInstruction(cpu.segs.selector[Seg.CS]!, cpu.startIp, (esc << 8) | (ins.modrm & 0xff));
  if (ins.op0Kind === OpKind.Memory || ins.op1Kind === OpKind.Memory) {
    fpu.recordOperand(cpu.segs.selector[cpu.eaSeg]!, cpu.eaOff);
  }
}

const st = (reg: number): number => reg - Register.ST0;

/**
 * The offset of byte `k` of a memory operand at `off`: 32-bit unsigned outside 64-bit mode, signed
 * canonical form in 64-bit mode (where `>>> 0` would break high-half addresses).
 */
function plus(ins: Instruction, off: number, k: number): number {
  return ins.bitness === 64 ? off + k : (off + k) >>> 0;
}

// ------------------------------------------------------------------ arithmetic

/** D8/DC/DA/DE memory arithmetic and compares; `kind`: 32/64 = float, 16/-32 = integer (-32 = m32int). */
function arithMem(op: number, kind: number, esc: number): Handler {
  return (cpu, ins) => {
    const fpu = enter(cpu, true);
    locate(cpu, ins);
    const seg = cpu.eaSeg;
    const off = cpu.eaOff;
    let lo = 0;
    let hi = 0;
    if (kind === 16) lo = (read16(cpu, seg, off) << 16) >> 16;
    else if (kind === 32 || kind === -32) lo = read32(cpu, seg, off);
    else {
      lo = read32(cpu, seg, off);
      hi = read32(cpu, seg, plus(ins, off, 4));
    }
    record(cpu, ins, fpu, esc);
    if (op === 2 || op === 3) {
      if (kind === 32) fpu.comF32(lo, op === 3);
      else if (kind === 64) fpu.comF64(lo, hi, op === 3);
      else fpu.comInt(kind === -32 ? lo | 0 : lo, op === 3);
      return;
    }
    if (kind === 32) fpu.arithF32(op, lo);
    else if (kind === 64) fpu.arithF64(op, lo, hi);
    else fpu.arithInt(op, kind === -32 ? lo | 0 : lo);
  };
}

/** Register arithmetic: ST(dst) = ST(dst) op ST(src); `toSti` selects the ST(i), ST(0) forms. */
function arithReg(op: number, toSti: boolean, pop: boolean, esc: number): Handler {
  return (cpu, ins) => {
    const fpu = enter(cpu, true);
    record(cpu, ins, fpu, esc);
    if (toSti) fpu.arithSt(op, st(ins.op0Register), 0, pop);
    else fpu.arithSt(op, 0, st(ins.op1Register), pop);
  };
}

function comReg(quiet: boolean, pops: number, esc: number): Handler {
  return (cpu, ins) => {
    const fpu = enter(cpu, true);
    record(cpu, ins, fpu, esc);
    const i = ins.opCount >= 2 ? st(ins.op1Register) : 1;
    fpu.comSt(i, quiet, pops);
  };
}

function comi(quiet: boolean, pop: boolean): Handler {
  return (cpu, ins) => {
    const fpu = enter(cpu, true);
    record(cpu, ins, fpu, 0xb);
    const bits = fpu.comi(st(ins.op1Register), quiet, pop);
    if (bits >= 0) setArith(cpu.flags, EFLAGS_FCOMI_MASK, bits);
  };
}

// ------------------------------------------------------------------ loads and stores

function loadMem(kind: 'f32' | 'f64' | 'f80' | 'i16' | 'i32' | 'i64' | 'bcd', esc: number): Handler {
  return (cpu, ins) => {
    const fpu = enter(cpu, true);
    locate(cpu, ins);
    const seg = cpu.eaSeg;
    const off = cpu.eaOff;
    switch (kind) {
      case 'f32': {
        const v = read32(cpu, seg, off);
        record(cpu, ins, fpu, esc);
        fpu.fldF32(v);
        return;
      }
      case 'i16': {
        const v = (read16(cpu, seg, off) << 16) >> 16;
        record(cpu, ins, fpu, esc);
        fpu.fildI32(v);
        return;
      }
      case 'i32': {
        const v = read32(cpu, seg, off) | 0;
        record(cpu, ins, fpu, esc);
        fpu.fildI32(v);
        return;
      }
      case 'bcd':
        for (let i = 0; i < 10; i++) image[i] = read8(cpu, seg, plus(ins, off, i));
        record(cpu, ins, fpu, esc);
        fpu.fbld(image, 0);
        return;
      default: {
        const lo = read32(cpu, seg, off);
        const hi = read32(cpu, seg, plus(ins, off, 4));
        if (kind === 'f80') {
          const se = read16(cpu, seg, plus(ins, off, 8));
          record(cpu, ins, fpu, esc);
          fpu.fldF80(lo, hi, se);
        } else if (kind === 'f64') {
          record(cpu, ins, fpu, esc);
          fpu.fldF64(lo, hi);
        } else {
          record(cpu, ins, fpu, esc);
          fpu.fildI64(lo, hi);
        }
      }
    }
  };
}

type StoreKind = 'f32' | 'f64' | 'f80' | 'i16' | 'i32' | 'i64' | 'bcd';
const STORE_BYTES: Record<StoreKind, number> = { f32: 4, f64: 8, f80: 10, i16: 2, i32: 4, i64: 8, bcd: 10 };

function storeMem(kind: StoreKind, pop: boolean, truncate: boolean, esc: number): Handler {
  const bytes = STORE_BYTES[kind];
  return (cpu, ins) => {
    const fpu = enter(cpu, true);
    locate(cpu, ins);
    const seg = cpu.eaSeg;
    const off = cpu.eaOff;
    probeWrite(cpu, seg, off, bytes);
    record(cpu, ins, fpu, esc);
    const out = fpu.out;
    let write: boolean;
    switch (kind) {
      case 'f32':
        write = fpu.fstFloat(32, pop);
        break;
      case 'f64':
        write = fpu.fstFloat(64, pop);
        break;
      case 'f80':
        write = fpu.fstF80();
        break;
      case 'i16':
        write = fpu.fistInt(16, pop, truncate);
        break;
      case 'i32':
        write = fpu.fistInt(32, pop, truncate);
        break;
      case 'i64':
        write = fpu.fistInt(64, pop, truncate);
        break;
      default:
        write = fpu.fbstp();
        break;
    }
    if (!write) return;
    if (kind === 'bcd') {
      for (let i = 0; i < 10; i++) write8(cpu, seg, plus(ins, off, i), fpu.bcdOut[i]!);
    } else if (kind === 'i16') write16(cpu, seg, off, out[0]!);
    else {
      write32(cpu, seg, off, out[0]!);
      if (bytes >= 8) write32(cpu, seg, plus(ins, off, 4), out[1]!);
      if (bytes === 10) write16(cpu, seg, plus(ins, off, 8), out[2]!);
    }
  };
}

// ------------------------------------------------------------------ register and control forms

/** A register-only operation on the FPU with the usual entry checks. */
function op(waiting: boolean, esc: number, fn: (fpu: X87, ins: Instruction, cpu: Cpu) => void): Handler {
  return (cpu, ins) => {
    const fpu = enter(cpu, waiting);
    if (waiting) record(cpu, ins, fpu, esc);
    fn(fpu, ins, cpu);
  };
}

/** A control instruction: no FIP/FOP update (SDM Vol. 1 §8.1.8). */
function control(waiting: boolean, fn: (fpu: X87, ins: Instruction, cpu: Cpu) => void): Handler {
  return (cpu, ins) => {
    const fpu = enter(cpu, waiting);
    fn(fpu, ins, cpu);
  };
}

function fcmov(cc: (cpu: Cpu) => boolean): Handler {
  return (cpu, ins) => {
    const fpu = enter(cpu, true);
    record(cpu, ins, fpu, 0xa);
    fpu.fcmov(st(ins.op1Register), cc(cpu));
  };
}

function envLayout(cpu: Cpu, ins: Instruction): number {
  const real = cpu.ctrl.mode !== Mode.Protected;
  if (ins.operandSize === 16) return real ? ENV_REAL16 : ENV_PROT16;
  return real ? ENV_REAL32 : ENV_PROT32;
}

function readImage(cpu: Cpu, ins: Instruction, n: number): void {
  const seg = cpu.eaSeg;
  const off = cpu.eaOff;
  for (let i = 0; i < n; i++) image[i] = read8(cpu, seg, offsetPlus(ins, off, i));
}

function writeImage(cpu: Cpu, ins: Instruction, n: number): void {
  const seg = cpu.eaSeg;
  const off = cpu.eaOff;
  for (let i = 0; i < n; i++) write8(cpu, seg, offsetPlus(ins, off, i), image[i]!);
}

/** Faults (#GP/#SS/#PF) for the first and last byte of an `n`-byte image before anything is written. */
function probeImage(cpu: Cpu, ins: Instruction, n: number): void {
  probeWrite(cpu, cpu.eaSeg, cpu.eaOff, 1);
  probeWrite(cpu, cpu.eaSeg, offsetPlus(ins, cpu.eaOff, n - 1), 1);
}

function storeEnv(save: boolean, waiting: boolean): Handler {
  return (cpu, ins) => {
    const fpu = enter(cpu, waiting);
    locate(cpu, ins);
    const layout = envLayout(cpu, ins);
    const n = save ? saveSize(layout) : envSize(layout);
    probeImage(cpu, ins, n);
    image.fill(0, 0, n);
    if (save) fsave(fpu, image, 0, layout);
    else fstenv(fpu, image, 0, layout);
    writeImage(cpu, ins, n);
  };
}

function loadEnv(restore: boolean): Handler {
  return (cpu, ins) => {
    const fpu = enter(cpu, true);
    locate(cpu, ins);
    const layout = envLayout(cpu, ins);
    const n = restore ? saveSize(layout) : envSize(layout);
    readImage(cpu, ins, n);
    if (restore) frstor(fpu, image, 0, layout);
    else fldenv(fpu, image, 0, layout);
  };
}

/**
 * FXSAVE/FXRSTOR m512 and their REX.W forms FXSAVE64/FXRSTOR64 (`wide`): 16-byte aligned linear
 * address (#GP(0) otherwise); x87, MXCSR and the XMM registers: XMM0-XMM7 outside 64-bit mode, all
 * sixteen in 64-bit mode (SDM Vol. 1 Table 10-2). The wide image holds the 64-bit FPU IP and DP at
 * bytes 8 and 16 in place of FIP/FCS and FDP/FDS (Table 10-1 vs 10-2 of the 32-bit form).
 */
function fxsr(save: boolean, wide: boolean): Handler {
  return (cpu, ins) => {
    if (cpu.ctrl.cr0 & (CR0.EM | CR0.TS)) raise(Vector.NM);
    locate(cpu, ins);
    if (linearAddress(cpu, cpu.eaSeg, cpu.eaOff) & 15) raise(Vector.GP, 0);
    const regs = ins.bitness === 64 ? XMM_COUNT : SSE_IMAGE_REGS;
    const fpu = cpu.fpu;
    if (save) {
      probeImage(cpu, ins, FXSAVE_SIZE);
      readImage(cpu, ins, FXSAVE_SIZE);
      fxsave(fpu, image, 0, wide, high32(fpu.fip), high32(fpu.fdp));
      saveSse(fpu.sse, image, regs);
      writeImage(cpu, ins, FXSAVE_SIZE);
    } else {
      readImage(cpu, ins, FXSAVE_SIZE);
      // A reserved MXCSR bit in the image is #GP(0) before any state changes (SDM: FXRSTOR).
      if (!sseImageValid(image)) raise(Vector.GP, 0);
      fxrstor(fpu, image, 0, wide);
      restoreSse(fpu.sse, image, regs);
    }
  };
}

const ARITH = ['add', 'mul', 'com', 'comp', 'sub', 'subr', 'div', 'divr'] as const;

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  ARITH.forEach((n, opn) => {
    add(`F${n}_m32fp`, arithMem(opn, 32, 0));
    add(`F${n}_m64fp`, arithMem(opn, 64, 4));
    add(`Fi${n}_m32int`, arithMem(opn, -32, 2));
    add(`Fi${n}_m16int`, arithMem(opn, 16, 6));
    if (opn !== 2 && opn !== 3) add(`F${n}_st0_sti`, arithReg(opn, false, false, 0));
  });
  add('Fcom_st0_sti', comReg(false, 0, 0));
  add('Fcomp_st0_sti', comReg(false, 1, 0));
  add('Fcom_st0_sti_DCD0', comReg(false, 0, 4));
  add('Fcomp_st0_sti_DCD8', comReg(false, 1, 4));
  add('Fcomp_st0_sti_DED0', comReg(false, 1, 6));
  add('Fcompp', comReg(false, 2, 6));
  add('Fucom_st0_sti', comReg(true, 0, 5));
  add('Fucomp_st0_sti', comReg(true, 1, 5));
  add('Fucompp', comReg(true, 2, 2));
  // DC: ST(i) = ST(i) op ST(0); DE: the same, then pop. Names follow the SDM (FSUB ST(i),ST(0) = DC E8+i).
  add('Fadd_sti_st0', arithReg(0, true, false, 4));
  add('Fmul_sti_st0', arithReg(1, true, false, 4));
  add('Fsub_sti_st0', arithReg(4, true, false, 4));
  add('Fsubr_sti_st0', arithReg(5, true, false, 4));
  add('Fdiv_sti_st0', arithReg(6, true, false, 4));
  add('Fdivr_sti_st0', arithReg(7, true, false, 4));
  add('Faddp_sti_st0', arithReg(0, true, true, 6));
  add('Fmulp_sti_st0', arithReg(1, true, true, 6));
  add('Fsubp_sti_st0', arithReg(4, true, true, 6));
  add('Fsubrp_sti_st0', arithReg(5, true, true, 6));
  add('Fdivp_sti_st0', arithReg(6, true, true, 6));
  add('Fdivrp_sti_st0', arithReg(7, true, true, 6));
  add('Fcomi_st0_sti', comi(false, false));
  add('Fucomi_st0_sti', comi(true, false));
  add('Fcomip_st0_sti', comi(false, true));
  add('Fucomip_st0_sti', comi(true, true));

  add('Fld_m32fp', loadMem('f32', 1));
  add('Fld_m64fp', loadMem('f64', 5));
  add('Fld_m80fp', loadMem('f80', 3));
  add('Fild_m16int', loadMem('i16', 7));
  add('Fild_m32int', loadMem('i32', 3));
  add('Fild_m64int', loadMem('i64', 7));
  add('Fbld_m80bcd', loadMem('bcd', 7));
  add('Fst_m32fp', storeMem('f32', false, false, 1));
  add('Fstp_m32fp', storeMem('f32', true, false, 1));
  add('Fst_m64fp', storeMem('f64', false, false, 5));
  add('Fstp_m64fp', storeMem('f64', true, false, 5));
  add('Fstp_m80fp', storeMem('f80', true, false, 3));
  add('Fist_m16int', storeMem('i16', false, false, 7));
  add('Fistp_m16int', storeMem('i16', true, false, 7));
  add('Fist_m32int', storeMem('i32', false, false, 3));
  add('Fistp_m32int', storeMem('i32', true, false, 3));
  add('Fistp_m64int', storeMem('i64', true, false, 7));
  add('Fisttp_m16int', storeMem('i16', true, true, 7));
  add('Fisttp_m32int', storeMem('i32', true, true, 3));
  add('Fisttp_m64int', storeMem('i64', true, true, 5));
  add('Fbstp_m80bcd', storeMem('bcd', true, false, 7));

  add(
    'Fld_sti',
    op(true, 1, (f, i) => f.fldSt(st(i.op0Register))),
  );
  add(
    'Fst_sti',
    op(true, 5, (f, i) => f.fstSt(st(i.op0Register), false)),
  );
  add(
    'Fstp_sti',
    op(true, 5, (f, i) => f.fstSt(st(i.op0Register), true)),
  );
  add(
    'Fstp_sti_DFD0',
    op(true, 7, (f, i) => f.fstSt(st(i.op0Register), true)),
  );
  add(
    'Fstp_sti_DFD8',
    op(true, 7, (f, i) => f.fstSt(st(i.op0Register), true)),
  );
  add(
    'Fstpnce_sti',
    op(true, 1, (f, i) => f.fstSt(st(i.op0Register), true)),
  );
  add(
    'Fxch_st0_sti',
    op(true, 1, (f, i) => f.fxch(st(i.op1Register))),
  );
  add(
    'Fxch_st0_sti_DDC8',
    op(true, 5, (f, i) => f.fxch(st(i.op1Register))),
  );
  add(
    'Fxch_st0_sti_DFC8',
    op(true, 7, (f, i) => f.fxch(st(i.op1Register))),
  );
  add(
    'Ffree_sti',
    op(true, 5, (f, i) => f.ffree(st(i.op0Register), false)),
  );
  add(
    'Ffreep_sti',
    op(true, 7, (f, i) => f.ffree(st(i.op0Register), true)),
  );
  add(
    'Fnop',
    op(true, 1, () => {}),
  );
  add(
    'Fchs',
    op(true, 1, (f) => f.fchs()),
  );
  add(
    'Fabs',
    op(true, 1, (f) => f.fabs()),
  );
  add(
    'Ftst',
    op(true, 1, (f) => f.ftst()),
  );
  add(
    'Fxam',
    op(true, 1, (f) => f.fxam()),
  );
  ['Fld1', 'Fldl2t', 'Fldl2e', 'Fldpi', 'Fldlg2', 'Fldln2', 'Fldz'].forEach((n, k) => {
    add(
      n,
      op(true, 1, (f) => f.fldConst(k)),
    );
  });
  add(
    'F2xm1',
    op(true, 1, (f) => f.f2xm1()),
  );
  add(
    'Fyl2x',
    op(true, 1, (f) => f.fyl2x(false)),
  );
  add(
    'Fyl2xp1',
    op(true, 1, (f) => f.fyl2x(true)),
  );
  add(
    'Fptan',
    op(true, 1, (f) => f.fptan()),
  );
  add(
    'Fpatan',
    op(true, 1, (f) => f.fpatan()),
  );
  add(
    'Fxtract',
    op(true, 1, (f) => f.fxtract()),
  );
  add(
    'Fprem',
    op(true, 1, (f) => f.fprem(false)),
  );
  add(
    'Fprem1',
    op(true, 1, (f) => f.fprem(true)),
  );
  add(
    'Fdecstp',
    op(true, 1, (f) => f.fdecstp()),
  );
  add(
    'Fincstp',
    op(true, 1, (f) => f.fincstp()),
  );
  add(
    'Fsqrt',
    op(true, 1, (f) => f.fsqrt()),
  );
  add(
    'Fsincos',
    op(true, 1, (f) => f.fsincos()),
  );
  add(
    'Frndint',
    op(true, 1, (f) => f.frndint()),
  );
  add(
    'Fscale',
    op(true, 1, (f) => f.fscale()),
  );
  add(
    'Fsin',
    op(true, 1, (f) => f.fsin()),
  );
  add(
    'Fcos',
    op(true, 1, (f) => f.fcos()),
  );
  add(
    'Fcmovb_st0_sti',
    fcmov((c) => getCF(c.flags) === 1),
  );
  add(
    'Fcmove_st0_sti',
    fcmov((c) => getZF(c.flags) === 1),
  );
  add(
    'Fcmovbe_st0_sti',
    fcmov((c) => (getCF(c.flags) | getZF(c.flags)) === 1),
  );
  add(
    'Fcmovu_st0_sti',
    fcmov((c) => getPF(c.flags) === 1),
  );
  add(
    'Fcmovnb_st0_sti',
    fcmov((c) => getCF(c.flags) === 0),
  );
  add(
    'Fcmovne_st0_sti',
    fcmov((c) => getZF(c.flags) === 0),
  );
  add(
    'Fcmovnbe_st0_sti',
    fcmov((c) => (getCF(c.flags) | getZF(c.flags)) === 0),
  );
  add(
    'Fcmovnu_st0_sti',
    fcmov((c) => getPF(c.flags) === 0),
  );

  // Control instructions (no FIP update); the FN forms do not wait.
  add(
    'Fninit',
    control(false, (f) => f.fninit()),
  );
  add(
    'Finit',
    control(true, (f) => f.fninit()),
  );
  add(
    'Fnclex',
    control(false, (f) => f.fnclex()),
  );
  add(
    'Fclex',
    control(true, (f) => f.fnclex()),
  );
  for (const n of ['Fneni', 'Feni', 'Fndisi', 'Fdisi', 'Fnsetpm', 'Fsetpm']) {
    // 8087/287 leftovers: no-ops on the 387 and later.
    add(
      n,
      control(!n.startsWith('Fn'), () => {}),
    );
  }
  const fldcw: Handler = (cpu, ins) => {
    const fpu = enter(cpu, true);
    locate(cpu, ins);
    fpu.fldcw(read16(cpu, cpu.eaSeg, cpu.eaOff));
  };
  add('Fldcw_m2byte', fldcw);
  const storeWord = (waiting: boolean, value: (f: X87) => number): Handler => {
    return (cpu, ins) => {
      const fpu = enter(cpu, waiting);
      if (ins.op0Kind === OpKind.Register) {
        cpu.regs.r16[0] = value(fpu);
        return;
      }
      locate(cpu, ins);
      write16(cpu, cpu.eaSeg, cpu.eaOff, value(fpu));
    };
  };
  add(
    'Fnstcw_m2byte',
    storeWord(false, (f) => f.fstcw()),
  );
  add(
    'Fstcw_m2byte',
    storeWord(true, (f) => f.fstcw()),
  );
  add(
    'Fnstsw_m2byte',
    storeWord(false, (f) => f.fstsw()),
  );
  add(
    'Fstsw_m2byte',
    storeWord(true, (f) => f.fstsw()),
  );
  add(
    'Fnstsw_AX',
    storeWord(false, (f) => f.fstsw()),
  );
  add(
    'Fstsw_AX',
    storeWord(true, (f) => f.fstsw()),
  );
  add('Fnstenv_m14byte', storeEnv(false, false));
  add('Fnstenv_m28byte', storeEnv(false, false));
  add('Fstenv_m14byte', storeEnv(false, true));
  add('Fstenv_m28byte', storeEnv(false, true));
  add('Fldenv_m14byte', loadEnv(false));
  add('Fldenv_m28byte', loadEnv(false));
  add('Fnsave_m94byte', storeEnv(true, false));
  add('Fnsave_m108byte', storeEnv(true, false));
  add('Fsave_m94byte', storeEnv(true, true));
  add('Fsave_m108byte', storeEnv(true, true));
  add('Frstor_m94byte', loadEnv(true));
  add('Frstor_m108byte', loadEnv(true));
  add('Fxsave_m512byte', fxsr(true, false));
  add('Fxrstor_m512byte', fxsr(false, false));
  add('Fxsave64_m512byte', fxsr(true, true));
  add('Fxrstor64_m512byte', fxsr(false, true));
  return list.entries;
}

export const X87_HANDLERS: readonly [number, Handler][] = entries();

/** WAIT/FWAIT: #NM when CR0.MP and CR0.TS are both set; then #MF for a pending unmasked exception. */
export const fwait: Handler = (cpu) => {
  const cr0 = cpu.ctrl.cr0;
  if ((cr0 & (CR0.MP | CR0.TS)) === (CR0.MP | CR0.TS)) raise(Vector.NM);
  if (cpu.fpu.checkPending((cr0 & CR0.NE) !== 0) === PENDING_MF) raise(Vector.MF);
};
