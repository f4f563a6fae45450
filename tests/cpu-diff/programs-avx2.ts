/**
 * `vec-avx2`: the VEX integer moves and AVX2's cross-lane instructions (`handlers/avx2.ts`,
 * `avx2-gather.ts`): VMOVD/VMOVQ, VMOVDQA/VMOVDQU (alignment faults), VMOVNTDQ/VMOVNTDQA, VLDDQU,
 * VMASKMOVDQU, VPEXTRB/W/D/Q, VPINSRB/W/D/Q, VPMOVMSKB, VPTEST, VPHMINPOSUW, VPMOVSX/ZX, the VEX string compares,
 * VAES* and VPCLMULQDQ, broadcasts, VINSERTI128/VEXTRACTI128/VPERM2I128, VPERMD/PS/Q/PD, VPBLENDD,
 * VPSLLV/VPSRLV/VPSRAV, VPMASKMOVD/Q over a not-present page, and the gathers (all sixteen forms,
 * scales, negative indices, masks, a #PF part-way, masked-out elements on a not-present page, #UD for
 * repeated registers).
 *
 * Every case loads YMM1/YMM2/YMM3 and a fill pattern into YMM0 and the scratch buffer, runs the
 * instruction and prints its name and what it wrote: YMM0 (all 256 bits, so VEX.128's zeroing
 * shows), RAX, the flags, or the buffer. A fault is printed and the case's `final` part still runs.
 */
import { PT4K_BASE, vecProgram } from './runtime64.js';
import {
  dbLine,
  ddLine,
  dqLine,
  type CaseParts,
  caseTail,
  hex64 as hex,
  prng,
  unaligned,
} from './vec-helpers.js';

/** What a case prints after its instruction. */
const P = {
  ymm0: '    call print_ymm0',
  rax: '    call space_hex',
  /** The arithmetic flags (OF SF ZF AF PF CF). */
  flags: '    pushfq\n    pop rax\n    and rax, 0x8d5\n    call space_hex',
  /** The 64-byte scratch buffer, as two YMM values. */
  buf: '    vmovdqu ymm0, [buf]\n    call print_ymm0\n    vmovdqu ymm0, [buf+32]\n    call print_ymm0',
  /** Destination (YMM0) and mask (YMM3) of a gather. */
  gather: '    call print_ymm0\n    vmovdqa ymm0, ymm3\n    call print_ymm0',
} as const;

/** A page of the 4 KiB region: page 0 present (supervisor RW), page 1 not present. */
const PAGE1 = PT4K_BASE + 0x1000n;

export function vecAvx2Program(): string {
  const r = prng(0x2badf00d);
  const va = Array.from({ length: 32 }, r);
  const vb = Array.from({ length: 32 }, r);
  const vc = Array.from({ length: 32 }, r);
  const names: string[] = [];
  const body: string[] = [];

  interface Case extends CaseParts {
    a?: string;
    b?: string;
    m?: string;
  }
  const c = (insn: string, tag: string, o: Case = {}) => {
    const n = names.length;
    names.push(`${insn.split('\n')[0]!.replace(/^\s*db .*/, '')}${tag}`);
    body.push(`    mov rsi, nm${n}
    call puts
    vmovdqu ymm0, [fill]
    vmovdqu [buf], ymm0
    vmovdqu [buf+32], ymm0
    vmovdqu ymm1, [${o.a ?? 'va'}]
    vmovdqu ymm2, [${o.b ?? 'vb'}]
    vmovdqu ymm3, [${o.m ?? 'vc'}]
    mov rax, 0xa0a0a0a0a0a0a0a0
    mov rcx, 0xc0c0c0c0c0c0c0c0
    mov rdx, 0xd0d0d0d0d0d0d0d0
${caseTail(n, insn, o, P.ymm0)}`);
  };

  /** Case `form` with YMM registers (VEX.256), then with XMM registers (VEX.128). */
  const yx = (form: (r: 'ymm' | 'xmm') => string, tag = '', o: Case = {}) => {
    c(form('ymm'), tag, o);
    c(form('xmm'), tag, o);
  };

  // ---------------------------------------------------------------- moves
  c('vmovd xmm0, eax', '');
  c('vmovd xmm0, [vbu]', '');
  c('vmovq xmm0, rax', '', { setup: '    mov rax, 0x8877665544332211' });
  c('vmovq xmm0, [vbu]', ' (m64 7e)');
  c('vmovq xmm0, xmm1', ' (7e)');
  c('db 0xc5, 0xf9, 0xd6, 0xc8', 'vmovq xmm0, xmm1 (d6)');
  c('vmovd eax, xmm1', '', { post: P.rax });
  c('vmovq rax, xmm1', '', { post: P.rax });
  c('vmovd [buf+4], xmm1', '', { post: P.buf });
  c('vmovq [buf+3], xmm1', '', { post: P.buf });
  yx((r) => `vmovdqa ${r}0, [va]`);
  c('vmovdqa ymm0, [va+16]', ' (misaligned)');
  c('vmovdqa xmm0, [va+8]', ' (misaligned)');
  yx((r) => `vmovdqu ${r}0, [vau]`);
  yx((r) => `vmovdqa ${r}0, ${r}1`);
  c('db 0xc5, 0xfd, 0x7f, 0xc8', 'vmovdqa ymm0, ymm1 (7f)');
  c('db 0xc5, 0xf9, 0x7f, 0xc8', 'vmovdqa xmm0, xmm1 (7f)');
  c('db 0xc5, 0xfe, 0x7f, 0xc8', 'vmovdqu ymm0, ymm1 (7f)');
  c('vmovdqa [buf], ymm1', '', { post: P.buf });
  c('vmovdqa [buf+32], xmm1', '', { post: P.buf });
  c('vmovdqa [buf+16], ymm1', ' (misaligned)', { final: P.buf });
  c('vmovdqu [buf+5], ymm1', '', { post: P.buf });
  c('vmovdqu [buf+9], xmm1', '', { post: P.buf });
  c('vmovntdq [buf], ymm1', '', { post: P.buf });
  c('vmovntdq [buf+16], xmm1', '', { post: P.buf });
  c('vmovntdq [buf+16], ymm1', ' (misaligned)', { final: P.buf });
  c('vmovntdqa ymm0, [va]', '');
  c('vmovntdqa xmm0, [va+16]', '');
  c('vmovntdqa xmm0, [va+8]', ' (misaligned)');
  yx((r) => `vlddqu ${r}0, [vau]`);
  c('vmaskmovdqu xmm1, xmm2', '', { setup: '    lea rdi, [buf+7]', post: P.buf });
  c('vmaskmovdqu xmm1, xmm3', ' (vc)', { setup: '    lea rdi, [buf+32]', post: P.buf });

  // ---------------------------------------------------------------- extract and insert
  for (const imm of [0, 5, 15, 19]) c(`vpextrb eax, xmm1, ${imm}`, '', { post: P.rax });
  c('vpextrb [buf+1], xmm1, 9', '', { post: P.buf });
  for (const imm of [0, 7, 10]) c(`vpextrw eax, xmm1, ${imm}`, '', { post: P.rax });
  c('vpextrw [buf+1], xmm1, 3', '', { post: P.buf });
  c('db 0xc4, 0xe3, 0x79, 0x15, 0xc8, 0x06', 'vpextrw eax, xmm1, 6 (3a 15)', { post: P.rax });
  for (const imm of [0, 3, 6]) c(`vpextrd eax, xmm1, ${imm}`, '', { post: P.rax });
  c('vpextrd [buf+2], xmm1, 1', '', { post: P.buf });
  for (const imm of [0, 1, 2]) c(`vpextrq rax, xmm1, ${imm}`, '', { post: P.rax });
  c('vpextrq [buf+6], xmm1, 1', '', { post: P.buf });
  const gpr = '    mov rax, 0x8877665544332211';
  for (const imm of [0, 9, 15, 17]) c(`vpinsrb xmm0, xmm1, eax, ${imm}`, '', { setup: gpr });
  c('vpinsrb xmm0, xmm1, [vbu+3], 4', '');
  for (const imm of [0, 7, 9]) c(`vpinsrw xmm0, xmm1, eax, ${imm}`, '', { setup: gpr });
  c('vpinsrw xmm0, xmm1, [vbu+1], 2', '');
  for (const imm of [0, 3, 5]) c(`vpinsrd xmm0, xmm1, eax, ${imm}`, '', { setup: gpr });
  c('vpinsrd xmm0, xmm1, [vbu+1], 2', '');
  for (const imm of [0, 1, 3]) c(`vpinsrq xmm0, xmm1, rax, ${imm}`, '', { setup: gpr });
  c('vpinsrq xmm0, xmm1, [vbu+1], 1', '');
  c('vpmovmskb eax, xmm1', '', { post: P.rax });
  c('vpmovmskb eax, ymm1', '', { post: P.rax });
  c('vpmovmskb rax, ymm2', '', { post: P.rax });

  // ---------------------------------------------------------------- VPTEST, VPHMINPOSUW
  yx((r) => `vptest ${r}1, ${r}2`, '', { post: P.flags });
  c('vptest ymm1, ymm1', '', { post: P.flags });
  c('vptest ymm1, [zeros]', '', { post: P.flags });
  c('vptest ymm1, [vbu]', '', { post: P.flags, a: 'zeros' });
  c('vptest ymm1, ymm2', ' (disjoint)', { post: P.flags, a: 'lo_half', b: 'hi_half' });
  c('vptest xmm1, xmm2', ' (disjoint, upper ignored)', { post: P.flags, a: 'lo_half', b: 'hi_half' });
  c('vptest ymm1, ymm2', ' (subset)', { post: P.flags, a: 'ones', b: 'lo_half' });
  c('vphminposuw xmm0, xmm1', '');
  c('vphminposuw xmm0, [vbu]', '');
  c('vphminposuw xmm0, xmm1', ' (ties)', { a: 'ties' });

  // ---------------------------------------------------------------- VPMOVSX / VPMOVZX
  for (const s of ['sx', 'zx']) {
    for (const [f, small] of [
      ['bw', 8],
      ['bd', 4],
      ['bq', 2],
      ['wd', 8],
      ['wq', 4],
      ['dq', 8],
    ] as const) {
      c(`vpmov${s}${f} xmm0, xmm1`, '');
      c(`vpmov${s}${f} ymm0, xmm1`, '');
      c(`vpmov${s}${f} xmm0, [vbu]`, ` (m${small * 8})`);
      c(`vpmov${s}${f} ymm0, [vbu]`, ` (m${small * 16})`);
    }
  }

  // ---------------------------------------------------------------- string compares
  const strs = { a: 'str_a', b: 'str_b' };
  for (const imm of [0x00, 0x04, 0x08, 0x0c, 0x14, 0x3a, 0x40, 0x44, 0x4c, 0x01, 0x0d, 0x45, 0x7c]) {
    const h = `0x${imm.toString(16)}`;
    const lens = '    mov eax, 6\n    mov edx, 13';
    c(`vpcmpestri xmm1, xmm2, ${h}`, '', {
      ...strs,
      setup: lens,
      post: `    mov rax, rcx\n${P.rax}\n${P.flags}`,
    });
    c(`vpcmpestrm xmm1, xmm2, ${h}`, '', { ...strs, setup: lens, post: `${P.ymm0}\n${P.flags}` });
    c(`vpcmpistri xmm1, xmm2, ${h}`, '', { ...strs, post: `    mov rax, rcx\n${P.rax}\n${P.flags}` });
    c(`vpcmpistrm xmm1, xmm2, ${h}`, '', { ...strs, post: `${P.ymm0}\n${P.flags}` });
  }
  c('vpcmpestri xmm1, [str_bu], 0x0c', '', {
    ...strs,
    setup: '    mov eax, -3\n    mov edx, 100',
    post: `    mov rax, rcx\n${P.rax}\n${P.flags}`,
  });
  c('vpcmpistrm xmm1, [str_bu], 0x44', '', { ...strs, post: `${P.ymm0}\n${P.flags}` });
  // REX.W (VEX.W1) forms: RAX/RDX as 64-bit lengths.
  const wide = '    mov rax, 0x100000003\n    mov rdx, 0xfffffffffffffffe';
  c('db 0xc4, 0xe3, 0xf9, 0x61, 0xca, 0x0c', 'vpcmpestri64 xmm1, xmm2, 0x0c', {
    ...strs,
    setup: wide,
    post: `    mov rax, rcx\n${P.rax}\n${P.flags}`,
  });
  c('db 0xc4, 0xe3, 0xf9, 0x60, 0xca, 0x40', 'vpcmpestrm64 xmm1, xmm2, 0x40', {
    ...strs,
    setup: wide,
    post: `${P.ymm0}\n${P.flags}`,
  });

  // ---------------------------------------------------------------- AES, PCLMULQDQ
  for (const mn of ['vaesenc', 'vaesenclast', 'vaesdec', 'vaesdeclast']) {
    c(`${mn} xmm0, xmm1, xmm2`, '');
    c(`${mn} xmm0, xmm2, [vau]`, '');
  }
  c('vaesimc xmm0, xmm1', '');
  c('vaesimc xmm0, [vbu]', '');
  c('vaeskeygenassist xmm0, xmm1, 0x1b', '');
  c('vaeskeygenassist xmm0, [vbu], 0x80', '');
  for (const imm of [0x00, 0x01, 0x10, 0x11]) c(`vpclmulqdq xmm0, xmm1, xmm2, 0x${imm.toString(16)}`, '');
  c('vpclmulqdq xmm0, xmm1, [vbu], 0x11', '');

  // ---------------------------------------------------------------- broadcasts and lane moves
  for (const [mn, sz] of [
    ['vpbroadcastb', 1],
    ['vpbroadcastw', 2],
    ['vpbroadcastd', 4],
    ['vpbroadcastq', 8],
  ] as const) {
    c(`${mn} xmm0, xmm1`, '');
    c(`${mn} ymm0, xmm1`, '');
    c(`${mn} ymm0, [vbu+${sz}]`, '');
    c(`${mn} xmm0, [vbu+${sz}]`, '');
  }
  c('vbroadcastss xmm0, xmm1', '');
  c('vbroadcastss ymm0, xmm1', '');
  c('vbroadcastsd ymm0, xmm1', '');
  c('vbroadcasti128 ymm0, [vbu]', '');
  c('vinserti128 ymm0, ymm1, xmm2, 0', '');
  c('vinserti128 ymm0, ymm1, xmm2, 1', '');
  c('vinserti128 ymm0, ymm1, [vbu], 3', '');
  c('vextracti128 xmm0, ymm1, 0', '');
  c('vextracti128 xmm0, ymm1, 1', '');
  c('vextracti128 [buf+3], ymm1, 1', '', { post: P.buf });
  for (const imm of [0x00, 0x01, 0x10, 0x20, 0x31, 0x13, 0x23, 0x08, 0x80, 0x88, 0x3a]) {
    c(`vperm2i128 ymm0, ymm1, ymm2, 0x${imm.toString(16)}`, '');
  }
  c('vperm2i128 ymm0, ymm1, [vbu], 0x12', '');
  c('vpermd ymm0, ymm3, ymm1', '');
  c('vpermd ymm0, ymm2, ymm1', '');
  c('vpermd ymm0, ymm3, [vbu]', '');
  c('vpermps ymm0, ymm2, ymm1', '');
  c('vpermps ymm0, ymm3, [vbu]', '');
  c('vpermd ymm1, ymm1, ymm1\n    vmovdqa ymm0, ymm1', ' (same)');
  for (const imm of [0x1b, 0x4e, 0x00, 0xff, 0xd8]) {
    c(`vpermq ymm0, ymm1, 0x${imm.toString(16)}`, '');
    c(`vpermpd ymm0, ymm2, 0x${imm.toString(16)}`, '');
  }
  c('vpermq ymm0, [vbu], 0x93', '');
  c('vpermpd ymm0, [vbu], 0x39', '');
  for (const imm of [0x00, 0xa5, 0xff, 0x3c]) {
    c(`vpblendd ymm0, ymm1, ymm2, 0x${imm.toString(16)}`, '');
    c(`vpblendd xmm0, xmm1, xmm2, 0x${imm.toString(16)}`, '');
  }
  c('vpblendd ymm0, ymm1, [vbu], 0x96', '');

  // ---------------------------------------------------------------- per-element shifts
  for (const mn of ['vpsllvd', 'vpsrlvd', 'vpsravd', 'vpsllvq', 'vpsrlvq']) {
    for (const cnt of mn.endsWith('q') ? ['cntq0', 'cntq1', 'cntq2'] : ['cntd0', 'cntd1']) {
      c(`${mn} ymm0, ymm1, ymm2`, ` (${cnt})`, { a: 'edges', b: cnt });
      c(`${mn} xmm0, xmm1, xmm2`, ` (${cnt})`, { a: 'edges', b: cnt });
    }
    c(`${mn} ymm0, ymm1, [${mn.endsWith('q') ? 'cntq1' : 'cntd1'}]`, ' (m)', { a: 'va' });
  }

  // ---------------------------------------------------------------- masked moves
  // The buffer at PAGE1 - 16: the first 16 bytes on a present page, the rest on a not-present one.
  const edge = `    mov rbx, ${hex(PAGE1 - 16n)}`;
  const edgeFill = `${edge}\n    vmovdqu xmm4, [fill]\n    vmovdqu [rbx], xmm4`;
  c('vpmaskmovd ymm0, ymm3, [vbu]', '');
  c('vpmaskmovd xmm0, xmm3, [vbu]', '');
  c('vpmaskmovq ymm0, ymm3, [vbu]', '');
  c('vpmaskmovq xmm0, xmm2, [vbu]', '');
  // The loads at the page edge are left out: QEMU 7.2 reads the whole operand (README; the unit
  // tests check the SDM's rule that masked-out elements never fault).
  c('vpmaskmovd [buf+1], ymm3, ymm1', '', { post: P.buf });
  c('vpmaskmovd [buf+4], xmm3, xmm1', '', { post: P.buf });
  c('vpmaskmovq [buf+2], ymm3, ymm1', '', { post: P.buf });
  c('vpmaskmovq [buf], xmm2, xmm1', '', { post: P.buf });
  c('vpmaskmovd [rbx], ymm3, ymm1', ' (page edge, low mask)', {
    m: 'mask_lo',
    setup: edgeFill,
    post: '    vmovdqu xmm0, [rbx]\n    call print_ymm0',
  });
  c('vpmaskmovq [rbx], ymm3, ymm1', ' (page edge, fault)', {
    m: 'mask_d6',
    setup: edgeFill,
    final: '    vmovdqu xmm0, [rbx]\n    call print_ymm0',
  });

  // ---------------------------------------------------------------- gathers
  // rbx = gtab + 128: indices -32..31 dwords / -16..15 qwords stay inside the 256-byte table.
  const g = '    lea rbx, [gtab+128]';
  const gathers: [string, string, string][] = [
    // [mnemonic, dest, memory operand with index register]
    ['vpgatherdd', 'xmm0', 'xmm2'],
    ['vpgatherdd', 'ymm0', 'ymm2'],
    ['vpgatherdq', 'xmm0', 'xmm2'],
    ['vpgatherdq', 'ymm0', 'xmm2'],
    ['vpgatherqd', 'xmm0', 'xmm2'],
    ['vpgatherqd', 'xmm0', 'ymm2'],
    ['vpgatherqq', 'xmm0', 'xmm2'],
    ['vpgatherqq', 'ymm0', 'ymm2'],
    ['vgatherdps', 'xmm0', 'xmm2'],
    ['vgatherdps', 'ymm0', 'ymm2'],
    ['vgatherdpd', 'xmm0', 'xmm2'],
    ['vgatherdpd', 'ymm0', 'xmm2'],
    ['vgatherqps', 'xmm0', 'xmm2'],
    ['vgatherqps', 'xmm0', 'ymm2'],
    ['vgatherqpd', 'xmm0', 'xmm2'],
    ['vgatherqpd', 'ymm0', 'ymm2'],
  ];
  for (const [mn, dst, ix] of gathers) {
    const idx = mn.split('gather')[1]!.startsWith('q') ? 'gidxq' : 'gidxd';
    const mask = dst === 'ymm0' ? 'ymm3' : 'xmm3';
    for (const scale of [1, 4, 8]) {
      c(`${mn} ${dst}, [rbx+${ix}*${scale}+8], ${mask}`, '', {
        b: idx,
        m: 'gmask',
        setup: g,
        post: P.gather,
      });
    }
    c(`${mn} ${dst}, [rbx+${ix}*2], ${mask}`, ' (all on)', { b: idx, m: 'ones', setup: g, post: P.gather });
    c(`${mn} ${dst}, [rbx+${ix}*4], ${mask}`, ' (all off)', { b: idx, m: 'zeros', setup: g, post: P.gather });
  }
  // No base, disp32 only.
  c('vpgatherdd ymm0, [gtab+128+ymm2*4], ymm3', '', { b: 'gidxd', m: 'ones', post: P.gather });
  // A #PF part-way: element 2's address is on the not-present page; elements 0 and 1 complete.
  const gpf = `    mov rbx, ${hex(PAGE1 - 0x100n)}`;
  c('vpgatherdd ymm0, [rbx+ymm2*1], ymm3', ' (#PF at element 2)', {
    b: 'gidx_pf',
    m: 'ones',
    setup: gpf,
    final: P.gather,
  });
  c('vpgatherqq ymm0, [rbx+ymm2*1], ymm3', ' (#PF at element 2)', {
    b: 'gidx_pfq',
    m: 'ones',
    setup: gpf,
    final: P.gather,
  });
  // The same with the not-present elements masked out: no fault.
  c('vpgatherdd ymm0, [rbx+ymm2*1], ymm3', ' (masked-out on not-present page)', {
    b: 'gidx_pf',
    m: 'mask_nopf',
    setup: gpf,
    final: P.gather,
  });
  // #UD: destination = index, destination = mask, index = mask (hand-encoded: assemblers refuse).
  c('db 0xc4, 0xe2, 0x7d, 0x90, 0x04, 0x83', 'vpgatherdd ymm0, [rbx+ymm0*4], ymm0 (#UD)', {
    b: 'gidxd',
    m: 'ones',
    setup: g,
    final: P.gather,
  });
  c('db 0xc4, 0xe2, 0x65, 0x90, 0x04, 0x83', 'vpgatherdd ymm0, [rbx+ymm0*4], ymm3 (#UD)', {
    b: 'gidxd',
    m: 'ones',
    setup: g,
    final: P.gather,
  });
  c('db 0xc4, 0xe2, 0x65, 0x90, 0x1c, 0x93', 'vpgatherdd ymm3, [rbx+ymm2*4], ymm3 (#UD)', {
    b: 'gidxd',
    m: 'ones',
    setup: g,
    final: P.gather,
  });
  c('db 0xc4, 0xe2, 0x6d, 0x90, 0x04, 0x93', 'vpgatherdd ymm0, [rbx+ymm2*4], ymm2 (#UD)', {
    b: 'gidxd',
    m: 'ones',
    setup: g,
    final: P.gather,
  });

  // ---------------------------------------------------------------- data
  const gtab = Array.from({ length: 64 }, (_, i) => (0x10000 * (i + 1) + 0x1111 * (i & 15)) >>> 0);
  const data = [
    'align 32',
    'va:',
    dbLine(va),
    'vb:',
    dbLine(vb),
    'vc:',
    dbLine(vc),
    'fill:',
    '    dq 0xdeadbeefcafef00d, 0x0123456789abcdef, 0xfeedfacef00dbabe, 0x7766554433221100',
    'zeros:',
    '    times 32 db 0',
    'ones:',
    '    times 32 db 0xff',
    'lo_half:',
    '    dq 0x00ff00ff00ff00ff, 0x0f0f0f0f0f0f0f0f, 0x3333333333333333, 0x0000000000000001',
    'hi_half:',
    '    dq 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f0, 0xcccccccccccccccc, 0x8000000000000000',
    'ties:',
    '    dw 0x9000, 0x0042, 0x8000, 0x0042, 0xffff, 0x0100, 0x0042, 0x7000',
    '    dw 1, 1, 1, 1, 1, 1, 1, 1',
    'edges:',
    ddLine([0x80000000, 0x7fffffff, 0xffffffff, 0x00000001, 0x12345678, 0x80000001, 0xfedcba98, 0x40000000]),
    'cntd0:',
    ddLine([0, 1, 31, 32, 33, 0xffffffff, 0x80000000, 16]),
    'cntd1:',
    ddLine([4, 30, 7, 255, 0x100000000 - 31, 3, 31, 1]),
    'cntq0:',
    dqLine([0n, 1n, 63n, 64n]),
    'cntq1:',
    dqLine([31n, 32n, 33n, 0x1_0000_0001n]),
    'cntq2:',
    dqLine([0x8000_0000_0000_0000n, 7n, 62n, 0xffff_ffffn]),
    'mask_lo:',
    ddLine([0x80000000, 0xffffffff, 0x80000000, 0x80000001, 0, 0x7fffffff, 0, 0]),
    'mask_d6:',
    ddLine([0x80000000, 0, 0x80000000, 0, 0, 0, 0x80000000, 0x80000000]),
    'gmask:',
    ddLine([0x80000000, 0, 0xffffffff, 0x80000000, 0x7fffffff, 0x80000000, 0, 0xffffffff]),
    'mask_nopf:',
    ddLine([0xffffffff, 0xffffffff, 0, 0, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]),
    'gidxd:',
    ddLine([0, 1, -1, 7, -8, 12, -32 >>> 0, 3].map((x) => x >>> 0)),
    'gidxq:',
    dqLine([0n, -3n, 5n, -16n]),
    // Element 2 (and the others from 0x100 on) land on the not-present page.
    'gidx_pf:',
    ddLine([0, 0x40, 0x100, 0x180, 0x10, 0x20, 0x30, 0x44]),
    'gidx_pfq:',
    dqLine([0n, 0x40n, 0x100n, 0x180n]),
    'align 32',
    'gtab:',
    ddLine(gtab),
    'align 32',
    'buf:',
    '    times 64 db 0',
    'str_a:',
    '    db "abcdefghijklmnop"',
    'str_b:',
    '    db "xxabcxxdefxabcdx"',
    'align 32',
    ...unaligned('vau', dbLine(va)),
    ...unaligned('vbu', dbLine(vb)),
    ...unaligned('str_bu', '    db "ab", 0, "cxxdefxabcdxyzw"'),
    ...names.map((n, i) => `nm${i}:\n    db "${n}", 0`),
  ].join('\n');
  return vecProgram(body.join('\n'), data);
}
