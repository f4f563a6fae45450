/**
 * `vec-int`: the AVX/AVX2 packed-integer instructions that work per 128-bit lane (PADD/PSUB, logic,
 * compares, min/max, multiplies, PMADD, PSADBW/MPSADBW, PAVG, PABS, PSIGN, PHADD/PHSUB, PACK,
 * PUNPCK, PSHUFB/D/HW/LW, PALIGNR, PBLENDW, PBLENDVB, the shifts) in VEX.128 and VEX.256 forms.
 *
 * Every case loads YMM1 (first source), YMM2 (second source), YMM3 (PBLENDVB's mask) and a fill
 * pattern into YMM0, runs the instruction with YMM0/XMM0 as destination and prints its name and all
 * of YMM0 (so VEX.128's zeroing of bits 255:128 shows). The inputs differ between the two 128-bit
 * lanes, so an operation that mixes lanes up prints something else. A fault is printed and the
 * program goes on with the next case.
 */
import { vecProgram } from './runtime64.js';
import { dbLine, dwords, guarded, hex64 as hex, prng, words, unaligned } from './vec-helpers.js';

function vectors(): Record<string, number[]> {
  const r = prng(0x1badb002);
  const va = Array.from({ length: 32 }, r);
  const vb = Array.from({ length: 32 }, r);
  // Some equal bytes, words and dwords (compares, PSIGN by zero, min/max ties), and zeros in b.
  for (const i of [0, 1, 6, 7, 8, 9, 10, 11, 17, 20, 21, 22, 23, 30]) vb[i] = va[i]!;
  vb[3] = 0;
  vb[26] = 0;
  vb[27] = 0;
  const mask = Array.from({ length: 32 }, r);
  // Signed/unsigned saturation edges, word by word, different in the two lanes.
  const ea = words([
    0x7fff, 0x8000, 0xffff, 0x0001, 0x0000, 0x7ffe, 0x8001, 0x00ff, 0x0080, 0xff80, 0x7f7f, 0x8080, 0x4000,
    0xc000, 0x1234, 0xfedc,
  ]);
  const eb = words([
    0x7fff, 0x7fff, 0x8000, 0xffff, 0x0000, 0x0002, 0x8000, 0x0001, 0xff80, 0x0080, 0x8181, 0x7f7f, 0x4000,
    0xc000, 0x1234, 0x0123,
  ]);
  // Dword and qword edges.
  const da = dwords([
    0x80000000, 0x7fffffff, 0xffffffff, 0x00000000, 0x00000001, 0x80000001, 0xfffffffe, 0x12345678,
  ]);
  const db = dwords([
    0x80000000, 0x80000000, 0x00000001, 0xffffffff, 0x7fffffff, 0x80000001, 0x00010000, 0x9abcdef0,
  ]);
  return { va, vb, mask, ea, eb, da, db };
}

/** PADD...: the forms `v dst, src1, src2/m` with no immediate and no count operand. */
const PLAIN = [
  'vpaddb',
  'vpaddw',
  'vpaddd',
  'vpaddq',
  'vpsubb',
  'vpsubw',
  'vpsubd',
  'vpsubq',
  'vpaddsb',
  'vpaddsw',
  'vpaddusb',
  'vpaddusw',
  'vpsubsb',
  'vpsubsw',
  'vpsubusb',
  'vpsubusw',
  'vpand',
  'vpandn',
  'vpor',
  'vpxor',
  'vpcmpeqb',
  'vpcmpeqw',
  'vpcmpeqd',
  'vpcmpeqq',
  'vpcmpgtb',
  'vpcmpgtw',
  'vpcmpgtd',
  'vpcmpgtq',
  'vpminub',
  'vpmaxub',
  'vpminsw',
  'vpmaxsw',
  'vpminsb',
  'vpmaxsb',
  'vpminuw',
  'vpmaxuw',
  'vpminsd',
  'vpmaxsd',
  'vpminud',
  'vpmaxud',
  'vpmullw',
  'vpmulhw',
  'vpmulhuw',
  'vpmulhrsw',
  'vpmulld',
  'vpmuludq',
  'vpmuldq',
  'vpmaddwd',
  'vpmaddubsw',
  'vpsadbw',
  'vpavgb',
  'vpavgw',
  'vpsignb',
  'vpsignw',
  'vpsignd',
  'vphaddw',
  'vphaddd',
  'vphaddsw',
  'vphsubw',
  'vphsubd',
  'vphsubsw',
  'vpacksswb',
  'vpackuswb',
  'vpackssdw',
  'vpackusdw',
  'vpunpcklbw',
  'vpunpcklwd',
  'vpunpckldq',
  'vpunpcklqdq',
  'vpunpckhbw',
  'vpunpckhwd',
  'vpunpckhdq',
  'vpunpckhqdq',
  'vpshufb',
];

const SHIFTS = ['vpsllw', 'vpslld', 'vpsllq', 'vpsrlw', 'vpsrld', 'vpsrlq', 'vpsraw', 'vpsrad'];

/** Shift counts (the low qword of the count operand; the high qword holds junk the CPU ignores). */
const COUNTS: readonly bigint[] = [
  0n,
  1n,
  15n,
  16n,
  31n,
  32n,
  63n,
  64n,
  0x1_0000_0000n,
  0x8000_0000_0000_0000n,
];
const IMM_COUNTS = [0, 1, 15, 16, 31, 32, 63, 64, 255];

export function vecIntProgram(): string {
  const v = vectors();
  const names: string[] = [];
  const body: string[] = [];
  /** One case: sources from data labels, `insn` with YMM0/XMM0 the destination, YMM0 printed. */
  const c = (insn: string, a: string, b: string, tag = '') => {
    const n = names.length;
    names.push(`${insn.split('\n')[0]}${tag}`);
    body.push(`    mov rsi, nm${n}
    call puts
    vmovdqu ymm1, [${a}]
    vmovdqu ymm2, [${b}]
    vmovdqu ymm3, [mask]
    vmovdqu ymm0, [fill]
${guarded(`after${n}`, insn, '    call print_ymm0')}
    call newline`);
  };

  for (const mn of PLAIN) {
    c(`${mn} ymm0, ymm1, ymm2`, 'va', 'vb');
    c(`${mn} xmm0, xmm1, xmm2`, 'va', 'vb');
    c(`${mn} ymm0, ymm1, [ebu]`, 'ea', 'vb', ' (e)');
    c(`${mn} xmm0, xmm1, [dbu]`, 'da', 'vb', ' (d)');
  }
  // The 128-bit forms leave their first source alone (YMM1 printed after one).
  c('vpaddb xmm0, xmm1, xmm2\n    vmovdqa ymm0, ymm1', 'va', 'vb', ' (src1)');
  c('vpsllw xmm0, xmm1, 3\n    vmovdqa ymm0, ymm1', 'va', 'vb', ' (src)');

  // One-source forms: PABS (ea: 0x8000/0x80 edges), PSHUFD/HW/LW.
  for (const mn of ['vpabsb', 'vpabsw', 'vpabsd']) {
    c(`${mn} ymm0, ymm1`, 'ea', 'vb');
    c(`${mn} xmm0, xmm1`, 'da', 'vb');
    c(`${mn} ymm0, [vau]`, 'vb', 'vb', ' (va)');
  }
  for (const mn of ['vpshufd', 'vpshufhw', 'vpshuflw']) {
    for (const imm of [0x1b, 0xe4, 0x4e, 0xb1]) c(`${mn} ymm0, ymm1, 0x${imm.toString(16)}`, 'va', 'vb');
    c(`${mn} xmm0, xmm1, 0x1b`, 'va', 'vb');
    c(`${mn} ymm0, [vau], 0x93`, 'vb', 'vb', ' (va)');
  }

  // Immediate-controlled per-lane operations.
  for (const imm of [0, 1, 7, 15, 16, 17, 31, 32, 255]) {
    c(`vpalignr ymm0, ymm1, ymm2, ${imm}`, 'va', 'vb');
  }
  c('vpalignr xmm0, xmm1, xmm2, 5', 'va', 'vb');
  c('vpalignr ymm0, ymm1, [vbu], 9', 'va', 'vb');
  for (const imm of [0x00, 0x5a, 0xa5, 0xff])
    c(`vpblendw ymm0, ymm1, ymm2, 0x${imm.toString(16)}`, 'va', 'vb');
  c('vpblendw xmm0, xmm1, [vbu], 0x3c', 'va', 'vb');
  for (const imm of [0x00, 0x07, 0x2d, 0x3f, 0xc5]) {
    c(`vmpsadbw ymm0, ymm1, ymm2, 0x${imm.toString(16)}`, 'va', 'vb');
    c(`vmpsadbw xmm0, xmm1, ymm2, 0x${imm.toString(16)}`.replace('ymm2', 'xmm2'), 'va', 'vb');
  }
  c('vmpsadbw ymm0, ymm1, [vbu], 0x1a', 'va', 'vb');
  c('vpblendvb ymm0, ymm1, ymm2, ymm3', 'va', 'vb');
  c('vpblendvb xmm0, xmm1, xmm2, xmm3', 'va', 'vb');
  c('vpblendvb ymm0, ymm1, [vbu], ymm3', 'va', 'vb');
  c('vpblendvb ymm0, ymm3, ymm2, ymm1', 'va', 'vb', ' (mask va)');

  // Shifts by an xmm count (the same count for both lanes of VEX.256) and by imm8.
  for (const mn of SHIFTS) {
    COUNTS.forEach((count, i) => {
      c(`${mn} ymm0, ymm1, xmm2`, 'va', `cnt${i}`, ` (${count})`);
    });
    for (const i of [1, 3, 7]) c(`${mn} xmm0, xmm1, xmm2`, 'ea', `cnt${i}`, ` (${COUNTS[i]})`);
    c(`${mn} ymm0, ymm1, [cntu]`, 'va', 'vb', ' (m128 5)');
    for (const imm of IMM_COUNTS) c(`${mn} ymm0, ymm1, ${imm}`, 'va', 'vb');
    for (const imm of [3, 200]) c(`${mn} xmm0, xmm1, ${imm}`, 'ea', 'vb');
  }
  for (const mn of ['vpslldq', 'vpsrldq']) {
    for (const imm of [0, 1, 5, 15, 16, 255]) c(`${mn} ymm0, ymm1, ${imm}`, 'va', 'vb');
    c(`${mn} xmm0, xmm1, 3`, 'va', 'vb');
  }

  const counts = COUNTS.map(
    (k, i) => `cnt${i}:\n    dq ${hex(k)}, 0x5555aaaa5555aaaa, 0x0101010101010101, 0x2`,
  );
  const data = [
    'align 32',
    ...Object.entries(v).flatMap(([l, bytes]) => [`${l}:`, dbLine(bytes)]),
    'fill:',
    '    dq 0xdeadbeefcafef00d, 0x0123456789abcdef, 0xfeedfacef00dbabe, 0x7766554433221100',
    // Unaligned copies of the sources for the memory forms (VEX needs no alignment).
    'align 32',
    ...unaligned('vau', dbLine(v.va!)),
    ...unaligned('vbu', dbLine(v.vb!)),
    ...unaligned('ebu', dbLine(v.eb!)),
    ...unaligned('dbu', dbLine(v.db!)),
    ...unaligned('cntu', '    dq 5, 0xffffffffffffffff'),
    'align 32',
    ...counts,
    ...names.map((n, i) => `nm${i}:\n    db "${n}", 0`),
  ].join('\n');
  return vecProgram(body.join('\n'), data);
}
