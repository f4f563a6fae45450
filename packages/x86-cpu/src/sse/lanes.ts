/**
 * Scratch operands for SSE operations: A (destination copy), B (source), R (result), 16 bytes each
 * with every typed view. Instructions copy operands in, compute lane by lane, and copy R out, so a
 * faulting instruction never leaves a half-written register and nothing is allocated per instruction.
 */

/** Every typed view of `buf` (the scratch lanes here, and the 32-byte VEX scratch in `avx-core.ts`). */
export function views(buf: ArrayBuffer) {
  return {
    u8: new Uint8Array(buf),
    i8: new Int8Array(buf),
    u16: new Uint16Array(buf),
    i16: new Int16Array(buf),
    u32: new Uint32Array(buf),
    i32: new Int32Array(buf),
    f32: new Float32Array(buf),
    f64: new Float64Array(buf),
  };
}

export const A = views(new ArrayBuffer(16));
export const B = views(new ArrayBuffer(16));
export const R = views(new ArrayBuffer(16));

/** A scratch buffer with all its views (A, B, R, and the VEX scratch M, Y). */
export type Lanes = ReturnType<typeof views>;
