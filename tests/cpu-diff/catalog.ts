import {
  aluProgram,
  bitProgram,
  mulDivProgram,
  pagingProgram,
  segmentProgram,
  shiftProgram,
  stringProgram,
  taskSwitchProgram,
  v86Program,
  x87Program,
} from './programs.js';
import { longAluProgram, longFlowProgram, longSystemProgram } from './programs64.js';
import { vecFmaProgram } from './programs-fma.js';
import { vecIntProgram } from './programs-avx-int.js';
import { vecAvx2Program } from './programs-avx2.js';
import { vecBmiProgram } from './programs-bmi.js';
import { vecAvxProgram } from './programs-avx.js';

/** Every CPU test program by name; kernels/<name>.mb and golden/<name>.txt follow these names. */
export const PROGRAMS: Record<string, () => string> = {
  alu: aluProgram,
  shifts: shiftProgram,
  muldiv: mulDivProgram,
  string: stringProgram,
  bits: bitProgram,
  segments: segmentProgram,
  paging: pagingProgram,
  tasks: taskSwitchProgram,
  v86: v86Program,
  x87: x87Program,
  'long-alu': longAluProgram,
  'long-flow': longFlowProgram,
  'long-system': longSystemProgram,
  'vec-fma': vecFmaProgram,
  'vec-int': vecIntProgram,
  'vec-avx2': vecAvx2Program,
  'vec-bmi': vecBmiProgram,
  'vec-avx': vecAvxProgram,
};

/**
 * The 64-bit (IA-32e mode) programs: their names start with `long-`, or with `vec-` for those using
 * the Haswell-class additions (AVX, AVX2, FMA, F16C, BMI1/2, ADX, MOVBE...; `runtime64.ts` `vecProgram`).
 */
export const isLongMode = (name: string): boolean => name.startsWith('long-') || isVector(name);

/** The programs that need a CPU with AVX and the rest of `MAX_MODEL` (`vec-*`). */
export const isVector = (name: string): boolean => name.startsWith('vec-');

/** The QEMU binary and CPU model a program's golden output is recorded with (and checked against). */
export interface QemuOracle {
  readonly binary: 'qemu-system-i386' | 'qemu-system-x86_64';
  readonly args: readonly string[];
}

/** 32-bit programs: a P6-class CPU, the class Typevisor's default 32-bit model claims. */
export const QEMU_32: QemuOracle = { binary: 'qemu-system-i386', args: ['-cpu', 'pentium3'] };

/**
 * 64-bit programs: QEMU's generic 64-bit model (LM, NX, SYSCALL, CX16, SSE3) plus the features the
 * programs use (POPCNT, RDTSCP) and the SSSE3/SSE4 a long-mode model of this project claims.
 */
export const QEMU_64: QemuOracle = {
  binary: 'qemu-system-x86_64',
  args: ['-cpu', 'qemu64,+popcnt,+rdtscp,+ssse3,+sse4.1,+sse4.2'],
};

/** `vec-*` programs: QEMU's `max` model (under TCG 7.2: AVX, AVX2, FMA, F16C, BMI1/2, ADX, MOVBE, RDSEED...). */
export const QEMU_MAX: QemuOracle = { binary: 'qemu-system-x86_64', args: ['-cpu', 'max'] };

export const qemuOracle = (name: string): QemuOracle =>
  isVector(name) ? QEMU_MAX : isLongMode(name) ? QEMU_64 : QEMU_32;
