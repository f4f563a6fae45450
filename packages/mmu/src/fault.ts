import { FaultKind } from './constants.js';

/**
 * Details of the last failed translation. One preallocated, mutable record per MMU: a translation that
 * returns {@link MMU_FAULT} fills it in instead of throwing or allocating.
 */
export class TranslationFault {
  kind: FaultKind = FaultKind.None;
  /** #PF error code ({@link PfError} bits). */
  errorCode = 0;
  /** The linear address that faulted: the CR2 value for a #PF, the guest-linear address for EPT exits. */
  address = 0;
  /** Exit qualification of an EPT violation ({@link EptQual} bits). */
  qualification = 0;
  /** Guest-physical address of an EPT violation or misconfiguration. */
  guestPhysical = 0;

  clear(): void {
    this.kind = FaultKind.None;
    this.errorCode = 0;
    this.address = 0;
    this.qualification = 0;
    this.guestPhysical = 0;
  }

  pageFault(address: number, errorCode: number): void {
    this.kind = FaultKind.PageFault;
    this.address = address;
    this.errorCode = errorCode;
    this.qualification = 0;
    this.guestPhysical = 0;
  }

  generalProtection(address: number): void {
    this.kind = FaultKind.GeneralProtection;
    this.address = address;
    this.errorCode = 0;
    this.qualification = 0;
    this.guestPhysical = 0;
  }

  copyFrom(other: TranslationFault): void {
    this.kind = other.kind;
    this.errorCode = other.errorCode;
    this.address = other.address;
    this.qualification = other.qualification;
    this.guestPhysical = other.guestPhysical;
  }
}
