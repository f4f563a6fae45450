/**
 * The VMX instructions (SDM Vol. 3C chapter 31) as thin handlers: decode the operands, hand them to the
 * VT-x model attached as `CpuHooks.vmx` (see `vmx-port.ts`) and act on its answer. With no model they
 * are #UD. Also the wrappers of MOV to/from CR0 and CR4 that let a VMX model own CR4.VMXE, the fixed
 * bits of VMX operation and the guest/host masks and read shadows of non-root operation.
 */
import { Code, type Instruction, Register } from '@typevisor/x86-decoder';
import { Mode } from '../control.js';
import type { Cpu, Handler } from '../cpu.js';
import { raise, raiseIntercept, Vector } from '../exceptions.js';
import { INTERCEPT } from '../hooks.js';
import { getReg, setReg } from '../operands.js';
import { GPR_HI, GPR_OF } from '../registers.js';
import { CR4_VMXE, VmxInstruction, VmxOperands } from '../vmx-port.js';
import { readCr, writeCr } from './system.js';
import { HandlerList } from './table.js';

/** One scratch operand record: handlers run one at a time on a thread. */
const OPERANDS = new VmxOperands();

/** Which operand slot holds the register operand of each form. */
const RegisterSlot = { None: 0, Op0: 1, Op1: 2 } as const;
type RegisterSlot = (typeof RegisterSlot)[keyof typeof RegisterSlot];

function vmxHandler(op: VmxInstruction, slot: RegisterSlot): Handler {
  return (cpu, ins) => {
    const port = cpu.hooks.vmx;
    if (port === undefined) raise(Vector.UD);
    const o = OPERANDS;
    o.cpu = cpu;
    o.ins = ins;
    o.register =
      slot === RegisterSlot.Op0
        ? getReg(cpu, ins.op0Register, 32) >>> 0
        : slot === RegisterSlot.Op1
          ? getReg(cpu, ins.op1Register, 32) >>> 0
          : 0;
    const r = port.execute(op, o);
    if (r === INTERCEPT) raiseIntercept();
    if (r !== 0) raise(r, 0);
    // Entry and exit change modes, flags and control registers: leave the block.
    cpu.stop = true;
  };
}

/** #GP(0) unless CPL is 0 (real mode counts as 0; virtual-8086 mode as 3). */
function requireCpl0(cpu: Cpu): void {
  if (cpu.ctrl.mode === Mode.V86 || (cpu.ctrl.mode === Mode.Protected && cpu.ctrl.cpl !== 0))
    raise(Vector.GP, 0);
}

/** MOV to CR0/CR4 with a VMX model attached: the model decides exits, fixed bits and CR4.VMXE. */
function movToCrWithVmx(original: Handler): Handler {
  return (cpu, ins, ops, at) => {
    const port = cpu.hooks.vmx;
    const cr = ins.op0Register - Register.CR0;
    if (port === undefined || (cr !== 0 && cr !== 4)) {
      original(cpu, ins, ops, at);
      return;
    }
    requireCpl0(cpu);
    const value = getReg(cpu, ins.op1Register, 32) >>> 0;
    const r = port.writeCr(cr, value);
    if (r === INTERCEPT) raiseIntercept();
    if (r !== 0) raise(r, 0);
    const next = port.crValue >>> 0;
    if (cr === 0) {
      writeCr(cpu, 0, next);
      return;
    }
    // The CPU's own CR4 write knows nothing of VMXE: load the rest, then VMXE as the model decided.
    writeCr(cpu, 4, next & ~CR4_VMXE);
    cpu.ctrl.cr4 = ((cpu.ctrl.cr4 & ~CR4_VMXE) | (next & CR4_VMXE)) >>> 0;
  };
}

/** MOV from CR0/CR4 with a VMX model attached: non-root operation reads the shadows. */
function movFromCrWithVmx(original: Handler): Handler {
  return (cpu: Cpu, ins: Instruction, ops: Int32Array, at: number) => {
    const port = cpu.hooks.vmx;
    const cr = ins.op1Register - Register.CR0;
    if (port === undefined || (cr !== 0 && cr !== 4)) {
      original(cpu, ins, ops, at);
      return;
    }
    requireCpl0(cpu);
    setReg(cpu, ins.op0Register, 32, port.readCr(cr, readCr(cpu, cr)));
  };
}

/**
 * MOV CR0/CR4, r64 (64-bit mode) with a VMX model: bits 63:32 are reserved (#GP(0)) before the model
 * sees the low half.
 */
function movToCr64WithVmx(original: Handler): Handler {
  const wrapped = movToCrWithVmx(original);
  return (cpu, ins, ops, at) => {
    const cr = ins.op0Register - Register.CR0;
    if (cpu.hooks.vmx !== undefined && (cr === 0 || cr === 4)) {
      requireCpl0(cpu);
      if (cpu.regs.u32[GPR_HI + GPR_OF[ins.op1Register]!] !== 0) raise(Vector.GP, 0);
    }
    wrapped(cpu, ins, ops, at);
  };
}

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const I = VmxInstruction;
  list.add('Vmxon_m64', vmxHandler(I.Vmxon, RegisterSlot.None));
  list.add('Vmxoff', vmxHandler(I.Vmxoff, RegisterSlot.None));
  list.add('Vmclear_m64', vmxHandler(I.Vmclear, RegisterSlot.None));
  list.add('Vmptrld_m64', vmxHandler(I.Vmptrld, RegisterSlot.None));
  list.add('Vmptrst_m64', vmxHandler(I.Vmptrst, RegisterSlot.None));
  list.add('Vmread_rm32_r32', vmxHandler(I.Vmread, RegisterSlot.Op1));
  list.add('Vmwrite_r32_rm32', vmxHandler(I.Vmwrite, RegisterSlot.Op0));
  list.add('Vmlaunch', vmxHandler(I.Vmlaunch, RegisterSlot.None));
  list.add('Vmresume', vmxHandler(I.Vmresume, RegisterSlot.None));
  list.add('Vmcall', vmxHandler(I.Vmcall, RegisterSlot.None));
  list.add('Invept_r32_m128', vmxHandler(I.Invept, RegisterSlot.Op0));
  list.add('Invvpid_r32_m128', vmxHandler(I.Invvpid, RegisterSlot.Op0));
  return list.entries;
}

/** Handlers of the VMX instructions (32-bit forms; this CPU has no 64-bit mode). */
export const VMX_HANDLERS: readonly [number, Handler][] = entries();

function overrides(): [number, (original: Handler) => Handler][] {
  return [
    [Code.Mov_cr_r32, movToCrWithVmx],
    [Code.Mov_r32_cr, movFromCrWithVmx],
    // 64-bit mode: the read zero-extends (CR0/CR4 have no bits 63:32).
    [Code.Mov_cr_r64, movToCr64WithVmx],
    [Code.Mov_r64_cr, movFromCrWithVmx],
  ];
}

/** Wrappers applied over existing handlers (by Code) so a VMX model sees CR0/CR4 accesses first. */
export const VMX_OVERRIDES: readonly [number, (original: Handler) => Handler][] = overrides();
