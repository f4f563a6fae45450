/**
 * `vec-avx`: AVX floating point and data movement (`packages/x86-cpu/src/handlers/avx.ts`,
 * `avx-move.ts`): VADD/SUB/MUL/DIV/MIN/MAX/SQRT PS/PD/SS/SD, VRCP/VRSQRT, VADDSUB, VHADD/VHSUB,
 * VAND/ANDN/OR/XOR, VCMP* with the 32 predicates, V(U)COMIS*, the VCVT* family (SI forms with 32 and
 * 64-bit integers, out-of-range to the integer indefinite), VROUND*, VDPPS/VDPPD, blends, shuffles,
 * unpacks, permutes, VPERM2F128, VINSERTF128/VEXTRACTF128, VINSERTPS/VEXTRACTPS, broadcasts, the
 * VMOV* forms (alignment faults of VMOVAPS/APD/NTPS/NTPD), VMASKMOVPS/PD, VTESTPS/PD, VMOVMSKPS/PD,
 * VLDMXCSR/VSTMXCSR, VZEROUPPER/VZEROALL, and an unmasked exception (#XM) leaving the destination.
 *
 * Every case loads MXCSR, YMM0 (a fill pattern: VEX.128 zeroing shows in the upper words), YMM1,
 * YMM2 and YMM3 from data, runs the instruction and prints YMM0 and MXCSR without DE (QEMU 7.2 never
 * sets DE: README.md), or what the case names (RAX, the flags, a buffer). A fault prints its frame.
 *
 * Left out (QEMU 7.2 differs from the SDM; the unit tests check the SDM, see README.md): MXCSR.DE;
 * unmasked SIMD exceptions (QEMU raises no #XM); VLDMXCSR of reserved bits (QEMU loads them, the SDM
 * raises #GP(0)); VMINPS/VMAXPS of denormals under DAZ (QEMU returns the denormal's bits);
 * VRCP/VRSQRT of values whose result is not exact or of denormals (QEMU divides exactly); VDPPS with
 * NaNs in both partial sums (QEMU returns the second sum's NaN); VMASKMOVPS/PD loads with masked-out
 * elements on a not-present page, and stores whose fault follows a selected element on a present page
 * (QEMU writes that element first; the SDM's store is all or nothing here).
 */
import { PT4K_BASE, vecProgram } from './runtime64.js';
import {
  DAZ,
  ddLine as dd,
  FTZ,
  type CaseParts,
  caseTail,
  hex,
  MODES,
  pd,
  ps,
  RD,
  RN,
  RU,
  RZ,
  MXCSR_SLOTS,
  printMxcsr,
} from './vec-helpers.js';

/** Operand sets: name -> (YMM1, YMM2, YMM3). */
function sets(): Record<string, [string, string, string]> {
  const s: Record<string, [string, string, string]> = {};
  const m0 = dd([0x80000000, 0, 0xffffffff, 0x7fffffff, 0x80000001, 0, 0, 0xc0000000]);
  s.sBasic = [
    ps([1.5, -2.75, Math.PI, 1e10, -1e-5, 0.1, 7, 1 / 3]),
    ps([2.25, 1.1, -0.3333, 3e-7, 123.456, 0.1, -1e20, 3]),
    m0,
  ];
  s.sSpec = [
    ps([0x7fc00001n, 1, 0x7fa00002n, Infinity, Infinity, -0, 0, 0xffc00003n]),
    ps([2, 0xff800004n, 3, Infinity, -Infinity, 0, -0, 0x7f800005n]),
    m0,
  ];
  s.sSpec2 = [
    ps([0, Infinity, -Infinity, 5, -0, 1, 0x7fc00006n, -7]),
    ps([0, 0, 2, -0, -0, 0x7fa00007n, 0xff800008n, Infinity]),
    m0,
  ];
  s.sRange = [
    ps([3e38, -3e38, 1e-20, 2 ** -70, 2 ** -100, 1e-30, 1e30, -1e-38]),
    ps([2, 3e38, 1e-20, -(2 ** -70), 2 ** -60, 1e-10, 1e-30, 1e10]),
    m0,
  ];
  s.sDenorm = [
    ps([0x00000003n, 1e-45, 0x00400000n, 3, 1e-40, 0x807fffffn, 2, 1]),
    ps([2 ** 20, 1, 2, 0x00000010n, 1e30, 1, 3, 1e-45]),
    m0,
  ];
  const dm0 = dd([0, 0x80000000, 0xffffffff, 0, 0, 0x7fffffff, 0, 0xc0000000]);
  s.dBasic = [pd([1.1, -2.5e100, 3.3333333333333335, 1e-300]), pd([2.2, 4e-50, -0.1, 1e-10]), dm0];
  s.dSpec = [
    pd([0x7ff8000000000001n, 1, 0x7ff4000000000002n, Infinity]),
    pd([2, 0xfff0000000000000n, 3, -Infinity]),
    dm0,
  ];
  s.dSpec2 = [pd([0, -0, Infinity, 0xfff8000000000003n]), pd([-0, 0, Infinity, 0x7ff0000000000004n]), dm0];
  s.dRange = [pd([1e300, 1e-300, 2 ** -540, -1e300]), pd([1e10, 1e-20, 2 ** -540, 1e300]), dm0];
  s.dDenorm = [pd([5e-324, 3, 1e-310, 2]), pd([2 ** 100, 1e-315, 1e300, 1]), dm0];
  // Compare operands: lanes LT, GT, EQ, +0 vs -0, QNaN, SNaN, inf vs inf, denormal vs 0.
  s.sCmp = [
    ps([1, 3, 2, 0, 0x7fc00000n, 1, Infinity, 0x00000001n]),
    ps([2, 1, 2, -0, 1, 0x7f800001n, Infinity, 0]),
    m0,
  ];
  s.dCmp = [pd([1, 3, 0x7ff8000000000000n, -0]), pd([2, 3, 1, 0]), dm0];
  s.dCmp2 = [pd([0x7ff0000000000001n, Infinity, 5e-324, -1]), pd([1, 0xfff0000000000000n, 0, -1]), dm0];
  // Float -> int conversions: halves (ties), out of range, NaN, inf.
  s.sCvt = [
    ps([2.5, -2.5, 3.5, -0.5, 1.7, -1.2, 2147483520, -2147483648]),
    ps([2147483648, -2147483904, 0x7fc00000n, -Infinity, 1e10, 0.49999997, 0x7fa00000n, -3.5]),
    m0,
  ];
  s.dCvt = [
    pd([2.5, -2.5, 2147483647.5, -2147483648.5]),
    pd([2147483648, -2147483649, 0x7ff8000000000000n, -0.5]),
    dm0,
  ];
  s.dCvt2 = [
    pd([1e19, -9.3e18, 2 ** 51 + 0.5, 0x7ff0000000000000n]),
    pd([1.5, -1.5, 2 ** 63, -(2 ** 63)]),
    dm0,
  ];
  // Integers for VCVTDQ2PS/PD: values that round differently in each mode.
  s.iCvt = [
    dd([16777217, -16777219, 0x7fffffff, 0x80000000, 1, -1, 0, 123456789]),
    dd([33554435, -33554435, 3, 2147483520, 5, 6, 7, 8]),
    m0,
  ];
  // Rounding: halves, negatives, large, tiny, specials.
  s.sRound = [
    ps([0.5, 1.5, 2.5, -0.5, -1.5, 1e-40, -0.3, 8388609]),
    ps([0x7fa00000n, -Infinity, 123.456, -0, 2.4999998, -2.5000002, 1e20, 0.7]),
    m0,
  ];
  s.dRound = [
    pd([0.5, 2.5, -1.5, -0.3]),
    pd([4503599627370497, 1e-310, 0x7ff4000000000000n, 2.5000000000000004]),
    dm0,
  ];
  // Reciprocal estimates with exact results only (QEMU divides exactly).
  s.sRcp = [
    ps([1, 4, 0.25, -2, 16, 0, -0, Infinity]),
    ps([0x7fc00001n, -4, 4096, 64, 1, 0.0625, 256, -Infinity]),
    m0,
  ];
  return s;
}

export function vecAvxProgram(): string {
  const data = sets();
  const names: string[] = [];
  const body: string[] = [];
  const PRINT = {
    ymm: '    call print_mx',
    rax: '    call space_hex',
    flags: '    call print_flags',
  } as const;
  interface Opt extends CaseParts {
    mx?: number;
    /** Printed instead of the set name. */
    tag?: string;
  }
  /** One case: MXCSR, YMM1/2/3 from set `set`, YMM0 the fill, `insn`, then `post` (YMM0 + MXCSR). */
  const c = (insn: string, set: string, o: Opt = {}) => {
    const n = names.length;
    const mx = o.mx ?? RN;
    names.push(`${insn.split('\n')[0]!.replace(/^db .*/, '')}${o.tag ?? ` ${set}`} ${hex(mx)}`);
    body.push(`    mov rsi, nm${n}
    call puts
    mov dword [mx_in], ${hex(mx)}
    vldmxcsr [mx_in]
    vmovdqu ymm0, [fill]
    vmovdqu ymm1, [${set}_a]
    vmovdqu ymm2, [${set}_b]
    vmovdqu ymm3, [${set}_c]
${caseTail(n, insn, o, PRINT.ymm)}`);
  };

  // ---------------------------------------------------------------- arithmetic
  for (const op of ['add', 'sub', 'mul', 'div', 'min', 'max']) {
    c(`v${op}ps ymm0, ymm1, ymm2`, 'sBasic');
    c(`v${op}ps xmm0, xmm1, xmm2`, 'sBasic');
    c(`v${op}pd ymm0, ymm1, ymm2`, 'dBasic');
    c(`v${op}pd xmm0, xmm1, xmm2`, 'dBasic');
    c(`v${op}ss xmm0, xmm1, xmm2`, 'sBasic');
    c(`v${op}sd xmm0, xmm1, xmm2`, 'dBasic');
    c(`v${op}ps ymm0, ymm1, ymm2`, 'sSpec');
    c(`v${op}ps ymm0, ymm1, ymm2`, 'sSpec2');
    c(`v${op}pd ymm0, ymm1, ymm2`, 'dSpec');
    c(`v${op}pd ymm0, ymm1, ymm2`, 'dSpec2');
    c(`v${op}ss xmm0, xmm1, xmm2`, 'sSpec');
    c(`v${op}sd xmm0, xmm2, xmm1`, 'dSpec');
    c(`v${op}ps ymm0, ymm1, [sBasic_b]`, 'sRange');
    c(`v${op}sd xmm0, xmm1, [dBasic_b+1]`, 'dRange');
  }
  for (const mx of MODES) {
    for (const op of ['add', 'sub', 'mul', 'div']) {
      c(`v${op}ps ymm0, ymm1, ymm2`, 'sBasic', { mx });
      c(`v${op}pd ymm0, ymm1, ymm2`, 'dBasic', { mx });
      c(`v${op}ps ymm0, ymm1, ymm2`, 'sRange', { mx });
      c(`v${op}pd ymm0, ymm1, ymm2`, 'dRange', { mx });
    }
    c('vsqrtps ymm0, ymm1', 'sBasic', { mx });
    c('vsqrtpd ymm0, ymm2', 'dBasic', { mx });
    c('vsqrtss xmm0, xmm1, xmm2', 'sBasic', { mx });
    c('vsqrtsd xmm0, xmm2, xmm1', 'dBasic', { mx });
  }
  for (const set of ['sSpec', 'sSpec2', 'sRange', 'sDenorm']) {
    c('vsqrtps ymm0, ymm1', set);
    c('vsqrtps xmm0, xmm2', set);
  }
  c('vsqrtps xmm0, xmm2', 'sSpec');
  c('vsqrtpd ymm0, ymm1', 'dSpec');
  c('vsqrtpd xmm0, [dSpec2_a]', 'dSpec');
  c('vsqrtpd ymm0, [dSpec2_b]', 'dSpec');
  c('vsqrtss xmm0, xmm1, [sSpec_b+4]', 'sBasic');
  // Denormals: plain, DAZ, FTZ.
  for (const mx of [RN, RN | DAZ, RZ | FTZ, RU | FTZ | DAZ]) {
    c('vaddps ymm0, ymm1, ymm2', 'sDenorm', { mx });
    c('vmulps ymm0, ymm1, ymm2', 'sDenorm', { mx });
    c('vmulpd ymm0, ymm1, ymm2', 'dDenorm', { mx });
    c('vdivsd xmm0, xmm1, xmm2', 'dDenorm', { mx });
    if ((mx & DAZ) === 0) c('vminps ymm0, ymm1, ymm2', 'sDenorm', { mx });
  }
  for (const mx of [RN, RU]) {
    c('vrcpps ymm0, ymm1', 'sRcp', { mx, post: '    call print_ymm0' });
    c('vrcpps xmm0, [sRcp_b]', 'sRcp', { mx, post: '    call print_ymm0' });
    c('vrsqrtps ymm0, ymm2', 'sRcp', { mx, post: '    call print_ymm0' });
    c('vrsqrtps xmm0, xmm1', 'sRcp', { mx, post: '    call print_ymm0' });
    c('vrcpss xmm0, xmm2, xmm1', 'sRcp', { mx, post: '    call print_ymm0' });
    c('vrsqrtss xmm0, xmm2, [sRcp_a+4]', 'sRcp', { mx, post: '    call print_ymm0' });
  }
  for (const op of ['addsub', 'hadd', 'hsub']) {
    for (const set of ['sBasic', 'sSpec']) {
      c(`v${op}ps ymm0, ymm1, ymm2`, set);
      c(`v${op}ps xmm0, xmm1, xmm2`, set);
    }
    for (const set of ['dBasic', 'dSpec']) {
      c(`v${op}pd ymm0, ymm1, ymm2`, set);
      c(`v${op}pd xmm0, xmm1, [dBasic_b]`, set);
    }
    c(`v${op}ps ymm0, ymm1, ymm2`, 'sBasic', { mx: RD });
    c(`v${op}pd ymm0, ymm1, ymm2`, 'dBasic', { mx: RU });
  }
  for (const op of ['and', 'andn', 'or', 'xor']) {
    c(`v${op}ps ymm0, ymm1, ymm2`, 'sBasic');
    c(`v${op}ps xmm0, xmm1, [sSpec_b]`, 'sBasic');
    c(`v${op}pd ymm0, ymm1, [dSpec_b]`, 'dBasic');
    c(`v${op}pd xmm0, xmm2, xmm1`, 'dBasic');
  }

  // ---------------------------------------------------------------- compares
  for (let p = 0; p < 32; p++) {
    c(`vcmpps ymm0, ymm1, ymm2, ${p}`, 'sCmp');
    c(`vcmppd ymm0, ymm1, ymm2, ${p}`, 'dCmp');
    if (p % 4 === 1 || p % 8 === 3) {
      c(`vcmppd xmm0, xmm1, xmm2, ${p}`, 'dCmp2');
      c(`vcmpss xmm0, xmm1, xmm2, ${p}`, 'sCmp');
      c(`vcmpsd xmm0, xmm1, [dCmp_b], ${p}`, 'dCmp2');
      c(`vcmpps xmm0, xmm2, xmm1, ${p}`, 'sCmp');
    }
  }
  const flagsMx = '    call print_flags\n    call print_mx';
  for (const [mn, set, shift] of [
    ['vcomiss', 'sCmp', 4],
    ['vucomiss', 'sCmp', 4],
    ['vcomisd', 'dCmp', 8],
    ['vucomisd', 'dCmp', 8],
    ['vcomisd', 'dCmp2', 8],
    ['vucomisd', 'dCmp2', 8],
  ] as const) {
    const lanes = 32 / shift;
    for (let i = 0; i < lanes; i++) {
      // Element i of both sources brought down to element 0.
      c(`${mn} xmm1, xmm2`, set, {
        setup: `    vmovdqu ymm1, [${set}_a+${i * shift}]\n    vmovdqu ymm2, [${set}_b+${i * shift}]`,
        post: flagsMx,
      });
    }
    c(`${mn} xmm1, [${set}_b]`, set, { post: flagsMx });
  }

  // ---------------------------------------------------------------- conversions
  for (const mx of MODES) {
    c('vcvtps2dq ymm0, ymm1', 'sCvt', { mx });
    c('vcvtps2dq xmm0, xmm2', 'sCvt', { mx });
    c('vcvtpd2dq xmm0, ymm1', 'dCvt', { mx });
    c('vcvtpd2dq xmm0, xmm2', 'dCvt', { mx });
    c('vcvtdq2ps ymm0, ymm1', 'iCvt', { mx });
    c('vcvtdq2ps xmm0, xmm2', 'iCvt', { mx });
    c('vcvtpd2ps xmm0, ymm1', 'dBasic', { mx });
    c('vcvtpd2ps xmm0, ymm2', 'dRange', { mx });
    c('vcvtsd2ss xmm0, xmm1, xmm2', 'dRange', { mx });
    c('vcvtsi2ss xmm0, xmm1, eax', 'sBasic', { mx, setup: '    mov eax, 16777219' });
    c('vcvtsi2ss xmm0, xmm1, rax', 'sBasic', { mx, setup: '    mov rax, 0x7fffffffffffffff' });
    c('vcvtsi2sd xmm0, xmm1, rax', 'dBasic', { mx, setup: '    mov rax, -9007199254740993' });
    c('vcvtsi2ss xmm0, xmm1, dword [iCvt_a+4]', 'sBasic', { mx });
    c('vcvtsi2sd xmm0, xmm2, qword [dCvt2_a]', 'sBasic', { mx });
    for (const mn of ['vcvtss2si eax', 'vcvtss2si rax'])
      c(`${mn}, xmm1`, 'sCvt', { mx, post: `${PRINT.rax}\n    call print_mx` });
    for (const mn of ['vcvtsd2si eax', 'vcvtsd2si rax'])
      c(`${mn}, xmm1`, 'dCvt', { mx, post: `${PRINT.rax}\n    call print_mx` });
  }
  c('vcvttps2dq ymm0, ymm1', 'sCvt');
  c('vcvttps2dq ymm0, ymm2', 'sCvt');
  c('vcvttps2dq xmm0, [sCvt_b]', 'sCvt');
  c('vcvttpd2dq xmm0, ymm1', 'dCvt');
  c('vcvttpd2dq xmm0, ymm2', 'dCvt');
  c('vcvttpd2dq xmm0, yword [dCvt2_a]', 'dCvt');
  c('vcvttpd2dq xmm0, oword [dCvt2_b]', 'dCvt');
  c('vcvtpd2dq xmm0, yword [dCvt_b]', 'dCvt');
  c('vcvtpd2ps xmm0, oword [dSpec_a]', 'dCvt');
  c('vcvtpd2ps xmm0, yword [dSpec_b]', 'dCvt');
  c('vcvtps2pd ymm0, xmm1', 'sBasic');
  c('vcvtps2pd ymm0, xmm1', 'sSpec');
  c('vcvtps2pd xmm0, xmm2', 'sSpec');
  c('vcvtps2pd ymm0, [sSpec_b+16]', 'sBasic');
  c('vcvtps2pd xmm0, [sDenorm_a]', 'sBasic', { mx: RN | DAZ });
  c('vcvtdq2pd ymm0, xmm1', 'iCvt');
  c('vcvtdq2pd xmm0, xmm2', 'iCvt');
  c('vcvtdq2pd ymm0, [iCvt_b]', 'iCvt');
  c('vcvtss2sd xmm0, xmm1, xmm2', 'sSpec');
  c('vcvtss2sd xmm0, xmm2, [sSpec_a+8]', 'sSpec');
  c('vcvtsd2ss xmm0, xmm1, xmm2', 'dSpec');
  c('vcvtsd2ss xmm0, xmm1, [dSpec_a+16]', 'dSpec');
  for (let i = 0; i < 8; i++) {
    const src = `[sCvt_${i < 4 ? 'a' : 'b'}+${(i % 4) * 4}]`;
    c(`vcvttss2si eax, dword ${src}`, 'sCvt', { post: `${PRINT.rax}\n    call print_mx` });
    c(`vcvttss2si rax, dword ${src}`, 'sCvt', { post: `${PRINT.rax}\n    call print_mx` });
    c(`vcvtss2si rax, dword ${src}`, 'sCvt', { mx: RD, post: `${PRINT.rax}\n    call print_mx` });
  }
  for (let i = 0; i < 8; i++) {
    const src = `[${i < 4 ? 'dCvt' : 'dCvt2'}_${i % 2 === 0 ? 'a' : 'b'}+${(i % 4) * 8}]`;
    c(`vcvttsd2si eax, qword ${src}`, 'dCvt', { post: `${PRINT.rax}\n    call print_mx` });
    c(`vcvttsd2si rax, qword ${src}`, 'dCvt', { post: `${PRINT.rax}\n    call print_mx` });
    c(`vcvtsd2si rax, qword ${src}`, 'dCvt', { mx: RU, post: `${PRINT.rax}\n    call print_mx` });
  }

  // ---------------------------------------------------------------- rounding and dot products
  for (const imm of [0, 1, 2, 3, 4, 8, 9, 10, 11, 12]) {
    c(`vroundps ymm0, ymm1, ${imm}`, 'sRound', { mx: RU });
    c(`vroundps xmm0, ymm2, ${imm}`.replace('ymm2', 'xmm2'), 'sRound', { mx: RD | DAZ });
    c(`vroundpd ymm0, ymm1, ${imm}`, 'dRound', { mx: RZ });
    c(`vroundpd ymm0, ymm2, ${imm}`, 'dRound', { mx: RN | DAZ });
    c(`vroundss xmm0, xmm1, xmm2, ${imm}`, 'sRound');
    c(`vroundsd xmm0, xmm2, [dRound_a+8], ${imm}`, 'dRound', { mx: RU });
  }
  c('vroundps ymm0, [sRound_b], 4', 'sRound');
  for (const imm of [0xff, 0x31, 0xf1, 0x5a, 0x0f, 0xf0]) {
    c(`vdpps ymm0, ymm1, ymm2, ${hex(imm)}`, 'sBasic');
    c(`vdpps xmm0, xmm1, xmm2, ${hex(imm)}`, 'sBasic', { mx: RZ });
    c(`vdpps ymm0, ymm1, ymm2, ${hex(imm)}`, 'sSpec2');
    c(`vdppd xmm0, xmm1, xmm2, ${hex(imm)}`, 'dBasic');
    c(`vdppd xmm0, xmm1, [dSpec_b], ${hex(imm)}`, 'dBasic');
  }
  c('vdpps ymm0, ymm1, [sRange_b], 0xff', 'sRange', { mx: RD });

  // ---------------------------------------------------------------- shuffles, blends, permutes
  for (const imm of [0x00, 0x1b, 0xe4, 0xa5, 0x7d]) {
    c(`vshufps ymm0, ymm1, ymm2, ${hex(imm)}`, 'sBasic');
    c(`vshufps xmm0, xmm1, [sSpec_b], ${hex(imm)}`, 'sBasic');
    c(`vshufpd ymm0, ymm1, ymm2, ${hex(imm & 15)}`, 'dBasic');
    c(`vshufpd xmm0, xmm1, xmm2, ${hex(imm & 3)}`, 'dBasic');
    c(`vblendps ymm0, ymm1, ymm2, ${hex(imm)}`, 'sBasic');
    c(`vblendps xmm0, xmm1, xmm2, ${hex(imm)}`, 'sBasic');
    c(`vblendpd ymm0, ymm1, [dBasic_b], ${hex(imm)}`, 'dBasic');
    c(`vblendpd xmm0, xmm1, xmm2, ${hex(imm)}`, 'dBasic');
    c(`vpermilps ymm0, ymm1, ${hex(imm)}`, 'sBasic');
    c(`vpermilps xmm0, [sBasic_b], ${hex(imm)}`, 'sBasic');
    c(`vpermilpd ymm0, ymm1, ${hex(imm)}`, 'dBasic');
    c(`vpermilpd xmm0, xmm2, ${hex(imm)}`, 'dBasic');
  }
  c('vblendvps ymm0, ymm1, ymm2, ymm3', 'sBasic');
  c('vblendvps xmm0, xmm1, [sSpec_b], xmm3', 'sBasic');
  c('vblendvpd ymm0, ymm1, ymm2, ymm3', 'dBasic');
  c('vblendvpd xmm0, xmm1, xmm2, xmm3', 'dBasic');
  c('vpermilps ymm0, ymm1, ymm3', 'sBasic');
  c('vpermilps ymm0, ymm1, [iCvt_a]', 'sBasic');
  c('vpermilps xmm0, xmm2, xmm3', 'sBasic');
  c('vpermilpd ymm0, ymm1, ymm3', 'dBasic');
  c('vpermilpd ymm0, ymm1, [perm_pd]', 'dBasic');
  c('vpermilpd xmm0, xmm2, [perm_pd+16]', 'dBasic');
  for (const op of ['unpcklps', 'unpckhps', 'unpcklpd', 'unpckhpd']) {
    c(`v${op} ymm0, ymm1, ymm2`, 'sBasic');
    c(`v${op} xmm0, xmm1, [sSpec_b]`, 'sBasic');
  }
  for (const imm of [0x20, 0x31, 0x13, 0x02, 0x88, 0x08, 0x80, 0x21, 0xf7]) {
    c(`vperm2f128 ymm0, ymm1, ymm2, ${hex(imm)}`, 'sBasic');
  }
  c('vperm2f128 ymm0, ymm1, [sSpec_b], 0x12', 'sBasic');
  c('vinsertf128 ymm0, ymm1, xmm2, 0', 'sBasic');
  c('vinsertf128 ymm0, ymm1, xmm2, 1', 'sBasic');
  c('vinsertf128 ymm0, ymm1, [sSpec_b+4], 3', 'sBasic');
  c('vextractf128 xmm0, ymm1, 1', 'sBasic');
  c('vextractf128 xmm0, ymm2, 0', 'sBasic');
  c('vextractf128 [buf+4], ymm1, 1', 'sBasic', { post: '    vmovdqu ymm0, [buf]\n    call print_ymm0' });
  for (const imm of [0x00, 0x1e, 0x5a, 0xc3, 0x3f, 0x90]) {
    c(`vinsertps xmm0, xmm1, xmm2, ${hex(imm)}`, 'sBasic');
    c(`vinsertps xmm0, xmm2, [sSpec_a+8], ${hex(imm)}`, 'sBasic');
  }
  for (const imm of [0, 1, 2, 3, 6]) {
    c(`vextractps eax, xmm1, ${imm}`, 'sSpec', { setup: '    mov rax, -1', post: PRINT.rax });
    c(`vextractps [buf+1], xmm2, ${imm}`, 'sSpec', { post: '    vmovdqu ymm0, [buf]\n    call print_ymm0' });
  }
  c('vbroadcastss ymm0, [sBasic_a+12]', 'sBasic');
  c('vbroadcastss xmm0, [sBasic_a+5]', 'sBasic');
  c('vbroadcastsd ymm0, [dBasic_a+8]', 'dBasic');
  c('vbroadcastf128 ymm0, [sBasic_b+16]', 'sBasic');
  c('vbroadcastf128 ymm0, [sBasic_b+3]', 'sBasic');
  for (const [mn, r] of [
    ['vmovmskps', 'ymm1'],
    ['vmovmskps', 'xmm2'],
    ['vmovmskpd', 'ymm1'],
    ['vmovmskpd', 'xmm2'],
    ['vmovmskps', 'ymm3'],
  ] as const) {
    c(`${mn} eax, ${r}`, 'sSpec', { setup: '    mov rax, -1', post: PRINT.rax });
    c(`${mn} rax, ${r}`, 'dSpec', { setup: '    mov rax, -1', post: PRINT.rax });
  }
  for (const [x, y] of [
    ['ymm1', 'ymm2'],
    ['ymm3', 'ymm1'],
    ['xmm3', 'xmm2'],
    ['ymm3', '[zeros]'],
    ['ymm1', 'ymm1'],
    ['ymm3', '[ones]'],
    ['xmm1', '[signs]'],
  ] as const) {
    c(`vtestps ${x}, ${y}`, 'sSpec', { post: PRINT.flags });
    c(`vtestpd ${x}, ${y}`, 'sSpec', { post: PRINT.flags });
    c(`vtestps ${x}, ${y}`, 'sBasic', { post: PRINT.flags });
    c(`vtestpd ${x}, ${y}`, 'dBasic', { post: PRINT.flags });
  }

  // ---------------------------------------------------------------- moves
  const buf = '    vmovdqu ymm0, [buf]\n    call print_ymm0\n    vmovdqu ymm0, [buf+32]\n    call print_ymm0';
  const bufFinal = { final: buf };
  for (const mn of ['vmovaps', 'vmovapd', 'vmovups', 'vmovupd']) {
    c(`${mn} ymm0, [sBasic_b]`, 'sBasic');
    c(`${mn} xmm0, [sBasic_b+16]`, 'sBasic');
    c(`${mn} ymm0, [sBasic_b+16]`, 'sBasic');
    c(`${mn} xmm0, [sBasic_b+8]`, 'sBasic');
    c(`${mn} ymm0, ymm2`, 'sBasic');
    c(`${mn} xmm0, xmm2`, 'sBasic');
    c(`${mn} [buf], ymm1`, 'sBasic', bufFinal);
    c(`${mn} [buf+16], xmm1`, 'sBasic', bufFinal);
    c(`${mn} [buf+16], ymm1`, 'sBasic', bufFinal);
    c(`${mn} [buf+4], xmm1`, 'sBasic', bufFinal);
  }
  c('db 0xc5, 0xfc, 0x29, 0xc8', 'sBasic', { tag: 'vmovaps ymm0, ymm1 (29)' });
  c('db 0xc5, 0xf9, 0x11, 0xd0', 'sBasic', { tag: 'vmovupd xmm0, xmm2 (11)' });
  for (const mn of ['vmovntps', 'vmovntpd']) {
    c(`${mn} [buf], ymm1`, 'sBasic', bufFinal);
    c(`${mn} [buf+16], xmm2`, 'sBasic', bufFinal);
    c(`${mn} [buf+16], ymm2`, 'sBasic', bufFinal);
    c(`${mn} [buf+8], xmm1`, 'sBasic', bufFinal);
  }
  c('vmovss xmm0, xmm1, xmm2', 'sBasic');
  c('db 0xc5, 0xea, 0x11, 0xc8', 'sBasic', { tag: 'vmovss xmm0, xmm2, xmm1 (11)' });
  c('vmovsd xmm0, xmm1, xmm2', 'sBasic');
  c('db 0xc5, 0xf3, 0x11, 0xd0', 'sBasic', { tag: 'vmovsd xmm0, xmm1, xmm2 (11)' });
  c('vmovss xmm0, [sBasic_b+5]', 'sBasic');
  c('vmovsd xmm0, [sBasic_b+3]', 'sBasic');
  c('vmovss [buf+3], xmm1', 'sBasic', { post: buf });
  c('vmovsd [buf+7], xmm2', 'sBasic', { post: buf });
  c('vmovlps xmm0, xmm1, [sBasic_b+1]', 'sBasic');
  c('vmovhps xmm0, xmm1, [sBasic_b+1]', 'sBasic');
  c('vmovlpd xmm0, xmm2, [sBasic_a+8]', 'sBasic');
  c('vmovhpd xmm0, xmm2, [sBasic_a+8]', 'sBasic');
  c('vmovlps [buf+2], xmm1', 'sBasic', { post: buf });
  c('vmovhps [buf+2], xmm1', 'sBasic', { post: buf });
  c('vmovlpd [buf+9], xmm2', 'sBasic', { post: buf });
  c('vmovhpd [buf+9], xmm2', 'sBasic', { post: buf });
  c('vmovhlps xmm0, xmm1, xmm2', 'sBasic');
  c('vmovlhps xmm0, xmm1, xmm2', 'sBasic');
  c('vmovsldup ymm0, ymm1', 'sBasic');
  c('vmovsldup xmm0, [sBasic_b+1]', 'sBasic');
  c('vmovshdup ymm0, [sBasic_b+1]', 'sBasic');
  c('vmovshdup xmm0, xmm2', 'sBasic');
  c('vmovddup ymm0, ymm1', 'sBasic');
  c('vmovddup ymm0, [sBasic_b+1]', 'sBasic');
  c('vmovddup xmm0, xmm2', 'sBasic');
  c('vmovddup xmm0, [sBasic_b+20]', 'sBasic');

  // ---------------------------------------------------------------- masked moves
  c('vmaskmovps ymm0, ymm3, [sBasic_b+1]', 'sBasic');
  c('vmaskmovps xmm0, xmm3, [sBasic_b]', 'sBasic');
  c('vmaskmovpd ymm0, ymm3, [sBasic_b+1]', 'dBasic');
  c('vmaskmovpd xmm0, xmm3, [sBasic_b]', 'dBasic');
  c('vmaskmovps [buf+1], ymm3, ymm1', 'sBasic', { post: buf });
  c('vmaskmovps [buf+4], xmm3, xmm2', 'sBasic', { post: buf });
  c('vmaskmovpd [buf+3], ymm3, ymm1', 'dBasic', { post: buf });
  c('vmaskmovpd [buf], xmm3, xmm2', 'dBasic', { post: buf });
  // The buffer at the end of a present page, followed by a not-present one (stores only: README).
  const PAGE1 = PT4K_BASE + 0x1000n;
  const edge = `    mov rbx, ${hex(PAGE1 - 16n)}\n    vmovdqu xmm4, [fill]\n    vmovdqu [rbx], xmm4`;
  const edgePost = '    vmovdqu xmm0, [rbx]\n    call print_ymm0';
  c('vmaskmovps [rbx], ymm3, ymm1', 'sBasic', {
    tag: ' (page edge, low mask)',
    setup: `${edge}\n    vmovdqu ymm3, [mask_lo]`,
    post: edgePost,
  });
  c('vmaskmovpd [rbx], ymm3, ymm1', 'sBasic', {
    tag: ' (page edge, low mask)',
    setup: `${edge}\n    vmovdqu ymm3, [mask_lo]`,
    post: edgePost,
  });
  c('vmaskmovps [rbx], ymm3, ymm1', 'sBasic', {
    tag: ' (page edge, fault)',
    setup: `${edge}\n    vmovdqu ymm3, [mask_hi]`,
    final: edgePost,
  });
  c('vmaskmovpd [rbx], ymm3, ymm2', 'sBasic', {
    tag: ' (page edge, fault)',
    setup: `${edge}\n    vmovdqu ymm3, [mask_hi]`,
    final: edgePost,
  });

  // ---------------------------------------------------------------- MXCSR, zeroing, faults
  c('vstmxcsr [buf+1]', 'sBasic', { mx: RZ | DAZ | 0x3d, post: buf });
  c('vldmxcsr [mx_good]\n    vaddps ymm0, ymm1, ymm2', 'sBasic');
  const ymm8 =
    '    vmovdqa ymm0, ymm8\n    call print_ymm0\n    vmovdqa ymm0, ymm15\n    call print_ymm0\n    vmovdqa ymm0, ymm1\n    call print_ymm0';
  const hiSetup = '    vmovdqu ymm8, [sBasic_b]\n    vmovdqu ymm15, [dBasic_a]';
  c('vzeroupper', 'sBasic', { setup: hiSetup, post: ymm8 });
  c('vzeroall', 'sBasic', { setup: hiSetup, post: ymm8 });

  const lines: string[] = ['align 32'];
  for (const [name, [a, b, cc]] of Object.entries(data))
    lines.push(`${name}_a:`, a, `${name}_b:`, b, `${name}_c:`, cc);
  lines.push(
    'fill:',
    '    dq 0xdeadbeefcafef00d, 0x0123456789abcdef, 0xfeedfacef00dbabe, 0x7766554433221100',
    'zeros:',
    '    times 32 db 0',
    'ones:',
    '    times 32 db 0xff',
    'signs:',
    dd([0x80000000, 0, 0, 0x80000000, 0, 0, 0, 0]),
    'perm_pd:',
    '    dq 2, 0, 0xfffffffffffffffd, 0x8000000000000002',
    'mask_lo:',
    dd([0x80000000, 0xffffffff, 0x80000000, 0x80000001, 0, 0x7fffffff, 0, 0]),
    'mask_hi:',
    dd([0, 0, 0, 0, 0x80000000, 0x80000000, 0, 0]),
    'align 32',
    'buf:',
    '    times 64 db 0',
    ...MXCSR_SLOTS,
    'mx_good:',
    '    dd 0x5fbf',
    ...names.map((n, i) => `nm${i}:\n    db "${n}", 0`),
  );
  const routines = `
${printMxcsr('print_mx', 'vstmxcsr')}
    ret
print_flags:                ; the arithmetic flags (OF SF ZF AF PF CF)
    pushfq
    pop rax
    and rax, 0x8d5
    call space_hex
    ret
`;
  return vecProgram(
    `${body.join('\n')}\n    mov dword [mx_out], 0x1f80\n    ldmxcsr [mx_out]\n    ret\n${routines}`,
    lines.join('\n'),
  );
}
