/**
 * The 64-bit (IA-32e mode) test programs, generated as assembly text like programs.ts and run on the
 * long-mode runtime (runtime64.ts). RFLAGS are masked to the bits the SDM defines for each
 * instruction (undefined flags may differ between CPU models and QEMU).
 */
import { HIGH_BASE, PT4K_BASE, program64 } from './runtime64.js';
import { hex64 as hex, M64, REG_MARKERS, regRun } from './vec-helpers.js';

/** Arithmetic flags: OF SF ZF AF PF CF. */
const ARITH = 0x8d5;
/** Logic ops leave AF undefined (SDM: AND/OR/XOR/TEST "AF is undefined"). */
const LOGIC = 0x8c5;
/** RFLAGS inputs: all arithmetic flags clear, or all set. */
const FLAGS_CLEAR = 0x002;
const FLAGS_SET = 0x002 | ARITH;

/** 64-bit edge operands, plus one fixed "random" value. */
export const EDGE64: readonly bigint[] = [
  0n,
  1n,
  0x7fff_ffff_ffff_ffffn,
  0x8000_0000_0000_0000n,
  M64,
  0xffff_ffffn,
  0x1_0000_0000n,
  0x1234_5678_9abc_def0n,
];

let labelCounter = 0;
const label = (p: string) => `${p}_${labelCounter++}`;

function nameData(names: Map<string, string>): string {
  return [...names].map(([l, text]) => `${l}:\n    db "${text}", 0`).join('\n');
}

function pairTable(name: string, values: readonly bigint[], counts?: readonly bigint[]): string {
  const rows: string[] = ['align 8', `${name}:`];
  for (const a of values) for (const b of counts ?? values) rows.push(`    dq ${hex(a)}, ${hex(b)}`);
  return rows.join('\n');
}

/** Shared reporting routines: name, inputs, one or two results and masked flags on one line. */
const REPORT = `
report_pair:                ; rsi name, [rdi] a, [rdi+8] b, rax result, rcx flags
    call puts
    push rax
    mov rax, [rdi]
    call space_hex
    mov rax, [rdi+8]
    call space_hex
    pop rax
    call space_hex
    push rax
    mov rax, rcx
    call space_hex
    pop rax
    call newline
    ret
report_res2:                ; rsi name, [rdi] a, [rdi+8] b, rax and rdx results, rcx flags
    call puts
    push rax
    mov rax, [rdi]
    call space_hex
    mov rax, [rdi+8]
    call space_hex
    pop rax
    call space_hex
    push rax
    mov rax, rdx
    call space_hex
    mov rax, rcx
    call space_hex
    pop rax
    call newline
    ret
`;

/**
 * One loop over a pair table: a in rax and rdx, b in rbx and rcx, RFLAGS set, `insn`, report the
 * result registers and RFLAGS & mask.
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
    mov rsi, ${nameLabel}
    mov rdi, ${table}
    mov rbp, ${count}
${loop}:
    mov rax, [rdi]
    mov rdx, rax
    mov rbx, [rdi+8]
    mov rcx, rbx
    push ${hex(flagsIn)}
    popfq
    ${insn}
    pushfq
    pop rcx
    and rcx, ${hex(mask)}
    call ${report}
    add rdi, 16
    dec rbp
    jnz ${loop}`;
}

/** Sets the name and flag mask the runtime's `report_regs` prints with. */
function named(names: Map<string, string>, title: string, mask: number): string {
  const l = label('name');
  names.set(l, title);
  return `    mov qword [cur_name], ${l}\n    mov qword [cur_mask], ${hex(mask)}`;
}

/**
 * One case: registers rax rbx rcx rdx rsi rdi start as recognisable markers, `code` runs with RFLAGS
 * = `flags`, then the six registers and RFLAGS & mask are printed. A fault inside `code` is printed
 * and the case goes on after it, with RSP as it was.
 */
function regCase(names: Map<string, string>, title: string, code: string, mask = ARITH, flags = FLAGS_CLEAR) {
  const after = label('after');
  return `${named(names, title, mask)}
${REG_MARKERS}
${regRun(after, code, flags)}`;
}

/** The flags the SDM defines after a 64-bit shift/rotate by `count` (masked to 6 bits). */
function shiftMask(op: string, count: number): number {
  const masked = count & 63;
  if (masked === 0) return ARITH; // nothing changes: every flag is checked
  const rotate = op.startsWith('ro') || op.startsWith('rc');
  if (rotate) return masked === 1 ? ARITH : ARITH & ~0x800; // rotates touch only CF and OF
  return 0x0c5 | (masked === 1 ? 0x800 : 0); // SF ZF PF CF; OF for 1-bit shifts; AF undefined
}

/** Scratch buffer of the 64-bit programs (identity mapped, and at HIGH_BASE + BUF). */
const BUF = 0x8000;

export function longAluProgram(): string {
  const names = new Map<string, string>();
  const p: string[] = [];
  const n = EDGE64.length ** 2;
  const c = (title: string, code: string, mask = ARITH, flags = FLAGS_CLEAR) =>
    p.push(regCase(names, title, code, mask, flags));

  // ADD ADC SUB SBB CMP AND OR XOR TEST on 64-bit operands.
  for (const [op, mask, carryIn] of [
    ['add', ARITH, false],
    ['adc', ARITH, true],
    ['sub', ARITH, false],
    ['sbb', ARITH, true],
    ['cmp', ARITH, false],
    ['and', LOGIC, false],
    ['or', LOGIC, false],
    ['xor', LOGIC, false],
    ['test', LOGIC, false],
  ] as const) {
    for (const f of carryIn ? [FLAGS_CLEAR, FLAGS_SET] : [FLAGS_CLEAR]) {
      p.push(pairLoop(names, `${op}64 f${f === FLAGS_SET ? 1 : 0}`, `${op} rax, rbx`, f, mask, n));
    }
  }
  // ALU ops with a sign-extended imm8/imm32 and with a memory operand.
  p.push(pairLoop(names, 'add64 imm32', 'add rax, -0x80000000', FLAGS_CLEAR, ARITH, n));
  p.push(pairLoop(names, 'sub64 imm8', 'sub rax, -1', FLAGS_CLEAR, ARITH, n));
  p.push(pairLoop(names, 'and64 imm32', 'and rax, 0x7fffffff', FLAGS_CLEAR, LOGIC, n));
  p.push(pairLoop(names, 'xor64 mem', 'xor rax, [rdi+8]', FLAGS_CLEAR, LOGIC, n));
  // INC DEC NEG NOT (INC/DEC keep CF: both flag inputs matter; NOT changes no flag).
  for (const op of ['inc', 'dec', 'neg', 'not']) {
    for (const f of [FLAGS_CLEAR, FLAGS_SET]) {
      p.push(pairLoop(names, `${op}64 f${f === FLAGS_SET ? 1 : 0}`, `${op} rax`, f, ARITH, EDGE64.length));
    }
  }
  // R8..R15 as operands.
  p.push(
    pairLoop(
      names,
      'add r8 r15',
      'mov r8, rax\n    mov r15, rbx\n    add r8, r15\n    mov rax, r8',
      FLAGS_CLEAR,
      ARITH,
      n,
    ),
  );
  p.push(
    pairLoop(
      names,
      'sub r11d r12d',
      'mov r11, rax\n    mov r12, rbx\n    sub r11d, r12d\n    mov rax, r11',
      FLAGS_CLEAR,
      ARITH,
      n,
    ),
  );

  // Operand sizes: 32-bit writes zero-extend, 8/16-bit writes keep the rest of the register.
  const full = 'mov rax, 0xfedcba9876543210\n    mov rbx, 0x0123456789abcdef';
  c('add eax ebx (zero-extends)', `${full}\n    add eax, ebx`);
  c('mov eax ebx (zero-extends)', `${full}\n    mov eax, ebx`);
  c('xor eax eax', `${full}\n    xor eax, eax`);
  c('mov eax imm (zero-extends)', `${full}\n    mov eax, 0x80000000`);
  c('add ax bx (keeps 63:16)', `${full}\n    add ax, bx`);
  c('add al bl (keeps 63:8)', `${full}\n    add al, bl`);
  c('mov ah bh', `${full}\n    mov ah, bh`);
  c('inc r9d (zero-extends)', `mov r9, -1\n    inc r9d\n    mov rax, r9`);
  c('not r10w', `mov r10, 0x1111222233334444\n    not r10w\n    mov rax, r10`);
  c('movsxd rax ebx', 'mov rbx, 0x1111111180000000\n    movsxd rax, ebx');
  c('movsxd rcx [mem]', `mov dword [${BUF}], 0xfffffffe\n    movsxd rcx, dword [${BUF}]`);
  c('movzx rax bl', 'mov rbx, 0xff\n    movzx rax, bl');
  c('movzx rax bx', 'mov rbx, 0x8001\n    movzx rax, bx');
  c('movsx rax bl', 'mov rbx, 0x80\n    movsx rax, bl');
  c('movsx rax bx', 'mov rbx, 0x8001\n    movsx rax, bx');
  c('movzx eax bl', 'mov rbx, 0x80\n    movzx eax, bl');
  c('mov rax imm64', 'mov rax, 0x8000000000000001\n    mov rbx, 0x0000000100000000');
  c('mov rax simm32', 'mov rax, -2\n    mov rbx, 0x7fffffff');
  c('mov rax moffs64', `mov qword [${BUF}], 0x55667788\n    mov rax, [qword ${BUF}]`);
  // REX byte registers: SPL BPL SIL DIL and R8B..R15B (without REX these encodings are AH CH DH BH).
  c(
    'rex byte regs spl bpl sil dil',
    `mov r12, rsp
    mov rsp, 0x1111111111111111
    mov rbp, 0x2222222222222222
    mov spl, 0x81
    mov bpl, 0x82
    mov sil, 0x83
    mov dil, 0x84
    mov rax, rsp
    mov rbx, rbp
    mov rsp, r12`,
  );
  c(
    'rex byte regs r8b..r15b',
    `mov r8, -1
    mov r9, -1
    mov r10, -1
    mov r11, -1
    mov r12, -1
    mov r13, -1
    mov r14, -1
    mov r15, -1
    mov r8b, 8
    mov r9b, 9
    add r10b, 10
    add r11b, 11
    sub r12b, r13b
    xor r14b, 0x7f
    mov r15b, spl
    mov r15b, 0x15
    mov rax, r8
    mov rbx, r9
    mov rcx, r10
    mov rdx, r11
    mov rsi, r12
    mov rdi, r14
    add rdi, r15`,
  );
  c('mov sil dil', 'mov rdi, 0x7f\n    mov sil, dil');
  // LEA: 64-bit address, 32-bit address (67h), 32-bit destination, RIP-relative.
  c('lea 64', 'mov rbx, 0x7ffffffffffffff0\n    mov rcx, 3\n    lea rax, [rbx+rcx*8+0x10]');
  c('lea 64 wrap', 'mov rbx, -8\n    mov rcx, 2\n    lea rax, [rbx+rcx*4]');
  c('lea a32', 'mov rbx, 0x12345678fffffff0\n    mov rcx, 0x100000020\n    lea rax, [ebx+ecx*2]');
  c(
    'lea r32 from 64-bit address',
    'mov rbx, 0x1234567880000000\n    mov rcx, 0x80000001\n    lea eax, [rbx+rcx]',
  );
  c('lea r16', 'mov rax, -1\n    mov rbx, 0x12345\n    lea ax, [rbx+1]');
  c('lea rip-relative', 'lea rax, [rel rip_target]\n    mov rbx, rip_target');
  c('mov rip-relative', `mov rax, [rel rip_data]\n    mov rbx, [rel rip_data+8]`);
  // XCHG CMPXCHG XADD BSWAP.
  c('xchg rax rbx', 'mov rax, 0x8000000000000001\n    mov rbx, 0x00000000ffffffff\n    xchg rax, rbx');
  c('xchg eax ebx (zero-extends both)', 'mov rax, -1\n    mov rbx, -2\n    xchg eax, ebx');
  c(
    'xchg r8 [mem]',
    `mov qword [${BUF}], -3\n    mov r8, 0x123456789\n    xchg r8, [${BUF}]\n    mov rax, r8\n    mov rbx, [${BUF}]`,
  );
  c('nop (90) keeps rax', 'mov rax, -1\n    db 0x90');
  c('xchg ecx ecx (zero-extends)', 'mov rcx, -1\n    xchg ecx, ecx');
  for (const [mem, acc] of [
    [0x8000_0000_0000_0000n, 0x8000_0000_0000_0000n],
    [0x8000_0000_0000_0000n, 0n],
    [0x1_0000_0000n, 0n],
  ] as const) {
    c(
      `cmpxchg64 m=${hex(mem)} rax=${hex(acc)}`,
      `mov rsi, ${hex(mem)}\n    mov [${BUF}], rsi\n    mov rax, ${hex(acc)}\n    mov rbx, 0xcafef00dcafef00d\n    cmpxchg [${BUF}], rbx\n    mov rcx, [${BUF}]`,
    );
  }
  c(
    'cmpxchg r32 fail zero-extends rax',
    `mov dword [${BUF}], 5\n    mov rax, -1\n    mov ebx, 7\n    cmpxchg [${BUF}], ebx\n    mov rcx, [${BUF}]`,
  );
  c('xadd64', 'mov rax, 0x7fffffffffffffff\n    mov rbx, 1\n    xadd rax, rbx');
  c('xadd64 mem', `mov qword [${BUF}], -1\n    mov rbx, 2\n    xadd [${BUF}], rbx\n    mov rax, [${BUF}]`);
  c('bswap rax', 'mov rax, 0x0123456789abcdef\n    bswap rax');
  c('bswap r13', 'mov r13, 0x8000000000000080\n    bswap r13\n    mov rax, r13');
  c('bswap eax (zero-extends)', 'mov rax, 0xffffffff11223344\n    bswap eax');
  // CBW CWDE CDQE CWD CDQ CQO.
  for (const v of [0x0000_0000_0000_0080n, 0xffff_ffff_7fff_8000n, 0x1234_5678_8000_0000n]) {
    for (const op of ['cbw', 'cwde', 'cdqe', 'cwd', 'cdq', 'cqo']) {
      c(`${op} ${hex(v)}`, `mov rax, ${hex(v)}\n    mov rdx, -1\n    ${op}`);
    }
  }
  c('cqo positive', 'mov rax, 0x7fffffffffffffff\n    mov rdx, -1\n    cqo');
  // CMOVcc and SETcc after 64-bit compares: rdx collects the 16 SETcc results (bit 15 = o .. bit 0 = g).
  const conds = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
  for (const [a, b] of [
    [0n, 0n],
    [1n, 0n],
    [0n, 1n],
    [0x8000_0000_0000_0000n, 1n],
    [0x7fff_ffff_ffff_ffffn, M64],
    [M64, 0x7fff_ffff_ffff_ffffn],
    [0x1_0000_0000n, 0xffff_ffffn],
    [0xffff_ffffn, 0x1_0000_0000n],
  ] as const) {
    const sets = conds
      .map((cc) => `    push r15\n    popfq\n    set${cc} cl\n    shl rdx, 1\n    or dl, cl`)
      .join('\n');
    c(
      `setcc cmp ${hex(a)} ${hex(b)}`,
      `mov rax, ${hex(a)}
    mov rbx, ${hex(b)}
    cmp rax, rbx
    pushfq
    pop r15
    xor edx, edx
    xor ecx, ecx
${sets}
    push r15
    popfq
    mov rsi, 1
    mov rdi, 2
    cmovl rsi, rdi
    mov rdi, 3
    cmovb rdi, rax
    push r15
    popfq`,
    );
  }
  c(
    'cmovz r32 not taken still zero-extends',
    'mov rax, -1\n    mov rbx, 5\n    cmp rbx, 4\n    cmovz eax, ebx',
  );
  c('cmovnz r32 taken', 'mov rax, -1\n    mov rbx, -5\n    cmp rbx, 4\n    cmovnz eax, ebx');
  c('cmovz r64 not taken keeps', 'mov rax, -1\n    mov rbx, 5\n    cmp rbx, 4\n    cmovz rax, rbx');

  // Shifts and rotates by CL (0, 1, 31, 32, 33, 63, and 64/65, which mask to 0/1) and by imm8.
  const shiftValues = [
    1n,
    0x8000_0000_0000_0000n,
    0x8000_0000_0000_0001n,
    0x7fff_ffff_ffff_ffffn,
    M64,
    0x1234_5678_9abc_def0n,
  ];
  const counts = [0, 1, 31, 32, 33, 63, 64, 65];
  for (const op of ['shl', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr']) {
    for (const count of counts) {
      const flagsIn = op.startsWith('rc') ? [FLAGS_CLEAR, FLAGS_SET] : [FLAGS_SET];
      for (const f of flagsIn) {
        p.push(
          pairLoop(
            names,
            `${op}64 cl=${count} f${f === FLAGS_SET ? 1 : 0}`,
            `mov ecx, ${count}\n    ${op} rax, cl`,
            f,
            shiftMask(op, count),
            shiftValues.length,
            'report_pair',
            'shift_pairs',
          ),
        );
      }
    }
    for (const count of [1, 33, 63]) {
      p.push(
        pairLoop(
          names,
          `${op}64 imm ${count}`,
          `${op} rax, ${count}`,
          FLAGS_CLEAR,
          shiftMask(op, count),
          shiftValues.length,
          'report_pair',
          'shift_pairs',
        ),
      );
    }
  }
  // SHLD/SHRD 64: CF, SF, ZF, PF defined for a nonzero count, OF for a 1-bit count, AF undefined.
  for (const op of ['shld', 'shrd']) {
    for (const count of counts) {
      p.push(
        pairLoop(
          names,
          `${op}64 cl=${count}`,
          `mov ecx, ${count}\n    ${op} rax, rbx, cl`,
          FLAGS_SET,
          shiftMask('shl', count),
          shiftValues.length,
          'report_pair',
          'shift_pairs',
        ),
      );
    }
  }
  p.push(
    pairLoop(
      names,
      'shld64 imm 4',
      'shld rax, rbx, 4',
      FLAGS_CLEAR,
      shiftMask('shl', 4),
      shiftValues.length,
      'report_pair',
      'shift_pairs',
    ),
  );
  p.push(
    pairLoop(
      names,
      'shl r32 cl=33',
      'mov ecx, 33\n    shl eax, cl',
      FLAGS_SET,
      shiftMask('shl', 1),
      shiftValues.length,
      'report_pair',
      'shift_pairs',
    ),
  );

  // MUL/IMUL (CF and OF defined) and DIV/IDIV (no flags defined), with #DE.
  p.push(pairLoop(names, 'mul64', 'mul rbx', FLAGS_CLEAR, 0x801, n, 'report_res2'));
  p.push(pairLoop(names, 'imul64', 'imul rbx', FLAGS_CLEAR, 0x801, n, 'report_res2'));
  p.push(pairLoop(names, 'imul2_64', 'imul rax, rbx', FLAGS_CLEAR, 0x801, n));
  p.push(pairLoop(names, 'imul3_64 -3', 'imul rax, rbx, -3', FLAGS_CLEAR, 0x801, n));
  p.push(pairLoop(names, 'imul3_64 imm32', 'imul rax, rbx, 0x12345678', FLAGS_CLEAR, 0x801, n));
  p.push(
    pairLoop(
      names,
      'mul64 mem',
      `mov [${BUF}], rbx\n    mul qword [${BUF}]`,
      FLAGS_CLEAR,
      0x801,
      n,
      'report_res2',
    ),
  );
  for (const op of ['div', 'idiv']) {
    const after = label('after');
    p.push(
      pairLoop(
        names,
        `${op}64`,
        `mov qword [recover], ${after}\n    sar rdx, 63\n    ${op} rbx\n${after}:\n    mov qword [recover], 0`,
        FLAGS_CLEAR,
        0,
        n,
        'report_res2',
      ),
    );
    const after2 = label('after');
    p.push(
      pairLoop(
        names,
        `${op}64 rdx=1`,
        `mov qword [recover], ${after2}\n    mov edx, 1\n    ${op} rbx\n${after2}:\n    mov qword [recover], 0`,
        FLAGS_CLEAR,
        0,
        n,
        'report_res2',
      ),
    );
  }
  c(
    'div r32 (zero-extends rax rdx)',
    'mov rax, 0xffffffff00000007\n    mov rdx, 0xffffffff00000000\n    mov rbx, 2\n    div ebx',
    0,
  );

  // BT BTS BTR BTC 64: register (offset masked to 6 bits) and memory (offset signed, unmasked).
  const btValues = [0n, 1n, 0x8000_0000_0000_0000n, M64, 0x1234_5678_9abc_def0n];
  for (const op of ['bt', 'bts', 'btr', 'btc']) {
    for (const v of btValues) {
      for (const bit of [0, 31, 32, 63, 64, 100]) {
        // CF is defined; ZF is unaffected (set on input, so it is checked); the rest undefined.
        c(
          `${op}64 ${hex(v)} ${bit}`,
          `mov rax, ${hex(v)}\n    mov rbx, ${bit}\n    ${op} rax, rbx`,
          0x041,
          FLAGS_SET,
        );
      }
    }
    for (const bit of [0, 63, 64, 200, -1, -65, -200]) {
      c(
        `${op}64 mem ${bit}`,
        `mov rdi, bt_buf+64
    mov rbx, ${bit}
    ${op} [rdi], rbx
    mov rax, [bt_buf+32]
    mov rbx, [bt_buf+88]
    mov rcx, [bt_buf+48]
    mov rdx, [bt_buf+56]
    mov rsi, [bt_buf+64]
    mov rdi, [bt_buf+72]`,
        0x041,
        FLAGS_SET,
      );
    }
    // Offsets of +-2^35 bits (+-4 GiB): the base register is 4 GiB off, the address is bt_buf.
    c(
      `${op}64 mem -2^35+5`,
      `mov rdi, bt_buf+0x100000000
    mov rbx, -0x800000000+5
    ${op} [rdi], rbx
    mov rax, [bt_buf]`,
      0x041,
      FLAGS_SET,
    );
    c(
      `${op}64 mem +2^35+6`,
      `mov rdi, bt_buf-0x100000000
    mov rbx, 0x800000006
    ${op} [rdi], rbx
    mov rax, [bt_buf]`,
      0x041,
      FLAGS_SET,
    );
    c(`${op}64 mem imm 70`, `${op} qword [bt_buf+64], 70\n    mov rax, [bt_buf+64]`, 0x041, FLAGS_SET);
  }
  // BSF BSR 64 (destination undefined for a zero source on Intel: only ZF is printed then), POPCNT.
  const scanValues = [0n, 1n, 0x8000_0000_0000_0000n, 0x1_0000_0000n, M64, 0x0000_f000_0000_0f00n];
  for (const op of ['bsf', 'bsr']) {
    for (const v of scanValues) {
      c(
        `${op}64 ${hex(v)}`,
        `mov rbx, ${hex(v)}\n    mov rax, -1\n    ${op} rax, rbx${v === 0n ? '\n    mov eax, 0' : ''}`,
        0x040,
        v === 0n ? FLAGS_CLEAR : FLAGS_SET, // ZF must change either way
      );
    }
  }
  for (const v of scanValues) {
    c(`popcnt64 ${hex(v)}`, `mov rbx, ${hex(v)}\n    mov rax, -1\n    popcnt rax, rbx`, ARITH, FLAGS_SET);
  }
  c('popcnt r32 (zero-extends)', 'mov rbx, -1\n    mov rax, -1\n    popcnt eax, ebx', ARITH, FLAGS_SET);
  c(
    'popcnt r9 [mem]',
    `mov r13, 0x0101010101010101\n    mov [${BUF}], r13\n    popcnt r9, [${BUF}]\n    mov rax, r9`,
    ARITH,
    FLAGS_SET,
  );

  const btBuf = [
    'align 16',
    'bt_buf:',
    ...Array.from({ length: 16 }, (_, i) => `    dq ${hex(0x0f0f_0000_0000_0000n + BigInt(i))}`),
  ];
  const data = `${REPORT}
${pairTable('pairs', EDGE64)}
align 8
shift_pairs:
${shiftValues.map((v, i) => `    dq ${hex(v)}, ${hex(shiftValues[(i + 3) % shiftValues.length]!)}`).join('\n')}
align 8
rip_data:
    dq 0x1122334455667788, 0x99aabbccddeeff00
rip_target:
    nop
${btBuf.join('\n')}
${nameData(names)}`;
  return program64(p.join('\n'), data);
}

/** Stack area of the flow program's PUSH/POP/ENTER cases. */
const TSTACK = 0x9000;
/** String-operation buffers: source bytes 0..255 repeating, destination cleared before each case. */
const SRC = 0xa000;
const DST = 0xb000;

export function longFlowProgram(): string {
  const names = new Map<string, string>();
  const p: string[] = [];
  const c = (title: string, code: string, mask = ARITH, flags = FLAGS_CLEAR) =>
    p.push(regCase(names, title, code, mask, flags));
  // A case on a stack of its own at TSTACK: rsp - TSTACK in rsi, the top four qwords in rax..rdx.
  const s = (title: string, code: string) =>
    c(
      title,
      `mov r12, rsp
    mov rsp, ${TSTACK}
    mov qword [${TSTACK - 8}], 0
    mov qword [${TSTACK - 16}], 0
    mov qword [${TSTACK - 24}], 0
    mov qword [${TSTACK - 32}], 0
    mov rbp, 0xbbbbbbbbbbbbbbbb
${code}
    mov rsi, rsp
    sub rsi, ${TSTACK}
    mov rdi, rbp
    mov rsp, r12
    mov rax, [${TSTACK - 8}]
    mov rbx, [${TSTACK - 16}]
    mov rcx, [${TSTACK - 24}]
    mov rdx, [${TSTACK - 32}]`,
    );
  s('push rax', 'mov rax, 0x8877665544332211\n    push rax');
  s('push r15 pop rbx', 'mov r15, -2\n    push r15\n    pop rbx\n    push rbx\n    push rbx');
  s('push imm8 -1', 'push -1');
  s('push imm32 0x80000000 (sign-extends)', 'push 0x7fffffff\n    push -0x80000000');
  s('push word (66h)', 'push word 0x1234\n    push word 0x5678\n    push word 0x9abc\n    push word 0xdef0');
  s(
    'pop word (66h)',
    'mov rax, 0x1111222233334444\n    push rax\n    mov rax, -1\n    pop ax\n    mov [0x8ff0], rax',
  );
  s(
    'push [mem] pop [mem]',
    `mov r13, 0x4242424242424242\n    mov [${BUF}], r13\n    push qword [${BUF}]\n    pop qword [${BUF + 8}]\n    push qword [${BUF + 8}]`,
  );
  s('push fs gs', 'push fs\n    push gs');
  s('call ret', 'call flow_fn\n    push r8\n    push r9');
  s('ret imm16', 'push 0x77\n    push 0x66\n    call flow_fn_ret16\n    push r8');
  s('enter 32 0 leave', 'enter 32, 0\n    mov r8, rsp\n    mov r9, rbp\n    leave\n    push r8\n    push r9');
  s(
    'enter 16 2 (nesting)',
    `mov rbp, ${TSTACK - 0x40}
    mov r13, 0x5555555555555555
    mov [${TSTACK - 0x48}], r13
    enter 16, 2
    mov r8, rsp
    mov r9, rbp
    mov r10, [rsp+16]
    mov r11, [rsp+24]
    mov rsp, ${TSTACK}
    push r8
    push r9
    push r10
    push r11`,
  );
  s('pushfq popfq -1 (no TF)', 'push -0x101\n    popfq\n    pushfq\n    push 2\n    popfq');
  s('pushfq popfq keeps VM RF', 'push 0x30002\n    popfq\n    pushfq');
  // Jcc JMP LOOP JRCXZ JECXZ: the path taken is recorded in rax.
  c(
    'jcc jmp',
    `xor eax, eax
    mov rbx, 0x8000000000000000
    cmp rbx, 1
    jl .l1
    or eax, 1
.l1:
    jb .l2
    or eax, 2
.l2:
    jo .l3
    or eax, 4
.l3:
    jmp near .l4
    or eax, 8
.l4:
    jmp short .l5
    or eax, 16
.l5:`,
  );
  c('loop rcx 3', 'xor eax, eax\n    mov ecx, 3\n.l:\n    inc eax\n    loop .l');
  // ECX is the count: only it is printed (the SDM does not say what the write does to RCX[63:32]).
  c(
    'loop a32 ecx',
    'xor eax, eax\n    mov rcx, 0x100000003\n.l:\n    inc eax\n    a32 loop .l\n    mov ecx, ecx',
  );
  c(
    'loopz loopnz',
    'xor eax, eax\n    mov ecx, 5\n.l:\n    inc eax\n    cmp eax, 2\n    loopnz .l\n    mov rbx, rcx',
  );
  c(
    'jrcxz not taken (rcx = 2^32)',
    'xor eax, eax\n    mov rcx, 0x100000000\n    jrcxz .t\n    or eax, 1\n.t:',
  );
  c('jecxz taken (ecx = 0)', 'xor eax, eax\n    mov rcx, 0x100000000\n    jecxz .t\n    or eax, 1\n.t:');
  c('jrcxz taken', 'xor eax, eax\n    xor ecx, ecx\n    jrcxz .t\n    or eax, 1\n.t:');
  c('call rax', 'mov rax, flow_fn\n    call rax\n    mov rax, r8\n    mov rbx, r9');
  c('call [mem]', `mov qword [${BUF}], flow_fn\n    call [${BUF}]\n    mov rax, r8\n    mov rbx, r9`);
  c('call [rip-rel]', 'call [rel flow_fn_ptr]\n    mov rax, r8\n    mov rbx, r9');
  c('call r11', 'mov r11, flow_fn\n    call r11\n    mov rax, r8\n    mov rbx, r9');
  c('jmp rax', 'mov rax, .t\n    xor ebx, ebx\n    jmp rax\n    mov ebx, 1\n.t:');
  c('jmp [mem]', `mov qword [${BUF}], .t\n    xor ebx, ebx\n    jmp [${BUF}]\n    mov ebx, 1\n.t:`);

  // String operations: fill the source, then each op with every prefix, DF, operand and address size.
  p.push(`
    mov rdi, ${SRC}
    xor eax, eax
fill_src:
    mov [rdi], al
    inc rdi
    inc al
    cmp rdi, ${SRC + 0x400}
    jne fill_src`);
  for (const [op, mask] of [
    ['movs', ARITH],
    ['stos', ARITH],
    ['lods', ARITH],
    ['cmps', ARITH],
    ['scas', ARITH],
  ] as const) {
    for (const [suffix, width] of [
      ['b', 1],
      ['d', 4],
      ['q', 8],
    ] as const) {
      for (const prefix of ['', 'rep ', 'repne ']) {
        if (prefix === 'repne ' && (op === 'movs' || op === 'stos' || op === 'lods')) continue;
        for (const df of [0, 1]) {
          for (const a32 of [false, true]) {
            for (const count of prefix === '' ? [1] : [0, 9]) {
              const title = `${prefix}${op}${suffix} df${df} a${a32 ? 32 : 64} n${count}`;
              const mid = df === 0 ? 0x80 : 0x280;
              // With 67h the upper halves of RSI/RDI/RCX are ignored: they hold junk that would
              // make the address non-canonical. Only the low halves are printed (the SDM does not
              // say what happens to the upper halves when the low ones are updated).
              const hi = a32 ? '0xdead000000000000' : '0';
              const trunc = a32 ? '\n    mov ecx, ecx\n    mov esi, esi\n    mov edi, edi' : '';
              // The destination matches what CMPS/SCAS compare with (a copy of the source, or AL/AX/
              // EAX/RAX = 0x5a bytes) but for one element, 6 elements along: REPE stops there,
              // REPNE at the first element. MOVS/STOS/LODS see it cleared.
              const fill =
                op === 'cmps'
                  ? `mov rsi, ${SRC}\n    rep movsq`
                  : op === 'scas'
                    ? 'mov rax, 0x5a5a5a5a5a5a5a5a\n    rep stosq'
                    : 'xor eax, eax\n    rep stosq';
              p.push(`${named(names, title, mask)}
    mov rdi, ${DST}
    mov ecx, 0x80
    cld
    ${fill}
    mov byte [${DST + mid + 6 * (df === 0 ? width : -width)}], 0xa5
    mov rsi, ${hi} + ${SRC + mid}
    mov rdi, ${hi} + ${DST + mid}
    mov rcx, ${a32 ? '0xabcd000000000000' : '0'} + ${count}
    mov rax, ${op === 'scas' ? '0x5a5a5a5a5a5a5a5a' : '0x1122334455667788'}
    mov rbx, -1
    mov rdx, -1
    push ${FLAGS_CLEAR | (df ? 0x400 : 0)}
    popfq
    ${a32 ? 'a32 ' : ''}${prefix}${op}${suffix}
    pushfq${trunc}
    cld
    call report_regs
    push rsi
    push rcx
    mov rsi, ${DST + mid - 0x80}
    mov ecx, 0x20
    call checksum
    pop rcx
    pop rsi`);
            }
          }
        }
      }
    }
  }
  const data = `
flow_fn:                    ; r8 = the return address, r9 = rsp at entry
    mov r8, [rsp]
    mov r9, rsp
    ret
flow_fn_ret16:
    mov r8, [rsp]
    ret 16
align 8
flow_fn_ptr:
    dq flow_fn
${nameData(names)}`;
  return program64(p.join('\n'), data);
}

export function longSystemProgram(): string {
  const names = new Map<string, string>();
  const p: string[] = [];
  const c = (title: string, code: string, mask = ARITH, flags = FLAGS_CLEAR) =>
    p.push(regCase(names, title, code, mask, flags));
  // Non-canonical addresses: #GP(0), or #SS(0) for a stack reference.
  c('noncanonical load', 'mov rbx, 0x0000800000000000\n    mov rax, [rbx]');
  c('noncanonical store high', 'mov rbx, 0xffff7fffffffffff\n    mov [rbx], rax');
  // Left out, QEMU TCG differs from the SDM (see README.md): a non-canonical RSP/RBP-based reference
  // (QEMU: #GP(0), SDM: #SS(0)), and a JMP/CALL to a non-canonical target (QEMU reports the #GP at
  // the target, the SDM at the branch).
  c(
    'canonical high alias load',
    `mov r13, 0x6464646464646464\n    mov [${BUF}], r13\n    mov rbx, ${hex(HIGH_BASE + BigInt(BUF))}\n    mov rax, [rbx]`,
  );
  // #PF in the 4 KiB-paged region at a high canonical address.
  const pf = (title: string, addr: bigint, code: string) => c(title, `mov rbx, ${hex(addr)}\n    ${code}`);
  pf('pf not present read', PT4K_BASE + 0x1008n, 'mov rax, [rbx]');
  pf('pf not present write', PT4K_BASE + 0x1010n, 'mov [rbx], rax');
  pf('pf unmapped pdpte', PT4K_BASE + 0x4000_0000n, 'mov rax, [rbx]');
  pf('pf write read-only (WP)', PT4K_BASE + 0x2000n, 'mov [rbx], rax');
  // Page 3 (reserved bit 51) is left out: QEMU 7.2 reports error code 0x8 (RSVD without P), the
  // SDM 0x9, as for the 32-bit program's 4 MiB PDE.
  pf('present page ok', PT4K_BASE + 0x4010n, 'mov qword [rbx], 0x4444\n    mov rax, [rbx]');
  pf('pf fetch not present', PT4K_BASE + 0x1000n, 'mov r12, rsp\n    call rbx\n    mov rsp, r12');

  // INT n and IRETQ: the handler prints RSP at entry and the frame (RIP CS RFLAGS RSP SS).
  c(
    'int 0x40 aligned stack',
    'mov r12, rsp\n    mov rsp, 0x9000\n    int 0x40\n    mov rax, rsp\n    mov rsp, r12',
    ARITH,
    0x8d7,
  );
  c(
    'int 0x40 misaligned stack (aligned to 16)',
    'mov r12, rsp\n    mov rsp, 0x8ff8\n    int 0x40\n    mov rax, rsp\n    mov rsp, r12',
  );
  c(
    'int 0x41 through IST1',
    'mov r12, rsp\n    mov rsp, 0x8ff8\n    int 0x41\n    mov rax, rsp\n    mov rsp, r12',
  );
  c(
    'iretq to same ring',
    `mov r12, rsp
    mov rax, rsp
    push 0x10
    push rax
    push 0x8c3
    push 0x08
    push .t
    iretq
    mov ebx, 1
.t:
    pushfq
    pop rbx
    mov rcx, rsp
    sub rcx, r12
    mov dx, ss`,
  );

  // FS/GS bases by WRMSR, fs:/gs: accesses, RDMSR back, SWAPGS with KERNEL_GS_BASE.
  p.push(`
    mov r13, 0x0f0f0f0f0f0f0f0f
    mov [${BUF}], r13
    mov r13, 0x1f1f1f1f1f1f1f1f
    mov [${BUF + 8}], r13
    mov r13, 0x2a2a2a2a2a2a2a2a
    mov [${BUF + 0x100}], r13
    mov r13, 0x3b3b3b3b3b3b3b3b
    mov [${BUF + 0x108}], r13`);
  const wrmsr = (msr: number, value: bigint) =>
    `mov ecx, ${hex(msr)}\n    mov eax, ${hex(value & 0xffff_ffffn)}\n    mov edx, ${hex(value >> 32n)}\n    wrmsr`;
  const rdmsr = (msr: number, reg: string) =>
    `mov ecx, ${hex(msr)}\n    rdmsr\n    shl rdx, 32\n    or rax, rdx\n    mov ${reg}, rax`;
  c(
    'fs base wrmsr',
    `${wrmsr(0xc000_0100, BigInt(BUF))}\n    mov r13, [fs:8]\n    mov r14, [fs:0x100]\n    ${rdmsr(0xc000_0100, 'rcx')}\n    mov rax, r13\n    mov rbx, r14`,
  );
  c(
    'gs base high alias',
    `${wrmsr(0xc000_0101, HIGH_BASE + BigInt(BUF) + 0x100n)}\n    mov r13, [gs:0]\n    mov r14, [gs:8]\n    ${rdmsr(0xc000_0101, 'rcx')}\n    mov rax, r13\n    mov rbx, r14`,
  );
  c(
    'swapgs',
    `${wrmsr(0xc000_0102, BigInt(BUF))}
    swapgs
    mov r13, [gs:8]
    ${rdmsr(0xc000_0101, 'rbx')}
    ${rdmsr(0xc000_0102, 'rsi')}
    swapgs
    mov r14, [gs:8]
    ${rdmsr(0xc000_0101, 'rdi')}
    mov rax, r13
    mov rcx, r14`,
  );
  // WRMSR of a non-canonical FS/GS base is left out: QEMU 7.2 accepts it, the SDM raises #GP(0).
  c('lea with fs: ignores the base', 'lea rax, [fs:0x10]');
  c(
    `restore bases`,
    `${wrmsr(0xc000_0100, 0n)}\n    ${wrmsr(0xc000_0101, 0n)}\n    ${wrmsr(0xc000_0102, 0n)}`,
  );
  // RDTSCP: ECX = TSC_AUX (the TSC itself is not printed).
  c(
    'rdtscp tsc_aux',
    `${wrmsr(0xc000_0103, 0x1234_5678n)}\n    mov rcx, -1\n    rdtscp\n    mov rsi, rcx\n    ${rdmsr(0xc000_0103, 'rdi')}\n    xor eax, eax\n    xor ecx, ecx\n    xor edx, edx`,
  );
  // EFER as the runtime set it: LME, LMA, SCE.
  c('rdmsr efer', rdmsr(0xc000_0080, 'rbx'));
  // CPUID 0x80000001: only EDX.LM (bit 29) is printed.
  c(
    'cpuid lm bit',
    'mov eax, 0x80000001\n    cpuid\n    shr edx, 29\n    and edx, 1\n    xor eax, eax\n    xor ebx, ebx\n    xor ecx, ecx',
    0,
  );
  // CMPXCHG16B: success, failure, #GP(0) on a misaligned operand.
  const cx16 = (title: string, addr: string, mem: [bigint, bigint], cmp: [bigint, bigint]) =>
    c(
      title,
      `mov rsi, ${hex(mem[0])}
    mov [cx16_buf], rsi
    mov rsi, ${hex(mem[1])}
    mov [cx16_buf+8], rsi
    mov rax, ${hex(cmp[0])}
    mov rdx, ${hex(cmp[1])}
    mov rbx, 0x1111111111111111
    mov rcx, 0x2222222222222222
    mov rdi, ${addr}
    cmpxchg16b [rdi]
    mov rsi, [cx16_buf]
    mov rdi, [cx16_buf+8]`,
    );
  cx16('cmpxchg16b equal', 'cx16_buf', [5n, 6n], [5n, 6n]);
  cx16('cmpxchg16b high differs', 'cx16_buf', [5n, 6n], [5n, 7n]);
  cx16('cmpxchg16b low differs', 'cx16_buf', [0x8000_0000_0000_0000n, 6n], [0n, 6n]);
  cx16('cmpxchg16b misaligned', 'cx16_buf+8', [5n, 6n], [5n, 6n]);

  // Compatibility mode: far jump to a 32-bit code segment, 32-bit code there, far jump back; then
  // an IRETQ into compatibility mode, an INT from there, and a far return to 64-bit mode.
  c(
    'far jmp to compatibility mode and back',
    `mov r8, 0x8888888888888888
    mov r12, rsp
    jmp dword far [rel compat_ptr]   ; m16:32 (REX.W would make it m16:64)
bits 32
compat_entry:
    mov eax, 0x7fffffff
    inc eax                     ; 0x40: INC, not a REX prefix
    mov [compat_out], eax
    pushfd
    pop dword [compat_out+4]
    push dword 0x11223344
    pop ebx
    mov [compat_out+8], ebx
    mov ecx, esp
    mov [compat_out+12], ecx
    jmp 0x08:compat_back
bits 64
compat_back:
    mov rsp, r12
    mov eax, [compat_out]
    mov ebx, [compat_out+4]
    mov ecx, [compat_out+8]
    mov edx, [compat_out+12]
    sub rdx, r12
    mov rsi, r8`,
  );
  c(
    'iretq to compatibility mode, int there, retf back',
    `mov r12, rsp
    mov rax, rsp
    push 0x10
    push rax
    push 0x2
    push 0x30
    push compat2
    iretq
bits 32
compat2:
    mov eax, 0x12345678
    int 0x40
    push dword 0x08
    push dword compat2_back
    retf
bits 64
compat2_back:
    mov rsp, r12
    mov ebx, eax
    mov eax, eax                ; the upper halves are undefined after compatibility mode
    mov ecx, ecx
    mov edx, edx
    mov esi, esi
    mov edi, edi`,
  );

  // SYSCALL from ring 3 to a ring-0 entry, SYSRET back; and a ring-3 #PF on a supervisor page.
  p.push(`
    ${wrmsr(0xc000_0081, 0x0018_0008_0000_0000n)}
    mov ecx, 0xc0000082
    mov rax, syscall_entry
    mov rdx, rax
    shr rdx, 32
    wrmsr
    ${wrmsr(0xc000_0084, 0x4_0700n)}`);
  const ring3 = (title: string, code: string, rflags: number) => {
    const back = label('back');
    const entry = label('r3');
    p.push(`${named(names, title, ARITH)}
    mov rsi, [cur_name]
    call puts
    call newline
    mov qword [ring0_continue], ${back}
    mov [ring0_rsp], rsp
    mov qword [r3_out], 0
    mov qword [r3_out+8], 0
    mov qword [r3_out+16], 0
    push 0x23
    push ring3_stack_top
    push ${hex(rflags)}
    push 0x2b
    push ${entry}
    iretq
${entry}:
    mov qword [recover], -1
${code}
    int 0x30
${back}:
    mov qword [recover], 0
    mov rax, [r3_out]
    call puthex64
    mov rax, [r3_out+8]
    call space_hex
    mov rax, [r3_out+16]
    call space_hex
    call newline`);
  };
  ring3(
    'syscall sysret',
    `mov rax, 0x5eca11
    mov r11, -1
    syscall
    pushfq
    pop qword [r3_out+16]
    mov [r3_out], rax
    mov rax, cs
    mov rbx, ss
    shl rax, 16
    or rax, rbx
    mov [r3_out+8], rax`,
    0x240ed7,
  );
  // SYSRET with a 32-bit operand size returns to compatibility mode (CS = STAR[63:48] | 3): the
  // bytes after the SYSCALL are 32-bit code. The IRETQ to ring 3 nulled DS (its DPL 0 < CPL 3), which
  // 64-bit mode ignores but compatibility mode faults on (#GP(0)); QEMU TCG does not check it, so DS
  // is loaded with the ring-3 data segment first (PUSH/POP of segment registers leave the flags alone).
  ring3(
    'syscall sysret to compatibility mode',
    `mov byte [sysret_compat], 1
    mov rax, 0x5eca11
    syscall
bits 32
    push ss
    pop ds
    pushfd
    pop dword [r3_out+16]
    mov [r3_out], eax
    xor eax, eax
    mov ax, cs
    shl eax, 16
    mov ax, ss
    mov [r3_out+8], eax
    int 0x30
bits 64`,
    0x202,
  );
  // INT from ring 3: the stack switches to RSP0 (or IST1 for vector 0x41), the frame holds the
  // ring-3 SS:RSP, and IRETQ goes back to ring 3.
  ring3(
    'ring 3 int 0x40 (RSP0) and int 0x41 (IST1)',
    `mov rsp, ring3_stack_top - 8
    int 0x40
    mov [r3_out], rsp
    mov rax, ss
    mov [r3_out+8], rax
    int 0x41
    mov rax, cs
    mov [r3_out+16], rax`,
    0x2c3,
  );
  ring3('ring 3 read of a supervisor page', `mov rbx, ${hex(PT4K_BASE)}\n    mov rax, [rbx]`, 0x202);
  ring3(
    'ring 3 write to a user page',
    `mov rbx, ${hex(PT4K_BASE + 0x4000n)}\n    mov qword [rbx], 0x3333\n    mov rax, [rbx]\n    mov [r3_out], rax`,
    0x202,
  );
  ring3('ring 3 cli (#GP)', 'cli', 0x202);
  ring3('ring 3 swapgs (#GP)', 'swapgs', 0x202);

  const data = `
syscall_entry:              ; ring 0 with the ring-3 stack: prints RCX R11 RFLAGS CS SS, then SYSRETQ
    pushfq                      ; first: the routines below change the arithmetic flags
    push rax
    mov rsi, msg_syscall
    call puts
    mov rax, rcx
    call space_hex
    mov rax, r11
    call space_hex
    mov rax, [rsp+8]
    and rax, ~0x8d5             ; QEMU 7.2 clears the arithmetic flags on SYSCALL (SDM: only FMASK)
    call space_hex
    mov rax, cs
    call space_hex
    mov rax, ss
    call space_hex
    call newline
    pop rax
    add rsp, 8
    inc rax
    cmp byte [sysret_compat], 0
    jne syscall_to_compat
    o64 sysret
syscall_to_compat:
    mov byte [sysret_compat], 0
    sysret                      ; 32-bit operand size: to compatibility mode at ECX
msg_syscall:
    db "syscall rcx r11 rflags cs ss:", 0
sysret_compat:
    db 0
align 8
compat_ptr:
    dd compat_entry
    dw 0x30
compat_out:
    dd 0, 0, 0, 0
align 16
cx16_buf:
    dq 0, 0, 0, 0
r3_out:
    dq 0, 0, 0
align 16
    times 2048 db 0
ring3_stack_top:
${nameData(names)}`;
  return program64(p.join('\n'), data);
}
