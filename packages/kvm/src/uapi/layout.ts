/**
 * Struct layouts as typed data: each C struct of the KVM ABI is a table of (field, offset, type, size),
 * the single source of truth for every byte the raw face reads or writes. `StructView` is the small
 * DataView-based accessor over such a table. Everything is little-endian, as on x86_64.
 *
 * 64-bit fields read as `number` are exact below 2^53 (addresses, sizes, counters); use
 * {@link StructView.getBigInt} where all 64 bits matter (register values, masks).
 */

export type FieldType = 'u8' | 'u16' | 'u32' | 's32' | 'u64' | 's64' | 'bytes';

export interface Field {
  readonly offset: number;
  readonly size: number;
  readonly type: FieldType;
}

/** `[offset, type]` for scalars, `[offset, 'bytes', size]` for arrays, nested structs and padding. */
export type FieldSpec = readonly [number, Exclude<FieldType, 'bytes'>] | readonly [number, 'bytes', number];

export interface StructLayout<F extends string = string> {
  /** The C name, e.g. `kvm_regs`. */
  readonly name: string;
  /** `sizeof(struct ...)` on x86_64 (for a struct ending in a flexible array, the header size). */
  readonly size: number;
  readonly fields: { readonly [K in F]: Field };
}

const SCALAR_SIZE: Readonly<Record<Exclude<FieldType, 'bytes'>, number>> = {
  u8: 1,
  u16: 2,
  u32: 4,
  s32: 4,
  u64: 8,
  s64: 8,
};

/**
 * Defines a layout. Throws (a programmer error, at module load) if a field runs past the end or a
 * scalar is not naturally aligned, which the x86_64 C ABI guarantees for every KVM struct.
 */
export function defineStruct<const S extends Readonly<Record<string, FieldSpec>>>(
  name: string,
  size: number,
  spec: S,
): StructLayout<keyof S & string> {
  const fields: Record<string, Field> = {};
  for (const [key, f] of Object.entries(spec)) {
    const type = f[1];
    const fieldSize = type === 'bytes' ? (f[2] ?? 0) : SCALAR_SIZE[type];
    const offset = f[0];
    if (offset < 0 || offset + fieldSize > size) {
      throw new RangeError(`${name}.${key}: [${offset}, ${offset + fieldSize}) outside ${size} bytes`);
    }
    if (type !== 'bytes' && offset % fieldSize !== 0) {
      throw new RangeError(`${name}.${key}: ${type} at unaligned offset ${offset}`);
    }
    fields[key] = Object.freeze({ offset, size: fieldSize, type });
  }
  return Object.freeze({
    name,
    size,
    fields: Object.freeze(fields) as { readonly [K in keyof S & string]: Field },
  });
}

const TWO_32 = 2 ** 32;

/** Reads a little-endian u64 as a number (exact below 2^53). */
export function readU64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * TWO_32;
}

/** Writes a safe integer as a little-endian 64-bit value; negative values are stored in two's complement. */
export function writeU64(view: DataView, offset: number, value: number): void {
  const hi = Math.floor(value / TWO_32);
  const lo = value - hi * TWO_32;
  view.setUint32(offset, lo >>> 0, true);
  view.setUint32(offset + 4, hi >>> 0, true);
}

/** A DataView over exactly the bytes of `bytes`. */
export function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Typed accessors for one struct instance at `base` inside `bytes`. */
export class StructView<F extends string> {
  readonly view: DataView;

  constructor(
    readonly layout: StructLayout<F>,
    readonly bytes: Uint8Array,
    readonly base = 0,
  ) {
    if (base < 0 || base + layout.size > bytes.byteLength) {
      throw new RangeError(`${layout.name} at ${base} needs ${layout.size} bytes, have ${bytes.byteLength}`);
    }
    this.view = dataView(bytes);
  }

  /** The value of a scalar field (a u64 as a number, exact below 2^53). */
  get(field: F): number {
    const f = this.layout.fields[field];
    const o = this.base + f.offset;
    switch (f.type) {
      case 'u8':
        return this.view.getUint8(o);
      case 'u16':
        return this.view.getUint16(o, true);
      case 'u32':
        return this.view.getUint32(o, true);
      case 's32':
        return this.view.getInt32(o, true);
      case 'u64':
        return readU64(this.view, o);
      case 's64':
        return this.view.getInt32(o + 4, true) * TWO_32 + this.view.getUint32(o, true);
      case 'bytes':
        throw new TypeError(`${this.layout.name}.${field} is a byte array; use bytesOf()`);
    }
  }

  /** The exact value of a 64-bit (or narrower) scalar field. */
  getBigInt(field: F): bigint {
    const f = this.layout.fields[field];
    const o = this.base + f.offset;
    if (f.type === 'u64') return this.view.getBigUint64(o, true);
    if (f.type === 's64') return this.view.getBigInt64(o, true);
    return BigInt(this.get(field));
  }

  set(field: F, value: number | bigint): void {
    const f = this.layout.fields[field];
    const o = this.base + f.offset;
    if (typeof value === 'bigint') {
      if (f.type === 'u64' || f.type === 's64') {
        this.view.setBigUint64(o, BigInt.asUintN(64, value), true);
        return;
      }
      value = Number(BigInt.asIntN(32, value));
    }
    switch (f.type) {
      case 'u8':
        this.view.setUint8(o, value);
        return;
      case 'u16':
        this.view.setUint16(o, value, true);
        return;
      case 'u32':
      case 's32':
        this.view.setUint32(o, value >>> 0, true);
        return;
      case 'u64':
      case 's64':
        writeU64(this.view, o, value);
        return;
      case 'bytes':
        throw new TypeError(`${this.layout.name}.${field} is a byte array; use bytesOf()`);
    }
  }

  /** The field's bytes, as a view into the struct (writes go through). */
  bytesOf(field: F): Uint8Array {
    const f = this.layout.fields[field];
    const start = this.bytes.byteOffset + this.base + f.offset;
    return new Uint8Array(this.bytes.buffer, start, f.size);
  }

  /** A view of a nested struct stored in byte-array field `field`. */
  sub<G extends string>(field: F, layout: StructLayout<G>): StructView<G> {
    const f = this.layout.fields[field];
    if (f.size < layout.size) throw new RangeError(`${this.layout.name}.${field} cannot hold ${layout.name}`);
    return new StructView(layout, this.bytes, this.base + f.offset);
  }

  /** Zeroes the whole struct. */
  clear(): void {
    this.bytes.fill(0, this.base, this.base + this.layout.size);
  }
}

/** A fresh zeroed buffer of exactly `sizeof` the struct, plus its view. */
export function allocStruct<F extends string>(layout: StructLayout<F>, extra = 0): StructView<F> {
  return new StructView(layout, new Uint8Array(layout.size + extra));
}

/** The view of element `index` of a flexible array that follows a `header`-sized header. */
export function arrayEntry<F extends string>(
  entry: StructLayout<F>,
  bytes: Uint8Array,
  header: number,
  index: number,
): StructView<F> {
  return new StructView(entry, bytes, header + index * entry.size);
}
