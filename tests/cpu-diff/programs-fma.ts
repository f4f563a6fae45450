/**
 * `vec-fma`: FMA3 (VFMADD/VFMSUB/VFNMADD/VFNMSUB/VFMADDSUB/VFMSUBADD 132/213/231, PS/PD/SS/SD, VEX.128
 * and VEX.256, register and memory sources) and F16C (VCVTPH2PS, VCVTPS2PH with its imm8 rounding).
 *
 * Every case loads MXCSR (rounding mode, DAZ, FTZ; all exceptions masked), YMM0 (destination and
 * first source), YMM1 (second source) and YMM2 (third source) from data, runs the instruction and
 * prints its name, all of YMM0 (VEX.128 zeroes bits 255:128; scalar forms keep bits 127:32/64 of the
 * first source) and MXCSR. The inputs cover rounding in every mode, exact and near cancellation (the
 * sign of an exact zero), NaN priority and quieting, invalid operations, overflow, underflow and
 * subnormal results, denormal inputs with and without DAZ, and FTZ.
 *
 * Left out (QEMU 7.2 differs from the SDM; checked against the SDM in the package's unit tests, see
 * README.md): MXCSR.DE (QEMU never sets it: the program prints MXCSR with DE cleared); FTZ with a result that rounds up to the smallest normal (QEMU flushes it: it
 * judges tininess before rounding for FTZ); VCVTPH2PS of half denormals under DAZ (QEMU flushes them,
 * the SDM ignores DAZ); VCVTPS2PH of tiny results under FTZ (QEMU flushes them, the SDM ignores FTZ).
 */
import { vecProgram } from './runtime64.js';
import {
  DAZ,
  FTZ,
  hex,
  MODES,
  pd,
  ps,
  RD,
  RN,
  RU,
  RZ,
  unaligned,
  MXCSR_SLOTS,
  printMxcsr,
} from './vec-helpers.js';

const fr = Math.fround;

/** Operand sets (a, b, c) -> YMM0, YMM1, YMM2. */
function sets(): Record<string, [string, string, string]> {
  const s: Record<string, [string, string, string]> = {};
  // Ordinary values: results rounded differently in each mode.
  s.sBasic = [
    ps([1.5, -2.75, Math.PI, 1e10, -1e-5, 0.1, 7, 1 / 3]),
    ps([2.25, 1.1, -0.3333, 3e-7, 123.456, 0.1, 1e20, 3]),
    ps([0.3, 1e-8, 2.0, -3000, 0.001, -0.01, -7e20, -1]),
  ];
  // Exact and near cancellation: the error of the product is the (exact) result; zeros' signs.
  const a1 = [1.5, 1.1, 3, -0, 0, 1.25, 1.0000001, 5];
  const b1 = [2, 1.3, -7, 0, -5, 4, 0.9999999, -0.2];
  s.sCancel = [ps(a1), ps(b1), ps([-3, -fr(fr(1.1) * fr(1.3)), 21, -0, 0, -5, -1, fr(-fr(5) * fr(-0.2))])];
  // NaNs (priority x, y, z; quieting; IE for SNaN), invalid inf*0 and inf-inf, infinities.
  s.sSpecial = [
    ps([0x7fc00001n, 1, 2, Infinity, Infinity, -Infinity, 4, 0xffc00008n]),
    ps([0x7f800002n, 0xff800005n, 3, 0, 2, -3, 5, 1]),
    ps([0x7fc00003n, 0x7fc00006n, 0x7f800007n, 1, -Infinity, 5, -Infinity, 2]),
  ];
  // Overflow, underflow to subnormal (inexact and exact), results below the smallest subnormal.
  s.sRange = [
    ps([3e38, 3e38, 1e-20, 2 ** -70, 2 ** -126, 1e-30, 2 ** -100, -3e38]),
    ps([2, 1, 1e-20, 2 ** -70, 0.75, 1e-10, 2 ** -60, 3]),
    ps([0, 3e38, 0, 0, 0, -1e-41, 2 ** -149, 1]),
  ];
  // Near the smallest normal (tininess after rounding) and denormal inputs: never run with FTZ.
  s.sTiny = [
    ps([0x20000001n, 0x20000001n, 2 ** -126, 1, 0x00000003n, 1e-45, 2 ** -64, 0x807fffffn]),
    ps([0x1ffffffen, 0x9ffffffen, 1 - 2 ** -24, 0x00400000n, 2 ** 20, 1, 2 ** -62, 1]),
    ps([0, 0, 0, 0, 0, 1, 0x80000001n, 2 ** -126]),
  ];
  // Denormal inputs that stay clear of the smallest normal (DAZ and FTZ cases).
  s.sDenorm = [
    ps([0x00000003n, 1e-45, 0x00400000n, 3, 1e-40, 0x807fffffn, 2, 1]),
    ps([2 ** 20, 1, 2, 0x00000010n, 1e30, 1, 3, 1e-45]),
    ps([0, 1, 0x80000001n, 1, 0, 0x00000001n, 0x00000005n, 1]),
  ];

  s.sZeroInf = [
    ps([0x7fc00001n, 0xffc00002n, 0x7fa00003n, 0, Infinity, 1, 0, 0]),
    ps([0, Infinity, 0, 0x7fc00004n, 0, 0x7fc00005n, 0, 0]),
    ps([Infinity, -0, Infinity, Infinity, 0x7fc00006n, 0x7fa00007n, 0, 0]),
  ];
  s.dZeroInf = [
    pd([0x7ff8000000000001n, 0, Infinity, 0x7ff4000000000003n]),
    pd([0, 0x7ff8000000000002n, 0x7ff8000000000004n, -0]),
    pd([-Infinity, Infinity, 0, Infinity]),
  ];
  s.dBasic = [
    pd([1.1, -2.5e100, 3.3333333333333335, 1e-300]),
    pd([2.2, 4e-50, -0.1, 1e-10]),
    pd([0.3, 1e51, 0.333, -7e-311]),
  ];
  s.dCancel = [
    pd([1.5, 1.1, 0, 1.0000000000000002]),
    pd([2, 1.3, -0, 0.9999999999999998]),
    pd([-3, -(1.1 * 1.3), -0, -1]),
  ];
  s.dCancel2 = [pd([-0, 1e150, 3, -1e-200]), pd([0, 1e10, -7, 1e-200]), pd([0, -(1e150 * 1e10), 21, 0])];
  s.dSpecial = [
    pd([0x7ff8000000000001n, 1, Infinity, 0xfff8000000000008n]),
    pd([0x7ff0000000000002n, 0xfff0000000000005n, 0, 1]),
    pd([0x7ff8000000000003n, 0x7ff8000000000006n, 1, 0x7ff0000000000007n]),
  ];
  s.dSpecial2 = [
    pd([Infinity, -Infinity, 4, 2]),
    pd([2, -3, 5, 3]),
    pd([-Infinity, 5, -Infinity, 0x7ff0000000000009n]),
  ];
  s.dRange = [pd([1e300, 1e-300, 2 ** -540, -1e300]), pd([1e10, 1e-20, 2 ** -540, 1e300]), pd([0, 0, 0, 1])];
  s.dRange2 = [
    pd([2 ** -1022, 1e-200, 2 ** -600, 1.7e308]),
    pd([0.75, 1e-120, 2 ** -500, 1]),
    pd([0, -1e-321, 2 ** -1074, 1.7e308]),
  ];
  s.dTiny = [
    pd([0x2000000000000001n, 0x2000000000000001n, 5e-324, 2 ** -1022]),
    pd([0x1ffffffffffffffen, 0x9ffffffffffffffen, 2 ** 60, 1 - 2 ** -53]),
    pd([0, 0, 0, 0]),
  ];
  s.dDenorm = [pd([5e-324, 3, 1e-310, 2]), pd([2 ** 100, 1e-315, 1e300, 1]), pd([0, 1, 0, 5e-324])];
  return s;
}

/** MXCSR values: all exceptions masked; RC nearest/down/up/zero; FTZ; DAZ. */

const OPS = ['fmadd', 'fmsub', 'fnmadd', 'fnmsub', 'fmaddsub', 'fmsubadd'];
const ORDERS = ['132', '213', '231'];

export function vecFmaProgram(): string {
  const data = sets();
  const names: string[] = [];
  const body: string[] = [];
  /** One case: MXCSR, YMM0/1/2 from set `set`, `insn`, YMM0 and MXCSR (DE cleared) printed. */
  const c = (insn: string, set: string, mxcsr: number) => {
    const n = names.length;
    names.push(`${insn} ${set} ${hex(mxcsr)}`);
    body.push(`    mov rsi, nm${n}
    call puts
    mov dword [mx_in], ${hex(mxcsr)}
    ldmxcsr [mx_in]
    vmovdqu ymm0, [${set}_a]
    vmovdqu ymm1, [${set}_b]
    vmovdqu ymm2, [${set}_c]
    ${insn}
    call print_mxcsr
    call newline`);
  };

  // Every FMA form once, VEX.256 and VEX.128, register sources, round to nearest.
  for (const op of OPS)
    for (const ord of ORDERS)
      for (const t of ['ps', 'pd']) {
        const set = t === 'ps' ? 'sBasic' : 'dBasic';
        c(`v${op}${ord}${t} ymm0, ymm1, ymm2`, set, RN);
        c(`v${op}${ord}${t} xmm0, xmm1, xmm2`, set, RN);
      }
  for (const op of OPS.slice(0, 4))
    for (const ord of ORDERS) {
      c(`v${op}${ord}ss xmm0, xmm1, xmm2`, 'sBasic', RN);
      c(`v${op}${ord}sd xmm0, xmm1, xmm2`, 'dBasic', RN);
    }

  // Every rounding mode on the ordinary, cancelling and range sets.
  for (const mx of MODES) {
    for (const op of OPS) {
      c(`v${op}231ps ymm0, ymm1, ymm2`, 'sBasic', mx);
      c(`v${op}132pd ymm0, ymm1, ymm2`, 'dBasic', mx);
    }
    for (const op of ['fmadd', 'fmsub', 'fnmadd', 'fnmsub']) {
      c(`v${op}213ps ymm0, ymm1, ymm2`, 'sCancel', mx);
      c(`v${op}213pd ymm0, ymm1, ymm2`, 'dCancel', mx);
      c(`v${op}231pd ymm0, ymm1, ymm2`, 'dCancel2', mx);
    }
    for (const ord of ORDERS) {
      c(`vfmadd${ord}ps ymm0, ymm1, ymm2`, 'sRange', mx);
      c(`vfnmsub${ord}ps ymm0, ymm1, ymm2`, 'sRange', mx);
      c(`vfmadd${ord}pd ymm0, ymm1, ymm2`, 'dRange', mx);
      c(`vfmsub${ord}pd ymm0, ymm1, ymm2`, 'dRange2', mx);
      c(`vfmadd${ord}ps ymm0, ymm1, ymm2`, 'sTiny', mx);
      c(`vfmadd${ord}pd ymm0, ymm1, ymm2`, 'dTiny', mx);
    }
    c('vfmadd132ss xmm0, xmm1, xmm2', 'sTiny', mx);
    c('vfnmadd231sd xmm0, xmm1, xmm2', 'dTiny', mx);
    c('vfmsub213sd xmm0, xmm1, xmm2', 'dRange', mx);
  }

  // NaN priority and invalid operations in every operand order and negation.
  for (const op of OPS)
    for (const ord of ORDERS) {
      c(`v${op}${ord}ps ymm0, ymm1, ymm2`, 'sSpecial', RN);
      c(`v${op}${ord}pd ymm0, ymm1, ymm2`, 'dSpecial', RN);
      c(`v${op}${ord}pd ymm0, ymm1, ymm2`, 'dSpecial2', RN);
    }
  // 0 * inf + QNaN: the QNaN, and no IE (Table 14-17: only an SNaN makes a NaN case invalid).
  c('vfmadd231ps ymm0, ymm1, ymm2', 'sZeroInf', RN);
  c('vfnmsub132pd ymm0, ymm1, ymm2', 'dZeroInf', RN);
  c('vfmadd231ss xmm0, xmm1, xmm2', 'sZeroInf', RN);
  c('vfmadd231sd xmm0, xmm1, xmm2', 'dZeroInf', RN);
  for (const ord of ORDERS) {
    c(`vfmadd${ord}ss xmm0, xmm1, xmm2`, 'sSpecial', RN);
    c(`vfnmsub${ord}sd xmm0, xmm1, xmm2`, 'dSpecial', RN);
  }

  // Denormal inputs: plain, DAZ, FTZ, both.
  for (const mx of [RN, RN | DAZ, RZ | FTZ, RU | FTZ | DAZ, RD | DAZ]) {
    c('vfmadd231ps ymm0, ymm1, ymm2', 'sDenorm', mx);
    c('vfmsub132ps ymm0, ymm1, ymm2', 'sDenorm', mx);
    c('vfmadd213pd ymm0, ymm1, ymm2', 'dDenorm', mx);
    c('vfnmadd213ss xmm0, xmm1, xmm2', 'sDenorm', mx);
    c('vfmadd231sd xmm0, xmm1, xmm2', 'dDenorm', mx);
    c('vfmadd132ps ymm0, ymm1, ymm2', 'sRange', mx);
    c('vfmsub231pd ymm0, ymm1, ymm2', 'dRange', mx);
    c('vfmadd231pd ymm0, ymm1, ymm2', 'dRange2', mx);
  }

  // Memory third sources (m256, m128, m32, m64; unaligned).
  for (const mx of [RN, RU]) {
    c('vfmadd231ps ymm0, ymm1, [sBasic_m]', 'sCancel', mx);
    c('vfmsubadd132ps xmm0, xmm1, [sBasic_m]', 'sRange', mx);
    c('vfnmadd213pd ymm0, ymm1, [dBasic_m]', 'dCancel', mx);
    c('vfmaddsub231pd xmm0, xmm1, [dBasic_m]', 'dRange', mx);
    c('vfmadd132ss xmm0, xmm1, [sBasic_m]', 'sBasic', mx);
    c('vfnmsub213sd xmm0, xmm1, [dBasic_m]', 'dBasic', mx);
  }

  // F16C. VCVTPS2PH: imm8[1:0] rounding or (imm8[2]) MXCSR.RC; register and memory destinations.
  for (const imm of [0, 1, 2, 3, 4]) {
    for (const mx of imm === 4 ? MODES : [RU]) {
      c(`vcvtps2ph xmm0, ymm1, ${imm}`, 'hSingles', mx);
      c(`vcvtps2ph xmm0, xmm2, ${imm}`, 'hSingles', mx);
    }
  }
  c('vcvtps2ph xmm0, ymm1, 4', 'hSingles', RN | DAZ);
  c('vcvtps2ph [h_out], ymm1, 0\n    vmovdqu ymm0, [h_out]', 'hSingles', RN);
  c('vcvtps2ph [h_out], xmm2, 3\n    vmovdqu ymm0, [h_out]', 'hSingles', RN);
  // VCVTPH2PS: exact; denormal halves to normal singles; SNaN quieted with IE.
  for (const mx of [RN, RZ | FTZ]) {
    c('vcvtph2ps ymm0, xmm1', 'hHalves', mx);
    c('vcvtph2ps xmm0, xmm2', 'hHalves', mx);
    c('vcvtph2ps ymm0, [hHalves_b]', 'hHalves', mx);
    c('vcvtph2ps xmm0, [hHalves_c]', 'hHalves', mx);
  }
  c('vcvtph2ps ymm0, xmm1', 'hNormalHalves', RN | DAZ);

  const halves = (hs: number[]) => `    dw ${hs.map((h) => hex(h)).join(', ')}`;
  const lines: string[] = ['align 32'];
  for (const [name, [a, b, cc]] of Object.entries(data))
    lines.push(`${name}_a:`, a, `${name}_b:`, b, `${name}_c:`, cc);
  lines.push(
    'hSingles_a:',
    ps([1, 2, 3, 4, 5, 6, 7, 8]),
    'hSingles_b:',
    ps([1 / 3, 65504, 65520, -1e5, 6e-8, 1e-10, -(2 ** -24) * 1.5, 0x7f800001n]),
    'hSingles_c:',
    ps([0xffc00123n, -Infinity, -0, 0x00000001n, 65519.99, 2 ** -14 * (1 - 2 ** -11), 0.1, 1e-45]),
    'hHalves_a:',
    ps([1, 2, 3, 4, 5, 6, 7, 8]),
    'hHalves_b:',
    halves([0x0001, 0x3c00, 0x7bff, 0x7c00, 0xfc00, 0x7d00, 0x7e01, 0x8000]),
    halves([0x03ff, 0x8200, 0x3555, 0xc000, 0x0400, 0xfbff, 0x1234, 0xabcd]),
    'hHalves_c:',
    halves([0x8001, 0x7c01, 0xfe00, 0x3bff, 0x0200, 0x4248, 0x5640, 0x0000]),
    halves([0, 0, 0, 0, 0, 0, 0, 0]),
    'hNormalHalves_a:',
    ps([1, 2, 3, 4, 5, 6, 7, 8]),
    'hNormalHalves_b:',
    halves([0x3c00, 0x7bff, 0x7c00, 0x0400, 0x3555, 0xc000, 0x7d00, 0x8000]),
    halves([0, 0, 0, 0, 0, 0, 0, 0]),
    'hNormalHalves_c:',
    ps([0, 0, 0, 0, 0, 0, 0, 0]),
    'h_out:',
    '    dq 0x1111111111111111, 0x2222222222222222, 0x3333333333333333, 0x4444444444444444',
    ...MXCSR_SLOTS,
    // Unaligned copies for the memory forms.
    ...unaligned('sBasic_m', data.sBasic![2]),
    ...unaligned('dBasic_m', data.dBasic![2]),
    ...names.map((n, i) => `nm${i}:\n    db "${n.replace(/\n.*/s, '')}", 0`),
  );
  const routines = `
${printMxcsr('print_mxcsr', 'stmxcsr')}
    mov dword [mx_out], 0x1f80
    ldmxcsr [mx_out]
    ret
`;
  return vecProgram(`${body.join('\n')}\n    ret\n${routines}`, lines.join('\n'));
}
