/**
 * A tiny AML encoder for method-less ACPI definition blocks: names, scopes, devices, integers,
 * strings, buffers, packages, EISA IDs and the resource descriptors a PCI host bridge's _CRS needs.
 * Encodings follow the ACPI 6.5 specification, chapter 20 "ACPI Machine Language (AML)
 * Specification" (20.2 grammar) and section 6.4 "Resource Data Types for ACPI". Every builder
 * returns plain bytes, so tables are assembled by concatenation (as QEMU's aml-build.c does).
 */

/** AML opcodes and prefixes (ACPI 6.5 section 20.3, "AML Byte Stream Byte Values"). */
export const AML = {
  ZERO_OP: 0x00,
  ONE_OP: 0x01,
  NAME_OP: 0x08,
  BYTE_PREFIX: 0x0a,
  WORD_PREFIX: 0x0b,
  DWORD_PREFIX: 0x0c,
  STRING_PREFIX: 0x0d,
  QWORD_PREFIX: 0x0e,
  SCOPE_OP: 0x10,
  BUFFER_OP: 0x11,
  PACKAGE_OP: 0x12,
  DUAL_NAME_PREFIX: 0x2e,
  MULTI_NAME_PREFIX: 0x2f,
  EXT_OP_PREFIX: 0x5b,
  ROOT_CHAR: 0x5c,
  PARENT_PREFIX_CHAR: 0x5e,
  DEVICE_OP: 0x82, // after EXT_OP_PREFIX
} as const;

/** Thrown for a name, value or length AML cannot encode. */
export class AmlError extends Error {
  override readonly name = 'AmlError';
}

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const LEAD_CHAR = /^[A-Z_]$/;
const NAME_CHAR = /^[A-Z0-9_]$/;

/** A NameSeg: 1-4 characters (a lead character, then digits/upper case/underscore), padded with '_'. */
export function nameSeg(seg: string): Uint8Array {
  if (
    seg.length < 1 ||
    seg.length > 4 ||
    !LEAD_CHAR.test(seg[0]!) ||
    ![...seg].every((c) => NAME_CHAR.test(c))
  )
    throw new AmlError(`invalid AML name segment '${seg}'`);
  const padded = seg.padEnd(4, '_');
  return Uint8Array.from(padded, (c) => c.charCodeAt(0));
}

/** A NameString: optional root '\' or parent '^' prefixes, then segments separated by '.'. */
export function nameString(name: string): Uint8Array {
  let i = 0;
  const prefix: number[] = [];
  if (name[0] === '\\') {
    prefix.push(AML.ROOT_CHAR);
    i = 1;
  } else {
    while (name[i] === '^') {
      prefix.push(AML.PARENT_PREFIX_CHAR);
      i++;
    }
  }
  const rest = name.slice(i);
  const segs = rest === '' ? [] : rest.split('.').map(nameSeg);
  let path: Uint8Array;
  if (segs.length === 0)
    path = Uint8Array.of(0); // NullName
  else if (segs.length === 1) path = segs[0]!;
  else if (segs.length === 2) path = concat(Uint8Array.of(AML.DUAL_NAME_PREFIX), ...segs);
  else if (segs.length <= 255) path = concat(Uint8Array.of(AML.MULTI_NAME_PREFIX, segs.length), ...segs);
  else throw new AmlError(`AML name '${name}' has too many segments`);
  return concat(Uint8Array.from(prefix), path);
}

/**
 * PkgLength (20.2.4) for `payloadLength` bytes that follow it: the encoded length counts the
 * PkgLength bytes themselves. One byte up to 63; else 1-3 following bytes, the lead byte holding the
 * count in bits 7-6 and the low nibble of the length.
 */
export function pkgLength(payloadLength: number): Uint8Array {
  if (payloadLength + 1 <= 0x3f) return Uint8Array.of(payloadLength + 1);
  for (let extra = 1; extra <= 3; extra++) {
    const total = payloadLength + 1 + extra;
    if (total < 2 ** (4 + 8 * extra)) {
      const out = new Uint8Array(1 + extra);
      out[0] = (extra << 6) | (total & 0x0f);
      for (let k = 1; k <= extra; k++) out[k] = Math.floor(total / 2 ** (4 + 8 * (k - 1))) & 0xff;
      return out;
    }
  }
  throw new AmlError(`AML package of ${payloadLength} bytes is too long`);
}

function le(value: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = value;
  for (let k = 0; k < bytes; k++) {
    out[k] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

/** An integer: ZeroOp / OneOp, else the smallest of Byte/Word/DWord/QWord constants (as QEMU's aml_int). */
export function integer(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new AmlError(`AML integer ${value} out of range`);
  if (value === 0) return Uint8Array.of(AML.ZERO_OP);
  if (value === 1) return Uint8Array.of(AML.ONE_OP);
  if (value <= 0xff) return Uint8Array.of(AML.BYTE_PREFIX, value);
  if (value <= 0xffff) return concat(Uint8Array.of(AML.WORD_PREFIX), le(value, 2));
  if (value <= 0xffff_ffff) return concat(Uint8Array.of(AML.DWORD_PREFIX), le(value, 4));
  return concat(Uint8Array.of(AML.QWORD_PREFIX), le(value, 8));
}

/** A String constant: printable ASCII, NUL-terminated. */
export function string(text: string): Uint8Array {
  if (![...text].every((c) => c >= ' ' && c <= '~')) throw new AmlError('AML strings are printable ASCII');
  return concat(
    Uint8Array.of(AML.STRING_PREFIX),
    Uint8Array.from(text, (c) => c.charCodeAt(0)),
    Uint8Array.of(0),
  );
}

/** DefBuffer: BufferOp PkgLength BufferSize ByteList. */
export function buffer(bytes: Uint8Array): Uint8Array {
  const body = concat(integer(bytes.length), bytes);
  return concat(Uint8Array.of(AML.BUFFER_OP), pkgLength(body.length), body);
}

/** DefPackage: PackageOp PkgLength NumElements PackageElementList (data objects only). */
export function pkg(elements: readonly Uint8Array[]): Uint8Array {
  if (elements.length > 255) throw new AmlError('AML Package of more than 255 elements');
  const body = concat(Uint8Array.of(elements.length), ...elements);
  return concat(Uint8Array.of(AML.PACKAGE_OP), pkgLength(body.length), body);
}

/** DefName: NameOp NameString DataRefObject. */
export function name(path: string, value: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(AML.NAME_OP), nameString(path), value);
}

/** DefScope: ScopeOp PkgLength NameString TermList. */
export function scope(path: string, terms: readonly Uint8Array[]): Uint8Array {
  const body = concat(nameString(path), ...terms);
  return concat(Uint8Array.of(AML.SCOPE_OP), pkgLength(body.length), body);
}

/** DefDevice: ExtOpPrefix DeviceOp PkgLength NameString TermList. */
export function device(path: string, terms: readonly Uint8Array[]): Uint8Array {
  const body = concat(nameString(path), ...terms);
  return concat(Uint8Array.of(AML.EXT_OP_PREFIX, AML.DEVICE_OP), pkgLength(body.length), body);
}

/**
 * EisaId("PNP0A03"): three upper-case letters packed 5 bits each and four hex digits, big-endian
 * within the dword that is then stored little-endian, as ASL's EISAID macro produces (a DWord integer).
 */
export function eisaId(id: string): number {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new AmlError(`invalid EISA ID '${id}'`);
  const c = (k: number) => id.charCodeAt(k) - 0x40;
  const vendor = (c(0) << 10) | (c(1) << 5) | c(2);
  const product = Number.parseInt(id.slice(3), 16);
  // Byte order in memory: vendor high, vendor low, product high, product low.
  return ((vendor >> 8) | ((vendor & 0xff) << 8) | ((product >> 8) << 16)) + (product & 0xff) * 2 ** 24;
}

/** Resource descriptors for a ResourceTemplate (ACPI 6.5 section 6.4). */
export const RES = {
  /** Small item, I/O port descriptor (6.4.2.5), 7 bytes after the tag. */
  IO_TAG: 0x47,
  IO_DECODE16: 0x01,
  /** Small item, end tag (6.4.2.9). */
  END_TAG: 0x79,
  /** Large items (6.4.3.5): DWord and Word address space descriptors. */
  DWORD_ADDRESS_TAG: 0x87,
  WORD_ADDRESS_TAG: 0x88,
  TYPE_MEMORY: 0,
  TYPE_IO: 1,
  TYPE_BUS: 2,
  /** General flags: producer (bit 0 clear), positive decode (bit 1 clear), MinFixed, MaxFixed. */
  MIN_FIXED: 0x04,
  MAX_FIXED: 0x08,
  /** I/O type-specific flags: ISA and non-ISA ranges (EntireRange). */
  IO_ENTIRE_RANGE: 0x03,
  /** Memory type-specific flags: read/write, cacheable (MEM = 1). */
  MEM_READ_WRITE: 0x01,
  MEM_CACHEABLE: 0x02,
} as const;

/** IO (Decode16, min, max, alignment, length). */
export function ioPort(min: number, max: number, alignment: number, length: number): Uint8Array {
  return concat(
    Uint8Array.of(RES.IO_TAG, RES.IO_DECODE16),
    le(min, 2),
    le(max, 2),
    Uint8Array.of(alignment, length),
  );
}

export interface AddressSpace {
  readonly type: number;
  /** General flags (RES.MIN_FIXED | RES.MAX_FIXED for a producer window). */
  readonly flags: number;
  readonly typeFlags: number;
  readonly min: number;
  readonly max: number;
}

/** WordBusNumber / WordIO: the Word Address Space Descriptor (6.4.3.5.3), granularity and translation 0. */
export function wordAddressSpace(a: AddressSpace): Uint8Array {
  return concat(
    Uint8Array.of(RES.WORD_ADDRESS_TAG, 0x0d, 0x00, a.type, a.flags, a.typeFlags),
    le(0, 2),
    le(a.min, 2),
    le(a.max, 2),
    le(0, 2),
    le(a.max - a.min + 1, 2),
  );
}

/** DWordMemory: the DWord Address Space Descriptor (6.4.3.5.2), granularity and translation 0. */
export function dwordAddressSpace(a: AddressSpace): Uint8Array {
  return concat(
    Uint8Array.of(RES.DWORD_ADDRESS_TAG, 0x17, 0x00, a.type, a.flags, a.typeFlags),
    le(0, 4),
    le(a.min, 4),
    le(a.max, 4),
    le(0, 4),
    le(a.max - a.min + 1, 4),
  );
}

/** ResourceTemplate () { ... }: the descriptors and an end tag (checksum 0: "treated as valid"). */
export function resourceTemplate(descriptors: readonly Uint8Array[]): Uint8Array {
  return buffer(concat(...descriptors, Uint8Array.of(RES.END_TAG, 0)));
}
