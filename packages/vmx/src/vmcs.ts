/**
 * The VMCS store: the processor's copy of the current VMCS, one 64-bit slot per field of the table
 * in `fields.ts`, kept in a `Uint32Array` as lo/hi halves (no bigint).
 *
 * Two kinds of access:
 * - model access (`read32`, `readLo`/`readHi`, `write32`, `write64`), used by VM entry, VM exit and
 *   the non-root checks; no VMREAD/VMWRITE rules, the value is masked to the field width;
 * - instruction access (`vmread`, `vmwrite`), which implements the VMREAD/VMWRITE rules of SDM
 *   Vol. 2B/3C (unsupported component -> error 12, read-only component -> error 13, high access,
 *   operand-size truncation outside 64-bit mode).
 *
 * The in-memory VMCS region (SDM 25.2, "Format of the VMCS Region") is implementation-specific after
 * its first 8 bytes; this model's layout is:
 *
 * | offset        | size | contents                                                     |
 * |---------------|------|--------------------------------------------------------------|
 * | 0             | 4    | bits 30:0 VMCS revision identifier, bit 31 shadow-VMCS flag   |
 * | 4             | 4    | VMX-abort indicator                                           |
 * | 8             | 4    | bit 0 launch state (0 clear, 1 launched); bit 1 VMXOFF since   |
 * |               |      | launch (VMRESUME fails with error 6)                          |
 * | 12            | 4    | reserved (0)                                                  |
 * | 16 + 8 * slot | 8    | field `slot` (table order), little-endian, zero-extended      |
 *
 * With 181 fields the data ends at byte 1464, well inside the 4096-byte region that IA32_VMX_BASIC
 * reports.
 */
import type { GuestMemory } from '@typevisor/memory';
import {
  FIELD_COUNT,
  FieldType,
  FieldWidth,
  VMCS_FIELDS,
  type VmxFeature,
  fieldType,
  fieldWidth,
  slotOf,
} from './fields.js';
import { VmInstructionError } from './exit-reasons.js';

/** Byte offsets inside a VMCS region. */
export const VmcsRegion = {
  RevisionId: 0,
  AbortIndicator: 4,
  LaunchState: 8,
  Data: 16,
  /** The region size reported in IA32_VMX_BASIC bits 44:32. */
  Size: 4096,
} as const;

/** Bit 31 of the first dword: the region is a shadow VMCS (SDM 25.2). */
export const SHADOW_VMCS_INDICATOR = 0x8000_0000;

export const LaunchState = { Clear: 0, Launched: 1 } as const;
export type LaunchState = (typeof LaunchState)[keyof typeof LaunchState];

/** The part of `GuestMemory` the VMX model reads and writes: VMCS regions, bitmaps, MSR areas. */
export type PhysicalMemory = Pick<GuestMemory, 'read32' | 'write32'>;

/** Which fields exist, and whether VM-exit information fields accept VMWRITE (IA32_VMX_MISC[29]). */
export interface VmcsFieldSupport {
  readonly features: ReadonlySet<VmxFeature>;
  readonly writableExitInfo: boolean;
}

const WIDTH_MASK_LO = [0xffff, 0xffffffff, 0xffffffff, 0xffffffff] as const;
const WIDTH_HAS_HI = [false, true, false, true] as const;

export class Vmcs {
  /** `values[2*slot]` = bits 31:0, `values[2*slot+1]` = bits 63:32 of field `slot`. */
  readonly values = new Uint32Array(FIELD_COUNT * 2);
  launchState: LaunchState = LaunchState.Clear;
  /**
   * The VMCS was launched and VMXOFF came before the next VMCLEAR: VMRESUME then fails with error 6
   * ("VMRESUME after VMXOFF"). Kept in bit 1 of the region's launch-state word.
   */
  launchedBeforeVmxoff = false;
  /** 1 per slot whose field exists on this processor. */
  private readonly supported = new Uint8Array(FIELD_COUNT);
  private readonly writableExitInfo: boolean;

  constructor(support: VmcsFieldSupport) {
    for (let i = 0; i < FIELD_COUNT; i++) {
      this.supported[i] = support.features.has(VMCS_FIELDS[i]!.feature) ? 1 : 0;
    }
    this.writableExitInfo = support.writableExitInfo;
  }

  /** True when `encoding` (full or high access) names a field this processor supports. */
  isSupported(encoding: number): boolean {
    const s = slotOf(encoding);
    return s >= 0 && this.supported[s] === 1;
  }

  // ---- model access (no VMREAD/VMWRITE rules) ----

  /**
   * Bits 31:0 of a field (all of a 16- or 32-bit field). Model accessors take full-access encodings of
   * table fields only; anything else is a programming error and throws.
   */
  read32(encoding: number): number {
    return this.values[slotOrThrow(encoding) * 2]!;
  }

  readLo(encoding: number): number {
    return this.values[slotOrThrow(encoding) * 2]!;
  }

  readHi(encoding: number): number {
    return this.values[slotOrThrow(encoding) * 2 + 1]!;
  }

  /** A 64-bit or natural-width field as a number, when it fits in 53 bits; otherwise NaN. */
  readNumber(encoding: number): number {
    const s = slotOrThrow(encoding) * 2;
    const hi = this.values[s + 1]!;
    if (hi > 0x1fffff) return Number.NaN;
    return hi * 0x1_0000_0000 + this.values[s]!;
  }

  /** Writes bits 31:0 of a field, masked to its width; a 64-bit or natural field gets bits 63:32 = 0. */
  write32(encoding: number, value: number): void {
    const s = slotOrThrow(encoding) * 2;
    this.values[s] = value & WIDTH_MASK_LO[fieldWidth(encoding)];
    this.values[s + 1] = 0;
  }

  /** Writes a whole field from lo/hi halves, masked to its width. */
  write64(encoding: number, lo: number, hi: number): void {
    const s = slotOrThrow(encoding) * 2;
    const w = fieldWidth(encoding);
    this.values[s] = lo & WIDTH_MASK_LO[w];
    this.values[s + 1] = WIDTH_HAS_HI[w] ? hi : 0;
  }

  /** Sets every field to zero and the launch state to clear. */
  reset(): void {
    this.values.fill(0);
    this.launchState = LaunchState.Clear;
    this.launchedBeforeVmxoff = false;
  }

  // ---- instruction access (VMREAD / VMWRITE rules) ----

  /**
   * VMREAD of the field `encoding` into `out[0]` (bits 31:0) and `out[1]` (bits 63:32) of the
   * destination operand, which is 64 bits in 64-bit mode and 32 bits otherwise. `encodingHi` is bits
   * 63:32 of the source register in 64-bit mode (0 otherwise).
   *
   * Returns 0 or the VM-instruction error number (12, unsupported component).
   */
  vmread(encoding: number, encodingHi: number, longMode: boolean, out: Uint32Array): number {
    const s = this.instructionSlot(encoding, encodingHi);
    if (s < 0) return VmInstructionError.UnsupportedVmcsComponent;
    const lo = this.values[s * 2]!;
    const hi = this.values[s * 2 + 1]!;
    if ((encoding & 1) !== 0) {
      out[0] = hi;
      out[1] = 0;
    } else {
      out[0] = lo;
      out[1] = longMode ? hi : 0;
    }
    return 0;
  }

  /**
   * VMWRITE of the source operand `lo`/`hi` (hi is ignored outside 64-bit mode) to the field
   * `encoding`. A shorter field ignores the high bits of the operand; a longer one has its high bits
   * cleared; high access writes bits 63:32 only.
   *
   * Returns 0 or the VM-instruction error number (12 unsupported, 13 read-only component).
   */
  vmwrite(encoding: number, encodingHi: number, lo: number, hi: number, longMode: boolean): number {
    const s = this.instructionSlot(encoding, encodingHi);
    if (s < 0) return VmInstructionError.UnsupportedVmcsComponent;
    if (fieldType(encoding) === FieldType.ReadOnlyData && !this.writableExitInfo) {
      return VmInstructionError.VmwriteReadOnlyComponent;
    }
    if ((encoding & 1) !== 0) {
      this.values[s * 2 + 1] = lo;
      return 0;
    }
    const w = fieldWidth(encoding);
    this.values[s * 2] = lo & WIDTH_MASK_LO[w];
    this.values[s * 2 + 1] = WIDTH_HAS_HI[w] && longMode ? hi : 0;
    return 0;
  }

  private instructionSlot(encoding: number, encodingHi: number): number {
    if (encodingHi !== 0) return -1;
    const s = slotOf(encoding);
    return s >= 0 && this.supported[s] === 1 ? s : -1;
  }

  // ---- the VMCS region in guest memory ----

  /** Writes launch state and every field to the region at `gpa` (bytes 0..7 are left as they are). */
  storeRegion(mem: PhysicalMemory, gpa: number): void {
    mem.write32(gpa + VmcsRegion.LaunchState, this.launchState | (this.launchedBeforeVmxoff ? 2 : 0));
    mem.write32(gpa + 12, 0);
    const v = this.values;
    for (let i = 0; i < v.length; i++) mem.write32(gpa + VmcsRegion.Data + i * 4, v[i]!);
  }

  /** Reads launch state and every field from the region at `gpa`. */
  loadRegion(mem: PhysicalMemory, gpa: number): void {
    const word = mem.read32(gpa + VmcsRegion.LaunchState);
    this.launchState = (word & 1) as LaunchState;
    this.launchedBeforeVmxoff = (word & 2) !== 0;
    const v = this.values;
    for (let i = 0; i < v.length; i++) {
      const enc = VMCS_FIELDS[i >> 1]!.encoding;
      const word = mem.read32(gpa + VmcsRegion.Data + i * 4);
      v[i] = (i & 1) === 0 ? word & WIDTH_MASK_LO[fieldWidth(enc)] : WIDTH_HAS_HI[fieldWidth(enc)] ? word : 0;
    }
  }
}

/**
 * The nonzero supported fields as `name = value` lines (64-bit fields in hex, high word first), for
 * debugging and monitor commands.
 */
export function describeVmcs(vmcs: Vmcs): string[] {
  const lines: string[] = [];
  for (let i = 0; i < VMCS_FIELDS.length; i++) {
    const f = VMCS_FIELDS[i]!;
    if (!vmcs.isSupported(f.encoding)) continue;
    const lo = vmcs.values[i * 2]!;
    const hi = vmcs.values[i * 2 + 1]!;
    if (lo === 0 && hi === 0) continue;
    const hex = hi === 0 ? lo.toString(16) : `${hi.toString(16)}${lo.toString(16).padStart(8, '0')}`;
    lines.push(`${f.name} = 0x${hex}`);
  }
  return lines;
}

/** Revision identifier and abort indicator of the region at `gpa`. */
export function readRevisionId(mem: PhysicalMemory, gpa: number): number {
  return mem.read32(gpa + VmcsRegion.RevisionId) >>> 0;
}

export function readAbortIndicator(mem: PhysicalMemory, gpa: number): number {
  return mem.read32(gpa + VmcsRegion.AbortIndicator) >>> 0;
}

/** Writes the VMX-abort indicator (SDM 28.7, "VMX Aborts"). */
export function writeAbortIndicator(mem: PhysicalMemory, gpa: number, code: number): void {
  mem.write32(gpa + VmcsRegion.AbortIndicator, code);
}

/** Writes only the launch state of a region that is not the current VMCS (VMCLEAR of another VMCS). */
export function writeRegionLaunchState(mem: PhysicalMemory, gpa: number, state: LaunchState): void {
  mem.write32(gpa + VmcsRegion.LaunchState, state);
}

function slotOrThrow(encoding: number): number {
  const s = (encoding & 1) === 0 ? slotOf(encoding) : -1;
  if (s < 0) throw new RangeError(`not a VMCS field encoding: 0x${(encoding >>> 0).toString(16)}`);
  return s;
}

/** Width of the field an encoding names, as a number of bits (natural = 64 on this 64-bit model). */
export function fieldBits(encoding: number): 16 | 32 | 64 {
  const w = fieldWidth(encoding);
  return w === FieldWidth.Bits16 ? 16 : w === FieldWidth.Bits32 ? 32 : 64;
}
