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

/** Sets the name and flag mask the shared `report_regs` routine prints with. */
function named(names: Map<string, string>, title: string, mask: number): string {
  const l = label('name');
  names.set(l, title);
  return `    mov dword [cur_name], ${l}\n    mov dword [cur_mask], ${hex(mask)}`;
}

/** Low-memory buffers, so that 16-bit addressing (SI/DI/CX with a 0x67 prefix) reaches them too. */
const SRC = 0x5000;
const DST = 0x6000;

/**
 * MOVS STOS LODS CMPS SCAS in byte/word/dword forms, with no prefix, REP/REPE and REPNE, DF clear and
 * set, 32- and 16-bit addressing, counts 0, 1 and 9 and a mismatch inside the compared range.
 */
export function stringProgram(): string {
  const names = new Map<string, string>();
  const parts: string[] = [];
  // Source: bytes 0..255 repeating; destination cleared before each case; the compare source has one
  // differing byte at offset 6 so REPE stops there and REPNE runs on.
  parts.push(`
    mov edi, ${hex(SRC)}
    xor eax, eax
fill_src:
    mov [edi], al
    inc edi
    inc al
    cmp edi, ${hex(SRC + 0x200)}
    jne fill_src`);
  const ops: [string, number][] = [
    ['movs', 0x8d5],
    ['stos', 0x8d5],
    ['lods', 0x8d5],
    ['cmps', ARITH],
    ['scas', ARITH],
  ];
  for (const [op, mask] of ops) {
    for (const [suffix, width] of [
      ['b', 1],
      ['w', 2],
      ['d', 4],
    ] as const) {
      for (const prefix of ['', 'rep ', 'repne ']) {
        if (prefix === 'repne ' && (op === 'movs' || op === 'stos' || op === 'lods')) continue;
        for (const df of [0, 1]) {
          for (const a16 of [false, true]) {
            for (const count of prefix === '' ? [1] : [0, 1, 9]) {
              const title = `${prefix}${op}${suffix} df${df} a${a16 ? 16 : 32} n${count}`;
              const mid = df === 0 ? 0x40 : 0x140; // start offsets: room to run either way
              const setup = `
    mov edi, ${hex(DST)}
    mov ecx, 0x80
    xor eax, eax
    cld
    rep stosd
    mov byte [${hex(DST + mid + 6 * (df === 0 ? width : -width))}], 0x5a
${named(names, title, mask)}
    mov esi, ${hex(SRC + mid)}
    mov edi, ${hex(DST + mid)}
    mov ecx, ${hex(a16 ? 0xabcd0000 + count : count)}
    mov eax, ${op === 'scas' ? hex(0x5a5a5a5a) : hex(0x11223344)}
    push dword ${hex(FLAGS_CLEAR | (df ? 0x400 : 0))}
    popfd`;
              const insn = `    ${a16 ? 'a16 ' : ''}${prefix}${op}${suffix}`;
              parts.push(`${setup}\n${insn}\n    pushfd\n    cld\n    call report_regs
    push esi
    push ecx
    mov esi, ${hex(DST + mid - 0x40)}
    mov ecx, 0x30
    call checksum
    pop ecx
    pop esi`);
            }
          }
        }
      }
    }
  }
  return program(parts.join('\n'), nameData(names));
}

/** BT/BTS/BTR/BTC, BSF/BSR, BSWAP, XADD, CMPXCHG, CMOVcc, SETcc, and the BCD adjustments. */
export function bitProgram(): string {
  const names = new Map<string, string>();
  const parts: string[] = [];
  const values = [0, 1, 0x80, 0x8000, 0x80000000, 0xffffffff, 0x12345678, 0x00f0f000];
  for (const op of ['bt', 'bts', 'btr', 'btc']) {
    for (const size of [16, 32] as const) {
      for (const v of values) {
        for (const bit of [0, 3, 15, 16, 31, 33]) {
          // CF is defined; ZF is unaffected (set on input, so it is checked); the rest undefined.
          parts.push(`${named(names, `${op}${size} ${hex(v)} ${bit}`, 0x041)}
    mov eax, ${hex(v)}
    mov ebx, ${bit}
    push dword ${hex(FLAGS_SET)}
    popfd
    ${op} ${reg('a', size)}, ${reg('b', size)}
    pushfd
    call report_regs`);
        }
      }
    }
  }
  for (const op of ['bsf', 'bsr']) {
    for (const v of values) {
      // Destination undefined for a zero source on Intel (AMD and QEMU keep it): print only ZF then.
      const zero = v === 0;
      parts.push(`${named(names, `${op} ${hex(v)}`, 0x040)}
    mov ebx, ${hex(v)}
    mov eax, 0x77777777
    push dword ${hex(FLAGS_CLEAR)}
    popfd
    ${op} eax, ebx
    pushfd
    ${zero ? 'mov eax, 0' : ''}
    call report_regs`);
    }
  }
  for (const v of values) {
    parts.push(`${named(names, `bswap ${hex(v)}`, ARITH)}
    mov eax, ${hex(v)}
    push dword ${hex(FLAGS_SET)}
    popfd
    bswap eax
    pushfd
    call report_regs`);
    parts.push(`${named(names, `xadd ${hex(v)}`, ARITH)}
    mov eax, ${hex(v)}
    mov ebx, 0x80000001
    push dword ${hex(FLAGS_CLEAR)}
    popfd
    xadd eax, ebx
    pushfd
    call report_regs`);
    for (const mem of [v, 0x12345678]) {
      parts.push(`${named(names, `cmpxchg ${hex(v)} ${hex(mem)}`, ARITH)}
    mov dword [${hex(DST)}], ${hex(mem)}
    mov eax, ${hex(v)}
    mov ebx, 0xcafef00d
    push dword ${hex(FLAGS_CLEAR)}
    popfd
    cmpxchg [${hex(DST)}], ebx
    pushfd
    mov ecx, [${hex(DST)}]
    call report_regs`);
    }
  }
  const conds = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
  for (const flags of [0x002, 0x003, 0x042, 0x082, 0x802, 0x882, 0x8c3, 0x006]) {
    for (const cc of conds) {
      parts.push(`${named(names, `cc${cc} ${hex(flags)}`, 0)}
    mov eax, 0x11111111
    mov ebx, 0x22222222
    xor ecx, ecx
    push dword ${hex(flags)}
    popfd
    cmov${cc} eax, ebx
    set${cc} cl
    pushfd
    call report_regs`);
    }
  }
  // DAA/DAS/AAA/AAS: OF is undefined (and SF ZF PF for AAA/AAS); AAM/AAD: OF AF CF undefined.
  for (const [op, mask] of [
    ['daa', 0x0d5],
    ['das', 0x0d5],
    ['aaa', 0x011],
    ['aas', 0x011],
    ['aam', 0x0c4],
    ['aad', 0x0c4],
  ] as const) {
    for (const v of [0x00, 0x09, 0x0a, 0x0f, 0x19, 0x99, 0x9a, 0xa0, 0xff, 0x1234]) {
      for (const f of [FLAGS_CLEAR, 0x013]) {
        parts.push(`${named(names, `${op} ${hex(v)} ${hex(f)}`, mask)}
    mov eax, ${hex(v)}
    push dword ${hex(f)}
    popfd
    ${op}
    pushfd
    call report_regs`);
      }
    }
  }
  return program(parts.join('\n'), nameData(names));
}

/** One faulting (or not) access: sets the recovery address so the program goes on after a fault. */
function guarded(names: Map<string, string>, title: string, code: string, show = ''): string {
  const after = label('after');
  return `${named(names, title, ARITH)}
    mov esi, [cur_name]
    call puts
    call newline
    mov dword [recover], ${after}
${code}
${after}:
    push eax                    ; flat segments first: the test may have left DS with a small limit
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    pop eax
    mov dword [recover], 0
${show}`;
}

/**
 * A ring-3 case: enter ring 3 with IRET, run `code` (faults are printed and resumed in ring 3), store
 * EAX and EBX, come back with INT 0x30 (a DPL-3 gate whose handler continues in ring 0) and print them.
 */
function ring3Case(names: Map<string, string>, title: string, code: string, eflags = 0x002): string {
  const back = label('back');
  const entry = label('r3');
  return `${named(names, title, ARITH)}
    mov esi, [cur_name]
    call puts
    call newline
    mov dword [ring0_continue], ${back}
    mov [ring0_esp], esp
    mov dword [r3_eax], 0x99999999
    mov dword [r3_ebx], 0x99999999
    push dword 0x23
    push dword ring3_stack_top
    push dword ${hex(eflags)}
    push dword 0x1b
    push dword ${entry}
    iretd
${entry}:
    mov ax, 0x23                ; DS/ES were DPL 0: the IRET to ring 3 made them null
    mov ds, ax
    mov es, ax
    mov dword [recover], ${entry}_end
${code}
${entry}_end:
    mov [r3_eax], eax
    mov [r3_ebx], ebx
    int 0x30
${back}:
    mov dword [recover], 0
    mov eax, [r3_eax]
    call puthex32
    call space
    mov eax, [r3_ebx]
    call puthex32
    call newline`;
}

const RING3_DATA = 'r3_eax:\n    dd 0\nr3_ebx:\n    dd 0\nalign 16\n    times 4096 db 0\nring3_stack_top:';

/**
 * Segment loads and checks in protected mode: limits (byte-granular and expand-down), null, absent,
 * out-of-table, execute-only and read-only selectors, the faults they raise (#GP, #NP, #SS with their
 * error codes), LAR/LSL/VERR/VERW, and ring 3: privilege checks on segment loads, I/O, CLI, INT.
 */
export function segmentProgram(): string {
  const names = new Map<string, string>();
  const p: string[] = [];
  const g = (title: string, code: string, show = '') => p.push(guarded(names, title, code, show));
  const printEax = '    call puthex32\n    call newline';
  // QEMU TCG checks segments when they are loaded but not limits, null selectors or read-only
  // segments on each data access, so those access checks live in x86-cpu's unit tests instead.
  p.push('    mov dword [0x50fc], 0xdeadbeef\n    mov dword [0x6000], 0xfeedface');
  g('limit ok', '    mov ax, 0x30\n    mov ds, ax\n    mov eax, [0xfc]', printEax);
  g('expand-down ok', '    mov ax, 0x38\n    mov es, ax\n    mov eax, [es:0x1000]', printEax);
  g('null ss load', '    xor ax, ax\n    mov ss, ax');
  g('not present', '    mov ax, 0x40\n    mov ds, ax');
  g('past gdt', '    mov ax, 0x400\n    mov ds, ax');
  g('ldt selector with null ldtr', '    xor ax, ax\n    lldt ax\n    mov ax, 0x0c\n    mov ds, ax');
  g('execute-only as data', '    mov ax, 0x48\n    mov ds, ax');
  g('read-only as stack', '    mov ax, 0x50\n    mov ss, ax');
  g('code as stack', '    mov ax, 0x08\n    mov ss, ax');
  g('dpl2 code far jump', '    jmp 0x60:0');
  g('rpl3 data into ss', '    mov ax, 0x13\n    mov ss, ax');
  g('cs load via mov', '    db 0x8e, 0xc8');
  // LAR / LSL / VERR / VERW: result register and ZF for each selector.
  for (const sel of [0, 0x08, 0x10, 0x18, 0x28, 0x30, 0x38, 0x40, 0x48, 0x50, 0x58, 0x400]) {
    for (const op of ['lar', 'lsl']) {
      p.push(`${named(names, `${op} ${hex(sel)}`, 0x040)}
    mov eax, 0x99999999
    mov ebx, ${hex(sel)}
    push dword 0x002
    popfd
    ${op} eax, bx
    pushfd
    call report_regs`);
    }
    for (const op of ['verr', 'verw']) {
      p.push(`${named(names, `${op} ${hex(sel)}`, 0x040)}
    mov ebx, ${hex(sel)}
    push dword 0x002
    popfd
    ${op} bx
    pushfd
    call report_regs`);
    }
  }
  // Ring 3: each case enters ring 3 with IRET, runs the code (faults are printed and resumed in
  // ring 3) and comes back with INT 0x30, a DPL-3 gate whose handler continues in ring 0.
  const ring3 = (title: string, code: string, eflags = 0x002) =>
    p.push(ring3Case(names, title, code, eflags));
  ring3('ring3 cs/ss', '    mov eax, 0\n    mov ax, cs\n    mov ebx, 0\n    mov bx, ss');
  ring3('ring3 load kernel data', '    mov bx, 0x10\n    mov ds, bx');
  ring3('ring3 load dpl3 data', '    mov ax, 0x23\n    mov fs, ax\n    mov eax, 0\n    mov ax, fs');
  ring3('ring3 out', '    mov dx, 0x80\n    out dx, al');
  ring3('ring3 cli', '    cli');
  ring3('ring3 int dpl0 gate', '    int 3');
  ring3('ring3 hlt', '    hlt');
  ring3('ring3 mov cr0', '    mov eax, cr0');
  ring3(
    'ring3 iopl3 cli and in',
    '    cli\n    sti\n    mov dx, 0x80\n    in al, dx\n    mov eax, 0x1234',
    0x3002,
  );
  ring3(
    'ring3 popf cannot change iopl',
    '    push dword 0x3202\n    popfd\n    pushfd\n    pop eax\n    and eax, 0x3200',
  );
  ring3('ring3 lar kernel code', '    mov ebx, 0x08\n    mov eax, 0x77\n    lar eax, bx');
  return program(
    p.join('\n'),
    `${nameData(names)}\nr3_eax:\n    dd 0\nr3_ebx:\n    dd 0\nalign 16\n    times 4096 db 0\nring3_stack_top:`,
  );
}

/** Page-table layout of the paging program (physical addresses; the first 4 MiB identity-mapped). */
const PD = 0x10000;
const PT0 = 0x11000;
const PT1 = 0x12000; // maps 0x400000..0x7fffff: the test pages
const PAGE_A = 0x300000; // physical pages the test pages point at
const PAGE_B = 0x301000;

/** PTE of test page `n` (linear 0x400000 + n * 4096). */
const pte = (n: number) => PT1 + n * 4;

/**
 * 32-bit paging: A/D updates in PTE and PDE, not-present, write-protect with CR0.WP off and on,
 * user/supervisor from ring 3, 4 MiB pages with CR4.PSE, a reserved bit in a 4 MiB PDE, INVLPG and
 * CR3 reloads, and a fetch from a not-present page; every #PF with its error code and CR2.
 */
export function pagingProgram(): string {
  const names = new Map<string, string>();
  const p: string[] = [];
  const g = (title: string, code: string, show = '') => p.push(guarded(names, title, code, show));
  const showPte = (n: number) => `    mov eax, [${hex(pte(n))}]\n    call puthex32\n    call newline`;
  p.push(`
    mov dword [${hex(PAGE_A)}], 0xaaaa0001
    mov dword [${hex(PAGE_B)}], 0xbbbb0002
    mov edi, ${hex(PD)}
    mov ecx, 0x3000 / 4
    xor eax, eax
    rep stosd
    mov dword [${hex(PD)}], ${hex(PT0 | 0x7)}
    mov dword [${hex(PD + 4)}], ${hex(PT1 | 0x7)}
    mov edi, ${hex(PT0)}
    mov eax, 0x7
map_low:
    stosd
    add eax, 0x1000
    cmp edi, ${hex(PT0 + 4096)}
    jne map_low
    mov dword [${hex(pte(0))}], ${hex(PAGE_A | 0x3)}          ; supervisor, writable
    mov dword [${hex(pte(1))}], ${hex(PAGE_A | 0x2)}          ; not present
    mov dword [${hex(pte(2))}], ${hex(PAGE_A | 0x1)}          ; read-only
    mov dword [${hex(pte(3))}], ${hex(PAGE_A | 0x3)}          ; supervisor only
    mov dword [${hex(pte(4))}], ${hex(PAGE_A | 0x5)}          ; user, read-only
    mov dword [${hex(pte(5))}], ${hex(PAGE_A | 0x7)}          ; user, writable
    mov eax, ${hex(PD)}
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax`);
  g(
    'read sets A',
    '    mov eax, [0x400000]',
    `    call puthex32\n    call space\n${showPte(0)}\n    mov eax, [${hex(PD + 4)}]\n    call puthex32\n    call newline`,
  );
  g('write sets D', '    mov dword [0x400004], 0x12345678', showPte(0));
  g('not present read', '    mov eax, [0x401000]');
  g('not present write', '    mov dword [0x401010], 1');
  g('not present fetch', '    mov eax, 0x401000\n    jmp eax');
  g(
    'read-only write, WP off',
    '    mov dword [0x402008], 0x55',
    `    mov eax, [0x402008]\n    call puthex32\n    call space\n${showPte(2)}`,
  );
  g(
    'read-only write, WP on',
    '    mov eax, cr0\n    or eax, 0x10000\n    mov cr0, eax\n    mov dword [0x40200c], 0x66',
  );
  p.push('    mov eax, cr0\n    and eax, 0xfffeffff\n    mov cr0, eax');
  p.push(ring3Case(names, 'ring3 read supervisor page', '    mov eax, [0x403000]'));
  p.push(ring3Case(names, 'ring3 write read-only user page', '    mov dword [0x404000], 7'));
  p.push(ring3Case(names, 'ring3 read user page', '    mov eax, [0x404000]\n    mov ebx, [0x405000]'));
  p.push(ring3Case(names, 'ring3 write user page', '    mov dword [0x405010], 9\n    mov eax, [0x405010]'));
  g('pte after user accesses', '    nop', `${showPte(4)}\n${showPte(5)}`);
  g(
    'invlpg sees the new mapping',
    `    mov eax, [0x400000]\n    mov dword [${hex(pte(0))}], ${hex(PAGE_B | 0x3)}\n    invlpg [0x400000]\n    mov eax, [0x400000]`,
    '    call puthex32\n    call newline',
  );
  g(
    'cr3 reload sees the new mapping',
    `    mov dword [${hex(pte(0))}], ${hex(PAGE_A | 0x3)}\n    mov eax, cr3\n    mov cr3, eax\n    mov eax, [0x400000]`,
    '    call puthex32\n    call newline',
  );
  g(
    '4 MiB page with PSE',
    `    mov eax, cr4\n    or eax, 0x10\n    mov cr4, eax\n    mov dword [${hex(PD + 8)}], 0x00000083\n    mov eax, [0x800000 + ${hex(PAGE_A)}]`,
    `    call puthex32\n    call space\n    mov eax, [${hex(PD + 8)}]\n    call puthex32\n    call newline`,
  );
  // Not here: a reserved bit in a PDE. QEMU 7.2 reports error code 0x8 (RSVD without P) where the
  // SDM (4.7) gives 0x9 since every entry was present; the MMU's unit tests check the SDM value.
  g(
    'PSE off: the PS bit is ignored',
    `    mov eax, cr4\n    and eax, 0xffffffef\n    mov cr4, eax\n    mov dword [${hex(PD + 8)}], ${hex(PT1 | 0x87)}\n    mov eax, [0x800000]`,
    '    call puthex32\n    call newline',
  );
  p.push('    mov eax, cr0\n    and eax, 0x7fffffff\n    mov cr0, eax');
  return program(p.join('\n'), `${nameData(names)}\n${RING3_DATA}`);
}

/** TSS offsets (SDM Figure 8-2, 32-bit TSS). */
const TSS = {
  LINK: 0,
  CR3: 28,
  EIP: 32,
  EFLAGS: 36,
  EAX: 40,
  ECX: 44,
  EDX: 48,
  EBX: 52,
  ESP: 56,
  EBP: 60,
  ESI: 64,
  EDI: 68,
  ES: 72,
  CS: 76,
  SS: 80,
  DS: 84,
  FS: 88,
  GS: 92,
  LDT: 96,
} as const;

/**
 * Hardware task switches: JMP and CALL through a TSS selector, IRET back through the back link with
 * NT, INT through a task gate, a switch to a busy TSS (#GP); the registers each task sees and the
 * state saved into the TSS of the task switched away from.
 */
export function taskSwitchProgram(): string {
  const names = new Map<string, string>();
  const p: string[] = [];
  const initTss1 = (entry: string) => `
    mov edi, tss1
    mov dword [edi+${TSS.EIP}], ${entry}
    mov dword [edi+${TSS.EFLAGS}], 0x2
    mov dword [edi+${TSS.EAX}], 0x1111aaaa
    mov dword [edi+${TSS.ECX}], 0x2222bbbb
    mov dword [edi+${TSS.EDX}], 0x3333cccc
    mov dword [edi+${TSS.EBX}], 0x4444dddd
    mov dword [edi+${TSS.ESP}], task1_stack_top
    mov dword [edi+${TSS.EBP}], 0x5555eeee
    mov dword [edi+${TSS.ESI}], 0x6666ffff
    mov dword [edi+${TSS.EDI}], 0x77770000
    mov dword [edi+${TSS.ES}], 0x10
    mov dword [edi+${TSS.CS}], 0x08
    mov dword [edi+${TSS.SS}], 0x10
    mov dword [edi+${TSS.DS}], 0x10
    mov dword [edi+${TSS.FS}], 0x10
    mov dword [edi+${TSS.GS}], 0x10
    mov dword [edi+${TSS.LDT}], 0
    mov eax, cr3
    mov [edi+${TSS.CR3}], eax
    and byte [gdt_tss1+5], 0xfd        ; not busy`;
  // What a task prints about itself: registers, TR, EFLAGS.NT, its TSS back link, the busy bits.
  const selfReport = (title: string) => `${named(names, title, 0x4000)}
    pushfd
    call report_regs
    str ax
    movzx eax, ax
    call puthex32
    call space
    movzx eax, word [tss1+${TSS.LINK}]
    call puthex32
    call space
    movzx eax, byte [gdt_tss0+5]
    call puthex32
    call space
    movzx eax, byte [gdt_tss1+5]
    call puthex32
    call newline`;
  const savedTss = (title: string, tss: string) => {
    const lines = [`${named(names, title, 0)}`, '    mov esi, [cur_name]', '    call puts'];
    for (const off of [TSS.EIP, TSS.EFLAGS, TSS.EAX, TSS.ECX, TSS.ESP, TSS.CS, TSS.SS, TSS.DS]) {
      lines.push('    call space', `    mov eax, [${tss}+${off}]`, '    call puthex32');
    }
    lines.push('    call newline');
    return lines.join('\n');
  };

  p.push(initTss1('task1_jmp'));
  // EFLAGS are set with POPFD right before each switch: QEMU 7.2 saves stale lazily-computed flags
  // into the outgoing TSS after an ALU instruction (it saved ZF|PF after an AND whose result was 0x89).
  p.push(
    '    mov eax, 0xa0a0a0a0\n    mov ebx, 0xb0b0b0b0\n    push dword 0x2\n    popfd\n    jmp 0x68:0\nafter_jmp:',
  );
  p.push(selfReport('task0 after jmp back'));
  p.push(savedTss('tss1 saved by jmp', 'tss1'));
  p.push(savedTss('tss0 saved by jmp', 'tss0'));

  p.push(initTss1('task1_call'));
  p.push('    mov eax, 0xc0c0c0c0\n    push dword 0x2\n    popfd\n    call 0x68:0');
  p.push(selfReport('task0 after iret'));
  p.push(savedTss('tss1 saved by iret', 'tss1'));

  p.push(initTss1('task1_call'));
  p.push(`    mov word [idt+0x31*8], 0
    mov word [idt+0x31*8+2], 0x68      ; task gate to TSS 0x68
    mov word [idt+0x31*8+4], 0x8500
    mov word [idt+0x31*8+6], 0
    mov eax, 0xd0d0d0d0
    push dword 0x2
    popfd
    int 0x31`);
  p.push(selfReport('task0 after task gate'));

  p.push(guarded(names, 'jmp to the busy current task', '    jmp 0x28:0'));
  p.push(guarded(names, 'jmp to a data segment as a TSS', '    jmp 0x10:0'));
  const task1 = `
task1_jmp:
${selfReport('task1 via jmp')}
    mov eax, 0x1234
    jmp 0x28:0
    jmp after_jmp
task1_call:
${selfReport('task1 via call')}
    mov eax, 0x5678
    iretd
    jmp task1_call`;
  return program(
    `${p.join('\n')}`,
    `${task1}\n${nameData(names)}\nalign 16\n    times 2048 db 0\ntask1_stack_top:`,
  );
}

/**
 * Virtual-8086 mode: entered with IRET (VM=1), real-mode addressing with segment arithmetic,
 * IOPL-sensitive instructions (CLI, PUSHF, INT) with IOPL 3 and IOPL 0 (#GP), I/O through the TSS
 * bitmap, and the stack frame an interrupt from v86 pushes (segment registers included).
 */
export function v86Program(): string {
  const names = new Map<string, string>();
  const p: string[] = [];
  const V86_BASE = 0x7000; // CS = 0x700
  p.push(`
    mov esi, v86_code
    mov edi, ${hex(V86_BASE)}
    mov ecx, v86_code_end - v86_code
    rep movsb
    mov edi, 0x7100
    xor eax, eax
    mov ecx, 0x40
    rep stosd`);
  const enter = (title: string, ip: string, eflags: number) => {
    const back = label('back');
    return `${named(names, title, 0)}
    mov esi, [cur_name]
    call puts
    call newline
    mov dword [ring0_continue], ${back}
    mov [ring0_esp], esp
    mov dword [recover], 0xffffffff
    push dword 0x0               ; GS
    push dword 0x0               ; FS
    push dword 0x0700            ; DS
    push dword 0x0750            ; ES
    push dword 0x0800            ; SS
    push dword 0x1000            ; SP
    push dword ${hex(eflags)}
    push dword 0x0700            ; CS
    push dword ${ip}
    iretd
${back}:
    mov dword [recover], 0
    mov esi, 0x7100
    mov ecx, 8
${back}_dump:
    mov eax, [esi]
    call puthex32
    call space
    add esi, 4
    dec ecx
    jnz ${back}_dump
    call newline
    mov eax, [intstack_top-4]    ; the frame an INT from v86 pushed: GS FS DS ES SS ESP EFLAGS CS EIP
    call puthex32
    call space
    mov eax, [intstack_top-12]
    call puthex32
    call space
    mov eax, [intstack_top-16]
    call puthex32
    call space
    mov eax, [intstack_top-28]
    and eax, ~0x10000            ; RF: a fault pushes 1 (SDM 17.3.1.1), QEMU TCG 0 (see README)
    call puthex32
    call space
    mov eax, [intstack_top-32]
    call puthex32
    call space
    mov eax, [intstack_top-36]
    call puthex32
    call newline
    mov edi, 0x7100
    xor eax, eax
    mov ecx, 0x40
    rep stosd
    mov edi, intstack_top-64
    mov ecx, 16
    rep stosd`;
  };
  p.push(enter('v86 iopl3', '(v86_iopl3 - v86_code)', 0x23002));
  p.push(enter('v86 iopl0', '(v86_iopl0 - v86_code)', 0x20002));
  const code = `
v86_code:
bits 16
v86_iopl3:
    mov ax, 0x1234
    mov bx, cs
    mov cx, ss
    mov [0x100], ax             ; DS = 0x700: linear 0x7100
    mov [0x104], bx
    mov [0x108], cx
    mov word [es:0x0], 0xbeef   ; ES = 0x750: linear 0x7500
    mov dx, [0x500]             ; the same bytes through DS
    mov [0x10c], dx
    cli
    pushf
    pop ax
    mov [0x110], ax
    sti
    mov sp, 0x0ff0
    push word 0x4321
    pop di
    mov [0x114], di
    mov [0x118], sp
    int 0x30                    ; IOPL 3: through the IDT to ring 0
v86_iopl0:
    mov ax, 0x5678
    mov [0x100], ax
    cli                         ; #GP(0), resumed at the next recovery point: ring 0
    hlt
v86_code_end:
bits 32`;
  return program(p.join('\n'), `${code}\n${nameData(names)}`);
}

/** Doubles used as x87 operands, as bit patterns (hi, lo). */
const F64: Record<string, [number, number]> = {
  one: [0x3ff00000, 0],
  three: [0x40080000, 0],
  tenth: [0x3fb99999, 0x9999999a],
  big: [0x7e37e43c, 0x8800759c], // 1e300
  neg2_5: [0xc0040000, 0],
  denormal: [0x00000000, 0x00000001],
  zero: [0, 0],
  inf: [0x7ff00000, 0],
  two_pow_63: [0x43e00000, 0],
};

/** Control words: precision 64/53/24 bits with round-to-nearest, and the four rounding modes. */
const CW = { pc64: 0x37f, pc53: 0x27f, pc24: 0x07f, down: 0x77f, up: 0xb7f, zero: 0xf7f } as const;

/**
 * Status-word bits checked after arithmetic: the exception flags, SF, ES and TOP. C0, C2 and C3 are
 * undefined after arithmetic (SDM, each instruction's "FPU Flags Affected"); comparison cases check
 * them instead. C1 ("result rounded up") is left out too: QEMU 7.2 does not set it when a result is
 * rounded up, where the SDM does; x87's unit tests check it.
 */
const SW_ARITH = 0x3aff & ~0x0100 & ~0x0400 & ~0x0002 & ~0x0200;
/**
 * Everything but DE (0x2): QEMU 7.2 does not raise the denormal-operand flag when FLD loads a
 * denormal double, where the SDM's FLD says #D occurs; DE is checked in x87's unit tests instead.
 */
const SW_ALL = 0x7fff & ~0x0002;

/**
 * x87: constants under each rounding mode, FADD/FSUB/FMUL/FDIV over special operands in three
 * precisions, FSQRT, FRNDINT, FSCALE, FXTRACT, FPREM/FPREM1, comparisons (FCOM, FUCOM, FCOMI, FTST,
 * FXAM), integer and BCD conversions with overflow, and the transcendentals. FSIN/FCOS/FPTAN/FSINCOS
 * print the significand with its low 11 bits cleared: QEMU 7.2 computes them through a host double,
 * so only 53 bits of its result are meaningful.
 */
export function x87Program(): string {
  const names = new Map<string, string>();
  const p: string[] = [];
  const fcase = (title: string, swMask: number, code: string, sigMask = 0xffffffff) =>
    p.push(`${named(names, title, swMask)}
    fninit
${code}
    mov dword [sig_mask], ${hex(sigMask)}
    call report_fpu`);
  for (const cwName of Object.keys(CW)) {
    for (const c of ['fld1', 'fldl2t', 'fldl2e', 'fldpi', 'fldlg2', 'fldln2', 'fldz']) {
      fcase(`${c} ${cwName}`, SW_ARITH, `    fldcw [cw_${cwName}]\n    ${c}`);
    }
  }
  const operands = ['one', 'three', 'tenth', 'big', 'neg2_5', 'denormal', 'zero', 'inf'];
  // With precision control at 24 bits, only operands exact in 24 bits: QEMU 7.2 rounds the operands
  // to the precision-control width before operating (0.1 * 0.1 comes out one ulp high, 0.1 - 0.1
  // raises PE), where the SDM rounds only the result; x87's unit tests check the SDM behaviour.
  const exactIn24 = ['one', 'three', 'neg2_5', 'zero', 'inf'];
  for (const op of ['fadd', 'fsub', 'fmul', 'fdiv', 'fdivr']) {
    for (const cwName of ['pc64', 'pc53', 'pc24'] as const) {
      const set = cwName === 'pc24' ? exactIn24 : operands;
      for (const a of set) {
        for (const b of set) {
          fcase(
            `${op} ${a} ${b} ${cwName}`,
            SW_ARITH,
            `    fldcw [cw_${cwName}]\n    fld qword [f_${a}]\n    ${op} qword [f_${b}]`,
          );
        }
      }
    }
  }
  for (const cwName of Object.keys(CW)) {
    fcase(
      `fdiv 1/3 ${cwName}`,
      SW_ARITH,
      `    fldcw [cw_${cwName}]\n    fld qword [f_one]\n    fdiv qword [f_three]`,
    );
    fcase(
      `frndint -2.5 ${cwName}`,
      SW_ARITH,
      `    fldcw [cw_${cwName}]\n    fld qword [f_neg2_5]\n    frndint`,
    );
    fcase(
      `fist 2.5 ${cwName}`,
      SW_ARITH,
      `    fldcw [cw_${cwName}]\n    fld qword [f_neg2_5]\n    fchs\n    fistp dword [ibuf]\n    fild dword [ibuf]`,
    );
  }
  for (const a of operands) {
    fcase(`fsqrt ${a}`, SW_ARITH, `    fld qword [f_${a}]\n    fsqrt`);
    fcase(`fxtract ${a}`, SW_ARITH, `    fld qword [f_${a}]\n    fxtract\n    fstp tword [tbuf2]`);
    fcase(
      `fscale ${a}`,
      SW_ARITH,
      `    fld qword [f_three]\n    fld qword [f_${a}]\n    fscale\n    fstp st1`,
    );
    fcase(`fabs fchs ${a}`, SW_ARITH, `    fld qword [f_${a}]\n    fabs\n    fchs`);
    fcase(`ftst ${a}`, SW_ALL, `    fld qword [f_${a}]\n    ftst`);
    fcase(`fxam ${a}`, SW_ALL, `    fld qword [f_${a}]\n    fxam`);
    for (const b of operands) {
      fcase(`fcom ${a} ${b}`, SW_ALL, `    fld qword [f_${a}]\n    fcom qword [f_${b}]`);
      // The status word is read right after FPREM: a following FSTP would set C1 again (QEMU 7.2
      // leaves C1 alone there, the SDM clears it), and C0/C3/C1 carry the quotient bits.
      fcase(`fprem ${a} ${b}`, SW_ALL, `    fld qword [f_${b}]\n    fld qword [f_${a}]\n    fprem`);
      fcase(
        `fprem1 ${a} ${b}`,
        SW_ALL & ~0x4300, // QEMU 7.2 sets no quotient bits (C0/C3/C1) for FPREM1; the SDM sets them as for FPREM

        `    fld qword [f_${b}]\n    fld qword [f_${a}]\n    fprem1`,
      );
      fcase(
        `fcomi ${a} ${b}`,
        SW_ALL,
        `    fld qword [f_${b}]\n    fld qword [f_${a}]\n    fcomi st0, st1\n    pushfd\n    pop eax\n    and eax, 0x8d5\n    mov [ibuf], eax\n    fstp st1\n    fild dword [ibuf]`,
      );
    }
  }
  fcase('fxam empty', SW_ALL, '    fxam\n    fld1');
  // Not here: x87 stack overflow and underflow. QEMU 7.2 does not raise the stack fault (IE with SF)
  // for them; x87's unit tests check the SDM behaviour.
  for (const [w, v] of [
    ['word', 'big'],
    ['dword', 'big'],
    ['qword', 'two_pow_63'],
    ['dword', 'neg2_5'],
    ['qword', 'tenth'],
  ]) {
    fcase(`fistp ${w} ${v}`, SW_ARITH, `    fld qword [f_${v}]\n    fistp ${w} [ibuf]\n    fild ${w} [ibuf]`);
  }
  // Not here: FBSTP of an out-of-range value (QEMU 7.2 stores digits, not the packed BCD indefinite).
  fcase(
    'fbstp fbld -12345678.9',
    SW_ARITH,
    '    fild dword [i_big]\n    fchs\n    fbstp tword [tbuf2]\n    fbld tword [tbuf2]',
  );
  // Transcendentals: the low 12 bits of the significand are cleared (QEMU's FSIN/FCOS/FPTAN go
  // through a host double, one double ulp is bit 11) and PE is not compared (QEMU does not raise it
  // for them; their results are always inexact on real hardware). F2XM1 only inside its domain
  // [-1, 1] and FPTAN only inside 2^63: outside, the SDM leaves the result undefined.
  const trans = 0xfffff000;
  const swTrans = SW_ALL & ~0x0200 & ~0x0020;
  for (const a of ['tenth', 'neg2_5', 'three', 'zero', 'big']) {
    const inDomain = a === 'tenth' || a === 'zero';
    fcase(`fsin ${a}`, swTrans, `    fld qword [f_${a}]\n    fsin`, trans);
    fcase(`fcos ${a}`, swTrans, `    fld qword [f_${a}]\n    fcos`, trans);
    if (a !== 'big') fcase(`fptan ${a}`, swTrans, `    fld qword [f_${a}]\n    fptan\n    fstp st0`, trans);
    if (inDomain) fcase(`f2xm1 ${a}`, swTrans, `    fld qword [f_${a}]\n    f2xm1`, trans);
    fcase(
      `fyl2x ${a}`,
      swTrans,
      `    fld qword [f_three]\n    fld qword [f_${a}]\n    fabs\n    fyl2x`,
      trans,
    );
    fcase(`fyl2xp1 ${a}`, swTrans, `    fld qword [f_three]\n    fld qword [f_tenth]\n    fyl2xp1`, trans);
    fcase(`fpatan ${a}`, swTrans, `    fld qword [f_${a}]\n    fld qword [f_three]\n    fpatan`, trans);
  }
  fcase(
    'fsave image',
    SW_ARITH,
    `    fldcw [cw_down]\n    fld qword [f_three]\n    fld qword [f_tenth]\n    fsave [fsave_buf]\n    mov eax, [fsave_buf]\n    and eax, 0xffff\n    mov [ibuf], eax\n    mov eax, [fsave_buf+4]\n    and eax, 0xffff\n    mov [ibuf+4], eax\n    mov eax, [fsave_buf+8]\n    and eax, 0xffff\n    mov [ibuf+8], eax\n    frstor [fsave_buf]\n    fild dword [ibuf+8]`,
  );
  const data = `
report_fpu:                 ; prints [cur_name], FSW & [cur_mask], ST0 as sign/exponent and significand; pops ST0
    pushad
    fnstsw ax
    and eax, [cur_mask]
    mov ebx, eax
    mov esi, [cur_name]
    call puts
    call space
    mov eax, ebx
    call puthex32
    fstp tword [tbuf]
    call space
    movzx eax, word [tbuf+8]
    call puthex32
    call space
    mov eax, [tbuf+4]
    call puthex32
    call space
    mov eax, [tbuf]
    and eax, [sig_mask]
    call puthex32
    call newline
    popad
    ret
align 16
${Object.entries(F64)
  .map(([n, [hi, lo]]) => `f_${n}:\n    dd ${hex(lo)}, ${hex(hi)}`)
  .join('\n')}
${Object.entries(CW)
  .map(([n, v]) => `cw_${n}:\n    dw ${hex(v)}`)
  .join('\n')}
i_big:
    dd 12345679
sig_mask:
    dd 0
align 16
tbuf:
    times 16 db 0
tbuf2:
    times 16 db 0
ibuf:
    times 16 db 0
fsave_buf:
    times 128 db 0
${nameData(names)}`;
  return program(p.join('\n'), data);
}
