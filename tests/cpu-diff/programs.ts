/**
 * The CPU test programs, generated as assembly text so they stay small and readable: each area is a
 * loop over operand tables that prints one line per case. EFLAGS are masked to the bits the SDM
 * defines for each instruction (undefined flags may differ between CPU models and QEMU).
 */
import { program } from './runtime.js';

/** Arithmetic flags: OF SF ZF AF PF CF. */
const ARITH = 0x8d5;
/** Logic ops leave AF undefined (SDM: AND/OR/XOR/TEST "AF is undefined"). */
const LOGIC = 0x8c5;
/** EFLAGS inputs: all arithmetic flags clear, or all set. */
const FLAGS_CLEAR = 0x002;
const FLAGS_SET = 0x002 | ARITH;

/** Edge operands (every size sees its boundaries in the low bits) plus two fixed "random" values. */
export const EDGE_VALUES = [
  0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x12345678,
  0xfedcba98,
];

const reg = (r: 'a' | 'b' | 'c' | 'd', size: 8 | 16 | 32) =>
  size === 8 ? `${r}l` : size === 16 ? `${r}x` : `e${r}x`;
const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

let labelCounter = 0;
const label = (p: string) => `${p}_${labelCounter++}`;

/** Shared reporting routines: name, inputs, result and masked flags on one line. */
const REPORT = `
report_pair:                ; esi name, [edi] a, [edi+4] b, eax result, ecx flags
    call puts
    call space
    push eax
    mov eax, [edi]
    call puthex32
    call space
    mov eax, [edi+4]
    call puthex32
    call space
    pop eax
    call puthex32
    call space
    push eax
    mov eax, ecx
    call puthex32
    pop eax
    call newline
    ret
report_res2:                ; esi name, [edi] a, [edi+4] b, eax and edx results, ecx flags
    call puts
    call space
    push eax
    mov eax, [edi]
    call puthex32
    call space
    mov eax, [edi+4]
    call puthex32
    call space
    pop eax
    call puthex32
    call space
    push eax
    mov eax, edx
    call puthex32
    call space
    mov eax, ecx
    call puthex32
    pop eax
    call newline
    ret
`;

function pairTable(name: string, values: readonly number[]): string {
  const rows: string[] = [`${name}:`];
  for (const a of values) for (const b of values) rows.push(`    dd ${hex(a)}, ${hex(b)}`);
  return rows.join('\n');
}

function nameData(names: Map<string, string>): string {
  return [...names].map(([l, text]) => `${l}:\n    db "${text}", 0`).join('\n');
}

/**
 * One loop over the pair table: load a into eax/edx and b into ebx, set EFLAGS, run `insn`, report
 * `result` registers and flags & mask.
 */
function pairLoop(
  names: Map<string, string>,
  title: string,
  insn: string,
  flagsIn: number,
  mask: number,
  count: number,
  report: 'report_pair' | 'report_res2' = 'report_pair',
  table = 'pairs',
): string {
  const nameLabel = label('name');
  names.set(nameLabel, title);
  const loop = label('loop');
  return `
    mov esi, ${nameLabel}
    mov edi, ${table}
    mov ebp, ${count}
${loop}:
    mov eax, [edi]
    mov edx, eax
    mov ebx, [edi+4]
    mov ecx, ebx
    push dword ${hex(flagsIn)}
    popfd
    ${insn}
    pushfd
    pop ecx
    and ecx, ${hex(mask)}
    call ${report}
    add edi, 8
    dec ebp
    jnz ${loop}`;
}

/** ADD ADC SUB SBB CMP AND OR XOR TEST, INC DEC NEG NOT in 8/16/32 bits. */
export function aluProgram(): string {
  const names = new Map<string, string>();
  const n = EDGE_VALUES.length ** 2;
  const parts: string[] = [];
  const binary: [string, number, boolean][] = [
    ['add', ARITH, false],
    ['adc', ARITH, true],
    ['sub', ARITH, false],
    ['sbb', ARITH, true],
    ['cmp', ARITH, false],
    ['and', LOGIC, false],
    ['or', LOGIC, false],
    ['xor', LOGIC, false],
    ['test', LOGIC, false],
  ];
  for (const [op, mask, carryIn] of binary) {
    for (const size of [8, 16, 32] as const) {
      for (const f of carryIn ? [FLAGS_CLEAR, FLAGS_SET] : [FLAGS_CLEAR]) {
        parts.push(
          pairLoop(
            names,
            `${op}${size} f${f === FLAGS_SET ? 1 : 0}`,
            `${op} ${reg('a', size)}, ${reg('b', size)}`,
            f,
            mask,
            n,
          ),
        );
      }
    }
  }
  // Unary ops on the first operand; INC/DEC keep CF, so both flag inputs matter.
  for (const [op, mask] of [
    ['inc', ARITH],
    ['dec', ARITH],
    ['neg', ARITH],
    ['not', ARITH],
  ] as const) {
    for (const size of [8, 16, 32] as const) {
      for (const f of [FLAGS_CLEAR, FLAGS_SET]) {
        parts.push(
          pairLoop(
            names,
            `${op}${size} f${f === FLAGS_SET ? 1 : 0}`,
            `${op} ${reg('a', size)}`,
            f,
            mask,
            EDGE_VALUES.length,
          ),
        );
      }
    }
  }
  return program(parts.join('\n'), `${REPORT}\n${pairTable('pairs', EDGE_VALUES)}\n${nameData(names)}`);
}

/** Shift and rotate counts: 0, 1, in range, the operand size and past it (counts are masked to 5 bits). */
export const SHIFT_COUNTS = [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33];
const SHIFT_VALUES = [
  0, 1, 0x80, 0x81, 0x8000, 0x8001, 0x80000000, 0x80000001, 0x7fffffff, 0xffffffff, 0x12345678,
];

/**
 * The flags the SDM defines after a shift or rotate of `size` bits by `count` (before masking):
 * masked count 0 changes nothing (everything stays as set, so all are checked); OF only for a 1-bit
 * shift; AF never; CF for SHL/SHR/SAR only while the count is below the operand size.
 */
function shiftMask(op: string, size: number, count: number): number {
  const masked = count & 31;
  if (masked === 0) return ARITH;
  const rotate = op.startsWith('ro') || op.startsWith('rc');
  if (rotate) return masked === 1 ? ARITH : ARITH & ~0x800; // rotates touch only CF and OF
  let mask = 0x0c4; // SF ZF PF
  if (masked < size || (op === 'sar' && size === 32)) mask |= 0x001;
  if (masked === 1) mask |= 0x800;
  return mask;
}

export function shiftProgram(): string {
  const names = new Map<string, string>();
  const parts: string[] = [];
  for (const op of ['shl', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr']) {
    for (const size of [8, 16, 32] as const) {
      for (const count of SHIFT_COUNTS) {
        for (const f of op.startsWith('rc') ? [FLAGS_CLEAR, FLAGS_SET] : [FLAGS_SET]) {
          const mask = shiftMask(op, size, count);
          parts.push(
            pairLoop(
              names,
              `${op}${size} ${count} f${f === FLAGS_SET ? 1 : 0}`,
              `mov cl, ${count}\n    ${op} ${reg('a', size)}, cl`,
              f,
              mask,
              SHIFT_VALUES.length,
            ),
          );
        }
      }
    }
  }
  // SHLD/SHRD: 16-bit counts above 16 give undefined results, so they stop at 16.
  for (const op of ['shld', 'shrd']) {
    for (const size of [16, 32] as const) {
      for (const count of SHIFT_COUNTS.filter((c) => size === 32 || (c & 31) <= 16)) {
        const masked = count & 31;
        const mask = masked === 0 ? ARITH : 0x0c5 | (masked === 1 ? 0x800 : 0);
        parts.push(
          pairLoop(
            names,
            `${op}${size} ${count}`,
            `mov cl, ${count}\n    ${op} ${reg('a', size)}, ${reg('b', size)}, cl`,
            FLAGS_SET,
            mask,
            SHIFT_VALUES.length,
          ),
        );
      }
    }
  }
  const pairs = SHIFT_VALUES.map(
    (v, i) => `    dd ${hex(v)}, ${hex(SHIFT_VALUES[(i + 3) % SHIFT_VALUES.length]!)}`,
  ).join('\n');
  return program(parts.join('\n'), `${REPORT}\npairs:\n${pairs}\n${nameData(names)}`);
}

/** MUL/IMUL (CF and OF defined) and DIV/IDIV (no flags defined), with #DE for zero and overflow. */
export function mulDivProgram(): string {
  const names = new Map<string, string>();
  const n = EDGE_VALUES.length ** 2;
  const parts: string[] = [];
  for (const size of [8, 16, 32] as const) {
    const b = reg('b', size);
    parts.push(pairLoop(names, `mul${size}`, `mul ${b}`, FLAGS_CLEAR, 0x801, n, 'report_res2'));
    parts.push(pairLoop(names, `imul${size}`, `imul ${b}`, FLAGS_CLEAR, 0x801, n, 'report_res2'));
    if (size !== 8) {
      parts.push(pairLoop(names, `imul2_${size}`, `imul ${reg('a', size)}, ${b}`, FLAGS_CLEAR, 0x801, n));
      parts.push(pairLoop(names, `imul3_${size}`, `imul ${reg('a', size)}, ${b}, -3`, FLAGS_CLEAR, 0x801, n));
    }
    // Division: the dividend is edx:eax (dx:ax, ax) = a:a shifted so both zero and overflow occur.
    for (const op of ['div', 'idiv']) {
      const setup = size === 8 ? 'mov ah, dl\n    ' : size === 16 ? 'shr edx, 16\n    ' : 'sar edx, 31\n    ';
      const after = label('after');
      // QEMU 7.2's helper_idivw divides INT32_MIN by -1 in host arithmetic and dies with SIGFPE
      // (a real CPU raises #DE), so idiv16 leaves out the pairs that make DX:AX = 0x80000000 and
      // the 16-bit divisor -1; Typevisor's own unit tests cover that case.
      const table = op === 'idiv' && size === 16 ? 'pairs_idiv16' : 'pairs';
      const count = table === 'pairs' ? n : n - EDGE_VALUES.filter((v) => (v & 0xffff) === 0xffff).length;
      parts.push(
        pairLoop(
          names,
          `${op}${size}`,
          `mov dword [recover], ${after}\n    ${setup}${op} ${b}\n${after}:\n    mov dword [recover], 0`,
          FLAGS_CLEAR,
          0,
          count,
          'report_res2',
          table,
        ),
      );
    }
  }
  const idiv16 = pairTable('pairs_idiv16', EDGE_VALUES)
    .split('\n')
    .filter((l) => !/^ {4}dd 0x80000000, 0x[0-9a-f]*ffff$/.test(l))
    .join('\n');
  return program(
    parts.join('\n'),
    `${REPORT}\n${pairTable('pairs', EDGE_VALUES)}\n${idiv16}\n${nameData(names)}`,
  );
}
