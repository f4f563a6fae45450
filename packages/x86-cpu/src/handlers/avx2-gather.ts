/**
 * The AVX2 gathers (SDM Vol. 2, VPGATHERDD/QD, VPGATHERDQ/QQ, VGATHERDPS/QPS, VGATHERDPD/QPD):
 * `dest, [base + index_j * scale + disp], mask` with a VSIB memory operand. The decoder gives the
 * vector index register as `memIndex` (`Register.XMM0 + i` for vm32x/vm64x, `Register.YMM0 + i` for
 * vm32y/vm64y) with `memScale`, and the mask register as op2.
 *
 * The element count is the smaller of what the index register and the destination hold: dword
 * indices into dword data 4 (xmm) / 8 (ymm); dword indices into qwords 2 / 4; qword indices into
 * dwords 2 (vm64x) / 4 (vm64y, an xmm destination); qword into qword 2 / 4. Element j is loaded when
 * the top bit of mask element j is set; following the SDM's operation, the mask elements are first
 * extended from their top bits and the mask bits past the elements zeroed, then elements are
 * gathered in order with each mask element cleared as it completes, so a fault (#PF, #GP) leaves the
 * gathered elements in the destination and their mask elements 0: re-executing the instruction
 * continues where it stopped. Masked-out elements are not accessed. The destination bits past the
 * elements (bits 255:128 of VEX.128, bits 127:64 with two dword elements) are zeroed at the end.
 * #UD when any two of destination, index and mask are the same register. The float forms move bits:
 * no MXCSR involvement.
 */
import { Register } from '@typevisor/x86-decoder';
import type { Handler } from '../cpu.js';
import { raise, Vector } from '../exceptions.js';
import { read32, read64, TWO_32 } from '../memory-access.js';
import { GPR_HI, GPR_OF, Seg } from '../registers.js';
import { YMM_HI_WORD } from '../sse/state.js';
import { enterVex, vreg } from './avx-core.js';
import { HandlerList } from './table.js';

/** Word offset in the register file of 32-bit word `w` (0..7) of YMM register `r`. */
function wordOf(r: number, w: number): number {
  return w < 4 ? r * 4 + w : YMM_HI_WORD + r * 4 + w - 4;
}

/**
 * A gather: `idxQ` qword indices (else dword), `dataQ` qword elements (else dword). The element count
 * follows from the index register (xmm/ymm) and the destination (xmm/ymm).
 */
function gather(idxQ: boolean, dataQ: boolean): Handler {
  const idxBytes = idxQ ? 8 : 4;
  const dataWords = dataQ ? 2 : 1;
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const x = sse.u32;
    const d = vreg(ins.op0Register);
    const m = vreg(ins.op2Register);
    const vi = ins.memIndex;
    const xi = vreg(vi);
    if (d === m || d === xi || m === xi) raise(Vector.UD);
    const destBytes = ins.op0Register >= Register.YMM0 ? 32 : 16;
    const indexBytes = vi >= Register.YMM0 ? 32 : 16;
    const n = Math.min(indexBytes / idxBytes, destBytes / (dataWords * 4));
    const usedWords = n * dataWords;
    // The mask: elements extended from their top bits, the words past them zeroed.
    for (let j = 0; j < n; j++) {
      const top = x[wordOf(m, j * dataWords + dataWords - 1)]! & 0x80000000 ? 0xffffffff : 0;
      for (let k = 0; k < dataWords; k++) x[wordOf(m, j * dataWords + k)] = top;
    }
    for (let w = usedWords; w < 8; w++) x[wordOf(m, w)] = 0;
    // base + disp as 64-bit halves (the base register's full width; 32-bit modes wrap below).
    const long = ins.bitness === 64;
    const seg = ins.memSegment - Register.ES;
    let baseLo = ins.memDisplacement >>> 0;
    let baseHi = ins.memDisplacement < 0 ? 0xffffffff : 0;
    if (ins.memBase !== Register.None) {
      const g = GPR_OF[ins.memBase]!;
      baseLo += cpu.regs.u32[g]!;
      if (long) baseHi += cpu.regs.u32[g + GPR_HI]!;
    }
    const scale = ins.memScale;
    const wide = long && ins.addressSize === 64;
    for (let j = 0; j < n; j++) {
      const mw = wordOf(m, j * dataWords + dataWords - 1);
      if ((x[mw]! & 0x80000000) === 0) continue;
      const iw = wordOf(xi, j * (idxBytes / 4));
      const iLo = x[iw]!;
      const iHi = idxQ ? x[wordOf(xi, j * 2 + 1)]! : iLo & 0x80000000 ? 0xffffffff : 0;
      const lo = baseLo + iLo * scale;
      let off: number;
      if (wide) {
        const hi = (baseHi + iHi * scale + Math.floor(lo / TWO_32)) | 0;
        // A non-canonical element address: #GP(0), #SS(0) through SS.
        if ((hi << 16) >> 16 !== hi) raise(seg === Seg.SS ? Vector.SS : Vector.GP, 0);
        off = hi * TWO_32 + (lo >>> 0);
      } else off = lo >>> 0;
      const dw = wordOf(d, j * dataWords);
      if (dataQ) {
        const vlo = read64(cpu, seg, off);
        x[dw] = vlo;
        x[wordOf(d, j * 2 + 1)] = cpu.hi;
      } else x[dw] = read32(cpu, seg, off);
      for (let k = 0; k < dataWords; k++) x[wordOf(m, j * dataWords + k)] = 0;
    }
    for (let w = usedWords; w < 8; w++) x[wordOf(d, w)] = 0;
  };
}

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(`VEX_${name}`, h);
  for (const [p, dd, dq, qd, qq] of [
    ['Vpgather', 'dd', 'dq', 'qd', 'qq'],
    ['Vgather', 'dps', 'dpd', 'qps', 'qpd'],
  ] as const) {
    add(`${p}${dd}_xmm_vm32x_xmm`, gather(false, false));
    add(`${p}${dd}_ymm_vm32y_ymm`, gather(false, false));
    add(`${p}${dq}_xmm_vm32x_xmm`, gather(false, true));
    add(`${p}${dq}_ymm_vm32x_ymm`, gather(false, true));
    add(`${p}${qd}_xmm_vm64x_xmm`, gather(true, false));
    add(`${p}${qd}_xmm_vm64y_xmm`, gather(true, false));
    add(`${p}${qq}_xmm_vm64x_xmm`, gather(true, true));
    add(`${p}${qq}_ymm_vm64y_ymm`, gather(true, true));
  }
  return list.entries;
}

export const AVX2_GATHER_HANDLERS: readonly [number, Handler][] = entries();
