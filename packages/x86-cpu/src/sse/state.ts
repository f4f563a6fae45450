/**
 * SSE/AVX register state: the XMM/YMM register file and MXCSR (SDM Vol. 1 §10.2, §14.1). The file
 * has room for 16 registers (XMM0-XMM15) so 64-bit mode can use it unchanged; 16/32-bit code reaches
 * XMM0-XMM7. Registers live in one ArrayBuffer with typed views, so no instruction allocates.
 *
 * Layout: the low 128 bits of every register first (XMM i at bytes 16i..16i+15, the layout the
 * legacy SSE handlers and FXSAVE use), then the upper 128 bits of the YMM registers (YMM i bits
 * 255:128 at bytes {@link YMM_HI_BYTE} + 16i, words {@link YMM_HI_WORD} + 4i). Legacy SSE
 * instructions leave the upper halves alone; VEX.128 instructions zero them (SDM Vol. 1 §14.1.3).
 */

/** Number of XMM registers in the file (64-bit mode has 16). */
export const XMM_COUNT = 16;

/** Byte offset of YMM0's upper half (bits 255:128) in the register file. */
export const YMM_HI_BYTE = XMM_COUNT * 16;

/** 32-bit word offset of YMM0's upper half in the register file. */
export const YMM_HI_WORD = YMM_HI_BYTE / 4;

/** MXCSR bits (SDM Vol. 1 Figure 10-3). */
export const MXCSR = {
  IE: 0x1,
  DE: 0x2,
  ZE: 0x4,
  OE: 0x8,
  UE: 0x10,
  PE: 0x20,
  DAZ: 0x40,
  IM: 0x80,
  DM: 0x100,
  ZM: 0x200,
  OM: 0x400,
  UM: 0x800,
  PM: 0x1000,
  RC_SHIFT: 13,
  RC: 0x6000,
  FZ: 0x8000,
} as const;

/** All six exception flags; the masks are the same bits shifted left by 7. */
export const MXCSR_FLAGS = 0x3f;
export const MXCSR_MASK_SHIFT = 7;

/** MXCSR after RESET: all exceptions masked, round to nearest (SDM Vol. 3 Table 9-1). */
export const MXCSR_RESET = 0x1f80;

/**
 * MXCSR_MASK as FXSAVE stores it: the bits LDMXCSR/FXRSTOR accept. DAZ is supported, so the mask is
 * 0xffff (SDM Vol. 1 §11.6.6); bits 16-31 are reserved and fault (#GP).
 */
export const MXCSR_WRITABLE = 0xffff;

/** Rounding-control values of MXCSR.RC. */
export const RC = { Nearest: 0, Down: 1, Up: 2, Zero: 3 } as const;

export interface SseStateData {
  /**
   * XMM0..XMM15 as 64 little-endian 32-bit words (register i at words 4i..4i+3), then the upper
   * halves of YMM0..YMM15 as 64 more (words 64+4i..64+4i+3); a 64-word array has upper halves 0.
   */
  xmm: number[];
  mxcsr: number;
}

export class SseState {
  readonly buffer = new ArrayBuffer(XMM_COUNT * 32);
  readonly u8 = new Uint8Array(this.buffer);
  readonly u16 = new Uint16Array(this.buffer);
  readonly i16 = new Int16Array(this.buffer);
  readonly i32 = new Int32Array(this.buffer);
  readonly u32 = new Uint32Array(this.buffer);
  readonly f32 = new Float32Array(this.buffer);
  readonly f64 = new Float64Array(this.buffer);
  mxcsr = MXCSR_RESET;

  /** Power-up state: registers zero, MXCSR 0x1F80. INIT leaves both alone (SDM Vol. 3 Table 9-1). */
  reset(): void {
    this.u32.fill(0);
    this.mxcsr = MXCSR_RESET;
  }

  getState(): SseStateData {
    return { xmm: Array.from(this.u32), mxcsr: this.mxcsr };
  }

  setState(s: SseStateData): void {
    for (let i = 0; i < this.u32.length; i++) this.u32[i] = s.xmm[i] ?? 0;
    this.mxcsr = s.mxcsr & MXCSR_WRITABLE;
  }
}
