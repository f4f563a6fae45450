/**
 * The SSE part of the FXSAVE image (SDM Vol. 1 Table 10-2): MXCSR at byte 24, MXCSR_MASK at 28 and
 * the XMM registers at 160 + 16 i. Outside 64-bit mode only XMM0-XMM7 are saved and restored; bytes
 * 288-511 are left as they are.
 */
import { FXSAVE_MXCSR, FXSAVE_MXCSR_MASK, FXSAVE_XMM0 } from '../x87/layout.js';
import { MXCSR_WRITABLE, type SseState } from './state.js';

/** XMM registers in the image outside 64-bit mode. */
export const SSE_IMAGE_REGS = 8;

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

function get32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

export function saveSse(sse: SseState, image: Uint8Array, regs: number): void {
  put32(image, FXSAVE_MXCSR, sse.mxcsr);
  put32(image, FXSAVE_MXCSR_MASK, MXCSR_WRITABLE);
  for (let i = 0; i < regs * 16; i++) image[FXSAVE_XMM0 + i] = sse.u8[i]!;
}

/** False when the image's MXCSR sets a reserved bit (FXRSTOR then raises #GP(0)). */
export function sseImageValid(image: Uint8Array): boolean {
  return (get32(image, FXSAVE_MXCSR) & ~MXCSR_WRITABLE) === 0;
}

export function restoreSse(sse: SseState, image: Uint8Array, regs: number): void {
  sse.mxcsr = get32(image, FXSAVE_MXCSR);
  for (let i = 0; i < regs * 16; i++) sse.u8[i] = image[FXSAVE_XMM0 + i]!;
}
