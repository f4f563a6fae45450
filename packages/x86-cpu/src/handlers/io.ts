/**
 * Port I/O: IN, OUT and the permission check shared with INS/OUTS (SDM Vol. 1 §19.5: IOPL, then the
 * I/O permission bitmap of a 32-bit TSS). The ports themselves are the hooks' business; a hook may
 * intercept the access (the VMX layer's I/O exiting).
 */
import { Code } from '@typevisor/x86-decoder';
import { Mode } from '../control.js';
import type { Cpu, Handler } from '../cpu.js';
import { interceptInstruction, raise, raiseIntercept, Vector } from '../exceptions.js';
import { IOPL_SHIFT } from '../flags.js';
import { INTERCEPT } from '../hooks.js';
import { readLinear16 } from '../memory-access.js';
import { GPR_HI, Seg } from '../registers.js';
import { SysType } from '../segments.js';

/** Raises #GP(0) unless the current privilege may access `size` ports at `port`. */
export function checkIo(cpu: Cpu, port: number, size: number): void {
  const mode = cpu.ctrl.mode;
  if (mode === Mode.Real) return;
  if (mode === Mode.Protected && cpu.ctrl.cpl <= ((cpu.flags.bits >>> IOPL_SHIFT) & 3)) return;
  // Consult the I/O permission bitmap (32-bit TSS, or the 64-bit TSS of IA-32e mode: map base at 0x66 too).
  const s = cpu.segs;
  const type = s.attr[Seg.TR]! & 0xf;
  if (type !== SysType.TSS32_AVAILABLE && type !== SysType.TSS32_BUSY) raise(Vector.GP, 0);
  const limit = s.limit[Seg.TR]!;
  if (limit < 0x67) raise(Vector.GP, 0);
  // IA-32e mode: the 64-bit TSS (same types) may have a 64-bit base (signed form), no 32-bit wrap.
  const base = s.base[Seg.TR]!;
  const lma = cpu.ctrl.lma;
  const mapBase = readLinear16(cpu, lma ? base + 0x66 : (base + 0x66) >>> 0, false);
  const byte = mapBase + (port >>> 3);
  if (byte + 1 > limit) raise(Vector.GP, 0);
  const bits = readLinear16(cpu, lma ? base + byte : (base + byte) >>> 0, false);
  const mask = ((1 << size) - 1) << (port & 7);
  if (bits & mask) raise(Vector.GP, 0);
}

/** Reads a port through the hooks. */
export function portIn(cpu: Cpu, port: number, size: 1 | 2 | 4): number {
  const v = cpu.hooks.portIn(port, size);
  if (v === INTERCEPT) raiseIntercept();
  if (cpu.bp.io) cpu.bp.port(port, size);
  return size === 1 ? v & 0xff : size === 2 ? v & 0xffff : v >>> 0;
}

export function portOut(cpu: Cpu, port: number, size: 1 | 2 | 4, value: number): void {
  if (cpu.hooks.portOut(port, size, value) === INTERCEPT) raiseIntercept();
  if (cpu.bp.io) cpu.bp.port(port, size);
}

/** IN and OUT themselves: an intercepted access returns from the handler (no throw, see `interceptInstruction`). */
function inPort(cpu: Cpu, port: number, size: 1 | 2 | 4): void {
  checkIo(cpu, port, size);
  const v = cpu.hooks.portIn(port, size);
  if (v === INTERCEPT) {
    interceptInstruction(cpu);
    return;
  }
  if (cpu.bp.io) cpu.bp.port(port, size);
  setAcc(cpu, size, size === 1 ? v & 0xff : size === 2 ? v & 0xffff : v >>> 0);
}

function outPort(cpu: Cpu, port: number, size: 1 | 2 | 4): void {
  checkIo(cpu, port, size);
  if (cpu.hooks.portOut(port, size, getAcc(cpu, size)) === INTERCEPT) {
    interceptInstruction(cpu);
    return;
  }
  if (cpu.bp.io) cpu.bp.port(port, size);
}

function inImm(size: 1 | 2 | 4): Handler {
  return (cpu, ins) => inPort(cpu, ins.immediate & 0xff, size);
}

function inDx(size: 1 | 2 | 4): Handler {
  return (cpu) => inPort(cpu, cpu.regs.r16[4]!, size);
}

function outImm(size: 1 | 2 | 4): Handler {
  return (cpu, ins) => outPort(cpu, ins.immediate & 0xff, size);
}

function outDx(size: 1 | 2 | 4): Handler {
  return (cpu) => outPort(cpu, cpu.regs.r16[4]!, size);
}

function setAcc(cpu: Cpu, size: number, v: number): void {
  if (size === 1) cpu.regs.r8[0] = v;
  else if (size === 2) cpu.regs.r16[0] = v;
  else {
    // IN EAX: the upper half of RAX becomes 0 (harmless outside 64-bit mode).
    cpu.regs.r32[0] = v;
    cpu.regs.r32[GPR_HI] = 0;
  }
}

function getAcc(cpu: Cpu, size: number): number {
  return size === 1 ? cpu.regs.r8[0]! : size === 2 ? cpu.regs.r16[0]! : cpu.regs.u32[0]!;
}

export const IO_HANDLERS: readonly [number, Handler][] = [
  [Code.In_AL_imm8, inImm(1)],
  [Code.In_AX_imm8, inImm(2)],
  [Code.In_EAX_imm8, inImm(4)],
  [Code.In_AL_DX, inDx(1)],
  [Code.In_AX_DX, inDx(2)],
  [Code.In_EAX_DX, inDx(4)],
  [Code.Out_imm8_AL, outImm(1)],
  [Code.Out_imm8_AX, outImm(2)],
  [Code.Out_imm8_EAX, outImm(4)],
  [Code.Out_DX_AL, outDx(1)],
  [Code.Out_DX_AX, outDx(2)],
  [Code.Out_DX_EAX, outDx(4)],
];
