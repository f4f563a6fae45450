/**
 * Helpers shared by the 64-bit cpu-diff programs (`programs64.ts`, `programs-avx*.ts`,
 * `programs-fma.ts`, `programs-bmi.ts`): number formatting, data lines, deterministic inputs, MXCSR
 * values and the assembly every case wraps around its instruction.
 */

export const M64 = (1n << 64n) - 1n;
/** Hex of a non-negative value, as NASM reads it. */
export const hex = (v: number | bigint) => `0x${v.toString(16)}`;
/** Hex of the low 64 bits (two's complement for negative values). */
export const hex64 = (n: number | bigint) => `0x${(BigInt(n) & M64).toString(16)}`;

/** binary32 / binary64 bit patterns of a number. */
export const f32 = (v: number): number => new Uint32Array(new Float32Array([v]).buffer)[0]!;
export const f64 = (v: number): bigint => new BigUint64Array(new Float64Array([v]).buffer)[0]!;
/** Eight binary32 lanes (numbers are converted, bigints are raw bit patterns). */
export const ps = (vals: readonly (number | bigint)[]) =>
  `    dd ${vals.map((v) => hex(typeof v === 'bigint' ? Number(v) : f32(v))).join(', ')}`;
/** Four binary64 lanes. */
export const pd = (vals: readonly (number | bigint)[]) =>
  `    dq ${vals.map((v) => hex(typeof v === 'bigint' ? v : f64(v))).join(', ')}`;

export const dbLine = (bytes: readonly number[]) =>
  `    db ${bytes.map((b) => `0x${b.toString(16)}`).join(', ')}`;
export const ddLine = (ds: readonly number[]) =>
  `    dd ${ds.map((d) => `0x${(d >>> 0).toString(16)}`).join(', ')}`;
export const dqLine = (qs: readonly bigint[]) => `    dq ${qs.map((q) => hex64(q)).join(', ')}`;
/** 16-bit elements, little-endian, as bytes. */
export const words = (ws: readonly number[]) => ws.flatMap((w) => [w & 0xff, (w >>> 8) & 0xff]);
export const dwords = (ds: readonly number[]) => ds.flatMap((d) => words([d & 0xffff, (d >>> 16) & 0xffff]));

/** Deterministic bytes (xorshift32), so the program text does not change between builds. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s & 0xff;
  };
}

/** MXCSR with all exceptions masked, in each rounding mode; FTZ and DAZ bits. */
export const RN = 0x1f80;
export const RD = 0x3f80;
export const RU = 0x5f80;
export const RZ = 0x7f80;
export const MODES = [RN, RD, RU, RZ];
export const FTZ = 0x8000;
export const DAZ = 0x40;

/** RAX..RDI set to recognisable markers (a 32-bit write's zero-extension, a 16-bit write's kept bits). */
export const REG_MARKERS = `    mov rax, 0xa0a0a0a0a0a0a0a0
    mov rbx, 0xb0b0b0b0b0b0b0b0
    mov rcx, 0xc0c0c0c0c0c0c0c0
    mov rdx, 0xd0d0d0d0d0d0d0d0
    mov rsi, 0x5151515151515151
    mov rdi, 0xd1d1d1d1d1d1d1d1`;

/**
 * `insn` run under the runtime's fault recovery: `post` prints what it wrote when it completes; a
 * fault (printed by the runtime's handler) resumes at `after` with RSP as it was.
 */
export const guarded = (after: string, insn: string, post: string) => `    mov [case_rsp], rsp
    mov qword [recover], ${after}
    ${insn}
${post}
${after}:
    mov rsp, [case_rsp]
    mov qword [recover], 0`;

/** What a vec case may add around its instruction. */
export interface CaseParts {
  /** Extra setup after the standard one. */
  setup?: string;
  /** Printed after the instruction when it completes (instead of the program's default). */
  post?: string;
  /** Printed after the instruction or its fault. */
  final?: string;
}

/**
 * The end of case `n` of a vec program: RFLAGS = 0x8d7, `setup`, `insn` guarded (`o.post` or
 * `post` printed when it completes), `final`, a newline.
 */
export const caseTail = (n: number, insn: string, o: CaseParts, post: string) => `    push 0x8d7
    popfq
${o.setup ?? ''}
${guarded(`after${n}`, insn, o.post ?? post)}
${o.final ?? ''}
    call newline`;

/**
 * A register case's run: `code` with RFLAGS = `flags` under the runtime's fault recovery, then RSP
 * restored and the registers and RFLAGS printed by `report_regs`.
 */
export const regRun = (after: string, code: string, flags: number) => `    mov [case_rsp], rsp
    mov qword [recover], ${after}
    push ${hex64(flags)}
    popfq
${code}
${after}:
    mov rsp, [case_rsp]
    pushfq
    mov qword [recover], 0
    call report_regs`;

/** `label` one byte past a 32-byte boundary's start (after `align 32` or 32-byte data), then `line`. */
export const unaligned = (label: string, line: string): string[] => ['    db 0x99', `${label}:`, line];

/** The MXCSR load (`mx_in`) and store (`mx_out`) slots of the float programs. */
export const MXCSR_SLOTS = ['mx_in:', '    dd 0', 'mx_out:', '    dd 0'];

/**
 * The start of a routine `label` that prints YMM0, then MXCSR without DE (QEMU 7.2 never sets DE; see
 * README.md), storing MXCSR with `store` (`stmxcsr` or `vstmxcsr`).
 */
export const printMxcsr = (
  label: string,
  store: 'stmxcsr' | 'vstmxcsr',
) => `${`${label}:`.padEnd(27)} ; YMM0, then MXCSR without DE (QEMU 7.2 never sets DE; see README.md)
    call print_ymm0
    ${store} [mx_out]
    mov eax, [mx_out]
    and eax, ~2
    call space_hex`;
