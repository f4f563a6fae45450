/**
 * The XSAVE feature set (SDM Vol. 1 chapter 13, Vol. 2 XSAVE/XRSTOR/XGETBV/XSETBV): XCR0 with its
 * rules, and XSAVE/XSAVEOPT/XRSTOR in the standard format over the three state components this CPU
 * has: x87 (0) and SSE (1), both in the 512-byte legacy region (the FXSAVE layout), and AVX (2), the
 * upper halves of YMM0-YMM15 at offset 576 (CPUID.(EAX=0DH,ECX=2)). The area is the legacy region,
 * the 64-byte XSAVE header and, when XCR0 enables AVX, the 256-byte AVX component: 576 or 832 bytes.
 *
 * Not claimed, so not implemented: the compacted format (XSAVEC), supervisor state (XSAVES/XRSTORS,
 * IA32_XSS) and XINUSE (XGETBV with ECX = 1 is #GP(0)). XINUSE is taken as all ones: XSAVE sets
 * XSTATE_BV[i] for every saved component, which the SDM allows (§13.6).
 *
 * XCR0 is `ControlState.xcr0` (`xcr0Of`/`setXcr0` for a VMM's state transfer); it is 1 (x87) after
 * RESET (SDM Vol. 3 Table 9-1), which `Cpu.reset()` restores. XSETBV accepts AVX only on a model
 * with the AVX feature.
 */
import { CpuidFeature, type Instruction } from '@typevisor/x86-decoder';
import { CR0, Mode } from '../control.js';
import type { Cpu, Handler } from '../cpu.js';
import { interceptInstruction, raise, Vector } from '../exceptions.js';
import { INTERCEPT } from '../hooks.js';
import { linearAddress, probeWrite, read8, write8 } from '../memory-access.js';
import { locate } from '../operands.js';
import { MXCSR_WRITABLE, XMM_COUNT, YMM_HI_BYTE } from '../sse/state.js';
import { FXSAVE_MXCSR, FXSAVE_MXCSR_MASK, FXSAVE_XMM0, fxrstor, fxsave, high32 } from '../x87/index.js';
import { HandlerList } from './table.js';

/** CR4.OSXSAVE (bit 18): the OS has enabled XSETBV/XGETBV and the XSAVE instructions. */
export const CR4_OSXSAVE = 1 << 18;

/** XSAVE state components (SDM Vol. 1 §13.1) as XCR0 / XSTATE_BV bits. */
export const XFeature = { X87: 1 << 0, SSE: 1 << 1, AVX: 1 << 2 } as const;

/** The XCR0 bits this CPU supports (CPUID.(EAX=0DH,ECX=0):EDX:EAX of a model with AVX). */
export const XCR0_SUPPORTED = XFeature.X87 | XFeature.SSE | XFeature.AVX;

/** XCR0 after RESET: x87 only. */
export const XCR0_RESET = XFeature.X87;

/** The XSAVE area in the standard format (SDM Vol. 1 §13.4): legacy region, then the XSAVE header. */
export const XsaveArea = {
  /** XSTATE_BV, 8 bytes. */
  XSTATE_BV: 512,
  /** XCOMP_BV, 8 bytes (bit 63: compacted format). */
  XCOMP_BV: 520,
  /** Header reserved bytes 16-63. */
  RESERVED: 528,
  /** Legacy region plus header: the area's size when XCR0 does not enable AVX. */
  SIZE: 576,
  /** The AVX component (YMM_Hi128 of YMM0-YMM15, 16 bytes each): CPUID.(EAX=0DH,ECX=2):EBX. */
  AVX: 576,
  /** Size of the AVX component: CPUID.(EAX=0DH,ECX=2):EAX. */
  AVX_SIZE: 256,
  /** The area's size with AVX enabled: CPUID.(EAX=0DH,ECX=0):ECX of a model with AVX. */
  SIZE_AVX: 832,
} as const;

/** CPUID.(EAX=0DH,ECX=0):EBX: the area size XSAVE needs for the components `xcr0` enables. */
export function xsaveAreaSize(xcr0: number): number {
  return xcr0 & XFeature.AVX ? XsaveArea.SIZE_AVX : XsaveArea.SIZE;
}

/** Required alignment of the XSAVE area (#GP(0) otherwise, whatever the segment). */
const XSAVE_ALIGN = 64;

/** XMM registers in the legacy region outside 64-bit mode (XMM0-XMM7). */
const XMM_BYTES_32 = 8 * 16;
/** XMM0-XMM15: the legacy region's XMM state in 64-bit mode. */
const XMM_BYTES_64 = XMM_COUNT * 16;

/** The x87 initial configuration as a legacy region (§13.6): FCW 037FH, FSW 0, all tags empty, pointers and ST(i) 0. */
const X87_INIT_IMAGE = new Uint8Array(512);
X87_INIT_IMAGE[0] = 0x7f;
X87_INIT_IMAGE[1] = 0x03;

/** Scratch XSAVE area; handlers run one at a time on a thread. */
const area = new Uint8Array(XsaveArea.SIZE_AVX);

/** XCR0 of `cpu` (its upper 32 bits are always 0 here). */
export function xcr0Of(cpu: Cpu): number {
  return cpu.ctrl.xcr0;
}

/** Loads XCR0 without XSETBV's checks (a VMM restoring state; validate with {@link xcr0Valid}). */
export function setXcr0(cpu: Cpu, value: number): void {
  cpu.ctrl.xcr0 = value >>> 0;
}

/**
 * Narrows the XCR0 bits XSETBV accepts to `mask` within {@link XCR0_SUPPORTED} (x87 always): what a
 * VMM's guest CPUID leaf 0DH allows, as KVM's guest_supported_xcr0.
 */
export function setXcr0Supported(cpu: Cpu, mask: number): void {
  cpu.ctrl.xcr0Supported = ((mask & XCR0_SUPPORTED) | XFeature.X87) >>> 0;
}

/** The XCR0 bits the model behind `cpu` has state for: AVX only with the AVX feature. */
export function modelXcr0(cpu: Cpu): number {
  return cpu.features[CpuidFeature.AVX] === 1 ? XCR0_SUPPORTED : XFeature.X87 | XFeature.SSE;
}

/**
 * The XSETBV rules for XCR0 = `hi`:`lo` (SDM Vol. 1 §13.3): x87 must be enabled, AVX needs SSE, and no
 * bit outside `supported` may be set.
 */
export function xcr0Valid(lo: number, hi: number, supported: number = XCR0_SUPPORTED): boolean {
  if (hi !== 0) return false;
  if ((lo & XFeature.X87) === 0) return false;
  if (lo & XFeature.AVX && (lo & XFeature.SSE) === 0) return false;
  return (lo & ~supported) === 0;
}

/** #UD unless CR4.OSXSAVE (the decoder's XSAVE feature tag has already been checked). */
function requireOsxsave(cpu: Cpu): void {
  if ((cpu.ctrl.cr4 & CR4_OSXSAVE) === 0) raise(Vector.UD);
}

/** XGETBV: ECX = 0 reads XCR0 into EDX:EAX at any privilege level; any other ECX is #GP(0). */
const xgetbv: Handler = (cpu) => {
  requireOsxsave(cpu);
  const r = cpu.regs.r32;
  if (r[1] !== 0) raise(Vector.GP, 0);
  r[0] = xcr0Of(cpu);
  r[2] = 0;
  // Bits 63:32 of RAX and RDX become 0 in 64-bit mode.
  r[16] = 0;
  r[18] = 0;
};

/**
 * XSETBV: CPL 0 only (real mode counts as 0, virtual-8086 mode as 3). In VMX non-root operation it
 * exits unconditionally after those checks (SDM Vol. 3C §26.1.2); the XCR index and value checks are
 * then the VMM's.
 */
const xsetbv: Handler = (cpu, ins) => {
  requireOsxsave(cpu);
  const mode = cpu.ctrl.mode;
  if (mode === Mode.V86 || (mode === Mode.Protected && cpu.ctrl.cpl !== 0)) raise(Vector.GP, 0);
  const vmx = cpu.hooks.vmx;
  if (vmx !== undefined && vmx.nonRoot === true && vmx.instruction?.('xsetbv', ins) === INTERCEPT) {
    interceptInstruction(cpu);
    return;
  }
  const r = cpu.regs.u32;
  const c = cpu.ctrl;
  if (r[1] !== 0 || !xcr0Valid(r[0]!, r[2]!, c.xcr0Supported & modelXcr0(cpu))) raise(Vector.GP, 0);
  c.xcr0 = r[0]!;
};

/**
 * The checks XSAVE and XRSTOR share: #UD without CR4.OSXSAVE, #NM with CR0.TS, then the operand's
 * linear address must be 64-byte aligned (#GP(0)). Leaves the operand in `cpu.eaSeg`/`eaOff`.
 */
function enterXsave(cpu: Cpu, ins: Parameters<Handler>[1]): void {
  requireOsxsave(cpu);
  if (cpu.ctrl.cr0 & CR0.TS) raise(Vector.NM);
  locate(cpu, ins);
  if (linearAddress(cpu, cpu.eaSeg, cpu.eaOff) & (XSAVE_ALIGN - 1)) raise(Vector.GP, 0);
}

function get32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

/**
 * Offset `i` bytes into the XSAVE area at `off`: wrapped to the address size, except with 64-bit
 * addressing, where `off` is a canonical address in signed form and the access checks it.
 */
function areaOffset(ins: Instruction, off: number, i: number): number {
  const size = ins.addressSize;
  return size === 64 ? off + i : size === 16 ? (off + i) & 0xffff : (off + i) >>> 0;
}

/**
 * XMM bytes of the legacy region: XMM0-XMM15 in 64-bit mode, XMM0-XMM7 elsewhere (SDM Vol. 1
 * §13.4.1); the AVX component holds as many upper halves (§13.5.3).
 */
function xmmBytes(ins: Instruction): number {
  return ins.bitness === 64 ? XMM_BYTES_64 : XMM_BYTES_32;
}

/**
 * XSAVE and XSAVEOPT (which may skip unmodified state; saving it all is a valid execution); `rex64`
 * for XSAVE64/XSAVEOPT64, whose legacy region has the 64-bit FPU IP/DP layout of FXSAVE64.
 */
function xsave(rex64: boolean): Handler {
  return (cpu, ins) => {
    enterXsave(cpu, ins);
    const seg = cpu.eaSeg;
    const off = cpu.eaOff;
    // RFBM = XCR0 AND EDX:EAX; XCR0's upper half is 0.
    const rfbm = xcr0Of(cpu) & cpu.regs.u32[0]!;
    // The bytes this XSAVE touches: the legacy region and header, and the AVX component in RFBM.
    const size = rfbm & XFeature.AVX ? XsaveArea.SIZE_AVX : XsaveArea.SIZE;
    // Fault (#GP/#SS/#PF) before any byte is written.
    probeWrite(cpu, seg, off, 1);
    probeWrite(cpu, seg, areaOffset(ins, off, size - 1), 1);
    for (let i = 0; i < size; i++) area[i] = read8(cpu, seg, areaOffset(ins, off, i));
    const fpu = cpu.fpu;
    if (rfbm & XFeature.X87) {
      if (rex64) fxsave(fpu, area, 0, true, high32(fpu.fip), high32(fpu.fdp));
      else fxsave(fpu, area, 0, false);
    }
    // MXCSR goes with SSE state, and with AVX state in the standard format (§13.7).
    if (rfbm & (XFeature.SSE | XFeature.AVX)) {
      put32(area, FXSAVE_MXCSR, fpu.sse.mxcsr);
      put32(area, FXSAVE_MXCSR_MASK, MXCSR_WRITABLE);
    }
    if (rfbm & XFeature.SSE) area.set(fpu.sse.u8.subarray(0, xmmBytes(ins)), FXSAVE_XMM0);
    if (rfbm & XFeature.AVX) {
      area.set(fpu.sse.u8.subarray(YMM_HI_BYTE, YMM_HI_BYTE + xmmBytes(ins)), XsaveArea.AVX);
    }
    // XSTATE_BV[i] = XINUSE[i] (taken as 1) for i in RFBM; other bits and the rest of the header stay.
    area[XsaveArea.XSTATE_BV] = (area[XsaveArea.XSTATE_BV]! | rfbm) & 0xff;
    for (let i = 0; i < size; i++) write8(cpu, seg, areaOffset(ins, off, i), area[i]!);
  };
}

/**
 * XRSTOR, standard format (SDM Vol. 2 XRSTOR "Operation"): #GP(0) before any state changes when
 * XCOMP_BV or header bytes 16-23 are not 0 (the compacted form is not supported), when XSTATE_BV sets
 * a bit XCR0 lacks, or when the MXCSR to load sets a reserved bit. Components in RFBM whose
 * XSTATE_BV bit is 0 go to their initial configuration (x87: FNINIT with ST(i) = 0; SSE: XMM = 0,
 * MXCSR still loaded from memory, as the standard form does; AVX: upper halves 0). `rex64`:
 * XRSTOR64's legacy layout.
 */
function xrstor(rex64: boolean): Handler {
  return (cpu, ins) => {
    enterXsave(cpu, ins);
    const seg = cpu.eaSeg;
    const off = cpu.eaOff;
    const xcr0 = xcr0Of(cpu);
    const rfbm = xcr0 & cpu.regs.u32[0]!;
    const size = rfbm & XFeature.AVX ? XsaveArea.SIZE_AVX : XsaveArea.SIZE;
    for (let i = 0; i < size; i++) area[i] = read8(cpu, seg, areaOffset(ins, off, i));
    const bvLo = get32(area, XsaveArea.XSTATE_BV);
    const bvHi = get32(area, XsaveArea.XSTATE_BV + 4);
    if ((bvLo & ~xcr0) !== 0 || bvHi !== 0) raise(Vector.GP, 0);
    for (let i = XsaveArea.XCOMP_BV; i < XsaveArea.RESERVED + 8; i++) if (area[i] !== 0) raise(Vector.GP, 0);
    const loadMxcsr = (rfbm & (XFeature.SSE | XFeature.AVX)) !== 0;
    const mxcsr = get32(area, FXSAVE_MXCSR);
    if (loadMxcsr && (mxcsr & ~MXCSR_WRITABLE) !== 0) raise(Vector.GP, 0);
    const fpu = cpu.fpu;
    if (rfbm & XFeature.X87) fxrstor(fpu, bvLo & XFeature.X87 ? area : X87_INIT_IMAGE, 0, rex64);
    if (loadMxcsr) fpu.sse.mxcsr = mxcsr;
    if (rfbm & XFeature.SSE) {
      const bytes = xmmBytes(ins);
      if (bvLo & XFeature.SSE) fpu.sse.u8.set(area.subarray(FXSAVE_XMM0, FXSAVE_XMM0 + bytes));
      else fpu.sse.u8.fill(0, 0, bytes);
    }
    if (rfbm & XFeature.AVX) {
      const bytes = xmmBytes(ins);
      if (bvLo & XFeature.AVX)
        fpu.sse.u8.set(area.subarray(XsaveArea.AVX, XsaveArea.AVX + bytes), YMM_HI_BYTE);
      else fpu.sse.u8.fill(0, YMM_HI_BYTE, YMM_HI_BYTE + bytes);
    }
  };
}

/** CPUID.01H:ECX.OSXSAVE (bit 27). */
const LEAF1_ECX_OSXSAVE = 1 << 27;

/** CPUID.01H:ECX as the CPU reports it now: OSXSAVE mirrors CR4.OSXSAVE (SDM Vol. 2A Table 3-10). */
export function leaf1EcxWithOsxsave(cpu: Cpu, ecx: number): number {
  return (cpu.ctrl.cr4 & CR4_OSXSAVE ? ecx | LEAF1_ECX_OSXSAVE : ecx & ~LEAF1_ECX_OSXSAVE) >>> 0;
}

/**
 * CPUID.(EAX=0DH,ECX=0):EBX as the CPU reports it now: the area size for the components XCR0
 * enables (SDM Vol. 2A CPUID, leaf 0DH).
 */
export function leafDEbxWithXcr0(cpu: Cpu, ebx: number): number {
  return ebx === 0 ? 0 : xsaveAreaSize(cpu.ctrl.xcr0);
}

/** Whether MOV to CR4 may set OSXSAVE: the model executes the XSAVE feature set. */
export function osxsaveAllowed(cpu: Cpu): boolean {
  return cpu.features[CpuidFeature.XSAVE] === 1;
}

function entries(): [number, Handler][] {
  const list = new HandlerList();
  list.add('Xgetbv', xgetbv);
  list.add('Xsetbv', xsetbv);
  list.add('Xsave_mem', xsave(false));
  list.add('Xsaveopt_mem', xsave(false));
  list.add('Xrstor_mem', xrstor(false));
  list.add('Xsave64_mem', xsave(true));
  list.add('Xsaveopt64_mem', xsave(true));
  list.add('Xrstor64_mem', xrstor(true));
  return list.entries;
}

/** Handlers of XGETBV, XSETBV, XSAVE, XSAVEOPT and XRSTOR (16/32-bit forms). */
export const XSAVE_HANDLERS: readonly [number, Handler][] = entries();
