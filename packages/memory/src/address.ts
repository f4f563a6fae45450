/**
 * Branded address types. They are plain numbers at run time (no bigint on a hot path); the brand only
 * stops a guest-physical address from being passed where a host or port address is expected.
 * Canonical 64-bit virtual addresses fit a double exactly when kept sign-extended from bit 47.
 */
declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** Guest physical address. */
export type Gpa = Brand<number, 'Gpa'>;
/** Guest virtual (linear) address. */
export type Gva = Brand<number, 'Gva'>;
/** Host virtual address, as returned by {@link HostAddressSpace.mmap}. */
export type Hva = Brand<number, 'Hva'>;
/** I/O port number, 0..0xffff. */
export type Port = Brand<number, 'Port'>;

export const gpa = (n: number): Gpa => n as Gpa;
export const gva = (n: number): Gva => n as Gva;
export const hva = (n: number): Hva => n as Hva;
export const port = (n: number): Port => n as Port;

/** Size of a guest page, in bytes. */
export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;
