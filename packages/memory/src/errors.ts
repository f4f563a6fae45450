/** Typed errors of the memory package. These are programmer errors (wrong wiring), never guest-caused. */
export type MemoryErrorKind =
  | 'OutOfRange' // access outside every region
  | 'Overlap' // a region or bus range overlaps an existing one
  | 'InvalidArgument' // size, length or alignment not accepted
  | 'NotMapped'; // a host address that no mmap returned

export class MemoryError extends Error {
  override readonly name = 'MemoryError';
  constructor(
    readonly kind: MemoryErrorKind,
    message: string,
  ) {
    super(`${kind}: ${message}`);
  }
}
