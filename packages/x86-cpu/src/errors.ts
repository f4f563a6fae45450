/**
 * Programmer errors of this package (wiring mistakes caught at module load or construction). Guest
 * behaviour never throws: guest faults are CPU exceptions (`exceptions.ts`) and `CpuExit` values.
 */
export type CpuErrorKind =
  /** A handler table names a `Code` the decoder does not have. */
  | 'UnknownCode'
  /** Two handler families claim the same `Code`. */
  | 'DuplicateHandler';

export class CpuError extends Error {
  override readonly name = 'CpuError';
  constructor(
    readonly kind: CpuErrorKind,
    message: string,
  ) {
    super(message);
  }
}
